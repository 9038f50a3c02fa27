/* Where each byte of an OCP weight matrix lives in the prepared layout (weights.h describes it),
 * for host and device code: the prepare and unprepare kernels, the dequantizer and the tests
 * derive every address from these few functions. */
#ifndef MX_WEIGHTS_CUH
#define MX_WEIGHTS_CUH

#include "format.h"
#include "weights.h"

/* Bytes of one 16-row tile of [n, k] weights. */
MX_HD static inline int64_t mx_tile_bytes(int64_t k) {
    return k / MX_BLOCK_SIZE * MX_TILE_BLOCK_BYTES;
}

/* Blocks in chunk c of a row of k / 32 blocks. */
MX_HD static inline int mx_chunk_blocks(int64_t k_blocks, int64_t chunk) {
    const int64_t left = k_blocks - chunk * MX_CHUNK_BLOCKS, full = MX_CHUNK_BLOCKS;
    return (int)(left < full ? left : full);
}

/* Offset in a batch entry of the chunk holding (row, block). */
MX_HD static inline int64_t mx_chunk_offset(int64_t k, int64_t row, int64_t block) {
    return row / MX_TILE_ROWS * mx_tile_bytes(k) + block / MX_CHUNK_BLOCKS * MX_CHUNK_BYTES;
}

/* Offset in a batch entry of the code word of (row, block, quad t): elements 8t .. 8t + 7. */
MX_HD static inline int64_t mx_prepared_word_offset(int64_t k, int64_t row, int64_t block, int t) {
    const int blocks = mx_chunk_blocks(k / MX_BLOCK_SIZE, block / MX_CHUNK_BLOCKS);
    const int j = (int)(block % MX_CHUNK_BLOCKS), g = (int)(row % 8), half = (int)(row % 16) / 8;
    const int lane = 4 * g + t;
    int64_t offset = mx_chunk_offset(k, row, block);
    if ((j | 1) < blocks) /* both blocks of the pair (j & ~1, j | 1) are in the chunk */
        return offset + (j / 2) * 512 + 16 * lane + 4 * (2 * (j & 1) + half);
    return offset + (blocks - 1) * 256 + 8 * lane + 4 * half; /* an odd last block */
}

/* What one lane of a warp reads in one go, for the kernels that walk the layout in its own order:
 * pair p of a tile's blocks (2p, 2p + 1) is 16 bytes at this offset in the batch entry, the words
 * (row g, block 2p), (row g + 8, block 2p), (row g, block 2p + 1), (row g + 8, block 2p + 1) of
 * quad t for lane = 4g + t; when 2p + 1 is past the last block, 8 bytes: the first two words. */
MX_HD static inline int64_t mx_prepared_pair_offset(int64_t k, int64_t tile, int64_t pair,
                                                    int lane) {
    const int64_t block = 2 * pair;
    const int blocks = mx_chunk_blocks(k / MX_BLOCK_SIZE, block / MX_CHUNK_BLOCKS);
    const int64_t offset =
        mx_chunk_offset(k, tile * MX_TILE_ROWS, block) + (block % MX_CHUNK_BLOCKS / 2) * 512;
    return offset + ((block % MX_CHUNK_BLOCKS) + 1 < blocks ? 16 : 8) * lane;
}

/* Offset in a batch entry of the scale byte of (row, block). */
MX_HD static inline int64_t mx_prepared_scale_offset(int64_t k, int64_t row, int64_t block) {
    const int blocks = mx_chunk_blocks(k / MX_BLOCK_SIZE, block / MX_CHUNK_BLOCKS);
    const int j = (int)(block % MX_CHUNK_BLOCKS), g = (int)(row % 8), half = (int)(row % 16) / 8;
    return mx_chunk_offset(k, row, block) + blocks * 256 + g * 2 * blocks + 2 * j + half;
}

/* Where element e (0..7) of a prepared word keeps its sign and its three magnitude bits
 * (weights.h): in the half e & 1, at the positions of its pair e / 2. */
MX_HD static inline int mx_prepared_sign_bit(int e) {
    return 16 * (e & 1) + (e / 2 == 0 ? 15 : 11 + e / 2);
}

MX_HD static inline int mx_prepared_magnitude_bit(int e) {
    const int pair = e / 2;
    return 16 * (e & 1) + (pair == 0 ? 9 : pair == 1 ? 6 : pair == 2 ? 0 : 3);
}

/* An OCP word (element e in nibble e: sign in bit 3, magnitude in bits 0..2) in the prepared bit
 * order, and back. */
MX_HD static inline uint32_t mx_prepared_word(uint32_t ocp) {
    uint32_t word = 0;
    for (int e = 0; e < 8; e++) {
        const uint32_t code = (ocp >> (4 * e)) & 0xFu;
        word |= (code & 7u) << mx_prepared_magnitude_bit(e) | (code >> 3)
                                                                  << mx_prepared_sign_bit(e);
    }
    return word;
}

MX_HD static inline uint32_t mx_ocp_word(uint32_t prepared) {
    uint32_t word = 0;
    for (int e = 0; e < 8; e++) {
        const uint32_t magnitude = (prepared >> mx_prepared_magnitude_bit(e)) & 7u;
        const uint32_t sign = (prepared >> mx_prepared_sign_bit(e)) & 1u;
        word |= (magnitude | sign << 3) << (4 * e);
    }
    return word;
}

#endif
