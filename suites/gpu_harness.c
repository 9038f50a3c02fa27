/* Harness suite (GPU): the FP64 attention core equals the CPU's; a tiny sweep runs end to end
 * through `mxbench run` and leaves well-formed results.csv / samples.csv / run.json whose FP16
 * reference time agrees within 25 % with a direct event timing of the same cuBLAS call made here,
 * every row timed in the same rounds, medians inside their intervals, and persistent (the same
 * cuBLAS call) within 3 % of fp16; a row that cannot be allocated is skipped while the sweep goes
 * on; Ctrl-C stops after the current problem and leaves valid files. */
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attention_f64.h"
#include "attention_ref.h"
#include "bench.h"
#include "bench_gpu.h"
#include "op_util.h"
#include "ops.h"
#include "targets.h"
#include "run_info.h"
#include "table.h"
#include "timing.h"
#include "schema.h"
#include "common.h"

static mx_table *read_results(const char *dir, const char *file) {
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    mx_table *table = NULL;
    cr_assert(mx_csv_read(path, &table, error, sizeof error), "%s", error);
    return table;
}

static double cell(const mx_table *t, int row, const char *column) {
    const char *text = mx_table_get(t, row, column);
    cr_assert(text && text[0], "row %d has no %s", row, column);
    char *end;
    double value = strtod(text, &end);
    cr_assert(*end == '\0', "row %d: %s = '%s' is not a number", row, column, text);
    return value;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of 30 event-timed calls of cublasGemmEx, FP16 TN, m x n x k, L2 flushed before each
 * (the same 4x L2 read the harness does). */
static double direct_fp16_us(int m, int n, int k) {
    void *x, *w, *y, *flush;
    int device = 0, l2 = 0;
    MX_CR_CUDA(cudaGetDevice(&device));
    MX_CR_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    MX_CR_CUDA(cudaMalloc(&x, (size_t)m * k * 2));
    MX_CR_CUDA(cudaMalloc(&w, (size_t)n * k * 2));
    MX_CR_CUDA(cudaMalloc(&y, (size_t)m * n * 2));
    MX_CR_CUDA(cudaMalloc(&flush, (size_t)l2 * MX_L2_FLUSH_FACTOR));
    MX_CR_CUDA(cudaMemset(flush, 0, (size_t)l2 * MX_L2_FLUSH_FACTOR));
    MX_CR_CUDA(cudaMemset(x, 0x2E, (size_t)m * k * 2)); /* 0x2E2E: a small normal FP16 */
    MX_CR_CUDA(cudaMemset(w, 0x2E, (size_t)n * k * 2));
    cublasHandle_t cublas;
    cr_assert_eq(cublasCreate(&cublas), CUBLAS_STATUS_SUCCESS);
    cudaEvent_t start, stop;
    MX_CR_CUDA(cudaEventCreate(&start));
    MX_CR_CUDA(cudaEventCreate(&stop));
    float alpha = 1.0f, beta = 0.0f;
    double samples[30];
    for (int i = -3; i < 30; i++) {
        MX_CR_OK(mx_bench_flush_l2(flush, (size_t)l2 * MX_L2_FLUSH_FACTOR, 0));
        MX_CR_CUDA(cudaEventRecord(start, 0));
        cr_assert_eq(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, CUDA_R_16F,
                                  k, x, CUDA_R_16F, k, &beta, y, CUDA_R_16F, n, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT),
                     CUBLAS_STATUS_SUCCESS);
        MX_CR_CUDA(cudaEventRecord(stop, 0));
        MX_CR_CUDA(cudaEventSynchronize(stop));
        float ms;
        MX_CR_CUDA(cudaEventElapsedTime(&ms, start, stop));
        if (i >= 0) samples[i] = ms * 1e3;
    }
    qsort(samples, 30, sizeof samples[0], compare_doubles);
    cublasDestroy(cublas);
    cudaFree(x);
    cudaFree(w);
    cudaFree(y);
    cudaFree(flush);
    return (samples[14] + samples[15]) / 2.0;
}

Test(gpu_harness, tiny_sweep_runs_end_to_end_and_agrees_with_direct_timing,
     .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    const char sweep[] = "ops gemm\nvariants skinny dequant_cublas persistent\ndtypes f16\n"
                         "dists gaussian\nm 16\nshapes 2048x4096\n";
    mx_test_write_file(mx_test_path("tiny.sweep"), sweep, sizeof sweep - 1);
    const char *out = mx_test_path("run");
    mx_cli_result r = mx_test_run_cli((const char *[]){"run", "--sweep", mx_test_path("tiny.sweep"),
                                                       "--out", out, "--quiet", NULL});
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);

    mx_table *results = read_results(out, "results.csv");
    int column_count;
    const char *const *columns = mx_column_names(MX_IN_RESULTS, &column_count);
    cr_assert_eq(mx_table_column_count(results), column_count);
    for (int c = 0; c < column_count; c++)
        cr_expect_str_eq(mx_table_column_name(results, c), columns[c]);
    cr_assert_eq(mx_table_row_count(results), 4, "fp16 + 3 variants");
    const char *variants[] = {"fp16", "skinny", "dequant_cublas", "persistent"};
    double total_samples = 0.0;
    for (int row = 0; row < 4; row++) {
        cr_expect_str_eq(mx_table_get(results, row, "variant"), variants[row]);
        cr_expect_str_eq(mx_table_get(results, row, "status"), "ok", "note: %s",
                         mx_table_get(results, row, "note"));
        cr_expect_str_eq(mx_table_get(results, row, "run_id"), "run");
        double samples = cell(results, row, "samples");
        total_samples += samples;
        cr_expect_geq(samples, 10);
        cr_expect_eq(samples, cell(results, 0, "samples"), "one sample per round for every row");
        double t = cell(results, row, "time_us");
        cr_expect(cell(results, row, "time_us_min") <= t && t <= cell(results, row, "time_us_max"));
        cr_expect(cell(results, row, "time_us_lo") <= t && t <= cell(results, row, "time_us_hi"),
                  "%s: %g outside its interval", variants[row], t);
        cr_expect_str_eq(mx_table_get(results, row, "unstable"), "false", "note: %s",
                         mx_table_get(results, row, "note"));
        if (row > 0) {
            double overhead = cell(results, row, "overhead_pct");
            cr_expect(cell(results, row, "overhead_pct_lo") <= overhead &&
                          overhead <= cell(results, row, "overhead_pct_hi"),
                      "%s: overhead %g outside its interval", variants[row], overhead);
        }
        cr_expect_leq(cell(results, row, "rel_err_vs_exact"), 2e-3);
        cr_expect_eq(cell(results, row, "nonfinite"), 0);
        cr_expect_gt(cell(results, row, "quant_rel_err"), 0.01, "MXFP4 is not lossless");
        cr_expect_eq(cell(results, row, "weight_bytes_fp16"), 2048.0 * 4096 * 2);
    }
    cr_expect_float_eq(cell(results, 1, "vram_savings_pct"), 73.4375, 0.006); /* "%.2f" */
    cr_expect_eq(cell(results, 2, "workspace_bytes"), 2048.0 * 4096 * 2, "the FP16 copy");
    cr_expect_float_eq(cell(results, 1, "weight_bytes_mxfp4"), 2048.0 * 4096 * 0.53125, 0.5);
    cr_expect_eq(cell(results, 1, "fp16_time_us"), cell(results, 0, "time_us"));
    /* the fp16 row is the fastest cuBLAS algorithm timed, cublasGemmEx's own choice among them;
     * persistent makes that own choice's call on a copy of the weights: timed in the same rounds,
     * the two agree (the order effect of issue 15 measured 10-15 %). The fastest is chosen on the
     * first rounds and then kept, so over all rounds it can end a little behind the own choice
     * (it did with other GPU suites running beside this one, ctest -j 4). */
    const double same = 0.03; /* how close two timings of one call in the same rounds come */
    double own_us = cell(results, 0, "fp16_default_us");
    cr_expect_leq(cell(results, 0, "time_us"), own_us * (1.0 + same));
    cr_expect(strstr(mx_table_get(results, 0, "fp16_algo"), "fastest of"), "%s",
              mx_table_get(results, 0, "fp16_algo"));
    cr_expect_leq(fabs(cell(results, 3, "time_us") / own_us - 1.0), same,
                  "persistent %g us vs cublasGemmEx %g us", cell(results, 3, "time_us"), own_us);

    mx_table *samples = read_results(out, "samples.csv");
    cr_expect_eq((double)mx_table_row_count(samples), total_samples);
    int rounds = (int)cell(results, 0, "samples");
    for (int row = 0; row < (int)mx_table_row_count(samples); row++) /* rows in round order */
        cr_expect_eq(cell(samples, row, "sample"), row % rounds, "samples.csv row %d", row);
    mx_table_free(samples);
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", out);
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    cr_expect_str_eq(info.status, "complete");
    cr_expect(info.copy_gbps > 0.0, "copy ceiling %g", info.copy_gbps);
    cr_expect_eq(info.rows_done, 4);
    cr_expect_eq(info.rows_ok, 4);
    cr_expect_eq(info.rows_failed, 0);
    cr_expect_eq(info.rows_skipped, 0);
    cr_expect(info.compute_capability[0] != '\0', "run.json names the compute capability");

    double harness_us = cell(results, 0, "fp16_time_us"),
           direct_us = direct_fp16_us(16, 2048, 4096);
    cr_expect(harness_us > 0.75 * direct_us && harness_us < 1.25 * direct_us,
              "harness FP16 %.2f us vs direct cuBLAS %.2f us", harness_us, direct_us);
    mx_table_free(results);
}

Test(gpu_harness, warm_l2_is_never_slower_than_flushed, .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    /* A small problem whose weights fit the L2: without the flush the call can only be as fast
     * or faster, and the host's launch work must not be inside the events. */
    const char sweep[] = "ops gemm\nvariants skinny dequant_cublas\ndtypes f16\n"
                         "dists gaussian\nm 1\nshapes 2880x2880\n";
    mx_test_write_file(mx_test_path("warm.sweep"), sweep, sizeof sweep - 1);
    const char *runs[2] = {mx_test_path("flushed"), mx_test_path("warm")};
    for (int i = 0; i < 2; i++) {
        mx_cli_result r =
            mx_test_run_cli((const char *[]){"run", "--sweep", mx_test_path("warm.sweep"), "--out",
                                             runs[i], "--quiet", i ? "--warm-l2" : NULL, NULL});
        cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    }
    mx_table *flushed = read_results(runs[0], "results.csv"),
             *warm = read_results(runs[1], "results.csv");
    for (int row = 0; row < 3; row++)
        cr_expect_leq(cell(warm, row, "time_us"), 1.05 * cell(flushed, row, "time_us"),
                      "%s: warm %s us vs flushed %s us", mx_table_get(warm, row, "variant"),
                      mx_table_get(warm, row, "time_us"), mx_table_get(flushed, row, "time_us"));
    mx_table_free(flushed);
    mx_table_free(warm);
}

/* Every op of the table and every variant of each runs through `mxbench run` on small shapes
 * that break the tiles (33 tokens), each within the error targets against its FP16 reference;
 * an attention row whose query heads kv_heads does not divide is skipped with the reason. */
Test(gpu_harness, every_op_and_variant_runs_through_the_harness, .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    const char sweep[] = "variants all\ndtypes f16\ndists gaussian\nbudget_ms 20\n"
                         "[embedding]\nops embedding\nm 1 33\nshapes 1000x256\n"
                         "[attention]\nops attention\nkv_heads 2\nm 1 33\nshapes 512x256\n"
                         "[ffn]\nops ffn_gelu ffn_swiglu ffn_gptoss\nm 1 33\nshapes 256x256\n"
                         "[moe]\nops moe\nexperts 8\ntopk 2\nm 1 33\nshapes 256x256\n"
                         "[lm-head]\nops lm_head\nm 1 3\nshapes 1000x256\n"
                         "[heads-not-dividing]\nops attention\nvariants fused_qkv\nkv_heads 3\n"
                         "m 1\nshapes 256x256\n";
    mx_test_write_file(mx_test_path("ops.sweep"), sweep, sizeof sweep - 1);
    const char *out = mx_test_path("run");
    mx_cli_result r = mx_test_run_cli((const char *[]){"run", "--sweep", mx_test_path("ops.sweep"),
                                                       "--out", out, "--quiet", NULL});
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    mx_table *results = read_results(out, "results.csv");
    int op_count = 0;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    for (int o = 0; o < op_count; o++)
        for (const char *const *v = ops[o]->variants; *v; v++) {
            int measured = 0;
            for (int row = 0; row < (int)mx_table_row_count(results); row++)
                measured += !strcmp(mx_table_get(results, row, "op"), ops[o]->name) &&
                            !strcmp(mx_table_get(results, row, "variant"), *v) &&
                            !strcmp(mx_table_get(results, row, "status"), "ok");
            if (strcmp(ops[o]->name, "gemm") != 0)
                cr_expect_gt(measured, 0, "no measured %s %s row", ops[o]->name, *v);
        }
    for (int row = 0; row < (int)mx_table_row_count(results); row++) {
        const char *group = mx_table_get(results, row, "group"),
                   *status = mx_table_get(results, row, "status"),
                   *note = mx_table_get(results, row, "note");
        if (!strcmp(group, "heads-not-dividing")) {
            cr_expect_str_eq(status, "skipped");
            cr_expect(strstr(note, "unsupported shape"), "note: %s", note);
            continue;
        }
        cr_expect_str_eq(status, "ok", "%s %s M=%s: %s", mx_table_get(results, row, "op"),
                         mx_table_get(results, row, "variant"), mx_table_get(results, row, "M"),
                         note);
        cr_expect_str_eq(mx_table_get(results, row, "pass_error"), "true", "%s %s M=%s",
                         mx_table_get(results, row, "op"), mx_table_get(results, row, "variant"),
                         mx_table_get(results, row, "M"));
        cr_expect_leq(cell(results, row, "rel_err_vs_fp16"), 0.01);
        cr_expect_gt(cell(results, row, "weight_bytes_fp16"), 0);
        /* The buffers both paths need (an FFN's h and u, the sampler's) are not counted on the
         * MXFP4 rows; the dequantized weights of dequant_cublas always are. */
        const char *op = mx_table_get(results, row, "op"),
                   *variant = mx_table_get(results, row, "variant");
        double workspace = cell(results, row, "workspace_bytes");
        if (!strcmp(variant, "dequant_cublas"))
            cr_expect_geq(workspace, 256.0 * 256 * 2, "%s %s: a weight's FP16 copy", op, variant);
        if ((!strncmp(op, "ffn_", 4) && strstr(variant, "_epilogue")) ||
            (!strcmp(op, "lm_head") && (!strcmp(variant, "fused") || !strcmp(variant, "skinny"))))
            cr_expect_eq(workspace, 0, "%s %s", op, variant);
    }
    mx_table_free(results);
}

Test(gpu_harness, row_that_does_not_fit_is_skipped_and_the_sweep_goes_on,
     .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    /* 2^19 x 2^19 weights: 512 GiB in FP16, more than any GPU holds. */
    const char sweep[] = "ops gemm\nvariants skinny\ndtypes f16\ndists gaussian\nm 1\n"
                         "[huge]\nshapes 524288x524288\n[small]\nshapes 1024x1024\n";
    mx_test_write_file(mx_test_path("oom.sweep"), sweep, sizeof sweep - 1);
    const char *out = mx_test_path("run");
    mx_cli_result r = mx_test_run_cli((const char *[]){"run", "--sweep", mx_test_path("oom.sweep"),
                                                       "--out", out, "--quiet", NULL});
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    mx_table *results = read_results(out, "results.csv");
    cr_assert_eq(mx_table_row_count(results), 4);
    for (int row = 0; row < 2; row++) {
        cr_expect_str_eq(mx_table_get(results, row, "status"), "skipped");
        cr_expect(strstr(mx_table_get(results, row, "note"), "out of memory"), "note: %s",
                  mx_table_get(results, row, "note"));
    }
    for (int row = 2; row < 4; row++)
        cr_expect_str_eq(mx_table_get(results, row, "status"), "ok", "note: %s",
                         mx_table_get(results, row, "note"));
    mx_table_free(results);
}

Test(gpu_harness, ctrl_c_stops_after_the_current_problem_with_valid_files,
     .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    const char *out = mx_test_path("run");
    /* A noise target no row reaches: every row runs its whole 1 s budget. */
    pid_t pid = mx_test_spawn_cli((const char *[]){"run", "--suite", "smoke", "--out", out,
                                                   "--time-budget-ms", "1000", "--max-noise-pct",
                                                   "0.00001", "--quiet", NULL});
    char path[256], text[65536];
    snprintf(path, sizeof path, "%s/results.csv", out);
    for (int wait = 0; wait < 600; wait++) { /* until at least one row is on disk */
        mx_test_read_text(path, text, sizeof text);
        if (strchr(text, '\n') && strchr(strchr(text, '\n') + 1, '\n')) break;
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
    kill(pid, SIGINT);
    mx_cli_result r = mx_test_wait_cli(pid);
    cr_expect_eq(r.exit_code, 130, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "stopping after the current problem"), "%s", r.err);
    mx_table *results = read_results(out, "results.csv");
    size_t rows = mx_table_row_count(results);
    cr_expect(rows >= 1 && rows < 36, "%zu rows", rows);
    for (size_t row = 0; row < rows; row++)
        cr_expect_str_eq(mx_table_get(results, (int)row, "status"), "ok");
    mx_table_free(results);
    snprintf(path, sizeof path, "%s/run.json", out);
    mx_run_info info;
    char error[512];
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    cr_expect_str_eq(info.status, "interrupted");
    mx_table_free(read_results(out, "samples.csv"));
}

// ---- the element-wise gate against a planted error

enum { PLANT_N = 2048, PLANT_K = 4096 };
static int64_t planted_row;
static double planted_factor = 1.1;

/* Makes output row planted_row (of PLANT_N columns) planted_factor times larger, on the device. */
static bool plant_error(void *y, mx_dtype dtype, int64_t count, cudaStream_t stream) {
    (void)count;
    double *wide = NULL, host[PLANT_N];
    float row[PLANT_N], *narrow = NULL;
    void *at = (char *)y + planted_row * PLANT_N * 2;
    bool ok = cudaMalloc((void **)&wide, sizeof host) == cudaSuccess &&
              cudaMalloc((void **)&narrow, sizeof row) == cudaSuccess &&
              mx_bench_widen(at, dtype, PLANT_N, wide, stream) == MX_OK &&
              cudaMemcpy(host, wide, sizeof host, cudaMemcpyDeviceToHost) == cudaSuccess;
    for (int j = 0; ok && j < PLANT_N; j++) row[j] = (float)(host[j] * planted_factor);
    ok = ok && cudaMemcpy(narrow, row, sizeof row, cudaMemcpyHostToDevice) == cudaSuccess &&
         mx_bench_narrow(narrow, PLANT_N, dtype, at, stream) == MX_OK &&
         cudaStreamSynchronize(stream) == cudaSuccess;
    cudaFree(wide);
    cudaFree(narrow);
    return ok;
}

/* The checks of one problem (row: op, M, N, K, experts and topk set) in dtype for variant,
 * through the op table. */
static mx_bench_errors check_op(mx_sweep_row row, const char *dtype, const char *variant) {
    snprintf(row.dist, sizeof row.dist, "gaussian");
    row.batch = 1;
    row.seed = 7;
    snprintf(row.dtype, sizeof row.dtype, "%s", dtype);
    snprintf(row.variant, sizeof row.variant, "%s", variant);
    const char *name = row.op;
    const int64_t m = row.m;
    const mx_bench_op *op = mx_bench_find_op(name);
    void *problem = NULL;
    char why[512] = "";
    cr_assert(op->setup(&row, &problem, why, sizeof why), "%s", why);
    mx_op_prepared prepared = {0};
    mx_bench_memory memory;
    mx_bench_errors errors;
    bool ok = op->prepare(problem, variant, &prepared, &memory, why, sizeof why) &&
              op->check(problem, &prepared, 0, &errors, why, sizeof why);
    mx_op_prepared_free(&prepared);
    op->teardown(problem);
    cr_assert(ok, "%s %s M=%lld %s: %s", name, variant, (long long)m, dtype, why);
    return errors;
}

static mx_bench_errors check_gemm(int64_t m, const char *dtype, const char *variant) {
    return check_op((mx_sweep_row){.op = "gemm", .m = m, .n = PLANT_N, .k = PLANT_K}, dtype,
                    variant);
}

/* Issue 15's planted error: one output row 10 % wrong after the kernel passes both norm-wise
 * gates at M = 4096 (it moves them by ~0.16 %) but fails the element-wise one at M = 1, 16 and
 * 4096, naming the row; untouched outputs (the kernels and the FP16 path, BF16 included) pass. */
Test(gpu_harness, a_planted_wrong_row_fails_the_elementwise_gate, .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    const int64_t ms[] = {1, 16, 4096};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        for (int d = 0; d < 2; d++)
            for (int v = 0; v < 2; v++) {
                const char *dtype = d ? "bf16" : "f16", *variant = v ? "auto" : MX_BENCH_FP16;
                mx_bench_errors clean = check_gemm(ms[i], dtype, variant);
                cr_expect(clean.elementwise <= 1.0, "%s %s M=%lld: %g at row %lld column %lld",
                          variant, dtype, (long long)ms[i], clean.elementwise,
                          (long long)clean.worst_row, (long long)clean.worst_column);
            }
        planted_row = ms[i] / 2;
        mx_op_check_tamper = plant_error;
        mx_bench_errors planted = check_gemm(ms[i], "f16", "auto");
        mx_op_check_tamper = NULL;
        cr_expect_gt(planted.elementwise, 1.0, "M=%lld: %g", (long long)ms[i], planted.elementwise);
        cr_expect_eq(planted.worst_row, planted_row);
        cr_expect_not(mx_target_errors_pass(MX_F16, planted.rel_vs_fp16, planted.rel_vs_exact,
                                            planted.elementwise, planted.nonfinite));
        if (ms[i] == 4096)
            cr_expect(planted.rel_vs_fp16 <= mx_targets.rel_vs_fp16 && planted.rel_vs_exact <= 0.01,
                      "the norm-wise figures hardly move: %g, %g", planted.rel_vs_fp16,
                      planted.rel_vs_exact);
    }
}

/* The GPU's element-wise check against the host reference (common.c) on fresh random outputs
 * with errors planted at random places: the same worst element, count over and count judged. */
Test(gpu_harness, elementwise_check_on_the_gpu_matches_the_host) {
    MX_REQUIRE_GPU();
    enum { ROWS = 37, COLS = 1000, COUNT = ROWS * COLS, K = 4096 };
    mx_rng rng = mx_rng_fresh();
    static float y32[COUNT];
    static double y[COUNT], exact[COUNT], magnitude[COUNT], row_sums[ROWS];
    for (int i = 0; i < COUNT; i++) {
        exact[i] = mx_rng_gaussian(&rng) * 4.0;
        magnitude[i] = fabs(exact[i]) * 20.0 + 1.0;
        double planted = mx_rng_uniform(&rng) < 0.001 ? 1.2 : 1.0;
        y32[i] = (float)(exact[i] * planted);
    }
    for (int r = 0; r < ROWS; r++) row_sums[r] = 100.0 * mx_rng_uniform(&rng);
    float *d_y32;
    void *d_y;
    double *d_wide, *d_exact, *d_magnitude, *d_row_sums;
    MX_CR_CUDA(cudaMalloc((void **)&d_y32, sizeof y32));
    MX_CR_CUDA(cudaMalloc(&d_y, COUNT * 2));
    MX_CR_CUDA(cudaMalloc((void **)&d_wide, sizeof y));
    MX_CR_CUDA(cudaMalloc((void **)&d_exact, sizeof exact));
    MX_CR_CUDA(cudaMalloc((void **)&d_magnitude, sizeof magnitude));
    MX_CR_CUDA(cudaMalloc((void **)&d_row_sums, sizeof row_sums));
    MX_CR_CUDA(cudaMemcpy(d_y32, y32, sizeof y32, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d_exact, exact, sizeof exact, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d_magnitude, magnitude, sizeof magnitude, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d_row_sums, row_sums, sizeof row_sums, cudaMemcpyHostToDevice));
    MX_CR_OK(mx_bench_narrow(d_y32, COUNT, MX_F16, d_y, 0));
    MX_CR_OK(mx_bench_widen(d_y, MX_F16, COUNT, d_wide, 0)); /* the FP16 values, exactly */
    MX_CR_CUDA(cudaMemcpy(y, d_wide, sizeof y, cudaMemcpyDeviceToHost));
    mx_elementwise_result gpu, host;
    MX_CR_OK(mx_bench_elementwise(d_y, MX_F16, d_exact, d_magnitude, d_row_sums, COUNT, COLS, K,
                                  &gpu, 0));
    mx_elementwise_bound bound = mx_elementwise_bound_for(MX_F16, K);
    mx_test_elementwise_clear(&host);
    mx_test_elementwise_add(&host, &bound, y, exact, magnitude, row_sums, COUNT, 0, COLS);
    cr_expect_eq(gpu.checked, host.checked);
    cr_expect_eq(gpu.over, host.over);
    cr_expect_gt(host.over, 0, "errors were planted");
    cr_expect_eq(gpu.worst_index, host.worst_index);
    cr_expect_float_eq(gpu.worst, host.worst, 1e-6 * host.worst, "gpu %g host %g", gpu.worst,
                       host.worst);
    void *buffers[] = {d_y32, d_y, d_wide, d_exact, d_magnitude, d_row_sums};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
}

/* The composite ops' element-wise bounds (reference/ffn_ref.h, moe_ref.h, attention_ref.h) on
 * the GPU, PLANT_N hidden: the FFN block (2880 intermediate values) at M = 1 and 16, the MoE
 * layer (8 experts, top-4) at M = 1 and 3 and the attention block (8 query heads, 2 kv heads) at
 * one token pass untouched in both dtypes, on the MXFP4 path and the FP16 one, and one output
 * row twice too large fails them, named. A row 10 % wrong is logged, not asserted: these bounds add
 * every step's worst case over thousands of terms, so on gaussian data a 10 % row scores about
 * 0.2-1x of them (docs/design.md §4). */
Test(gpu_harness, a_planted_wrong_row_fails_the_composite_ops_elementwise_gates,
     .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    const mx_sweep_row rows[] = {
        {.op = "ffn_gptoss", .m = 1, .n = 2880, .k = PLANT_N},
        {.op = "ffn_gptoss", .m = 16, .n = 2880, .k = PLANT_N},
        {.op = "moe", .m = 1, .n = 2880, .k = PLANT_N, .experts = 8, .topk = 4},
        {.op = "moe", .m = 3, .n = 2880, .k = PLANT_N, .experts = 8, .topk = 4},
        {.op = "attention", .m = 1, .n = 512, .k = PLANT_N, .kv_heads = 2},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *mxfp4 = !strcmp(rows[i].op, "moe")         ? "auto"
                            : !strcmp(rows[i].op, "attention") ? "fused_qkv"
                                                               : "epilogue";
        for (int d = 0; d < 2; d++)
            for (int v = 0; v < 2; v++) {
                const char *dtype = d ? "bf16" : "f16", *variant = v ? mxfp4 : MX_BENCH_FP16;
                mx_bench_errors clean = check_op(rows[i], dtype, variant);
                cr_expect(clean.elementwise <= 1.0, "%s %s %s M=%lld: %g at row %lld column %lld",
                          rows[i].op, variant, dtype, (long long)rows[i].m, clean.elementwise,
                          (long long)clean.worst_row, (long long)clean.worst_column);
            }
        planted_row = rows[i].m / 2;
        mx_op_check_tamper = plant_error;
        const mx_bench_errors tenth = check_op(rows[i], "f16", mxfp4);
        cr_log_info("%s M=%lld: a row 10 %% wrong scores %g of the bound", rows[i].op,
                    (long long)rows[i].m, tenth.elementwise);
        planted_factor = 2.0;
        const mx_bench_errors planted = check_op(rows[i], "f16", mxfp4);
        planted_factor = 1.1;
        mx_op_check_tamper = NULL;
        cr_expect_gt(planted.elementwise, 1.0, "%s M=%lld: a row twice too large scores %g",
                     rows[i].op, (long long)rows[i].m, planted.elementwise);
        cr_expect_eq(planted.worst_row, planted_row);
    }
}

/* The harness's FP64 attention core on the GPU (attention_f64.h), the exact reference of every
 * attention row, against the CPU's (reference/attention_ref.c) on the same packed Q/K/V (a
 * padded stride): the values and the element-wise bound agree to 1e-12 of the largest value on
 * MHA and GQA, one key, several sequences, head_dim 24 (threads left over), 128 and 200 (past one
 * pass of the block), and more query rows than one launch takes (10240 > 8192). The output is
 * NaN-poisoned first; a partial set of allowances and a bad head split are refused. */
Test(gpu_harness, fp64_attention_core_on_the_gpu_matches_the_cpu) {
    MX_REQUIRE_GPU();
    const mx_attention_shape shapes[] = {
        {.sequences = 1, .seq_len = 1, .q_heads = 2, .kv_heads = 2, .head_dim = 64},
        {.sequences = 2, .seq_len = 37, .q_heads = 8, .kv_heads = 2, .head_dim = 64},
        {.sequences = 1, .seq_len = 130, .q_heads = 2, .kv_heads = 1, .head_dim = 128},
        {.sequences = 3, .seq_len = 20, .q_heads = 4, .kv_heads = 4, .head_dim = 24},
        {.sequences = 1, .seq_len = 45, .q_heads = 2, .kv_heads = 1, .head_dim = 200},
        {.sequences = 4, .seq_len = 160, .q_heads = 16, .kv_heads = 4, .head_dim = 64},
    };
    mx_rng rng = mx_rng_fresh();
    const mx_ref_ffn_rounding rounding = {0x1p-11, 0x1p-24, 1.5, 3e-5, 2e-4};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const mx_attention_shape *s = &shapes[c];
        const int64_t tokens = s->sequences * s->seq_len, q_width = s->q_heads * s->head_dim;
        const int64_t kv_width = s->kv_heads * s->head_dim, stride = q_width + 2 * kv_width + 8;
        const int64_t count = tokens * stride, out_count = tokens * q_width;
        double *qkv = malloc((size_t)count * 8), *dqkv = malloc((size_t)count * 8);
        double *cpu = malloc((size_t)out_count * 8), *gpu = malloc((size_t)out_count * 8);
        cr_assert(qkv && dqkv && cpu && gpu);
        for (int64_t i = 0; i < count; i++) {
            qkv[i] = mx_rng_gaussian(&rng) * (i % stride < q_width ? 2.0 : 1.0);
            dqkv[i] = 1e-3 * mx_rng_uniform(&rng) * fabs(qkv[i]) + 1e-6;
        }
        double *d_qkv, *d_dqkv, *d_out;
        MX_CR_CUDA(cudaMalloc((void **)&d_qkv, (size_t)count * 8));
        MX_CR_CUDA(cudaMalloc((void **)&d_dqkv, (size_t)count * 8));
        MX_CR_CUDA(cudaMalloc((void **)&d_out, (size_t)out_count * 8));
        MX_CR_CUDA(cudaMemcpy(d_qkv, qkv, (size_t)count * 8, cudaMemcpyHostToDevice));
        MX_CR_CUDA(cudaMemcpy(d_dqkv, dqkv, (size_t)count * 8, cudaMemcpyHostToDevice));
        for (int bound = 0; bound < 2; bound++) {
            const double *dq = bound ? d_dqkv : NULL, *dk = bound ? d_dqkv + q_width : NULL,
                         *dv = bound ? d_dqkv + q_width + kv_width : NULL;
            MX_CR_CUDA(cudaMemset(d_out, 0xFF, (size_t)out_count * 8)); /* NaN */
            MX_CR_OK(mx_bench_attention_core_f64(s, d_qkv, dq, stride, d_qkv + q_width, dk, stride,
                                                 d_qkv + q_width + kv_width, dv, stride, &rounding,
                                                 d_out, 0));
            MX_CR_CUDA(cudaMemcpy(gpu, d_out, (size_t)out_count * 8, cudaMemcpyDeviceToHost));
            if (bound)
                MX_CR_OK(mx_ref_attention_core_bound_f64(
                    s, qkv, dqkv, stride, qkv + q_width, dqkv + q_width, stride,
                    qkv + q_width + kv_width, dqkv + q_width + kv_width, stride, &rounding, cpu));
            else
                MX_CR_OK(mx_ref_attention_core_f64(s, qkv, stride, qkv + q_width, stride,
                                                   qkv + q_width + kv_width, stride, cpu));
            double largest = 0.0, worst = 0.0;
            for (int64_t i = 0; i < out_count; i++) largest = fmax(largest, fabs(cpu[i]));
            for (int64_t i = 0; i < out_count; i++)
                worst = isnan(gpu[i]) ? INFINITY : fmax(worst, fabs(gpu[i] - cpu[i]));
            cr_expect(largest > 0.0 && worst <= 1e-12 * largest,
                      "shape %zu %s: largest |difference| %g against largest value %g", c,
                      bound ? "bound" : "values", worst, largest);
        }
        cudaFree(d_qkv);
        cudaFree(d_dqkv);
        cudaFree(d_out);
        free(qkv);
        free(dqkv);
        free(cpu);
        free(gpu);
    }
    double *d_buffer;
    MX_CR_CUDA(cudaMalloc((void **)&d_buffer, 4096 * 8));
    mx_attention_shape odd = shapes[1];
    cr_expect_eq(mx_bench_attention_core_f64(&odd, d_buffer, d_buffer, 1024, d_buffer, NULL, 1024,
                                             d_buffer, NULL, 1024, &rounding, d_buffer, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "dq, dk, dv all or none"), "%s", mx_last_error());
    odd.kv_heads = 3;
    cr_expect_eq(mx_bench_attention_core_f64(&odd, d_buffer, NULL, 1024, d_buffer, NULL, 1024,
                                             d_buffer, NULL, 1024, NULL, d_buffer, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "heads 8/3"), "%s", mx_last_error());
    cudaFree(d_buffer);
}
