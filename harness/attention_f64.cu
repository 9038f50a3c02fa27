/* The attention core in FP64 on the GPU (attention_f64.h): one block per query row, the row's
 * scores and probabilities in global scratch, the loops of reference/attention_ref.c spread over
 * the block (keys across threads for the scores, head dimensions and key slices for P V). */
#include <math.h>

#include "attention_f64.h"
#include "check.h"
#include "fail.h"

enum { CORE_THREADS = 128, CORE_WARPS = CORE_THREADS / 32 };

/* Query rows per launch: at most core_max_rows, their scratch within core_scratch_bytes. */
static const int64_t core_max_rows = 8192;
static const double core_scratch_bytes = 256.0 * 1024 * 1024;

typedef struct {
    int64_t sequences, seq_len, q_heads, group, dim;
    const double *q, *dq, *k, *dk, *v, *dv;
    int64_t q_stride, k_stride, v_stride;
    double scale, unit, underflow, factor, gamma_up, keys_gamma;
    double *out, *p, *dp; /* dp: NULL for the values */
    int64_t first_row;    /* of this launch: rows are (sequence, head, query), query fastest */
} core_args;

/* The block's maximum (take_max) or sum of value; every thread gets it. */
static __device__ double core_reduce(double value, bool take_max, double *shared) {
    for (int offset = 16; offset > 0; offset /= 2) {
        double other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = take_max ? fmax(value, other) : value + other;
    }
    __syncthreads(); /* shared may still be read from the last call */
    if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = value;
    __syncthreads();
    value = shared[0];
    for (int w = 1; w < CORE_WARPS; w++)
        value = take_max ? fmax(value, shared[w]) : value + shared[w];
    return value;
}

static __global__ void __launch_bounds__(CORE_THREADS) core_kernel(core_args a) {
    extern __shared__ double query[]; /* q row [dim], dq row [dim], then P V's partial sums */
    __shared__ double reduce[CORE_WARPS];
    const int64_t row = a.first_row + blockIdx.x, i = row % a.seq_len;
    const int64_t h = row / a.seq_len % a.q_heads, s = row / a.seq_len / a.q_heads;
    const int64_t kv = h / a.group, dim = a.dim, keys = i + 1;
    const bool bound = a.dp != NULL;
    double *q = query, *dq = query + dim, *partial = query + 2 * dim;
    for (int64_t d = threadIdx.x; d < dim; d += CORE_THREADS) {
        const int64_t at = (s * a.seq_len + i) * a.q_stride + h * dim + d;
        q[d] = a.q[at];
        dq[d] = bound ? a.dq[at] : 0.0;
    }
    __syncthreads();
    double *p = a.p + blockIdx.x * a.seq_len, *dp = bound ? a.dp + blockIdx.x * a.seq_len : NULL;
    double max = -INFINITY, moved = 0.0;
    for (int64_t j = threadIdx.x; j < keys; j += CORE_THREADS) {
        const int64_t k_at = (s * a.seq_len + j) * a.k_stride + kv * dim;
        double dot = 0.0, size = 0.0, move = 0.0;
        for (int64_t d = 0; d < dim; d++) {
            const double x = q[d], y = a.k[k_at + d];
            dot += x * y;
            if (bound) {
                const double dy = a.dk[k_at + d];
                size += fabs(x) * fabs(y);
                move += dq[d] * (fabs(y) + dy) + fabs(x) * dy;
            }
        }
        p[j] = dot * a.scale;
        max = fmax(max, p[j]);
        if (bound)
            moved = fmax(moved, a.scale * move + a.factor * (a.gamma_up * a.scale * size +
                                                             ldexp(fabs(p[j]), -24)));
    }
    max = core_reduce(max, true, reduce);
    moved = core_reduce(moved, true, reduce);
    double sum = 0.0;
    for (int64_t j = threadIdx.x; j < keys; j += CORE_THREADS) {
        p[j] = exp(p[j] - max);
        sum += p[j];
    }
    sum = core_reduce(sum, false, reduce);
    const double spread = expm1(2.0 * moved) + a.keys_gamma + MX_REF_FP32_EVALUATION + a.unit;
    for (int64_t j = threadIdx.x; j < keys; j += CORE_THREADS) {
        p[j] /= sum;
        if (bound) dp[j] = p[j] * spread + a.underflow;
    }
    __syncthreads(); /* p and dp (global) are read across the block below */
    /* P V: thread t sums head dimension d over the keys of its slice (slices of the block's
     * threads beyond dim), then slice 0 adds the others' sums. */
    const int64_t width = dim < CORE_THREADS ? dim : CORE_THREADS;
    const int64_t slices = CORE_THREADS / width, slice = threadIdx.x / width;
    double *out = a.out + (s * a.seq_len + i) * a.q_heads * dim + h * dim;
    for (int64_t d0 = 0; d0 < dim; d0 += width) {
        const int64_t d = d0 + threadIdx.x % width;
        const bool active = slice < slices && d < dim;
        double ctx = 0.0, move = 0.0, size = 0.0;
        for (int64_t j = slice; active && j < keys; j += slices) {
            const int64_t v_at = (s * a.seq_len + j) * a.v_stride + kv * dim + d;
            const double value = a.v[v_at];
            ctx += p[j] * value;
            if (bound) {
                const double dv = a.dv[v_at], b = fabs(value) + dv;
                move += dp[j] * b + p[j] * dv;
                size += (p[j] + dp[j]) * b;
            }
        }
        if (active) {
            double *mine = partial + 3 * threadIdx.x;
            mine[0] = ctx;
            mine[1] = move;
            mine[2] = size;
        }
        __syncthreads();
        if (active && slice == 0) {
            for (int64_t t = 1; t < slices; t++) {
                const double *theirs = partial + 3 * (threadIdx.x + t * width);
                ctx += theirs[0];
                move += theirs[1];
                size += theirs[2];
            }
            out[d] = bound ? move + a.keys_gamma * size + a.unit * fabs(ctx) + a.underflow : ctx;
        }
        __syncthreads();
    }
}

extern "C" mx_status
mx_bench_attention_core_f64(const mx_attention_shape *shape, const double *q, const double *dq,
                            int64_t q_stride, const double *k, const double *dk, int64_t k_stride,
                            const double *v, const double *dv, int64_t v_stride,
                            const mx_ref_ffn_rounding *rounding, double *out, cudaStream_t stream) {
    const bool bound = dq && dk && dv;
    if (!shape || !q || !k || !v || !out || (!bound && (dq || dk || dv)) || (bound && !rounding))
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "FP64 attention core: q, k, v and out are required, and dq, dk, dv all "
                       "or none (with rounding for the bound)");
    const int64_t dim = shape->head_dim;
    if (shape->sequences <= 0 || shape->seq_len <= 0 || shape->q_heads <= 0 ||
        shape->kv_heads <= 0 || shape->q_heads % shape->kv_heads != 0 || dim <= 0 ||
        dim > MX_ATTENTION_MAX_HEAD_DIM || q_stride < shape->q_heads * dim ||
        k_stride < shape->kv_heads * dim || v_stride < shape->kv_heads * dim)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "FP64 attention core: sequences %lld, seq_len %lld, heads %lld/%lld, "
                       "head_dim %lld, strides %lld/%lld/%lld: expected positive sizes, q_heads a "
                       "multiple of kv_heads, head_dim <= %d, strides covering the heads",
                       (long long)shape->sequences, (long long)shape->seq_len,
                       (long long)shape->q_heads, (long long)shape->kv_heads, (long long)dim,
                       (long long)q_stride, (long long)k_stride, (long long)v_stride,
                       MX_ATTENTION_MAX_HEAD_DIM);
    const int64_t rows = shape->sequences * shape->q_heads * shape->seq_len;
    const double row_bytes = shape->seq_len * 8.0 * (bound ? 2 : 1);
    int64_t chunk = (int64_t)(core_scratch_bytes / row_bytes);
    chunk = chunk < 1 ? 1 : chunk < core_max_rows ? chunk : core_max_rows;
    chunk = chunk < rows ? chunk : rows;
    core_args a = {};
    a.sequences = shape->sequences;
    a.seq_len = shape->seq_len;
    a.q_heads = shape->q_heads;
    a.group = shape->q_heads / shape->kv_heads;
    a.dim = dim;
    a.q = q;
    a.dq = dq;
    a.k = k;
    a.dk = dk;
    a.v = v;
    a.dv = dv;
    a.q_stride = q_stride;
    a.k_stride = k_stride;
    a.v_stride = v_stride;
    a.scale = 1.0 / sqrt((double)dim);
    if (bound) {
        a.unit = rounding->unit;
        a.underflow = rounding->underflow;
        a.factor = rounding->factor;
        a.gamma_up = rounding->gamma_up;
        a.keys_gamma = rounding->factor * rounding->gamma_down;
    }
    a.out = out;
    const size_t scratch = (size_t)(chunk * row_bytes);
    const size_t shared = (size_t)(2 * dim + 3 * CORE_THREADS) * sizeof(double);
    MX_CUDA_CHECK(cudaMalloc((void **)&a.p, scratch));
    a.dp = bound ? a.p + chunk * shape->seq_len : NULL;
    cudaError_t error = cudaSuccess;
    for (a.first_row = 0; error == cudaSuccess && a.first_row < rows; a.first_row += chunk) {
        const int64_t count = rows - a.first_row < chunk ? rows - a.first_row : chunk;
        core_kernel<<<(unsigned)count, CORE_THREADS, shared, stream>>>(a);
        error = cudaGetLastError();
    }
    if (error == cudaSuccess) error = cudaStreamSynchronize(stream);
    cudaFree(a.p);
    if (error != cudaSuccess) return mx_cuda_fail(error, "FP64 attention core", __FILE__, __LINE__);
    return MX_OK;
}
