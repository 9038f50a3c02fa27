/* The op and variant tables (CPU): an op's bytes and FLOPs against hand-computed values, every op
 * complete, the GEMM variants' names and traits taken from gemm.h's list once; and the FFN op's
 * element-wise bound against the block's rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation_ref.h"
#include "attention_ref.h"
#include "dense_gemm.h"
#include "elementwise.h"
#include "ffn_ref.h"
#include "gemm_ref.h"
#include "moe_ref.h"
#include "ops.h"
#include "common.h"

static mx_sweep_row gemm_row(int64_t m, int64_t n, int64_t k, int64_t batch) {
    mx_sweep_row row = {.m = m, .n = n, .k = k, .batch = batch};
    strcpy(row.op, "gemm");
    strcpy(row.dtype, "f16");
    return row;
}

Test(cpu_ops, gemm_bytes_and_flops_match_hand_computed_values) {
    const mx_bench_op *gemm = mx_bench_find_op("gemm");
    cr_assert_not_null(gemm);
    /* M=1, 4096x14336: weights 4096*14336*(1/2 + 1/32) = 31195136 bytes (117440512 in FP16),
     * X 14336*2 + Y 4096*2 = 36864 bytes, 2*4096*14336 = 117440512 FLOPs. */
    mx_sweep_row decode = gemm_row(1, 4096, 14336, 1);
    cr_expect_float_eq(gemm->bytes(&decode, false), 31195136.0 + 36864.0, 0.5);
    cr_expect_float_eq(gemm->bytes(&decode, true), 117440512.0 + 36864.0, 0.5);
    cr_expect_float_eq(gemm->flops(&decode), 117440512.0, 0.5);
    /* batch 3, M=64, 2880x2880: weights 3*2880*2880*0.53125 = 13219200, activations
     * 3*64*(2880+2880)*2 = 2211840, FLOPs 2*3*64*2880*2880 = 3185049600. */
    mx_sweep_row batched = gemm_row(64, 2880, 2880, 3);
    cr_expect_float_eq(gemm->bytes(&batched, false), 13219200.0 + 2211840.0, 0.5);
    cr_expect_float_eq(gemm->flops(&batched), 3185049600.0, 0.5);
}

Test(cpu_ops, every_op_in_the_table_is_complete) {
    int count = 0;
    const mx_bench_op *const *ops = mx_bench_ops(&count);
    cr_assert_gt(count, 0);
    for (int i = 0; i < count; i++) {
        const mx_bench_op *op = ops[i];
        cr_expect(op->name && op->variants && op->variants[0], "op %d has no name or variants", i);
        cr_expect(op->bytes && op->flops && op->setup && op->teardown && op->prepare && op->run &&
                      op->check,
                  "op %s misses an entry point", op->name);
        cr_expect_eq(mx_bench_find_op(op->name), op);
        for (int v = 0; op->variants[v]; v++) {
            cr_expect_str_neq(op->variants[v], MX_BENCH_FP16, "fp16 is the automatic reference");
            cr_expect(mx_variant_known(op->variants[v]),
                      "%s's variant %s has no traits in "
                      "harness/variants.c",
                      op->name, op->variants[v]);
        }
        for (int j = 0; j < i; j++) cr_expect_str_neq(ops[j]->name, op->name);
    }
    cr_expect_null(mx_bench_find_op("conv2d"));
}

/* The GEMM variants' names live in gemm.h's list alone: the gemm, moe and lm_head ops list theirs
 * from it, and the blocks' refusal of persistent lists the same names. */
Test(cpu_ops, gemm_variant_names_come_from_the_library_once) {
    const mx_bench_op *gemm = mx_bench_find_op("gemm"), *moe = mx_bench_find_op("moe");
    cr_assert(gemm && moe);
    int v = 0;
    for (; gemm->variants[v]; v++) {
        mx_gemm_variant parsed;
        cr_expect_eq(mx_gemm_variant_from_name(gemm->variants[v], &parsed), MX_OK, "%s",
                     gemm->variants[v]);
        cr_expect_str_eq(mx_gemm_variant_name(parsed), gemm->variants[v]);
        bool in_blocks = mx_gemm_check_block_variant(parsed, "a block", "a reason") == MX_OK;
        cr_expect_eq(in_blocks, parsed != MX_GEMM_PERSISTENT, "%s", gemm->variants[v]);
    }
    cr_expect_eq(v, MX_GEMM_VARIANT_COUNT);
    int b = 0;
    for (; moe->variants[b]; b++)
        cr_expect_eq(mx_gemm_check_block_variant(b, "a block", "a reason"), MX_OK);
    cr_expect_eq(b, MX_GEMM_VARIANT_COUNT - 1, "every variant but persistent");
    cr_expect_eq(mx_gemm_check_block_variant(MX_GEMM_PERSISTENT, "the X block", "its reason"),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_str_eq(mx_last_error(), "variant persistent: not supported by the X block (its "
                                      "reason); expected auto, fused, skinny or dequant_cublas");
    cr_expect_eq(mx_gemm_check_block_variant((mx_gemm_variant)42, "the X block", "its reason"),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "variant = 42"), "%s", mx_last_error());
    mx_gemm_variant parsed;
    cr_expect_eq(mx_gemm_variant_from_name("turbo", &parsed), MX_ERR_INVALID_ARGUMENT);
    cr_expect_str_eq(mx_last_error(), "unknown GEMM variant 'turbo': expected auto, fused, skinny, "
                                      "dequant_cublas or persistent");
}

/* The harness's traits of a GEMM variant come from gemm.h's list: the table holds each exactly
 * once, right after the reference and in the list's order, an FP16 copy and cuBLAS alone exactly
 * for the kept one (persistent); every variant of the table has a plot style no other has, and a
 * name the table lacks is grey. */
Test(cpu_ops, variant_traits_of_gemm_variants_come_from_the_library_list) {
    int count;
    const mx_variant_traits *table = mx_variants(&count);
    cr_assert_gt(count, MX_GEMM_VARIANT_COUNT);
    cr_expect_str_eq(table[0].name, MX_BENCH_FP16);
    cr_expect(table[0].reference && table[0].cublas_only && !table[0].fp16_copy);
    for (int v = 0; v < MX_GEMM_VARIANT_COUNT; v++) {
        const mx_variant_traits *t = &table[1 + v];
        cr_expect_str_eq(t->name, mx_gemm_variant_name((mx_gemm_variant)v));
        const bool kept = v == MX_GEMM_PERSISTENT;
        cr_expect(!t->reference && t->fp16_copy == kept && t->cublas_only == kept, "%s", t->name);
        cr_expect(t->summary && strlen(t->summary) > 10, "%s has a summary", t->name);
        cr_expect_eq(mx_variant_traits_of(t->name), t);
    }
    for (int i = 0; i < count; i++) {
        const char *color;
        int point;
        mx_variant_style(table[i].name, &color, &point);
        cr_expect(color[0] == '#' && strlen(color) == 7 && point > 0, "%s", table[i].name);
        cr_expect_str_neq(color, "#999999", "%s: grey is for unknown names", table[i].name);
        for (int j = 0; j < i; j++) {
            const char *other;
            int other_point;
            mx_variant_style(table[j].name, &other, &other_point);
            cr_expect_str_neq(color, other, "%s and %s", table[i].name, table[j].name);
            cr_expect_str_neq(table[i].name, table[j].name);
        }
    }
    const char *color;
    int point;
    mx_variant_style("turbo", &color, &point);
    cr_expect_str_eq(color, "#999999");
    cr_expect(!mx_variant_known("turbo") && !mx_variant_traits_of("turbo")->fp16_copy);
}

// ---- the FFN block's element-wise bound

/* The FFN block the way its kernels compute it, for mx_ref_ffn_bound_f64: FP32 sums (the up
 * product backwards, the down product in two split-K halves), the up product stored in the dtype
 * (the separate activation), the activation in FP32, h and y rounded to the dtype. */
static float ffn_act_f32(mx_activation act, float gate, float linear) {
    if (act == MX_ACT_GELU) return 0.5f * gate * (1.0f + erff(gate * 0.70710678f));
    if (act == MX_ACT_SWIGLU) return gate / (1.0f + expf(-gate)) * linear;
    gate = fminf(gate, MX_SWIGLU_GPTOSS_LIMIT);
    linear = fminf(fmaxf(linear, -MX_SWIGLU_GPTOSS_LIMIT), MX_SWIGLU_GPTOSS_LIMIT);
    return gate / (1.0f + expf(-MX_SWIGLU_GPTOSS_ALPHA * gate)) * (linear + 1.0f);
}

static double ffn_round(double value, int bf16) {
    return mx_test_decode(mx_test_encode(value, bf16), bf16);
}

static void ffn_emulate(int64_t m, int64_t hidden, int64_t n, mx_activation act, int bf16,
                        const double *x, const double *up, const double *up_bias,
                        const double *down, const double *down_bias, const double *residual,
                        double *y) {
    const int gated = MX_ACTIVATION_GATED(act);
    const int64_t up_n = gated ? 2 * n : n;
    static double z[2 * 2880], h[2880];
    cr_assert(up_n <= 2 * 2880);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < up_n; j++) {
            float sum = 0.0f;
            for (int64_t l = hidden - 1; l >= 0; l--)
                sum += (float)x[i * hidden + l] * (float)up[j * hidden + l];
            z[j] = ffn_round(sum + (float)up_bias[j], bf16);
        }
        for (int64_t j = 0; j < n; j++)
            h[j] = ffn_round(gated ? ffn_act_f32(act, (float)z[2 * j], (float)z[2 * j + 1])
                                   : ffn_act_f32(act, (float)z[j], 0.0f),
                             bf16);
        for (int64_t c = 0; c < hidden; c++) {
            float halves[2] = {0.0f, 0.0f};
            for (int64_t j = 0; j < n; j++)
                halves[2 * j / n] += (float)h[j] * (float)down[c * n + j];
            y[i * hidden + c] = ffn_round((halves[0] + halves[1]) + (float)down_bias[c] +
                                              (residual ? (float)residual[i * hidden + c] : 0.0f),
                                          bf16);
        }
    }
}

/* Weights as MXFP4 holds them (E2M1 times 2^-6), activations and biases in the dtype. */
static void ffn_draw(mx_rng *rng, int bf16, double *values, int64_t count, int weights) {
    static const double e2m1[] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
    for (int64_t i = 0; i < count; i++)
        values[i] = weights ? e2m1[mx_rng_next(rng) % 8] / 64.0 * (mx_rng_next(rng) % 2 ? 1 : -1)
                            : ffn_round(mx_rng_gaussian(rng), bf16);
}

/* The rounding of the block bounds for dtype over `hidden` (up) and `n` (down) terms, and the
 * down product's element-wise bound (*last) that judges their output. */
static mx_ref_ffn_rounding block_rounding(int bf16, int64_t hidden, int64_t n,
                                          mx_elementwise_bound *last) {
    const mx_dtype dtype = bf16 ? MX_BF16 : MX_F16;
    const mx_elementwise_bound first = mx_elementwise_bound_for(dtype, hidden);
    *last = mx_elementwise_bound_for(dtype, n);
    return (mx_ref_ffn_rounding){first.unit, first.underflow, first.factor, first.gamma,
                                 last->gamma};
}

/* An emulated output y [rows, cols] against its exact result and bound: every element within
 * it, and each row whose part beside the residual (NULL: none) is `factor` times too large
 * scores above it. */
static void expect_bound_judges(const char *what, const mx_elementwise_bound *last, const double *y,
                                const double *residual, const double *exact,
                                const double *magnitude, const double *row_sums, int rows, int cols,
                                double factor) {
    mx_elementwise_result clean;
    mx_test_elementwise_clear(&clean);
    mx_test_elementwise_add(&clean, last, y, exact, magnitude, row_sums, rows * cols, 0, cols);
    cr_expect_eq(clean.checked, rows * cols, "%s", what);
    cr_expect_leq(clean.worst, 1.0, "%s: its own rounding scores %g", what, clean.worst);
    double wrong[4096];
    cr_assert(cols <= 4096);
    for (int row = 0; row < rows; row++) {
        for (int c = 0; c < cols; c++) {
            const double value = y[row * cols + c], base = residual ? residual[row * cols + c] : 0;
            wrong[c] = value + (factor - 1.0) * (value - base);
        }
        mx_elementwise_result one;
        mx_test_elementwise_clear(&one);
        mx_test_elementwise_add(&one, last, wrong, exact + row * cols, magnitude + row * cols,
                                row_sums, cols, row * cols, cols);
        cr_expect_gt(one.worst, 1.0, "%s row %d %g x: scores %g", what, row, factor, one.worst);
    }
}

/* gpt-oss's intermediate size (2880) and each activation and dtype: a fresh block's every output
 * element is within the bound (the block's own rounding scores about 0.02-0.03 of it); each row
 * whose block part (y minus the residual) is made 10 % wrong scores above it in FP16 (about 4x).
 * The bound adds each step's worst case over 2880 terms, so in BF16 (8 bits) a row is caught from
 * about 16 % wrong (10 % scores 0.6-0.75): asserted at 25 %. */
Test(cpu_ops, ffn_bound_holds_for_the_blocks_rounding_and_catches_a_wrong_row) {
    enum { M = 3, HIDDEN = 256, N = 2880 };
    static double x[M * HIDDEN], up[2 * N * HIDDEN], up_bias[2 * N], down[HIDDEN * N],
        down_bias[HIDDEN], y[M * HIDDEN], exact[M * HIDDEN], magnitude[M * HIDDEN], row_sums[M];
    const mx_activation acts[] = {MX_ACT_GELU, MX_ACT_SWIGLU, MX_ACT_SWIGLU_GPTOSS};
    mx_rng rng = mx_rng_fresh();
    for (int bf16 = 0; bf16 < 2; bf16++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            const mx_activation act = acts[a];
            const int64_t up_n = MX_ACTIVATION_GATED(act) ? 2 * N : N;
            ffn_draw(&rng, bf16, x, M * HIDDEN, 0);
            ffn_draw(&rng, bf16, up, up_n * HIDDEN, 1);
            ffn_draw(&rng, bf16, up_bias, up_n, 0);
            ffn_draw(&rng, bf16, down, HIDDEN * N, 1);
            ffn_draw(&rng, bf16, down_bias, HIDDEN, 0);
            ffn_emulate(M, HIDDEN, N, act, bf16, x, up, up_bias, down, down_bias, x, y);
            cr_assert_eq(
                mx_ref_ffn_f64(M, HIDDEN, N, act, x, up, up_bias, down, down_bias, x, NULL, exact),
                0);
            mx_elementwise_bound last;
            const mx_ref_ffn_rounding rounding = block_rounding(bf16, HIDDEN, N, &last);
            cr_assert_eq(mx_ref_ffn_bound_f64(M, HIDDEN, N, act, x, up, up_bias, down, &rounding,
                                              NULL, magnitude, row_sums),
                         0);
            char what[64];
            snprintf(what, sizeof what, "ffn %s %s", mx_activation_name(act),
                     bf16 ? "bf16" : "f16");
            expect_bound_judges(what, &last, y, x, exact, magnitude, row_sums, M, HIDDEN,
                                bf16 ? 1.25 : 1.1);
        }
}

/* A product hook (gemm_ref.h) that records its calls and hands them to the CPU's, failing the
 * call numbered fail_at (from 1; 0 never). */
typedef struct {
    int calls, fail_at;
    int64_t shapes[8][4]; /* m, n, k, magnitudes of the first eight calls */
} product_log;

static int logged_product(void *context, int64_t m, int64_t n, int64_t k, const double *x,
                          const double *w, const double *bias, int magnitudes, double *y) {
    product_log *log = context;
    if (log->calls < 8) {
        const int64_t shape[4] = {m, n, k, magnitudes};
        memcpy(log->shapes[log->calls], shape, sizeof shape);
    }
    log->calls++;
    if (log->calls == log->fail_at) return -1;
    return mx_ref_product_run(NULL, m, n, k, x, w, bias, magnitudes, y);
}

/* The FFN references run every product through the hook the harness gives them (cuBLAS DGEMM on
 * the GPU for large rows): the same bits as the CPU's products, each product asked for with its
 * shape (values, or magnitudes for the bound), and a failing product fails the reference. */
Test(cpu_ops, ffn_references_run_their_products_through_the_hook) {
    enum { M = 2, HIDDEN = 32, N = 64 };
    static double x[M * HIDDEN], up[2 * N * HIDDEN], up_bias[2 * N], down[HIDDEN * N],
        y[2][M * HIDDEN], magnitude[2][M * HIDDEN], row_sums[2][M];
    mx_rng rng = mx_rng_fresh();
    ffn_draw(&rng, 0, x, M * HIDDEN, 0);
    ffn_draw(&rng, 0, up, 2 * N * HIDDEN, 1);
    ffn_draw(&rng, 0, up_bias, 2 * N, 0);
    ffn_draw(&rng, 0, down, HIDDEN * N, 1);
    mx_elementwise_bound last;
    const mx_ref_ffn_rounding rounding = block_rounding(0, HIDDEN, N, &last);
    product_log log = {0};
    const mx_ref_product hook = {logged_product, &log};
    for (int h = 0; h < 2; h++) {
        cr_assert_eq(mx_ref_ffn_f64(M, HIDDEN, N, MX_ACT_SWIGLU, x, up, up_bias, down, NULL, x,
                                    h ? &hook : NULL, y[h]),
                     0);
        cr_assert_eq(mx_ref_ffn_bound_f64(M, HIDDEN, N, MX_ACT_SWIGLU, x, up, up_bias, down,
                                          &rounding, h ? &hook : NULL, magnitude[h], row_sums[h]),
                     0);
    }
    cr_expect_eq(memcmp(y[0], y[1], sizeof y[0]), 0, "the block through the hook");
    cr_expect_eq(memcmp(magnitude[0], magnitude[1], sizeof magnitude[0]), 0, "the magnitudes");
    cr_expect_eq(memcmp(row_sums[0], row_sums[1], sizeof row_sums[0]), 0, "the row sums");
    /* The block: up, down; the bound: up's values and magnitudes, down's magnitudes. */
    const int64_t expected[5][4] = {{M, 2 * N, HIDDEN, 0},
                                    {M, HIDDEN, N, 0},
                                    {M, 2 * N, HIDDEN, 0},
                                    {M, 2 * N, HIDDEN, 1},
                                    {M, HIDDEN, N, 1}};
    cr_expect_eq(log.calls, 5);
    cr_expect_eq(memcmp(log.shapes, expected, sizeof expected), 0, "the products asked for");
    for (int fail_at = 1; fail_at <= 3; fail_at++) { /* each product of each reference fails it */
        log = (product_log){.fail_at = fail_at};
        if (fail_at <= 2)
            cr_expect_eq(mx_ref_ffn_f64(M, HIDDEN, N, MX_ACT_SWIGLU, x, up, up_bias, down, NULL, x,
                                        &hook, y[1]),
                         -1, "the block's product %d failed", fail_at);
        log = (product_log){.fail_at = fail_at};
        cr_expect_eq(mx_ref_ffn_bound_f64(M, HIDDEN, N, MX_ACT_SWIGLU, x, up, up_bias, down,
                                          &rounding, &hook, magnitude[1], row_sums[1]),
                     -1, "the bound's product %d failed", fail_at);
    }
}

/* The activations' spread (mx_ref_activation_spread_f64) bounds every move of the outputs found
 * by perturbing fresh inputs within it, each activation, over the range where their slopes peak
 * (|z| <= 8, past gpt-oss's clamp at 7); and it is not loose: some perturbation moves an output by
 * more than half of it. */
Test(cpu_ops, activation_spread_bounds_every_perturbation) {
    const mx_activation acts[] = {MX_ACT_NONE, MX_ACT_GELU, MX_ACT_SWIGLU, MX_ACT_SWIGLU_GPTOSS};
    mx_rng rng = mx_rng_fresh();
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        const mx_activation act = acts[a];
        const int64_t width = mx_activation_out_width(act, 2);
        double worst = 0.0;
        for (int trial = 0; trial < 4000; trial++) {
            double z[2], dz[2], moved[2], out[2], out_moved[2], spread[2];
            for (int i = 0; i < 2; i++) {
                z[i] = 16.0 * mx_rng_uniform(&rng) - 8.0;
                dz[i] = ldexp(mx_rng_uniform(&rng), -(int)(mx_rng_next(&rng) % 12));
                moved[i] = z[i] + dz[i] * (2.0 * mx_rng_uniform(&rng) - 1.0);
            }
            mx_ref_activation_f64(1, 2, act, z, NULL, NULL, out);
            mx_ref_activation_f64(1, 2, act, moved, NULL, NULL, out_moved);
            mx_ref_activation_spread_f64(1, 2, act, z, NULL, dz, spread);
            for (int64_t j = 0; j < width; j++) {
                double move = fabs(out_moved[j] - out[j]);
                cr_assert_leq(move, spread[j], "%s at (%g, %g) +- (%g, %g)",
                              mx_activation_name(act), z[0], z[1], dz[0], dz[1]);
                if (spread[j] > 0.0 && move / spread[j] > worst) worst = move / spread[j];
            }
        }
        cr_expect_gt(worst, 0.5, "%s: the spread is %g x the largest move found",
                     mx_activation_name(act), 1.0 / worst);
    }
}

/* The MoE layer's bound (mx_ref_moe_bound_f64): 4 tokens over 3 gpt-oss experts (2880
 * intermediate values), top-2 with fresh routing weights, each slot's block as the kernels round
 * it (its o stored in the dtype), combined in FP32: the bound's y is the layer's FP64 value (in
 * one call, and with the experts in two groups), every element within the bound, and each token's
 * row
 * 10 % wrong caught in FP16 (2.5-4x over the bound); BF16 from about 20 % (25 % scores
 * 1.2-1.4x): asserted at 30 %. */
Test(cpu_ops, moe_bound_holds_for_the_layers_rounding_and_catches_a_wrong_row) {
    enum { T = 4, E = 3, K = 2, HIDDEN = 256, N = 2880 };
    const int64_t up_count = 2 * N * HIDDEN, down_count = HIDDEN * N;
    double *up = malloc(E * up_count * sizeof *up), *down = malloc(E * down_count * sizeof *down);
    float *up32 = malloc(E * up_count * sizeof *up32),
          *down32 = malloc(E * down_count * sizeof *down32);
    cr_assert(up && down && up32 && down32);
    static double x[T * HIDDEN], b1[E * 2 * N], b2[E * HIDDEN], o[HIDDEN], y[T * HIDDEN],
        exact[T * HIDDEN], magnitude[T * HIDDEN], row_sums[T], weights[T * K];
    int32_t ids[T * K];
    mx_rng rng = mx_rng_fresh();
    for (int bf16 = 0; bf16 < 2; bf16++) {
        ffn_draw(&rng, bf16, x, T * HIDDEN, 0);
        ffn_draw(&rng, bf16, up, E * up_count, 1);
        ffn_draw(&rng, bf16, down, E * down_count, 1);
        ffn_draw(&rng, bf16, b1, E * 2 * N, 0);
        ffn_draw(&rng, bf16, b2, E * HIDDEN, 0);
        for (int64_t i = 0; i < E * up_count; i++) up32[i] = (float)up[i];
        for (int64_t i = 0; i < E * down_count; i++) down32[i] = (float)down[i];
        for (int t = 0; t < T; t++) {
            ids[t * K] = (int32_t)(mx_rng_next(&rng) % E);
            ids[t * K + 1] = (int32_t)((ids[t * K] + 1 + mx_rng_next(&rng) % (E - 1)) % E);
            weights[t * K] = (float)(0.5 + 0.5 * mx_rng_uniform(&rng));
            weights[t * K + 1] = (float)(1.0 - weights[t * K]);
            float combined[HIDDEN] = {0};
            for (int s = 0; s < K; s++) {
                const int32_t e = ids[t * K + s];
                ffn_emulate(1, HIDDEN, N, MX_ACT_SWIGLU_GPTOSS, bf16, x + t * HIDDEN,
                            up + e * up_count, b1 + e * 2 * N, down + e * down_count,
                            b2 + e * HIDDEN, NULL, o);
                for (int c = 0; c < HIDDEN; c++)
                    combined[c] += (float)weights[t * K + s] * (float)o[c];
            }
            for (int c = 0; c < HIDDEN; c++) y[t * HIDDEN + c] = ffn_round(combined[c], bf16);
        }
        mx_ref_moe_experts_f64(T, HIDDEN, N, K, x, up32, b1, down32, b2, ids, weights, NULL, NULL,
                               exact);
        mx_elementwise_bound last;
        const mx_ref_ffn_rounding rounding = block_rounding(bf16, HIDDEN, N, &last);
        static double bound_y[T * HIDDEN], part_y[T * HIDDEN], part_magnitude[T * HIDDEN],
            part_sums[T];
        memset(bound_y, 0, sizeof bound_y);
        memset(magnitude, 0, sizeof magnitude);
        memset(row_sums, 0, sizeof row_sums);
        cr_assert_eq(mx_ref_moe_bound_f64(T, HIDDEN, N, K, E, x, up32, b1, down32, b2, ids, weights,
                                          &rounding, NULL, bound_y, magnitude, row_sums),
                     0);
        /* Its y (the harness's exact output) is the layer's FP64 value, up to the sums' order. */
        for (int i = 0; i < T * HIDDEN; i++)
            cr_assert(fabs(bound_y[i] - exact[i]) <= 1e-12 * (fabs(exact[i]) + 1.0),
                      "y %d: %.17g, the layer's %.17g", i, bound_y[i], exact[i]);
        /* Expert 0, then experts 1 and 2 (the other slots' ids out of range), add up to the
         * same y, magnitudes and row sums. */
        memset(part_y, 0, sizeof part_y);
        memset(part_magnitude, 0, sizeof part_magnitude);
        memset(part_sums, 0, sizeof part_sums);
        for (int first = 0; first < 2; first++) {
            int32_t group_ids[T * K];
            for (int i = 0; i < T * K; i++)
                group_ids[i] = first ? ids[i] - 1 : (ids[i] == 0 ? 0 : -1);
            cr_assert_eq(mx_ref_moe_bound_f64(T, HIDDEN, N, K, first ? E - 1 : 1, x,
                                              up32 + first * up_count, b1 + first * 2 * N,
                                              down32 + first * down_count, b2 + first * HIDDEN,
                                              group_ids, weights, &rounding, NULL, part_y,
                                              part_magnitude, part_sums),
                         0);
        }
        for (int i = 0; i < T * HIDDEN; i++)
            cr_assert(fabs(part_y[i] - bound_y[i]) <= 1e-12 * (fabs(bound_y[i]) + 1.0) &&
                          fabs(part_magnitude[i] - magnitude[i]) <= 1e-12 * magnitude[i],
                      "element %d in two groups: y %.17g, %.17g; magnitude %.17g, %.17g", i,
                      part_y[i], bound_y[i], part_magnitude[i], magnitude[i]);
        for (int t = 0; t < T; t++)
            cr_assert(fabs(part_sums[t] - row_sums[t]) <= 1e-12 * row_sums[t]);
        expect_bound_judges(bf16 ? "moe bf16" : "moe f16", &last, y, NULL, exact, magnitude,
                            row_sums, T, HIDDEN, bf16 ? 1.3 : 1.1);
    }
    free(up);
    free(down);
    free(up32);
    free(down32);
}

/* The attention core as the kernels compute it (docs/attention.md): FP32 scores, FP32 softmax,
 * probabilities rounded to the dtype, P V in FP32, ctx rounded; one sequence, q [seq, heads *
 * dim] and k, v [seq, kv_heads * dim]. */
static void core_emulate(const mx_attention_shape *shape, int bf16, const double *q,
                         const double *k, const double *v, double *ctx) {
    const int64_t seq = shape->seq_len, dim = shape->head_dim, heads = shape->q_heads;
    const int64_t kv_width = shape->kv_heads * dim, group = heads / shape->kv_heads;
    const float scale = 1.0f / sqrtf((float)dim);
    float scores[64], p[64];
    cr_assert(seq <= 64);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < seq; i++) {
            const int64_t kv = h / group;
            float max = -INFINITY, sum = 0.0f;
            for (int64_t j = 0; j <= i; j++) {
                float dot = 0.0f;
                for (int64_t d = dim - 1; d >= 0; d--)
                    dot += (float)q[i * heads * dim + h * dim + d] *
                           (float)k[j * kv_width + kv * dim + d];
                scores[j] = dot * scale;
                max = fmaxf(max, scores[j]);
            }
            for (int64_t j = 0; j <= i; j++) sum += p[j] = expf(scores[j] - max);
            for (int64_t j = 0; j <= i; j++) p[j] = (float)ffn_round(p[j] / sum, bf16);
            for (int64_t d = 0; d < dim; d++) {
                float out = 0.0f;
                for (int64_t j = 0; j <= i; j++)
                    out += p[j] * (float)v[j * kv_width + kv * dim + d];
                ctx[i * heads * dim + h * dim + d] = ffn_round(out, bf16);
            }
        }
}

/* The attention core's bound (mx_ref_attention_core_bound_f64) against the core as the kernels
 * compute it, in both dtypes and GQA: every output within it with exact inputs, and with q, k and
 * v each moved anywhere within allowances of 0.1-1 % of their size (the projections' errors). */
Test(cpu_ops, attention_core_bound_holds_for_the_cores_rounding_and_moved_inputs) {
    enum { SEQ = 48, HEADS = 4, KV = 2, DIM = 64 };
    const mx_attention_shape shape = {.sequences = 1,
                                      .seq_len = SEQ,
                                      .q_heads = HEADS,
                                      .kv_heads = KV,
                                      .head_dim = DIM,
                                      .hidden = 256};
    static double q[SEQ * HEADS * DIM], k[SEQ * KV * DIM], v[SEQ * KV * DIM], dq[SEQ * HEADS * DIM],
        dk[SEQ * KV * DIM], dv[SEQ * KV * DIM], q2[SEQ * HEADS * DIM], k2[SEQ * KV * DIM],
        v2[SEQ * KV * DIM], ctx[SEQ * HEADS * DIM], exact[SEQ * HEADS * DIM],
        dctx[SEQ * HEADS * DIM];
    double *const values[] = {q, k, v}, *const moves[] = {dq, dk, dv},
                  *const moved[] = {q2, k2, v2};
    const int64_t counts[] = {SEQ * HEADS * DIM, SEQ * KV * DIM, SEQ * KV * DIM};
    mx_rng rng = mx_rng_fresh();
    for (int bf16 = 0; bf16 < 2; bf16++)
        for (int perturbed = 0; perturbed < 2; perturbed++) {
            for (int a = 0; a < 3; a++) {
                ffn_draw(&rng, bf16, values[a], counts[a], 0);
                for (int64_t i = 0; i < counts[a]; i++) {
                    const double share =
                        perturbed ? ldexp(1.0, -7 - (int)(mx_rng_next(&rng) % 4)) : 0.0;
                    moves[a][i] = share * (fabs(values[a][i]) + 1e-3);
                    moved[a][i] = ffn_round(
                        values[a][i] + moves[a][i] * (2.0 * mx_rng_uniform(&rng) - 1.0), bf16);
                    /* the moved value's own rounding counts as part of its move */
                    moves[a][i] = fmax(moves[a][i], fabs(moved[a][i] - values[a][i]));
                }
            }
            mx_elementwise_bound last;
            const mx_ref_ffn_rounding rounding = block_rounding(bf16, DIM, SEQ, &last);
            core_emulate(&shape, bf16, q2, k2, v2, ctx);
            cr_assert_eq(
                mx_ref_attention_core_f64(&shape, q, HEADS * DIM, k, KV * DIM, v, KV * DIM, exact),
                MX_OK);
            cr_assert_eq(mx_ref_attention_core_bound_f64(&shape, q, dq, HEADS * DIM, k, dk,
                                                         KV * DIM, v, dv, KV * DIM, &rounding,
                                                         dctx),
                         MX_OK);
            double worst = 0.0;
            for (int64_t i = 0; i < SEQ * HEADS * DIM; i++) {
                const double ratio = fabs(ctx[i] - exact[i]) / dctx[i];
                cr_assert_leq(ratio, 1.0, "%s %s: element %lld %g off, allowed %g",
                              bf16 ? "bf16" : "f16", perturbed ? "moved" : "exact", (long long)i,
                              ctx[i] - exact[i], dctx[i]);
                worst = fmax(worst, ratio);
            }
            cr_expect_gt(worst, 1e-3, "the bound is not vacuous: %g", worst);
        }
}

/* |x| . |w|^T for the tests' magnitudes (x [m, k], w [n, k]). */
static void abs_product(int64_t m, int64_t n, int64_t k, const double *x, const double *w,
                        double *y) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (int64_t l = 0; l < k; l++) sum += fabs(x[i * k + l]) * fabs(w[j * k + l]);
            y[i * n + j] = sum;
        }
}

/* x . w^T summed in FP32 (backwards) and rounded to the dtype, as a projection kernel. */
static void product_emulate(int64_t m, int64_t n, int64_t k, int bf16, const double *x,
                            const double *w, double *y) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int64_t l = k - 1; l >= 0; l--) sum += (float)x[i * k + l] * (float)w[j * k + l];
            y[i * n + j] = ffn_round(sum, bf16);
        }
}

/* The whole attention block's bound (mx_ref_attention_qkv_allowance_f64, the core's bound and
 * mx_ref_attention_terms_f64, with the magnitudes the harness makes by DGEMM) against the block as
 * the kernels compute it (projections in FP32, Q/K/V and ctx rounded to the dtype, the core as
 * above): every output element of 16 tokens within it. A wrong row is caught as far as the bound
 * allows: ctx averages the values of every key a token attends to, while each value's allowance
 * adds up, so the bound loosens along the sequence. Here a row 10 % wrong in FP16 scores at
 * least 1.8x the bound on the first token, 1.5x on the second, about 1.05-1.15x on the third and
 * fourth, 0.5-0.9x from the eighth on (40 runs): asserted on the first two; twice as large on every
 * token (FP16), three times (BF16). */
Test(cpu_ops, attention_block_bound_holds_for_the_blocks_rounding_and_catches_a_wrong_row) {
    enum { SEQ = 16, HEADS = 4, KV = 2, DIM = 64, HIDDEN = 256 };
    enum { Q_WIDTH = HEADS * DIM, ROWS = Q_WIDTH + 2 * KV * DIM };
    const mx_attention_shape shape = {.sequences = 1,
                                      .seq_len = SEQ,
                                      .q_heads = HEADS,
                                      .kv_heads = KV,
                                      .head_dim = DIM,
                                      .hidden = HIDDEN};
    static double x[SEQ * HIDDEN], w_qkv[ROWS * HIDDEN], w_o[HIDDEN * Q_WIDTH], qkv[SEQ * ROWS],
        size[SEQ * ROWS], ctx[SEQ * Q_WIDTH], q[SEQ * Q_WIDTH], k[SEQ * KV * DIM],
        v[SEQ * KV * DIM], y[SEQ * HIDDEN], exact[SEQ * HIDDEN], terms[SEQ * Q_WIDTH],
        magnitude[SEQ * HIDDEN], x_sums[SEQ], row_sums[SEQ];
    mx_rng rng = mx_rng_fresh();
    for (int bf16 = 0; bf16 < 2; bf16++) {
        ffn_draw(&rng, bf16, x, SEQ * HIDDEN, 0);
        ffn_draw(&rng, bf16, w_qkv, ROWS * HIDDEN, 1);
        ffn_draw(&rng, bf16, w_o, HIDDEN * Q_WIDTH, 1);
        /* the block as the kernels compute it */
        product_emulate(SEQ, ROWS, HIDDEN, bf16, x, w_qkv, qkv);
        for (int t = 0; t < SEQ; t++) {
            memcpy(q + t * Q_WIDTH, qkv + t * ROWS, Q_WIDTH * sizeof *q);
            memcpy(k + t * KV * DIM, qkv + t * ROWS + Q_WIDTH, KV * DIM * sizeof *k);
            memcpy(v + t * KV * DIM, qkv + t * ROWS + Q_WIDTH + KV * DIM, KV * DIM * sizeof *v);
        }
        core_emulate(&shape, bf16, q, k, v, ctx);
        product_emulate(SEQ, HIDDEN, Q_WIDTH, bf16, ctx, w_o, y);
        /* the exact block and its bound's magnitudes */
        cr_assert_eq(mx_ref_attention_f64(&shape, x, w_qkv, NULL, w_o, NULL, NULL, exact), MX_OK);
        mx_ref_gemm_f64(SEQ, ROWS, HIDDEN, x, w_qkv, NULL, qkv);
        cr_assert_eq(mx_ref_attention_core_f64(&shape, qkv, ROWS, qkv + Q_WIDTH, ROWS,
                                               qkv + Q_WIDTH + KV * DIM, ROWS, ctx),
                     MX_OK);
        abs_product(SEQ, ROWS, HIDDEN, x, w_qkv, size);
        for (int t = 0; t < SEQ; t++) {
            x_sums[t] = 0.0;
            for (int i = 0; i < HIDDEN; i++) x_sums[t] += fabs(x[t * HIDDEN + i]);
        }
        mx_elementwise_bound last, core_last;
        const mx_ref_ffn_rounding projections = block_rounding(bf16, HIDDEN, Q_WIDTH, &last),
                                  core = block_rounding(bf16, DIM, SEQ, &core_last);
        mx_ref_attention_qkv_allowance_f64(&shape, qkv, size, x_sums, &projections, size);
        cr_assert_eq(mx_ref_attention_core_bound_f64(&shape, qkv, size, ROWS, qkv + Q_WIDTH,
                                                     size + Q_WIDTH, ROWS, qkv + Q_WIDTH + KV * DIM,
                                                     size + Q_WIDTH + KV * DIM, ROWS, &core, terms),
                     MX_OK);
        mx_ref_attention_terms_f64(&shape, ctx, &projections, terms, row_sums);
        abs_product(SEQ, HIDDEN, Q_WIDTH, terms, w_o, magnitude);
        const char *what = bf16 ? "attention bf16" : "attention f16";
        expect_bound_judges(what, &last, y, NULL, exact, magnitude, row_sums, SEQ, HIDDEN,
                            bf16 ? 3.0 : 2.0);
        if (!bf16) /* the first tokens, which attend to few keys */
            expect_bound_judges(what, &last, y, NULL, exact, magnitude, row_sums, 2, HIDDEN, 1.1);
    }
}
