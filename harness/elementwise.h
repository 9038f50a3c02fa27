/* The element-wise error gate of docs/design.md §4: every output element y of a product over K
 * terms, accumulated in FP32 and rounded to the output dtype, must satisfy
 *
 *   |y - e| <= c (u |e| + eta + gamma_K m + eta s)
 *
 * e the exact (FP64) result on the exactly dequantized weights, m = sum_k |x_k| |w_k| over the
 * element's terms, s = sum_k |x_k| over its activation row, u the output dtype's unit roundoff
 * (2^-11 FP16, 2^-8 BF16), eta half its smallest subnormal (2^-25, 2^-134): results that round
 * into the subnormals, and weights the kernel holds in the dtype that underflow there (FP16: MXFP4
 * scales reach far below it; BF16's term is negligible), gamma_K = K u32 / (1 - K u32) with
 * u32 = 2^-24 (any order of FP32 sums, split-K included), and c = mx_targets.elementwise_factor
 * (2: tensor cores truncate instead of rounding when they align addends, which doubles the
 * per-addition error). Norm-wise figures average one wrong row away; this bound fails it.
 * Elements whose y is not finite, or whose e is not finite in the dtype (an overflow the dtype
 * cannot hold), are left to the non-finite count. The GPU applies it (bench_gpu.h,
 * mx_bench_elementwise); the formula lives here once, for host and device. */
#ifndef MX_ELEMENTWISE_H
#define MX_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The unit roundoff of an output dtype: 2^-11 (FP16), 2^-8 (BF16). */
double mx_unit_roundoff(mx_dtype dtype);

typedef struct {
    double unit, underflow, gamma, factor, largest; /* largest: the dtype's largest finite */
} mx_elementwise_bound;

/* The bound's constants for outputs of dtype (MX_F16 or MX_BF16) over k terms. */
mx_elementwise_bound mx_elementwise_bound_for(mx_dtype dtype, int64_t k);

/* The right-hand side for one element: exact result, magnitude m, activation row sum s. */
MX_HD static inline double mx_elementwise_limit(const mx_elementwise_bound *bound, double exact,
                                                double magnitude, double row_sum) {
    return bound->factor * (bound->unit * fabs(exact) + bound->underflow +
                            bound->gamma * magnitude + bound->underflow * row_sum);
}

/* Whether an element is judged: a finite y and an exact result the dtype can hold. */
MX_HD static inline int mx_elementwise_judged(const mx_elementwise_bound *bound, double y,
                                              double exact) {
    return isfinite(y) && fabs(exact) <= bound->largest;
}

/* The worst element of an output. */
typedef struct {
    double worst;        /* largest |y - e| / limit; 0 before any element, <= 1 passes */
    int64_t worst_index; /* its element index (row * cols + column); -1 before any element */
    int64_t over;        /* elements over their limit */
    int64_t checked;     /* elements judged */
} mx_elementwise_result;

#ifdef __cplusplus
}
#endif

#endif
