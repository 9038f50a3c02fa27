/* `mxbench compare BASE CUR` (the nightly gate): run folders loaded and keyed (run_folder.h), each
 * row judged from its samples, the verdicts printed, saved and plotted. `mxbench baseline` is in
 * baseline.c. */
#include "compare.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "report.h"
#include "run_folder.h"
#include "schema.h"
#include "stats.h"
#include "table.h"
#include "text.h"
#include "variants.h"

// ---- verdicts

static const char *const verdict_names[MX_VERDICT_COUNT] = {
    "ACCURACY", "MISSING", "SLOWER", "UNSURE", "SAME", "FASTER", "NEW", "SKIPPED"};

const char *mx_verdict_string(mx_verdict verdict) {
    return (unsigned)verdict < MX_VERDICT_COUNT ? verdict_names[verdict] : "?";
}

bool mx_verdict_is_regression(mx_verdict verdict) {
    return verdict == MX_VERDICT_ACCURACY || verdict == MX_VERDICT_MISSING ||
           verdict == MX_VERDICT_SLOWER;
}

/* z with P(Z > z) = tail for a standard normal variable (tail in (0, 0.5]), by bisection. */
static double normal_upper_quantile(double tail) {
    double low = 0.0, high = 40.0;
    for (int i = 0; i < 100; i++) {
        double middle = 0.5 * (low + high);
        *(0.5 * erfc(middle / sqrt(2.0)) > tail ? &low : &high) = middle;
    }
    return 0.5 * (low + high);
}

void mx_compare_timing(const double *base, int base_count, const double *cur, int cur_count,
                       const mx_compare_rule *rule, mx_timing_verdict *out) {
    mx_sample_stats b, c;
    mx_stats_compute(base, base_count, &b);
    mx_stats_compute(cur, cur_count, &c);
    *out = (mx_timing_verdict){.verdict = MX_VERDICT_UNSURE,
                               .base_count = base_count,
                               .cur_count = cur_count,
                               .base_median_us = b.median,
                               .cur_median_us = c.median,
                               .change_pct = (c.median / b.median - 1.0) * 100.0,
                               .band_low_pct = NAN,
                               .band_high_pct = NAN,
                               .base_noise_pct = b.noise_pct,
                               .cur_noise_pct = c.noise_pct,
                               .p_value = NAN};
    /* The relative standard errors of the medians add in quadrature on the log of their ratio. */
    double spread = hypot(b.noise_pct, c.noise_pct) / 100.0;
    double z = normal_upper_quantile(rule->alpha / 2.0);
    if (isfinite(spread)) {
        out->band_low_pct = (exp(-z * spread) - 1.0) * 100.0;
        out->band_high_pct = (exp(z * spread) - 1.0) * 100.0;
    }
    if (base_count < MX_COMPARE_MIN_SAMPLES || cur_count < MX_COMPARE_MIN_SAMPLES) {
        bool base_short = base_count < MX_COMPARE_MIN_SAMPLES;
        mx_format_text(out->reason, sizeof out->reason,
                       "only %d samples in %s (the U test needs %d a side)",
                       base_short ? base_count : cur_count, base_short ? "BASE" : "CUR",
                       MX_COMPARE_MIN_SAMPLES);
        return;
    }
    if (!(b.median > 0.0) || !isfinite(out->change_pct)) {
        mx_format_text(out->reason, sizeof out->reason, "the BASE median is not a positive time");
        return;
    }
    out->p_value = mx_stats_mann_whitney_p(base, base_count, cur, cur_count);
    if (isnan(out->p_value)) {
        mx_format_text(out->reason, sizeof out->reason, "the U test failed (out of memory)");
        return;
    }
    bool significant = out->p_value < rule->alpha;
    bool large = fabs(out->change_pct) >= rule->min_change_pct;
    /* Below the minimum change a row is the SAME, detectable or not: two runs on one board
     * differ by 1-3 % with p far below alpha, and that is not what the gate is for. */
    if (significant && large)
        out->verdict = out->change_pct > 0.0 ? MX_VERDICT_SLOWER : MX_VERDICT_FASTER;
    else if (!large) {
        out->verdict = MX_VERDICT_SAME;
        if (significant)
            mx_format_text(out->reason, sizeof out->reason,
                           "a real change (p %.2g < %g) but smaller than the %g %% that counts",
                           out->p_value, rule->alpha, rule->min_change_pct);
    } else
        mx_format_text(out->reason, sizeof out->reason,
                       "%+.1f %% but not significant (p %.2g >= %g): within the noise",
                       out->change_pct, out->p_value, rule->alpha);
}

// ---- compare

typedef struct {
    long base_row, cur_row; /* -1: absent from that run */
    size_t order;           /* BASE's row order, then rows only in CUR */
    mx_verdict verdict;
    bool timed; /* both measured: timing holds the medians and the change */
    mx_timing_verdict timing;
    char reason[512];
} compared_row;

static void describe_unmeasured(const mx_run_folder *run, long row, const char *side, char *text,
                                size_t size) {
    const char *note = mx_run_cell(run->results, (size_t)row, "note");
    mx_format_append(text, size, "not measured in %s (status %s%s%s)", side,
                     mx_run_cell(run->results, (size_t)row, "status"), note[0] ? ": " : "", note);
}

static void judge_row(const mx_run_folder *base, const mx_run_folder *cur,
                      const mx_compare_rule *rule, compared_row *row) {
    long b = row->base_row, c = row->cur_row;
    bool base_measured = b >= 0 && !isnan(base->time_us[b]);
    bool cur_measured = c >= 0 && !isnan(cur->time_us[c]);
    row->reason[0] = '\0';
    if (base_measured && cur_measured) {
        double *base_samples = NULL, *cur_samples = NULL;
        int nb = mx_run_samples(base, base->keys[b], &base_samples);
        int nc = mx_run_samples(cur, cur->keys[c], &cur_samples);
        mx_compare_timing(base_samples, nb, cur_samples, nc, rule, &row->timing);
        free(base_samples);
        free(cur_samples);
        if (nb == 0 || nc == 0) { /* judged UNSURE; the medians come from results.csv */
            if (nb == 0) row->timing.base_median_us = base->time_us[b];
            if (nc == 0) row->timing.cur_median_us = cur->time_us[c];
            row->timing.change_pct =
                (row->timing.cur_median_us / row->timing.base_median_us - 1.0) * 100.0;
            mx_format_text(row->timing.reason, sizeof row->timing.reason,
                           "no samples of this row in %s",
                           nb == 0 ? base->samples_path : cur->samples_path);
        }
        row->timed = true;
    }
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
    const char *base_pass = mx_run_cell(base->results, (size_t)b, "pass_error");
    const char *cur_pass = mx_run_cell(cur->results, (size_t)c, "pass_error");
    const char *base_status = mx_run_cell(base->results, (size_t)b, "status");
    const char *cur_status = mx_run_cell(cur->results, (size_t)c, "status");
    bool error_lost = mx_flag_value(base_pass) == 1 && mx_flag_value(cur_pass) == 0;
    bool status_lost = !strcmp(base_status, "ok") && !strcmp(cur_status, "fail");
    if (error_lost || status_lost) {
        row->verdict = MX_VERDICT_ACCURACY;
        if (error_lost) {
            mx_format_append(row->reason, sizeof row->reason, "pass_error true -> false");
            static const char *const errors[] = {"rel_err_vs_fp16", "rel_err_vs_exact",
                                                 "nonfinite"};
            for (int i = 0; i < 3; i++)
                if (mx_run_cell(base->results, (size_t)b, errors[i])[0] ||
                    mx_run_cell(cur->results, (size_t)c, errors[i])[0])
                    mx_format_append(row->reason, sizeof row->reason, "%s %s %s -> %s",
                                     i ? "," : ":", errors[i],
                                     mx_run_cell(base->results, (size_t)b, errors[i]),
                                     mx_run_cell(cur->results, (size_t)c, errors[i]));
        }
        if (status_lost) {
            const char *note = mx_run_cell(cur->results, (size_t)c, "note");
            mx_format_append(row->reason, sizeof row->reason, "%sstatus ok -> fail%s%s",
                             error_lost ? "; " : "", note[0] ? ": " : "", note);
        }
    } else if (base_measured != cur_measured) {
        row->verdict = base_measured ? MX_VERDICT_MISSING : MX_VERDICT_NEW;
        if (base_measured)
            describe_unmeasured(cur, c, "CUR", row->reason, sizeof row->reason);
        else
            describe_unmeasured(base, b, "BASE", row->reason, sizeof row->reason);
    } else if (!base_measured) {
        row->verdict = MX_VERDICT_SKIPPED;
        describe_unmeasured(cur, c, "either run", row->reason, sizeof row->reason);
    } else {
        row->verdict = row->timing.verdict;
        mx_format_append(row->reason, sizeof row->reason, "%s", row->timing.reason);
    }
    /* Variants that time cuBLAS alone (variants.h: fp16, persistent) run no mxbench kernel.
     * They are the control: a change there is the environment (board, driver, cuBLAS), which the
     * report shows but the gate must not blame on the code. */
    const char *variant = mx_run_cell(cur->results, (size_t)c, "variant");
    if ((row->verdict == MX_VERDICT_SLOWER || row->verdict == MX_VERDICT_FASTER) &&
        mx_variant_traits_of(variant)->cublas_only) {
        mx_format_append(
            row->reason, sizeof row->reason,
            "%s not gated (p %.2g): this row times cuBLAS alone, a change is the environment",
            mx_verdict_string(row->verdict), row->timing.p_value);
        row->verdict = MX_VERDICT_UNSURE;
    }
    const mx_run_folder *runs[2] = {base, cur};
    long rows[2] = {b, c};
    bool throttled = false;
    for (int i = 0; i < 2 && row->timed; i++) {
        if (!mx_flag_is_true(mx_run_cell(runs[i]->results, (size_t)rows[i], "throttled"))) continue;
        /* A row timed at a lowered SM clock (run flags it) says nothing about the code. */
        if (!throttled &&
            (row->verdict == MX_VERDICT_SLOWER || row->verdict == MX_VERDICT_FASTER)) {
            mx_format_append(row->reason, sizeof row->reason,
                             "%s discounted (p %.2g): not timed at the same SM clock",
                             mx_verdict_string(row->verdict), row->timing.p_value);
            row->verdict = MX_VERDICT_UNSURE;
        }
        throttled = true;
        mx_format_append(row->reason, sizeof row->reason, "%s%s row throttled (SM clock %s MHz)",
                         row->reason[0] ? "; " : "", i ? "CUR" : "BASE",
                         mx_run_cell(runs[i]->results, (size_t)rows[i], "sm_clock_mhz"));
    }
}

/* Worst first: by verdict, then the largest slowdown, then the sweep's order. */
static int compare_rows(const void *a, const void *b) {
    const compared_row *x = a, *y = b;
    if (x->verdict != y->verdict) return x->verdict < y->verdict ? -1 : 1;
    double cx = x->timed ? x->timing.change_pct : NAN, cy = y->timed ? y->timing.change_pct : NAN;
    if (!isnan(cx) && !isnan(cy) && cx != cy) return cx > cy ? -1 : 1;
    if (isnan(cx) != isnan(cy)) return isnan(cx) ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

typedef struct {
    const mx_run_folder *base, *cur;
    compared_row *rows;
    size_t count;
    size_t plotted; /* rows in compare.dat */
    mx_compare_rule rule;
} comparison;

/* "gemm fused f16 gaussian M=1 N=4096 K=4096" (+ experts, batch where they matter). */
static void row_label(const comparison *cmp, const compared_row *row, char *label, size_t size) {
    const mx_table *t = row->base_row >= 0 ? cmp->base->results : cmp->cur->results;
    size_t r = (size_t)(row->base_row >= 0 ? row->base_row : row->cur_row);
    mx_format_text(label, size, "%s %s %s %s M=%s N=%s K=%s", mx_run_cell(t, r, "op"),
                   mx_run_cell(t, r, "variant"), mx_run_cell(t, r, "dtype"),
                   mx_run_cell(t, r, "dist"), mx_run_cell(t, r, "M"), mx_run_cell(t, r, "N"),
                   mx_run_cell(t, r, "K"));
    const char *experts = mx_run_cell(t, r, "experts"), *batch = mx_run_cell(t, r, "batch");
    if (experts[0] && strcmp(experts, "0"))
        mx_format_append(label, size, " experts=%s topk=%s", experts, mx_run_cell(t, r, "topk"));
    if (batch[0] && strcmp(batch, "1")) mx_format_append(label, size, " batch=%s", batch);
    for (char *p = label; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
}

static void format_number(char *text, size_t size, const char *format, double value) {
    if (isfinite(value))
        mx_format_text(text, size, format, value);
    else
        mx_format_text(text, size, "-");
}

static void print_table(const comparison *cmp, bool all) {
    size_t listed = 0;
    char band_title[32];
    mx_format_text(band_title, sizeof band_title, "noise %g%%", 100.0 * (1.0 - cmp->rule.alpha));
    printf("\n%-8s %9s %10s %8s %10s %10s  %s\n", "verdict", "change", band_title, "p", "base us",
           "cur us", "row");
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        if (row->verdict == MX_VERDICT_SAME && !all) continue;
        const mx_timing_verdict *t = &row->timing;
        char change[32] = "-", band[48] = "-", p[32] = "-", base_us[32] = "-", cur_us[32] = "-";
        char label[256];
        if (row->timed) {
            format_number(change, sizeof change, "%+.1f %%", t->change_pct);
            format_number(band, sizeof band, "+-%.1f %%", fmax(-t->band_low_pct, t->band_high_pct));
            format_number(p, sizeof p, "%.1e", t->p_value);
            format_number(base_us, sizeof base_us, "%.2f", t->base_median_us);
            format_number(cur_us, sizeof cur_us, "%.2f", t->cur_median_us);
        }
        row_label(cmp, row, label, sizeof label);
        printf("%-8s %9s %10s %8s %10s %10s  %s%s%s\n", mx_verdict_string(row->verdict), change,
               band, p, base_us, cur_us, label, row->reason[0] ? ": " : "", row->reason);
        listed++;
    }
    if (listed == 0) printf("(no row changed)\n");
    if (!all && listed < cmp->count)
        printf("(%zu SAME rows not listed: --all lists them; compare.csv has every row)\n",
               cmp->count - listed);
}

/* compare.csv: the verdict, the row's key columns (schema.c), then what was compared. */
static const char *const compared_columns[] = {
    "base_samples", "cur_samples",   "base_median_us",  "cur_median_us",  "change_pct",
    "band_low_pct", "band_high_pct", "p_value",         "base_noise_pct", "cur_noise_pct",
    "base_status",  "cur_status",    "base_pass_error", "cur_pass_error", "reason"};

static bool set_number(mx_table *t, int r, const char *column, const char *format, double value) {
    return !isfinite(value) || mx_table_set(t, r, column, format, value);
}

static bool save_compare_csv(const comparison *cmp, const char *path, char *error,
                             size_t error_size) {
    mx_key_set keys = mx_schema_keys();
    enum { COMPARED = sizeof compared_columns / sizeof compared_columns[0] };
    const char *columns[1 + MX_MAX_KEY_COLUMNS + COMPARED] = {"verdict"};
    memcpy(columns + 1, keys.columns, sizeof keys.columns[0] * (size_t)keys.count);
    memcpy(columns + 1 + keys.count, compared_columns, sizeof compared_columns);
    mx_table *t = mx_table_create(columns, 1 + keys.count + COMPARED);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        const mx_timing_verdict *tv = &row->timing;
        int r = mx_table_add_row(t);
        ok = r >= 0 && mx_table_set(t, r, "verdict", "%s", mx_verdict_string(row->verdict)) &&
             mx_table_set(t, r, "reason", "%s", row->reason);
        const mx_run_folder *runs[2] = {cmp->base, cmp->cur};
        long rows[2] = {row->base_row, row->cur_row};
        for (int side = 1; side >= 0; side--) { /* keys from BASE where it has the row */
            if (rows[side] < 0) continue;
            const mx_table *from = runs[side]->results;
            size_t at = (size_t)rows[side];
            for (int k = 0; ok && k < keys.count; k++)
                ok = mx_table_set(t, r, keys.columns[k], "%s",
                                  mx_run_cell(from, at, keys.columns[k]));
            ok = ok &&
                 mx_table_set(t, r, side ? "cur_status" : "base_status", "%s",
                              mx_run_cell(from, at, "status")) &&
                 mx_table_set(t, r, side ? "cur_pass_error" : "base_pass_error", "%s",
                              mx_run_cell(from, at, "pass_error"));
        }
        if (ok && row->timed)
            ok = mx_table_set(t, r, "base_samples", "%d", tv->base_count) &&
                 mx_table_set(t, r, "cur_samples", "%d", tv->cur_count) &&
                 set_number(t, r, "base_median_us", "%.3f", tv->base_median_us) &&
                 set_number(t, r, "cur_median_us", "%.3f", tv->cur_median_us) &&
                 set_number(t, r, "change_pct", "%.2f", tv->change_pct) &&
                 set_number(t, r, "band_low_pct", "%.2f", tv->band_low_pct) &&
                 set_number(t, r, "band_high_pct", "%.2f", tv->band_high_pct) &&
                 set_number(t, r, "p_value", "%.3g", tv->p_value) &&
                 set_number(t, r, "base_noise_pct", "%.3f", tv->base_noise_pct) &&
                 set_number(t, r, "cur_noise_pct", "%.3f", tv->cur_noise_pct);
    }
    if (!ok) mx_format_text(error, error_size, "%s: out of memory", path);
    ok = ok && mx_table_save(t, path, error, error_size);
    mx_table_free(t);
    return ok;
}

/* compare.dat, the data of plots/compare.gp (report.h): the rows timed in both runs, in the
 * sweep's order (the rows are still in that order when it is written). */
static bool write_compare_dat(FILE *file, void *context) {
    comparison *cmp = context;
    const mx_run_info *base = &cmp->base->meta, *cur = &cmp->cur->meta;
    fprintf(file,
            "# mxbench compare on %s: change of the median time vs BASE in %% (positive: slower),\n"
            "# the change the noise alone could give (%g %% band) and the verdict on the time\n"
            "# base: run %s, commit %s\n# cur: run %s, commit %s\n"
            "# index\tchange_pct\tband_low_pct\tband_high_pct\tverdict\tlabel\n",
            cur->gpu_name, 100.0 * (1.0 - cmp->rule.alpha), base->run_id, base->git_commit,
            cur->run_id, cur->git_commit);
    cmp->plotted = 0;
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        const mx_timing_verdict *t = &row->timing;
        if (!row->timed || !isfinite(t->change_pct)) continue;
        char label[256], band[64] = "NaN\tNaN";
        row_label(cmp, row, label, sizeof label);
        if (isfinite(t->band_low_pct) && isfinite(t->band_high_pct))
            mx_format_text(band, sizeof band, "%.3f\t%.3f", t->band_low_pct, t->band_high_pct);
        /* the row's verdict; the timing one where accuracy decided (the plot shows time only) */
        mx_verdict verdict = row->verdict == MX_VERDICT_ACCURACY ? t->verdict : row->verdict;
        fprintf(file, "%zu\t%.3f\t%s\t%s\t%s\n", cmp->plotted++, t->change_pct, band,
                mx_verdict_string(verdict), label);
    }
    return !ferror(file);
}

/* compare.png and .svg from compare.dat; a plot that cannot be drawn is a warning only. */
static void draw_plot(const comparison *cmp, const char *dat_path, const char *out_dir) {
    mx_gnuplot gnuplot;
    char out_base[2200], path[2300];
    mx_format_text(out_base, sizeof out_base, "%s/compare", out_dir);
    for (int i = 0; i < 2; i++) { /* an earlier comparison's plot must not pass for this one's */
        mx_format_text(path, sizeof path, "%s.%s", out_base, i ? "svg" : "png");
        unlink(path);
    }
    if (cmp->plotted == 0) return;
    if (!mx_gnuplot_find(&gnuplot)) {
        fprintf(stderr, "mxbench: warning: compare.png not drawn: gnuplot not found; %s\n",
                mx_gnuplot_advice);
        return;
    }
    char caption[512], title[1024], count[32], threshold[32], error[2048];
    mx_run_info_caption(&cmp->cur->meta, caption, sizeof caption);
    mx_format_text(title, sizeof title, "run %s vs %s: change of the median time (%s)",
                   cmp->cur->meta.run_id, cmp->base->meta.run_id, caption);
    mx_format_text(count, sizeof count, "%zu", cmp->plotted);
    mx_format_text(threshold, sizeof threshold, "%g", cmp->rule.min_change_pct);
    const mx_plot_variable variables[] = {
        {"data", dat_path}, {"count", count}, {"threshold", threshold}, {"title", title}};
    if (mx_plot_render(&gnuplot, "compare.gp", variables, 4, out_base, error, sizeof error))
        printf("plot: %s.png, %s.svg\n", out_base, out_base);
    else
        fprintf(stderr, "mxbench: warning: compare.png not drawn: %s\n", error);
}

static bool number_option(const mx_parsed_options *parsed, const char *name, double low,
                          double high, bool low_open, double *value) {
    const char *text = mx_option_value(parsed, name);
    char *end = NULL;
    *value = text ? strtod(text, &end) : NAN;
    if (text && end != text && *end == '\0' && *value <= high &&
        (low_open ? *value > low : *value >= low))
        return true;
    mx_cli_error("--%s '%s': expected a number in %c%g, %g]", name, text ? text : "",
                 low_open ? '(' : '[', low, high);
    return false;
}

static void list_models(const char *dir, char *text, size_t size) {
    text[0] = '\0';
    DIR *folder = opendir(dir);
    for (struct dirent *entry; folder && (entry = readdir(folder));) {
        char path[2400];
        mx_format_text(path, sizeof path, "%s/%s/run.json", dir, entry->d_name);
        if (entry->d_name[0] != '.' && mx_is_file(path))
            mx_format_append(text, size, "%s%s", text[0] ? ", " : "", entry->d_name);
    }
    if (folder) closedir(folder);
    if (!text[0]) mx_format_text(text, size, "none");
}

/* BASE is a run folder, or a baselines folder holding a run folder per GPU model: then CUR's. */
static bool resolve_base(const char *base_arg, const mx_run_folder *cur, char *dir, size_t size,
                         bool *from_baselines, char *error, size_t error_size) {
    char base[1024];
    mx_format_text(base, sizeof base, "%s", base_arg);
    for (size_t length = strlen(base); length > 1 && base[length - 1] == '/';)
        base[--length] = '\0';
    *from_baselines = false;
    if (!mx_is_folder(base)) {
        mx_format_text(error, error_size, "BASE '%s': %s (give a run folder or a baselines folder)",
                       base, access(base, F_OK) ? strerror(errno) : "not a folder");
        return false;
    }
    for (int i = 0; i < MX_RUN_FILE_COUNT; i++) {
        mx_format_text(dir, size, "%s/%s", base, mx_run_files[i]);
        if (access(dir, F_OK) == 0) {
            mx_format_text(dir, size, "%s", base);
            return true;
        }
    }
    mx_format_text(dir, size, "%s/%s", base, cur->model);
    *from_baselines = true;
    if (mx_is_folder(dir)) return true;
    char models[512];
    list_models(base, models, sizeof models);
    mx_format_text(
        error, error_size,
        "no baseline for GPU model %s ('%s', from %s) in %s (baselines there: %s).\n"
        "  Make one from a run you trust: mxbench baseline --update RUN_DIR --baselines %s\n"
        "  then commit %s/%s/ (nothing was compared: a missing baseline never passes)",
        cur->model, cur->meta.gpu_name, cur->json_path, base, models, base, base, cur->model);
    return false;
}

static void print_header(const comparison *cmp, bool from_baselines) {
    char base_text[512], cur_text[512];
    mx_run_describe(cmp->base, base_text, sizeof base_text);
    mx_run_describe(cmp->cur, cur_text, sizeof cur_text);
    printf("mxbench compare on %s\n  BASE %s%s: %s\n  CUR  %s: %s\n", cmp->cur->meta.gpu_name,
           cmp->base->dir, from_baselines ? " (the baseline of this GPU model)" : "", base_text,
           cmp->cur->dir, cur_text);
    printf("  per row: Mann-Whitney U on the samples at alpha %g and a change of the medians of at "
           "least %g %% (%d samples a side at least)\n",
           cmp->rule.alpha, cmp->rule.min_change_pct, MX_COMPARE_MIN_SAMPLES);
    const mx_run_folder *runs[2] = {cmp->base, cmp->cur};
    for (int i = 0; i < 2; i++)
        if (strcmp(runs[i]->meta.status, "complete"))
            printf("  note: %s is a run with status '%s': rows it lacks show as %s\n",
                   i ? "CUR" : "BASE", runs[i]->meta.status, i ? "MISSING" : "NEW");
    const mx_run_info *base = &cmp->base->meta, *cur = &cmp->cur->meta;
    if (strcmp(base->suite, cur->suite))
        printf("  note: the suites differ (BASE %s, CUR %s): rows of one only show as MISSING or "
               "NEW\n",
               base->suite, cur->suite);
    if (base->l2_flushed >= 0 && cur->l2_flushed >= 0 && base->l2_flushed != cur->l2_flushed)
        printf("  note: %s flushed the L2 before each sample and %s did not: times are not like "
               "for like\n",
               base->l2_flushed ? "BASE" : "CUR", base->l2_flushed ? "CUR" : "BASE");
}

static int compare_runs(comparison *cmp, const char *out_dir, bool all) {
    const mx_run_folder *base = cmp->base, *cur = cmp->cur;
    cmp->rows = calloc(base->row_count + cur->row_count + 1, sizeof *cmp->rows);
    if (!cmp->rows) {
        mx_cli_error("out of memory");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    bool *matched = calloc(cur->row_count + 1, sizeof *matched);
    for (size_t b = 0; matched && b < base->row_count; b++) {
        compared_row *row = &cmp->rows[cmp->count];
        *row = (compared_row){.base_row = (long)b,
                              .cur_row = mx_run_find_row(cur, base->keys[b]),
                              .order = cmp->count};
        if (row->cur_row >= 0) matched[row->cur_row] = true;
        cmp->count++;
    }
    for (size_t c = 0; matched && c < cur->row_count; c++) {
        if (matched[c]) continue;
        cmp->rows[cmp->count] =
            (compared_row){.base_row = -1, .cur_row = (long)c, .order = cmp->count};
        cmp->count++;
    }
    if (!matched) {
        mx_cli_error("out of memory");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    free(matched);
    int counts[MX_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < cmp->count; i++) {
        judge_row(base, cur, &cmp->rule, &cmp->rows[i]);
        counts[cmp->rows[i].verdict]++;
    }
    char csv_path[2200], dat_path[2200], error[2600];
    mx_format_text(csv_path, sizeof csv_path, "%s/compare.csv", out_dir);
    mx_format_text(dat_path, sizeof dat_path, "%s/compare.dat", out_dir);
    if (!mx_ensure_folder(out_dir)) {
        mx_cli_error("cannot create %s: %s", out_dir, strerror(errno));
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (!mx_write_stream_atomic(dat_path, write_compare_dat, cmp, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    qsort(cmp->rows, cmp->count, sizeof *cmp->rows, compare_rows);
    print_table(cmp, all);
    if (!save_compare_csv(cmp, csv_path, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    int regressions = 0;
    printf("\nsummary: %zu rows:", cmp->count);
    for (int v = 0; v < MX_VERDICT_COUNT; v++) {
        printf("%s %d %s", v ? "," : "", counts[v], mx_verdict_string((mx_verdict)v));
        if (mx_verdict_is_regression((mx_verdict)v)) regressions += counts[v];
    }
    printf("\nwrote %s and %s\n", csv_path, dat_path);
    draw_plot(cmp, dat_path, out_dir);
    if (regressions) {
        printf("REGRESSION: %d rows (%d ACCURACY, %d MISSING, %d SLOWER) vs %s (exit 1)\n",
               regressions, counts[MX_VERDICT_ACCURACY], counts[MX_VERDICT_MISSING],
               counts[MX_VERDICT_SLOWER], base->dir);
        return MX_COMPARE_EXIT_REGRESSION;
    }
    printf("no regression vs %s (exit 0)\n", base->dir);
    return MX_EXIT_OK;
}

static int run_compare(const mx_parsed_options *parsed) {
    comparison cmp = {.rows = NULL};
    bool all = mx_option_value(parsed, "all") != NULL;
    if (!number_option(parsed, "alpha", 0.0, 0.5, true, &cmp.rule.alpha) ||
        !number_option(parsed, "min-change-pct", 0.0, 1000.0, false, &cmp.rule.min_change_pct))
        return MX_EXIT_UNUSABLE_INPUT;
    const char *base_arg = parsed->arguments[0], *cur_arg = parsed->arguments[1];
    char error[4096], base_dir[1024];
    bool from_baselines = false;
    int status = MX_EXIT_UNUSABLE_INPUT;
    mx_run_folder *base = NULL, *cur = mx_run_folder_load(cur_arg, error, sizeof error);
    if (!cur ||
        !resolve_base(base_arg, cur, base_dir, sizeof base_dir, &from_baselines, error,
                      sizeof error) ||
        !(base = mx_run_folder_load(base_dir, error, sizeof error))) {
        mx_cli_error("%s", error);
        goto done;
    }
    if (strcmp(base->model, cur->model)) {
        mx_cli_error("the runs are from different GPU models: BASE %s ran on '%s' (%s), CUR %s on "
                     "'%s' (%s); times from different GPUs are not comparable (compare against a "
                     "baselines folder to pick CUR's model)",
                     base->dir, base->meta.gpu_name, base->model, cur->dir, cur->meta.gpu_name,
                     cur->model);
        goto done;
    }
    mx_key_set keys = mx_run_shared_keys(base, cur);
    if (!mx_run_folder_index(base, &keys, error, sizeof error) ||
        !mx_run_folder_index(cur, &keys, error, sizeof error)) {
        mx_cli_error("%s", error);
        goto done;
    }
    if (mx_run_measured_rows(base) == 0) {
        mx_cli_error("%s has no measured row: there is nothing to compare against",
                     base->results_path);
        goto done;
    }
    cmp.base = base;
    cmp.cur = cur;
    print_header(&cmp, from_baselines);
    const char *out = mx_option_value(parsed, "out");
    status = compare_runs(&cmp, out ? out : cur->dir, all);
done:
    free(cmp.rows);
    mx_run_folder_free(base);
    mx_run_folder_free(cur);
    return status;
}

// ---- commands

static const mx_option compare_options[] = {
    {"out", "DIR", "where compare.csv and compare.dat go (default: CUR)", NULL, true},
    {"alpha", "P", "level of the two-sided Mann-Whitney U test of each row, in (0, 0.5]", "0.01",
     false},
    {"min-change-pct", "X", "smallest change of the median time that is FASTER or SLOWER", "5",
     false},
    {"all", NULL, "list SAME rows in the table too (compare.csv always has every row)", NULL,
     false},
};

const mx_command mx_compare_command = {
    "compare",
    "Compare two runs row by row: FASTER, SLOWER, SAME, UNSURE; exit 1 on a regression.",
    "BASE and CUR are run folders (results.csv, samples.csv, run.json). BASE may instead be a\n"
    "baselines folder (results/baselines): then BASE/<gpu-model>/ is used, the model taken from\n"
    "CUR's run.json (\"NVIDIA H200\" -> nvidia-h200). Rows match by op, variant, dtype, dist, M,\n"
    "N, K, experts, topk (and batch, seed, kv_heads where both runs have them). Per row, from\n"
    "the samples:\n"
    "  ACCURACY  pass_error true -> false, or status ok -> fail (whatever the times)\n"
    "  MISSING   measured in BASE, but absent from CUR or not measured there (skipped, failed):\n"
    "            the row may hide a regression, so it counts as one; the reason is shown\n"
    "  SLOWER    Mann-Whitney p < alpha and the median time up by >= --min-change-pct\n"
    "  FASTER    p < alpha and the median down by >= --min-change-pct\n"
    "  SAME      p >= alpha and the change below --min-change-pct\n"
    "  UNSURE    the rest: a significant change below the minimum, a large one within the noise,\n"
    "            fewer than 8 samples on a side (the U test's approximation needs 8), or a\n"
    "            SLOWER/FASTER row that either run timed throttled (at a lowered SM clock)\n"
    "  NEW       measured in CUR only;  SKIPPED  measured in neither\n"
    "The table lists the rows worst first, then counts. DIR/compare.csv (every row: key, medians,\n"
    "change %, its (1 - alpha) interval from both medians' noise, p-value, noise, verdict) and\n"
    "DIR/compare.dat (tab-separated, for plots/compare.gp) are written atomically.\n"
    "Exit: 0 no regression, 1 a regression (ACCURACY, MISSING or SLOWER rows), 2 unusable input\n"
    "(a missing or malformed file, different GPU models, no baseline for CUR's GPU model).",
    compare_options,
    (int)(sizeof compare_options / sizeof compare_options[0]),
    run_compare,
    2,
    2,
    "BASE CUR",
    NULL,
};
