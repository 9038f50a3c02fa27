/* CPU FP64 reference GEMM. */
#include "gemm_ref.h"

#include <math.h>

void mx_ref_gemm_f64(int64_t m, int64_t n, int64_t k, const double *x, const double *w,
                     const double *bias, double *y) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            const double *x_row = x + i * k, *w_row = w + j * k;
            /* Four independent sums: the loop vectorizes and the order stays fixed. */
            double sums[4] = {0.0, 0.0, 0.0, 0.0};
            for (int64_t l = 0; l < k; l += 4)
                for (int u = 0; u < 4; u++) sums[u] += x_row[l + u] * w_row[l + u];
            y[i * n + j] = (sums[0] + sums[1]) + (sums[2] + sums[3]) + (bias ? bias[j] : 0.0);
        }
    }
}

/* y = |x| . |w|^T + |bias|, the magnitudes of a product's terms (k a multiple of 4, as
 * mx_ref_gemm_f64's). */
static void abs_gemm(int64_t m, int64_t n, int64_t k, const double *x, const double *w,
                     const double *bias, double *y) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const double *x_row = x + i * k, *w_row = w + j * k;
            double sums[4] = {0.0, 0.0, 0.0, 0.0};
            for (int64_t l = 0; l < k; l += 4)
                for (int v = 0; v < 4; v++) sums[v] += fabs(x_row[l + v]) * fabs(w_row[l + v]);
            y[i * n + j] = (sums[0] + sums[1]) + (sums[2] + sums[3]) + (bias ? fabs(bias[j]) : 0.0);
        }
}

int mx_ref_product_run(const mx_ref_product *product, int64_t m, int64_t n, int64_t k,
                       const double *x, const double *w, const double *bias, int magnitudes,
                       double *y) {
    if (product) return product->run(product->context, m, n, k, x, w, bias, magnitudes, y);
    (magnitudes ? abs_gemm : mx_ref_gemm_f64)(m, n, k, x, w, bias, y);
    return 0;
}
