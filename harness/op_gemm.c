/* The GEMM op for the harness: Y[m, n] = X[m, k] . W[n, k]^T per batch entry, MXFP4 variants of
 * kernels/gemm.h against cuBLAS FP16 on the same weights dequantized to FP16/BF16: cublasGemmEx
 * with cuBLAS's own choice and cublasLt's heuristic candidates (with a workspace), the runner
 * keeping the fastest. Per problem it keeps three references: that FP16 path, cuBLAS DGEMM on the
 * exactly dequantized weights, and the FP16 path on the original (unquantized) weights. */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "op_util.h"

/* cublasLt's heuristic candidates asked for, and the workspace they may use (cuBLAS's
 * recommendation for Hopper). */
enum { GEMM_LT_CANDIDATES = 16 };
#define GEMM_LT_WORKSPACE ((uint64_t)32 << 20)

typedef struct {
    int64_t m, n, k, batch;
    mx_dtype dtype;
    mx_op_weight w;
    void *x, *y, *y_fp16, *y_original;
    double *y_exact, *y_magnitude, *row_sums; /* the element-wise bound's (op_util.h) */
    mx_gemm_context *context;
    cublasHandle_t cublas;
    /* the FP16 reference's cublasLt candidates (lt_count 0: cublasLt gave none) */
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t lt_desc;
    cublasLtMatrixLayout_t lt_w, lt_x, lt_y;
    cublasLtMatmulHeuristicResult_t lt_algos[GEMM_LT_CANDIDATES];
    int lt_count;
} gemm_problem;

static double gemm_bytes(const mx_sweep_row *row, bool fp16) {
    double weights = (double)row->batch * row->n * row->k;
    double activations = (double)row->batch * row->m * (row->k + row->n) * 2.0;
    return weights * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT) + activations;
}

static double gemm_flops(const mx_sweep_row *row) {
    return 2.0 * row->batch * row->m * row->n * row->k;
}

static void gemm_teardown(void *opaque) {
    gemm_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,       p->y,           p->y_fp16,  p->y_original,
                       p->y_exact, p->y_magnitude, p->row_sums};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->w);
    if (p->cublas) cublasDestroy(p->cublas);
    cublasLtMatrixLayout_t layouts[] = {p->lt_w, p->lt_x, p->lt_y};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (layouts[i]) cublasLtMatrixLayoutDestroy(layouts[i]);
    if (p->lt_desc) cublasLtMatmulDescDestroy(p->lt_desc);
    if (p->lt) cublasLtDestroy(p->lt);
    mx_gemm_context_destroy(p->context);
    free(p);
}

static bool dense(gemm_problem *p, const void *w, void *y, cudaStream_t stream, char *why,
                  size_t why_size) {
    return mx_op_mx_ok(
        mx_gemm_fp16(p->context, p->m, p->n, p->k, p->batch, p->dtype, p->x, w, NULL, y, stream),
        why, why_size, "cuBLAS FP16 reference");
}

/* A dense [rows, cols] column-major layout with leading dimension rows, batch of them stride
 * apart. */
static bool lt_layout(cublasLtMatrixLayout_t *layout, cudaDataType type, int64_t rows, int64_t cols,
                      int64_t batch, int64_t stride) {
    int32_t count = (int32_t)batch;
    return cublasLtMatrixLayoutCreate(layout, type, (uint64_t)rows, (uint64_t)cols, rows) ==
               CUBLAS_STATUS_SUCCESS &&
           (batch == 1 ||
            (cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                              sizeof count) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                              &stride, sizeof stride) == CUBLAS_STATUS_SUCCESS));
}

/* cublasLt's candidates for mx_gemm_fp16's product (the same TN layout, FP32 compute): the
 * column-major Y^T [n, m] = W^T X^T, W stored [k, n], X [k, m]. Without them (any failure) the
 * FP16 reference is cublasGemmEx alone: lt_count stays 0. */
static void lt_candidates(gemm_problem *p) {
    cudaDataType type = p->dtype == MX_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
    uint64_t workspace = GEMM_LT_WORKSPACE;
    cublasLtMatmulPreference_t preference = NULL;
    int returned = 0;
    bool ok = cublasLtCreate(&p->lt) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulDescCreate(&p->lt_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) ==
                  CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulDescSetAttribute(p->lt_desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                             sizeof transpose) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulDescSetAttribute(p->lt_desc, CUBLASLT_MATMUL_DESC_TRANSB, &keep,
                                             sizeof keep) == CUBLAS_STATUS_SUCCESS &&
              lt_layout(&p->lt_w, type, p->k, p->n, p->batch, p->n * p->k) &&
              lt_layout(&p->lt_x, type, p->k, p->m, p->batch, p->m * p->k) &&
              lt_layout(&p->lt_y, type, p->n, p->m, p->batch, p->m * p->n) &&
              cublasLtMatmulPreferenceCreate(&preference) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulPreferenceSetAttribute(
                  preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                  sizeof workspace) == CUBLAS_STATUS_SUCCESS &&
              cublasLtMatmulAlgoGetHeuristic(p->lt, p->lt_desc, p->lt_w, p->lt_x, p->lt_y, p->lt_y,
                                             preference, GEMM_LT_CANDIDATES, p->lt_algos,
                                             &returned) == CUBLAS_STATUS_SUCCESS;
    if (preference) cublasLtMatmulPreferenceDestroy(preference);
    /* the usable ones, each configuration once (the heuristic may repeat one) */
    for (int i = 0; ok && i < returned; i++) {
        bool repeated = p->lt_algos[i].state != CUBLAS_STATUS_SUCCESS;
        for (int j = 0; j < p->lt_count && !repeated; j++)
            repeated =
                memcmp(&p->lt_algos[j].algo, &p->lt_algos[i].algo, sizeof p->lt_algos[i].algo) == 0;
        if (!repeated) p->lt_algos[p->lt_count++] = p->lt_algos[i];
    }
}

static int gemm_fp16_candidates(void *opaque) {
    return ((gemm_problem *)opaque)->lt_count;
}

static void gemm_fp16_candidate_name(void *opaque, int candidate, char *text, size_t size) {
    gemm_problem *p = opaque;
    if (candidate <= 0 || candidate > p->lt_count) {
        snprintf(text, size, "cublasGemmEx, cuBLAS's own choice");
        return;
    }
    const cublasLtMatmulHeuristicResult_t *r = &p->lt_algos[candidate - 1];
    int id = -1, tile = -1, splits = -1;
    cublasLtMatmulAlgoConfigGetAttribute(&r->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, NULL);
    cublasLtMatmulAlgoConfigGetAttribute(&r->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile,
                                         NULL);
    cublasLtMatmulAlgoConfigGetAttribute(&r->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits,
                                         sizeof splits, NULL);
    snprintf(text, size, "cublasLt heuristic #%d: algo %d, tile %d, split-K %d, workspace %zu B",
             candidate, id, tile, splits, r->workspaceSize);
}

static bool gemm_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    if (row->k % MX_BLOCK_SIZE != 0 || row->m > INT32_MAX || row->n > INT32_MAX ||
        row->k > INT32_MAX || row->batch * row->m > INT32_MAX)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "K must be a multiple of 32 and M, N, K, batch x M < 2^31");
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    gemm_problem *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    p->m = row->m;
    p->n = row->n;
    p->k = row->k;
    p->batch = row->batch;
    p->dtype = mx_op_row_dtype(row);
    const int64_t y_count = p->batch * p->m * p->n;
    const uint64_t seed = mx_op_seed(row, (uint64_t)(p->n * 131 + p->k));
    bool ok = mx_op_mx_ok(mx_gemm_context_create(&p->context), why, why_size, "GEMM context") &&
              (cublasCreate(&p->cublas) == CUBLAS_STATUS_SUCCESS ||
               mx_op_failed(why, why_size, "cublasCreate", "failed")) &&
              mx_op_weight_make(&p->w, p->batch, p->batch * p->n, p->k, p->dtype, dist, seed, true,
                                true, why, why_size) &&
              mx_op_activations_make(&p->x, p->batch * p->m * p->k, p->dtype, dist, seed + 1, why,
                                     why_size) &&
              mx_op_allocate(&p->y, y_count * 2.0, why, why_size, "output") &&
              mx_op_allocate(&p->y_fp16, y_count * 2.0, why, why_size, "FP16 reference output") &&
              mx_op_allocate(&p->y_original, y_count * 2.0, why, why_size, "unquantized output") &&
              dense(p, p->w.dequantized, p->y_fp16, 0, why, why_size) &&
              dense(p, p->w.original, p->y_original, 0, why, why_size) &&
              mx_op_exact_product(p->cublas, p->x, p->dtype, p->w.exact, p->m, p->n, p->k, p->batch,
                                  &p->y_exact, &p->y_magnitude, &p->row_sums, why, why_size);
    if (ok) mx_op_weight_drop_exact(&p->w); /* the FP32 copy only fed the exact reference */
    if (ok) lt_candidates(p);
    return mx_op_setup_finish(ok, p, gemm_teardown, out);
}

static bool gemm_prepare(void *opaque, const char *variant, mx_op_prepared *v,
                         mx_bench_memory *memory, char *why, size_t why_size) {
    gemm_problem *p = opaque;
    int64_t weights = p->batch * p->n * p->k;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = 2 * weights;
    v->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    if (v->fp16) {
        memory->measured_bytes = -1; /* allocated in setup among other buffers: not measured */
        if (v->mode < 0 || v->mode > p->lt_count)
            return mx_op_failed(why, why_size, "FP16 candidate", "no such cublasLt candidate");
        v->workspace_bytes = v->mode ? p->lt_algos[v->mode - 1].workspaceSize : 0;
        memory->workspace_bytes = (int64_t)v->workspace_bytes;
        return v->workspace_bytes == 0 || mx_op_allocate(&v->workspace, (double)v->workspace_bytes,
                                                         why, why_size, "cublasLt workspace");
    }
    mx_gemm_variant chosen;
    if (!mx_op_mx_ok(mx_gemm_variant_from_name(variant, &chosen), why, why_size, "variant"))
        return false;
    v->variant = chosen;
    mx_gemm_problem problem = {
        .m = p->m, .n = p->n, .k = p->k, .batch = p->batch, .dtype = p->dtype};
    mx_vram_report vram = mx_gemm_vram(p->context, &problem, chosen);
    memory->weight_bytes_mxfp4 = vram.weight_bytes_mxfp4;
    memory->prepare_us = p->w.prepare_us;
    v->workspace_bytes = (size_t)vram.workspace_bytes;
    memory->measured_bytes = p->w.mxfp4_measured_bytes;
    if (!mx_op_workspace_allocate(&v->workspace, v->workspace_bytes, 0, 0, memory, why, why_size))
        return false;
    if (chosen == MX_GEMM_PERSISTENT) {
        mx_gemm_problem full = problem;
        full.x = p->x;
        full.w = p->w.prepared;
        full.y = p->y;
        return mx_op_mx_ok(mx_gemm_persistent_prepare(p->context, &full, v->workspace,
                                                      v->workspace_bytes, 0),
                           why, why_size, "persistent prepare") &&
               mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "persistent prepare");
    }
    return true;
}

static bool gemm_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                     size_t why_size) {
    gemm_problem *p = opaque;
    if (v->fp16 && v->mode > 0) {
        float one = 1.0f, zero = 0.0f;
        return mx_op_cublas_ok(cublasLtMatmul(p->lt, p->lt_desc, &one, p->w.dequantized, p->lt_w,
                                              p->x, p->lt_x, &zero, p->y, p->lt_y, p->y, p->lt_y,
                                              &p->lt_algos[v->mode - 1].algo, v->workspace,
                                              v->workspace_bytes, stream),
                               why, why_size, "cublasLtMatmul");
    }
    if (v->fp16) return dense(p, p->w.dequantized, p->y, stream, why, why_size);
    mx_gemm_problem problem = {.m = p->m,
                               .n = p->n,
                               .k = p->k,
                               .batch = p->batch,
                               .dtype = p->dtype,
                               .x = p->x,
                               .w = p->w.prepared,
                               .y = p->y};
    return mx_op_mx_ok(mx_gemm(p->context, &problem, (mx_gemm_variant)v->variant, v->workspace,
                               v->workspace_bytes, stream),
                       why, why_size, mx_gemm_variant_name((mx_gemm_variant)v->variant));
}

static bool gemm_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                       mx_bench_errors *errors, char *why, size_t why_size) {
    gemm_problem *p = opaque;
    mx_op_magnitudes magnitudes = {p->y_magnitude, p->row_sums, p->k, p->n, p->m};
    mx_op_output output = {p->y,
                           p->dtype,
                           p->batch * p->m * p->n,
                           p->y_fp16,
                           p->y_original,
                           p->y_exact,
                           p->y_magnitude ? &magnitudes : NULL};
    return mx_op_check_output(&output, gemm_run, p, v, stream, errors, why, why_size);
}

const mx_bench_op mx_op_gemm = {
    .name = "gemm",
    .variants = mx_gemm_variant_names,
    .bytes = gemm_bytes,
    .flops = gemm_flops,
    .setup = gemm_setup,
    .teardown = gemm_teardown,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .check = gemm_check,
    .fp16_candidates = gemm_fp16_candidates,
    .fp16_candidate_name = gemm_fp16_candidate_name,
};
