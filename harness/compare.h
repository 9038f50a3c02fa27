/* The nightly regression gate: `mxbench compare BASE CUR` matches the rows of two runs by key and
 * judges each from its stored samples (Mann-Whitney U plus a minimum change of the medians);
 * `mxbench baseline` keeps one run per GPU model as the baseline (results/baselines/<model>/). */
#ifndef MX_COMPARE_H
#define MX_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "run_folder.h"

extern const mx_command mx_compare_command;
extern const mx_command mx_baseline_command;

/* compare's exit status: 0 no regression, 1 a regression, 2 (MX_EXIT_UNUSABLE_INPUT of
 * report.h) the inputs cannot be compared. */
enum { MX_COMPARE_EXIT_REGRESSION = 1 };

/* A row's verdict; the order is compare's "worst first" order. */
typedef enum {
    MX_VERDICT_ACCURACY, /* pass_error yes -> no, or status ok -> fail (a regression) */
    MX_VERDICT_MISSING,  /* measured in BASE, absent or not measured in CUR (a regression) */
    MX_VERDICT_SLOWER,   /* significantly slower by at least the minimum change (a regression) */
    MX_VERDICT_UNSURE,   /* the samples cannot decide, or a run timed the row throttled */
    MX_VERDICT_SAME,     /* no significant change and less than the minimum change */
    MX_VERDICT_FASTER,   /* significantly faster by at least the minimum change */
    MX_VERDICT_NEW,      /* measured in CUR, absent or not measured in BASE */
    MX_VERDICT_SKIPPED,  /* measured in neither run */
    MX_VERDICT_COUNT
} mx_verdict;

const char *mx_verdict_string(mx_verdict verdict);
/* ACCURACY, MISSING and SLOWER make compare exit 1. */
bool mx_verdict_is_regression(mx_verdict verdict);

typedef struct {
    double alpha;          /* level of the two-sided Mann-Whitney U test (compare: 0.01) */
    double min_change_pct; /* smallest change of the medians that counts (compare: 5) */
} mx_compare_rule;

/* The U test's normal approximation needs this many samples on each side (stats.h). */
enum { MX_COMPARE_MIN_SAMPLES = 8 };

typedef struct {
    mx_verdict verdict; /* FASTER, SLOWER, SAME or UNSURE */
    int base_count, cur_count;
    double base_median_us, cur_median_us;
    double change_pct; /* (cur median / base median - 1) * 100: positive is slower */
    /* The noise band: the change in % that the noise of the two medians alone could give, at
     * level alpha. From the relative standard error of each median (noise_pct of stats.h): the
     * log of the ratio within +- z(1 - alpha/2) * sqrt(noise_b^2 + noise_c^2) / 100. A change
     * outside the band is about what the U test calls significant. NAN below 2 samples. */
    double band_low_pct, band_high_pct;
    double base_noise_pct, cur_noise_pct;
    double p_value; /* NAN with fewer than MX_COMPARE_MIN_SAMPLES samples on a side */
    char reason[200];
} mx_timing_verdict;

/* Judges one row's timing from its samples (microseconds; not reordered):
 *   fewer than MX_COMPARE_MIN_SAMPLES on a side           -> UNSURE (too few samples)
 *   p < alpha and |change| >= min_change_pct              -> SLOWER (change > 0) or FASTER
 *   p >= alpha and |change| < min_change_pct              -> SAME
 *   p < alpha and |change| < min_change_pct               -> UNSURE (real but small)
 *   p >= alpha and |change| >= min_change_pct             -> UNSURE (large but within noise)
 * where p is mx_stats_mann_whitney_p(base, cur) and change compares the medians. */
void mx_compare_timing(const double *base, int base_count, const double *cur, int cur_count,
                       const mx_compare_rule *rule, mx_timing_verdict *out);

#endif
