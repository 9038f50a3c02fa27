/* The FFN ops for the harness (ffn_gelu, ffn_swiglu, ffn_gptoss): kernels/ffn.h's block with the
 * activation fused into the GEMM epilogues or run separately, against the same block on dense
 * FP16/BF16 weights (mx_ffn_fp16). A row's M is the tokens, N the intermediate size, K the
 * hidden size; biases on both GEMMs, residual = x. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.h"
#include "ffn_ref.h"
#include "fp16.h"
#include "op_util.h"

typedef struct {
    mx_ffn_problem problem; /* the MXFP4 block on this problem's buffers */
    mx_op_weight up, down;
    void *x, *y, *up_bias, *down_bias, *y_fp16, *y_original, *dense_workspace;
    size_t dense_workspace_bytes;
    double *y_exact, *y_magnitude, *row_sums; /* the element-wise bound's (op_util.h) */
    mx_gemm_context *context;
} ffn_state;

/* The sweep's variants: the GEMM variant and where the activation runs. */
static const struct {
    const char *name;
    mx_gemm_variant variant;
    mx_ffn_epilogue mode;
} ffn_variant_table[] = {
    {"epilogue", MX_GEMM_AUTO, MX_FFN_FUSED},
    {"separate", MX_GEMM_AUTO, MX_FFN_SEPARATE},
    {"fused_epilogue", MX_GEMM_FUSED, MX_FFN_FUSED},
    {"skinny_epilogue", MX_GEMM_SKINNY, MX_FFN_FUSED},
};
static const char *const ffn_variants[] = {"epilogue", "separate", "fused_epilogue",
                                           "skinny_epilogue", NULL};

static int64_t ffn_weight_count(const mx_sweep_row *row, mx_activation activation) {
    return (mx_ffn_up_rows(activation, row->n) + row->n) * row->k;
}

static double ffn_bytes(const mx_sweep_row *row, bool fp16, mx_activation activation) {
    double weights = (double)ffn_weight_count(row, activation);
    double activations = 3.0 * row->m * row->k * 2.0; /* x, y, residual */
    return weights * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT) + activations;
}

static double ffn_flops(const mx_sweep_row *row, mx_activation activation) {
    return 2.0 * row->m * row->k * (double)(mx_ffn_up_rows(activation, row->n) + row->n);
}

static void ffn_teardown(void *opaque) {
    ffn_state *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,           p->y,          p->up_bias,         p->down_bias,
                       p->y_fp16,      p->y_original, p->dense_workspace, p->y_exact,
                       p->y_magnitude, p->row_sums};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->up);
    mx_op_weight_free(&p->down);
    mx_gemm_context_destroy(p->context);
    free(p);
}

static bool ffn_dense(ffn_state *p, const void *up, const void *down, void *y, cudaStream_t stream,
                      char *why, size_t why_size) {
    mx_ffn_problem problem = p->problem;
    problem.y = y;
    return mx_op_mx_ok(mx_ffn_fp16(p->context, &problem, up, down, p->dense_workspace,
                                   p->dense_workspace_bytes, stream),
                       why, why_size, "FP16 reference FFN");
}

/* The FP64 block on the exactly dequantized weights and the dtype's inputs, and its element-wise
 * bound's magnitudes (mx_ref_ffn_bound_f64), uploaded: every row has them, the products by cuBLAS
 * DGEMM on this GPU (mx_op_gpu_product_hook), the activation and the bound's element-wise steps
 * by the reference on the CPU. */
static bool ffn_exact(ffn_state *p, char *why, size_t why_size) {
    const mx_ffn_problem *f = &p->problem;
    const int64_t up_n = mx_ffn_up_rows(f->activation, f->intermediate);
    double *x = NULL, *up = NULL, *down = NULL, *up_bias = NULL, *down_bias = NULL, *y = NULL,
           *magnitude = NULL, *row_sums = NULL;
    bool ok = mx_op_download_f64(&x, p->x, f->dtype, f->m * f->hidden, why, why_size) &&
              mx_op_download_f64(&up, p->up.exact, MX_F32, up_n * f->hidden, why, why_size) &&
              mx_op_download_f64(&down, p->down.exact, MX_F32, f->hidden * f->intermediate, why,
                                 why_size) &&
              mx_op_download_f64(&up_bias, p->up_bias, f->dtype, up_n, why, why_size) &&
              mx_op_download_f64(&down_bias, p->down_bias, f->dtype, f->hidden, why, why_size);
    mx_op_gpu_product gpu = {NULL, why, why_size};
    ok = ok && mx_op_gpu_product_open(&gpu, why, why_size);
    const mx_ref_product product = mx_op_gpu_product_hook(&gpu);
    if (ok) {
        const mx_elementwise_bound first = mx_elementwise_bound_for(f->dtype, f->hidden);
        const mx_ref_ffn_rounding rounding = {
            first.unit, first.underflow, first.factor, first.gamma,
            mx_elementwise_bound_for(f->dtype, f->intermediate).gamma};
        y = malloc((size_t)(f->m * f->hidden) * sizeof *y);
        magnitude = malloc((size_t)(f->m * f->hidden) * sizeof *magnitude);
        row_sums = malloc((size_t)f->m * sizeof *row_sums);
        why[0] = '\0'; /* a failed product says why there */
        ok = (y && magnitude && row_sums &&
              mx_ref_ffn_f64(f->m, f->hidden, f->intermediate, f->activation, x, up, up_bias, down,
                             down_bias, x, &product, y) == 0 &&
              mx_ref_ffn_bound_f64(f->m, f->hidden, f->intermediate, f->activation, x, up, up_bias,
                                   down, &rounding, &product, magnitude, row_sums) == 0) ||
             (!why[0] && mx_op_failed(why, why_size, "FP64 reference", "out of host memory"));
    }
    mx_op_gpu_product_close(&gpu);
    ok = ok && mx_op_upload_f64(&p->y_exact, y, f->m * f->hidden, why, why_size) &&
         mx_op_upload_f64(&p->y_magnitude, magnitude, f->m * f->hidden, why, why_size) &&
         mx_op_upload_f64(&p->row_sums, row_sums, f->m, why, why_size);
    double *host[] = {x, up, down, up_bias, down_bias, y, magnitude, row_sums};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    return ok;
}

static bool ffn_setup(const mx_sweep_row *row, mx_activation activation, void **out, char *why,
                      size_t why_size) {
    *out = NULL;
    if (row->batch != 1)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "the FFN block runs one batch entry (batch must be 1)");
    if (row->k % MX_BLOCK_SIZE != 0 || row->n % MX_BLOCK_SIZE != 0 || row->m > INT32_MAX / 2 ||
        2 * row->n > INT32_MAX / 2 || row->k > INT32_MAX / 2)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "N (intermediate) and K (hidden) must be multiples of 32, M, 2N, K < "
                            "2^30");
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    ffn_state *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    const int64_t m = row->m, hidden = row->k, intermediate = row->n;
    const int64_t up_n = mx_ffn_up_rows(activation, intermediate);
    const mx_dtype dtype = mx_op_row_dtype(row);
    bool ok =
        mx_op_mx_ok(mx_gemm_context_create(&p->context), why, why_size, "GEMM context") &&
        mx_op_weight_make(&p->up, 1, up_n, hidden, dtype, dist, mx_op_seed(row, 0xFF01), true, true,
                          why, why_size) &&
        mx_op_weight_make(&p->down, 1, hidden, intermediate, dtype, dist, mx_op_seed(row, 0xFF02),
                          true, true, why, why_size) &&
        mx_op_activations_make(&p->x, m * hidden, dtype, dist, mx_op_seed(row, 0xFF03), why,
                               why_size) &&
        mx_op_activations_make(&p->up_bias, up_n, dtype, dist, mx_op_seed(row, 0xFF04), why,
                               why_size) &&
        mx_op_activations_make(&p->down_bias, hidden, dtype, dist, mx_op_seed(row, 0xFF05), why,
                               why_size) &&
        mx_op_allocate(&p->y, m * hidden * 2.0, why, why_size, "output") &&
        mx_op_allocate(&p->y_fp16, m * hidden * 2.0, why, why_size, "FP16 reference output") &&
        mx_op_allocate(&p->y_original, m * hidden * 2.0, why, why_size, "unquantized output");
    if (ok) {
        p->problem = (mx_ffn_problem){.m = m,
                                      .hidden = hidden,
                                      .intermediate = intermediate,
                                      .dtype = dtype,
                                      .activation = activation,
                                      .x = p->x,
                                      .up = p->up.prepared,
                                      .up_bias = p->up_bias,
                                      .down = p->down.prepared,
                                      .down_bias = p->down_bias,
                                      .residual = p->x,
                                      .y = p->y};
        ok = mx_op_mx_ok(mx_ffn_fp16_workspace_bytes(&p->problem, &p->dense_workspace_bytes), why,
                         why_size, "FP16 reference workspace") &&
             mx_op_allocate(&p->dense_workspace, (double)p->dense_workspace_bytes, why, why_size,
                            "FP16 reference workspace") &&
             ffn_dense(p, p->up.dequantized, p->down.dequantized, p->y_fp16, 0, why, why_size) &&
             ffn_dense(p, p->up.original, p->down.original, p->y_original, 0, why, why_size) &&
             mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP16 reference FFN") &&
             ffn_exact(p, why, why_size);
    }
    if (ok) { /* the FP32 copies only fed the exact reference */
        mx_op_weight_drop_exact(&p->up);
        mx_op_weight_drop_exact(&p->down);
    }
    return mx_op_setup_finish(ok, p, ffn_teardown, out);
}

static bool ffn_prepare(void *opaque, const char *variant, mx_op_prepared *prepared,
                        mx_bench_memory *memory, char *why, size_t why_size) {
    ffn_state *p = opaque;
    const mx_ffn_problem *f = &p->problem;
    const int64_t up_n = mx_ffn_up_rows(f->activation, f->intermediate);
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = mx_op_weight_bytes_fp16(up_n, f->hidden) +
                                mx_op_weight_bytes_fp16(f->hidden, f->intermediate);
    prepared->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    if (prepared->fp16) {
        /* h and u: allocated in setup among other buffers, not measured */
        memory->workspace_bytes = (int64_t)p->dense_workspace_bytes;
        memory->measured_bytes = -1;
        return true;
    }
    size_t v = 0;
    while (v < sizeof ffn_variant_table / sizeof ffn_variant_table[0] &&
           strcmp(variant, ffn_variant_table[v].name) != 0)
        v++;
    if (v == sizeof ffn_variant_table / sizeof ffn_variant_table[0])
        return mx_op_failed(why, why_size, "variant",
                            "unknown FFN variant: expected epilogue, separate, fused_epilogue or "
                            "skinny_epilogue");
    prepared->variant = ffn_variant_table[v].variant;
    prepared->mode = ffn_variant_table[v].mode;
    memory->weight_bytes_mxfp4 = p->up.mxfp4_bytes + p->down.mxfp4_bytes;
    memory->prepare_us = p->up.prepare_us + p->down.prepare_us;
    if (!mx_op_mx_ok(mx_ffn_workspace_bytes(p->context, f, ffn_variant_table[v].variant,
                                            ffn_variant_table[v].mode, &prepared->workspace_bytes),
                     why, why_size, "workspace"))
        return false;
    /* the GEMMs' part: less the same block's on the fused kernels, which need none */
    size_t fused_bytes = 0;
    if (!mx_op_mx_ok(mx_ffn_workspace_bytes(p->context, f, MX_GEMM_FUSED, ffn_variant_table[v].mode,
                                            &fused_bytes),
                     why, why_size, "workspace"))
        return false;
    size_t gemm_bytes = prepared->workspace_bytes - fused_bytes;
    memory->measured_bytes = p->up.mxfp4_measured_bytes + p->down.mxfp4_measured_bytes;
    /* h and u, which the FP16 block holds as well, are not counted; the GEMMs' workspace (the
     * cuBLAS variants' dequantized weights) is. */
    return mx_op_workspace_allocate(&prepared->workspace, prepared->workspace_bytes,
                                    p->dense_workspace_bytes, gemm_bytes, memory, why, why_size);
}

static bool ffn_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                    size_t why_size) {
    ffn_state *p = opaque;
    if (v->fp16)
        return ffn_dense(p, p->up.dequantized, p->down.dequantized, p->y, stream, why, why_size);
    mx_ffn_epilogue mode = (mx_ffn_epilogue)v->mode;
    return mx_op_mx_ok(mx_ffn(p->context, &p->problem, (mx_gemm_variant)v->variant, mode,
                              v->workspace, v->workspace_bytes, stream),
                       why, why_size, mx_ffn_epilogue_name(mode));
}

static bool ffn_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                      mx_bench_errors *errors, char *why, size_t why_size) {
    ffn_state *p = opaque;
    const mx_ffn_problem *f = &p->problem;
    mx_op_magnitudes magnitudes = {p->y_magnitude, p->row_sums, f->intermediate, f->hidden, f->m};
    mx_op_output output = {.y = p->y,
                           .dtype = f->dtype,
                           .count = f->m * f->hidden,
                           .y_fp16 = p->y_fp16,
                           .y_original = p->y_original,
                           .y_exact = p->y_exact,
                           .magnitudes = p->y_magnitude ? &magnitudes : NULL};
    return mx_op_check_output(&output, ffn_run, p, v, stream, errors, why, why_size);
}

/* One table entry per activation; only setup, bytes and flops know which. */
#define FFN_OP(suffix, activation)                                                                 \
    static double ffn_##suffix##_bytes(const mx_sweep_row *row, bool fp16) {                       \
        return ffn_bytes(row, fp16, activation);                                                   \
    }                                                                                              \
    static double ffn_##suffix##_flops(const mx_sweep_row *row) {                                  \
        return ffn_flops(row, activation);                                                         \
    }                                                                                              \
    static bool ffn_##suffix##_setup(const mx_sweep_row *row, void **out, char *why,               \
                                     size_t why_size) {                                            \
        return ffn_setup(row, activation, out, why, why_size);                                     \
    }                                                                                              \
    const mx_bench_op mx_op_ffn_##suffix = {                                                       \
        .name = "ffn_" #suffix,                                                                    \
        .variants = ffn_variants,                                                                  \
        .bytes = ffn_##suffix##_bytes,                                                             \
        .flops = ffn_##suffix##_flops,                                                             \
        .setup = ffn_##suffix##_setup,                                                             \
        .teardown = ffn_teardown,                                                                  \
        .prepare = ffn_prepare,                                                                    \
        .run = ffn_run,                                                                            \
        .check = ffn_check,                                                                        \
    };

FFN_OP(gelu, MX_ACT_GELU)
FFN_OP(swiglu, MX_ACT_SWIGLU)
FFN_OP(gptoss, MX_ACT_SWIGLU_GPTOSS)
