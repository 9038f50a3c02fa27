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

/* Critical values of Student's t from printed tables (two-sided): t(0.05, 4) = 2.776445,
 * t(0.01, 4) = 4.604095, t(0.01, 1) = 63.65674, t(0.05, 10) = 2.228139, and the normal limit
 * 1.959964 for a very large df. */
Test(stats, student_t_matches_the_tables) {
    const struct {
        double t, df, p;
    } table[] = {{2.776445, 4, 0.05},  {4.604095, 4, 0.01},   {63.65674, 1, 0.01},
                 {2.228139, 10, 0.05}, {1.959964, 1e7, 0.05}, {0.0, 3, 1.0}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        double p = mx_stats_student_t_p(table[i].t, table[i].df);
        cr_expect_float_eq(p, table[i].p, 2e-6 * (1.0 + table[i].p), "t %g df %g: p %.8g",
                           table[i].t, table[i].df, p);
        cr_expect_float_eq(mx_stats_student_t_p(-table[i].t, table[i].df), p, 1e-15,
                           "two-sided: symmetric in t");
        if (table[i].p < 1.0)
            cr_expect_float_eq(mx_stats_student_t_quantile(table[i].p, table[i].df), table[i].t,
                               1e-5 * table[i].t, "quantile of %g at df %g", table[i].p,
                               table[i].df);
    }
    cr_expect_eq(mx_stats_student_t_p(INFINITY, 4), 0.0);
    cr_expect(isnan(mx_stats_student_t_p(NAN, 4)));
    cr_expect(isnan(mx_stats_student_t_p(1.0, 0)));
    cr_expect(isnan(mx_stats_student_t_quantile(0.0, 4)));
}

/* df = 2 has a closed form: p = 1 - t / sqrt(2 + t^2), an independent check over a range of t. */
Test(stats, student_t_closed_form_at_two_degrees_of_freedom) {
    for (double t = 0.05; t < 200.0; t *= 1.7) {
        double expected = 1.0 - t / sqrt(2.0 + t * t);
        cr_expect_float_eq(mx_stats_student_t_p(t, 2.0), expected, 1e-10 + 1e-8 * expected, "t %g",
                           t);
    }
}

/* With no change at all, p < 0.05 happens in 5 % of t tests of 3 against 3 normal values; 2000
 * trials put 7.5 % more than 4 standard deviations away. */
Test(stats, student_t_false_alarm_rate) {
    enum { n = 3, trials = 2000 };
    mx_rng rng = mx_rng_fresh();
    int alarms = 0;
    for (int trial = 0; trial < trials; trial++) {
        double a[n], b[n], mean_a = 0.0, mean_b = 0.0, squares = 0.0;
        for (int i = 0; i < n; i++) {
            a[i] = mx_rng_gaussian(&rng);
            b[i] = mx_rng_gaussian(&rng);
            mean_a += a[i] / n;
            mean_b += b[i] / n;
        }
        for (int i = 0; i < n; i++) squares += pow(a[i] - mean_a, 2) + pow(b[i] - mean_b, 2);
        double t = (mean_b - mean_a) / sqrt(squares / (2 * n - 2) * 2.0 / n);
        alarms += mx_stats_student_t_p(t, 2 * n - 2) < 0.05;
    }
    cr_assert(alarms >= trials * 25 / 1000 && alarms <= trials * 75 / 1000,
              "%d of %d comparisons below p = 0.05", alarms, trials);
}

/* P(Binomial(n, 1/2) <= j) by summing the terms: independent of the incomplete beta in stats.c. */
static double binomial_half_cdf_by_sum(int j, int n) {
    double sum = 0.0;
    for (int i = 0; i <= j; i++)
        sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    return sum;
}

/* The interval's ranks: n = 10 gives x(2), x(9) (P(B <= 1) = 11/1024 <= 2.5 % < P(B <= 2) =
 * 56/1024); n = 100 gives x(40), x(61), as printed tables of the median's 95 % interval say;
 * every n from 6 to 400 against the binomial summed here; n = 5 has none. */
Test(stats, median_interval_takes_the_binomial_ranks) {
    double values[400];
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < 400; i++) values[i] = (double)(i + 1); /* x(r) = r */
    for (int i = 399; i > 0; i--) { /* shuffled: the function must sort a copy */
        int j = (int)(mx_rng_uniform(&rng) * (i + 1)) % (i + 1);
        double t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
    mx_interval ten = mx_stats_median_interval((const double[]){10, 3, 7, 1, 9, 2, 8, 4, 6, 5}, 10);
    cr_assert_eq(ten.median, 5.5);
    cr_assert_eq(ten.low, 2.0);
    cr_assert_eq(ten.high, 9.0);
    double hundred[100];
    for (int i = 0; i < 100; i++) hundred[i] = 100 - i;
    mx_interval h = mx_stats_median_interval(hundred, 100);
    cr_assert_eq(h.low, 40.0);
    cr_assert_eq(h.high, 61.0);
    cr_assert(isnan(mx_stats_median_interval(hundred, 5).low));
    cr_assert_eq(mx_stats_median_interval(hundred, 5).median, 98.0);
    for (int n = 6; n <= 400; n++) {
        double ranked[400];
        for (int i = 0; i < n; i++) ranked[i] = (double)(i + 1);
        mx_interval interval = mx_stats_median_interval(ranked, n);
        int k = (int)interval.low;
        cr_assert(k >= 1 && interval.high == n + 1 - k, "n %d: [%g, %g]", n, interval.low,
                  interval.high);
        cr_assert(binomial_half_cdf_by_sum(k - 1, n) <= 0.025 + 1e-12, "n %d: rank %d too high", n,
                  k);
        cr_assert(binomial_half_cdf_by_sum(k, n) > 0.025 - 1e-12, "n %d: rank %d too low", n, k);
    }
    mx_interval shuffled = mx_stats_median_interval(values, 400);
    cr_assert_eq(shuffled.median, 200.5);
}

/* Coverage on a skewed distribution (exponential, median ln 2): n = 20 takes x(6) and x(15),
 * which cover the median with probability 1 - 2 P(B <= 5) = 95.86 %; 3000 fresh trials put the
 * observed rate within 4 standard deviations (0.36 % each) of it. */
Test(stats, median_interval_covers_95_percent_of_skewed_samples) {
    enum { n = 20, trials = 3000 };
    mx_rng rng = mx_rng_fresh();
    int covered = 0;
    for (int trial = 0; trial < trials; trial++) {
        double samples[n];
        for (int i = 0; i < n; i++) samples[i] = -log(1.0 - mx_rng_uniform(&rng));
        mx_interval interval = mx_stats_median_interval(samples, n);
        covered += interval.low <= log(2.0) && log(2.0) <= interval.high;
    }
    double rate = (double)covered / trials, expected = 1.0 - 2.0 * binomial_half_cdf_by_sum(5, n);
    cr_assert(fabs(rate - expected) <= 4.0 * sqrt(expected * (1.0 - expected) / trials),
              "covered %.4f, expected %.4f", rate, expected);
}

/* Times that drift by +-30 % over the rounds, a variant 10 % slower than its reference in every
 * round with 0.2 % noise: the paired ratios find 1.10 with an interval under 1 % wide, while the
 * median of either side alone is as wide as the drift. */
Test(stats, ratio_interval_cancels_what_moves_both) {
    enum { n = 40 };
    mx_rng rng = mx_rng_fresh();
    double variant[n], reference[n];
    for (int i = 0; i < n; i++) {
        double drift = 1.0 + 0.3 * sin(i * 0.7);
        reference[i] = 100.0 * drift * (1.0 + 0.002 * mx_rng_gaussian(&rng));
        variant[i] = 110.0 * drift * (1.0 + 0.002 * mx_rng_gaussian(&rng));
    }
    mx_interval ratio = mx_stats_ratio_interval(variant, reference, n);
    /* the median's standard error is ~0.06 % here: 0.3 % is 5 of them (coverage itself is
     * tested above, over many trials) */
    cr_assert(fabs(ratio.median / 1.1 - 1.0) < 0.003, "%g", ratio.median);
    cr_assert(ratio.low <= ratio.median && ratio.median <= ratio.high, "[%g, %g]", ratio.low,
              ratio.high);
    cr_assert(ratio.high - ratio.low < 0.011, "width %g", ratio.high - ratio.low);
    cr_assert(mx_interval_noise_pct(ratio) < 0.3);
    mx_interval alone = mx_stats_median_interval(variant, n);
    cr_assert(mx_interval_noise_pct(alone) > 5.0, "one side alone: %g %%",
              mx_interval_noise_pct(alone));
}

Test(stats, interval_noise_is_half_width_over_1_96) {
    cr_assert_float_eq(mx_interval_noise_pct((mx_interval){100.0, 98.0, 102.0}),
                       2.0 / 1.959964 / 100.0 * 100.0, 1e-12);
    cr_assert_eq(mx_interval_noise_pct((mx_interval){5.0, 5.0, 5.0}), 0.0);
    cr_assert(isinf(mx_interval_noise_pct((mx_interval){5.0, NAN, NAN})));
    cr_assert(isinf(mx_interval_noise_pct((mx_interval){0.0, -1.0, 1.0})));
}

Test(stats, interval_across_runs_adds_the_run_to_run_deviation_in_quadrature) {
    const double z = 1.959964;
    mx_interval wide = mx_interval_across_runs((mx_interval){100.0, 99.0, 102.0}, 1.0);
    cr_assert_eq(wide.median, 100.0);
    cr_assert_float_eq(wide.low, 100.0 - sqrt(1.0 + z * z), 1e-12, "%.15g", wide.low);
    cr_assert_float_eq(wide.high, 100.0 + sqrt(4.0 + z * z), 1e-12, "%.15g", wide.high);
    mx_interval same = mx_interval_across_runs((mx_interval){50.0, 49.5, 50.25}, 0.0);
    cr_assert(same.low == 49.5 && same.high == 50.25);
    mx_interval point = mx_interval_across_runs((mx_interval){1.0, 1.0, 1.0}, 0.8);
    cr_assert_float_eq(point.high - point.low, 2.0 * z * 0.008, 1e-15);
    cr_assert_float_eq(mx_interval_noise_pct(point), 0.8, 1e-9);
    mx_interval unknown = mx_interval_across_runs((mx_interval){5.0, NAN, NAN}, 0.8);
    cr_assert(isnan(unknown.low) && isnan(unknown.high));
}

/* Runs that each sit at their own level (a 0.8 % standard deviation from run to run) with 0.2 %
 * noise around it: the rounds' intervals alone agree between two runs far below 95 % of the time;
 * widened by the run-to-run deviation, about 95 % (2000 fresh pairs: within 4 standard deviations
 * of the rate; the widened half-widths slightly exceed the exact ones, so at least that). */
Test(stats, interval_across_runs_covers_another_runs_median) {
    enum { rounds = 40, pairs = 2000 };
    mx_rng rng = mx_rng_fresh();
    int agree_within = 0, agree_across = 0;
    for (int pair = 0; pair < pairs; pair++) {
        mx_interval within[2], across[2];
        for (int run = 0; run < 2; run++) {
            double level = 100.0 * exp(0.008 * mx_rng_gaussian(&rng)), samples[rounds];
            for (int i = 0; i < rounds; i++)
                samples[i] = level * (1.0 + 0.002 * mx_rng_gaussian(&rng));
            within[run] = mx_stats_median_interval(samples, rounds);
            across[run] = mx_interval_across_runs(within[run], 0.8);
        }
        for (int widened = 0; widened < 2; widened++) {
            const mx_interval *v = widened ? across : within;
            double h0 = (v[0].high - v[0].low) / 2.0, h1 = (v[1].high - v[1].low) / 2.0;
            bool agree = fabs(v[0].median - v[1].median) <= sqrt(h0 * h0 + h1 * h1);
            *(widened ? &agree_across : &agree_within) += agree;
        }
    }
    double rate = (double)agree_across / pairs, sigma = sqrt(0.95 * 0.05 / pairs);
    cr_assert(rate >= 0.95 - 4.0 * sigma, "widened: %.4f agree", rate);
    cr_assert((double)agree_within / pairs < 0.5, "within only: %.4f agree",
              (double)agree_within / pairs);
}

Test(stats, single_rule_waits_for_min_ms) {
    mx_stop_rule slow = rule;
    slow.min_ms = 50.0;
    double samples[20];
    for (int i = 0; i < 20; i++) samples[i] = 100.0;
    cr_assert_eq(mx_stats_stop_reason(&slow, samples, 20, 49.0), MX_STOP_CONTINUE);
    cr_assert_eq(mx_stats_stop_reason(&slow, samples, 20, 50.0), MX_STOP_NOISE);
}

/* Three calls in rounds: the reference, a steady variant, and a noisy one. */
Test(stats, rounds_stop_on_every_active_ratio) {
    enum { rounds = 30 };
    double reference[rounds], steady[rounds], noisy[rounds];
    for (int i = 0; i < rounds; i++) {
        reference[i] = 100.0 + 0.01 * (i % 3);
        steady[i] = 2.0 * reference[i];
        noisy[i] = 50.0 * (1.0 + 0.3 * ((i * 7919) % 11 - 5) / 5.0);
    }
    const double *samples[] = {reference, steady, noisy};
    bool all[] = {true, true, true}, without_noisy[] = {true, true, false};
    mx_stop_rule r = rule;
    r.min_ms = 10.0;
    /* the noisy ratio holds the rounds until the budget, unless it is no longer measured */
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, all, 3, rounds, 20.0), MX_STOP_CONTINUE);
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, all, 3, rounds, 100.0), MX_STOP_BUDGET);
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, without_noisy, 3, rounds, 20.0),
                 MX_STOP_NOISE);
    /* min_ms, then min_samples, then max_samples (which wins over everything) */
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, without_noisy, 3, rounds, 5.0),
                 MX_STOP_CONTINUE);
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, without_noisy, 3, 9, 1e9),
                 MX_STOP_CONTINUE);
    r.max_samples = 30;
    cr_assert_eq(mx_stats_rounds_stop_reason(&r, samples, all, 3, rounds, 0.0),
                 MX_STOP_MAX_SAMPLES);
}
