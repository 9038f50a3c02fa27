/* GPU attention suite: the Q/K/V projections (fused and separate), the core and the whole block
 * against the CPU FP64 reference on the dequantized weights and against the FP16 reference path,
 * MHA and GQA, decode (seq_len 1) and odd lengths, several sequences, a long prefill run in
 * several passes, causality, and bad arguments. Outputs are NaN-poisoned before each run; data is
 * fresh (MX_TEST_SEED replays it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "attention_ref.h"
#include "codec.h"
#include "fp16.h"
#include "gemm_ref.h"
#include "common.h"

static const mx_gemm_variant block_variants[] = {MX_GEMM_AUTO, MX_GEMM_FUSED, MX_GEMM_SKINNY,
                                                 MX_GEMM_DEQUANT_CUBLAS};
enum { BLOCK_VARIANT_COUNT = sizeof block_variants / sizeof block_variants[0] };

/* 8 significant bits, magnitudes 2^-8..2^2 (times scale, a power of two): exact in FP16 and BF16,
 * so one FP64 reference serves both dtypes. */
static double draw_exact(mx_rng *rng, double scale) {
    double mantissa = (double)(mx_rng_next(rng) % 256) / 128.0;
    int exponent = (int)(mx_rng_next(rng) % 10) - 8;
    return (mx_rng_next(rng) & 1 ? -scale : scale) * ldexp(mantissa, exponent);
}

static mx_dtype dtype_of(int dtype_index) {
    return dtype_index ? MX_BF16 : MX_F16;
}

/* A host tensor: FP64 values and their 16-bit images per dtype (0: FP16, 1: BF16). */
typedef struct {
    int64_t count;
    double *values;
    uint16_t *bits[2];
} tensor;

static tensor tensor_alloc(int64_t count) {
    tensor t = {.count = count, .values = malloc((size_t)count * sizeof(double))};
    for (int d = 0; d < 2; d++) t.bits[d] = malloc((size_t)count * 2);
    cr_assert(t.values && t.bits[0] && t.bits[1]);
    return t;
}

static tensor tensor_draw(int64_t count, double scale, mx_rng *rng) {
    tensor t = tensor_alloc(count);
    for (int64_t i = 0; i < count; i++) {
        t.values[i] = draw_exact(rng, scale);
        for (int d = 0; d < 2; d++) t.bits[d][i] = mx_test_encode(t.values[i], d);
    }
    return t;
}

static void tensor_free(tensor *t) {
    free(t->values);
    free(t->bits[0]);
    free(t->bits[1]);
}

/* MXFP4 weights [rows, cols] drawn gaussian * 2^exponent, and their exact dequantization (as a
 * tensor: E2M1 times a power of two is exact in FP16 and BF16 for these scales). */
typedef struct {
    uint8_t *blocks, *scales;
    tensor dense;
} weight;

static weight weight_draw(int64_t rows, int64_t cols, int exponent, mx_rng *rng) {
    int64_t count = rows * cols;
    weight w = {.blocks = malloc((size_t)count / 2), .scales = malloc((size_t)count / 32)};
    float *w32 = malloc((size_t)count * sizeof(float)), *decoded = malloc((size_t)count * 4);
    w.dense = tensor_alloc(count);
    cr_assert(w.blocks && w.scales && w32 && decoded);
    for (int64_t i = 0; i < count; i++) w32[i] = (float)ldexp(mx_rng_gaussian(rng), exponent);
    MX_CR_OK(mx_ref_quantize(w32, MX_F32, rows, cols, MX_SCALE_FLOOR, w.blocks, w.scales));
    MX_CR_OK(mx_ref_dequantize(w.blocks, w.scales, rows, cols, decoded));
    for (int64_t i = 0; i < count; i++) {
        w.dense.values[i] = decoded[i];
        for (int d = 0; d < 2; d++) w.dense.bits[d][i] = mx_test_encode(decoded[i], d);
    }
    free(w32);
    free(decoded);
    return w;
}

static void weight_free(weight *w) {
    free(w->blocks);
    free(w->scales);
    tensor_free(&w->dense);
}

static void *upload(const void *host, size_t bytes) {
    void *device = NULL;
    MX_CR_CUDA(cudaMalloc(&device, bytes));
    MX_CR_CUDA(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice));
    return device;
}

static void *device_poisoned(int64_t count) {
    void *device = NULL;
    MX_CR_CUDA(cudaMalloc(&device, (size_t)count * 2));
    MX_CR_CUDA(cudaMemset(device, 0xFF, (size_t)count * 2)); /* NaN in FP16 and BF16 */
    return device;
}

static void *device_workspace(size_t bytes) {
    void *device = NULL;
    MX_CR_CUDA(cudaMalloc(&device, bytes > 0 ? bytes : 256));
    MX_CR_CUDA(cudaMemset(device, 0x5A, bytes > 0 ? bytes : 256)); /* no path may rely on zeros */
    return device;
}

static double *widen_all(const uint16_t *y, int dtype_index, int64_t count) {
    double *wide = malloc((size_t)count * sizeof(double));
    cr_assert(wide);
    for (int64_t i = 0; i < count; i++) wide[i] = mx_test_decode(y[i], dtype_index);
    return wide;
}

// ---- the block's host data

typedef struct {
    mx_attention_shape shape;
    int64_t tokens, qkv_rows, q_width;
    tensor x, qkv_bias, o_bias, residual;
    weight w_qkv, w_o;
} host_block;

static host_block block_draw(mx_attention_shape shape, mx_rng *rng) {
    host_block b = {.shape = shape};
    b.tokens = shape.sequences * shape.seq_len;
    b.q_width = shape.q_heads * shape.head_dim;
    b.qkv_rows = b.q_width + 2 * shape.kv_heads * shape.head_dim;
    /* Weights of about 1 / sqrt(hidden) give Q and K entries of about 0.85 and scores of about
     * 0.7: a softmax neither flat nor one-hot, and not so sharp that rounding Q and K to BF16
     * (2^-9 relative, an error proportional to |q| |k| in every score) exceeds the BF16 limit. */
    int exponent = -(int)lround(0.5 * log2((double)shape.hidden));
    b.x = tensor_draw(b.tokens * shape.hidden, 1.0, rng);
    b.qkv_bias = tensor_draw(b.qkv_rows, 0.5, rng);
    b.o_bias = tensor_draw(shape.hidden, 0.5, rng);
    b.residual = tensor_draw(b.tokens * shape.hidden, 1.0, rng);
    b.w_qkv = weight_draw(b.qkv_rows, shape.hidden, exponent, rng);
    b.w_o = weight_draw(shape.hidden, b.q_width, -(int)lround(0.5 * log2((double)b.q_width)), rng);
    return b;
}

static void block_free(host_block *b) {
    tensor_free(&b->x);
    tensor_free(&b->qkv_bias);
    tensor_free(&b->o_bias);
    tensor_free(&b->residual);
    weight_free(&b->w_qkv);
    weight_free(&b->w_o);
}

/* Device copies of one dtype. */
typedef struct {
    mx_attention_context *context;
    void *x, *qkv_bias, *o_bias, *residual, *qkv_weight, *o_weight;
    void *qkv_prepared, *o_prepared; /* the buffers of qkv and o */
    mx_weights qkv, o;
} device_block;

static device_block block_upload(const host_block *b, int d) {
    device_block g = {0};
    MX_CR_OK(mx_attention_context_create(&g.context));
    g.x = upload(b->x.bits[d], (size_t)b->x.count * 2);
    g.qkv_bias = upload(b->qkv_bias.bits[d], (size_t)b->qkv_bias.count * 2);
    g.o_bias = upload(b->o_bias.bits[d], (size_t)b->o_bias.count * 2);
    g.residual = upload(b->residual.bits[d], (size_t)b->residual.count * 2);
    g.qkv_weight = upload(b->w_qkv.dense.bits[d], (size_t)b->w_qkv.dense.count * 2);
    g.o_weight = upload(b->w_o.dense.bits[d], (size_t)b->w_o.dense.count * 2);
    g.qkv = mx_test_prepare_weights(b->w_qkv.blocks, b->w_qkv.scales, b->qkv_rows, b->shape.hidden,
                                    1, &g.qkv_prepared);
    g.o = mx_test_prepare_weights(b->w_o.blocks, b->w_o.scales, b->shape.hidden, b->q_width, 1,
                                  &g.o_prepared);
    return g;
}

static void block_release(device_block *g) {
    void *buffers[] = {g->x,          g->qkv_bias, g->o_bias,       g->residual,
                       g->qkv_weight, g->o_weight, g->qkv_prepared, g->o_prepared};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_attention_context_destroy(g->context);
}

/* The problem on device data; with_extras adds both biases and the residual. */
static mx_attention_problem block_problem(const host_block *b, const device_block *g, int d,
                                          bool with_extras, void *y) {
    mx_attention_problem p = {.shape = b->shape,
                              .x = g->x,
                              .qkv = g->qkv,
                              .o = g->o,
                              .qkv_weight = g->qkv_weight,
                              .o_weight = g->o_weight,
                              .qkv_bias = with_extras ? g->qkv_bias : NULL,
                              .o_bias = with_extras ? g->o_bias : NULL,
                              .residual = with_extras ? g->residual : NULL,
                              .y = y};
    p.shape.dtype = dtype_of(d);
    return p;
}

static double *block_reference(const host_block *b, bool with_extras) {
    double *y = malloc((size_t)(b->tokens * b->shape.hidden) * sizeof(double));
    cr_assert(y);
    MX_CR_OK(mx_ref_attention_f64(&b->shape, b->x.values, b->w_qkv.dense.values,
                                  with_extras ? b->qkv_bias.values : NULL, b->w_o.dense.values,
                                  with_extras ? b->o_bias.values : NULL,
                                  with_extras ? b->residual.values : NULL, y));
    return y;
}

/* Runs the MXFP4 block (or the dense one when dense) into a fresh poisoned y; returns y on the
 * host. With extras, y starts as a copy of the residual and the problem adds it in place. */
static uint16_t *run_block(const host_block *b, const device_block *g, int d, bool with_extras,
                           bool dense, mx_attention_qkv_mode mode, mx_gemm_variant variant) {
    int64_t count = b->tokens * b->shape.hidden;
    void *y = device_poisoned(count);
    mx_attention_problem p = block_problem(b, g, d, with_extras, y);
    if (with_extras) {
        MX_CR_CUDA(cudaMemcpy(y, g->residual, (size_t)count * 2, cudaMemcpyDeviceToDevice));
        p.residual = y;
    }
    size_t bytes = 0;
    if (dense)
        MX_CR_OK(mx_attention_fp16_workspace_bytes(&p, &bytes));
    else
        MX_CR_OK(mx_attention_workspace_bytes(g->context, &p, mode, variant, &bytes));
    void *workspace = device_workspace(bytes);
    if (dense)
        MX_CR_OK(mx_attention_fp16(g->context, &p, workspace, bytes, 0));
    else
        MX_CR_OK(mx_attention(g->context, &p, mode, variant, workspace, bytes, 0));
    uint16_t *host = mx_test_download16(y, count);
    cudaFree(y);
    cudaFree(workspace);
    return host;
}

static const char *shape_text(const mx_attention_shape *s) {
    static char text[160];
    snprintf(text, sizeof text, "sequences=%lld seq_len=%lld hidden=%lld heads=%lld/%lld D=%lld",
             (long long)s->sequences, (long long)s->seq_len, (long long)s->hidden,
             (long long)s->q_heads, (long long)s->kv_heads, (long long)s->head_dim);
    return text;
}

// ---- projections

/* Fused and separate projections multiply the same rows of W_qkv with the same kernels, but the
 * GEMM picks its K split (and cuBLAS its algorithm) from the output width, which differs: the two
 * are expected to agree to FP32 summation order, i.e. within one rounding of the output, not bit
 * for bit (the test logs how many outputs differ). Both are checked against FP64. */
ParameterizedTestParameters(gpu_attention, projections_fused_and_separate) {
    static int64_t tokens[] = {1, 7, 33, 130};
    return cr_make_param_array(int64_t, tokens, sizeof tokens / sizeof tokens[0]);
}

ParameterizedTest(int64_t *tokens, gpu_attention, projections_fused_and_separate) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = {.sequences = 1,
                                .seq_len = *tokens,
                                .hidden = 192,
                                .q_heads = 6,
                                .kv_heads = 2,
                                .head_dim = 64};
    host_block b = block_draw(shape, &rng);
    double *qkv_ref = malloc((size_t)(b.tokens * b.qkv_rows) * sizeof(double));
    double *y_ref = malloc((size_t)(b.tokens * shape.hidden) * sizeof(double));
    tensor attn = tensor_draw(b.tokens * b.q_width, 1.0, &rng);
    cr_assert(qkv_ref && y_ref);
    mx_ref_gemm_f64(b.tokens, b.qkv_rows, shape.hidden, b.x.values, b.w_qkv.dense.values,
                    b.qkv_bias.values, qkv_ref);
    mx_ref_gemm_f64(b.tokens, shape.hidden, b.q_width, attn.values, b.w_o.dense.values,
                    b.o_bias.values, y_ref);
    for (int64_t i = 0; i < b.tokens * shape.hidden; i++) y_ref[i] += b.residual.values[i];
    const int64_t kv_width = shape.kv_heads * shape.head_dim;
    for (int d = 0; d < 2; d++) {
        device_block g = block_upload(&b, d);
        void *attn_device = upload(attn.bits[d], (size_t)attn.count * 2);
        for (int v = 0; v < BLOCK_VARIANT_COUNT; v++) {
            mx_gemm_variant variant = block_variants[v];
            mx_attention_problem p = block_problem(&b, &g, d, true, NULL);
            size_t bytes = 0;
            MX_CR_OK(mx_attention_projection_workspace_bytes(g.context, &p, variant, &bytes));
            void *workspace = device_workspace(bytes);
            void *fused = device_poisoned(b.tokens * b.qkv_rows);
            void *q = device_poisoned(b.tokens * b.q_width),
                 *k = device_poisoned(b.tokens * kv_width),
                 *vv = device_poisoned(b.tokens * kv_width);
            MX_CR_OK(mx_attention_qkv_fused(g.context, &p, variant, fused, workspace, bytes, 0));
            MX_CR_OK(
                mx_attention_qkv_separate(g.context, &p, variant, q, k, vv, workspace, bytes, 0));
            uint16_t *fused_host = mx_test_download16(fused, b.tokens * b.qkv_rows);
            uint16_t *parts[3] = {mx_test_download16(q, b.tokens * b.q_width),
                                  mx_test_download16(k, b.tokens * kv_width),
                                  mx_test_download16(vv, b.tokens * kv_width)};
            /* Separate outputs gathered into the fused layout. */
            uint16_t *gathered = malloc((size_t)(b.tokens * b.qkv_rows) * 2);
            cr_assert(gathered);
            const int64_t offsets[3] = {0, b.q_width, b.q_width + kv_width};
            const int64_t widths[3] = {b.q_width, kv_width, kv_width};
            for (int part = 0; part < 3; part++)
                for (int64_t t = 0; t < b.tokens; t++)
                    memcpy(gathered + t * b.qkv_rows + offsets[part],
                           parts[part] + t * widths[part], (size_t)widths[part] * 2);
            mx_test_errors fused_e =
                mx_test_compare_ulp(fused_host, d, qkv_ref, b.tokens * b.qkv_rows);
            mx_test_errors separate_e =
                mx_test_compare_ulp(gathered, d, qkv_ref, b.tokens * b.qkv_rows);
            double *fused_wide = widen_all(fused_host, d, b.tokens * b.qkv_rows);
            mx_test_errors between =
                mx_test_compare_ulp(gathered, d, fused_wide, b.tokens * b.qkv_rows);
            int64_t differing = 0;
            for (int64_t i = 0; i < b.tokens * b.qkv_rows; i++)
                differing += fused_host[i] != gathered[i];
            cr_log_info("%s %s tokens=%lld: %lld of %lld fused/separate outputs differ in bits",
                        mx_gemm_variant_name(variant), d ? "bf16" : "f16", (long long)*tokens,
                        (long long)differing, (long long)(b.tokens * b.qkv_rows));
            cr_expect(fused_e.nonfinite == 0 && fused_e.rel_l2 <= fused_e.limit,
                      "fused QKV %s %s tokens=%lld: rel_l2 %.3g (limit %.3g), %lld non-finite",
                      mx_gemm_variant_name(variant), d ? "bf16" : "f16", (long long)*tokens,
                      fused_e.rel_l2, fused_e.limit, (long long)fused_e.nonfinite);
            cr_expect(separate_e.nonfinite == 0 && separate_e.rel_l2 <= separate_e.limit,
                      "separate QKV %s %s tokens=%lld: rel_l2 %.3g (limit %.3g), %lld non-finite",
                      mx_gemm_variant_name(variant), d ? "bf16" : "f16", (long long)*tokens,
                      separate_e.rel_l2, separate_e.limit, (long long)separate_e.nonfinite);
            /* Within one rounding: the one-ulp figure, not the 2e-3 floor. */
            double one_rounding = ldexp(1.0, d ? -8 : -11) * 2.0;
            cr_expect(between.nonfinite == 0 && between.rel_l2 <= one_rounding,
                      "fused vs separate %s %s tokens=%lld: rel_l2 %.3g (expected <= %.3g)",
                      mx_gemm_variant_name(variant), d ? "bf16" : "f16", (long long)*tokens,
                      between.rel_l2, one_rounding);

            /* The output projection with bias and residual. */
            void *y = device_poisoned(b.tokens * shape.hidden);
            p.y = y;
            MX_CR_OK(mx_attention_output(g.context, &p, variant, attn_device, workspace, bytes, 0));
            uint16_t *y_host = mx_test_download16(y, b.tokens * shape.hidden);
            mx_test_errors out_e = mx_test_compare_ulp(y_host, d, y_ref, b.tokens * shape.hidden);
            cr_expect(out_e.nonfinite == 0 && out_e.rel_l2 <= out_e.limit,
                      "output projection %s %s tokens=%lld: rel_l2 %.3g (limit %.3g), %lld "
                      "non-finite",
                      mx_gemm_variant_name(variant), d ? "bf16" : "f16", (long long)*tokens,
                      out_e.rel_l2, out_e.limit, (long long)out_e.nonfinite);
            free(y_host);
            cudaFree(y);
            free(fused_wide);
            free(gathered);
            for (int part = 0; part < 3; part++) free(parts[part]);
            free(fused_host);
            void *buffers[] = {workspace, fused, q, k, vv};
            for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
        }
        cudaFree(attn_device);
        block_release(&g);
    }
    tensor_free(&attn);
    free(qkv_ref);
    free(y_ref);
    block_free(&b);
}

// ---- the core

/* Runs the core on Q/K/V stored as one fused buffer (strided heads) and returns its output. */
static uint16_t *run_core(const mx_attention_shape *shape, const tensor *qkv, int d) {
    int64_t tokens = shape->sequences * shape->seq_len;
    int64_t out_count = tokens * shape->q_heads * shape->head_dim;
    mx_attention_context *context;
    MX_CR_OK(mx_attention_context_create(&context));
    mx_attention_shape typed = *shape;
    typed.dtype = dtype_of(d);
    void *qkv_device = upload(qkv->bits[d], (size_t)qkv->count * 2);
    void *out = device_poisoned(out_count);
    size_t bytes = 0;
    MX_CR_OK(mx_attention_core_workspace_bytes(&typed, &bytes));
    void *workspace = device_workspace(bytes);
    mx_attention_qkv_view view = mx_attention_fused_view(&typed, qkv_device);
    MX_CR_OK(mx_attention_core(context, &typed, &view, out, workspace, bytes, 0));
    uint16_t *host = mx_test_download16(out, out_count);
    cudaFree(qkv_device);
    cudaFree(out);
    cudaFree(workspace);
    mx_attention_context_destroy(context);
    return host;
}

typedef struct {
    int sequences, seq_len, q_heads, kv_heads, head_dim;
} core_case;

/* The core reads no hidden size; 32 passes the block's shape check. */
static mx_attention_shape core_shape(const core_case *c) {
    mx_attention_shape shape = {.sequences = c->sequences,
                                .seq_len = c->seq_len,
                                .hidden = 32,
                                .q_heads = c->q_heads,
                                .kv_heads = c->kv_heads,
                                .head_dim = c->head_dim};
    return shape;
}

ParameterizedTestParameters(gpu_attention, core_matches_fp64) {
    static core_case cases[] = {
        {1, 1, 4, 4, 64},    {4, 1, 8, 2, 64},  {2, 7, 4, 1, 64},   {3, 33, 8, 2, 64},
        {1, 130, 4, 4, 128}, {2, 130, 4, 2, 8}, {1, 300, 2, 1, 96}, {2, 64, 64, 8, 64},
    };
    return cr_make_param_array(core_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(core_case *c, gpu_attention, core_matches_fp64) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = core_shape(c);
    int64_t tokens = shape.sequences * shape.seq_len;
    int64_t q_width = shape.q_heads * shape.head_dim, kv_width = shape.kv_heads * shape.head_dim;
    int64_t stride = q_width + 2 * kv_width, out_count = tokens * q_width;
    /* Q at 4x the scale: scores of a few units. */
    tensor qkv = tensor_draw(tokens * stride, 1.0, &rng);
    for (int64_t i = 0; i < qkv.count; i++)
        if (i % stride < q_width) {
            qkv.values[i] *= 4.0;
            for (int d = 0; d < 2; d++) qkv.bits[d][i] = mx_test_encode(qkv.values[i], d);
        }
    double *ref = malloc((size_t)out_count * sizeof(double));
    cr_assert(ref);
    MX_CR_OK(mx_ref_attention_core_f64(&shape, qkv.values, stride, qkv.values + q_width, stride,
                                       qkv.values + q_width + kv_width, stride, ref));
    for (int d = 0; d < 2; d++) {
        uint16_t *out = run_core(&shape, &qkv, d);
        mx_test_errors e = mx_test_compare_ulp(out, d, ref, out_count);
        cr_expect(e.nonfinite == 0 && e.rel_l2 <= e.limit,
                  "core %s %s: rel_l2 %.3g (limit %.3g), %lld non-finite", d ? "bf16" : "f16",
                  shape_text(&shape), e.rel_l2, e.limit, (long long)e.nonfinite);
        free(out);
    }
    free(ref);
    tensor_free(&qkv);
}

/* The core runs in steps of 256 queries (against the keys up to them) and groups of sequences
 * whose scores fit 1 GiB. gpt-oss heads at seq_len 1100: five steps, the last one partial;
 * 1024 heads at seq_len 300: 472 MB of scores per sequence, so three sequences take two passes,
 * the second partial. Spot-checked on the first and last head of each sequence. */
ParameterizedTestParameters(gpu_attention, long_prefill_in_steps_and_passes) {
    static core_case cases[] = {{2, 1100, 64, 8, 64}, {3, 300, 1024, 256, 8}};
    return cr_make_param_array(core_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(core_case *c, gpu_attention, long_prefill_in_steps_and_passes) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = core_shape(c);
    const int64_t tokens = shape.sequences * shape.seq_len, D = shape.head_dim;
    const int64_t q_width = shape.q_heads * D, kv_width = shape.kv_heads * D;
    const int64_t stride = q_width + 2 * kv_width, group = shape.q_heads / shape.kv_heads;
    tensor qkv = tensor_draw(tokens * stride, 2.0, &rng);
    uint16_t *out = run_core(&shape, &qkv, 0);
    mx_attention_shape one_head = shape;
    one_head.sequences = 1;
    one_head.q_heads = one_head.kv_heads = 1;
    double *ref = malloc((size_t)(shape.seq_len * D) * sizeof(double));
    uint16_t *got = malloc((size_t)(shape.seq_len * D) * 2);
    cr_assert(ref && got);
    const int64_t heads[2] = {0, shape.q_heads - 1};
    for (int64_t s = 0; s < shape.sequences; s++)
        for (int h = 0; h < 2; h++) {
            const double *base = qkv.values + s * shape.seq_len * stride;
            int64_t head = heads[h], kv_head = head / group;
            MX_CR_OK(mx_ref_attention_core_f64(
                &one_head, base + head * D, stride, base + q_width + kv_head * D, stride,
                base + q_width + kv_width + kv_head * D, stride, ref));
            for (int64_t i = 0; i < shape.seq_len; i++)
                memcpy(got + i * D, out + (s * shape.seq_len + i) * q_width + head * D,
                       (size_t)D * 2);
            mx_test_errors e = mx_test_compare_ulp(got, 0, ref, shape.seq_len * D);
            cr_expect(e.nonfinite == 0 && e.rel_l2 <= e.limit,
                      "%s, sequence %lld head %lld: rel_l2 %.3g (limit %.3g), %lld non-finite",
                      shape_text(&shape), (long long)s, (long long)head, e.rel_l2, e.limit,
                      (long long)e.nonfinite);
        }
    free(ref);
    free(got);
    free(out);
    tensor_free(&qkv);
}

// ---- the whole block

typedef struct {
    int sequences, seq_len, hidden, q_heads, kv_heads, head_dim;
} block_case;

ParameterizedTestParameters(gpu_attention, block_matches_fp64_and_fp16_reference) {
    static block_case cases[] = {
        {1, 1, 256, 4, 4, 64}, {5, 1, 128, 8, 2, 64},   {2, 7, 128, 4, 2, 64},
        {3, 33, 96, 8, 1, 32}, {1, 130, 256, 4, 4, 64}, {2, 130, 160, 2, 1, 128},
    };
    return cr_make_param_array(block_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(block_case *c, gpu_attention, block_matches_fp64_and_fp16_reference) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = {.sequences = c->sequences,
                                .seq_len = c->seq_len,
                                .hidden = c->hidden,
                                .q_heads = c->q_heads,
                                .kv_heads = c->kv_heads,
                                .head_dim = c->head_dim};
    host_block b = block_draw(shape, &rng);
    const int64_t count = b.tokens * shape.hidden;
    for (int extras = 0; extras < 2; extras++) {
        double *ref = block_reference(&b, extras);
        for (int d = 0; d < 2; d++) {
            device_block g = block_upload(&b, d);
            uint16_t *dense =
                run_block(&b, &g, d, extras, true, MX_ATTENTION_QKV_FUSED, MX_GEMM_AUTO);
            mx_test_errors dense_e = mx_test_compare_ulp(dense, d, ref, count);
            cr_expect(dense_e.nonfinite == 0 && dense_e.rel_l2 <= dense_e.limit,
                      "FP16 reference %s %s%s: rel_l2 vs FP64 %.3g (limit %.3g)",
                      d ? "bf16" : "f16", shape_text(&shape), extras ? " +bias +residual" : "",
                      dense_e.rel_l2, dense_e.limit);
            double *dense_wide = widen_all(dense, d, count);
            for (int mode = 0; mode < MX_ATTENTION_QKV_MODE_COUNT; mode++)
                for (int v = 0; v < BLOCK_VARIANT_COUNT; v++) {
                    uint16_t *y = run_block(&b, &g, d, extras, false, (mx_attention_qkv_mode)mode,
                                            block_variants[v]);
                    mx_test_errors e = mx_test_compare_ulp(y, d, ref, count);
                    mx_test_errors vs_fp16 = mx_test_compare_ulp(y, d, dense_wide, count);
                    cr_expect(e.nonfinite == 0 && e.rel_l2 <= e.limit,
                              "%s %s %s %s%s: rel_l2 vs FP64 %.3g (limit %.3g), %lld non-finite",
                              mx_attention_qkv_mode_name((mx_attention_qkv_mode)mode),
                              mx_gemm_variant_name(block_variants[v]), d ? "bf16" : "f16",
                              shape_text(&shape), extras ? " +bias +residual" : "", e.rel_l2,
                              e.limit, (long long)e.nonfinite);
                    cr_expect(vs_fp16.rel_l2 <= 0.01,
                              "%s %s %s %s: rel_l2 vs the FP16 reference %.3g (limit 1 %%)",
                              mx_attention_qkv_mode_name((mx_attention_qkv_mode)mode),
                              mx_gemm_variant_name(block_variants[v]), d ? "bf16" : "f16",
                              shape_text(&shape), vs_fp16.rel_l2);
                    free(y);
                }
            free(dense_wide);
            free(dense);
            block_release(&g);
        }
        free(ref);
    }
    block_free(&b);
}

/* Changing the tokens of sequence 0 from position 17 on leaves its earlier outputs and every
 * output of sequence 1 bit for bit as they were (the masked probabilities are exact zeros), and
 * does change later ones. */
Test(gpu_attention, causality_and_sequence_independence) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = {
        .sequences = 2, .seq_len = 40, .hidden = 128, .q_heads = 4, .kv_heads = 2, .head_dim = 64};
    const int64_t changed_from = 17;
    host_block b = block_draw(shape, &rng);
    const int64_t count = b.tokens * shape.hidden;
    for (int mode = 0; mode < MX_ATTENTION_QKV_MODE_COUNT; mode++) {
        device_block g = block_upload(&b, 0);
        uint16_t *before =
            run_block(&b, &g, 0, false, false, (mx_attention_qkv_mode)mode, MX_GEMM_AUTO);
        tensor other = tensor_draw((shape.seq_len - changed_from) * shape.hidden, 1.0, &rng);
        MX_CR_CUDA(cudaMemcpy((uint16_t *)g.x + changed_from * shape.hidden, other.bits[0],
                              (size_t)other.count * 2, cudaMemcpyHostToDevice));
        uint16_t *after =
            run_block(&b, &g, 0, false, false, (mx_attention_qkv_mode)mode, MX_GEMM_AUTO);
        int64_t later_changed = 0;
        for (int64_t i = 0; i < count; i++) {
            int64_t token = i / shape.hidden;
            bool affected = token >= changed_from && token < shape.seq_len;
            if (affected)
                later_changed += before[i] != after[i];
            else
                cr_assert_eq(before[i], after[i],
                             "%s: output of token %lld (column %lld) changed with later tokens",
                             mx_attention_qkv_mode_name((mx_attention_qkv_mode)mode),
                             (long long)token, (long long)(i % shape.hidden));
        }
        cr_expect_gt(later_changed, 0, "changing tokens changed none of their outputs");
        tensor_free(&other);
        free(before);
        free(after);
        block_release(&g);
    }
    block_free(&b);
}

// ---- bad arguments

Test(gpu_attention, bad_arguments_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    mx_attention_shape shape = {
        .sequences = 2, .seq_len = 5, .hidden = 64, .q_heads = 4, .kv_heads = 2, .head_dim = 32};
    host_block b = block_draw(shape, &rng);
    device_block g = block_upload(&b, 0);
    const int64_t count = b.tokens * shape.hidden;
    void *y = NULL;
    MX_CR_CUDA(cudaMalloc(&y, (size_t)count * 2));
    MX_CR_CUDA(cudaMemset(y, 0x7E, (size_t)count * 2));
    mx_attention_problem good = block_problem(&b, &g, 0, true, y), bad;
    size_t bytes = 0;
    MX_CR_OK(mx_attention_workspace_bytes(g.context, &good, MX_ATTENTION_QKV_SEPARATE, MX_GEMM_AUTO,
                                          &bytes));
    void *workspace = device_workspace(bytes);
    const mx_attention_qkv_mode sep = MX_ATTENTION_QKV_SEPARATE;
#define REFUSED(problem, status, text)                                                             \
    do {                                                                                           \
        cr_expect_eq(mx_attention(g.context, &(problem), sep, MX_GEMM_AUTO, workspace, bytes, 0),  \
                     status, "%s", mx_last_error());                                               \
        cr_expect(strstr(mx_last_error(), text), "message: %s", mx_last_error());                  \
    } while (0)
    bad = good, bad.shape.kv_heads = 3;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "kv_heads = 3");
    bad = good, bad.shape.sequences = 0;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "sequences = 0");
    bad = good, bad.shape.head_dim = -32;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "head_dim = -32");
    bad = good, bad.shape.hidden = 100;
    REFUSED(bad, MX_ERR_UNSUPPORTED_SHAPE, "hidden = 100");
    bad = good, bad.shape.head_dim = 12;
    REFUSED(bad, MX_ERR_UNSUPPORTED_SHAPE, "head_dim = 12");
    bad = good, bad.shape.head_dim = 264;
    REFUSED(bad, MX_ERR_UNSUPPORTED_SHAPE, "head_dim = 264");
    bad = good, bad.shape.q_heads = 1, bad.shape.kv_heads = 1, bad.shape.head_dim = 8;
    REFUSED(bad, MX_ERR_UNSUPPORTED_SHAPE, "q_heads * head_dim = 8");
    bad = good, bad.shape.sequences = (int64_t)1 << 40, bad.shape.seq_len = (int64_t)1 << 40;
    REFUSED(bad, MX_ERR_UNSUPPORTED_SHAPE, "2^30 tokens");
    bad = good, bad.shape.dtype = MX_F32;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "dtype");
    bad = good, bad.x = NULL;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "x is NULL");
    bad = good, bad.qkv.data = g.qkv.data + 4;
    REFUSED(bad, MX_ERR_MISALIGNED, "qkv");
    bad = good, bad.o.data = NULL;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "o is NULL");
    bad = good, bad.o = bad.qkv;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "o holds [batch 1, n 256");
    bad = good, bad.y = NULL;
    REFUSED(bad, MX_ERR_INVALID_ARGUMENT, "y is NULL");
#undef REFUSED
    char needed[32];
    snprintf(needed, sizeof needed, "%zu", bytes);
    cr_expect_eq(mx_attention(g.context, &good, sep, MX_GEMM_AUTO, workspace, bytes - 1, 0),
                 MX_ERR_WORKSPACE);
    cr_expect(strstr(mx_last_error(), needed), "message: %s", mx_last_error());
    cr_expect_eq(
        mx_attention(g.context, &good, (mx_attention_qkv_mode)7, MX_GEMM_AUTO, workspace, bytes, 0),
        MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_attention(g.context, &good, sep, (mx_gemm_variant)42, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_attention(g.context, &good, sep, MX_GEMM_PERSISTENT, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "persistent"), "message: %s", mx_last_error());
    cr_expect_eq(mx_attention(NULL, &good, sep, MX_GEMM_AUTO, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_attention(g.context, NULL, sep, MX_GEMM_AUTO, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    bad = good, bad.o_weight = NULL;
    size_t dense_bytes = 0;
    MX_CR_OK(mx_attention_fp16_workspace_bytes(&good, &dense_bytes));
    cr_expect_eq(mx_attention_fp16(g.context, &bad, workspace, bytes, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "o_weight"), "message: %s", mx_last_error());
    /* The core: a stride narrower than the heads, and a misaligned view. */
    mx_attention_qkv_view view = mx_attention_fused_view(&good.shape, workspace);
    view.k_stride = 32;
    cr_expect_eq(mx_attention_core(g.context, &good.shape, &view, y, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "k_stride = 32"), "message: %s", mx_last_error());
    view = mx_attention_fused_view(&good.shape, (char *)workspace + 2);
    cr_expect_eq(mx_attention_core(g.context, &good.shape, &view, y, workspace, bytes, 0),
                 MX_ERR_MISALIGNED);
    cr_expect_eq(mx_attention_qkv_fused(g.context, &good, MX_GEMM_AUTO, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    MX_CR_CUDA(cudaDeviceSynchronize());
    uint16_t *host = mx_test_download16(y, count);
    for (int64_t i = 0; i < count; i++)
        cr_assert_eq(host[i], 0x7E7E, "output %lld was written by a refused call", (long long)i);
    free(host);
    cudaFree(y);
    cudaFree(workspace);
    block_release(&g);
    block_free(&b);
}
