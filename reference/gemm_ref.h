/* CPU FP64 reference GEMM (plain C) for small shapes: the exact answer every GEMM variant and the
 * FP16 reference are judged against. */
#ifndef MX_REFERENCE_GEMM_H
#define MX_REFERENCE_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y[m, n] = x[m, k] . w[n, k]^T (+ bias[n] when bias is not NULL), all in double. */
void mx_ref_gemm_f64(int64_t m, int64_t n, int64_t k, const double *x, const double *w,
                     const double *bias, double *y);

#ifdef __cplusplus
}
#endif

#endif
