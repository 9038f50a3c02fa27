/* GPU MXFP4 quantize and dequantize, bit-identical to the CPU codec in reference/codec.h.
 * Device pointers; layout of docs/design.md §2. Blocks must be 8-byte aligned and dense
 * outputs 16-byte aligned (cudaMalloc gives 256). */
#ifndef MX_QUANTIZE_H
#define MX_QUANTIZE_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "format.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* src: dense [rows, cols] of src_dtype -> blocks [rows, cols/2], scales [rows, cols/32]. */
mx_status mx_quantize(const void *src, mx_dtype src_dtype, int64_t rows, int64_t cols,
                      mx_scale_mode mode, uint8_t *blocks, uint8_t *scales, cudaStream_t stream);

/* blocks, scales -> dense [rows, cols] of dst_dtype. MX_F32 is exact (Inf where the value
 * overflows FP32, NaN for scale 0xFF). MX_F16 and MX_BF16 round that FP32 value to nearest even:
 * FP16 overflows to Inf for |value| > 65504 (scale exponents above 13 with large codes) and
 * loses bits below 2^-14 (exponents below -23 flush to zero), BF16 only at the FP32 extremes. */
mx_status mx_dequantize(const uint8_t *blocks, const uint8_t *scales, int64_t rows, int64_t cols,
                        mx_dtype dst_dtype, void *dst, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
