/* Run folders written for the suites of compare, baseline and merge (cpu_gate, cpu_compare,
 * cpu_baseline; fake_runs.c): synthetic runs as `mxbench run` writes them, in the work folder of
 * common.h, and that folder removed after each test. */
#ifndef MX_SUITES_FAKE_RUNS_H
#define MX_SUITES_FAKE_RUNS_H

#include "common.h"
#include "table.h"

#define H200 "NVIDIA H200"
#define H100 "NVIDIA H100 80GB HBM3"

/* Every test that writes runs does so in a temporary folder of its own, removed afterwards. */
void mx_test_remove_work_dir(void);
#define IN_A_FRESH_DIR .init = mx_test_work_dir_create, .fini = mx_test_remove_work_dir

/* One row of a synthetic run (op gemm, f16, gaussian, N = K = 4096). */
typedef struct {
    const char *variant;
    int m;
    double median_us, noise_pct;
    int samples;            /* 0: a skipped row */
    const char *pass_error; /* NULL: "true" */
    const char *status;     /* NULL: "ok", or "skipped" (out of memory) without samples */
} fake_row;

/* count run values around value whose logs have a standard deviation of about spread_pct %. */
void mx_test_run_values(double value, double spread_pct, int count, double *values);
void mx_test_save_table(const mx_table *t, const char *path);
void mx_test_write_run_json(const char *dir, const char *gpu, const char *status);
/* A run folder work_dir/name as `mxbench run` writes it. */
void mx_test_write_run(const char *name, const char *gpu, const fake_row *rows, int count);
/* Five rows (fp16, fused, skinny at M=1; fp16, fused at M=4096): fused and skinny at M=1 scaled
 * by factor, every row by run_factor. */
void mx_test_write_shifted_run(const char *name, const char *gpu, double factor, double run_factor);
void mx_test_write_scaled_run(const char *name, const char *gpu, double factor);
/* A job of count runs DIR/DIR-1, DIR/DIR-2..., spread_pct apart. */
void mx_test_write_job(const char *dir, int count, const char *gpu, double factor,
                       double spread_pct);
/* mxbench compare work_dir/base work_dir/cur. */
mx_cli_result mx_test_compare(const char *base, const char *cur);
/* A baselines folder holding one run of base_gpu in baselines/<model>, a run "cur" of cur_gpu,
 * and mxbench compare of the two. */
mx_cli_result mx_test_compare_with_baseline(const char *model, const char *base_gpu,
                                            const char *cur_gpu);

#endif
