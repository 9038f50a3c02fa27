/* CPU FP64 reference of the token embedding (embedding_ref.h). */
#include "embedding_ref.h"

#include <stdlib.h>

#include "codec.h"
#include "fail.h"

mx_status mx_ref_embedding_f64(const int32_t *ids, int64_t tokens, int64_t seq_len,
                               const uint8_t *blocks, const uint8_t *scales, int64_t vocab,
                               int64_t hidden, const double *positions, double *y) {
    float *row = malloc((size_t)hidden * sizeof *row);
    if (!row) return mx_fail(MX_ERR_OUT_OF_MEMORY, "embedding reference: out of host memory");
    mx_status status = MX_OK;
    for (int64_t t = 0; t < tokens && status == MX_OK; t++) {
        double *out = y + t * hidden;
        int64_t id = ids[t];
        if (id < 0 || id >= vocab) {
            for (int64_t h = 0; h < hidden; h++) out[h] = 0.0;
            continue;
        }
        status =
            mx_ref_dequantize(blocks + id * hidden / 2, scales + id * hidden / 32, 1, hidden, row);
        const double *position = positions ? positions + (t % seq_len) * hidden : NULL;
        for (int64_t h = 0; h < hidden; h++)
            out[h] = (double)row[h] + (position ? position[h] : 0.0);
    }
    free(row);
    return status;
}
