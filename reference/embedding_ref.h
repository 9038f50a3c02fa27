/* CPU FP64 reference of the token embedding (plain C): each looked-up row decoded from the MXFP4
 * table by the spec codec (codec.h) plus its position row, in double: the exact answer the
 * embedding variants are judged against. */
#ifndef MX_REFERENCE_EMBEDDING_H
#define MX_REFERENCE_EMBEDDING_H

#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[t, :] = dequant(table[ids[t], :]) (+ positions[t % seq_len, :] when positions is not NULL)
 * for t in [0, tokens); table MXFP4 blocks [vocab, hidden/2], scales [vocab, hidden/32] (host);
 * positions [seq_len, hidden]. A row whose id is outside [0, vocab) is all zeros, as on the GPU.
 * MX_OK, or the codec's status for a bad shape / out of host memory. */
mx_status mx_ref_embedding_f64(const int32_t *ids, int64_t tokens, int64_t seq_len,
                               const uint8_t *blocks, const uint8_t *scales, int64_t vocab,
                               int64_t hidden, const double *positions, double *y);

#ifdef __cplusplus
}
#endif

#endif
