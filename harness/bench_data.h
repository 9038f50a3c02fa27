/* `mxbench run`'s own data, shared by its parts: bench.c (the command: options, help, the checks
 * before the GPU, the summary), bench_measure.c (each problem prepared, checked, timed in rounds)
 * and bench_rows.c (the rows of results.csv and samples.csv, the files saved). Not part of the
 * harness's interface. */
#ifndef MX_BENCH_DATA_H
#define MX_BENCH_DATA_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ops.h"
#include "run_info.h"
#include "stats.h"
#include "sweep.h"
#include "table.h"
#include "timing.h"

/* A run folder: its three files' paths and what goes into them. */
typedef struct {
    char dir[3072], results_path[3200], samples_path[3200], run_path[3200];
    mx_table *results, *samples;
    mx_run_info *info;
} run_files;

/* One measured row: what the op and the rounds gave, in the schema's units. */
typedef struct {
    mx_sample_stats stats;
    /* the median time, and the median of the per-round ratios to the FP16 reference, with their
     * 95 % intervals across runs (mx_interval_across_runs); the noise of each within the run,
     * which the stop rule judged */
    mx_interval time, ratio;
    double time_noise_pct, ratio_noise_pct;
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

/* The progress lines on stderr (none when quiet). */
typedef struct {
    bool quiet;
    double begin_ms;
    int64_t total;
} progress;

// ---- bench_rows.c

/* Saves results.csv, samples.csv and run.json; false after saying which failed. */
bool mx_bench_save_all(run_files *files);
/* Appends a results row with the columns every row has, measured or not; its index. */
int mx_bench_start_row(run_files *files, const mx_sweep_row *row, const char *variant);
/* The row's status and note, counted in run.json's rows. */
void mx_bench_finish_row(run_files *files, int r, const char *status, const char *note);
/* A measured row's figures, flags and targets into results row r. */
void mx_bench_write_measured(run_files *files, int r, const mx_bench_op *op,
                             const mx_sweep_row *row, const row_result *m);
/* The row's samples, one samples.csv row each. */
void mx_bench_write_samples(run_files *files, const mx_sweep_row *row, const char *variant,
                            const double *samples, int count);

// ---- bench_measure.c

/* --inject-slowdown VARIANT:PCT (test only), parsed by bench.c: the variant and the share. */
extern char mx_bench_injected_variant[32];
extern double mx_bench_injected_pct;
/* Measures and writes every problem of the sweep, saving the files after each; stops after the
 * current problem once mx_bench_interrupted, or when the CUDA context is lost. MX_EXIT_OK, or
 * MX_EXIT_FAILED after saying why. */
int mx_bench_run_problems(run_files *files, const mx_timer *t, const progress *prog,
                          const mx_sweep *sweep);

// ---- bench.c

/* Set by the first Ctrl-C (SIGINT, SIGTERM): the run stops after the current problem. */
extern volatile sig_atomic_t mx_bench_interrupted;

#endif
