/* The report's plots: their data files (plot_data/), variables and scripts (plots/), drawn with
 * gnuplot (report_data.h). */
#include "report_data.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "targets.h"
#include "text.h"
#include "variants.h"

#define THROUGHPUT_LARGE_M 1024 /* rows drawn in the TFLOP/s panel */

// ---- plot data and plots

enum { MAX_PLOT_FILES = 2, MAX_PLOT_VARIABLES = 24 };

typedef struct {
    int file_count, variable_count;
    char file_names[MAX_PLOT_FILES][32], file_variables[MAX_PLOT_FILES][32];
    mx_text files[MAX_PLOT_FILES];
    char variable_names[MAX_PLOT_VARIABLES][32];
    mx_text variable_values[MAX_PLOT_VARIABLES];
} plot_job;

typedef struct {
    const char *base; /* images base.png and base.svg, data plot_data/base*.dat */
    const char *script;
    const char *title;
    const char *caption; /* how to read it */
    /* Fills the job's data files and variables; false when the run has nothing to draw. */
    bool (*prepare)(const report_data *d, plot_job *job);
} plot_def;

static mx_text *job_file(plot_job *job, const char *variable, const char *name) {
    int i = job->file_count++;
    snprintf(job->file_variables[i], sizeof job->file_variables[i], "%s", variable);
    snprintf(job->file_names[i], sizeof job->file_names[i], "%s", name);
    return &job->files[i];
}

static void job_set(plot_job *job, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void job_set(plot_job *job, const char *name, const char *format, ...) {
    if (job->variable_count == MAX_PLOT_VARIABLES) return; /* a script lacking it fails loudly */
    int i = job->variable_count++;
    snprintf(job->variable_names[i], sizeof job->variable_names[i], "%s", name);
    va_list args;
    va_start(args, format);
    mx_text_vprintf(&job->variable_values[i], format, args);
    va_end(args);
}

static void job_free(plot_job *job) {
    for (int i = 0; i < MAX_PLOT_FILES; i++) mx_text_free(&job->files[i]);
    for (int i = 0; i < MAX_PLOT_VARIABLES; i++) mx_text_free(&job->variable_values[i]);
}

static void put_value(mx_text *file, double value) {
    if (isfinite(value))
        mx_text_printf(file, "\t%.6g", value);
    else
        mx_text_printf(file, "\tNaN");
}

/* The variants a plot draws, space separated: every one, or the MXFP4 ones only; their colours
 * and point types (variants.h) in the same order, for common.gp's vcolor and vpoint; and the
 * targets' values for the target lines. */
static void job_variants(const report_data *d, plot_job *job, bool with_reference) {
    mx_text names = {0}, colors = {0}, points = {0};
    for (int v = 0; v < d->variant_count; v++) {
        const mx_variant_traits *traits = mx_variant_traits_of(d->variants[v]);
        if (!with_reference && traits->reference) continue;
        const char *space = names.length ? " " : "", *color;
        int point;
        mx_variant_style(d->variants[v], &color, &point);
        mx_text_printf(&names, "%s%s", space, d->variants[v]);
        mx_text_printf(&colors, "%s%s", space, color);
        mx_text_printf(&points, "%s%d", space, point);
    }
    job_set(job, "variants", "%s", mx_text_get(&names));
    job_set(job, "vcolors", "%s", mx_text_get(&colors));
    job_set(job, "vpoints", "%s", mx_text_get(&points));
    /* the target lines (targets.h) */
    job_set(job, "target_overhead_pct", "%.6e", mx_targets.overhead_pct);
    job_set(job, "target_rel_fp16", "%.6e", mx_targets.rel_vs_fp16);
    job_set(job, "target_rel_exact", "%.6e", mx_targets.rel_vs_exact);
    job_set(job, "target_bw_pct", "%.6e", mx_targets.bandwidth_pct);
    job_set(job, "target_vram_pct", "%.6e", mx_targets.vram_saved_pct);
    mx_text_free(&names);
    mx_text_free(&colors);
    mx_text_free(&points);
}

static bool has_mxfp4_variant(const report_data *d) {
    for (int v = 0; v < d->variant_count; v++)
        if (!mx_variant_traits_of(d->variants[v])->reference) return true;
    return false;
}

/* The problems of series s ordered by M (the first of each M), into out; returns the count. */
static int series_problems(const report_data *d, int s, int *out) {
    int count = 0;
    for (int p = 0; p < d->problem_count; p++) {
        if (d->problems[p].series != s) continue;
        int64_t m = d->rows[d->problems[p].first].m;
        int at = count;
        while (at > 0 && d->rows[d->problems[out[at - 1]].first].m > m) at--;
        if (at > 0 && d->rows[d->problems[out[at - 1]].first].m == m) continue;
        memmove(out + at + 1, out + at, sizeof *out * (size_t)(count - at));
        out[at] = p;
        count++;
    }
    return count;
}

/* panels and panel_titles (gnuplot quoted words) of the per-shape plots. */
static void panel_titles(const report_data *d, plot_job *job) {
    mx_text titles = {0};
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        char title[320];
        report_describe_series(&d->rows[d->problems[d->series[s].first_problem].first], title,
                               sizeof title);
        for (char *c = title; *c; c++)
            if (*c == '"') *c = '\'';
        mx_text_printf(&titles, "%s\"%s\"", titles.length ? " " : "", title);
    }
    job_set(job, "panels", "%d", d->panel_count);
    job_set(job, "panel_titles", "%s", mx_text_get(&titles));
    mx_text_free(&titles);
}

static bool prepare_overhead(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d) || d->panel_count == 0) return false;
    mx_text *file = job_file(job, "data", "overhead.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    int64_t *ms = malloc(sizeof *ms * (size_t)d->problem_count);
    if (!order || !ms) {
        free(order);
        free(ms);
        return false;
    }
    int m_count = 0;
    double low = 1.0, high = 1.0 + mx_targets.overhead_pct / 100.0;
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        mx_text_printf(file, "# t / t_FP16 per variant (NaN: no result)\n# M");
        for (int v = 0; v < d->variant_count; v++)
            if (!mx_variant_traits_of(d->variants[v])->reference)
                mx_text_printf(file, "\t%s", d->variants[v]);
        mx_text_printf(file, "\tbest\n");
        int count = series_problems(d, s, order);
        for (int i = 0; i < count; i++) {
            const problem *pr = &d->problems[order[i]];
            int64_t m = d->rows[pr->first].m;
            int at = 0;
            while (at < m_count && ms[at] < m) at++;
            if (at == m_count || ms[at] != m) {
                memmove(ms + at + 1, ms + at, sizeof *ms * (size_t)(m_count - at));
                ms[at] = m;
                m_count++;
            }
            mx_text_printf(file, "%lld", (long long)m);
            for (int v = 0; v < d->variant_count; v++) {
                if (mx_variant_traits_of(d->variants[v])->reference) continue;
                const result_row *row = report_variant_row(d, order[i], d->variants[v]);
                double ratio = row ? report_ratio(d, (int)(row - d->rows)) : NAN;
                put_value(file, ratio);
                if (isfinite(ratio)) {
                    low = fmin(low, ratio), high = fmax(high, ratio);
                    any = true;
                }
            }
            put_value(file, report_ratio(d, pr->best));
            mx_text_printf(file, "\n");
        }
        mx_text_printf(file, "\n\n");
    }
    /* At most 9 tics on the M axis: every other value until they fit. */
    int step = 1;
    while ((m_count + step - 1) / step > 9) step *= 2;
    mx_text tics = {0};
    for (int i = 0; i < m_count; i += step)
        mx_text_printf(&tics, "%s%lld", tics.length ? " " : "", (long long)ms[i]);
    free(order);
    free(ms);
    job_variants(d, job, false);
    panel_titles(d, job);
    job_set(job, "mvalues", "%s", mx_text_get(&tics));
    mx_text_free(&tics);
    job_set(job, "ymin", "%.6e", low / 1.25);
    job_set(job, "ymax", "%.6e", high * 1.25);
    return any;
}

/* Whether variant v has a measured row in series s (its bar has a slot in that panel). */
static bool series_has_variant(const report_data *d, const int *order, int count, int v) {
    for (int i = 0; i < count; i++) {
        const result_row *row = report_variant_row(d, order[i], d->variants[v]);
        if (row && row->measured) return true;
    }
    return false;
}

/* One block per panel with a column per variant measured in that panel (so that an op's bars
 * are not spread over the slots of every other op's variants); panel_variants holds each
 * panel's variant names, comma-joined, one word per panel. */
static bool prepare_time(const report_data *d, plot_job *job) {
    if (d->panel_count == 0) return false;
    mx_text *file = job_file(job, "data", "time.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    mx_text panel_variants = {0};
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        int count = series_problems(d, s, order);
        mx_text_printf(file, "# median, fastest and slowest sample in us per variant (NaN: no "
                             "result)\n# index\tM");
        mx_text_printf(&panel_variants, "%s", panel_variants.length ? " " : "");
        bool first = true;
        for (int v = 0; v < d->variant_count; v++) {
            if (!series_has_variant(d, order, count, v)) continue;
            mx_text_printf(file, "\t%s\tmin\tmax", d->variants[v]);
            mx_text_printf(&panel_variants, "%s%s", first ? "" : ",", d->variants[v]);
            first = false;
        }
        if (first) mx_text_printf(&panel_variants, "none");
        mx_text_printf(file, "\n");
        for (int i = 0; i < count; i++) {
            mx_text_printf(file, "%d\t%lld", i, (long long)d->rows[d->problems[order[i]].first].m);
            for (int v = 0; v < d->variant_count; v++) {
                if (!series_has_variant(d, order, count, v)) continue;
                const result_row *row = report_variant_row(d, order[i], d->variants[v]);
                bool measured = row && row->measured;
                put_value(file, measured ? row->time_us : NAN);
                put_value(file, measured ? row->time_min_us : NAN);
                put_value(file, measured ? row->time_max_us : NAN);
                any |= measured;
            }
            mx_text_printf(file, "\n");
        }
        mx_text_printf(file, "\n\n");
    }
    free(order);
    job_variants(d, job, true);
    panel_titles(d, job);
    job_set(job, "panel_variants", "%s", mx_text_get(&panel_variants));
    mx_text_free(&panel_variants);
    return any;
}

/* Every how many rows a categorical axis is labelled: at most about 70 labels. */
static int axis_label_step(int rows) {
    return rows > 70 ? (rows + 69) / 70 : 1;
}

/* Problems in plot order: series by series, M ascending. Returns the count. */
static int problems_in_plot_order(const report_data *d, int *out) {
    int count = 0;
    for (int s = 0; s < d->series_count; s++) count += series_problems(d, s, out + count);
    return count;
}

static bool prepare_error(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double smallest = INFINITY, largest = 0.0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        double values[] = {row->rel_vs_fp16, row->rel_vs_exact, row->quant_rel};
        for (int i = 0; i < 3 && row->measured && !(row->nonfinite > 0); i++)
            if (values[i] > 0 && isfinite(values[i])) {
                smallest = fmin(smallest, values[i]);
                largest = fmax(largest, values[i]);
            }
    }
    /* A log axis has no 0: zeros (the same arithmetic as the reference) sit on a labelled floor
     * a decade below the smallest nonzero value. */
    double zero_at = isfinite(smallest) ? pow(10.0, floor(log10(smallest)) - 1.0) : 1e-8;
    zero_at = fmin(fmax(zero_at, 1e-12), 1e-4);
    mx_text *file = job_file(job, "data", "error.dat");
    mx_text_printf(file, "# index\tlabel\tquant_rel_err");
    for (int v = 0; v < d->variant_count; v++) mx_text_printf(file, "\tvs_fp16:%s", d->variants[v]);
    for (int v = 0; v < d->variant_count; v++)
        mx_text_printf(file, "\tvs_exact:%s", d->variants[v]);
    mx_text_printf(file, "\tnonfinite\n# errors are relative; 0 is written as %g\n", zero_at);
    int label_step = axis_label_step(count);
    bool any = false;
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        char label[320] = "";
        if (i % label_step == 0) report_describe_problem(&d->rows[pr->first], label, sizeof label);
        double quant = NAN;
        bool nonfinite = false;
        for (int r = pr->first; r >= 0; r = d->rows[r].next) {
            nonfinite |= d->rows[r].nonfinite > 0;
            if (isnan(quant) && report_is_mxfp4(&d->rows[r]) && d->rows[r].measured)
                quant = d->rows[r].quant_rel;
        }
        mx_text_printf(file, "%d\t%s", i, label);
        put_value(file, quant > 0 ? quant : NAN);
        for (int pass = 0; pass < 2; pass++)
            for (int v = 0; v < d->variant_count; v++) {
                const result_row *row = report_variant_row(d, order[i], d->variants[v]);
                double value = !row || !row->measured || row->nonfinite > 0 ? NAN
                               : pass == 0                                  ? row->rel_vs_fp16
                                                                            : row->rel_vs_exact;
                put_value(file, isfinite(value) ? fmax(value, zero_at) : NAN);
                any |= isfinite(value);
            }
        put_value(file, nonfinite ? 1.0 : NAN);
        mx_text_printf(file, "\n");
    }
    free(order);
    job_variants(d, job, true);
    job_set(job, "count", "%d", count);
    job_set(job, "zero_at", "%.6e", zero_at);
    job_set(job, "ymax", "%.6e", fmax(1.0, largest * 3.0));
    return any;
}

static bool prepare_vram(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    mx_text *file = job_file(job, "data", "vram.dat");
    mx_text_printf(file, "# index\tweight\tlowest judged VRAM saving (measured where known) per "
                         "MXFP4 variant\n");
    double lowest = 0.0;
    bool any = false;
    int label_step = axis_label_step(d->weight_count);
    for (int w = 0; w < d->weight_count; w++) {
        char label[192] = "";
        if (w % label_step == 0)
            report_describe_weight(&d->rows[d->weights[w]], label, sizeof label);
        mx_text_printf(file, "%d\t%s", w, label);
        for (int v = 0; v < d->variant_count; v++) {
            if (mx_variant_traits_of(d->variants[v])->reference) continue;
            double saved = NAN;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                double judged = report_vram_saved(row);
                if (strcmp(row->variant, d->variants[v]) == 0 && isfinite(judged) &&
                    report_same_weight(row, &d->rows[d->weights[w]]))
                    saved = isnan(saved) ? judged : fmin(saved, judged);
            }
            put_value(file, saved);
            if (isfinite(saved)) lowest = fmin(lowest, saved), any = true;
        }
        mx_text_printf(file, "\n");
    }
    job_variants(d, job, false);
    job_set(job, "count", "%d", d->weight_count);
    job_set(job, "ymin", "%.6e", lowest);
    return any;
}

/* One throughput panel: the problems whose M is in [m_low, m_high], one column per variant. */
static int throughput_file(const report_data *d, mx_text *file, const int *order, int count,
                           int64_t m_low, int64_t m_high, size_t field, double *largest,
                           bool *any) {
    mx_text_printf(file, "# index\tproblem\t%s per variant\n",
                   field == offsetof(result_row, pct_peak_bw) ? "pct_peak_bw" : "pct_peak_flops");
    int lines = 0, in_range = 0;
    for (int i = 0; i < count; i++) {
        int64_t m = d->rows[d->problems[order[i]].first].m;
        in_range += m >= m_low && m <= m_high;
    }
    int label_step = axis_label_step(in_range);
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        int64_t m = d->rows[pr->first].m;
        if (m < m_low || m > m_high) continue;
        char label[320] = "";
        if (lines % label_step == 0)
            report_describe_problem(&d->rows[pr->first], label, sizeof label);
        mx_text_printf(file, "%d\t%s", lines++, label);
        for (int v = 0; v < d->variant_count; v++) {
            const result_row *row = report_variant_row(d, order[i], d->variants[v]);
            double value =
                row && row->measured ? *(const double *)((const char *)row + field) : NAN;
            put_value(file, value);
            if (isfinite(value)) *largest = fmax(*largest, value), *any = true;
        }
        mx_text_printf(file, "\n");
    }
    return lines;
}

static bool prepare_throughput(const report_data *d, plot_job *job) {
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double bw_largest = 100.0, flops_largest = 100.0;
    bool any = false;
    int bw_lines = throughput_file(d, job_file(job, "bw_data", "throughput_bw.dat"), order, count,
                                   1, mx_targets.decode_max_m, offsetof(result_row, pct_peak_bw),
                                   &bw_largest, &any);
    int flops_lines = throughput_file(d, job_file(job, "flops_data", "throughput_flops.dat"), order,
                                      count, THROUGHPUT_LARGE_M, INT64_MAX,
                                      offsetof(result_row, pct_peak_flops), &flops_largest, &any);
    free(order);
    job_variants(d, job, true);
    job_set(job, "bw_count", "%d", bw_lines);
    job_set(job, "flops_count", "%d", flops_lines);
    job_set(job, "bw_ymax", "%.6e", bw_largest * 1.08);
    job_set(job, "flops_ymax", "%.6e", flops_largest * 1.08);
    char copy[32], tflops[32];
    mx_format_known(copy, sizeof copy, d->meta.copy_gbps, "%.0f");
    mx_format_known(tflops, sizeof tflops, d->meta.fp16_tflops, "%.0f");
    job_set(job, "copy_gbps", "%s", copy);
    job_set(job, "fp16_tflops", "%s", tflops);
    return any;
}

static const plot_def report_plots[] = {
    {"overhead", "overhead.gp", "Overhead vs cuBLAS FP16",
     "Per weight shape (with dtype and distribution): t / t_FP16 of each MXFP4 variant against M "
     "on log axes, labelled as overhead; the thick line is the best MXFP4 variant (none that keeps "
     "an FP16 copy), the dashed red line the overhead target, below 0 % MXFP4 is faster.",
     prepare_overhead},
    {"error", "error.gp", "Error vs FP16 reference, kernel error and quantization error",
     "Top: relative error of each variant against cuBLAS FP16 on the same dequantized weights "
     "(target 2), and, as black squares, the quantization error against the original "
     "unquantized weights: a different quantity that target 2 does not apply to. Bottom: "
     "each path's error against the exact FP64 product (target 3). Exact zeros sit on the "
     "axis floor labelled 0; problems with non-finite outputs are marked with a red x.",
     prepare_error},
    {"vram", "vram.gp", "VRAM saved per variant",
     "Weight memory saved against FP16 per weight shape and variant, including every workspace "
     "the variant needs; the dashed line is the format's limit (73.4 %). Variants that hold an "
     "FP16 copy of the weights (dequant_cublas's temporary, persistent's cache) fall below zero.",
     prepare_vram},
    {"throughput", "throughput.gp", "Achieved bandwidth and compute against the ceilings",
     "Top: M <= 16, bytes moved per second as % of the measured copy bandwidth (the dashed line "
     "is target 5). Bottom: M >= 1024, TFLOP/s as % of cuBLAS FP16 at 8192^3.",
     prepare_throughput},
    {"time", "time.gp", "Time per variant",
     "Median time per variant (log axis) for each weight shape and M, with a bar from the "
     "fastest to the slowest sample; fp16 is the cuBLAS reference.",
     prepare_time},
};
_Static_assert(sizeof report_plots / sizeof report_plots[0] == PLOT_COUNT,
               "PLOT_COUNT counts the table");

/* Writes every plot's data into RUN_DIR/plot_data/ and, with gnuplot, draws it. */
void report_draw_plots(const report_data *d, const mx_gnuplot *gnuplot, const char *skip_reason,
                       plot_outcome outcomes[PLOT_COUNT]) {
    mx_text folder = {0};
    mx_text_printf(&folder, "%s/plot_data", d->run_dir);
    bool folder_ok = mx_ensure_folder(mx_text_get(&folder));
    for (int i = 0; i < PLOT_COUNT; i++) {
        plot_outcome *outcome = &outcomes[i];
        plot_job job = {0};
        *outcome = (plot_outcome){.state = PLOT_DRAWN,
                                  .base = report_plots[i].base,
                                  .title = report_plots[i].title,
                                  .caption = report_plots[i].caption};
        if (!report_plots[i].prepare(d, &job)) {
            outcome->state = PLOT_NO_DATA;
            snprintf(outcome->message, sizeof outcome->message, "nothing to draw in this run");
            job_free(&job);
            continue;
        }
        mx_plot_variable variables[MAX_PLOT_VARIABLES + MAX_PLOT_FILES + 1];
        mx_text paths[MAX_PLOT_FILES] = {{0}}, title = {0}, out_base = {0};
        int count = 0;
        for (int f = 0; f < job.file_count && outcome->state == PLOT_DRAWN; f++) {
            mx_text_printf(&paths[f], "%s/%s", mx_text_get(&folder), job.file_names[f]);
            char error[1024];
            if (!folder_ok || job.files[f].failed ||
                !mx_write_file_atomic(mx_text_get(&paths[f]), mx_text_get(&job.files[f]),
                                      job.files[f].length, error, sizeof error)) {
                outcome->state = PLOT_FAILED;
                snprintf(outcome->message, sizeof outcome->message, "writing %s: %s",
                         mx_text_get(&paths[f]),
                         folder_ok ? (job.files[f].failed ? "out of memory" : error)
                                   : strerror(errno));
            }
            variables[count++] = (mx_plot_variable){job.file_variables[f], mx_text_get(&paths[f])};
        }
        for (int v = 0; v < job.variable_count; v++)
            variables[count++] =
                (mx_plot_variable){job.variable_names[v], mx_text_get(&job.variable_values[v])};
        mx_text_printf(&title, "%s — %s", report_plots[i].title, d->caption);
        variables[count++] = (mx_plot_variable){"title", mx_text_get(&title)};
        mx_text_printf(&out_base, "%s/%s", d->run_dir, report_plots[i].base);
        if (outcome->state == PLOT_DRAWN && !gnuplot) {
            outcome->state = PLOT_SKIPPED;
            snprintf(outcome->message, sizeof outcome->message, "%s", skip_reason);
        } else if (outcome->state == PLOT_DRAWN &&
                   !mx_plot_render(gnuplot, report_plots[i].script, variables, count,
                                   mx_text_get(&out_base), outcome->message,
                                   sizeof outcome->message)) {
            outcome->state = PLOT_FAILED;
        }
        for (int f = 0; f < MAX_PLOT_FILES; f++) mx_text_free(&paths[f]);
        mx_text_free(&title);
        mx_text_free(&out_base);
        job_free(&job);
    }
    mx_text_free(&folder);
}
