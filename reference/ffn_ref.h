/* CPU FP64 reference of the feed-forward block of kernels/ffn.h, composed from the GEMM and
 * activation references: y = act(x . up^T + b_up) . down^T + b_down (+ residual). */
#ifndef MX_REFERENCE_FFN_H
#define MX_REFERENCE_FFN_H

#include <stdint.h>

#include "activation_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [m, hidden], up [up_n, hidden] (up_n = intermediate, or 2 x intermediate with interleaved
 * gate/linear rows for the gated units), down [hidden, intermediate], y [m, hidden]; up_bias
 * [up_n], down_bias [hidden] and residual [m, hidden] may be NULL. Returns 0, or -1 when out of
 * host memory (y untouched). */
int mx_ref_ffn_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                   const double *x, const double *up, const double *up_bias, const double *down,
                   const double *down_bias, const double *residual, double *y);

#ifdef __cplusplus
}
#endif

#endif
