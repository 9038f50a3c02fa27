/* Elementwise epilogues of the weight products: bias, activation, residual add. The same
 * functions run fused in the MXFP4 GEMM epilogue (gemm.h: mx_gemm_problem.activation/.residual)
 * and as the separate kernel below, which the FP16 reference paths and the unfused variants use.
 *
 *   y[i, j] = act(x[i, :] + bias)[j] (+ residual[i, j])
 *
 * MX_ACT_NONE and MX_ACT_GELU keep the width n. The two gated units read their input as
 * interleaved pairs (gate at column 2j, linear at 2j+1, as gpt-oss stores MLP1) and write n/2:
 *   MX_ACT_SWIGLU        silu(gate) * linear                                (llama-style)
 *   MX_ACT_SWIGLU_GPTOSS g = min(gate, 7), l = clamp(linear, -7, 7):
 *                        g * sigmoid(1.702 g) * (l + 1)                     (gpt-oss)
 * GELU is the exact erf form, 0.5 x (1 + erf(x / sqrt 2)). Arithmetic in FP32; the bias is added
 * before the activation, the residual after it. */
#ifndef MX_ACTIVATION_H
#define MX_ACTIVATION_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "activation_types.h"
#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x [m, n] -> y [m, out_width] as above, dtype MX_F16 or MX_BF16 for x, bias [n], residual
 * [m, out_width] and y. bias and residual may be NULL; residual may be y itself (in place), x
 * may be y for the ungated activations. n must be even for the gated units. */
mx_status mx_activation_apply(int64_t m, int64_t n, mx_dtype dtype, mx_activation activation,
                              const void *x, const void *bias, const void *residual, void *y,
                              cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
