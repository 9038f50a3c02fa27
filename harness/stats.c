/* Sample summaries, the noise-based stopping rule and the Mann-Whitney U test (see stats.h for
 * the formulas and why they were chosen). Inputs are never reordered: every sort is on a copy. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A total order (NaN last) so that qsort stays well defined on any input. */
static int compare_doubles(const void *left, const void *right) {
    double a = *(const double *)left, b = *(const double *)right;
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static double median_of_sorted(const double *sorted, int count) {
    if (count == 0) return NAN;
    int half = count / 2;
    return count % 2 ? sorted[half] : 0.5 * (sorted[half - 1] + sorted[half]);
}

static double *sorted_copy(const double *values, int count) {
    double *copy = malloc((size_t)(count > 0 ? count : 1) * sizeof *copy);
    if (!copy) return NULL;
    if (count > 0) memcpy(copy, values, (size_t)count * sizeof *copy);
    qsort(copy, (size_t)count, sizeof *copy, compare_doubles);
    return copy;
}

double mx_stats_median_of(const double *values, int count) {
    if (count <= 0) return NAN;
    double *sorted = sorted_copy(values, count);
    if (!sorted) return NAN;
    double median = median_of_sorted(sorted, count);
    free(sorted);
    return median;
}

void mx_stats_compute(const double *samples, int count, mx_sample_stats *stats) {
    *stats = (mx_sample_stats){.count = count < 0 ? 0 : count,
                               .median = NAN,
                               .min = NAN,
                               .max = NAN,
                               .mean = NAN,
                               .stdev = NAN,
                               .noise_pct = INFINITY};
    if (count <= 0) return;
    double *sorted = sorted_copy(samples, count);
    if (!sorted) {
        stats->count = 0;
        return;
    }
    double sum = 0.0;
    for (int i = 0; i < count; i++) sum += sorted[i];
    double mean = sum / count, squares = 0.0;
    for (int i = 0; i < count; i++) squares += (sorted[i] - mean) * (sorted[i] - mean);
    stats->median = median_of_sorted(sorted, count);
    stats->min = sorted[0];
    stats->max = sorted[count - 1];
    stats->mean = mean;
    stats->stdev = count > 1 ? sqrt(squares / (count - 1)) : 0.0;
    if (count > 1) {
        /* The deviations overwrite the sorted copy: it is not needed any more. */
        for (int i = 0; i < count; i++) sorted[i] = fabs(sorted[i] - stats->median);
        qsort(sorted, (size_t)count, sizeof *sorted, compare_doubles);
        double mad = median_of_sorted(sorted, count);
        double standard_error = 1.2533 * 1.4826 * mad / sqrt((double)count);
        double magnitude = fabs(stats->median);
        if (magnitude > 0.0)
            stats->noise_pct = standard_error / magnitude * 100.0;
        else
            stats->noise_pct = standard_error == 0.0 ? 0.0 : INFINITY;
    }
    free(sorted);
}

mx_stop_reason mx_stats_stop_reason(const mx_stop_rule *rule, const double *samples, int count,
                                    double elapsed_ms) {
    if (count >= rule->max_samples) return MX_STOP_MAX_SAMPLES;
    if (count < rule->min_samples) return MX_STOP_CONTINUE;
    mx_sample_stats stats;
    mx_stats_compute(samples, count, &stats);
    if (stats.noise_pct <= rule->max_noise_pct) return MX_STOP_NOISE;
    if (elapsed_ms >= rule->budget_ms) return MX_STOP_BUDGET;
    return MX_STOP_CONTINUE;
}

bool mx_stats_should_stop(const mx_stop_rule *rule, const double *samples, int count,
                          double elapsed_ms) {
    return mx_stats_stop_reason(rule, samples, count, elapsed_ms) != MX_STOP_CONTINUE;
}

const char *mx_stop_reason_string(mx_stop_reason reason) {
    switch (reason) {
    case MX_STOP_CONTINUE:
        return "continue";
    case MX_STOP_NOISE:
        return "noise target reached";
    case MX_STOP_BUDGET:
        return "time budget spent";
    case MX_STOP_MAX_SAMPLES:
        return "max samples reached";
    }
    return "unknown stop reason";
}

typedef struct {
    double value;
    int from_a;
} ranked_value;

static int compare_ranked(const void *left, const void *right) {
    return compare_doubles(&((const ranked_value *)left)->value,
                           &((const ranked_value *)right)->value);
}

double mx_stats_mann_whitney_p(const double *a, int na, const double *b, int nb) {
    if (na <= 0 || nb <= 0) return NAN;
    int n = na + nb;
    ranked_value *all = malloc((size_t)n * sizeof *all);
    if (!all) return NAN;
    for (int i = 0; i < na; i++) all[i] = (ranked_value){a[i], 1};
    for (int i = 0; i < nb; i++) all[na + i] = (ranked_value){b[i], 0};
    qsort(all, (size_t)n, sizeof *all, compare_ranked);

    /* Ranks are 1-based; a run of t tied values all get the average rank of the run. */
    double rank_sum_a = 0.0, tie_term = 0.0;
    for (int start = 0, end; start < n; start = end) {
        end = start + 1;
        while (end < n && compare_doubles(&all[end].value, &all[start].value) == 0) end++;
        double tied = end - start, average_rank = 0.5 * (start + 1 + end);
        for (int i = start; i < end; i++)
            if (all[i].from_a) rank_sum_a += average_rank;
        tie_term += tied * tied * tied - tied;
    }
    free(all);

    double u_a = rank_sum_a - 0.5 * na * (na + 1.0);
    double mean_u = 0.5 * na * nb;
    double variance_u = na * (double)nb / 12.0 * ((n + 1.0) - tie_term / ((double)n * (n - 1.0)));
    if (!(variance_u > 0.0)) return 1.0;
    double z = (fabs(u_a - mean_u) - 0.5) / sqrt(variance_u);
    if (z < 0.0) z = 0.0;
    return erfc(z / sqrt(2.0));
}
