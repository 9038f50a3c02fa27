/* MXFP4 GEMM family (see gemm.h). One tensor-core kernel serves skinny (8 or 16 tokens per CTA)
 * and fused (64 tokens per CTA). Weights, scales and activations stream into shared memory
 * through a 4-stage cp.async pipeline; each warp owns 16 weight rows as the m16n8k16 MMA's A
 * operand, turned into FP16/BF16 E2M1 values in registers by bit placement (4 packed bytes = 8
 * weights per thread and block); activations are the B operand, paired at read time so that a
 * thread's weight pairs (nibbles t, t + 4) meet theirs. Each 32-element block is summed in FP32
 * by two MMAs and scaled by its 2^s in FP32. Split-K (small m) runs the splits of a tile as a
 * thread-block cluster and reduces them through distributed shared memory: no workspace, no
 * counters, deterministic. The epilogue (bias; or bias, activation, residual) is a template
 * parameter applied to the reduced FP32 sums in registers; a gated unit meets its (gate, linear)
 * rows in neighbouring lanes (lane ^ 4) or, after split-K, as adjacent elements of the tile.
 * Regime and figures (H200): docs/gemm.md, `make bench`. */
#include <cuda_bf16.h>
#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.cuh"
#include "check.h"
#include "dense_gemm.h"
#include "gemm.h"
#include "quantize.h"

struct mx_gemm_context {
    cublasHandle_t cublas;
    int sm_count;
    int device;    /* the device it was created on */
    bool clusters; /* thread-block clusters (sm_90+): split-K reduces in distributed smem */
};

enum {
    MX_MAX_SPLITS = 8, /* portable thread-block cluster size */
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

/* FP16/BF16 bits of the E2M1 pair (nibble t, nibble t + 4) of w: magnitude bits moved to
 * magnitude_shift, sign to bit 15, in each half. signs = w << (12 - magnitude_shift), shared by
 * the four pairs of a word, lets one LOP3 and one shift place both for t with a left shift. */
template <typename T, int t>
__device__ __forceinline__ uint32_t mx_decode_pair(uint32_t w, uint32_t signs) {
    using traits = mx_mma_type<T>;
    constexpr int shift = traits::magnitude_shift - 4 * t;
    constexpr uint32_t sign_mask = 0x80008000u;
    uint32_t bits;
    if constexpr (shift >= 0)
        bits = ((w & (traits::magnitude_mask >> shift)) | (signs & (sign_mask >> shift))) << shift;
    else
        bits = ((w >> -shift) & traits::magnitude_mask) | ((w << (12 - 4 * t)) & sign_mask);
    return traits::finish(bits);
}

/* FP32 factor that turns a block's decoded partial sum into exact units: 2^(s + factor_exponent),
 * NaN for scale 0xFF, +Inf where that overflows FP32 (FP16 path, scale byte > 240: see gemm.h),
 * 2^-127 for the BF16 path's scale byte 0. Selects, no branches: it runs for every block. */
template <typename T> __device__ __forceinline__ float mx_block_factor(uint32_t scale_byte) {
    int field = (int)scale_byte + mx_mma_type<T>::factor_exponent; /* biased FP32 exponent */
    uint32_t bits = field >= 1 ? (uint32_t)field << 23 : 0x00400000u;
    bits = field > 254 ? 0x7F800000u : bits;
    bits = scale_byte == MX_SCALE_NAN ? 0x7FC00000u : bits;
    return __uint_as_float(bits);
}

struct mx_gemm_params {
    const void *x, *bias;
    const uint8_t *w_blocks, *w_scales;
    void *y;
    const void *residual;      /* [batch, m, out] or NULL (epilogue kinds but MX_EPILOGUE_BIAS) */
    const int32_t *batch_rows; /* [batch] valid rows per entry, or NULL: all m */
    mx_activation activation;
    int64_t m, n, k, batch;
    int token_tiles; /* per batch entry */
    int splits, blocks_per_split;
};

/* What the tensor-core kernel does with a finished FP32 sum, fixed at compile time so that the
 * plain product keeps its own code: bias only (the plain GEMM); bias, an ungated activation
 * (none or GELU) and the residual; or bias, a gated unit and the residual, reading the pair of
 * weight rows (2j gate, 2j + 1 linear) and writing output column j of n / 2. */
enum mx_epilogue_kind { MX_EPILOGUE_BIAS = 0, MX_EPILOGUE_ACT, MX_EPILOGUE_GATED };

/* Output columns per token: n / 2 for a gated unit, n otherwise. */
template <int E> __device__ __forceinline__ int64_t mx_out_width(const mx_gemm_params &p) {
    return E == MX_EPILOGUE_GATED ? p.n / 2 : p.n;
}

/* Writes output (token, column) of the CTA's batch entry (y and residual point at its [m, out]
 * part) from its FP32 value: the bias is already in, and for the gated kind so is the gated
 * unit; the rest of the epilogue (activation.cuh) happens here. */
template <typename T, int E>
__device__ __forceinline__ void mx_write_output(const mx_gemm_params &p, T *y, const T *residual,
                                                int64_t token, int64_t column, float value) {
    if constexpr (E == MX_EPILOGUE_BIAS) {
        y[token * p.n + column] = (T)value;
    } else {
        const int64_t out = mx_out_width<E>(p);
        if constexpr (E == MX_EPILOGUE_ACT) value = mx_act(p.activation, value);
        /* Read before the write by the same thread: residual may be y itself. */
        if (residual) value += (float)residual[token * out + column];
        y[token * out + column] = (T)value;
    }
}

/* With batch_rows: the index-th token tile that holds valid rows, counting entry by entry in
 * batch order (entry b has ceil(min(m, batch_rows[b]) / tokens) of them). Every warp computes
 * it alone (32 entries per step: a prefix sum of their tile counts by shuffles), so no barrier
 * is needed and every thread of a CTA, and every CTA of a cluster (same blockIdx.z), gets the
 * same answer. False when there are at most index such tiles: the CTA has nothing to do. */
__device__ __forceinline__ bool mx_valid_tile(const mx_gemm_params &p, int tokens, int index,
                                              int &batch_index, int &tile, int64_t &rows) {
    const int lane = threadIdx.x & 31;
    int before = 0; /* tiles of the entries before this step's 32 */
    for (int64_t base = 0; base < p.batch; base += 32) {
        const int64_t entry = base + lane;
        const int count = entry < p.batch ? __ldg(p.batch_rows + entry) : 0;
        const int valid = (int)min(p.m, (int64_t)max(count, 0));
        /* Capped so that the sums stay small: index < 65536 (the grid's z), and an entry with
         * at least that many tiles owns index either way. */
        const int tiles = min((valid + tokens - 1) / tokens, 65536);
        int through = tiles; /* inclusive prefix sum over the lanes */
#pragma unroll
        for (int offset = 1; offset < 32; offset <<= 1) {
            int other = __shfl_up_sync(0xFFFFFFFFu, through, offset);
            if (lane >= offset) through += other;
        }
        /* The first lane whose tiles reach past index owns it (a lane without tiles never is
         * the first: its sum equals its predecessor's). */
        const unsigned reached = __ballot_sync(0xFFFFFFFFu, before + through > index);
        if (reached) {
            const int owner = __ffs(reached) - 1;
            const int owner_through = __shfl_sync(0xFFFFFFFFu, through, owner);
            const int owner_tiles = __shfl_sync(0xFFFFFFFFu, tiles, owner);
            batch_index = (int)base + owner;
            tile = index - (before + owner_through - owner_tiles);
            rows = __shfl_sync(0xFFFFFFFFu, valid, owner);
            return true;
        }
        before += __shfl_sync(0xFFFFFFFFu, through, 31);
    }
    return false;
}

/* Shared-memory geometry of one instantiation: STAGES slots, each holding CB blocks of the CTA's
 * weight rows (16 bytes per row and block, XOR-swizzled so that the 8 rows a warp reads at
 * once fall in different banks), their CB scale bytes per row, and CB blocks of the 8*TT
 * activation rows (pitch padded by 64 bytes so that two rows read together are 16 banks apart).
 * Scales are kept as the FP32 factors of mx_block_factor, computed once by the thread that
 * stages them rather than by each of the 4 threads that read them. */
template <int TT> struct mx_tile_shape {
    static constexpr int tokens = 8 * TT;
    /* Measured on H200 (docs/gemm.md): for 8 tokens, 4 warps x 3 stages x 4 CTAs per SM beat
     * 8 warps x 4 stages x 2 CTAs by about 10 %: shorter barriers, more independent CTAs. */
    static constexpr int warps = TT >= 8 ? 8 : 4;        /* each on its own 16 weight rows */
    static constexpr int rows = 16 * warps;              /* weight rows (outputs n) per CTA */
    static constexpr int chunk_blocks = TT >= 8 ? 4 : 8; /* blocks per pipeline stage */
    static constexpr int stages = 3;
    static constexpr int ctas_per_sm = TT == 1 ? 4 : TT == 2 ? 3 : 2;
    static constexpr int w_stage_bytes = rows * chunk_blocks * MX_BLOCK_BYTES;
    static constexpr int scale_stage_bytes = rows * chunk_blocks * 4;
    static constexpr int x_pitch = 32 * chunk_blocks + 32; /* 16-bit elements */
    static constexpr int x_stage_bytes = tokens * x_pitch * 2;
    static constexpr int smem_bytes = stages * (w_stage_bytes + scale_stage_bytes + x_stage_bytes);
    static constexpr int threads = warps * 32;
    static constexpr int scales_per_thread = rows * chunk_blocks / threads;
    static_assert(tokens * rows * 4 <= smem_bytes, "split-K partials fit the pipeline");
    static_assert(ctas_per_sm * (smem_bytes + 1024) <= 228 * 1024, "resident CTAs fit an SM");
    static_assert(scales_per_thread * threads == rows * chunk_blocks, "staging covers a stage");
};

/* 16 bytes global -> shared without passing through registers; valid == false writes zeros. */
__device__ __forceinline__ void mx_copy16(uint32_t shared, const void *global, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared), "l"(global),
                 "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void mx_copy_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int pending> __device__ __forceinline__ void mx_copy_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

/* Pipeline: weights and activations stream into shared memory by cp.async, STAGES - 1 steps
 * ahead. Scale bytes cannot (a row's scales have no alignment), so each thread loads its share
 * into registers one step before it stores them, two steps before they are read. */
template <typename T, int TT, int E>
static __global__ void __launch_bounds__(mx_tile_shape<TT>::threads, mx_tile_shape<TT>::ctas_per_sm)
    mx_gemm_kernel(const mx_gemm_params p) {
    using shape = mx_tile_shape<TT>;
    constexpr int tokens = shape::tokens, CB = shape::chunk_blocks, stages = shape::stages;
    constexpr int threads = shape::threads, SPT = shape::scales_per_thread;
    extern __shared__ __align__(16) uint8_t smem[];
    uint8_t *w_tile = smem;
    float *factor_tile = (float *)(smem + stages * shape::w_stage_bytes);
    uint16_t *x_tile =
        (uint16_t *)(smem + stages * (shape::w_stage_bytes + shape::scale_stage_bytes));

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int group = lane >> 2, quad = lane & 3;
    int batch_index = blockIdx.z / p.token_tiles;
    int64_t token0 = (int64_t)(blockIdx.z % p.token_tiles) * tokens;
    int64_t m_valid = p.m; /* rows of this batch entry that exist */
    if (p.batch_rows) {
        /* The grid's token tiles are the valid ones, packed. The whole CTA, and its whole
         * cluster, leaves here together before any load, barrier or shared-memory access. */
        int tile = 0;
        if (!mx_valid_tile(p, tokens, (int)blockIdx.z, batch_index, tile, m_valid)) return;
        token0 = (int64_t)tile * tokens;
    }
    const int64_t row0 = (int64_t)blockIdx.x * shape::rows;
    const int64_t k_blocks = p.k / MX_BLOCK_SIZE;
    const int64_t block_begin = (int64_t)blockIdx.y * p.blocks_per_split;
    const int64_t block_end = min(block_begin + p.blocks_per_split, k_blocks);
    const int steps = (int)((block_end - block_begin + CB - 1) / CB);

    const T *x = (const T *)p.x + (int64_t)batch_index * p.m * p.k;
    const uint8_t *w_blocks = p.w_blocks + (int64_t)batch_index * p.n * p.k / 2;
    const uint8_t *w_scales = p.w_scales + (int64_t)batch_index * p.n * k_blocks;
    const uint32_t w_shared = (uint32_t)__cvta_generic_to_shared(w_tile);
    const uint32_t x_shared = (uint32_t)__cvta_generic_to_shared(x_tile);

    /* This thread's copy assignments, fixed for the whole loop: block j_copy of weight rows
     * row_copy + i * (threads / CB); activation chunks of tokens token_copy + i * ...; the
     * scales of row scale_row, blocks scale_j .. scale_j + SPT - 1 of each step. */
    constexpr int w_copies = shape::rows * CB / threads, rows_per_pass = threads / CB;
    const int j_copy = threadIdx.x % CB, row_copy = threadIdx.x / CB;
    constexpr int x_chunks = tokens * CB * 4; /* 16 bytes = 8 activations each */
    constexpr int x_copies = (x_chunks + threads - 1) / threads;
    const int scale_row = threadIdx.x / (CB / SPT), scale_j = threadIdx.x % (CB / SPT) * SPT;
    const bool scale_row_ok = row0 + scale_row < p.n;

    /* Copy sources and targets are computed once; a step only adds s * CB blocks. The weight
     * rows of one thread are rows_per_pass apart, a multiple of 8, so they share one swizzle. */
    static_assert(rows_per_pass % 8 == 0, "one swizzle position per thread");
    const uint8_t *w_source =
        w_blocks + (row0 + row_copy) * (p.k / 2) + (block_begin + j_copy) * MX_BLOCK_BYTES;
    const int64_t w_pass_bytes = (int64_t)rows_per_pass * (p.k / 2);
    const uint32_t w_target =
        (uint32_t)(row_copy * CB + (j_copy ^ ((row_copy / (8 / CB)) & (CB - 1)))) * 16;
    uint32_t w_rows_ok = 0; /* bit i: weight row row_copy + i * rows_per_pass exists */
#pragma unroll
    for (int i = 0; i < w_copies; i++)
        w_rows_ok |= (uint32_t)(row0 + row_copy + i * rows_per_pass < p.n) << i;
    const T *x_source[x_copies];
    uint32_t x_target[x_copies];
    int x_block[x_copies]; /* block of the step the chunk belongs to */
    bool x_ok[x_copies];
#pragma unroll
    for (int i = 0; i < x_copies; i++) {
        int chunk = threadIdx.x + i * threads;
        int token = chunk / (CB * 4), part = chunk % (CB * 4);
        x_ok[i] = chunk < x_chunks && token0 + token < m_valid;
        x_source[i] =
            x + (token0 + (x_ok[i] ? token : 0)) * p.k + block_begin * MX_BLOCK_SIZE + part * 8;
        x_target[i] = (uint32_t)(token * shape::x_pitch + part * 8) * 2;
        x_block[i] = part / 4;
    }
    const uint8_t *scale_source =
        w_scales + (row0 + (scale_row_ok ? scale_row : 0)) * k_blocks + block_begin + scale_j;

    auto issue = [&](int s) {
        const int slot = s % stages;
        const int64_t left = block_end - (block_begin + (int64_t)s * CB); /* blocks in range */
        const uint32_t w_slot = w_shared + slot * shape::w_stage_bytes + w_target;
        const uint8_t *w_step = w_source + (int64_t)s * CB * MX_BLOCK_BYTES;
#pragma unroll
        for (int i = 0; i < w_copies; i++) {
            bool valid = j_copy < left && ((w_rows_ok >> i) & 1u);
            mx_copy16(w_slot + i * rows_per_pass * CB * 16,
                      valid ? w_step + i * w_pass_bytes : w_blocks, valid);
        }
        const uint32_t x_slot = x_shared + slot * shape::x_stage_bytes;
#pragma unroll
        for (int i = 0; i < x_copies; i++) {
            if (x_chunks % threads != 0 && threadIdx.x + i * threads >= x_chunks) break;
            bool valid = x_ok[i] && x_block[i] < left;
            mx_copy16(x_slot + x_target[i],
                      valid ? x_source[i] + (int64_t)s * CB * MX_BLOCK_SIZE : x, valid);
        }
    };
    /* Scale bytes of step s (zero outside n and the split: their weights are zero-filled, and a
     * zero byte gives a finite factor, so those blocks add exact zeros). */
    auto load_scales = [&](int s, uint32_t(&bytes)[SPT]) {
        const int64_t left = block_end - (block_begin + (int64_t)s * CB + scale_j);
        const uint8_t *source = scale_source + (int64_t)s * CB;
#pragma unroll
        for (int i = 0; i < SPT; i++)
            bytes[i] = scale_row_ok && s < steps && i < left ? __ldg(source + i) : 0u;
    };
    auto store_scales = [&](int s, const uint32_t(&bytes)[SPT]) {
        float *target = factor_tile + (s % stages) * (shape::rows * CB) + scale_row * CB + scale_j;
#pragma unroll
        for (int i = 0; i < SPT; i++) target[i] = mx_block_factor<T>(bytes[i]);
    };

    uint32_t scale_bytes[SPT];
#pragma unroll
    for (int s = 0; s < stages - 1; s++) {
        if (s < steps) issue(s);
        mx_copy_commit();
        if (s < stages - 2) {
            load_scales(s, scale_bytes);
            store_scales(s, scale_bytes);
        }
    }
    load_scales(stages - 2, scale_bytes);

    float acc[TT][4] = {};
    const int w_row = warp * 16 + group; /* and w_row + 8: same swizzle (8 rows apart) */
    const int w_read = (w_row * CB) * 16 + quad * 4, w_swizzle = (w_row / (8 / CB)) & (CB - 1);
    for (int s = 0; s < steps; s++) {
        store_scales(s + stages - 2, scale_bytes); /* slot of step s - 2: free since step s - 1 */
        mx_copy_wait<stages - 2>();
        __syncthreads(); /* step s has landed for everyone; slot (s - 1) is free again */
        if (s + stages - 1 < steps) issue(s + stages - 1);
        mx_copy_commit();
        load_scales(s + stages - 1, scale_bytes);

        const int slot = s % stages;
        const uint8_t *w_slot = w_tile + slot * shape::w_stage_bytes + w_read;
        const float *factor_slot = factor_tile + slot * (shape::rows * CB) + w_row * CB;
        const uint16_t *x_slot =
            x_tile + slot * (tokens * shape::x_pitch) + group * shape::x_pitch + quad * 8;
#pragma unroll
        for (int j = 0; j < CB; j++) {
            const int position = (j ^ w_swizzle) * 16;
            const uint32_t w0 = *(const uint32_t *)(w_slot + position);
            const uint32_t w1 = *(const uint32_t *)(w_slot + 8 * CB * 16 + position);
            const float factor0 = factor_slot[j], factor1 = factor_slot[8 * CB + j];
            constexpr int sign_shift = 12 - mx_mma_type<T>::magnitude_shift;
            const uint32_t signs0 = w0 << sign_shift, signs1 = w1 << sign_shift;
            uint32_t a0[4], a1[4];
            a0[0] = mx_decode_pair<T, 0>(w0, signs0);
            a0[1] = mx_decode_pair<T, 0>(w1, signs1);
            a0[2] = mx_decode_pair<T, 1>(w0, signs0);
            a0[3] = mx_decode_pair<T, 1>(w1, signs1);
            a1[0] = mx_decode_pair<T, 2>(w0, signs0);
            a1[1] = mx_decode_pair<T, 2>(w1, signs1);
            a1[2] = mx_decode_pair<T, 3>(w0, signs0);
            a1[3] = mx_decode_pair<T, 3>(w1, signs1);
#pragma unroll
            for (int tt = 0; tt < TT; tt++) {
                /* 8 activations in natural order, paired (0,4) (1,5) (2,6) (3,7) to meet the
                 * weight pairs (nibble t, nibble t + 4) of the decoded word. */
                uint4 in = *(const uint4 *)(x_slot + tt * 8 * shape::x_pitch + j * 32);
                float block_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                mx_mma_type<T>::mma(block_sum, a0, __byte_perm(in.x, in.z, 0x5410),
                                    __byte_perm(in.x, in.z, 0x7632));
                mx_mma_type<T>::mma(block_sum, a1, __byte_perm(in.y, in.w, 0x5410),
                                    __byte_perm(in.y, in.w, 0x7632));
                acc[tt][0] = fmaf(block_sum[0], factor0, acc[tt][0]);
                acc[tt][1] = fmaf(block_sum[1], factor0, acc[tt][1]);
                acc[tt][2] = fmaf(block_sum[2], factor1, acc[tt][2]);
                acc[tt][3] = fmaf(block_sum[3], factor1, acc[tt][3]);
            }
        }
    }
    mx_copy_wait<0>();

    const int64_t rows[2] = {row0 + w_row, row0 + w_row + 8};
    const T *bias = p.bias ? (const T *)p.bias + (int64_t)batch_index * p.n : nullptr;
    const int64_t entry_outputs = (int64_t)batch_index * p.m * mx_out_width<E>(p);
    T *y = (T *)p.y + entry_outputs;
    const T *residual =
        E != MX_EPILOGUE_BIAS && p.residual ? (const T *)p.residual + entry_outputs : nullptr;
    if (p.splits == 1) {
#pragma unroll
        for (int tt = 0; tt < TT; tt++)
#pragma unroll
            for (int c = 0; c < 4; c++) {
                int64_t token = token0 + tt * 8 + 2 * quad + (c & 1), row = rows[c >> 1];
                if constexpr (E == MX_EPILOGUE_GATED) {
                    /* The accumulator's row is group (+ 8): weight row 2j + 1 of the pair sits
                     * in the lane of group + 1, i.e. lane ^ 4, with the same tokens. row0 and
                     * w_row - group are multiples of 16, so group's parity is row's. Every lane
                     * takes part in the shuffle; the even ones write. */
                    float value = acc[tt][c] + (bias && row < p.n ? (float)bias[row] : 0.0f);
                    float linear = __shfl_xor_sync(0xFFFFFFFFu, value, 4);
                    if ((group & 1) == 0 && token < m_valid && row < p.n) /* n even */
                        mx_write_output<T, E>(p, y, residual, token, row / 2,
                                              mx_glu(p.activation, value, linear));
                } else if (token < m_valid && row < p.n) {
                    float value = acc[tt][c] + (bias ? (float)bias[row] : 0.0f);
                    mx_write_output<T, E>(p, y, residual, token, row, value);
                }
            }
        return;
    }

#if __CUDA_ARCH__ >= 900
    /* Split-K: the splits of one tile form a thread-block cluster. Each leaves its partial tile
     * in its own shared memory; then CTA r of the cluster sums slice r of the tile over all
     * splits in split order (deterministic) through distributed shared memory, and writes Y. */
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    constexpr int tile_elements = tokens * shape::rows;
    float *partial = (float *)smem;
    __syncthreads(); /* every warp is done reading the pipeline slots */
#pragma unroll
    for (int tt = 0; tt < TT; tt++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int token = tt * 8 + 2 * quad + (c & 1), row = w_row + 8 * (c >> 1);
            partial[token * shape::rows + row] = acc[tt][c];
        }
    cluster.sync();
    const int rank = (int)cluster.block_rank(), splits = (int)cluster.num_blocks();
    /* A gated unit needs both rows of its pair: elements go by pairs (rows per tile is even,
     * so a pair never spans two tokens), and slices start on even elements. */
    constexpr int unit = E == MX_EPILOGUE_GATED ? 2 : 1;
    static_assert(shape::rows % 2 == 0, "pairs of weight rows stay in one tile row");
    const int slice = ((tile_elements + splits - 1) / splits + unit - 1) / unit * unit;
    const int end = min(tile_elements, (rank + 1) * slice);
    for (int e = rank * slice + threadIdx.x * unit; e < end; e += threads * unit) {
        int64_t token = token0 + e / shape::rows, row = row0 + e % shape::rows;
        float sum[unit] = {};
        for (int r = 0; r < splits; r++) {
            const float *remote = cluster.map_shared_rank(partial, r);
#pragma unroll
            for (int u = 0; u < unit; u++) sum[u] += remote[e + u];
        }
        if (token < m_valid && row < p.n) {
            if constexpr (E == MX_EPILOGUE_GATED) /* n even: row + 1 < n */
                mx_write_output<T, E>(p, y, residual, token, row / 2,
                                      mx_glu(p.activation,
                                             sum[0] + (bias ? (float)bias[row] : 0.0f),
                                             sum[1] + (bias ? (float)bias[row + 1] : 0.0f)));
            else
                mx_write_output<T, E>(p, y, residual, token, row,
                                      sum[0] + (bias ? (float)bias[row] : 0.0f));
        }
    }
    cluster.sync(); /* no CTA may leave while others still read its shared memory */
#endif
}

// ---- launchers

/* Launch geometry of the tensor-core kernel for a problem. */
typedef struct {
    int token_tile_count; /* 1: 8 tokens, 2: 16, 8: 64 */
    int tokens;
    int64_t token_tiles; /* over all batch entries: the grid's z when it fits */
    dim3 grid;
    int splits, blocks_per_split;
} mx_mma_plan;

/* Token tiles (over all batch entries) the launch must cover. With batch_rows and a known total
 * S (A <= min(batch, S) entries hold rows), sum_b ceil(r_b / T) <= (S + A (T - 1)) / T. */
static int64_t mx_token_tile_bound(const mx_gemm_problem *problem, int tokens) {
    int64_t all = (problem->m + tokens - 1) / tokens * problem->batch;
    if (!problem->batch_rows || problem->batch_rows_total <= 0) return all;
    int64_t total = problem->batch_rows_total;
    int64_t entries = total < problem->batch ? total : problem->batch;
    int64_t bound = (total + entries * (tokens - 1)) / tokens;
    return bound < all ? bound : all;
}

/* max_clusters(splits): how many clusters of that many CTAs the GPU runs at once. */
static mx_mma_plan mx_plan_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                               int token_tile_count, int rows_per_cta, int ctas_per_sm,
                               int (*max_clusters)(int splits)) {
    mx_mma_plan plan;
    plan.token_tile_count = token_tile_count;
    plan.tokens = 8 * token_tile_count;
    int chunk_blocks = token_tile_count >= 8 ? 4 : 8;
    int64_t row_tiles = (problem->n + rows_per_cta - 1) / rows_per_cta;
    int64_t token_tiles = mx_token_tile_bound(problem, plan.tokens); /* all batch entries */
    int64_t tiles = row_tiles * token_tiles;
    int64_t k_blocks = problem->k / MX_BLOCK_SIZE;
    /* Split K over a cluster (Hopper) until the CTAs fill the resident slots of one wave,
     * keeping at least one pipeline step per split, and no more clusters than can be resident
     * together (past that limit the last clusters wait for a second wave). */
    int64_t slots = (int64_t)context->sm_count * ctas_per_sm;
    int64_t splits = context->clusters && tiles < slots ? slots / tiles : 1;
    int64_t max_splits = (k_blocks + chunk_blocks - 1) / chunk_blocks;
    if (splits > MX_MAX_SPLITS) splits = MX_MAX_SPLITS;
    if (splits > max_splits) splits = max_splits;
    while (splits > 1 && tiles > max_clusters((int)splits)) splits--;
    if (splits < 1) splits = 1;
    int64_t per_split = (k_blocks + splits - 1) / splits;
    per_split = (per_split + chunk_blocks - 1) / chunk_blocks * chunk_blocks;
    splits = (k_blocks + per_split - 1) / per_split;
    plan.splits = (int)splits;
    plan.blocks_per_split = (int)per_split;
    plan.token_tiles = token_tiles;
    plan.grid = dim3((unsigned)row_tiles, (unsigned)splits,
                     (unsigned)(token_tiles < 65536 ? token_tiles : 65536));
    return plan;
}

enum { MX_MAX_DEVICES = 64 };

/* Once per instantiation and device: allow the pipeline's shared memory (> 48 KB). */
template <typename T, int TT, int E> static cudaError_t mx_configure_kernel(int device) {
    static bool configured[MX_MAX_DEVICES];
    if (device >= 0 && device < MX_MAX_DEVICES && configured[device]) return cudaSuccess;
    cudaError_t error =
        cudaFuncSetAttribute(mx_gemm_kernel<T, TT, E>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             mx_tile_shape<TT>::smem_bytes);
    if (error == cudaSuccess && device >= 0 && device < MX_MAX_DEVICES) configured[device] = true;
    return error;
}

static cudaLaunchConfig_t mx_launch_config(dim3 grid, int threads, int smem_bytes,
                                           cudaStream_t stream, cudaLaunchAttribute *cluster,
                                           int splits) {
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = dim3((unsigned)threads);
    config.dynamicSmemBytes = (size_t)smem_bytes;
    config.stream = stream;
    cluster->id = cudaLaunchAttributeClusterDimension;
    cluster->val.clusterDim.x = 1;
    cluster->val.clusterDim.y = (unsigned)splits;
    cluster->val.clusterDim.z = 1;
    config.attrs = cluster;
    config.numAttrs = splits > 1 ? 1 : 0;
    return config;
}

/* Resident clusters of `splits` CTAs of this instantiation on the current device, asked once
 * per size and device (0 when the query fails: then split-K is not used). */
template <typename T, int TT, int E> static int mx_max_active_clusters(int splits) {
    static int cache[MX_MAX_DEVICES][MX_MAX_SPLITS + 1];
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= MX_MAX_DEVICES) {
        cudaGetLastError();
        return 0;
    }
    int *known = cache[device];
    if (known[splits] == 0) {
        int count = 0;
        cudaLaunchAttribute cluster;
        cudaLaunchConfig_t config =
            mx_launch_config(dim3(1, (unsigned)splits, 1), mx_tile_shape<TT>::threads,
                             mx_tile_shape<TT>::smem_bytes, 0, &cluster, splits);
        if (mx_configure_kernel<T, TT, E>(device) != cudaSuccess ||
            cudaOccupancyMaxActiveClusters(&count, mx_gemm_kernel<T, TT, E>, &config) !=
                cudaSuccess) {
            cudaGetLastError();
            count = 0;
        }
        known[splits] = count > 0 ? count : -1;
    }
    return known[splits] > 0 ? known[splits] : 0;
}

template <typename T, int TT, int E>
static mx_status mx_gemm_mma_launch(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                    cudaStream_t stream) {
    MX_CUDA_CHECK((mx_configure_kernel<T, TT, E>(context->device)));
    using shape = mx_tile_shape<TT>;
    mx_mma_plan plan = mx_plan_mma(context, problem, TT, shape::rows, shape::ctas_per_sm,
                                   mx_max_active_clusters<T, TT, E>);
    if (plan.token_tiles > 65535)
        return mx_fail(
            MX_ERR_UNSUPPORTED_SHAPE,
            "unsupported shape: m = %lld, batch = %lld give %lld token tiles of %d for %s; "
            "at most 65535 (smaller m or batch)",
            (long long)problem->m, (long long)problem->batch, (long long)plan.token_tiles,
            plan.tokens, mx_gemm_variant_name(TT == 8 ? MX_GEMM_FUSED : MX_GEMM_SKINNY));
    mx_gemm_params params;
    params.x = problem->x;
    params.bias = problem->bias;
    params.w_blocks = problem->w_blocks;
    params.w_scales = problem->w_scales;
    params.y = problem->y;
    params.residual = problem->residual;
    params.batch_rows = problem->batch_rows;
    params.activation = problem->activation;
    params.m = problem->m;
    params.n = problem->n;
    params.k = problem->k;
    params.batch = problem->batch;
    params.token_tiles = (int)((problem->m + plan.tokens - 1) / plan.tokens);
    params.splits = plan.splits;
    params.blocks_per_split = plan.blocks_per_split;
    cudaLaunchAttribute cluster;
    cudaLaunchConfig_t config = mx_launch_config(plan.grid, shape::threads, shape::smem_bytes,
                                                 stream, &cluster, plan.splits);
    MX_CUDA_CHECK(cudaLaunchKernelEx(&config, mx_gemm_kernel<T, TT, E>, params));
    MX_LAUNCH_CHECK("mx_gemm_kernel");
    return MX_OK;
}

template <typename T, int E>
static mx_status mx_gemm_mma_dispatch(const mx_gemm_context *context,
                                      const mx_gemm_problem *problem, mx_gemm_variant variant,
                                      cudaStream_t stream) {
    if (variant != MX_GEMM_SKINNY) return mx_gemm_mma_launch<T, 8, E>(context, problem, stream);
    return problem->m <= 8 ? mx_gemm_mma_launch<T, 1, E>(context, problem, stream)
                           : mx_gemm_mma_launch<T, 2, E>(context, problem, stream);
}

template <typename T>
static mx_status mx_gemm_mma_epilogue(const mx_gemm_context *context,
                                      const mx_gemm_problem *problem, mx_gemm_variant variant,
                                      cudaStream_t stream) {
    if (mx_act_gated(problem->activation))
        return mx_gemm_mma_dispatch<T, MX_EPILOGUE_GATED>(context, problem, variant, stream);
    if (problem->activation != MX_ACT_NONE || problem->residual)
        return mx_gemm_mma_dispatch<T, MX_EPILOGUE_ACT>(context, problem, variant, stream);
    return mx_gemm_mma_dispatch<T, MX_EPILOGUE_BIAS>(context, problem, variant, stream);
}

static mx_status mx_gemm_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, cudaStream_t stream) {
    return problem->dtype == MX_BF16
               ? mx_gemm_mma_epilogue<__nv_bfloat16>(context, problem, variant, stream)
               : mx_gemm_mma_epilogue<__half>(context, problem, variant, stream);
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
    int major = 0;
    MX_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    mx_gemm_context *created = (mx_gemm_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate a GEMM context");
    created->sm_count = sm_count;
    created->device = device;
    created->clusters = major >= 9;
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
    /* Measured on H200 (docs/gemm.md): skinny wins up to 16 tokens, fused up to 64; above, the
     * fused kernel is 2-4x slower than dequantize + cuBLAS. */
    if (problem->m <= MX_SKINNY_MAX_M) return MX_GEMM_SKINNY;
    if (problem->m <= 64) return MX_GEMM_FUSED;
    return MX_GEMM_DEQUANT_CUBLAS;
}

static mx_gemm_variant mx_resolve(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                  mx_gemm_variant variant) {
    return variant == MX_GEMM_AUTO ? mx_gemm_choose(context, problem) : variant;
}

static bool mx_has_epilogue(const mx_gemm_problem *problem) {
    return problem->activation != MX_ACT_NONE || problem->residual;
}

/* fused and skinny apply the epilogue in registers; the cuBLAS paths need the temporary. */
static bool mx_epilogue_in_kernel(mx_gemm_variant variant) {
    return variant == MX_GEMM_FUSED || variant == MX_GEMM_SKINNY;
}

/* The weights' part of the workspace: dequantized weights for the cuBLAS paths. */
static size_t mx_weight_workspace_bytes(const mx_gemm_problem *problem, mx_gemm_variant variant) {
    if (variant == MX_GEMM_DEQUANT_CUBLAS || variant == MX_GEMM_PERSISTENT)
        return (size_t)(problem->batch * problem->n * problem->k * 2);
    return 0; /* fused and skinny reduce split-K partials on chip */
}

/* The epilogue's temporary starts at the next 256-byte boundary after the weights. */
static size_t mx_epilogue_offset(size_t weight_bytes) {
    return (weight_bytes + 255) / 256 * 256;
}

extern "C" size_t mx_gemm_workspace_bytes(const mx_gemm_context *context,
                                          const mx_gemm_problem *problem, mx_gemm_variant variant) {
    variant = mx_resolve(context, problem, variant);
    size_t weights = mx_weight_workspace_bytes(problem, variant);
    if (!mx_has_epilogue(problem) || mx_epilogue_in_kernel(variant)) return weights;
    return mx_epilogue_offset(weights) + (size_t)(problem->m * problem->n * 2);
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
    if ((unsigned)problem->activation >= MX_ACT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "activation = %d: not an mx_activation",
                       (int)problem->activation);
    if (problem->batch_rows) {
        MX_TRY(mx_check_pointer(problem->batch_rows, 4, "batch_rows"));
        if (problem->batch_rows_total < 0 ||
            problem->batch_rows_total > problem->batch * problem->m)
            return mx_fail(MX_ERR_INVALID_ARGUMENT,
                           "batch_rows_total = %lld: expected 0 (unknown) .. batch x m = %lld",
                           (long long)problem->batch_rows_total,
                           (long long)(problem->batch * problem->m));
    } else if (problem->batch_rows_total != 0) {
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch_rows_total = %lld without batch_rows: expected 0",
                       (long long)problem->batch_rows_total);
    }
    if (mx_act_gated(problem->activation) && problem->n % 2 != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "n = %lld: %s reads interleaved (gate, linear) pairs, n must be even",
                       (long long)problem->n, mx_activation_name(problem->activation));
    if (problem->residual) MX_TRY(mx_check_pointer(problem->residual, 2, "residual"));
    return MX_OK;
}

/* What only fused and skinny do: the epilogue with batch > 1 (in registers; the cuBLAS paths'
 * temporary holds one entry) and valid rows read on the device (cuBLAS needs host sizes). */
static mx_status mx_check_variant_support(const mx_gemm_problem *problem, mx_gemm_variant variant) {
    if (mx_epilogue_in_kernel(variant)) return MX_OK;
    if (mx_has_epilogue(problem) && problem->batch != 1)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch = %lld with an activation or residual on %s: its epilogue needs "
                       "batch 1 (fused and skinny take any batch)",
                       (long long)problem->batch, mx_gemm_variant_name(variant));
    if (problem->batch_rows)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch_rows is set for %s: cuBLAS needs the row counts on the host; "
                       "batch_rows needs fused or skinny",
                       mx_gemm_variant_name(variant));
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
    MX_TRY(mx_check_variant_support(problem, MX_GEMM_PERSISTENT));
    MX_TRY(mx_check_workspace(context, problem, MX_GEMM_PERSISTENT, workspace, workspace_bytes));
    return mx_dequantize(problem->w_blocks, problem->w_scales, problem->batch * problem->n,
                         problem->k, problem->dtype, workspace, stream);
}

extern "C" mx_status mx_gemm_check(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                   mx_gemm_variant variant, const void *workspace,
                                   size_t workspace_bytes) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    if ((unsigned)variant >= MX_GEMM_VARIANT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "variant = %d: not an mx_gemm_variant",
                       (int)variant);
    MX_TRY(mx_check_problem(problem));
    const mx_gemm_variant runs = mx_resolve(context, problem, variant);
    MX_TRY(mx_check_variant_support(problem, runs));
    return mx_check_workspace(context, problem, runs, workspace, workspace_bytes);
}

extern "C" mx_status mx_gemm(mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
    MX_TRY(mx_gemm_check(context, problem, variant, workspace, workspace_bytes));
    variant = mx_resolve(context, problem, variant);
    if (mx_has_epilogue(problem) && !mx_epilogue_in_kernel(variant)) {
        /* The product into the temporary after the weights' workspace, then the epilogue. */
        size_t weight_bytes = mx_weight_workspace_bytes(problem, variant);
        mx_gemm_problem product = *problem;
        product.y = (char *)workspace + mx_epilogue_offset(weight_bytes);
        product.bias = NULL;
        product.activation = MX_ACT_NONE;
        product.residual = NULL;
        MX_TRY(mx_gemm(context, &product, variant, workspace, weight_bytes, stream));
        return mx_activation_apply(problem->m, problem->n, problem->dtype, problem->activation,
                                   product.y, problem->bias, problem->residual, problem->y, stream);
    }
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
        status = mx_gemm_mma(context, problem, variant, stream);
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
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_check_problem(problem));
    char name[160];
    snprintf(name, sizeof name, "mx_gemm %s m=%lld n=%lld k=%lld batch=%lld",
             mx_gemm_variant_name(variant), (long long)problem->m, (long long)problem->n,
             (long long)problem->k, (long long)problem->batch);
    cudaEvent_t start, stop;
    MX_CUDA_CHECK(cudaEventCreate(&start));
    cudaError_t created = cudaEventCreate(&stop);
    if (created != cudaSuccess) {
        cudaEventDestroy(start);
        return mx_cuda_fail(created, "cudaEventCreate", __FILE__, __LINE__);
    }
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
