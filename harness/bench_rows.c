/* results.csv and samples.csv rows as `mxbench run` writes them (the schema's columns, in its
 * units), and a run folder's three files saved (bench_data.h). */
#include "bench_data.h"

#include <math.h>
#include <string.h>

#include "cli.h"
#include "op_util.h"
#include "schema.h"
#include "targets.h"

/* Each file on its own, so that run.json still records a failure when a table cannot be saved. */
bool mx_bench_save_all(run_files *files) {
    char error[3][512];
    bool saved[3] = {mx_table_save(files->results, files->results_path, error[0], sizeof error[0]),
                     mx_table_save(files->samples, files->samples_path, error[1], sizeof error[1]),
                     mx_run_info_save(files->info, files->run_path, error[2], sizeof error[2])};
    for (int i = 0; i < 3; i++)
        if (!saved[i]) mx_cli_error("%s", error[i]);
    return saved[0] && saved[1] && saved[2];
}

/* Sets a cell. A failure (an unknown column: a bug here; out of memory) marks the table
 * incomplete, and the next mx_bench_save_all refuses it: the run stops with the files of the rows
 * before intact. */
#define CELL(table, row, column, ...) (void)mx_table_set(table, row, column, __VA_ARGS__)

/* Appends a row holding the key columns results.csv and samples.csv share (-1: see CELL). */
static int add_keyed_row(mx_table *t, const run_files *files, const mx_sweep_row *row,
                         const char *variant) {
    int r = mx_table_add_row(t);
    char problem[256];
    mx_sweep_problem(row, problem, sizeof problem);
    CELL(t, r, "run_id", "%s", files->info->run_id);
    CELL(t, r, "problem", "%s", problem);
    CELL(t, r, "op", "%s", row->op);
    CELL(t, r, "variant", "%s", variant);
    CELL(t, r, "dtype", "%s", row->dtype);
    CELL(t, r, "dist", "%s", row->dist);
    CELL(t, r, "M", "%lld", (long long)row->m);
    CELL(t, r, "N", "%lld", (long long)row->n);
    CELL(t, r, "K", "%lld", (long long)row->k);
    /* empty where they do not apply (not a MoE row, not an attention row) */
    if (row->experts > 0) {
        CELL(t, r, "experts", "%lld", (long long)row->experts);
        CELL(t, r, "topk", "%lld", (long long)row->topk);
    }
    CELL(t, r, "batch", "%lld", (long long)row->batch);
    CELL(t, r, "seed", "%lld", (long long)row->seed);
    if (row->kv_heads > 0) CELL(t, r, "kv_heads", "%lld", (long long)row->kv_heads);
    return r;
}

/* The columns every results row has, measured or not. */
int mx_bench_start_row(run_files *files, const mx_sweep_row *row, const char *variant) {
    mx_table *t = files->results;
    int r = add_keyed_row(t, files, row, variant);
    CELL(t, r, "suite", "%s", files->info->suite);
    CELL(t, r, "shape_name", "%s", row->shape_name);
    CELL(t, r, "group", "%s", row->group);
    CELL(t, r, "gpu", "%s", files->info->gpu_name);
    return r;
}

void mx_bench_finish_row(run_files *files, int r, const char *status, const char *note) {
    CELL(files->results, r, "status", "%s", status);
    CELL(files->results, r, "note", "%s", note);
    mx_run_info *info = files->info;
    info->rows_done++;
    if (strcmp(status, "ok") == 0)
        info->rows_ok++;
    else if (strcmp(status, "fail") == 0)
        info->rows_failed++;
    else
        info->rows_skipped++;
}

void mx_bench_write_measured(run_files *files, int r, const mx_bench_op *op,
                             const mx_sweep_row *row, const row_result *m) {
    mx_table *t = files->results;
    const mx_run_info *info = files->info;
    double us = m->stats.median;
    double gbps = op->bytes(row, m->is_fp16) / (us * 1e3), tflops = op->flops(row) / (us * 1e6);
    double overhead = (m->ratio.median - 1.0) * 100.0;
    CELL(t, r, "samples", "%d", m->stats.count);
    CELL(t, r, "time_us", "%.3f", us);
    CELL(t, r, "time_us_min", "%.3f", m->stats.min);
    CELL(t, r, "time_us_max", "%.3f", m->stats.max);
    if (isfinite(m->time.low)) { /* empty below 6 rounds: no 95 % interval exists */
        CELL(t, r, "time_us_lo", "%.3f", m->time.low);
        CELL(t, r, "time_us_hi", "%.3f", m->time.high);
    }
    CELL(t, r, "noise_pct", "%.3f", m->stats.noise_pct);
    CELL(t, r, "fp16_time_us", "%.3f", m->fp16_us);
    if (m->is_fp16) {
        CELL(t, r, "fp16_algo", "%s (fastest of %d timed%s)", m->algo, m->candidates,
             m->rejected ? "; candidates whose output disagreed were left out" : "");
        if (isfinite(m->default_us)) CELL(t, r, "fp16_default_us", "%.3f", m->default_us);
    }
    CELL(t, r, "overhead_pct", "%.2f", overhead);
    if (!m->is_fp16 && isfinite(m->ratio.low)) {
        CELL(t, r, "overhead_pct_lo", "%.2f", (m->ratio.low - 1.0) * 100.0);
        CELL(t, r, "overhead_pct_hi", "%.2f", (m->ratio.high - 1.0) * 100.0);
    }
    CELL(t, r, "gbps", "%.1f", gbps);
    CELL(t, r, "tflops", "%.2f", tflops);
    CELL(t, r, "pct_peak_bw", "%.1f", 100.0 * gbps / info->copy_gbps);
    CELL(t, r, "pct_peak_flops", "%.1f", 100.0 * tflops / info->fp16_tflops);
    CELL(t, r, "rel_err_vs_fp16", "%.3e", m->errors.rel_vs_fp16);
    CELL(t, r, "max_rel_err_vs_fp16", "%.3e", m->errors.max_rel_vs_fp16);
    if (!isnan(m->errors.rel_vs_exact)) /* empty: no exact reference at this size */
        CELL(t, r, "rel_err_vs_exact", "%.3e", m->errors.rel_vs_exact);
    CELL(t, r, "quant_rel_err", "%.3e", m->errors.quant_rel);
    CELL(t, r, "sqnr_db", "%.2f", -20.0 * log10(m->errors.quant_rel));
    CELL(t, r, "nonfinite", "%lld", (long long)m->errors.nonfinite);
    CELL(t, r, "weight_bytes_fp16", "%lld", (long long)m->memory.weight_bytes_fp16);
    CELL(t, r, "weight_bytes_mxfp4", "%lld", (long long)m->memory.weight_bytes_mxfp4);
    CELL(t, r, "workspace_bytes", "%lld", (long long)m->memory.workspace_bytes);
    if (m->memory.measured_bytes >= 0)
        CELL(t, r, "vram_measured_bytes", "%lld", (long long)m->memory.measured_bytes);
    if (m->memory.prepare_us > 0.0) CELL(t, r, "prepare_us", "%.1f", m->memory.prepare_us);
    double held = m->is_fp16 ? (double)m->memory.weight_bytes_fp16
                             : (double)(m->memory.weight_bytes_mxfp4 + m->memory.workspace_bytes);
    CELL(t, r, "vram_savings_pct", "%.2f",
         100.0 * (1.0 - held / (double)m->memory.weight_bytes_fp16));
    if (!m->is_fp16 && m->memory.measured_bytes >= 0) {
        double measured = (double)m->memory.measured_bytes;
        CELL(t, r, "vram_savings_measured_pct", "%.2f",
             100.0 * (1.0 - measured / (double)m->memory.weight_bytes_fp16));
        CELL(t, r, "vram_mismatch", "%s", mx_flag_text(mx_target_vram_mismatch(measured, held)));
    }
    bool throttled = mx_target_throttled(m->sm_clock_mhz, info->sm_clock_start_mhz);
    /* a time at a lowered clock, or in a problem whose identical calls disagree, judges nothing */
    if (!m->is_fp16 && !throttled && !m->unstable)
        CELL(t, r, "pass_overhead", "%s", mx_flag_text(mx_target_overhead_passes(overhead)));
    CELL(t, r, "pass_error", "%s",
         mx_flag_text(mx_target_errors_pass(mx_op_row_dtype(row), m->errors.rel_vs_fp16,
                                            m->errors.rel_vs_exact, m->errors.elementwise,
                                            m->errors.nonfinite)));
    if (!isnan(m->errors.elementwise)) { /* empty: an op without the bound's magnitudes */
        CELL(t, r, "elem_err_vs_bound", "%.3g", m->errors.elementwise);
        if (row->batch > 1)
            CELL(t, r, "worst_element", "batch %lld, row %lld, column %lld",
                 (long long)m->errors.worst_batch, (long long)m->errors.worst_row,
                 (long long)m->errors.worst_column);
        else
            CELL(t, r, "worst_element", "row %lld, column %lld", (long long)m->errors.worst_row,
                 (long long)m->errors.worst_column);
        CELL(t, r, "elements_over_bound", "%lld", (long long)m->errors.elementwise_over);
    }
    CELL(t, r, "sm_clock_mhz", "%.0f", m->sm_clock_mhz);
    CELL(t, r, "throttled", "%s", mx_flag_text(throttled));
    CELL(t, r, "unstable", "%s", mx_flag_text(m->unstable));
    CELL(t, r, "stop_reason", "%s", mx_stop_reason_string(m->reason));
}

void mx_bench_write_samples(run_files *files, const mx_sweep_row *row, const char *variant,
                            const double *samples, int count) {
    mx_table *t = files->samples;
    for (int i = 0; i < count; i++) {
        int r = add_keyed_row(t, files, row, variant);
        CELL(t, r, "sample", "%d", i);
        CELL(t, r, "time_us", "%.3f", samples[i]);
    }
}
