/* GPU MoE suite, routing and refusals (the layer's tests and the fixtures are in gpu_moe.c):
 * routing against the CPU FP64 routing (exact logits with ties, and a gaussian router); bad
 * arguments of the layer, of its workspace queries and of routing alone refused before anything is
 * launched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "fp16.h"
#include "moe_ref.h"
#include "gpu_moe.h"

/* Both NaN, or equal. */
static bool same_value(double a, double b) {
    return (isnan(a) && isnan(b)) || a == b;
}

/* An identity router (W_router[e, j] = 1 for j == e) makes the logits x[t, e] + bias[e]: with
 * quarters in [-9, 9] they are exact in FP16 and BF16 and tie often, so the GPU's pick must be
 * the FP64 one exactly, ties going to the lower index, and the weights its softmax. Expert 0's
 * bias is NaN when k < E: its logits are NaN, rank last, and it is never picked. */
static void check_exact_routing(int dtype_index, int experts, int topk, int tokens, mx_rng *rng) {
    const int hidden = 128;
    const int64_t pairs = (int64_t)tokens * topk, logit_count = (int64_t)tokens * experts;
    double *x = mx_test_exact_values((int64_t)tokens * hidden, 0, rng);
    double *router_w = calloc((size_t)experts * hidden, sizeof *router_w);
    double *router_bias = malloc((size_t)experts * sizeof *router_bias);
    int32_t *ids = malloc((size_t)pairs * 4), *ref_ids = malloc((size_t)pairs * 4);
    double *weights = malloc((size_t)pairs * 8), *ref_weights = malloc((size_t)pairs * 8);
    double *logits = malloc((size_t)logit_count * 8), *ref_logits = malloc((size_t)logit_count * 8);
    cr_assert(router_w && router_bias && ids && ref_ids && weights && ref_weights && logits &&
              ref_logits);
    for (int64_t i = 0; i < (int64_t)tokens * hidden; i++)
        if (i % hidden < experts) x[i] = (double)((int)(mx_rng_next(rng) % 64) - 32) / 4;
    for (int e = 0; e < experts; e++) {
        router_w[e * hidden + e] = 1.0;
        router_bias[e] = (double)((int)(mx_rng_next(rng) % 9) - 4) / 4;
    }
    if (topk < experts) router_bias[0] = NAN;
    /* Only the routing fields are uploaded and read. */
    device_moe d = {.dtype_index = dtype_index};
    MX_CR_OK(mx_moe_context_create(&d.context));
    d.problem = (mx_moe_problem){.tokens = tokens,
                                 .hidden = hidden,
                                 .intermediate = 32,
                                 .experts = experts,
                                 .topk = topk,
                                 .dtype = dtype_index ? MX_BF16 : MX_F16};
    d.problem.x = mx_test_upload_dense(x, NULL, (int64_t)tokens * hidden, dtype_index);
    d.problem.router_w =
        mx_test_upload_dense(router_w, NULL, (int64_t)experts * hidden, dtype_index);
    d.problem.router_bias = mx_test_upload_dense(router_bias, NULL, experts, dtype_index);
    mx_test_gpu_route(&d, ids, weights, logits);
    mx_ref_moe_route_f64(tokens, hidden, experts, topk, x, router_w, router_bias, ref_logits,
                         ref_ids, ref_weights);
    const char *dtype = dtype_index ? "bf16" : "f16";
    for (int64_t i = 0; i < logit_count; i++)
        cr_assert(same_value(logits[i], ref_logits[i]), "%s logit %lld: %g, exact %g", dtype,
                  (long long)i, logits[i], ref_logits[i]);
    for (int64_t i = 0; i < pairs; i++) {
        cr_assert_eq(ids[i], ref_ids[i],
                     "%s E=%d k=%d tokens=%d: token %lld slot %lld picks %d, FP64 picks %d", dtype,
                     experts, topk, tokens, (long long)(i / topk), (long long)(i % topk), ids[i],
                     ref_ids[i]);
        cr_assert(fabs(weights[i] - ref_weights[i]) <= 2e-6,
                  "%s E=%d k=%d: token %lld slot %lld: weight %.9g, FP64 %.9g", dtype, experts,
                  topk, (long long)(i / topk), (long long)(i % topk), weights[i], ref_weights[i]);
    }
    void *buffers[] = {x,       router_w,    router_bias, ids,       ref_ids,
                       weights, ref_weights, logits,      ref_logits};
    for (size_t b = 0; b < sizeof buffers / sizeof buffers[0]; b++) free(buffers[b]);
    mx_test_release_moe(&d);
}

Test(gpu_moe, routing_matches_fp64_with_exact_tied_logits) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    /* Up to 64 tokens the router kernel, above cuBLAS and the top-k kernel (moe.h). */
    const int experts_list[] = {1, 4, 32, 128}, topk_list[] = {1, 4};
    const int tokens_list[] = {1, 7, 64, 65, 300};
    for (int t = 0; t < 2; t++)
        for (int e = 0; e < 4; e++)
            for (int k = 0; k < 2; k++)
                for (int n = 0; n < 5; n++)
                    if (topk_list[k] <= experts_list[e])
                        check_exact_routing(t, experts_list[e], topk_list[k], tokens_list[n], &rng);
}

/* A gaussian router: the logits are rounded to the dtype, so they are compared normwise with
 * FP64, and the pick and weights with the FP64 routing of those very logits. Token counts on both
 * sides of the router kernel's bound (64) and in its 8-token tiles, with the logits staged in
 * shared memory (tokens x experts <= 8192) or read from L2 (64 x 200); hidden 352 leaves a
 * partial last step of the kernel's K loop. */
static void check_gaussian_routing(int tokens, int experts, mx_rng *rng) {
    const moe_shape s = {tokens, 352, 32, experts, 4, false};
    host_moe h = mx_test_make_moe(s, ROUTER_GAUSSIAN, rng);
    const int64_t pairs = (int64_t)s.tokens * s.topk, logit_count = (int64_t)s.tokens * s.experts;
    int32_t *ids = malloc((size_t)pairs * 4), *ref_ids = malloc((size_t)pairs * 4);
    double *weights = malloc((size_t)pairs * 8), *ref_weights = malloc((size_t)pairs * 8);
    double *logits = malloc((size_t)logit_count * 8), *exact = malloc((size_t)logit_count * 8),
           *stored = malloc((size_t)logit_count * 8);
    cr_assert(ids && ref_ids && weights && ref_weights && logits && exact && stored);
    for (int t = 0; t < 2; t++) {
        device_moe d = mx_test_upload_moe(&h, t);
        mx_test_gpu_route(&d, ids, weights, logits);
        mx_ref_moe_route_f64(s.tokens, s.hidden, s.experts, s.topk, h.x, h.router_w, h.router_bias,
                             exact, ref_ids, ref_weights);
        for (int64_t i = 0; i < logit_count; i++)
            stored[i] = t ? mx_test_store_bf16(exact[i]) : mx_test_store_f16(exact[i]);
        double limit = fmax(2e-3, 2.0 * mx_test_relative_error(stored, exact, logit_count).rel_l2);
        figures e = mx_test_relative_error(logits, exact, logit_count);
        cr_expect(e.nonfinite == 0 && e.rel_l2 <= limit,
                  "%s, %d tokens: logits rel_l2 %.3g (limit %.3g)", t ? "bf16" : "f16", tokens,
                  e.rel_l2, limit);
        mx_ref_moe_topk_f64(s.tokens, s.experts, s.topk, logits, ref_ids, ref_weights);
        for (int64_t i = 0; i < pairs; i++) {
            cr_assert_eq(ids[i], ref_ids[i],
                         "%d tokens: token %lld slot %lld picks %d, FP64 picks %d", tokens,
                         (long long)(i / s.topk), (long long)(i % s.topk), ids[i], ref_ids[i]);
            cr_assert(fabs(weights[i] - ref_weights[i]) <= 2e-6,
                      "%d tokens: token %lld slot %lld: weight %.9g, FP64 %.9g", tokens,
                      (long long)(i / s.topk), (long long)(i % s.topk), weights[i], ref_weights[i]);
        }
        mx_test_release_moe(&d);
    }
    void *buffers[] = {ids, ref_ids, weights, ref_weights, logits, exact, stored};
    for (size_t b = 0; b < 7; b++) free(buffers[b]);
    mx_test_free_host_moe(&h);
}

Test(gpu_moe, routing_of_a_gaussian_router) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int tokens_list[] = {1, 9, 16, 64, 65, 300};
    for (int n = 0; n < 6; n++) check_gaussian_routing(tokens_list[n], 32, &rng);
    check_gaussian_routing(64, 200, &rng);
}

/* Expects status and a message containing text; nothing may have been written to y. */
static void expect_refused(mx_status got, mx_status expected, const char *text, const char *what) {
    cr_expect_eq(got, expected, "%s: got %s, expected %s (%s)", what, mx_status_string(got),
                 mx_status_string(expected), mx_last_error());
    if (text)
        cr_expect(strstr(mx_last_error(), text), "%s: message '%s' does not name '%s'", what,
                  mx_last_error(), text);
}

Test(gpu_moe, bad_arguments_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_moe h = mx_test_make_moe((moe_shape){5, 96, 64, 4, 2, false}, ROUTER_GAUSSIAN, &rng);
    device_moe d = mx_test_upload_moe(&h, 0);
    const mx_moe_problem good = d.problem;
    size_t needed = 0;
    MX_CR_OK(mx_moe_workspace_bytes(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, &needed));
    cr_assert_gt(needed, 0);
    /* Its GEMMs' part: the larger expert weight dequantized (W1_e, 2I x hidden), inside it; none
     * on the fused kernels. */
    size_t gemm_part = 0;
    MX_CR_OK(mx_moe_gemm_workspace_bytes(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, &gemm_part));
    cr_expect(gemm_part >= (size_t)(2 * good.intermediate * good.hidden * 2) && gemm_part < needed,
              "%zu of %zu", gemm_part, needed);
    MX_CR_OK(mx_moe_gemm_workspace_bytes(d.context, &good, MX_GEMM_FUSED, &gemm_part));
    cr_expect_eq(gemm_part, 0);
    mx_test_workspace_exactly(&d, needed);
    MX_CR_CUDA(cudaMemset(good.y, 0x7E, mx_test_y_bytes(&d)));
    void *ws = d.workspace;
    mx_moe_problem bad;
#define REFUSED(edit, status, text)                                                                \
    do {                                                                                           \
        bad = good;                                                                                \
        edit;                                                                                      \
        expect_refused(mx_moe(d.context, &bad, MX_GEMM_DEQUANT_CUBLAS, ws, needed, 0), status,     \
                       text, #edit);                                                               \
    } while (0)
    REFUSED(bad.experts = 0, MX_ERR_INVALID_ARGUMENT, "experts = 0");
    REFUSED(bad.experts = 5000, MX_ERR_INVALID_ARGUMENT, "experts = 5000");
    REFUSED(bad.topk = 0, MX_ERR_INVALID_ARGUMENT, "topk = 0");
    REFUSED(bad.topk = 5, MX_ERR_INVALID_ARGUMENT, "topk = 5");
    REFUSED(bad.hidden = 100, MX_ERR_INVALID_ARGUMENT, "hidden = 100");
    REFUSED(bad.intermediate = 48, MX_ERR_INVALID_ARGUMENT, "intermediate = 48");
    REFUSED(bad.intermediate = 0, MX_ERR_INVALID_ARGUMENT, "intermediate = 0");
    REFUSED(bad.tokens = 0, MX_ERR_INVALID_ARGUMENT, "tokens = 0");
    REFUSED(bad.tokens = -3, MX_ERR_INVALID_ARGUMENT, "tokens = -3");
    REFUSED(bad.dtype = MX_F32, MX_ERR_INVALID_ARGUMENT, "dtype");
    REFUSED(bad.x = NULL, MX_ERR_INVALID_ARGUMENT, "x is NULL");
    REFUSED(bad.router_w = NULL, MX_ERR_INVALID_ARGUMENT, "router_w is NULL");
    REFUSED(bad.router_w = (const char *)good.router_w + 8, MX_ERR_MISALIGNED, "router_w");
    REFUSED(bad.w1.data = NULL, MX_ERR_INVALID_ARGUMENT, "w1 is NULL");
    REFUSED(bad.w2.magic = 0, MX_ERR_INVALID_ARGUMENT, "w2 is not a prepared view");
    REFUSED(bad.w2.batch = 3, MX_ERR_INVALID_ARGUMENT, "the problem needs [batch 4");
    REFUSED(bad.y = NULL, MX_ERR_INVALID_ARGUMENT, "y is NULL");
    REFUSED(bad.y = (char *)good.y + 2, MX_ERR_MISALIGNED, "y =");
    REFUSED(bad.w1.data = good.w1.data + 4, MX_ERR_MISALIGNED, "w1");
#undef REFUSED
    expect_refused(mx_moe(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, ws, needed - 1, 0),
                   MX_ERR_WORKSPACE, NULL, "workspace one byte short");
    char needed_text[32];
    snprintf(needed_text, sizeof needed_text, "%zu", needed);
    cr_expect(strstr(mx_last_error(), needed_text), "message: %s", mx_last_error());
    expect_refused(mx_moe(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, NULL, needed, 0),
                   MX_ERR_WORKSPACE, "NULL", "workspace NULL");
    expect_refused(mx_moe(d.context, &good, MX_GEMM_PERSISTENT, ws, needed, 0),
                   MX_ERR_INVALID_ARGUMENT, "persistent", "persistent variant");
    expect_refused(mx_moe(d.context, &good, (mx_gemm_variant)42, ws, needed, 0),
                   MX_ERR_INVALID_ARGUMENT, "variant = 42", "unknown variant");
    expect_refused(mx_moe(NULL, &good, MX_GEMM_AUTO, ws, needed, 0), MX_ERR_INVALID_ARGUMENT,
                   "context", "no context");
    expect_refused(mx_moe(d.context, NULL, MX_GEMM_AUTO, ws, needed, 0), MX_ERR_INVALID_ARGUMENT,
                   "problem", "no problem");
    expect_refused(mx_moe_fp16(d.context, &good, NULL, d.w2_dense, ws, needed, 0),
                   MX_ERR_INVALID_ARGUMENT, "w1 is NULL", "reference without w1");
    /* Refused before anything is launched, so ws may be smaller than the sizes passed. */
    size_t reference_needed = 0, host_needed = 0;
    MX_CR_OK(mx_moe_fp16_workspace_bytes(&good, &reference_needed));
    cr_assert_gt(reference_needed, 0);
    expect_refused(
        mx_moe_fp16(d.context, &good, d.w1_dense, d.w2_dense, ws, reference_needed - 1, 0),
        MX_ERR_WORKSPACE, "mx_moe_fp16", "reference workspace one byte short");
    MX_CR_OK(mx_moe_fp16_host_counts_workspace_bytes(&good, &host_needed));
    cr_assert_gt(host_needed, 0);
    expect_refused(
        mx_moe_fp16_host_counts(d.context, &good, d.w1_dense, d.w2_dense, ws, host_needed - 1, 0),
        MX_ERR_WORKSPACE, "mx_moe_fp16_host_counts",
        "host-count reference workspace one byte short");
    bad = good, bad.topk = 7;
    size_t bytes = 1;
    expect_refused(mx_moe_workspace_bytes(d.context, &bad, MX_GEMM_AUTO, &bytes),
                   MX_ERR_INVALID_ARGUMENT, "topk = 7", "workspace query, topk 7");
    cr_expect_eq(bytes, 0);
    bytes = 1;
    expect_refused(mx_moe_gemm_workspace_bytes(d.context, &bad, MX_GEMM_AUTO, &bytes),
                   MX_ERR_INVALID_ARGUMENT, "topk = 7", "GEMM workspace query, topk 7");
    cr_expect_eq(bytes, 0);
    bytes = 1;
    expect_refused(mx_moe_fp16_workspace_bytes(&bad, &bytes), MX_ERR_INVALID_ARGUMENT, "topk = 7",
                   "reference workspace query, topk 7");
    cr_expect_eq(bytes, 0);
    bytes = 1;
    expect_refused(mx_moe_fp16_host_counts_workspace_bytes(&bad, &bytes), MX_ERR_INVALID_ARGUMENT,
                   "topk = 7", "host-count reference workspace query, topk 7");
    cr_expect_eq(bytes, 0);
    expect_refused(mx_moe_workspace_bytes(d.context, &good, MX_GEMM_PERSISTENT, &bytes),
                   MX_ERR_INVALID_ARGUMENT, "persistent", "workspace query, persistent");
    expect_refused(mx_moe_workspace_bytes(d.context, &good, MX_GEMM_AUTO, NULL),
                   MX_ERR_INVALID_ARGUMENT, "bytes is NULL", "workspace query without bytes");
    cr_expect_eq(mx_moe_fp16_uses_device_counts(&bad), -1);

    /* Routing alone: the same checks on its fields, and its outputs. */
    void *logits;
    int32_t *ids;
    float *weights;
    MX_CR_CUDA(cudaMalloc(&logits, 5 * 4 * 2));
    MX_CR_CUDA(cudaMalloc((void **)&ids, 5 * 2 * 4));
    MX_CR_CUDA(cudaMalloc((void **)&weights, 5 * 2 * 4));
    expect_refused(mx_moe_route(d.context, &bad, logits, ids, weights, 0), MX_ERR_INVALID_ARGUMENT,
                   "topk = 7", "route topk");
    expect_refused(mx_moe_route(d.context, &good, NULL, ids, weights, 0), MX_ERR_INVALID_ARGUMENT,
                   "logits is NULL", "route logits");
    bad = good, bad.router_w = (const char *)good.router_w + 2;
    expect_refused(mx_moe_route(d.context, &bad, logits, ids, weights, 0), MX_ERR_MISALIGNED,
                   "router_w", "route router_w misaligned");
    expect_refused(mx_moe_route(d.context, &good, logits, ids, NULL, 0), MX_ERR_INVALID_ARGUMENT,
                   "expert_weights is NULL", "route weights");

    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d.y_host, good.y, mx_test_y_bytes(&d), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < mx_test_y_bytes(&d) / 2; i++)
        cr_assert_eq(d.y_host[i], 0x7E7E, "output %zu was written by a refused call", i);
    cudaFree(logits);
    cudaFree(ids);
    cudaFree(weights);
    mx_test_release_moe(&d);
    mx_test_free_host_moe(&h);
}
