/* CPU FP64 MoE layer (moe_ref.h): plain loops, one token and slot at a time. */
#include "moe_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activation_ref.h"
#include "gemm_ref.h"

/* The routing order of moe.h: larger first, equal values by the lower index, NaN last. */
static int ranks_before(double a, int64_t a_index, double b, int64_t b_index) {
    if (isnan(a)) a = -INFINITY;
    if (isnan(b)) b = -INFINITY;
    return a > b || (a == b && a_index < b_index);
}

void mx_ref_moe_topk_f64(int64_t tokens, int64_t experts, int64_t topk, const double *logits,
                         int32_t *expert_ids, double *expert_weights) {
    for (int64_t t = 0; t < tokens; t++) {
        const double *row = logits + t * experts;
        int32_t *ids = expert_ids + t * topk;
        /* Selection by k scans: each scan takes the best expert not taken yet. */
        for (int64_t s = 0; s < topk; s++) {
            int64_t best = -1;
            for (int64_t e = 0; e < experts; e++) {
                int taken = 0;
                for (int64_t p = 0; p < s; p++) taken |= ids[p] == e;
                if (!taken && (best < 0 || ranks_before(row[e], e, row[best], best))) best = e;
            }
            ids[s] = (int32_t)best;
        }
        double largest = isnan(row[ids[0]]) ? -INFINITY : row[ids[0]], sum = 0.0;
        for (int64_t s = 0; s < topk; s++) sum += exp(row[ids[s]] - largest);
        for (int64_t s = 0; s < topk; s++)
            expert_weights[t * topk + s] = exp(row[ids[s]] - largest) / sum;
    }
}

void mx_ref_moe_route_f64(int64_t tokens, int64_t hidden, int64_t experts, int64_t topk,
                          const double *x, const double *router_w, const double *router_bias,
                          double *logits, int32_t *expert_ids, double *expert_weights) {
    mx_ref_gemm_f64(tokens, experts, hidden, x, router_w, router_bias, logits);
    mx_ref_moe_topk_f64(tokens, experts, topk, logits, expert_ids, expert_weights);
}

/* out[r] = w[r, :] . v (+ bias[r]) for rows r < rows of an FP32 matrix, in FP64. */
static void matrix_vector(int64_t rows, int64_t cols, const float *w, const double *v,
                          const double *bias, double *out) {
    for (int64_t r = 0; r < rows; r++) {
        const float *w_row = w + r * cols;
        double sum = 0.0;
        for (int64_t c = 0; c < cols; c++) sum += (double)w_row[c] * v[c];
        out[r] = sum + (bias ? bias[r] : 0.0);
    }
}

static void store_all(mx_ref_store_fn store, double *values, int64_t count) {
    if (!store) return;
    for (int64_t i = 0; i < count; i++) values[i] = store(values[i]);
}

void mx_ref_moe_experts_f64(int64_t tokens, int64_t hidden, int64_t intermediate, int64_t topk,
                            const double *x, const float *w1, const double *b1, const float *w2,
                            const double *b2, const int32_t *expert_ids,
                            const double *expert_weights, const double *residual,
                            mx_ref_store_fn store, double *y) {
    const int64_t gate_rows = 2 * intermediate;
    double *product = malloc((size_t)gate_rows * sizeof *product);
    double *h = malloc((size_t)intermediate * sizeof *h);
    double *o = malloc((size_t)hidden * sizeof *o);
    if (!product || !h || !o) {
        /* No way to report from a void reference: leave NaN so any comparison fails loudly. */
        for (int64_t i = 0; i < tokens * hidden; i++) y[i] = NAN;
        free(product);
        free(h);
        free(o);
        return;
    }
    for (int64_t t = 0; t < tokens; t++) {
        double *y_row = y + t * hidden;
        memset(y_row, 0, (size_t)hidden * sizeof *y_row);
        for (int64_t s = 0; s < topk; s++) {
            const int64_t e = expert_ids[t * topk + s];
            matrix_vector(gate_rows, hidden, w1 + e * gate_rows * hidden, x + t * hidden, NULL,
                          product);
            store_all(store, product, gate_rows);
            mx_ref_activation_f64(1, gate_rows, MX_ACT_SWIGLU_GPTOSS, product,
                                  b1 ? b1 + e * gate_rows : NULL, NULL, h);
            store_all(store, h, intermediate);
            matrix_vector(hidden, intermediate, w2 + e * hidden * intermediate, h,
                          b2 ? b2 + e * hidden : NULL, o);
            store_all(store, o, hidden);
            const double weight = expert_weights[t * topk + s];
            for (int64_t c = 0; c < hidden; c++) y_row[c] += weight * o[c];
        }
        if (residual)
            for (int64_t c = 0; c < hidden; c++) y_row[c] += residual[t * hidden + c];
        store_all(store, y_row, hidden);
    }
    free(product);
    free(h);
    free(o);
}

int mx_ref_moe_bound_f64(int64_t tokens, int64_t hidden, int64_t intermediate, int64_t topk,
                         int64_t experts, const double *x, const float *w1, const double *b1,
                         const float *w2, const double *b2, const int32_t *expert_ids,
                         const double *expert_weights, const mx_ref_ffn_rounding *rounding,
                         const mx_ref_product *product, double *y, double *magnitude,
                         double *row_sums) {
    const int64_t up_rows = 2 * intermediate, pairs = tokens * topk;
    const size_t up_count = (size_t)(up_rows * hidden),
                 down_count = (size_t)(hidden * intermediate);
    double *up = malloc(up_count * sizeof *up), *down = malloc(down_count * sizeof *down);
    double *xe = malloc((size_t)(pairs * hidden) * sizeof *xe);
    double *o = malloc((size_t)(pairs * hidden) * sizeof *o);
    double *m = malloc((size_t)(pairs * hidden) * sizeof *m);
    double *sums = malloc((size_t)pairs * sizeof *sums);
    int64_t *group = malloc((size_t)pairs * sizeof *group);
    int ok = up && down && xe && o && m && sums && group;
    const double per_gamma = 1.0 / (rounding->factor * rounding->gamma_down);
    /* One expert at a time: its pairs' token rows through its block, in FP64 weights. */
    for (int64_t e = 0; ok && e < experts; e++) {
        int64_t count = 0;
        for (int64_t p = 0; p < pairs; p++)
            if (expert_ids[p] == e) {
                memcpy(xe + count * hidden, x + p / topk * hidden, (size_t)hidden * sizeof *xe);
                group[count++] = p;
            }
        if (count == 0) continue;
        for (size_t i = 0; i < up_count; i++) up[i] = w1[(size_t)e * up_count + i];
        for (size_t i = 0; i < down_count; i++) down[i] = w2[(size_t)e * down_count + i];
        const double *b1_e = b1 ? b1 + e * up_rows : NULL, *b2_e = b2 ? b2 + e * hidden : NULL;
        ok = mx_ref_ffn_f64(count, hidden, intermediate, MX_ACT_SWIGLU_GPTOSS, xe, up, b1_e, down,
                            b2_e, NULL, product, o) == 0 &&
             mx_ref_ffn_bound_f64(count, hidden, intermediate, MX_ACT_SWIGLU_GPTOSS, xe, up, b1_e,
                                  down, rounding, product, m, sums) == 0;
        for (int64_t q = 0; ok && q < count; q++) {
            const int64_t t = group[q] / topk;
            const double weight = expert_weights[group[q]];
            for (int64_t c = 0; c < hidden; c++) {
                const double stored =
                    rounding->unit * fabs(o[q * hidden + c]) + rounding->underflow;
                magnitude[t * hidden + c] += weight * (m[q * hidden + c] + stored * per_gamma);
                if (y) y[t * hidden + c] += weight * o[q * hidden + c];
            }
            row_sums[t] += weight * sums[q];
        }
    }
    void *buffers[] = {up, down, xe, o, m, sums, group};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) free(buffers[i]);
    return ok ? 0 : -1;
}
