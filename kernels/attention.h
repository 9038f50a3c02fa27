/* Attention block with MXFP4 weights (MHA or GQA, causal, prefill of whole sequences):
 *   qkv = x . W_qkv^T (+ b_qkv)              W_qkv rows: q_heads*D query, kv_heads*D key,
 * kv_heads*D value ctx = softmax(Q K^T / sqrt(D) + causal mask) V   per sequence and query head;
 * query head h reads kv head h / (q_heads / kv_heads) y   = ctx . W_o^T (+ b_o) (+ residual) The
 * projections are mx_gemm calls (gemm.h); the attention core (cuBLAS batched products and a
 * masked-softmax kernel, FP32 math, FP16/BF16 storage) is shared with the FP16 reference path,
 * mx_attention_fp16, so that the two differ only in the weights. docs/attention.md has details. */
#ifndef MX_ATTENTION_H
#define MX_ATTENTION_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "attention_types.h"
#include "format.h"
#include "gemm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    mx_attention_shape shape;
    const void *x; /* [tokens, hidden], 16-byte aligned */
    /* MXFP4 weights, prepared (mx_attention and the projection entry points; weights.h). The
     * separate Q/K/V projections read row slices of qkv, which must start on 16-row tiles:
     * q_heads * head_dim and kv_heads * head_dim multiples of 16. */
    mx_weights qkv; /* [(q_heads + 2 kv_heads) * head_dim, hidden] */
    mx_weights o;   /* [hidden, q_heads * head_dim] */
    /* The same weights dense in dtype (mx_attention_fp16 only; NULL otherwise). */
    const void *qkv_weight, *o_weight;
    const void *qkv_bias; /* [(q_heads + 2 kv_heads) * head_dim] or NULL */
    const void *o_bias;   /* [hidden] or NULL */
    const void *residual; /* [tokens, hidden] or NULL; may be y itself */
    void *y;              /* [tokens, hidden] */
} mx_attention_problem;

/* Where the core finds Q, K and V: element d of head h of token t is at
 * q + (t * q_stride + h * head_dim + d) elements (likewise k, v with kv heads). */
typedef struct {
    const void *q, *k, *v;                /* 16-byte aligned */
    int64_t q_stride, k_stride, v_stride; /* elements between tokens, multiples of 8 */
} mx_attention_qkv_view;

/* Owns an mx_gemm_context and a cuBLAS handle. One per thread. */
typedef struct mx_attention_context mx_attention_context;

mx_status mx_attention_context_create(mx_attention_context **context);
void mx_attention_context_destroy(mx_attention_context *context);

/* "fused_qkv", "separate_qkv". */
const char *mx_attention_qkv_mode_name(mx_attention_qkv_mode mode);

/* Checks the shape (every rule above; the message names the value): MX_OK or the status. */
mx_status mx_attention_check_shape(const mx_attention_shape *shape);

/* Workspaces, in bytes (each entry point needs a 256-byte aligned one of at least this size).
 * core:       pointer arrays, FP32 scores and FP16/BF16 probabilities of one step: 256 queries
 *             (or seq_len if fewer) of as many sequences as fit 1 GiB, at least one
 *             (q_heads * min(seq_len, 256) * seq_len * 6 bytes).
 * projection: the largest mx_gemm workspace of any projection entry point with this variant
 *             (the residual epilogue's temporary counted when problem->residual is set).
 * block:      Q/K/V and context buffers, then the larger of the core's and the projections'.
 * (mx_attention_fp16's: reference/fp16.h.) */
mx_status mx_attention_core_workspace_bytes(const mx_attention_shape *shape, size_t *bytes);
mx_status mx_attention_projection_workspace_bytes(mx_attention_context *context,
                                                  const mx_attention_problem *problem,
                                                  mx_gemm_variant variant, size_t *bytes);
mx_status mx_attention_workspace_bytes(mx_attention_context *context,
                                       const mx_attention_problem *problem,
                                       mx_attention_qkv_mode mode, mx_gemm_variant variant,
                                       size_t *bytes);

/* The view of a fused projection's output qkv [tokens, (q_heads + 2 kv_heads) * head_dim]. */
mx_attention_qkv_view mx_attention_fused_view(const mx_attention_shape *shape, const void *qkv);

/* Q/K/V projections with MXFP4 weights. fused: qkv [tokens, (q_heads + 2 kv_heads) * head_dim];
 * separate: q [tokens, q_heads * head_dim], k and v [tokens, kv_heads * head_dim]. Both add
 * qkv_bias when set. Read: x, qkv and qkv_bias. */
mx_status mx_attention_qkv_fused(mx_attention_context *context, const mx_attention_problem *problem,
                                 mx_gemm_variant variant, void *qkv, void *workspace,
                                 size_t workspace_bytes, cudaStream_t stream);
mx_status mx_attention_qkv_separate(mx_attention_context *context,
                                    const mx_attention_problem *problem, mx_gemm_variant variant,
                                    void *q, void *k, void *v, void *workspace,
                                    size_t workspace_bytes, cudaStream_t stream);

/* The attention core: out [tokens, q_heads * head_dim] (head h at columns h * head_dim). */
mx_status mx_attention_core(mx_attention_context *context, const mx_attention_shape *shape,
                            const mx_attention_qkv_view *qkv, void *out, void *workspace,
                            size_t workspace_bytes, cudaStream_t stream);

/* Output projection with MXFP4 weights: problem->y = attn . W_o^T (+ o_bias) (+ residual), attn
 * [tokens, q_heads * head_dim] (the core's out). */
mx_status mx_attention_output(mx_attention_context *context, const mx_attention_problem *problem,
                              mx_gemm_variant variant, const void *attn, void *workspace,
                              size_t workspace_bytes, cudaStream_t stream);

/* The whole block with MXFP4 weights: projections in the given mode, every projection with the
 * given mx_gemm variant, the core, the output projection. Every entry point taking a variant
 * accepts auto, fused, skinny and dequant_cublas (persistent needs weights prepared in a
 * workspace the block does not keep: MX_ERR_INVALID_ARGUMENT). */
mx_status mx_attention(mx_attention_context *context, const mx_attention_problem *problem,
                       mx_attention_qkv_mode mode, mx_gemm_variant variant, void *workspace,
                       size_t workspace_bytes, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
