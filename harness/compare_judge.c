/* compare's verdicts (compare_data.h): each row judged from the runs of both sides (the gate's
 * run-level test on times, or on ratios to the FP16 row when the control moved; accuracy lost;
 * rows missing or new), the control's drift, and the order the verdicts are listed in. */
#include "compare_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_info.h"
#include "schema.h"
#include "stats.h"
#include "text.h"
#include "variants.h"

static void describe_unmeasured(const mx_run_folder *run, long row, const char *side, char *text,
                                size_t size) {
    const char *note = mx_run_cell(run->results, (size_t)row, "note");
    mx_format_append(text, size, "not measured in %s (status %s%s%s)", side,
                     mx_run_cell(run->results, (size_t)row, "status"), note[0] ? ": " : "", note);
}

/* The row's value in every run of the side that measured it at full clock: its median time, or,
 * when relative, its ratio to its FP16 row: the median of the per-round ratios where the run
 * timed in rounds (1 + overhead_pct / 100, which has an interval), else the ratio of the
 * medians. Also the plain times' geometric mean (*mean_us). */
static double relative_value(const mx_run_folder *run, size_t row, double us) {
    if (!strcmp(run->meta.timing, MX_TIMING_ROUNDS))
        return 1.0 + atof(mx_run_cell(run->results, row, "overhead_pct")) / 100.0;
    long reference = mx_run_reference_row(run, row);
    return reference < 0 || isnan(run->time_us[reference])
               ? NAN
               : us / mx_run_row_median(run, (size_t)reference);
}

static int side_values(const run_side *side, const char *key, bool relative, double *values,
                       double *mean_us, int *throttled) {
    int count = 0, timed = 0;
    double log_sum = 0.0;
    for (int i = 0; i < side->count; i++) {
        const mx_run_folder *run = side->runs[i];
        long row = mx_run_find_row(run, key);
        if (row < 0 || isnan(run->time_us[row])) continue;
        double us = mx_run_row_median(run, (size_t)row);
        log_sum += log(us);
        timed++;
        if (mx_flag_is_true(mx_run_cell(run->results, (size_t)row, "throttled"))) {
            (*throttled)++;
            continue;
        }
        double value = relative ? relative_value(run, (size_t)row, us) : us;
        if (!isnan(value)) values[count++] = value;
    }
    *mean_us = timed ? exp(log_sum / timed) : NAN;
    return count;
}

static void judge_timing(const comparison *cmp, const char *key, bool control, compared_row *row) {
    int throttled = 0;
    bool relative = cmp->relative && !control;
    double *base = malloc(sizeof *base * (size_t)cmp->base.count);
    double *cur = malloc(sizeof *cur * (size_t)cmp->cur.count);
    int nb = base ? side_values(&cmp->base, key, relative, base, &row->base_us, &throttled) : 0;
    int nc = cur ? side_values(&cmp->cur, key, relative, cur, &row->cur_us, &throttled) : 0;
    mx_gate_judge(base, nb, cur, nc, &cmp->rule, &row->gate);
    free(base);
    free(cur);
    row->timed = true;
    if (throttled)
        mx_format_append(row->gate.reason, sizeof row->gate.reason,
                         "%s%d run%s timed it throttled (left out)",
                         row->gate.reason[0] ? "; " : "", throttled, throttled == 1 ? "" : "s");
}

/* pass_error true -> false or status ok -> fail in any run of CUR. */
static bool judge_accuracy(const comparison *cmp, const char *key, long b, compared_row *row) {
    const mx_run_folder *base = cmp->base.runs[0];
    for (int i = 0; i < cmp->cur.count; i++) {
        const mx_run_folder *cur = cmp->cur.runs[i];
        long c = mx_run_find_row(cur, key);
        if (c < 0) continue;
        bool error_lost = mx_flag_value(mx_run_cell(base->results, (size_t)b, "pass_error")) == 1 &&
                          mx_flag_value(mx_run_cell(cur->results, (size_t)c, "pass_error")) == 0;
        bool status_lost = !strcmp(mx_run_cell(base->results, (size_t)b, "status"), "ok") &&
                           !strcmp(mx_run_cell(cur->results, (size_t)c, "status"), "fail");
        if (!error_lost && !status_lost) continue;
        row->verdict = MX_VERDICT_ACCURACY;
        if (cmp->cur.count > 1)
            mx_format_append(row->reason, sizeof row->reason, "run %s: ", cur->meta.run_id);
        if (error_lost) {
            mx_format_append(row->reason, sizeof row->reason, "pass_error true -> false");
            static const char *const errors[] = {"rel_err_vs_fp16", "rel_err_vs_exact",
                                                 "nonfinite"};
            for (int e = 0; e < 3; e++)
                if (mx_run_cell(base->results, (size_t)b, errors[e])[0] ||
                    mx_run_cell(cur->results, (size_t)c, errors[e])[0])
                    mx_format_append(row->reason, sizeof row->reason, "%s %s %s -> %s",
                                     e ? "," : ":", errors[e],
                                     mx_run_cell(base->results, (size_t)b, errors[e]),
                                     mx_run_cell(cur->results, (size_t)c, errors[e]));
        }
        if (status_lost) {
            const char *note = mx_run_cell(cur->results, (size_t)c, "note");
            mx_format_append(row->reason, sizeof row->reason, "%sstatus ok -> fail%s%s",
                             error_lost ? "; " : "", note[0] ? ": " : "", note);
        }
        return true;
    }
    return false;
}

void mx_compare_judge_row(const comparison *cmp, compared_row *row) {
    const mx_run_folder *base = cmp->base.runs[0], *cur = cmp->cur.runs[0];
    long b = row->base_row, c = row->cur_row;
    bool base_measured = b >= 0 && !isnan(base->time_us[b]);
    bool cur_measured = c >= 0 && !isnan(cur->time_us[c]);
    const char *key = b >= 0 ? base->keys[b] : cur->keys[c];
    const char *variant =
        mx_run_cell(b >= 0 ? base->results : cur->results, (size_t)(b >= 0 ? b : c), "variant");
    bool control = mx_variant_traits_of(variant)->cublas_only;
    row->reason[0] = '\0';
    if (base_measured && cur_measured) judge_timing(cmp, key, control, row);
    if (c < 0) {
        row->verdict = base_measured ? MX_VERDICT_MISSING : MX_VERDICT_SKIPPED;
        mx_format_append(row->reason, sizeof row->reason, "absent from CUR%s",
                         base_measured ? "" : " and not measured in BASE");
        return;
    }
    if (b < 0) {
        row->verdict = MX_VERDICT_NEW;
        mx_format_append(row->reason, sizeof row->reason, "only in CUR%s",
                         cur_measured ? "" : "; ");
        if (!cur_measured) describe_unmeasured(cur, c, "CUR", row->reason, sizeof row->reason);
        return;
    }
    if (judge_accuracy(cmp, key, b, row)) return;
    if (base_measured != cur_measured) {
        row->verdict = base_measured ? MX_VERDICT_MISSING : MX_VERDICT_NEW;
        if (base_measured)
            describe_unmeasured(cur, c, "CUR", row->reason, sizeof row->reason);
        else
            describe_unmeasured(base, b, "BASE", row->reason, sizeof row->reason);
        return;
    }
    if (!base_measured) {
        row->verdict = MX_VERDICT_SKIPPED;
        describe_unmeasured(cur, c, "either run", row->reason, sizeof row->reason);
        return;
    }
    row->verdict = row->gate.verdict;
    if (cmp->relative && !control)
        mx_format_append(row->reason, sizeof row->reason, "relative to its FP16 row%s",
                         row->gate.reason[0] ? "; " : "");
    mx_format_append(row->reason, sizeof row->reason, "%s", row->gate.reason);
    /* Variants that time cuBLAS alone (variants.h: fp16, persistent) run no mxbench kernel.
     * They are the control: a change there is the environment (board, driver, cuBLAS), which the
     * report shows but the gate must not blame on the code. */
    if ((row->verdict == MX_VERDICT_SLOWER || row->verdict == MX_VERDICT_FASTER) && control) {
        mx_format_append(
            row->reason, sizeof row->reason,
            "%s%s not gated (p %.2g): this row times cuBLAS alone, a change is the environment",
            row->reason[0] ? "; " : "", mx_verdict_string(row->verdict), row->gate.p_value);
        row->verdict = MX_VERDICT_UNSURE;
    }
}

/* The control rows' median change (cmp->control_drift_pct), and whether it makes the gate judge
 * the other rows relative to their FP16 row. */
void mx_compare_measure_control(comparison *cmp) {
    const mx_run_folder *base = cmp->base.runs[0];
    double *changes = malloc(sizeof *changes * (base->row_count + 1));
    int count = 0;
    for (size_t b = 0; changes && b < base->row_count; b++) {
        if (!mx_variant_traits_of(mx_run_cell(base->results, b, "variant"))->cublas_only) continue;
        compared_row row = {.base_row = (long)b};
        long c = mx_run_find_row(cmp->cur.runs[0], base->keys[b]);
        if (c < 0 || isnan(base->time_us[b]) || isnan(cmp->cur.runs[0]->time_us[c])) continue;
        judge_timing(cmp, base->keys[b], true, &row);
        if (isfinite(row.gate.change_pct)) changes[count++] = row.gate.change_pct;
    }
    cmp->control_rows = count;
    cmp->control_drift_pct = count ? mx_stats_median_of(changes, count) : NAN;
    cmp->relative = count && fabs(cmp->control_drift_pct) >= MX_CONTROL_DRIFT_PCT;
    free(changes);
}

/* Worst first: by verdict, then the largest slowdown, then the sweep's order. */
int mx_compare_rows(const void *a, const void *b) {
    const compared_row *x = a, *y = b;
    if (x->verdict != y->verdict) return x->verdict < y->verdict ? -1 : 1;
    double cx = x->timed ? x->gate.change_pct : NAN, cy = y->timed ? y->gate.change_pct : NAN;
    if (!isnan(cx) && !isnan(cy) && cx != cy) return cx > cy ? -1 : 1;
    if (isnan(cx) != isnan(cy)) return isnan(cx) ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}
