/* CPU FP64 reference GEMM. */
#include "gemm_ref.h"

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
