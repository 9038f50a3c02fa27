/* Run-level verdicts of the nightly gate (gate.h). */
#include "gate.h"

#include <math.h>
#include <stdio.h>

#include "stats.h"

static const char *const verdict_names[MX_VERDICT_COUNT] = {
    "ACCURACY", "MISSING", "SLOWER", "UNSURE", "SAME", "FASTER", "NEW", "SKIPPED"};

const char *mx_verdict_string(mx_verdict verdict) {
    return (unsigned)verdict < MX_VERDICT_COUNT ? verdict_names[verdict] : "?";
}

bool mx_verdict_is_regression(mx_verdict verdict) {
    return verdict == MX_VERDICT_ACCURACY || verdict == MX_VERDICT_MISSING ||
           verdict == MX_VERDICT_SLOWER;
}

/* Mean of the logs and their sum of squared deviations; false for a value that is not a
 * positive finite number. */
static bool log_moments(const double *values, int count, double *mean, double *squares) {
    double sum = 0.0;
    for (int i = 0; i < count; i++) {
        if (!(values[i] > 0.0) || !isfinite(values[i])) return false;
        sum += log(values[i]);
    }
    *mean = sum / count;
    *squares = 0.0;
    for (int i = 0; i < count; i++) *squares += pow(log(values[i]) - *mean, 2.0);
    return true;
}

void mx_gate_judge(const double *base, int base_count, const double *cur, int cur_count,
                   const mx_gate_rule *rule, mx_gate_verdict *out) {
    *out = (mx_gate_verdict){.verdict = MX_VERDICT_UNSURE,
                             .base_runs = base_count,
                             .cur_runs = cur_count,
                             .base_value = NAN,
                             .cur_value = NAN,
                             .change_pct = NAN,
                             .spread_pct = NAN,
                             .threshold_pct = rule->min_change_pct,
                             .band_low_pct = NAN,
                             .band_high_pct = NAN,
                             .p_value = NAN};
    double mean_b, mean_c, squares_b, squares_c;
    if (base_count < 1 || cur_count < 1) {
        snprintf(out->reason, sizeof out->reason, "no run of %s measured it",
                 base_count < 1 ? "BASE" : "CUR");
        return;
    }
    if (!log_moments(base, base_count, &mean_b, &squares_b) ||
        !log_moments(cur, cur_count, &mean_c, &squares_c)) {
        snprintf(out->reason, sizeof out->reason, "a time that is not a positive number");
        return;
    }
    out->base_value = exp(mean_b);
    out->cur_value = exp(mean_c);
    double difference = mean_c - mean_b;
    out->change_pct = (exp(difference) - 1.0) * 100.0;
    int df = base_count + cur_count - 2;
    if (df < 1) {
        /* One run a side: nothing says how far a re-run moves. Below the minimum change the row
         * is the SAME as always; above it the gate cannot tell a regression from a bad run. */
        if (fabs(out->change_pct) < rule->min_change_pct)
            out->verdict = MX_VERDICT_SAME;
        else
            snprintf(out->reason, sizeof out->reason,
                     "%+.1f %% with one run a side: the run-to-run spread is unknown (a "
                     "run-level test needs 3 runs in all)",
                     out->change_pct);
        return;
    }
    double s = sqrt((squares_b + squares_c) / df);
    double se = s * sqrt(1.0 / base_count + 1.0 / cur_count);
    double t_crit = mx_stats_student_t_quantile(rule->alpha, df);
    out->spread_pct = (exp(s) - 1.0) * 100.0;
    out->threshold_pct = fmax(rule->min_change_pct, (exp(rule->spread_factor * s) - 1.0) * 100.0);
    out->band_low_pct = (exp(-t_crit * se) - 1.0) * 100.0;
    out->band_high_pct = (exp(t_crit * se) - 1.0) * 100.0;
    out->p_value = se > 0.0            ? mx_stats_student_t_p(difference / se, df)
                   : difference != 0.0 ? 0.0
                                       : 1.0;
    bool significant = out->p_value < rule->alpha;
    bool counts = fabs(out->change_pct) >= out->threshold_pct;
    if (significant && counts && base_count < 2) {
        /* CUR's runs are one job on one machine: their spread says nothing about how far the
         * baseline's machine is from this one. Only a history of baseline runs can. */
        snprintf(out->reason, sizeof out->reason,
                 "%+.1f %% (p %.2g) against a baseline of one run: how far a row moves between "
                 "runs and machines is unknown",
                 out->change_pct, out->p_value);
    } else if (significant && counts) {
        out->verdict = difference > 0.0 ? MX_VERDICT_SLOWER : MX_VERDICT_FASTER;
    } else if (!counts) {
        out->verdict = MX_VERDICT_SAME;
        if (significant)
            snprintf(out->reason, sizeof out->reason,
                     "a real change (p %.2g < %g) but below the %.1f %% that counts here",
                     out->p_value, rule->alpha, out->threshold_pct);
    } else {
        snprintf(out->reason, sizeof out->reason,
                 "%+.1f %% but not significant over %d + %d runs (p %.2g >= %g)", out->change_pct,
                 base_count, cur_count, out->p_value, rule->alpha);
    }
}
