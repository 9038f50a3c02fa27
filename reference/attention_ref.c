/* CPU FP64 reference of the attention block: plain loops in double, the softmax max-subtracted. */
#include "attention_ref.h"

#include <math.h>
#include <stdlib.h>

#include "fail.h"
#include "gemm_ref.h"

mx_status mx_ref_attention_core_f64(const mx_attention_shape *shape, const double *q,
                                    int64_t q_stride, const double *k, int64_t k_stride,
                                    const double *v, int64_t v_stride, double *out) {
    const int64_t seq_len = shape->seq_len, head_dim = shape->head_dim;
    const int64_t q_heads = shape->q_heads, group = shape->q_heads / shape->kv_heads;
    const double scale = 1.0 / sqrt((double)head_dim);
    double *weights = malloc((size_t)seq_len * sizeof *weights);
    if (!weights) return mx_fail(MX_ERR_OUT_OF_MEMORY, "attention reference: no host memory");
    for (int64_t s = 0; s < shape->sequences; s++) {
        for (int64_t h = 0; h < q_heads; h++) {
            const int64_t kv_head = h / group;
            for (int64_t i = 0; i < seq_len; i++) {
                const double *q_row = q + (s * seq_len + i) * q_stride + h * head_dim;
                double max = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    const double *k_row = k + (s * seq_len + j) * k_stride + kv_head * head_dim;
                    double dot = 0.0;
                    for (int64_t d = 0; d < head_dim; d++) dot += q_row[d] * k_row[d];
                    weights[j] = dot * scale;
                    max = fmax(max, weights[j]);
                }
                for (int64_t j = 0; j <= i; j++) {
                    weights[j] = exp(weights[j] - max);
                    sum += weights[j];
                }
                double *o = out + (s * seq_len + i) * q_heads * head_dim + h * head_dim;
                for (int64_t d = 0; d < head_dim; d++) o[d] = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    const double *v_row = v + (s * seq_len + j) * v_stride + kv_head * head_dim;
                    for (int64_t d = 0; d < head_dim; d++) o[d] += weights[j] / sum * v_row[d];
                }
            }
        }
    }
    free(weights);
    return MX_OK;
}

mx_status mx_ref_attention_core_bound_f64(const mx_attention_shape *shape, const double *q,
                                          const double *dq, int64_t q_stride, const double *k,
                                          const double *dk, int64_t k_stride, const double *v,
                                          const double *dv, int64_t v_stride,
                                          const mx_ref_ffn_rounding *rounding, double *dctx) {
    const int64_t seq_len = shape->seq_len, dim = shape->head_dim;
    const int64_t q_heads = shape->q_heads, group = shape->q_heads / shape->kv_heads;
    const double scale = 1.0 / sqrt((double)dim), u = rounding->unit, eta = rounding->underflow;
    const double c = rounding->factor, keys_gamma = c * rounding->gamma_down;
    double *p = malloc((size_t)seq_len * sizeof *p), *dp = malloc((size_t)seq_len * sizeof *dp);
    if (!p || !dp) {
        free(p);
        free(dp);
        return mx_fail(MX_ERR_OUT_OF_MEMORY, "attention reference: no host memory");
    }
    for (int64_t s = 0; s < shape->sequences; s++)
        for (int64_t h = 0; h < q_heads; h++)
            for (int64_t i = 0; i < seq_len; i++) {
                const int64_t kv = h / group, q_at = (s * seq_len + i) * q_stride + h * dim;
                double max = -INFINITY, sum = 0.0, moved = 0.0;
                for (int64_t j = 0; j <= i; j++) {
                    const int64_t k_at = (s * seq_len + j) * k_stride + kv * dim;
                    double dot = 0.0, size = 0.0, move = 0.0;
                    for (int64_t d = 0; d < dim; d++) {
                        const double a = q[q_at + d], b = k[k_at + d];
                        const double da = dq[q_at + d], db = dk[k_at + d];
                        dot += a * b;
                        size += fabs(a) * fabs(b);
                        move += da * (fabs(b) + db) + fabs(a) * db;
                    }
                    p[j] = dot * scale;
                    move = scale * move +
                           c * (rounding->gamma_up * scale * size + ldexp(fabs(p[j]), -24));
                    moved = fmax(moved, move);
                    max = fmax(max, p[j]);
                }
                for (int64_t j = 0; j <= i; j++) {
                    p[j] = exp(p[j] - max);
                    sum += p[j];
                }
                const double spread = expm1(2.0 * moved) + keys_gamma + MX_REF_FP32_EVALUATION + u;
                for (int64_t j = 0; j <= i; j++) {
                    p[j] /= sum;
                    dp[j] = p[j] * spread + eta;
                }
                double *out = dctx + (s * seq_len + i) * q_heads * dim + h * dim;
                for (int64_t d = 0; d < dim; d++) {
                    double ctx = 0.0, move = 0.0, size = 0.0;
                    for (int64_t j = 0; j <= i; j++) {
                        const int64_t v_at = (s * seq_len + j) * v_stride + kv * dim + d;
                        const double b = fabs(v[v_at]) + dv[v_at];
                        ctx += p[j] * v[v_at];
                        move += dp[j] * b + p[j] * dv[v_at];
                        size += (p[j] + dp[j]) * b;
                    }
                    out[d] = move + keys_gamma * size + u * fabs(ctx) + eta;
                }
            }
    free(p);
    free(dp);
    return MX_OK;
}

void mx_ref_attention_qkv_allowance_f64(const mx_attention_shape *shape, const double *qkv,
                                        const double *qkv_size, const double *x_sums,
                                        const mx_ref_ffn_rounding *projections, double *dqkv) {
    const int64_t tokens = shape->sequences * shape->seq_len;
    const int64_t rows = (shape->q_heads + 2 * shape->kv_heads) * shape->head_dim;
    const double u = projections->unit, eta = projections->underflow, c = projections->factor;
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t r = 0; r < rows; r++) {
            const int64_t i = t * rows + r;
            dqkv[i] = c * (projections->gamma_up * qkv_size[i] + eta + eta * x_sums[t]) +
                      u * fabs(qkv[i]) + eta;
        }
}

void mx_ref_attention_terms_f64(const mx_attention_shape *shape, const double *ctx,
                                const mx_ref_ffn_rounding *projections, double *terms,
                                double *row_sums) {
    const int64_t tokens = shape->sequences * shape->seq_len;
    const int64_t q_width = shape->q_heads * shape->head_dim;
    const double per_gamma = 1.0 / (projections->factor * projections->gamma_down);
    for (int64_t t = 0; t < tokens; t++) {
        row_sums[t] = 0.0;
        for (int64_t d = 0; d < q_width; d++) {
            double *a = terms + t * q_width + d;
            const double size = fabs(ctx[t * q_width + d]);
            row_sums[t] += size + *a;
            *a = size + *a + *a * per_gamma; /* the output projection's weight of term d */
        }
    }
}

mx_status mx_ref_attention_f64(const mx_attention_shape *shape, const double *x,
                               const double *w_qkv, const double *qkv_bias, const double *w_o,
                               const double *o_bias, const double *residual, double *y) {
    const int64_t tokens = shape->sequences * shape->seq_len;
    const int64_t q_width = shape->q_heads * shape->head_dim,
                  kv_width = shape->kv_heads * shape->head_dim, rows = q_width + 2 * kv_width;
    double *qkv = malloc((size_t)(tokens * rows) * sizeof *qkv);
    double *ctx = malloc((size_t)(tokens * q_width) * sizeof *ctx);
    mx_status status = MX_OK;
    if (!qkv || !ctx) {
        status = mx_fail(MX_ERR_OUT_OF_MEMORY, "attention reference: no host memory");
    } else {
        mx_ref_gemm_f64(tokens, rows, shape->hidden, x, w_qkv, qkv_bias, qkv);
        status = mx_ref_attention_core_f64(shape, qkv, rows, qkv + q_width, rows,
                                           qkv + q_width + kv_width, rows, ctx);
    }
    if (status == MX_OK) {
        mx_ref_gemm_f64(tokens, shape->hidden, q_width, ctx, w_o, o_bias, y);
        if (residual)
            for (int64_t i = 0; i < tokens * shape->hidden; i++) y[i] += residual[i];
    }
    free(qkv);
    free(ctx);
    return status;
}
