/* Sample summaries, intervals of medians and ratios, the stopping rules and Student's t
 * distribution (see stats.h for the formulas and why they were chosen). Inputs are never
 * reordered: every sort is on a copy. */
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

static double incomplete_beta(double x, double a, double b);

/* P(Binomial(count, 1/2) <= j) = I_{1/2}(count - j, j + 1). */
static double binomial_half_cdf(int j, int count) {
    if (j < 0) return 0.0;
    if (j >= count) return 1.0;
    return incomplete_beta(0.5, count - j, j + 1.0);
}

mx_interval mx_stats_median_interval(const double *values, int count) {
    mx_interval interval = {NAN, NAN, NAN};
    if (count <= 0) return interval;
    double *sorted = sorted_copy(values, count);
    if (!sorted) return interval;
    interval.median = median_of_sorted(sorted, count);
    /* The largest rank k (1-based) with P(B <= k - 1) <= 2.5 %: a binary search, the CDF rising
     * with k. k = 0 means none. */
    int low = 0, high = count / 2;
    while (low < high) {
        int middle = (low + high + 1) / 2;
        if (binomial_half_cdf(middle - 1, count) <= 0.025)
            low = middle;
        else
            high = middle - 1;
    }
    if (low >= 1) {
        interval.low = sorted[low - 1];
        interval.high = sorted[count - low];
    }
    free(sorted);
    return interval;
}

mx_interval mx_stats_ratio_interval(const double *numerator, const double *denominator, int count) {
    double *ratios = malloc((size_t)(count > 0 ? count : 1) * sizeof *ratios);
    if (!ratios) return (mx_interval){NAN, NAN, NAN};
    for (int i = 0; i < count; i++) ratios[i] = numerator[i] / denominator[i];
    mx_interval interval = mx_stats_median_interval(ratios, count);
    free(ratios);
    return interval;
}

mx_interval mx_interval_across_runs(mx_interval interval, double sd_pct) {
    const double run = 1.959964 * sd_pct / 100.0 * fabs(interval.median);
    return (mx_interval){interval.median,
                         interval.median - hypot(interval.median - interval.low, run),
                         interval.median + hypot(interval.high - interval.median, run)};
}

double mx_interval_noise_pct(mx_interval interval) {
    double width = interval.high - interval.low, magnitude = fabs(interval.median);
    if (!isfinite(width) || !isfinite(magnitude)) return INFINITY;
    if (width == 0.0) return 0.0;
    return magnitude > 0.0 ? width / 2.0 / 1.959964 / magnitude * 100.0 : INFINITY;
}

/* What both rules do once min_samples is reached: the noise target (after min_ms), the budget. */
static mx_stop_reason stop_by_time(const mx_stop_rule *rule, bool quiet_enough, double elapsed_ms) {
    if (quiet_enough && elapsed_ms >= rule->min_ms) return MX_STOP_NOISE;
    if (elapsed_ms >= rule->budget_ms) return MX_STOP_BUDGET;
    return MX_STOP_CONTINUE;
}

mx_stop_reason mx_stats_stop_reason(const mx_stop_rule *rule, const double *samples, int count,
                                    double elapsed_ms) {
    if (count >= rule->max_samples) return MX_STOP_MAX_SAMPLES;
    if (count < rule->min_samples) return MX_STOP_CONTINUE;
    mx_sample_stats stats;
    mx_stats_compute(samples, count, &stats);
    return stop_by_time(rule, stats.noise_pct <= rule->max_noise_pct, elapsed_ms);
}

mx_stop_reason mx_stats_rounds_stop_reason(const mx_stop_rule *rule, const double *const *samples,
                                           const bool *active, int calls, int rounds,
                                           double elapsed_ms) {
    if (rounds >= rule->max_samples) return MX_STOP_MAX_SAMPLES;
    if (rounds < rule->min_samples) return MX_STOP_CONTINUE;
    bool quiet =
        mx_interval_noise_pct(mx_stats_median_interval(samples[0], rounds)) <= rule->max_noise_pct;
    for (int v = 1; v < calls && quiet; v++)
        if (active[v])
            quiet = mx_interval_noise_pct(mx_stats_ratio_interval(samples[v], samples[0],
                                                                  rounds)) <= rule->max_noise_pct;
    return stop_by_time(rule, quiet, elapsed_ms);
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

/* The regularized incomplete beta function I_x(a, b), by Lentz's method on its continued fraction
 * (Numerical Recipes 6.4), on the side of x where the fraction converges fast. */
static double incomplete_beta(double x, double a, double b) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    if (x > (a + 1.0) / (a + b + 2.0)) return 1.0 - incomplete_beta(1.0 - x, b, a);
    const double tiny = 1e-300;
    double front = exp(a * log(x) + b * log1p(-x) - (lgamma(a) + lgamma(b) - lgamma(a + b))) / a;
    double f = 1.0, c = 1.0, d = 0.0;
    for (int i = 0; i <= 400; i++) {
        double m = i / 2, numerator;
        if (i == 0)
            numerator = 1.0;
        else if (i % 2 == 0)
            numerator = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        else
            numerator = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + numerator * d;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = 1.0 + numerator / c;
        if (fabs(c) < tiny) c = tiny;
        f *= c * d;
        if (fabs(1.0 - c * d) < 1e-14) return front * (f - 1.0);
    }
    return NAN;
}

double mx_stats_student_t_p(double t, double df) {
    if (isnan(t) || !(df > 0.0)) return NAN;
    if (isinf(t)) return 0.0;
    return incomplete_beta(df / (df + t * t), 0.5 * df, 0.5);
}

double mx_stats_student_t_quantile(double alpha, double df) {
    if (!(alpha > 0.0 && alpha < 1.0) || !(df > 0.0)) return NAN;
    double low = 0.0, high = 1.0;
    while (mx_stats_student_t_p(high, df) > alpha && high < 1e12) high *= 2.0;
    for (int i = 0; i < 200; i++) {
        double middle = 0.5 * (low + high);
        *(mx_stats_student_t_p(middle, df) > alpha ? &low : &high) = middle;
    }
    return 0.5 * (low + high);
}
