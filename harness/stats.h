/* Timing statistics of the harness: robust summaries of a row's samples, distribution-free
 * intervals of a median and of a ratio measured in rounds, the stopping rules of docs/design.md
 * §4, and Student's t distribution the nightly gate tests run-level changes with. Plain C, no
 * allocation visible to the caller, nothing printed. */
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

/* A median (of times, or of per-round ratios) with its 95 % interval. */
typedef struct {
    double median, low, high;
} mx_interval;

/* The median of values[0..count) and its distribution-free 95 % interval: the order statistics
 * x(k) and x(count + 1 - k), k the largest rank with P(Binomial(count, 1/2) <= k - 1) <= 2.5 %.
 * For independent values from any continuous distribution the interval holds the true median
 * with probability >= 95 %, whatever the shape of the distribution (timing's is skewed, with a
 * tail of preempted samples). Below 6 values no pair of ranks reaches 95 %: low and high are NAN.
 * Values untouched; out of memory: all NAN. */
mx_interval mx_stats_median_interval(const double *values, int count);

/* The ratios numerator[i] / denominator[i] of times taken in the same round i (docs/design.md
 * §4: a variant and its FP16 reference, interleaved), their median and its interval (above).
 * Pairing by round cancels what moves both (clocks, drift, the neighbours' traffic). */
mx_interval mx_stats_ratio_interval(const double *numerator, const double *denominator, int count);

/* What another run of the same binary on the same GPU moves a median time or a median ratio by,
 * beyond its own run's samples (memory placement, clocks, the machine's state: none of it in one
 * run's rounds), as a relative standard deviation in %: the smallest value, in steps of 0.1 %,
 * with which >= 95 % of the times and overheads of pairs of runs agree within their intervals on
 * every GPU measured (H100: 0.8, H200: 2.0; docs/design.md §4). */
#define MX_RUN_TO_RUN_SD_PCT 2.0

/* interval widened by a run-to-run standard deviation of sd_pct % of its median: on each side
 * the half-width and 1.959964 x that deviation added in quadrature, so that the interval covers
 * another run's median and not only this run's. NAN ends stay NAN. */
mx_interval mx_interval_across_runs(mx_interval interval, double sd_pct);

/* The relative standard error, in %, that an interval implies: half its width over 1.96 (the
 * normal 97.5 % point) relative to its median. INFINITY for an unknown interval; 0 for a
 * zero-width one. */
double mx_interval_noise_pct(mx_interval interval);

/* When sampling stops. */
typedef struct {
    int min_samples;      /* never stop before this many (unless max_samples is smaller) */
    int max_samples;      /* always stop at this many */
    double max_noise_pct; /* stop once the noise is <= this (docs/design.md §4: 0.5) */
    double min_ms;        /* never stop on the noise target before this much time */
    double budget_ms;     /* or once this much time has gone (with the noise above target) */
} mx_stop_rule;

typedef enum {
    MX_STOP_CONTINUE = 0, /* keep sampling */
    MX_STOP_NOISE,        /* the noise target is reached */
    MX_STOP_BUDGET,       /* the time budget is spent with the noise above target */
    MX_STOP_MAX_SAMPLES,  /* max_samples taken */
} mx_stop_reason;

/* Why sampling one call should stop after count samples and elapsed_ms, or MX_STOP_CONTINUE. In
 * order: count >= max_samples stops (the hard cap wins over min_samples); below min_samples it
 * never stops, even with the budget gone; then the noise target (noise_pct, once min_ms has
 * gone), then the budget (a row that reached its noise target as the budget ended reports the
 * target). */
mx_stop_reason mx_stats_stop_reason(const mx_stop_rule *rule, const double *samples, int count,
                                    double elapsed_ms);
bool mx_stats_should_stop(const mx_stop_rule *rule, const double *samples, int count,
                          double elapsed_ms);
/* The same rule for calls timed in rounds (docs/design.md §4): samples[v][0..rounds) holds call
 * v's time in each round, v = 0 the FP16 reference the others are divided by; calls with
 * active[v] false are left out. The noise target is reached when the reference's median and
 * every active call's ratio to it (mx_stats_ratio_interval) have an interval noise
 * (mx_interval_noise_pct) <= max_noise_pct: sampling stops on the figures a reader compares, not
 * on one side's scatter. min_samples, max_samples, min_ms and budget_ms count rounds and the
 * problem's time as the single-call rule counts samples and the row's time. */
mx_stop_reason mx_stats_rounds_stop_reason(const mx_stop_rule *rule, const double *const *samples,
                                           const bool *active, int calls, int rounds,
                                           double elapsed_ms);
/* "continue", "noise target reached", "time budget spent", "max samples reached". */
const char *mx_stop_reason_string(mx_stop_reason reason);

/* Student's t distribution with df degrees of freedom (the nightly gate's run-level test):
 * P(|T| >= |t|), the two-sided p-value of t (0 for an infinite t, NAN for NaN or df <= 0), and
 * the t with that two-sided p-value alpha, e.g. 4.604 for alpha 0.01 and df 4. */
double mx_stats_student_t_p(double t, double df);
double mx_stats_student_t_quantile(double alpha, double df);

#endif
