/* Prepared MXFP4 weights (weights.h): the reordering from and to the OCP layout, one thread per
 * (row, block) moving its 16 code bytes and its scale byte (once per weight, at load time); the
 * dequantization that dequant_cublas pays on every call, one lane per 16 bytes in the layout's
 * own order (coalesced reads, 16-byte writes); and the views and checks every kernel that reads
 * prepared weights relies on. The addresses come from weights.cuh. */
#include "check.h"
#include "elementwise.cuh"
#include "weights.cuh"

// ---- kernels

/* Rows past n in the last tile of an entry get zero codes and scale byte 0 (finite zeros). */
static __global__ void mx_weights_prepare_kernel(const uint8_t *blocks, const uint8_t *scales,
                                                 int64_t n, int64_t k, int64_t batch,
                                                 int64_t padded_rows, uint8_t *prepared) {
    const int64_t k_blocks = k / MX_BLOCK_SIZE, entry_bytes = padded_rows / 16 * mx_tile_bytes(k);
    const int64_t count = batch * padded_rows * k_blocks;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t block = i % k_blocks, padded_row = i / k_blocks;
        const int64_t entry = padded_row / padded_rows, row = padded_row % padded_rows;
        uint4 codes = make_uint4(0, 0, 0, 0);
        uint8_t scale = 0;
        if (row < n) {
            const int64_t source = (entry * n + row) * k_blocks + block;
            codes = reinterpret_cast<const uint4 *>(blocks)[source];
            scale = scales[source];
        }
        uint8_t *target = prepared + entry * entry_bytes;
        const uint32_t words[4] = {codes.x, codes.y, codes.z, codes.w};
#pragma unroll
        for (int t = 0; t < 4; t++)
            *reinterpret_cast<uint32_t *>(target + mx_prepared_word_offset(k, row, block, t)) =
                mx_prepared_word(words[t]);
        target[mx_prepared_scale_offset(k, row, block)] = scale;
    }
}

static __global__ void mx_weights_unprepare_kernel(const uint8_t *prepared, int64_t n, int64_t k,
                                                   int64_t batch, int64_t entry_bytes,
                                                   uint8_t *blocks, uint8_t *scales) {
    const int64_t k_blocks = k / MX_BLOCK_SIZE, count = batch * n * k_blocks;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t block = i % k_blocks, row = i / k_blocks % n, entry = i / k_blocks / n;
        const uint8_t *source = prepared + entry * entry_bytes;
        uint32_t words[4];
#pragma unroll
        for (int t = 0; t < 4; t++)
            words[t] = mx_ocp_word(*reinterpret_cast<const uint32_t *>(
                source + mx_prepared_word_offset(k, row, block, t)));
        reinterpret_cast<uint4 *>(blocks)[i] = make_uint4(words[0], words[1], words[2], words[3]);
        scales[i] = source[mx_prepared_scale_offset(k, row, block)];
    }
}

/* Lane l of warp item w (a pair of blocks of one tile) reads its 16 bytes (mx_prepared_pair_offset)
 * and writes each word's 8 elements, decoded as mx_dequantize decodes them, to dense
 * [batch * n, k] of T: one 16-byte store (32 for FP32) per word. */
template <typename T>
static __global__ void mx_weights_dequantize_kernel(const uint8_t *prepared, int64_t n, int64_t k,
                                                    int64_t batch, int64_t entry_bytes, T *dst) {
    const int64_t k_blocks = k / MX_BLOCK_SIZE, pairs = (k_blocks + 1) / 2;
    const int64_t row_tiles = (n + MX_TILE_ROWS - 1) / MX_TILE_ROWS;
    const int64_t items = batch * row_tiles * pairs;
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t first = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    for (int64_t w = first; w < items; w += ((int64_t)gridDim.x * blockDim.x) >> 5) {
        const int64_t pair = w % pairs, tile = w / pairs % row_tiles, entry = w / pairs / row_tiles;
        const uint8_t *source = prepared + entry * entry_bytes;
        const bool both = 2 * pair + 1 < k_blocks;
        uint32_t words[4];
        if (both) {
            const uint4 v = *reinterpret_cast<const uint4 *>(
                source + mx_prepared_pair_offset(k, tile, pair, lane));
            words[0] = v.x, words[1] = v.y, words[2] = v.z, words[3] = v.w;
        } else {
            const uint2 v = *reinterpret_cast<const uint2 *>(
                source + mx_prepared_pair_offset(k, tile, pair, lane));
            words[0] = v.x, words[1] = v.y, words[2] = words[3] = 0;
        }
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const int64_t row = tile * MX_TILE_ROWS + g + 8 * (q & 1), block = 2 * pair + q / 2;
            if ((q >= 2 && !both) || row >= n) continue;
            const uint8_t scale_byte = source[mx_prepared_scale_offset(k, row, block)];
            const uint32_t ocp = mx_ocp_word(words[q]);
            __align__(16) T out[8];
#pragma unroll
            for (int e = 0; e < 8; e++)
                out[e] = mx_from_f32<T>(mx_decode((ocp >> (4 * e)) & 0xFu, scale_byte));
            uint4 *target = reinterpret_cast<uint4 *>(dst + (entry * n + row) * k +
                                                      block * MX_BLOCK_SIZE + 8 * t);
#pragma unroll
            for (int v = 0; v < (int)sizeof out / 16; v++)
                target[v] = reinterpret_cast<const uint4 *>(out)[v];
        }
    }
}

// ---- launchers

// ---- public entry points

extern "C" size_t mx_weights_bytes(int64_t n, int64_t k, int64_t batch) {
    if (n <= 0 || k <= 0 || batch <= 0 || k % MX_BLOCK_SIZE != 0) return 0;
    return (size_t)(batch * ((n + MX_TILE_ROWS - 1) / MX_TILE_ROWS) * mx_tile_bytes(k));
}

static mx_status mx_weights_check_shape(int64_t n, int64_t k, int64_t batch) {
    MX_TRY(mx_check_shape(n, k));
    if (batch <= 0 || batch > INT32_MAX)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "batch = %lld: expected 1 .. 2^31 - 1",
                       (long long)batch);
    return MX_OK;
}

extern "C" mx_status mx_weights_prepare(const uint8_t *blocks, const uint8_t *scales, int64_t n,
                                        int64_t k, int64_t batch, void *prepared,
                                        size_t prepared_bytes, mx_weights *weights,
                                        cudaStream_t stream) {
    if (!weights) return mx_fail(MX_ERR_INVALID_ARGUMENT, "weights is NULL");
    MX_TRY(mx_weights_check_shape(n, k, batch));
    MX_TRY(mx_check_pointer(blocks, 16, "blocks"));
    MX_TRY(mx_check_pointer(scales, 1, "scales"));
    MX_TRY(mx_check_pointer(prepared, 16, "prepared"));
    const size_t needed = mx_weights_bytes(n, k, batch);
    if (prepared_bytes < needed)
        return mx_fail(MX_ERR_WORKSPACE,
                       "prepared buffer of %zu bytes for [%lld, %lld, %lld] weights: needs %zu",
                       prepared_bytes, (long long)batch, (long long)n, (long long)k, needed);
    /* Addresses as integers: the buffers are separate allocations as far as C++ knows. */
    const uintptr_t begin = (uintptr_t)prepared, end = begin + needed;
    const uintptr_t block_begin = (uintptr_t)blocks, scale_begin = (uintptr_t)scales;
    const uintptr_t ocp_bytes = (uintptr_t)(batch * n * k / 2);
    if ((block_begin < end && block_begin + ocp_bytes > begin) ||
        (scale_begin < end && scale_begin + ocp_bytes / MX_BLOCK_BYTES > begin))
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "the prepared buffer overlaps blocks or scales: prepare into a buffer of "
                       "its own, then free the OCP ones");
    const int64_t padded_rows = (n + MX_TILE_ROWS - 1) / MX_TILE_ROWS * MX_TILE_ROWS;
    const int threads = 256;
    mx_weights_prepare_kernel<<<mx_grid_size(batch * padded_rows * (k / MX_BLOCK_SIZE), threads),
                                threads, 0, stream>>>(blocks, scales, n, k, batch, padded_rows,
                                                      (uint8_t *)prepared);
    MX_LAUNCH_CHECK("mx_weights_prepare_kernel");
    weights->magic = MX_WEIGHTS_MAGIC;
    weights->n = n;
    weights->k = k;
    weights->batch = batch;
    weights->data = (const uint8_t *)prepared;
    weights->entry_bytes = (int64_t)(needed / (size_t)batch);
    return MX_OK;
}

extern "C" mx_status mx_weights_check(const mx_weights *weights, int64_t n, int64_t k,
                                      int64_t batch, const char *what) {
    if (!weights) return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    if (weights->magic != MX_WEIGHTS_MAGIC)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "%s is not a prepared view (magic 0x%08x): OCP blocks and scales must go "
                       "through mx_weights_prepare first",
                       what, (unsigned)weights->magic);
    if (weights->n != n || weights->k != k || weights->batch != batch)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "%s holds [batch %lld, n %lld, k %lld] weights; the problem needs [batch "
                       "%lld, n %lld, k %lld]",
                       what, (long long)weights->batch, (long long)weights->n,
                       (long long)weights->k, (long long)batch, (long long)n, (long long)k);
    MX_TRY(mx_check_pointer(weights->data, 16, what));
    if (weights->entry_bytes < (int64_t)mx_weights_bytes(n, k, 1))
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: %lld bytes per batch entry, needs %zu", what,
                       (long long)weights->entry_bytes, mx_weights_bytes(n, k, 1));
    return MX_OK;
}

extern "C" mx_status mx_weights_unprepare(const mx_weights *weights, uint8_t *blocks,
                                          uint8_t *scales, cudaStream_t stream) {
    if (!weights) return mx_fail(MX_ERR_INVALID_ARGUMENT, "weights is NULL");
    MX_TRY(mx_weights_check(weights, weights->n, weights->k, weights->batch, "weights"));
    MX_TRY(mx_check_pointer(blocks, 16, "blocks"));
    MX_TRY(mx_check_pointer(scales, 1, "scales"));
    const int threads = 256;
    const int64_t count = weights->batch * weights->n * (weights->k / MX_BLOCK_SIZE);
    mx_weights_unprepare_kernel<<<mx_grid_size(count, threads), threads, 0, stream>>>(
        weights->data, weights->n, weights->k, weights->batch, weights->entry_bytes, blocks,
        scales);
    MX_LAUNCH_CHECK("mx_weights_unprepare_kernel");
    return MX_OK;
}

extern "C" mx_status mx_weights_rows(const mx_weights *weights, int64_t first_row, int64_t rows,
                                     mx_weights *part) {
    if (!part) return mx_fail(MX_ERR_INVALID_ARGUMENT, "part is NULL");
    MX_TRY(mx_weights_check(weights, weights ? weights->n : 0, weights ? weights->k : 0,
                            weights ? weights->batch : 0, "weights"));
    if (first_row < 0 || rows <= 0 || first_row + rows > weights->n ||
        first_row % MX_TILE_ROWS != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "rows [%lld, %lld) of %lld-row prepared weights: expected a non-empty "
                       "range inside, starting at a multiple of %d",
                       (long long)first_row, (long long)(first_row + rows), (long long)weights->n,
                       MX_TILE_ROWS);
    *part = *weights;
    part->n = rows;
    part->data = weights->data + first_row / MX_TILE_ROWS * mx_tile_bytes(weights->k);
    return MX_OK;
}

extern "C" mx_status mx_weights_entry(const mx_weights *weights, int64_t entry, mx_weights *part) {
    if (!part) return mx_fail(MX_ERR_INVALID_ARGUMENT, "part is NULL");
    MX_TRY(mx_weights_check(weights, weights ? weights->n : 0, weights ? weights->k : 0,
                            weights ? weights->batch : 0, "weights"));
    if (entry < 0 || entry >= weights->batch)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "batch entry %lld of %lld", (long long)entry,
                       (long long)weights->batch);
    *part = *weights;
    part->batch = 1;
    part->data = weights->data + entry * weights->entry_bytes;
    return MX_OK;
}

extern "C" mx_status mx_weights_dequantize(const mx_weights *weights, mx_dtype dst_dtype, void *dst,
                                           cudaStream_t stream) {
    if (!weights) return mx_fail(MX_ERR_INVALID_ARGUMENT, "weights is NULL");
    MX_TRY(mx_weights_check(weights, weights->n, weights->k, weights->batch, "weights"));
    MX_TRY(mx_check_dtype(dst_dtype, "dst_dtype"));
    MX_TRY(mx_check_pointer(dst, 16, "dst"));
    const int threads = 256;
    /* A warp per (batch entry, 16-row tile, pair of blocks). */
    const int64_t row_tiles = (weights->n + MX_TILE_ROWS - 1) / MX_TILE_ROWS;
    const int64_t lanes = 32 * weights->batch * row_tiles * ((weights->k / MX_BLOCK_SIZE + 1) / 2);
    return mx_launch_for_dtype(dst_dtype, dst, [&](auto *typed) {
        mx_weights_dequantize_kernel<<<mx_grid_size(lanes, threads), threads, 0, stream>>>(
            weights->data, weights->n, weights->k, weights->batch, weights->entry_bytes, typed);
        MX_LAUNCH_CHECK("mx_weights_dequantize_kernel");
        return MX_OK;
    });
}
