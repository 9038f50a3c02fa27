/* CPU FP64 epilogues: the definitions of activation.h in double precision. */
#include "activation_ref.h"

#include <math.h>

/* A gated unit's two factors: the gate g sigmoid(a g) and the linear part (after gpt-oss's clamps).
 */
static void gated_factors(mx_activation activation, double gate, double linear, double *g,
                          double *l) {
    if (activation == MX_ACT_SWIGLU_GPTOSS) {
        const double limit = MX_SWIGLU_GPTOSS_LIMIT, alpha = MX_SWIGLU_GPTOSS_ALPHA;
        gate = gate < limit ? gate : limit;
        linear = linear < -limit ? -limit : linear > limit ? limit : linear;
        *g = gate / (1.0 + exp(-alpha * gate));
        *l = linear + 1.0;
        return;
    }
    *g = gate / (1.0 + exp(-gate));
    *l = linear;
}

void mx_ref_activation_spread_f64(int64_t m, int64_t n, mx_activation activation, const double *x,
                                  const double *bias, const double *dx, double *dy) {
    const double gelu_slope = 1.13, gate_slope = 1.1;
    const int is_gated = MX_ACTIVATION_GATED(activation);
    const int64_t width = is_gated ? n / 2 : n;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < width; j++) {
            if (!is_gated) {
                double slope = activation == MX_ACT_GELU ? gelu_slope : 1.0;
                dy[i * width + j] = slope * dx[i * n + j];
                continue;
            }
            double g, l;
            gated_factors(activation, x[i * n + 2 * j] + (bias ? bias[2 * j] : 0.0),
                          x[i * n + 2 * j + 1] + (bias ? bias[2 * j + 1] : 0.0), &g, &l);
            double dg = gate_slope * dx[i * n + 2 * j], dl = dx[i * n + 2 * j + 1];
            dy[i * width + j] = dg * (fabs(l) + dl) + fabs(g) * dl;
        }
}

void mx_ref_activation_f64(int64_t m, int64_t n, mx_activation activation, const double *x,
                           const double *bias, const double *residual, double *y) {
    const int is_gated = activation == MX_ACT_SWIGLU || activation == MX_ACT_SWIGLU_GPTOSS;
    const int64_t width = is_gated ? n / 2 : n;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < width; j++) {
            double value;
            if (is_gated) {
                double gate = x[i * n + 2 * j] + (bias ? bias[2 * j] : 0.0);
                double linear = x[i * n + 2 * j + 1] + (bias ? bias[2 * j + 1] : 0.0);
                double g, l;
                gated_factors(activation, gate, linear, &g, &l);
                value = g * l;
            } else {
                value = x[i * n + j] + (bias ? bias[j] : 0.0);
                if (activation == MX_ACT_GELU) value = 0.5 * value * (1.0 + erf(value / sqrt(2.0)));
            }
            y[i * width + j] = value + (residual ? residual[i * width + j] : 0.0);
        }
    }
}
