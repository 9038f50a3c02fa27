/* CPU FP64 reference of the epilogues in kernels/activation.h (bias, GELU, the gated units with
 * interleaved gate/linear columns, residual add), written from the formulas, not from the CUDA
 * code. */
#ifndef MX_REFERENCE_ACTIVATION_H
#define MX_REFERENCE_ACTIVATION_H

#include <stdint.h>

#include "activation_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [m, n] -> y [m, mx_activation_out_width(activation, n)]; bias [n] and residual [m, out]
 * may be NULL. */
void mx_ref_activation_f64(int64_t m, int64_t n, mx_activation activation, const double *x,
                           const double *bias, const double *residual, double *y);

/* How far the activation can move its outputs when each input x + bias is off by at most dx
 * [m, n]: dy [m, out] bounds |act(z') - act(z)| over every |z' - z| <= dx, from the functions'
 * Lipschitz constants (the largest |slope| over the whole line): GELU 1.13 (1.129), the gate
 * g sigmoid(a g) 1.1 (1.0998 for any a > 0), the clamps and `none` 1, and for a gated unit g l
 * (gate, linear) |dg| (|l| + |dl|) + |g| |dl|. */
void mx_ref_activation_spread_f64(int64_t m, int64_t n, mx_activation activation, const double *x,
                                  const double *bias, const double *dx, double *dy);

#ifdef __cplusplus
}
#endif

#endif
