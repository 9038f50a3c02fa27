/* MoE expert layer (see moe.h): router GEMM (cuBLAS), a warp-per-token top-k + softmax kernel,
 * then either (host counts) grouping by CUB (histogram of expert ids, stable radix sort of the
 * (token, slot) pairs by expert), a gather of each expert's tokens and one mx_gemm pair per
 * expert with tokens, or (device counts, decode) a one-block grouping kernel, a gather into
 * padded per-expert rows and two batched mx_gemm calls with device-side row counts (for the FP16
 * reference: two cublasGemmBatchedEx calls over pointer arrays the grouping kernel writes, with
 * a SwiGLU kernel between them); then a combine kernel. The expert GEMMs are the MXFP4 GEMM family
 * (gemm.h); everything else is memory bound and small next to the expert weights. Figures:
 * docs/moe.md (`mxbench run`, op moe). */
#include <cub/cub.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.cuh"
#include "check.h"
#include "dense_gemm.h"
#include "fp16.h"
#include "moe.h"

struct mx_moe_context {
    mx_gemm_context *gemm;
    cublasHandle_t cublas;
    int32_t *counts_host;     /* pinned [MX_MOE_MAX_EXPERTS]: tokens per expert of the last call */
    cudaEvent_t counts_ready; /* recorded after the counts' copy to the host */
};

enum { MX_TOPK_WARPS = 8 }; /* tokens per block of the top-k kernel, one warp each */

// ---- kernels

/* NaN ranks below every number (and no comparison with it is ever true), so it maps to -Inf. */
__device__ __forceinline__ float mx_rank_key(float logit) {
    return logit != logit ? -INFINITY : logit;
}

/* The routing order: a larger logit first, equal logits by the lower expert index. A strict total
 * order on distinct indices, so the warp's butterfly reduction gives every lane the same pick. */
__device__ __forceinline__ bool mx_ranks_before(float a, int a_index, float b, int b_index) {
    return a > b || (a == b && a_index < b_index);
}

/* One warp per token: k passes, each picks the first expert (in routing order) that ranks after
 * the previous pick, so no set of chosen experts is kept; then the softmax over the k picked
 * logits in FP32. pair_ids (when not NULL) gets t * topk + slot, the values the grouping sorts. */
template <typename T>
static __global__ void mx_moe_topk_kernel(const T *logits, int64_t tokens, int experts, int topk,
                                          int32_t *expert_ids, float *expert_weights,
                                          int32_t *pair_ids) {
    const int lane = threadIdx.x & 31;
    const int64_t token = (int64_t)blockIdx.x * MX_TOPK_WARPS + threadIdx.x / 32;
    if (token >= tokens) return; /* the whole warp: token is the same for its 32 lanes */
    const T *row = logits + token * experts;
    int32_t *ids = expert_ids + token * topk;
    float previous = INFINITY, largest = 0.0f;
    int previous_index = -1; /* (+Inf, -1) ranks before every logit: the first pass sees all */
    for (int slot = 0; slot < topk; slot++) {
        /* (-Inf, experts) ranks after every real expert; k <= experts, so a real one is found. */
        float best = -INFINITY;
        int best_index = experts;
        for (int e = lane; e < experts; e += 32) {
            float key = mx_rank_key((float)row[e]);
            if (mx_ranks_before(previous, previous_index, key, e) &&
                mx_ranks_before(key, e, best, best_index)) {
                best = key;
                best_index = e;
            }
        }
        for (int offset = 16; offset > 0; offset >>= 1) {
            float other = __shfl_xor_sync(0xFFFFFFFFu, best, offset);
            int other_index = __shfl_xor_sync(0xFFFFFFFFu, best_index, offset);
            if (mx_ranks_before(other, other_index, best, best_index)) {
                best = other;
                best_index = other_index;
            }
        }
        if (lane == 0) ids[slot] = best_index;
        if (slot == 0) largest = best;
        previous = best;
        previous_index = best_index;
    }
    __syncwarp(); /* lane 0's ids are visible to the warp from here */
    /* Softmax over the picked raw logits (a NaN one makes the token's weights NaN). */
    float sum = 0.0f;
    for (int slot = lane; slot < topk; slot += 32) sum += expf((float)row[ids[slot]] - largest);
    for (int offset = 16; offset > 0; offset >>= 1)
        sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset); /* a + b == b + a: all lanes agree */
    for (int slot = lane; slot < topk; slot += 32) {
        expert_weights[token * topk + slot] = expf((float)row[ids[slot]] - largest) / sum;
        if (pair_ids) pair_ids[token * topk + slot] = (int32_t)(token * topk + slot);
    }
}

/* The FP16 reference's device-count path: cublasGemmBatchedEx operands of both projections,
 * one batch entry (slot) per expert in the padded [experts, tokens, ...] layout. Byte bases and
 * per-expert byte strides; pointers holds [6][batch]: MLP1's A (w1_e), B (x rows of e), C (the
 * product rows of e), then MLP2's A (w2_e), B (h rows of e), C (o rows of e). */
typedef struct {
    void **pointers; /* NULL: the MXFP4 path, nothing to build */
    const char *w1, *w2;
    char *x, *product, *h, *o;
    int64_t w1_stride, w2_stride, x_stride, product_stride, h_stride, o_stride;
    int batch; /* min(experts, pairs): at least the number of experts with tokens */
} mx_moe_dense_batch;

/* Warp 0 after the counts (taken) are final: the experts with tokens take slots 0.. in
 * ascending expert order, the idle ones the rest, and slots below batch get their operands, so
 * every expert with tokens has a slot and no two slots write the same rows (an idle expert's
 * slot computes its padded rows, which nothing reads). */
static __device__ void mx_moe_dense_batch_pointers(const int32_t *taken, int experts,
                                                   const mx_moe_dense_batch &batch) {
    const int lane = threadIdx.x;
    const unsigned below = (1u << lane) - 1u;
    int used_total = 0;
    for (int base = 0; base < experts; base += 32) {
        const int e = base + lane;
        used_total += __popc(__ballot_sync(0xFFFFFFFFu, e < experts && taken[e] > 0));
    }
    int used_before = 0, idle_before = 0;
    for (int base = 0; base < experts; base += 32) {
        const int e = base + lane;
        const bool valid = e < experts, used = valid && taken[e] > 0;
        const unsigned used_mask = __ballot_sync(0xFFFFFFFFu, used);
        const unsigned idle_mask = __ballot_sync(0xFFFFFFFFu, valid && !used);
        const int slot = used ? used_before + __popc(used_mask & below)
                              : used_total + idle_before + __popc(idle_mask & below);
        if (valid && slot < batch.batch) {
            void **p = batch.pointers;
            const int n = batch.batch;
            p[0 * n + slot] = (void *)(batch.w1 + e * batch.w1_stride);
            p[1 * n + slot] = batch.x + e * batch.x_stride;
            p[2 * n + slot] = batch.product + e * batch.product_stride;
            p[3 * n + slot] = (void *)(batch.w2 + e * batch.w2_stride);
            p[4 * n + slot] = batch.h + e * batch.h_stride;
            p[5 * n + slot] = batch.o + e * batch.o_stride;
        }
        used_before += __popc(used_mask);
        idle_before += __popc(idle_mask);
    }
}

/* Device-count path, one block: the padded row of every (token, slot) pair, expert * tokens +
 * its rank among the expert's pairs in (token, slot) order (a token picks an expert at most
 * once, so the rank is below tokens), into slot_position; and the tokens per expert into
 * counts. One warp walks the pairs 32 at a time (ranks by __match_any_sync), so the order is
 * fixed; ids come from the top-k kernel, always in 0..experts-1. With batch.pointers set
 * (FP16 reference), also the batched cuBLAS operands (mx_moe_dense_batch_pointers). */
static __global__ void mx_moe_group_kernel(const int32_t *expert_ids, int pairs, int experts,
                                           int tokens, int32_t *counts, int32_t *slot_position,
                                           mx_moe_dense_batch batch) {
    __shared__ int32_t taken[MX_MOE_MAX_EXPERTS]; /* pairs placed so far, per expert */
    for (int e = threadIdx.x; e < experts; e += blockDim.x) taken[e] = 0;
    __syncthreads();
    if (threadIdx.x < 32) {
        const int lane = threadIdx.x;
        for (int base = 0; base < pairs; base += 32) {
            const int pair = base + lane;
            const int expert = pair < pairs ? expert_ids[pair] : -1;
            const unsigned peers = __match_any_sync(0xFFFFFFFFu, expert);
            const int before = __popc(peers & ((1u << lane) - 1u)); /* same expert, lower lane */
            if (expert >= 0) slot_position[pair] = expert * tokens + taken[expert] + before;
            __syncwarp(); /* every peer has read taken[expert] before the first one adds */
            if (expert >= 0 && before == 0) taken[expert] += __popc(peers);
            __syncwarp();
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < experts; e += blockDim.x) counts[e] = taken[e];
    if (batch.pointers && threadIdx.x < 32) mx_moe_dense_batch_pointers(taken, experts, batch);
}

/* Copies token rows of x into the grouped buffer, 16 bytes per thread. With order (host-count
 * path): row i of x_grouped is pair order[i] = t * topk + slot, and slot_position[pair] = i is
 * recorded for the combine. Without (device-count path): pair i goes to the row
 * slot_position[i] that the group kernel chose. */
static __global__ void mx_moe_gather_kernel(const uint4 *x, const int32_t *order, int64_t pairs,
                                            int topk, int64_t row_chunks, int32_t *slot_position,
                                            uint4 *x_grouped) {
    const int64_t total = pairs * row_chunks, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const int64_t index = i / row_chunks, chunk = i % row_chunks;
        int64_t pair = index, row = index;
        if (order) {
            pair = order[index];
            if (chunk == 0) slot_position[pair] = (int32_t)index;
        } else {
            row = slot_position[index];
        }
        x_grouped[row * row_chunks + chunk] = x[pair / topk * row_chunks + chunk];
    }
}

/* The FP16 reference's device-count path, between its two batched GEMMs: h = the gpt-oss SwiGLU
 * of (MLP1 product + b1 of the pair's expert), in FP32 as mx_activation_apply (the same
 * mx_glu), on the routed pairs' rows only (slot_position), not on the padded ones: the bias
 * costs no pass of its own, as in the MXFP4 GEMM's epilogue. 4 outputs (8 inputs, 16 bytes)
 * per thread; the bias is read per element (b1 is only 2-byte aligned). */
template <typename T>
static __global__ void mx_moe_swiglu_kernel(const T *product, const int32_t *slot_position,
                                            const int32_t *expert_ids, int64_t pairs,
                                            int64_t intermediate, const T *b1, T *h) {
    const int64_t chunks = intermediate / 4, total = pairs * chunks;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const int64_t pair = i / chunks, column = (i % chunks) * 4; /* of h; product: 2 column */
        const int64_t row = slot_position[pair];
        const uint4 packed = *(const uint4 *)(product + row * 2 * intermediate + 2 * column);
        const T *in = (const T *)&packed;
        const T *bias = b1 ? b1 + expert_ids[pair] * 2 * intermediate + 2 * column : NULL;
        uint2 result;
        T *out = (T *)&result;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float gate = (float)in[2 * j], linear = (float)in[2 * j + 1];
            if (bias) {
                gate += (float)bias[2 * j];
                linear += (float)bias[2 * j + 1];
            }
            out[j] = (T)mx_glu(MX_ACT_SWIGLU_GPTOSS, gate, linear);
        }
        *(uint2 *)(h + row * intermediate + column) = result;
    }
}

/* y[t, c..c+7] = sum over t's slots, in slot order, of weight * o[row of the slot, c..c+7] in
 * FP32 (+ residual), rounded once. 8 columns (16 bytes) per thread; residual may be y. With b2
 * (the FP16 reference's device-count path, whose batched GEMM has no bias), each slot's o gets
 * b2 of its expert (expert_ids) added in FP32 first, read per element (2-byte aligned). */
template <typename T>
static __global__ void mx_moe_combine_kernel(const T *o, const int32_t *slot_position,
                                             const float *weights, int64_t tokens, int64_t hidden,
                                             int topk, const T *b2, const int32_t *expert_ids,
                                             const T *residual, T *y) {
    const int64_t chunks = hidden / 8, total = tokens * chunks;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const int64_t token = i / chunks, column = (i % chunks) * 8;
        float sum[8] = {};
        for (int slot = 0; slot < topk; slot++) {
            const int64_t pair = token * topk + slot;
            const float weight = weights[pair];
            uint4 packed = *(const uint4 *)(o + slot_position[pair] * hidden + column);
            const T *values = (const T *)&packed;
            const T *bias = b2 ? b2 + expert_ids[pair] * hidden + column : NULL;
#pragma unroll
            for (int j = 0; j < 8; j++)
                sum[j] = fmaf(weight, (float)values[j] + (bias ? (float)bias[j] : 0.0f), sum[j]);
        }
        if (residual) {
            uint4 packed = *(const uint4 *)(residual + token * hidden + column);
            const T *values = (const T *)&packed;
#pragma unroll
            for (int j = 0; j < 8; j++) sum[j] += (float)values[j];
        }
        uint4 packed;
        T *values = (T *)&packed;
#pragma unroll
        for (int j = 0; j < 8; j++) values[j] = (T)sum[j];
        *(uint4 *)(y + token * hidden + column) = packed;
    }
}

// ---- launchers

static int mx_grid(int64_t work, int threads) {
    int64_t blocks = (work + threads - 1) / threads;
    return (int)(blocks < 65536 ? blocks : 65536);
}

template <typename T>
static mx_status mx_moe_topk_launch(const void *logits, int64_t tokens, int experts, int topk,
                                    int32_t *expert_ids, float *expert_weights, int32_t *pair_ids,
                                    cudaStream_t stream) {
    int64_t blocks = (tokens + MX_TOPK_WARPS - 1) / MX_TOPK_WARPS;
    mx_moe_topk_kernel<T><<<(unsigned)blocks, MX_TOPK_WARPS * 32, 0, stream>>>(
        (const T *)logits, tokens, experts, topk, expert_ids, expert_weights, pair_ids);
    MX_LAUNCH_CHECK("mx_moe_topk_kernel");
    return MX_OK;
}

/* b2: NULL, or problem->b2 when the experts' outputs have no bias yet (see the kernel). */
template <typename T>
static mx_status mx_moe_combine_launch(const void *o, const int32_t *slot_position,
                                       const float *weights, const void *b2,
                                       const int32_t *expert_ids, const mx_moe_problem *problem,
                                       cudaStream_t stream) {
    const int threads = 256;
    mx_moe_combine_kernel<T>
        <<<mx_grid(problem->tokens * problem->hidden / 8, threads), threads, 0, stream>>>(
            (const T *)o, slot_position, weights, problem->tokens, problem->hidden,
            (int)problem->topk, (const T *)b2, expert_ids, (const T *)problem->residual,
            (T *)problem->y);
    MX_LAUNCH_CHECK("mx_moe_combine_kernel");
    return MX_OK;
}

template <typename T>
static mx_status mx_moe_swiglu_launch(const void *product, const int32_t *slot_position,
                                      const int32_t *expert_ids, const mx_moe_problem *problem,
                                      void *h, cudaStream_t stream) {
    const int threads = 256;
    const int64_t pairs = problem->tokens * problem->topk;
    mx_moe_swiglu_kernel<T>
        <<<mx_grid(pairs * problem->intermediate / 4, threads), threads, 0, stream>>>(
            (const T *)product, slot_position, expert_ids, pairs, problem->intermediate,
            (const T *)problem->b1, (T *)h);
    MX_LAUNCH_CHECK("mx_moe_swiglu_kernel");
    return MX_OK;
}

/* Router logits (cuBLAS, dtype) then the top-k kernel. */
static mx_status mx_moe_route_launch(mx_moe_context *context, const mx_moe_problem *problem,
                                     void *logits, int32_t *expert_ids, float *expert_weights,
                                     int32_t *pair_ids, cudaStream_t stream) {
    MX_TRY(mx_dense_gemm(context->cublas, problem->tokens, problem->experts, problem->hidden, 1,
                         problem->dtype, problem->x, problem->router_w, problem->router_bias,
                         logits, stream));
    return problem->dtype == MX_BF16
               ? mx_moe_topk_launch<__nv_bfloat16>(logits, problem->tokens, (int)problem->experts,
                                                   (int)problem->topk, expert_ids, expert_weights,
                                                   pair_ids, stream)
               : mx_moe_topk_launch<__half>(logits, problem->tokens, (int)problem->experts,
                                            (int)problem->topk, expert_ids, expert_weights,
                                            pair_ids, stream);
}

// ---- argument checks and the workspace layout

static mx_status mx_moe_check_route_shape(const mx_moe_problem *problem) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->tokens <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "tokens = %lld: expected > 0",
                       (long long)problem->tokens);
    if (problem->experts < 1 || problem->experts > MX_MOE_MAX_EXPERTS)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "experts = %lld: expected 1..%d",
                       (long long)problem->experts, MX_MOE_MAX_EXPERTS);
    if (problem->topk < 1 || problem->topk > problem->experts)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "topk = %lld: expected 1..experts (%lld)",
                       (long long)problem->topk, (long long)problem->experts);
    if (problem->hidden <= 0 || problem->hidden % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "hidden = %lld: expected a positive multiple of 32 (the MXFP4 block)",
                       (long long)problem->hidden);
    if (problem->dtype != MX_F16 && problem->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)problem->dtype);
    /* Pair indices and sorted positions are int32; mx_gemm takes m up to 2^30. */
    if (problem->tokens > (1LL << 30) / problem->topk || problem->hidden > (1LL << 30))
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "tokens x topk = %lld x %lld, hidden = %lld: supported up to 2^30 routed "
                       "pairs and hidden 2^30",
                       (long long)problem->tokens, (long long)problem->topk,
                       (long long)problem->hidden);
    return MX_OK;
}

static mx_status mx_moe_check_layer_shape(const mx_moe_problem *problem) {
    MX_TRY(mx_moe_check_route_shape(problem));
    if (problem->intermediate <= 0 || problem->intermediate % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "intermediate = %lld: expected a positive multiple of 32 (the MXFP4 block)",
                       (long long)problem->intermediate);
    if (problem->intermediate > (1LL << 29))
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "intermediate = %lld: supported up to 2^29 (MLP1 has 2I rows)",
                       (long long)problem->intermediate);
    /* All experts' weights together: [experts * 2I, hidden] and [experts * hidden, I]. */
    MX_TRY(mx_check_shape(problem->experts * 2 * problem->intermediate, problem->hidden));
    return mx_check_shape(problem->experts * problem->hidden, problem->intermediate);
}

static mx_status mx_moe_check_route_pointers(const mx_moe_problem *problem) {
    MX_TRY(mx_check_pointer(problem->x, 16, "x"));
    MX_TRY(mx_check_pointer(problem->router_w, 2, "router_w"));
    if (problem->router_bias) MX_TRY(mx_check_pointer(problem->router_bias, 2, "router_bias"));
    return MX_OK;
}

/* w1, w2: the dense weights of the reference path, or NULL for the MXFP4 path. */
static mx_status mx_moe_check_layer_pointers(const mx_moe_problem *problem, const void *w1,
                                             const void *w2, bool reference) {
    MX_TRY(mx_moe_check_route_pointers(problem));
    if (reference) {
        MX_TRY(mx_check_pointer(w1, 16, "w1"));
        MX_TRY(mx_check_pointer(w2, 16, "w2"));
    } else {
        MX_TRY(mx_weights_check(&problem->w1, 2 * problem->intermediate, problem->hidden,
                                problem->experts, "w1"));
        MX_TRY(mx_weights_check(&problem->w2, problem->hidden, problem->intermediate,
                                problem->experts, "w2"));
    }
    if (problem->b1) MX_TRY(mx_check_pointer(problem->b1, 2, "b1"));
    if (problem->b2) MX_TRY(mx_check_pointer(problem->b2, 2, "b2"));
    if (problem->residual) MX_TRY(mx_check_pointer(problem->residual, 16, "residual"));
    return mx_check_pointer(problem->y, 16, "y");
}

/* Byte offsets into the workspace, each region 256-byte aligned. x_grouped, h and o hold one row
 * per routed pair (host-count path) or `tokens` rows per expert (device-count path). */
typedef struct {
    size_t logits, expert_ids, expert_weights, pair_ids, counts, sorted_experts, order,
        slot_position, cub_temp, x_grouped, h, o, expert_gemm, pointers, total;
    size_t cub_temp_bytes;
    size_t expert_gemm_bytes; /* MXFP4: mx_gemm's workspace; reference: MLP1's product */
    bool device_counts;       /* the path without the host round trip */
    mx_gemm_variant runs;     /* device-count path: the variant of both batched GEMMs */
    int64_t dense_batch;      /* reference device-count path: min(experts, pairs) GEMMs each */
} mx_moe_layout;

/* An expert GEMM's shape (batch 1, no pointers yet). */
static mx_gemm_problem mx_moe_gemm_shape(int64_t m, int64_t n, int64_t k, mx_dtype dtype,
                                         mx_activation activation) {
    mx_gemm_problem problem;
    memset(&problem, 0, sizeof problem);
    problem.m = m;
    problem.n = n;
    problem.k = k;
    problem.batch = 1;
    problem.dtype = dtype;
    problem.activation = activation;
    return problem;
}

static int mx_moe_sort_bits(int64_t experts) {
    int bits = 1;
    while ((1LL << bits) < experts) bits++;
    return bits;
}

/* The device-count path's bounds (moe.h): the padded buffers and the one-warp grouping stay
 * small. The FP16 reference takes that path within them, like auto's MXFP4 layer. */
static bool mx_moe_device_bounds(const mx_moe_problem *problem) {
    const int64_t tokens = problem->tokens;
    return tokens <= MX_MOE_DEVICE_MAX_TOKENS &&
           tokens * problem->topk <= MX_MOE_DEVICE_MAX_PAIRS &&
           tokens * problem->experts <= MX_MOE_DEVICE_MAX_ROWS;
}

/* Whether the MXFP4 layer takes the device-count path, and with which GEMM variant: the expert
 * GEMMs must run on fused or skinny (for auto: as chosen for m = tokens, i.e. tokens <= 64),
 * within the bounds. */
static bool mx_moe_device_variant(const mx_gemm_context *gemm, const mx_moe_problem *problem,
                                  mx_gemm_variant variant, mx_gemm_variant *runs) {
    const int64_t tokens = problem->tokens;
    if (!mx_moe_device_bounds(problem)) return false;
    mx_gemm_problem shape = mx_moe_gemm_shape(tokens, 2 * problem->intermediate, problem->hidden,
                                              problem->dtype, MX_ACT_SWIGLU_GPTOSS);
    *runs = variant == MX_GEMM_AUTO ? mx_gemm_choose(gemm, &shape) : variant;
    return *runs == MX_GEMM_FUSED || *runs == MX_GEMM_SKINNY;
}

/* reference: the FP16 reference's layout, on the device-count path within the bounds (the
 * regime where auto's MXFP4 layer takes it) unless host_counts forces the other one. */
static mx_status mx_moe_plan(const mx_moe_context *context, const mx_moe_problem *problem,
                             mx_gemm_variant variant, bool reference, bool host_counts,
                             mx_moe_layout *layout) {
    MX_TRY(mx_moe_check_layer_shape(problem));
    const int64_t tokens = problem->tokens, pairs = tokens * problem->topk;
    const int64_t hidden = problem->hidden, intermediate = problem->intermediate;
    const int experts = (int)problem->experts;
    const size_t element = 2; /* FP16 / BF16 */
    layout->runs = variant;
    layout->device_counts =
        reference ? !host_counts && mx_moe_device_bounds(problem)
                  : mx_moe_device_variant(context->gemm, problem, variant, &layout->runs);
    layout->dense_batch = problem->experts < pairs ? problem->experts : pairs;
    /* Device-count path: no CUB, no sort, no GEMM workspace (fused and skinny need none). */
    const bool sorted = !layout->device_counts;
    const int64_t rows = sorted ? pairs : problem->experts * tokens;

    size_t histogram_bytes = 0, sort_bytes = 0;
    MX_CUDA_CHECK(cub::DeviceHistogram::HistogramEven((void *)NULL, histogram_bytes,
                                                      (const int32_t *)NULL, (int *)NULL,
                                                      experts + 1, 0, experts, (int)pairs));
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        (void *)NULL, sort_bytes, (const uint32_t *)NULL, (uint32_t *)NULL, (const int32_t *)NULL,
        (int32_t *)NULL, (int)pairs, 0, mx_moe_sort_bits(experts)));
    layout->cub_temp_bytes = !sorted                        ? 0
                             : histogram_bytes > sort_bytes ? histogram_bytes
                                                            : sort_bytes;

    if (reference) { /* MLP1's product, one row per row of x_grouped */
        layout->expert_gemm_bytes = (size_t)(rows * 2 * intermediate) * element;
    } else if (!sorted) {
        layout->expert_gemm_bytes = 0;
    } else {
        /* An expert gets a token at most once, so m_e <= tokens; for a fixed variant the GEMM
         * workspace grows with m, and auto only moves to variants with more workspace as m grows
         * (gemm.h), so m = tokens bounds every expert call. */
        mx_gemm_problem mlp1 = mx_moe_gemm_shape(tokens, 2 * intermediate, hidden, problem->dtype,
                                                 MX_ACT_SWIGLU_GPTOSS);
        mx_gemm_problem mlp2 =
            mx_moe_gemm_shape(tokens, hidden, intermediate, problem->dtype, MX_ACT_NONE);
        size_t first = mx_gemm_workspace_bytes(context->gemm, &mlp1, variant);
        size_t second = mx_gemm_workspace_bytes(context->gemm, &mlp2, variant);
        layout->expert_gemm_bytes = first > second ? first : second;
    }

    size_t offset = 0;
    auto region = [&offset](size_t bytes) {
        size_t start = offset;
        offset += (bytes + 255) / 256 * 256;
        return start;
    };
    layout->logits = region((size_t)(tokens * experts) * element);
    layout->expert_ids = region((size_t)pairs * 4);
    layout->expert_weights = region((size_t)pairs * 4);
    layout->pair_ids = region(sorted ? (size_t)pairs * 4 : 0);
    layout->counts = region((size_t)experts * 4);
    layout->sorted_experts = region(sorted ? (size_t)pairs * 4 : 0);
    layout->order = region(sorted ? (size_t)pairs * 4 : 0);
    layout->slot_position = region((size_t)pairs * 4);
    layout->cub_temp = region(layout->cub_temp_bytes);
    layout->x_grouped = region((size_t)(rows * hidden) * element);
    layout->h = region((size_t)(rows * intermediate) * element);
    layout->o = region((size_t)(rows * hidden) * element);
    layout->expert_gemm = region(layout->expert_gemm_bytes);
    const bool batched = reference && layout->device_counts;
    layout->pointers = region(batched ? (size_t)(6 * layout->dense_batch) * sizeof(void *) : 0);
    layout->total = offset;
    return MX_OK;
}

static mx_status mx_moe_check_workspace(const mx_moe_layout *layout, const mx_moe_problem *problem,
                                        const char *path, const void *workspace,
                                        size_t workspace_bytes) {
    if (workspace_bytes < layout->total || !workspace)
        return mx_fail(MX_ERR_WORKSPACE,
                       "%s needs %zu workspace bytes for tokens=%lld hidden=%lld intermediate=%lld "
                       "experts=%lld topk=%lld; got %zu%s",
                       path, layout->total, (long long)problem->tokens, (long long)problem->hidden,
                       (long long)problem->intermediate, (long long)problem->experts,
                       (long long)problem->topk, workspace_bytes, workspace ? "" : " (NULL)");
    return mx_check_pointer(workspace, 256, "workspace");
}

/* The gather kernel (see there): order set for the host-count path, NULL for the device one. */
static mx_status mx_moe_gather_launch(const mx_moe_problem *problem, const int32_t *order,
                                      const mx_moe_layout *layout, char *workspace,
                                      cudaStream_t stream) {
    const int threads = 256;
    const int64_t pairs = problem->tokens * problem->topk, row_chunks = problem->hidden / 8;
    mx_moe_gather_kernel<<<mx_grid(pairs * row_chunks, threads), threads, 0, stream>>>(
        (const uint4 *)problem->x, order, pairs, (int)problem->topk, row_chunks,
        (int32_t *)(workspace + layout->slot_position), (uint4 *)(workspace + layout->x_grouped));
    MX_LAUNCH_CHECK("mx_moe_gather_kernel");
    return MX_OK;
}

// ---- the layer

/* One expert's two products on its m tokens, rows `first` .. first + m - 1 of the grouped
 * buffers. MXFP4: mx_gemm with the gpt-oss SwiGLU epilogue, then mx_gemm. Reference (w1 set):
 * cuBLAS into the MLP1 product buffer, the same epilogue by mx_activation_apply, cuBLAS. */
static mx_status mx_moe_expert(mx_moe_context *context, const mx_moe_problem *problem,
                               mx_gemm_variant variant, const void *w1, const void *w2,
                               const mx_moe_layout *layout, char *workspace, int64_t expert,
                               int64_t first, int64_t m, cudaStream_t stream) {
    const int64_t hidden = problem->hidden, intermediate = problem->intermediate;
    const int64_t element = 2;
    const char *x_e = workspace + layout->x_grouped + first * hidden * element;
    char *h_e = workspace + layout->h + first * intermediate * element;
    char *o_e = workspace + layout->o + first * hidden * element;
    const void *b1_e =
        problem->b1 ? (const char *)problem->b1 + expert * 2 * intermediate * element : NULL;
    const void *b2_e = problem->b2 ? (const char *)problem->b2 + expert * hidden * element : NULL;
    const int64_t w1_count = 2 * intermediate * hidden, w2_count = hidden * intermediate;
    if (w1) {
        char *product = workspace + layout->expert_gemm + first * 2 * intermediate * element;
        MX_TRY(mx_dense_gemm(context->cublas, m, 2 * intermediate, hidden, 1, problem->dtype, x_e,
                             (const char *)w1 + expert * w1_count * element, NULL, product,
                             stream));
        MX_TRY(mx_activation_apply(m, 2 * intermediate, problem->dtype, MX_ACT_SWIGLU_GPTOSS,
                                   product, b1_e, NULL, h_e, stream));
        return mx_dense_gemm(context->cublas, m, hidden, intermediate, 1, problem->dtype, h_e,
                             (const char *)w2 + expert * w2_count * element, b2_e, o_e, stream);
    }
    void *gemm_workspace = workspace + layout->expert_gemm;
    mx_gemm_problem mlp1 =
        mx_moe_gemm_shape(m, 2 * intermediate, hidden, problem->dtype, MX_ACT_SWIGLU_GPTOSS);
    mlp1.x = x_e;
    MX_TRY(mx_weights_entry(&problem->w1, expert, &mlp1.w));
    mlp1.bias = b1_e;
    mlp1.y = h_e;
    MX_TRY(
        mx_gemm(context->gemm, &mlp1, variant, gemm_workspace, layout->expert_gemm_bytes, stream));
    mx_gemm_problem mlp2 = mx_moe_gemm_shape(m, hidden, intermediate, problem->dtype, MX_ACT_NONE);
    mlp2.x = h_e;
    MX_TRY(mx_weights_entry(&problem->w2, expert, &mlp2.w));
    mlp2.bias = b2_e;
    mlp2.y = o_e;
    return mx_gemm(context->gemm, &mlp2, variant, gemm_workspace, layout->expert_gemm_bytes,
                   stream);
}

/* Host-count path after routing: CUB groups the pairs by expert, the counts go to the host, and
 * each expert with tokens gets its own GEMM pair (MXFP4, or dense when w1 is set). */
static mx_status mx_moe_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                                    mx_gemm_variant variant, const void *w1, const void *w2,
                                    const mx_moe_layout *layout, char *workspace,
                                    cudaStream_t stream) {
    const int64_t pairs = problem->tokens * problem->topk;
    const int experts = (int)problem->experts;
    const int32_t *expert_ids = (const int32_t *)(workspace + layout->expert_ids);
    int32_t *pair_ids = (int32_t *)(workspace + layout->pair_ids);
    int *counts = (int *)(workspace + layout->counts);
    int32_t *order = (int32_t *)(workspace + layout->order);
    void *cub_temp = workspace + layout->cub_temp;
    size_t cub_bytes = layout->cub_temp_bytes;
    MX_CUDA_CHECK(cub::DeviceHistogram::HistogramEven(cub_temp, cub_bytes, expert_ids, counts,
                                                      experts + 1, 0, experts, (int)pairs, stream));
    /* The counts go to the host now; sorting and gathering run while the host waits for them. */
    MX_CUDA_CHECK(cudaMemcpyAsync(context->counts_host, counts, (size_t)experts * sizeof(int),
                                  cudaMemcpyDeviceToHost, stream));
    MX_CUDA_CHECK(cudaEventRecord(context->counts_ready, stream));
    cub_bytes = layout->cub_temp_bytes;
    /* Radix sort is stable: within an expert the pairs stay in ascending (token, slot) order. */
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_temp, cub_bytes, (const uint32_t *)expert_ids,
                                                  (uint32_t *)(workspace + layout->sorted_experts),
                                                  pair_ids, order, (int)pairs, 0,
                                                  mx_moe_sort_bits(experts), stream));
    MX_TRY(mx_moe_gather_launch(problem, order, layout, workspace, stream));
    MX_CUDA_CHECK(cudaEventSynchronize(context->counts_ready));

    int64_t total = 0;
    for (int e = 0; e < experts; e++) total += context->counts_host[e];
    if (total != pairs)
        return mx_fail(MX_ERR_CUDA, "expert counts add up to %lld routed pairs, expected %lld",
                       (long long)total, (long long)pairs);
    int64_t first = 0;
    for (int e = 0; e < experts; e++) {
        int64_t m = context->counts_host[e];
        if (m == 0) continue;
        MX_TRY(mx_moe_expert(context, problem, variant, w1, w2, layout, workspace, e, first, m,
                             stream));
        first += m;
    }
    return MX_OK;
}

/* The device-count path's two expert GEMMs, each one batched mx_gemm over all experts: expert e
 * owns rows e * tokens .. e * tokens + tokens - 1 of x_grouped, h and o, of which the first
 * counts[e] (on the device) are valid; experts' weights and biases are already [E, ...]. */
static void mx_moe_batched_gemms(const mx_moe_problem *problem, const mx_moe_layout *layout,
                                 char *workspace, mx_gemm_problem *mlp1, mx_gemm_problem *mlp2) {
    const int64_t tokens = problem->tokens, hidden = problem->hidden;
    const int64_t intermediate = problem->intermediate;
    const int32_t *counts = (const int32_t *)(workspace + layout->counts);
    *mlp1 =
        mx_moe_gemm_shape(tokens, 2 * intermediate, hidden, problem->dtype, MX_ACT_SWIGLU_GPTOSS);
    *mlp2 = mx_moe_gemm_shape(tokens, hidden, intermediate, problem->dtype, MX_ACT_NONE);
    mx_gemm_problem *both[2] = {mlp1, mlp2};
    for (int i = 0; i < 2; i++) {
        both[i]->batch = problem->experts;
        both[i]->batch_rows = counts;
        both[i]->batch_rows_total = tokens * problem->topk;
    }
    mlp1->x = workspace + layout->x_grouped;
    mlp1->w = problem->w1;
    mlp1->bias = problem->b1;
    mlp1->y = workspace + layout->h;
    mlp2->x = workspace + layout->h;
    mlp2->w = problem->w2;
    mlp2->bias = problem->b2;
    mlp2->y = workspace + layout->o;
}

/* The FP16 reference's operands for the group kernel (w1 set, device-count path), or none. */
static mx_moe_dense_batch mx_moe_dense_operands(const mx_moe_problem *problem, const void *w1,
                                                const void *w2, const mx_moe_layout *layout,
                                                char *workspace) {
    mx_moe_dense_batch batch;
    memset(&batch, 0, sizeof batch);
    if (!w1 || !layout->device_counts) return batch;
    const int64_t tokens = problem->tokens, hidden = problem->hidden;
    const int64_t intermediate = problem->intermediate, element = 2;
    batch.pointers = (void **)(workspace + layout->pointers);
    batch.w1 = (const char *)w1;
    batch.w2 = (const char *)w2;
    batch.x = workspace + layout->x_grouped;
    batch.product = workspace + layout->expert_gemm;
    batch.h = workspace + layout->h;
    batch.o = workspace + layout->o;
    batch.w1_stride = 2 * intermediate * hidden * element; /* [2I, hidden] per expert */
    batch.w2_stride = hidden * intermediate * element;     /* [hidden, I] */
    batch.x_stride = tokens * hidden * element;            /* tokens padded rows per expert */
    batch.product_stride = tokens * 2 * intermediate * element;
    batch.h_stride = tokens * intermediate * element;
    batch.o_stride = tokens * hidden * element;
    batch.batch = (int)layout->dense_batch;
    return batch;
}

/* The FP16 reference's device-count path after grouping and gathering: per projection ONE
 * cublasGemmBatchedEx over dense_batch experts (pointer arrays from the group kernel), each
 * m = tokens (the padded rows; cuBLAS takes host sizes only), then the SwiGLU with b1 on the
 * routed rows between them. Row-major Y_e = X_e W_e^T as column-major Y_e^T = W_e^T X_e^T:
 * W_e [n, k] row-major is column-major k x n (op T, lda = k), X_e's rows are k x tokens
 * (ldb = k), Y_e's rows n x tokens (ldc = n). b2 is added in the combine. */
static mx_status mx_moe_dense_batched(mx_moe_context *context, const mx_moe_problem *problem,
                                      const mx_moe_layout *layout, char *workspace,
                                      cudaStream_t stream) {
    const int tokens = (int)problem->tokens, hidden = (int)problem->hidden;
    const int intermediate = (int)problem->intermediate, batch = (int)layout->dense_batch;
    const cudaDataType type = problem->dtype == MX_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.0f, beta = 0.0f;
    void **pointers = (void **)(workspace + layout->pointers);
    /* [6][batch] as the group kernel wrote them: weights, input rows, output rows, twice. */
    const void *const *weights1 = (const void *const *)pointers, *const *in1 = weights1 + batch;
    const void *const *weights2 = weights1 + 3 * batch, *const *in2 = weights1 + 4 * batch;
    void *const *out1 = pointers + 2 * batch, *const *out2 = pointers + 5 * batch;
    MX_CUBLAS_CHECK(cublasSetStream(context->cublas, stream));
    MX_CUBLAS_CHECK(cublasGemmBatchedEx(context->cublas, CUBLAS_OP_T, CUBLAS_OP_N, 2 * intermediate,
                                        tokens, hidden, &alpha, weights1, type, hidden, in1, type,
                                        hidden, &beta, out1, type, 2 * intermediate, batch,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    const int32_t *slot_position = (const int32_t *)(workspace + layout->slot_position);
    const int32_t *expert_ids = (const int32_t *)(workspace + layout->expert_ids);
    const void *product = workspace + layout->expert_gemm;
    void *h = workspace + layout->h;
    MX_TRY(problem->dtype == MX_BF16 ? mx_moe_swiglu_launch<__nv_bfloat16>(
                                           product, slot_position, expert_ids, problem, h, stream)
                                     : mx_moe_swiglu_launch<__half>(
                                           product, slot_position, expert_ids, problem, h, stream));
    MX_CUBLAS_CHECK(cublasGemmBatchedEx(context->cublas, CUBLAS_OP_T, CUBLAS_OP_N, hidden, tokens,
                                        intermediate, &alpha, weights2, type, intermediate, in2,
                                        type, intermediate, &beta, out2, type, hidden, batch,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return MX_OK;
}

/* The whole layer after the checks: route, group, experts (MXFP4, or dense when w1 is set),
 * combine. The device-count path groups on the GPU (one block), gathers into the padded
 * layout and runs the two batched GEMMs (mx_gemm, or cuBLAS for the reference): nothing waits
 * for the host. */
static mx_status mx_moe_run(mx_moe_context *context, const mx_moe_problem *problem,
                            mx_gemm_variant variant, const void *w1, const void *w2,
                            const mx_moe_layout *layout, char *workspace, cudaStream_t stream) {
    mx_gemm_problem mlp1, mlp2;
    if (layout->device_counts && !w1) { /* refused before anything is launched */
        mx_moe_batched_gemms(problem, layout, workspace, &mlp1, &mlp2);
        MX_TRY(mx_gemm_check(context->gemm, &mlp1, layout->runs, NULL, 0));
        MX_TRY(mx_gemm_check(context->gemm, &mlp2, layout->runs, NULL, 0));
    }
    const int64_t pairs = problem->tokens * problem->topk;
    int32_t *expert_ids = (int32_t *)(workspace + layout->expert_ids);
    float *expert_weights = (float *)(workspace + layout->expert_weights);
    int32_t *slot_position = (int32_t *)(workspace + layout->slot_position);
    MX_TRY(mx_moe_route_launch(
        context, problem, workspace + layout->logits, expert_ids, expert_weights,
        layout->device_counts ? NULL : (int32_t *)(workspace + layout->pair_ids), stream));
    if (layout->device_counts) {
        mx_moe_group_kernel<<<1, 256, 0, stream>>>(
            expert_ids, (int)pairs, (int)problem->experts, (int)problem->tokens,
            (int32_t *)(workspace + layout->counts), slot_position,
            mx_moe_dense_operands(problem, w1, w2, layout, workspace));
        MX_LAUNCH_CHECK("mx_moe_group_kernel");
        MX_TRY(mx_moe_gather_launch(problem, NULL, layout, workspace, stream));
        if (w1) {
            MX_TRY(mx_moe_dense_batched(context, problem, layout, workspace, stream));
        } else {
            MX_TRY(mx_gemm(context->gemm, &mlp1, layout->runs, NULL, 0, stream));
            MX_TRY(mx_gemm(context->gemm, &mlp2, layout->runs, NULL, 0, stream));
        }
    } else {
        MX_TRY(mx_moe_host_counts(context, problem, variant, w1, w2, layout, workspace, stream));
    }
    const void *o = workspace + layout->o;
    /* Only the reference's batched GEMMs leave b2 out (the others add it in their GEMM). */
    const void *b2 = w1 && layout->device_counts ? problem->b2 : NULL;
    return problem->dtype == MX_BF16
               ? mx_moe_combine_launch<__nv_bfloat16>(o, slot_position, expert_weights, b2,
                                                      expert_ids, problem, stream)
               : mx_moe_combine_launch<__half>(o, slot_position, expert_weights, b2, expert_ids,
                                               problem, stream);
}

// ---- public entry points

extern "C" mx_status mx_moe_context_create(mx_moe_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = NULL;
    mx_moe_context *created = (mx_moe_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate a MoE context");
    mx_status status = mx_gemm_context_create(&created->gemm);
    if (status == MX_OK) {
        cublasStatus_t created_cublas = cublasCreate(&created->cublas);
        if (created_cublas != CUBLAS_STATUS_SUCCESS) {
            created->cublas = NULL;
            status = mx_cublas_fail(created_cublas, "cublasCreate", __FILE__, __LINE__);
        }
    }
    cudaError_t error = cudaSuccess;
    if (status == MX_OK) {
        error = cudaMallocHost((void **)&created->counts_host,
                               MX_MOE_MAX_EXPERTS * sizeof *created->counts_host);
        if (error != cudaSuccess) created->counts_host = NULL;
    }
    if (status == MX_OK && error == cudaSuccess)
        error = cudaEventCreateWithFlags(&created->counts_ready, cudaEventDisableTiming);
    if (status == MX_OK && error != cudaSuccess) {
        created->counts_ready = NULL;
        status = mx_cuda_fail(error, "mx_moe_context_create", __FILE__, __LINE__);
    }
    if (status != MX_OK) {
        mx_moe_context_destroy(created);
        return status;
    }
    *context = created;
    return MX_OK;
}

extern "C" void mx_moe_context_destroy(mx_moe_context *context) {
    if (!context) return;
    if (context->counts_ready) cudaEventDestroy(context->counts_ready);
    if (context->counts_host) cudaFreeHost(context->counts_host);
    if (context->cublas) cublasDestroy(context->cublas);
    mx_gemm_context_destroy(context->gemm);
    free(context);
}

extern "C" mx_status mx_moe_route(mx_moe_context *context, const mx_moe_problem *problem,
                                  void *logits, int32_t *expert_ids, float *expert_weights,
                                  cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_moe_check_route_shape(problem));
    MX_TRY(mx_moe_check_route_pointers(problem));
    MX_TRY(mx_check_pointer(logits, 2, "logits"));
    MX_TRY(mx_check_pointer(expert_ids, 4, "expert_ids"));
    MX_TRY(mx_check_pointer(expert_weights, 4, "expert_weights"));
    return mx_moe_route_launch(context, problem, logits, expert_ids, expert_weights, NULL, stream);
}

static mx_status mx_moe_check_variant(mx_gemm_variant variant) {
    if ((unsigned)variant >= MX_GEMM_VARIANT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "variant = %d: not an mx_gemm_variant",
                       (int)variant);
    if (variant == MX_GEMM_PERSISTENT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "variant persistent: not supported by mx_moe (it would keep every expert "
                       "dequantized); expected auto, fused, skinny or dequant_cublas");
    return MX_OK;
}

extern "C" size_t mx_moe_workspace_bytes(const mx_moe_context *context,
                                         const mx_moe_problem *problem, mx_gemm_variant variant) {
    mx_moe_layout layout = {};
    if (!context || mx_moe_check_variant(variant) != MX_OK ||
        mx_moe_plan(context, problem, variant, false, false, &layout) != MX_OK)
        return 0;
    return layout.total;
}

extern "C" int mx_moe_uses_device_counts(const mx_moe_context *context,
                                         const mx_moe_problem *problem, mx_gemm_variant variant) {
    mx_moe_layout layout = {};
    if (!context || mx_moe_check_variant(variant) != MX_OK ||
        mx_moe_plan(context, problem, variant, false, false, &layout) != MX_OK)
        return -1;
    return layout.device_counts ? 1 : 0;
}

static size_t mx_moe_fp16_bytes(const mx_moe_problem *problem, bool host_counts) {
    mx_moe_layout layout = {};
    if (mx_moe_plan(NULL, problem, MX_GEMM_AUTO, true, host_counts, &layout) != MX_OK) return 0;
    return layout.total;
}

extern "C" size_t mx_moe_fp16_workspace_bytes(const mx_moe_problem *problem) {
    return mx_moe_fp16_bytes(problem, false);
}

extern "C" size_t mx_moe_fp16_host_counts_workspace_bytes(const mx_moe_problem *problem) {
    return mx_moe_fp16_bytes(problem, true);
}

extern "C" int mx_moe_fp16_uses_device_counts(const mx_moe_problem *problem) {
    mx_moe_layout layout = {};
    if (mx_moe_plan(NULL, problem, MX_GEMM_AUTO, true, false, &layout) != MX_OK) return -1;
    return layout.device_counts ? 1 : 0;
}

extern "C" mx_status mx_moe(mx_moe_context *context, const mx_moe_problem *problem,
                            mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                            cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_moe_check_variant(variant));
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_plan(context, problem, variant, false, false, &layout));
    MX_TRY(mx_moe_check_layer_pointers(problem, NULL, NULL, false));
    char path[64];
    snprintf(path, sizeof path, "mx_moe with %s", mx_gemm_variant_name(variant));
    MX_TRY(mx_moe_check_workspace(&layout, problem, path, workspace, workspace_bytes));
    return mx_moe_run(context, problem, variant, NULL, NULL, &layout, (char *)workspace, stream);
}

static mx_status mx_moe_fp16_on(mx_moe_context *context, const mx_moe_problem *problem,
                                const void *w1, const void *w2, bool host_counts, void *workspace,
                                size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_plan(context, problem, MX_GEMM_AUTO, true, host_counts, &layout));
    MX_TRY(mx_moe_check_layer_pointers(problem, w1, w2, true));
    MX_TRY(mx_moe_check_workspace(&layout, problem,
                                  host_counts ? "mx_moe_fp16_host_counts" : "mx_moe_fp16",
                                  workspace, workspace_bytes));
    return mx_moe_run(context, problem, MX_GEMM_AUTO, w1, w2, &layout, (char *)workspace, stream);
}

extern "C" mx_status mx_moe_fp16(mx_moe_context *context, const mx_moe_problem *problem,
                                 const void *w1, const void *w2, void *workspace,
                                 size_t workspace_bytes, cudaStream_t stream) {
    return mx_moe_fp16_on(context, problem, w1, w2, false, workspace, workspace_bytes, stream);
}

extern "C" mx_status mx_moe_fp16_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                                             const void *w1, const void *w2, void *workspace,
                                             size_t workspace_bytes, cudaStream_t stream) {
    return mx_moe_fp16_on(context, problem, w1, w2, true, workspace, workspace_bytes, stream);
}
