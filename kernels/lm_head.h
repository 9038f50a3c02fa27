/* LM head: logits [m, vocab] = x [m, hidden] . W_unembed [vocab, hidden]^T with the MXFP4 GEMM
 * (gemm.h, any variant), and sampling one token per row from logits.
 *
 * Sampling (mx_sample), per row, FP32 math:
 *   temperature == 0: greedy, the argmax of the logits (ties to the lowest index); top_k, top_p
 *     and the seed are ignored. probabilities (when asked) is then the one-hot row of that token.
 *   temperature > 0: p = softmax((logits - max) / temperature) over the whole vocabulary; that p,
 *     BEFORE any filtering, is what probabilities receives. Then, in the order p descending, ties
 *     to the lowest index: the candidates are the first top_k (all when top_k == 0), then the
 *     nucleus: the smallest prefix of them whose mass / (mass of the top_k) >= top_p (all of them
 *     when top_p == 1; without top-k, the mass of the row). A uniform u is drawn with cuRAND
 *     Philox (curand_init(seed, subsequence = row, offset)) and the token is the first candidate
 *     whose cumulative mass reaches u * (nucleus mass): the inverse CDF of the renormalized
 *     nucleus. Without any filtering (top_k 0 or vocab, top_p 1) that inverse CDF runs in
 *     vocabulary order instead (the same distribution, no sort). The same seed and offset give
 *     the same tokens; advance offset by one per step for a new draw.
 * NaN logits give unspecified tokens. Limits: m * vocab < 2^31; the workspace is about 16 bytes
 * per logit (two buffers of 64-bit sort keys) plus small per-row parts and CUB's temporary. */
#ifndef MX_LM_HEAD_H
#define MX_LM_HEAD_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "gemm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float temperature; /* >= 0; 0 = greedy argmax */
    int64_t top_k;     /* 0 = off, else 1..vocab */
    float top_p;       /* (0, 1]; 1 = off */
    uint64_t seed;     /* Philox seed */
    uint64_t offset;   /* Philox offset: a step counter so that successive calls differ */
} mx_sampling_params;

/* Workspace mx_sample needs for [m, vocab] logits into *bytes (the same for every parameter
 * set). MX_OK, or the status naming a bad m or vocab (gemm.h's convention). */
mx_status mx_sample_workspace_bytes(int64_t m, int64_t vocab, size_t *bytes);

/* logits [m, vocab] of logits_dtype (MX_F32, MX_F16 or MX_BF16) -> tokens int32 [m], and when
 * probabilities is not NULL, float [m, vocab] as described above. Parameters and sizes are
 * checked before anything is launched; MX_ERR_WORKSPACE when workspace_bytes is too small. The
 * workspace (256-byte aligned, as cudaMalloc gives) is unused, and may be NULL, when
 * temperature == 0. */
mx_status mx_sample(const void *logits, mx_dtype logits_dtype, int64_t m, int64_t vocab,
                    const mx_sampling_params *params, int32_t *tokens, float *probabilities,
                    void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* The whole LM head step: the logits with mx_gemm (problem: m, n = vocab, k = hidden, batch 1,
 * x, the unembedding W, y = the logits buffer; no bias/epilogue needed), then mx_sample on them.
 * The workspace holds the GEMM variant's and the sampler's: mx_lm_head_workspace_bytes. */
mx_status mx_lm_head_workspace_bytes(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                     mx_gemm_variant variant, size_t *bytes);
mx_status mx_lm_head(mx_gemm_context *context, const mx_gemm_problem *problem,
                     mx_gemm_variant variant, const mx_sampling_params *params, int32_t *tokens,
                     float *probabilities, void *workspace, size_t workspace_bytes,
                     cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
