/* The FP16 reference paths: every op of the kernel set once more with the weights dense in
 * FP16/BF16 (the MXFP4 weights dequantized) and every weight product through cuBLAS
 * (cublasGemmEx / cublasGemmBatchedEx, FP32 compute). What is not a weight product (routing,
 * the attention core, activations, sampling) is the MXFP4 path's own code, so that the two
 * differ only in the weights: the harness times these as each problem's `fp16` row, and the
 * suites check the MXFP4 paths against them. Not part of the public API (<mxbench/mx.h>): they
 * are compiled with the kernels they share, named mx_<op>_fp16, and take the op's context. */
#ifndef MX_REFERENCE_FP16_H
#define MX_REFERENCE_FP16_H

#include <stddef.h>
#include <stdint.h>

#include "mx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Y[m, n] = X[m, k] . W[n, k]^T (+ bias[n]) per batch entry, W dense [batch, n, k] of dtype
 * (MX_F16 or MX_BF16), through the context's cuBLAS handle (cublasGemmEx /
 * cublasGemmStridedBatchedEx, CUBLAS_COMPUTE_32F, cuBLAS's own algorithm choice). No
 * workspace. */
mx_status mx_gemm_fp16(mx_gemm_context *context, int64_t m, int64_t n, int64_t k, int64_t batch,
                       mx_dtype dtype, const void *x, const void *w, const void *bias, void *y,
                       cudaStream_t stream);

/* The FP16 reference: the same block with dense weights of the dtype, up [up_n, hidden] and
 * down [hidden, intermediate] (the MXFP4 pointers of problem are ignored): mx_gemm_fp16,
 * mx_activation_apply, mx_gemm_fp16 (+ mx_activation_apply for the residual). */
mx_status mx_ffn_fp16_workspace_bytes(const mx_ffn_problem *problem, size_t *bytes);
mx_status mx_ffn_fp16(mx_gemm_context *context, const mx_ffn_problem *problem,
                      const void *up_weights, const void *down_weights, void *workspace,
                      size_t workspace_bytes, cudaStream_t stream);

/* The FP16 reference: the same block with the dense weights (qkv_weight, o_weight) through
 * mx_gemm_fp16 (cublasGemmEx), fused QKV, and the same core. */
mx_status mx_attention_fp16(mx_attention_context *context, const mx_attention_problem *problem,
                            void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* The workspace of mx_attention_fp16: Q/K/V and context buffers, the core's, and a residual
 * temporary (MX_OK, or a status naming the bad argument). */
mx_status mx_attention_fp16_workspace_bytes(const mx_attention_problem *problem, size_t *bytes);

/* Workspace of mx_moe_fp16 into *bytes (exactly what the call uses; gemm.h's convention). */
mx_status mx_moe_fp16_workspace_bytes(const mx_moe_problem *problem, size_t *bytes);

/* 1 when mx_moe_fp16 takes its device-count path for this problem (within the bounds
 * above: where mx_moe with auto takes its own), 0 for the host-count path, -1 when it would
 * refuse the shapes. */
int mx_moe_fp16_uses_device_counts(const mx_moe_problem *problem);

/* The FP16 reference: the same routing and combine, with dense expert weights w1
 * [experts, 2I, hidden] and w2 [experts, hidden, I] in dtype (16-byte aligned), cuBLAS only for
 * the weight products. The problem's MXFP4 pointers are not read.
 *   device-count path (the bounds above): the same device grouping into `tokens` padded rows
 *     per expert, then per projection ONE cublasGemmBatchedEx over min(experts, tokens x topk)
 *     experts (the experts with tokens first; pointer arrays written on the GPU), m = tokens
 *     each; b1 + gpt-oss SwiGLU in one kernel on the routed rows, b2 in the combine. No host
 *     round trip.
 *   host-count path (otherwise): per expert with tokens a cublasGemmEx pair (mx_gemm_fp16, its
 *     bias by beta = 1) with mx_activation_apply between; the counts go to the host first. */
mx_status mx_moe_fp16(mx_moe_context *context, const mx_moe_problem *problem, const void *w1,
                      const void *w2, void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* The FP16 reference on its host-count path at any size (to compare the two paths), and its
 * workspace in bytes. */
mx_status mx_moe_fp16_host_counts_workspace_bytes(const mx_moe_problem *problem, size_t *bytes);
mx_status mx_moe_fp16_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                                  const void *w1, const void *w2, void *workspace,
                                  size_t workspace_bytes, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
