/* The element-wise error bound's constants (elementwise.h). */
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
