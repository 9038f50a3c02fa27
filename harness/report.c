/* `mxbench report RUN_DIR`: loads results.csv (and run.json), groups the rows into problems (one
 * shape, M, dtype and distribution, its FP16 reference and MXFP4 variants), judges them against
 * the targets (targets.h), writes the plot data and draws the plots (gnuplot.h, the scripts in
 * plots/), and writes report.md and report.html (doc.h). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_dir.h"
#include "doc.h"
#include "model.h"
#include "report_data.h"
#include "schema.h"
#include "table.h"
#include "targets.h"
#include "text.h"
#include "variants.h"

#define WORST_SHOWN 5

// ---- the report

static void describe_item(const report_data *d, const target_def *target, const target_item *item,
                          char *out, size_t size) {
    const result_row *row = &d->rows[item->row];
    if (!target->per_weight) {
        report_describe_problem(row, out, size);
        return;
    }
    char weight[192];
    report_describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s", row->op, weight);
}

static void write_summary_table(mx_doc *out, const report_data *d,
                                const target_result results[TARGET_COUNT]) {
    mx_doc_table(out, "#\ttarget (docs/design.md §7)\tjudged on\tpass / total\tworst");
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_result *t = &results[i];
        char worst[640] = "no rows to judge", what[400], counts[64];
        if (t->count > 0) {
            describe_item(d, &report_targets[i], &t->items[0], what, sizeof what);
            snprintf(worst, sizeof worst, "%s: %s (%s)", t->items[0].figure, what,
                     d->rows[t->items[0].row].variant);
        }
        int used = snprintf(counts, sizeof counts, "%d/%d", t->passed, t->count);
        if (t->not_judged)
            snprintf(counts + used, sizeof counts - (size_t)used, " (+%d not judged)",
                     t->not_judged);
        mx_doc_row(out, "%d\t%s\t%s\t%s\t%s", i + 1, t->name, t->judged_on, counts, worst);
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per variant: how its own rows fare against the row-level targets. */
static void write_variant_table(mx_doc *out, const report_data *d) {
    double *overheads = malloc(sizeof *overheads * (size_t)d->row_count);
    if (!overheads) return;
    char limit[32];
    report_format_limit(limit, sizeof limit, mx_targets.rel_vs_exact);
    mx_doc_table(
        out,
        "variant\trows measured\toverhead < %+g %%\terror vs FP16 <= %g %%\terror vs exact "
        "<= %s\tmedian overhead\tworst overhead\tlowest VRAM saved",
        mx_targets.overhead_pct, mx_targets.rel_vs_fp16 * 100.0, limit);
    for (int v = 0; v < d->variant_count; v++) {
        int rows = 0, measured = 0, count = 0, fast = 0, close_to_fp16 = 0, close_to_exact = 0,
            no_exact = 0;
        double lowest_saved = INFINITY;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (strcmp(row->variant, d->variants[v]) != 0) continue;
            rows++;
            if (isfinite(report_vram_saved(row)))
                lowest_saved = fmin(lowest_saved, report_vram_saved(row));
            if (!row->measured) continue;
            measured++;
            double overhead = (report_ratio(d, r) - 1.0) * 100.0;
            if (isfinite(overhead)) overheads[count++] = overhead;
            fast += mx_target_overhead_passes(overhead);
            bool finite = !(row->nonfinite > 0);
            close_to_fp16 += finite && row->rel_vs_fp16 <= mx_targets.rel_vs_fp16;
            close_to_exact +=
                finite && row->rel_vs_exact <= mx_target_rel_vs_exact(report_dtype(row));
            no_exact += finite && isnan(row->rel_vs_exact);
        }
        qsort(overheads, (size_t)count, sizeof *overheads, compare_doubles);
        char median[32] = "-", worst[32] = "-", saved[32] = "-", fast_text[32];
        if (count) {
            snprintf(median, sizeof median, "%+.1f %%", overheads[count / 2]);
            snprintf(worst, sizeof worst, "%+.1f %%", overheads[count - 1]);
        }
        if (isfinite(lowest_saved)) snprintf(saved, sizeof saved, "%.2f %%", lowest_saved);
        bool reference = mx_variant_traits_of(d->variants[v])->reference;
        snprintf(fast_text, sizeof fast_text, "%d", fast);
        char exact_text[48];
        snprintf(exact_text, sizeof exact_text,
                 no_exact ? "%d (%d without an FP64 reference)" : "%d", close_to_exact, no_exact);
        mx_doc_row(out, "%s\t%d of %d\t%s\t%d\t%s\t%s\t%s\t%s",
                   reference ? "fp16 (cuBLAS reference)" : d->variants[v], measured, rows,
                   reference ? "reference" : fast_text, close_to_fp16, exact_text,
                   reference ? "reference" : median, reference ? "reference" : worst, saved);
    }
    free(overheads);
}

/* The report's sections, in order: their headings and the contents list come from here. */
static const char SECTION_SUMMARY[] = "Summary", SECTION_ENVIRONMENT[] = "Environment",
                  SECTION_CEILINGS[] = "Ceilings",
                  SECTION_TARGETS[] = "Targets (docs/design.md §7)",
                  SECTION_MODEL[] = "Whole-model weight memory", SECTION_PLOTS[] = "Plots",
                  SECTION_CAVEATS[] = "Caveats";

/* An integer of run.json as a number for mx_format_known: NaN when unknown (-1). */
static double known(int64_t value) {
    return value < 0 ? NAN : (double)value;
}

static void write_environment(mx_doc *out, const report_data *d) {
    const mx_run_info *m = &d->meta;
    mx_doc_heading(out, 2, "%s", SECTION_ENVIRONMENT);
    if (!d->meta_read) {
        mx_doc_paragraph(out,
                         "run.json could not be read (%s): the environment and the ceilings are "
                         "unknown.",
                         d->meta_error);
        return;
    }
    char memory[32], l2[32], sms[32], start_clock[32], max_clock[32], memory_clock[32];
    mx_format_known(memory, sizeof memory, known(m->memory_bytes) / (MIB * 1024.0), "%.1f GiB");
    mx_format_known(l2, sizeof l2, known(m->l2_bytes) / MIB, "%.0f MiB");
    mx_format_known(sms, sizeof sms, known(m->sm_count), "%.0f");
    mx_format_known(start_clock, sizeof start_clock, m->sm_clock_start_mhz, "%.0f MHz");
    mx_format_known(max_clock, sizeof max_clock, known(m->sm_clock_max_mhz), "%.0f MHz");
    mx_format_known(memory_clock, sizeof memory_clock, known(m->memory_clock_max_mhz), "%.0f MHz");
    mx_doc_table(out, "item\tvalue");
    mx_doc_row(out, "GPU\t%s (compute capability %s, %s SMs, %s, L2 %s), %s",
               m->gpu_name[0] ? m->gpu_name : "?", m->compute_capability, sms, memory, l2,
               m->gpu_uuid);
    /* unknown versions (-1) read 0.0 */
    int64_t driver = m->driver_version > 0 ? m->driver_version : 0,
            runtime = m->runtime_version > 0 ? m->runtime_version : 0,
            cublas = m->cublas_version > 0 ? m->cublas_version : 0;
    mx_doc_row(out, "driver / CUDA runtime / cuBLAS\t%d.%d / %d.%d / %d.%d.%d",
               (int)(driver / 1000), (int)(driver % 1000 / 10), (int)(runtime / 1000),
               (int)(runtime % 1000 / 10), (int)(cublas / 10000), (int)(cublas / 100 % 100),
               (int)(cublas % 100));
    mx_doc_row(out,
               "code path\t%s (%s) for skinny and fused: hopper splits K over thread-block "
               "clusters, portable (Ampere, Ada, Blackwell) does not; the cuBLAS variants take "
               "cuBLAS's own path. Built for `%s`",
               m->code_path[0] ? m->code_path : "not recorded (a run before the portable path)",
               m->code_path_why[0] ? m->code_path_why : "?",
               m->built_archs[0] ? m->built_archs : "?");
    mx_doc_row(out, "auto\tthe GEMM's auto follows %s",
               m->gemm_dispatch[0] ? m->gemm_dispatch
                                   : "the thresholds (a run from before dispatch tables)");
    mx_doc_row(out,
               "clocks\tSM %s under load at start-up (maximum %s); memory maximum %s; rows below "
               "%.0f %% of the start-up SM clock are flagged throttled",
               start_clock, max_clock, memory_clock, 100.0 * mx_targets.throttle_fraction);
    mx_doc_row(out, "commit\t`%s`%s", m->git_commit,
               m->git_dirty == 1   ? ", dirty (uncommitted changes in the build)"
               : m->git_dirty == 0 ? ", clean"
                                   : ", dirty state unknown");
    mx_doc_row(out, "run\t`%s`, sweep `%s`, %s to %s, status %s, host %s", m->run_id, m->suite,
               m->start_time, m->end_time[0] ? m->end_time : "?", m->status, m->hostname);
    mx_doc_row(out, "command\t`%s`", m->command_line);
    char flush[48];
    mx_format_known(flush, sizeof flush, known(m->l2_flush_bytes) / MIB, "%.0f MiB read");
    if (m->timing[0])
        mx_doc_row(out,
                   "method\t%s; a problem's rows timed together in %s, %.0f to %.0f rounds, "
                   "until the FP16 time and every ratio to it have a noise below %.2g %% (after "
                   "%.0f ms per row) or %.0f ms per row are spent; seed %llu",
                   m->l2_flushed == 1 ? "L2 flushed before every sample" : "L2 not flushed (warm)",
                   m->timing, known(m->min_samples), known(m->max_samples), m->max_noise_pct,
                   m->min_time_ms, m->time_budget_ms, (unsigned long long)m->seed);
    else
        mx_doc_row(out,
                   "method\t%s; rows timed one after another, FP16 first, %.0f to %.0f samples "
                   "per row until the median's noise is below %.2g %% or %.0f ms are spent; "
                   "seed %llu",
                   m->l2_flushed == 1 ? "L2 flushed before every sample" : "L2 not flushed (warm)",
                   known(m->min_samples), known(m->max_samples), m->max_noise_pct,
                   m->time_budget_ms, (unsigned long long)m->seed);
    if (m->l2_flushed == 1) mx_doc_row(out, "L2 flush\t%s before each sample", flush);
    if (m->injected[0])
        mx_doc_row(out,
                   "**injected slowdown**\t**%s: a test run (run --inject-slowdown), not a "
                   "measurement of the kernels**",
                   m->injected);
    mx_doc_heading(out, 2, "%s", SECTION_CEILINGS);
    char copy[32], tflops[32];
    mx_format_known(copy, sizeof copy, m->copy_gbps, "%.0f GB/s");
    mx_format_known(tflops, sizeof tflops, m->fp16_tflops, "%.1f TFLOP/s");
    mx_doc_table(out, "ceiling\tvalue\tmeasured as");
    mx_doc_row(out, "copy bandwidth\t%s\tdevice-to-device copy of 1 GiB (bytes read + written)",
               copy);
    mx_doc_row(out, "cuBLAS FP16\t%s\tcuBLAS FP16 GEMM 8192^3, FP32 compute", tflops);
}

/* One plot: its caption, then the figure or why it is not there. */
static void write_plot(mx_doc *out, const report_data *d, const plot_outcome *outcome) {
    mx_doc_paragraph(out, "%s", outcome->caption);
    switch (outcome->state) {
    case PLOT_DRAWN:
        mx_doc_figure(out, d->run_dir, outcome->base, outcome->title);
        break;
    case PLOT_NO_DATA:
        mx_doc_paragraph(out, "Not drawn: %s.", outcome->message);
        break;
    case PLOT_SKIPPED:
        mx_doc_paragraph(out, "Not drawn (plots skipped); its data is in `plot_data/`.");
        break;
    case PLOT_FAILED:
        mx_doc_paragraph(out, "Not drawn: %s", outcome->message);
        break;
    }
}

/* The target a plot is drawn under (report_targets' plot), or -1. */
static int target_of_plot(const plot_outcome *outcome) {
    for (int i = 0; i < TARGET_COUNT; i++)
        if (report_targets[i].plot && strcmp(report_targets[i].plot, outcome->base) == 0) return i;
    return -1;
}

static void write_targets(mx_doc *out, const report_data *d,
                          const target_result results[TARGET_COUNT],
                          const plot_outcome outcomes[PLOT_COUNT]) {
    mx_doc_heading(out, 2, "%s", SECTION_TARGETS);
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_def *target = &report_targets[i];
        const target_result *t = &results[i];
        mx_doc_heading(out, 3, "%d. %s", i + 1, t->name);
        mx_doc_paragraph(out, "Judged on: %s. %s", t->judged_on, target->explanation);
        char extra[256] = "";
        if (t->not_judged)
            snprintf(extra, sizeof extra, "; %d not judged (%s)", t->not_judged, t->not_judged_why);
        mx_doc_paragraph(out, "**%d of %d pass**, %d fail%s.", t->passed, t->count,
                         t->count - t->passed, extra);
        int shown = t->count < WORST_SHOWN ? t->count : WORST_SHOWN;
        if (shown) {
            mx_doc_paragraph(out, "The %d worst:", shown);
            mx_doc_table(out, "rank\t%s\tvariant\t%s\tresult\tdetail",
                         target->per_weight ? "weight" : "problem", target->figure_name);
        }
        for (int k = 0; k < shown; k++) {
            const target_item *item = &t->items[k];
            char what[400];
            describe_item(d, target, item, what, sizeof what);
            mx_doc_row(out, "%d\t%s\t%s\t%s\t%s\t%s", k + 1, what, d->rows[item->row].variant,
                       item->figure, item->pass ? "pass" : "fail", item->detail);
        }
        for (int p = 0; p < PLOT_COUNT; p++)
            if (target_of_plot(&outcomes[p]) == i) {
                mx_doc_heading(out, 4, "Plot: %s", outcomes[p].title);
                write_plot(out, d, &outcomes[p]);
            }
    }
}

/* For a run of a whole-model sweep (gpt-oss-20b...): that model's weight memory (model.h). */
static void write_model_memory(mx_doc *out, const report_data *d) {
    const mx_model *model = d->meta_read ? mx_model_find(d->meta.suite) : NULL;
    if (!model) return;
    mx_table *t = mx_model_vram_table(model);
    if (!t) return;
    mx_doc_heading(out, 2, "%s (%s)", SECTION_MODEL, model->name);
    mx_doc_paragraph(out,
                     "Computed from the model's shapes with the byte counts the ops "
                     "allocate (`mxbench model %s`).",
                     model->name);
    mx_model_document(model, t, out);
    mx_table_free(t);
}

static void write_plots(mx_doc *out, const report_data *d, const plot_outcome outcomes[PLOT_COUNT],
                        const char *skip_notice) {
    mx_doc_heading(out, 2, "%s", SECTION_PLOTS);
    if (skip_notice) mx_doc_paragraph(out, "%s", skip_notice);
    if (d->series_count > d->panel_count)
        mx_doc_paragraph(
            out,
            "The per-shape plots (overhead, time) show the first %d of %d shape series; every "
            "row is in the tables above and in `plot_data/`.",
            d->panel_count, d->series_count);
    mx_text placed = {0};
    for (int i = 0; i < PLOT_COUNT; i++) {
        int target = target_of_plot(&outcomes[i]);
        if (target >= 0)
            mx_text_printf(&placed, "%s%s (target %d)", placed.length ? ", " : "",
                           outcomes[i].title, target + 1);
    }
    if (placed.length)
        mx_doc_paragraph(out, "Drawn under their targets above: %s.", mx_text_get(&placed));
    mx_text_free(&placed);
    for (int i = 0; i < PLOT_COUNT; i++) {
        if (target_of_plot(&outcomes[i]) >= 0) continue;
        mx_doc_heading(out, 3, "%s", outcomes[i].title);
        write_plot(out, d, &outcomes[i]);
    }
}

enum { MAX_LISTED = 40 };

static void write_quantization_caveat(mx_doc *out, const report_data *d) {
    const char *dists[32];
    int dist_count = 0;
    double low = INFINITY, high = 0.0, sqnr_low = INFINITY, sqnr_high = -INFINITY;
    int rows = 0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!report_is_mxfp4(row) || !row->measured || !(row->quant_rel > 0)) continue;
        rows++;
        low = fmin(low, row->quant_rel), high = fmax(high, row->quant_rel);
        sqnr_low = fmin(sqnr_low, row->sqnr_db), sqnr_high = fmax(sqnr_high, row->sqnr_db);
        int k = 0;
        while (k < dist_count && strcmp(dists[k], row->dist) != 0) k++;
        if (k == dist_count && dist_count < 32) dists[dist_count++] = row->dist;
    }
    if (rows == 0) {
        mx_doc_bullet(out, "**Quantization error is not the 1 %% quantity.** No row of this run "
                           "reports it (quant_rel_err).");
        return;
    }
    mx_doc_bullet(
        out,
        "**Quantization error is not the 1 %% quantity.** Against the original unquantized "
        "weights, MXFP4 itself is off by %.1f %% to %.1f %% (SQNR %.1f to %.1f dB) over "
        "%d rows: an E2M1 element keeps one mantissa bit, so MXFP4 cannot meet 1 %% "
        "against unquantized weights and this report does not claim it. The 1 %% target "
        "is the error against FP16 on the same dequantized weights (target 2).",
        low * 100.0, high * 100.0, sqnr_low, sqnr_high, rows);
    mx_doc_table(out, "distribution\trows\tquantization error\tSQNR");
    for (int k = 0; k < dist_count; k++) {
        double dl = INFINITY, dh = 0.0, sl = INFINITY, sh = -INFINITY;
        int n = 0;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (!report_is_mxfp4(row) || !row->measured || !(row->quant_rel > 0) ||
                strcmp(row->dist, dists[k]) != 0)
                continue;
            n++;
            dl = fmin(dl, row->quant_rel), dh = fmax(dh, row->quant_rel);
            sl = fmin(sl, row->sqnr_db), sh = fmax(sh, row->sqnr_db);
        }
        mx_doc_row(out, "%s\t%d\t%.2f to %.2f %%\t%.1f to %.1f dB", dists[k], n, dl * 100.0,
                   dh * 100.0, sl, sh);
    }
}

/* How much the FP16 baseline gained by being the best of cuBLAS's algorithms instead of
 * cublasGemmEx's own choice (fp16_default_us, runs with cublasLt candidates). */
static void write_baseline_caveat(mx_doc *out, const report_data *d) {
    int compared = 0, faster = 0;
    double best_gain = 0.0;
    for (int p = 0; p < d->problem_count; p++) {
        int r = d->problems[p].reference;
        if (r < 0 || !d->rows[r].measured || !(d->rows[r].fp16_default_us > 0)) continue;
        double gain = (1.0 - d->rows[r].time_us / d->rows[r].fp16_default_us) * 100.0;
        compared++;
        faster += gain > 0.0;
        best_gain = fmax(best_gain, gain);
    }
    if (!compared) return;
    mx_doc_bullet(
        out,
        "**FP16 baseline**: in %d of %d problems a cublasLt algorithm beat cublasGemmEx's "
        "own choice (by up to %.1f %%), and every overhead is against the faster one "
        "(`fp16_algo`, `fp16_default_us` in results.csv).",
        faster, compared, best_gain);
}

static void write_caveats(mx_doc *out, const report_data *d) {
    mx_doc_heading(out, 2, "%s", SECTION_CAVEATS);
    write_quantization_caveat(out, d);
    write_baseline_caveat(out, d);

    int broken = 0;
    for (int p = 0; p < d->problem_count; p++) {
        int reference = d->problems[p].reference;
        broken += reference >= 0 && d->rows[reference].nonfinite > 0;
    }
    mx_doc_bullet(
        out,
        "**Non-finite FP16 reference**: %d problem%s where cuBLAS FP16 itself gives "
        "non-finite outputs where the exact result is finite (dequantized weights or "
        "partial sums beyond FP16's range, docs/design.md §2: the range distribution provokes "
        "it). Their error vs FP16 compares against a broken reference; the error vs exact "
        "is the meaningful figure there.",
        broken, broken == 1 ? "" : "s");
    if (broken) {
        mx_doc_table(out, "problem\tFP16 non-finite outputs\tMXFP4 variants with finite outputs");
        for (int p = 0; p < d->problem_count; p++) {
            int reference = d->problems[p].reference;
            if (reference < 0 || !(d->rows[reference].nonfinite > 0)) continue;
            mx_text finite = {0};
            for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
                if (report_is_mxfp4(&d->rows[r]) && d->rows[r].measured &&
                    !(d->rows[r].nonfinite > 0))
                    mx_text_printf(&finite, "%s%s", finite.length ? ", " : "", d->rows[r].variant);
            char what[400];
            report_describe_problem(&d->rows[reference], what, sizeof what);
            mx_doc_row(out, "%s\t%.0f\t%s", what, d->rows[reference].nonfinite,
                       finite.length ? mx_text_get(&finite) : "none");
            mx_text_free(&finite);
        }
    }

    bool has_throttled = mx_table_column_index(d->table, "throttled") >= 0;
    int throttled = 0;
    for (int r = 0; r < d->row_count; r++) throttled += mx_flag_is_true(d->rows[r].throttled);
    if (!has_throttled)
        mx_doc_bullet(out, "**Throttled rows**: unknown (results.csv has no `throttled` column).");
    else
        mx_doc_bullet(out,
                      "**Throttled rows**: %d row%s ran with the SM clock below %.0f %% of the "
                      "start-up clock; their times are pessimistic.",
                      throttled, throttled == 1 ? "" : "s", 100.0 * mx_targets.throttle_fraction);
    if (throttled) {
        mx_doc_table(out, "problem\tvariant\tSM clock\tnote");
        for (int r = 0; r < d->row_count; r++) {
            if (!mx_flag_is_true(d->rows[r].throttled)) continue;
            char what[400], clock[32];
            report_describe_problem(&d->rows[r], what, sizeof what);
            mx_format_known(clock, sizeof clock, d->rows[r].sm_clock_mhz, "%.0f MHz");
            mx_doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, clock, d->rows[r].note);
        }
    }

    if (mx_table_column_index(d->table, "unstable") >= 0) {
        int unstable = 0, listed = 0;
        for (int r = 0; r < d->row_count; r++) unstable += mx_flag_is_true(d->rows[r].unstable);
        mx_doc_bullet(out,
                      "**Unstable rows**: %d row%s belong to problems where `persistent`, "
                      "cublasGemmEx's own call on a copy, measured more than %g %% off that call; "
                      "they are judged by "
                      "no speed target.",
                      unstable, unstable == 1 ? "" : "s", mx_targets.self_check_pct);
        if (unstable) mx_doc_table(out, "problem\tnote");
        for (int r = 0; r < d->row_count && listed < MAX_LISTED; r++)
            if (d->rows[r].reference && mx_flag_is_true(d->rows[r].unstable)) {
                char what[400];
                report_describe_problem(&d->rows[r], what, sizeof what);
                mx_doc_row(out, "%s\t%s", what, d->rows[r].note);
                listed++;
            }
    }

    int failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    mx_doc_bullet(out, "**Failed and skipped rows**: %d failed, %d skipped.", failed, skipped);
    if (failed + skipped) {
        mx_doc_table(out, "problem\tvariant\tstatus\tnote");
        int listed = 0;
        for (int r = 0; r < d->row_count && listed < MAX_LISTED; r++) {
            if (strcmp(d->rows[r].status, "ok") == 0) continue;
            char what[400];
            report_describe_problem(&d->rows[r], what, sizeof what);
            mx_doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, d->rows[r].status,
                       d->rows[r].note);
            listed++;
        }
        if (failed + skipped > listed)
            mx_doc_paragraph(out, "... and %d more (status column of results.csv).",
                             failed + skipped - listed);
    }

    if (isfinite(d->meta.max_noise_pct)) {
        int noisy = 0;
        for (int r = 0; r < d->row_count; r++)
            noisy += d->rows[r].measured && d->rows[r].noise_pct > d->meta.max_noise_pct;
        mx_doc_bullet(out,
                      "**Noisy rows**: %d measured row%s stopped with the median's noise above "
                      "the %.2g %% goal (time budget spent); compare them with care.",
                      noisy, noisy == 1 ? "" : "s", d->meta.max_noise_pct);
    }
}

static void write_report(mx_doc *out, const report_data *d,
                         const target_result results[TARGET_COUNT],
                         const plot_outcome outcomes[PLOT_COUNT], const char *skip_notice) {
    const mx_run_info *m = &d->meta;
    const char *slash = strrchr(d->run_dir, '/');
    const char *name = m->run_id[0] ? m->run_id : slash && slash[1] ? slash + 1 : d->run_dir;
    char title[256];
    snprintf(title, sizeof title, "mxbench report: %s", name);
    mx_doc_begin(out, title);
    mx_doc_heading(out, 1, "%s", title);
    int ok = 0, failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        ok += strcmp(d->rows[r].status, "ok") == 0;
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    mx_doc_paragraph(out,
                     "%s. `results.csv`: %d rows (%d ok, %d fail, %d skipped) in %d problems "
                     "(shape, M, dtype, distribution) of %d weight shapes.",
                     d->caption, d->row_count, ok, failed, skipped, d->problem_count,
                     d->weight_count);
    mx_text variants = {0};
    for (int v = 0; v < d->variant_count; v++)
        mx_text_printf(&variants, "%s`%s`%s", v ? ", " : "", d->variants[v],
                       mx_variant_traits_of(d->variants[v])->reference ? " (cuBLAS FP16 reference)"
                                                                       : "");
    mx_doc_paragraph(out, "Variants: %s.", mx_text_get(&variants));
    mx_text_free(&variants);
    mx_doc_heading(out, 2, "%s", SECTION_SUMMARY);
    write_summary_table(out, d, results);
    if (skip_notice) mx_doc_paragraph(out, "%s", skip_notice);
    mx_doc_paragraph(out, "Per variant (rows of that variant against the row-level targets; "
                          "overhead against cuBLAS FP16 on the same problem):");
    write_variant_table(out, d);
    /* the headline plot right under the summary, then where everything else is */
    if (outcomes[0].state == PLOT_DRAWN)
        mx_doc_figure(out, d->run_dir, outcomes[0].base, outcomes[0].title);
    const mx_model *model = d->meta_read ? mx_model_find(d->meta.suite) : NULL;
    const char *sections[] = {SECTION_ENVIRONMENT,          SECTION_CEILINGS, SECTION_TARGETS,
                              model ? SECTION_MODEL : NULL, SECTION_PLOTS,    SECTION_CAVEATS};
    mx_doc_paragraph(out, "Contents:");
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (!sections[i]) continue;
        char heading[256], anchor[256];
        snprintf(heading, sizeof heading, "%s", sections[i]);
        if (sections[i] == SECTION_MODEL)
            snprintf(heading, sizeof heading, "%s (%s)", SECTION_MODEL, model->name);
        mx_doc_anchor(heading, anchor, sizeof anchor);
        mx_doc_bullet(out, "[%s](#%s)", heading, anchor);
    }
    write_environment(out, d);
    write_targets(out, d, results, outcomes);
    write_model_memory(out, d);
    write_plots(out, d, outcomes, skip_notice);
    write_caveats(out, d);
    mx_doc_end(out, "Written by `mxbench report` from `results.csv` and `run.json`; plot data in "
                    "`plot_data/`.");
}

// ---- the command

bool report_save_text(const char *run_dir, const char *name, const mx_text *content) {
    mx_text path = {0};
    mx_text_printf(&path, "%s/%s", run_dir, name);
    char error[1024];
    bool ok = !content->failed && !path.failed &&
              mx_write_file_atomic(mx_text_get(&path), mx_text_get(content), content->length, error,
                                   sizeof error);
    if (!ok) mx_cli_error("report: %s", content->failed ? "out of memory" : error);
    mx_text_free(&path);
    return ok;
}

static void free_report(report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; results && i < TARGET_COUNT; i++) free(results[i].items);
    report_free(d);
}

static int run_report(const mx_parsed_options *parsed) {
    const char *out = mx_option_value(parsed, "out");
    if (parsed->argument_count > 1 || out) {
        if (!out) {
            mx_cli_error("report: %d runs: --out DIR names where their comparison goes",
                         parsed->argument_count);
            return MX_EXIT_INPUT;
        }
        return report_gpus(out, parsed->arguments, parsed->argument_count,
                           mx_option_value(parsed, "no-plots") != NULL);
    }
    report_data d;
    int loaded = report_load_run(&d, parsed->arguments[0]);
    if (loaded != MX_EXIT_OK) return loaded;
    target_result results[TARGET_COUNT];
    report_judge(&d, results);

    mx_gnuplot gnuplot;
    char skip_reason[4096 + 64] = "", skip_notice[8192] = "", bundle[4096];
    mx_data_path("deps", bundle, sizeof bundle);
    if (mx_option_value(parsed, "no-plots"))
        snprintf(skip_reason, sizeof skip_reason, "--no-plots was given");
    else if (!mx_gnuplot_find(&gnuplot))
        snprintf(skip_reason, sizeof skip_reason,
                 "gnuplot was not found (searched PATH, then %s/usr/bin)", bundle);
    if (skip_reason[0])
        snprintf(skip_notice, sizeof skip_notice, "**Plots skipped**: %s. To draw them, %s.",
                 skip_reason,
                 mx_option_value(parsed, "no-plots") ? "run `mxbench report` without --no-plots"
                                                     : mx_gnuplot_advice);
    plot_outcome outcomes[PLOT_COUNT];
    report_draw_plots(&d, skip_reason[0] ? NULL : &gnuplot, skip_reason, outcomes);

    mx_doc report = {0};
    write_report(&report, &d, results, outcomes, skip_notice[0] ? skip_notice : NULL);
    bool saved = report_save_text(d.run_dir, "report.md", &report.md) &&
                 report_save_text(d.run_dir, "report.html", &report.html);
    mx_doc_free(&report);

    mx_doc summary = {0};
    write_summary_table(&summary, &d, results);
    mx_doc_close(&summary);
    printf("%s", mx_text_get(&summary.md));
    mx_doc_free(&summary);
    int exit_code = saved ? MX_EXIT_OK : MX_EXIT_FAILED;
    for (int i = 0; i < PLOT_COUNT; i++) {
        if (outcomes[i].state == PLOT_DRAWN)
            printf("plot: %s/%s.png, %s.svg\n", d.run_dir, outcomes[i].base, outcomes[i].base);
        else if (outcomes[i].state == PLOT_FAILED)
            fprintf(stderr, "mxbench: error: report: plot %s: %s\n", outcomes[i].base,
                    outcomes[i].message),
                exit_code = MX_EXIT_FAILED;
    }
    if (skip_reason[0])
        printf("plots skipped: %s; to draw them, %s\n", skip_reason,
               mx_option_value(parsed, "no-plots") ? "run without --no-plots" : mx_gnuplot_advice);
    if (saved) printf("report: %s/report.md, %s/report.html\n", d.run_dir, d.run_dir);
    free_report(&d, results);
    return exit_code;
}

static const mx_option report_options[] = {
    {"no-plots", NULL, "write the report without drawing the plots (their data is still written)",
     NULL, false},
    {"out", "DIR",
     "with runs of several GPU models: where their side-by-side report goes (report_gpus.md, "
     ".html, gpus.png)",
     NULL, true},
};

const mx_command mx_report_command = {
    "report",
    "Plots and report.md/report.html of a run folder, judged against the targets.",
    "Reads RUN_DIR/results.csv (and run.json) and writes into RUN_DIR: the plots as PNG and SVG\n"
    "(overhead, error, vram, throughput, time; drawn by gnuplot with the scripts in plots/, from\n"
    "data it writes to RUN_DIR/plot_data/), report.md, and report.html (self-contained, the SVGs\n"
    "inlined). The report holds a summary table per target of docs/design.md §7 (also printed "
    "here),\n"
    "the environment and ceilings, the five worst rows per target, the plots and the caveats.\n"
    "gnuplot is looked up on PATH (gnuplot, gnuplot-nox), then in the offline bundle that\n"
    "`.ci/deps.sh ensure bench` unpacks (.deps/root/usr/bin of a checkout); without it the report "
    "is\n"
    "written all the same and says how to get it. Files are replaced atomically. With runs of\n"
    "several GPU models and --out DIR: DIR/report_gpus.md and .html (each problem's best MXFP4\n"
    "speed-up over FP16 per GPU model, the median per regime) and gpus.png / .svg instead.\n"
    "A plot or file that cannot be written exits 1; unusable input 2 (no such folder, a missing\n"
    "or malformed results.csv, required columns missing: the message names the file and line\n"
    "or columns).",
    report_options,
    (int)(sizeof report_options / sizeof report_options[0]),
    run_report,
    1,
    8,
    "RUN_DIR [RUN_DIR...]",
    NULL,
};
