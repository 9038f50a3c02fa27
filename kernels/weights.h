/* Prepared MXFP4 weights: the OCP bytes (blocks + scales, docs/design.md §2) of a weight matrix, or
 * a batch of them, reordered once on the GPU into the order the GEMM kernels consume, so that each
 * warp streams one contiguous range with 16-byte loads. OCP stays the interchange format (files,
 * the codec, the CLI); the kernels read prepared weights only. The prepared buffer replaces the
 * OCP one: the same bytes when n is a multiple of 16 (every model shape), otherwise the last
 * 16-row tile of each batch entry is padded with zero rows.
 *
 * Layout, per batch entry: ceil(n / 16) row tiles one after the other, each 16 rows x k/32
 * blocks x 17 bytes, cut along K into chunks of 8 blocks (the last one shorter when k/32 is not a
 * multiple of 8). A chunk of b blocks holds b * 256 bytes of E2M1 codes then b * 16 scale bytes:
 *   codes: lane l = 4 g + t (g = 0..7, t = 0..3) of the warp that reads the chunk owns 16 bytes
 *     per pair of blocks (2i, 2i + 1) at i * 512 + 16 l: the 4-byte words (row g, block 2i),
 *     (row g + 8, block 2i), (row g, block 2i + 1), (row g + 8, block 2i + 1), each holding
 *     elements 8t .. 8t + 7 of its row and block (an odd last block: 8 bytes at (b - 1) * 256 +
 *     8 l). A word keeps the even elements in its low half and the odd ones in its high half, at
 *     the same places: pair j = (2j, 2j + 1) has its signs at bit 15, 12, 13, 14 (j = 0..3) and
 *     its magnitudes at bits 9, 6, 0, 3 upwards (+ 16 in the high half). Pair 0 sits where
 *     FP16 wants E2M1 x 2^-14 (one AND), pair 1 three bits lower (a shift and an AND), pairs
 *     2 and 3 take two of each: the cheapest placement there is, since no four shifts of
 *     FP16's sign-and-magnitude pattern tile a word.
 *   scales: 2b bytes per g at g * 2b: (row g, block 0), (row g + 8, block 0), (row g, block 1)...
 * These are exactly the A fragments of mma.sync m16n8k16 (rows as M) with K permuted inside each
 * block; the activations are read in natural order. */
#ifndef MX_WEIGHTS_H
#define MX_WEIGHTS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MX_TILE_ROWS = 16,   /* rows of one prepared tile (the MMA's M) */
    MX_CHUNK_BLOCKS = 8, /* blocks of one chunk along K */
    /* 16 rows x (16 code bytes + 1 scale byte) per block */
    MX_TILE_BLOCK_BYTES = MX_TILE_ROWS * (MX_BLOCK_BYTES + 1),
    MX_CHUNK_BYTES = MX_CHUNK_BLOCKS * MX_TILE_BLOCK_BYTES,
};

/* A view of prepared weights: what mx_weights_prepare made, or a part of it (mx_weights_rows,
 * mx_weights_entry). Its own type, so that prepared bytes cannot be passed where OCP bytes are
 * expected, nor OCP bytes as prepared ones: the kernels refuse a view whose magic or shape does
 * not match the problem. */
typedef struct {
    uint32_t magic;      /* MX_WEIGHTS_MAGIC once prepared */
    int64_t n, k, batch; /* [batch, n, k] weights */
    const uint8_t *data; /* device, 16-byte aligned: mx_weights_bytes(n, k, batch) bytes */
    int64_t entry_bytes; /* bytes between batch entries (a view of rows keeps its parent's) */
} mx_weights;

#define MX_WEIGHTS_MAGIC 0x3450584Du /* "MXP4" */

/* Bytes of prepared [batch, n, k] weights: batch * ceil(n / 16) * 16 * k * 17 / 32. */
size_t mx_weights_bytes(int64_t n, int64_t k, int64_t batch);

/* Reorders OCP blocks [batch * n, k / 2] and scales [batch * n, k / 32] into prepared, a device
 * buffer of at least mx_weights_bytes (16-byte aligned, not overlapping the inputs), and sets
 * *weights to describe it. Asynchronous on stream; the OCP buffers may be freed once it is done. */
mx_status mx_weights_prepare(const uint8_t *blocks, const uint8_t *scales, int64_t n, int64_t k,
                             int64_t batch, void *prepared, size_t prepared_bytes,
                             mx_weights *weights, cudaStream_t stream);

/* The inverse: the OCP blocks and scales of prepared weights (for files and tests). */
mx_status mx_weights_unprepare(const mx_weights *weights, uint8_t *blocks, uint8_t *scales,
                               cudaStream_t stream);

/* The weights decoded into dense [batch * n, k] of dst_dtype, with mx_dequantize's numerics. */
mx_status mx_weights_dequantize(const mx_weights *weights, mx_dtype dst_dtype, void *dst,
                                cudaStream_t stream);

/* Rows [first_row, first_row + rows) of every batch entry (first_row a multiple of 16), and batch
 * entry `entry` alone: views into the same buffer. MX_OK, or a status naming the bad value. */
mx_status mx_weights_rows(const mx_weights *weights, int64_t first_row, int64_t rows,
                          mx_weights *part);
mx_status mx_weights_entry(const mx_weights *weights, int64_t entry, mx_weights *part);

/* Checks that weights is a prepared view of [batch, n, k] weights (what names the argument in
 * the message): MX_OK, or MX_ERR_INVALID_ARGUMENT saying what differs. */
mx_status mx_weights_check(const mx_weights *weights, int64_t n, int64_t k, int64_t batch,
                           const char *what);

#ifdef __cplusplus
}
#endif

#endif
