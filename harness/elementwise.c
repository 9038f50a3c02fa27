/* The element-wise error bound (elementwise.h). */
#include "elementwise.h"

#include <math.h>
#include <stdbool.h>

#include "targets.h"

double mx_unit_roundoff(mx_dtype dtype) {
    return ldexp(1.0, dtype == MX_BF16 ? -8 : -11);
}

mx_elementwise_bound mx_elementwise_bound_for(mx_dtype dtype, int64_t k) {
    const double u32 = ldexp(1.0, -24), terms = (double)k * u32;
    bool bf16 = dtype == MX_BF16;
    return (mx_elementwise_bound){
        .unit = mx_unit_roundoff(dtype),
        .underflow = ldexp(1.0, bf16 ? -134 : -25),
        .gamma = terms < 1.0 ? terms / (1.0 - terms) : INFINITY,
        .factor = mx_targets.elementwise_factor,
        .largest = bf16 ? ldexp(255.0, 120) : 65504.0,
    };
}

double mx_elementwise_limit(const mx_elementwise_bound *bound, double exact, double magnitude,
                            double row_sum) {
    return bound->factor * (bound->unit * fabs(exact) + bound->underflow +
                            bound->gamma * magnitude + bound->underflow * row_sum);
}

void mx_elementwise_clear(mx_elementwise_result *result) {
    *result = (mx_elementwise_result){.worst = 0.0, .worst_index = -1};
}

void mx_elementwise_add(mx_elementwise_result *result, const mx_elementwise_bound *bound,
                        const double *y, const double *exact, const double *magnitude,
                        const double *row_sums, int64_t count, int64_t offset, int64_t cols) {
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(y[i]) || !(fabs(exact[i]) <= bound->largest)) continue;
        int64_t index = offset + i;
        double ratio = fabs(y[i] - exact[i]) /
                       mx_elementwise_limit(bound, exact[i], magnitude[i], row_sums[index / cols]);
        result->checked++;
        result->over += ratio > 1.0;
        if (ratio > result->worst || result->worst_index < 0) {
            result->worst = ratio;
            result->worst_index = index;
        }
    }
}
