/* The Hopper MXFP4 GEMM kernel (gemm.h: fused on the hopper path), device code only; gemm.cu
 * launches it. It reads the same prepared weights as gemm_kernel.cuh and writes the same outputs
 * through the same epilogue, with warpgroup MMAs:
 *
 *   CTA     3 warpgroups, 128 weight rows x TOKENS tokens (wgmma's N: 64 up to 64 tokens, 128
 *           up to 128, else 256, as gemm.cu launches it; 16 and 32 compile, and 32 took
 *           0.81-1.32x the mma.sync kernel's time at m = 24..32), the whole of K or its split of
 *           it (a cluster of splits summed on chip: mx_reduce_tile); one CTA per SM.
 *   loads   warpgroup 0 (the producer) fills a ring of `stages` shared-memory stages with the
 *           activations of 2 blocks (64 K), or 4 (128 K) up to 64 tokens, for the CTA's
 *           tokens, guarded by a full and an empty mbarrier per stage, in one of two layouts
 *           (measured: docs/gemm.md):
 *           - 256 tokens (prefill): one thread, one TMA copy a stage (32 KB), the activations
 *             in their own K order, one 128-byte row a token, 128-byte swizzled; the full
 *             barrier counts the bytes. Nothing else on the SM's issue slots.
 *           - 64 or 128 tokens: every producer thread loads 16 bytes (8 activations, two stages
 *             in flight in registers) and writes them with stmatrix in the order of K that the
 *             prepared codes give a lane (weights.h: a lane's code word holds elements 8t ..
 *             8t + 7): 4 pairs to the 4 places of wgmma's canonical K-major layout (no
 *             swizzle: 8x16-byte core matrices, 128 B apart along K, 256 B apart along the
 *             tokens), a 4x4 transpose of 4-byte pairs per block, which is exactly stmatrix.x4.
 *             With few tokens the consumers' decode is what limits, and this keeps it short.
 *   math    warpgroups 1 and 2 (the consumers) hold 64 weight rows each: warp w of a
 *           warpgroup owns one 16-row prepared tile, the A fragment of wgmma.m64nNk16 for its
 *           rows up to the order of K. Each warp copies its tile's chunks (codes and scales)
 *           into a private ring of shared-memory slots, three chunks ahead (cp.async), and
 *           reads a stage's codes and a chunk's scales from there (below 256 tokens, the next
 *           stage's codes before this stage's MMAs when it is in the same chunk). With stmatrix
 *           stages a lane decodes its own code words (gemm_kernel.cuh's bit placement); with TMA
 *           stages (K in order) the fragment wants pairs of the 4 lanes of its quad: each lane
 *           reads its quad's 64 bytes and decodes slot t of each word (the placement rotated by
 *           t), a 4x4 transpose in the decode (mx_wgmma_block_pairs). Then wgmma.m64nNk16 with A
 *           from registers and the activations from the stage.
 *   scales  per chunk of 8 blocks and warpgroup (one barrier reduction decides): when every
 *           block scale of the chunk keeps E2M1 x 2^s exact in the dtype (FP16: s in [-23, 1];
 *           BF16: [-100, 1]), the decoded pairs are multiplied by 2^s first, exactly, and the
 *           MMAs accumulate the whole range in FP32 (the folded path of gemm_kernel.cuh);
 *           otherwise each block's product is taken alone on mma.sync (the stage's codes
 *           decoded again, B read from the stage) and added with its FP32 factor 2^(s +
 *           factor_exponent), as the per-block path of gemm_kernel.cuh: the same numerics
 *           (gemm.h) on every scale, NaN and Inf included. The warpgroup MMAs themselves run on
 *           every stage behind no branch (their fragments decoded with factor 0 where the
 *           per-block path does the stage): ptxas serializes wgmma whose operands come out of a
 *           branch it cannot prove uniform. Unlike gemm_kernel.cuh, the short last chunk of K
 *           is folded too when its scales allow (the same exact products).
 *   output  the accumulators are the fragments mx_store_tile writes (bias, activation,
 *           residual); a gated unit, or split K, goes through shared memory (mx_reduce_tile:
 *           the cluster's sums, at mx_partial_offset): no workspace. Regime and figures:
 *           docs/gemm.md. */
#ifndef MX_GEMM_WGMMA_CUH
#define MX_GEMM_WGMMA_CUH

#include <cuda.h> /* CUtensorMap */

#include "gemm_kernel.cuh"
#include "wgmma.cuh"

/* TOKENS: the tokens of a CTA, wgmma's N (16, 32, 64, 128 or 256; gemm.cu launches 64, 128 and
 * 256). */
template <int TOKENS> struct mx_wgmma_shape {
    static constexpr int tokens = TOKENS;
    static constexpr int groups = tokens / 8;             /* of 8 tokens: MMA columns */
    static constexpr int consumers = 2;                   /* math warpgroups */
    static constexpr int rows = 64 * consumers;           /* weight rows per CTA */
    static constexpr int threads = 128 * (consumers + 1); /* + the producer */
    /* 64 K a stage; 128 K up to 64 tokens (half the stages' handoffs: docs/gemm.md) */
    static constexpr int stage_blocks = tokens <= 64 ? 4 : 2;
    static constexpr int stage_pairs = stage_blocks / 2; /* pairs of blocks: the weights' unit */
    /* The two ways to the activations' stages (the kernel's comment): TMA with 256 tokens;
     * below, the producer's registers and stmatrix. */
    static constexpr bool tma = tokens == 256;
    /* TMA: a token's 64 K of a stage is one 128-byte row of the 128-byte swizzle (8 rows an
     * atom); stmatrix: a k16 step's core matrices for every token, step after step. */
    static constexpr int row_bytes = stage_blocks * MX_BLOCK_SIZE * 2;
    static constexpr int step_bytes = tokens * 16 * 2;
    static constexpr int step_offset = tma ? 32 : step_bytes; /* from one k16 step to the next */
    static constexpr int stage_bytes = tokens * row_bytes;    /* 32 KB at 256 tokens */
    /* 16-byte activation loads of a stage per producer thread (stmatrix): groups x stage_blocks
     * over 128 */
    static constexpr int loads = groups * stage_blocks / 4;
    /* A stage is released one stage late (wgmma.wait_group 1); 5 stages of 256 tokens do not
     * fit beside the weight rings. */
    static constexpr int stages = tma ? 4 : 8;
    /* Each consumer warp's ring of weight chunks (mx_wgmma_weights), after the stages. */
    static constexpr int weight_slots = 4;
    static constexpr int ring_bytes = 4 * consumers * weight_slots * MX_CHUNK_BYTES;
    static constexpr int align = 1024; /* the swizzle atom: the stages start on one */
    static constexpr int smem_bytes =
        align + stages * stage_bytes + ring_bytes + 2 * stages * 8; /* + mbarriers */
    /* setmaxnreg: the CTA's pool is what the launch gave it (__launch_bounds__(threads, 1):
     * 64 K registers over `threads`, rounded down to 8); .inc waits until the producer's .dec
     * has returned enough, so the two must fit that pool, not the register file. */
    static constexpr int launch_registers = 65536 / threads / 8 * 8;
    /* stmatrix: 2 stages of loads (2 x 8 x 4 registers of them at 64 and 128 tokens) */
    static constexpr int producer_registers = tma ? 40 : tokens <= 64 ? 112 : 104;
    static constexpr int consumer_registers = tma ? 232 : tokens <= 64 ? 192 : 200;
    static_assert(tokens == 16 || tokens == 32 || tokens == 64 || tokens == 128 || tokens == 256,
                  "wgmma's N");
    static_assert(128 * producer_registers + 128 * consumers * consumer_registers <=
                      threads * launch_registers,
                  "the warpgroups' registers fit the CTA's pool");
    static_assert(MX_CHUNK_BLOCKS % stage_blocks == 0, "a stage never spans two chunks");
    static_assert(tokens * rows * 4 <= stages * stage_bytes, "split-K partial sums fit the ring");
};

#ifdef MX_WGMMA_DEVICE

// ---- the two roles

/* The producer warpgroup below 256 tokens: lane (r, t) of warp w copies, per stage of the split
 * (stage_begin + i, i < stage_count, in ring slot i % stages), elements 8t .. 8t + 7 of the stage's
 * blocks for token r of the token groups w, w + 4, ... (with 2 groups, 16 tokens: block 2 i + w / 2
 * of pair i of group w % 2), in 16-byte loads, two stages in flight in registers; absent tokens and
 * the missing block of an odd K get zeros. */
template <typename T, int TOKENS>
__device__ __forceinline__ void
mx_wgmma_produce_registers(const mx_gemm_params &p, int batch_index, int64_t token0,
                           int64_t m_valid, uint32_t stage0, uint32_t full, uint32_t empty,
                           int stage_begin, int stage_count) {
    using shape = mx_wgmma_shape<TOKENS>;
    constexpr bool few = shape::groups < 4; /* 16 tokens */
    constexpr int warp_groups = few ? 1 : shape::groups / 4,
                  blocks = few ? shape::stage_pairs : shape::stage_blocks;
    static_assert(warp_groups * blocks == shape::loads, "every load once");
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int r = lane >> 2, t = lane & 3;
    const T *x = (const T *)p.x + (int64_t)batch_index * p.m * p.k;
    const T *source[warp_groups];
    bool present[warp_groups];
    int group[warp_groups];
#pragma unroll
    for (int q = 0; q < warp_groups; q++) {
        group[q] = few ? warp % 2 : warp + 4 * q;
        const int64_t token = token0 + group[q] * 8 + r;
        present[q] = token < m_valid;
        source[q] = x + (present[q] ? token : 0) * p.k + 8 * t;
    }
    /* of the stage's blocks (16 tokens: warp pair w / 2's pair's) */
    auto block_of = [&](int b) { return few ? 2 * b + warp / 2 : b; };
    auto load = [&](int stage, uint4(&buffer)[shape::loads]) {
#pragma unroll
        for (int q = 0; q < warp_groups; q++)
#pragma unroll
            for (int b = 0; b < blocks; b++) {
                const int block = shape::stage_blocks * (stage_begin + stage) + block_of(b);
                buffer[blocks * q + b] = present[q] && stage < stage_count && block < p.k_blocks
                                             ? mx_load_x(source[q] + block * MX_BLOCK_SIZE)
                                             : make_uint4(0, 0, 0, 0);
            }
    };
    /* Pair u = 2 s + h of a load (elements 8t + 2u, + 1) goes to k16 step 2b + s, core matrix h,
     * row r, word t: the k slots (2t, 2t + 1) (s, h = 0) and (2t + 8, 2t + 9) (h = 1) that the
     * lane's A fragment gives pairs 0..3 of its code word. Lane (r, t) holding word t of row r
     * of four 8x8 matrices is stmatrix's fragment: one stmatrix.x4 stores a load's 4 pairs,
     * lane l giving the address of row l % 8 of matrix (pair) l / 8. */
    const int u = lane >> 3;
    const uint32_t lane_row = (u >> 1) * shape::step_bytes + (u & 1) * 128 + (lane & 7) * 16;
    auto put = [&](int stage, const uint4(&buffer)[shape::loads]) {
        const int slot = stage % shape::stages;
        mx_mbarrier_wait(empty + 8 * slot, ((stage / shape::stages) & 1) ^ 1);
        const uint32_t base = stage0 + slot * shape::stage_bytes + lane_row;
#pragma unroll
        for (int q = 0; q < warp_groups; q++)
#pragma unroll
            for (int b = 0; b < blocks; b++) {
                const uint4 words = buffer[blocks * q + b];
                asm volatile(
                    "stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(
                        base + group[q] * 256 + 2 * block_of(b) * shape::step_bytes),
                    "r"(words.x), "r"(words.y), "r"(words.z), "r"(words.w)
                    : "memory");
            }
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        mx_mbarrier_arrive(full + 8 * slot);
    };
    uint4 even[shape::loads], odd[shape::loads];
    load(0, even);
    load(1, odd);
    for (int stage = 0; stage < stage_count; stage += 2) {
        put(stage, even);
        load(stage + 2, even);
        if (stage + 1 < stage_count) {
            put(stage + 1, odd);
            load(stage + 3, odd);
        }
    }
}

/* The producer with 256 tokens: one thread loads, per stage of the split (stage_begin + q, q <
 * stage_count, in ring slot q % stages), the box of 64 K x TOKENS tokens of the CTA's batch entry
 * with one TMA copy (the tensor map gemm.cu encodes: x as [batch][m][k], 128-byte swizzle, zeros
 * past m and past K), signalled by the bytes it writes on the stage's full barrier. Tokens from
 * m_valid up to m (batch_rows) are loaded too: each token is its own column of the product, and
 * theirs are never stored. */
template <int TOKENS>
__device__ __forceinline__ void mx_wgmma_produce_tma(const CUtensorMap *activations,
                                                     int batch_index, int64_t token0,
                                                     uint32_t stage0, uint32_t full, uint32_t empty,
                                                     int stage_begin, int stage_count) {
    using shape = mx_wgmma_shape<TOKENS>;
    for (int stage = 0; stage < stage_count; stage++) {
        const int slot = stage % shape::stages;
        const uint32_t barrier = full + 8 * slot;
        mx_mbarrier_wait(empty + 8 * slot, ((stage / shape::stages) & 1) ^ 1);
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(barrier),
                     "n"(shape::stage_bytes)
                     : "memory");
        asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
                     " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(stage0 + slot * shape::stage_bytes),
                     "l"(activations),
                     "r"((stage_begin + stage) * shape::stage_blocks * MX_BLOCK_SIZE),
                     "r"((int)token0), "r"(batch_index), "r"(barrier)
                     : "memory");
    }
}

/* Where a lane's code words of a pair of blocks lie from the pair's start in a weight slot (both
 * blocks there: lane L's 16 bytes at 16 L, rows g, g + 8 of the first block, then of the second;
 * with quad, those of the lane's quad: 64 bytes at 64 g). */
template <bool quad> __device__ __forceinline__ uint32_t mx_wgmma_code_lane() {
    const int lane = (int)threadIdx.x & 31;
    return quad ? 64 * (lane >> 2) : 16 * lane;
}

/* The code words of a pair of blocks, the lane's place in it at `at` (mx_wgmma_code_lane), or
 * of an odd last block alone (8 bytes a lane at 8 L from the pair's start; the partner's words
 * zero): with quad, those of the lane's quad (q[u]: lane 4g + u's); else the lane's own in q[0]
 * (an odd last block: the 16 bytes of lanes 2i and 2i + 1, and the lane's half of them). Both
 * blocks' layout first, then (rarely: K's odd last block) the lone block's over it, so that the
 * common case keeps its loads' registers. */
template <bool quad>
__device__ __forceinline__ void mx_wgmma_load_codes(const uint8_t *at, bool both, uint4 (&q)[4]) {
    const int lane = (int)threadIdx.x & 31, group = lane >> 2;
    const uint8_t *pair = at - mx_wgmma_code_lane<quad>();
    if constexpr (!quad) {
        q[0] = *reinterpret_cast<const uint4 *>(at);
        if (!both) {
            const uint4 loaded = *reinterpret_cast<const uint4 *>(pair + 16 * (lane / 2));
            q[0] = lane & 1 ? make_uint4(loaded.z, loaded.w, 0, 0)
                            : make_uint4(loaded.x, loaded.y, 0, 0);
        }
    } else {
#pragma unroll
        for (int u = 0; u < 4; u++) q[u] = *reinterpret_cast<const uint4 *>(at + 16 * u);
        if (!both) {
            const uint4 low = *reinterpret_cast<const uint4 *>(pair + 32 * group);
            const uint4 high = *reinterpret_cast<const uint4 *>(pair + 32 * group + 16);
            q[0] = make_uint4(low.x, low.y, 0, 0);
            q[1] = make_uint4(low.z, low.w, 0, 0);
            q[2] = make_uint4(high.x, high.y, 0, 0);
            q[3] = make_uint4(high.z, high.w, 0, 0);
        }
    }
}

/* A consumer warp's weights: its 16-row tile's chunks of the CTA's split, copied from global
 * memory into the warp's private ring of `weight_slots` chunk slots in shared memory
 * (gemm_kernel.cuh's cp.async ring: one commit group per chunk, the slots filled
 * weight_slots - 1 chunks ahead, so that about 6.5 KB a warp are in flight whatever the time a
 * stage takes); the kernel reads a stage's pairs of blocks from a chunk's slot (slot(): the
 * lane's or its quad's codes, mx_wgmma_load_codes) and the chunk's scale bytes (scales())
 * in the layout of gemm_kernel.cuh's words ((row g, block j) and (row g + 8, block j) at bytes
 * 2j, 2j + 1; bytes past a short chunk hold 127, 2^0). */
template <int SLOTS> struct mx_wgmma_weights {
    const uint8_t *tile; /* NULL: the warp has no tile (past n): its ring zeroed, scales 2^0 */
    int k_chunks, last_blocks;
    int odd_pair;               /* the pair of K's odd last block (no partner), or -1 */
    int chunk_begin, chunk_end; /* the split's chunks */
    const uint8_t *ring;        /* the warp's slots (generic address) */
    uint32_t ring_shared;       /* the same, shared address */
    /* Scale bytes of rows past n (the padding of the last tile: zero codes, scale byte 0) read
     * as 127, so that the padding does not send the warpgroup to the per-block path: the
     * bytes of row g (even bytes) and row g + 8 (odd). */
    uint32_t padding_mask;

    __device__ __forceinline__ int chunk_blocks(int chunk) const {
        return chunk == k_chunks - 1 ? last_blocks : (int)MX_CHUNK_BLOCKS;
    }
    /* (chunk is never below chunk_begin: unsigned, the modulo is a mask) */
    __device__ __forceinline__ uint32_t slot_offset(int chunk) const {
        return (uint32_t)(chunk - chunk_begin) % SLOTS * MX_CHUNK_BYTES;
    }
    /* Copies chunk into its slot (nothing past the split or without a tile), one commit group
     * either way, so that the wait counts stay fixed: lane L the 16-byte units L, L + 32, ...
     * of its bytes, a fixed count of predicated copies. */
    __device__ __forceinline__ void fetch(int chunk) const {
        if (tile && chunk < chunk_end) {
            constexpr int rounds = (MX_CHUNK_BYTES / 16 + 31) / 32;
            const int lane = (int)threadIdx.x & 31;
            const int units = chunk_blocks(chunk) * MX_TILE_BLOCK_BYTES / 16;
            const uint8_t *source = tile + (int64_t)chunk * MX_CHUNK_BYTES + 16 * lane;
            const uint32_t target = ring_shared + slot_offset(chunk) + 16 * lane;
#pragma unroll
            for (int i = 0; i < rounds; i++)
                if (32 * i + lane < units) mx_copy16(target + 512 * i, source + 512 * i);
        }
        mx_copy_commit();
    }
    /* Copies the ring's first chunks, from the split's first. A warp without a tile zeroes its
     * ring instead, once: its codes then decode as zeros without a test a stage. */
    __device__ __forceinline__ void start() const {
        if (!tile) {
            for (int u = (int)threadIdx.x & 31; u < SLOTS * MX_CHUNK_BYTES / 16; u += 32)
                asm volatile(
                    "st.shared.v4.b32 [%0], {%1, %1, %1, %1};\n" ::"r"(ring_shared + 16 * u), "r"(0)
                    : "memory");
            __syncwarp();
        }
#pragma unroll
        for (int c = 0; c < SLOTS - 1; c++) fetch(chunk_begin + c);
    }
    /* At the first stage of chunk: waits for its copies (every lane's: __syncwarp), then
     * refills the slot of the chunk before it, which every lane is done with. */
    __device__ __forceinline__ void arrive(int chunk) const {
        mx_copy_wait<SLOTS - 2>();
        __syncwarp();
        fetch(chunk + SLOTS - 1);
    }
    /* A pair of blocks' codes in a slot (the chunk's codes, then its scale bytes). */
    static constexpr uint32_t pair_bytes = 2 * MX_TILE_ROWS * MX_BLOCK_BYTES;
    /* Chunk's slot: its pair of blocks q lies at q pair_bytes in it (a stage's, one or two). */
    __device__ __forceinline__ const uint8_t *slot(int chunk) const {
        return ring + slot_offset(chunk);
    }
    /* Whether both blocks of a stage's pair are there (else K's odd last block alone: its
     * partner's codes read as zeros): mx_wgmma_load_codes's argument. (The pair after the
     * split's last is decoded too, from whatever its slot holds, and never multiplied.) */
    __device__ __forceinline__ bool both(int pair) const {
        return pair != odd_pair;
    }
    /* The scale words of chunk, the padding rows' bytes read as 127; the bytes past a short
     * chunk are 127 too. */
    __device__ __forceinline__ void scales(int chunk, uint32_t (&words)[4]) const {
        const int group = ((int)threadIdx.x & 31) >> 2;
        const int blocks = tile ? chunk_blocks(chunk) : 0;
        const uint8_t *at = ring + slot_offset(chunk) + 256 * blocks;
        if (blocks == MX_CHUNK_BLOCKS) {
            const uint4 whole = *reinterpret_cast<const uint4 *>(at + 16 * group);
            words[0] = whole.x;
            words[1] = whole.y;
            words[2] = whole.z;
            words[3] = whole.w;
        } else {
#pragma unroll
            for (int w = 0; w < 4; w++) { /* constant indices: registers */
                words[w] = 0;
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    const int i = 4 * w + b;
                    const uint32_t byte = i < 2 * blocks ? at[2 * blocks * group + i] : 0x7Fu;
                    words[w] |= byte << 8 * b;
                }
            }
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
            words[i] = (words[i] & ~padding_mask) | (0x7F7F7F7Fu & padding_mask);
    }
};

/* The lane's A fragments of the two k16 steps of block b of a stage (0 or 1), raw decoded, from
 * code words q (mx_wgmma_load_codes). Without quad, the lane's own word's pairs, for stages in
 * the codes' K order (stmatrix). With quad, for stages in the activations' own order (TMA):
 * lane (g, t) of the prepared layout holds
 * elements 8t .. 8t + 7 of its rows (pairs 4t .. 4t + 3, slot u of the word: pair 4t + u); the
 * A fragment of k16 step s wants pairs 8s + t and 8s + t + 4 of rows g and g + 8 (K in its own
 * order, as the activations lie in the stage): slot t of the words of lanes 2s and 2s + 1 of the
 * quad. So row0[u] = slot t of quad lane u's row g word, row8[u] of its row g + 8 word, and a[s]
 * = {row0[2s], row8[2s], row0[2s + 1], row8[2s + 1]}: a 4x4 transpose of the quad's pairs, read
 * from shared memory and decoded with a rotation by the lane's t (mx_decode_slot). */
template <typename T, bool quad>
__device__ __forceinline__ void mx_wgmma_block_pairs(const uint4 (&q)[4], int b, uint2 rotations,
                                                     uint32_t (&row0)[4], uint32_t (&row8)[4]) {
    if constexpr (!quad) {
        mx_decode_raw<T>(b == 0 ? q[0].x : q[0].z, row0);
        mx_decode_raw<T>(b == 0 ? q[0].y : q[0].w, row8);
    } else {
#pragma unroll
        for (int u = 0; u < 4; u++) {
            row0[u] = mx_decode_slot<T>(b == 0 ? q[u].x : q[u].z, rotations);
            row8[u] = mx_decode_slot<T>(b == 0 ? q[u].y : q[u].w, rotations);
        }
    }
}

/* Those pairs as the A fragments of the block's two k16 steps: a[step] = {row g pair 2 step, row
 * g + 8 pair 2 step, row g pair 2 step + 1, row g + 8 ...}. */
__device__ __forceinline__ void mx_wgmma_arrange(const uint32_t (&row0)[4],
                                                 const uint32_t (&row8)[4], uint32_t (&a)[2][4]) {
#pragma unroll
    for (int step = 0; step < 2; step++) {
        a[step][0] = row0[2 * step];
        a[step][1] = row8[2 * step];
        a[step][2] = row0[2 * step + 1];
        a[step][3] = row8[2 * step + 1];
    }
}

/* Rows g and g + 8 of block b of the stage as the warpgroup MMAs' A fragments. factors: the
 * stage's word of its chunk's folded scale factors (bias_scales: the raw decoded codes of block
 * b, rows g and g + 8, times bytes 2b and 2b + 1 give E2M1 x 2^s), or 0 where the chunk is not
 * folded: then the per-block path does the stage, and these MMAs add zeros. No branch: the MMAs
 * that read these registers must not sit behind one. */
template <typename T, bool quad>
__device__ __forceinline__ void mx_wgmma_fragments(const uint4 (&q)[4], uint32_t factors, int b,
                                                   uint2 rotations, uint32_t (&a)[2][4]) {
    using traits = mx_mma_type<T>;
    const uint32_t factor0 = traits::folded_factor(factors, 2 * b);
    const uint32_t factor1 = traits::folded_factor(factors, 2 * b + 1);
    uint32_t row0[4], row8[4];
    mx_wgmma_block_pairs<T, quad>(q, b, rotations, row0, row8);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        row0[i] = traits::multiply(row0[i], factor0);
        row8[i] = traits::multiply(row8[i], factor1);
    }
    mx_wgmma_arrange(row0, row8, a);
}

/* The per-block path of a stage (a chunk with a scale outside the folded range): each block's
 * product alone on mma.sync m16n8k16 (A: the stage's codes decoded exactly, in the warpgroup
 * MMAs' K order; B words straight from the stage: token 8 group + g, K 16 (2b + step) + 2t and +
 * 8, in its swizzled row (TMA) or core matrices 0 and 1 of the step (stmatrix); stage: its
 * shared address), added with its FP32 factor 2^(s + factor_exponent). No wgmma here: this branch
 * is the warpgroup's, not the compiler's to prove uniform. Out of line: inlined, its MMAs'
 * temporaries beside the accumulators and both stages' fragments spilled values of the fast path;
 * called, the accumulators go through a local copy only when it runs, and the codes are read again
 * from the weight slot (`codes`, `both`: as mx_wgmma_load_codes takes them). */
template <typename T, int TOKENS>
__device__ __noinline__ void mx_wgmma_per_block(const uint8_t *codes, bool both,
                                                uint32_t scale_word, uint32_t stage,
                                                float (&acc)[mx_wgmma_shape<TOKENS>::groups][4]) {
    using shape = mx_wgmma_shape<TOKENS>;
    using traits = mx_mma_type<T>;
    const int lane = (int)threadIdx.x & 31, g = lane >> 2;
    const uint32_t lane_row = stage + g * (shape::tma ? shape::row_bytes : 16) + 4 * (lane & 3);
    /* Volatile loads stay next to their MMAs: hoisted, the words of the unrolled loop spilled
     * the registers of the whole kernel. */
    auto load = [](uint32_t address) {
        uint32_t word;
        asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(word) : "r"(address));
        return word;
    };
    uint4 q[4];
    mx_wgmma_load_codes<shape::tma>(codes, both, q);
#pragma unroll
    for (int b = 0; b < 2; b++) {
        const float factor0 = mx_block_factor<T>(scale_word >> (16 * b) & 0xFFu);
        const float factor1 = mx_block_factor<T>(scale_word >> (16 * b + 8) & 0xFFu);
        uint32_t row0[4], row8[4], a[2][4]; /* one block decoded at a time: fewer registers */
        mx_wgmma_block_pairs<T, shape::tma>(q, b, mx_slot_rotations<T>(lane & 3), row0, row8);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            row0[i] = traits::exact(row0[i]);
            row8[i] = traits::exact(row8[i]);
        }
        mx_wgmma_arrange(row0, row8, a);
#pragma unroll
        for (int group = 0; group < shape::groups; group++) {
            float block_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int step = 0; step < 2; step++) {
                if constexpr (shape::tma) {
                    const int piece = 4 * b + 2 * step; /* the 16-byte piece of K 2t; + 8: next */
                    const uint32_t at = lane_row + group * 8 * shape::row_bytes;
                    traits::mma(block_sum, a[step], load(at + ((piece ^ g) << 4)),
                                load(at + (((piece + 1) ^ g) << 4)));
                } else {
                    const uint32_t at = lane_row + (2 * b + step) * shape::step_bytes + group * 256;
                    traits::mma(block_sum, a[step], load(at), load(at + 128));
                }
            }
#pragma unroll
            for (int c = 0; c < 4; c++)
                acc[group][c] = fmaf(block_sum[c], c < 2 ? factor0 : factor1, acc[group][c]);
        }
    }
}

/* Word q (0..3) of a chunk's four, selected rather than indexed: an indexed word would live in
 * local memory. */
__device__ __forceinline__ uint32_t mx_select_word(const uint32_t (&words)[4], uint32_t q) {
    return q == 0 ? words[0] : q == 1 ? words[1] : q == 2 ? words[2] : words[3];
}

#endif /* MX_WGMMA_DEVICE */

/* One CTA: 128 weight rows (blockIdx.x) x TOKENS tokens (blockIdx.z: batch entry and token tile, or
 * the index-th valid token tile with batch_rows) over the whole of K or split blockIdx.y of it. */
template <typename T, int E, int TOKENS>
static __global__ void __launch_bounds__(mx_wgmma_shape<TOKENS>::threads, 1)
    mx_gemm_wgmma_kernel(const mx_gemm_params p, const __grid_constant__ CUtensorMap activations) {
#ifdef MX_WGMMA_DEVICE
    using shape = mx_wgmma_shape<TOKENS>;
    using traits = mx_mma_type<T>;
    extern __shared__ __align__(128) uint8_t smem[];
    mx_dependent_begin();
    int batch_index = blockIdx.z / p.token_tiles;
    int64_t token0 = (int64_t)(blockIdx.z % p.token_tiles) * shape::tokens;
    int64_t m_valid = p.m;
    if (p.batch_rows) { /* every warp gets the same answer: the whole CTA leaves together */
        int tile = 0;
        if (!mx_valid_tile(p, shape::tokens, (int)blockIdx.z, batch_index, tile, m_valid)) return;
        token0 = (int64_t)tile * shape::tokens;
    }
    /* The stages from the first 1024-byte boundary (the swizzle's atoms), then the rings. */
    const uint32_t stage0 =
        ((uint32_t)__cvta_generic_to_shared(smem) + shape::align - 1) & ~(shape::align - 1u);
    uint8_t *const stages = smem + (stage0 - (uint32_t)__cvta_generic_to_shared(smem));
    const uint32_t rings = stage0 + shape::stages * shape::stage_bytes;
    const uint32_t full = rings + shape::ring_bytes;
    const uint32_t empty = full + 8 * shape::stages;
    if (threadIdx.x == 0) {
        for (int s = 0; s < shape::stages; s++) {
            mx_mbarrier_init(full + 8 * s, shape::tma ? 1 : 128);    /* TMA's thread or all */
            mx_mbarrier_init(empty + 8 * s, 128 * shape::consumers); /* every consumer */
        }
        /* the TMA copies complete on the full barriers through the async proxy: the
         * initializations before them (PTX's fence for mbarrier.init) */
        if constexpr (shape::tma)
            asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    /* The CTA's split of K (blockIdx.y; whole chunks, so that a chunk's scales stay one vote):
     * stages stage_begin .. stage_begin + stage_count - 1. */
    constexpr int stages_per_chunk = MX_CHUNK_BLOCKS / shape::stage_blocks;
    constexpr int pairs = shape::stage_pairs;
    const int stage_begin = (int)blockIdx.y * p.chunks_per_split * stages_per_chunk;
    const int stage_count = min((p.k_blocks + shape::stage_blocks - 1) / shape::stage_blocks,
                                stage_begin + p.chunks_per_split * stages_per_chunk) -
                            stage_begin;
    /* The register file moves from the producer (one thread issuing TMA copies; or two stages
     * of loads in flight, 64 registers of them) to the consumers (accumulators, both stages'
     * fragments): 128 x 40 + 256 x 232, or 128 x 104 + 256 x 200 = the CTA's 63 K (128 x 112
     * + 256 x 192 = 62 K up to 64 tokens). */
    if (threadIdx.x < 128) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(shape::producer_registers));
        if constexpr (shape::tma) {
            if (threadIdx.x == 0)
                mx_wgmma_produce_tma<TOKENS>(&activations, batch_index, token0, stage0, full, empty,
                                             stage_begin, stage_count);
        } else {
            mx_wgmma_produce_registers<T, TOKENS>(p, batch_index, token0, m_valid, stage0, full,
                                                  empty, stage_begin, stage_count);
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(shape::consumer_registers));

    const int consumer = (int)(threadIdx.x >> 7) - 1, warp = (int)(threadIdx.x >> 5) & 3;
    const int lane = (int)threadIdx.x & 31;
    const int64_t tile = (int64_t)blockIdx.x * (shape::rows / MX_TILE_ROWS) + 4 * consumer + warp;
    mx_wgmma_weights<shape::weight_slots> weights;
    weights.odd_pair = p.k_blocks % 2 ? p.k_blocks / 2 : -1;
    weights.k_chunks = (p.k_blocks + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS;
    weights.last_blocks = p.k_blocks - (weights.k_chunks - 1) * MX_CHUNK_BLOCKS;
    weights.tile = tile < p.row_tiles
                       ? p.w + (int64_t)batch_index * p.entry_bytes + tile * p.tile_bytes
                       : nullptr;
    weights.chunk_begin = stage_begin / stages_per_chunk;
    weights.chunk_end = min(weights.k_chunks, weights.chunk_begin + p.chunks_per_split);
    {
        const int offset = (4 * consumer + warp) * shape::weight_slots * MX_CHUNK_BYTES;
        weights.ring = stages + (rings - stage0) + offset;
        weights.ring_shared = rings + offset;
    }
    {
        const int64_t row = tile * MX_TILE_ROWS + (lane >> 2);
        weights.padding_mask =
            (row >= p.n ? 0x00FF00FFu : 0u) | (row + 8 >= p.n ? 0xFF00FF00u : 0u);
    }

    /* The ring's first chunks on their way; a chunk's scale words are read from its slot at its
     * first stage. */
    weights.start();
    uint32_t scale_bytes[4];  /* the chunk's scale words (mx_wgmma_weights::scales) */
    uint32_t factor_words[4]; /* the same folded (bias_scales), or 0: the chunk is not folded */
    bool chunk_folded = false;
    uint32_t factors[pairs] = {};       /* the stage's words of factor_words, a pair each */
    const uint8_t *lane_slot = nullptr; /* the lane's place in the chunk's weight slot */
    const uint2 rotations = mx_slot_rotations<T>(lane & 3); /* the quad decode's, slot t */
    /* For stage (of the split; a split starts on a chunk): its chunk's lane_slot, chunk_folded
     * and the stage's factors (and the chunk's arrival, the ring's refill and the vote when the
     * stage starts a chunk). */
    auto advance = [&](int stage) {
        const uint32_t q = (uint32_t)stage % stages_per_chunk;
        if (q == 0) {
            const int chunk = weights.chunk_begin + (int)((uint32_t)stage / stages_per_chunk);
            weights.arrive(chunk);
            weights.scales(chunk, scale_bytes);
            bool other = false;
#pragma unroll
            for (int i = 0; i < 4; i++)
                other |= !traits::template scales_fit<MX_CHUNK_FOLDED>(scale_bytes[i]);
            chunk_folded = !mx_warpgroup_any(other, 1 + consumer);
#pragma unroll
            for (int i = 0; i < 4; i++)
                factor_words[i] =
                    chunk_folded ? traits::template bias_scales<MX_CHUNK_FOLDED>(scale_bytes[i])
                                 : 0u;
            lane_slot = weights.slot(chunk) + mx_wgmma_code_lane<shape::tma>();
        }
        /* The stage's pair i is pair pairs q + i of the chunk (blocks 2 (pairs q + i) and + 1),
         * its scale bytes that word. An odd last block's partner has zero codes and zero
         * activations: it adds nothing; so do the pairs of a stage past a short last chunk (their
         * codes whatever the slot holds, all finite; their activations zero). */
#pragma unroll
        for (int i = 0; i < pairs; i++) factors[i] = mx_select_word(factor_words, pairs * q + i);
    };
    /* Where the lane's codes of the stage's pair i lie in its chunk's slot. */
    auto stage_codes = [&](int stage, int i) {
        return lane_slot + ((uint32_t)stage % stages_per_chunk * pairs + i) * weights.pair_bytes;
    };
    /* Pair i of stage's index in K (weights.both's argument). */
    auto stage_pair = [&](int stage, int i) { return (stage_begin + stage) * pairs + i; };

    /* Stage by stage, one stage's MMAs always in flight: once a stage's are issued, the previous
     * stage's are waited for (its slot goes back to the producer) and the next stage's fragments
     * are decoded into that stage's registers while this stage's MMAs run. (Decoding while no
     * older group is pending does not overlap: ptxas then moves the wait before the decode. Two
     * stages in flight were slower, and behind wait_group 2 ptxas gave the A registers of MMAs
     * still running to other values: docs/gemm.md, "The consumers' instructions".) */
    float acc[shape::groups][4] = {};
    /* A stage's warpgroup MMAs' A fragments, in registers that the unrolled pair of stages
     * names statically. */
    struct stage_operands {
        uint32_t a[shape::stage_blocks][2][4]; /* [block][k16 step] */
    } even, odd;
    /* Stage `stage`'s codes read from the ring into q, a pair each. */
    auto load_codes = [&](int stage, uint4(&q)[pairs][4]) {
#pragma unroll
        for (int i = 0; i < pairs; i++)
            mx_wgmma_load_codes<shape::tma>(stage_codes(stage, i),
                                            weights.both(stage_pair(stage, i)), q[i]);
    };
    /* Stage `stage` of the split decoded into next, its codes in q if loaded, else read from the
     * ring. */
    auto decode = [&](int stage, stage_operands &next, bool loaded, uint4(&q)[pairs][4]) {
        advance(stage);
        if (!loaded) load_codes(stage, q);
#pragma unroll
        for (int i = 0; i < pairs; i++) {
            mx_wgmma_fragments<T, shape::tma>(q[i], factors[i], 0, rotations, next.a[2 * i]);
            mx_wgmma_fragments<T, shape::tma>(q[i], factors[i], 1, rotations, next.a[2 * i + 1]);
        }
    };
    const uint64_t descriptor0 = mx_wgmma_descriptor<shape::tma>(stage0);
    /* Stage `stage` of the split, its fragments in operands; then stage + 1 decoded into next. */
    auto run = [&](int stage, stage_operands &operands, stage_operands &next) {
        /* Below 256 tokens the next stage's codes are read before this stage's wait and MMAs
         * where it lies in the same chunk (the same slot; a chunk's first stage waits for the
         * chunk in advance()): the shared-memory load's latency then hides under them. */
        const bool early = !shape::tma && (uint32_t)(stage + 1) % stages_per_chunk != 0;
        uint4 q[pairs][4];
        if (early) load_codes(stage + 1, q);
        const uint32_t ring_slot = (uint32_t)stage % shape::stages;
        const uint32_t stage_base = stage0 + ring_slot * shape::stage_bytes;
        const uint64_t stage_descriptor = descriptor0 + ring_slot * shape::stage_bytes / 16;
        mx_mbarrier_wait(full + 8 * ring_slot, (uint32_t)stage / shape::stages & 1);
        if (!chunk_folded) {
            /* the per-block path adds to the accumulators itself, through a copy (a reference
             * to acc would put acc in local memory), on the stage's codes read again */
            mx_wgmma_wait_all(acc);
            float sums[shape::groups][4];
            memcpy(sums, acc, sizeof sums);
#pragma unroll
            for (int i = 0; i < pairs; i++) /* pair i's B: its two blocks' k16 steps on */
                mx_wgmma_per_block<T, TOKENS>(
                    stage_codes(stage, i), weights.both(stage_pair(stage, i)),
                    mx_select_word(scale_bytes, (uint32_t)stage % stages_per_chunk * pairs + i),
                    stage_base + 4 * i * shape::step_offset, sums);
            memcpy(acc, sums, sizeof sums);
        }
        /* The warpgroup MMAs, on every stage alike (zero weights where the per-block path did
         * the stage). An infinite activation in such a stage makes its token's outputs NaN in
         * every row, 0 x Inf, where the per-block path alone gives Inf for rows whose weights
         * there are all nonzero: an infinite activation is NaN for any row with a zero weight at
         * that K on every path anyway. */
        mx_wgmma_fence();
#pragma unroll
        for (int b = 0; b < shape::stage_blocks; b++)
#pragma unroll
            for (int s = 0; s < 2; s++)
                mx_wgmma<T>(acc, operands.a[b][s],
                            stage_descriptor + (2 * b + s) * shape::step_offset / 16, 1);
        mx_wgmma_commit();
        mx_wgmma_wait_one();
        /* every consumer thread releases the previous stage after its own reads of it (no lane
         * test, no warp synchronization in the loop) */
        if (stage > 0)
            mx_mbarrier_arrive(empty + 8 * ((uint32_t)(stage + shape::stages - 1) % shape::stages));
        decode(stage + 1, next, early, q);
    };
    {
        uint4 q[pairs][4];
        decode(0, even, false, q);
    }
    if constexpr (shape::tma) {
        /* 256 tokens: a chunk's four stages unrolled (stage % 4, so the pair's scale word and
         * codes' offset and the ring slot, are then constants): 2-6 % faster than two on an H100.
         * Below 256 tokens the two-stage loop stays: unrolled, 128 tokens was 7-21 % slower
         * (twice) and 64 no faster, and register allocation alone moves the 128-token kernel
         * 5-10 % (docs/gemm.md, "The consumers' instructions"). */
        static_assert(stages_per_chunk == 4, "the unrolled loop runs a chunk's four stages");
        for (int stage = 0; stage < stage_count; stage += stages_per_chunk) {
            run(stage, even, odd);
            if (stage + 1 < stage_count) run(stage + 1, odd, even);
            if (stage + 2 < stage_count) run(stage + 2, even, odd);
            if (stage + 3 < stage_count) run(stage + 3, odd, even);
        }
    } else {
        for (int stage = 0; stage < stage_count; stage += 2) {
            run(stage, even, odd);
            if (stage + 1 < stage_count) run(stage + 1, odd, even);
        }
    }
    mx_wgmma_wait_all(acc); /* the last stage's slot is never needed again */
    mx_copy_wait<0>();      /* (every chunk has arrived: only empty groups are left) */

    const T *bias = p.bias ? (const T *)p.bias + (int64_t)batch_index * p.n : nullptr;
    const int64_t entry_outputs = (int64_t)batch_index * p.m * mx_out_width<E>(p);
    T *y = (T *)p.y + entry_outputs;
    const T *residual =
        E != MX_EPILOGUE_BIAS && p.residual ? (const T *)p.residual + entry_outputs : nullptr;
    /* A gated unit's outputs from the fragments (one lane in two writing 2 bytes of each row
     * pair; 64 unrolled units: the FP16 128-token kernel is 22.4 K SASS lines this way, 7.0 K
     * through shared memory) took about 1.7x the plain GEMM's time at 256 tokens (H100); through
     * shared memory, like split K, they are written in rows of the output (docs/gemm.md). */
    if (gridDim.y == 1 && E != MX_EPILOGUE_GATED) {
        if (weights.tile)
            mx_store_tile<T, shape::groups, E>(p, y, residual, bias, tile * MX_TILE_ROWS, token0,
                                               m_valid, acc);
        return;
    }
    /* The CTA's sums go to shared memory (mx_partial_offset; the ring is done with once every
     * consumer is: named barrier 3 over the 256 consumer threads; the producer has exited), and
     * with split K the cluster sums them (every consumer warp takes part, tile or not). */
    asm volatile("bar.sync 3, 256;\n" ::: "memory");
    float *partial = (float *)stages;
    const int row = (4 * consumer + warp) * MX_TILE_ROWS + (lane >> 2);
#pragma unroll
    for (int j = 0; j < shape::groups; j++)
#pragma unroll
        for (int c = 0; c < 4; c++)
            partial[mx_partial_offset(8 * j + 2 * (lane & 3) + (c & 1), row + 8 * (c >> 1),
                                      shape::rows)] = acc[j][c];
    /* Every sum is in before any is read (with split K, the cluster's barrier in
     * mx_reduce_tile). */
    if (gridDim.y == 1) asm volatile("bar.sync 3, 256;\n" ::: "memory");
    mx_reduce_tile<T, E>(p, partial, shape::tokens * shape::rows, shape::rows, token0,
                         (int64_t)blockIdx.x * shape::rows, m_valid, y, residual, bias,
                         (int)threadIdx.x - 128, 256);
#else
    (void)p;
    (void)activations;
    __trap();
#endif
}

#endif
