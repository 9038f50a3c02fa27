/* MoE expert layer (see moe.h), the host's side: the public entry points, their argument checks,
 * the workspace plan (which count path a call takes, where each buffer lives) and the host-count
 * path (CUB groups the pairs by expert, the counts come back to the host, a GEMM pair per expert
 * with tokens). The kernels, their launchers and the layer's run are in moe_kernels.cu; CUB is
 * used in this file only, so that its kernels are compiled once. Figures: docs/moe.md
 * (`mxbench run`, op moe). */
#include <cub/cub.cuh>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dense_gemm.h"
#include "dispatch.h"
#include "fp16.h"
#include "moe_internal.cuh"

// ---- argument checks and the workspace layout

static mx_status mx_moe_check_route_shape(const mx_moe_problem *problem) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->tokens <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "tokens = %lld: expected > 0",
                       (long long)problem->tokens);
    if (problem->experts < 1 || problem->experts > MX_MOE_MAX_EXPERTS)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "experts = %lld: expected 1..%d",
                       (long long)problem->experts, MX_MOE_MAX_EXPERTS);
    if (problem->topk < 1 || problem->topk > problem->experts)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "topk = %lld: expected 1..experts (%lld)",
                       (long long)problem->topk, (long long)problem->experts);
    if (problem->hidden <= 0 || problem->hidden % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "hidden = %lld: expected a positive multiple of 32 (the MXFP4 block)",
                       (long long)problem->hidden);
    if (problem->dtype != MX_F16 && problem->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)problem->dtype);
    /* Pair indices and sorted positions are int32; mx_gemm takes m up to 2^30. */
    if (problem->tokens > (1LL << 30) / problem->topk || problem->hidden > (1LL << 30))
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "tokens x topk = %lld x %lld, hidden = %lld: supported up to 2^30 routed "
                       "pairs and hidden 2^30",
                       (long long)problem->tokens, (long long)problem->topk,
                       (long long)problem->hidden);
    return MX_OK;
}

static mx_status mx_moe_check_layer_shape(const mx_moe_problem *problem) {
    MX_TRY(mx_moe_check_route_shape(problem));
    if (problem->intermediate <= 0 || problem->intermediate % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "intermediate = %lld: expected a positive multiple of 32 (the MXFP4 block)",
                       (long long)problem->intermediate);
    if (problem->intermediate > (1LL << 29))
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "intermediate = %lld: supported up to 2^29 (MLP1 has 2I rows)",
                       (long long)problem->intermediate);
    /* All experts' weights together: [experts * 2I, hidden] and [experts * hidden, I]. */
    MX_TRY(mx_check_shape(problem->experts * 2 * problem->intermediate, problem->hidden));
    return mx_check_shape(problem->experts * problem->hidden, problem->intermediate);
}

static mx_status mx_moe_check_route_pointers(const mx_moe_problem *problem) {
    MX_TRY(mx_check_pointer(problem->x, 16, "x"));
    MX_TRY(mx_check_pointer(problem->router_w, 16, "router_w"));
    if (problem->router_bias) MX_TRY(mx_check_pointer(problem->router_bias, 2, "router_bias"));
    return MX_OK;
}

/* w1, w2: the dense weights of the reference path, or NULL for the MXFP4 path. */
static mx_status mx_moe_check_layer_pointers(const mx_moe_problem *problem, const void *w1,
                                             const void *w2, bool reference) {
    MX_TRY(mx_moe_check_route_pointers(problem));
    if (reference) {
        MX_TRY(mx_check_pointer(w1, 16, "w1"));
        MX_TRY(mx_check_pointer(w2, 16, "w2"));
    } else {
        MX_TRY(mx_weights_check(&problem->w1, 2 * problem->intermediate, problem->hidden,
                                problem->experts, "w1"));
        MX_TRY(mx_weights_check(&problem->w2, problem->hidden, problem->intermediate,
                                problem->experts, "w2"));
    }
    if (problem->b1) MX_TRY(mx_check_pointer(problem->b1, 2, "b1"));
    if (problem->b2) MX_TRY(mx_check_pointer(problem->b2, 2, "b2"));
    if (problem->residual) MX_TRY(mx_check_pointer(problem->residual, 16, "residual"));
    return mx_check_pointer(problem->y, 16, "y");
}

/* An expert GEMM's shape (batch 1, no pointers yet). */
mx_gemm_problem mx_moe_gemm_shape(int64_t m, int64_t n, int64_t k, mx_dtype dtype,
                                  mx_activation activation) {
    mx_gemm_problem problem;
    memset(&problem, 0, sizeof problem);
    problem.m = m;
    problem.n = n;
    problem.k = k;
    problem.batch = 1;
    problem.dtype = dtype;
    problem.activation = activation;
    return problem;
}

static int mx_moe_sort_bits(int64_t experts) {
    int bits = 1;
    while ((1LL << bits) < experts) bits++;
    return bits;
}

/* The device-count path's bounds (moe.h): the padded buffers and the one-warp grouping stay
 * small. The FP16 reference takes that path within them, like auto's MXFP4 layer. */
static bool mx_moe_device_bounds(const mx_moe_problem *problem) {
    const int64_t tokens = problem->tokens;
    return tokens <= MX_MOE_DEVICE_MAX_TOKENS &&
           tokens * problem->topk <= MX_MOE_DEVICE_MAX_PAIRS &&
           tokens * problem->experts <= MX_MOE_DEVICE_MAX_ROWS;
}

/* Whether the MXFP4 layer takes the device-count path, and with which GEMM variant: the expert
 * GEMMs must run on fused or skinny (for auto: as chosen for m = tokens; by the thresholds
 * tokens <= 64, by a dispatch table with rows of the dtype always), within the
 * bounds. */
static bool mx_moe_device_variant(const mx_gemm_context *gemm, const mx_moe_problem *problem,
                                  mx_gemm_variant variant, mx_gemm_variant *runs) {
    const int64_t tokens = problem->tokens;
    if (!mx_moe_device_bounds(problem)) return false;
    mx_gemm_problem shape = mx_moe_gemm_shape(tokens, 2 * problem->intermediate, problem->hidden,
                                              problem->dtype, MX_ACT_SWIGLU_GPTOSS);
    *runs = variant == MX_GEMM_AUTO ? mx_gemm_choose(gemm, &shape) : variant;
    return mx_gemm_variant_runs_mxfp4(*runs);
}

/* reference: the FP16 reference's layout, on the device-count path within the bounds (the
 * regime where auto's MXFP4 layer takes it) unless host_counts forces the other one. */
static mx_status mx_moe_plan(const mx_moe_context *context, const mx_moe_problem *problem,
                             mx_gemm_variant variant, bool reference, bool host_counts,
                             mx_moe_layout *layout) {
    MX_TRY(mx_moe_check_layer_shape(problem));
    const int64_t tokens = problem->tokens, pairs = tokens * problem->topk;
    const int64_t hidden = problem->hidden, intermediate = problem->intermediate;
    const int experts = (int)problem->experts;
    const size_t element = 2; /* FP16 / BF16 */
    layout->runs = variant;
    layout->device_counts =
        reference ? !host_counts && mx_moe_device_bounds(problem)
                  : mx_moe_device_variant(context->gemm, problem, variant, &layout->runs);
    layout->dense_batch = problem->experts < pairs ? problem->experts : pairs;
    /* Device-count path: no CUB, no sort, no GEMM workspace (fused and skinny need none). */
    const bool sorted = !layout->device_counts;
    const int64_t rows = sorted ? pairs : problem->experts * tokens;

    size_t histogram_bytes = 0, sort_bytes = 0;
    MX_CUDA_CHECK(cub::DeviceHistogram::HistogramEven((void *)NULL, histogram_bytes,
                                                      (const int32_t *)NULL, (int *)NULL,
                                                      experts + 1, 0, experts, (int)pairs));
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        (void *)NULL, sort_bytes, (const uint32_t *)NULL, (uint32_t *)NULL, (const int32_t *)NULL,
        (int32_t *)NULL, (int)pairs, 0, mx_moe_sort_bits(experts)));
    layout->cub_temp_bytes = !sorted                        ? 0
                             : histogram_bytes > sort_bytes ? histogram_bytes
                                                            : sort_bytes;

    if (reference) { /* MLP1's product, one row per row of x_grouped */
        layout->expert_gemm_bytes = (size_t)(rows * 2 * intermediate) * element;
    } else if (!sorted) {
        layout->expert_gemm_bytes = 0;
    } else {
        /* An expert gets a token at most once, so m_e <= tokens; for a fixed variant the GEMM
         * workspace grows with m, and auto only moves to variants with more workspace as m grows
         * (its thresholds; a dispatch table picks variants without any), so m = tokens bounds
         * every expert call. */
        mx_gemm_problem mlp1 = mx_moe_gemm_shape(tokens, 2 * intermediate, hidden, problem->dtype,
                                                 MX_ACT_SWIGLU_GPTOSS);
        mx_gemm_problem mlp2 =
            mx_moe_gemm_shape(tokens, hidden, intermediate, problem->dtype, MX_ACT_NONE);
        size_t first = 0, second = 0;
        MX_TRY(mx_gemm_workspace_bytes(context->gemm, &mlp1, variant, &first));
        MX_TRY(mx_gemm_workspace_bytes(context->gemm, &mlp2, variant, &second));
        layout->expert_gemm_bytes = first > second ? first : second;
    }

    size_t offset = 0;
    auto region = [&offset](size_t bytes) {
        size_t start = offset;
        offset += (bytes + 255) / 256 * 256;
        return start;
    };
    layout->logits = region((size_t)(tokens * experts) * element);
    layout->expert_ids = region((size_t)pairs * 4);
    layout->expert_weights = region((size_t)pairs * 4);
    layout->pair_ids = region(sorted ? (size_t)pairs * 4 : 0);
    layout->counts = region((size_t)experts * 4);
    layout->sorted_experts = region(sorted ? (size_t)pairs * 4 : 0);
    layout->order = region(sorted ? (size_t)pairs * 4 : 0);
    layout->slot_position = region((size_t)pairs * 4);
    layout->cub_temp = region(layout->cub_temp_bytes);
    layout->x_grouped = region((size_t)(rows * hidden) * element);
    layout->h = region((size_t)(rows * intermediate) * element);
    layout->o = region((size_t)(rows * hidden) * element);
    layout->expert_gemm = region(layout->expert_gemm_bytes);
    const bool batched = reference && layout->device_counts;
    layout->pointers = region(batched ? (size_t)(6 * layout->dense_batch) * sizeof(void *) : 0);
    layout->total = offset;
    return MX_OK;
}

static mx_status mx_moe_check_workspace(const mx_moe_layout *layout, const mx_moe_problem *problem,
                                        const char *path, const void *workspace,
                                        size_t workspace_bytes) {
    if (workspace_bytes < layout->total || !workspace)
        return mx_fail(MX_ERR_WORKSPACE,
                       "%s needs %zu workspace bytes for tokens=%lld hidden=%lld intermediate=%lld "
                       "experts=%lld topk=%lld; got %zu%s",
                       path, layout->total, (long long)problem->tokens, (long long)problem->hidden,
                       (long long)problem->intermediate, (long long)problem->experts,
                       (long long)problem->topk, workspace_bytes, workspace ? "" : " (NULL)");
    return mx_check_pointer(workspace, 256, "workspace");
}

// ---- the host-count path

/* One expert's two products on its m tokens, rows `first` .. first + m - 1 of the grouped
 * buffers. MXFP4: mx_gemm with the gpt-oss SwiGLU epilogue, then mx_gemm. Reference (w1 set):
 * cuBLAS into the MLP1 product buffer, the same epilogue by mx_activation_apply, cuBLAS. */
static mx_status mx_moe_expert(mx_moe_context *context, const mx_moe_problem *problem,
                               mx_gemm_variant variant, const void *w1, const void *w2,
                               const mx_moe_layout *layout, char *workspace, int64_t expert,
                               int64_t first, int64_t m, cudaStream_t stream) {
    const int64_t hidden = problem->hidden, intermediate = problem->intermediate;
    const int64_t element = 2;
    const char *x_e = workspace + layout->x_grouped + first * hidden * element;
    char *h_e = workspace + layout->h + first * intermediate * element;
    char *o_e = workspace + layout->o + first * hidden * element;
    const void *b1_e =
        problem->b1 ? (const char *)problem->b1 + expert * 2 * intermediate * element : NULL;
    const void *b2_e = problem->b2 ? (const char *)problem->b2 + expert * hidden * element : NULL;
    const int64_t w1_count = 2 * intermediate * hidden, w2_count = hidden * intermediate;
    if (w1) {
        char *product = workspace + layout->expert_gemm + first * 2 * intermediate * element;
        MX_TRY(mx_dense_gemm(context->cublas, m, 2 * intermediate, hidden, 1, problem->dtype, x_e,
                             (const char *)w1 + expert * w1_count * element, NULL, product,
                             stream));
        MX_TRY(mx_activation_apply(m, 2 * intermediate, problem->dtype, MX_ACT_SWIGLU_GPTOSS,
                                   product, b1_e, NULL, h_e, stream));
        return mx_dense_gemm(context->cublas, m, hidden, intermediate, 1, problem->dtype, h_e,
                             (const char *)w2 + expert * w2_count * element, b2_e, o_e, stream);
    }
    void *gemm_workspace = workspace + layout->expert_gemm;
    mx_gemm_problem mlp1 =
        mx_moe_gemm_shape(m, 2 * intermediate, hidden, problem->dtype, MX_ACT_SWIGLU_GPTOSS);
    mlp1.x = x_e;
    MX_TRY(mx_weights_entry(&problem->w1, expert, &mlp1.w));
    mlp1.bias = b1_e;
    mlp1.y = h_e;
    MX_TRY(
        mx_gemm(context->gemm, &mlp1, variant, gemm_workspace, layout->expert_gemm_bytes, stream));
    mx_gemm_problem mlp2 = mx_moe_gemm_shape(m, hidden, intermediate, problem->dtype, MX_ACT_NONE);
    mlp2.x = h_e;
    MX_TRY(mx_weights_entry(&problem->w2, expert, &mlp2.w));
    mlp2.bias = b2_e;
    mlp2.y = o_e;
    return mx_gemm(context->gemm, &mlp2, variant, gemm_workspace, layout->expert_gemm_bytes,
                   stream);
}

/* Host-count path after routing: CUB groups the pairs by expert, the counts go to the host, and
 * each expert with tokens gets its own GEMM pair (MXFP4, or dense when w1 is set). */
mx_status mx_moe_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                             mx_gemm_variant variant, const void *w1, const void *w2,
                             const mx_moe_layout *layout, char *workspace, cudaStream_t stream) {
    const int64_t pairs = problem->tokens * problem->topk;
    const int experts = (int)problem->experts;
    const int32_t *expert_ids = (const int32_t *)(workspace + layout->expert_ids);
    int32_t *pair_ids = (int32_t *)(workspace + layout->pair_ids);
    int *counts = (int *)(workspace + layout->counts);
    int32_t *order = (int32_t *)(workspace + layout->order);
    void *cub_temp = workspace + layout->cub_temp;
    size_t cub_bytes = layout->cub_temp_bytes;
    MX_CUDA_CHECK(cub::DeviceHistogram::HistogramEven(cub_temp, cub_bytes, expert_ids, counts,
                                                      experts + 1, 0, experts, (int)pairs, stream));
    /* The counts go to the host now; sorting and gathering run while the host waits for them. */
    MX_CUDA_CHECK(cudaMemcpyAsync(context->counts_host, counts, (size_t)experts * sizeof(int),
                                  cudaMemcpyDeviceToHost, stream));
    MX_CUDA_CHECK(cudaEventRecord(context->counts_ready, stream));
    cub_bytes = layout->cub_temp_bytes;
    /* Radix sort is stable: within an expert the pairs stay in ascending (token, slot) order. */
    MX_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_temp, cub_bytes, (const uint32_t *)expert_ids,
                                                  (uint32_t *)(workspace + layout->sorted_experts),
                                                  pair_ids, order, (int)pairs, 0,
                                                  mx_moe_sort_bits(experts), stream));
    MX_TRY(mx_moe_gather_launch(context, problem, order, layout, workspace, stream));
    MX_CUDA_CHECK(cudaEventSynchronize(context->counts_ready));

    int64_t total = 0;
    for (int e = 0; e < experts; e++) total += context->counts_host[e];
    if (total != pairs)
        return mx_fail(MX_ERR_CUDA, "expert counts add up to %lld routed pairs, expected %lld",
                       (long long)total, (long long)pairs);
    int64_t first = 0;
    for (int e = 0; e < experts; e++) {
        int64_t m = context->counts_host[e];
        if (m == 0) continue;
        MX_TRY(mx_moe_expert(context, problem, variant, w1, w2, layout, workspace, e, first, m,
                             stream));
        first += m;
    }
    return MX_OK;
}

// ---- public entry points

extern "C" mx_status mx_moe_context_create(mx_moe_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = NULL;
    mx_moe_context *created = (mx_moe_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate a MoE context");
    mx_status status = mx_gemm_context_create(&created->gemm);
    if (status == MX_OK) { /* the router, then every kernel of the layer waits for the one before */
        created->dependent = mx_gemm_context_launch_dependent(created->gemm);
        cublasStatus_t created_cublas = cublasCreate(&created->cublas);
        if (created_cublas != CUBLAS_STATUS_SUCCESS) {
            created->cublas = NULL;
            status = mx_cublas_fail(created_cublas, "cublasCreate", __FILE__, __LINE__);
        }
    }
    cudaError_t error = cudaSuccess;
    if (status == MX_OK) {
        error = cudaMallocHost((void **)&created->counts_host,
                               MX_MOE_MAX_EXPERTS * sizeof *created->counts_host);
        if (error != cudaSuccess) created->counts_host = NULL;
    }
    if (status == MX_OK && error == cudaSuccess) {
        error = cudaEventCreateWithFlags(&created->counts_ready, cudaEventDisableTiming);
        if (error != cudaSuccess) created->counts_ready = NULL;
    }
    if (status == MX_OK && error == cudaSuccess) {
        error = cudaMalloc((void **)&created->arrivals, sizeof *created->arrivals);
        if (error != cudaSuccess) created->arrivals = NULL;
    }
    if (status == MX_OK && error == cudaSuccess) /* zero before any stream's first launch */
        error = cudaMemset(created->arrivals, 0, sizeof *created->arrivals);
    if (status == MX_OK && error == cudaSuccess) error = cudaDeviceSynchronize();
    if (status == MX_OK && error != cudaSuccess) {
        status = mx_cuda_fail(error, "mx_moe_context_create", __FILE__, __LINE__);
    }
    if (status != MX_OK) {
        mx_moe_context_destroy(created);
        return status;
    }
    *context = created;
    return MX_OK;
}

extern "C" void mx_moe_context_destroy(mx_moe_context *context) {
    if (!context) return;
    if (context->arrivals) cudaFree(context->arrivals);
    if (context->counts_ready) cudaEventDestroy(context->counts_ready);
    if (context->counts_host) cudaFreeHost(context->counts_host);
    if (context->cublas) cublasDestroy(context->cublas);
    mx_gemm_context_destroy(context->gemm);
    free(context);
}

extern "C" mx_status mx_moe_route(mx_moe_context *context, const mx_moe_problem *problem,
                                  void *logits, int32_t *expert_ids, float *expert_weights,
                                  cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_moe_check_route_shape(problem));
    MX_TRY(mx_moe_check_route_pointers(problem));
    MX_TRY(mx_check_pointer(logits, 2, "logits"));
    MX_TRY(mx_check_pointer(expert_ids, 4, "expert_ids"));
    MX_TRY(mx_check_pointer(expert_weights, 4, "expert_weights"));
    return mx_moe_route_launch(context, problem, logits, expert_ids, expert_weights, NULL, stream);
}

static mx_status mx_moe_check_variant(mx_gemm_variant variant) {
    return mx_gemm_check_block_variant(variant, "mx_moe", "it would keep every expert dequantized");
}

/* The layout of an mx_moe call, after the workspace queries' checks. */
static mx_status mx_moe_query_layout(const mx_moe_context *context, const mx_moe_problem *problem,
                                     mx_gemm_variant variant, size_t *bytes,
                                     mx_moe_layout *layout) {
    MX_TRY(mx_check_bytes_out(bytes));
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_moe_check_variant(variant));
    return mx_moe_plan(context, problem, variant, false, false, layout);
}

extern "C" mx_status mx_moe_workspace_bytes(const mx_moe_context *context,
                                            const mx_moe_problem *problem, mx_gemm_variant variant,
                                            size_t *bytes) {
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_query_layout(context, problem, variant, bytes, &layout));
    *bytes = layout.total;
    return MX_OK;
}

extern "C" mx_status mx_moe_gemm_workspace_bytes(const mx_moe_context *context,
                                                 const mx_moe_problem *problem,
                                                 mx_gemm_variant variant, size_t *bytes) {
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_query_layout(context, problem, variant, bytes, &layout));
    *bytes = layout.expert_gemm_bytes;
    return MX_OK;
}

extern "C" int mx_moe_uses_device_counts(const mx_moe_context *context,
                                         const mx_moe_problem *problem, mx_gemm_variant variant) {
    mx_moe_layout layout = {};
    if (!context || mx_moe_check_variant(variant) != MX_OK ||
        mx_moe_plan(context, problem, variant, false, false, &layout) != MX_OK)
        return -1;
    return layout.device_counts ? 1 : 0;
}

static mx_status mx_moe_fp16_bytes(const mx_moe_problem *problem, bool host_counts, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_plan(NULL, problem, MX_GEMM_AUTO, true, host_counts, &layout));
    *bytes = layout.total;
    return MX_OK;
}

extern "C" mx_status mx_moe_fp16_workspace_bytes(const mx_moe_problem *problem, size_t *bytes) {
    return mx_moe_fp16_bytes(problem, false, bytes);
}

extern "C" mx_status mx_moe_fp16_host_counts_workspace_bytes(const mx_moe_problem *problem,
                                                             size_t *bytes) {
    return mx_moe_fp16_bytes(problem, true, bytes);
}

extern "C" int mx_moe_fp16_uses_device_counts(const mx_moe_problem *problem) {
    mx_moe_layout layout = {};
    if (mx_moe_plan(NULL, problem, MX_GEMM_AUTO, true, false, &layout) != MX_OK) return -1;
    return layout.device_counts ? 1 : 0;
}

extern "C" mx_status mx_moe(mx_moe_context *context, const mx_moe_problem *problem,
                            mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                            cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_moe_check_variant(variant));
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_plan(context, problem, variant, false, false, &layout));
    MX_TRY(mx_moe_check_layer_pointers(problem, NULL, NULL, false));
    char path[64];
    snprintf(path, sizeof path, "mx_moe with %s", mx_gemm_variant_name(variant));
    MX_TRY(mx_moe_check_workspace(&layout, problem, path, workspace, workspace_bytes));
    return mx_moe_run(context, problem, variant, NULL, NULL, &layout, (char *)workspace, stream);
}

static mx_status mx_moe_fp16_on(mx_moe_context *context, const mx_moe_problem *problem,
                                const void *w1, const void *w2, bool host_counts, void *workspace,
                                size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    mx_moe_layout layout = {};
    MX_TRY(mx_moe_plan(context, problem, MX_GEMM_AUTO, true, host_counts, &layout));
    MX_TRY(mx_moe_check_layer_pointers(problem, w1, w2, true));
    MX_TRY(mx_moe_check_workspace(&layout, problem,
                                  host_counts ? "mx_moe_fp16_host_counts" : "mx_moe_fp16",
                                  workspace, workspace_bytes));
    return mx_moe_run(context, problem, MX_GEMM_AUTO, w1, w2, &layout, (char *)workspace, stream);
}

extern "C" mx_status mx_moe_fp16(mx_moe_context *context, const mx_moe_problem *problem,
                                 const void *w1, const void *w2, void *workspace,
                                 size_t workspace_bytes, cudaStream_t stream) {
    return mx_moe_fp16_on(context, problem, w1, w2, false, workspace, workspace_bytes, stream);
}

extern "C" mx_status mx_moe_fp16_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                                             const void *w1, const void *w2, void *workspace,
                                             size_t workspace_bytes, cudaStream_t stream) {
    return mx_moe_fp16_on(context, problem, w1, w2, true, workspace, workspace_bytes, stream);
}
