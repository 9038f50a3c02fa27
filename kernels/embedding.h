/* MXFP4 token embedding: y[t, :] = dequant(table[id[t], :]) (+ positions[t % seq_len, :]) for a
 * batch of sequences stored one after the other, the table MXFP4 [vocab, hidden] (blocks
 * [vocab, hidden/2], scales [vocab, hidden/32]), ids int32 on the device, y FP16 or BF16.
 *
 * Variants:
 *   on-the-fly  mx_embedding: a warp per token dequantizes only the row it looks up (16-byte
 *               loads of the packed row, the sum with the position row in FP32, one rounding
 *               to the dtype). No workspace.
 *   cached      mx_embedding_cache_prepare dequantizes the whole table once (mx_dequantize)
 *               into a kept FP16/BF16 buffer of mx_embedding_cache_bytes, then
 *               mx_embedding_gather copies rows from it: dense speed, vocab*hidden*2 bytes more
 *               VRAM than the MXFP4 table. mx_embedding_gather on any dense [vocab, hidden]
 *               table is also the FP16 reference path.
 *
 * Numerics. on-the-fly: FP32 dequant (exact, docs/design.md §2) + FP32 position, rounded once.
 * cached: the table is first rounded to the dtype (FP16 overflows above 65504 and loses bits
 * below 2^-14, as mx_dequantize says), then + position in FP32, rounded again. Without
 * positions both give the dequantized value rounded once to the dtype (bit-identical).
 *
 * Token ids out of [0, vocab) are device data: checking them on the host would synchronize
 * every call. Instead the kernels write zeros for such a row and record the first offending
 * (position, id) - the lowest position - in the context's device error record; nothing else
 * fails. mx_embedding_status(context, stream) synchronizes the stream, returns
 * MX_ERR_INVALID_ARGUMENT ("token id 201090 at position 3: expected 0 <= id < 201088") when a
 * record is set, and resets it. Call it when a step's result is consumed (or in tests after
 * each call). Every other bad argument is refused before launch. */
#ifndef MX_EMBEDDING_H
#define MX_EMBEDDING_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Holds the device error record for out-of-range token ids. One per stream of calls: the record
 * is shared by every call made with it until mx_embedding_status reads it. */
typedef struct mx_embedding_context mx_embedding_context;

mx_status mx_embedding_context_create(mx_embedding_context **context);
void mx_embedding_context_destroy(mx_embedding_context *context);

/* Synchronizes stream; MX_OK when no call since the last status saw an id out of range,
 * otherwise MX_ERR_INVALID_ARGUMENT naming the first (lowest-position) one, and the record is
 * reset. The vocab in the message is that of the last call made with the context. */
mx_status mx_embedding_status(mx_embedding_context *context, cudaStream_t stream);

typedef struct {
    int64_t vocab, hidden; /* vocab in [1, 2^31), hidden > 0 and a multiple of 32 */
    int64_t tokens;        /* sequences * seq_len, in [1, 2^31) */
    int64_t seq_len;       /* tokens per sequence, divides tokens */
    mx_dtype dtype;        /* MX_F16 or MX_BF16: positions, the cache and y */
    const int32_t *ids;    /* [tokens] */
    const void *positions; /* [seq_len, hidden] of dtype (16-byte aligned) or NULL */
    void *y;               /* [tokens, hidden] of dtype, 16-byte aligned */
} mx_embedding_problem;

/* On-the-fly: blocks [vocab, hidden/2] (16-byte aligned), scales [vocab, hidden/32]. */
mx_status mx_embedding(mx_embedding_context *context, const mx_embedding_problem *problem,
                       const uint8_t *blocks, const uint8_t *scales, cudaStream_t stream);

/* Bytes of the cached (dequantized) table: vocab * hidden * 2 for FP16/BF16. */
size_t mx_embedding_cache_bytes(int64_t vocab, int64_t hidden, mx_dtype dtype);

/* Dequantizes the MXFP4 table once into cache (cache_bytes >= mx_embedding_cache_bytes, else
 * MX_ERR_WORKSPACE). */
mx_status mx_embedding_cache_prepare(const uint8_t *blocks, const uint8_t *scales, int64_t vocab,
                                     int64_t hidden, mx_dtype dtype, void *cache,
                                     size_t cache_bytes, cudaStream_t stream);

/* Gather from a dense [vocab, hidden] table of problem->dtype (16-byte aligned): the cached
 * variant (table = the cache) and the FP16 reference path (table = any dense copy). */
mx_status mx_embedding_gather(mx_embedding_context *context, const mx_embedding_problem *problem,
                              const void *table, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
