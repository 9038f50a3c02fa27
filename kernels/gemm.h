/* MXFP4 GEMM family: Y[m, n] = X[m, k] . W[n, k]^T (+ bias[n]), X/bias/Y FP16 or BF16, W MXFP4
 * prepared for the kernels (weights.h: the OCP blocks and scales of docs/design.md §2 reordered
 * once by mx_weights_prepare, the same bytes), FP32 accumulation, row-major, device pointers. A
 * batch of independent problems is stored densely one after the other (X every m*k elements, W
 * every batch entry of the prepared weights, bias every n, Y every m*n).
 *
 * Variants (mx_gemm_variant_name gives the CLI/CSV names):
 *   skinny         the decode kernel, 8 or 16 tokens per CTA: every warp streams its own 16-row
 *                  tile of prepared weights through a private cp.async ring (no block-wide
 *                  barrier), dequantizes in registers and multiplies on tensor cores (mma.sync
 *                  m16n8k16, weights as A); persistent CTAs when the rows are many, K split over
 *                  a thread-block cluster (sm_90+) and reduced on chip when they are few. No
 *                  workspace. Any m is accepted (built for m <= 16).
 *   fused          for 17 <= m <= 256 and beyond, the block scale folded into the decoded
 *                  weights where that is exact (below). From MX_GEMM_WGMMA_MIN_M tokens on the
 *                  hopper path (arch.h), a warpgroup kernel (wgmma with the decoded weights as A
 *                  from registers, the activations staged in shared memory by a producer
 *                  warpgroup, with TMA at 256 tokens; 128 rows x 64, 128 or 256 tokens per CTA;
 *                  K split over a cluster when the tiles are fewer than the SMs;
 *                  gemm_wgmma.cuh); below, and on other GPUs,
 *                  skinny's kernel with 32 or 64 tokens per CTA, each weight byte read once per
 *                  64 tokens. The same numerics and epilogue; no workspace.
 *   dequant_cublas the Sprint 6 strategy: dequantize W to a temporary FP16/BF16 buffer (the
 *                  workspace: n*k*2 bytes per batch), then cublasGemmEx. The time includes both.
 *   persistent     W dequantized once by mx_gemm_persistent_prepare into a kept buffer (the
 *                  workspace), then cublasGemmEx: cuBLAS speed, none of the VRAM saving.
 *   auto           mx_gemm_choose picks the variant measured fastest for the problem: from the
 *                  context's dispatch table (mx_gemm_dispatch_source) when it has one for the
 *                  GPU, code path and dtype (fused or skinny only); else by the thresholds
 *                  measured on H200 and H100 (docs/gemm.md): skinny for m <= 16, fused up to
 *                  MX_GEMM_FUSED_MAX_M tokens (where fused runs the warpgroup kernel up to
 *                  MX_GEMM_WGMMA_AUTO_MAX_M, on larger weights up to more), dequant_cublas
 *                  above (so auto then needs dequant_cublas's workspace and has its FP16-weight
 *                  numerics, below).
 *
 * Numerics. fused and skinny multiply the exact E2M1 codes (scaled by 2^-14, exact in FP16 and
 * BF16) on tensor cores, sum each 32-element block in FP32, and apply the block scale 2^s in FP32:
 * the result is the FP32-accumulated product with the exactly dequantized weights for every
 * scale exponent s <= 113 (scale byte <= 240); above that the per-block factor 2^(s+14)
 * overflows FP32 and the row's outputs become Inf/NaN. There is no FP16 range limit on the
 * weights on these paths. In fused's kernels, a chunk of 8 blocks whose scales all keep
 * E2M1 * 2^s exact in the dtype (FP16: s in [-23, 1]; BF16: [-100, 1]; every ordinary weight)
 * is multiplied by 2^s in the dtype first, exactly, and the MMAs sum its products across
 * blocks in FP32: the same exact products, summed in another order. Other
 * chunks take the per-block path above. The warpgroup kernel of fused (the hopper path) folds
 * the short last chunk of K the same way when its scales allow.
 * dequant_cublas, persistent and the FP16 reference go through FP16 (or BF16) weights: with FP16,
 * weights overflow to Inf once E2M1 * 2^s > 65504 (s >= 14 for code magnitudes >= 4) and lose
 * precision below 2^-14 (flush to zero below 2^-25); those paths are exact only for s in [-23, 13].
 * A NaN scale (0xFF) makes exactly that row's outputs NaN on every path.
 *
 * Epilogue (activation, residual). fused and skinny apply bias, activation and residual in
 * registers to the FP32 sums (after the split-K reduction), with activation.cuh's functions, and
 * write y directly: no workspace, no FP16 rounding before the activation; any batch. The gated
 * units pair weight rows 2j (gate) and 2j + 1 (linear) and write n / 2 columns. dequant_cublas
 * and persistent (batch 1 only with an epilogue) write the product to an FP16/BF16 temporary in
 * the workspace (m * n * 2 bytes more, after the weights' part) and activation.h's kernel
 * applies bias, activation and residual from it, so their activation input is rounded to the
 * dtype first.
 *
 * Valid rows on the device (batch_rows; fused and skinny only). Batch entry b uses only its first
 * batch_rows[b] rows (clamped to 0..m) of x, y and residual: the others are never read nor
 * written. The counts are read by the kernel, so a caller whose sizes are known only on the GPU
 * (MoE expert groups) needs no host round trip: one launch covers every entry, a token tile
 * with no valid row does no work and loads no weight. The launch is sized by
 * batch_rows_total, an upper bound on the sum of the counts known on the host (0: unknown, then
 * batch * m is assumed); a sum above the bound leaves rows uncomputed. cuBLAS takes host sizes
 * only: dequant_cublas and persistent refuse batch_rows. */
#ifndef MX_GEMM_H
#define MX_GEMM_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "format.h"
#include "status.h"
#include "weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* auto's thresholds on m (measured on H200, docs/gemm.md). */
enum { MX_GEMM_SKINNY_MAX_M = 16, MX_GEMM_FUSED_MAX_M = 64 };
/* fused takes the warpgroup kernel from this many tokens on Hopper (64 tokens per CTA up to 64,
 * else 128): on an H100, side by side with the mma.sync kernel, it took 0.37-0.65x its time at
 * m = 96 on the six standard shapes and 0.72-0.90x at m = 64 on the three where both ran; at
 * m = 24..32 with 32 tokens per CTA 0.81-1.32x, so not there (docs/gemm.md). */
enum { MX_GEMM_WGMMA_MIN_M = 33 };
/* auto takes fused, when it runs the warpgroup kernel, up to a token count that grows with the
 * weight (n x k elements): up to 128 tokens on any weight, 512 from 12 M elements, 1024 from
 * 2^25: where fused took at most dequant_cublas's time on an H100; beyond 1024 tokens it is mostly
 * the slower. The figures, measured to 4096 tokens: docs/gemm.md, "Dispatch". */
enum {
    MX_GEMM_WGMMA_AUTO_MAX_M = 128,
    MX_GEMM_WGMMA_AUTO_MID_WEIGHTS = 12 << 20,
    MX_GEMM_WGMMA_AUTO_MID_MAX_M = 512,
    MX_GEMM_WGMMA_AUTO_LARGE_WEIGHTS = 1 << 25,
    MX_GEMM_WGMMA_AUTO_LARGE_MAX_M = 1024
};

/* Every variant, once, in mx_gemm_variant order: X(ID, name, runs_mxfp4, kept, summary).
 * runs_mxfp4: an MXFP4 kernel on the prepared weights (no FP16 copy of them, the epilogue in
 * registers; what auto may take from a table: mx_gemm_variant_runs_mxfp4 in dispatch.h). kept: the
 * weights dequantized once into a buffer kept per GEMM (mx_gemm_persistent_prepare), which the
 * blocks of GEMMs do not take; a call then runs cuBLAS alone; the kept variants come last.
 * summary: what it is, in a line. The enum, the names (gemm_names.c), both questions and the
 * harness's traits of each variant (harness/variants.c) derive from this list; gemm.cu launches
 * each variant. */
#define MX_GEMM_VARIANT_LIST(X)                                                                    \
    X(AUTO, "auto", false, false,                                                                  \
      "the GEMM variant mx_gemm_choose picks: from the GPU's dispatch table, else by m")           \
    X(FUSED, "fused", true, false,                                                                 \
      "tensor-core kernel on prepared MXFP4 weights: mma.sync with 32 or 64 tokens per CTA; on "   \
      "Hopper from 33 tokens wgmma with 64, 128 or 256")                                           \
    X(SKINNY, "skinny", true, false, "the decode kernel, 8 or 16 tokens per CTA")                  \
    X(DEQUANT_CUBLAS, "dequant_cublas", false, false,                                              \
      "dequantize to a temporary FP16 buffer (the workspace), then cublasGemmEx; both timed")      \
    X(PERSISTENT, "persistent", false, true,                                                       \
      "FP16 weights dequantized once at setup and kept, then cublasGemmEx")

#define MX_GEMM_VARIANT_ENUM(id, ...) MX_GEMM_##id,
typedef enum { MX_GEMM_VARIANT_LIST(MX_GEMM_VARIANT_ENUM) MX_GEMM_VARIANT_COUNT } mx_gemm_variant;
#undef MX_GEMM_VARIANT_ENUM

typedef struct {
    int64_t m, n, k;  /* k a multiple of 32; all > 0 */
    int64_t batch;    /* >= 1 independent problems, densely strided */
    mx_dtype dtype;   /* MX_F16 or MX_BF16 for x, bias and y */
    const void *x;    /* [batch, m, k], 16-byte aligned */
    mx_weights w;     /* [batch, n, k], prepared (weights.h: mx_weights_prepare) */
    const void *bias; /* [batch, n] or NULL */
    void *y;          /* [batch, m, out] (out = n, or n / 2 for a gated activation) */
    /* Epilogue (activation.h): y = activation(X . W^T + bias) (+ residual). Zero (MX_ACT_NONE,
     * NULL) for the plain product. batch > 1 on fused and skinny only. */
    mx_activation activation;
    const void *residual; /* [batch, m, out] or NULL; may be y itself */
    /* Optional (NULL: all m rows of every entry): [batch] valid rows per entry on the device,
     * 4-byte aligned; fused and skinny only (see above). */
    const int32_t *batch_rows;
    int64_t batch_rows_total; /* with batch_rows: >= the sum of its counts, or 0 (unknown) */
} mx_gemm_problem;

/* Owns a cuBLAS handle and the device's properties. One per thread (cuBLAS handles are). */
typedef struct mx_gemm_context mx_gemm_context;

mx_status mx_gemm_context_create(mx_gemm_context **context);
void mx_gemm_context_destroy(mx_gemm_context *context);

/* NULL-terminated names: of every variant in mx_gemm_variant order, and of those the blocks of
 * GEMMs (mx_ffn, mx_attention_block, mx_moe) accept, every variant but the kept ones (persistent:
 * its weights are kept per GEMM by mx_gemm_persistent_prepare). */
extern const char *const mx_gemm_variant_names[MX_GEMM_VARIANT_COUNT + 1];
extern const char *const mx_gemm_block_variant_names[];

/* The variant's entry of mx_gemm_variant_names ("unknown" out of range). */
const char *mx_gemm_variant_name(mx_gemm_variant variant);
/* The variant named name, or MX_ERR_INVALID_ARGUMENT naming it and listing the known ones. */
mx_status mx_gemm_variant_from_name(const char *name, mx_gemm_variant *variant);

/* Workspace the variant needs for this problem in this context (auto: for the variant the
 * context picks), in bytes, into *bytes (0 when none): dequant_cublas for the temporary
 * dequantized weights, persistent for the kept ones, both plus the epilogue's temporary when
 * there is an activation or residual; skinny and fused need none, epilogue or not. Every
 * workspace query of the library has this form: MX_OK, or the status of the first bad argument
 * (the context, sizes, dtype, activation, variant; not the data pointers, which the call itself
 * checks) with *bytes = 0. (Buffers a caller keeps, mx_weights_bytes and
 * mx_embedding_cache_bytes, are sized by plain functions of valid shapes.) */
mx_status mx_gemm_workspace_bytes(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                  mx_gemm_variant variant, size_t *bytes);

/* The variant auto runs for this problem (a NULL context: by the thresholds). */
mx_gemm_variant mx_gemm_choose(const mx_gemm_context *context, const mx_gemm_problem *problem);

/* What auto follows in this context, in words: a dispatch table measured by `mxbench tune` for
 * the context's GPU model and code path (built into the library from kernels/dispatch/, or the
 * file named by the environment variable MX_GEMM_DISPATCH when the context was created), or the
 * thresholds (MX_GEMM_DISPATCH=thresholds, or no table for this GPU). *refused (may be NULL):
 * whether a table was refused (unreadable, malformed, or measured on another GPU model or code
 * path); the text then says which and why, and auto uses the thresholds. docs/gemm.md,
 * "Dispatch". */
const char *mx_gemm_dispatch_source(const mx_gemm_context *context, bool *refused);
/* The word that text starts with when auto follows the thresholds; also the value of
 * MX_GEMM_DISPATCH that asks for them. */
#define MX_GEMM_DISPATCH_THRESHOLDS "thresholds"

/* Runs one variant. Checks everything before launching: shapes, dtype, NULL or misaligned
 * pointers, workspace size (MX_ERR_WORKSPACE names both numbers). */
mx_status mx_gemm(mx_gemm_context *context, const mx_gemm_problem *problem, mx_gemm_variant variant,
                  void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* Everything mx_gemm checks before launching (the same statuses and messages), launching
 * nothing: for callers that chain several GEMMs and must refuse before the first one runs. */
mx_status mx_gemm_check(const mx_gemm_context *context, const mx_gemm_problem *problem,
                        mx_gemm_variant variant, const void *workspace, size_t workspace_bytes);

/* persistent only: dequantizes the problem's W into workspace, once. */
mx_status mx_gemm_persistent_prepare(mx_gemm_context *context, const mx_gemm_problem *problem,
                                     void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* VRAM a variant holds for the weights of this problem: the FP16 weights it replaces, the MXFP4
 * weights (blocks + scales), the workspace, and savings = 1 - (mxfp4 + workspace) / fp16. */
typedef struct {
    int64_t weight_bytes_fp16;
    int64_t weight_bytes_mxfp4;
    int64_t workspace_bytes;
    double savings;
} mx_vram_report;

mx_vram_report mx_gemm_vram(const mx_gemm_context *context, const mx_gemm_problem *problem,
                            mx_gemm_variant variant);

/* Runs the variant `iterations` times inside one NVTX range named after the variant and shape
 * (so Nsight Systems shows it) and returns the mean time per call from CUDA events. */
mx_status mx_gemm_profile(mx_gemm_context *context, const mx_gemm_problem *problem,
                          mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                          int iterations, cudaStream_t stream, float *mean_us);

#ifdef __cplusplus
}
#endif

#endif
