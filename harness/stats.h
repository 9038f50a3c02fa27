/* Timing statistics of the harness: robust summaries of a row's samples, the noise-based stopping
 * rule of docs/design.md §4, and Student's t distribution the nightly gate tests run-level
 * changes with. Plain C, no allocation visible to the caller, nothing printed. */
#ifndef MX_STATS_H
#define MX_STATS_H

#include <stdbool.h>

typedef struct {
    int count;
    double median, min, max, mean;
    double stdev; /* sample standard deviation (n - 1); 0 for fewer than 2 samples */
    /* Relative standard error of the median, in %: how far the reported median is likely to be
     * from the true one, estimated robustly (see mx_stats_compute). INFINITY below 2 samples. */
    double noise_pct;
} mx_sample_stats;

/* Summarises samples[0..count) without reordering the caller's array (a copy is sorted).
 *
 * noise_pct = 1.2533 * (1.4826 * MAD) / sqrt(count) / |median| * 100, MAD = the median absolute
 * deviation from the median. docs/design.md §4 stops on the relative standard deviation of the
 * median estimate: for normal data the median's standard error is sqrt(pi/2) = 1.2533 times the
 * mean's, sigma / sqrt(n); sigma is estimated as 1.4826 * MAD (consistent for normal data) rather
 * than by the sample standard deviation, so that a few preempted or clock-throttled samples, which
 * timing always has, neither inflate the estimate nor keep a row sampling until its budget ends.
 * When more than half the samples are identical (coarse timer resolution) MAD is 0 and so is the
 * noise: the median is then that value. count 0: every field NAN except noise_pct (INFINITY);
 * count 1: stdev 0, noise_pct INFINITY (one sample says nothing about its spread). A median of 0
 * gives noise 0 when MAD is 0, INFINITY otherwise. Out of memory: as count 0. */
void mx_stats_compute(const double *samples, int count, mx_sample_stats *stats);

/* Median of values[0..count) (the mean of the middle two for even counts), values untouched;
 * NAN for count 0 or out of memory. */
double mx_stats_median_of(const double *values, int count);

/* When a row stops sampling. */
typedef struct {
    int min_samples;      /* never stop before this many (unless max_samples is smaller) */
    int max_samples;      /* always stop at this many */
    double max_noise_pct; /* stop once noise_pct <= this (docs/design.md §4: 0.5) */
    double budget_ms;     /* or once this much time has gone on the row */
} mx_stop_rule;

typedef enum {
    MX_STOP_CONTINUE = 0, /* keep sampling */
    MX_STOP_NOISE,        /* the noise target is reached */
    MX_STOP_BUDGET,       /* the time budget is spent with the noise above target */
    MX_STOP_MAX_SAMPLES,  /* max_samples taken */
} mx_stop_reason;

/* Why sampling should stop after count samples and elapsed_ms, or MX_STOP_CONTINUE. In order:
 * count >= max_samples stops (the hard cap wins over min_samples); below min_samples it never
 * stops, even with the budget gone; then the noise target, then the budget (a row that reached
 * its noise target as the budget ended reports the target). */
mx_stop_reason mx_stats_stop_reason(const mx_stop_rule *rule, const double *samples, int count,
                                    double elapsed_ms);
bool mx_stats_should_stop(const mx_stop_rule *rule, const double *samples, int count,
                          double elapsed_ms);
/* "continue", "noise target reached", "time budget spent", "max samples reached". */
const char *mx_stop_reason_string(mx_stop_reason reason);

/* Student's t distribution with df degrees of freedom (the nightly gate's run-level test):
 * P(|T| >= |t|), the two-sided p-value of t (0 for an infinite t, NAN for NaN or df <= 0), and
 * the t with that two-sided p-value alpha, e.g. 4.604 for alpha 0.01 and df 4. */
double mx_stats_student_t_p(double t, double df);
double mx_stats_student_t_quantile(double alpha, double df);

#endif
