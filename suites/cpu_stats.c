/* Statistics suite: sample summaries (inputs never reordered), the robust noise estimate against
 * its theory on normal samples, every branch of the stopping rule, and the Mann-Whitney p-value
 * on clear, buried and hand-computed cases plus its false-alarm rate when nothing changed. */
#include <math.h>
#include <string.h>

#include "stats.h"
#include "common.h"

static void assert_unchanged(const double *values, const double *original, int count) {
    cr_assert(memcmp(values, original, (size_t)count * sizeof *values) == 0,
              "the input array was modified");
}

Test(stats, median_of_odd_count_unsorted_input_untouched) {
    double values[] = {9.0, 1.0, 5.0, 3.0, 7.0};
    const double original[] = {9.0, 1.0, 5.0, 3.0, 7.0};
    cr_assert_eq(mx_stats_median_of(values, 5), 5.0);
    assert_unchanged(values, original, 5);
}

Test(stats, median_of_even_count_is_mean_of_middle_two) {
    double values[] = {4.0, 1.0, 3.0, 2.0};
    const double original[] = {4.0, 1.0, 3.0, 2.0};
    cr_assert_eq(mx_stats_median_of(values, 4), 2.5);
    assert_unchanged(values, original, 4);
    cr_assert_eq(mx_stats_median_of(values, 1), 4.0);
    cr_assert(isnan(mx_stats_median_of(values, 0)));
}

/* {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32 so sample stdev sqrt(32/7), median 4.5; the
 * deviations from 4.5 are 2.5 0.5 0.5 0.5 0.5 0.5 2.5 4.5, whose median (MAD) is 0.5. */
Test(stats, compute_summarises_without_reordering) {
    double samples[] = {5.0, 9.0, 4.0, 2.0, 4.0, 7.0, 4.0, 5.0};
    double original[8];
    memcpy(original, samples, sizeof samples);
    mx_sample_stats stats;
    mx_stats_compute(samples, 8, &stats);
    assert_unchanged(samples, original, 8);
    cr_assert_eq(stats.count, 8);
    cr_assert_eq(stats.median, 4.5);
    cr_assert_eq(stats.min, 2.0);
    cr_assert_eq(stats.max, 9.0);
    cr_assert_float_eq(stats.mean, 5.0, 1e-15);
    cr_assert_float_eq(stats.stdev, sqrt(32.0 / 7.0), 1e-12);
    double expected_noise = 1.2533 * 1.4826 * 0.5 / sqrt(8.0) / 4.5 * 100.0;
    cr_assert_float_eq(stats.noise_pct, expected_noise, 1e-12, "noise %g, expected %g",
                       stats.noise_pct, expected_noise);
}

Test(stats, constant_samples_have_no_noise) {
    double samples[50];
    for (int i = 0; i < 50; i++) samples[i] = 12.75;
    mx_sample_stats stats;
    mx_stats_compute(samples, 50, &stats);
    cr_assert_eq(stats.noise_pct, 0.0);
    cr_assert_eq(stats.stdev, 0.0);
    cr_assert_eq(stats.median, 12.75);
}

Test(stats, fewer_than_two_samples_are_infinitely_noisy) {
    double one = 3.0;
    mx_sample_stats stats;
    mx_stats_compute(&one, 1, &stats);
    cr_assert_eq(stats.count, 1);
    cr_assert_eq(stats.median, 3.0);
    cr_assert_eq(stats.stdev, 0.0);
    cr_assert(isinf(stats.noise_pct));
    mx_stats_compute(NULL, 0, &stats);
    cr_assert_eq(stats.count, 0);
    cr_assert(isnan(stats.median) && isnan(stats.mean));
    cr_assert(isinf(stats.noise_pct));
}

/* The median of n normal samples has standard error sqrt(pi/2) s / sqrt(n) = 1.2533 s / sqrt(n);
 * the MAD estimate of s at n = 400 is within a few % of s, far inside the 30 % allowed. */
Test(stats, noise_matches_theory_on_normal_samples) {
    enum { n = 400 };
    const double mean = 250.0, sd = 5.0;
    double samples[n];
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < n; i++) samples[i] = mean + sd * mx_rng_gaussian(&rng);
    mx_sample_stats stats;
    mx_stats_compute(samples, n, &stats);
    double theory = 1.2533 * sd / sqrt((double)n) / mean * 100.0;
    cr_assert(fabs(stats.noise_pct - theory) <= 0.3 * theory, "noise %.5f %%, theory %.5f %%",
              stats.noise_pct, theory);
}

/* A few outliers (preempted samples) barely move the robust estimate. */
Test(stats, noise_ignores_a_few_outliers) {
    enum { n = 200 };
    double samples[n];
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < n; i++) samples[i] = 100.0 + mx_rng_gaussian(&rng);
    mx_sample_stats clean, dirty;
    mx_stats_compute(samples, n, &clean);
    for (int i = 0; i < 5; i++) samples[i] = 10000.0;
    mx_stats_compute(samples, n, &dirty);
    cr_assert(dirty.noise_pct < 1.3 * clean.noise_pct, "clean %g %%, with outliers %g %%",
              clean.noise_pct, dirty.noise_pct);
}

static const mx_stop_rule rule = {
    .min_samples = 10, .max_samples = 50, .max_noise_pct = 0.5, .budget_ms = 100.0};

/* Samples with about 20 % spread: far above the 0.5 % noise target at these counts. */
static void noisy_samples(double *samples, int count) {
    for (int i = 0; i < count; i++)
        samples[i] = 100.0 * (1.0 + 0.2 * ((i * 7919) % 101 - 50) / 50.0);
}

Test(stats, stop_at_max_samples) {
    double samples[50];
    noisy_samples(samples, 50);
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 50, 0.0), MX_STOP_MAX_SAMPLES);
    cr_assert(mx_stats_should_stop(&rule, samples, 50, 0.0));
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 49, 0.0), MX_STOP_CONTINUE);
    cr_assert_str_eq(mx_stop_reason_string(MX_STOP_MAX_SAMPLES), "max samples reached");
}

Test(stats, never_stop_below_min_samples_even_with_budget_gone) {
    double samples[10];
    for (int i = 0; i < 10; i++) samples[i] = 7.0; /* already noiseless */
    for (int count = 0; count < 10; count++) {
        cr_assert_eq(mx_stats_stop_reason(&rule, samples, count, 1e9), MX_STOP_CONTINUE,
                     "stopped at %d samples", count);
        cr_assert_not(mx_stats_should_stop(&rule, samples, count, 1e9));
    }
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 10, 0.0), MX_STOP_NOISE);
}

Test(stats, stop_when_noise_reaches_target) {
    double samples[20];
    for (int i = 0; i < 20; i++) samples[i] = 100.0 + 0.01 * (i % 5); /* noise ~0.005 % */
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 20, 1.0), MX_STOP_NOISE);
    cr_assert_str_eq(mx_stop_reason_string(MX_STOP_NOISE), "noise target reached");
    /* Both reached at once: the noise target is the reason reported. */
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 20, 500.0), MX_STOP_NOISE);
}

Test(stats, stop_on_budget_with_noise_above_target) {
    double samples[20];
    noisy_samples(samples, 20);
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 20, 99.9), MX_STOP_CONTINUE);
    cr_assert_eq(mx_stats_stop_reason(&rule, samples, 20, 100.0), MX_STOP_BUDGET);
    cr_assert_str_eq(mx_stop_reason_string(MX_STOP_BUDGET), "time budget spent");
    cr_assert_str_eq(mx_stop_reason_string(MX_STOP_CONTINUE), "continue");
}

Test(stats, max_samples_wins_over_a_larger_min) {
    const mx_stop_rule odd = {
        .min_samples = 20, .max_samples = 5, .max_noise_pct = 0.5, .budget_ms = 1.0};
    double samples[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(mx_stats_stop_reason(&odd, samples, 5, 0.0), MX_STOP_MAX_SAMPLES);
}

Test(stats, mann_whitney_identical_samples_with_ties) {
    double a[20], b[20];
    for (int i = 0; i < 20; i++) a[i] = b[19 - i] = 10.0 + i % 4; /* many ties */
    double p = mx_stats_mann_whitney_p(a, 20, b, 20);
    cr_assert(p > 0.5, "p = %g", p);
    double all_equal[8] = {3, 3, 3, 3, 3, 3, 3, 3};
    cr_assert_eq(mx_stats_mann_whitney_p(all_equal, 8, all_equal, 8), 1.0);
}

Test(stats, mann_whitney_clear_shift) {
    enum { n = 30 };
    double a[n], b[n];
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < n; i++) {
        a[i] = 100.0 * (1.0 + 0.01 * mx_rng_gaussian(&rng));
        b[i] = 110.0 * (1.0 + 0.01 * mx_rng_gaussian(&rng));
    }
    double p = mx_stats_mann_whitney_p(a, n, b, n);
    cr_assert(p < 1e-6, "p = %g", p);
    cr_assert_float_eq(mx_stats_mann_whitney_p(b, n, a, n), p, 1e-15, "not symmetric");
}

/* Inverse of the standard normal CDF by bisection: deterministic "ideal" noisy samples. */
static double normal_quantile(double probability) {
    double low = -10.0, high = 10.0;
    for (int i = 0; i < 200; i++) {
        double middle = 0.5 * (low + high);
        if (0.5 * erfc(-middle / sqrt(2.0)) < probability)
            low = middle;
        else
            high = middle;
    }
    return 0.5 * (low + high);
}

/* 10 samples each at the normal quantiles (i + 0.5) / 10 with a 20 % spread, one set 10 % slower:
 * U = 38 of 100, p = 0.385. Random draws would reach p < 0.01 in a few % of runs (the power of
 * n = 10 against a 0.5-sigma shift), so the samples are the distribution's own quantiles. */
Test(stats, mann_whitney_shift_buried_in_noise) {
    enum { n = 10 };
    double a[n], b[n];
    for (int i = 0; i < n; i++) {
        double z = normal_quantile((i + 0.5) / n);
        a[i] = 100.0 * (1.0 + 0.2 * z);
        b[i] = 110.0 * (1.0 + 0.2 * z);
    }
    double p = mx_stats_mann_whitney_p(a, n, b, n);
    cr_assert(p > 0.01, "p = %g", p);
    cr_assert_float_eq(p, 0.38467, 1e-4, "p = %g", p);
}

/* Hand computation. a = {1.1, 2.0, 3.5, 4.0}, b = {3.5, 5.0, 6.2, 7.0, 8.1}, n = 9.
 * Ranks: 1.1->1, 2.0->2, 3.5 (a and b) -> 3.5 each, 4.0->5, then b's 6..9.
 * R_a = 1 + 2 + 3.5 + 5 = 11.5; U_a = R_a - 4*5/2 = 1.5; mean U = 4*5/2 = 10.
 * One tie of 2: sum(t^3 - t) = 6. var U = 4*5/12 * (10 - 6/(9*8)) = 16.52778, sd = 4.065437.
 * z = (|1.5 - 10| - 0.5) / 4.065437 = 1.967808; p = erfc(z / sqrt 2) = 0.049090. */
Test(stats, mann_whitney_hand_computed) {
    const double a[] = {1.1, 2.0, 3.5, 4.0};
    const double b[] = {3.5, 5.0, 6.2, 7.0, 8.1};
    cr_assert_float_eq(mx_stats_mann_whitney_p(a, 4, b, 5), 0.049090, 1e-3);
    cr_assert_float_eq(mx_stats_mann_whitney_p(b, 5, a, 4), 0.049090, 1e-3);
    cr_assert(isnan(mx_stats_mann_whitney_p(a, 0, b, 5)));
}

/* With no shift at all, p < 0.05 should happen in about 5 % of comparisons (the continuity
 * correction makes it a little rarer); 400 trials put 9 % beyond 3.5 standard deviations. */
Test(stats, mann_whitney_false_alarm_rate) {
    enum { n = 10, trials = 400 };
    mx_rng rng = mx_rng_fresh();
    int alarms = 0;
    for (int trial = 0; trial < trials; trial++) {
        double a[n], b[n];
        for (int i = 0; i < n; i++) {
            a[i] = 100.0 + mx_rng_gaussian(&rng);
            b[i] = 100.0 + mx_rng_gaussian(&rng);
        }
        alarms += mx_stats_mann_whitney_p(a, n, b, n) < 0.05;
    }
    cr_assert(alarms <= trials * 9 / 100, "%d of %d comparisons below p = 0.05", alarms, trials);
}
