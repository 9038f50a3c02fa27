/* `mxbench run`: loads a sweep, measures this GPU's ceilings, then for every problem (a sweep row
 * without its variant) sets up inputs and references once, prepares the FP16 reference and every
 * MXFP4 variant together, checks each output's errors, times them all in interleaved rounds
 * (timing.h: CUDA events around exactly the call, L2 flushed before each sample, the SM clock
 * probed after each round, stopping on the ratios' intervals) and writes a row each. Files are
 * rewritten atomically after every problem; Ctrl-C stops after the current problem. No
 * op-specific code: everything about an op comes from its table entry (ops.h). */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>

#include "mx.h"
#include "bench_gpu.h"
#include "data_dir.h"
#include "device.h"
#include "environment.h"
#include "op_util.h"
#include "ops.h"
#include "run_info.h"
#include "schema.h"
#include "shard.h"
#include "stats.h"
#include "sweep.h"
#include "table.h"
#include "targets.h"
#include "timing.h"

// ---- interruption

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signal_number) {
    if (interrupted) { /* a second Ctrl-C: stop now */
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        return;
    }
    interrupted = 1;
    static const char message[] = "\nmxbench: interrupted: stopping after the current problem "
                                  "(Ctrl-C again to abort now)\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
}

// ---- output

typedef struct {
    char dir[3072], results_path[3200], samples_path[3200], run_path[3200];
    mx_table *results, *samples;
    mx_run_info *info;
} run_files;

/* Each file on its own, so that run.json still records a failure when a table cannot be saved. */
static bool save_all(run_files *files) {
    char error[3][512];
    bool saved[3] = {mx_table_save(files->results, files->results_path, error[0], sizeof error[0]),
                     mx_table_save(files->samples, files->samples_path, error[1], sizeof error[1]),
                     mx_run_info_save(files->info, files->run_path, error[2], sizeof error[2])};
    for (int i = 0; i < 3; i++)
        if (!saved[i]) mx_cli_error("%s", error[i]);
    return saved[0] && saved[1] && saved[2];
}

/* Sets a cell. A failure (an unknown column: a bug here; out of memory) marks the table
 * incomplete, and the next save_all refuses it: the run stops with the files of the rows before
 * intact. */
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
static int start_row(run_files *files, const mx_sweep_row *row, const char *variant) {
    mx_table *t = files->results;
    int r = add_keyed_row(t, files, row, variant);
    CELL(t, r, "suite", "%s", files->info->suite);
    CELL(t, r, "shape_name", "%s", row->shape_name);
    CELL(t, r, "group", "%s", row->group);
    CELL(t, r, "gpu", "%s", files->info->gpu_name);
    return r;
}

static void finish_row(run_files *files, int r, const char *status, const char *note) {
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

/* One measured row: what the op and the rounds gave, in the schema's units. */
typedef struct {
    mx_sample_stats stats;
    mx_interval time;  /* the median time and its 95 % interval */
    mx_interval ratio; /* the median of the per-round ratios to the FP16 reference, its interval */
    mx_stop_reason reason;
    mx_bench_errors errors;
    mx_bench_memory memory;
    double fp16_us, sm_clock_mhz;
    bool is_fp16, unstable;
    /* the fp16 row: which of cuBLAS's algorithms it is, out of how many timed, and the time of
     * cuBLAS's own choice (cublasGemmEx default) in the same rounds (NaN: not measured) */
    char algo[160];
    int candidates, rejected;
    double default_us;
} row_result;

static void write_measured(run_files *files, int r, const mx_bench_op *op, const mx_sweep_row *row,
                           const row_result *m) {
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

static void write_samples(run_files *files, const mx_sweep_row *row, const char *variant,
                          const double *samples, int count) {
    mx_table *t = files->samples;
    for (int i = 0; i < count; i++) {
        int r = add_keyed_row(t, files, row, variant);
        CELL(t, r, "sample", "%d", i);
        CELL(t, r, "time_us", "%.3f", samples[i]);
    }
}

// ---- progress

typedef struct {
    bool quiet;
    double begin_ms;
    int64_t total;
} progress;

static void format_duration(double seconds, char *text, size_t size) {
    int s = (int)(seconds + 0.5);
    snprintf(text, size, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

static void report_progress(const progress *p, const mx_run_info *info, const mx_sweep_row *row,
                            const char *variant, const char *what) {
    if (p->quiet) return;
    double elapsed = (mx_now_ms() - p->begin_ms) / 1e3;
    double eta = info->rows_done > 0
                     ? elapsed / (double)info->rows_done * (double)(p->total - info->rows_done)
                     : 0.0;
    char elapsed_text[16], eta_text[16];
    format_duration(elapsed, elapsed_text, sizeof elapsed_text);
    format_duration(eta, eta_text, sizeof eta_text);
    fprintf(stderr, "[%4lld/%lld] %s elapsed, ETA %s | %s %s %s %s M=%lld N=%lld K=%lld: %s\n",
            (long long)info->rows_done, (long long)p->total, elapsed_text, eta_text, row->op,
            variant, row->dtype, row->dist, (long long)row->m, (long long)row->n, (long long)row->k,
            what);
}

// ---- the sweep

typedef struct {
    const mx_sweep_row *first; /* the problem's rows: first[0 .. count) */
    size_t count;
} problem_rows;

static void skip_problem(run_files *files, const progress *prog, problem_rows rows,
                         const char *why) {
    for (size_t i = 0; i <= rows.count; i++) { /* the FP16 row, then every variant */
        const char *variant = i == 0 ? MX_BENCH_FP16 : rows.first[i - 1].variant;
        int r = start_row(files, &rows.first[i == 0 ? 0 : i - 1], variant);
        finish_row(files, r, "skipped", why);
        report_progress(prog, files->info, rows.first, variant, why);
    }
}

/* A problem timed at a lowered SM clock is timed once more after this pause. */
enum { MX_THROTTLE_PAUSE_S = 2 };

/* A candidate for the FP16 reference (one of the algorithms cuBLAS offers) or one variant of a
 * problem, prepared, checked and timed in the problem's rounds. */
typedef struct {
    const mx_bench_op *op;
    void *problem;
    const mx_sweep_row *row;
    const char *variant;
    mx_op_prepared prepared;
    row_result m;
    bool ready;       /* prepared and checked: timed in the rounds */
    bool skipped;     /* not measured because the reference was not (else why is a failure) */
    double *samples;  /* [rule.max_samples] */
    double inject_us; /* run --inject-slowdown: a spin this long after each call (test only) */
    char why[512];    /* why it failed or was skipped */
} slot;

static bool run_slot(void *context, cudaStream_t stream, char *why, size_t why_size) {
    slot *s = context;
    if (!s->op->run(s->problem, &s->prepared, stream, why, why_size)) return false;
    if (s->inject_us <= 0.0 || mx_bench_spin(stream, s->inject_us) == MX_OK) return true;
    snprintf(why, why_size, "injected slowdown: %s", mx_last_error());
    return false;
}

/* --inject-slowdown VARIANT:PCT (test only): the variant and the share, parsed once. */
static char injected_variant[32];
static double injected_pct;

/* The spin that makes one call of s about injected_pct % slower: that share of one call's time,
 * timed once with events (no flush: the spin only has to be of the right size). */
static bool plan_injection(slot *s, const mx_timer *t) {
    if (injected_pct <= 0.0 || strcmp(s->variant, injected_variant) != 0) return true;
    /* timed as the rounds time it (after the same flush): the median of 5 calls */
    mx_timer once = *t;
    once.rule = (mx_stop_rule){.min_samples = 5, .max_samples = 5, .budget_ms = INFINITY};
    double samples[5];
    int count = 0;
    mx_stop_reason reason;
    bool ok = mx_time_call(&once, run_slot, s, samples, &count, &reason, s->why, sizeof s->why);
    s->inject_us = ok ? injected_pct / 100.0 * mx_stats_median_of(samples, count) : 0.0;
    return ok;
}

/* Prepares and checks a slot (its errors measured on a poisoned output). */
static void prepare_slot(slot *s, const mx_timer *t) {
    char range[256];
    snprintf(range, sizeof range, "%s %s %s %s M=%lld N=%lld K=%lld batch=%lld prepare", s->row->op,
             s->variant, s->row->dtype, s->row->dist, (long long)s->row->m, (long long)s->row->n,
             (long long)s->row->k, (long long)s->row->batch);
    nvtxRangePushA(range);
    s->ready =
        s->op->prepare(s->problem, s->variant, &s->prepared, &s->m.memory, s->why, sizeof s->why) &&
        s->op->check(s->problem, &s->prepared, t->stream, &s->m.errors, s->why, sizeof s->why) &&
        plan_injection(s, t);
    nvtxRangePop();
}

/* A problem's slots: candidates[0..references) (0: cuBLAS's own choice), then the variants;
 * ready lists the ones prepared and checked, candidates first. */
typedef struct {
    slot *slots, **ready;
    int count, references, ready_count, ready_references;
    int rejected;  /* cublasLt candidates whose output disagreed with cuBLAS's own choice */
    int reference; /* after the rounds: the slot of the fastest candidate, the fp16 row */
    int rows;      /* rows the problem writes: the fp16 row and the variants */
    int rounds;
    double first_clock_mhz; /* a throttled first attempt's clock, or NaN */
} problem_slots;

/* The rounds of a problem's ready slots, retimed once after a pause when the median SM clock over
 * the rounds says throttled. Fills each ready slot's row_result, ratios against the fastest
 * candidate. */
static bool time_slots(const mx_timer *base, problem_slots *p, double start_clock_mhz,
                       double *clocks, char *why, size_t why_size) {
    mx_round_call *calls = calloc((size_t)p->ready_count, sizeof *calls);
    if (!calls) {
        snprintf(why, why_size, "out of host memory");
        return false;
    }
    for (int i = 0; i < p->ready_count; i++)
        calls[i] = (mx_round_call){
            .call = run_slot, .context = p->ready[i], .samples = p->ready[i]->samples};
    mx_timer t = *base;
    const mx_sweep_row *row = p->ready[0]->row;
    if (row->budget_ms > 0) t.rule.budget_ms = row->budget_ms;
    t.rule.budget_ms *= p->rows; /* the rows' budgets and minimum times, spent together */
    t.rule.min_ms *= p->rows;
    int reference = -1;
    mx_stop_reason reason = MX_STOP_CONTINUE;
    double clock_mhz = NAN;
    bool ok = true;
    for (int attempt = 0; attempt < 2 && ok; attempt++) {
        if (attempt == 1) sleep(MX_THROTTLE_PAUSE_S); /* the clocks can recover */
        char range[256];
        snprintf(range, sizeof range, "%s %s %s M=%lld N=%lld K=%lld batch=%lld rounds", row->op,
                 row->dtype, row->dist, (long long)row->m, (long long)row->n, (long long)row->k,
                 (long long)row->batch);
        nvtxRangePushA(range);
        /* cuBLAS's own choice always stays: the self-check and fp16_default_us need it */
        int keep = p->slots[0].ready ? 0 : -1;
        ok = mx_time_rounds(&t, calls, p->ready_count, p->ready_references, keep, &reference,
                            clocks, &p->rounds, &reason, why, why_size);
        nvtxRangePop();
        clock_mhz = ok ? mx_stats_median_of(clocks, p->rounds) : NAN;
        if (!ok || !mx_target_throttled(clock_mhz, start_clock_mhz)) break;
        if (attempt == 0) p->first_clock_mhz = clock_mhz;
    }
    for (int i = 0; i < p->ready_count; i++)
        if (!calls[i].active) { /* failed (its own why), or a candidate left out as slower */
            p->ready[i]->ready = false;
            snprintf(p->ready[i]->why, sizeof p->ready[i]->why, "%s", calls[i].why);
        }
    if (ok) {
        const slot *best = p->ready[reference];
        p->reference = (int)(best - p->slots);
        for (int i = 0; i < p->ready_count; i++) {
            slot *s = p->ready[i];
            row_result *m = &s->m;
            if (!s->ready) continue;
            mx_stats_compute(s->samples, p->rounds, &m->stats);
            m->time = mx_stats_median_interval(s->samples, p->rounds);
            m->ratio = s == best ? (mx_interval){1.0, 1.0, 1.0}
                                 : mx_stats_ratio_interval(s->samples, best->samples, p->rounds);
            m->reason = reason;
            m->sm_clock_mhz = clock_mhz;
            m->fp16_us = mx_stats_median_of(best->samples, p->rounds);
        }
    }
    free(calls);
    return ok;
}

/* The self-check: a cublas_only variant makes the call of cuBLAS's own choice (candidate 0), so
 * its ratio to that candidate must come near 1 (mx_target_unstable). The first variant that does
 * not, with that ratio in *ratio, or NULL. */
static const slot *self_check(const problem_slots *p, mx_interval *ratio) {
    const slot *own = &p->slots[0];
    if (!own->ready) return NULL;
    for (int i = p->references; i < p->count; i++) {
        const slot *s = &p->slots[i];
        if (!s->ready || !mx_variant_traits_of(s->variant)->cublas_only) continue;
        *ratio = mx_stats_ratio_interval(s->samples, own->samples, p->rounds);
        if (mx_target_unstable(ratio->low, ratio->high)) return s;
    }
    return NULL;
}

/* Writes one slot's row (measured, failed or skipped) and its samples. */
static void write_slot(run_files *files, const progress *prog, const slot *s, int rounds,
                       const slot *unstable_by, mx_interval unstable_ratio,
                       double first_clock_mhz) {
    int r = start_row(files, s->row, s->variant);
    if (!s->ready) {
        /* A shape the GPU cannot hold or the variant does not support is skipped; anything else
         * (a kernel error, a failed check) is a failure. */
        bool skipped =
            s->skipped || strstr(s->why, "out of memory") || strstr(s->why, "unsupported shape");
        finish_row(files, r, skipped ? "skipped" : "fail", s->why);
        report_progress(prog, files->info, s->row, s->variant, s->why);
        return;
    }
    const row_result *m = &s->m;
    write_measured(files, r, s->op, s->row, m);
    write_samples(files, s->row, s->variant, s->samples, rounds);
    char note[1024] = "";
    const char *status = "ok";
    if (m->errors.nonfinite > 0) {
        status = "fail";
        snprintf(note, sizeof note, "%lld non-finite outputs where the exact result is finite; ",
                 (long long)m->errors.nonfinite);
    }
    if (m->errors.elementwise > 1.0)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "%lld outputs beyond their error bound, the worst %.3g x (worst_element); ",
                 (long long)m->errors.elementwise_over, m->errors.elementwise);
    if (m->reason == MX_STOP_BUDGET)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "time budget spent at noise %.2f %% (ratio interval %.2f %%); ",
                 mx_interval_noise_pct(m->time), mx_interval_noise_pct(m->ratio));
    if (isfinite(first_clock_mhz))
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "timed again after a %d s pause: SM clock %.0f MHz the first time; ",
                 MX_THROTTLE_PAUSE_S, first_clock_mhz);
    if (mx_target_throttled(m->sm_clock_mhz, files->info->sm_clock_start_mhz))
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "throttled: SM clock %.0f MHz vs %.0f at start (not judged); ", m->sm_clock_mhz,
                 files->info->sm_clock_start_mhz);
    if (unstable_by)
        snprintf(note + strlen(note), sizeof note - strlen(note),
                 "unstable: %s, the same cuBLAS call as cublasGemmEx's own choice, measured "
                 "%+.1f %% [%+.1f, %+.1f] off it (not judged); ",
                 unstable_by->variant, (unstable_ratio.median - 1.0) * 100.0,
                 (unstable_ratio.low - 1.0) * 100.0, (unstable_ratio.high - 1.0) * 100.0);
    size_t length = strlen(note);
    if (length >= 2) note[length - 2] = '\0';
    finish_row(files, r, status, note);
    char what[256];
    snprintf(what, sizeof what,
             "%.2f us (%+.1f %% [%+.1f, %+.1f] vs FP16 %.2f us), err %.2e vs FP16, %.0f GB/s%s",
             m->stats.median, (m->ratio.median - 1.0) * 100.0, (m->ratio.low - 1.0) * 100.0,
             (m->ratio.high - 1.0) * 100.0, m->fp16_us, m->errors.rel_vs_fp16,
             s->op->bytes(s->row, m->is_fp16) / (m->stats.median * 1e3),
             strcmp(status, "ok") == 0 ? "" : " FAIL");
    report_progress(prog, files->info, s->row, s->variant, what);
}

/* Whether a cublasLt candidate computes what cuBLAS's own choice (own) does: no more non-finite
 * outputs, no element beyond its error bound where own has none, within the FP16 error target
 * of the reference output. Against absolute limits when own did not run. */
static bool candidate_agrees(const slot *s, const slot *own) {
    const mx_bench_errors *e = &s->m.errors, *o = own->ready ? &own->m.errors : NULL;
    return e->nonfinite <= (o ? o->nonfinite : 0) &&
           !(e->elementwise > (o && o->elementwise > 1.0 ? o->elementwise : 1.0)) &&
           e->rel_vs_fp16 <= mx_targets.rel_vs_fp16;
}

/* Sets up the slots: every FP16 candidate the op offers, then every variant, each prepared and
 * checked (the variants only once a candidate is ready). */
static bool make_slots(problem_slots *p, const mx_timer *t, const mx_bench_op *op, void *problem,
                       problem_rows rows, double *samples) {
    p->count = p->references + (int)rows.count;
    p->rows = 1 + (int)rows.count;
    p->first_clock_mhz = NAN;
    p->slots = calloc((size_t)p->count, sizeof *p->slots);
    p->ready = calloc((size_t)p->count, sizeof *p->ready);
    if (!p->slots || !p->ready) return false;
    for (int i = 0; i < p->count; i++) {
        slot *s = &p->slots[i];
        bool candidate = i < p->references;
        s->op = op;
        s->problem = problem;
        s->row = candidate ? rows.first : &rows.first[i - p->references];
        s->variant = candidate ? MX_BENCH_FP16 : s->row->variant;
        s->m.is_fp16 = candidate;
        s->m.default_us = NAN;
        s->prepared.mode = candidate ? i : 0; /* which FP16 candidate (ops.h) */
        s->samples = samples + (size_t)t->rule.max_samples * (size_t)i;
        if (!candidate && p->ready_references == 0) {
            s->skipped = true;
            snprintf(s->why, sizeof s->why, "the FP16 reference of this shape did not run");
            continue;
        }
        prepare_slot(s, t);
        if (s->ready && candidate && i > 0 && !candidate_agrees(s, &p->slots[0])) {
            s->ready = false; /* a cublasLt algorithm that computes something else */
            p->rejected++;
        }
        if (s->ready) p->ready[p->ready_count++] = s;
        p->ready_references += s->ready && candidate;
    }
    return true;
}

/* One set-up problem: its FP16 candidates and every variant prepared and checked, then timed
 * together in interleaved rounds (docs/design.md §4), then written: the fastest candidate as the
 * fp16 row, then the variants. */
static void measure_problem(run_files *files, const mx_timer *t, const progress *prog,
                            const mx_bench_op *op, void *problem, problem_rows rows) {
    problem_slots p = {.references = 1 + (op->fp16_candidates ? op->fp16_candidates(problem) : 0)};
    size_t blocks = (size_t)p.references + rows.count + 1; /* every slot's samples, the clocks */
    double *samples = malloc(sizeof *samples * (size_t)t->rule.max_samples * blocks);
    if (!samples || !make_slots(&p, t, op, problem, rows, samples)) {
        free(p.slots);
        free(p.ready);
        free(samples);
        skip_problem(files, prog, rows, "out of host memory");
        return;
    }
    double *clocks = samples + (size_t)t->rule.max_samples * (blocks - 1);
    char why[512];
    if (!prog->quiet && p.ready_references > 0) { /* the rounds of a big problem take seconds */
        char problem_text[256];
        mx_sweep_problem(rows.first, problem_text, sizeof problem_text);
        fprintf(stderr, "       %s: timing %d call%s in rounds (%d FP16 candidate%s)\n",
                problem_text, p.ready_count, p.ready_count == 1 ? "" : "s", p.ready_references,
                p.ready_references == 1 ? "" : "s");
    }
    if (p.ready_references > 0 &&
        !time_slots(t, &p, files->info->sm_clock_start_mhz, clocks, why, sizeof why)) {
        /* Calls that failed in the rounds keep their own why. With a candidate still standing,
         * the timing itself failed: whatever still stands fails with it. Without one, every
         * candidate failed, and the variants still standing are skipped. */
        bool candidate_left = false;
        for (int i = 0; i < p.ready_references; i++) candidate_left |= p.ready[i]->ready;
        p.reference = (int)(p.ready[0] - p.slots);
        for (int i = 0; i < p.ready_count; i++) {
            slot *s = p.ready[i];
            /* no candidate left: the fp16 row says why one failed (not a pruned one's silence) */
            if (!candidate_left && i < p.ready_references && !s->ready && s->why[0])
                p.reference = (int)(s - p.slots);
            if (!s->ready) continue;
            s->ready = false;
            s->skipped = !candidate_left;
            snprintf(s->why, sizeof s->why, "%s",
                     candidate_left ? why : "the FP16 reference of this shape did not run");
        }
        if (!p.slots[p.reference].why[0])
            snprintf(p.slots[p.reference].why, sizeof p.slots[p.reference].why, "%s", why);
    }
    slot *fp16 = &p.slots[p.reference];
    if (fp16->ready) {
        fp16->m.candidates = p.ready_references;
        fp16->m.rejected = p.rejected;
        if (op->fp16_candidate_name)
            op->fp16_candidate_name(problem, p.reference, fp16->m.algo, sizeof fp16->m.algo);
        else
            snprintf(fp16->m.algo, sizeof fp16->m.algo, "cuBLAS's own choice");
        if (p.slots[0].ready) fp16->m.default_us = p.slots[0].m.stats.median;
    }
    mx_interval unstable_ratio = {NAN, NAN, NAN};
    const slot *unstable_by = self_check(&p, &unstable_ratio);
    for (int i = 0; i < p.count; i++) {
        p.slots[i].m.unstable = unstable_by != NULL;
        if (i >= p.references || i == p.reference)
            write_slot(files, prog, &p.slots[i], p.rounds, unstable_by, unstable_ratio,
                       p.first_clock_mhz);
        mx_op_prepared_free(&p.slots[i].prepared); /* also after a failed prepare */
    }
    free(p.slots);
    free(p.ready);
    free(samples);
}

static int run_problems(run_files *files, const mx_timer *t, const progress *prog,
                        const mx_sweep *sweep) {
    for (size_t i = 0; i < sweep->count && !interrupted;) {
        problem_rows rows = {&sweep->rows[i], 1};
        while (i + rows.count < sweep->count &&
               mx_sweep_same_problem(rows.first, rows.first + rows.count))
            rows.count++;
        i += rows.count;
        const mx_bench_op *op = mx_bench_find_op(rows.first->op);
        void *problem = NULL;
        char why[512] = "";
        if (op->setup(rows.first, &problem, why, sizeof why)) {
            measure_problem(files, t, prog, op, problem, rows);
            op->teardown(problem);
        } else {
            skip_problem(files, prog, rows, why);
        }
        if (!save_all(files)) return MX_EXIT_FAILED;
        /* A kernel fault poisons the CUDA context for good: every later row would fail too. */
        cudaError_t context = cudaDeviceSynchronize();
        if (context != cudaSuccess) {
            char problem_text[256];
            mx_sweep_problem(rows.first, problem_text, sizeof problem_text);
            mx_cli_error("the CUDA context is lost after %s (%s): the run stops here; its rows "
                         "say which call failed",
                         problem_text, cudaGetErrorString(context));
            return MX_EXIT_FAILED;
        }
    }
    return save_all(files) ? MX_EXIT_OK : MX_EXIT_FAILED;
}

// ---- the command

static bool in_list(const char *list, const char *name) {
    if (!list) return true;
    size_t length = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        if (item == length && strncmp(p, name, length) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

/* Keeps the rows whose op, variant and dtype pass the --ops/--variants/--dtype filters. */
static void filter_rows(mx_sweep *sweep, const mx_parsed_options *parsed) {
    size_t kept = 0;
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *row = &sweep->rows[i];
        if (in_list(mx_option_value(parsed, "ops"), row->op) &&
            in_list(mx_option_value(parsed, "variants"), row->variant) &&
            in_list(mx_option_value(parsed, "dtype"), row->dtype))
            sweep->rows[kept++] = *row;
    }
    sweep->count = kept;
}

/* Every comma-separated name of a filter must exist somewhere, or it is a typo. */
static bool check_filter(const mx_parsed_options *parsed, const char *option) {
    const char *list = mx_option_value(parsed, option);
    if (!list) return true;
    int op_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    char *copy = strdup(list); /* any length */
    if (!copy) {
        mx_cli_error("--%s: out of host memory", option);
        return false;
    }
    bool ok = true;
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name && ok;
         name = strtok_r(NULL, ",", &save)) {
        bool known =
            strcmp(option, "dtype") == 0 && (!strcmp(name, "f16") || !strcmp(name, "bf16"));
        for (int o = 0; o < op_count && !known; o++) {
            if (strcmp(option, "ops") == 0) known = strcmp(ops[o]->name, name) == 0;
            for (int v = 0; strcmp(option, "variants") == 0 && ops[o]->variants[v] && !known; v++)
                known = strcmp(ops[o]->variants[v], name) == 0;
        }
        if (!known) {
            mx_cli_error("--%s: unknown name '%s' (mxbench run --help lists them)", option, name);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* After a suite that is not there: the suites that are (the .sweep files of sweeps/). */
static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_suites_hint(void) {
    if (!mx_data_dir()) {
        fprintf(stderr,
                "  no data folder (sweeps/, plots/) found: looked in %s; set MXBENCH_DATA_DIR to "
                "the folder that holds them (share/mxbench of an installed tree)\n",
                mx_data_dir_searched());
        return;
    }
    char dir[4096];
    mx_data_path("sweeps", dir, sizeof dir);
    DIR *folder = opendir(dir);
    if (!folder) return;
    char *names[64];
    int count = 0;
    for (struct dirent *entry; count < 64 && (entry = readdir(folder));) {
        size_t length = strlen(entry->d_name);
        if (length > 6 && strcmp(entry->d_name + length - 6, ".sweep") == 0)
            names[count++] = strndup(entry->d_name, length - 6);
    }
    closedir(folder);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    fprintf(stderr, "  suites are the .sweep files in %s:", dir);
    for (int i = 0; i < count; i++) {
        fprintf(stderr, "%s %s", i ? "," : "", names[i] ? names[i] : "?");
        free(names[i]);
    }
    fprintf(stderr, "\n");
}

static bool load_sweep(const mx_parsed_options *parsed, mx_sweep *sweep, char *path,
                       size_t path_size) {
    const char *suite = mx_option_value(parsed, "suite"), *file = mx_option_value(parsed, "sweep");
    if (!suite == !file) {
        mx_cli_error("give exactly one of --suite NAME or --sweep FILE (see --help)");
        return false;
    }
    if (suite) {
        if (strchr(suite, '/')) {
            mx_cli_error("--suite '%s': a suite is a name (use --sweep for a file)", suite);
            return false;
        }
        char name[256];
        snprintf(name, sizeof name, "sweeps/%s.sweep", suite);
        mx_data_path(name, path, path_size);
    } else {
        snprintf(path, path_size, "%s", file);
    }
    int op_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    mx_sweep_op_vocabulary *vocabulary = calloc((size_t)op_count, sizeof *vocabulary);
    if (!vocabulary) {
        mx_cli_error("out of memory reading %s", path);
        return false;
    }
    for (int o = 0; o < op_count; o++)
        vocabulary[o] = (mx_sweep_op_vocabulary){ops[o]->name, ops[o]->variants};
    char error[1024];
    bool ok = mx_sweep_parse_file(path, vocabulary, op_count, sweep, error, sizeof error);
    free(vocabulary);
    if (!ok) {
        mx_cli_error("%s", error);
        if (suite && access(path, R_OK) != 0) print_suites_hint();
        return false;
    }
    return true;
}

/* Creates the parents of path as needed and path itself, which must not exist yet: two runs
 * started in the same second never share a folder (the second is refused). An existing empty
 * folder given with --out is accepted. */
static bool make_run_dir(const char *path) {
    char partial[3072];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *p = partial + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(partial, 0777) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    if (mkdir(partial, 0777) == 0) return true;
    if (errno != EEXIST) return false;
    DIR *dir = opendir(partial);
    int entries = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));)
        entries += strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..");
    if (dir) closedir(dir);
    errno = EEXIST;
    return dir && entries == 0;
}

/* Per (op, variant), in the order they first appear: one pass over the rows. */
typedef struct {
    const char *op, *variant;
    int ok, overhead_pass, error_pass;
    double worst_overhead, worst_error, lowest_savings;
} summary_group;

/* A results row's judged VRAM saving (mx_target_vram_saved). */
static double judged_saving(const mx_table *t, int row) {
    const char *measured = mx_table_get(t, row, "vram_savings_measured_pct");
    return mx_target_vram_saved(measured[0] ? atof(measured) : NAN,
                                atof(mx_table_get(t, row, "vram_savings_pct")));
}

static void print_summary(const run_files *files) {
    const mx_table *t = files->results;
    size_t rows = mx_table_row_count(t);
    summary_group *groups = calloc(rows + 1, sizeof *groups);
    size_t group_count = 0;
    if (!groups) return;
    for (size_t i = 0; i < rows; i++) {
        const char *op = mx_table_get(t, (int)i, "op"),
                   *variant = mx_table_get(t, (int)i, "variant");
        size_t g = 0;
        while (g < group_count && (strcmp(groups[g].op, op) || strcmp(groups[g].variant, variant)))
            g++;
        if (g == group_count)
            groups[group_count++] = (summary_group){op, variant, 0, 0, 0, -INFINITY, 0.0, INFINITY};
        summary_group *group = &groups[g];
        if (!mx_table_get(t, (int)i, "time_us")[0]) continue;
        group->ok += !strcmp(mx_table_get(t, (int)i, "status"), "ok");
        group->overhead_pass += mx_flag_is_true(mx_table_get(t, (int)i, "pass_overhead"));
        group->error_pass += mx_flag_is_true(mx_table_get(t, (int)i, "pass_error"));
        group->worst_overhead =
            fmax(group->worst_overhead, atof(mx_table_get(t, (int)i, "overhead_pct")));
        group->worst_error =
            fmax(group->worst_error, atof(mx_table_get(t, (int)i, "rel_err_vs_fp16")));
        group->lowest_savings = fmin(group->lowest_savings, judged_saving(t, (int)i));
    }
    printf(
        "\n| op | variant | rows ok | pass overhead | pass error | worst overhead %% | worst rel "
        "err vs FP16 | lowest VRAM saved %% |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t g = 0; g < group_count; g++)
        printf("| %s | %s | %d | %d | %d | %+.1f | %.2e | %.1f |\n", groups[g].op,
               groups[g].variant, groups[g].ok, groups[g].overhead_pass, groups[g].error_pass,
               groups[g].worst_overhead, groups[g].worst_error, groups[g].lowest_savings);
    free(groups);
}

/* Problems of the sweep: each has an FP16 reference row besides its variants. */
static size_t count_problems(const mx_sweep *sweep) {
    size_t problems = 0;
    for (size_t i = 0; i < sweep->count; i++)
        problems += i == 0 || !mx_sweep_same_problem(&sweep->rows[i - 1], &sweep->rows[i]);
    return problems;
}

/* run --list: the rows to measure, in order, under a header, with what tells them apart. */
static void print_list(const mx_sweep *sweep, const char *path) {
    size_t problems = count_problems(sweep);
    printf("%s: %zu rows to measure: %zu variant rows and %zu FP16 reference rows (one per "
           "problem, timed in the same rounds as its variants)\n",
           path, sweep->count + problems, sweep->count, problems);
    int widths[3] = {(int)strlen("group"), (int)strlen("variant"), (int)strlen("problem")};
    char problem[256];
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *r = &sweep->rows[i];
        mx_sweep_problem(r, problem, sizeof problem);
        int lengths[3] = {(int)strlen(r->group), (int)strlen(r->variant), (int)strlen(problem)};
        for (int c = 0; c < 3; c++)
            if (lengths[c] > widths[c]) widths[c] = lengths[c];
    }
    printf("%-*s  %-*s  %-*s  %s\n", widths[0], "group", widths[1], "variant", widths[2], "problem",
           "shape");
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *r = &sweep->rows[i];
        mx_sweep_problem(r, problem, sizeof problem);
        printf("%-*s  %-*s  %-*s  %s\n", widths[0], r->group, widths[1], r->variant, widths[2],
               problem, r->shape_name);
    }
}

/* --shard I/N: the sweep cut down to its I-th slice (shard.h), said on stderr. */
static bool select_shard(mx_sweep *sweep, const char *text, double budget_ms) {
    int index, count;
    if (!mx_shard_parse(text, &index, &count)) {
        mx_cli_error("--shard '%s': expected I/N with 1 <= I <= N <= 1024 (e.g. 2/4)", text);
        return false;
    }
    double shard_cost, total_cost;
    char error[256];
    size_t before = sweep->count;
    if (!mx_shard_select(sweep, index, count, budget_ms, &shard_cost, &total_cost, error,
                         sizeof error)) {
        mx_cli_error("%s", error);
        return false;
    }
    fprintf(stderr, "shard %d/%d: %zu of %zu variant rows, %.0f %% of the sweep's expected cost\n",
            index, count, sweep->count, before,
            total_cost > 0 ? 100.0 * shard_cost / total_cost : 0.0);
    if (sweep->count == 0)
        fprintf(stderr, "shard %d/%d is empty: the sweep has fewer problems than shards\n", index,
                count);
    return true;
}

/* An integer cell of compare.csv; empty is 0 (not applicable), as schema.c's fallbacks say. */
static int64_t cell_integer(const mx_table *t, int row, const char *column) {
    const char *text = mx_table_get(t, row, column);
    return text && text[0] ? atoll(text) : 0;
}

/* --retry COMPARE_CSV: only the sweep rows compare called SLOWER there (make nightly measures
 * them again before failing). */
static bool keep_retried(mx_sweep *sweep, const char *path) {
    mx_table *t = NULL;
    char error[1024];
    if (!mx_csv_read(path, &t, error, sizeof error)) {
        mx_cli_error("--retry: %s", error);
        return false;
    }
    if (mx_table_column_index(t, "verdict") < 0) {
        mx_cli_error("--retry %s: no verdict column (give the compare.csv of mxbench compare)",
                     path);
        mx_table_free(t);
        return false;
    }
    size_t kept = 0;
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *row = &sweep->rows[i];
        bool slower = false;
        for (int r = 0; r < (int)mx_table_row_count(t) && !slower; r++)
            slower =
                !strcmp(mx_table_get(t, r, "verdict"), "SLOWER") &&
                !strcmp(mx_table_get(t, r, "op"), row->op) &&
                !strcmp(mx_table_get(t, r, "variant"), row->variant) &&
                !strcmp(mx_table_get(t, r, "dtype"), row->dtype) &&
                !strcmp(mx_table_get(t, r, "dist"), row->dist) &&
                cell_integer(t, r, "M") == row->m && cell_integer(t, r, "N") == row->n &&
                cell_integer(t, r, "K") == row->k &&
                cell_integer(t, r, "experts") == row->experts &&
                cell_integer(t, r, "topk") == row->topk &&
                (cell_integer(t, r, "batch") ? cell_integer(t, r, "batch") : 1) == row->batch &&
                cell_integer(t, r, "seed") == row->seed &&
                cell_integer(t, r, "kv_heads") == row->kv_heads;
        if (slower) sweep->rows[kept++] = *row;
    }
    sweep->count = kept;
    mx_table_free(t);
    return true;
}

/* --inject-slowdown VARIANT:PCT: a variant of the table, 0 < PCT <= 1000. */
static bool parse_injection(const char *text) {
    const char *colon = strchr(text, ':');
    char *end = NULL;
    double pct = colon ? strtod(colon + 1, &end) : 0.0;
    size_t length = colon ? (size_t)(colon - text) : 0;
    if (!colon || length == 0 || length >= sizeof injected_variant || end == colon + 1 || *end ||
        !(pct > 0.0 && pct <= 1000.0)) {
        mx_cli_error("--inject-slowdown '%s': expected VARIANT:PCT, e.g. skinny:10 (PCT in "
                     "(0, 1000])",
                     text);
        return false;
    }
    memcpy(injected_variant, text, length);
    injected_variant[length] = '\0';
    if (!mx_variant_known(injected_variant)) {
        mx_cli_error("--inject-slowdown '%s': unknown variant '%s' (mxbench run --help lists them)",
                     text, injected_variant);
        return false;
    }
    const mx_variant_traits *traits = mx_variant_traits_of(injected_variant);
    if (traits->reference || traits->cublas_only) {
        mx_cli_error("--inject-slowdown '%s': %s times cuBLAS alone, which the gate never judges "
                     "(a slower fp16 would make every variant look faster): name an MXFP4 variant",
                     text, injected_variant);
        return false;
    }
    injected_pct = pct;
    return true;
}

static int run_run(const mx_parsed_options *parsed) {
    mx_sweep sweep = {0};
    char sweep_path[512];
    int64_t device, seed, min_samples, max_samples, budget_ms, min_time_ms;
    double max_noise = 0.0;
    if (!mx_option_int64(parsed, "gpu", 0, 63, &device) ||
        !mx_option_int64(parsed, "seed", 0, INT64_MAX, &seed) ||
        !mx_option_int64(parsed, "min-samples", 3, 100000, &min_samples) ||
        !mx_option_int64(parsed, "max-samples", 3, 100000, &max_samples) ||
        !mx_option_int64(parsed, "time-budget-ms", 1, 3600000, &budget_ms) ||
        !mx_option_int64(parsed, "min-time-ms", 0, 3600000, &min_time_ms))
        return MX_EXIT_INPUT;
    const char *noise_text = mx_option_value(parsed, "max-noise-pct");
    char *end;
    max_noise = strtod(noise_text, &end);
    if (end == noise_text || *end || !(max_noise > 0.0 && max_noise <= 100.0)) {
        mx_cli_error("--max-noise-pct '%s': expected a number in (0, 100]", noise_text);
        return MX_EXIT_INPUT;
    }
    if (max_samples < min_samples) {
        mx_cli_error("--max-samples %lld is below --min-samples %lld", (long long)max_samples,
                     (long long)min_samples);
        return MX_EXIT_INPUT;
    }
    if (!check_filter(parsed, "ops") || !check_filter(parsed, "variants") ||
        !check_filter(parsed, "dtype") ||
        !load_sweep(parsed, &sweep, sweep_path, sizeof sweep_path))
        return MX_EXIT_INPUT;
    filter_rows(&sweep, parsed);
    for (size_t i = 0; i < sweep.count; i++)
        if (sweep.rows[i].seed == 0) sweep.rows[i].seed = seed;
    const char *inject = mx_option_value(parsed, "inject-slowdown");
    if (inject && !parse_injection(inject)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    const char *retry = mx_option_value(parsed, "retry");
    if (retry && !keep_retried(&sweep, retry)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    const char *shard = mx_option_value(parsed, "shard");
    if (shard && !select_shard(&sweep, shard, (double)budget_ms)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (sweep.count == 0 && !shard) {
        mx_cli_error("no rows left in %s after the filters", sweep_path);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (mx_option_value(parsed, "list")) {
        print_list(&sweep, sweep_path);
        mx_sweep_free(&sweep);
        return MX_EXIT_OK;
    }
    static mx_run_info info;
    mx_run_info_clear(&info); /* every field unknown (-1, NaN); the row counts start at 0 */
    info.rows_done = info.rows_ok = info.rows_failed = info.rows_skipped = 0;
    if (shard) snprintf(info.shard, sizeof info.shard, "%s", shard);
    char start_stamp[32];
    mx_utc_now(info.start_time, sizeof info.start_time);
    time_t now = time(NULL);
    strftime(start_stamp, sizeof start_stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
    run_files files = {.info = &info};
    const char *out = mx_option_value(parsed, "out");
    if (out) {
        snprintf(files.dir, sizeof files.dir, "%s", out);
        for (size_t n = strlen(files.dir); n > 1 && files.dir[n - 1] == '/'; n--)
            files.dir[n - 1] = '\0';
    } else
        snprintf(files.dir, sizeof files.dir, "results/%s", start_stamp);
    const char *base = strrchr(files.dir, '/');
    const char *name = base && base[1] ? base + 1 : files.dir;
    if (strlen(name) >= sizeof info.run_id) {
        mx_cli_error("--out '%s': the folder name (the run id) must be under %zu characters",
                     files.dir, sizeof info.run_id);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    memcpy(info.run_id, name, strlen(name) + 1);
    snprintf(files.results_path, sizeof files.results_path, "%s/results.csv", files.dir);
    snprintf(files.samples_path, sizeof files.samples_path, "%s/samples.csv", files.dir);
    snprintf(files.run_path, sizeof files.run_path, "%s/run.json", files.dir);
    if (access(files.results_path, F_OK) == 0) {
        mx_cli_error("%s already holds results: choose another --out (nothing is overwritten)",
                     files.dir);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (!mx_cli_open_device((int)device, NULL)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_NO_DEVICE;
    }

    snprintf(info.suite, sizeof info.suite, "%s", sweep.name);
    snprintf(info.sweep_path, sizeof info.sweep_path, "%s", sweep_path);
    snprintf(info.status, sizeof info.status, "running");
    snprintf(info.command_line, sizeof info.command_line, "%s", mx_cli_command_line());
    info.min_samples = min_samples;
    info.max_samples = max_samples;
    info.max_noise_pct = max_noise;
    info.time_budget_ms = (double)budget_ms;
    info.min_time_ms = (double)min_time_ms;
    if (injected_pct > 0.0)
        snprintf(info.injected, sizeof info.injected, "%s +%g %%", injected_variant, injected_pct);
    snprintf(info.timing, sizeof info.timing, "%s", MX_TIMING_ROUNDS);
    info.seed = (uint64_t)seed;
    info.rows_planned = (int64_t)(sweep.count + count_problems(&sweep));

    char why[512] = "";
    mx_timer t = {.rule = {.min_samples = (int)min_samples,
                           .max_samples = (int)max_samples,
                           .max_noise_pct = max_noise,
                           .min_ms = (double)min_time_ms,
                           .budget_ms = (double)budget_ms}};
    if (!mx_collect_environment((int)device, &info, why, sizeof why) ||
        !mx_cuda_step(cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking), why, sizeof why,
                      "cudaStreamCreate") ||
        !mx_cuda_step(cudaEventCreate(&t.start), why, sizeof why, "cudaEventCreate") ||
        !mx_cuda_step(cudaEventCreate(&t.stop), why, sizeof why, "cudaEventCreate")) {
        mx_cli_error("%s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    /* The flush reads 4x the L2 (docs/design.md asks for at least 2x) before every sample. */
    info.l2_flushed = !mx_option_value(parsed, "warm-l2");
    info.l2_flush_bytes = info.l2_flushed ? 4 * info.l2_bytes : 0;
    t.flush_bytes = (size_t)info.l2_flush_bytes;
    if (t.flush_bytes &&
        (!mx_cuda_step(cudaMalloc(&t.flush, t.flush_bytes), why, sizeof why, "L2 flush buffer") ||
         !mx_cuda_step(cudaMemset(t.flush, 0x5A, t.flush_bytes), why, sizeof why,
                       "L2 flush buffer"))) {
        mx_cli_error("%s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    bool quiet = mx_option_value(parsed, "quiet") != NULL;
    if (!quiet)
        fprintf(stderr, "mxbench run: %s (%lld rows) on %s; measuring ceilings...\n", sweep_path,
                (long long)info.rows_planned, info.gpu_name);
    if (!mx_measure_ceilings(&t, &info, why, sizeof why)) {
        mx_cli_error("measuring the ceilings: %s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    if (!quiet)
        fprintf(stderr,
                "ceilings: copy %.0f GB/s, cuBLAS FP16 8192^3 %.0f TFLOP/s, SM clock %.0f "
                "MHz; results in %s/\n",
                info.copy_gbps, info.fp16_tflops, info.sm_clock_start_mhz, files.dir);

    int column_count;
    const char *const *columns = mx_column_names(MX_IN_RESULTS, &column_count);
    files.results = mx_table_create(columns, column_count);
    columns = mx_column_names(MX_IN_SAMPLES, &column_count);
    files.samples = mx_table_create(columns, column_count);
    if (!files.results || !files.samples || !make_run_dir(files.dir)) {
        mx_cli_error("cannot create %s: %s", files.dir,
                     files.results && files.samples ? strerror(errno) : "out of host memory");
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    struct sigaction action = {.sa_handler = on_interrupt};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    progress prog = {.quiet = quiet, .begin_ms = mx_now_ms(), .total = info.rows_planned};
    int status = save_all(&files) ? run_problems(&files, &t, &prog, &sweep) : MX_EXIT_FAILED;
    mx_utc_now(info.end_time, sizeof info.end_time);
    snprintf(info.status, sizeof info.status, "%s",
             status != MX_EXIT_OK ? "failed"
             : interrupted        ? "interrupted"
                                  : "complete");
    if (!save_all(&files)) status = MX_EXIT_FAILED;
    if (!quiet) print_summary(&files);
    printf("\n%s: %lld of %lld rows (%lld ok, %lld fail, %lld skipped) in %.0f s\nresults: %s/ "
           "(results.csv, samples.csv, run.json)\n",
           info.status, (long long)info.rows_done, (long long)info.rows_planned,
           (long long)info.rows_ok, (long long)info.rows_failed, (long long)info.rows_skipped,
           (mx_now_ms() - prog.begin_ms) / 1e3, files.dir);
    mx_table_free(files.results);
    mx_table_free(files.samples);
    mx_sweep_free(&sweep);
    cudaFree(t.flush);
    if (status == MX_EXIT_OK && interrupted) return MX_EXIT_INTERRUPTED;
    return status;
}

static const mx_option run_options[] = {
    {"suite", "NAME",
     "a sweep of the data folder's sweeps/ (below): smoke, standard, decode, prefill, "
     "gpt-oss-20b, gpt-oss-120b, nightly",
     NULL, true},
    {"sweep", "FILE", "a sweep file of your own (format: sweeps/standard.sweep)", NULL, true},
    {"out", "DIR",
     "where results.csv, samples.csv and run.json go (default results/<UTC time>); "
     "must not hold results already",
     NULL, true},
    {"ops", "A,B", "only these ops (below)", NULL, true},
    {"variants", "A,B", "only these variants (below); the FP16 reference always runs", NULL, true},
    {"dtype", "A,B", "only these activation dtypes (f16, bf16)", NULL, true},
    {"time-budget-ms", "N",
     "sampling time per row (a problem's rows share theirs), unless the sweep sets budget_ms",
     "400", false},
    {"min-time-ms", "N", "sampling time per row at least, even with the noise target reached", "10",
     false},
    {"min-samples", "N", "rounds (samples per row) at least", "10", false},
    {"max-samples", "N", "rounds (samples per row) at most", "1000", false},
    {"max-noise-pct", "X",
     "stop once the FP16 time and every variant's ratio to it have a relative standard error "
     "(from their 95 % intervals) of at most X %",
     "0.5", false},
    {"warm-l2", NULL, "do not flush the L2 before each sample (weights may stay cached)", NULL,
     false},
    {"gpu", "N", "CUDA device ordinal of the GPU to measure (nvidia-smi lists them)", "0", false},
    {"seed", "N", "data seed for rows whose sweep sets none", "1", false},
    {"shard", "I/N",
     "run only the I-th of N slices of the sweep, balanced by expected cost, a problem's rows "
     "together (mxbench merge joins the shards' folders)",
     NULL, true},
    {"retry", "COMPARE_CSV",
     "only the rows that compare.csv calls SLOWER (make nightly measures them again before the "
     "gate fails)",
     NULL, true},
    {"inject-slowdown", "VARIANT:PCT",
     "test only: make VARIANT about PCT % slower (a spin after each of its calls) to prove that "
     "the nightly gate finds it; run.json, report and compare say so",
     NULL, true},
    {"list", NULL, "print the rows the sweep expands to and exit (no GPU needed)", NULL, false},
    {"quiet", NULL, "no progress lines on stderr", NULL, false},
};

/* Ops and their variants from the op table, then what each variant is (variants.c). */
static void run_help_tail(void) {
    int op_count, variant_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    const mx_variant_traits *variants = mx_variants(&variant_count);
    printf(
        "\nOps (sweep `ops`) and their MXFP4 variants; what N, K, m and batch mean per op is in\n"
        "sweeps/standard.sweep:\n");
    for (int o = 0; o < op_count; o++) {
        printf("  %-14s", ops[o]->name);
        for (const char *const *v = ops[o]->variants; *v; v++) printf(" %s", *v);
        printf("\n");
    }
    printf("Variants (* keeps an FP16 copy of the weights: never the best MXFP4, VRAM not judged;\n"
           "c times cuBLAS alone: the nightly gate's control, never gated):\n");
    for (int v = 0; v < variant_count; v++)
        printf("  %-16s %s%s %s\n", variants[v].name, variants[v].fp16_copy ? "*" : " ",
               variants[v].cublas_only ? "c" : " ", variants[v].summary);
    const char *data = mx_data_dir();
    printf("\nData folder (sweeps/, plots/, baselines/; MXBENCH_DATA_DIR overrides): %s\n",
           data ? data : "none found");
    if (!data) printf("  looked in %s\n", mx_data_dir_searched());
}

const mx_command mx_run_command = {
    "run",
    "Run a sweep: speed vs cuBLAS FP16, errors, VRAM per (op, variant, shape, dtype, dist) row.",
    "Ceilings first, on random data: a 1 GiB device-to-device copy (GB/s = bytes read + written)\n"
    "and cuBLAS FP16 at 8192^3. Then per problem: inputs and weights from the row's distribution\n"
    "and seed, MXFP4 weights (floor scales) dequantized by the CPU reference codec, and three\n"
    "references: the op's FP16 path on those weights (also timed, as variant fp16: every weight\n"
    "product through cuBLAS with FP32 compute; for gemm the fastest of cublasGemmEx (cuBLAS's own\n"
    "choice, also reported as fp16_default_us) and up to 16 cublasLt heuristic candidates with a\n"
    "32 MiB workspace, timed in the same rounds, clearly slower ones dropped on the way; other\n"
    "ops cublasGemmEx; the rest of the op, e.g. the attention core or the sampler, shared with\n"
    "the MXFP4 path), FP64 on the same exact weights (cuBLAS DGEMM or the CPU reference;\n"
    "composite ops only up to a size, above it rel_err_vs_exact is empty), and the FP16 path on\n"
    "the unquantized weights (the quantization error). Every variant of the problem and the FP16\n"
    "path are prepared together; each is checked once (output poisoned with NaN), warmed up\n"
    "twice, then all are timed in interleaved rounds: a round times each once, in an order\n"
    "changed every round (every call at every position and after every other call equally\n"
    "often), so that drift, clocks, position and the call before hit all alike (CUDA events\n"
    "around exactly the call; 4x L2 read before each: clean lines, no write-back charged to the\n"
    "next call), then probes the SM clock. overhead_pct is the median of the per-round ratios to\n"
    "FP16, with a distribution-free 95 % interval (overhead_pct_lo/hi; time_us_lo/hi for the\n"
    "time). Rounds stop once the FP16 time and every ratio are known to --max-noise-pct (relative\n"
    "standard error from the interval) after --min-time-ms per row, or at the rows'\n"
    "--time-budget-ms, with --min-samples rounds at least. A problem whose median SM clock is\n"
    "below 90 % of the start-up clock is timed again after a pause, and if still low flagged\n"
    "throttled; one whose persistent variant (cublasGemmEx's own call on a copy) measures more\n"
    "than 2 % off that call beyond its interval is flagged unstable; neither is judged by any\n"
    "speed target. results.csv, samples.csv and run.json are rewritten atomically after every\n"
    "problem; Ctrl-C stops after the current problem and leaves valid files (exit 130). A row\n"
    "that cannot run (out of memory, unsupported shape) is written as skipped with the reason,\n"
    "and the sweep goes on.",
    run_options,
    (int)(sizeof run_options / sizeof run_options[0]),
    run_run,
    0,
    0,
    NULL,
    run_help_tail,
};
