/* MoE expert layer (see moe.h), its kernels, their launchers and the layer's run (moe.cu holds the
 * entry points, the argument checks, the workspace plan and the host-count path): routing by one
 * router kernel up to 64 tokens (logits, top-k + softmax and, on the device-count path, the
 * grouping, in one launch) or by cuBLAS and a warp-per-token top-k kernel above; then either
 * (host counts) grouping by CUB (histogram of expert ids, stable radix sort of the (token, slot)
 * pairs by expert), a gather of each expert's tokens and one mx_gemm pair per expert with tokens,
 * or (device counts, decode) a gather into padded per-expert rows and two batched mx_gemm calls
 * with device-side row counts (for the FP16 reference: two cublasGemmBatchedEx calls over pointer
 * arrays the grouping writes, with a SwiGLU kernel between them); then a combine kernel. The
 * expert GEMMs are the MXFP4 GEMM family (gemm.h); everything else is memory bound and small next
 * to the expert weights. Figures: docs/moe.md (`mxbench run`, op moe). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <string.h>

#include "activation.cuh"
#include "check.h"
#include "dense_gemm.h"
#include "dependent_launch.cuh"
#include "moe_internal.cuh"

enum {
    MX_TOPK_WARPS = 8,    /* tokens per block of the top-k kernel, one warp each */
    MX_ROUTER_WARPS = 8,  /* warps per block of the router kernel, along K */
    MX_ROUTER_TOKENS = 8, /* tokens per block of the router kernel */
};

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

/* One warp, one token: k passes, each picks the first expert (in routing order) that ranks after
 * the previous pick, so no set of chosen experts is kept; then the softmax over the k picked
 * logits in FP32. logit(e) reads the token's logit of expert e. pair_ids (when not NULL) gets
 * token * topk + slot, the values the grouping sorts. */
template <typename Logit>
static __device__ void mx_moe_topk_token(Logit logit, int64_t token, int experts, int topk,
                                         int32_t *expert_ids, float *expert_weights,
                                         int32_t *pair_ids) {
    const int lane = threadIdx.x & 31;
    int32_t *ids = expert_ids + token * topk;
    float previous = INFINITY, largest = 0.0f;
    int previous_index = -1; /* (+Inf, -1) ranks before every logit: the first pass sees all */
    for (int slot = 0; slot < topk; slot++) {
        /* (-Inf, experts) ranks after every real expert; k <= experts, so a real one is found. */
        float best = -INFINITY;
        int best_index = experts;
        for (int e = lane; e < experts; e += 32) {
            float key = mx_rank_key(logit(e));
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
    for (int slot = lane; slot < topk; slot += 32) sum += expf(logit(ids[slot]) - largest);
    for (int offset = 16; offset > 0; offset >>= 1)
        sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset); /* a + b == b + a: all lanes agree */
    for (int slot = lane; slot < topk; slot += 32) {
        expert_weights[token * topk + slot] = expf(logit(ids[slot]) - largest) / sum;
        if (pair_ids) pair_ids[token * topk + slot] = (int32_t)(token * topk + slot);
    }
}

/* Top-k after the cuBLAS router (more tokens than the router kernel takes): one warp per token. */
template <typename T>
static __global__ void mx_moe_topk_kernel(const T *logits, int64_t tokens, int experts, int topk,
                                          int32_t *expert_ids, float *expert_weights,
                                          int32_t *pair_ids) {
    const int64_t token = (int64_t)blockIdx.x * MX_TOPK_WARPS + threadIdx.x / 32;
    if (token >= tokens) return; /* the whole warp: token is the same for its 32 lanes */
    const T *row = logits + token * experts;
    mx_moe_topk_token([row](int e) { return (float)row[e]; }, token, experts, topk, expert_ids,
                      expert_weights, pair_ids);
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

/* The device-count path's grouping outputs (counts NULL: no grouping). */
typedef struct {
    int32_t *counts, *slot_position;
    mx_moe_dense_batch batch;
} mx_moe_grouping;

/* The router kernel's arguments (dtype pointers as void: the kernel is templated on the dtype). */
typedef struct {
    const void *x, *router_w, *router_bias;
    int tokens, hidden, experts, topk;
    void *logits;
    int32_t *expert_ids;
    float *expert_weights;
    int32_t *pair_ids; /* NULL on the device-count path */
    unsigned *arrivals;
    mx_moe_grouping group;
} mx_moe_router;

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

/* Device-count path, one block (the router kernel's last): the padded row of every (token, slot)
 * pair, expert * tokens + its rank among the expert's pairs in (token, slot) order (a token picks
 * an expert at most once, so the rank is below tokens), into slot_position; and the tokens per
 * expert into counts. One warp walks the pairs 32 at a time (ranks by __match_any_sync), so the
 * order is fixed; ids come from the top-k, always in 0..experts-1, written by this block. With
 * batch.pointers set (FP16 reference), also the batched cuBLAS operands
 * (mx_moe_dense_batch_pointers). */
static __device__ void mx_moe_group_block(const int32_t *expert_ids, int pairs, int experts,
                                          int tokens, const mx_moe_grouping &group) {
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
            if (expert >= 0) group.slot_position[pair] = expert * tokens + taken[expert] + before;
            __syncwarp(); /* every peer has read taken[expert] before the first one adds */
            if (expert >= 0 && before == 0) taken[expert] += __popc(peers);
            __syncwarp();
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < experts; e += blockDim.x) group.counts[e] = taken[e];
    if (group.batch.pointers && threadIdx.x < 32)
        mx_moe_dense_batch_pointers(taken, experts, group.batch);
}

/* The router at decode (tokens <= MX_MOE_DEVICE_MAX_TOKENS), routing in one launch: each block
 * computes one expert's logits for up to MX_ROUTER_TOKENS tokens (16-byte loads of router_w and
 * x, FP32 FMAs in a fixed order per lane, butterfly sums per warp, the warps' sums in warp order,
 * + bias, rounded once to the dtype, as cuBLAS's FP32-accumulated GEMM with beta = 1 on the bias
 * does); the last block to finish (an
 * arrival counter in the context, reset by that block) runs the top-k of every token and, on the
 * device-count path (group.counts set), the grouping. Replaces the cuBLAS router (bias broadcast,
 * split-K GEMM and its reduce), the top-k and the group launches: at one token each of those was
 * a launch and a ramp for a few KB (docs/moe.md). */
template <typename T>
static __global__ void __launch_bounds__(MX_ROUTER_WARPS * 32)
    mx_moe_router_kernel(mx_moe_router args) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
    mx_dependent_begin();
    const int tokens = args.tokens, hidden = args.hidden, experts = args.experts;
    const int expert = blockIdx.x % experts, first = blockIdx.x / experts * MX_ROUTER_TOKENS;
    const int count = min((int)MX_ROUTER_TOKENS, tokens - first);
    const T *w = (const T *)args.router_w + (int64_t)expert * hidden;
    const T *x = (const T *)args.x + (int64_t)first * hidden;
    T *logits = (T *)args.logits;
    /* The warps take turns along K, 256 elements each (8 a lane), every load of a turn in
     * flight at once: the router's few KB per expert arrive in one or two memory latencies. */
    float sum[MX_ROUTER_TOKENS] = {};
    for (int k = (warp * 32 + lane) * 8; k < hidden; k += MX_ROUTER_WARPS * 32 * 8) {
        const uint4 w_packed = __ldg((const uint4 *)(w + k));
        uint4 x_packed[MX_ROUTER_TOKENS];
#pragma unroll
        for (int j = 0; j < MX_ROUTER_TOKENS; j++)
            if (j < count) x_packed[j] = __ldg((const uint4 *)(x + (int64_t)j * hidden + k));
        const T *w8 = (const T *)&w_packed;
#pragma unroll
        for (int j = 0; j < MX_ROUTER_TOKENS; j++) {
            const T *x8 = (const T *)&x_packed[j];
#pragma unroll
            for (int i = 0; i < 8; i++)
                if (j < count) sum[j] = fmaf((float)x8[i], (float)w8[i], sum[j]);
        }
    }
    __shared__ float partial[MX_ROUTER_WARPS][MX_ROUTER_TOKENS];
#pragma unroll
    for (int j = 0; j < MX_ROUTER_TOKENS; j++) {
        for (int offset = 16; offset > 0; offset >>= 1)
            sum[j] += __shfl_xor_sync(0xFFFFFFFFu, sum[j], offset);
        if (lane == 0) partial[warp][j] = sum[j];
    }
    __syncthreads();
    if (threadIdx.x < count) { /* the warps' sums in warp order: a fixed order */
        float logit = args.router_bias ? (float)((const T *)args.router_bias)[expert] : 0.0f;
        float dot = 0.0f;
        for (int v = 0; v < MX_ROUTER_WARPS; v++) dot += partial[v][threadIdx.x];
        logits[(int64_t)(first + threadIdx.x) * experts + expert] = (T)(dot + logit);
    }
    __shared__ bool last;
    __threadfence(); /* this block's logits are visible to the GPU before it arrives */
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(args.arrivals, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    if (threadIdx.x == 0) *args.arrivals = 0; /* ready for the next launch */
    /* The logits come from L2 (other blocks wrote them): staged in shared memory when they fit
     * (always on the device-count path), so that the top-k's passes do not wait on L2 each. */
    __shared__ T staged[MX_MOE_DEVICE_MAX_ROWS];
    const int64_t logit_count = (int64_t)tokens * experts;
    const bool stage = logit_count <= MX_MOE_DEVICE_MAX_ROWS;
    if (stage) {
        for (int i = threadIdx.x; i < logit_count; i += blockDim.x) staged[i] = __ldcg(logits + i);
        __syncthreads();
    }
    for (int token = threadIdx.x / 32; token < tokens; token += MX_ROUTER_WARPS) {
        const T *row = logits + (int64_t)token * experts;
        const T *staged_row = staged + (int64_t)token * experts;
        if (stage)
            mx_moe_topk_token([staged_row](int e) { return (float)staged_row[e]; }, token, experts,
                              args.topk, args.expert_ids, args.expert_weights, args.pair_ids);
        else
            mx_moe_topk_token([row](int e) { return (float)__ldcg(row + e); }, token, experts,
                              args.topk, args.expert_ids, args.expert_weights, args.pair_ids);
    }
    if (!args.group.counts) return;
    __syncthreads(); /* every token's ids are written */
    mx_moe_group_block(args.expert_ids, tokens * args.topk, experts, tokens, args.group);
}

/* Copies token rows of x into the grouped buffer, 16 bytes per thread. With order (host-count
 * path): row i of x_grouped is pair order[i] = t * topk + slot, and slot_position[pair] = i is
 * recorded for the combine. Without (device-count path): pair i goes to the row
 * slot_position[i] that the grouping chose. */
static __global__ void mx_moe_gather_kernel(const uint4 *x, const int32_t *order, int64_t pairs,
                                            int topk, int64_t row_chunks, int32_t *slot_position,
                                            uint4 *x_grouped) {
    mx_dependent_begin();
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
    mx_dependent_begin();
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
static mx_status mx_moe_combine_launch(const mx_moe_context *context, const void *o,
                                       const int32_t *slot_position, const float *weights,
                                       const void *b2, const int32_t *expert_ids,
                                       const mx_moe_problem *problem, cudaStream_t stream) {
    const int threads = 256;
    MX_CUDA_CHECK(mx_launch(mx_moe_combine_kernel<T>,
                            mx_grid(problem->tokens * problem->hidden / 8, threads), threads,
                            stream, context->dependent, (const T *)o, slot_position, weights,
                            problem->tokens, problem->hidden, (int)problem->topk, (const T *)b2,
                            expert_ids, (const T *)problem->residual, (T *)problem->y));
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

template <typename T>
static mx_status mx_moe_router_launch(const mx_moe_router &args, cudaStream_t stream) {
    const int blocks = args.experts * ((args.tokens + MX_ROUTER_TOKENS - 1) / MX_ROUTER_TOKENS);
    mx_moe_router_kernel<T><<<blocks, MX_ROUTER_WARPS * 32, 0, stream>>>(args);
    MX_LAUNCH_CHECK("mx_moe_router_kernel");
    return MX_OK;
}

/* Routing. Up to MX_MOE_DEVICE_MAX_TOKENS tokens the router kernel (logits, top-k and, with
 * group, the device-count path's grouping in one launch); above, the logits by cuBLAS (dtype)
 * then the top-k kernel (no grouping there: the device-count path never has that many tokens).
 * The choice depends on tokens only, so mx_moe_route routes as the layer does. */
static mx_status mx_moe_route_group(mx_moe_context *context, const mx_moe_problem *problem,
                                    void *logits, int32_t *expert_ids, float *expert_weights,
                                    int32_t *pair_ids, const mx_moe_grouping *group,
                                    cudaStream_t stream) {
    const bool bf16 = problem->dtype == MX_BF16;
    if (problem->tokens <= MX_MOE_DEVICE_MAX_TOKENS) {
        mx_moe_router args;
        memset(&args, 0, sizeof args);
        args.x = problem->x;
        args.router_w = problem->router_w;
        args.router_bias = problem->router_bias;
        args.tokens = (int)problem->tokens;
        args.hidden = (int)problem->hidden;
        args.experts = (int)problem->experts;
        args.topk = (int)problem->topk;
        args.logits = logits;
        args.expert_ids = expert_ids;
        args.expert_weights = expert_weights;
        args.pair_ids = pair_ids;
        args.arrivals = context->arrivals;
        if (group) args.group = *group;
        return bf16 ? mx_moe_router_launch<__nv_bfloat16>(args, stream)
                    : mx_moe_router_launch<__half>(args, stream);
    }
    MX_TRY(mx_dense_gemm(context->cublas, problem->tokens, problem->experts, problem->hidden, 1,
                         problem->dtype, problem->x, problem->router_w, problem->router_bias,
                         logits, stream));
    return bf16 ? mx_moe_topk_launch<__nv_bfloat16>(logits, problem->tokens, (int)problem->experts,
                                                    (int)problem->topk, expert_ids, expert_weights,
                                                    pair_ids, stream)
                : mx_moe_topk_launch<__half>(logits, problem->tokens, (int)problem->experts,
                                             (int)problem->topk, expert_ids, expert_weights,
                                             pair_ids, stream);
}

mx_status mx_moe_route_launch(mx_moe_context *context, const mx_moe_problem *problem, void *logits,
                              int32_t *expert_ids, float *expert_weights, int32_t *pair_ids,
                              cudaStream_t stream) {
    return mx_moe_route_group(context, problem, logits, expert_ids, expert_weights, pair_ids, NULL,
                              stream);
}

/* The gather kernel (see there): order set for the host-count path, NULL for the device one. */
mx_status mx_moe_gather_launch(const mx_moe_context *context, const mx_moe_problem *problem,
                               const int32_t *order, const mx_moe_layout *layout, char *workspace,
                               cudaStream_t stream) {
    const int threads = 256;
    const int64_t pairs = problem->tokens * problem->topk, row_chunks = problem->hidden / 8;
    MX_CUDA_CHECK(mx_launch(
        mx_moe_gather_kernel, mx_grid(pairs * row_chunks, threads), threads, stream,
        context->dependent, (const uint4 *)problem->x, order, pairs, (int)problem->topk, row_chunks,
        (int32_t *)(workspace + layout->slot_position), (uint4 *)(workspace + layout->x_grouped)));
    MX_LAUNCH_CHECK("mx_moe_gather_kernel");
    return MX_OK;
}

// ---- the layer

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

/* The FP16 reference's operands for the grouping (w1 set, device-count path), or none. */
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
 * cublasGemmBatchedEx over dense_batch experts (pointer arrays from the grouping), each
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
    /* [6][batch] as the grouping wrote them: weights, input rows, output rows, twice. */
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
mx_status mx_moe_run(mx_moe_context *context, const mx_moe_problem *problem,
                     mx_gemm_variant variant, const void *w1, const void *w2,
                     const mx_moe_layout *layout, char *workspace, cudaStream_t stream) {
    mx_gemm_problem mlp1, mlp2;
    if (layout->device_counts && !w1) { /* refused before anything is launched */
        mx_moe_batched_gemms(problem, layout, workspace, &mlp1, &mlp2);
        MX_TRY(mx_gemm_check(context->gemm, &mlp1, layout->runs, NULL, 0));
        MX_TRY(mx_gemm_check(context->gemm, &mlp2, layout->runs, NULL, 0));
    }
    int32_t *expert_ids = (int32_t *)(workspace + layout->expert_ids);
    float *expert_weights = (float *)(workspace + layout->expert_weights);
    int32_t *slot_position = (int32_t *)(workspace + layout->slot_position);
    if (layout->device_counts) {
        const mx_moe_grouping group = {(int32_t *)(workspace + layout->counts), slot_position,
                                       mx_moe_dense_operands(problem, w1, w2, layout, workspace)};
        MX_TRY(mx_moe_route_group(context, problem, workspace + layout->logits, expert_ids,
                                  expert_weights, NULL, &group, stream));
        MX_TRY(mx_moe_gather_launch(context, problem, NULL, layout, workspace, stream));
        if (w1) {
            MX_TRY(mx_moe_dense_batched(context, problem, layout, workspace, stream));
        } else {
            MX_TRY(mx_gemm(context->gemm, &mlp1, layout->runs, NULL, 0, stream));
            MX_TRY(mx_gemm(context->gemm, &mlp2, layout->runs, NULL, 0, stream));
        }
    } else {
        MX_TRY(mx_moe_route_group(context, problem, workspace + layout->logits, expert_ids,
                                  expert_weights, (int32_t *)(workspace + layout->pair_ids), NULL,
                                  stream));
        MX_TRY(mx_moe_host_counts(context, problem, variant, w1, w2, layout, workspace, stream));
    }
    const void *o = workspace + layout->o;
    /* Only the reference's batched GEMMs leave b2 out (the others add it in their GEMM). */
    const void *b2 = w1 && layout->device_counts ? problem->b2 : NULL;
    return problem->dtype == MX_BF16
               ? mx_moe_combine_launch<__nv_bfloat16>(context, o, slot_position, expert_weights, b2,
                                                      expert_ids, problem, stream)
               : mx_moe_combine_launch<__half>(context, o, slot_position, expert_weights, b2,
                                               expert_ids, problem, stream);
}
