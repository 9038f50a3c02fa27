/* MXFP4 feed-forward block: y = act(x . up^T + b_up) . down^T + b_down (+ residual), x and y
 * [m, hidden] FP16/BF16, up MXFP4 [up_n, hidden] (up_n = intermediate for GELU, 2 x intermediate
 * for the gated units, gate/linear rows interleaved as gpt-oss MLP1), down MXFP4 [hidden,
 * intermediate]. Both products run through mx_gemm (gemm.h); the FP16 reference is the same
 * sequence on dense weights through cuBLAS. */
#ifndef MX_FFN_H
#define MX_FFN_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "format.h"
#include "gemm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where bias, activation and residual are applied.
 *   fused     in the GEMMs' epilogues (up: bias + activation, down: bias + residual): in
 *             registers for the fused/skinny kernels, through mx_gemm's temporary for the cuBLAS
 *             variants (gemm.h, Epilogue).
 *   separate  plain GEMMs and activation.h's kernel between them (up bias, activation) and after
 *             the down GEMM (down bias, residual): the unfused baseline. */
typedef enum { MX_FFN_FUSED = 0, MX_FFN_SEPARATE, MX_FFN_EPILOGUE_COUNT } mx_ffn_epilogue;

typedef struct {
    int64_t m;                /* tokens, > 0 */
    int64_t hidden;           /* a multiple of 32 */
    int64_t intermediate;     /* a multiple of 32 */
    mx_dtype dtype;           /* MX_F16 or MX_BF16 for x, biases, residual and y */
    mx_activation activation; /* MX_ACT_GELU, MX_ACT_SWIGLU or MX_ACT_SWIGLU_GPTOSS */
    const void *x;            /* [m, hidden], 16-byte aligned */
    mx_weights up;            /* [up_n, hidden], prepared (weights.h) */
    const void *up_bias;      /* [up_n] or NULL */
    mx_weights down;          /* [hidden, intermediate], prepared */
    const void *down_bias;    /* [hidden] or NULL */
    const void *residual;     /* [m, hidden] or NULL; may be x, not y */
    void *y;                  /* [m, hidden], not x */
} mx_ffn_problem;

/* "fused", "separate". */
const char *mx_ffn_epilogue_name(mx_ffn_epilogue mode);
/* Rows of the up weights: intermediate, or 2 x intermediate for the gated units. */
int64_t mx_ffn_up_rows(mx_activation activation, int64_t intermediate);

/* Workspace of mx_ffn into *bytes: the hidden activations [m, intermediate] (and the up
 * product [m, up_n] in separate mode), plus the larger of the two GEMMs' workspaces. MX_OK, or
 * the status of the first bad size, dtype, activation, variant or mode (gemm.h's convention). */
mx_status mx_ffn_workspace_bytes(const mx_gemm_context *context, const mx_ffn_problem *problem,
                                 mx_gemm_variant variant, mx_ffn_epilogue mode, size_t *bytes);

/* Runs the block with both GEMMs in the variant (auto: each GEMM chooses). Checks every argument
 * of both GEMMs before launching anything. */
mx_status mx_ffn(mx_gemm_context *context, const mx_ffn_problem *problem, mx_gemm_variant variant,
                 mx_ffn_epilogue mode, void *workspace, size_t workspace_bytes,
                 cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
