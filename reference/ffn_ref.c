/* CPU FP64 feed-forward block: the GEMM reference, the activation reference, the GEMM reference,
 * all in double (no rounding between the steps). */
#include "ffn_ref.h"

#include <stdlib.h>

#include "activation_ref.h"
#include "gemm_ref.h"

int mx_ref_ffn_f64(int64_t m, int64_t hidden, int64_t intermediate, mx_activation activation,
                   const double *x, const double *up, const double *up_bias, const double *down,
                   const double *down_bias, const double *residual, double *y) {
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
    mx_ref_gemm_f64(m, up_n, hidden, x, up, NULL, u);
    mx_ref_activation_f64(m, up_n, activation, u, up_bias, NULL, h);
    mx_ref_gemm_f64(m, hidden, intermediate, h, down, down_bias, y);
    if (residual)
        for (int64_t i = 0; i < m * hidden; i++) y[i] += residual[i];
    free(u);
    free(h);
    return 0;
}
