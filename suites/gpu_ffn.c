/* GPU FFN suite: the MXFP4 GEMM's epilogue (bias, every activation, residual) on every variant
 * against the CPU FP64 reference, on shapes that break the tiles and the split-K slices, and the
 * FFN block (kernels/ffn.h) in both epilogue modes against FP64 and against its FP16 reference.
 * FP16 and BF16, outputs poisoned before each run, fresh random data, bad arguments refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "activation_ref.h"
#include "codec.h"
#include "ffn_ref.h"
#include "fp16.h"
#include "gemm_ref.h"
#include "common.h"

static const mx_dtype dtypes[2] = {MX_F16, MX_BF16};
static const mx_activation every_activation[] = {MX_ACT_NONE, MX_ACT_GELU, MX_ACT_SWIGLU,
                                                 MX_ACT_SWIGLU_GPTOSS};

/* The value the dtype stores for value (round to nearest even). */
static double stored(double value, int d) {
    return mx_test_decode(mx_test_encode(value, d), d);
}

/* count values k/128 for integer |k| <= 255: 8 significant bits, exact in FP16 and BF16, so one
 * set of FP64 inputs serves both dtypes. */
static double *random_values(mx_rng *rng, int64_t count) {
    double *v = malloc((size_t)count * sizeof *v);
    cr_assert(v);
    for (int64_t i = 0; i < count; i++) v[i] = ((double)(mx_rng_next(rng) % 511) - 255.0) / 128.0;
    return v;
}

/* A new device buffer holding values in dtype d. */
static void *to_device(const double *values, int64_t count, int d) {
    uint16_t *bits = malloc((size_t)count * 2);
    cr_assert(bits);
    for (int64_t i = 0; i < count; i++) bits[i] = mx_test_encode(values[i], d);
    void *buffer = NULL;
    MX_CR_CUDA(cudaMalloc(&buffer, (size_t)count * 2));
    MX_CR_CUDA(cudaMemcpy(buffer, bits, (size_t)count * 2, cudaMemcpyHostToDevice));
    free(bits);
    return buffer;
}

/* Gaussian weights [rows, cols] (scale s), quantized by the CPU codec: prepared on the device,
 * the exactly dequantized weights on the host. */
typedef struct {
    void *prepared;  /* device buffer of view */
    mx_weights view; /* the prepared weights */
    double *w;       /* host, dequantized */
} weights;

static weights random_weights(mx_rng *rng, int64_t rows, int64_t cols, double scale) {
    int64_t count = rows * cols;
    float *w32 = malloc((size_t)count * sizeof *w32), *decoded = malloc((size_t)count * 4);
    uint8_t *blocks = malloc((size_t)count / 2), *scales = malloc((size_t)count / 32);
    weights w = {.w = malloc((size_t)count * sizeof(double))};
    cr_assert(w32 && decoded && blocks && scales && w.w);
    for (int64_t i = 0; i < count; i++) w32[i] = (float)(mx_rng_gaussian(rng) * scale);
    MX_CR_OK(mx_ref_quantize(w32, MX_F32, rows, cols, MX_SCALE_FLOOR, blocks, scales));
    MX_CR_OK(mx_ref_dequantize(blocks, scales, rows, cols, decoded));
    for (int64_t i = 0; i < count; i++) w.w[i] = decoded[i];
    w.view = mx_test_prepare_weights(blocks, scales, rows, cols, 1, &w.prepared);
    free(w32);
    free(decoded);
    free(blocks);
    free(scales);
    return w;
}

static void free_weights(weights *w) {
    cudaFree(w->prepared);
    free(w->w);
}

/* Output buffer poisoned with NaN (0xFFFF in both dtypes) before a run. */
static void poison(void *y, int64_t count) {
    MX_CR_CUDA(cudaMemset(y, 0xFF, (size_t)count * 2));
}

/* y (device, dtype d) against ref: normwise relative error; outputs that are not finite where
 * ref is are counted apart. The limit: 2e-3, or twice the error that rounding ref itself to the
 * dtype forces (BF16's 8 bits cannot meet 2e-3). */
typedef struct {
    double rel_l2, limit;
    int64_t nonfinite;
} figures;

/* The relative error that storing values in the dtype forces: an intermediate a path stores can
 * land one unit away from the model's rounding when the path's FP32 sum differs from the exact
 * one, and that unit reaches the output at about the same relative size. */
static double rounding_floor(const double *values, int64_t count, int d) {
    double diff2 = 0.0, norm2 = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double rounded = stored(values[i], d);
        diff2 += (rounded - values[i]) * (rounded - values[i]);
        norm2 += values[i] * values[i];
    }
    return norm2 > 0 ? sqrt(diff2 / norm2) : 0.0;
}

/* The L2 norm of how far outputs move when every stored product value is one unit of the dtype
 * off: cuBLAS may pick another algorithm for the call with an epilogue than for the plain call,
 * and its product may round the other way. Per output: the unit times a bound of the
 * activation's slope (1 ungated; gated: |linear| + 1 on the gate, |gate| + 1 on the linear). */
static double one_unit_moves(mx_activation act, const double *product, int64_t m, int64_t n,
                             int d) {
    double sum2 = 0.0;
    const bool gated = act == MX_ACT_SWIGLU || act == MX_ACT_SWIGLU_GPTOSS;
    for (int64_t i = 0; i < m * n; i += gated ? 2 : 1) {
        int exponent;
        frexp(product[i], &exponent);
        double unit = ldexp(1.0, exponent - (d ? 8 : 11)), move = unit;
        if (gated) {
            frexp(product[i + 1], &exponent);
            double linear_unit = ldexp(1.0, exponent - (d ? 8 : 11));
            move = unit * (fabs(product[i + 1]) + 1.0) + linear_unit * (fabs(product[i]) + 1.0);
        }
        sum2 += move * move;
    }
    return sqrt(sum2);
}

static figures measure(const void *y, int d, const double *ref, int64_t count) {
    uint16_t *bits = mx_test_download16(y, count);
    double diff2 = 0.0, ref2 = 0.0, rounding2 = 0.0;
    figures f = {0.0, 0.0, 0};
    for (int64_t i = 0; i < count; i++) {
        double value = mx_test_decode(bits[i], d), rounded = stored(ref[i], d);
        if (!isfinite(value)) {
            f.nonfinite++;
            continue;
        }
        diff2 += (value - ref[i]) * (value - ref[i]);
        ref2 += ref[i] * ref[i];
        rounding2 += (rounded - ref[i]) * (rounded - ref[i]);
    }
    free(bits);
    f.rel_l2 = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    f.limit = fmax(2e-3, 2.0 * (ref2 > 0 ? sqrt(rounding2 / ref2) : sqrt(rounding2)));
    return f;
}

static mx_gemm_variant resolved(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                mx_gemm_variant variant) {
    return variant == MX_GEMM_AUTO ? mx_gemm_choose(context, problem) : variant;
}

static bool in_registers(mx_gemm_variant variant) {
    return variant == MX_GEMM_FUSED || variant == MX_GEMM_SKINNY;
}

/* count 16-bit outputs, every one 0x7E7E (a finite value), for expect_untouched. */
static void *marked_output(int64_t count) {
    void *y = NULL;
    MX_CR_CUDA(cudaMalloc(&y, (size_t)count * 2));
    MX_CR_CUDA(cudaMemset(y, 0x7E, (size_t)count * 2));
    return y;
}

/* Every 16-bit output still holds 0x7E7E: nothing was written by a refused call. */
static void expect_untouched(const void *y, int64_t count) {
    uint16_t *bits = mx_test_download16(y, count);
    for (int64_t i = 0; i < count; i++)
        cr_assert_eq(bits[i], 0x7E7E, "output %lld was written by a refused call", (long long)i);
    free(bits);
}

// ---- (1) the GEMM epilogue

typedef struct {
    int m, n, k;
} epilogue_shape;

/* m breaks the 8/16/64-token tiles; n = 2 is a single gated pair, 41 is odd (ungated only), 130
 * and 258 leave 2 rows in the last 64/128-row tile; k = 64 runs without split-K, k = 1024 with
 * cluster split-K (the reduced path of the epilogue) wherever the tiles leave SMs idle. */
static epilogue_shape epilogue_shapes[40];

ParameterizedTestParameters(gpu_ffn, gemm_epilogue_matches_fp64) {
    const int ms[] = {1, 3, 17, 65, 200}, ns[] = {2, 41, 130, 258}, ks[] = {64, 1024};
    size_t count = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 2; l++)
                epilogue_shapes[count++] = (epilogue_shape){ms[i], ns[j], ks[l]};
    return cr_make_param_array(epilogue_shape, epilogue_shapes, count);
}

/* Every activation x residual x bias x variant x dtype. fused and skinny must need no workspace
 * (they run with none). The cuBLAS variants round the product to the dtype before the separate
 * epilogue kernel (gemm.h): their reference applies the epilogue to the product that variant
 * itself stores (its plain call, checked against FP64 first), with one unit of that stored product
 * allowed on top of the output rounding (one_unit_moves): where bias or residual cancel the
 * product, that unit is large next to the output. */
ParameterizedTest(epilogue_shape *s, gpu_ffn, gemm_epilogue_matches_fp64) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = s->m, n = s->n, k = s->k;
    double *x = random_values(&rng, m * k), *bias = random_values(&rng, n);
    double *residual = random_values(&rng, m * n);
    weights w = random_weights(&rng, n, k, 1.0 / 16.0);
    double *product = malloc((size_t)(m * n) * sizeof(double));
    double *staged = malloc((size_t)(m * n) * sizeof(double));
    double *ref = malloc((size_t)(m * n) * sizeof(double));
    cr_assert(product && staged && ref);
    mx_ref_gemm_f64(m, n, k, x, w.w, NULL, product);
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *y, *workspace = NULL;
    size_t workspace_bytes = 0;
    MX_CR_CUDA(cudaMalloc(&y, (size_t)(m * n) * 2));
    const mx_gemm_variant variants[] = {MX_GEMM_FUSED, MX_GEMM_SKINNY, MX_GEMM_DEQUANT_CUBLAS,
                                        MX_GEMM_PERSISTENT, MX_GEMM_AUTO};
    for (int d = 0; d < 2; d++) {
        void *x_d = to_device(x, m * k, d), *bias_d = to_device(bias, n, d);
        void *residual_d = to_device(residual, m * n, d);
        for (int a = 0; a < 4; a++) {
            mx_activation act = every_activation[a];
            if ((act == MX_ACT_SWIGLU || act == MX_ACT_SWIGLU_GPTOSS) && n % 2) continue;
            const int64_t out = mx_activation_out_width(act, n);
            for (int options = 0; options < 4; options++) {
                const bool with_bias = options & 1, with_residual = options & 2;
                mx_gemm_problem problem = {.m = m,
                                           .n = n,
                                           .k = k,
                                           .batch = 1,
                                           .dtype = dtypes[d],
                                           .x = x_d,
                                           .w = w.view,
                                           .bias = with_bias ? bias_d : NULL,
                                           .y = y,
                                           .activation = act,
                                           .residual = with_residual ? residual_d : NULL};
                for (int v = 0; v < 5; v++) {
                    mx_gemm_variant runs = resolved(context, &problem, variants[v]);
                    size_t needed = 0;
                    MX_CR_OK(mx_gemm_workspace_bytes(context, &problem, variants[v], &needed));
                    if (in_registers(runs))
                        cr_expect_eq(needed, 0, "%s with an epilogue asks for %zu bytes",
                                     mx_gemm_variant_name(variants[v]), needed);
                    else if (needed > workspace_bytes) {
                        cudaFree(workspace);
                        MX_CR_CUDA(cudaMalloc(&workspace, needed));
                        workspace_bytes = needed;
                    }
                    void *given = in_registers(runs) ? NULL : workspace;
                    size_t given_bytes = in_registers(runs) ? 0 : workspace_bytes;
                    if (runs == MX_GEMM_PERSISTENT)
                        MX_CR_OK(
                            mx_gemm_persistent_prepare(context, &problem, given, given_bytes, 0));
                    if (!in_registers(runs)) {
                        mx_gemm_problem plain = problem;
                        plain.bias = NULL;
                        plain.activation = MX_ACT_NONE;
                        plain.residual = NULL;
                        poison(y, m * n);
                        MX_CR_OK(mx_gemm(context, &plain, variants[v], given, given_bytes, 0));
                        /* the product alone, judged as gpu_gemm judges it (one ulp) */
                        uint16_t *bits = mx_test_download16(y, m * n);
                        mx_test_errors p = mx_test_compare_ulp(bits, d, product, m * n);
                        cr_expect(p.nonfinite == 0 && p.rel_l2 <= p.limit,
                                  "%s %s product m=%lld n=%lld k=%lld: rel_l2 %.3g (limit %.3g)",
                                  mx_gemm_variant_name(variants[v]), d ? "bf16" : "f16",
                                  (long long)m, (long long)n, (long long)k, p.rel_l2, p.limit);
                        for (int64_t i = 0; i < m * n; i++) staged[i] = mx_test_decode(bits[i], d);
                        free(bits);
                    }
                    mx_ref_activation_f64(m, n, act, in_registers(runs) ? product : staged,
                                          with_bias ? bias : NULL, with_residual ? residual : NULL,
                                          ref);
                    poison(y, m * out);
                    MX_CR_OK(mx_gemm(context, &problem, variants[v], given, given_bytes, 0));
                    figures f = measure(y, d, ref, m * out);
                    if (!in_registers(runs)) {
                        double ref2 = 0.0;
                        for (int64_t i = 0; i < m * out; i++) ref2 += ref[i] * ref[i];
                        f.limit += one_unit_moves(act, staged, m, n, d) / sqrt(ref2 > 0 ? ref2 : 1);
                    }
                    cr_expect(f.nonfinite == 0 && f.rel_l2 <= f.limit,
                              "%s %s %s%s%s m=%lld n=%lld k=%lld: rel_l2 %.3g (limit %.3g), "
                              "%lld non-finite",
                              mx_gemm_variant_name(variants[v]), d ? "bf16" : "f16",
                              mx_activation_name(act), with_bias ? " +bias" : "",
                              with_residual ? " +residual" : "", (long long)m, (long long)n,
                              (long long)k, f.rel_l2, f.limit, (long long)f.nonfinite);
                }
            }
        }
        cudaFree(x_d);
        cudaFree(bias_d);
        cudaFree(residual_d);
    }
    cudaFree(y);
    cudaFree(workspace);
    mx_gemm_context_destroy(context);
    free_weights(&w);
    double *host[] = {x, bias, residual, product, staged, ref};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

/* The residual may be y itself: the epilogue reads each element before it writes it. */
Test(gpu_ffn, gemm_epilogue_residual_in_place) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = 17, n = 130, k = 1024, out = n / 2;
    double *x = random_values(&rng, m * k), *residual = random_values(&rng, m * out);
    weights w = random_weights(&rng, n, k, 1.0 / 16.0);
    double *product = malloc((size_t)(m * n) * sizeof(double));
    double *ref = malloc((size_t)(m * out) * sizeof(double));
    cr_assert(product && ref);
    mx_ref_gemm_f64(m, n, k, x, w.w, NULL, product);
    mx_ref_activation_f64(m, n, MX_ACT_SWIGLU_GPTOSS, product, NULL, residual, ref);
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *x_d = to_device(x, m * k, 0);
    const mx_gemm_variant variants[] = {MX_GEMM_FUSED, MX_GEMM_SKINNY};
    for (int v = 0; v < 2; v++) {
        void *y = to_device(residual, m * out, 0);
        mx_gemm_problem problem = {.m = m,
                                   .n = n,
                                   .k = k,
                                   .batch = 1,
                                   .dtype = MX_F16,
                                   .x = x_d,
                                   .w = w.view,
                                   .y = y,
                                   .activation = MX_ACT_SWIGLU_GPTOSS,
                                   .residual = y};
        MX_CR_OK(mx_gemm(context, &problem, variants[v], NULL, 0, 0));
        figures f = measure(y, 0, ref, m * out);
        cr_expect(f.nonfinite == 0 && f.rel_l2 <= f.limit, "%s in place: rel_l2 %.3g (limit %.3g)",
                  mx_gemm_variant_name(variants[v]), f.rel_l2, f.limit);
        cudaFree(y);
    }
    cudaFree(x_d);
    mx_gemm_context_destroy(context);
    free_weights(&w);
    free(x);
    free(residual);
    free(product);
    free(ref);
}

/* Refused before launch, y untouched: odd n for a gated unit, batch > 1 with an epilogue on a
 * cuBLAS variant, an activation that does not exist. */
Test(gpu_ffn, gemm_epilogue_bad_arguments) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = 4, n = 64, k = 64;
    double *x = random_values(&rng, 2 * m * k);
    weights w = random_weights(&rng, 2 * n, k, 1.0);
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *x_d = to_device(x, 2 * m * k, 0), *y = marked_output(2 * m * n);
    /* The 2n rows as one entry of n rows, or as two (n is a multiple of 16: the same bytes). */
    mx_weights one, two;
    MX_CR_OK(mx_weights_rows(&w.view, 0, n, &one));
    two = one;
    two.batch = 2;
    two.entry_bytes = (int64_t)mx_weights_bytes(n, k, 1);
    const mx_gemm_problem good = {.m = m,
                                  .n = n,
                                  .k = k,
                                  .batch = 1,
                                  .dtype = MX_F16,
                                  .x = x_d,
                                  .w = one,
                                  .y = y,
                                  .activation = MX_ACT_SWIGLU};
    mx_gemm_problem bad = good;
    bad.n = 63;
    cr_expect_eq(mx_gemm(context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "63"), "message: %s", mx_last_error());
    bad = good;
    bad.batch = 2;
    bad.w = two;
    cr_expect_eq(mx_gemm(context, &bad, MX_GEMM_DEQUANT_CUBLAS, NULL, 0, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "batch = 2"), "message: %s", mx_last_error());
    bad = good;
    bad.activation = (mx_activation)99;
    cr_expect_eq(mx_gemm(context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "99"), "message: %s", mx_last_error());
    bad = good; /* the cuBLAS path still needs its temporary */
    cr_expect_eq(mx_gemm(context, &bad, MX_GEMM_DEQUANT_CUBLAS, NULL, 0, 0), MX_ERR_WORKSPACE);
    expect_untouched(y, 2 * m * n);
    cudaFree(x_d);
    cudaFree(y);
    mx_gemm_context_destroy(context);
    free_weights(&w);
    free(x);
}

// ---- (2) the FFN block

typedef struct {
    int m, hidden, intermediate;
} ffn_shape;

static ffn_shape ffn_shapes[] = {{1, 64, 96},   {3, 128, 64},   {17, 96, 160},
                                 {65, 64, 128}, {200, 128, 96}, {5, 2880, 64}};

ParameterizedTestParameters(gpu_ffn, block_matches_fp64_and_fp16_reference) {
    return cr_make_param_array(ffn_shape, ffn_shapes, sizeof ffn_shapes / sizeof ffn_shapes[0]);
}

/* The FP64 block with the roundings the API defines: the hidden activations h are stored in the
 * dtype (every path), and so is the up product before the activation where a path stores it
 * (separate mode; the cuBLAS variants' epilogue temporary). */
static double block_reference(const ffn_shape *s, mx_activation act, int d, bool staged_up,
                              const double *x, const weights *up, const double *up_bias,
                              const weights *down, const double *down_bias, double *y) {
    const int64_t m = s->m, up_n = mx_ffn_up_rows(act, s->intermediate);
    double *u = malloc((size_t)(m * up_n) * sizeof(double));
    double *h = malloc((size_t)(m * s->intermediate) * sizeof(double));
    cr_assert(u && h);
    mx_ref_gemm_f64(m, up_n, s->hidden, x, up->w, NULL, u);
    /* what the stored intermediates add to the limit (rounding_floor) */
    double intermediate_floor = staged_up ? rounding_floor(u, m * up_n, d) : 0.0;
    if (staged_up)
        for (int64_t i = 0; i < m * up_n; i++) u[i] = stored(u[i], d);
    mx_ref_activation_f64(m, up_n, act, u, up_bias, NULL, h);
    intermediate_floor += rounding_floor(h, m * s->intermediate, d);
    for (int64_t i = 0; i < m * s->intermediate; i++) h[i] = stored(h[i], d);
    mx_ref_gemm_f64(m, s->hidden, s->intermediate, h, down->w, down_bias, y);
    for (int64_t i = 0; i < m * s->hidden; i++) y[i] += x[i];
    free(u);
    free(h);
    return intermediate_floor;
}

ParameterizedTest(ffn_shape *s, gpu_ffn, block_matches_fp64_and_fp16_reference) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = s->m, hidden = s->hidden, intermediate = s->intermediate;
    const mx_activation acts[] = {MX_ACT_GELU, MX_ACT_SWIGLU, MX_ACT_SWIGLU_GPTOSS};
    const mx_gemm_variant variants[] = {MX_GEMM_AUTO, MX_GEMM_FUSED, MX_GEMM_SKINNY,
                                        MX_GEMM_DEQUANT_CUBLAS};
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    double *x = random_values(&rng, m * hidden), *down_bias = random_values(&rng, hidden);
    double *ref = malloc((size_t)(m * hidden) * sizeof(double));
    cr_assert(ref);
    void *y, *y_fp16;
    MX_CR_CUDA(cudaMalloc(&y, (size_t)(m * hidden) * 2));
    MX_CR_CUDA(cudaMalloc(&y_fp16, (size_t)(m * hidden) * 2));
    for (int a = 0; a < 3; a++) {
        const int64_t up_n = mx_ffn_up_rows(acts[a], intermediate);
        /* Scaled so that the hidden activations are of order 1 (the gpt-oss clamp at 7 is
         * reached only by the tails). */
        weights up = random_weights(&rng, up_n, hidden, 1.0 / sqrt((double)hidden));
        weights down = random_weights(&rng, hidden, intermediate, 1.0 / sqrt((double)intermediate));
        double *up_bias = random_values(&rng, up_n);
        for (int d = 0; d < 2; d++) {
            void *x_d = to_device(x, m * hidden, d), *up_bias_d = to_device(up_bias, up_n, d);
            void *down_bias_d = to_device(down_bias, hidden, d);
            void *up_dense = to_device(up.w, up_n * hidden, d);
            void *down_dense = to_device(down.w, hidden * intermediate, d);
            mx_ffn_problem problem = {.m = m,
                                      .hidden = hidden,
                                      .intermediate = intermediate,
                                      .dtype = dtypes[d],
                                      .activation = acts[a],
                                      .x = x_d,
                                      .up = up.view,
                                      .up_bias = up_bias_d,
                                      .down = down.view,
                                      .down_bias = down_bias_d,
                                      .residual = x_d,
                                      .y = y_fp16};
            size_t dense_bytes = 0;
            MX_CR_OK(mx_ffn_fp16_workspace_bytes(&problem, &dense_bytes));
            void *dense_workspace;
            MX_CR_CUDA(cudaMalloc(&dense_workspace, dense_bytes));
            poison(y_fp16, m * hidden);
            MX_CR_OK(mx_ffn_fp16(context, &problem, up_dense, down_dense, dense_workspace,
                                 dense_bytes, 0));
            double floor =
                block_reference(s, acts[a], d, true, x, &up, up_bias, &down, down_bias, ref);
            figures dense = measure(y_fp16, d, ref, m * hidden);
            dense.limit += 2.0 * floor;
            cr_expect(dense.nonfinite == 0 && dense.rel_l2 <= dense.limit,
                      "FP16 reference %s %s: rel_l2 vs FP64 %.3g (limit %.3g)",
                      mx_activation_name(acts[a]), d ? "bf16" : "f16", dense.rel_l2, dense.limit);
            double *fp16_out = malloc((size_t)(m * hidden) * sizeof(double));
            uint16_t *bits = mx_test_download16(y_fp16, m * hidden);
            cr_assert(fp16_out);
            for (int64_t i = 0; i < m * hidden; i++) fp16_out[i] = mx_test_decode(bits[i], d);
            problem.y = y;
            for (int mode = 0; mode < MX_FFN_EPILOGUE_COUNT; mode++) {
                for (int v = 0; v < 4; v++) {
                    size_t bytes = 0;
                    MX_CR_OK(mx_ffn_workspace_bytes(context, &problem, variants[v],
                                                    (mx_ffn_epilogue)mode, &bytes));
                    void *workspace = NULL;
                    if (bytes) MX_CR_CUDA(cudaMalloc(&workspace, bytes));
                    poison(y, m * hidden);
                    MX_CR_OK(mx_ffn(context, &problem, variants[v], (mx_ffn_epilogue)mode,
                                    workspace, bytes, 0));
                    mx_gemm_problem up_gemm = {.m = m, .n = up_n, .k = hidden, .batch = 1};
                    bool staged = mode == MX_FFN_SEPARATE ||
                                  !in_registers(resolved(context, &up_gemm, variants[v]));
                    double stored_floor = block_reference(s, acts[a], d, staged, x, &up, up_bias,
                                                          &down, down_bias, ref);
                    figures exact = measure(y, d, ref, m * hidden);
                    exact.limit += 2.0 * stored_floor;
                    figures vs_fp16 = measure(y, d, fp16_out, m * hidden);
                    cr_expect(exact.nonfinite == 0 && exact.rel_l2 <= exact.limit &&
                                  vs_fp16.rel_l2 <= 1e-2,
                              "mx_ffn %s %s %s m=%lld hidden=%lld intermediate=%lld: rel_l2 vs "
                              "FP64 %.3g (limit %.3g), vs FP16 reference %.3g (limit 1e-2), %lld "
                              "non-finite",
                              mx_ffn_epilogue_name((mx_ffn_epilogue)mode),
                              mx_gemm_variant_name(variants[v]), mx_activation_name(acts[a]),
                              (long long)m, (long long)hidden, (long long)intermediate,
                              exact.rel_l2, exact.limit, vs_fp16.rel_l2,
                              (long long)exact.nonfinite);
                    cudaFree(workspace);
                }
            }
            free(fp16_out);
            free(bits);
            void *buffers[] = {x_d, up_bias_d, down_bias_d, up_dense, down_dense, dense_workspace};
            for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
        }
        free_weights(&up);
        free_weights(&down);
        free(up_bias);
    }
    cudaFree(y);
    cudaFree(y_fp16);
    mx_gemm_context_destroy(context);
    free(x);
    free(down_bias);
    free(ref);
}

/* The block's own checks, before anything runs; y untouched. */
Test(gpu_ffn, block_bad_arguments) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = 3, hidden = 64, intermediate = 32;
    double *x = random_values(&rng, m * hidden);
    weights up = random_weights(&rng, 2 * intermediate, hidden, 0.1);
    weights down = random_weights(&rng, hidden, intermediate, 0.1);
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *x_d = to_device(x, m * hidden, 0), *y = marked_output(m * hidden), *workspace;
    const mx_ffn_problem good = {.m = m,
                                 .hidden = hidden,
                                 .intermediate = intermediate,
                                 .dtype = MX_F16,
                                 .activation = MX_ACT_SWIGLU,
                                 .x = x_d,
                                 .up = up.view,
                                 .down = down.view,
                                 .residual = x_d,
                                 .y = y};
    size_t bytes = 0;
    MX_CR_OK(
        mx_ffn_workspace_bytes(context, &good, MX_GEMM_DEQUANT_CUBLAS, MX_FFN_SEPARATE, &bytes));
    MX_CR_CUDA(cudaMalloc(&workspace, bytes));
    mx_ffn_problem bad = good;
    bad.activation = MX_ACT_NONE;
    cr_expect_eq(mx_ffn(context, &bad, MX_GEMM_FUSED, MX_FFN_FUSED, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "none"), "message: %s", mx_last_error());
    bad = good;
    bad.intermediate = 48;
    cr_expect_eq(mx_ffn(context, &bad, MX_GEMM_FUSED, MX_FFN_FUSED, workspace, bytes, 0),
                 MX_ERR_UNSUPPORTED_SHAPE);
    cr_expect(strstr(mx_last_error(), "48"), "message: %s", mx_last_error());
    bad = good;
    bad.y = (void *)x_d;
    cr_expect_eq(mx_ffn(context, &bad, MX_GEMM_FUSED, MX_FFN_FUSED, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    bad = good;
    bad.down.magic = 0; /* the second GEMM's problem: refused before the first runs */
    cr_expect_eq(mx_ffn(context, &bad, MX_GEMM_FUSED, MX_FFN_FUSED, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "not a prepared view"), "message: %s", mx_last_error());
    cr_expect_eq(
        mx_ffn(context, &good, MX_GEMM_DEQUANT_CUBLAS, MX_FFN_SEPARATE, workspace, bytes - 1, 0),
        MX_ERR_WORKSPACE);
    cr_expect_eq(mx_ffn(context, &good, MX_GEMM_PERSISTENT, MX_FFN_FUSED, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_ffn(context, &good, MX_GEMM_FUSED, (mx_ffn_epilogue)7, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    expect_untouched(y, m * hidden);
    cudaFree(x_d);
    cudaFree(y);
    cudaFree(workspace);
    mx_gemm_context_destroy(context);
    free_weights(&up);
    free_weights(&down);
    free(x);
}
