/* MXFP4 token embedding (embedding.h): the on-the-fly lookup (a warp per token, one 32-element
 * block per lane and step: a 16-byte load of packed codes, one scale byte, 64-byte stores), the
 * dense gather of the cached variant and FP16 reference (a warp per token, 16-byte copies), and
 * the device error record for token ids out of range. Memory-bound: the bytes are the rows read
 * plus the output written. H200, gpt-oss table 201088x2880: 12.1 us for one token against 18.4 us
 * for the FP16 gather, 7.7 vs 10.0 us for 16 sequences (BF16) (docs/ops.md: `make bench`,
 * `mxbench run --suite gpt-oss-20b`). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdlib.h>

#include "check.h"
#include "embedding.h"
#include "quantize.h"

/* No error recorded: every recorded key (position << 32 | id) is smaller. */
#define MX_EMBEDDING_NO_ERROR 0xFFFFFFFFFFFFFFFFull

struct mx_embedding_context {
    unsigned long long *error; /* device: lowest (position << 32 | uint32 id) out of range */
    int64_t vocab;             /* vocab of the last call, for the message */
};

// ---- kernels

/* FP32 -> the 16-bit dtype's bits, round to nearest even. */
static __device__ __forceinline__ uint16_t mx_embedding_round(float value, mx_dtype dtype) {
    return dtype == MX_F16 ? __half_as_ushort(__float2half_rn(value))
                           : __bfloat16_as_ushort(__float2bfloat16_rn(value));
}

static __device__ __forceinline__ float mx_embedding_widen(uint16_t bits, mx_dtype dtype) {
    return dtype == MX_F16 ? mx_f16_to_f32(bits) : mx_bf16_to_f32(bits);
}

/* What both kernels take: the problem without its table. */
struct mx_embedding_args {
    const int32_t *ids;
    int64_t tokens, seq_len, vocab, hidden;
    mx_dtype dtype;
    const uint16_t *positions; /* [seq_len, hidden] or NULL */
    uint16_t *y;
    unsigned long long *error;
};

/* The token of this warp, its id and its output row. false when the warp has no token, or when
 * the id is out of range: then the id is recorded and the row zeroed. */
static __device__ bool mx_embedding_row(const mx_embedding_args &a, int64_t *t_out, int32_t *id_out,
                                        uint16_t **out_row) {
    int64_t t = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (t >= a.tokens) return false;
    int32_t id = a.ids[t];
    uint16_t *out = a.y + t * a.hidden;
    *t_out = t;
    *id_out = id;
    *out_row = out;
    if (id >= 0 && id < a.vocab) return true;
    if ((threadIdx.x & 31) == 0) atomicMin(a.error, ((unsigned long long)t << 32) | (uint32_t)id);
    uint4 *row = reinterpret_cast<uint4 *>(out);
    for (int64_t c = threadIdx.x & 31; c < a.hidden / 8; c += 32) row[c] = make_uint4(0, 0, 0, 0);
    return false;
}

/* A warp per token; lane l handles blocks l, l + 32, ... of the row (hidden / 32 blocks). */
static __global__ void mx_embedding_kernel(mx_embedding_args a, const uint8_t *blocks,
                                           const uint8_t *scales) {
    int64_t t;
    int32_t id;
    uint16_t *out;
    if (!mx_embedding_row(a, &t, &id, &out)) return;
    const int64_t block_count = a.hidden / MX_BLOCK_SIZE;
    const uint4 *packed_row = reinterpret_cast<const uint4 *>(blocks + (int64_t)id * a.hidden / 2);
    const uint8_t *scale_row = scales + (int64_t)id * block_count;
    const uint16_t *position_row = a.positions ? a.positions + (t % a.seq_len) * a.hidden : NULL;
    for (int64_t b = threadIdx.x & 31; b < block_count; b += 32) {
        uint4 packed = packed_row[b];
        const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
        uint8_t scale_byte = scale_row[b];
        __align__(16) uint16_t position[MX_BLOCK_SIZE] = {0};
        if (position_row) {
#pragma unroll
            for (int v = 0; v < 4; v++)
                reinterpret_cast<uint4 *>(position)[v] =
                    reinterpret_cast<const uint4 *>(position_row + b * MX_BLOCK_SIZE)[v];
        }
        __align__(16) uint16_t result[MX_BLOCK_SIZE];
#pragma unroll
        for (int i = 0; i < MX_BLOCK_SIZE; i++) {
            /* Element i sits in nibble i % 8 of word i / 8 (element 2j low in byte j). */
            float value = mx_decode((words[i / 8] >> (4 * (i % 8))) & 0xFu, scale_byte);
            if (position_row) value += mx_embedding_widen(position[i], a.dtype);
            result[i] = mx_embedding_round(value, a.dtype);
        }
#pragma unroll
        for (int v = 0; v < 4; v++)
            reinterpret_cast<uint4 *>(out + b * MX_BLOCK_SIZE)[v] =
                reinterpret_cast<const uint4 *>(result)[v];
    }
}

/* A warp per token; lane l copies 8-element chunks l, l + 32, ... (hidden / 8 chunks). */
static __global__ void mx_embedding_gather_kernel(mx_embedding_args a, const uint16_t *table) {
    int64_t t;
    int32_t id;
    uint16_t *out;
    if (!mx_embedding_row(a, &t, &id, &out)) return;
    const uint4 *table_row = reinterpret_cast<const uint4 *>(table + (int64_t)id * a.hidden);
    const uint4 *position_row =
        a.positions ? reinterpret_cast<const uint4 *>(a.positions + (t % a.seq_len) * a.hidden)
                    : NULL;
    uint4 *out_row = reinterpret_cast<uint4 *>(out);
    for (int64_t c = threadIdx.x & 31; c < a.hidden / 8; c += 32) {
        uint4 chunk = table_row[c];
        if (position_row) {
            uint4 position = position_row[c];
            uint16_t *values = reinterpret_cast<uint16_t *>(&chunk);
            const uint16_t *adds = reinterpret_cast<const uint16_t *>(&position);
#pragma unroll
            for (int i = 0; i < 8; i++)
                values[i] = mx_embedding_round(mx_embedding_widen(values[i], a.dtype) +
                                                   mx_embedding_widen(adds[i], a.dtype),
                                               a.dtype);
        }
        out_row[c] = chunk;
    }
}

// ---- launchers

static const int mx_embedding_threads = 256; /* 8 tokens per CTA */

static int mx_embedding_grid(int64_t tokens) {
    return (int)((tokens * 32 + mx_embedding_threads - 1) / mx_embedding_threads);
}

static mx_embedding_args mx_embedding_args_of(const mx_embedding_context *context,
                                              const mx_embedding_problem *p) {
    mx_embedding_args a = {p->ids,
                           p->tokens,
                           p->seq_len,
                           p->vocab,
                           p->hidden,
                           p->dtype,
                           (const uint16_t *)p->positions,
                           (uint16_t *)p->y,
                           context->error};
    return a;
}

static mx_status mx_embedding_launch(mx_embedding_context *context, const mx_embedding_problem *p,
                                     const uint8_t *blocks, const uint8_t *scales,
                                     cudaStream_t stream) {
    mx_embedding_kernel<<<mx_embedding_grid(p->tokens), mx_embedding_threads, 0, stream>>>(
        mx_embedding_args_of(context, p), blocks, scales);
    MX_LAUNCH_CHECK("mx_embedding_kernel");
    return MX_OK;
}

static mx_status mx_embedding_gather_launch(mx_embedding_context *context,
                                            const mx_embedding_problem *p, const void *table,
                                            cudaStream_t stream) {
    mx_embedding_gather_kernel<<<mx_embedding_grid(p->tokens), mx_embedding_threads, 0, stream>>>(
        mx_embedding_args_of(context, p), (const uint16_t *)table);
    MX_LAUNCH_CHECK("mx_embedding_gather_kernel");
    return MX_OK;
}

// ---- public entry points

extern "C" mx_status mx_embedding_context_create(mx_embedding_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = NULL;
    mx_embedding_context *c = (mx_embedding_context *)calloc(1, sizeof *c);
    if (!c) return mx_fail(MX_ERR_OUT_OF_MEMORY, "embedding context: out of host memory");
    cudaError_t error = cudaMalloc((void **)&c->error, sizeof *c->error);
    if (error == cudaSuccess) error = cudaMemset(c->error, 0xFF, sizeof *c->error);
    if (error != cudaSuccess) {
        cudaFree(c->error);
        free(c);
        return mx_cuda_fail(error, "embedding context", __FILE__, __LINE__);
    }
    *context = c;
    return MX_OK;
}

extern "C" void mx_embedding_context_destroy(mx_embedding_context *context) {
    if (!context) return;
    cudaFree(context->error);
    free(context);
}

extern "C" mx_status mx_embedding_status(mx_embedding_context *context, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    unsigned long long record = MX_EMBEDDING_NO_ERROR;
    MX_CUDA_CHECK(
        cudaMemcpyAsync(&record, context->error, sizeof record, cudaMemcpyDeviceToHost, stream));
    MX_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (record == MX_EMBEDDING_NO_ERROR) return MX_OK;
    MX_CUDA_CHECK(cudaMemsetAsync(context->error, 0xFF, sizeof *context->error, stream));
    MX_CUDA_CHECK(cudaStreamSynchronize(stream));
    return mx_fail(MX_ERR_INVALID_ARGUMENT, "token id %d at position %lld: expected 0 <= id < %lld",
                   (int32_t)(uint32_t)(record & 0xFFFFFFFFu), (long long)(record >> 32),
                   (long long)context->vocab);
}

/* Everything but the table, shared by both variants. */
static mx_status mx_embedding_check(const mx_embedding_context *context,
                                    const mx_embedding_problem *p) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    if (!p) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (p->vocab <= 0 || p->vocab > INT32_MAX)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "vocab = %lld: expected 1..2147483647",
                       (long long)p->vocab);
    if (p->hidden <= 0 || p->hidden % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "hidden = %lld: expected a positive multiple of 32", (long long)p->hidden);
    if (p->tokens <= 0 || p->tokens > INT32_MAX)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "tokens = %lld: expected 1..2147483647",
                       (long long)p->tokens);
    if (p->seq_len <= 0 || p->tokens % p->seq_len != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "seq_len = %lld: expected a positive divisor of tokens (%lld)",
                       (long long)p->seq_len, (long long)p->tokens);
    if (p->dtype != MX_F16 && p->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)p->dtype);
    MX_TRY(mx_check_pointer(p->ids, 4, "ids"));
    if (p->positions) MX_TRY(mx_check_pointer(p->positions, 16, "positions"));
    return mx_check_pointer(p->y, 16, "y");
}

extern "C" mx_status mx_embedding(mx_embedding_context *context,
                                  const mx_embedding_problem *problem, const uint8_t *blocks,
                                  const uint8_t *scales, cudaStream_t stream) {
    MX_TRY(mx_embedding_check(context, problem));
    MX_TRY(mx_check_pointer(blocks, 16, "blocks"));
    MX_TRY(mx_check_pointer(scales, 1, "scales"));
    context->vocab = problem->vocab;
    return mx_embedding_launch(context, problem, blocks, scales, stream);
}

extern "C" size_t mx_embedding_cache_bytes(int64_t vocab, int64_t hidden, mx_dtype dtype) {
    if (vocab <= 0 || hidden <= 0) return 0;
    return (size_t)vocab * (size_t)hidden * (size_t)mx_dtype_bytes(dtype);
}

extern "C" mx_status mx_embedding_cache_prepare(const uint8_t *blocks, const uint8_t *scales,
                                                int64_t vocab, int64_t hidden, mx_dtype dtype,
                                                void *cache, size_t cache_bytes,
                                                cudaStream_t stream) {
    if (dtype != MX_F16 && dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)dtype);
    MX_TRY(mx_check_shape(vocab, hidden));
    size_t needed = mx_embedding_cache_bytes(vocab, hidden, dtype);
    MX_TRY(mx_check_pointer(cache, 16, "cache"));
    if (cache_bytes < needed)
        return mx_fail(MX_ERR_WORKSPACE, "cache_bytes = %zu: expected at least %zu", cache_bytes,
                       needed);
    return mx_dequantize(blocks, scales, vocab, hidden, dtype, cache, stream);
}

extern "C" mx_status mx_embedding_gather(mx_embedding_context *context,
                                         const mx_embedding_problem *problem, const void *table,
                                         cudaStream_t stream) {
    MX_TRY(mx_embedding_check(context, problem));
    MX_TRY(mx_check_pointer(table, 16, "table"));
    context->vocab = problem->vocab;
    return mx_embedding_gather_launch(context, problem, table, stream);
}
