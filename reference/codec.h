/* The CPU MXFP4 codec: the ground truth every GPU path is checked against (plain C, no CUDA).
 * Layout as in docs/design.md §2: W [rows, cols] row-major, blocks [rows, cols/2] with element
 * 2j in the low nibble of byte j, scales [rows, cols/32]. */
#ifndef MX_REFERENCE_CODEC_H
#define MX_REFERENCE_CODEC_H

#include <stdint.h>

#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Quantizes one block of 32 FP32 values into 16 packed bytes and one scale byte. */
void mx_ref_quantize_block(const float values[MX_BLOCK_SIZE], mx_scale_mode mode,
                           uint8_t packed[MX_BLOCK_BYTES], uint8_t *scale_byte);

/* Quantizes a dense [rows, cols] matrix of dtype src_dtype. */
mx_status mx_ref_quantize(const void *src, mx_dtype src_dtype, int64_t rows, int64_t cols,
                          mx_scale_mode mode, uint8_t *blocks, uint8_t *scales);

/* Dequantizes to FP32 (exact; Inf where E2M1 * 2^(s-127) overflows FP32, NaN for scale 0xFF). */
mx_status mx_ref_dequantize(const uint8_t *blocks, const uint8_t *scales, int64_t rows,
                            int64_t cols, float *dst);

#ifdef __cplusplus
}
#endif

#endif
