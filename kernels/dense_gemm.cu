/* Dense FP16/BF16 GEMM through cuBLAS (see dense_gemm.h). Row-major Y = X W^T is computed as the
 * column-major Y^T = W X^T: W (k x n column-major) transposed, X (k x m) as is: the "TN" layout
 * cuBLAS serves best. A bias is broadcast into Y first and added by beta = 1. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "check.h"
#include "dense_gemm.h"

// ---- kernels

/* y[b, i, j] = bias[b, j] for every row i: the C operand of the beta = 1 GEMM. */
template <typename T>
static __global__ void mx_bias_broadcast_kernel(const T *bias, T *y, int64_t m, int64_t n,
                                                int64_t batch) {
    int64_t total = batch * m * n, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int64_t b = i / (m * n), j = i % n;
        y[i] = bias[b * n + j];
    }
}

// ---- launchers

template <typename T>
static mx_status mx_bias_broadcast_launch(const void *bias, void *y, int64_t m, int64_t n,
                                          int64_t batch, cudaStream_t stream) {
    const int threads = 256;
    int64_t blocks = (batch * m * n + threads - 1) / threads;
    mx_bias_broadcast_kernel<T><<<(int)(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
        (const T *)bias, (T *)y, m, n, batch);
    MX_LAUNCH_CHECK("mx_bias_broadcast_kernel");
    return MX_OK;
}

extern "C" mx_status mx_cublas_fail(cublasStatus_t status, const char *call, const char *file,
                                    int line) {
    return mx_fail(status == CUBLAS_STATUS_ALLOC_FAILED ? MX_ERR_OUT_OF_MEMORY : MX_ERR_CUBLAS,
                   "%s failed at %s:%d: %s", call, file, line, cublasGetStatusString(status));
}

extern "C" mx_status mx_dense_gemm(cublasHandle_t cublas, int64_t m, int64_t n, int64_t k,
                                   int64_t batch, mx_dtype dtype, const void *x, const void *w,
                                   const void *bias, void *y, cudaStream_t stream) {
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batch > INT32_MAX)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "cuBLAS takes 32-bit sizes: m=%lld n=%lld k=%lld batch=%lld", (long long)m,
                       (long long)n, (long long)k, (long long)batch);
    cudaDataType type = dtype == MX_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    float alpha = 1.0f, beta = bias ? 1.0f : 0.0f;
    if (bias) {
        MX_TRY(dtype == MX_BF16
                   ? mx_bias_broadcast_launch<__nv_bfloat16>(bias, y, m, n, batch, stream)
                   : mx_bias_broadcast_launch<__half>(bias, y, m, n, batch, stream));
    }
    MX_CUBLAS_CHECK(cublasSetStream(cublas, stream));
    if (batch == 1) {
        MX_CUBLAS_CHECK(cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k,
                                     &alpha, w, type, (int)k, x, type, (int)k, &beta, y, type,
                                     (int)n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else {
        MX_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
            cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)m, (int)k, &alpha, w, type, (int)k,
            n * k, x, type, (int)k, m * k, &beta, y, type, (int)n, m * n, (int)batch,
            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    return MX_OK;
}
