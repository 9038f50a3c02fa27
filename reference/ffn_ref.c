/* CPU FP64 feed-forward block: the GEMM reference, the activation reference, the GEMM reference,
 * all in double (no rounding between the steps). */
#include "ffn_ref.h"

#include <math.h>
#include <stdlib.h>

#include "activation_ref.h"
#include "gemm_ref.h"

int mx_ref_ffn_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                   const double *x, const double *up, const double *up_bias, const double *down,
                   const double *down_bias, const double *residual, const mx_ref_product *product,
                   double *y) {
    const int64_t up_n = activation == MX_ACT_SWIGLU || activation == MX_ACT_SWIGLU_GPTOSS
                             ? 2 * intermediate
                             : intermediate;
    double *u = malloc((size_t)(m * up_n) * sizeof(double));
    double *h = malloc((size_t)(m * intermediate) * sizeof(double));
    if (!u || !h) {
        free(u);
        free(h);
        return -1;
    }
    int ok = mx_ref_product_run(product, m, up_n, hidden, x, up, NULL, 0, u) == 0;
    if (ok) {
        mx_ref_activation_f64(m, up_n, activation, u, up_bias, NULL, h);
        ok = mx_ref_product_run(product, m, hidden, intermediate, h, down, down_bias, 0, y) == 0;
    }
    if (ok && residual)
        for (int64_t i = 0; i < m * hidden; i++) y[i] += residual[i];
    free(u);
    free(h);
    return ok ? 0 : -1;
}

int mx_ref_ffn_bound_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                         const double *x, const double *up, const double *up_bias,
                         const double *down, const mx_ref_ffn_rounding *rounding,
                         const mx_ref_product *product, double *magnitude, double *row_sums) {
    const int64_t up_n = MX_ACTIVATION_GATED(activation) ? 2 * intermediate : intermediate;
    const double u = rounding->unit, eta = rounding->underflow, c = rounding->factor;
    double *z = malloc((size_t)(m * up_n) * sizeof(double));
    double *dz = malloc((size_t)(m * up_n) * sizeof(double));
    double *h = malloc((size_t)(m * intermediate) * sizeof(double));
    double *dh = malloc((size_t)(m * intermediate) * sizeof(double));
    int ok = z && dz && h && dh &&
             mx_ref_product_run(product, m, up_n, hidden, x, up, NULL, 0, z) == 0 &&
             mx_ref_product_run(product, m, up_n, hidden, x, up, up_bias, 1, dz) == 0;
    if (ok) {
        for (int64_t i = 0; i < m; i++) {
            double x_sum = 0.0;
            for (int64_t l = 0; l < hidden; l++) x_sum += fabs(x[i * hidden + l]);
            for (int64_t j = 0; j < up_n; j++) {
                /* stored with or without its bias: |z| + |b| bounds both */
                double value = fabs(z[i * up_n + j]) + (up_bias ? fabs(up_bias[j]) : 0.0);
                dz[i * up_n + j] = c * (rounding->gamma_up * dz[i * up_n + j] + eta + eta * x_sum) +
                                   u * value + eta;
            }
        }
        mx_ref_activation_f64(m, up_n, activation, z, up_bias, NULL, h);
        mx_ref_activation_spread_f64(m, up_n, activation, z, up_bias, dz, dh);
        const double evaluation = u + MX_REF_FP32_EVALUATION,
                     per_gamma = 1.0 / (c * rounding->gamma_down);
        for (int64_t i = 0; i < m; i++) {
            double sum = 0.0;
            for (int64_t j = 0; j < intermediate; j++) {
                double *a = h + i * intermediate + j, *d = dh + i * intermediate + j;
                *d += evaluation * fabs(*a) + eta;
                sum += fabs(*a) + *d;
                /* |h| + dh bounds the kernel's |h|; dh / (c gamma) carries dh itself */
                *a = fabs(*a) + *d + *d * per_gamma;
            }
            row_sums[i] = sum;
        }
        ok = mx_ref_product_run(product, m, hidden, intermediate, h, down, NULL, 1, magnitude) == 0;
    }
    free(z);
    free(dz);
    free(h);
    free(dh);
    return ok ? 0 : -1;
}
