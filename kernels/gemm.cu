/* MXFP4 GEMM family (see gemm.h). One tensor-core kernel serves skinny (8 or 16 tokens per CTA,
 * K split over CTAs) and fused (64 tokens per CTA): the weights are the MMA's 16-row A operand,
 * read straight from global memory into registers (4 packed bytes = 8 weights per thread per
 * block) and turned into FP16/BF16 E2M1 values by bit placement; the activations are the B
 * operand, staged in shared memory with each group of 8 permuted so that a thread's 4 A pairs
 * (nibbles t and t+4 of its word) meet their X pairs. Each 32-element block is summed in FP32 by
 * two m16n8k16 MMAs and scaled by its 2^s in FP32.
 * Measured figures and the command that reproduces them: docs/gemm.md. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dense_gemm.h"
#include "gemm.h"
#include "quantize.h"

struct mx_gemm_context {
    cublasHandle_t cublas;
    int sm_count;
};

enum {
    MX_WARPS = 8,                /* per CTA, each on its own 16 weight rows */
    MX_CTA_ROWS = 16 * MX_WARPS, /* weight rows (outputs n) per CTA */
    MX_CHUNK_BLOCKS = 8,         /* 32-element blocks per pipeline step */
    MX_SKINNY_MAX_M = 16,
};

// ---- kernels

/* FP16 or BF16 bits of the E2M1 pair (nibble t, nibble t + 4) of w, one per 16-bit half.
 * FP16: magnitude bits to 9..11 and the sign to 15 gives E2M1 * 2^-14 exactly (code 1 lands on
 * the FP16 subnormal 2^-15). BF16: bits 6..8 give E2M1 * 2^-126, so one multiply by 2^126
 * restores E2M1 exactly (keeping the MMA's products far from FP32 subnormals). */
template <typename T> struct mx_mma_type;

template <> struct mx_mma_type<__half> {
    static constexpr int magnitude_shift = 9;
    static constexpr uint32_t magnitude_mask = 0x0E000E00u;
    static constexpr int factor_exponent = 14; /* decoded = E2M1 * 2^-14 */
    static __device__ __forceinline__ uint32_t finish(uint32_t bits) {
        return bits;
    }
    static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <> struct mx_mma_type<__nv_bfloat16> {
    static constexpr int magnitude_shift = 6;
    static constexpr uint32_t magnitude_mask = 0x01C001C0u;
    static constexpr int factor_exponent = 0; /* decoded = E2M1 after finish() */
    static __device__ __forceinline__ uint32_t finish(uint32_t bits) {
        __nv_bfloat162 value = *reinterpret_cast<__nv_bfloat162 *>(&bits);
        __nv_bfloat162 scale = __floats2bfloat162_rn(0x1p126f, 0x1p126f);
        __nv_bfloat162 product = __hmul2(value, scale);
        return *reinterpret_cast<uint32_t *>(&product);
    }
    static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

template <int shift> __device__ __forceinline__ uint32_t mx_shift_left(uint32_t w) {
    return shift >= 0 ? w << (shift & 31) : w >> ((-shift) & 31);
}

template <typename T, int t> __device__ __forceinline__ uint32_t mx_decode_pair(uint32_t w) {
    using traits = mx_mma_type<T>;
    uint32_t magnitude = mx_shift_left<traits::magnitude_shift - 4 * t>(w) & traits::magnitude_mask;
    uint32_t sign = mx_shift_left<12 - 4 * t>(w) & 0x80008000u;
    return traits::finish(magnitude | sign);
}

/* FP32 factor that turns a block's decoded partial sum into exact units: 2^(s + factor_exponent)
 * (NaN for scale 0xFF; FP32 overflow beyond scale byte 240 for FP16, see gemm.h). */
template <typename T> __device__ __forceinline__ float mx_block_factor(uint8_t scale_byte) {
    if (scale_byte == MX_SCALE_NAN) return __int_as_float(0x7FC00000);
    int exponent = (int)scale_byte - MX_SCALE_BIAS + mx_mma_type<T>::factor_exponent;
    if (exponent > 127) return __int_as_float(0x7F800000);
    if (exponent >= -126) return __int_as_float((exponent + 127) << 23);
    return __int_as_float(0x00400000 >> (-127 - exponent)); /* 2^-127: BF16 path, scale 0 */
}

struct mx_gemm_params {
    const void *x, *bias;
    const uint8_t *w_blocks, *w_scales;
    void *y;
    float *partials;    /* [tiles][splits][tokens][MX_CTA_ROWS], split-K only */
    unsigned *counters; /* one per (row tile, token tile, batch), split-K only */
    int64_t m, n, k;
    int token_tiles; /* per batch entry */
    int splits, blocks_per_split;
};

template <typename T, int TT>
static __global__ void __launch_bounds__(MX_WARPS * 32) mx_gemm_kernel(const mx_gemm_params p) {
    constexpr int tokens = 8 * TT;
    /* shared row pitch (16-bit units) puts rows 16 banks apart: the two rows one 8-thread
     * phase reads never collide. Blocks per step: 8 keeps 16 weight loads in flight per thread; the
     * 64-token tile needs its registers for accumulators and takes 4. */
    constexpr int chunk_blocks = MX_CHUNK_BLOCKS;
    constexpr int chunk_k = 32 * chunk_blocks, x_pitch = chunk_k + 32;
    constexpr int x_vectors = tokens * chunk_k / 8; /* uint4 per chunk */
    constexpr int vectors_per_thread = (x_vectors + MX_WARPS * 32 - 1) / (MX_WARPS * 32);
    __shared__ __align__(16) uint16_t x_tile[tokens * x_pitch];
    __shared__ int is_last_split;

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int group = lane >> 2, quad = lane & 3;
    const int batch_index = blockIdx.z / p.token_tiles;
    const int64_t token0 = (int64_t)(blockIdx.z % p.token_tiles) * tokens;
    const int64_t row_base = (int64_t)blockIdx.x * MX_CTA_ROWS + warp * 16 + group;
    const int64_t k_blocks = p.k / MX_BLOCK_SIZE;
    const int64_t block_begin = (int64_t)blockIdx.y * p.blocks_per_split;
    const int64_t block_end = min(block_begin + p.blocks_per_split, k_blocks);

    const T *x = (const T *)p.x + (int64_t)batch_index * p.m * p.k;
    const uint8_t *w_blocks = p.w_blocks + (int64_t)batch_index * p.n * p.k / 2;
    const uint8_t *w_scales = p.w_scales + (int64_t)batch_index * p.n * k_blocks;
    const bool row_ok[2] = {row_base < p.n, row_base + 8 < p.n};

    float acc[TT][4] = {};
    uint32_t words[chunk_blocks][2];
    uint8_t scales[chunk_blocks][2];
    uint4 x_next[vectors_per_thread];

    /* Global -> registers for the chunk starting at block b0: the warp's weight words and
     * scales, and this thread's share of the activation tile (zero outside m and the K range,
     * so that padded lanes contribute exact zeros). */
    auto load_chunk = [&](int64_t b0) {
#pragma unroll
        for (int j = 0; j < chunk_blocks; j++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int64_t row = row_base + 8 * h, block = b0 + j;
                bool ok = row_ok[h] && block < block_end;
                words[j][h] = ok ? __ldg((const uint32_t *)(w_blocks + row * (p.k / 2) +
                                                            block * MX_BLOCK_BYTES) +
                                         quad)
                                 : 0u;
                scales[j][h] = ok ? __ldg(w_scales + row * k_blocks + block) : (uint8_t)0;
            }
        }
#pragma unroll
        for (int v = 0; v < vectors_per_thread; v++) {
            int index = threadIdx.x + v * MX_WARPS * 32;
            int token = index / (chunk_k / 8), group8 = index % (chunk_k / 8);
            int64_t element = b0 * MX_BLOCK_SIZE + group8 * 8;
            bool ok =
                index < x_vectors && token0 + token < p.m && element < block_end * MX_BLOCK_SIZE;
            x_next[v] = ok ? __ldg((const uint4 *)(x + (token0 + token) * p.k + element))
                           : make_uint4(0, 0, 0, 0);
        }
    };
    /* Registers -> shared, each 8 activations reordered to the pairs (0,4) (1,5) (2,6) (3,7). */
    auto store_x = [&]() {
#pragma unroll
        for (int v = 0; v < vectors_per_thread; v++) {
            int index = threadIdx.x + v * MX_WARPS * 32;
            if (index >= x_vectors) continue;
            int token = index / (chunk_k / 8), group8 = index % (chunk_k / 8);
            uint4 in = x_next[v], out;
            out.x = __byte_perm(in.x, in.z, 0x5410);
            out.y = __byte_perm(in.x, in.z, 0x7632);
            out.z = __byte_perm(in.y, in.w, 0x5410);
            out.w = __byte_perm(in.y, in.w, 0x7632);
            *(uint4 *)(x_tile + token * x_pitch + group8 * 8) = out;
        }
    };

    load_chunk(block_begin);
    for (int64_t b0 = block_begin; b0 < block_end; b0 += chunk_blocks) {
        uint32_t chunk_words[chunk_blocks][2];
        uint8_t chunk_scales[chunk_blocks][2];
#pragma unroll
        for (int j = 0; j < chunk_blocks; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                chunk_words[j][h] = words[j][h];
                chunk_scales[j][h] = scales[j][h];
            }
        __syncthreads(); /* the previous chunk's readers are done with x_tile */
        store_x();
        __syncthreads();
        if (b0 + chunk_blocks < block_end) load_chunk(b0 + chunk_blocks);

#pragma unroll
        for (int j = 0; j < chunk_blocks; j++) {
            uint32_t a0[4], a1[4];
            const uint32_t w0 = chunk_words[j][0], w1 = chunk_words[j][1];
            a0[0] = mx_decode_pair<T, 0>(w0);
            a0[1] = mx_decode_pair<T, 0>(w1);
            a0[2] = mx_decode_pair<T, 1>(w0);
            a0[3] = mx_decode_pair<T, 1>(w1);
            a1[0] = mx_decode_pair<T, 2>(w0);
            a1[1] = mx_decode_pair<T, 2>(w1);
            a1[2] = mx_decode_pair<T, 3>(w0);
            a1[3] = mx_decode_pair<T, 3>(w1);
            const float factor0 = mx_block_factor<T>(chunk_scales[j][0]);
            const float factor1 = mx_block_factor<T>(chunk_scales[j][1]);
#pragma unroll
            for (int tt = 0; tt < TT; tt++) {
                uint4 b = *(const uint4 *)(x_tile + (tt * 8 + group) * x_pitch + j * 32 + quad * 8);
                float block_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                mx_mma_type<T>::mma(block_sum, a0, b.x, b.y);
                mx_mma_type<T>::mma(block_sum, a1, b.z, b.w);
                acc[tt][0] = fmaf(block_sum[0], factor0, acc[tt][0]);
                acc[tt][1] = fmaf(block_sum[1], factor0, acc[tt][1]);
                acc[tt][2] = fmaf(block_sum[2], factor1, acc[tt][2]);
                acc[tt][3] = fmaf(block_sum[3], factor1, acc[tt][3]);
            }
        }
    }

    const T *bias = p.bias ? (const T *)p.bias + (int64_t)batch_index * p.n : nullptr;
    T *y = (T *)p.y + (int64_t)batch_index * p.m * p.n;
    if (p.splits == 1) {
#pragma unroll
        for (int tt = 0; tt < TT; tt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                int64_t token = token0 + tt * 8 + 2 * quad + (c & 1), row = row_base + 8 * (c >> 1);
                if (token < p.m && row < p.n) {
                    float value = acc[tt][c] + (bias ? (float)bias[row] : 0.0f);
                    y[token * p.n + row] = (T)value;
                }
            }
        return;
    }

    /* Split-K: every split stores its partial tile; the last to arrive sums them in split order
     * (deterministic) and writes Y. */
    const int64_t tile = (int64_t)blockIdx.z * gridDim.x + blockIdx.x;
    const int tile_elements = tokens * MX_CTA_ROWS;
    float *tile_partials = p.partials + tile * p.splits * tile_elements;
#pragma unroll
    for (int tt = 0; tt < TT; tt++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int token = tt * 8 + 2 * quad + (c & 1), row = warp * 16 + group + 8 * (c >> 1);
            tile_partials[blockIdx.y * tile_elements + token * MX_CTA_ROWS + row] = acc[tt][c];
        }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0)
        is_last_split = atomicAdd(&p.counters[tile], 1u) == (unsigned)p.splits - 1;
    __syncthreads();
    if (!is_last_split) return;
    __threadfence();
    for (int e = threadIdx.x; e < tile_elements; e += MX_WARPS * 32) {
        int64_t token = token0 + e / MX_CTA_ROWS,
                row = (int64_t)blockIdx.x * MX_CTA_ROWS + e % MX_CTA_ROWS;
        if (token >= p.m || row >= p.n) continue;
        float sum = bias ? (float)bias[row] : 0.0f;
        for (int s = 0; s < p.splits; s++) sum += __ldcg(tile_partials + s * tile_elements + e);
        y[token * p.n + row] = (T)sum;
    }
}

// ---- launchers

/* Launch geometry of the tensor-core kernel for a problem. */
typedef struct {
    int token_tile_count; /* 1: 8 tokens, 2: 16, 8: 64 */
    int tokens;
    dim3 grid;
    int splits, blocks_per_split;
    size_t workspace_bytes;
} mx_mma_plan;

static mx_mma_plan mx_plan_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                               mx_gemm_variant variant) {
    mx_mma_plan plan;
    plan.token_tile_count = variant == MX_GEMM_SKINNY ? (problem->m <= 8 ? 1 : 2) : 8;
    plan.tokens = 8 * plan.token_tile_count;
    int64_t row_tiles = (problem->n + MX_CTA_ROWS - 1) / MX_CTA_ROWS;
    int64_t token_tiles = (problem->m + plan.tokens - 1) / plan.tokens;
    int64_t ctas = row_tiles * token_tiles * problem->batch;
    int64_t k_blocks = problem->k / MX_BLOCK_SIZE;
    /* Split K until there are about four CTAs per SM (enough loads in flight to stream the
     * weights), keeping at least one chunk of blocks per split. */
    int64_t target = 4 * (int64_t)context->sm_count;
    int64_t splits = ctas >= target ? 1 : (target + ctas - 1) / ctas;
    int64_t max_splits = (k_blocks + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS;
    if (splits > max_splits) splits = max_splits;
    int64_t per_split = (k_blocks + splits - 1) / splits;
    per_split = (per_split + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS * MX_CHUNK_BLOCKS;
    splits = (k_blocks + per_split - 1) / per_split;
    plan.splits = (int)splits;
    plan.blocks_per_split = (int)per_split;
    plan.grid =
        dim3((unsigned)row_tiles, (unsigned)splits, (unsigned)(token_tiles * problem->batch));
    size_t tiles = (size_t)row_tiles * token_tiles * problem->batch;
    plan.workspace_bytes =
        splits == 1 ? 0
                    : tiles * sizeof(unsigned) + 256 +
                          tiles * (size_t)splits * plan.tokens * MX_CTA_ROWS * sizeof(float);
    return plan;
}

template <typename T, int TT>
static mx_status mx_gemm_mma_launch(const mx_gemm_params &params, dim3 grid, cudaStream_t stream) {
    mx_gemm_kernel<T, TT><<<grid, MX_WARPS * 32, 0, stream>>>(params);
    MX_LAUNCH_CHECK("mx_gemm_kernel");
    return MX_OK;
}

template <typename T>
static mx_status mx_gemm_mma_dispatch(const mx_gemm_params &params, const mx_mma_plan &plan,
                                      cudaStream_t stream) {
    switch (plan.token_tile_count) {
    case 1:
        return mx_gemm_mma_launch<T, 1>(params, plan.grid, stream);
    case 2:
        return mx_gemm_mma_launch<T, 2>(params, plan.grid, stream);
    default:
        return mx_gemm_mma_launch<T, 8>(params, plan.grid, stream);
    }
}

static mx_status mx_gemm_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, void *workspace, cudaStream_t stream) {
    mx_mma_plan plan = mx_plan_mma(context, problem, variant);
    mx_gemm_params params;
    params.x = problem->x;
    params.bias = problem->bias;
    params.w_blocks = problem->w_blocks;
    params.w_scales = problem->w_scales;
    params.y = problem->y;
    params.m = problem->m;
    params.n = problem->n;
    params.k = problem->k;
    params.token_tiles = (int)((problem->m + plan.tokens - 1) / plan.tokens);
    params.splits = plan.splits;
    params.blocks_per_split = plan.blocks_per_split;
    size_t tiles = (size_t)plan.grid.x * plan.grid.z;
    params.counters = (unsigned *)workspace;
    /* The split-K arrival counters start at zero on every call, whatever the workspace held. */
    if (plan.splits > 1)
        MX_CUDA_CHECK(cudaMemsetAsync(params.counters, 0, tiles * sizeof(unsigned), stream));
    params.partials =
        workspace ? (float *)((char *)workspace + (tiles * sizeof(unsigned) + 255) / 256 * 256)
                  : nullptr;
    return problem->dtype == MX_BF16 ? mx_gemm_mma_dispatch<__nv_bfloat16>(params, plan, stream)
                                     : mx_gemm_mma_dispatch<__half>(params, plan, stream);
}

// ---- public entry points

static const char *const mx_variant_names[MX_GEMM_VARIANT_COUNT] = {"auto", "fused", "skinny",
                                                                    "dequant_cublas", "persistent"};

extern "C" const char *mx_gemm_variant_name(mx_gemm_variant variant) {
    return (unsigned)variant < MX_GEMM_VARIANT_COUNT ? mx_variant_names[variant] : "unknown";
}

extern "C" mx_status mx_gemm_variant_from_name(const char *name, mx_gemm_variant *variant) {
    for (int v = 0; name && v < MX_GEMM_VARIANT_COUNT; v++)
        if (strcmp(name, mx_variant_names[v]) == 0) {
            *variant = (mx_gemm_variant)v;
            return MX_OK;
        }
    return mx_fail(MX_ERR_INVALID_ARGUMENT,
                   "unknown GEMM variant '%s': expected auto, fused, skinny, dequant_cublas or "
                   "persistent",
                   name ? name : "(null)");
}

extern "C" mx_status mx_gemm_context_create(mx_gemm_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = nullptr;
    int device = 0;
    MX_CUDA_CHECK(cudaGetDevice(&device));
    int sm_count = 0;
    MX_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
    mx_gemm_context *created = (mx_gemm_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate a GEMM context");
    created->sm_count = sm_count;
    cublasStatus_t status = cublasCreate(&created->cublas);
    if (status != CUBLAS_STATUS_SUCCESS) {
        free(created);
        return mx_cublas_fail(status, "cublasCreate", __FILE__, __LINE__);
    }
    *context = created;
    return MX_OK;
}

extern "C" void mx_gemm_context_destroy(mx_gemm_context *context) {
    if (!context) return;
    cublasDestroy(context->cublas);
    free(context);
}

extern "C" mx_gemm_variant mx_gemm_choose(const mx_gemm_context *context,
                                          const mx_gemm_problem *problem) {
    (void)context;
    return problem->m <= MX_SKINNY_MAX_M ? MX_GEMM_SKINNY : MX_GEMM_FUSED;
}

static mx_gemm_variant mx_resolve(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                  mx_gemm_variant variant) {
    return variant == MX_GEMM_AUTO ? mx_gemm_choose(context, problem) : variant;
}

extern "C" size_t mx_gemm_workspace_bytes(const mx_gemm_context *context,
                                          const mx_gemm_problem *problem, mx_gemm_variant variant) {
    variant = mx_resolve(context, problem, variant);
    if (variant == MX_GEMM_DEQUANT_CUBLAS || variant == MX_GEMM_PERSISTENT)
        return (size_t)(problem->batch * problem->n * problem->k * 2);
    return mx_plan_mma(context, problem, variant).workspace_bytes;
}

extern "C" mx_vram_report mx_gemm_vram(const mx_gemm_context *context,
                                       const mx_gemm_problem *problem, mx_gemm_variant variant) {
    mx_vram_report report;
    int64_t weights = problem->batch * problem->n * problem->k;
    report.weight_bytes_fp16 = weights * 2;
    report.weight_bytes_mxfp4 = weights / 2 + weights / MX_BLOCK_SIZE;
    report.workspace_bytes = (int64_t)mx_gemm_workspace_bytes(context, problem, variant);
    report.savings = 1.0 - (double)(report.weight_bytes_mxfp4 + report.workspace_bytes) /
                               (double)report.weight_bytes_fp16;
    return report;
}

static mx_status mx_check_problem(const mx_gemm_problem *problem) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->m <= 0 || problem->batch <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "m = %lld, batch = %lld: expected both > 0",
                       (long long)problem->m, (long long)problem->batch);
    MX_TRY(mx_check_shape(problem->n, problem->k));
    if (problem->m > INT32_MAX / 2 || problem->n > INT32_MAX / 2 || problem->batch > 65535)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "m = %lld, n = %lld, batch = %lld: supported up to 2^30, 2^30, 65535",
                       (long long)problem->m, (long long)problem->n, (long long)problem->batch);
    if (problem->dtype != MX_F16 && problem->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)problem->dtype);
    MX_TRY(mx_check_pointer(problem->x, 16, "x"));
    MX_TRY(mx_check_pointer(problem->w_blocks, 16, "w_blocks"));
    MX_TRY(mx_check_pointer(problem->w_scales, 1, "w_scales"));
    MX_TRY(mx_check_pointer(problem->y, 4, "y"));
    if (problem->bias) MX_TRY(mx_check_pointer(problem->bias, 2, "bias"));
    return MX_OK;
}

static mx_status mx_check_workspace(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                    mx_gemm_variant variant, const void *workspace,
                                    size_t workspace_bytes) {
    size_t needed = mx_gemm_workspace_bytes(context, problem, variant);
    if (workspace_bytes < needed || (needed > 0 && !workspace))
        return mx_fail(MX_ERR_WORKSPACE,
                       "variant %s needs %zu workspace bytes for m=%lld n=%lld k=%lld batch=%lld; "
                       "got %zu%s",
                       mx_gemm_variant_name(variant), needed, (long long)problem->m,
                       (long long)problem->n, (long long)problem->k, (long long)problem->batch,
                       workspace_bytes, workspace ? "" : " (NULL)");
    if (needed > 0) MX_TRY(mx_check_pointer(workspace, 256, "workspace"));
    return MX_OK;
}

extern "C" mx_status mx_gemm_persistent_prepare(mx_gemm_context *context,
                                                const mx_gemm_problem *problem, void *workspace,
                                                size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_check_problem(problem));
    MX_TRY(mx_check_workspace(context, problem, MX_GEMM_PERSISTENT, workspace, workspace_bytes));
    return mx_dequantize(problem->w_blocks, problem->w_scales, problem->batch * problem->n,
                         problem->k, problem->dtype, workspace, stream);
}

extern "C" mx_status mx_gemm(mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    if ((unsigned)variant >= MX_GEMM_VARIANT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "variant = %d: not an mx_gemm_variant",
                       (int)variant);
    MX_TRY(mx_check_problem(problem));
    variant = mx_resolve(context, problem, variant);
    MX_TRY(mx_check_workspace(context, problem, variant, workspace, workspace_bytes));
    nvtxRangePushA(mx_gemm_variant_name(variant));
    mx_status status = MX_OK;
    switch (variant) {
    case MX_GEMM_DEQUANT_CUBLAS:
        status = mx_dequantize(problem->w_blocks, problem->w_scales, problem->batch * problem->n,
                               problem->k, problem->dtype, workspace, stream);
        if (status != MX_OK) break;
        [[fallthrough]]; /* the GEMM on the freshly dequantized weights */
    case MX_GEMM_PERSISTENT:
        status =
            mx_dense_gemm(context->cublas, problem->m, problem->n, problem->k, problem->batch,
                          problem->dtype, problem->x, workspace, problem->bias, problem->y, stream);
        break;
    default:
        status = mx_gemm_mma(context, problem, variant, workspace, stream);
        break;
    }
    nvtxRangePop();
    return status;
}

extern "C" mx_status mx_gemm_profile(mx_gemm_context *context, const mx_gemm_problem *problem,
                                     mx_gemm_variant variant, void *workspace,
                                     size_t workspace_bytes, int iterations, cudaStream_t stream,
                                     float *mean_us) {
    if (iterations <= 0 || !mean_us)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "iterations = %d (expected > 0), mean_us %s",
                       iterations, mean_us ? "set" : "NULL");
    char name[160];
    snprintf(name, sizeof name, "mx_gemm %s m=%lld n=%lld k=%lld batch=%lld",
             mx_gemm_variant_name(variant), (long long)problem->m, (long long)problem->n,
             (long long)problem->k, (long long)problem->batch);
    cudaEvent_t start, stop;
    MX_CUDA_CHECK(cudaEventCreate(&start));
    MX_CUDA_CHECK(cudaEventCreate(&stop));
    nvtxRangePushA(name);
    mx_status status = MX_OK;
    cudaError_t error = cudaEventRecord(start, stream);
    for (int i = 0; i < iterations && status == MX_OK && error == cudaSuccess; i++)
        status = mx_gemm(context, problem, variant, workspace, workspace_bytes, stream);
    if (error == cudaSuccess) error = cudaEventRecord(stop, stream);
    if (error == cudaSuccess) error = cudaEventSynchronize(stop);
    float total_ms = 0.0f;
    if (error == cudaSuccess) error = cudaEventElapsedTime(&total_ms, start, stop);
    nvtxRangePop();
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    if (status != MX_OK) return status;
    if (error != cudaSuccess)
        return mx_cuda_fail(error, "mx_gemm_profile timing", __FILE__, __LINE__);
    *mean_us = total_ms * 1000.0f / (float)iterations;
    return MX_OK;
}
