/* The MXFP4 GEMM kernel (gemm.h), device code only; gemm.cu plans and launches it. One
 * tensor-core kernel serves skinny (8 or 16 tokens per CTA) and fused (32 or 64 tokens per CTA),
 * reading prepared weights (weights.h). Each warp owns one 16-row tile at a time and streams it
 * along K through a private cp.async ring of chunk slots (8 blocks = 2176 bytes each, several in
 * flight per warp): no block-wide barrier in the main loop, 16-byte copies and 16-byte
 * shared-memory reads, nothing to re-pair. The E2M1 codes become FP16/BF16 values in registers by
 * bit placement; they are the A operand of mma.sync m16n8k16, the activations the B operand (read
 * from global memory through L1, a few blocks ahead; up to 4 tokens, copied into the ring with the
 * weights). Each 32-element block is summed in FP32 by two MMAs and scaled by its 2^s in FP32.
 * With many row tiles the CTAs are persistent (each walks tiles gridDim.x apart, its warps' rings
 * running on across tiles); with few, K is split first between the warps of a CTA (2, 4 or 8 on one
 * tile, reduced in shared memory), then over a thread-block cluster (reduced through distributed
 * shared memory): no workspace, no counters, deterministic. The epilogue (bias; or bias,
 * activation, residual) is a template parameter applied to the FP32 sums in registers; a gated unit
 * meets its (gate, linear) rows in neighbouring lanes (lane ^ 4) or, after split-K, as adjacent
 * elements of the tile. Regime and figures (H200): docs/gemm.md, `make bench`. */
#ifndef MX_GEMM_KERNEL_CUH
#define MX_GEMM_KERNEL_CUH

#include <cuda_bf16.h>
#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <type_traits>

#include "activation.cuh"
#include "dependent_launch.cuh"
#include "gemm.h"
#include "weights.cuh"

// ---- kernels

/* How a chunk's block scales are applied. Every block's two MMAs sum into an FP32 block sum that
 * one FFMA scales by 2^s, exactly (gemm.h, Numerics), except on the folded path:
 *   fast      a full chunk whose scale bytes are all ordinary: the factor in two instructions;
 *   folded    (32 and 64 tokens per CTA) a full chunk whose scales all put E2M1 x 2^s inside
 *             FP16 (s in [-23, 1]; BF16: [-100, 1]): one multiply of the decoded pair by 2^s
 *             and the MMAs accumulate the whole K range (the products are still exact; no
 *             FFMA per block and token tile);
 *   special   a full chunk with a byte outside those (one vote per chunk decides): the full
 *             factor (NaN, Inf, subnormal) per block;
 *   short     the short last chunk of K: bytes, and its blocks counted. */
enum mx_chunk_kind { MX_CHUNK_FAST = 0, MX_CHUNK_FOLDED, MX_CHUNK_SPECIAL, MX_CHUNK_SHORT };

/* The four FP16x2 or BF16x2 pairs (elements 2j, 2j + 1) of a prepared word (weights.h), by bit
 * placement. FP16: magnitude bits at 9..11 and the sign at 15 give E2M1 * 2^-14 exactly (code 1
 * lands on the FP16 subnormal 2^-15); the layout puts pair 0 there already and pair 1 three bits
 * lower: 11 logic instructions a word, 5 of them shifts the compiler gives the FMA pipe. BF16:
 * magnitude bits at 6..8 give E2M1 * 2^-126, so one multiply by 2^126 restores E2M1 exactly
 * (keeping the MMA's products far from FP32 subnormals); the FP16 placement costs it one more
 * instruction a pair. */
template <typename T> struct mx_mma_type;

template <> struct mx_mma_type<__half> {
    static constexpr int factor_exponent = 14; /* decoded = E2M1 * 2^-14 */
    /* Fast: scale bytes 0 .. 240, whose factor 2^(s + 14) is a normal FP32 number (exponent
     * field byte + 14). Folded: bytes 104 .. 128, the FP16x2 factor 2^(s + 14) has exponent
     * field byte - 98 (6 .. 30), kept in each byte shifted left by 2 (below 128: no bit crosses
     * into the next byte), so that one byte permute puts it in place (folded_factor). */
    template <int kind> static __device__ __forceinline__ bool scales_fit(uint32_t bytes) {
        if (kind == MX_CHUNK_FAST) return __vcmpgtu4(bytes, 0xF0F0F0F0u) == 0;
        return (__vcmpltu4(bytes, 0x68686868u) | __vcmpgtu4(bytes, 0x80808080u)) == 0;
    }
    template <int kind> static __device__ __forceinline__ uint32_t bias_scales(uint32_t bytes) {
        return kind == MX_CHUNK_FAST ? bytes + 0x0E0E0E0Eu : (bytes - 0x62626262u) << 2;
    }
    /* The FP16x2 factor of byte i (0..3, a constant) of a folded word (bias_scales): the byte
     * as the high byte of both halves, exponent field bits 10..14, the low bytes zero. */
    static __device__ __forceinline__ uint32_t folded_factor(uint32_t biased, int i) {
        return __byte_perm(biased, 0, 4 | i << 4 | 4 << 8 | i << 12);
    }
    static __device__ __forceinline__ uint32_t multiply(uint32_t a, uint32_t b) {
        __half2 product =
            __hmul2(*reinterpret_cast<__half2 *>(&a), *reinterpret_cast<__half2 *>(&b));
        return *reinterpret_cast<uint32_t *>(&product);
    }
    /* The bit placement of the prepared codes (weights.h): pair i of a code word is its bits
     * rotated left by byte i of code_rotations under code_mask (exponent and mantissa), and by
     * byte i of mx_sign_rotations under the sign bits, in both halves (mx_decode_pair). */
    static constexpr uint32_t code_mask = 0x0E000E00u, code_rotations = 0x06090300u;
    static __device__ __forceinline__ uint32_t exact(uint32_t bits) {
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
    static constexpr int factor_exponent = 0; /* decoded = E2M1 after the multiply */
    /* Fast: scale bytes 1 .. 254, whose factor 2^s is a normal FP32 number (exponent field the
     * byte). Folded: bytes 27 .. 128, the BF16x2 factor 2^(s + 126) has exponent field
     * byte + 126. */
    template <int kind> static __device__ __forceinline__ bool scales_fit(uint32_t bytes) {
        if (kind == MX_CHUNK_FAST)
            return (__vcmpeq4(bytes, 0u) | __vcmpeq4(bytes, 0xFFFFFFFFu)) == 0;
        return (__vcmpltu4(bytes, 0x1B1B1B1Bu) | __vcmpgtu4(bytes, 0x80808080u)) == 0;
    }
    template <int kind> static __device__ __forceinline__ uint32_t bias_scales(uint32_t bytes) {
        return kind == MX_CHUNK_FAST ? bytes : bytes + 0x7E7E7E7Eu;
    }
    /* The BF16x2 factor of byte i (0..3, a constant) of a folded word: the byte in both halves'
     * exponent field, bits 7..14. */
    static __device__ __forceinline__ uint32_t folded_factor(uint32_t biased, int i) {
        return __byte_perm(biased, 0, i | 0x4040 | i << 8) << 7;
    }
    static __device__ __forceinline__ uint32_t multiply(uint32_t a, uint32_t b) {
        __nv_bfloat162 product = __hmul2(*reinterpret_cast<__nv_bfloat162 *>(&a),
                                         *reinterpret_cast<__nv_bfloat162 *>(&b));
        return *reinterpret_cast<uint32_t *>(&product);
    }
    static __device__ __forceinline__ uint32_t exact(uint32_t bits) {
        return multiply(bits, 0x7E807E80u); /* 2^126 in both halves */
    }
    static constexpr uint32_t code_mask = 0x01C001C0u, code_rotations = 0x0306001Du; /* 29: >> 3 */
    static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
};

/* Pair `slot` (0..3) of code word w, raw (E2M1 x 2^-factor_exponent in FP16; for BF16 before
 * exact()). mx_decode_slot: slot may differ between lanes (rotations by a register, on the ALU
 * pipe); mx_decode_pair: slot is a constant (the same bits by plain shifts, which the compiler
 * can give the FMA pipe). */
constexpr uint32_t mx_sign_rotations = 0x01020300u, mx_sign_mask = 0x80008000u;
/* Slot `slot`'s rotation in a table (byte slot of code_rotations or mx_sign_rotations). */
__host__ __device__ constexpr uint32_t mx_rotation(uint32_t table, int slot) {
    return table >> 8 * slot & 0xFFu;
}
/* mx_decode_slot's rotations of a slot (x: the code bits', y: the sign bits'), taken once where
 * a lane's slot stays the same. */
template <typename T> __device__ __forceinline__ uint2 mx_slot_rotations(int slot) {
    return make_uint2(mx_rotation(mx_mma_type<T>::code_rotations, slot),
                      mx_rotation(mx_sign_rotations, slot));
}
template <typename T>
__device__ __forceinline__ uint32_t mx_decode_slot(uint32_t w, uint2 rotations) {
    using traits = mx_mma_type<T>;
    return (__funnelshift_l(w, w, rotations.x) & traits::code_mask) |
           (__funnelshift_l(w, w, rotations.y) & mx_sign_mask);
}
template <int r> __device__ __forceinline__ uint32_t mx_rotate_left(uint32_t w) {
    if constexpr (r == 0)
        return w;
    else
        return w << r | w >> (32 - r);
}
template <typename T, int slot> __device__ __forceinline__ uint32_t mx_decode_pair(uint32_t w) {
    using traits = mx_mma_type<T>;
    constexpr int code = mx_rotation(traits::code_rotations, slot);
    constexpr int sign = mx_rotation(mx_sign_rotations, slot);
    return (mx_rotate_left<code>(w) & traits::code_mask) | (mx_rotate_left<sign>(w) & mx_sign_mask);
}

/* The four pairs of code word w, raw, and exact (x 2^factor_exponent for FP16: see the type). */
template <typename T>
__device__ __forceinline__ void mx_decode_raw(uint32_t w, uint32_t (&pair)[4]) {
    pair[0] = mx_decode_pair<T, 0>(w);
    pair[1] = mx_decode_pair<T, 1>(w);
    pair[2] = mx_decode_pair<T, 2>(w);
    pair[3] = mx_decode_pair<T, 3>(w);
}
template <typename T> __device__ __forceinline__ void mx_decode(uint32_t w, uint32_t (&pair)[4]) {
    mx_decode_raw<T>(w, pair);
#pragma unroll
    for (int i = 0; i < 4; i++) pair[i] = mx_mma_type<T>::exact(pair[i]);
}

/* FP32 factor that turns a block's decoded partial sum into exact units: 2^(s + factor_exponent),
 * NaN for scale 0xFF, +Inf where that overflows FP32 (FP16 path, scale byte > 240: see gemm.h),
 * 2^-127 for the BF16 path's scale byte 0. Selects, no branches. */
template <typename T> __device__ __forceinline__ float mx_block_factor(uint32_t scale_byte) {
    int field = (int)scale_byte + mx_mma_type<T>::factor_exponent; /* biased FP32 exponent */
    uint32_t bits = field >= 1 ? (uint32_t)field << 23 : 0x00400000u;
    bits = field > 254 ? 0x7F800000u : bits;
    bits = scale_byte == MX_SCALE_NAN ? 0x7FC00000u : bits;
    return __uint_as_float(bits);
}

/* The same factor for byte i of a word of four scale bytes, when no byte of it is special: the
 * exponent field is the byte plus factor_exponent, added to all four at once (no carry below
 * the special values). Two instructions per factor. */
__device__ __forceinline__ float mx_word_factor(uint32_t biased, int i) {
    const int shift = 23 - 8 * i; /* i is a constant in every (unrolled) caller */
    const uint32_t field = shift >= 0 ? biased << shift : biased >> -shift;
    return __uint_as_float(field & 0x7F800000u);
}

struct mx_gemm_params {
    const void *x, *bias;
    const uint8_t *w;    /* prepared weights (weights.h) */
    int64_t entry_bytes; /* between their batch entries */
    void *y;
    const void *residual;      /* [batch, m, out] or NULL (epilogue kinds but MX_EPILOGUE_BIAS) */
    const int32_t *batch_rows; /* [batch] valid rows per entry, or NULL: all m */
    mx_activation activation;
    int64_t m, n, k, batch;
    int64_t tile_bytes;   /* of one prepared 16-row tile */
    int k_blocks;         /* k / 32 */
    int token_tiles;      /* per batch entry */
    int row_tiles;        /* 16-row tiles per batch entry */
    int cta_tiles;        /* groups of `warps` row tiles: one per CTA and step */
    int chunks_per_split; /* chunks of 8 blocks along K per split (blockIdx.y) */
    int k_parts;          /* warps per row tile, each on its part of the split (1, 2, 4, 8) */
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

/* Geometry of one instantiation: `warps` warps, each on its own 16-row tile with a private ring
 * of `stages` chunk slots (a copy of the prepared chunk; with SLOT_TOKENS (1, 2 or 4; the CTA's
 * tokens up to that many), followed by the chunk's 256 activations of each of those tokens), and
 * otherwise the activations of `x_ahead` blocks in registers ahead of use. Measured on H200 and
 * H100 (docs/gemm.md). */
template <int TT, int SLOT_TOKENS = 0> struct mx_tile_shape {
    static_assert(SLOT_TOKENS == 0 || TT == 1, "activations in the ring: 8 tokens per CTA");
    static_assert(SLOT_TOKENS == 0 || SLOT_TOKENS == 1 || SLOT_TOKENS == 2 || SLOT_TOKENS == 4,
                  "1, 2 or 4 tokens' activations in the ring (a row group's token: group % it)");
    static constexpr int tokens = 8 * TT;
    static constexpr int warps = 8;
    static constexpr int ctas_per_sm = 2; /* 128 registers a thread */
    /* An SM's shared memory (Hopper's 228 KB), of which 1 KB a resident CTA is the system's. */
    static constexpr int sm_smem_bytes = 228 * 1024;
    /* A token's activations in a slot: 512 bytes, and 64 more between tokens so that the two row
     * groups of a quarter warp (two tokens) read different banks. */
    static constexpr int x_token_bytes =
        MX_CHUNK_BLOCKS * MX_BLOCK_SIZE * 2 + (SLOT_TOKENS > 1 ? 64 : 0);
    static constexpr int x_slot_bytes = SLOT_TOKENS * x_token_bytes;
    static constexpr int slot_bytes = MX_CHUNK_BYTES + x_slot_bytes;
    /* With activations in the ring, as many slots as the SM's share of shared memory holds (5, 4
     * and 3 for 1, 2 and 4 tokens). */
    static constexpr int warp_share = (sm_smem_bytes / ctas_per_sm - 1024) / warps;
    static constexpr int stages = SLOT_TOKENS ? warp_share / slot_bytes
                                  : TT == 1   ? 6
                                  : TT <= 4   ? 4
                                              : 3;
    static constexpr int x_ahead = TT <= 2 ? 4 : TT == 4 ? 2 : 1;
    static constexpr int threads = warps * 32;
    static constexpr int rows = MX_TILE_ROWS * warps; /* weight rows (outputs n) per CTA */
    static constexpr int warp_smem_bytes = stages * slot_bytes;
    static constexpr int smem_bytes = warps * warp_smem_bytes;
    static_assert(MX_CHUNK_BLOCKS % x_ahead == 0, "the activation ring stays aligned to chunks");
    static_assert(tokens * rows * 4 <= smem_bytes, "split-K partials fit the rings");
    static_assert(ctas_per_sm * (smem_bytes + 1024) <= sm_smem_bytes, "resident CTAs fit an SM");
};

/* 16 bytes global -> shared without passing through registers. */
__device__ __forceinline__ void mx_copy16(uint32_t shared, const void *global) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(shared), "l"(global));
}

/* The same through L1 (kept there): for data other warps of the SM copy too (the activations). */
__device__ __forceinline__ void mx_copy16_shared_source(uint32_t shared, const void *global) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(shared), "l"(global));
}

__device__ __forceinline__ void mx_copy_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int pending> __device__ __forceinline__ void mx_copy_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

/* 16 bytes of activations, through the read-only path (L1): the CTA's warps read the same ones. */
__device__ __forceinline__ uint4 mx_load_x(const void *address) {
    uint4 v;
    asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(address));
    return v;
}

/* The activations of one block for each token tile: elements 8t .. 8t + 7 of the lane's token
 * from source (its row in token tile 0; token tile tt is 8 rows further each, present when bit
 * tt of tokens_present is set), when the block exists. Absent tokens' outputs are never
 * written, and an MMA column depends on its own token only, so their registers may hold
 * anything. */
template <typename T, int TT>
__device__ __forceinline__ void mx_fetch_x(const T *source, int64_t tile_stride,
                                           unsigned tokens_present, bool exists, uint4 (&x)[TT]) {
    if (!exists) return;
#pragma unroll
    for (int tt = 0; tt < TT; tt++)
        if (tokens_present >> tt & 1u) x[tt] = mx_load_x(source + tt * tile_stride);
}

/* Where a warp's B operands (the activations) come from, block by block: operand(j, tt) gives
 * the lane's 16 bytes of block j of the chunk for token tile tt (elements 8t .. 8t + 7 of its
 * token), used<full>(j, blocks) is told once block j is done with. */

/* From registers: the activations of block j sit in x[j % x_ahead]; once used, that slot is
 * refilled with the block x_ahead further on, in this chunk or the next one of the K range (which
 * wraps to the range's first chunk: the next tile starts there), so the loads stay x_ahead
 * blocks ahead across chunks and tiles, at constant offsets from this_chunk and next_chunk (set
 * every step). */
template <typename T, int TT> struct mx_x_ring {
    static constexpr int ahead = mx_tile_shape<TT>::x_ahead;
    uint4 x[ahead][TT];
    const T *this_chunk, *next_chunk;
    int next_blocks;
    int64_t tile_stride;
    unsigned tokens_present;

    __device__ __forceinline__ uint4 operand(int j, int tt) const {
        return x[j % ahead][tt];
    }
    template <bool full> __device__ __forceinline__ void used(int j, int blocks) {
        const int position = j + ahead; /* of the block to load into x[j % ahead] */
        if (position < MX_CHUNK_BLOCKS) /* a constant in the unrolled loop */
            mx_fetch_x<T, TT>(this_chunk + position * MX_BLOCK_SIZE, tile_stride, tokens_present,
                              full || position < blocks, x[j % ahead]);
        else
            mx_fetch_x<T, TT>(next_chunk + (position - MX_CHUNK_BLOCKS) * MX_BLOCK_SIZE,
                              tile_stride, tokens_present, position - MX_CHUNK_BLOCKS < next_blocks,
                              x[j % ahead]);
    }
};

/* Up to 4 tokens per CTA: from the ring slot, where the chunk's activations arrived with its
 * weights (one commit group); row group g reads token g % SLOT_TOKENS (a broadcast where several
 * read one), and the MMA's columns past the CTA's tokens are never written. */
struct mx_x_slot {
    const uint8_t *x; /* the lane's token's activations in the slot: block j's 64 bytes at 64 j */

    __device__ __forceinline__ uint4 operand(int j, int) const {
        return *reinterpret_cast<const uint4 *>(x + 64 * j + 16 * (threadIdx.x & 3));
    }
    template <bool full> __device__ __forceinline__ void used(int, int) {}
};

/* A warp's pass over one chunk of its 16-row tile, block by block, from its ring slot, the
 * activations from feed. */
template <typename T, int TT, int kind> struct mx_chunk_pass {
    static constexpr bool full = kind != MX_CHUNK_SHORT;

    /* words: the lane's 16 scale bytes of a full chunk ((row g, block j) and (row g + 8, block j)
     * are bytes 2j, 2j + 1), biased by factor_exponent on the fast path. */
    template <typename Feed>
    static __device__ __forceinline__ void run(const uint8_t *slot, int blocks,
                                               const uint32_t (&words)[4], Feed &feed,
                                               float (&acc)[TT][4]) {
        using traits = mx_mma_type<T>;
        const int lane = threadIdx.x & 31;
        const uint8_t *scales = slot + 256 * blocks + 2 * blocks * (lane >> 2);
        uint4 codes = make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int j = 0; j < MX_CHUNK_BLOCKS; j++) {
            if (kind == MX_CHUNK_FOLDED) {
                if (j % 2 == 0)
                    codes = *reinterpret_cast<const uint4 *>(slot + 256 * j + 16 * lane);
                /* 2^s of rows g and g + 8 in both halves: byte 2 (j % 2) + h of the word. */
                const uint32_t factor0 = traits::folded_factor(words[j / 2], 2 * (j % 2));
                const uint32_t factor1 = traits::folded_factor(words[j / 2], 2 * (j % 2) + 1);
                uint32_t row0[4], row8[4];
                mx_decode_raw<T>(j % 2 == 0 ? codes.x : codes.z, row0);
                mx_decode_raw<T>(j % 2 == 0 ? codes.y : codes.w, row8);
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    row0[i] = traits::multiply(row0[i], factor0);
                    row8[i] = traits::multiply(row8[i], factor1);
                }
                const uint32_t a0[4] = {row0[0], row8[0], row0[1], row8[1]};
                const uint32_t a1[4] = {row0[2], row8[2], row0[3], row8[3]};
#pragma unroll
                for (int tt = 0; tt < TT; tt++) {
                    const uint4 in = feed.operand(j, tt);
                    traits::mma(acc[tt], a0, in.x, in.y);
                    traits::mma(acc[tt], a1, in.z, in.w);
                }
            } else if (full || j < blocks) {
                float factor0, factor1;
                if constexpr (kind == MX_CHUNK_FAST) {
                    factor0 = mx_word_factor(words[j / 2], 2 * (j % 2));
                    factor1 = mx_word_factor(words[j / 2], 2 * (j % 2) + 1);
                } else if constexpr (kind == MX_CHUNK_SPECIAL) {
                    factor0 = mx_block_factor<T>(words[j / 2] >> (16 * (j % 2)) & 0xFFu);
                    factor1 = mx_block_factor<T>(words[j / 2] >> (16 * (j % 2) + 8) & 0xFFu);
                } else {
                    factor0 = mx_block_factor<T>(scales[2 * j]);
                    factor1 = mx_block_factor<T>(scales[2 * j + 1]);
                }
                if (full || (j | 1) < blocks) {
                    if (j % 2 == 0)
                        codes = *reinterpret_cast<const uint4 *>(slot + 256 * j + 16 * lane);
                } else { /* an odd last block: 8 bytes per lane */
                    const uint2 last = *reinterpret_cast<const uint2 *>(slot + 256 * j + 8 * lane);
                    codes.x = last.x;
                    codes.y = last.y;
                }
                uint32_t row0[4], row8[4]; /* rows g and g + 8 */
                mx_decode<T>(j % 2 == 0 ? codes.x : codes.z, row0);
                mx_decode<T>(j % 2 == 0 ? codes.y : codes.w, row8);
                /* A fragments: pairs (0,1) (2,3) of both rows to the first MMA's k slots
                 * (2t, 2t + 1) (2t + 8, 2t + 9), pairs (4,5) (6,7) to the second's. */
                const uint32_t a0[4] = {row0[0], row8[0], row0[1], row8[1]};
                const uint32_t a1[4] = {row0[2], row8[2], row0[3], row8[3]};
#pragma unroll
                for (int tt = 0; tt < TT; tt++) {
                    /* Elements 8t .. 8t + 7 of the block for token g, in the same order. */
                    const uint4 in = feed.operand(j, tt);
                    float block_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                    traits::mma(block_sum, a0, in.x, in.y);
                    traits::mma(block_sum, a1, in.z, in.w);
                    acc[tt][0] = fmaf(block_sum[0], factor0, acc[tt][0]);
                    acc[tt][1] = fmaf(block_sum[1], factor0, acc[tt][1]);
                    acc[tt][2] = fmaf(block_sum[2], factor1, acc[tt][2]);
                    acc[tt][3] = fmaf(block_sum[3], factor1, acc[tt][3]);
                }
            }
            feed.template used<full>(j, blocks);
        }
    }
};

/* Writes a warp's finished tile (rows row0 + group and row0 + group + 8, the CTA's tokens) through
 * the epilogue. */
template <typename T, int TT, int E>
__device__ __forceinline__ void mx_store_tile(const mx_gemm_params &p, T *y, const T *residual,
                                              const T *bias, int64_t row0, int64_t token0,
                                              int64_t m_valid, const float (&acc)[TT][4]) {
    const int lane = threadIdx.x & 31, group = lane >> 2, quad = lane & 3;
    const int64_t rows[2] = {row0 + group, row0 + group + 8};
#pragma unroll
    for (int tt = 0; tt < TT; tt++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int64_t token = token0 + tt * 8 + 2 * quad + (c & 1), row = rows[c >> 1];
            if constexpr (E == MX_EPILOGUE_GATED) {
                /* The accumulator's row is group (+ 8): weight row 2j + 1 of the pair sits in the
                 * lane of group + 1, i.e. lane ^ 4, with the same tokens. row0 is a multiple of
                 * 16, so group's parity is row's. Every lane takes part in the shuffle; the even
                 * ones write. */
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
}

/* Split K: up to this many CTAs (the portable thread-block cluster size) sum one tile. */
enum { MX_MAX_SPLITS = 8 };

/* Where a CTA's FP32 sum of (token, row) of its tile lies in shared memory at the tile's end
 * (rows_cta rows a token, a power of two from 16): [token][row], the row's bits 2..4 flipped by
 * the token's low three bits. The accumulators' writes (a quad's four lanes: four tokens of one
 * row) then fall in different banks (from 32 rows; at 16, two lanes of the 32 to a bank), and 4
 * rows from a multiple of 4 stay together (the 16-byte reads of mx_reduce_tile). */
__device__ __forceinline__ int mx_partial_offset(int token, int row, int rows_cta) {
    return token * rows_cta + (row ^ ((token & 7) << 2 & (rows_cta - 1)));
}

/* Writes `count` (2 or 4) consecutive output columns of a token from their FP32 values (the bias
 * and a gated unit in, as mx_write_output): one store of count elements where the columns exist
 * and y (and the residual) are aligned for it, else element by element. */
template <typename T, int E, int count>
__device__ __forceinline__ void mx_write_outputs(const mx_gemm_params &p, T *y, const T *residual,
                                                 int64_t token, int64_t column,
                                                 const float (&values)[count]) {
    static_assert(count == 2 || count == 4, "a 4- or 8-byte store");
    using word = typename std::conditional<count == 2, uint32_t, uint2>::type;
    const int64_t out = mx_out_width<E>(p), at = token * out + column;
    const bool whole = column + count <= out && (uintptr_t)(y + at) % sizeof(word) == 0 &&
                       (!residual || (uintptr_t)(residual + at) % sizeof(word) == 0);
    if (!whole) {
#pragma unroll
        for (int u = 0; u < count; u++)
            if (column + u < out)
                mx_write_output<T, E>(p, y, residual, token, column + u, values[u]);
        return;
    }
    T added[count] = {}; /* the residual, read before the write: residual may be y */
    if (E != MX_EPILOGUE_BIAS && residual) {
        const word loaded = *reinterpret_cast<const word *>(residual + at);
        memcpy(added, &loaded, sizeof added);
    }
    T results[count];
#pragma unroll
    for (int u = 0; u < count; u++) {
        float value = values[u];
        if constexpr (E == MX_EPILOGUE_ACT) value = mx_act(p.activation, value);
        if (E != MX_EPILOGUE_BIAS && residual) value += (float)added[u];
        results[u] = (T)value;
    }
    word stored;
    memcpy(&stored, results, sizeof stored);
    *reinterpret_cast<word *>(y + at) = stored;
}

/* The end of a split tile: partial (this CTA's shared memory) holds the CTA's FP32 sums of its
 * tile (tile_elements of them, for the tokens from token0 and the rows_cta rows from row0; at
 * mx_partial_offset); with splits (gridDim.y > 1: the splits of one tile form a thread-block
 * cluster), CTA r of the cluster sums slice r of the tile over the splits in split order through
 * distributed shared memory. Deterministic; then Y through the epilogue. thread / threads: this
 * thread's index among those that take part (the CTA's others may have exited). Every CTA of a
 * cluster calls it, after its partial is written. */
template <typename T, int E>
__device__ __forceinline__ void
mx_reduce_tile(const mx_gemm_params &p, const float *partial, int tile_elements, int rows_cta,
               int64_t token0, int64_t row0, int64_t m_valid, T *y, const T *residual,
               const T *bias, int thread, int threads) {
    int rank = 0, splits = 1;
#if __CUDA_ARCH__ >= 900
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    if (gridDim.y > 1) { /* the splits of one group of tiles form a thread-block cluster */
        cluster.sync();
        rank = (int)cluster.block_rank();
        splits = (int)cluster.num_blocks();
    }
#endif
    /* A thread sums 4 consecutive elements of a token at a time (16-byte reads of each split's
     * sums, every split's asked for before any is added; rows_cta is a multiple of 16, so 4
     * never span two tokens), slices start on multiples of 4; a gated unit's pair (rows 2j, 2j
     * + 1) stays within the 4. */
    constexpr int width = 4;
    const int slice = ((tile_elements + splits - 1) / splits + width - 1) / width * width;
    const int end = min(tile_elements, (rank + 1) * slice);
    for (int e = rank * slice + thread * width; e < end; e += threads * width) {
        const int token_in_tile = e / rows_cta, row_in_tile = e % rows_cta;
        const int at = mx_partial_offset(token_in_tile, row_in_tile, rows_cta);
        float sum[width] = {};
        for (int first = 0; first < splits; first += 4) { /* 4 splits' sums in flight */
            float4 parts[4];
#pragma unroll
            for (int r = 0; r < 4; r++)
                if (first + r < splits) {
                    const float *from = partial + at;
#if __CUDA_ARCH__ >= 900
                    if (gridDim.y > 1) from = cluster.map_shared_rank(from, first + r);
#endif
                    parts[r] = *(const float4 *)from;
                }
#pragma unroll
            for (int r = 0; r < 4; r++)
                if (first + r < splits) {
                    sum[0] += parts[r].x, sum[1] += parts[r].y;
                    sum[2] += parts[r].z, sum[3] += parts[r].w;
                }
        }
        const int64_t token = token0 + token_in_tile, row = row0 + row_in_tile;
        if (token >= m_valid || row >= p.n) continue;
#pragma unroll
        for (int u = 0; u < width; u++) /* (past n: never written) */
            sum[u] += bias && row + u < p.n ? (float)bias[row + u] : 0.0f;
        if constexpr (E == MX_EPILOGUE_GATED) { /* n even: a pair is whole */
            const float gated[width / 2] = {mx_glu(p.activation, sum[0], sum[1]),
                                            mx_glu(p.activation, sum[2], sum[3])};
            mx_write_outputs<T, E>(p, y, residual, token, row / 2, gated);
        } else {
            mx_write_outputs<T, E>(p, y, residual, token, row, sum);
        }
    }
#if __CUDA_ARCH__ >= 900
    if (gridDim.y > 1) cluster.sync(); /* no CTA may leave while others read its memory */
#endif
}

/* The pipeline of each warp: ring slots filled `stages - 1` chunk steps ahead (one commit group
 * per step, empty past the end, so that the wait counts stay fixed), __syncwarp after each wait
 * so that every lane sees the other lanes' copies and the slot refilled next is free. */
template <typename T, int TT, int E, int SLOT_TOKENS>
static __global__ void __launch_bounds__(mx_tile_shape<TT, SLOT_TOKENS>::threads,
                                         mx_tile_shape<TT, SLOT_TOKENS>::ctas_per_sm)
    mx_gemm_kernel(const mx_gemm_params p) {
    using shape = mx_tile_shape<TT, SLOT_TOKENS>;
    constexpr int tokens = shape::tokens, stages = shape::stages, slot_size = shape::slot_bytes;
    constexpr int warps = shape::warps;
    extern __shared__ __align__(128) uint8_t smem[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, group = lane >> 2;
    mx_dependent_begin();
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
    /* Chunk bookkeeping in 32 bits (k < 2^31) with running pointers: no division, no 64-bit
     * multiply in the loop. Every chunk holds 8 blocks but the last of K, which holds
     * last_blocks. */
    const int k_blocks = p.k_blocks;
    const int k_chunks = (k_blocks + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS;
    const int last_blocks = k_blocks - (k_chunks - 1) * MX_CHUNK_BLOCKS;
    /* The CTA's warps: group_tiles row tiles side by side, k_parts warps on each (warp w on
     * tile slot w % group_tiles, part w / group_tiles of the split's chunks). */
    const int group_tiles = warps / p.k_parts, part = warp / group_tiles;
    const int split_begin = (int)blockIdx.y * p.chunks_per_split;
    const int split_chunks = min(p.chunks_per_split, k_chunks - split_begin);
    const int part_chunks = (split_chunks + p.k_parts - 1) / p.k_parts;
    const int chunk_begin = split_begin + part * part_chunks;
    const int chunks = max(0, min(part_chunks, split_begin + split_chunks - chunk_begin));
    const int64_t tile_bytes = p.tile_bytes, tile_stride = (int64_t)gridDim.x * group_tiles;
    /* Partial sums meet in shared memory (K parts) or across the cluster (splits): then each
     * warp has one tile at most (the plan). */
    const bool reduce = gridDim.y > 1 || p.k_parts > 1;
    auto chunk_blocks = [&](int chunk) {
        return chunk == k_chunks - 1 ? last_blocks : (int)MX_CHUNK_BLOCKS;
    };

    /* This warp's row tiles: (blockIdx.x + i * gridDim.x) * group_tiles + slot for i = 0, 1, ...
     * while below row_tiles (one at most when K is split). */
    const int slot = warp % group_tiles;
    const int warp_groups =
        p.row_tiles > slot ? (p.row_tiles - slot + group_tiles - 1) / group_tiles : 0;
    const int warp_tiles =
        warp_groups > (int)blockIdx.x
            ? (warp_groups - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x
            : 0;
    const int steps = warp_tiles * chunks; /* 0 for a part past the end of a short split */

    uint8_t *ring = smem + warp * shape::warp_smem_bytes;
    const uint32_t ring_shared = (uint32_t)__cvta_generic_to_shared(ring) + 16 * lane;
    const uint32_t ring_end = ring_shared + stages * slot_size;
    /* The copies: a full chunk is 136 16-byte units, four per lane and a fifth for lanes 0..7;
     * the source walks the split's chunks, then jumps to the same chunk of the next tile. */
    const uint8_t *issue_source = p.w + (int64_t)batch_index * p.entry_bytes +
                                  ((int64_t)blockIdx.x * group_tiles + slot) * tile_bytes +
                                  (int64_t)chunk_begin * MX_CHUNK_BYTES + 16 * lane;
    const int64_t next_tile_jump =
        tile_stride * tile_bytes - (int64_t)(chunks - 1) * MX_CHUNK_BYTES;
    /* The lane's activations in the split's first chunk: its token of token tile 0 (tile tt is 8
     * rows further each), elements 8t .. of each block; with SLOT_TOKENS the lane's 16 bytes of
     * the first token's 512 in the chunk (token t is k elements further), copied into the slot
     * after the weights, for the slot_tokens that exist. */
    const T *x_first = (const T *)p.x + ((int64_t)batch_index * p.m + token0) * p.k +
                       (SLOT_TOKENS ? 8 * lane : group * p.k + 8 * (lane & 3)) +
                       chunk_begin * MX_CHUNK_BLOCKS * MX_BLOCK_SIZE;
    const int slot_tokens = (int)min((int64_t)SLOT_TOKENS, m_valid - token0);
    uint32_t issue_target = ring_shared;
    int issue_chunk = 0;
    auto issue = [&](bool live) {
        if (live) {
            const int blocks = chunk_blocks(chunk_begin + issue_chunk);
            if (SLOT_TOKENS && lane / 4 < blocks) /* blocks of 64 bytes, 4 lanes each */
#pragma unroll
                for (int t = 0; t < SLOT_TOKENS; t++)
                    if (t < slot_tokens)
                        mx_copy16_shared_source(
                            issue_target + MX_CHUNK_BYTES + t * shape::x_token_bytes,
                            x_first + t * p.k + issue_chunk * MX_CHUNK_BLOCKS * MX_BLOCK_SIZE);
            if (blocks == MX_CHUNK_BLOCKS) {
#pragma unroll
                for (int u = 0; u < 4; u++)
                    mx_copy16(issue_target + 512 * u, issue_source + 512 * u);
                if (lane < MX_CHUNK_BYTES / 16 - 128)
                    mx_copy16(issue_target + 2048, issue_source + 2048);
            } else {
                const int units = blocks * MX_TILE_BLOCK_BYTES / 16; /* 16-byte units */
                for (int i = 0; 32 * i + lane < units; i++)
                    mx_copy16(issue_target + 512 * i, issue_source + 512 * i);
            }
            issue_source += ++issue_chunk == chunks ? next_tile_jump : MX_CHUNK_BYTES;
            issue_chunk = issue_chunk == chunks ? 0 : issue_chunk;
            issue_target += slot_size;
            issue_target = issue_target == ring_end ? ring_shared : issue_target;
        }
        mx_copy_commit();
    };
#pragma unroll
    for (int s = 0; s < stages - 1; s++) issue(s < steps);

    const T *bias = p.bias ? (const T *)p.bias + (int64_t)batch_index * p.n : nullptr;
    const int64_t entry_outputs = (int64_t)batch_index * p.m * mx_out_width<E>(p);
    T *y = (T *)p.y + entry_outputs;
    const T *residual =
        E != MX_EPILOGUE_BIAS && p.residual ? (const T *)p.residual + entry_outputs : nullptr;

    using traits = mx_mma_type<T>;
    float acc[TT][4] = {};
    int64_t tile = (int64_t)blockIdx.x * group_tiles + slot;
    int chunk_index = 0;
    const uint8_t *slot_bytes = ring;
    /* One step: a chunk of the warp's ring, the activations from feed. */
    auto step_pass = [&](int step, auto &feed) {
        mx_copy_wait<stages - 2>();
        __syncwarp();
        issue(step + stages - 1 < steps);
        const bool wraps = chunk_index + 1 == chunks;
        const int blocks = chunk_blocks(chunk_begin + chunk_index);
        uint32_t words[4] = {0, 0, 0, 0};
        if (blocks == MX_CHUNK_BLOCKS) {
            const uint4 scale_bytes =
                *reinterpret_cast<const uint4 *>(slot_bytes + 256 * MX_CHUNK_BLOCKS + 16 * group);
            words[0] = scale_bytes.x;
            words[1] = scale_bytes.y;
            words[2] = scale_bytes.z;
            words[3] = scale_bytes.w;
            constexpr int fast = TT >= 4 ? MX_CHUNK_FOLDED : MX_CHUNK_FAST;
            bool other = false;
#pragma unroll
            for (int i = 0; i < 4; i++) other |= !traits::template scales_fit<fast>(words[i]);
            if (!__any_sync(0xFFFFFFFFu, other)) {
#pragma unroll
                for (int i = 0; i < 4; i++) words[i] = traits::template bias_scales<fast>(words[i]);
                mx_chunk_pass<T, TT, fast>::run(slot_bytes, blocks, words, feed, acc);
            } else {
                mx_chunk_pass<T, TT, MX_CHUNK_SPECIAL>::run(slot_bytes, blocks, words, feed, acc);
            }
        } else {
            mx_chunk_pass<T, TT, MX_CHUNK_SHORT>::run(slot_bytes, blocks, words, feed, acc);
        }
        slot_bytes += slot_size;
        slot_bytes = slot_bytes == ring + stages * slot_size ? ring : slot_bytes;
        if (wraps) {
            chunk_index = 0;
            if (!reduce) {
                mx_store_tile<T, TT, E>(p, y, residual, bias, tile * MX_TILE_ROWS, token0, m_valid,
                                        acc);
#pragma unroll
                for (int tt = 0; tt < TT; tt++)
#pragma unroll
                    for (int c = 0; c < 4; c++) acc[tt][c] = 0.0f;
            }
            tile += tile_stride;
        } else {
            chunk_index++;
        }
    };
    if constexpr (SLOT_TOKENS > 0) {
        mx_x_slot feed;
        const int x_offset = MX_CHUNK_BYTES + group % SLOT_TOKENS * shape::x_token_bytes;
        for (int step = 0; step < steps; step++) {
            feed.x = slot_bytes + x_offset;
            step_pass(step, feed);
        }
    } else {
        mx_x_ring<T, TT> feed;
        feed.tile_stride = 8 * p.k; /* elements between token tiles */
        feed.tokens_present = 0;
#pragma unroll
        for (int tt = 0; tt < TT; tt++)
            feed.tokens_present |= (unsigned)(token0 + tt * 8 + group < m_valid) << tt;
        const int first_blocks = chunk_blocks(chunk_begin);
#pragma unroll
        for (int d = 0; d < feed.ahead; d++) {
#pragma unroll
            for (int tt = 0; tt < TT; tt++) feed.x[d][tt] = make_uint4(0, 0, 0, 0);
            mx_fetch_x<T, TT>(x_first + d * MX_BLOCK_SIZE, feed.tile_stride, feed.tokens_present,
                              steps > 0 && d < first_blocks, feed.x[d]);
        }
        feed.this_chunk = x_first;
        for (int step = 0; step < steps; step++) {
            /* The chunk after this step's: the next of the range, or its first (the next tile). */
            const bool wraps = chunk_index + 1 == chunks;
            feed.next_chunk = wraps ? x_first : feed.this_chunk + MX_CHUNK_BLOCKS * MX_BLOCK_SIZE;
            feed.next_blocks = chunk_blocks(wraps ? chunk_begin : chunk_begin + chunk_index + 1);
            step_pass(step, feed);
            feed.this_chunk = feed.next_chunk;
        }
    }
    mx_copy_wait<0>();
    if (!reduce) return;

    /* The partial tiles meet: each warp leaves its own in shared memory (the rings are done
     * with), part after part, each at mx_partial_offset over the CTA's rows_cta rows; the K
     * parts are summed in part order, then the splits (mx_reduce_tile). Deterministic either
     * way; then Y. */
    const int rows_cta = MX_TILE_ROWS * group_tiles; /* even: a gated pair stays in one row */
    const int tile_elements = tokens * rows_cta;
    float *partial = (float *)smem;
    const int quad = lane & 3, w_row = slot * MX_TILE_ROWS + group;
    const int64_t row0 = (int64_t)blockIdx.x * rows_cta;
    __syncthreads(); /* every warp is done reading its ring */
    float *own = partial + part * tile_elements;
#pragma unroll
    for (int tt = 0; tt < TT; tt++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int token = tt * 8 + 2 * quad + (c & 1), row = w_row + 8 * (c >> 1);
            own[mx_partial_offset(token, row, rows_cta)] = acc[tt][c];
        }
    __syncthreads();
    if (p.k_parts > 1) {
        for (int e = (int)threadIdx.x; e < tile_elements; e += shape::threads) {
            float sum = partial[e];
            for (int q = 1; q < p.k_parts; q++) sum += partial[q * tile_elements + e];
            partial[e] = sum;
        }
        __syncthreads();
    }
    mx_reduce_tile<T, E>(p, partial, tile_elements, rows_cta, token0, row0, m_valid, y, residual,
                         bias, (int)threadIdx.x, shape::threads);
}

#endif
