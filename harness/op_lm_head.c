/* The LM head op for the harness: logits [m, N = vocab] = x [m, K = hidden] . W^T with an MXFP4
 * GEMM variant, then one sampled token per row (temperature 0.8, top_k 50, top_p 0.95, seed from
 * the row): the timed call is the whole LM head step (mx_lm_head). "fp16" = cublasGemmEx on the
 * dequantized FP16/BF16 weights + the same sampling. The errors are measured on the logits (the
 * tokens are a random draw; suites/gpu_lm_head.c checks the sampler's distribution). */
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "op_util.h"

/* The FP64 reference (cuBLAS DGEMM on the device) holds W and the logits in doubles, the logits
 * twice (with the element-wise bound's magnitudes): at most this many weights (4.8 GB; gpt-oss's
 * 201088 x 2880 unembedding fits) and logits (2 GB each). */
#define LM_HEAD_EXACT_MAX_WEIGHTS 600000000LL
#define LM_HEAD_EXACT_MAX_LOGITS  (1LL << 28)

typedef struct {
    int64_t m, vocab, hidden;
    mx_dtype dtype;
    mx_op_weight w;
    void *x, *logits, *logits_fp16, *logits_original;
    double *logits_exact, *logits_magnitude, *row_sums; /* NULL: no such reference */
    int32_t *tokens;
    mx_gemm_context *context;
    cublasHandle_t cublas;
    mx_sampling_params params;
} lm_head_problem;

/* Weights in the variant's storage, x read, logits written by the GEMM and read by sampling. */
static double lm_head_bytes(const mx_sweep_row *row, bool fp16) {
    double weights = (double)row->n * row->k * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT);
    return weights + row->m * row->k * 2.0 + row->m * row->n * 2.0 * 2.0;
}

/* The logits GEMM; sampling's few operations per logit are not counted. */
static double lm_head_flops(const mx_sweep_row *row) {
    return 2.0 * row->m * row->n * row->k;
}

static void lm_head_teardown(void *opaque) {
    lm_head_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,
                       p->logits,
                       p->logits_fp16,
                       p->logits_original,
                       p->logits_exact,
                       p->logits_magnitude,
                       p->row_sums,
                       p->tokens};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->w);
    if (p->cublas) cublasDestroy(p->cublas);
    mx_gemm_context_destroy(p->context);
    free(p);
}

static bool logits_fp16_path(lm_head_problem *p, const void *w, void *logits, cudaStream_t stream,
                             char *why, size_t why_size) {
    return mx_op_mx_ok(mx_gemm_fp16(p->context, p->m, p->vocab, p->hidden, 1, p->dtype, p->x, w,
                                    NULL, logits, stream),
                       why, why_size, "cuBLAS FP16 logits");
}

/* FP64 logits on the exactly dequantized weights and the element-wise bound's magnitudes
 * (mx_op_exact_product), up to a size; above it logits_exact stays NULL. */
static bool exact_logits(lm_head_problem *p, char *why, size_t why_size) {
    if (p->vocab * p->hidden > LM_HEAD_EXACT_MAX_WEIGHTS ||
        p->m * p->vocab > LM_HEAD_EXACT_MAX_LOGITS)
        return true;
    return mx_op_exact_product(p->cublas, p->x, p->dtype, p->w.exact, p->m, p->vocab, p->hidden, 1,
                               &p->logits_exact, &p->logits_magnitude, &p->row_sums, why, why_size);
}

static bool lm_head_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    if (row->k % MX_BLOCK_SIZE != 0 || row->batch != 1 || row->n > INT32_MAX ||
        row->k > INT32_MAX || row->m > INT32_MAX / row->n)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "K must be a multiple of 32, batch 1 and M x N below 2^31");
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    lm_head_problem *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    p->m = row->m;
    p->vocab = row->n;
    p->hidden = row->k;
    p->dtype = mx_op_row_dtype(row);
    p->params = (mx_sampling_params){.temperature = 0.8f,
                                     .top_k = row->n < 50 ? row->n : 50,
                                     .top_p = 0.95f,
                                     .seed = mx_op_seed(row, 0x5A),
                                     .offset = 0};
    const int64_t count = p->m * p->vocab;
    bool keep_exact = p->vocab * p->hidden <= LM_HEAD_EXACT_MAX_WEIGHTS &&
                      p->m * p->vocab <= LM_HEAD_EXACT_MAX_LOGITS;
    bool ok =
        mx_op_mx_ok(mx_gemm_context_create(&p->context), why, why_size, "GEMM context") &&
        (cublasCreate(&p->cublas) == CUBLAS_STATUS_SUCCESS ||
         mx_op_failed(why, why_size, "cublasCreate", "failed")) &&
        mx_op_weight_make(&p->w, 1, p->vocab, p->hidden, p->dtype, dist, mx_op_seed(row, 0x1E),
                          keep_exact, true, why, why_size) &&
        mx_op_activations_make(&p->x, p->m * p->hidden, p->dtype, dist, mx_op_seed(row, 0x1F), why,
                               why_size) &&
        mx_op_allocate(&p->logits, count * 2.0, why, why_size, "logits") &&
        mx_op_allocate(&p->logits_fp16, count * 2.0, why, why_size, "FP16 reference logits") &&
        mx_op_allocate(&p->logits_original, count * 2.0, why, why_size, "unquantized logits") &&
        mx_op_allocate((void **)&p->tokens, p->m * 4.0, why, why_size, "tokens") &&
        logits_fp16_path(p, p->w.dequantized, p->logits_fp16, 0, why, why_size) &&
        logits_fp16_path(p, p->w.original, p->logits_original, 0, why, why_size) &&
        exact_logits(p, why, why_size);
    if (ok) mx_op_weight_drop_exact(&p->w); /* the FP32 copy only fed the exact reference */
    return mx_op_setup_finish(ok, p, lm_head_teardown, out);
}

static mx_gemm_problem logits_problem(const lm_head_problem *p) {
    mx_gemm_problem problem = {.m = p->m,
                               .n = p->vocab,
                               .k = p->hidden,
                               .batch = 1,
                               .dtype = p->dtype,
                               .x = p->x,
                               .w = p->w.prepared,
                               .y = p->logits};
    return problem;
}

static bool lm_head_prepare(void *opaque, const char *variant, mx_op_prepared *v,
                            mx_bench_memory *memory, char *why, size_t why_size) {
    lm_head_problem *p = opaque;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = mx_op_weight_bytes_fp16(p->vocab, p->hidden);
    v->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    mx_gemm_problem problem = logits_problem(p);
    mx_gemm_variant chosen = MX_GEMM_AUTO;
    if (!v->fp16) {
        if (!mx_op_mx_ok(mx_gemm_variant_from_name(variant, &chosen), why, why_size, "variant"))
            return false;
        v->variant = chosen;
        memory->weight_bytes_mxfp4 = p->w.mxfp4_bytes;
        memory->prepare_us = p->w.prepare_us;
    }
    /* GEMM workspace (none for fp16) + the sampler's sort buffers, which every path needs: an
     * MXFP4 row counts only the GEMM's. */
    size_t sampler_bytes = 0;
    if (!mx_op_mx_ok(mx_sample_workspace_bytes(p->m, p->vocab, &sampler_bytes), why, why_size,
                     "workspace"))
        return false;
    v->workspace_bytes = sampler_bytes;
    if (!v->fp16 &&
        !mx_op_mx_ok(mx_lm_head_workspace_bytes(p->context, &problem, chosen, &v->workspace_bytes),
                     why, why_size, "workspace"))
        return false;
    memory->measured_bytes = p->w.mxfp4_measured_bytes;
    bool ok = mx_op_workspace_allocate(&v->workspace, v->workspace_bytes,
                                       v->fp16 ? 0 : sampler_bytes, 0, memory, why, why_size);
    if (v->fp16) memory->measured_bytes = -1; /* its weights: allocated in setup, not measured */
    return ok;
}

static bool lm_head_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                        size_t why_size) {
    lm_head_problem *p = opaque;
    if (v->fp16)
        return logits_fp16_path(p, p->w.dequantized, p->logits, stream, why, why_size) &&
               mx_op_mx_ok(mx_sample(p->logits, p->dtype, p->m, p->vocab, &p->params, p->tokens,
                                     NULL, v->workspace, v->workspace_bytes, stream),
                           why, why_size, "sampling");
    mx_gemm_problem problem = logits_problem(p);
    mx_gemm_variant variant = (mx_gemm_variant)v->variant;
    return mx_op_mx_ok(mx_lm_head(p->context, &problem, variant, &p->params, p->tokens, NULL,
                                  v->workspace, v->workspace_bytes, stream),
                       why, why_size, mx_gemm_variant_name(variant));
}

static bool lm_head_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                          mx_bench_errors *errors, char *why, size_t why_size) {
    lm_head_problem *p = opaque;
    mx_op_magnitudes magnitudes = {p->logits_magnitude, p->row_sums, p->hidden, p->vocab, p->m};
    mx_op_output output = {p->logits,
                           p->dtype,
                           p->m * p->vocab,
                           p->logits_fp16,
                           p->logits_original,
                           p->logits_exact,
                           p->logits_magnitude ? &magnitudes : NULL};
    return mx_op_check_output(&output, lm_head_run, p, v, stream, errors, why, why_size);
}

const mx_bench_op mx_op_lm_head = {
    .name = "lm_head",
    .variants = mx_gemm_block_variant_names,
    .bytes = lm_head_bytes,
    .flops = lm_head_flops,
    .setup = lm_head_setup,
    .teardown = lm_head_teardown,
    .prepare = lm_head_prepare,
    .run = lm_head_run,
    .check = lm_head_check,
};
