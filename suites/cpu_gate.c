/* Gate suite (CPU): the run-level verdict rule (gate.h) on synthetic runs (quantiles of a normal
 * distribution, so that every run of the suite sees the same numbers): the verdict table, the band
 * and threshold from the run-to-run spread against the formula, power and false alarms. */
#include <math.h>
#include <string.h>

#include "compare.h"
#include "gate.h"
#include "stats.h"
#include "common.h"
#include "fake_runs.h"

static const mx_gate_rule nightly_rule = {
    .alpha = 0.01, .min_change_pct = 5.0, .spread_factor = MX_GATE_SPREAD_FACTOR};

typedef struct {
    double shift_pct, spread_pct;
    int base_runs, cur_runs;
    mx_verdict verdict;
    char reason[48]; /* in the verdict's reason ("" for none) */
} gate_case;

ParameterizedTestParameters(cpu_gate, gate_rule_follows_the_table) {
    static gate_case cases[] = {
        {0.0, 1.0, 3, 3, MX_VERDICT_SAME, ""},
        {10.0, 1.0, 3, 3, MX_VERDICT_SLOWER, ""},
        {-10.0, 1.0, 3, 3, MX_VERDICT_FASTER, ""},
        {10.0, 1.0, 9, 1, MX_VERDICT_SLOWER, ""}, /* a history against one new run */
        {3.0, 0.2, 3, 3, MX_VERDICT_SAME, "a real change"},
        {10.0, 8.0, 3, 3, MX_VERDICT_SAME, ""}, /* within 3 x its own spread */
        {10.0, 1.0, 1, 1, MX_VERDICT_UNSURE, "one run a side"},
        {3.0, 1.0, 1, 1, MX_VERDICT_SAME, ""},
        {8.0, 2.0, 2, 1, MX_VERDICT_UNSURE, "not significant"}, /* one degree of freedom */
        {20.0, 1.0, 1, 3, MX_VERDICT_UNSURE, "a baseline of one run"},
    };
    return cr_make_param_array(gate_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(gate_case *c, cpu_gate, gate_rule_follows_the_table) {
    double base[16], cur[16];
    mx_test_run_values(100.0, c->spread_pct, c->base_runs, base);
    mx_test_run_values(100.0 * (1.0 + c->shift_pct / 100.0), c->spread_pct, c->cur_runs, cur);
    mx_gate_verdict v;
    mx_gate_judge(base, c->base_runs, cur, c->cur_runs, &nightly_rule, &v);
    cr_expect_eq(v.verdict, c->verdict, "%+.0f %% with %.1f %% spread, %d + %d runs: %s (%s)",
                 c->shift_pct, c->spread_pct, c->base_runs, c->cur_runs,
                 mx_verdict_string(v.verdict), v.reason);
    cr_expect(strstr(v.reason, c->reason), "reason '%s' lacks '%s'", v.reason, c->reason);
    cr_expect_float_eq(v.change_pct, c->shift_pct, 1e-9);
    cr_expect_float_eq(v.base_value, 100.0, 1e-9);
    cr_expect_eq(v.base_runs, c->base_runs);
    if (c->base_runs + c->cur_runs < 3)
        cr_expect(isnan(v.p_value) && isnan(v.band_low_pct), "no spread, no test");
    else
        cr_expect(v.band_low_pct < 0.0 && v.band_high_pct > 0.0 && v.threshold_pct >= 5.0,
                  "band [%g, %g] around 0, counts from %g", v.band_low_pct, v.band_high_pct,
                  v.threshold_pct);
}

/* The band is the change the spread alone could give: exp(+-t(alpha, df) s sqrt(1/nb + 1/nc)) - 1,
 * with s the pooled standard deviation of the logs; checked against the formula by hand. */
Test(cpu_gate, band_and_threshold_come_from_the_run_to_run_spread) {
    const double base[] = {100.0, 102.0, 98.0}, cur[] = {101.0, 99.0, 100.0};
    double squares = 0.0, mean_b = 0.0, mean_c = 0.0;
    for (int i = 0; i < 3; i++) mean_b += log(base[i]) / 3, mean_c += log(cur[i]) / 3;
    for (int i = 0; i < 3; i++)
        squares += pow(log(base[i]) - mean_b, 2) + pow(log(cur[i]) - mean_c, 2);
    double s = sqrt(squares / 4.0), half = 4.604095 * s * sqrt(2.0 / 3.0);
    mx_gate_verdict v;
    mx_gate_judge(base, 3, cur, 3, &nightly_rule, &v);
    cr_expect_eq(v.verdict, MX_VERDICT_SAME);
    cr_expect_float_eq(v.band_high_pct, (exp(half) - 1.0) * 100.0, 1e-4);
    cr_expect_float_eq(v.band_low_pct, (exp(-half) - 1.0) * 100.0, 1e-4);
    cr_expect_float_eq(v.spread_pct, (exp(s) - 1.0) * 100.0, 1e-9);
    cr_expect_float_eq(v.threshold_pct, 5.0, 0.0, "3 s = %g %% is below the minimum", 300.0 * s);
    cr_expect_float_eq(v.p_value, mx_stats_student_t_p((mean_c - mean_b) / (s * sqrt(2.0 / 3)), 4),
                       1e-12);
    const double bad[] = {100.0, -1.0};
    mx_gate_judge(bad, 2, cur, 3, &nightly_rule, &v);
    cr_expect_eq(v.verdict, MX_VERDICT_UNSURE);
    cr_expect(strstr(v.reason, "not a positive number"), "%s", v.reason);
}

/* Power and false alarms with a realistic spread: 3 runs a side, each row's runs 1 % apart (two
 * runs of one binary on an H200 differ by 0.7 % at the median). A 10-20 % slowdown is found; no
 * change is never called SLOWER. */
Test(cpu_gate, gate_finds_ten_percent_with_realistic_spread) {
    const double shifts[] = {0.0, 5.0, 10.0, 15.0, 20.0};
    const double spreads[] = {0.3, 0.7, 1.0, 1.5};
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++)
        for (size_t j = 0; j < sizeof spreads / sizeof spreads[0]; j++) {
            double base[3], cur[3];
            mx_test_run_values(100.0, spreads[j], 3, base);
            mx_test_run_values(100.0 * (1.0 + shifts[i] / 100.0), spreads[j], 3, cur);
            mx_gate_verdict v;
            mx_gate_judge(base, 3, cur, 3, &nightly_rule, &v);
            if (shifts[i] >= 10.0)
                cr_expect_eq(v.verdict, MX_VERDICT_SLOWER, "+%g %% at %g %% spread: %s (%s)",
                             shifts[i], spreads[j], mx_verdict_string(v.verdict), v.reason);
            if (shifts[i] == 0.0)
                cr_expect_eq(v.verdict, MX_VERDICT_SAME, "no change at %g %% spread: %s",
                             spreads[j], mx_verdict_string(v.verdict));
        }
}
