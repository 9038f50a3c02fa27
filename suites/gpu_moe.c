/* GPU MoE suite, the layer: the MXFP4 layer (every per-expert GEMM variant, FP16 and BF16) against
 * the CPU FP64 layer on the GPU's routing and against the FP16 reference path, at decode and
 * prefill token counts, 1 to 1000 experts, top-1 to top-17, sizes that are not multiples of the
 * tiles, a routing where most experts are idle and some take every token, both count paths
 * (device and host) on each side of their bounds, graph capture of the device-count path; the
 * FP16 reference's two paths against FP64 and each other at decode sizes; determinism. Also the
 * fixtures of gpu_moe.h. Routing and bad arguments: gpu_moe_routing.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "codec.h"
#include "fp16.h"
#include "moe_ref.h"
#include "gpu_moe.h"

static const mx_gemm_variant layer_variants[] = {MX_GEMM_AUTO, MX_GEMM_FUSED, MX_GEMM_SKINNY,
                                                 MX_GEMM_DEQUANT_CUBLAS};
enum { VARIANT_COUNT = sizeof layer_variants / sizeof layer_variants[0] };

static double exact_value(mx_rng *rng, int exponent_shift) {
    double mantissa = (double)(mx_rng_next(rng) % 256) / 128.0; /* 8 bits, [0, 2) */
    int exponent = (int)(mx_rng_next(rng) % 10) - 8 + exponent_shift;
    return (mx_rng_next(rng) & 1 ? -1.0 : 1.0) * ldexp(mantissa, exponent);
}

double *mx_test_exact_values(int64_t count, int exponent_shift, mx_rng *rng) {
    double *values = malloc((size_t)count * sizeof *values);
    cr_assert(values);
    for (int64_t i = 0; i < count; i++) values[i] = exact_value(rng, exponent_shift);
    return values;
}

/* Gaussian weights of standard deviation sigma [rows, cols], quantized (floor scales); decoded
 * gets the exact dequantized values. */
static void make_mxfp4(int64_t rows, int64_t cols, double sigma, mx_rng *rng, uint8_t **blocks,
                       uint8_t **scales, float **decoded) {
    int64_t count = rows * cols;
    float *w32 = malloc((size_t)count * sizeof *w32);
    *blocks = malloc((size_t)count / 2);
    *scales = malloc((size_t)count / 32);
    *decoded = malloc((size_t)count * sizeof **decoded);
    cr_assert(w32 && *blocks && *scales && *decoded);
    for (int64_t i = 0; i < count; i++) w32[i] = (float)(sigma * mx_rng_gaussian(rng));
    MX_CR_OK(mx_ref_quantize(w32, MX_F32, rows, cols, MX_SCALE_FLOOR, *blocks, *scales));
    MX_CR_OK(mx_ref_dequantize(*blocks, *scales, rows, cols, *decoded));
    free(w32);
}

host_moe mx_test_make_moe(moe_shape s, router_kind router, mx_rng *rng) {
    host_moe h = {.s = s};
    const int64_t E = s.experts, I = s.intermediate, hidden = s.hidden;
    h.x = mx_test_exact_values((int64_t)s.tokens * hidden, 0, rng);
    h.router_w = mx_test_exact_values(E * hidden, router == ROUTER_GAUSSIAN ? -3 : -6, rng);
    h.router_bias = mx_test_exact_values(E, -3, rng);
    h.b1 = mx_test_exact_values(E * 2 * I, -3, rng);
    h.b2 = mx_test_exact_values(E * hidden, -3, rng);
    h.residual = s.residual ? mx_test_exact_values((int64_t)s.tokens * hidden, 0, rng) : NULL;
    if (router == ROUTER_FAVOURITES) {
        /* topk distinct favourites; their bias of 16 outweighs any |x . w| here (< 1). */
        for (int i = 0; i < s.topk; i++) {
            int32_t candidate;
            bool fresh;
            do {
                candidate = (int32_t)(mx_rng_next(rng) % (uint64_t)E);
                fresh = true;
                for (int j = 0; j < i; j++) fresh = fresh && h.favourites[j] != candidate;
            } while (!fresh);
            h.favourites[i] = candidate;
            h.router_bias[candidate] = 16.0;
        }
    }
    /* MLP1 pre-activations of about 1.7 (the gate clamp at 7 is reached now and then), outputs
     * of about 1. */
    make_mxfp4(E * 2 * I, hidden, 2.0 / sqrt((double)hidden), rng, &h.w1_blocks, &h.w1_scales,
               &h.w1);
    make_mxfp4(E * hidden, I, 1.0 / sqrt((double)I), rng, &h.w2_blocks, &h.w2_scales, &h.w2);
    return h;
}

void mx_test_free_host_moe(host_moe *h) {
    void *buffers[] = {h->x,         h->router_w,  h->router_bias, h->b1,
                       h->b2,        h->residual,  h->w1,          h->w2,
                       h->w1_blocks, h->w1_scales, h->w2_blocks,   h->w2_scales};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) free(buffers[i]);
}

double mx_test_store_f16(double value) {
    return mx_test_decode(mx_test_encode(value, 0), 0);
}

double mx_test_store_bf16(double value) {
    return mx_test_decode(mx_test_encode(value, 1), 1);
}

static void *upload_bytes(const void *host, size_t bytes) {
    void *device = NULL;
    MX_CR_CUDA(cudaMalloc(&device, bytes));
    MX_CR_CUDA(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice));
    return device;
}

/* doubles (or floats when f32 is set) -> a new device array of the dtype. */
void *mx_test_upload_dense(const double *values, const float *f32, int64_t count, int dtype_index) {
    if (!values && !f32) return NULL;
    uint16_t *bits = malloc((size_t)count * 2);
    cr_assert(bits);
    for (int64_t i = 0; i < count; i++)
        bits[i] = mx_test_encode(values ? values[i] : (double)f32[i], dtype_index);
    void *device = upload_bytes(bits, (size_t)count * 2);
    free(bits);
    return device;
}

device_moe mx_test_upload_moe(const host_moe *h, int dtype_index) {
    const moe_shape s = h->s;
    const int64_t E = s.experts, I = s.intermediate, hidden = s.hidden;
    const int64_t y_count = (int64_t)s.tokens * hidden, w1_count = E * 2 * I * hidden;
    device_moe d = {.dtype_index = dtype_index};
    MX_CR_OK(mx_moe_context_create(&d.context));
    mx_moe_problem p = {.tokens = s.tokens,
                        .hidden = hidden,
                        .intermediate = I,
                        .experts = E,
                        .topk = s.topk,
                        .dtype = dtype_index ? MX_BF16 : MX_F16};
    p.x = mx_test_upload_dense(h->x, NULL, y_count, dtype_index);
    p.router_w = mx_test_upload_dense(h->router_w, NULL, E * hidden, dtype_index);
    p.router_bias = mx_test_upload_dense(h->router_bias, NULL, E, dtype_index);
    p.w1 = mx_test_prepare_weights(h->w1_blocks, h->w1_scales, 2 * I, hidden, E, &d.w1_prepared);
    p.b1 = mx_test_upload_dense(h->b1, NULL, E * 2 * I, dtype_index);
    p.w2 = mx_test_prepare_weights(h->w2_blocks, h->w2_scales, hidden, I, E, &d.w2_prepared);
    p.b2 = mx_test_upload_dense(h->b2, NULL, E * hidden, dtype_index);
    p.residual = mx_test_upload_dense(h->residual, NULL, y_count, dtype_index);
    MX_CR_CUDA(cudaMalloc(&p.y, (size_t)y_count * 2));
    d.problem = p;
    /* The dequantized experts in the dtype: exact (E2M1 x 2^s has two significant bits). */
    d.w1_dense = mx_test_upload_dense(NULL, h->w1, w1_count, dtype_index);
    d.w2_dense = mx_test_upload_dense(NULL, h->w2, E * hidden * I, dtype_index);
    d.y_host = malloc((size_t)y_count * 2);
    cr_assert(d.y_host);
    return d;
}

void mx_test_release_moe(device_moe *d) {
    const void *buffers[] = {d->problem.x,   d->problem.router_w, d->problem.router_bias,
                             d->w1_prepared, d->problem.b1,       d->w2_prepared,
                             d->problem.b2,  d->problem.residual, d->problem.y,
                             d->w1_dense,    d->w2_dense,         d->workspace};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree((void *)buffers[i]);
    free(d->y_host);
    mx_moe_context_destroy(d->context);
}

/* A workspace of exactly bytes, filled with garbage (nothing may rely on zeros). */
void mx_test_workspace_exactly(device_moe *d, size_t bytes) {
    cudaFree(d->workspace);
    MX_CR_CUDA(cudaMalloc(&d->workspace, bytes));
    MX_CR_CUDA(cudaMemset(d->workspace, 0x5A, bytes));
    d->workspace_bytes = bytes;
}

size_t mx_test_y_bytes(const device_moe *d) {
    return (size_t)(d->problem.tokens * d->problem.hidden) * 2;
}

/* Runs a variant (or the FP16 reference when reference is set) with y poisoned to NaN first;
 * leaves y in d->y_host. */
static void run_layer(device_moe *d, mx_gemm_variant variant, bool reference) {
    size_t bytes = 0;
    MX_CR_OK(reference ? mx_moe_fp16_workspace_bytes(&d->problem, &bytes)
                       : mx_moe_workspace_bytes(d->context, &d->problem, variant, &bytes));
    cr_assert_gt(bytes, 0);
    mx_test_workspace_exactly(d, bytes);
    MX_CR_CUDA(cudaMemset(d->problem.y, 0xFF, mx_test_y_bytes(d))); /* NaN in FP16 and BF16 */
    if (reference)
        MX_CR_OK(mx_moe_fp16(d->context, &d->problem, d->w1_dense, d->w2_dense, d->workspace,
                             d->workspace_bytes, 0));
    else
        MX_CR_OK(mx_moe(d->context, &d->problem, variant, d->workspace, d->workspace_bytes, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->problem.y, mx_test_y_bytes(d), cudaMemcpyDeviceToHost));
}

/* The FP16 reference forced onto its host-count path (counts copied to the host, per-expert
 * cublasGemmEx), y poisoned to NaN first; leaves y in d->y_host. */
static void run_reference_host_counts(device_moe *d) {
    size_t bytes = 0;
    MX_CR_OK(mx_moe_fp16_host_counts_workspace_bytes(&d->problem, &bytes));
    cr_assert_gt(bytes, 0);
    mx_test_workspace_exactly(d, bytes);
    MX_CR_CUDA(cudaMemset(d->problem.y, 0xFF, mx_test_y_bytes(d)));
    MX_CR_OK(mx_moe_fp16_host_counts(d->context, &d->problem, d->w1_dense, d->w2_dense,
                                     d->workspace, d->workspace_bytes, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->problem.y, mx_test_y_bytes(d), cudaMemcpyDeviceToHost));
}

/* The GPU's routing: ids [tokens, topk], weights as doubles, logits as doubles (may be NULL). */
void mx_test_gpu_route(const device_moe *d, int32_t *ids, double *weights, double *logits) {
    const int64_t pairs = d->problem.tokens * d->problem.topk;
    const int64_t logit_count = d->problem.tokens * d->problem.experts;
    void *logits_device;
    int32_t *ids_device;
    float *weights_device, *weights32 = malloc((size_t)pairs * sizeof *weights32);
    uint16_t *logits16 = malloc((size_t)logit_count * 2);
    cr_assert(weights32 && logits16);
    MX_CR_CUDA(cudaMalloc(&logits_device, (size_t)logit_count * 2));
    MX_CR_CUDA(cudaMalloc((void **)&ids_device, (size_t)pairs * 4));
    MX_CR_CUDA(cudaMalloc((void **)&weights_device, (size_t)pairs * 4));
    MX_CR_CUDA(cudaMemset(ids_device, 0xFF, (size_t)pairs * 4));
    MX_CR_CUDA(cudaMemset(weights_device, 0xFF, (size_t)pairs * 4));
    MX_CR_OK(mx_moe_route(d->context, &d->problem, logits_device, ids_device, weights_device, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(ids, ids_device, (size_t)pairs * 4, cudaMemcpyDeviceToHost));
    MX_CR_CUDA(cudaMemcpy(weights32, weights_device, (size_t)pairs * 4, cudaMemcpyDeviceToHost));
    MX_CR_CUDA(
        cudaMemcpy(logits16, logits_device, (size_t)logit_count * 2, cudaMemcpyDeviceToHost));
    for (int64_t i = 0; i < pairs; i++) weights[i] = weights32[i];
    for (int64_t i = 0; logits && i < logit_count; i++)
        logits[i] = mx_test_decode(logits16[i], d->dtype_index);
    cudaFree(logits_device);
    cudaFree(ids_device);
    cudaFree(weights_device);
    free(weights32);
    free(logits16);
}

static double *cpu_layer(const host_moe *h, const int32_t *ids, const double *weights,
                         mx_ref_store_fn store) {
    const moe_shape s = h->s;
    double *y = malloc((size_t)s.tokens * s.hidden * sizeof *y);
    cr_assert(y);
    mx_ref_moe_experts_f64(s.tokens, s.hidden, s.intermediate, s.topk, h->x, h->w1, h->b1, h->w2,
                           h->b2, ids, weights, h->residual, store, y);
    return y;
}

figures mx_test_relative_error(const double *a, const double *b, int64_t count) {
    double diff2 = 0.0, ref2 = 0.0;
    figures f = {0.0, 0};
    for (int64_t i = 0; i < count; i++) {
        if (!isfinite(b[i])) continue;
        if (!isfinite(a[i])) {
            f.nonfinite++;
            continue;
        }
        diff2 += (a[i] - b[i]) * (a[i] - b[i]);
        ref2 += b[i] * b[i];
    }
    f.rel_l2 = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    return f;
}

static double *as_doubles(const uint16_t *values, int dtype_index, int64_t count) {
    double *out = malloc((size_t)count * sizeof *out);
    cr_assert(out);
    for (int64_t i = 0; i < count; i++) out[i] = mx_test_decode(values[i], dtype_index);
    return out;
}

/* Two runs of a variant (or of the FP16 reference) give the same bits. */
static bool runs_agree(device_moe *d, mx_gemm_variant variant, bool reference) {
    const size_t bytes = mx_test_y_bytes(d);
    uint16_t *first = malloc(bytes);
    cr_assert(first);
    run_layer(d, variant, reference);
    memcpy(first, d->y_host, bytes);
    run_layer(d, variant, reference);
    const bool same = memcmp(first, d->y_host, bytes) == 0;
    free(first);
    return same;
}

/* residual == y (in place) gives the bits of a separate residual. */
static void check_residual_in_place(device_moe *d) {
    const size_t bytes = mx_test_y_bytes(d);
    uint16_t *separate = malloc(bytes);
    cr_assert(separate);
    run_layer(d, MX_GEMM_AUTO, false);
    memcpy(separate, d->y_host, bytes);
    const void *residual = d->problem.residual;
    MX_CR_CUDA(cudaMemcpy(d->problem.y, residual, bytes, cudaMemcpyDeviceToDevice));
    d->problem.residual = d->problem.y;
    MX_CR_OK(mx_moe(d->context, &d->problem, MX_GEMM_AUTO, d->workspace, d->workspace_bytes, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->problem.y, bytes, cudaMemcpyDeviceToHost));
    d->problem.residual = residual;
    cr_expect(memcmp(separate, d->y_host, bytes) == 0, "residual == y differs from a separate one");
    free(separate);
}

/* Every variant and the FP16 reference path, FP16 and BF16, on the GPU's routing:
 *   vs FP64: rel_l2 <= max(2e-3, 2 x the error that storing the MLP1 product, h, o and y in the
 *            dtype forces, measured by the same FP64 layer with those roundings);
 *   vs the FP16 reference path: rel_l2 <= 1 %.
 * Returns nothing; each failure is reported with the case. */
static void check_layer(const host_moe *h, const char *label) {
    const moe_shape s = h->s;
    const int64_t pairs = (int64_t)s.tokens * s.topk, y_count = (int64_t)s.tokens * s.hidden;
    for (int t = 0; t < 2; t++) {
        device_moe d = mx_test_upload_moe(h, t);
        int32_t *ids = malloc((size_t)pairs * sizeof *ids);
        double *weights = malloc((size_t)pairs * sizeof *weights);
        cr_assert(ids && weights);
        mx_test_gpu_route(&d, ids, weights, NULL);
        double *exact = cpu_layer(h, ids, weights, NULL);
        double *stored = cpu_layer(h, ids, weights, t ? mx_test_store_bf16 : mx_test_store_f16);
        const double forced = mx_test_relative_error(stored, exact, y_count).rel_l2;
        const double limit = fmax(2e-3, 2.0 * forced);

        run_layer(&d, MX_GEMM_AUTO, true);
        double *fp16 = as_doubles(d.y_host, t, y_count);
        figures e = mx_test_relative_error(fp16, exact, y_count);
        cr_expect(e.nonfinite == 0 && e.rel_l2 <= limit,
                  "%s FP16 reference %s: rel_l2 vs FP64 %.3g (limit %.3g), %lld non-finite", label,
                  t ? "bf16" : "f16", e.rel_l2, limit, (long long)e.nonfinite);
        for (int v = 0; v < VARIANT_COUNT; v++) {
            run_layer(&d, layer_variants[v], false);
            double *y = as_doubles(d.y_host, t, y_count);
            figures vs_exact = mx_test_relative_error(y, exact, y_count);
            figures vs_fp16 = mx_test_relative_error(y, fp16, y_count);
            cr_expect(vs_exact.nonfinite == 0 && vs_exact.rel_l2 <= limit,
                      "%s %s %s: rel_l2 vs FP64 %.3g (limit %.3g), %lld non-finite", label,
                      mx_gemm_variant_name(layer_variants[v]), t ? "bf16" : "f16", vs_exact.rel_l2,
                      limit, (long long)vs_exact.nonfinite);
            cr_expect(vs_fp16.rel_l2 <= 1e-2,
                      "%s %s %s: rel_l2 vs FP16 reference %.3g (limit 1 %%)", label,
                      mx_gemm_variant_name(layer_variants[v]), t ? "bf16" : "f16", vs_fp16.rel_l2);
            free(y);
        }
        if (h->s.residual) check_residual_in_place(&d);
        free(fp16);
        free(exact);
        free(stored);
        free(ids);
        free(weights);
        mx_test_release_moe(&d);
    }
}

/* Decode (1..16 tokens) and prefill-ish (129, 300) token counts; 1, 4 and 32 experts; top-1 and
 * top-4; hidden and I multiples of 32 but not of the GEMM tiles (64/128 rows, 128/256 K). Each
 * case's CPU reference stays under about 1e8 multiply-adds. */
static moe_shape layer_cases[] = {
    {1, 96, 64, 1, 1, false},    {2, 352, 416, 4, 1, true},   {3, 160, 96, 4, 4, false},
    {7, 352, 416, 32, 4, true},  {16, 2880, 96, 4, 4, false}, {17, 352, 416, 32, 1, false},
    {129, 96, 2880, 4, 1, true}, {300, 160, 96, 32, 4, true},
};

ParameterizedTestParameters(gpu_moe, layer_matches_fp64_and_fp16_reference) {
    return cr_make_param_array(moe_shape, layer_cases, sizeof layer_cases / sizeof layer_cases[0]);
}

ParameterizedTest(moe_shape *s, gpu_moe, layer_matches_fp64_and_fp16_reference) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_moe h = mx_test_make_moe(*s, ROUTER_GAUSSIAN, &rng);
    char label[128];
    snprintf(label, sizeof label, "tokens=%d hidden=%d I=%d experts=%d top-%d%s", s->tokens,
             s->hidden, s->intermediate, s->experts, s->topk, s->residual ? " +residual" : "");
    check_layer(&h, label);
    mx_test_free_host_moe(&h);
}

/* topk favourite experts take every token (one expert takes all with top-1), every other expert
 * gets none: empty experts are skipped, and a full one runs m = tokens (auto then picks, by its
 * thresholds on these small weights, dequant_cublas above 64 tokens, above
 * MX_GEMM_WGMMA_AUTO_MAX_M where fused runs the warpgroup kernel; or this GPU's table's pick). */
Test(gpu_moe, idle_experts_and_one_taking_every_token) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const moe_shape cases[] = {{5, 160, 96, 32, 1, false},
                               {300, 160, 96, 32, 1, true},
                               {300, 96, 160, 32, 4, false},
                               {9, 96, 64, 4, 4, true}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        host_moe h = mx_test_make_moe(cases[c], ROUTER_FAVOURITES, &rng);
        const moe_shape s = h.s;
        const int64_t pairs = (int64_t)s.tokens * s.topk;
        device_moe d = mx_test_upload_moe(&h, 0);
        int32_t *ids = malloc((size_t)pairs * sizeof *ids);
        double *weights = malloc((size_t)pairs * sizeof *weights);
        cr_assert(ids && weights);
        mx_test_gpu_route(&d, ids, weights, NULL);
        int64_t favoured = 0;
        for (int64_t i = 0; i < pairs; i++)
            for (int j = 0; j < s.topk; j++) favoured += ids[i] == h.favourites[j];
        cr_assert_eq(favoured, pairs, "case %zu: %lld of %lld routed pairs went to the favourites",
                     c, (long long)favoured, (long long)pairs);
        free(ids);
        free(weights);
        mx_test_release_moe(&d);
        char label[96];
        snprintf(label, sizeof label, "favourites: tokens=%d experts=%d top-%d", s.tokens,
                 s.experts, s.topk);
        check_layer(&h, label);
        mx_test_free_host_moe(&h);
    }
}

/* The same variant on both sides of the device-count path's bounds (moe.h): at 64 tokens fused,
 * skinny and auto group on the GPU and run two batched GEMMs; past 64 tokens, past 1024 routed
 * pairs or past 8192 padded rows they copy the counts to the host and run per-expert GEMMs;
 * dequant_cublas always does. Every path against FP64 and the FP16 reference (check_layer),
 * and the device-count path twice for the same bits. */
Test(gpu_moe, device_and_host_count_paths_match_fp64) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const struct {
        moe_shape s;
        bool device; /* fused, skinny and auto take the device-count path */
    } cases[] = {{{64, 96, 64, 8, 2, true}, true},
                 {{65, 96, 64, 8, 2, false}, false},
                 {{64, 96, 64, 32, 17, false}, false},
                 {{9, 64, 32, 1000, 4, true}, false},
                 {{2, 352, 96, 32, 4, false}, true}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const moe_shape s = cases[c].s;
        host_moe h = mx_test_make_moe(s, ROUTER_GAUSSIAN, &rng);
        device_moe d = mx_test_upload_moe(&h, 1);
        for (int v = 0; v < VARIANT_COUNT; v++) {
            const mx_gemm_variant variant = layer_variants[v];
            const int expected = variant != MX_GEMM_DEQUANT_CUBLAS && cases[c].device;
            cr_expect_eq(mx_moe_uses_device_counts(d.context, &d.problem, variant), expected,
                         "tokens=%d experts=%d top-%d %s: expected the %s-count path", s.tokens,
                         s.experts, s.topk, mx_gemm_variant_name(variant),
                         expected ? "device" : "host");
        }
        cr_expect_eq(mx_moe_fp16_uses_device_counts(&d.problem), cases[c].device,
                     "tokens=%d experts=%d top-%d FP16 reference: expected the %s-count path",
                     s.tokens, s.experts, s.topk, cases[c].device ? "device" : "host");
        if (cases[c].device)
            cr_expect(runs_agree(&d, MX_GEMM_SKINNY, false), "device-count path: two runs differ");
        mx_test_release_moe(&d);
        char label[128];
        snprintf(label, sizeof label, "%s-count path: tokens=%d experts=%d top-%d",
                 cases[c].device ? "device" : "host", s.tokens, s.experts, s.topk);
        check_layer(&h, label);
        mx_test_free_host_moe(&h);
    }
}

/* Captures one call of auto (or of the FP16 reference) into a CUDA graph and expects the graph
 * to give the bits of the direct call. A first direct call sets the kernels' attributes and
 * cuBLAS up outside the capture. */
static void expect_graph_gives_the_call(device_moe *d, bool reference) {
    run_layer(d, MX_GEMM_AUTO, reference);
    const size_t bytes = mx_test_y_bytes(d);
    uint16_t *direct = malloc(bytes);
    cr_assert(direct);
    memcpy(direct, d->y_host, bytes);
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    MX_CR_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    MX_CR_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
    mx_status status = reference ? mx_moe_fp16(d->context, &d->problem, d->w1_dense, d->w2_dense,
                                               d->workspace, d->workspace_bytes, stream)
                                 : mx_moe(d->context, &d->problem, MX_GEMM_AUTO, d->workspace,
                                          d->workspace_bytes, stream);
    MX_CR_CUDA(cudaStreamEndCapture(stream, &graph));
    cr_assert_eq(status, MX_OK, "%s under capture: %s", reference ? "mx_moe_fp16" : "mx_moe",
                 mx_last_error());
    MX_CR_CUDA(cudaGraphInstantiate(&exec, graph, 0));
    MX_CR_CUDA(cudaMemset(d->problem.y, 0xFF, bytes));
    MX_CR_CUDA(cudaGraphLaunch(exec, stream));
    MX_CR_CUDA(cudaStreamSynchronize(stream));
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->problem.y, bytes, cudaMemcpyDeviceToHost));
    cr_expect(memcmp(direct, d->y_host, bytes) == 0, "%s: the captured graph differs from the call",
              reference ? "FP16 reference" : "auto");
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    free(direct);
}

/* The device-count path never waits for the host: the whole call can be captured into a CUDA
 * graph (the host-count path's cudaEventSynchronize could not be), and the graph gives the bits
 * of the direct call. */
Test(gpu_moe, device_count_path_is_graph_capturable) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_moe h = mx_test_make_moe((moe_shape){3, 160, 96, 32, 4, true}, ROUTER_GAUSSIAN, &rng);
    device_moe d = mx_test_upload_moe(&h, 0);
    cr_assert_eq(mx_moe_uses_device_counts(d.context, &d.problem, MX_GEMM_AUTO), 1);
    expect_graph_gives_the_call(&d, false);
    mx_test_release_moe(&d);
    mx_test_free_host_moe(&h);
}

/* The FP16 reference's device-count path (batched cuBLAS over the experts, no host round trip)
 * at decode sizes: 1, 2, 16 and 64 tokens, 4 and 32 experts, top-1 and top-4, F16 and BF16,
 * hidden and I not multiples of the tiles; a gaussian router, and favourites (one expert takes
 * every token: most batch slots are idle experts). Against FP64 with check_layer's limit, against
 * the host-count reference path within 1 %, and twice for the same bits. */
Test(gpu_moe, reference_device_path_matches_fp64_and_host_path) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int token_counts[] = {1, 2, 16, 64}, expert_counts[] = {4, 32}, topks[] = {1, 4};
    for (int c = 0; c < 4 * 2 * 2 + 2; c++) {
        const bool favourites = c >= 16;
        moe_shape s = {token_counts[c / 4 % 4],  160,          96,
                       expert_counts[c / 2 % 2], topks[c % 2], c % 3 == 0};
        if (favourites)
            s = c == 16 ? (moe_shape){16, 96, 160, 32, 1, true}
                        : (moe_shape){9, 96, 64, 4, 4, false};
        host_moe h = mx_test_make_moe(s, favourites ? ROUTER_FAVOURITES : ROUTER_GAUSSIAN, &rng);
        const int64_t pairs = (int64_t)s.tokens * s.topk, y_count = (int64_t)s.tokens * s.hidden;
        for (int t = 0; t < 2; t++) {
            char label[128];
            snprintf(label, sizeof label, "tokens=%d experts=%d top-%d%s%s %s", s.tokens, s.experts,
                     s.topk, s.residual ? " +residual" : "", favourites ? " favourites" : "",
                     t ? "bf16" : "f16");
            device_moe d = mx_test_upload_moe(&h, t);
            cr_expect_eq(mx_moe_fp16_uses_device_counts(&d.problem), 1,
                         "%s: expected the reference's device-count path", label);
            int32_t *ids = malloc((size_t)pairs * sizeof *ids);
            double *weights = malloc((size_t)pairs * sizeof *weights);
            cr_assert(ids && weights);
            mx_test_gpu_route(&d, ids, weights, NULL);
            double *exact = cpu_layer(&h, ids, weights, NULL);
            double *stored =
                cpu_layer(&h, ids, weights, t ? mx_test_store_bf16 : mx_test_store_f16);
            const double limit =
                fmax(2e-3, 2.0 * mx_test_relative_error(stored, exact, y_count).rel_l2);

            run_layer(&d, MX_GEMM_AUTO, true);
            double *device = as_doubles(d.y_host, t, y_count);
            run_reference_host_counts(&d);
            double *host = as_doubles(d.y_host, t, y_count);
            figures e = mx_test_relative_error(device, exact, y_count);
            cr_expect(e.nonfinite == 0 && e.rel_l2 <= limit,
                      "%s: device-count reference rel_l2 vs FP64 %.3g (limit %.3g), %lld "
                      "non-finite",
                      label, e.rel_l2, limit, (long long)e.nonfinite);
            e = mx_test_relative_error(host, exact, y_count);
            cr_expect(e.nonfinite == 0 && e.rel_l2 <= limit,
                      "%s: host-count reference rel_l2 vs FP64 %.3g (limit %.3g), %lld non-finite",
                      label, e.rel_l2, limit, (long long)e.nonfinite);
            e = mx_test_relative_error(device, host, y_count);
            cr_expect(e.nonfinite == 0 && e.rel_l2 <= 1e-2,
                      "%s: device- vs host-count reference rel_l2 %.3g (limit 1 %%), %lld "
                      "non-finite",
                      label, e.rel_l2, (long long)e.nonfinite);
            cr_expect(runs_agree(&d, MX_GEMM_AUTO, true), "%s: two reference runs differ", label);
            void *buffers[] = {ids, weights, exact, stored, device, host};
            for (size_t b = 0; b < 6; b++) free(buffers[b]);
            mx_test_release_moe(&d);
        }
        mx_test_free_host_moe(&h);
    }
}

/* The reference's device-count path never waits for the host either: captured into a CUDA graph
 * it gives the bits of the direct call. */
Test(gpu_moe, reference_device_path_is_graph_capturable) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_moe h = mx_test_make_moe((moe_shape){3, 160, 96, 32, 4, true}, ROUTER_GAUSSIAN, &rng);
    device_moe d = mx_test_upload_moe(&h, 1);
    cr_assert_eq(mx_moe_fp16_uses_device_counts(&d.problem), 1);
    expect_graph_gives_the_call(&d, true);
    mx_test_release_moe(&d);
    mx_test_free_host_moe(&h);
}

/* Same inputs, same bits: fixed routing order, stable grouping, fixed-order combine. */
Test(gpu_moe, layer_is_deterministic) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_moe h = mx_test_make_moe((moe_shape){300, 160, 96, 32, 4, true}, ROUTER_GAUSSIAN, &rng);
    device_moe d = mx_test_upload_moe(&h, 1);
    for (int v = 0; v <= VARIANT_COUNT; v++) {
        const bool reference = v == VARIANT_COUNT;
        mx_gemm_variant variant = reference ? MX_GEMM_AUTO : layer_variants[v];
        cr_expect(runs_agree(&d, variant, reference), "%s: two runs differ",
                  reference ? "FP16 reference" : mx_gemm_variant_name(variant));
    }
    mx_test_release_moe(&d);
    mx_test_free_host_moe(&h);
}
