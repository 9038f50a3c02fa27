/* `mxbench tune RUN` (tune.h). */
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "run_folder.h"
#include "schema.h"
#include "table.h"

/* One candidate row of the run. */
typedef struct {
    char dtype[8];
    long long m, n, k;
    mx_gemm_variant variant;
    double time_us;
} measured;

static int measured_order(const void *left, const void *right) {
    const measured *a = left, *b = right;
    int dtype = strcmp(a->dtype, b->dtype);
    if (dtype) return dtype;
    long long keys[][2] = {{a->n, b->n}, {a->k, b->k}, {a->m, b->m}, {a->variant, b->variant}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i][0] != keys[i][1]) return keys[i][0] < keys[i][1] ? -1 : 1;
    return 0;
}

static bool same_problem(const measured *a, const measured *b) {
    return !strcmp(a->dtype, b->dtype) && a->m == b->m && a->n == b->n && a->k == b->k;
}

/* The candidate rows of results that can be judged, into *rows (malloc'd); returns their count. */
static size_t collect(const mx_table *t, measured **rows, mx_tune_summary *summary) {
    size_t count = 0, row_count = mx_table_row_count(t);
    *rows = malloc((row_count ? row_count : 1) * sizeof **rows);
    for (size_t r = 0; *rows && r < row_count; r++) {
        /* a row without a valid time counts as not measured */
        measured row = {.time_us = NAN};
        char unused[8];
        if (!mx_run_time_cell(t, "results.csv", r, &row.time_us, unused, sizeof unused))
            row.time_us = NAN;
        if (strcmp(mx_run_cell(t, r, "op"), "gemm") ||
            !mx_gemm_dispatch_candidate_named(mx_run_cell(t, r, "variant"), &row.variant))
            continue;
        const char *batch = mx_run_cell(t, r, "batch");
        if (strcmp(mx_run_cell(t, r, "status"), "ok") || isnan(row.time_us)) {
            summary->not_ok++;
        } else if (batch[0] && strcmp(batch, "1")) {
            summary->batched++;
        } else if (mx_flag_is_true(mx_run_cell(t, r, "throttled")) ||
                   mx_flag_is_true(mx_run_cell(t, r, "unstable")) ||
                   mx_flag_value(mx_run_cell(t, r, "pass_error")) == 0) {
            summary->flagged++;
        } else {
            snprintf(row.dtype, sizeof row.dtype, "%s", mx_run_cell(t, r, "dtype"));
            row.m = atoll(mx_run_cell(t, r, "M"));
            row.n = atoll(mx_run_cell(t, r, "N"));
            row.k = atoll(mx_run_cell(t, r, "K"));
            (*rows)[count++] = row;
        }
    }
    return count;
}

/* A run.json text for a comment line of the table: its line breaks become spaces. */
static void mx_tune_table_comment(char *out, const char *text) {
    size_t i = 0;
    for (; text[i]; i++) out[i] = text[i] == '\n' || text[i] == '\r' ? ' ' : text[i];
    out[i] = '\0';
}

bool mx_tune_table(const char *dir, const mx_table *results, const mx_run_info *meta,
                   mx_text *table, mx_tune_summary *summary, char *error, size_t error_size) {
    memset(summary, 0, sizeof *summary);
    if (!meta->code_path[0])
        return mx_format_fail(error, error_size,
                              "%s: its run.json records no gpu.code_path (a run from before the "
                              "portable path): run the tune sweep again",
                              dir);
    if (strchr(meta->gpu_name, ',') || !meta->gpu_name[0])
        return mx_format_fail(error, error_size,
                              "%s: GPU name '%s' cannot be a cell of the table (empty or with a "
                              "comma)",
                              dir, meta->gpu_name);
    measured *rows = NULL;
    size_t count = collect(results, &rows, summary);
    if (!rows) return mx_format_fail(error, error_size, "out of host memory");
    qsort(rows, count, sizeof *rows, measured_order);
    int candidates = 0;
    for (int v = 0; v < MX_GEMM_VARIANT_COUNT; v++)
        candidates += mx_gemm_variant_runs_mxfp4((mx_gemm_variant)v);
    char run_id[sizeof meta->run_id], suite[sizeof meta->suite], start[sizeof meta->start_time];
    mx_tune_table_comment(run_id, meta->run_id);
    mx_tune_table_comment(suite, meta->suite);
    mx_tune_table_comment(start, meta->start_time);
    mx_text_printf(table,
                   "# auto's dispatch table (kernels/dispatch.h), written by mxbench tune from "
                   "run %s\n# (suite %s, commit %.12s%s, started %s): for each problem the "
                   "fastest variant auto may pick.\n%s\n",
                   run_id, suite, meta->git_commit, meta->git_dirty == 1 ? " dirty" : "", start,
                   MX_GEMM_DISPATCH_COLUMNS);
    for (size_t first = 0, end; first < count; first = end) {
        /* the problem's rows, by variant; each variant's mean time */
        double time[MX_GEMM_VARIANT_COUNT] = {0};
        int samples[MX_GEMM_VARIANT_COUNT] = {0}, present = 0;
        for (end = first; end < count && same_problem(&rows[end], &rows[first]); end++) {
            present += samples[rows[end].variant]++ == 0;
            time[rows[end].variant] += rows[end].time_us;
        }
        const measured *p = &rows[first];
        if (present < candidates) {
            if (!summary->incomplete++)
                snprintf(summary->first_incomplete, sizeof summary->first_incomplete,
                         "%s m %lld %lldx%lld: %d of the %d candidates measured", p->dtype, p->m,
                         p->n, p->k, present, candidates);
            continue;
        }
        int best = -1, next = -1;
        for (int v = 0; v < MX_GEMM_VARIANT_COUNT; v++) {
            if (!samples[v]) continue;
            time[v] /= samples[v];
            if (best < 0 || time[v] < time[best]) {
                next = best;
                best = v;
            } else if (next < 0 || time[v] < time[next]) {
                next = v;
            }
        }
        mx_text_printf(table, "%s,%s,%s,%lld,%lld,%lld,%s,%.3f,%s,%.3f\n", meta->gpu_name,
                       meta->code_path, p->dtype, p->m, p->n, p->k, mx_gemm_variant_names[best],
                       time[best], mx_gemm_variant_names[next], time[next]);
        summary->problems++;
        summary->picked[best]++;
    }
    free(rows);
    if (table->failed) return mx_format_fail(error, error_size, "out of host memory");
    if (!summary->problems)
        return mx_format_fail(error, error_size,
                              "%s: no GEMM problem measured with every variant auto may pick "
                              "(%zu not ok, %zu flagged, %zu batched rows left out%s%s)",
                              dir, summary->not_ok, summary->flagged, summary->batched,
                              summary->incomplete ? "; incomplete: " : "",
                              summary->first_incomplete);
    /* What the library will read: checked by its own parser. */
    mx_gemm_dispatch parsed;
    bool matched = false;
    if (mx_gemm_dispatch_parse(table->data, table->length, "the new table", meta->gpu_name,
                               meta->code_path, &parsed, &matched) != MX_OK)
        return mx_format_fail(error, error_size, "%s", mx_last_error());
    mx_gemm_dispatch_free(&parsed);
    return true;
}

/* RUN_DIR's results.csv and run.json; false after printing why. */
static bool load_run(const char *dir, mx_table **results, mx_run_info *meta) {
    char path[1100], error[1024];
    snprintf(path, sizeof path, "%s/run.json", dir);
    bool ok = mx_run_info_read(path, meta, error, sizeof error);
    snprintf(path, sizeof path, "%s/results.csv", dir);
    ok = ok && mx_csv_read(path, results, error, sizeof error);
    if (ok && strcmp(meta->status, "complete"))
        ok = mx_format_fail(error, sizeof error,
                            "%s: status %s: tune takes a complete run (every row of its sweep "
                            "measured)",
                            dir, meta->status);
    if (!ok) mx_cli_error("%s", error);
    return ok;
}

/* Where the table goes: --out FILE, --into DIR (DIR/<gpu-model>.csv) or RUN_DIR/dispatch.csv. */
static bool output_path(const mx_parsed_options *parsed, const mx_run_info *meta, char *out,
                        size_t size) {
    const char *file = mx_option_value(parsed, "out"), *into = mx_option_value(parsed, "into");
    char model[128];
    if (file && into) {
        mx_cli_error("tune: --out %s and --into %s: give one (--into writes DIR/<gpu-model>.csv)",
                     file, into);
        return false;
    }
    if (into && !mx_gpu_model_name(meta->gpu_name, model, sizeof model)) {
        mx_cli_error("tune: GPU name '%s' gives no file name for --into", meta->gpu_name);
        return false;
    }
    if (into)
        snprintf(out, size, "%s/%s.csv", into, model);
    else if (file)
        snprintf(out, size, "%s", file);
    else
        snprintf(out, size, "%s/dispatch.csv", parsed->arguments[0]);
    return true;
}

static int run_tune(const mx_parsed_options *parsed) {
    const char *dir = parsed->arguments[0];
    char error[1024], out[1400];
    mx_table *results = NULL;
    mx_run_info meta;
    mx_text table = {0};
    mx_tune_summary summary;
    int status = MX_EXIT_INPUT;
    if (!load_run(dir, &results, &meta) || !output_path(parsed, &meta, out, sizeof out)) {
        /* said */
    } else if (!mx_tune_table(dir, results, &meta, &table, &summary, error, sizeof error)) {
        mx_cli_error("%s", error);
    } else if (!mx_write_file_atomic(out, table.data, table.length, error, sizeof error)) {
        mx_cli_error("%s", error);
        status = MX_EXIT_FAILED;
    } else {
        printf("dispatch table for %s (%s path): %zu problems into %s; won:", meta.gpu_name,
               meta.code_path, summary.problems, out);
        for (int v = 0; v < MX_GEMM_VARIANT_COUNT; v++)
            if (mx_gemm_variant_runs_mxfp4((mx_gemm_variant)v))
                printf(" %s %zu", mx_gemm_variant_names[v], summary.picked[v]);
        printf("\nleft out: %zu rows not ok, %zu throttled, unstable or over the error gate, %zu "
               "batched; %zu problems without every candidate%s%s\n",
               summary.not_ok, summary.flagged, summary.batched, summary.incomplete,
               summary.incomplete ? ", the first: " : "", summary.first_incomplete);
        status = MX_EXIT_OK;
    }
    mx_text_free(&table);
    mx_table_free(results);
    return status;
}

static const mx_option tune_options[] = {
    {"out", "FILE", "where to write the table (default: RUN_DIR/dispatch.csv)", NULL, true},
    {"into", "DIR",
     "write DIR/<gpu-model>.csv instead (kernels/dispatch: the tables built into the library)",
     NULL, true},
};

const mx_command mx_tune_command = {
    "tune",
    "Turn a run's GEMM rows into auto's dispatch table for its GPU model.",
    "For every GEMM problem (dtype, m, n, k) of RUN_DIR measured with each variant auto may\n"
    "pick (fused and skinny: those that keep no FP16 copy of the weights), the fastest, as a\n"
    "table auto reads (docs/gemm.md, \"Dispatch\"): gpu and code path from run.json, then one row\n"
    "per problem with the winner and the runner-up and their times (the mean over rows of other\n"
    "weight distributions or seeds). Rows not ok, throttled, unstable or over the error gate,\n"
    "and batched rows, are left out and counted. RUN_DIR must be complete. The table is written\n"
    "atomically, after the library's own parser has read it back. To build it into the library\n"
    "for that GPU model: --into kernels/dispatch (the file is named after the model as in\n"
    "results/baselines: NVIDIA H200 -> nvidia-h200.csv), then rebuild; `make tune` on a GPU box\n"
    "runs the tune sweep and does both. To try a table without rebuilding:\n"
    "MX_GEMM_DISPATCH=FILE mxbench run ... (MX_GEMM_DISPATCH=thresholds: no table).",
    tune_options,
    (int)(sizeof tune_options / sizeof tune_options[0]),
    run_tune,
    1,
    1,
    "RUN_DIR",
    NULL,
};
