/* The dense FP16/BF16 GEMM through cuBLAS: the FP16 reference path, and the GEMM half of the
 * dequant_cublas and persistent variants. Y[m, n] = X[m, k] . W[n, k]^T (+ bias[n]), batched
 * densely, cublasGemmEx / cublasGemmStridedBatchedEx with FP16 (BF16) inputs and output and
 * CUBLAS_COMPUTE_32F, tensor cores on (cuBLAS's default math mode since CUDA 11). */
#ifndef MX_DENSE_GEMM_H
#define MX_DENSE_GEMM_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* w: dense [batch, n, k] of dtype (MX_F16 or MX_BF16). The handle's stream is set to stream. */
mx_status mx_dense_gemm(cublasHandle_t cublas, int64_t m, int64_t n, int64_t k, int64_t batch,
                        mx_dtype dtype, const void *x, const void *w, const void *bias, void *y,
                        cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
