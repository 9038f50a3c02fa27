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

/* Where a composite reference (ffn_ref.h) runs its products: run(context, ...) writes y[m, n] =
 * x . w^T + bias (bias may be NULL), or with magnitudes set |x| . |w|^T + |bias| (the terms'
 * sizes the element-wise bounds need), in FP64; returns 0, or -1 with nothing promised about y.
 * NULL where a product is taken means the CPU's (mx_ref_gemm_f64 and its magnitudes; k a
 * multiple of 4); the harness passes cuBLAS DGEMM on the GPU for sizes the CPU would take
 * minutes over. */
typedef struct {
    int (*run)(void *context, int64_t m, int64_t n, int64_t k, const double *x, const double *w,
               const double *bias, int magnitudes, double *y);
    void *context;
} mx_ref_product;

/* The product through product (NULL: the CPU's). */
int mx_ref_product_run(const mx_ref_product *product, int64_t m, int64_t n, int64_t k,
                       const double *x, const double *w, const double *bias, int magnitudes,
                       double *y);

#ifdef __cplusplus
}
#endif

#endif
