/* LM head (lm_head.h): the logits through mx_gemm, then sampling. Row kernels use one CTA of
 * 512 threads per row of logits: argmax (greedy), softmax -> sort keys, and the pick (a block
 * scan of the sorted top-k mass, nucleus and inverse-CDF draw by binary search). The sort in
 * between is one device-wide CUB radix sort over (row, descending probability) keys, so that a
 * single row (decode, m = 1) still spreads over every SM, which a segmented sort (one CTA per
 * segment) would not. Untimed so far on a GPU. */
#include <cub/cub.cuh>
#include <curand_kernel.h>

#include "check.h"
#include "lm_head.h"

static const int mx_row_threads = 512;
static const int mx_scan_items = 4; /* items per thread and step of the pick's scan */

// ---- kernels

/* (index, value) of a row's best logit; index -1 = nothing seen yet. */
struct mx_arg_best {
    int64_t index;
    float value;
};

/* Larger value wins; equal values go to the lower index; NaN never beats a number. */
struct mx_arg_best_op {
    __device__ __forceinline__ mx_arg_best operator()(const mx_arg_best &a,
                                                      const mx_arg_best &b) const {
        if (a.index < 0) return b;
        if (b.index < 0) return a;
        return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
    }
};

struct mx_max_op {
    __device__ __forceinline__ float operator()(float a, float b) const {
        return fmaxf(a, b);
    }
};

static __global__ void mx_argmax_kernel(const void *logits, mx_dtype dtype, int64_t vocab,
                                        int32_t *tokens, float *probabilities) {
    typedef cub::BlockReduce<mx_arg_best, mx_row_threads> reduce;
    __shared__ typename reduce::TempStorage temp;
    __shared__ int64_t winner;
    const int64_t row = blockIdx.x;
    mx_arg_best best = {-1, 0.0f};
    mx_arg_best_op better;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
        best = better(best, mx_arg_best{i, mx_load_as_f32(logits, dtype, row * vocab + i)});
    best = reduce(temp).Reduce(best, better);
    if (threadIdx.x == 0) {
        winner = best.index < 0 ? 0 : best.index;
        tokens[row] = (int32_t)winner;
    }
    if (!probabilities) return;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
        probabilities[row * vocab + i] = i == winner ? 1.0f : 0.0f;
}

/* p = softmax((logits - max) / temperature) of one row; writes p (when asked), the sort keys
 * (row << 32 | ~bits(p): ascending keys = rows in order, p descending within a row; p >= 0 so
 * its bits order like the values) and the indices within the row. */
static __global__ void mx_softmax_keys_kernel(const void *logits, mx_dtype dtype, int64_t vocab,
                                              float temperature, float *probabilities,
                                              uint64_t *keys, int32_t *indices) {
    typedef cub::BlockReduce<float, mx_row_threads> reduce;
    __shared__ typename reduce::TempStorage temp;
    __shared__ float row_max, row_sum;
    const int64_t row = blockIdx.x;
    const int64_t base = row * vocab;
    float local_max = -INFINITY;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
        local_max = fmaxf(local_max, mx_load_as_f32(logits, dtype, base + i));
    float block_max = reduce(temp).Reduce(local_max, mx_max_op());
    if (threadIdx.x == 0) row_max = block_max;
    __syncthreads();
    const float maximum = row_max;
    float local_sum = 0.0f;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
        local_sum += expf((mx_load_as_f32(logits, dtype, base + i) - maximum) / temperature);
    float block_sum = reduce(temp).Sum(local_sum); /* temp reuse: the broadcast sync above */
    if (threadIdx.x == 0) row_sum = block_sum;
    __syncthreads();
    const float sum = row_sum;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        float p = expf((mx_load_as_f32(logits, dtype, base + i) - maximum) / temperature) / sum;
        if (probabilities) probabilities[base + i] = p;
        keys[base + i] = ((uint64_t)row << 32) | (uint32_t)~__float_as_uint(p);
        indices[base + i] = (int32_t)i;
    }
}

/* First index in [0, count) with cumulative[i] >= target (cumulative is non-decreasing);
 * count - 1 when none (rounding). */
static __device__ int64_t mx_first_at_least(const float *cumulative, int64_t count, float target) {
    int64_t low = 0, high = count - 1;
    while (low < high) {
        int64_t middle = low + (high - low) / 2;
        if (cumulative[middle] >= target)
            high = middle;
        else
            low = middle + 1;
    }
    return low;
}

/* One row after the sort: sorted_keys/sorted_indices hold the row's p descending. Scans the
 * first `candidates` (top_k) masses into cumulative, finds the nucleus and draws. */
static __global__ void mx_sample_pick_kernel(const uint64_t *sorted_keys,
                                             const int32_t *sorted_indices, float *cumulative,
                                             int64_t vocab, int64_t candidates, float top_p,
                                             uint64_t seed, uint64_t offset, int32_t *tokens) {
    typedef cub::BlockScan<float, mx_row_threads> scan;
    __shared__ typename scan::TempStorage temp;
    __shared__ float carry_shared;
    const int64_t row = blockIdx.x;
    const uint64_t *keys = sorted_keys + row * vocab;
    float *cum = cumulative + row * vocab;
    float carry = 0.0f;
    const int64_t step = (int64_t)mx_row_threads * mx_scan_items;
    for (int64_t start = 0; start < candidates; start += step) {
        /* Blocked: thread t holds items start + t * items .. + items - 1. */
        int64_t first = start + (int64_t)threadIdx.x * mx_scan_items;
        float mass[mx_scan_items], running[mx_scan_items];
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++)
            mass[j] = first + j < candidates ? __uint_as_float(~(uint32_t)keys[first + j]) : 0.0f;
        scan(temp).InclusiveSum(mass, running);
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++) running[j] = carry + running[j];
        /* A parallel scan rounds in another order across threads, so its sums may dip by an
         * ulp where a mass is tiny; a running max makes cum non-decreasing, which the binary
         * searches below rely on. The next step starts from the last value. */
        __syncthreads();
        scan(temp).InclusiveScan(running, running, mx_max_op());
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++)
            if (first + j < candidates) cum[first + j] = running[j];
        __syncthreads();
        if (threadIdx.x == mx_row_threads - 1) carry_shared = running[mx_scan_items - 1];
        __syncthreads();
        carry = carry_shared;
    }
    if (threadIdx.x != 0) return;
    const float total = cum[candidates - 1];
    const int64_t nucleus =
        top_p >= 1.0f ? candidates : mx_first_at_least(cum, candidates, top_p * total) + 1;
    curandStatePhilox4_32_10_t state;
    curand_init(seed, (unsigned long long)row, offset, &state);
    /* u in (0, 1]: the first cumulative mass >= u * nucleus mass has a non-zero p. */
    float u = curand_uniform(&state);
    int64_t pick = mx_first_at_least(cum, nucleus, u * cum[nucleus - 1]);
    tokens[row] = sorted_indices[row * vocab + pick];
}

// ---- launchers

/* Pieces of the sampler's workspace, each 256-byte aligned. */
typedef struct {
    uint64_t *keys_in, *keys_out;
    int32_t *indices_in, *indices_out; /* indices_in holds the cumulative masses after the sort */
    void *sort_temp;
    size_t sort_temp_bytes, total_bytes;
    int end_bit;
} mx_sample_layout;

static size_t mx_align256(size_t bytes) {
    return (bytes + 255) & ~(size_t)255;
}

/* Computes the layout for [m, vocab] (base may be NULL: sizes only). */
static mx_status mx_sample_layout_make(int64_t m, int64_t vocab, void *base,
                                       mx_sample_layout *layout) {
    const size_t items = (size_t)m * (size_t)vocab;
    int row_bits = 0;
    while (row_bits < 32 && ((int64_t)1 << row_bits) < m) row_bits++;
    layout->end_bit = 32 + row_bits;
    layout->sort_temp_bytes = 0;
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        NULL, layout->sort_temp_bytes, (const uint64_t *)NULL, (uint64_t *)NULL,
        (const int32_t *)NULL, (int32_t *)NULL, (int64_t)items, 0, layout->end_bit));
    char *cursor = (char *)base;
    size_t offsets[5],
        sizes[5] = {items * 8, items * 8, items * 4, items * 4, layout->sort_temp_bytes};
    size_t total = 0;
    for (int i = 0; i < 5; i++) {
        offsets[i] = total;
        total += mx_align256(sizes[i]);
    }
    layout->keys_in = (uint64_t *)(cursor ? cursor + offsets[0] : NULL);
    layout->keys_out = (uint64_t *)(cursor ? cursor + offsets[1] : NULL);
    layout->indices_in = (int32_t *)(cursor ? cursor + offsets[2] : NULL);
    layout->indices_out = (int32_t *)(cursor ? cursor + offsets[3] : NULL);
    layout->sort_temp = cursor ? cursor + offsets[4] : NULL;
    layout->total_bytes = total;
    return MX_OK;
}

static mx_status mx_sample_launch(const void *logits, mx_dtype dtype, int64_t m, int64_t vocab,
                                  const mx_sampling_params *params, int32_t *tokens,
                                  float *probabilities, const mx_sample_layout *layout,
                                  cudaStream_t stream) {
    if (params->temperature == 0.0f) {
        mx_argmax_kernel<<<(unsigned)m, mx_row_threads, 0, stream>>>(logits, dtype, vocab, tokens,
                                                                     probabilities);
        MX_LAUNCH_CHECK("mx_argmax_kernel");
        return MX_OK;
    }
    mx_softmax_keys_kernel<<<(unsigned)m, mx_row_threads, 0, stream>>>(
        logits, dtype, vocab, params->temperature, probabilities, layout->keys_in,
        layout->indices_in);
    MX_LAUNCH_CHECK("mx_softmax_keys_kernel");
    size_t temp_bytes = layout->sort_temp_bytes;
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        layout->sort_temp, temp_bytes, (const uint64_t *)layout->keys_in, layout->keys_out,
        (const int32_t *)layout->indices_in, layout->indices_out, m * vocab, 0, layout->end_bit,
        stream));
    int64_t candidates = params->top_k == 0 ? vocab : params->top_k;
    mx_sample_pick_kernel<<<(unsigned)m, mx_row_threads, 0, stream>>>(
        layout->keys_out, layout->indices_out, (float *)layout->indices_in, vocab, candidates,
        params->top_p, params->seed, params->offset, tokens);
    MX_LAUNCH_CHECK("mx_sample_pick_kernel");
    return MX_OK;
}

// ---- public entry points

static mx_status mx_sample_check_shape(int64_t m, int64_t vocab) {
    if (m <= 0) return mx_fail(MX_ERR_INVALID_ARGUMENT, "m = %lld: expected m >= 1", (long long)m);
    if (vocab <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "vocab = %lld: expected vocab >= 1",
                       (long long)vocab);
    if (m > INT32_MAX / vocab)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "m * vocab = %lld * %lld: expected below 2^31 (the sort's item count)",
                       (long long)m, (long long)vocab);
    return MX_OK;
}

static mx_status mx_sample_check_params(const mx_sampling_params *params, int64_t vocab) {
    if (!params) return mx_fail(MX_ERR_INVALID_ARGUMENT, "params is NULL");
    if (!(params->temperature >= 0.0f))
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "temperature = %g: expected >= 0 (0 = greedy)",
                       (double)params->temperature);
    if (params->top_k < 0 || params->top_k > vocab)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "top_k = %lld: expected 0..vocab (%lld)",
                       (long long)params->top_k, (long long)vocab);
    if (!(params->top_p > 0.0f && params->top_p <= 1.0f))
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "top_p = %g: expected 0 < top_p <= 1",
                       (double)params->top_p);
    return MX_OK;
}

extern "C" size_t mx_sample_workspace_bytes(int64_t m, int64_t vocab) {
    mx_sample_layout layout;
    if (m <= 0 || vocab <= 0 || m > INT32_MAX / vocab) return 0;
    if (mx_sample_layout_make(m, vocab, NULL, &layout) != MX_OK) return 0;
    return layout.total_bytes;
}

/* Checks everything of mx_sample but the logits' contents; fills the workspace layout. */
static mx_status mx_sample_check(const void *logits, mx_dtype logits_dtype, int64_t m,
                                 int64_t vocab, const mx_sampling_params *params, int32_t *tokens,
                                 float *probabilities, void *workspace, size_t workspace_bytes,
                                 mx_sample_layout *layout) {
    MX_TRY(mx_sample_check_shape(m, vocab));
    MX_TRY(mx_sample_check_params(params, vocab));
    MX_TRY(mx_check_dtype(logits_dtype, "logits_dtype"));
    MX_TRY(mx_check_pointer(logits, (unsigned)mx_dtype_bytes(logits_dtype), "logits"));
    MX_TRY(mx_check_pointer(tokens, 4, "tokens"));
    if (probabilities) MX_TRY(mx_check_pointer(probabilities, 4, "probabilities"));
    memset(layout, 0, sizeof *layout);
    if (params->temperature == 0.0f) return MX_OK; /* greedy needs no workspace */
    MX_TRY(mx_check_pointer(workspace, 256, "workspace"));
    MX_TRY(mx_sample_layout_make(m, vocab, workspace, layout));
    if (workspace_bytes < layout->total_bytes)
        return mx_fail(MX_ERR_WORKSPACE, "workspace_bytes = %zu: expected at least %zu",
                       workspace_bytes, layout->total_bytes);
    return MX_OK;
}

extern "C" mx_status mx_sample(const void *logits, mx_dtype logits_dtype, int64_t m, int64_t vocab,
                               const mx_sampling_params *params, int32_t *tokens,
                               float *probabilities, void *workspace, size_t workspace_bytes,
                               cudaStream_t stream) {
    mx_sample_layout layout;
    MX_TRY(mx_sample_check(logits, logits_dtype, m, vocab, params, tokens, probabilities, workspace,
                           workspace_bytes, &layout));
    return mx_sample_launch(logits, logits_dtype, m, vocab, params, tokens, probabilities, &layout,
                            stream);
}

extern "C" size_t mx_lm_head_workspace_bytes(const mx_gemm_context *context,
                                             const mx_gemm_problem *problem,
                                             mx_gemm_variant variant) {
    if (!problem) return 0;
    return mx_align256(mx_gemm_workspace_bytes(context, problem, variant)) +
           mx_sample_workspace_bytes(problem->m, problem->n);
}

extern "C" mx_status mx_lm_head(mx_gemm_context *context, const mx_gemm_problem *problem,
                                mx_gemm_variant variant, const mx_sampling_params *params,
                                int32_t *tokens, float *probabilities, void *workspace,
                                size_t workspace_bytes, cudaStream_t stream) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->batch != 1)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "batch = %lld: expected 1 (one logits matrix)",
                       (long long)problem->batch);
    if (problem->activation != MX_ACT_NONE || problem->residual)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "activation = %d / residual: expected none for the logits",
                       (int)problem->activation);
    size_t gemm_bytes = mx_align256(mx_gemm_workspace_bytes(context, problem, variant));
    if (workspace_bytes < gemm_bytes)
        return mx_fail(MX_ERR_WORKSPACE, "workspace_bytes = %zu: expected at least %zu",
                       workspace_bytes, mx_lm_head_workspace_bytes(context, problem, variant));
    /* Sampler checked before the GEMM runs, so that a bad parameter launches nothing. */
    void *sample_workspace = workspace ? (char *)workspace + gemm_bytes : NULL;
    mx_sample_layout layout;
    MX_TRY(mx_sample_check(problem->y, problem->dtype, problem->m, problem->n, params, tokens,
                           probabilities, sample_workspace, workspace_bytes - gemm_bytes, &layout));
    MX_TRY(mx_gemm(context, problem, variant, gemm_bytes ? workspace : NULL, gemm_bytes, stream));
    return mx_sample_launch(problem->y, problem->dtype, problem->m, problem->n, params, tokens,
                            probabilities, &layout, stream);
}
