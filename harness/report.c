/* `mxbench report RUN_DIR`: loads results.csv (and run.json), groups the rows into problems (one
 * shape, M, dtype and distribution, its FP16 reference and MXFP4 variants), judges them against
 * the targets (targets.h), writes the plot data and draws the plots (gnuplot.h, the scripts in
 * plots/), and writes report.md and report.html (doc.h). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernels/format.h"
#include "doc.h"
#include "files.h"
#include "model.h"
#include "schema.h"
#include "table.h"
#include "targets.h"
#include "text.h"
#include "variants.h"

#ifndef MX_SOURCE_DIR
#define MX_SOURCE_DIR "."
#endif

#define THROUGHPUT_LARGE_M 1024 /* rows drawn in the TFLOP/s panel */
#define MAX_PANELS         16   /* shapes drawn in the per-shape plots */
#define WORST_SHOWN        5
#define MIB                (1024.0 * 1024.0)

// ---- results.csv

typedef struct {
    const char *op, *variant, *dtype, *dist, *shape_name, *status, *note, *throttled;
    int64_t m, n, k, batch, experts, topk, seed, kv_heads;
    double time_us, fp16_time_us, gbps, tflops, pct_peak_bw, pct_peak_flops, rel_vs_fp16,
        max_rel_vs_fp16, rel_vs_exact, quant_rel, sqnr_db, nonfinite, weight_bytes_fp16,
        weight_bytes_mxfp4, workspace_bytes, vram_savings_pct, noise_pct, sm_clock_mhz;
    int line;    /* where the row starts in results.csv */
    int problem; /* index in report_data.problems */
    int next;    /* the next row of the same problem, -1 after the last */
    bool measured, reference;
} result_row;

/* Where each column the report reads goes in result_row; its type, whether a file must have it,
 * its least value and the value of an empty cell come from schema.c. */
typedef struct {
    const char *name;
    size_t offset;
} result_column;

#define FIELD(name, field)                                                                         \
    { name, offsetof(result_row, field) }

static const result_column result_columns[] = {
    FIELD("op", op),
    FIELD("variant", variant),
    FIELD("dtype", dtype),
    FIELD("dist", dist),
    FIELD("M", m),
    FIELD("N", n),
    FIELD("K", k),
    FIELD("experts", experts),
    FIELD("topk", topk),
    FIELD("time_us", time_us),
    FIELD("noise_pct", noise_pct),
    FIELD("fp16_time_us", fp16_time_us),
    FIELD("gbps", gbps),
    FIELD("tflops", tflops),
    FIELD("pct_peak_bw", pct_peak_bw),
    FIELD("pct_peak_flops", pct_peak_flops),
    FIELD("rel_err_vs_fp16", rel_vs_fp16),
    FIELD("max_rel_err_vs_fp16", max_rel_vs_fp16),
    FIELD("rel_err_vs_exact", rel_vs_exact),
    FIELD("quant_rel_err", quant_rel),
    FIELD("sqnr_db", sqnr_db),
    FIELD("nonfinite", nonfinite),
    FIELD("weight_bytes_fp16", weight_bytes_fp16),
    FIELD("weight_bytes_mxfp4", weight_bytes_mxfp4),
    FIELD("workspace_bytes", workspace_bytes),
    FIELD("vram_savings_pct", vram_savings_pct),
    FIELD("status", status),
    FIELD("note", note),
    FIELD("batch", batch),
    FIELD("seed", seed),
    FIELD("kv_heads", kv_heads),
    FIELD("shape_name", shape_name),
    FIELD("throttled", throttled),
    FIELD("sm_clock_mhz", sm_clock_mhz),
};
enum { RESULT_COLUMN_COUNT = sizeof result_columns / sizeof result_columns[0] };

typedef struct {
    int first;     /* its first row; rows follow through result_row.next */
    int reference; /* the FP16 (cuBLAS) row, -1 if none */
    int best;      /* the fastest correct MXFP4 row that keeps no FP16 copy, -1 if none */
    int best_lean; /* the same among rows with no workspace at all, -1 if none */
    int series;    /* index in report_data.series */
    int mxfp4_rows;
    double reference_us; /* the FP16 time the overheads are against (NaN: none) */
} problem;

typedef struct {
    int first_problem;
    int panel; /* position in the per-shape plots, -1 when not drawn */
} series;

typedef struct {
    const char *run_dir;
    char results_path[1100], run_json_path[1100];
    mx_table *table;
    result_row *rows;
    int row_count;
    problem *problems;
    int problem_count;
    series *series;
    int series_count, panel_count;
    int *weights; /* a row of each distinct weight, in order of appearance */
    int weight_count;
    const char **variants; /* the order of variants.h's table, then unknown ones as they come */
    int variant_count;
    mx_run_meta meta;
    bool meta_read;
    char meta_error[1400], caption[512];
} report_data;

static bool is_number_text(const char *cell, double *value) {
    char *end;
    *value = strtod(cell, &end);
    return end != cell && *end == '\0';
}

static int count_newlines(const char *cell) {
    int count = 0;
    for (; *cell; cell++) count += *cell == '\n';
    return count;
}

/* Fills the rows from the table; false with "FILE:LINE: ..." for a cell the report cannot use. */
static bool parse_rows(report_data *d, char *error, size_t error_size) {
    const mx_table *t = d->table;
    const mx_column *schema[RESULT_COLUMN_COUNT];
    mx_text missing = {0};
    for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
        schema[c] = mx_column_find(result_columns[c].name);
        if (schema[c]->required && mx_table_column_index(t, schema[c]->name) < 0)
            mx_text_printf(&missing, "%s%s", missing.length ? ", " : "", schema[c]->name);
    }
    if (missing.length) {
        snprintf(error, error_size,
                 "%s: lacks the column%s %s, which the report needs (DESIGN.md §5 lists them)",
                 d->results_path, strchr(mx_text_get(&missing), ',') ? "s" : "",
                 mx_text_get(&missing));
        mx_text_free(&missing);
        return false;
    }
    d->row_count = (int)mx_table_row_count(t);
    d->rows = calloc((size_t)d->row_count + 1, sizeof *d->rows);
    if (!d->rows) {
        snprintf(error, error_size, "out of memory reading %s", d->results_path);
        return false;
    }
    int line = 2;
    for (int c = 0; c < mx_table_column_count(t); c++)
        line += count_newlines(mx_table_column_name(t, c));
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        row->line = line;
        line++;
        for (int c = 0; c < mx_table_column_count(t); c++)
            line += count_newlines(mx_table_cell(t, r, c));
        for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
            const mx_column *column = schema[c];
            const char *cell = mx_table_get(t, r, column->name);
            char *field = (char *)row + result_columns[c].offset;
            double value = NAN;
            bool empty = !cell || !cell[0];
            if (column->type == MX_COLUMN_TEXT || column->type == MX_COLUMN_FLAG) {
                *(const char **)field = cell ? cell : "";
                continue;
            }
            if (!empty && !is_number_text(cell, &value)) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not a number",
                         d->results_path, row->line, column->name, cell);
                return false;
            }
            if (column->type == MX_COLUMN_NUMBER) {
                *(double *)field = value;
                continue;
            }
            if (empty) value = (double)column->fallback;
            if (value != floor(value) || value < (double)column->minimum || value > 1e15) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not an integer >= %lld",
                         d->results_path, row->line, column->name, empty ? "" : cell,
                         (long long)column->minimum);
                return false;
            }
            *(int64_t *)field = (int64_t)value;
        }
        if (!row->variant[0] || !row->op[0]) {
            snprintf(error, error_size, "%s:%d: empty %s", d->results_path, row->line,
                     row->op[0] ? "variant" : "op");
            return false;
        }
        row->reference = mx_variant_traits_of(row->variant)->reference;
        row->measured = isfinite(row->time_us) && row->time_us > 0;
    }
    return true;
}

// ---- problems, series and weights

static bool same_weight(const result_row *a, const result_row *b) {
    return strcmp(a->op, b->op) == 0 && a->n == b->n && a->k == b->k && a->batch == b->batch &&
           a->experts == b->experts && a->topk == b->topk && a->kv_heads == b->kv_heads &&
           strcmp(a->shape_name, b->shape_name) == 0;
}

static bool same_series(const result_row *a, const result_row *b) {
    return same_weight(a, b) && strcmp(a->dtype, b->dtype) == 0 && strcmp(a->dist, b->dist) == 0;
}

static bool same_problem(const result_row *a, const result_row *b) {
    return same_series(a, b) && a->m == b->m && a->seed == b->seed;
}

static bool is_mxfp4(const result_row *row) {
    return !row->reference;
}

/* An MXFP4 variant that saves memory: it keeps no FP16 copy of the weights (variants.h). */
static bool saves_vram(const result_row *row) {
    return is_mxfp4(row) && !mx_variant_traits_of(row->variant)->fp16_copy;
}

/* A row whose time may stand for MXFP4 in the overhead target: correct output, and a variant
 * that does not keep an FP16 copy of the weights. */
static bool can_be_best(const result_row *row) {
    return saves_vram(row) && row->measured && strcmp(row->status, "ok") == 0 &&
           !(row->nonfinite > 0);
}

static void add_variant(report_data *d, const char *variant) {
    for (int v = 0; v < d->variant_count; v++)
        if (strcmp(d->variants[v], variant) == 0) return;
    d->variants[d->variant_count++] = variant;
}

static bool organise(report_data *d) {
    d->problems = calloc((size_t)d->row_count, sizeof *d->problems);
    d->series = calloc((size_t)d->row_count, sizeof *d->series);
    d->weights = calloc((size_t)d->row_count, sizeof *d->weights);
    d->variants = calloc((size_t)d->row_count + 1, sizeof *d->variants);
    int *last_row = calloc((size_t)d->row_count, sizeof *last_row);
    if (!d->problems || !d->series || !d->weights || !d->variants || !last_row) {
        free(last_row);
        return false;
    }
    int known_count;
    const mx_variant_traits *known = mx_variants(&known_count);
    for (int k = 0; k < known_count; k++)
        for (int r = 0; r < d->row_count; r++)
            if (strcmp(d->rows[r].variant, known[k].name) == 0) {
                add_variant(d, known[k].name);
                break;
            }
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        add_variant(d, row->variant);
        row->next = -1;
        int p = d->problem_count - 1; /* rows of a problem are usually together: look back */
        while (p >= 0 && !same_problem(&d->rows[d->problems[p].first], row)) p--;
        if (p < 0) {
            p = d->problem_count++;
            d->problems[p] =
                (problem){.first = r, .reference = -1, .best = -1, .best_lean = -1, .series = -1};
            int s = 0;
            while (s < d->series_count &&
                   !same_series(&d->rows[d->problems[d->series[s].first_problem].first], row))
                s++;
            if (s == d->series_count) {
                d->series[s] =
                    (series){.first_problem = p, .panel = s < MAX_PANELS ? d->panel_count++ : -1};
                d->series_count++;
            }
            d->problems[p].series = s;
            int w = 0;
            while (w < d->weight_count && !same_weight(&d->rows[d->weights[w]], row)) w++;
            if (w == d->weight_count) d->weights[d->weight_count++] = r;
        } else {
            d->rows[last_row[p]].next = r;
        }
        last_row[p] = r;
        row->problem = p;
        problem *pr = &d->problems[p];
        if (row->reference && pr->reference < 0) pr->reference = r;
        pr->mxfp4_rows += is_mxfp4(row);
        if (can_be_best(row) && (pr->best < 0 || row->time_us < d->rows[pr->best].time_us))
            pr->best = r;
        if (can_be_best(row) && row->workspace_bytes == 0 &&
            (pr->best_lean < 0 || row->time_us < d->rows[pr->best_lean].time_us))
            pr->best_lean = r;
    }
    free(last_row);
    for (int p = 0; p < d->problem_count; p++) {
        problem *pr = &d->problems[p];
        pr->reference_us = NAN;
        if (pr->reference >= 0 && d->rows[pr->reference].measured)
            pr->reference_us = d->rows[pr->reference].time_us;
        for (int r = pr->first; r >= 0 && !isfinite(pr->reference_us); r = d->rows[r].next)
            if (d->rows[r].fp16_time_us > 0) pr->reference_us = d->rows[r].fp16_time_us;
    }
    return true;
}

/* The row of variant in problem p, or NULL. */
static const result_row *variant_row(const report_data *d, int p, const char *variant) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (strcmp(d->rows[r].variant, variant) == 0) return &d->rows[r];
    return NULL;
}

/* "4096x4096", "gpt-oss.qkv 5120x2880", with batch and experts where they apply. */
static void describe_weight(const result_row *row, char *out, size_t size) {
    char extra[96] = "";
    if (row->batch > 1) snprintf(extra, sizeof extra, " batch %lld", (long long)row->batch);
    if (row->experts > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld experts top-%lld",
                 (long long)row->experts, (long long)row->topk);
    if (row->kv_heads > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld KV heads",
                 (long long)row->kv_heads);
    snprintf(out, size, "%s%s%lldx%lld%s", row->shape_name, row->shape_name[0] ? " " : "",
             (long long)row->n, (long long)row->k, extra);
}

/* "gemm 4096x4096 M=256 f16 range": what a problem is, in tables and on plot axes. */
static void describe_problem(const result_row *row, char *out, size_t size) {
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s M=%lld %s %s", row->op, weight, (long long)row->m, row->dtype,
             row->dist);
}

static void describe_series(const result_row *row, char *out, size_t size) {
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s %s %s", row->op, weight, row->dtype, row->dist);
}

// ---- targets (DESIGN.md §7)

typedef struct {
    int row; /* the row the figure belongs to */
    bool pass;
    double badness; /* larger is worse: the worst items come first */
    char figure[48], detail[224];
} target_item;

typedef struct {
    target_item *items;
    int count, capacity, passed;
    int not_judged;
    const char *not_judged_why;
    char name[128];      /* "overhead vs FP16 < +10 %", with targets.h's value */
    char judged_on[160]; /* what one item is */
} target_result;

typedef struct {
    void (*title)(target_result *t); /* name and judged_on from targets.h's values */
    const char *figure_name;
    const char *explanation; /* a paragraph; `code` and **bold** are kept */
    void (*collect)(const report_data *d, target_result *out);
    bool per_weight; /* an item is a weight shape, not a problem */
} target_def;

static target_item *add_item(target_result *t, int row, bool pass, double badness) {
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 64;
        target_item *items = realloc(t->items, sizeof *items * (size_t)capacity);
        if (!items) return NULL;
        t->items = items;
        t->capacity = capacity;
    }
    target_item *item = &t->items[t->count++];
    /* A missing figure sorts with the worst (NaN would break the ordering). */
    *item = (target_item){.row = row, .pass = pass, .badness = isnan(badness) ? 1e29 : badness};
    t->passed += pass;
    return item;
}

static void not_judged(target_result *t, const char *why) {
    t->not_judged++;
    t->not_judged_why = why;
}

static int first_mxfp4_row(const report_data *d, int p) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (is_mxfp4(&d->rows[r])) return r;
    return -1;
}

/* The item of a per-problem target whose figure comes from the best MXFP4 row; NULL (after
 * recording why) when the problem cannot be judged. pass_of gets the figure. */
typedef bool (*figure_test)(double figure);

/* best: the problem's best row (problem.best, or best_lean where workspace is not allowed). */
static target_item *best_item(const report_data *d, int p, int best, target_result *t,
                              double figure, figure_test pass_of, double badness) {
    const problem *pr = &d->problems[p];
    if (!isfinite(pr->reference_us)) {
        not_judged(t, "the FP16 reference did not run");
        return NULL;
    }
    if (best < 0) {
        target_item *item = add_item(t, first_mxfp4_row(d, p), false, INFINITY);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "no result");
            snprintf(item->detail, sizeof item->detail,
                     "no MXFP4 variant that keeps no FP16 copy%s gave a correct timed result",
                     best == pr->best ? "" : " and needs no workspace");
        }
        return NULL;
    }
    target_item *item = add_item(t, best, pass_of(figure), badness);
    if (item)
        snprintf(item->detail, sizeof item->detail, "best: %s %.2f us vs FP16 %.2f us",
                 d->rows[best].variant, d->rows[best].time_us, pr->reference_us);
    return item;
}

static double row_us(const report_data *d, int r) {
    return r >= 0 ? d->rows[r].time_us : NAN;
}

static int64_t problem_m(const report_data *d, int p) {
    return d->rows[d->problems[p].first].m;
}

static void collect_overhead(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0) continue;
        double overhead = (row_us(d, pr->best) / pr->reference_us - 1.0) * 100.0;
        target_item *item =
            best_item(d, p, pr->best, t, overhead, mx_target_overhead_passes, overhead);
        if (item) snprintf(item->figure, sizeof item->figure, "%+.1f %%", overhead);
    }
}

static bool decode_passes(double speedup) {
    return speedup >= mx_targets.decode_speedup;
}

/* A weight-size column of problem p's rows (the first positive one), or fallback. */
static double weight_bytes(const report_data *d, int p, size_t field, double fallback) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next) {
        double bytes = *(const double *)((const char *)&d->rows[r] + field);
        if (bytes > 0) return bytes;
    }
    return fallback;
}

static double fp16_weight_bytes(const report_data *d, int p) {
    const result_row *row = &d->rows[d->problems[p].first];
    return weight_bytes(d, p, offsetof(result_row, weight_bytes_fp16),
                        2.0 * (double)row->n * (double)row->k * (double)row->batch);
}

/* Bytes the FP16 path reads and writes per call (its GB/s x its time): the weights for a GEMM,
 * only the looked-up rows of an embedding table or the routed experts of a MoE layer. */
static double fp16_bytes_moved(const report_data *d, int p) {
    int r = d->problems[p].reference;
    if (r >= 0 && isfinite(d->rows[r].gbps) && d->rows[r].gbps > 0 && d->rows[r].measured)
        return d->rows[r].gbps * d->rows[r].time_us * 1e3;
    return fp16_weight_bytes(d, p);
}

static void title_decode(target_result *t) {
    snprintf(t->name, sizeof t->name, "decode: MXFP4 >= %gx faster than FP16",
             mx_targets.decode_speedup);
    snprintf(t->judged_on, sizeof t->judged_on, "M <= %lld, FP16 weights >= %g MiB",
             (long long)mx_targets.decode_max_m, mx_targets.decode_min_fp16_bytes / MIB);
}

static void collect_decode(const report_data *d, target_result *t) {
    double min_bytes = mx_targets.decode_min_fp16_bytes;
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m) continue;
        if (fp16_weight_bytes(d, p) >= min_bytes && fp16_bytes_moved(d, p) < min_bytes) {
            not_judged(t, "the op reads only part of its weights per call (an embedding lookup)");
            continue;
        }
        if (fp16_weight_bytes(d, p) < min_bytes) continue;
        double speedup = pr->reference_us / row_us(d, pr->best);
        target_item *item = best_item(d, p, pr->best, t, speedup, decode_passes, -speedup);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", speedup);
    }
}

static bool bandwidth_passes(double pct) {
    return pct >= mx_targets.bandwidth_pct;
}

static void title_bandwidth(target_result *t) {
    snprintf(t->name, sizeof t->name, "bandwidth >= %g %% of copy (M <= %lld)",
             mx_targets.bandwidth_pct, (long long)mx_targets.decode_max_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant per problem, M <= %lld, MXFP4 weights >= %g MB",
             (long long)mx_targets.decode_max_m, mx_targets.bandwidth_min_mxfp4_bytes / 1e6);
}

static void collect_bandwidth(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double mxfp4_bytes = weight_bytes(d, p, offsetof(result_row, weight_bytes_mxfp4),
                                          fp16_weight_bytes(d, p) / 2.0 * MX_BYTES_PER_WEIGHT);
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m ||
            mxfp4_bytes < mx_targets.bandwidth_min_mxfp4_bytes)
            continue;
        double pct = pr->best >= 0 ? d->rows[pr->best].pct_peak_bw : NAN;
        target_item *item = best_item(d, p, pr->best, t, pct, bandwidth_passes, -pct);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "%.1f %%", pct);
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used, ", %.0f GB/s",
                     d->rows[pr->best].gbps);
        }
    }
}

/* The speed-up the medium-M target asks at M (0: M is not one of its token counts). */
static double medium_speedup(int64_t m) {
    for (int i = 0; i < 2; i++)
        if (m == mx_targets.medium_m[i]) return mx_targets.medium_speedup[i];
    return 0.0;
}

static void title_medium(target_result *t) {
    snprintf(t->name, sizeof t->name,
             "medium M: >= %gx faster than FP16 at M = %lld, >= %gx at M = %lld",
             mx_targets.medium_speedup[0], (long long)mx_targets.medium_m[0],
             mx_targets.medium_speedup[1], (long long)mx_targets.medium_m[1]);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem, M = %lld or %lld",
             (long long)mx_targets.medium_m[0], (long long)mx_targets.medium_m[1]);
}

/* The medium-M figure is the speed-up over the one its M needs: at least 1 passes. */
static bool margin_passes(double margin) {
    return margin >= 1.0;
}

static void collect_medium(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double wanted = medium_speedup(problem_m(d, p));
        if (pr->mxfp4_rows == 0 || wanted <= 0.0) continue;
        double speedup = pr->reference_us / row_us(d, pr->best);
        /* the rule differs per M: judge the margin over the M's own speed-up */
        target_item *item =
            best_item(d, p, pr->best, t, speedup / wanted, margin_passes, -speedup / wanted);
        if (item)
            snprintf(item->figure, sizeof item->figure, "%.2fx (M = %lld needs %gx)", speedup,
                     (long long)problem_m(d, p), wanted);
    }
}

static bool prefill_passes(double ratio) {
    return ratio <= mx_targets.prefill_ratio;
}

static void title_prefill(target_result *t) {
    snprintf(t->name, sizeof t->name, "prefill <= %gx FP16 time (M >= %lld), no workspace",
             mx_targets.prefill_ratio, (long long)mx_targets.prefill_min_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant without workspace per problem, M >= %lld",
             (long long)mx_targets.prefill_min_m);
}

static void collect_prefill(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) < mx_targets.prefill_min_m) continue;
        double ratio = row_us(d, pr->best_lean) / pr->reference_us;
        target_item *item = best_item(d, p, pr->best_lean, t, ratio, prefill_passes, ratio);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", ratio);
    }
}

/* Every measured MXFP4 row against an error limit; non-finite outputs fail whatever the norm. */
static void collect_error(const report_data *d, target_result *t, size_t field, double limit,
                          const char *figure_format, double figure_scale) {
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!is_mxfp4(row)) continue;
        if (!row->measured) {
            not_judged(t, "skipped or failed before a result");
            continue;
        }
        double error = *(const double *)((const char *)row + field);
        bool nonfinite = row->nonfinite > 0;
        if (isnan(error) && !nonfinite) { /* composite ops have no FP64 reference at large sizes */
            not_judged(t, "no reference figure at this size");
            continue;
        }
        target_item *item =
            add_item(t, r, !nonfinite && error <= limit, nonfinite ? 1e12 + row->nonfinite : error);
        if (!item) return;
        if (nonfinite)
            snprintf(item->figure, sizeof item->figure, "%.0f non-finite", row->nonfinite);
        else
            snprintf(item->figure, sizeof item->figure, figure_format, error * figure_scale);
        const result_row *reference = d->problems[row->problem].reference >= 0
                                          ? &d->rows[d->problems[row->problem].reference]
                                          : NULL;
        if (nonfinite)
            snprintf(item->detail, sizeof item->detail,
                     "outputs non-finite where the exact result is finite");
        else if (isfinite(row->max_rel_vs_fp16))
            snprintf(item->detail, sizeof item->detail, "max elementwise vs FP16 %.3g %%",
                     row->max_rel_vs_fp16 * 100.0);
        if (reference && reference->nonfinite > 0) {
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used,
                     "%sthe FP16 reference itself has %.0f non-finite outputs", used ? "; " : "",
                     reference->nonfinite);
        }
    }
}

static void collect_error_vs_fp16(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_fp16), mx_targets.rel_vs_fp16, "%.3g %%",
                  100.0);
}

static void collect_error_vs_exact(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_exact), mx_targets.rel_vs_exact, "%.2e", 1.0);
}

static void vram_item(const report_data *d, target_result *t, int worst) {
    const result_row *row = &d->rows[worst];
    target_item *item = add_item(t, worst, row->vram_savings_pct >= mx_targets.vram_saved_pct,
                                 -row->vram_savings_pct);
    if (!item) return;
    snprintf(item->figure, sizeof item->figure, "%.2f %%", row->vram_savings_pct);
    snprintf(item->detail, sizeof item->detail,
             "%s: MXFP4 %.2f MiB + workspace %.2f MiB vs FP16 %.2f MiB", row->variant,
             row->weight_bytes_mxfp4 / MIB, row->workspace_bytes / MIB,
             row->weight_bytes_fp16 / MIB);
}

/* Per weight and VRAM-saving variant (one that keeps no FP16 copy): the lowest saving its rows
 * report (the workspace grows with M). */
static void collect_vram(const report_data *d, target_result *t) {
    for (int w = 0; w < d->weight_count; w++)
        for (int v = 0; v < d->variant_count; v++) {
            int worst = -1, seen = 0;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                if (strcmp(row->variant, d->variants[v]) != 0 || !saves_vram(row) ||
                    !same_weight(row, &d->rows[d->weights[w]]))
                    continue;
                seen++;
                if (isfinite(row->vram_savings_pct) &&
                    (worst < 0 || row->vram_savings_pct < d->rows[worst].vram_savings_pct))
                    worst = r;
            }
            if (seen && worst < 0) not_judged(t, "no VRAM figure (skipped or failed rows)");
            if (worst >= 0) vram_item(d, t, worst);
        }
}

static void title_overhead(target_result *t) {
    snprintf(t->name, sizeof t->name, "overhead vs FP16 < %+g %%", mx_targets.overhead_pct);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem");
}

static void title_error_vs_fp16(target_result *t) {
    snprintf(t->name, sizeof t->name, "error vs FP16 reference <= %g %%",
             mx_targets.rel_vs_fp16 * 100.0);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

/* A small limit as people write it: 2e-3, not 0.002 or 2e-03. */
static void format_limit(char out[32], size_t size, double value) {
    char mantissa[12];
    int exponent = (int)floor(log10(value));
    snprintf(mantissa, sizeof mantissa, "%.4g", value / pow(10.0, exponent));
    snprintf(out, size, "%se%d", mantissa, exponent);
}

static void title_error_vs_exact(target_result *t) {
    char limit[32];
    format_limit(limit, sizeof limit, mx_targets.rel_vs_exact);
    snprintf(t->name, sizeof t->name, "kernel error vs exact <= %s", limit);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

static void title_vram(target_result *t) {
    snprintf(t->name, sizeof t->name, "VRAM >= %g %% saved", mx_targets.vram_saved_pct);
    snprintf(t->judged_on, sizeof t->judged_on,
             "each weight shape and variant that keeps no FP16 copy");
}

/* The values in names and judged_on come from targets.c; the explanations say what is judged. */
static const target_def targets[] = {
    {title_overhead, "overhead",
     "Per problem (shape, M, dtype, distribution) the fastest MXFP4 variant with a correct result "
     "against cuBLAS FP16 timed on the same shape in the same run: overhead = t / t_FP16 - 1, "
     "negative when MXFP4 is faster. Variants that keep a dequantized FP16 copy of the weights "
     "(persistent, embedding cached: harness/variants.c) are left out of \"best\": they save no "
     "memory and are FP16 paths in disguise (they are measured and drawn all the same).",
     collect_overhead, false},
    {title_error_vs_fp16, "rel. error",
     "Normwise relative error ||y - r|| / ||r|| of each MXFP4 row against cuBLAS FP16 on the same "
     "dequantized weights (the Sprint 6 quantity). Rows with non-finite outputs where the exact "
     "result is finite fail whatever their norm.",
     collect_error_vs_fp16, false},
    {title_error_vs_exact, "rel. error",
     "The kernel's own error: against an FP64 product on the exactly dequantized weights. FP16 "
     "output rounding alone is about 3e-4.",
     collect_error_vs_exact, false},
    {title_decode, "speed-up",
     "At decode token counts a GEMM streams its weights, so MXFP4 (3.76x fewer bytes) can be up to "
     "3.76x faster than cuBLAS FP16; the target asks this much of the best MXFP4 variant. An op "
     "whose FP16 path moves less than the size limit per call although its weights are larger (an "
     "embedding lookup reads only its rows) is not judged.",
     collect_decode, false},
    {title_bandwidth, "% of copy",
     "Bytes the MXFP4 op must move (weights, scales, activations, output) per second, as a share "
     "of the device-to-device copy bandwidth measured at start-up (run.json); judged where the "
     "MXFP4 weights are large enough for launch latency not to dominate.",
     collect_bandwidth, false},
    {title_medium, "speed-up",
     "Between decode and prefill the weights are still read once per call while the FP16 GEMM "
     "starts to be compute bound: the best MXFP4 variant must be clearly faster at the lower "
     "token count and no slower at the higher one.",
     collect_medium, false},
    {title_prefill, "time / FP16",
     "At prefill token counts the GEMM is compute bound; the best MXFP4 variant that needs no "
     "workspace (so no temporary FP16 copy: dequant_cublas does not count) may take at most this "
     "multiple of the cuBLAS FP16 time.",
     collect_prefill, false},
    {title_vram, "saved",
     "savings = 1 - (MXFP4 blocks + scales + workspace) / FP16 bytes, the lowest over the rows of "
     "a weight and variant (a workspace may grow with M: dequant_cublas holds a full FP16 copy "
     "while it runs); the format itself allows at most 73.4 % (0.53125 of 2 bytes per weight).",
     collect_vram, true},
};
enum { TARGET_COUNT = sizeof targets / sizeof targets[0] };

static int compare_items(const void *a, const void *b) {
    const target_item *x = a, *y = b;
    if (x->badness != y->badness) return x->badness < y->badness ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

static void judge(const report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; i < TARGET_COUNT; i++) {
        results[i] = (target_result){0};
        targets[i].title(&results[i]);
        targets[i].collect(d, &results[i]);
        if (results[i].count > 1)
            qsort(results[i].items, (size_t)results[i].count, sizeof *results[i].items,
                  compare_items);
    }
}

// ---- plot data and plots

enum { MAX_PLOT_FILES = 2, MAX_PLOT_VARIABLES = 24 };

typedef struct {
    int file_count, variable_count;
    char file_names[MAX_PLOT_FILES][32], file_variables[MAX_PLOT_FILES][32];
    mx_text files[MAX_PLOT_FILES];
    char variable_names[MAX_PLOT_VARIABLES][32];
    mx_text variable_values[MAX_PLOT_VARIABLES];
} plot_job;

typedef struct {
    const char *base; /* images base.png and base.svg, data plot_data/base*.dat */
    const char *script;
    const char *title;
    const char *caption; /* how to read it */
    /* Fills the job's data files and variables; false when the run has nothing to draw. */
    bool (*prepare)(const report_data *d, plot_job *job);
} plot_def;

typedef enum { PLOT_DRAWN, PLOT_NO_DATA, PLOT_SKIPPED, PLOT_FAILED } plot_state;

typedef struct {
    plot_state state;
    char message[1200];
} plot_outcome;

static mx_text *job_file(plot_job *job, const char *variable, const char *name) {
    int i = job->file_count++;
    snprintf(job->file_variables[i], sizeof job->file_variables[i], "%s", variable);
    snprintf(job->file_names[i], sizeof job->file_names[i], "%s", name);
    return &job->files[i];
}

static void job_set(plot_job *job, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void job_set(plot_job *job, const char *name, const char *format, ...) {
    if (job->variable_count == MAX_PLOT_VARIABLES) return; /* a script lacking it fails loudly */
    int i = job->variable_count++;
    snprintf(job->variable_names[i], sizeof job->variable_names[i], "%s", name);
    va_list args;
    va_start(args, format);
    mx_text_vprintf(&job->variable_values[i], format, args);
    va_end(args);
}

static void job_free(plot_job *job) {
    for (int i = 0; i < MAX_PLOT_FILES; i++) mx_text_free(&job->files[i]);
    for (int i = 0; i < MAX_PLOT_VARIABLES; i++) mx_text_free(&job->variable_values[i]);
}

static void put_value(mx_text *file, double value) {
    if (isfinite(value))
        mx_text_printf(file, "\t%.6g", value);
    else
        mx_text_printf(file, "\tNaN");
}

/* The variants a plot draws, space separated: every one, or the MXFP4 ones only; their colours
 * and point types (variants.h) in the same order, for common.gp's vcolor and vpoint; and the
 * targets' values for the target lines. */
static void job_variants(const report_data *d, plot_job *job, bool with_reference) {
    mx_text names = {0}, colors = {0}, points = {0};
    for (int v = 0; v < d->variant_count; v++) {
        const mx_variant_traits *traits = mx_variant_traits_of(d->variants[v]);
        if (!with_reference && traits->reference) continue;
        const char *space = names.length ? " " : "";
        mx_text_printf(&names, "%s%s", space, d->variants[v]);
        mx_text_printf(&colors, "%s%s", space, traits->color);
        mx_text_printf(&points, "%s%d", space, traits->point);
    }
    job_set(job, "variants", "%s", mx_text_get(&names));
    job_set(job, "vcolors", "%s", mx_text_get(&colors));
    job_set(job, "vpoints", "%s", mx_text_get(&points));
    /* the target lines (targets.h) */
    job_set(job, "target_overhead_pct", "%.6e", mx_targets.overhead_pct);
    job_set(job, "target_rel_fp16", "%.6e", mx_targets.rel_vs_fp16);
    job_set(job, "target_rel_exact", "%.6e", mx_targets.rel_vs_exact);
    job_set(job, "target_bw_pct", "%.6e", mx_targets.bandwidth_pct);
    job_set(job, "target_vram_pct", "%.6e", mx_targets.vram_saved_pct);
    mx_text_free(&names);
    mx_text_free(&colors);
    mx_text_free(&points);
}

static bool has_mxfp4_variant(const report_data *d) {
    for (int v = 0; v < d->variant_count; v++)
        if (!mx_variant_traits_of(d->variants[v])->reference) return true;
    return false;
}

/* The problems of series s ordered by M (the first of each M), into out; returns the count. */
static int series_problems(const report_data *d, int s, int *out) {
    int count = 0;
    for (int p = 0; p < d->problem_count; p++) {
        if (d->problems[p].series != s) continue;
        int64_t m = d->rows[d->problems[p].first].m;
        int at = count;
        while (at > 0 && d->rows[d->problems[out[at - 1]].first].m > m) at--;
        if (at > 0 && d->rows[d->problems[out[at - 1]].first].m == m) continue;
        memmove(out + at + 1, out + at, sizeof *out * (size_t)(count - at));
        out[at] = p;
        count++;
    }
    return count;
}

/* panels and panel_titles (gnuplot quoted words) of the per-shape plots. */
static void panel_titles(const report_data *d, plot_job *job) {
    mx_text titles = {0};
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        char title[320];
        describe_series(&d->rows[d->problems[d->series[s].first_problem].first], title,
                        sizeof title);
        for (char *c = title; *c; c++)
            if (*c == '"') *c = '\'';
        mx_text_printf(&titles, "%s\"%s\"", titles.length ? " " : "", title);
    }
    job_set(job, "panels", "%d", d->panel_count);
    job_set(job, "panel_titles", "%s", mx_text_get(&titles));
    mx_text_free(&titles);
}

static bool prepare_overhead(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d) || d->panel_count == 0) return false;
    mx_text *file = job_file(job, "data", "overhead.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    int64_t *ms = malloc(sizeof *ms * (size_t)d->problem_count);
    if (!order || !ms) {
        free(order);
        free(ms);
        return false;
    }
    int m_count = 0;
    double low = 1.0, high = 1.0 + mx_targets.overhead_pct / 100.0;
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        mx_text_printf(file, "# t / t_FP16 per variant (NaN: no result)\n# M");
        for (int v = 0; v < d->variant_count; v++)
            if (!mx_variant_traits_of(d->variants[v])->reference)
                mx_text_printf(file, "\t%s", d->variants[v]);
        mx_text_printf(file, "\tbest\n");
        int count = series_problems(d, s, order);
        for (int i = 0; i < count; i++) {
            const problem *pr = &d->problems[order[i]];
            int64_t m = d->rows[pr->first].m;
            int at = 0;
            while (at < m_count && ms[at] < m) at++;
            if (at == m_count || ms[at] != m) {
                memmove(ms + at + 1, ms + at, sizeof *ms * (size_t)(m_count - at));
                ms[at] = m;
                m_count++;
            }
            mx_text_printf(file, "%lld", (long long)m);
            for (int v = 0; v < d->variant_count; v++) {
                if (mx_variant_traits_of(d->variants[v])->reference) continue;
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                double ratio = row && row->measured ? row->time_us / pr->reference_us : NAN;
                put_value(file, ratio);
                if (isfinite(ratio)) {
                    low = fmin(low, ratio), high = fmax(high, ratio);
                    any = true;
                }
            }
            put_value(file, pr->best >= 0 ? d->rows[pr->best].time_us / pr->reference_us : NAN);
            mx_text_printf(file, "\n");
        }
        mx_text_printf(file, "\n\n");
    }
    /* At most 9 tics on the M axis: every other value until they fit. */
    int step = 1;
    while ((m_count + step - 1) / step > 9) step *= 2;
    mx_text tics = {0};
    for (int i = 0; i < m_count; i += step)
        mx_text_printf(&tics, "%s%lld", tics.length ? " " : "", (long long)ms[i]);
    free(order);
    free(ms);
    job_variants(d, job, false);
    panel_titles(d, job);
    job_set(job, "mvalues", "%s", mx_text_get(&tics));
    mx_text_free(&tics);
    job_set(job, "ymin", "%.6e", low / 1.25);
    job_set(job, "ymax", "%.6e", high * 1.25);
    return any;
}

/* Whether variant v has a measured row in series s (its bar has a slot in that panel). */
static bool series_has_variant(const report_data *d, const int *order, int count, int v) {
    for (int i = 0; i < count; i++) {
        const result_row *row = variant_row(d, order[i], d->variants[v]);
        if (row && row->measured) return true;
    }
    return false;
}

/* One block per panel with a column per variant measured in that panel (so that an op's bars
 * are not spread over the slots of every other op's variants); panel_variants holds each
 * panel's variant names, comma-joined, one word per panel. */
static bool prepare_time(const report_data *d, plot_job *job) {
    if (d->panel_count == 0) return false;
    mx_text *file = job_file(job, "data", "time.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    mx_text panel_variants = {0};
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        int count = series_problems(d, s, order);
        mx_text_printf(file, "# median time in us per variant (NaN: no result)\n# index\tM");
        mx_text_printf(&panel_variants, "%s", panel_variants.length ? " " : "");
        bool first = true;
        for (int v = 0; v < d->variant_count; v++) {
            if (!series_has_variant(d, order, count, v)) continue;
            mx_text_printf(file, "\t%s", d->variants[v]);
            mx_text_printf(&panel_variants, "%s%s", first ? "" : ",", d->variants[v]);
            first = false;
        }
        if (first) mx_text_printf(&panel_variants, "none");
        mx_text_printf(file, "\n");
        for (int i = 0; i < count; i++) {
            mx_text_printf(file, "%d\t%lld", i, (long long)d->rows[d->problems[order[i]].first].m);
            for (int v = 0; v < d->variant_count; v++) {
                if (!series_has_variant(d, order, count, v)) continue;
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                put_value(file, row && row->measured ? row->time_us : NAN);
                any |= row && row->measured;
            }
            mx_text_printf(file, "\n");
        }
        mx_text_printf(file, "\n\n");
    }
    free(order);
    job_variants(d, job, true);
    panel_titles(d, job);
    job_set(job, "panel_variants", "%s", mx_text_get(&panel_variants));
    mx_text_free(&panel_variants);
    return any;
}

/* Every how many rows a categorical axis is labelled: at most about 70 labels. */
static int axis_label_step(int rows) {
    return rows > 70 ? (rows + 69) / 70 : 1;
}

/* Problems in plot order: series by series, M ascending. Returns the count. */
static int problems_in_plot_order(const report_data *d, int *out) {
    int count = 0;
    for (int s = 0; s < d->series_count; s++) count += series_problems(d, s, out + count);
    return count;
}

static bool prepare_error(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double smallest = INFINITY, largest = 0.0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        double values[] = {row->rel_vs_fp16, row->rel_vs_exact, row->quant_rel};
        for (int i = 0; i < 3 && row->measured && !(row->nonfinite > 0); i++)
            if (values[i] > 0 && isfinite(values[i])) {
                smallest = fmin(smallest, values[i]);
                largest = fmax(largest, values[i]);
            }
    }
    /* A log axis has no 0: zeros (the same arithmetic as the reference) sit on a labelled floor
     * a decade below the smallest nonzero value. */
    double zero_at = isfinite(smallest) ? pow(10.0, floor(log10(smallest)) - 1.0) : 1e-8;
    zero_at = fmin(fmax(zero_at, 1e-12), 1e-4);
    mx_text *file = job_file(job, "data", "error.dat");
    mx_text_printf(file, "# index\tlabel\tquant_rel_err");
    for (int v = 0; v < d->variant_count; v++) mx_text_printf(file, "\tvs_fp16:%s", d->variants[v]);
    for (int v = 0; v < d->variant_count; v++)
        mx_text_printf(file, "\tvs_exact:%s", d->variants[v]);
    mx_text_printf(file, "\tnonfinite\n# errors are relative; 0 is written as %g\n", zero_at);
    int label_step = axis_label_step(count);
    bool any = false;
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        char label[320] = "";
        if (i % label_step == 0) describe_problem(&d->rows[pr->first], label, sizeof label);
        double quant = NAN;
        bool nonfinite = false;
        for (int r = pr->first; r >= 0; r = d->rows[r].next) {
            nonfinite |= d->rows[r].nonfinite > 0;
            if (isnan(quant) && is_mxfp4(&d->rows[r]) && d->rows[r].measured)
                quant = d->rows[r].quant_rel;
        }
        mx_text_printf(file, "%d\t%s", i, label);
        put_value(file, quant > 0 ? quant : NAN);
        for (int pass = 0; pass < 2; pass++)
            for (int v = 0; v < d->variant_count; v++) {
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                double value = !row || !row->measured || row->nonfinite > 0 ? NAN
                               : pass == 0                                  ? row->rel_vs_fp16
                                                                            : row->rel_vs_exact;
                put_value(file, isfinite(value) ? fmax(value, zero_at) : NAN);
                any |= isfinite(value);
            }
        put_value(file, nonfinite ? 1.0 : NAN);
        mx_text_printf(file, "\n");
    }
    free(order);
    job_variants(d, job, true);
    job_set(job, "count", "%d", count);
    job_set(job, "zero_at", "%.6e", zero_at);
    job_set(job, "ymax", "%.6e", fmax(1.0, largest * 3.0));
    return any;
}

static bool prepare_vram(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    mx_text *file = job_file(job, "data", "vram.dat");
    mx_text_printf(file, "# index\tweight\tlowest vram_savings_pct per MXFP4 variant\n");
    double lowest = 0.0;
    bool any = false;
    int label_step = axis_label_step(d->weight_count);
    for (int w = 0; w < d->weight_count; w++) {
        char label[192] = "";
        if (w % label_step == 0) describe_weight(&d->rows[d->weights[w]], label, sizeof label);
        mx_text_printf(file, "%d\t%s", w, label);
        for (int v = 0; v < d->variant_count; v++) {
            if (mx_variant_traits_of(d->variants[v])->reference) continue;
            double saved = NAN;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                if (strcmp(row->variant, d->variants[v]) == 0 && isfinite(row->vram_savings_pct) &&
                    same_weight(row, &d->rows[d->weights[w]]))
                    saved =
                        isnan(saved) ? row->vram_savings_pct : fmin(saved, row->vram_savings_pct);
            }
            put_value(file, saved);
            if (isfinite(saved)) lowest = fmin(lowest, saved), any = true;
        }
        mx_text_printf(file, "\n");
    }
    job_variants(d, job, false);
    job_set(job, "count", "%d", d->weight_count);
    job_set(job, "ymin", "%.6e", lowest);
    return any;
}

/* One throughput panel: the problems whose M is in [m_low, m_high], one column per variant. */
static int throughput_file(const report_data *d, mx_text *file, const int *order, int count,
                           int64_t m_low, int64_t m_high, size_t field, double *largest,
                           bool *any) {
    mx_text_printf(file, "# index\tproblem\t%s per variant\n",
                   field == offsetof(result_row, pct_peak_bw) ? "pct_peak_bw" : "pct_peak_flops");
    int lines = 0, in_range = 0;
    for (int i = 0; i < count; i++) {
        int64_t m = d->rows[d->problems[order[i]].first].m;
        in_range += m >= m_low && m <= m_high;
    }
    int label_step = axis_label_step(in_range);
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        int64_t m = d->rows[pr->first].m;
        if (m < m_low || m > m_high) continue;
        char label[320] = "";
        if (lines % label_step == 0) describe_problem(&d->rows[pr->first], label, sizeof label);
        mx_text_printf(file, "%d\t%s", lines++, label);
        for (int v = 0; v < d->variant_count; v++) {
            const result_row *row = variant_row(d, order[i], d->variants[v]);
            double value =
                row && row->measured ? *(const double *)((const char *)row + field) : NAN;
            put_value(file, value);
            if (isfinite(value)) *largest = fmax(*largest, value), *any = true;
        }
        mx_text_printf(file, "\n");
    }
    return lines;
}

static bool prepare_throughput(const report_data *d, plot_job *job) {
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double bw_largest = 100.0, flops_largest = 100.0;
    bool any = false;
    int bw_lines = throughput_file(d, job_file(job, "bw_data", "throughput_bw.dat"), order, count,
                                   1, mx_targets.decode_max_m, offsetof(result_row, pct_peak_bw),
                                   &bw_largest, &any);
    int flops_lines = throughput_file(d, job_file(job, "flops_data", "throughput_flops.dat"), order,
                                      count, THROUGHPUT_LARGE_M, INT64_MAX,
                                      offsetof(result_row, pct_peak_flops), &flops_largest, &any);
    free(order);
    job_variants(d, job, true);
    job_set(job, "bw_count", "%d", bw_lines);
    job_set(job, "flops_count", "%d", flops_lines);
    job_set(job, "bw_ymax", "%.6e", bw_largest * 1.08);
    job_set(job, "flops_ymax", "%.6e", flops_largest * 1.08);
    char copy[32], tflops[32];
    mx_format_known(copy, sizeof copy, d->meta.copy_gbps, "%.0f");
    mx_format_known(tflops, sizeof tflops, d->meta.fp16_tflops, "%.0f");
    job_set(job, "copy_gbps", "%s", copy);
    job_set(job, "fp16_tflops", "%s", tflops);
    return any;
}

static const plot_def plots[] = {
    {"overhead", "overhead.gp", "Overhead vs cuBLAS FP16",
     "Per weight shape (with dtype and distribution): t / t_FP16 of each MXFP4 variant against M "
     "on log axes, labelled as overhead; the thick line is the best MXFP4 variant (none that keeps "
     "an FP16 copy), the dashed red line the overhead target, below 0 % MXFP4 is faster.",
     prepare_overhead},
    {"error", "error.gp", "Error vs FP16 reference, kernel error and quantization error",
     "Top: relative error of each variant against cuBLAS FP16 on the same dequantized weights "
     "(target 2), and, as black squares, the quantization error against the original "
     "unquantized weights: a different quantity that target 2 does not apply to. Bottom: "
     "each path's error against the exact FP64 product (target 3). Exact zeros sit on the "
     "axis floor labelled 0; problems with non-finite outputs are marked with a red x.",
     prepare_error},
    {"vram", "vram.gp", "VRAM saved per variant",
     "Weight memory saved against FP16 per weight shape and variant, including every workspace "
     "the variant needs; the dashed line is the format's limit (73.4 %). Variants that hold an "
     "FP16 copy of the weights (dequant_cublas's temporary, persistent's cache) fall below zero.",
     prepare_vram},
    {"throughput", "throughput.gp", "Achieved bandwidth and compute against the ceilings",
     "Top: M <= 16, bytes moved per second as % of the measured copy bandwidth (target 80 % for "
     "MXFP4). Bottom: M >= 1024, TFLOP/s as % of cuBLAS FP16 at 8192^3.",
     prepare_throughput},
    {"time", "time.gp", "Time per variant",
     "Median time per variant (log axis) for each weight shape and M; fp16 is the cuBLAS "
     "reference.",
     prepare_time},
};
enum { PLOT_COUNT = sizeof plots / sizeof plots[0] };

/* Writes every plot's data into RUN_DIR/plot_data/ and, with gnuplot, draws it. */
static void draw_plots(const report_data *d, const mx_gnuplot *gnuplot, const char *skip_reason,
                       plot_outcome outcomes[PLOT_COUNT]) {
    mx_text folder = {0};
    mx_text_printf(&folder, "%s/plot_data", d->run_dir);
    bool folder_ok = mx_ensure_folder(mx_text_get(&folder));
    for (int i = 0; i < PLOT_COUNT; i++) {
        plot_outcome *outcome = &outcomes[i];
        plot_job job = {0};
        *outcome = (plot_outcome){.state = PLOT_DRAWN};
        if (!plots[i].prepare(d, &job)) {
            outcome->state = PLOT_NO_DATA;
            snprintf(outcome->message, sizeof outcome->message, "nothing to draw in this run");
            job_free(&job);
            continue;
        }
        mx_plot_variable variables[MAX_PLOT_VARIABLES + MAX_PLOT_FILES + 1];
        mx_text paths[MAX_PLOT_FILES] = {{0}}, title = {0}, out_base = {0};
        int count = 0;
        for (int f = 0; f < job.file_count && outcome->state == PLOT_DRAWN; f++) {
            mx_text_printf(&paths[f], "%s/%s", mx_text_get(&folder), job.file_names[f]);
            char error[1024];
            if (!folder_ok || job.files[f].failed ||
                !mx_write_file_atomic(mx_text_get(&paths[f]), mx_text_get(&job.files[f]),
                                      job.files[f].length, error, sizeof error)) {
                outcome->state = PLOT_FAILED;
                snprintf(outcome->message, sizeof outcome->message, "writing %s: %s",
                         mx_text_get(&paths[f]),
                         folder_ok ? (job.files[f].failed ? "out of memory" : error)
                                   : strerror(errno));
            }
            variables[count++] = (mx_plot_variable){job.file_variables[f], mx_text_get(&paths[f])};
        }
        for (int v = 0; v < job.variable_count; v++)
            variables[count++] =
                (mx_plot_variable){job.variable_names[v], mx_text_get(&job.variable_values[v])};
        mx_text_printf(&title, "%s — %s", plots[i].title, d->caption);
        variables[count++] = (mx_plot_variable){"title", mx_text_get(&title)};
        mx_text_printf(&out_base, "%s/%s", d->run_dir, plots[i].base);
        if (outcome->state == PLOT_DRAWN && !gnuplot) {
            outcome->state = PLOT_SKIPPED;
            snprintf(outcome->message, sizeof outcome->message, "%s", skip_reason);
        } else if (outcome->state == PLOT_DRAWN &&
                   !mx_plot_render(gnuplot, plots[i].script, variables, count,
                                   mx_text_get(&out_base), outcome->message,
                                   sizeof outcome->message)) {
            outcome->state = PLOT_FAILED;
        }
        for (int f = 0; f < MAX_PLOT_FILES; f++) mx_text_free(&paths[f]);
        mx_text_free(&title);
        mx_text_free(&out_base);
        job_free(&job);
    }
    mx_text_free(&folder);
}

// ---- the report

static void describe_item(const report_data *d, const target_def *target, const target_item *item,
                          char *out, size_t size) {
    const result_row *row = &d->rows[item->row];
    if (!target->per_weight) {
        describe_problem(row, out, size);
        return;
    }
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s", row->op, weight);
}

static void write_summary_table(mx_doc *out, const report_data *d,
                                const target_result results[TARGET_COUNT]) {
    mx_doc_table(out, "#\ttarget (DESIGN.md §7)\tjudged on\tpass / total\tworst");
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_result *t = &results[i];
        char worst[640] = "no rows to judge", what[400], counts[64];
        if (t->count > 0) {
            describe_item(d, &targets[i], &t->items[0], what, sizeof what);
            snprintf(worst, sizeof worst, "%s: %s (%s)", t->items[0].figure, what,
                     d->rows[t->items[0].row].variant);
        }
        int used = snprintf(counts, sizeof counts, "%d/%d", t->passed, t->count);
        if (t->not_judged)
            snprintf(counts + used, sizeof counts - (size_t)used, " (+%d not judged)",
                     t->not_judged);
        mx_doc_row(out, "%d\t%s\t%s\t%s\t%s", i + 1, t->name, t->judged_on, counts, worst);
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per variant: how its own rows fare against the row-level targets. */
static void write_variant_table(mx_doc *out, const report_data *d) {
    double *overheads = malloc(sizeof *overheads * (size_t)d->row_count);
    if (!overheads) return;
    char limit[32];
    format_limit(limit, sizeof limit, mx_targets.rel_vs_exact);
    mx_doc_table(
        out,
        "variant\trows measured\toverhead < %+g %%\terror vs FP16 <= %g %%\terror vs exact "
        "<= %s\tmedian overhead\tworst overhead\tlowest VRAM saved",
        mx_targets.overhead_pct, mx_targets.rel_vs_fp16 * 100.0, limit);
    for (int v = 0; v < d->variant_count; v++) {
        int rows = 0, measured = 0, count = 0, fast = 0, close_to_fp16 = 0, close_to_exact = 0,
            no_exact = 0;
        double lowest_saved = INFINITY;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (strcmp(row->variant, d->variants[v]) != 0) continue;
            rows++;
            if (isfinite(row->vram_savings_pct))
                lowest_saved = fmin(lowest_saved, row->vram_savings_pct);
            if (!row->measured) continue;
            measured++;
            double overhead = (row->time_us / d->problems[row->problem].reference_us - 1.0) * 100;
            if (isfinite(overhead)) overheads[count++] = overhead;
            fast += mx_target_overhead_passes(overhead);
            bool finite = !(row->nonfinite > 0);
            close_to_fp16 += finite && row->rel_vs_fp16 <= mx_targets.rel_vs_fp16;
            close_to_exact += finite && row->rel_vs_exact <= mx_targets.rel_vs_exact;
            no_exact += finite && isnan(row->rel_vs_exact);
        }
        qsort(overheads, (size_t)count, sizeof *overheads, compare_doubles);
        char median[32] = "-", worst[32] = "-", saved[32] = "-", fast_text[32];
        if (count) {
            snprintf(median, sizeof median, "%+.1f %%", overheads[count / 2]);
            snprintf(worst, sizeof worst, "%+.1f %%", overheads[count - 1]);
        }
        if (isfinite(lowest_saved)) snprintf(saved, sizeof saved, "%.2f %%", lowest_saved);
        bool reference = mx_variant_traits_of(d->variants[v])->reference;
        snprintf(fast_text, sizeof fast_text, "%d", fast);
        char exact_text[48];
        snprintf(exact_text, sizeof exact_text,
                 no_exact ? "%d (%d without an FP64 reference)" : "%d", close_to_exact, no_exact);
        mx_doc_row(out, "%s\t%d of %d\t%s\t%d\t%s\t%s\t%s\t%s",
                   reference ? "fp16 (cuBLAS reference)" : d->variants[v], measured, rows,
                   reference ? "reference" : fast_text, close_to_fp16, exact_text,
                   reference ? "reference" : median, reference ? "reference" : worst, saved);
    }
    free(overheads);
}

static void write_environment(mx_doc *out, const report_data *d) {
    const mx_run_meta *m = &d->meta;
    mx_doc_heading(out, 2, "Environment");
    if (!d->meta_read) {
        mx_doc_paragraph(out,
                         "run.json could not be read (%s): the environment and the ceilings are "
                         "unknown.",
                         d->meta_error);
        return;
    }
    char memory[32], l2[32], sms[32], start_clock[32], max_clock[32], memory_clock[32];
    mx_format_known(memory, sizeof memory, m->memory_bytes / (MIB * 1024.0), "%.1f GiB");
    mx_format_known(l2, sizeof l2, m->l2_bytes / MIB, "%.0f MiB");
    mx_format_known(sms, sizeof sms, m->sm_count, "%.0f");
    mx_format_known(start_clock, sizeof start_clock, m->sm_clock_start_mhz, "%.0f MHz");
    mx_format_known(max_clock, sizeof max_clock, m->sm_clock_max_mhz, "%.0f MHz");
    mx_format_known(memory_clock, sizeof memory_clock, m->memory_clock_max_mhz, "%.0f MHz");
    mx_doc_table(out, "item\tvalue");
    mx_doc_row(out, "GPU\t%s (compute capability %s, %s SMs, %s, L2 %s), %s",
               m->gpu_name[0] ? m->gpu_name : "?", m->compute_capability, sms, memory, l2,
               m->gpu_uuid);
    mx_doc_row(out, "driver / CUDA runtime / cuBLAS\t%d.%d / %d.%d / %d.%d.%d",
               m->driver_version / 1000, m->driver_version % 1000 / 10, m->runtime_version / 1000,
               m->runtime_version % 1000 / 10, m->cublas_version / 10000,
               m->cublas_version / 100 % 100, m->cublas_version % 100);
    mx_doc_row(out,
               "code path\t%s (%s) for skinny and fused: hopper splits K over thread-block "
               "clusters, portable (Ampere, Ada, Blackwell) does not; the cuBLAS variants take "
               "cuBLAS's own path. Built for `%s`",
               m->code_path[0] ? m->code_path : "not recorded (a run before the portable path)",
               m->code_path_why[0] ? m->code_path_why : "?",
               m->built_archs[0] ? m->built_archs : "?");
    mx_doc_row(out,
               "clocks\tSM %s under load at start-up (maximum %s); memory maximum %s; rows below "
               "90 %% of the start-up SM clock are flagged throttled",
               start_clock, max_clock, memory_clock);
    mx_doc_row(out, "commit\t`%s`%s", m->git_commit,
               m->git_dirty == 1   ? ", dirty (uncommitted changes in the build)"
               : m->git_dirty == 0 ? ", clean"
                                   : ", dirty state unknown");
    mx_doc_row(out, "run\t`%s`, sweep `%s`, %s to %s, status %s, host %s", m->run_id, m->suite,
               m->start_time, m->end_time[0] ? m->end_time : "?", m->status, m->hostname);
    mx_doc_row(out, "command\t`%s`", m->command_line);
    char flush[48];
    mx_format_known(flush, sizeof flush, m->l2_flush_bytes / MIB, "%.0f MiB written");
    mx_doc_row(out,
               "method\t%s; %.0f to %.0f samples per row until the median's noise is below %.2g %% "
               "or %.0f ms are spent; seed %.0f",
               m->l2_flushed == 1 ? "L2 flushed before every sample" : "L2 not flushed (warm)",
               m->min_samples, m->max_samples, m->max_noise_pct, m->time_budget_ms, m->seed);
    if (m->l2_flushed == 1) mx_doc_row(out, "L2 flush\t%s before each sample", flush);
    mx_doc_heading(out, 2, "Ceilings");
    char copy[32], tflops[32];
    mx_format_known(copy, sizeof copy, m->copy_gbps, "%.0f GB/s");
    mx_format_known(tflops, sizeof tflops, m->fp16_tflops, "%.1f TFLOP/s");
    mx_doc_table(out, "ceiling\tvalue\tmeasured as");
    mx_doc_row(out, "copy bandwidth\t%s\tdevice-to-device copy of 1 GiB (bytes read + written)",
               copy);
    mx_doc_row(out, "cuBLAS FP16\t%s\tcuBLAS FP16 GEMM 8192^3, FP32 compute", tflops);
}

static void write_targets(mx_doc *out, const report_data *d,
                          const target_result results[TARGET_COUNT]) {
    mx_doc_heading(out, 2, "Targets (DESIGN.md §7)");
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_def *target = &targets[i];
        const target_result *t = &results[i];
        mx_doc_heading(out, 3, "%d. %s", i + 1, t->name);
        mx_doc_paragraph(out, "Judged on: %s. %s", t->judged_on, target->explanation);
        char extra[256] = "";
        if (t->not_judged)
            snprintf(extra, sizeof extra, "; %d not judged (%s)", t->not_judged, t->not_judged_why);
        mx_doc_paragraph(out, "**%d of %d pass**, %d fail%s.", t->passed, t->count,
                         t->count - t->passed, extra);
        if (t->count == 0) continue;
        int shown = t->count < WORST_SHOWN ? t->count : WORST_SHOWN;
        mx_doc_paragraph(out, "The %d worst:", shown);
        mx_doc_table(out, "rank\t%s\tvariant\t%s\tresult\tdetail",
                     target->per_weight ? "weight" : "problem", target->figure_name);
        for (int k = 0; k < shown; k++) {
            const target_item *item = &t->items[k];
            char what[400];
            describe_item(d, target, item, what, sizeof what);
            mx_doc_row(out, "%d\t%s\t%s\t%s\t%s\t%s", k + 1, what, d->rows[item->row].variant,
                       item->figure, item->pass ? "pass" : "fail", item->detail);
        }
    }
}

/* For a run of a whole-model sweep (gpt-oss-20b...): that model's weight memory (model.h). */
static void write_model_memory(mx_doc *out, const report_data *d) {
    const mx_model *model = d->meta_read ? mx_model_find(d->meta.suite) : NULL;
    if (!model) return;
    mx_table *t = mx_model_vram_table(model);
    if (!t) return;
    mx_doc_heading(out, 2, "Whole-model weight memory (%s)", model->name);
    mx_doc_paragraph(
        out,
        "Computed from the model's shapes with the byte counts the ops allocate "
        "(`mxbench model %s`): FP16 2 bytes per weight; MXFP4 4-bit codes plus a scale "
        "byte per 32 for every weight matrix (biases, sinks, norms and the router stay "
        "16-bit); the gpt-oss mix holds only the MoE experts in MXFP4.",
        model->name);
    mx_doc_table(out,
                 "component	params	FP16 GB	MXFP4 GB	saved %%	gpt-oss mix GB	"
                 "saved %%	what");
    for (size_t r = 0; r < mx_table_row_count(t); r++) {
        int i = (int)r;
        mx_doc_row(out, "%s	%s	%.3f	%.3f	%s	%.3f	%s	%s",
                   mx_table_get(t, i, "component"), mx_table_get(t, i, "params"),
                   atof(mx_table_get(t, i, "fp16_bytes")) / 1e9,
                   atof(mx_table_get(t, i, "mxfp4_bytes")) / 1e9,
                   mx_table_get(t, i, "mxfp4_savings_pct"),
                   atof(mx_table_get(t, i, "gptoss_mix_bytes")) / 1e9,
                   mx_table_get(t, i, "gptoss_mix_savings_pct"), mx_table_get(t, i, "what"));
    }
    mx_table_free(t);
}

static void write_plots(mx_doc *out, const report_data *d, const plot_outcome outcomes[PLOT_COUNT],
                        const char *skip_notice) {
    mx_doc_heading(out, 2, "Plots");
    if (skip_notice) mx_doc_paragraph(out, "%s", skip_notice);
    if (d->series_count > d->panel_count)
        mx_doc_paragraph(
            out,
            "The per-shape plots (1 and 5) show the first %d of %d shape series; every "
            "row is in the tables above and in `plot_data/`.",
            d->panel_count, d->series_count);
    for (int i = 0; i < PLOT_COUNT; i++) {
        mx_doc_heading(out, 3, "%d. %s", i + 1, plots[i].title);
        mx_doc_paragraph(out, "%s", plots[i].caption);
        switch (outcomes[i].state) {
        case PLOT_DRAWN:
            mx_doc_figure(out, d->run_dir, plots[i].base, plots[i].title);
            break;
        case PLOT_NO_DATA:
            mx_doc_paragraph(out, "Not drawn: %s.", outcomes[i].message);
            break;
        case PLOT_SKIPPED:
            mx_doc_paragraph(out, "Not drawn (plots skipped); its data is in `plot_data/`.");
            break;
        case PLOT_FAILED:
            mx_doc_paragraph(out, "Not drawn: %s", outcomes[i].message);
            break;
        }
    }
}

enum { MAX_LISTED = 40 };

static void write_quantization_caveat(mx_doc *out, const report_data *d) {
    const char *dists[32];
    int dist_count = 0;
    double low = INFINITY, high = 0.0, sqnr_low = INFINITY, sqnr_high = -INFINITY;
    int rows = 0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!is_mxfp4(row) || !row->measured || !(row->quant_rel > 0)) continue;
        rows++;
        low = fmin(low, row->quant_rel), high = fmax(high, row->quant_rel);
        sqnr_low = fmin(sqnr_low, row->sqnr_db), sqnr_high = fmax(sqnr_high, row->sqnr_db);
        int k = 0;
        while (k < dist_count && strcmp(dists[k], row->dist) != 0) k++;
        if (k == dist_count && dist_count < 32) dists[dist_count++] = row->dist;
    }
    if (rows == 0) {
        mx_doc_bullet(out, "**Quantization error is not the 1 %% quantity.** No row of this run "
                           "reports it (quant_rel_err).");
        return;
    }
    mx_doc_bullet(
        out,
        "**Quantization error is not the 1 %% quantity.** Against the original unquantized "
        "weights, MXFP4 itself is off by %.1f %% to %.1f %% (SQNR %.1f to %.1f dB) over "
        "%d rows: an E2M1 element keeps one mantissa bit, so MXFP4 cannot meet 1 %% "
        "against unquantized weights and this report does not claim it. The 1 %% target "
        "is the error against FP16 on the same dequantized weights (target 2).",
        low * 100.0, high * 100.0, sqnr_low, sqnr_high, rows);
    mx_doc_table(out, "distribution\trows\tquantization error\tSQNR");
    for (int k = 0; k < dist_count; k++) {
        double dl = INFINITY, dh = 0.0, sl = INFINITY, sh = -INFINITY;
        int n = 0;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (!is_mxfp4(row) || !row->measured || !(row->quant_rel > 0) ||
                strcmp(row->dist, dists[k]) != 0)
                continue;
            n++;
            dl = fmin(dl, row->quant_rel), dh = fmax(dh, row->quant_rel);
            sl = fmin(sl, row->sqnr_db), sh = fmax(sh, row->sqnr_db);
        }
        mx_doc_row(out, "%s\t%d\t%.2f to %.2f %%\t%.1f to %.1f dB", dists[k], n, dl * 100.0,
                   dh * 100.0, sl, sh);
    }
}

static void write_caveats(mx_doc *out, const report_data *d) {
    mx_doc_heading(out, 2, "Caveats");
    write_quantization_caveat(out, d);

    int broken = 0;
    for (int p = 0; p < d->problem_count; p++) {
        int reference = d->problems[p].reference;
        broken += reference >= 0 && d->rows[reference].nonfinite > 0;
    }
    mx_doc_bullet(
        out,
        "**Non-finite FP16 reference**: %d problem%s where cuBLAS FP16 itself gives "
        "non-finite outputs where the exact result is finite (dequantized weights or "
        "partial sums beyond FP16's range, DESIGN.md §2: the range distribution provokes "
        "it). Their error vs FP16 compares against a broken reference; the error vs exact "
        "is the meaningful figure there.",
        broken, broken == 1 ? "" : "s");
    if (broken) {
        mx_doc_table(out, "problem\tFP16 non-finite outputs\tMXFP4 variants with finite outputs");
        for (int p = 0; p < d->problem_count; p++) {
            int reference = d->problems[p].reference;
            if (reference < 0 || !(d->rows[reference].nonfinite > 0)) continue;
            mx_text finite = {0};
            for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
                if (is_mxfp4(&d->rows[r]) && d->rows[r].measured && !(d->rows[r].nonfinite > 0))
                    mx_text_printf(&finite, "%s%s", finite.length ? ", " : "", d->rows[r].variant);
            char what[400];
            describe_problem(&d->rows[reference], what, sizeof what);
            mx_doc_row(out, "%s\t%.0f\t%s", what, d->rows[reference].nonfinite,
                       finite.length ? mx_text_get(&finite) : "none");
            mx_text_free(&finite);
        }
    }

    bool has_throttled = mx_table_column_index(d->table, "throttled") >= 0;
    int throttled = 0;
    for (int r = 0; r < d->row_count; r++) throttled += strcmp(d->rows[r].throttled, "yes") == 0;
    if (!has_throttled)
        mx_doc_bullet(out, "**Throttled rows**: unknown (results.csv has no `throttled` column).");
    else
        mx_doc_bullet(out,
                      "**Throttled rows**: %d row%s ran with the SM clock below 90 %% of the "
                      "start-up clock; their times are pessimistic.",
                      throttled, throttled == 1 ? "" : "s");
    if (throttled) {
        mx_doc_table(out, "problem\tvariant\tSM clock\tnote");
        for (int r = 0; r < d->row_count; r++) {
            if (strcmp(d->rows[r].throttled, "yes") != 0) continue;
            char what[400], clock[32];
            describe_problem(&d->rows[r], what, sizeof what);
            mx_format_known(clock, sizeof clock, d->rows[r].sm_clock_mhz, "%.0f MHz");
            mx_doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, clock, d->rows[r].note);
        }
    }

    int failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    mx_doc_bullet(out, "**Failed and skipped rows**: %d failed, %d skipped.", failed, skipped);
    if (failed + skipped) {
        mx_doc_table(out, "problem\tvariant\tstatus\tnote");
        int listed = 0;
        for (int r = 0; r < d->row_count && listed < MAX_LISTED; r++) {
            if (strcmp(d->rows[r].status, "ok") == 0) continue;
            char what[400];
            describe_problem(&d->rows[r], what, sizeof what);
            mx_doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, d->rows[r].status,
                       d->rows[r].note);
            listed++;
        }
        if (failed + skipped > listed)
            mx_doc_paragraph(out, "... and %d more (status column of results.csv).",
                             failed + skipped - listed);
    }

    if (isfinite(d->meta.max_noise_pct)) {
        int noisy = 0;
        for (int r = 0; r < d->row_count; r++)
            noisy += d->rows[r].measured && d->rows[r].noise_pct > d->meta.max_noise_pct;
        mx_doc_bullet(out,
                      "**Noisy rows**: %d measured row%s stopped with the median's noise above "
                      "the %.2g %% goal (time budget spent); compare them with care.",
                      noisy, noisy == 1 ? "" : "s", d->meta.max_noise_pct);
    }
}

static void write_report(mx_doc *out, const report_data *d,
                         const target_result results[TARGET_COUNT],
                         const plot_outcome outcomes[PLOT_COUNT], const char *skip_notice) {
    const mx_run_meta *m = &d->meta;
    const char *slash = strrchr(d->run_dir, '/');
    const char *name = m->run_id[0] ? m->run_id : slash && slash[1] ? slash + 1 : d->run_dir;
    char title[256];
    snprintf(title, sizeof title, "mxbench report: %s", name);
    mx_doc_begin(out, title);
    mx_doc_heading(out, 1, "%s", title);
    int ok = 0, failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        ok += strcmp(d->rows[r].status, "ok") == 0;
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    mx_doc_paragraph(out,
                     "%s. `results.csv`: %d rows (%d ok, %d fail, %d skipped) in %d problems "
                     "(shape, M, dtype, distribution) of %d weight shapes.",
                     d->caption, d->row_count, ok, failed, skipped, d->problem_count,
                     d->weight_count);
    mx_text variants = {0};
    for (int v = 0; v < d->variant_count; v++)
        mx_text_printf(&variants, "%s`%s`%s", v ? ", " : "", d->variants[v],
                       mx_variant_traits_of(d->variants[v])->reference ? " (cuBLAS FP16 reference)"
                                                                       : "");
    mx_doc_paragraph(out, "Variants: %s.", mx_text_get(&variants));
    mx_text_free(&variants);
    mx_doc_heading(out, 2, "Summary");
    write_summary_table(out, d, results);
    if (skip_notice) mx_doc_paragraph(out, "%s", skip_notice);
    mx_doc_paragraph(out, "Per variant (rows of that variant against the row-level targets; "
                          "overhead against cuBLAS FP16 on the same problem):");
    write_variant_table(out, d);
    write_environment(out, d);
    write_targets(out, d, results);
    write_model_memory(out, d);
    write_plots(out, d, outcomes, skip_notice);
    write_caveats(out, d);
    mx_doc_end(out, "Written by `mxbench report` from `results.csv` and `run.json`; plot data in "
                    "`plot_data/`.");
}

// ---- the command

static bool save_text(const char *run_dir, const char *name, const mx_text *content) {
    mx_text path = {0};
    mx_text_printf(&path, "%s/%s", run_dir, name);
    char error[1024];
    bool ok = !content->failed && !path.failed &&
              mx_write_file_atomic(mx_text_get(&path), mx_text_get(content), content->length, error,
                                   sizeof error);
    if (!ok) mx_cli_error("report: %s", content->failed ? "out of memory" : error);
    mx_text_free(&path);
    return ok;
}

static void free_report(report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; results && i < TARGET_COUNT; i++) free(results[i].items);
    free(d->rows);
    free(d->problems);
    free(d->series);
    free(d->weights);
    free(d->variants);
    mx_table_free(d->table);
}

static int run_report(const mx_parsed_options *parsed) {
    report_data d = {.run_dir = parsed->arguments[0]};
    struct stat info;
    if (strlen(d.run_dir) > 1000) {
        mx_cli_error("report: the folder name is longer than 1000 characters");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (stat(d.run_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        mx_cli_error("report: %s: %s (give the folder `mxbench run` wrote, e.g. results/<run id>)",
                     d.run_dir, stat(d.run_dir, &info) != 0 ? strerror(errno) : "not a folder");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    snprintf(d.results_path, sizeof d.results_path, "%s/results.csv", d.run_dir);
    snprintf(d.run_json_path, sizeof d.run_json_path, "%s/run.json", d.run_dir);
    char error[2048];
    if (access(d.results_path, F_OK) != 0) {
        mx_cli_error("report: %s: %s (not a run folder? `mxbench run` writes results.csv there)",
                     d.results_path, strerror(errno));
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (!mx_csv_read(d.results_path, &d.table, error, sizeof error) ||
        !parse_rows(&d, error, sizeof error)) {
        mx_cli_error("report: %s", error);
        free_report(&d, NULL);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (d.row_count == 0) {
        mx_cli_error("report: %s: no rows (the run wrote none)", d.results_path);
        free_report(&d, NULL);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    d.meta_read = mx_run_meta_read(d.run_json_path, &d.meta, d.meta_error, sizeof d.meta_error);
    if (!d.meta_read)
        fprintf(stderr, "mxbench: warning: report: %s; the environment will read unknown\n",
                d.meta_error);
    mx_run_meta_caption(&d.meta, d.caption, sizeof d.caption);
    if (!organise(&d)) {
        mx_cli_error("report: out of memory");
        free_report(&d, NULL);
        return MX_EXIT_ERROR;
    }
    target_result results[TARGET_COUNT];
    judge(&d, results);

    mx_gnuplot gnuplot;
    char skip_reason[256] = "", skip_notice[2048] = "";
    if (mx_option_value(parsed, "no-plots"))
        snprintf(skip_reason, sizeof skip_reason, "--no-plots was given");
    else if (!mx_gnuplot_find(&gnuplot))
        snprintf(skip_reason, sizeof skip_reason,
                 "gnuplot was not found (searched PATH, then %s/.deps/root/usr/bin)",
                 MX_SOURCE_DIR);
    if (skip_reason[0])
        snprintf(skip_notice, sizeof skip_notice, "**Plots skipped**: %s. To draw them, %s.",
                 skip_reason,
                 mx_option_value(parsed, "no-plots") ? "run `mxbench report` without --no-plots"
                                                     : mx_gnuplot_advice);
    plot_outcome outcomes[PLOT_COUNT];
    draw_plots(&d, skip_reason[0] ? NULL : &gnuplot, skip_reason, outcomes);

    mx_doc report = {0};
    write_report(&report, &d, results, outcomes, skip_notice[0] ? skip_notice : NULL);
    bool saved = save_text(d.run_dir, "report.md", &report.md) &&
                 save_text(d.run_dir, "report.html", &report.html);
    mx_doc_free(&report);

    mx_doc summary = {0};
    write_summary_table(&summary, &d, results);
    mx_doc_close(&summary);
    printf("%s", mx_text_get(&summary.md));
    mx_doc_free(&summary);
    int exit_code = saved ? MX_EXIT_OK : MX_EXIT_ERROR;
    for (int i = 0; i < PLOT_COUNT; i++) {
        if (outcomes[i].state == PLOT_DRAWN)
            printf("plot: %s/%s.png, %s.svg\n", d.run_dir, plots[i].base, plots[i].base);
        else if (outcomes[i].state == PLOT_FAILED)
            fprintf(stderr, "mxbench: error: report: plot %s: %s\n", plots[i].base,
                    outcomes[i].message),
                exit_code = MX_EXIT_ERROR;
    }
    if (skip_reason[0])
        printf("plots skipped: %s; to draw them, %s\n", skip_reason,
               mx_option_value(parsed, "no-plots") ? "run without --no-plots" : mx_gnuplot_advice);
    if (saved) printf("report: %s/report.md, %s/report.html\n", d.run_dir, d.run_dir);
    free_report(&d, results);
    return exit_code;
}

static const mx_option report_options[] = {
    {"no-plots", NULL, "write the report without drawing the plots (their data is still written)",
     NULL, false},
};

const mx_command mx_report_command = {
    "report",
    "Plots and report.md/report.html of a run folder, judged against the targets.",
    "Reads RUN_DIR/results.csv (and run.json) and writes into RUN_DIR: the plots as PNG and SVG\n"
    "(overhead, error, vram, throughput, time; drawn by gnuplot with the scripts in plots/, from\n"
    "data it writes to RUN_DIR/plot_data/), report.md, and report.html (self-contained, the SVGs\n"
    "inlined). The report holds a summary table per target of DESIGN.md §7 (also printed here),\n"
    "the environment and ceilings, the five worst rows per target, the plots and the caveats.\n"
    "gnuplot is looked up on PATH (gnuplot, gnuplot-nox), then in the offline bundle\n"
    ".deps/root/usr/bin that `.ci/deps.sh ensure bench` unpacks; without it the report is\n"
    "written all the same and says how to get it. Files are replaced atomically.\n"
    "Exit: 0 written, 1 a plot or file could not be written, 2 unusable input (no such folder,\n"
    "a missing or malformed results.csv, required columns missing: the message names the file\n"
    "and line or the columns).",
    report_options,
    (int)(sizeof report_options / sizeof report_options[0]),
    run_report,
    1,
    1,
    "RUN_DIR",
    NULL,
};
