/* GPU MXFP4 codec. quantize: one warp per 32-element block, lane i owns element i (coalesced
 * loads, a warp max for amax). dequantize: one thread per half block (8 packed bytes -> 16
 * values, 16-byte stores). Both use the rules of format.h, so they match the CPU codec bit for
 * bit; suites/gpu_codec.c checks that on every dtype, mode and magnitude. */
#include "check.h"
#include "elementwise.cuh"
#include "quantize.h"

// ---- kernels

static __global__ void mx_quantize_kernel(const void *src, mx_dtype src_dtype, int64_t block_count,
                                          mx_scale_mode mode, uint8_t *blocks, uint8_t *scales) {
    const unsigned full_mask = 0xFFFFFFFFu;
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t warp_count = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t b = warp; b < block_count; b += warp_count) {
        float value = mx_load_as_f32(src, src_dtype, b * MX_BLOCK_SIZE + lane);
        bool any_nonfinite = __any_sync(full_mask, !isfinite(value));
        float amax = fabsf(value);
        for (int offset = 16; offset > 0; offset >>= 1)
            amax = fmaxf(amax, __shfl_xor_sync(full_mask, amax, offset));
        unsigned code = 0;
        int scale_byte = MX_SCALE_NAN;
        if (!any_nonfinite) {
            int exponent = amax == 0.0f ? MX_SCALE_MIN_EXP : mx_shared_exponent(amax, mode);
            code = mx_e2m1_encode(value, exponent);
            scale_byte = exponent + MX_SCALE_BIAS;
        }
        unsigned high = __shfl_down_sync(full_mask, code, 1);
        if ((lane & 1) == 0) blocks[b * MX_BLOCK_BYTES + lane / 2] = (uint8_t)(code | (high << 4));
        if (lane == 0) scales[b] = (uint8_t)scale_byte;
    }
}

/* Each thread decodes 8 packed bytes (half a block) into 16 values of T. */
template <typename T>
static __global__ void mx_dequantize_kernel(const uint8_t *blocks, const uint8_t *scales,
                                            int64_t chunk_count, T *dst) {
    const int values_per_chunk = 16;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < chunk_count; c += stride) {
        uint2 packed = reinterpret_cast<const uint2 *>(blocks)[c];
        uint8_t scale_byte = scales[c / 2];
        __align__(16) T out[values_per_chunk];
#pragma unroll
        for (int i = 0; i < values_per_chunk; i++) {
            uint32_t word = i < 8 ? packed.x : packed.y;
            out[i] = mx_from_f32<T>(mx_decode((word >> (4 * (i % 8))) & 0xFu, scale_byte));
        }
        const int vectors = values_per_chunk * (int)sizeof(T) / 16;
        uint4 *dst_vectors = reinterpret_cast<uint4 *>(dst + c * values_per_chunk);
#pragma unroll
        for (int v = 0; v < vectors; v++) dst_vectors[v] = reinterpret_cast<const uint4 *>(out)[v];
    }
}

// ---- launchers

static mx_status mx_quantize_launch(const void *src, mx_dtype src_dtype, int64_t block_count,
                                    mx_scale_mode mode, uint8_t *blocks, uint8_t *scales,
                                    cudaStream_t stream) {
    const int threads = 256;
    int grid = mx_grid_size(block_count * MX_BLOCK_SIZE, threads);
    mx_quantize_kernel<<<grid, threads, 0, stream>>>(src, src_dtype, block_count, mode, blocks,
                                                     scales);
    MX_LAUNCH_CHECK("mx_quantize_kernel");
    return MX_OK;
}

template <typename T>
static mx_status mx_dequantize_launch(const uint8_t *blocks, const uint8_t *scales,
                                      int64_t chunk_count, T *dst, cudaStream_t stream) {
    const int threads = 256;
    mx_dequantize_kernel<T><<<mx_grid_size(chunk_count, threads), threads, 0, stream>>>(
        blocks, scales, chunk_count, dst);
    MX_LAUNCH_CHECK("mx_dequantize_kernel");
    return MX_OK;
}

// ---- public entry points

extern "C" mx_status mx_quantize(const void *src, mx_dtype src_dtype, int64_t rows, int64_t cols,
                                 mx_scale_mode mode, uint8_t *blocks, uint8_t *scales,
                                 cudaStream_t stream) {
    MX_TRY(mx_check_shape(rows, cols));
    MX_TRY(mx_check_dtype(src_dtype, "src_dtype"));
    if (mode != MX_SCALE_FLOOR && mode != MX_SCALE_RCEIL)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "scale mode = %d: expected MX_SCALE_FLOOR or MX_SCALE_RCEIL", (int)mode);
    MX_TRY(mx_check_pointer(src, (unsigned)mx_dtype_bytes(src_dtype), "src"));
    MX_TRY(mx_check_pointer(blocks, 1, "blocks"));
    MX_TRY(mx_check_pointer(scales, 1, "scales"));
    return mx_quantize_launch(src, src_dtype, rows * cols / MX_BLOCK_SIZE, mode, blocks, scales,
                              stream);
}

extern "C" mx_status mx_dequantize(const uint8_t *blocks, const uint8_t *scales, int64_t rows,
                                   int64_t cols, mx_dtype dst_dtype, void *dst,
                                   cudaStream_t stream) {
    MX_TRY(mx_check_shape(rows, cols));
    MX_TRY(mx_check_dtype(dst_dtype, "dst_dtype"));
    MX_TRY(mx_check_pointer(blocks, 8, "blocks"));
    MX_TRY(mx_check_pointer(scales, 1, "scales"));
    MX_TRY(mx_check_pointer(dst, 16, "dst"));
    const int64_t chunk_count = rows * cols / 16;
    return mx_launch_for_dtype(dst_dtype, dst, [&](auto *typed) {
        return mx_dequantize_launch(blocks, scales, chunk_count, typed, stream);
    });
}
