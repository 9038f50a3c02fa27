/* The GEMM op for the harness: Y[m, n] = X[m, k] . W[n, k]^T per batch entry, MXFP4 variants of
 * kernels/gemm.h against cublasGemmEx on the same weights dequantized to FP16/BF16. Per problem it
 * keeps three references: that FP16 path, cuBLAS DGEMM on the exactly dequantized weights, and
 * the FP16 path on the original (unquantized) weights. */
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/mx.h"
#include "bench_gpu.h"
#include "ops.h"

typedef struct {
    int64_t m, n, k, batch;
    mx_dtype dtype;
    void *x, *w_dequantized, *w_original, *y, *y_fp16, *y_original;
    uint8_t *blocks, *scales;
    double *y_exact;
    int64_t mxfp4_measured_bytes;
    mx_gemm_context *context;
    cublasHandle_t cublas;
    bool fp16_selected; /* the prepared variant: the FP16 reference, or mxfp4_variant */
    mx_gemm_variant mxfp4_variant;
    void *workspace;
    size_t workspace_bytes;
} gemm_problem;

static const char *const gemm_variants[] = {"auto",           "fused",      "skinny",
                                            "dequant_cublas", "persistent", NULL};

static mx_dtype row_dtype(const mx_sweep_row *row) {
    return strcmp(row->dtype, "bf16") == 0 ? MX_BF16 : MX_F16;
}

static double gemm_bytes(const mx_sweep_row *row, bool fp16) {
    double weights = (double)row->batch * row->n * row->k;
    double activations = (double)row->batch * row->m * (row->k + row->n) * 2.0;
    return weights * (fp16 ? 2.0 : 0.5 + 1.0 / 32.0) + activations;
}

static double gemm_flops(const mx_sweep_row *row) {
    return 2.0 * row->batch * row->m * row->n * row->k;
}

/* Records the first failure in why (with what was being done) and returns false. */
static bool failed(char *why, size_t why_size, const char *what, const char *detail) {
    snprintf(why, why_size, "%s: %s", what, detail);
    return false;
}

static bool cuda_ok(cudaError_t error, char *why, size_t why_size, const char *what) {
    if (error == cudaSuccess) return true;
    cudaGetLastError(); /* a failed allocation must not poison the next row */
    return failed(why, why_size, what,
                  error == cudaErrorMemoryAllocation ? "out of memory" : cudaGetErrorString(error));
}

static bool mx_ok(mx_status status, char *why, size_t why_size, const char *what) {
    if (status == MX_OK) return true;
    cudaGetLastError();
    return failed(why, why_size, what, mx_last_error());
}

static bool allocate(void **buffer, double bytes, char *why, size_t why_size, const char *what) {
    char message[160];
    cudaError_t error = cudaMalloc(buffer, (size_t)bytes);
    if (error == cudaSuccess) return true;
    *buffer = NULL;
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    snprintf(message, sizeof message, "out of memory allocating %.2f GB (%.2f GB free)",
             bytes / 1e9, (double)free_bytes / 1e9);
    return failed(why, why_size, what,
                  error == cudaErrorMemoryAllocation ? message : cudaGetErrorString(error));
}

static void gemm_teardown(void *opaque) {
    gemm_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,          p->w_dequantized, p->w_original, p->y,      p->y_fp16,
                       p->y_original, p->blocks,        p->scales,     p->y_exact};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    if (p->cublas) cublasDestroy(p->cublas);
    mx_gemm_context_destroy(p->context);
    free(p);
}

static bool dense(gemm_problem *p, const void *w, void *y, cudaStream_t stream, char *why,
                  size_t why_size) {
    return mx_ok(
        mx_dense_gemm(p->cublas, p->m, p->n, p->k, p->batch, p->dtype, p->x, w, NULL, y, stream),
        why, why_size, "cuBLAS FP16 reference");
}

/* Y64 = X64 . W64^T per batch entry with cuBLAS DGEMM (exact products, FP64 sums). */
static bool exact_product(gemm_problem *p, const float *w32, char *why, size_t why_size) {
    double *x64 = NULL, *w64 = NULL;
    int64_t x_count = p->batch * p->m * p->k, w_count = p->batch * p->n * p->k;
    bool ok = allocate((void **)&x64, x_count * 8.0, why, why_size, "FP64 reference") &&
              allocate((void **)&w64, w_count * 8.0, why, why_size, "FP64 reference") &&
              mx_ok(mx_bench_widen(p->x, p->dtype, x_count, x64, 0), why, why_size, "widen X") &&
              mx_ok(mx_bench_widen(w32, MX_F32, w_count, w64, 0), why, why_size, "widen W");
    if (ok) {
        double one = 1.0, zero = 0.0;
        cublasStatus_t status = cublasDgemmStridedBatched(
            p->cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)p->n, (int)p->m, (int)p->k, &one, w64,
            (int)p->k, p->n * p->k, x64, (int)p->k, p->m * p->k, &zero, p->y_exact, (int)p->n,
            p->m * p->n, (int)p->batch);
        if (status != CUBLAS_STATUS_SUCCESS)
            ok = failed(why, why_size, "cublasDgemmStridedBatched", cublasGetStatusString(status));
    }
    ok = ok && cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP64 reference");
    cudaFree(x64);
    cudaFree(w64);
    return ok;
}

static bool gemm_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    if (row->k % MX_BLOCK_SIZE != 0 || row->m > INT32_MAX || row->n > INT32_MAX ||
        row->k > INT32_MAX)
        return failed(why, why_size, "unsupported shape",
                      "K must be a multiple of 32 and M, N, K < 2^31");
    mx_dist dist = mx_dist_from_name(row->dist);
    if (dist == MX_DIST_COUNT) return failed(why, why_size, "unknown distribution", row->dist);
    gemm_problem *p = calloc(1, sizeof *p);
    if (!p) return failed(why, why_size, "setup", "out of host memory");
    p->m = row->m;
    p->n = row->n;
    p->k = row->k;
    p->batch = row->batch;
    p->dtype = row_dtype(row);
    const int64_t x_count = p->batch * p->m * p->k, w_count = p->batch * p->n * p->k,
                  y_count = p->batch * p->m * p->n;
    const double element = 2.0;
    float *w32 = NULL, *x32 = NULL;
    size_t free_before = 0, free_after = 0, total = 0;
    bool ok = mx_ok(mx_gemm_context_create(&p->context), why, why_size, "GEMM context") &&
              (cublasCreate(&p->cublas) == CUBLAS_STATUS_SUCCESS ||
               failed(why, why_size, "cublasCreate", "failed"));
    ok = ok && cuda_ok(cudaMemGetInfo(&free_before, &total), why, why_size, "cudaMemGetInfo") &&
         allocate((void **)&p->blocks, w_count / 2.0, why, why_size, "MXFP4 weights") &&
         allocate((void **)&p->scales, w_count / 32.0, why, why_size, "MXFP4 scales") &&
         cuda_ok(cudaMemGetInfo(&free_after, &total), why, why_size, "cudaMemGetInfo");
    p->mxfp4_measured_bytes = (int64_t)free_before - (int64_t)free_after;
    ok = ok && allocate(&p->x, x_count * element, why, why_size, "activations") &&
         allocate(&p->w_dequantized, w_count * element, why, why_size, "FP16 weights") &&
         allocate(&p->w_original, w_count * element, why, why_size, "original weights") &&
         allocate(&p->y, y_count * element, why, why_size, "output") &&
         allocate(&p->y_fp16, y_count * element, why, why_size, "FP16 reference output") &&
         allocate(&p->y_original, y_count * element, why, why_size, "unquantized output") &&
         allocate((void **)&p->y_exact, y_count * 8.0, why, why_size, "FP64 reference output") &&
         allocate((void **)&w32, w_count * 4.0, why, why_size, "weight scratch") &&
         allocate((void **)&x32, x_count * 4.0, why, why_size, "activation scratch");
    /* Weights: the distribution in FP32 -> original in the dtype, MXFP4, dequantized (exact in
     * FP32) -> FP16/BF16 for the reference; activations from their own seed. */
    uint64_t seed = (uint64_t)row->seed * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(p->n * 131 + p->k);
    ok =
        ok &&
        mx_ok(mx_bench_fill(w32, p->batch * p->n, p->k, dist, seed, 0), why, why_size, "weights") &&
        mx_ok(mx_bench_narrow(w32, w_count, p->dtype, p->w_original, 0), why, why_size,
              "weights") &&
        mx_ok(mx_quantize(w32, MX_F32, p->batch * p->n, p->k, MX_SCALE_FLOOR, p->blocks, p->scales,
                          0),
              why, why_size, "quantize") &&
        mx_ok(mx_dequantize(p->blocks, p->scales, p->batch * p->n, p->k, MX_F32, w32, 0), why,
              why_size, "dequantize") &&
        mx_ok(mx_bench_narrow(w32, w_count, p->dtype, p->w_dequantized, 0), why, why_size,
              "dequantize") &&
        mx_ok(mx_bench_fill_activations(x32, x_count, dist, seed + 1, 0), why, why_size,
              "activations") &&
        mx_ok(mx_bench_narrow(x32, x_count, p->dtype, p->x, 0), why, why_size, "activations") &&
        dense(p, p->w_dequantized, p->y_fp16, 0, why, why_size) &&
        dense(p, p->w_original, p->y_original, 0, why, why_size) &&
        exact_product(p, w32, why, why_size);
    cudaFree(w32);
    cudaFree(x32);
    if (!ok) {
        gemm_teardown(p);
        return false;
    }
    *out = p;
    return true;
}

static bool gemm_prepare(void *opaque, const char *variant, mx_bench_memory *memory, char *why,
                         size_t why_size) {
    gemm_problem *p = opaque;
    int64_t weights = p->batch * p->n * p->k;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = 2 * weights;
    p->fp16_selected = strcmp(variant, MX_BENCH_FP16) == 0;
    p->workspace = NULL;
    p->workspace_bytes = 0;
    if (p->fp16_selected) {
        memory->measured_bytes = -1; /* allocated in setup among other buffers: not measured */
        return true;
    }
    if (!mx_ok(mx_gemm_variant_from_name(variant, &p->mxfp4_variant), why, why_size, "variant"))
        return false;
    mx_gemm_problem problem = {
        .m = p->m, .n = p->n, .k = p->k, .batch = p->batch, .dtype = p->dtype};
    mx_vram_report vram = mx_gemm_vram(p->context, &problem, p->mxfp4_variant);
    memory->weight_bytes_mxfp4 = vram.weight_bytes_mxfp4;
    memory->workspace_bytes = vram.workspace_bytes;
    p->workspace_bytes = (size_t)vram.workspace_bytes;
    size_t free_before = 0, free_after = 0, total = 0;
    if (!cuda_ok(cudaMemGetInfo(&free_before, &total), why, why_size, "cudaMemGetInfo") ||
        (p->workspace_bytes > 0 &&
         !allocate(&p->workspace, (double)p->workspace_bytes, why, why_size, "workspace")) ||
        !cuda_ok(cudaMemGetInfo(&free_after, &total), why, why_size, "cudaMemGetInfo"))
        return false;
    memory->measured_bytes = p->mxfp4_measured_bytes + (int64_t)free_before - (int64_t)free_after;
    if (p->mxfp4_variant == MX_GEMM_PERSISTENT) {
        mx_gemm_problem full = problem;
        full.x = p->x;
        full.w_blocks = p->blocks;
        full.w_scales = p->scales;
        full.y = p->y;
        return mx_ok(mx_gemm_persistent_prepare(p->context, &full, p->workspace, p->workspace_bytes,
                                                0),
                     why, why_size, "persistent prepare") &&
               cuda_ok(cudaDeviceSynchronize(), why, why_size, "persistent prepare");
    }
    return true;
}

static bool gemm_run(void *opaque, cudaStream_t stream, char *why, size_t why_size) {
    gemm_problem *p = opaque;
    if (p->fp16_selected) return dense(p, p->w_dequantized, p->y, stream, why, why_size);
    mx_gemm_problem problem = {.m = p->m,
                               .n = p->n,
                               .k = p->k,
                               .batch = p->batch,
                               .dtype = p->dtype,
                               .x = p->x,
                               .w_blocks = p->blocks,
                               .w_scales = p->scales,
                               .y = p->y};
    return mx_ok(
        mx_gemm(p->context, &problem, p->mxfp4_variant, p->workspace, p->workspace_bytes, stream),
        why, why_size, mx_gemm_variant_name(p->mxfp4_variant));
}

static bool gemm_check(void *opaque, cudaStream_t stream, mx_bench_errors *errors, char *why,
                       size_t why_size) {
    gemm_problem *p = opaque;
    int64_t count = p->batch * p->m * p->n;
    mx_error_figures fp16, exact, original;
    bool ok = mx_ok(mx_bench_poison(p->y, p->dtype, count, stream), why, why_size, "poison") &&
              gemm_run(p, stream, why, why_size) &&
              mx_ok(mx_bench_compare(p->y, p->dtype, p->y_fp16, p->dtype, 0, count, &fp16, stream),
                    why, why_size, "compare") &&
              mx_ok(mx_bench_compare(p->y, p->dtype, p->y_exact, MX_F32, 1, count, &exact, stream),
                    why, why_size, "compare") &&
              mx_ok(mx_bench_compare(p->y, p->dtype, p->y_original, p->dtype, 0, count, &original,
                                     stream),
                    why, why_size, "compare");
    if (!ok) return false;
    errors->rel_vs_fp16 = fp16.rel;
    errors->max_rel_vs_fp16 = fp16.max_rel;
    errors->rel_vs_exact = exact.rel;
    errors->quant_rel = original.rel;
    errors->nonfinite = exact.nonfinite;
    return true;
}

static void gemm_release(void *opaque) {
    gemm_problem *p = opaque;
    cudaFree(p->workspace);
    p->workspace = NULL;
    p->workspace_bytes = 0;
}

const mx_bench_op mx_op_gemm = {
    .name = "gemm",
    .variants = gemm_variants,
    .bytes = gemm_bytes,
    .flops = gemm_flops,
    .setup = gemm_setup,
    .teardown = gemm_teardown,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .check = gemm_check,
    .release = gemm_release,
};

static const mx_bench_op *const all_ops[] = {&mx_op_gemm};

const mx_bench_op *const *mx_bench_ops(int *count) {
    *count = (int)(sizeof all_ops / sizeof all_ops[0]);
    return all_ops;
}

const mx_bench_op *mx_bench_find_op(const char *name) {
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (strcmp(all_ops[i]->name, name) == 0) return all_ops[i];
    return NULL;
}
