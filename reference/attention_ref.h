/* CPU FP64 reference of the attention block in kernels/attention.h (causal MHA/GQA softmax
 * attention between two projections), written from the formulas, not from the CUDA code: the exact
 * answer the suites judge the GPU paths against. The harness runs the core's formulas on the GPU
 * for rows of any size (harness/attention_f64.h, checked against these). */
#ifndef MX_REFERENCE_ATTENTION_H
#define MX_REFERENCE_ATTENTION_H

#include <stdint.h>

#include "attention_types.h"
#include "ffn_ref.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out [tokens, q_heads * head_dim] = causal softmax(Q K^T / sqrt(head_dim)) V per sequence and
 * query head (kv head h / (q_heads / kv_heads)); element d of head h of token t is at
 * q[t * q_stride + h * head_dim + d] (likewise k, v with kv heads). shape->dtype is not read.
 * MX_ERR_OUT_OF_MEMORY when the host scratch cannot be allocated. */
mx_status mx_ref_attention_core_f64(const mx_attention_shape *shape, const double *q,
                                    int64_t q_stride, const double *k, int64_t k_stride,
                                    const double *v, int64_t v_stride, double *out);

/* How far the core's output may be from mx_ref_attention_core_f64's when q, k and v may each be
 * off by dq, dk, dv (element for element, the same layout) and the core computes as the
 * kernels do (docs/attention.md): FP32 scores, an FP32 softmax, probabilities rounded to the
 * dtype, P V summed in FP32, ctx rounded to the dtype. Per query row: each score may move by
 * d_j = scale sum_d (dq |k| + |q| dk + dq dk) + c (gamma_dim scale sum|q||k| + 2^-24 |s_j|);
 * with D the largest d_j of the row every probability stays within p e^(+-2D), so
 * dp_j = p_j (e^(2D) - 1 + c gamma_keys + MX_REF_FP32_EVALUATION + u) + eta; then dctx = sum_j
 * (dp_j (|v| + dv) + p_j dv) + c gamma_keys sum_j (p_j + dp_j)(|v| + dv) + u |ctx| + eta. rounding:
 * u, eta and c (unit, underflow, factor), gamma_up for sums over head_dim terms, gamma_down over
 * seq_len (every row's key count at most). dctx [tokens, q_heads * head_dim]. MX_ERR_OUT_OF_MEMORY
 * when the host scratch cannot be allocated. */
mx_status mx_ref_attention_core_bound_f64(const mx_attention_shape *shape, const double *q,
                                          const double *dq, int64_t q_stride, const double *k,
                                          const double *dk, int64_t k_stride, const double *v,
                                          const double *dv, int64_t v_stride,
                                          const mx_ref_ffn_rounding *rounding, double *dctx);

/* The element-wise bound of the whole block's y in the form of one product's over the output
 * projection (docs/design.md §4), for the parts the host computes, in three steps:
 *   1. mx_ref_attention_qkv_allowance_f64: from qkv (exact), its magnitudes qkv_size = |x| .
 *      |w_qkv|^T and x_sums[t] = sum |x| over token t's row, each Q/K/V value may be off by
 *      dqkv = c (gamma_up qkv_size + eta + eta x_sums) + u |qkv| + eta (projections: gamma_up over
 *      hidden terms); dqkv [tokens, rows] may be qkv_size itself.
 *   2. the core carries dqkv to each ctx value's allowance a (mx_ref_attention_core_bound_f64
 *      with the core's rounding; q, k, v at columns 0, q_width, q_width + kv_width of qkv);
 *   3. mx_ref_attention_terms_f64: terms [tokens, q_heads * head_dim], a in and out, becomes
 *      |ctx| + a + a / (c gamma_down) (projections' gamma_down: over q_heads * head_dim terms),
 *      row_sums[t] = sum (|ctx| + a): the magnitude is then terms . |w_o|^T, as
 *      mx_ref_ffn_bound_f64 makes it for h. */
void mx_ref_attention_qkv_allowance_f64(const mx_attention_shape *shape, const double *qkv,
                                        const double *qkv_size, const double *x_sums,
                                        const mx_ref_ffn_rounding *projections, double *dqkv);

void mx_ref_attention_terms_f64(const mx_attention_shape *shape, const double *ctx,
                                const mx_ref_ffn_rounding *projections, double *terms,
                                double *row_sums);

/* The whole block: qkv = x . w_qkv^T (+ qkv_bias), the core on it, y = ctx . w_o^T (+ o_bias)
 * (+ residual). x [tokens, hidden], w_qkv [(q_heads + 2 kv_heads) * head_dim, hidden], w_o
 * [hidden, q_heads * head_dim], residual and y [tokens, hidden]; biases and residual may be
 * NULL. */
mx_status mx_ref_attention_f64(const mx_attention_shape *shape, const double *x,
                               const double *w_qkv, const double *qkv_bias, const double *w_o,
                               const double *o_bias, const double *residual, double *y);

#ifdef __cplusplus
}
#endif

#endif
