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

#ifdef __cplusplus
}
#endif

#endif
