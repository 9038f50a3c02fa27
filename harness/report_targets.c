/* The report's target table (targets.h's values): which rows each target judges, how, and the
 * worst items (report_data.h). */
#include "report_data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "schema.h"
#include "targets.h"

// ---- targets (docs/design.md §7)

static target_item *add_item(target_result *t, int row, bool pass, double badness) {
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 64;
        target_item *items = realloc(t->items, sizeof *items * (size_t)capacity);
        if (!items) return NULL;
        t->items = items;
        t->capacity = capacity;
    }
    target_item *item = &t->items[t->count++];
    /* A missing figure sorts with the worst (NaN would break the ordering). */
    *item = (target_item){.row = row, .pass = pass, .badness = isnan(badness) ? 1e29 : badness};
    t->passed += pass;
    return item;
}

void report_not_judged(target_result *t, const char *why) {
    t->not_judged++;
    t->not_judged_why = why;
}

static int first_mxfp4_row(const report_data *d, int p) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (report_is_mxfp4(&d->rows[r])) return r;
    return -1;
}

/* The item of a per-problem target whose figure comes from the best MXFP4 row; NULL (after
 * recording why) when the problem cannot be judged. pass_of gets the figure. */
typedef bool (*figure_test)(double figure);

/* best: the problem's best row (problem.best, or best_lean where workspace is not allowed). */
static target_item *best_item(const report_data *d, int p, int best, target_result *t,
                              double figure, figure_test pass_of, double badness) {
    const problem *pr = &d->problems[p];
    if (!isfinite(pr->reference_us)) {
        report_not_judged(t, "the FP16 reference did not run");
        return NULL;
    }
    /* A time taken at a lowered SM clock judges nothing, in either direction. */
    if ((pr->reference >= 0 && mx_flag_is_true(d->rows[pr->reference].throttled)) ||
        (best >= 0 && mx_flag_is_true(d->rows[best].throttled))) {
        report_not_judged(t, "timed at a lowered SM clock (throttled)");
        return NULL;
    }
    /* Nor does one whose identical calls measured apart (docs/design.md §4). */
    if (pr->reference >= 0 && mx_flag_is_true(d->rows[pr->reference].unstable)) {
        report_not_judged(t, "unstable: the same cuBLAS call measured apart from FP16");
        return NULL;
    }
    if (best < 0) { /* none at all, or (best_lean) every correct one needs a workspace */
        const result_row *fastest = pr->best >= 0 ? &d->rows[pr->best] : NULL;
        target_item *item =
            add_item(t, fastest ? pr->best : first_mxfp4_row(d, p), false, INFINITY);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "no result");
            if (fastest)
                snprintf(item->detail, sizeof item->detail,
                         "every correct MXFP4 variant that keeps no FP16 copy needs a workspace; "
                         "fastest: %s %.2f us with %.2f MiB",
                         fastest->variant, fastest->time_us, fastest->workspace_bytes / MIB);
            else
                snprintf(item->detail, sizeof item->detail,
                         "no MXFP4 variant that keeps no FP16 copy gave a correct timed result");
        }
        return NULL;
    }
    target_item *item = add_item(t, best, pass_of(figure), badness);
    if (item)
        snprintf(item->detail, sizeof item->detail, "best: %s %.2f us vs FP16 %.2f us",
                 d->rows[best].variant, d->rows[best].time_us, pr->reference_us);
    return item;
}

static int64_t problem_m(const report_data *d, int p) {
    return d->rows[d->problems[p].first].m;
}

static void collect_overhead(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0) continue;
        double overhead = (report_ratio(d, pr->best) - 1.0) * 100.0;
        target_item *item =
            best_item(d, p, pr->best, t, overhead, mx_target_overhead_passes, overhead);
        const result_row *best = pr->best >= 0 ? &d->rows[pr->best] : NULL;
        if (item && best && isfinite(best->overhead_low) && isfinite(best->overhead_high))
            snprintf(item->figure, sizeof item->figure, "%+.1f %% [%+.1f, %+.1f]", overhead,
                     best->overhead_low, best->overhead_high);
        else if (item)
            snprintf(item->figure, sizeof item->figure, "%+.1f %%", overhead);
    }
}

static bool decode_passes(double speedup) {
    return speedup >= mx_targets.decode_speedup;
}

/* A weight-size column of problem p's rows (the first positive one), or fallback. */
static double weight_bytes(const report_data *d, int p, size_t field, double fallback) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next) {
        double bytes = *(const double *)((const char *)&d->rows[r] + field);
        if (bytes > 0) return bytes;
    }
    return fallback;
}

static double fp16_weight_bytes(const report_data *d, int p) {
    const result_row *row = &d->rows[d->problems[p].first];
    return weight_bytes(d, p, offsetof(result_row, weight_bytes_fp16),
                        2.0 * (double)row->n * (double)row->k * (double)row->batch);
}

/* Bytes the FP16 path reads and writes per call (its GB/s x its time): the weights for a GEMM,
 * only the looked-up rows of an embedding table or the routed experts of a MoE layer. */
static double fp16_bytes_moved(const report_data *d, int p) {
    int r = d->problems[p].reference;
    if (r >= 0 && isfinite(d->rows[r].gbps) && d->rows[r].gbps > 0 && d->rows[r].measured)
        return d->rows[r].gbps * d->rows[r].time_us * 1e3;
    return fp16_weight_bytes(d, p);
}

static void title_decode(target_result *t) {
    snprintf(t->name, sizeof t->name, "decode: MXFP4 >= %gx faster than FP16",
             mx_targets.decode_speedup);
    snprintf(t->judged_on, sizeof t->judged_on, "M <= %lld, FP16 weights >= %g MiB",
             (long long)mx_targets.decode_max_m, mx_targets.decode_min_fp16_bytes / MIB);
}

/* The decode targets (speed and bandwidth) are about streaming large weights: an op whose weights
 * are large but that reads less than the decode size per call (an embedding lookup) is not
 * judged by either. (MoE reads its routed experts: judged on those bytes.) */
static bool reads_part_of_weights(const report_data *d, int p, target_result *t) {
    double min_bytes = mx_targets.decode_min_fp16_bytes;
    if (fp16_weight_bytes(d, p) < min_bytes || fp16_bytes_moved(d, p) >= min_bytes) return false;
    report_not_judged(t, "the op reads only part of its weights per call (an embedding lookup)");
    return true;
}

static void collect_decode(const report_data *d, target_result *t) {
    double min_bytes = mx_targets.decode_min_fp16_bytes;
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m ||
            fp16_weight_bytes(d, p) < min_bytes || reads_part_of_weights(d, p, t))
            continue;
        double speedup = 1.0 / report_ratio(d, pr->best);
        target_item *item = best_item(d, p, pr->best, t, speedup, decode_passes, -speedup);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", speedup);
    }
}

static bool bandwidth_passes(double pct) {
    return pct >= mx_targets.bandwidth_pct;
}

static void title_bandwidth(target_result *t) {
    snprintf(t->name, sizeof t->name, "bandwidth >= %g %% of copy (M <= %lld)",
             mx_targets.bandwidth_pct, (long long)mx_targets.decode_max_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant per problem, M <= %lld, MXFP4 weights >= %g MB",
             (long long)mx_targets.decode_max_m, mx_targets.bandwidth_min_mxfp4_bytes / 1e6);
}

static void collect_bandwidth(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double mxfp4_bytes = weight_bytes(d, p, offsetof(result_row, weight_bytes_mxfp4),
                                          fp16_weight_bytes(d, p) / 2.0 * MX_BYTES_PER_WEIGHT);
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m ||
            mxfp4_bytes < mx_targets.bandwidth_min_mxfp4_bytes || reads_part_of_weights(d, p, t))
            continue;
        double pct = pr->best >= 0 ? d->rows[pr->best].pct_peak_bw : NAN;
        target_item *item = best_item(d, p, pr->best, t, pct, bandwidth_passes, -pct);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "%.1f %%", pct);
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used, ", %.0f GB/s",
                     d->rows[pr->best].gbps);
        }
    }
}

/* The speed-up the medium-M target asks at M (0: M is not one of its token counts). */
static double medium_speedup(int64_t m) {
    for (int i = 0; i < 2; i++)
        if (m == mx_targets.medium_m[i]) return mx_targets.medium_speedup[i];
    return 0.0;
}

static void title_medium(target_result *t) {
    snprintf(t->name, sizeof t->name,
             "medium M: >= %gx faster than FP16 at M = %lld, >= %gx at M = %lld",
             mx_targets.medium_speedup[0], (long long)mx_targets.medium_m[0],
             mx_targets.medium_speedup[1], (long long)mx_targets.medium_m[1]);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem, M = %lld or %lld",
             (long long)mx_targets.medium_m[0], (long long)mx_targets.medium_m[1]);
}

/* The medium-M figure is the speed-up over the one its M needs: at least 1 passes. */
static bool margin_passes(double margin) {
    return margin >= 1.0;
}

static void collect_medium(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double wanted = medium_speedup(problem_m(d, p));
        if (pr->mxfp4_rows == 0 || wanted <= 0.0) continue;
        double speedup = 1.0 / report_ratio(d, pr->best);
        /* the rule differs per M: judge the margin over the M's own speed-up */
        target_item *item =
            best_item(d, p, pr->best, t, speedup / wanted, margin_passes, -speedup / wanted);
        if (item)
            snprintf(item->figure, sizeof item->figure, "%.2fx (M = %lld needs %gx)", speedup,
                     (long long)problem_m(d, p), wanted);
    }
}

static bool prefill_passes(double ratio) {
    return ratio <= mx_targets.prefill_ratio;
}

static void title_prefill(target_result *t) {
    snprintf(t->name, sizeof t->name, "prefill <= %gx FP16 time (M >= %lld), no workspace",
             mx_targets.prefill_ratio, (long long)mx_targets.prefill_min_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant without workspace per problem, M >= %lld",
             (long long)mx_targets.prefill_min_m);
}

static void collect_prefill(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) < mx_targets.prefill_min_m) continue;
        double ratio = report_ratio(d, pr->best_lean);
        target_item *item = best_item(d, p, pr->best_lean, t, ratio, prefill_passes, ratio);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", ratio);
    }
}

/* Every measured MXFP4 row against its error limit (limit_of); non-finite outputs fail whatever
 * the norm. */
static void collect_error(const report_data *d, target_result *t, size_t field,
                          double (*limit_of)(mx_dtype), const char *figure_format,
                          double figure_scale) {
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!report_is_mxfp4(row)) continue;
        if (!row->measured) {
            report_not_judged(t, "skipped or failed before a result");
            continue;
        }
        double error = *(const double *)((const char *)row + field);
        bool nonfinite = row->nonfinite > 0;
        if (isnan(error) && !nonfinite) { /* composite ops have no FP64 reference at large sizes */
            report_not_judged(t, "no reference figure at this size");
            continue;
        }
        target_item *item = add_item(t, r, !nonfinite && error <= limit_of(report_dtype(row)),
                                     nonfinite ? 1e12 + row->nonfinite : error);
        if (!item) return;
        if (nonfinite)
            snprintf(item->figure, sizeof item->figure, "%.0f non-finite", row->nonfinite);
        else
            snprintf(item->figure, sizeof item->figure, figure_format, error * figure_scale);
        const result_row *reference = d->problems[row->problem].reference >= 0
                                          ? &d->rows[d->problems[row->problem].reference]
                                          : NULL;
        if (nonfinite)
            snprintf(item->detail, sizeof item->detail,
                     "outputs non-finite where the exact result is finite");
        else if (isfinite(row->max_rel_vs_fp16))
            snprintf(item->detail, sizeof item->detail, "max elementwise vs FP16 %.3g %%",
                     row->max_rel_vs_fp16 * 100.0);
        if (reference && reference->nonfinite > 0) {
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used,
                     "%sthe FP16 reference itself has %.0f non-finite outputs", used ? "; " : "",
                     reference->nonfinite);
        }
    }
}

static double rel_vs_fp16_limit(mx_dtype dtype) {
    (void)dtype; /* the FP16 reference rounds like the row: one limit */
    return mx_targets.rel_vs_fp16;
}

static void collect_error_vs_fp16(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_fp16), rel_vs_fp16_limit, "%.3g %%", 100.0);
}

static void collect_error_vs_exact(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_exact), mx_target_rel_vs_exact, "%.2e", 1.0);
}

/* Every measured MXFP4 row whose op has the bound's magnitudes: its worst element. */
static void collect_elementwise(const report_data *d, target_result *t) {
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!report_is_mxfp4(row)) continue;
        if (!row->measured || isnan(row->elementwise)) {
            report_not_judged(t, row->measured ? "no element-wise bound for this op"
                                               : "skipped or failed before a result");
            continue;
        }
        target_item *item = add_item(t, r, row->elementwise <= 1.0, row->elementwise);
        if (!item) return;
        snprintf(item->figure, sizeof item->figure, "%.3g x bound", row->elementwise);
        snprintf(item->detail, sizeof item->detail, "worst element: %s",
                 row->worst_element && row->worst_element[0] ? row->worst_element : "?");
    }
}

static void vram_item(const report_data *d, target_result *t, int worst) {
    const result_row *row = &d->rows[worst];
    double saved = report_vram_saved(row);
    target_item *item = add_item(t, worst, saved >= mx_targets.vram_saved_pct, -saved);
    if (!item) return;
    snprintf(item->figure, sizeof item->figure, "%.2f %%", saved);
    snprintf(item->detail, sizeof item->detail,
             "%s: MXFP4 %.2f MiB + workspace %.2f MiB vs FP16 %.2f MiB (%s)", row->variant,
             row->weight_bytes_mxfp4 / MIB, row->workspace_bytes / MIB,
             row->weight_bytes_fp16 / MIB,
             isfinite(row->vram_measured_pct) ? "measured" : "computed");
}

/* Per weight and VRAM-saving variant (one that keeps no FP16 copy): the lowest judged saving its
 * rows report (the workspace grows with M), rows whose measured bytes contradict the computed
 * ones left out. */
static void collect_vram(const report_data *d, target_result *t) {
    for (int w = 0; w < d->weight_count; w++)
        for (int v = 0; v < d->variant_count; v++) {
            int worst = -1, seen = 0, mismatched = 0;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                if (strcmp(row->variant, d->variants[v]) != 0 || !report_saves_vram(row) ||
                    !report_same_weight(row, &d->rows[d->weights[w]]))
                    continue;
                seen++;
                /* a measured figure that contradicts the computed bytes judges nothing */
                bool mismatch = mx_flag_is_true(row->vram_mismatch);
                mismatched += mismatch;
                double saved = report_vram_saved(row);
                if (!mismatch && isfinite(saved) &&
                    (worst < 0 || saved < report_vram_saved(&d->rows[worst])))
                    worst = r;
            }
            if (seen && worst < 0)
                report_not_judged(t, mismatched ? "measured VRAM too far from the computed "
                                                  "bytes: cudaMalloc rounds each buffer up to 2 "
                                                  "MiB, which shows on weights of a few MiB"
                                                : "no VRAM figure (skipped or failed rows)");
            if (worst >= 0) vram_item(d, t, worst);
        }
}

static void title_overhead(target_result *t) {
    snprintf(t->name, sizeof t->name, "overhead vs FP16 < %+g %%", mx_targets.overhead_pct);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem");
}

static void title_error_vs_fp16(target_result *t) {
    snprintf(t->name, sizeof t->name, "error vs FP16 reference <= %g %%",
             mx_targets.rel_vs_fp16 * 100.0);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

/* A small limit as people write it: 2e-3, not 0.002 or 2e-03. */
void report_format_limit(char out[32], size_t size, double value) {
    char mantissa[12];
    int exponent = (int)floor(log10(value));
    snprintf(mantissa, sizeof mantissa, "%.4g", value / pow(10.0, exponent));
    snprintf(out, size, "%se%d", mantissa, exponent);
}

static void title_error_vs_exact(target_result *t) {
    char limit[32], bf16[32];
    report_format_limit(limit, sizeof limit, mx_target_rel_vs_exact(MX_F16));
    report_format_limit(bf16, sizeof bf16, mx_target_rel_vs_exact(MX_BF16));
    snprintf(t->name, sizeof t->name, "kernel error vs exact <= %s (BF16 %s)", limit, bf16);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

static void title_elementwise(target_result *t) {
    snprintf(t->name, sizeof t->name, "every output element within its error bound vs exact");
    snprintf(t->judged_on, sizeof t->judged_on,
             "every measured MXFP4 row of gemm, lm_head (its logits), ffn, moe and attention with "
             "an exact reference");
}

static void title_vram(target_result *t) {
    snprintf(t->name, sizeof t->name, "VRAM >= %g %% saved", mx_targets.vram_saved_pct);
    snprintf(t->judged_on, sizeof t->judged_on,
             "each weight shape and variant that keeps no FP16 copy");
}

/* The values in names and judged_on come from targets.c; the explanations say what is judged. */
const target_def report_targets[TARGET_COUNT] = {
    {title_overhead, "overhead",
     "Per problem (shape, M, dtype, distribution) the fastest MXFP4 variant with a correct result "
     "against cuBLAS FP16 timed on the same shape in the same run: overhead = t / t_FP16 - 1, "
     "negative when MXFP4 is faster. Variants that keep a dequantized FP16 copy of the weights "
     "(persistent, embedding cached: harness/variants.c) are left out of \"best\": they save no "
     "memory and are FP16 paths in disguise (they are measured and drawn all the same).",
     collect_overhead, false, "overhead"},
    {title_error_vs_fp16, "rel. error",
     "Normwise relative error ||y - r|| / ||r|| of each MXFP4 row against cuBLAS FP16 on the same "
     "dequantized weights (the Sprint 6 quantity). Rows with non-finite outputs where the exact "
     "result is finite fail whatever their norm.",
     collect_error_vs_fp16, false, "error"},
    {title_error_vs_exact, "rel. error",
     "The kernel's own error: against an FP64 product on the exactly dequantized weights. FP16 "
     "output rounding alone is about 3e-4.",
     collect_error_vs_exact, false, NULL},
    {title_decode, "speed-up",
     "At decode token counts a GEMM streams its weights, so MXFP4 (3.76x fewer bytes) can be up to "
     "3.76x faster than cuBLAS FP16; the target asks this much of the best MXFP4 variant. An op "
     "whose FP16 path moves less than the size limit per call although its weights are larger (an "
     "embedding lookup reads only its rows) is not judged.",
     collect_decode, false, NULL},
    {title_bandwidth, "% of copy",
     "Bytes the MXFP4 op must move (weights, scales, activations, output) per second, as a share "
     "of the device-to-device copy bandwidth measured at start-up (run.json); judged where the "
     "MXFP4 weights are large enough for launch latency not to dominate.",
     collect_bandwidth, false, "throughput"},
    {title_medium, "speed-up",
     "Between decode and prefill the weights are still read once per call while the FP16 GEMM "
     "starts to be compute bound: the best MXFP4 variant must be clearly faster at the lower "
     "token count and no slower at the higher one.",
     collect_medium, false, NULL},
    {title_prefill, "time / FP16",
     "At prefill token counts the GEMM is compute bound; the best MXFP4 variant that needs no "
     "workspace (so no temporary FP16 copy: dequant_cublas does not count) may take at most this "
     "multiple of the cuBLAS FP16 time.",
     collect_prefill, false, NULL},
    {title_vram, "saved",
     "savings = 1 - (MXFP4 blocks + scales + workspace) / FP16 bytes, the lowest over the rows of "
     "a weight and variant (a workspace may grow with M: dequant_cublas holds a full FP16 copy "
     "while it runs); the format itself allows at most 73.4 % (0.53125 of 2 bytes per weight).",
     collect_vram, true, "vram"},
    {title_elementwise, "error / bound",
     "Each output element against FP64 on the exactly dequantized weights, within c (u |e| + "
     "eta + gamma_K sum|x||w| + eta_w sum|x|): the output dtype's rounding plus FP32 sums over K "
     "in any order (harness/elementwise.h says every term). Norm-wise errors average a wrong row "
     "away; this catches it. The ops that are one product are judged (gemm, and lm_head on its "
     "logits), and the FFN, MoE and attention blocks with each step's worst case carried into the "
     "last product's terms (reference/ffn_ref.h, moe_ref.h, attention_ref.h).",
     collect_elementwise, false, NULL},
};
_Static_assert(sizeof report_targets / sizeof report_targets[0] == TARGET_COUNT,
               "TARGET_COUNT counts the table");

static int compare_items(const void *a, const void *b) {
    const target_item *x = a, *y = b;
    if (x->badness != y->badness) return x->badness < y->badness ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

void report_judge(const report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; i < TARGET_COUNT; i++) {
        results[i] = (target_result){0};
        report_targets[i].title(&results[i]);
        report_targets[i].collect(d, &results[i]);
        if (results[i].count > 1)
            qsort(results[i].items, (size_t)results[i].count, sizeof *results[i].items,
                  compare_items);
    }
}
