/* `mxbench compare BASE CUR...` (the nightly gate): the runs of each side loaded and keyed
 * (run_folder.h), each row judged from its runs (compare_judge.c, gate.h), the verdicts printed,
 * saved and plotted. `mxbench baseline` is in baseline.c. */
#include "compare.h"
#include "compare_data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "gate.h"
#include "mx.h"
#include "report.h"
#include "run_folder.h"
#include "schema.h"
#include "table.h"
#include "text.h"

// ---- the runs of a side

static void side_free(run_side *side) {
    for (int i = 0; i < side->count; i++) mx_run_folder_free(side->runs[i]);
    free(side->runs);
    side->runs = NULL;
    side->count = 0;
}

/* Appends the runs of dir: a run folder, or a folder of them (a baseline's history, a job's
 * repetitions), newest first. */
static bool side_add(run_side *side, const char *dir, char *error, size_t error_size) {
    mx_run_folder **found;
    int count = mx_run_history_load(dir, &found, error, error_size);
    mx_run_folder **runs =
        count ? realloc(side->runs, sizeof *runs * (size_t)(side->count + count)) : NULL;
    if (count && !runs) mx_format_fail(error, error_size, "out of memory");
    for (int i = 0; i < count; i++) {
        if (runs)
            runs[side->count++] = found[i];
        else
            mx_run_folder_free(found[i]);
    }
    free(found);
    if (runs) side->runs = runs;
    if (!side->dir[0] && runs) mx_format_text(side->dir, sizeof side->dir, "%s", dir);
    return runs != NULL;
}

// ---- compare

/* "gemm fused f16 gaussian M=1 N=4096 K=4096" (+ experts, batch where they matter). */
static void row_label(const comparison *cmp, const compared_row *row, char *label, size_t size) {
    const mx_table *t = row->base_row >= 0 ? cmp->base.runs[0]->results : cmp->cur.runs[0]->results;
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
    mx_format_text(band_title, sizeof band_title, "spread %g%%", 100.0 * (1.0 - cmp->rule.alpha));
    printf("\n%-8s %9s %12s %7s %8s %10s %10s  %s\n", "verdict", "change", band_title, "counts",
           "p", "base us", "cur us", "row");
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        if (row->verdict == MX_VERDICT_SAME && !all) continue;
        const mx_gate_verdict *g = &row->gate;
        char change[32] = "-", band[48] = "-", counts[32] = "-", p[32] = "-", base_us[32] = "-",
             cur_us[32] = "-", label[256];
        if (row->timed) {
            format_number(change, sizeof change, "%+.1f %%", g->change_pct);
            format_number(band, sizeof band, "+-%.1f %%", fmax(-g->band_low_pct, g->band_high_pct));
            format_number(counts, sizeof counts, "%.0f %%", g->threshold_pct);
            format_number(p, sizeof p, "%.1e", g->p_value);
            format_number(base_us, sizeof base_us, "%.2f", row->base_us);
            format_number(cur_us, sizeof cur_us, "%.2f", row->cur_us);
        }
        row_label(cmp, row, label, sizeof label);
        printf("%-8s %9s %12s %7s %8s %10s %10s  %s%s%s\n", mx_verdict_string(row->verdict), change,
               band, counts, p, base_us, cur_us, label, row->reason[0] ? ": " : "", row->reason);
        listed++;
    }
    if (listed == 0) printf("(no row changed)\n");
    if (!all && listed < cmp->count)
        printf("(%zu SAME rows not listed: --all lists them; compare.csv has every row)\n",
               cmp->count - listed);
}

/* compare.csv: the verdict, the row's key columns (schema.c), then what was compared. */
static const char *const compared_columns[] = {
    "base_runs",       "cur_runs",       "base_median_us", "cur_median_us",
    "change_pct",      "band_low_pct",   "band_high_pct",  "p_value",
    "spread_pct",      "threshold_pct",  "base_status",    "cur_status",
    "base_pass_error", "cur_pass_error", "reason",         "first_verdict"};

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
        const mx_gate_verdict *g = &row->gate;
        int r = mx_table_add_row(t);
        ok = r >= 0 && mx_table_set(t, r, "verdict", "%s", mx_verdict_string(row->verdict)) &&
             mx_table_set(t, r, "reason", "%s", row->reason);
        const mx_run_folder *runs[2] = {cmp->base.runs[0], cmp->cur.runs[0]};
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
        if (ok && row->first_verdict[0])
            ok = mx_table_set(t, r, "first_verdict", "%s", row->first_verdict);
        if (ok && row->timed)
            ok = mx_table_set(t, r, "base_runs", "%d", g->base_runs) &&
                 mx_table_set(t, r, "cur_runs", "%d", g->cur_runs) &&
                 set_number(t, r, "base_median_us", "%.3f", row->base_us) &&
                 set_number(t, r, "cur_median_us", "%.3f", row->cur_us) &&
                 set_number(t, r, "change_pct", "%.2f", g->change_pct) &&
                 set_number(t, r, "band_low_pct", "%.2f", g->band_low_pct) &&
                 set_number(t, r, "band_high_pct", "%.2f", g->band_high_pct) &&
                 set_number(t, r, "p_value", "%.3g", g->p_value) &&
                 set_number(t, r, "spread_pct", "%.3f", g->spread_pct) &&
                 set_number(t, r, "threshold_pct", "%.2f", g->threshold_pct);
    }
    if (!ok) mx_format_text(error, error_size, "%s: out of memory", path);
    ok = ok && mx_table_save(t, path, error, error_size);
    mx_table_free(t);
    return ok;
}

/* compare.dat, the data of plots/compare.gp: the rows timed on both sides and the MISSING ones
 * (change NaN: the plot marks them at the top), worst first as in the table. */
static bool write_compare_dat(FILE *file, void *context) {
    comparison *cmp = context;
    const mx_run_info *base = &cmp->base.runs[0]->meta, *cur = &cmp->cur.runs[0]->meta;
    fprintf(file,
            "# mxbench compare on %s: change of the time vs BASE in %% (positive: slower), the\n"
            "# change the run-to-run spread alone could give (%g %% band) and the verdict\n"
            "# base: %d run%s, newest %s, commit %s\n# cur: %d run%s, first %s, commit %s\n"
            "# index\tchange_pct\tband_low_pct\tband_high_pct\tverdict\tlabel\n",
            cur->gpu_name, 100.0 * (1.0 - cmp->rule.alpha), cmp->base.count,
            cmp->base.count == 1 ? "" : "s", base->run_id, base->git_commit, cmp->cur.count,
            cmp->cur.count == 1 ? "" : "s", cur->run_id, cur->git_commit);
    cmp->plotted = 0;
    cmp->change_low = -cmp->rule.min_change_pct;
    cmp->change_high = cmp->rule.min_change_pct;
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        const mx_gate_verdict *g = &row->gate;
        bool missing = row->verdict == MX_VERDICT_MISSING;
        if (!missing && (!row->timed || !isfinite(g->change_pct))) continue;
        char label[256], band[64] = "NaN\tNaN", change[32] = "NaN";
        row_label(cmp, row, label, sizeof label);
        if (!missing && isfinite(g->band_low_pct) && isfinite(g->band_high_pct))
            mx_format_text(band, sizeof band, "%.3f\t%.3f", g->band_low_pct, g->band_high_pct);
        if (!missing) {
            mx_format_text(change, sizeof change, "%.3f", g->change_pct);
            cmp->change_low = fmin(cmp->change_low, g->change_pct);
            cmp->change_high = fmax(cmp->change_high, g->change_pct);
        }
        /* the row's verdict; the timing one where accuracy decided (the plot shows time only) */
        mx_verdict verdict = row->verdict == MX_VERDICT_ACCURACY ? g->verdict : row->verdict;
        fprintf(file, "%zu\t%s\t%s\t%s\t%s\n", cmp->plotted++, change, band,
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
    char caption[512], title[1024], count[32], threshold[32], error[2048], ymin[32], ymax[32];
    mx_run_info_caption(&cmp->cur.runs[0]->meta, caption, sizeof caption);
    mx_format_text(title, sizeof title, "%d run%s from %s vs %d from %s: change of the time (%s)",
                   cmp->cur.count, cmp->cur.count == 1 ? "" : "s", cmp->cur.runs[0]->meta.run_id,
                   cmp->base.count, cmp->base.runs[0]->meta.run_id, caption);
    mx_format_text(count, sizeof count, "%zu", cmp->plotted);
    mx_format_text(threshold, sizeof threshold, "%g", cmp->rule.min_change_pct);
    /* the changes set the y range, with room for the MISSING marks; a wide band is cut there */
    double span = cmp->change_high - cmp->change_low;
    mx_format_text(ymin, sizeof ymin, "%.6e", cmp->change_low - 0.1 * span);
    mx_format_text(ymax, sizeof ymax, "%.6e", cmp->change_high + 0.25 * span);
    const mx_plot_variable variables[] = {{"data", dat_path},       {"count", count},
                                          {"threshold", threshold}, {"title", title},
                                          {"ymin", ymin},           {"ymax", ymax}};
    if (mx_plot_render(&gnuplot, "compare.gp", variables, 6, out_base, error, sizeof error))
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
        mx_format_text(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (entry->d_name[0] != '.' && mx_is_folder(path))
            mx_format_append(text, size, "%s%s", text[0] ? ", " : "", entry->d_name);
    }
    if (folder) closedir(folder);
    if (!text[0]) mx_format_text(text, size, "none");
}

static bool is_run(const char *dir) {
    char path[2400];
    mx_format_text(path, sizeof path, "%s/results.csv", dir);
    return mx_is_file(path);
}

/* A folder of run folders named by run (a baseline's history), not by GPU model (a baselines
 * folder whose baselines are single runs, as `baseline` kept them before histories). */
static bool is_history(const char *dir) {
    DIR *folder = opendir(dir);
    bool history = false;
    for (struct dirent *entry; folder && !history && (entry = readdir(folder));) {
        char path[2400], error[256], model[128];
        mx_format_text(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (entry->d_name[0] == '.' || !is_run(path)) continue;
        mx_format_text(path, sizeof path, "%s/%s/run.json", dir, entry->d_name);
        mx_run_info info;
        history = !mx_run_info_read(path, &info, error, sizeof error) ||
                  !mx_gpu_model_name(info.gpu_name, model, sizeof model) ||
                  strcmp(model, entry->d_name) != 0;
    }
    if (folder) closedir(folder);
    return history;
}

/* BASE is a run folder, a baseline (a history of run folders), or a baselines folder holding a
 * baseline per GPU model: then CUR's. */
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
    mx_format_text(dir, size, "%s/%s", base, cur->model);
    if (mx_is_folder(dir)) {
        *from_baselines = true;
        return true;
    }
    mx_format_text(dir, size, "%s", base);
    if (is_run(base) || is_history(base)) return true;
    char models[512];
    list_models(base, models, sizeof models);
    mx_format_text(
        error, error_size,
        "no baseline for GPU model %s ('%s', from %s) in %s (baselines there: %s).\n"
        "  Make one from runs you trust: mxbench baseline --update RUN_DIR... --baselines %s\n"
        "  then commit %s/%s/ (nothing was compared: a missing baseline never passes)",
        cur->model, cur->meta.gpu_name, cur->json_path, base, models, base, base, cur->model);
    return false;
}

/* What auto followed in a run (run.json gpu.gemm_dispatch): NULL for the thresholds, also in a
 * run from before dispatch tables, which recorded nothing. */
static const char *dispatch_table(const mx_run_info *meta) {
    const char *text = meta->gemm_dispatch;
    const size_t word = strlen(MX_GEMM_DISPATCH_THRESHOLDS);
    return text[0] && strncmp(text, MX_GEMM_DISPATCH_THRESHOLDS, word) ? text : NULL;
}

static void print_header(const comparison *cmp, bool from_baselines, const char *out_dir) {
    const run_side *sides[2] = {&cmp->base, &cmp->cur};
    printf("mxbench compare on %s (compare.csv, compare.dat and the plot go to %s%s)\n",
           cmp->cur.runs[0]->meta.gpu_name, out_dir,
           out_dir == cmp->cur.dir ? ", the first CUR: --out moves them" : "");
    for (int s = 0; s < 2; s++) {
        printf("  %s %s%s: %d run%s\n", s ? "CUR " : "BASE", sides[s]->dir,
               !s && from_baselines ? " (the baseline of this GPU model)" : "", sides[s]->count,
               sides[s]->count == 1 ? "" : "s");
        for (int i = 0; i < sides[s]->count; i++) {
            char text[512];
            mx_run_describe(sides[s]->runs[i], text, sizeof text);
            printf("    %s\n", text);
            if (strcmp(sides[s]->runs[i]->meta.status, "complete"))
                printf("    note: status '%s': rows it lacks show as %s\n",
                       sides[s]->runs[i]->meta.status, s ? "MISSING" : "NEW");
            if (sides[s]->runs[i]->meta.injected[0])
                printf("    WARNING: measured with an injected slowdown (run --inject-slowdown, "
                       "test only): %s\n",
                       sides[s]->runs[i]->meta.injected);
        }
    }
    printf("  per row: each run's median time; the runs compared by a t test on their logs at "
           "alpha %g; a change counts from %g %% or %g x the row's run-to-run spread, whichever "
           "is larger\n",
           cmp->rule.alpha, cmp->rule.min_change_pct, cmp->rule.spread_factor);
    if (cmp->base.count < 2)
        printf("  note: a baseline of one run: how far a row moves between runs and machines is "
               "unknown, so no row can be SLOWER (mxbench baseline --update adds runs)\n");
    if (cmp->control_rows)
        printf("  control: the %d cuBLAS-only rows moved by a median %+.1f %%: %s\n",
               cmp->control_rows, cmp->control_drift_pct,
               cmp->relative
                   ? "the other rows are judged relative to their FP16 row in the same run"
                   : "times are judged as measured");
    const mx_run_info *base = &cmp->base.runs[0]->meta, *cur = &cmp->cur.runs[0]->meta;
    size_t base_rows = cmp->base.runs[0]->row_count, cur_rows = cmp->cur.runs[0]->row_count;
    if (strcmp(base->suite, cur->suite) || base_rows != cur_rows)
        printf("  note: the sweeps differ (BASE %s, %zu rows; CUR %s, %zu rows): rows of one only "
               "show as MISSING or NEW%s\n",
               base->suite, base_rows, cur->suite, cur_rows,
               from_baselines ? " (update the baseline together with the sweep)" : "");
    const char *base_table = dispatch_table(base), *cur_table = dispatch_table(cur);
    if ((base_table || cur_table) && (!base_table || !cur_table || strcmp(base_table, cur_table)))
        printf("  note: auto chose its GEMM variants from different places (BASE: %s; CUR: %s): "
               "auto rows, and the blocks that run on auto, may move for that alone\n",
               base_table ? base_table : "its thresholds",
               cur_table ? cur_table : "its thresholds");
    if (base->code_path[0] && cur->code_path[0] && strcmp(base->code_path, cur->code_path))
        printf("  note: the kernels took different code paths (BASE %s, CUR %s: "
               "MX_CODE_PATH): fused and skinny rows are not like for like\n",
               base->code_path, cur->code_path);
    if (base->l2_flushed >= 0 && cur->l2_flushed >= 0 && base->l2_flushed != cur->l2_flushed)
        printf("  note: %s flushed the L2 before each sample and %s did not: times are not like "
               "for like\n",
               base->l2_flushed ? "BASE" : "CUR", base->l2_flushed ? "CUR" : "BASE");
}

/* --first: each compared row's verdict in an earlier compare.csv of the same rows (make
 * nightly's first comparison, before the SLOWER rows were measured again). */
static bool attach_first(comparison *cmp, const char *path, char *error, size_t error_size) {
    mx_table *first = NULL;
    if (!mx_csv_read(path, &first, error, error_size)) return false;
    const mx_key_set *keys = &cmp->cur.runs[0]->key_set;
    bool ok = mx_table_column_index(first, "verdict") >= 0 ||
              mx_format_fail(error, error_size,
                             "--first %s: no verdict column (give a compare.csv)", path);
    for (int k = 0; ok && k < keys->count; k++)
        if (mx_table_column_index(first, keys->columns[k]) < 0)
            ok = mx_format_fail(error, error_size, "--first %s: no %s column", path,
                                keys->columns[k]);
    size_t count = ok ? mx_table_row_count(first) : 0;
    char **first_keys = calloc(count + 1, sizeof *first_keys);
    ok = ok && first_keys;
    for (size_t r = 0; ok && r < count; r++)
        ok = (first_keys[r] = mx_run_row_key(first, r, keys)) != NULL;
    for (size_t i = 0; ok && i < cmp->count; i++) {
        compared_row *row = &cmp->rows[i];
        bool in_cur = row->cur_row >= 0;
        char *key = mx_run_row_key(in_cur ? cmp->cur.runs[0]->results : cmp->base.runs[0]->results,
                                   (size_t)(in_cur ? row->cur_row : row->base_row), keys);
        ok = key != NULL;
        for (size_t r = 0; ok && r < count && !row->first_verdict[0]; r++)
            if (!strcmp(first_keys[r], key))
                mx_format_text(row->first_verdict, sizeof row->first_verdict, "%s",
                               mx_table_get(first, (int)r, "verdict"));
        free(key);
    }
    if (!ok && !error[0]) mx_format_text(error, error_size, "--first %s: out of memory", path);
    for (size_t r = 0; first_keys && r < count; r++) free(first_keys[r]);
    free(first_keys);
    mx_table_free(first);
    return ok;
}

/* The line that says how the first comparison's SLOWER rows fared. */
static void print_confirmation(const comparison *cmp) {
    int first = 0, again = 0;
    for (size_t i = 0; i < cmp->count; i++)
        if (!strcmp(cmp->rows[i].first_verdict, mx_verdict_string(MX_VERDICT_SLOWER))) {
            first++;
            again += cmp->rows[i].verdict == MX_VERDICT_SLOWER;
        }
    printf("confirmation: %d of the %d rows the first comparison called SLOWER are SLOWER with "
           "every run (first_verdict in compare.csv)\n",
           again, first);
}

/* Whether two runs agree on a row's figure (column, with its 95 % interval column_lo..hi):
 * |a - b| <= sqrt(h_a^2 + h_b^2), h the intervals' half-widths, which two runs of the same thing
 * meet 95 % of the time when their intervals are honest. 1 yes, 0 no, -1 when either lacks them
 * (runs before the intervals, fp16 rows' overhead). */
static int figures_agree(const mx_table *a, size_t row_a, const mx_table *b, size_t row_b,
                         const char *const column[3]) {
    double v[2][3];
    const mx_table *tables[2] = {a, b};
    size_t rows[2] = {row_a, row_b};
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 3; c++) {
            const char *cell = mx_run_cell(tables[t], rows[t], column[c]);
            if (!cell[0]) return -1;
            v[t][c] = atof(cell);
        }
    double h_a = (v[0][2] - v[0][1]) / 2.0, h_b = (v[1][2] - v[1][1]) / 2.0;
    return fabs(v[0][0] - v[1][0]) <= sqrt(h_a * h_a + h_b * h_b);
}

/* Do the intervals a run reports cover what another run measures (docs/design.md §4: two runs
 * of one binary should agree within them on >= 95 % of rows)? BASE's first run against CUR's
 * fullest, row by row, by figures_agree. Silent when the runs have no intervals. */
static void print_interval_agreement(const comparison *cmp) {
    const mx_table *base = cmp->base.runs[0]->results, *cur = cmp->cur.runs[0]->results;
    int counts[2][2] = {{0, 0}, {0, 0}}; /* [overhead, time][agreeing, compared] */
    const char *const columns[2][3] = {{"overhead_pct", "overhead_pct_lo", "overhead_pct_hi"},
                                       {"time_us", "time_us_lo", "time_us_hi"}};
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        if (row->base_row < 0 || row->cur_row < 0) continue;
        for (int c = 0; c < 2; c++) {
            int agree =
                figures_agree(base, (size_t)row->base_row, cur, (size_t)row->cur_row, columns[c]);
            if (agree < 0) continue;
            counts[c][0] += agree;
            counts[c][1]++;
        }
    }
    if (!counts[0][1] && !counts[1][1]) return;
    printf("intervals (BASE's first run vs CUR's fullest): the figures agree within their 95 %% "
           "intervals for %d of %d overheads (%.0f %%) and %d of %d times (%.0f %%); honest "
           "intervals give about 95 %%\n",
           counts[0][0], counts[0][1], counts[0][1] ? 100.0 * counts[0][0] / counts[0][1] : 0.0,
           counts[1][0], counts[1][1], counts[1][1] ? 100.0 * counts[1][0] / counts[1][1] : 0.0);
}

static int compare_runs(comparison *cmp, const char *out_dir, bool all, const char *first) {
    const mx_run_folder *base = cmp->base.runs[0], *cur = cmp->cur.runs[0];
    cmp->rows = calloc(base->row_count + cur->row_count + 1, sizeof *cmp->rows);
    bool *matched = calloc(cur->row_count + 1, sizeof *matched);
    if (!cmp->rows || !matched) {
        free(matched);
        mx_cli_error("out of memory");
        return MX_EXIT_FAILED;
    }
    for (size_t b = 0; b < base->row_count; b++) {
        compared_row *row = &cmp->rows[cmp->count];
        *row = (compared_row){.base_row = (long)b,
                              .cur_row = mx_run_find_row(cur, base->keys[b]),
                              .order = cmp->count};
        if (row->cur_row >= 0) matched[row->cur_row] = true;
        cmp->count++;
    }
    for (size_t c = 0; c < cur->row_count; c++) {
        if (matched[c]) continue;
        cmp->rows[cmp->count] =
            (compared_row){.base_row = -1, .cur_row = (long)c, .order = cmp->count};
        cmp->count++;
    }
    free(matched);
    int counts[MX_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < cmp->count; i++) {
        mx_compare_judge_row(cmp, &cmp->rows[i]);
        counts[cmp->rows[i].verdict]++;
    }
    char csv_path[2200], dat_path[2200], error[2600] = "";
    if (first && !attach_first(cmp, first, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_INPUT;
    }
    mx_format_text(csv_path, sizeof csv_path, "%s/compare.csv", out_dir);
    mx_format_text(dat_path, sizeof dat_path, "%s/compare.dat", out_dir);
    if (!mx_ensure_folder(out_dir)) {
        mx_cli_error("cannot create %s: %s", out_dir, strerror(errno));
        return MX_EXIT_INPUT;
    }
    qsort(cmp->rows, cmp->count, sizeof *cmp->rows, mx_compare_rows);
    if (!mx_write_stream_atomic(dat_path, write_compare_dat, cmp, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_FAILED; /* the work failed, not the input */
    }
    print_table(cmp, all);
    if (!save_compare_csv(cmp, csv_path, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_FAILED;
    }
    int regressions = 0;
    printf("\nsummary: %zu rows:", cmp->count);
    for (int v = 0; v < MX_VERDICT_COUNT; v++) {
        printf("%s %d %s", v ? "," : "", counts[v], mx_verdict_string((mx_verdict)v));
        if (mx_verdict_is_regression((mx_verdict)v)) regressions += counts[v];
    }
    printf("\nwrote %s and %s\n", csv_path, dat_path);
    if (first) print_confirmation(cmp);
    print_interval_agreement(cmp);
    draw_plot(cmp, dat_path, out_dir);
    if (regressions) {
        printf("REGRESSION: %d rows (%d ACCURACY, %d MISSING, %d SLOWER) vs %s (exit 1)\n",
               regressions, counts[MX_VERDICT_ACCURACY], counts[MX_VERDICT_MISSING],
               counts[MX_VERDICT_SLOWER], cmp->base.dir);
        return MX_COMPARE_EXIT_REGRESSION;
    }
    printf("no regression vs %s (exit 0)\n", cmp->base.dir);
    return MX_EXIT_OK;
}

/* Every run of both sides from one GPU model, keyed on the key columns they all have. */
static bool check_sides(comparison *cmp, char *error, size_t error_size) {
    const run_side *sides[2] = {&cmp->base, &cmp->cur};
    const mx_run_folder *first = cmp->cur.runs[0];
    int total = cmp->base.count + cmp->cur.count;
    mx_run_folder **all = malloc(sizeof *all * (size_t)total);
    if (!all) return mx_format_fail(error, error_size, "out of memory");
    int n = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sides[s]->count; i++) all[n++] = sides[s]->runs[i];
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        if (strcmp(all[i]->model, first->model))
            ok = mx_format_fail(
                error, error_size,
                "the runs are from different GPU models: %s ran on '%s' (%s), %s on '%s' (%s); "
                "times from different GPUs are not comparable (compare against a baselines "
                "folder to pick CUR's model)",
                all[i]->dir, all[i]->meta.gpu_name, all[i]->model, first->dir, first->meta.gpu_name,
                first->model);
    mx_key_set keys = mx_run_shared_keys(all, n);
    for (int i = 0; ok && i < n; i++) ok = mx_run_folder_index(all[i], &keys, error, error_size);
    free(all);
    if (ok && mx_run_measured_rows(cmp->base.runs[0]) == 0)
        ok = mx_format_fail(error, error_size,
                            "%s has no measured row: there is nothing to compare against",
                            cmp->base.runs[0]->results_path);
    return ok;
}

static int run_compare(const mx_parsed_options *parsed) {
    comparison cmp = {.rule = {.spread_factor = MX_GATE_SPREAD_FACTOR}};
    bool all = mx_option_value(parsed, "all") != NULL;
    if (!number_option(parsed, "alpha", 0.0, 0.5, true, &cmp.rule.alpha) ||
        !number_option(parsed, "min-change-pct", 0.0, 1000.0, false, &cmp.rule.min_change_pct))
        return MX_EXIT_INPUT;
    char error[4096], base_dir[1024];
    bool from_baselines = false;
    int status = MX_EXIT_INPUT;
    bool ok = true;
    for (int i = 1; ok && i < parsed->argument_count; i++)
        ok = side_add(&cmp.cur, parsed->arguments[i], error, sizeof error);
    /* CUR's rows are those of its fullest run (a re-measurement holds only a few rows) */
    for (int i = 1; ok && i < cmp.cur.count; i++)
        if (cmp.cur.runs[i]->row_count > cmp.cur.runs[0]->row_count) {
            mx_run_folder *fullest = cmp.cur.runs[i];
            cmp.cur.runs[i] = cmp.cur.runs[0];
            cmp.cur.runs[0] = fullest;
        }
    ok = ok &&
         resolve_base(parsed->arguments[0], cmp.cur.runs[0], base_dir, sizeof base_dir,
                      &from_baselines, error, sizeof error) &&
         side_add(&cmp.base, base_dir, error, sizeof error) &&
         check_sides(&cmp, error, sizeof error);
    if (!ok) {
        mx_cli_error("%s", error);
    } else {
        mx_compare_measure_control(&cmp);
        const char *out = mx_option_value(parsed, "out");
        print_header(&cmp, from_baselines, out ? out : cmp.cur.dir);
        status = compare_runs(&cmp, out ? out : cmp.cur.dir, all, mx_option_value(parsed, "first"));
    }
    free(cmp.rows);
    side_free(&cmp.base);
    side_free(&cmp.cur);
    return status;
}

// ---- commands

static const mx_option compare_options[] = {
    {"out", "DIR", "where compare.csv and compare.dat go (default: the first CUR)", NULL, true},
    {"alpha", "P", "level of the two-sided run-level t test of each row, in (0, 0.5]", "0.01",
     false},
    {"min-change-pct", "X", "smallest change of the time that can be FASTER or SLOWER", "5", false},
    {"all", NULL, "list SAME rows in the table too (compare.csv always has every row)", NULL,
     false},
    {"first", "COMPARE_CSV",
     "an earlier compare.csv of these rows (make nightly's first comparison): each row's verdict "
     "there goes beside its own (first_verdict), and a line says how many SLOWER were confirmed",
     NULL, true},
};

const mx_command mx_compare_command = {
    "compare",
    "Compare runs row by row: FASTER, SLOWER, SAME, UNSURE; exit 1 on a regression.",
    "CUR is one or more run folders (results.csv, samples.csv, run.json) of one job, or a folder\n"
    "of them: make nightly runs the sweep 3 times. BASE is a run folder, a baseline (a folder of "
    "run folders:\n"
    "its history, see mxbench baseline), or a baselines folder (results/baselines): then\n"
    "BASE/<gpu-model>/, the model taken from CUR's run.json (\"NVIDIA H200\" -> nvidia-h200).\n"
    "Rows match by op, variant, dtype, dist, M, N, K, experts, topk (and batch, seed, kv_heads,\n"
    "problem where every run has them).\n"
    "Each run gives a row one value, the median of its samples; rows a run timed throttled are\n"
    "left out. BASE's and CUR's values are compared on their logs: the change of their\n"
    "geometric means, the run-to-run spread s (pooled standard deviation within each side) and a\n"
    "two-sided t test with n_BASE + n_CUR - 2 degrees of freedom. A change counts from\n"
    "max(--min-change-pct, exp(3 s) - 1): a row that moves 8 % between runs of one binary cannot\n"
    "be called slower for 8 %. When the rows that time cuBLAS alone (fp16, persistent: the\n"
    "control) moved by a median 2 % or more, the others are judged by their time over their\n"
    "problem's FP16 row in the same run (the median of the per-round ratios, overhead_pct, where\n"
    "the run timed in interleaved rounds). Verdicts:\n"
    "  ACCURACY  pass_error true -> false, or status ok -> fail in a CUR run (whatever the times)\n"
    "  MISSING   measured in BASE, but absent from CUR or not measured there (skipped, failed):\n"
    "            the row may hide a regression, so it counts as one; the reason is shown\n"
    "  SLOWER    p < alpha and the time up by a change that counts\n"
    "  FASTER    p < alpha and the time down by a change that counts\n"
    "  SAME      the change does not count\n"
    "  UNSURE    a change that counts but p >= alpha; one run a side (the spread is unknown);\n"
    "            a BASE of one run (CUR's runs are one job on one machine: only a history of\n"
    "            baseline runs says how far a row moves between machines and days); a control\n"
    "            row that moved (it is the environment, never gated)\n"
    "  NEW       measured in CUR only;  SKIPPED  measured in neither\n"
    "The table lists the rows worst first, then counts. DIR/compare.csv (every row: key, runs,\n"
    "medians, change %, the band the spread alone could give, p, spread, the change that counts,\n"
    "verdict) and DIR/compare.dat (tab-separated, for plots/compare.gp) are written atomically.\n"
    "Exit 1 means a regression (ACCURACY, MISSING or SLOWER rows); 2 unusable input (a missing\n"
    "or malformed file, samples that do not match results.csv, different GPU models, no\n"
    "baseline for CUR's GPU model): never a pass.",
    compare_options,
    (int)(sizeof compare_options / sizeof compare_options[0]),
    run_compare,
    2,
    8,
    "BASE CUR [CUR...]",
    NULL,
};
