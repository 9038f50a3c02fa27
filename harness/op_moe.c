/* The MoE op for the harness: the gpt-oss expert layer of kernels/moe.h (router, top-k, per
 * expert MXFP4 MLP1 + SwiGLU and MLP2, weighted combine) against mx_moe_fp16 on the same
 * experts dequantized to FP16/BF16. A row's N is the expert intermediate size I, K the hidden
 * size, M the tokens; experts and topk come from the row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elementwise.h"
#include "fp16.h"
#include "moe_ref.h"
#include "op_util.h"

/* The FP64 reference takes the experts a row hits in groups of at most this many weights: their
 * FP32 copies on the host (4 GB; one expert's FP64 working buffers and the tokens' come on top,
 * about 1 GB at gpt-oss sizes). */
#define MOE_EXACT_GROUP_WEIGHTS 1e9

typedef struct {
    int64_t tokens, hidden, intermediate, experts, topk;
    mx_dtype dtype;
    mx_op_weight w1, w2; /* [experts * 2I, hidden], [experts * hidden, I] */
    void *x, *router_w, *router_bias, *b1, *b2;
    void *y, *y_fp16, *y_original;
    double *y_exact, *y_magnitude, *row_sums; /* the element-wise bound's (op_util.h) */
    mx_moe_context *context;
    void *reference_workspace;
    size_t reference_workspace_bytes;
} moe_problem;

static double moe_expert_weights(const mx_sweep_row *row) {
    return 3.0 * row->n * row->k; /* MLP1 2I x hidden + MLP2 hidden x I */
}

/* Experts a row of m tokens is expected to read when each token picks k of E uniformly:
 * E * (1 - (1 - k/E)^m). */
static double moe_experts_hit(const mx_sweep_row *row) {
    double e = (double)row->experts, k = (double)row->topk;
    return e > 0 ? e * (1.0 - pow(1.0 - k / e, (double)row->m)) : 0.0;
}

/* The weights of the experts expected to be hit, the dense router (read in full by both paths),
 * tokens in and out. */
static double moe_bytes(const mx_sweep_row *row, bool fp16) {
    double expert_bytes = moe_expert_weights(row) * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT);
    double router_bytes = (double)row->experts * row->k * 2.0;
    double activations = (double)row->m * row->k * 2.0 * 2.0;
    return moe_experts_hit(row) * expert_bytes + router_bytes + activations;
}

static double moe_flops(const mx_sweep_row *row) {
    return 2.0 * row->m * row->topk * moe_expert_weights(row) +
           2.0 * row->m * row->experts * row->k;
}

static void moe_teardown(void *opaque) {
    moe_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->x,       p->router_w,    p->router_bias, p->b1,
                       p->b2,      p->y,           p->y_fp16,      p->y_original,
                       p->y_exact, p->y_magnitude, p->row_sums,    p->reference_workspace};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->w1);
    mx_op_weight_free(&p->w2);
    mx_moe_context_destroy(p->context);
    free(p);
}

static mx_moe_problem moe_view(const moe_problem *p) {
    mx_moe_problem problem = {.tokens = p->tokens,
                              .hidden = p->hidden,
                              .intermediate = p->intermediate,
                              .experts = p->experts,
                              .topk = p->topk,
                              .dtype = p->dtype,
                              .x = p->x,
                              .router_w = p->router_w,
                              .router_bias = p->router_bias,
                              .w1 = p->w1.prepared,
                              .b1 = p->b1,
                              .w2 = p->w2.prepared,
                              .b2 = p->b2,
                              .y = p->y};
    return problem;
}

static bool reference(moe_problem *p, const void *w1, const void *w2, void *y, cudaStream_t stream,
                      char *why, size_t why_size) {
    mx_moe_problem problem = moe_view(p);
    problem.y = y;
    return mx_op_mx_ok(mx_moe_fp16(p->context, &problem, w1, w2, p->reference_workspace,
                                   p->reference_workspace_bytes, stream),
                       why, why_size, "FP16 reference");
}

/* Dense [count] values of dtype, normal(0, 0.02) (the router and the biases). */
static bool dense_make(void **out, int64_t count, mx_dtype dtype, uint64_t seed, char *why,
                       size_t why_size) {
    float *scratch = NULL;
    bool ok = mx_op_allocate(out, count * 2.0, why, why_size, "dense weights") &&
              mx_op_allocate((void **)&scratch, count * 4.0, why, why_size, "dense scratch") &&
              mx_op_mx_ok(mx_bench_fill(scratch, 1, count, MX_DIST_GAUSSIAN, seed, 0), why,
                          why_size, "dense weights") &&
              mx_op_mx_ok(mx_bench_narrow(scratch, count, dtype, *out, 0), why, why_size,
                          "dense weights") &&
              mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "dense weights");
    cudaFree(scratch);
    return ok;
}

/* Host FP32 copy of the weights (per_expert each, contiguous per expert) of the experts in used,
 * in that order. */
static float *compact_experts(const float *device, const int32_t *used, int64_t used_count,
                              int64_t per_expert, char *why, size_t why_size) {
    float *host = malloc((size_t)(used_count * per_expert) * sizeof *host);
    if (!host) {
        mx_op_failed(why, why_size, "FP64 reference", "out of host memory");
        return NULL;
    }
    for (int64_t i = 0; i < used_count; i++)
        if (!mx_op_cuda_ok(cudaMemcpy(host + i * per_expert, device + used[i] * per_expert,
                                      (size_t)per_expert * sizeof *host, cudaMemcpyDeviceToHost),
                           why, why_size, "FP64 reference download")) {
            free(host);
            return NULL;
        }
    return host;
}

/* The rows of a per-expert [experts, width] table (biases) of the experts in used. */
static void compact_rows(const double *all, const int32_t *used, int64_t used_count, int64_t width,
                         double *out) {
    for (int64_t i = 0; i < used_count; i++)
        memcpy(out + i * width, all + used[i] * width, (size_t)width * sizeof *out);
}

/* y_exact: the GPU's routing (so that a near-tie cannot pick other experts than the kernels),
 * then the layer in FP64 on the exactly dequantized weights of the experts it hits (a group of
 * them at a time, MOE_EXACT_GROUP_WEIGHTS), with the element-wise bound's magnitudes
 * (mx_ref_moe_bound_f64: the experts' products by cuBLAS DGEMM on this GPU, mx_op_gpu_product_hook;
 * the rest on the CPU). */
static bool exact_reference(moe_problem *p, char *why, size_t why_size) {
    const int64_t pairs = p->tokens * p->topk, I = p->intermediate, hidden = p->hidden;
    void *logits = NULL;
    int32_t *ids_device = NULL, *ids = malloc((size_t)pairs * sizeof *ids);
    int32_t *used = malloc((size_t)p->experts * sizeof *used);
    int32_t *compact_index = malloc((size_t)p->experts * sizeof *compact_index);
    float *weights_device = NULL, *weights32 = malloc((size_t)pairs * sizeof *weights32);
    double *weights = malloc((size_t)pairs * sizeof *weights);
    double *x = NULL, *b1 = NULL, *b2 = NULL, *b1_used = NULL, *b2_used = NULL, *y = NULL,
           *magnitude = NULL, *row_sums = NULL;
    float *w1 = NULL, *w2 = NULL;
    int32_t *group_ids = NULL;
    mx_moe_problem problem = moe_view(p);
    bool ok = (ids && used && compact_index && weights32 && weights) ||
              mx_op_failed(why, why_size, "FP64 reference", "out of host memory");
    ok = ok && mx_op_allocate(&logits, p->tokens * p->experts * 2.0, why, why_size, "logits") &&
         mx_op_allocate((void **)&ids_device, pairs * 4.0, why, why_size, "expert ids") &&
         mx_op_allocate((void **)&weights_device, pairs * 4.0, why, why_size, "weights") &&
         mx_op_mx_ok(mx_moe_route(p->context, &problem, logits, ids_device, weights_device, 0), why,
                     why_size, "routing") &&
         mx_op_cuda_ok(cudaMemcpy(ids, ids_device, (size_t)pairs * 4, cudaMemcpyDeviceToHost), why,
                       why_size, "routing download") &&
         mx_op_cuda_ok(
             cudaMemcpy(weights32, weights_device, (size_t)pairs * 4, cudaMemcpyDeviceToHost), why,
             why_size, "routing download");
    int64_t used_count = 0;
    if (ok) {
        for (int64_t e = 0; e < p->experts; e++) compact_index[e] = -1;
        for (int64_t i = 0; i < pairs; i++) {
            if (compact_index[ids[i]] < 0) {
                compact_index[ids[i]] = (int32_t)used_count;
                used[used_count++] = ids[i];
            }
            weights[i] = weights32[i];
        }
        for (int64_t i = 0; i < pairs; i++) ids[i] = compact_index[ids[i]];
    }
    ok = ok && mx_op_download_f64(&x, p->x, p->dtype, p->tokens * hidden, why, why_size) &&
         mx_op_download_f64(&b1, p->b1, p->dtype, p->experts * 2 * I, why, why_size) &&
         mx_op_download_f64(&b2, p->b2, p->dtype, p->experts * hidden, why, why_size);
    if (ok) {
        b1_used = malloc((size_t)(used_count * 2 * I) * sizeof *b1_used);
        b2_used = malloc((size_t)(used_count * hidden) * sizeof *b2_used);
        group_ids = malloc((size_t)pairs * sizeof *group_ids);
        y = calloc((size_t)(p->tokens * hidden), sizeof *y);
        magnitude = calloc((size_t)(p->tokens * hidden), sizeof *magnitude);
        row_sums = calloc((size_t)p->tokens, sizeof *row_sums);
        ok = (b1_used && b2_used && group_ids && y && magnitude && row_sums) ||
             mx_op_failed(why, why_size, "FP64 reference", "out of host memory");
    }
    mx_op_gpu_product gpu = {NULL, why, why_size};
    ok = ok && mx_op_gpu_product_open(&gpu, why, why_size);
    const mx_ref_product product = mx_op_gpu_product_hook(&gpu);
    if (ok) {
        compact_rows(b1, used, used_count, 2 * I, b1_used);
        compact_rows(b2, used, used_count, hidden, b2_used);
    }
    const mx_elementwise_bound first = mx_elementwise_bound_for(p->dtype, hidden);
    const mx_ref_ffn_rounding rounding = {first.unit, first.underflow, first.factor, first.gamma,
                                          mx_elementwise_bound_for(p->dtype, I).gamma};
    /* The experts hit, a group at a time (their FP32 weights on the host); the bound adds each
     * group's terms, the other groups' slots out of its id range. */
    const int64_t group = (int64_t)fmax(1.0, MOE_EXACT_GROUP_WEIGHTS / (3.0 * I * hidden));
    for (int64_t start = 0; ok && start < used_count; start += group) {
        const int64_t count = used_count - start < group ? used_count - start : group;
        for (int64_t i = 0; i < pairs; i++) group_ids[i] = ids[i] - (int32_t)start;
        ok = (w1 = compact_experts(p->w1.exact, used + start, count, 2 * I * hidden, why,
                                   why_size)) != NULL &&
             (w2 = compact_experts(p->w2.exact, used + start, count, hidden * I, why, why_size)) !=
                 NULL;
        if (ok) {
            why[0] = '\0'; /* a failed product says why there */
            ok = mx_ref_moe_bound_f64(p->tokens, hidden, I, p->topk, count, x, w1,
                                      b1_used + start * 2 * I, w2, b2_used + start * hidden,
                                      group_ids, weights, &rounding, &product, y, magnitude,
                                      row_sums) == 0 ||
                 (!why[0] && mx_op_failed(why, why_size, "FP64 reference", "out of host memory"));
        }
        free(w1);
        free(w2);
        w1 = w2 = NULL;
    }
    ok = ok && mx_op_upload_f64(&p->y_exact, y, p->tokens * hidden, why, why_size) &&
         mx_op_upload_f64(&p->y_magnitude, magnitude, p->tokens * hidden, why, why_size) &&
         mx_op_upload_f64(&p->row_sums, row_sums, p->tokens, why, why_size);
    mx_op_gpu_product_close(&gpu);
    void *device_buffers[] = {logits, ids_device, weights_device};
    for (size_t i = 0; i < sizeof device_buffers / sizeof device_buffers[0]; i++)
        cudaFree(device_buffers[i]);
    void *host_buffers[] = {ids, used,    compact_index, weights32, weights, x,         b1,
                            b2,  b1_used, b2_used,       group_ids, y,       magnitude, row_sums};
    for (size_t i = 0; i < sizeof host_buffers / sizeof host_buffers[0]; i++) free(host_buffers[i]);
    return ok;
}

static bool moe_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    if (row->experts < 1 || row->topk < 1 || row->topk > row->experts ||
        row->experts > MX_MOE_MAX_EXPERTS || row->batch != 1)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "moe needs experts in 1..4096, topk in 1..experts and batch 1");
    if (row->k % MX_BLOCK_SIZE != 0 || row->n % MX_BLOCK_SIZE != 0 ||
        row->m > (1 << 30) / row->topk)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "moe needs N (intermediate) and K (hidden) multiples of 32 and "
                            "M x topk <= 2^30");
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    moe_problem *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    p->tokens = row->m;
    p->hidden = row->k;
    p->intermediate = row->n;
    p->experts = row->experts;
    p->topk = row->topk;
    p->dtype = mx_op_row_dtype(row);
    const int64_t E = p->experts, I = p->intermediate, hidden = p->hidden;
    const int64_t y_count = p->tokens * hidden;
    mx_moe_problem shape = {.tokens = p->tokens,
                            .hidden = hidden,
                            .intermediate = I,
                            .experts = E,
                            .topk = p->topk,
                            .dtype = p->dtype};
    bool ok =
        mx_op_mx_ok(mx_moe_fp16_workspace_bytes(&shape, &p->reference_workspace_bytes), why,
                    why_size, "FP16 reference workspace") &&
        mx_op_mx_ok(mx_moe_context_create(&p->context), why, why_size, "MoE context") &&
        mx_op_weight_make(&p->w1, E, E * 2 * I, hidden, p->dtype, dist, mx_op_seed(row, 0x3E1),
                          true, true, why, why_size) &&
        mx_op_weight_make(&p->w2, E, E * hidden, I, p->dtype, dist, mx_op_seed(row, 0x3E2), true,
                          true, why, why_size) &&
        mx_op_activations_make(&p->x, y_count, p->dtype, dist, mx_op_seed(row, 0x3E3), why,
                               why_size) &&
        dense_make(&p->router_w, E * hidden, p->dtype, mx_op_seed(row, 0x3E4), why, why_size) &&
        dense_make(&p->router_bias, E, p->dtype, mx_op_seed(row, 0x3E5), why, why_size) &&
        dense_make(&p->b1, E * 2 * I, p->dtype, mx_op_seed(row, 0x3E6), why, why_size) &&
        dense_make(&p->b2, E * hidden, p->dtype, mx_op_seed(row, 0x3E7), why, why_size) &&
        mx_op_allocate(&p->y, y_count * 2.0, why, why_size, "output") &&
        mx_op_allocate(&p->y_fp16, y_count * 2.0, why, why_size, "FP16 reference output") &&
        mx_op_allocate(&p->y_original, y_count * 2.0, why, why_size, "unquantized output") &&
        mx_op_allocate(&p->reference_workspace, (double)p->reference_workspace_bytes, why, why_size,
                       "FP16 reference workspace") &&
        reference(p, p->w1.dequantized, p->w2.dequantized, p->y_fp16, 0, why, why_size) &&
        reference(p, p->w1.original, p->w2.original, p->y_original, 0, why, why_size) &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP16 reference") &&
        exact_reference(p, why, why_size);
    if (ok) { /* the FP32 copies only fed the exact reference */
        mx_op_weight_drop_exact(&p->w1);
        mx_op_weight_drop_exact(&p->w2);
    }
    return mx_op_setup_finish(ok, p, moe_teardown, out);
}

static bool moe_prepare(void *opaque, const char *variant, mx_op_prepared *v,
                        mx_bench_memory *memory, char *why, size_t why_size) {
    moe_problem *p = opaque;
    const int64_t E = p->experts, I = p->intermediate, hidden = p->hidden;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 =
        mx_op_weight_bytes_fp16(E * 2 * I, hidden) + mx_op_weight_bytes_fp16(E * hidden, I);
    v->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    if (v->fp16) {
        /* routing, gathered rows, h, o: allocated in setup among other buffers, not measured */
        memory->workspace_bytes = (int64_t)p->reference_workspace_bytes;
        memory->measured_bytes = -1;
        return true;
    }
    mx_gemm_variant chosen;
    if (!mx_op_mx_ok(mx_gemm_variant_from_name(variant, &chosen), why, why_size, "variant"))
        return false;
    v->variant = chosen;
    mx_moe_problem problem = moe_view(p);
    memory->weight_bytes_mxfp4 = p->w1.mxfp4_bytes + p->w2.mxfp4_bytes;
    memory->prepare_us = p->w1.prepare_us + p->w2.prepare_us;
    if (!mx_op_mx_ok(mx_moe_workspace_bytes(p->context, &problem, chosen, &v->workspace_bytes), why,
                     why_size, "workspace"))
        return false;
    size_t gemm_bytes = 0;
    if (!mx_op_mx_ok(mx_moe_gemm_workspace_bytes(p->context, &problem, chosen, &gemm_bytes), why,
                     why_size, "workspace"))
        return false;
    memory->measured_bytes = p->w1.mxfp4_measured_bytes + p->w2.mxfp4_measured_bytes;
    /* The routing, the gathered rows, h and o, which the FP16 path needs as well, are not
     * counted; what the GEMMs use (dequant_cublas's dequantized experts) is. */
    return mx_op_workspace_allocate(&v->workspace, v->workspace_bytes, p->reference_workspace_bytes,
                                    gemm_bytes, memory, why, why_size);
}

static bool moe_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                    size_t why_size) {
    moe_problem *p = opaque;
    if (v->fp16)
        return reference(p, p->w1.dequantized, p->w2.dequantized, p->y, stream, why, why_size);
    mx_moe_problem problem = moe_view(p);
    mx_gemm_variant variant = (mx_gemm_variant)v->variant;
    return mx_op_mx_ok(
        mx_moe(p->context, &problem, variant, v->workspace, v->workspace_bytes, stream), why,
        why_size, mx_gemm_variant_name(variant));
}

static bool moe_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                      mx_bench_errors *errors, char *why, size_t why_size) {
    moe_problem *p = opaque;
    mx_op_magnitudes magnitudes = {p->y_magnitude, p->row_sums, p->intermediate, p->hidden,
                                   p->tokens};
    mx_op_output output = {.y = p->y,
                           .dtype = p->dtype,
                           .count = p->tokens * p->hidden,
                           .y_fp16 = p->y_fp16,
                           .y_original = p->y_original,
                           .y_exact = p->y_exact,
                           .magnitudes = p->y_magnitude ? &magnitudes : NULL};
    return mx_op_check_output(&output, moe_run, p, v, stream, errors, why, why_size);
}

const mx_bench_op mx_op_moe = {
    .name = "moe",
    .variants = mx_gemm_block_variant_names,
    .bytes = moe_bytes,
    .flops = moe_flops,
    .setup = moe_setup,
    .teardown = moe_teardown,
    .prepare = moe_prepare,
    .run = moe_run,
    .check = moe_check,
};
