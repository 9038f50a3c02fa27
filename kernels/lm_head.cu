/* LM head (lm_head.h): the logits through mx_gemm, then sampling. The sampler spreads every
 * pass over the logits across many CTAs per row (chunks of 2048 logits): a chunk max / sum of exp
 * pass (online softmax), then a pass that writes p (when asked) and either a 4096-bin histogram of
 * p's float bits (top_k <= 4096: the row's top_k sit in the bins at or above a boundary bin, so
 * only those candidates are compacted and sorted, by a CUB segmented sort), or sort keys (the
 * rest: one device-wide CUB radix sort). Without top-k / top-p the draw needs no sort at all (an
 * inverse CDF over chunk masses, then inside one chunk). Greedy is one CTA of 1024 threads per
 * row. H200, vocabulary 201088 (T 0.8, top-k 50, top-p 0.95): the sampler adds about 35 us at
 * 1 token and 70 us at 16 to the logits GEMM (`mxbench run --suite gpt-oss-20b`, docs/ops.md). */
#include <cub/cub.cuh>
#include <curand_kernel.h>

#include "check.h"
#include "lm_head.h"

static const int mx_chunk_threads = 256; /* threads of the per-chunk kernels */
static const int mx_chunk_items = 8;     /* logits per thread of one chunk, strided */
static const int64_t mx_chunk = (int64_t)mx_chunk_threads * mx_chunk_items; /* 2048 logits */
static const int mx_hist_bits = 12; /* histogram bins: the top bits of bits(p) & 0x7FFFFFFF */
static const int mx_hist_bins = 1 << mx_hist_bits;
static const int64_t mx_select_max_k = 4096; /* top_k up to this takes the histogram path */
static const int mx_row_threads = 512;       /* threads of the per-row pick kernels */
static const int mx_scan_items = 4;          /* items per thread and step of the pick's scan */
static const int mx_greedy_threads = 1024;
static const int mx_greedy_unroll = 8; /* independent loads in flight per thread */
static const int mx_sort_batch = 256;  /* rows per segmented sort call: below CUB's partitioning
                                          threshold (300 / 500), which would sync the stream */

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
        if (a.value != a.value) return b.value != b.value && a.index < b.index ? a : b; /* NaN */
        return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
    }
};

struct mx_max_op {
    __device__ __forceinline__ float operator()(float a, float b) const {
        return fmaxf(a, b);
    }
};

struct mx_min_index_op {
    __device__ __forceinline__ int64_t operator()(int64_t a, int64_t b) const {
        return a < b ? a : b;
    }
};

struct mx_max_index_op {
    __device__ __forceinline__ int64_t operator()(int64_t a, int64_t b) const {
        return a > b ? a : b;
    }
};

/* One CTA per row; mx_greedy_unroll independent loads per thread and step keep enough bytes in
 * flight that a row of 201088 logits takes ~25 steps. */
static __global__ void __launch_bounds__(mx_greedy_threads)
    mx_argmax_kernel(const void *logits, mx_dtype dtype, int64_t vocab, int32_t *tokens,
                     float *probabilities) {
    typedef cub::BlockReduce<mx_arg_best, mx_greedy_threads> reduce;
    __shared__ typename reduce::TempStorage temp;
    __shared__ int64_t winner;
    const int64_t row = blockIdx.x;
    const int64_t step = (int64_t)mx_greedy_threads * mx_greedy_unroll;
    mx_arg_best best = {-1, 0.0f};
    mx_arg_best_op better;
    for (int64_t start = threadIdx.x; start < vocab; start += step) {
        float value[mx_greedy_unroll];
#pragma unroll
        for (int j = 0; j < mx_greedy_unroll; j++) {
            int64_t i = start + (int64_t)j * mx_greedy_threads;
            value[j] = i < vocab ? mx_load_as_f32(logits, dtype, row * vocab + i) : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < mx_greedy_unroll; j++) {
            int64_t i = start + (int64_t)j * mx_greedy_threads;
            if (i < vocab) best = better(best, mx_arg_best{i, value[j]});
        }
    }
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

/* The same p everywhere it is computed (histogram, compaction, draw), so that every pass sees
 * the same bits. */
static __device__ __forceinline__ float mx_probability(float logit, float maximum,
                                                       float temperature, float sum) {
    return expf((logit - maximum) / temperature) / sum;
}

/* Bits of p that order like p (p >= 0; the mask keeps a negative NaN from wrapping). */
static __device__ __forceinline__ uint32_t mx_probability_bits(float p) {
    return __float_as_uint(p) & 0x7FFFFFFFu;
}

static __device__ __forceinline__ int mx_bin(float p) {
    return (int)(mx_probability_bits(p) >> (31 - mx_hist_bits));
}

/* Unique sort key: ascending = row, then p descending, then index ascending (the documented tie
 * rule, with no need for a stable sort). */
static __device__ __forceinline__ uint64_t mx_sort_key(int64_t row, float p, int64_t index,
                                                       int index_bits) {
    return ((uint64_t)row << (31 + index_bits)) |
           ((uint64_t)(0x7FFFFFFFu - mx_probability_bits(p)) << index_bits) | (uint64_t)index;
}

static __device__ __forceinline__ float mx_key_probability(uint64_t key, int index_bits) {
    return __uint_as_float(0x7FFFFFFFu - (uint32_t)((key >> index_bits) & 0x7FFFFFFFu));
}

static __device__ __forceinline__ int32_t mx_key_index(uint64_t key, int index_bits) {
    return (int32_t)(key & (((uint64_t)1 << index_bits) - 1));
}

/* Logits of chunk blockIdx.x % chunks of row blockIdx.x / chunks, strided over the threads
 * (coalesced); -inf past the row's end. */
static __device__ __forceinline__ void mx_chunk_load(const void *logits, mx_dtype dtype,
                                                     int64_t vocab, int64_t chunks,
                                                     float (&x)[mx_chunk_items]) {
    const int64_t row = blockIdx.x / chunks, first = (blockIdx.x % chunks) * mx_chunk;
#pragma unroll
    for (int j = 0; j < mx_chunk_items; j++) {
        int64_t i = first + (int64_t)j * mx_chunk_threads + threadIdx.x;
        x[j] = i < vocab ? mx_load_as_f32(logits, dtype, row * vocab + i) : -INFINITY;
    }
}

/* Per chunk: its max and sum of exp((x - max) / temperature) (0 when the chunk holds only -inf).
 * Also zeroes the row's histogram (when given) for the next kernel. */
static __global__ void __launch_bounds__(mx_chunk_threads)
    mx_chunk_stats_kernel(const void *logits, mx_dtype dtype, int64_t vocab, int64_t chunks,
                          float temperature, float2 *stats, unsigned *histogram) {
    typedef cub::BlockReduce<float, mx_chunk_threads> reduce;
    __shared__ typename reduce::TempStorage temp;
    __shared__ float chunk_max;
    const int64_t row = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    if (histogram)
        for (int64_t b = chunk * mx_chunk_threads + threadIdx.x; b < mx_hist_bins;
             b += chunks * mx_chunk_threads)
            histogram[row * mx_hist_bins + b] = 0;
    float x[mx_chunk_items];
    mx_chunk_load(logits, dtype, vocab, chunks, x);
    float local_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < mx_chunk_items; j++) local_max = fmaxf(local_max, x[j]);
    float block_max = reduce(temp).Reduce(local_max, mx_max_op());
    if (threadIdx.x == 0) chunk_max = block_max;
    __syncthreads();
    const float maximum = chunk_max;
    float local_sum = 0.0f;
    if (maximum != -INFINITY) {
#pragma unroll
        for (int j = 0; j < mx_chunk_items; j++) local_sum += expf((x[j] - maximum) / temperature);
    }
    float block_sum = reduce(temp).Sum(local_sum); /* temp reuse: the broadcast sync above */
    if (threadIdx.x == 0) stats[blockIdx.x] = make_float2(maximum, block_sum);
}

/* Row max and sum of exp((x - max) / temperature) from the chunk stats of one row, the same in
 * every CTA of the row (a fixed reduction order). All threads of the CTA must call it. */
struct mx_row_combine_storage {
    cub::BlockReduce<float, mx_chunk_threads>::TempStorage temp;
    float maximum, sum;
};

static __device__ float2 mx_row_combine(const float2 *row_stats, int64_t chunks, float temperature,
                                        mx_row_combine_storage &storage) {
    typedef cub::BlockReduce<float, mx_chunk_threads> reduce;
    float local_max = -INFINITY;
    for (int64_t c = threadIdx.x; c < chunks; c += mx_chunk_threads)
        local_max = fmaxf(local_max, row_stats[c].x);
    float block_max = reduce(storage.temp).Reduce(local_max, mx_max_op());
    if (threadIdx.x == 0) storage.maximum = block_max;
    __syncthreads();
    const float maximum = storage.maximum;
    float local_sum = 0.0f;
    for (int64_t c = threadIdx.x; c < chunks; c += mx_chunk_threads) {
        float2 s = row_stats[c];
        if (s.y > 0.0f) local_sum += s.y * expf((s.x - maximum) / temperature);
    }
    float block_sum = reduce(storage.temp).Sum(local_sum);
    if (threadIdx.x == 0) storage.sum = block_sum;
    __syncthreads();
    return make_float2(maximum, storage.sum);
}

/* Per chunk: p of its logits; writes p (when asked), the chunk's mass (sum of p, fixed order),
 * and, when asked, the row's histogram of p's bins or the sort keys of every logit. CTA 0 of a
 * row also keeps the row's (max, sum) and opens the row's candidate segment (begin = end). */
static __global__ void __launch_bounds__(mx_chunk_threads)
    mx_chunk_probabilities_kernel(const void *logits, mx_dtype dtype, int64_t vocab, int64_t chunks,
                                  float temperature, const float2 *stats, float *probabilities,
                                  float *chunk_mass, float2 *row_softmax, int *segment_begin,
                                  int *segment_end, unsigned *histogram, uint64_t *keys,
                                  int index_bits) {
    __shared__ mx_row_combine_storage storage;
    __shared__ unsigned bins[mx_hist_bins];
    const int64_t row = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    const int64_t first = chunk * mx_chunk;
    if (histogram)
        for (int b = threadIdx.x; b < mx_hist_bins; b += mx_chunk_threads) bins[b] = 0;
    float x[mx_chunk_items];
    mx_chunk_load(logits, dtype, vocab, chunks, x);
    const float2 softmax = mx_row_combine(stats + row * chunks, chunks, temperature, storage);
    if (chunk == 0 && threadIdx.x == 0) {
        row_softmax[row] = softmax;
        segment_begin[row] = segment_end[row] = (int)(row * vocab);
    }
    float local_mass = 0.0f;
#pragma unroll
    for (int j = 0; j < mx_chunk_items; j++) {
        int64_t i = first + (int64_t)j * mx_chunk_threads + threadIdx.x;
        if (i >= vocab) continue;
        float p = mx_probability(x[j], softmax.x, temperature, softmax.y);
        local_mass += p;
        if (probabilities) probabilities[row * vocab + i] = p;
        if (histogram) atomicAdd(&bins[mx_bin(p)], 1u);
        if (keys) keys[row * vocab + i] = mx_sort_key(row, p, i, index_bits);
    }
    /* The zeroing of bins is ordered before the atomics by the barriers in mx_row_combine. */
    float mass = cub::BlockReduce<float, mx_chunk_threads>(storage.temp).Sum(local_mass);
    if (threadIdx.x == 0) chunk_mass[blockIdx.x] = mass;
    if (!histogram) return;
    __syncthreads();
    for (int b = threadIdx.x; b < mx_hist_bins; b += mx_chunk_threads)
        if (bins[b]) atomicAdd(&histogram[row * mx_hist_bins + b], bins[b]);
}

/* Per chunk, after the row's histogram is complete: the boundary bin = the highest bin such that
 * the bins at or above it hold >= top_k logits; appends the sort keys of this chunk's logits in
 * those bins to the row's segment (row * vocab .. segment_end[row]). They include the top_k. */
static __global__ void __launch_bounds__(mx_chunk_threads)
    mx_compact_kernel(const void *logits, mx_dtype dtype, int64_t vocab, int64_t chunks,
                      float temperature, const float2 *row_softmax, const unsigned *histogram,
                      int64_t top_k, int index_bits, uint64_t *keys, int *segment_end) {
    const int bins_per_thread = mx_hist_bins / mx_chunk_threads;
    typedef cub::BlockScan<unsigned, mx_chunk_threads> bin_scan;
    typedef cub::BlockScan<int, mx_chunk_threads> count_scan;
    __shared__ union {
        typename bin_scan::TempStorage bins;
        typename count_scan::TempStorage counts;
    } temp;
    __shared__ int boundary;
    __shared__ int64_t base;
    const int64_t row = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    const int64_t first = chunk * mx_chunk;
    /* Blocked, from the top bin down: thread t holds bins 4095 - (t * 16 + j). */
    unsigned count[bins_per_thread], above[bins_per_thread];
    if (threadIdx.x == 0) boundary = 0; /* all bins: never needed, but never garbage either */
#pragma unroll
    for (int j = 0; j < bins_per_thread; j++)
        count[j] =
            histogram[row * mx_hist_bins + mx_hist_bins - 1 - (threadIdx.x * bins_per_thread + j)];
    __syncthreads(); /* the default boundary before the crossing thread's */
    bin_scan(temp.bins).InclusiveSum(count, above);
    /* Exactly one bin crosses top_k: the counts sum to vocab >= top_k. */
#pragma unroll
    for (int j = 0; j < bins_per_thread; j++)
        if (above[j] >= (uint64_t)top_k && above[j] - count[j] < (uint64_t)top_k)
            boundary = mx_hist_bins - 1 - (int)(threadIdx.x * bins_per_thread + j);
    float x[mx_chunk_items];
    mx_chunk_load(logits, dtype, vocab, chunks, x);
    __syncthreads(); /* boundary written; the scan storage free for reuse */
    const float2 softmax = row_softmax[row];
    uint64_t key[mx_chunk_items];
    bool keep[mx_chunk_items];
    int kept = 0;
#pragma unroll
    for (int j = 0; j < mx_chunk_items; j++) {
        int64_t i = first + (int64_t)j * mx_chunk_threads + threadIdx.x;
        float p = i < vocab ? mx_probability(x[j], softmax.x, temperature, softmax.y) : 0.0f;
        keep[j] = i < vocab && mx_bin(p) >= boundary;
        key[j] = mx_sort_key(row, p, i, index_bits);
        kept += keep[j];
    }
    int position, total;
    count_scan(temp.counts).ExclusiveSum(kept, position, total);
    if (threadIdx.x == 0 && total > 0) base = atomicAdd(&segment_end[row], total);
    __syncthreads();
    if (total == 0) return;
#pragma unroll
    for (int j = 0; j < mx_chunk_items; j++)
        if (keep[j]) keys[base + position++] = key[j];
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

/* Row row0 + blockIdx.x after the sort: sorted[row * vocab ..) holds its candidates' keys, p
 * descending (segment_end[row] - row * vocab of them; vocab when segment_end is NULL). Scans the
 * first top_k (all when 0) masses into cumulative, finds the nucleus and draws. When nucleus_early
 * (no top-k: top_k 0 or vocab; top_p < 1) the nucleus is measured against the row's mass (the sum
 * of its chunk masses) and the scan stops once it is reached. */
static __global__ void __launch_bounds__(mx_row_threads)
    mx_sample_pick_kernel(const uint64_t *sorted, const int *segment_end, float *cumulative,
                          int64_t vocab, int index_bits, int64_t top_k, float top_p,
                          bool nucleus_early, const float *chunk_mass, int64_t chunks,
                          uint64_t seed, uint64_t offset, int64_t row0, int32_t *tokens) {
    typedef cub::BlockScan<float, mx_row_threads> scan;
    typedef cub::BlockReduce<float, mx_row_threads> reduce;
    __shared__ union {
        typename scan::TempStorage scan;
        typename reduce::TempStorage reduce;
    } temp;
    __shared__ float carry_shared;
    const int64_t row = row0 + blockIdx.x;
    const int64_t begin = row * vocab;
    const int64_t count = segment_end ? segment_end[row] - begin : vocab;
    const int64_t candidates = top_k == 0 || top_k > count ? count : top_k;
    if (candidates <= 0) { /* only for NaN rows: nothing to draw from */
        if (threadIdx.x == 0) tokens[row] = 0;
        return;
    }
    const uint64_t *keys = sorted + begin;
    float *cum = cumulative + 2 * begin; /* the row's own 8-byte slots of the other sort buffer */
    float target = INFINITY;             /* the nucleus mass sought when nucleus_early */
    if (nucleus_early) {
        float local = 0.0f;
        for (int64_t c = threadIdx.x; c < chunks; c += mx_row_threads)
            local += chunk_mass[row * chunks + c];
        float mass = reduce(temp.reduce).Sum(local);
        if (threadIdx.x == 0) carry_shared = top_p * mass;
        __syncthreads();
        target = carry_shared;
        __syncthreads(); /* carry_shared and temp are reused below */
    }
    float carry = 0.0f;
    int64_t scanned = 0;
    const int64_t step = (int64_t)mx_row_threads * mx_scan_items;
    for (int64_t start = 0; start < candidates; start += step) {
        /* Blocked: thread t holds items start + t * items .. + items - 1. */
        int64_t first = start + (int64_t)threadIdx.x * mx_scan_items;
        float mass[mx_scan_items], running[mx_scan_items];
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++)
            mass[j] =
                first + j < candidates ? mx_key_probability(keys[first + j], index_bits) : 0.0f;
        scan(temp.scan).InclusiveSum(mass, running);
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++) running[j] = carry + running[j];
        /* A parallel scan rounds in another order across threads, so its sums may dip by an
         * ulp where a mass is tiny; a running max makes cum non-decreasing, which the binary
         * searches below rely on. The next step starts from the last value. */
        __syncthreads();
        scan(temp.scan).InclusiveScan(running, running, mx_max_op());
#pragma unroll
        for (int j = 0; j < mx_scan_items; j++)
            if (first + j < candidates) cum[first + j] = running[j];
        __syncthreads();
        if (threadIdx.x == mx_row_threads - 1) carry_shared = running[mx_scan_items - 1];
        __syncthreads();
        carry = carry_shared;
        scanned = start + step < candidates ? start + step : candidates;
        if (carry >= target) break; /* carry and target are the same in every thread */
    }
    if (threadIdx.x != 0) return;
    int64_t nucleus;
    if (nucleus_early) /* not reached (rounding): scanned == candidates, all of them */
        nucleus =
            cum[scanned - 1] >= target ? mx_first_at_least(cum, scanned, target) + 1 : scanned;
    else
        nucleus = top_p >= 1.0f
                      ? candidates
                      : mx_first_at_least(cum, candidates, top_p * cum[candidates - 1]) + 1;
    curandStatePhilox4_32_10_t state;
    curand_init(seed, (unsigned long long)row, offset, &state);
    /* u in (0, 1]: the first cumulative mass >= u * nucleus mass has a non-zero p. */
    float u = curand_uniform(&state);
    int64_t pick = mx_first_at_least(cum, nucleus, u * cum[nucleus - 1]);
    tokens[row] = mx_key_index(keys[pick], index_bits);
}

/* No top-k / top-p filtering: the inverse CDF over the whole row in vocabulary order, without a
 * sort (the same distribution as in sorted order). One CTA per row: the chunk whose cumulative
 * mass reaches u * (row mass), then the logit inside it. A pick never lands on p == 0. */
static __global__ void __launch_bounds__(mx_row_threads)
    mx_sample_unfiltered_kernel(const void *logits, mx_dtype dtype, int64_t vocab, int64_t chunks,
                                float temperature, const float2 *row_softmax,
                                const float *chunk_mass, float *chunk_prefix, uint64_t seed,
                                uint64_t offset, int32_t *tokens) {
    const int chunk_items = (int)(mx_chunk / mx_row_threads); /* 4 */
    typedef cub::BlockScan<float, mx_row_threads> scan;
    typedef cub::BlockReduce<int64_t, mx_row_threads> reduce;
    __shared__ union {
        typename scan::TempStorage scan;
        typename reduce::TempStorage reduce;
    } temp;
    __shared__ float carry_shared, target_shared, remaining_shared;
    __shared__ int64_t chosen_shared;
    const int64_t row = blockIdx.x;
    const float *mass = chunk_mass + row * chunks;
    float *prefix = chunk_prefix + row * chunks;
    /* Cumulative chunk masses, made non-decreasing as in mx_sample_pick_kernel. */
    float carry = 0.0f;
    for (int64_t start = 0; start < chunks; start += mx_row_threads) {
        int64_t c = start + threadIdx.x;
        float running;
        scan(temp.scan).InclusiveSum(c < chunks ? mass[c] : 0.0f, running);
        running += carry;
        __syncthreads();
        scan(temp.scan).InclusiveScan(running, running, mx_max_op());
        if (c < chunks) prefix[c] = running;
        __syncthreads();
        if (threadIdx.x == mx_row_threads - 1) carry_shared = running;
        __syncthreads();
        carry = carry_shared;
    }
    if (threadIdx.x == 0) {
        curandStatePhilox4_32_10_t state;
        curand_init(seed, (unsigned long long)row, offset, &state);
        target_shared = curand_uniform(&state) * carry; /* u in (0, 1] times the row's mass */
    }
    __syncthreads();
    const float target = target_shared;
    /* The first chunk with mass that reaches the target; else (rounding) the last with mass. */
    const int64_t none = INT64_MAX;
    int64_t reached = none, last = -1;
    for (int64_t c = threadIdx.x; c < chunks; c += mx_row_threads) {
        if (!(mass[c] > 0.0f)) continue;
        last = c;
        if (prefix[c] >= target && reached == none) reached = c;
    }
    int64_t first_reached = reduce(temp.reduce).Reduce(reached, mx_min_index_op());
    __syncthreads();
    int64_t last_with_mass = reduce(temp.reduce).Reduce(last, mx_max_index_op());
    if (threadIdx.x == 0) { /* the reductions' results are valid in thread 0 only */
        int64_t chosen =
            first_reached != none ? first_reached : (last_with_mass >= 0 ? last_with_mass : 0);
        chosen_shared = chosen;
        /* The mass still to cover inside the chosen chunk; +inf when no chunk reached the
         * target, so that the last logit with mass is taken. */
        remaining_shared =
            first_reached != none ? target - (chosen > 0 ? prefix[chosen - 1] : 0.0f) : INFINITY;
    }
    __syncthreads();
    const int64_t chosen = chosen_shared;
    const float remaining = remaining_shared;
    const float2 softmax = row_softmax[row];
    /* Blocked: thread t holds logits chosen * 2048 + t * 4 .. + 3. */
    const int64_t first = chosen * mx_chunk + (int64_t)threadIdx.x * chunk_items;
    float p[chunk_items], running[chunk_items];
#pragma unroll
    for (int j = 0; j < chunk_items; j++) {
        int64_t i = first + j;
        p[j] = i < vocab ? mx_probability(mx_load_as_f32(logits, dtype, row * vocab + i), softmax.x,
                                          temperature, softmax.y)
                         : 0.0f;
    }
    __syncthreads(); /* temp's last reduce is over before the scan reuses it */
    scan(temp.scan).InclusiveSum(p, running);
    reached = none;
    last = -1;
#pragma unroll
    for (int j = 0; j < chunk_items; j++) {
        if (!(p[j] > 0.0f)) continue;
        last = first + j;
        if (running[j] >= remaining && reached == none) reached = first + j;
    }
    __syncthreads();
    first_reached = reduce(temp.reduce).Reduce(reached, mx_min_index_op());
    __syncthreads();
    last_with_mass = reduce(temp.reduce).Reduce(last, mx_max_index_op());
    if (threadIdx.x == 0)
        tokens[row] = (int32_t)(first_reached != none
                                    ? first_reached
                                    : (last_with_mass >= 0 ? last_with_mass : chosen * mx_chunk));
}

// ---- launchers

/* Pieces of the sampler's workspace, each 256-byte aligned. */
typedef struct {
    float2 *stats, *row_softmax;      /* per chunk (max, sum of exp); per row (max, sum) */
    float *chunk_mass, *chunk_prefix; /* per chunk: sum of p; its cumulative (unfiltered draw) */
    unsigned *histogram;              /* per row: mx_hist_bins counts */
    int *segment_begin, *segment_end; /* per row: the candidates in keys_a (segmented sort) */
    uint64_t *keys_a, *keys_b;        /* sort keys and the sort's other buffer, m * vocab each */
    void *sort_temp;                  /* CUB's temporary: the larger of the two sorts' */
    size_t sort_temp_bytes, total_bytes;
    int64_t chunks;
    int index_bits, end_bit;
} mx_sample_layout;

static size_t mx_align256(size_t bytes) {
    return (bytes + 255) & ~(size_t)255;
}

static int mx_bits_for(int64_t count) { /* smallest b with 2^b >= count */
    int bits = 0;
    while (bits < 62 && ((int64_t)1 << bits) < count) bits++;
    return bits;
}

/* One cub::DeviceSegmentedSort call over the candidate segments of `rows` rows (begin / end
 * point at the first row's offsets); a size query when temp is NULL. */
static cudaError_t mx_segmented_sort(void *temp, size_t &temp_bytes,
                                     cub::DoubleBuffer<uint64_t> &keys, int64_t items, int64_t rows,
                                     const int *begin, const int *end, cudaStream_t stream) {
    return cub::DeviceSegmentedSort::SortKeys(temp, temp_bytes, keys, items, rows, begin, end,
                                              stream);
}

/* Computes the layout for [m, vocab] (base may be NULL: sizes only). */
static mx_status mx_sample_layout_make(int64_t m, int64_t vocab, void *base,
                                       mx_sample_layout *layout) {
    const size_t items = (size_t)m * (size_t)vocab;
    const int64_t chunks = (vocab + mx_chunk - 1) / mx_chunk;
    const size_t chunk_count = (size_t)(m * chunks);
    layout->chunks = chunks;
    layout->index_bits = mx_bits_for(vocab);
    layout->end_bit = mx_bits_for(m) + 31 + layout->index_bits; /* <= 64: m * vocab < 2^31 */
    cub::DoubleBuffer<uint64_t> no_keys(NULL, NULL);
    size_t radix_bytes = 0, segmented_bytes = 0, last_batch_bytes = 0;
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(NULL, radix_bytes, no_keys, (int64_t)items, 0,
                                                 layout->end_bit));
    MX_CUDA_CHECK(mx_segmented_sort(NULL, segmented_bytes, no_keys, (int64_t)items,
                                    m < mx_sort_batch ? m : mx_sort_batch, NULL, NULL, 0));
    if (m > mx_sort_batch && m % mx_sort_batch) /* a shorter last batch */
        MX_CUDA_CHECK(mx_segmented_sort(NULL, last_batch_bytes, no_keys, (int64_t)items,
                                        m % mx_sort_batch, NULL, NULL, 0));
    size_t temp_bytes = radix_bytes > segmented_bytes ? radix_bytes : segmented_bytes;
    if (last_batch_bytes > temp_bytes) temp_bytes = last_batch_bytes;
    layout->sort_temp_bytes = temp_bytes;
    enum { STATS, ROW_SOFTMAX, MASS, PREFIX, HISTOGRAM, BEGIN, END, KEYS_A, KEYS_B, TEMP, PIECES };
    size_t sizes[PIECES] = {chunk_count * 8,
                            (size_t)m * 8,
                            chunk_count * 4,
                            chunk_count * 4,
                            (size_t)m * mx_hist_bins * 4,
                            (size_t)m * 4,
                            (size_t)m * 4,
                            items * 8,
                            items * 8,
                            temp_bytes};
    char *cursor = (char *)base;
    char *pieces[PIECES];
    size_t total = 0;
    for (int i = 0; i < PIECES; i++) {
        pieces[i] = cursor ? cursor + total : NULL;
        total += mx_align256(sizes[i]);
    }
    layout->stats = (float2 *)pieces[STATS];
    layout->row_softmax = (float2 *)pieces[ROW_SOFTMAX];
    layout->chunk_mass = (float *)pieces[MASS];
    layout->chunk_prefix = (float *)pieces[PREFIX];
    layout->histogram = (unsigned *)pieces[HISTOGRAM];
    layout->segment_begin = (int *)pieces[BEGIN];
    layout->segment_end = (int *)pieces[END];
    layout->keys_a = (uint64_t *)pieces[KEYS_A];
    layout->keys_b = (uint64_t *)pieces[KEYS_B];
    layout->sort_temp = pieces[TEMP];
    layout->total_bytes = total;
    return MX_OK;
}

static mx_status mx_sample_launch(const void *logits, mx_dtype dtype, int64_t m, int64_t vocab,
                                  const mx_sampling_params *params, int32_t *tokens,
                                  float *probabilities, const mx_sample_layout *layout,
                                  cudaStream_t stream) {
    if (params->temperature == 0.0f) {
        mx_argmax_kernel<<<(unsigned)m, mx_greedy_threads, 0, stream>>>(logits, dtype, vocab,
                                                                        tokens, probabilities);
        MX_LAUNCH_CHECK("mx_argmax_kernel");
        return MX_OK;
    }
    const float temperature = params->temperature, top_p = params->top_p;
    const int64_t top_k = params->top_k, chunks = layout->chunks;
    const unsigned chunk_grid = (unsigned)(m * chunks); /* <= m * vocab < 2^31 */
    /* Three paths, chosen by the parameters alone: no filtering (no sort); top_k up to
     * mx_select_max_k (histogram, compaction, segmented sort of the candidates); the rest (one
     * device-wide sort of every logit's key). */
    const bool unfiltered = top_p >= 1.0f && (top_k == 0 || top_k == vocab);
    const bool select = !unfiltered && top_k >= 1 && top_k <= mx_select_max_k;
    const bool sort_all = !unfiltered && !select;
    unsigned *histogram = select ? layout->histogram : NULL;
    mx_chunk_stats_kernel<<<chunk_grid, mx_chunk_threads, 0, stream>>>(
        logits, dtype, vocab, chunks, temperature, layout->stats, histogram);
    MX_LAUNCH_CHECK("mx_chunk_stats_kernel");
    mx_chunk_probabilities_kernel<<<chunk_grid, mx_chunk_threads, 0, stream>>>(
        logits, dtype, vocab, chunks, temperature, layout->stats, probabilities, layout->chunk_mass,
        layout->row_softmax, layout->segment_begin, layout->segment_end, histogram,
        sort_all ? layout->keys_a : NULL, layout->index_bits);
    MX_LAUNCH_CHECK("mx_chunk_probabilities_kernel");
    if (unfiltered) {
        mx_sample_unfiltered_kernel<<<(unsigned)m, mx_row_threads, 0, stream>>>(
            logits, dtype, vocab, chunks, temperature, layout->row_softmax, layout->chunk_mass,
            layout->chunk_prefix, params->seed, params->offset, tokens);
        MX_LAUNCH_CHECK("mx_sample_unfiltered_kernel");
        return MX_OK;
    }
    const int64_t items = m * vocab;
    if (select) {
        mx_compact_kernel<<<chunk_grid, mx_chunk_threads, 0, stream>>>(
            logits, dtype, vocab, chunks, temperature, layout->row_softmax, layout->histogram,
            top_k, layout->index_bits, layout->keys_a, layout->segment_end);
        MX_LAUNCH_CHECK("mx_compact_kernel");
        for (int64_t row0 = 0; row0 < m; row0 += mx_sort_batch) {
            const int64_t rows = m - row0 < mx_sort_batch ? m - row0 : mx_sort_batch;
            cub::DoubleBuffer<uint64_t> keys(layout->keys_a, layout->keys_b);
            size_t temp_bytes = layout->sort_temp_bytes;
            MX_CUDA_CHECK(mx_segmented_sort(layout->sort_temp, temp_bytes, keys, items, rows,
                                            layout->segment_begin + row0,
                                            layout->segment_end + row0, stream));
            mx_sample_pick_kernel<<<(unsigned)rows, mx_row_threads, 0, stream>>>(
                keys.Current(), layout->segment_end, (float *)keys.Alternate(), vocab,
                layout->index_bits, top_k, top_p, false, layout->chunk_mass, chunks, params->seed,
                params->offset, row0, tokens);
            MX_LAUNCH_CHECK("mx_sample_pick_kernel");
        }
        return MX_OK;
    }
    cub::DoubleBuffer<uint64_t> keys(layout->keys_a, layout->keys_b);
    size_t temp_bytes = layout->sort_temp_bytes;
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(layout->sort_temp, temp_bytes, keys, items, 0,
                                                 layout->end_bit, stream));
    mx_sample_pick_kernel<<<(unsigned)m, mx_row_threads, 0, stream>>>(
        keys.Current(), NULL, (float *)keys.Alternate(), vocab, layout->index_bits, top_k, top_p,
        (top_k == 0 || top_k == vocab) && top_p < 1.0f, layout->chunk_mass, chunks, params->seed,
        params->offset, 0, tokens);
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

extern "C" mx_status mx_sample_workspace_bytes(int64_t m, int64_t vocab, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_sample_check_shape(m, vocab));
    mx_sample_layout layout;
    MX_TRY(mx_sample_layout_make(m, vocab, NULL, &layout));
    *bytes = layout.total_bytes;
    return MX_OK;
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

/* The logits GEMM's workspace, 256-aligned, after the checks of an LM head problem. */
static mx_status mx_lm_head_gemm_bytes(const mx_gemm_context *context,
                                       const mx_gemm_problem *problem, mx_gemm_variant variant,
                                       size_t *bytes) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->batch != 1)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "batch = %lld: expected 1 (one logits matrix)",
                       (long long)problem->batch);
    if (problem->activation != MX_ACT_NONE || problem->residual)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "activation = %d / residual: expected none for the logits",
                       (int)problem->activation);
    MX_TRY(mx_gemm_workspace_bytes(context, problem, variant, bytes));
    *bytes = mx_align256(*bytes);
    return MX_OK;
}

extern "C" mx_status mx_lm_head_workspace_bytes(const mx_gemm_context *context,
                                                const mx_gemm_problem *problem,
                                                mx_gemm_variant variant, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    size_t gemm_bytes = 0, sample_bytes = 0;
    MX_TRY(mx_lm_head_gemm_bytes(context, problem, variant, &gemm_bytes));
    MX_TRY(mx_sample_workspace_bytes(problem->m, problem->n, &sample_bytes));
    *bytes = gemm_bytes + sample_bytes;
    return MX_OK;
}

extern "C" mx_status mx_lm_head(mx_gemm_context *context, const mx_gemm_problem *problem,
                                mx_gemm_variant variant, const mx_sampling_params *params,
                                int32_t *tokens, float *probabilities, void *workspace,
                                size_t workspace_bytes, cudaStream_t stream) {
    size_t gemm_bytes = 0, sample_bytes = 0;
    MX_TRY(mx_lm_head_gemm_bytes(context, problem, variant, &gemm_bytes));
    if (workspace_bytes < gemm_bytes) {
        MX_TRY(mx_sample_workspace_bytes(problem->m, problem->n, &sample_bytes));
        return mx_fail(MX_ERR_WORKSPACE, "workspace_bytes = %zu: expected at least %zu",
                       workspace_bytes, gemm_bytes + sample_bytes);
    }
    /* Sampler checked before the GEMM runs, so that a bad parameter launches nothing. */
    void *sample_workspace = workspace ? (char *)workspace + gemm_bytes : NULL;
    mx_sample_layout layout;
    MX_TRY(mx_sample_check(problem->y, problem->dtype, problem->m, problem->n, params, tokens,
                           probabilities, sample_workspace, workspace_bytes - gemm_bytes, &layout));
    MX_TRY(mx_gemm(context, problem, variant, gemm_bytes ? workspace : NULL, gemm_bytes, stream));
    return mx_sample_launch(problem->y, problem->dtype, problem->m, problem->n, params, tokens,
                            probabilities, &layout, stream);
}
