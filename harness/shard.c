/* Sweep shards (shard.h). */
#include "shard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

enum { ROW_CALLS = 200 };
#define ROW_MIN_MS 5.0
/* roofline of the cost model: an H200-class GPU */
#define MODEL_BYTES_PER_MS 3.0e9
#define MODEL_FLOPS_PER_MS 5.0e11
/* set-up: weights drawn, quantized, dequantized on the CPU, prepared: per weight byte in FP16 */
#define SETUP_MS_PER_BYTE 2.0e-6

double mx_shard_problem_cost(const mx_sweep_row *rows, size_t count, double budget_ms) {
    const mx_bench_op *op = count ? mx_bench_find_op(rows[0].op) : NULL;
    if (!op) return ROW_MIN_MS * (double)count;
    const mx_sweep_row *first = &rows[0];
    double weight_bytes = 2.0 * (double)first->n * (double)first->k *
                          (double)(first->batch > 0 ? first->batch : 1) *
                          (double)(first->experts > 0 ? first->experts : 1);
    double cost = weight_bytes * SETUP_MS_PER_BYTE;
    for (size_t r = 0; r <= count; r++) { /* r == count: the FP16 reference row */
        const mx_sweep_row *row = r < count ? &rows[r] : first;
        double call_ms = op->bytes(row, r == count) / MODEL_BYTES_PER_MS;
        double compute_ms = op->flops(row) / MODEL_FLOPS_PER_MS;
        if (compute_ms > call_ms) call_ms = compute_ms;
        double budget = row->budget_ms > 0 ? row->budget_ms : budget_ms;
        double sampling = ROW_CALLS * call_ms;
        cost += sampling < ROW_MIN_MS ? ROW_MIN_MS : sampling > budget ? budget : sampling;
    }
    return cost;
}

typedef struct {
    size_t first, count;
    double cost;
} problem_span;

static int costliest_first(const void *a, const void *b) {
    const problem_span *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Moves or swaps one problem between the costliest and the cheapest shard when that lowers the
 * costliest; false when nothing does. */
static bool improve(const problem_span *spans, size_t problems, int *shard_of, double *costs,
                    int count) {
    int heavy = 0, light = 0;
    for (int s = 1; s < count; s++) {
        if (costs[s] > costs[heavy]) heavy = s;
        if (costs[s] < costs[light]) light = s;
    }
    double gap = costs[heavy] - costs[light], best = 0.0; /* best: the cost moved across */
    long from = -1, to = -1;
    for (size_t p = 0; p < problems; p++) {
        if (shard_of[p] != heavy) continue;
        if (spans[p].cost < gap && fabs(gap / 2 - spans[p].cost) < fabs(gap / 2 - best))
            best = spans[p].cost, from = (long)p, to = -1;
        for (size_t q = 0; q < problems; q++) {
            double moved = spans[p].cost - spans[q].cost;
            if (shard_of[q] == light && moved > 0 && moved < gap &&
                fabs(gap / 2 - moved) < fabs(gap / 2 - best))
                best = moved, from = (long)p, to = (long)q;
        }
    }
    if (from < 0 || best <= 1e-9 * gap) return false;
    shard_of[from] = light;
    if (to >= 0) shard_of[to] = heavy;
    costs[heavy] -= best;
    costs[light] += best;
    return true;
}

bool mx_shard_assign(const mx_sweep *sweep, int count, double budget_ms, int *shard_of_row,
                     double *costs) {
    problem_span *spans = malloc(sizeof *spans * (sweep->count + 1));
    int *shard_of = malloc(sizeof *shard_of * (sweep->count + 1));
    if (!spans || !shard_of) {
        free(spans);
        free(shard_of);
        return false;
    }
    size_t problems = 0;
    for (size_t i = 0; i < sweep->count;) {
        size_t n = 1;
        while (i + n < sweep->count && mx_sweep_same_problem(&sweep->rows[i], &sweep->rows[i + n]))
            n++;
        spans[problems++] =
            (problem_span){i, n, mx_shard_problem_cost(&sweep->rows[i], n, budget_ms)};
        i += n;
    }
    /* the costliest first, each onto the cheapest shard so far; then pairwise improvements */
    qsort(spans, problems, sizeof *spans, costliest_first);
    for (int s = 0; s < count; s++) costs[s] = 0.0;
    for (size_t p = 0; p < problems; p++) {
        int lightest = 0;
        for (int s = 1; s < count; s++)
            if (costs[s] < costs[lightest]) lightest = s;
        costs[lightest] += spans[p].cost;
        shard_of[p] = lightest;
    }
    for (int round = 0; round < 1000 && improve(spans, problems, shard_of, costs, count); round++)
        continue;
    for (size_t p = 0; p < problems; p++)
        for (size_t r = 0; r < spans[p].count; r++) shard_of_row[spans[p].first + r] = shard_of[p];
    free(spans);
    free(shard_of);
    return true;
}

bool mx_shard_select(mx_sweep *sweep, int index, int count, double budget_ms, double *shard_cost,
                     double *total_cost, char *error, size_t error_size) {
    int *shard_of_row = malloc(sizeof *shard_of_row * (sweep->count + 1));
    double *costs = malloc(sizeof *costs * (size_t)count);
    bool ok =
        shard_of_row && costs && mx_shard_assign(sweep, count, budget_ms, shard_of_row, costs);
    if (!ok) {
        snprintf(error, error_size, "out of host memory sharding the sweep");
    } else {
        size_t kept = 0;
        for (size_t r = 0; r < sweep->count; r++)
            if (shard_of_row[r] == index - 1) sweep->rows[kept++] = sweep->rows[r];
        sweep->count = kept;
        *shard_cost = costs[index - 1];
        *total_cost = 0.0;
        for (int s = 0; s < count; s++) *total_cost += costs[s];
    }
    free(shard_of_row);
    free(costs);
    return ok;
}

bool mx_shard_parse(const char *text, int *index, int *count) {
    int i = 0, n = 0, used = 0;
    if (!text || sscanf(text, "%d/%d%n", &i, &n, &used) != 2 || text[used] != '\0' ||
        text[0] < '0' || text[0] > '9')
        return false;
    if (i < 1 || n < 1 || i > n || n > MX_MAX_SHARDS) return false;
    *index = i;
    *count = n;
    return true;
}
