/* FP16 reference GEMM through cuBLASLt, fastest algorithm per shape (see gemm_fp16.h). Row-major
 * Y = X W^T is the column-major Y^T = W^T X^T: A = W (k x n, transposed), B = X (k x m). */
#include "gemm_fp16.h"

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MX_CANDIDATES = 8, MX_WARMUP = 2, MX_TIMED = 7 };
#define MX_LT_WORKSPACE_BYTES ((size_t)32 << 20)

struct mx_ref_gemm_fp16 {
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
    void *workspace;
    char choice[160];
};

static mx_status lt_fail(cublasStatus_t status, const char *call) {
    return mx_fail(status == CUBLAS_STATUS_ALLOC_FAILED ? MX_ERR_OUT_OF_MEMORY : MX_ERR_CUBLAS,
                   "%s failed: %s", call, cublasGetStatusString(status));
}

#define LT_TRY(call)                                                                               \
    do {                                                                                           \
        cublasStatus_t lt_status_ = (call);                                                        \
        if (lt_status_ != CUBLAS_STATUS_SUCCESS) return lt_fail(lt_status_, #call);                \
    } while (0)

static mx_status layout(cublasLtMatrixLayout_t *layout, cudaDataType type, int64_t rows,
                        int64_t cols, int64_t batch) {
    LT_TRY(cublasLtMatrixLayoutCreate(layout, type, (uint64_t)rows, (uint64_t)cols, rows));
    int32_t count = (int32_t)batch;
    int64_t stride = rows * cols;
    LT_TRY(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                            sizeof count));
    LT_TRY(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                            &stride, sizeof stride));
    return MX_OK;
}

static mx_status matmul(const mx_ref_gemm_fp16 *plan, const cublasLtMatmulAlgo_t *algo,
                        const void *x, const void *w, void *y, cudaStream_t stream) {
    const float alpha = 1.0f, beta = 0.0f;
    LT_TRY(cublasLtMatmul(plan->lt, plan->op, &alpha, w, plan->a, x, plan->b, &beta, y, plan->c, y,
                          plan->c, algo, plan->workspace, MX_LT_WORKSPACE_BYTES, stream));
    return MX_OK;
}

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median time of the algorithm in microseconds, or a negative value when it cannot run. */
static float time_algorithm(const mx_ref_gemm_fp16 *plan, const cublasLtMatmulAlgo_t *algo,
                            const void *x, const void *w, void *y, cudaStream_t stream,
                            cudaEvent_t start, cudaEvent_t stop) {
    float samples[MX_TIMED];
    for (int i = 0; i < MX_WARMUP; i++)
        if (matmul(plan, algo, x, w, y, stream) != MX_OK) return -1.0f;
    for (int i = 0; i < MX_TIMED; i++) {
        if (cudaEventRecord(start, stream) != cudaSuccess ||
            matmul(plan, algo, x, w, y, stream) != MX_OK ||
            cudaEventRecord(stop, stream) != cudaSuccess ||
            cudaEventSynchronize(stop) != cudaSuccess ||
            cudaEventElapsedTime(&samples[i], start, stop) != cudaSuccess)
            return -1.0f;
    }
    qsort(samples, MX_TIMED, sizeof samples[0], compare_floats);
    return samples[MX_TIMED / 2] * 1e3f;
}

static mx_status choose(mx_ref_gemm_fp16 *plan, const void *x, const void *w, void *y,
                        cudaStream_t stream) {
    cublasLtMatmulPreference_t preference;
    LT_TRY(cublasLtMatmulPreferenceCreate(&preference));
    size_t workspace_bytes = MX_LT_WORKSPACE_BYTES;
    cublasLtMatmulHeuristicResult_t results[MX_CANDIDATES];
    int returned = 0;
    cublasStatus_t status =
        cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof workspace_bytes);
    if (status == CUBLAS_STATUS_SUCCESS)
        status =
            cublasLtMatmulAlgoGetHeuristic(plan->lt, plan->op, plan->a, plan->b, plan->c, plan->c,
                                           preference, MX_CANDIDATES, results, &returned);
    cublasLtMatmulPreferenceDestroy(preference);
    if (status != CUBLAS_STATUS_SUCCESS) return lt_fail(status, "cublasLtMatmulAlgoGetHeuristic");
    if (returned == 0)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE, "cuBLASLt offers no algorithm for this GEMM");
    cudaEvent_t start, stop;
    if (cudaEventCreate(&start) != cudaSuccess) return mx_fail(MX_ERR_CUDA, "cudaEventCreate");
    if (cudaEventCreate(&stop) != cudaSuccess) {
        cudaEventDestroy(start);
        return mx_fail(MX_ERR_CUDA, "cudaEventCreate");
    }
    int best = -1;
    float best_us = 0.0f, first_us = -1.0f;
    for (int i = 0; i < returned; i++) {
        float us = time_algorithm(plan, &results[i].algo, x, w, y, stream, start, stop);
        if (i == 0) first_us = us;
        if (us > 0.0f && (best < 0 || us < best_us)) best = i, best_us = us;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaGetLastError(); /* a candidate that failed to launch must not poison what follows */
    if (best < 0) return mx_fail(MX_ERR_CUBLAS, "no cuBLASLt algorithm ran for this GEMM");
    plan->algo = results[best].algo;
    snprintf(plan->choice, sizeof plan->choice,
             "algorithm %d of %d (heuristic rank): %.1f us vs %.1f us for cuBLAS's first choice",
             best + 1, returned, best_us, first_us);
    return MX_OK;
}

static mx_status build(mx_ref_gemm_fp16 *plan, int64_t m, int64_t n, int64_t k, int64_t batch,
                       mx_dtype dtype, const void *x, const void *w, void *y, cudaStream_t stream) {
    cudaDataType type = dtype == MX_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    LT_TRY(cublasLtCreate(&plan->lt));
    LT_TRY(cublasLtMatmulDescCreate(&plan->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
    LT_TRY(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                          sizeof transpose));
    LT_TRY(
        cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep));
    MX_TRY(layout(&plan->a, type, k, n, batch));
    MX_TRY(layout(&plan->b, type, k, m, batch));
    MX_TRY(layout(&plan->c, type, n, m, batch));
    if (cudaMalloc(&plan->workspace, MX_LT_WORKSPACE_BYTES) != cudaSuccess) {
        cudaGetLastError();
        return mx_fail(MX_ERR_OUT_OF_MEMORY, "out of memory for the 32 MiB cuBLASLt workspace");
    }
    return choose(plan, x, w, y, stream);
}

mx_status mx_ref_gemm_fp16_create(int64_t m, int64_t n, int64_t k, int64_t batch, mx_dtype dtype,
                                  const void *x, const void *w, void *y, cudaStream_t stream,
                                  mx_ref_gemm_fp16 **plan) {
    *plan = NULL;
    if (m <= 0 || n <= 0 || k <= 0 || batch <= 0 || m > INT32_MAX || n > INT32_MAX ||
        k > INT32_MAX || batch > INT32_MAX)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "m=%lld n=%lld k=%lld batch=%lld: cuBLASLt takes positive 32-bit sizes",
                       (long long)m, (long long)n, (long long)k, (long long)batch);
    mx_ref_gemm_fp16 *created = calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "out of host memory");
    mx_status status = build(created, m, n, k, batch, dtype, x, w, y, stream);
    if (status != MX_OK) {
        mx_ref_gemm_fp16_destroy(created);
        return status;
    }
    *plan = created;
    return MX_OK;
}

mx_status mx_ref_gemm_fp16_run(const mx_ref_gemm_fp16 *plan, const void *x, const void *w, void *y,
                               cudaStream_t stream) {
    if (!plan) return mx_fail(MX_ERR_INVALID_ARGUMENT, "FP16 reference plan is NULL");
    return matmul(plan, &plan->algo, x, w, y, stream);
}

const char *mx_ref_gemm_fp16_choice(const mx_ref_gemm_fp16 *plan) {
    return plan ? plan->choice : "";
}

void mx_ref_gemm_fp16_destroy(mx_ref_gemm_fp16 *plan) {
    if (!plan) return;
    cudaFree(plan->workspace);
    if (plan->a) cublasLtMatrixLayoutDestroy(plan->a);
    if (plan->b) cublasLtMatrixLayoutDestroy(plan->b);
    if (plan->c) cublasLtMatrixLayoutDestroy(plan->c);
    if (plan->op) cublasLtMatmulDescDestroy(plan->op);
    if (plan->lt) cublasLtDestroy(plan->lt);
    free(plan);
}
