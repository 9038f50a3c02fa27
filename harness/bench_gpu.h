/* Device-side helpers of the harness, shared by every op: weight distributions, conversions to
 * FP16/BF16/FP64, the error figures of docs/design.md §4 reduced on the GPU (so that the largest
 * shapes stay fast), and an SM clock probe. C entry points; CUDA errors come back as mx_status. */
#ifndef MX_BENCH_GPU_H
#define MX_BENCH_GPU_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "elementwise.h"
#include "status.h"
#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Weight distributions of the sweeps (docs/design.md §6). */
typedef enum {
    MX_DIST_GAUSSIAN = 0, /* normal(0, 0.02), nn.Linear-like */
    MX_DIST_UNIFORM,      /* uniform(-0.05, 0.05) */
    MX_DIST_HEAVY,        /* Student t with 3 degrees of freedom, times 0.02 */
    MX_DIST_OUTLIERS,     /* normal(0, 0.02) with one value in 1000 multiplied by 50 */
    MX_DIST_RANGE,        /* normal(0, 1) times 2^e per row, e uniform in [-24, 17]: FP16
                             weights lose precision (small e) and overflow (e >= 15) */
    MX_DIST_COUNT
} mx_dist;

/* "gaussian", "uniform", "heavy", "outliers", "range". */
const char *mx_dist_name(mx_dist dist);
/* MX_DIST_COUNT when the name is unknown. */
mx_dist mx_dist_from_name(const char *name);

/* Fills values[rows * cols] with the distribution, reproducibly from seed (cuRAND Philox). */
mx_status mx_bench_fill(float *values, int64_t rows, int64_t cols, mx_dist dist, uint64_t seed,
                        cudaStream_t stream);
/* Activations for a distribution: normal(0, 1), times 2^-10 for MX_DIST_RANGE (so that rows of
 * large weights still have finite FP16 outputs). */
mx_status mx_bench_fill_activations(float *values, int64_t count, mx_dist dist, uint64_t seed,
                                    cudaStream_t stream);

/* dst[i] = src[i] rounded to nearest-even in dst_dtype (MX_F16 / MX_BF16). */
mx_status mx_bench_narrow(const float *src, int64_t count, mx_dtype dst_dtype, void *dst,
                          cudaStream_t stream);
/* dst[i] = src[i] exactly, src in MX_F32, MX_F16 or MX_BF16; _abs: |src[i]| (the magnitudes of
 * the element-wise error bound, elementwise.h). */
mx_status mx_bench_widen(const void *src, mx_dtype src_dtype, int64_t count, double *dst,
                         cudaStream_t stream);
mx_status mx_bench_widen_abs(const void *src, mx_dtype src_dtype, int64_t count, double *dst,
                             cudaStream_t stream);
/* Fills count elements of dtype with NaN (outputs are poisoned before a kernel runs). */
mx_status mx_bench_poison(void *dst, mx_dtype dtype, int64_t count, cudaStream_t stream);

/* Errors of y (MX_F16/MX_BF16) against a reference r (MX_F16, MX_BF16 or FP64 when r_is_f64):
 * rel = ||y - r||2 / ||r||2 over the elements where r is finite (+Inf when any y there is not
 * finite), max elementwise |y - r| / max(|r|, 1e-3 ||r||inf) over the finite y, and the number
 * of non-finite y where r is finite. */
typedef struct {
    double rel;
    double max_rel;
    int64_t nonfinite;
    int64_t reference_nonfinite; /* elements skipped because r itself is not finite */
} mx_error_figures;

mx_status mx_bench_compare(const void *y, mx_dtype y_dtype, const void *r, mx_dtype r_dtype,
                           int r_is_f64, int64_t count, mx_error_figures *figures,
                           cudaStream_t stream);

/* The element-wise bound (elementwise.h) over y [count] of dtype (an output [count / cols, cols]
 * of a product over k terms) against exact, with magnitude m per element and row_sums s per
 * output row, all FP64 on the device; the worst element, how many exceed, how many were judged.
 * count must be below 2^32. */
mx_status mx_bench_elementwise(const void *y, mx_dtype dtype, const double *exact,
                               const double *magnitude, const double *row_sums, int64_t count,
                               int64_t cols, int64_t k, mx_elementwise_result *result,
                               cudaStream_t stream);

/* Evicts the L2 by reading bytes of buffer (at least 2x the L2; the buffer must have been
 * written once). Reading, not writing: a memset leaves the L2 full of dirty lines whose
 * write-back the next kernel would pay for, which no inference step pays. */
mx_status mx_bench_flush_l2(const void *buffer, size_t bytes, cudaStream_t stream);

/* Keeps one SM busy for about us microseconds (the GPU then starts timed work only after the
 * host has enqueued it). */
mx_status mx_bench_spin(cudaStream_t stream, double us);

/* The SM clock right now in MHz, from clock64() against %globaltimer over a ~50 us spin. */
mx_status mx_bench_sm_clock_mhz(cudaStream_t stream, double *mhz);

#ifdef __cplusplus
}
#endif

#endif
