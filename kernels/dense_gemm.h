/* Internal to the library. The dense FP16/BF16 GEMM through cuBLAS: behind the FP16 reference
 * paths (reference/fp16.h), the GEMM half of the dequant_cublas and persistent variants, and the
 * MoE router. Y[m, n] = X[m, k] . W[n, k]^T (+ bias[n]), batched
 * densely, cublasGemmEx / cublasGemmStridedBatchedEx with FP16 (BF16) inputs and output and
 * CUBLAS_COMPUTE_32F, tensor cores on (cuBLAS's default math mode since CUDA 11). Also what the
 * blocks of GEMMs take from gemm.cu and gemm_names.c: the variant checks and the context's cuBLAS
 * handle. */
#ifndef MX_DENSE_GEMM_H
#define MX_DENSE_GEMM_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdint.h>

#include "format.h"
#include "gemm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* w: dense [batch, n, k] of dtype (MX_F16 or MX_BF16). The handle's stream is set to stream. */
mx_status mx_dense_gemm(cublasHandle_t cublas, int64_t m, int64_t n, int64_t k, int64_t batch,
                        mx_dtype dtype, const void *x, const void *w, const void *bias, void *y,
                        cudaStream_t stream);

/* A variant argument within mx_gemm_variant, else MX_ERR_INVALID_ARGUMENT naming its value. */
mx_status mx_check_variant_value(mx_gemm_variant variant);

/* The variant check of the blocks of GEMMs (mx_ffn, mx_attention_block, mx_moe): MX_OK for the
 * variants of mx_gemm_block_variant_names, otherwise MX_ERR_INVALID_ARGUMENT naming the variant,
 * the block, why persistent is not offered there, and the variants that are. */
mx_status mx_gemm_check_block_variant(mx_gemm_variant variant, const char *block,
                                      const char *why_not_persistent);

/* From now on the context's MXFP4 kernels launch as programmatic dependents of the kernel before
 * them in the stream (dependent_launch.cuh; they wait for it first), where the GPU runs the
 * Hopper path; returns whether it does. For contexts whose GEMMs follow the library's own
 * kernels in a chain (the MoE layer's). */
bool mx_gemm_context_launch_dependent(mx_gemm_context *context);

/* The cuBLAS handle a GEMM context owns. */
cublasHandle_t mx_gemm_context_cublas(const mx_gemm_context *context);

#ifdef __cplusplus
}
#endif

#endif
