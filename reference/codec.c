/* The CPU MXFP4 codec (docs/design.md §2), built on the shared rules of kernels/format.h. */
#include "codec.h"

#include <math.h>

#include "fail.h"

void mx_ref_quantize_block(const float values[MX_BLOCK_SIZE], mx_scale_mode mode,
                           uint8_t packed[MX_BLOCK_BYTES], uint8_t *scale_byte) {
    float amax = 0.0f;
    for (int i = 0; i < MX_BLOCK_SIZE; i++) {
        if (!isfinite(values[i])) {
            for (int j = 0; j < MX_BLOCK_BYTES; j++) packed[j] = 0;
            *scale_byte = MX_SCALE_NAN;
            return;
        }
        amax = fmaxf(amax, fabsf(values[i]));
    }
    /* A zero block keeps scale 0 and encodes each signed zero as itself. */
    int exponent = amax == 0.0f ? MX_SCALE_MIN_EXP : mx_shared_exponent(amax, mode);
    for (int j = 0; j < MX_BLOCK_BYTES; j++) {
        uint8_t low = mx_e2m1_encode(values[2 * j], exponent);
        uint8_t high = mx_e2m1_encode(values[2 * j + 1], exponent);
        packed[j] = (uint8_t)(low | (high << 4));
    }
    *scale_byte = (uint8_t)(exponent + MX_SCALE_BIAS);
}

mx_status mx_ref_quantize(const void *src, mx_dtype src_dtype, int64_t rows, int64_t cols,
                          mx_scale_mode mode, uint8_t *blocks, uint8_t *scales) {
    mx_status status = mx_check_shape(rows, cols);
    if (status != MX_OK) return status;
    if (!src || !blocks || !scales)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "mx_ref_quantize: NULL pointer argument");
    int64_t block_count = rows * cols / MX_BLOCK_SIZE;
    float values[MX_BLOCK_SIZE];
    for (int64_t b = 0; b < block_count; b++) {
        for (int i = 0; i < MX_BLOCK_SIZE; i++)
            values[i] = mx_load_as_f32(src, src_dtype, b * MX_BLOCK_SIZE + i);
        mx_ref_quantize_block(values, mode, blocks + b * MX_BLOCK_BYTES, scales + b);
    }
    return MX_OK;
}

mx_status mx_ref_dequantize(const uint8_t *blocks, const uint8_t *scales, int64_t rows,
                            int64_t cols, float *dst) {
    mx_status status = mx_check_shape(rows, cols);
    if (status != MX_OK) return status;
    if (!blocks || !scales || !dst)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "mx_ref_dequantize: NULL pointer argument");
    int64_t byte_count = rows * cols / 2;
    for (int64_t j = 0; j < byte_count; j++) {
        uint8_t scale_byte = scales[j / MX_BLOCK_BYTES];
        dst[2 * j] = mx_decode(blocks[j] & 0xFu, scale_byte);
        dst[2 * j + 1] = mx_decode(blocks[j] >> 4, scale_byte);
    }
    return MX_OK;
}
