/* CPU FP64 reference of the MoE layer in kernels/moe.h, written from the gpt-oss definition:
 * routing (top-k of the router logits, softmax over the k picked) and, given a routing, the
 * expert MLPs (MLP1 + bias, gpt-oss SwiGLU, MLP2 + bias) and the weighted combine. */
#ifndef MX_REFERENCE_MOE_H
#define MX_REFERENCE_MOE_H

#include <stdint.h>

#include "ffn_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* logits [tokens, experts] -> expert_ids [tokens, topk] in descending logit order (equal logits
 * by the lower index; NaN ranks below every number) and expert_weights [tokens, topk] = softmax
 * over the picked logits. */
void mx_ref_moe_topk_f64(int64_t tokens, int64_t experts, int64_t topk, const double *logits,
                         int32_t *expert_ids, double *expert_weights);

/* logits = x [tokens, hidden] . router_w [experts, hidden]^T (+ router_bias [experts] when not
 * NULL), then mx_ref_moe_topk_f64. */
void mx_ref_moe_route_f64(int64_t tokens, int64_t hidden, int64_t experts, int64_t topk,
                          const double *x, const double *router_w, const double *router_bias,
                          double *logits, int32_t *expert_ids, double *expert_weights);

/* Rounds an intermediate to the storage format of a path under test (e.g. to BF16), or NULL for
 * none: lets a test measure the error that storing the intermediates and y in the activation
 * dtype forces. */
typedef double (*mx_ref_store_fn)(double value);

/* y [tokens, hidden] = sum over slot s of expert_weights[t, s] * o_e(x[t]) (+ residual[t] when
 * not NULL), e = expert_ids[t, s], where
 *   o_e(x) = W2_e . swiglu_gptoss(W1_e . x + b1_e) + b2_e
 * with w1 [experts, 2I, hidden] (interleaved gate/linear rows), b1 [experts, 2I], w2 [experts,
 * hidden, I], b2 [experts, hidden] (biases may be NULL). The weights are FP32 (every dequantized
 * MXFP4 weight is an FP32 value); all arithmetic is FP64. store (when not NULL) is applied to
 * every element of the MLP1 product (before bias and SwiGLU: mx_gemm's epilogue keeps it in the
 * dtype), h, o and y as they are formed. */
void mx_ref_moe_experts_f64(int64_t tokens, int64_t hidden, int64_t intermediate, int64_t topk,
                            const double *x, const float *w1, const double *b1, const float *w2,
                            const double *b2, const int32_t *expert_ids,
                            const double *expert_weights, const double *residual,
                            mx_ref_store_fn store, double *y);

/* The element-wise bound of mx_ref_moe_experts_f64's y (no store, no residual: the harness's
 * layer) in the form of one product's over K = intermediate (docs/design.md §4): each slot's
 * expert block is bounded as an FFN block's (mx_ref_ffn_bound_f64, its o rounded to the dtype
 * too), and the combine's weights carry those bounds into the token's: magnitude[t, c] = sum_s
 * w_s (m_s[c] + (u |o_s[c]| + eta) / (c gamma_down)), row_sums[t] = sum_s w_s s_s. experts: how
 * many experts w1, w2, b1 and b2 hold. The experts' blocks run through mx_ref_ffn_f64 and
 * mx_ref_ffn_bound_f64 with product (NULL: the CPU's products), one expert at a time; y (when not
 * NULL) gets the layer's output from those blocks, sum_s w_s o_s (no residual): the value of
 * mx_ref_moe_experts_f64 without store, up to the order of FP64 sums. Every term is added to y,
 * magnitude and row_sums, which the caller zeroes first, and a slot whose expert id is not in
 * 0..experts-1 is left out: so the experts can be taken a group at a time (the harness does, to
 * hold only a group's weights on the host). Returns 0, or -1 when out of host memory or a product
 * failed. */
int mx_ref_moe_bound_f64(int64_t tokens, int64_t hidden, int64_t intermediate, int64_t topk,
                         int64_t experts, const double *x, const float *w1, const double *b1,
                         const float *w2, const double *b2, const int32_t *expert_ids,
                         const double *expert_weights, const mx_ref_ffn_rounding *rounding,
                         const mx_ref_product *product, double *y, double *magnitude,
                         double *row_sums);

#ifdef __cplusplus
}
#endif

#endif
