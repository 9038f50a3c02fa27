/* CPU FP64 reference of the feed-forward block of kernels/ffn.h, composed from the GEMM and
 * activation references: y = act(x . up^T + b_up) . down^T + b_down (+ residual). */
#ifndef MX_REFERENCE_FFN_H
#define MX_REFERENCE_FFN_H

#include <stdint.h>

#include "activation_types.h"
#include "gemm_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [m, hidden], up [up_n, hidden] (up_n = intermediate, or 2 x intermediate with interleaved
 * gate/linear rows for the gated units), down [hidden, intermediate], y [m, hidden]; up_bias
 * [up_n], down_bias [hidden] and residual [m, hidden] may be NULL. The two products run through
 * product (gemm_ref.h; NULL: the CPU's), the activation on the CPU. Returns 0, or -1 when out of
 * host memory or the product failed (y then holds nothing usable). */
int mx_ref_ffn_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                   const double *x, const double *up, const double *up_bias, const double *down,
                   const double *down_bias, const double *residual, const mx_ref_product *product,
                   double *y);

/* The rounding a kernel's block may do, for mx_ref_ffn_bound_f64: the dtype's unit roundoff u and
 * half its smallest subnormal eta (it rounds the up product, the activation and y to it), the
 * factor c and gamma_K of FP32 sums over hidden (up) and intermediate (down) terms, as the
 * element-wise bound of one product has them (harness/elementwise.h). */
typedef struct {
    double unit, underflow, factor, gamma_up, gamma_down;
} mx_ref_ffn_rounding;

/* The relative error allowed an FP32 evaluation of the exp-based functions (the activations,
 * the softmax): 2^-16, 256 units in the last place (CUDA's __expf is within 2 + 1.16 |x| of them,
 * |x| below about 100 where the result matters). */
#define MX_REF_FP32_EVALUATION 0x1p-16

/* The element-wise bound of the block's output (docs/design.md §4) in the form of one product's,
 * c (u |e| + eta + gamma_down m + eta s) over the down product, with what the steps before may
 * have moved its inputs carried in m and s. Each up output z (bias included) may be off by
 * dz = c (gamma_up sum|x||w| + eta + eta sum|x|) + u (|z| + |b|) + eta (FP32 sums; stored in the
 * dtype when the activation runs apart); the activation moves by at most its spread of dz
 * (mx_ref_activation_spread_f64) plus (u + MX_REF_FP32_EVALUATION) |h| + eta (FP32 evaluation,
 * rounding to the dtype); then m = sum_j (|h_j| + dh_j + dh_j / (c gamma_down)) |down_ij| and s =
 * sum_j (|h_j| + dh_j), so that c gamma_down m is the down sums' own error (on |h| + dh) plus sum_j
 * dh_j |down_ij|. magnitude [m, hidden], row_sums [m]. The products (values and magnitudes) run
 * through product (NULL: the CPU's). Returns 0, or -1 when out of host memory or the product
 * failed (the outputs then hold nothing usable). */
int mx_ref_ffn_bound_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                         const double *x, const double *up, const double *up_bias,
                         const double *down, const mx_ref_ffn_rounding *rounding,
                         const mx_ref_product *product, double *magnitude, double *row_sums);

#ifdef __cplusplus
}
#endif

#endif
