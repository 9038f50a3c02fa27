/* MoE expert layer the way gpt-oss stores it: a dense router, top-k routing, and per expert an
 * MXFP4 MLP1 [2I, hidden] (interleaved gate/linear rows) with bias, the gpt-oss SwiGLU, and an
 * MXFP4 MLP2 [hidden, I] with bias; the outputs of a token's k experts are summed with its
 * routing weights. Also the same layer on dense FP16/BF16 expert weights (the FP16 reference).
 *
 * Per call: logits = x . W_router^T + b_router (FP32 accumulation, rounded once to the activation
 * dtype, as gpt-oss; up to MX_MOE_DEVICE_MAX_TOKENS tokens one kernel of the library computes
 * them and routes in the same launch, above cuBLAS does);
 * per token the k largest logits (descending, ties to the lower expert index; a NaN logit ranks
 * below every number), weights = softmax over those k logits (FP32). The (token, slot) pairs are
 * grouped by expert (stable: ascending token within an expert), each expert's tokens gathered
 * contiguously; per expert e with m_e > 0 tokens:
 *   h = swiglu_gptoss(x_e . W1_e^T + b1_e)   [m_e, I]       (dtype, mx_gemm with its epilogue)
 *   o = h . W2_e^T + b2_e                     [m_e, hidden]  (dtype, mx_gemm)
 * and y[t] = sum over t's slots in slot order of w * o (FP32) (+ residual[t]), rounded once.
 * Deterministic: the same inputs give bitwise the same output.
 *
 * Two ways to run the experts (mx_moe_uses_device_counts tells which a call takes):
 *   device-count path (decode): when the expert GEMMs run on fused or skinny (auto: tokens <= 64)
 *     and tokens <= MX_MOE_DEVICE_MAX_TOKENS, tokens x topk <= MX_MOE_DEVICE_MAX_PAIRS and
 *     experts x tokens <= MX_MOE_DEVICE_MAX_ROWS. One block groups the pairs on the GPU, each
 *     expert gets `tokens` padded rows, and each projection is ONE batched mx_gemm over all
 *     experts that reads the per-expert counts on the device (mx_gemm_problem.batch_rows):
 *     no host round trip, no wait on the calling thread.
 *   host-count path (everything else): the per-expert counts size the
 *     per-expert GEMMs on the host: the call copies them (experts x 4 bytes) to the host and
 *     waits for that copy (cudaEventSynchronize), so it blocks the calling thread until routing
 *     has finished on the GPU and cannot be captured in a CUDA graph. cuBLAS (dequant_cublas,
 *     the reference's per-expert GEMMs) takes host sizes only.
 * The FP16 reference (mx_moe_fp16) has the same two paths, chosen by the bounds alone. */
#ifndef MX_MOE_H
#define MX_MOE_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "gemm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MX_MOE_MAX_EXPERTS = 4096,
    /* Bounds of the device-count path: auto runs fused/skinny up to 64 tokens; the padded
     * buffers hold experts x tokens rows (x and o of hidden, h of I elements: 47 MB each at
     * 8192 rows and 2880); the grouping walks the pairs with one warp. */
    MX_MOE_DEVICE_MAX_TOKENS = 64,
    MX_MOE_DEVICE_MAX_PAIRS = 1024,
    MX_MOE_DEVICE_MAX_ROWS = 8192,
};

typedef struct {
    int64_t tokens;          /* > 0 */
    int64_t hidden;          /* > 0, a multiple of 32 */
    int64_t intermediate;    /* I > 0, a multiple of 32: MLP1 has 2I rows, MLP2 I columns */
    int64_t experts;         /* 1..MX_MOE_MAX_EXPERTS */
    int64_t topk;            /* 1..experts */
    mx_dtype dtype;          /* MX_F16 or MX_BF16: x, router, biases, residual, y */
    const void *x;           /* [tokens, hidden], 16-byte aligned */
    const void *router_w;    /* [experts, hidden] dense, 16-byte aligned */
    const void *router_bias; /* [experts] or NULL */
    mx_weights w1;           /* MXFP4 [experts, 2I, hidden], prepared (weights.h) */
    const void *b1;          /* [experts, 2I] or NULL */
    mx_weights w2;           /* MXFP4 [experts, hidden, I], prepared */
    const void *b2;          /* [experts, hidden] or NULL */
    const void *residual;    /* [tokens, hidden], 16-byte aligned, or NULL; may be y */
    void *y;                 /* [tokens, hidden], 16-byte aligned */
} mx_moe_problem;

/* Owns a GEMM context, a cuBLAS handle (router above 64 tokens, reference GEMMs), a pinned buffer
 * for the per-expert counts, an event and the router kernel's arrival counter (4 device bytes).
 * One per thread, one call in flight at a time (mx_moe_route included); creating one waits for
 * the device once (the counter is zeroed before any stream can launch). */
typedef struct mx_moe_context mx_moe_context;

mx_status mx_moe_context_create(mx_moe_context **context);
void mx_moe_context_destroy(mx_moe_context *context);

/* Routing alone (what mx_moe runs first), for tests and callers that want the choice:
 * logits [tokens, experts] (dtype), expert_ids [tokens, topk] (descending logit),
 * expert_weights [tokens, topk] (softmax over the selected logits). Reads tokens, hidden,
 * experts, topk, dtype, x, router_w and router_bias of problem only. */
mx_status mx_moe_route(mx_moe_context *context, const mx_moe_problem *problem, void *logits,
                       int32_t *expert_ids, float *expert_weights, cudaStream_t stream);

/* Workspace of mx_moe with this per-expert GEMM variant into *bytes (exactly what the call
 * uses): routing, grouping, the gathered tokens, h and o (one row per (token, slot) pair on the
 * host-count path, tokens rows per expert on the device-count path), and on the host-count path
 * the GEMM workspace of the largest possible expert call (m_e = tokens). Depends on the shapes,
 * dtype and variant only. MX_OK, or the status of the first bad one (gemm.h's convention). */
mx_status mx_moe_workspace_bytes(const mx_moe_context *context, const mx_moe_problem *problem,
                                 mx_gemm_variant variant, size_t *bytes);
/* Of that workspace, the part the expert GEMMs use (dequant_cublas: the dequantized weights of
 * the largest expert call; 0 where fused or skinny run), with the same checks. */
mx_status mx_moe_gemm_workspace_bytes(const mx_moe_context *context, const mx_moe_problem *problem,
                                      mx_gemm_variant variant, size_t *bytes);

/* 1 when mx_moe with this variant takes the device-count path for this problem, 0 when it takes
 * the host-count path, -1 when it would refuse the shapes or the variant. */
int mx_moe_uses_device_counts(const mx_moe_context *context, const mx_moe_problem *problem,
                              mx_gemm_variant variant);

/* The MXFP4 layer. variant: auto, fused, skinny or dequant_cublas for every expert GEMM
 * (persistent is refused: it would keep every expert dequantized). Checks every argument
 * before launching; workspace 256-byte aligned, at least mx_moe_workspace_bytes. */
mx_status mx_moe(mx_moe_context *context, const mx_moe_problem *problem, mx_gemm_variant variant,
                 void *workspace, size_t workspace_bytes, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
