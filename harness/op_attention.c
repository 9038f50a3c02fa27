/* The attention op for the harness: the whole block of kernels/attention.h (Q/K/V projections,
 * causal core, output projection) with MXFP4 weights, fused or separate Q/K/V, against the same
 * block with the weights dequantized to FP16/BF16 (mx_attention_fp16, same core). Row: N =
 * q_heads * 64 (head_dim 64), K = hidden, m = seq_len, batch = sequences, kv_heads (0: MHA). */
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_f64.h"
#include "attention_ref.h"
#include "elementwise.h"
#include "fp16.h"
#include "op_util.h"

enum { ATTENTION_HEAD_DIM = 64 };

typedef struct {
    mx_attention_shape shape;
    mx_op_weight w_qkv, w_o;
    void *x, *y, *y_fp16, *y_original;
    double *y_exact, *y_magnitude, *row_sums; /* the element-wise bound's (op_util.h) */
    mx_attention_context *context;
    void *dense_workspace; /* the FP16 reference's, kept from setup */
    size_t dense_workspace_bytes;
} attention_problem;

static const char *const attention_variants[] = {"fused_qkv", "separate_qkv", NULL};

static mx_attention_shape attention_row_shape(const mx_sweep_row *row) {
    mx_attention_shape shape = {.sequences = row->batch,
                                .seq_len = row->m,
                                .hidden = row->k,
                                .q_heads = row->n / ATTENTION_HEAD_DIM,
                                .kv_heads = row->kv_heads,
                                .head_dim = ATTENTION_HEAD_DIM,
                                .dtype = mx_op_row_dtype(row)};
    if (shape.kv_heads == 0) shape.kv_heads = shape.q_heads;
    return shape;
}

/* Multiply-adds of the causal core: Q K^T and P V over the L (L + 1) / 2 visible pairs of each
 * sequence and head. */
static double attention_core_macs(const mx_attention_shape *s) {
    return 2.0 * s->sequences * s->q_heads * s->head_dim * s->seq_len * (s->seq_len + 1.0) / 2.0;
}

/* Multiply-adds of the block: the two projections and the core. */
static double attention_macs(const mx_attention_shape *s) {
    double tokens = (double)s->sequences * s->seq_len;
    double qkv_rows = (double)(s->q_heads + 2 * s->kv_heads) * s->head_dim;
    double q_width = (double)s->q_heads * s->head_dim;
    return tokens * s->hidden * (qkv_rows + q_width) + attention_core_macs(s);
}

/* Weights in the variant's storage, x in and y out, and Q/K/V and the context each written once
 * and read once; the scores are not counted (a fused attention kernel keeps them on chip). */
static double attention_bytes(const mx_sweep_row *row, bool fp16) {
    mx_attention_shape s = attention_row_shape(row);
    double tokens = (double)s.sequences * s.seq_len;
    double qkv_rows = (double)(s.q_heads + 2 * s.kv_heads) * s.head_dim;
    double q_width = (double)s.q_heads * s.head_dim;
    double weights = qkv_rows * s.hidden + s.hidden * q_width;
    double activations = tokens * s.hidden * 2.0 * 2.0 + tokens * (qkv_rows + q_width) * 2.0 * 2.0;
    return weights * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT) + activations;
}

static double attention_flops(const mx_sweep_row *row) {
    mx_attention_shape s = attention_row_shape(row);
    return 2.0 * attention_macs(&s);
}

static void attention_teardown(void *opaque) {
    attention_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,       p->y,           p->y_fp16,   p->y_original,
                       p->y_exact, p->y_magnitude, p->row_sums, p->dense_workspace};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->w_qkv);
    mx_op_weight_free(&p->w_o);
    mx_attention_context_destroy(p->context);
    free(p);
}

/* The block's arguments: MXFP4 weights always, dense ones when given (the FP16 paths). */
static mx_attention_problem attention_view(const attention_problem *p, const void *qkv_weight,
                                           const void *o_weight, void *y) {
    mx_attention_problem problem = {.shape = p->shape,
                                    .x = p->x,
                                    .qkv = p->w_qkv.prepared,
                                    .o = p->w_o.prepared,
                                    .qkv_weight = qkv_weight,
                                    .o_weight = o_weight,
                                    .y = y};
    return problem;
}

static bool attention_dense(attention_problem *p, const void *qkv_weight, const void *o_weight,
                            void *y, cudaStream_t stream, char *why, size_t why_size) {
    mx_attention_problem problem = attention_view(p, qkv_weight, o_weight, y);
    return mx_op_mx_ok(mx_attention_fp16(p->context, &problem, p->dense_workspace,
                                         p->dense_workspace_bytes, stream),
                       why, why_size, "FP16 reference attention");
}

typedef mx_status (*attention_widen_fn)(const void *src, mx_dtype src_dtype, int64_t count,
                                        double *dst, cudaStream_t stream);

/* x, W_qkv and W_o widened to FP64 on the device: their values (mx_bench_widen) or magnitudes
 * (mx_bench_widen_abs). */
static bool attention_widen(const attention_problem *p, attention_widen_fn widen, double *x64,
                            double *w_qkv64, double *w_o64, char *why, size_t why_size) {
    const mx_attention_shape *s = &p->shape;
    const int64_t tokens = s->sequences * s->seq_len, q_width = s->q_heads * s->head_dim;
    return mx_op_mx_ok(widen(p->x, s->dtype, tokens * s->hidden, x64, 0), why, why_size,
                       "widen x") &&
           mx_op_mx_ok(widen(p->w_qkv.exact, MX_F32, p->w_qkv.rows * s->hidden, w_qkv64, 0), why,
                       why_size, "widen W_qkv") &&
           mx_op_mx_ok(widen(p->w_o.exact, MX_F32, s->hidden * q_width, w_o64, 0), why, why_size,
                       "widen W_o");
}

/* The element-wise bound's magnitudes of y (reference/attention_ref.h's three steps), after
 * attention_exact has made qkv64 (device) and ctx (host): |x| . |W_qkv|^T by DGEMM, the Q/K/V
 * allowances on the host, the core's bound on the device (side64 takes the magnitudes, then the
 * allowances; ctx64 the core's bound, then the terms), terms . |W_o|^T by DGEMM. x64, w_qkv64 and
 * w_o64 (their values no longer needed) take the magnitudes (mx_bench_widen_abs). */
static bool attention_bound(attention_problem *p, cublasHandle_t cublas, double *x64,
                            double *w_qkv64, double *w_o64, const double *qkv64, double *side64,
                            double *ctx64, const double *ctx, char *why, size_t why_size) {
    const mx_attention_shape *s = &p->shape;
    const int64_t tokens = s->sequences * s->seq_len, q_width = s->q_heads * s->head_dim;
    const int64_t rows = p->w_qkv.rows, kv_width = s->kv_heads * s->head_dim;
    const mx_elementwise_bound in = mx_elementwise_bound_for(s->dtype, s->hidden);
    const mx_ref_ffn_rounding projections = {in.unit, in.underflow, in.factor, in.gamma,
                                             mx_elementwise_bound_for(s->dtype, q_width).gamma};
    const mx_ref_ffn_rounding core = {in.unit, in.underflow, in.factor,
                                      mx_elementwise_bound_for(s->dtype, s->head_dim).gamma,
                                      mx_elementwise_bound_for(s->dtype, s->seq_len).gamma};
    double *qkv = malloc((size_t)(tokens * rows) * 8), *side = malloc((size_t)(tokens * rows) * 8),
           *x = malloc((size_t)(tokens * s->hidden) * 8);
    double *x_sums = malloc((size_t)tokens * 8), *sums = malloc((size_t)tokens * 8);
    double *terms = malloc((size_t)(tokens * q_width) * 8);
    bool ok = (qkv && side && x && x_sums && sums && terms) ||
              mx_op_failed(why, why_size, "FP64 reference", "out of host memory");
    ok =
        ok && attention_widen(p, mx_bench_widen_abs, x64, w_qkv64, w_o64, why, why_size) &&
        mx_op_dgemm(cublas, tokens, rows, s->hidden, x64, w_qkv64, side64, why, why_size) &&
        mx_op_cuda_ok(cudaMemcpy(qkv, qkv64, (size_t)(tokens * rows) * 8, cudaMemcpyDeviceToHost),
                      why, why_size, "FP64 reference download") &&
        mx_op_cuda_ok(cudaMemcpy(side, side64, (size_t)(tokens * rows) * 8, cudaMemcpyDeviceToHost),
                      why, why_size, "FP64 reference download") &&
        mx_op_cuda_ok(cudaMemcpy(x, x64, (size_t)(tokens * s->hidden) * 8, cudaMemcpyDeviceToHost),
                      why, why_size, "FP64 reference download");
    for (int64_t t = 0; ok && t < tokens; t++) { /* x64 holds |x| now */
        x_sums[t] = 0.0;
        for (int64_t i = 0; i < s->hidden; i++) x_sums[t] += x[t * s->hidden + i];
    }
    if (ok) mx_ref_attention_qkv_allowance_f64(s, qkv, side, x_sums, &projections, side);
    ok =
        ok &&
        mx_op_cuda_ok(cudaMemcpy(side64, side, (size_t)(tokens * rows) * 8, cudaMemcpyHostToDevice),
                      why, why_size, "FP64 reference upload") &&
        mx_op_mx_ok(mx_bench_attention_core_f64(s, qkv64, side64, rows, qkv64 + q_width,
                                                side64 + q_width, rows, qkv64 + q_width + kv_width,
                                                side64 + q_width + kv_width, rows, &core, ctx64, 0),
                    why, why_size, "FP64 attention core's bound") &&
        mx_op_cuda_ok(
            cudaMemcpy(terms, ctx64, (size_t)(tokens * q_width) * 8, cudaMemcpyDeviceToHost), why,
            why_size, "FP64 reference download");
    if (ok) mx_ref_attention_terms_f64(s, ctx, &projections, terms, sums);
    ok = ok &&
         mx_op_cuda_ok(
             cudaMemcpy(ctx64, terms, (size_t)(tokens * q_width) * 8, cudaMemcpyHostToDevice), why,
             why_size, "FP64 reference upload") &&
         mx_op_allocate((void **)&p->y_magnitude, tokens * s->hidden * 8.0, why, why_size,
                        "FP64 reference magnitudes") &&
         mx_op_dgemm(cublas, tokens, s->hidden, q_width, ctx64, w_o64, p->y_magnitude, why,
                     why_size) &&
         mx_op_upload_f64(&p->row_sums, sums, tokens, why, why_size);
    void *host[] = {qkv, side, x, x_sums, sums, terms};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    return ok;
}

/* The block in FP64 on the exactly dequantized weights, all on the device: projections by DGEMM,
 * the core by mx_bench_attention_core_f64 (the formulas of reference/attention_ref.c); y_exact
 * stays there for mx_op_errors; and the element-wise bound's magnitudes (attention_bound). */
static bool attention_exact(attention_problem *p, char *why, size_t why_size) {
    const mx_attention_shape *s = &p->shape;
    const int64_t tokens = s->sequences * s->seq_len, q_width = s->q_heads * s->head_dim;
    const int64_t qkv_rows = p->w_qkv.rows, kv_width = s->kv_heads * s->head_dim;
    double *x64 = NULL, *w_qkv64 = NULL, *w_o64 = NULL, *qkv64 = NULL, *side64 = NULL,
           *ctx64 = NULL;
    double *ctx = malloc((size_t)(tokens * q_width) * 8);
    cublasHandle_t cublas = NULL;
    bool ok =
        (ctx || mx_op_failed(why, why_size, "FP64 reference", "out of host memory")) &&
        (cublasCreate(&cublas) == CUBLAS_STATUS_SUCCESS ||
         mx_op_failed(why, why_size, "cublasCreate", "failed")) &&
        mx_op_allocate((void **)&x64, tokens * s->hidden * 8.0, why, why_size, "FP64 reference") &&
        mx_op_allocate((void **)&w_qkv64, qkv_rows * s->hidden * 8.0, why, why_size,
                       "FP64 reference") &&
        mx_op_allocate((void **)&w_o64, s->hidden * q_width * 8.0, why, why_size,
                       "FP64 reference") &&
        mx_op_allocate((void **)&qkv64, tokens * qkv_rows * 8.0, why, why_size, "FP64 reference") &&
        mx_op_allocate((void **)&side64, tokens * qkv_rows * 8.0, why, why_size,
                       "FP64 reference") &&
        mx_op_allocate((void **)&ctx64, tokens * q_width * 8.0, why, why_size, "FP64 reference") &&
        mx_op_allocate((void **)&p->y_exact, tokens * s->hidden * 8.0, why, why_size,
                       "FP64 reference output") &&
        attention_widen(p, mx_bench_widen, x64, w_qkv64, w_o64, why, why_size) &&
        mx_op_dgemm(cublas, tokens, qkv_rows, s->hidden, x64, w_qkv64, qkv64, why, why_size) &&
        mx_op_mx_ok(mx_bench_attention_core_f64(s, qkv64, NULL, qkv_rows, qkv64 + q_width, NULL,
                                                qkv_rows, qkv64 + q_width + kv_width, NULL,
                                                qkv_rows, NULL, ctx64, 0),
                    why, why_size, "FP64 attention core") &&
        mx_op_dgemm(cublas, tokens, s->hidden, q_width, ctx64, w_o64, p->y_exact, why, why_size) &&
        mx_op_cuda_ok(
            cudaMemcpy(ctx, ctx64, (size_t)(tokens * q_width) * 8, cudaMemcpyDeviceToHost), why,
            why_size, "FP64 reference download") &&
        attention_bound(p, cublas, x64, w_qkv64, w_o64, qkv64, side64, ctx64, ctx, why, why_size) &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP64 reference");
    void *buffers[] = {x64, w_qkv64, w_o64, qkv64, side64, ctx64};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    if (cublas) cublasDestroy(cublas);
    free(ctx);
    return ok;
}

static bool attention_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    char detail[512];
    if (row->n <= 0 || row->n % ATTENTION_HEAD_DIM != 0) {
        snprintf(detail, sizeof detail, "N = %lld: expected q_heads * %d (head_dim %d)",
                 (long long)row->n, ATTENTION_HEAD_DIM, ATTENTION_HEAD_DIM);
        return mx_op_failed(why, why_size, "unsupported shape", detail);
    }
    mx_attention_shape shape = attention_row_shape(row);
    if (mx_attention_check_shape(&shape) != MX_OK) {
        snprintf(detail, sizeof detail, "%s", mx_last_error());
        return mx_op_failed(why, why_size, "unsupported shape", detail);
    }
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    attention_problem *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    p->shape = shape;
    const int64_t tokens = shape.sequences * shape.seq_len, y_count = tokens * shape.hidden;
    const int64_t qkv_rows = (shape.q_heads + 2 * shape.kv_heads) * shape.head_dim;
    mx_attention_problem sizing = attention_view(p, NULL, NULL, NULL);
    bool ok =
        mx_op_mx_ok(mx_attention_context_create(&p->context), why, why_size, "attention context") &&
        mx_op_weight_make(&p->w_qkv, 1, qkv_rows, shape.hidden, shape.dtype, dist,
                          mx_op_seed(row, 0xA77E0001), true, true, why, why_size) &&
        mx_op_weight_make(&p->w_o, 1, shape.hidden, shape.q_heads * shape.head_dim, shape.dtype,
                          dist, mx_op_seed(row, 0xA77E0002), true, true, why, why_size) &&
        mx_op_activations_make(&p->x, y_count, shape.dtype, dist, mx_op_seed(row, 0xA77E0003), why,
                               why_size) &&
        mx_op_allocate(&p->y, y_count * 2.0, why, why_size, "output") &&
        mx_op_allocate(&p->y_fp16, y_count * 2.0, why, why_size, "FP16 reference output") &&
        mx_op_allocate(&p->y_original, y_count * 2.0, why, why_size, "unquantized output") &&
        mx_op_mx_ok(mx_attention_fp16_workspace_bytes(&sizing, &p->dense_workspace_bytes), why,
                    why_size, "FP16 reference workspace") &&
        mx_op_allocate(&p->dense_workspace, (double)p->dense_workspace_bytes, why, why_size,
                       "FP16 reference workspace") &&
        attention_dense(p, p->w_qkv.dequantized, p->w_o.dequantized, p->y_fp16, 0, why, why_size) &&
        attention_dense(p, p->w_qkv.original, p->w_o.original, p->y_original, 0, why, why_size) &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP16 reference attention") &&
        attention_exact(p, why, why_size);
    if (ok) { /* the FP32 copies only fed the exact reference */
        mx_op_weight_drop_exact(&p->w_qkv);
        mx_op_weight_drop_exact(&p->w_o);
    }
    return mx_op_setup_finish(ok, p, attention_teardown, out);
}

static bool attention_prepare(void *opaque, const char *variant, mx_op_prepared *v,
                              mx_bench_memory *memory, char *why, size_t why_size) {
    attention_problem *p = opaque;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = mx_op_weight_bytes_fp16(p->w_qkv.rows, p->w_qkv.cols) +
                                mx_op_weight_bytes_fp16(p->w_o.rows, p->w_o.cols);
    v->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    if (v->fp16) {
        /* Q/K/V, context and scores: allocated in setup among other buffers. */
        memory->workspace_bytes = (int64_t)p->dense_workspace_bytes;
        memory->measured_bytes = -1;
        return true;
    }
    mx_attention_qkv_mode mode;
    if (strcmp(variant, "fused_qkv") == 0)
        mode = MX_ATTENTION_QKV_FUSED;
    else if (strcmp(variant, "separate_qkv") == 0)
        mode = MX_ATTENTION_QKV_SEPARATE;
    else
        return mx_op_failed(why, why_size, "variant", variant);
    v->mode = mode;
    mx_attention_problem problem = attention_view(p, NULL, NULL, p->y);
    if (!mx_op_mx_ok(mx_attention_workspace_bytes(p->context, &problem, mode, MX_GEMM_AUTO,
                                                  &v->workspace_bytes),
                     why, why_size, "workspace"))
        return false;
    memory->weight_bytes_mxfp4 = p->w_qkv.mxfp4_bytes + p->w_o.mxfp4_bytes;
    memory->prepare_us = p->w_qkv.prepare_us + p->w_o.prepare_us;
    /* the projections' own (the block's may hide them under the core's scores) */
    size_t gemm_bytes = 0;
    if (!mx_op_mx_ok(mx_attention_projection_workspace_bytes(p->context, &problem, MX_GEMM_AUTO,
                                                             &gemm_bytes),
                     why, why_size, "workspace"))
        return false;
    memory->measured_bytes = p->w_qkv.mxfp4_measured_bytes + p->w_o.mxfp4_measured_bytes;
    /* Q/K/V, the context and the scores, which the FP16 block needs as well, are not counted; the
     * projections' workspace (dequant_cublas's dequantized weights) is, even where it fits in the
     * scores' region. */
    return mx_op_workspace_allocate(&v->workspace, v->workspace_bytes, p->dense_workspace_bytes,
                                    gemm_bytes, memory, why, why_size);
}

static bool attention_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                          size_t why_size) {
    attention_problem *p = opaque;
    if (v->fp16)
        return attention_dense(p, p->w_qkv.dequantized, p->w_o.dequantized, p->y, stream, why,
                               why_size);
    mx_attention_problem problem = attention_view(p, NULL, NULL, p->y);
    mx_attention_qkv_mode mode = (mx_attention_qkv_mode)v->mode;
    return mx_op_mx_ok(mx_attention(p->context, &problem, mode, MX_GEMM_AUTO, v->workspace,
                                    v->workspace_bytes, stream),
                       why, why_size, mx_attention_qkv_mode_name(mode));
}

static bool attention_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                            mx_bench_errors *errors, char *why, size_t why_size) {
    attention_problem *p = opaque;
    const mx_attention_shape *s = &p->shape;
    const int64_t tokens = s->sequences * s->seq_len;
    mx_op_magnitudes magnitudes = {p->y_magnitude, p->row_sums, s->q_heads * s->head_dim, s->hidden,
                                   tokens};
    mx_op_output output = {.y = p->y,
                           .dtype = s->dtype,
                           .count = tokens * s->hidden,
                           .y_fp16 = p->y_fp16,
                           .y_original = p->y_original,
                           .y_exact = p->y_exact,
                           .magnitudes = p->y_magnitude ? &magnitudes : NULL};
    return mx_op_check_output(&output, attention_run, p, v, stream, errors, why, why_size);
}

const mx_bench_op mx_op_attention = {
    .name = "attention",
    .variants = attention_variants,
    .bytes = attention_bytes,
    .flops = attention_flops,
    .setup = attention_setup,
    .teardown = attention_teardown,
    .prepare = attention_prepare,
    .run = attention_run,
    .check = attention_check,
};
