/* Device-side helpers of the harness (see bench_gpu.h). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <curand_kernel.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "bench_gpu.h"

static const char *const mx_dist_names[MX_DIST_COUNT] = {"gaussian", "uniform", "heavy", "outliers",
                                                         "range"};

extern "C" const char *mx_dist_name(mx_dist dist) {
    return (unsigned)dist < MX_DIST_COUNT ? mx_dist_names[dist] : "unknown";
}

extern "C" mx_dist mx_dist_from_name(const char *name) {
    for (int d = 0; name && d < MX_DIST_COUNT; d++)
        if (strcmp(name, mx_dist_names[d]) == 0) return (mx_dist)d;
    return MX_DIST_COUNT;
}

enum { MX_THREADS = 256 };

static unsigned mx_grid(int64_t count) {
    int64_t blocks = (count + MX_THREADS - 1) / MX_THREADS;
    return (unsigned)(blocks < 65536 ? blocks : 65536); /* grid-stride loops cover the rest */
}

// ---- kernels

static __global__ void mx_fill_kernel(float *values, int64_t rows, int64_t cols, mx_dist dist,
                                      uint64_t seed, float activation_scale) {
    const int64_t count = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        curandStatePhilox4_32_10_t state;
        curand_init(seed, (unsigned long long)i, 0, &state);
        float4 normals = curand_normal4(&state);
        float value;
        switch (dist) {
        case MX_DIST_UNIFORM:
            value = 0.1f * (curand_uniform(&state) - 0.5f);
            break;
        case MX_DIST_HEAVY: { /* t(3) = z / sqrt(chi2(3) / 3) */
            float chi2 = normals.y * normals.y + normals.z * normals.z + normals.w * normals.w;
            value = 0.02f * normals.x * rsqrtf(fmaxf(chi2, 1e-12f) / 3.0f);
            break;
        }
        case MX_DIST_OUTLIERS:
            value = 0.02f * normals.x * (curand_uniform(&state) < 1e-3f ? 50.0f : 1.0f);
            break;
        case MX_DIST_RANGE: { /* one exponent per row, from the row's own stream */
            curandStatePhilox4_32_10_t row_state;
            curand_init(seed ^ 0x5DEECE66DULL, (unsigned long long)(i / cols), 0, &row_state);
            int exponent = -24 + (int)(curand(&row_state) % 42u);
            value = ldexpf(normals.x, exponent);
            break;
        }
        default:
            value = 0.02f * normals.x;
            break;
        }
        values[i] = activation_scale > 0.0f ? activation_scale * normals.x : value;
    }
}

template <typename T>
static __global__ void mx_narrow_kernel(const float *src, int64_t count, T *dst) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = (T)src[i];
}

template <typename T> __device__ __forceinline__ double mx_as_double(const void *data, int64_t i) {
    return (double)(float)((const T *)data)[i];
}

__device__ __forceinline__ double mx_load(const void *data, mx_dtype dtype, int is_f64, int64_t i) {
    if (is_f64) return ((const double *)data)[i];
    switch (dtype) {
    case MX_F16:
        return mx_as_double<__half>(data, i);
    case MX_BF16:
        return mx_as_double<__nv_bfloat16>(data, i);
    default:
        return (double)((const float *)data)[i];
    }
}

static __global__ void mx_widen_kernel(const void *src, mx_dtype dtype, int64_t count, double *dst,
                                       bool absolute) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        double value = mx_load(src, dtype, 0, i);
        dst[i] = absolute ? fabs(value) : value;
    }
}

static __global__ void mx_poison_kernel(void *dst, mx_dtype dtype, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        if (dtype == MX_F32)
            ((uint32_t *)dst)[i] = 0x7FC00000u;
        else
            ((uint16_t *)dst)[i] = dtype == MX_F16 ? 0x7E00 : 0x7FC0;
    }
}

/* Accumulators of the comparison, in device memory. Non-negative doubles order like their bit
 * patterns, so maxima use atomicMax on the bits. */
typedef struct {
    double diff_squares, reference_squares;
    unsigned long long reference_max_bits, max_rel_bits;
    unsigned long long nonfinite, reference_nonfinite;
} mx_compare_sums;

__device__ void mx_atomic_max(unsigned long long *target, double value) {
    atomicMax(target, (unsigned long long)__double_as_longlong(value));
}

static __global__ void mx_reference_max_kernel(const void *r, mx_dtype r_dtype, int r_is_f64,
                                               int64_t count, mx_compare_sums *sums) {
    double local = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        double value = fabs(mx_load(r, r_dtype, r_is_f64, i));
        if (isfinite(value)) local = fmax(local, value);
    }
    mx_atomic_max(&sums->reference_max_bits, local);
}

static __global__ void mx_compare_kernel(const void *y, mx_dtype y_dtype, const void *r,
                                         mx_dtype r_dtype, int r_is_f64, int64_t count,
                                         mx_compare_sums *sums) {
    const double floor_value = 1e-3 * __longlong_as_double((long long)sums->reference_max_bits);
    double diff_squares = 0.0, reference_squares = 0.0, max_rel = 0.0;
    unsigned long long nonfinite = 0, reference_nonfinite = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        double reference = mx_load(r, r_dtype, r_is_f64, i), value = mx_load(y, y_dtype, 0, i);
        if (!isfinite(reference)) {
            reference_nonfinite++;
            continue;
        }
        reference_squares += reference * reference;
        if (!isfinite(value)) {
            nonfinite++;
            continue;
        }
        double diff = value - reference;
        diff_squares += diff * diff;
        max_rel = fmax(max_rel, fabs(diff) / fmax(fabs(reference), floor_value));
    }
    /* One atomic per warp after a shuffle reduction. */
    for (int offset = 16; offset > 0; offset /= 2) {
        diff_squares += __shfl_down_sync(0xFFFFFFFFu, diff_squares, offset);
        reference_squares += __shfl_down_sync(0xFFFFFFFFu, reference_squares, offset);
        max_rel = fmax(max_rel, __shfl_down_sync(0xFFFFFFFFu, max_rel, offset));
        nonfinite += __shfl_down_sync(0xFFFFFFFFu, nonfinite, offset);
        reference_nonfinite += __shfl_down_sync(0xFFFFFFFFu, reference_nonfinite, offset);
    }
    if ((threadIdx.x & 31) != 0) return;
    atomicAdd(&sums->diff_squares, diff_squares);
    atomicAdd(&sums->reference_squares, reference_squares);
    mx_atomic_max(&sums->max_rel_bits, max_rel);
    atomicAdd(&sums->nonfinite, nonfinite);
    atomicAdd(&sums->reference_nonfinite, reference_nonfinite);
}

static __global__ void mx_flush_kernel(const uint4 *buffer, int64_t count, unsigned *sink) {
    unsigned bits = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        uint4 value = buffer[i];
        bits ^= value.x ^ value.y ^ value.z ^ value.w;
    }
    if (bits == 0x9E3779B9u) *sink = bits; /* keeps the loads; practically never stores */
}

static __global__ void mx_spin_kernel(uint64_t ns) {
    uint64_t start_ns, now_ns;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start_ns));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now_ns));
    } while (now_ns - start_ns < ns);
}

static __global__ void mx_clock_kernel(double *mhz) {
    uint64_t start_ns, now_ns;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start_ns));
    long long start_cycles = clock64();
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now_ns));
    } while (now_ns - start_ns < 200000); /* 200 us: the timer may tick in microseconds */
    long long cycles = clock64() - start_cycles;
    *mhz = (double)cycles / (double)(now_ns - start_ns) * 1e3;
}

// ---- launchers

extern "C" mx_status mx_bench_fill(float *values, int64_t rows, int64_t cols, mx_dist dist,
                                   uint64_t seed, cudaStream_t stream) {
    mx_fill_kernel<<<mx_grid(rows * cols), MX_THREADS, 0, stream>>>(values, rows, cols, dist, seed,
                                                                    0.0f);
    MX_LAUNCH_CHECK("mx_fill_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_fill_activations(float *values, int64_t count, mx_dist dist,
                                               uint64_t seed, cudaStream_t stream) {
    float scale = dist == MX_DIST_RANGE ? 0x1p-10f : 1.0f;
    mx_fill_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(values, 1, count, MX_DIST_GAUSSIAN,
                                                              seed, scale);
    MX_LAUNCH_CHECK("mx_fill_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_narrow(const float *src, int64_t count, mx_dtype dst_dtype, void *dst,
                                     cudaStream_t stream) {
    if (dst_dtype == MX_BF16)
        mx_narrow_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(src, count,
                                                                    (__nv_bfloat16 *)dst);
    else
        mx_narrow_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(src, count, (__half *)dst);
    MX_LAUNCH_CHECK("mx_narrow_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_widen(const void *src, mx_dtype src_dtype, int64_t count, double *dst,
                                    cudaStream_t stream) {
    mx_widen_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(src, src_dtype, count, dst, false);
    MX_LAUNCH_CHECK("mx_widen_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_widen_abs(const void *src, mx_dtype src_dtype, int64_t count,
                                        double *dst, cudaStream_t stream) {
    mx_widen_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(src, src_dtype, count, dst, true);
    MX_LAUNCH_CHECK("mx_widen_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_poison(void *dst, mx_dtype dtype, int64_t count,
                                     cudaStream_t stream) {
    mx_poison_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(dst, dtype, count);
    MX_LAUNCH_CHECK("mx_poison_kernel");
    return MX_OK;
}

/* The element-wise check's accumulators: the worst element as a key (the ratio's float bits,
 * rounded up so that a ratio above 1 stays above 1, which order like the ratios for ratios >= 0,
 * above the complement of its index, so that ties go to the first element as on the host), the
 * counts. */
typedef struct {
    unsigned long long worst_key, over, checked;
} mx_elementwise_sums;

static __global__ void mx_elementwise_kernel(const void *y, mx_dtype dtype, const double *exact,
                                             const double *magnitude, const double *row_sums,
                                             int64_t count, int64_t cols,
                                             mx_elementwise_bound bound,
                                             mx_elementwise_sums *sums) {
    unsigned long long worst = 0, over = 0, checked = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        double value = mx_load(y, dtype, 0, i), e = exact[i];
        if (!mx_elementwise_judged(&bound, value, e)) continue;
        double ratio =
            fabs(value - e) / mx_elementwise_limit(&bound, e, magnitude[i], row_sums[i / cols]);
        if (isnan(ratio))
            continue; /* no bound (K >= 2^24 with m = 0): not judged, as on the host */
        checked++;
        over += ratio > 1.0;
        float rounded_up = fminf(__double2float_ru(ratio), 3.0e38f);
        unsigned long long key = (unsigned long long)__float_as_uint(rounded_up) << 32 |
                                 (unsigned long long)(0xFFFFFFFFu - (uint32_t)i);
        if (key > worst) worst = key;
    }
    if (checked) {
        atomicMax(&sums->worst_key, worst);
        atomicAdd(&sums->over, over);
        atomicAdd(&sums->checked, checked);
    }
}

extern "C" mx_status mx_bench_elementwise(const void *y, mx_dtype dtype, const double *exact,
                                          const double *magnitude, const double *row_sums,
                                          int64_t count, int64_t cols, int64_t k,
                                          mx_elementwise_result *result, cudaStream_t stream) {
    if (count >= ((int64_t)1 << 32) || cols <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "element-wise check of %lld outputs in rows of %lld: at most 2^32 - 1 "
                       "outputs, rows of at least one",
                       (long long)count, (long long)cols);
    mx_elementwise_sums *sums = nullptr, host = {0, 0, 0};
    MX_CUDA_CHECK(cudaMallocAsync((void **)&sums, sizeof *sums, stream));
    cudaError_t error = cudaMemsetAsync(sums, 0, sizeof *sums, stream);
    if (error == cudaSuccess) {
        mx_elementwise_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(
            y, dtype, exact, magnitude, row_sums, count, cols, mx_elementwise_bound_for(dtype, k),
            sums);
        error = cudaGetLastError();
    }
    if (error == cudaSuccess)
        error = cudaMemcpyAsync(&host, sums, sizeof host, cudaMemcpyDeviceToHost, stream);
    cudaFreeAsync(sums, stream);
    if (error == cudaSuccess) error = cudaStreamSynchronize(stream);
    MX_CUDA_CHECK(error);
    uint32_t bits = (uint32_t)(host.worst_key >> 32);
    float worst;
    memcpy(&worst, &bits, sizeof worst);
    *result = (mx_elementwise_result){
        .worst = host.checked ? (double)worst : 0.0,
        .worst_index = host.checked ? (int64_t)(0xFFFFFFFFu - (uint32_t)host.worst_key) : -1,
        .over = (int64_t)host.over,
        .checked = (int64_t)host.checked,
    };
    return MX_OK;
}

extern "C" mx_status mx_bench_compare(const void *y, mx_dtype y_dtype, const void *r,
                                      mx_dtype r_dtype, int r_is_f64, int64_t count,
                                      mx_error_figures *figures, cudaStream_t stream) {
    mx_compare_sums *sums = nullptr, host;
    MX_CUDA_CHECK(cudaMallocAsync((void **)&sums, sizeof *sums, stream));
    cudaError_t error = cudaMemsetAsync(sums, 0, sizeof *sums, stream);
    if (error == cudaSuccess) {
        mx_reference_max_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(r, r_dtype, r_is_f64,
                                                                           count, sums);
        mx_compare_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(y, y_dtype, r, r_dtype,
                                                                     r_is_f64, count, sums);
        error = cudaGetLastError();
    }
    if (error == cudaSuccess)
        error = cudaMemcpyAsync(&host, sums, sizeof host, cudaMemcpyDeviceToHost, stream);
    cudaFreeAsync(sums, stream);
    if (error == cudaSuccess) error = cudaStreamSynchronize(stream);
    if (error != cudaSuccess) return mx_cuda_fail(error, "mx_bench_compare", __FILE__, __LINE__);
    figures->rel = host.nonfinite > 0             ? INFINITY
                   : host.reference_squares > 0.0 ? sqrt(host.diff_squares / host.reference_squares)
                                                  : (host.diff_squares > 0.0 ? INFINITY : 0.0);
    memcpy(&figures->max_rel, &host.max_rel_bits, sizeof figures->max_rel);
    figures->nonfinite = (int64_t)host.nonfinite;
    figures->reference_nonfinite = (int64_t)host.reference_nonfinite;
    return MX_OK;
}

extern "C" mx_status mx_bench_flush_l2(const void *buffer, size_t bytes, cudaStream_t stream) {
    int64_t count = (int64_t)(bytes / sizeof(uint4));
    /* the last 4 bytes of the buffer are the (never written) sink */
    mx_flush_kernel<<<mx_grid(count), MX_THREADS, 0, stream>>>(
        (const uint4 *)buffer, count - 1, (unsigned *)((char *)buffer + bytes - sizeof(unsigned)));
    MX_LAUNCH_CHECK("mx_flush_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_spin(cudaStream_t stream, double us) {
    mx_spin_kernel<<<1, 1, 0, stream>>>((uint64_t)(us * 1000.0));
    MX_LAUNCH_CHECK("mx_spin_kernel");
    return MX_OK;
}

extern "C" mx_status mx_bench_sm_clock_mhz(cudaStream_t stream, double *mhz) {
    double *device_mhz = nullptr;
    MX_CUDA_CHECK(cudaMallocAsync((void **)&device_mhz, sizeof *device_mhz, stream));
    mx_clock_kernel<<<1, 1, 0, stream>>>(device_mhz);
    cudaError_t error = cudaGetLastError();
    if (error == cudaSuccess)
        error = cudaMemcpyAsync(mhz, device_mhz, sizeof *mhz, cudaMemcpyDeviceToHost, stream);
    cudaFreeAsync(device_mhz, stream);
    if (error == cudaSuccess) error = cudaStreamSynchronize(stream);
    if (error != cudaSuccess)
        return mx_cuda_fail(error, "mx_bench_sm_clock_mhz", __FILE__, __LINE__);
    return MX_OK;
}
