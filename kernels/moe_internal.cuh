/* Internal to the library: what the MoE layer's two files share, moe.cu (the entry points, the
 * argument checks, the workspace plan, the host-count path) and moe_kernels.cu (the kernels, their
 * launchers, the layer's run). */
#ifndef MX_MOE_INTERNAL_CUH
#define MX_MOE_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "moe.h"

struct mx_moe_context {
    mx_gemm_context *gemm;
    cublasHandle_t cublas;
    int32_t *counts_host;     /* pinned [MX_MOE_MAX_EXPERTS]: tokens per expert of the last call */
    cudaEvent_t counts_ready; /* recorded after the counts' copy to the host */
    unsigned *arrivals;       /* device, 0 between calls: the router kernel's finished blocks */
    bool dependent; /* the layer's kernels after the router launch as programmatic dependents */
};

/* Byte offsets into the workspace, each region 256-byte aligned. x_grouped, h and o hold one row
 * per routed pair (host-count path) or `tokens` rows per expert (device-count path). */
typedef struct {
    size_t logits, expert_ids, expert_weights, pair_ids, counts, sorted_experts, order,
        slot_position, cub_temp, x_grouped, h, o, expert_gemm, pointers, total;
    size_t cub_temp_bytes;
    size_t expert_gemm_bytes; /* MXFP4: mx_gemm's workspace; reference: MLP1's product */
    bool device_counts;       /* the path without the host round trip */
    mx_gemm_variant runs;     /* device-count path: the variant of both batched GEMMs */
    int64_t dense_batch;      /* reference device-count path: min(experts, pairs) GEMMs each */
} mx_moe_layout;

// ---- moe.cu

/* An expert GEMM's shape (batch 1, no pointers yet). */
mx_gemm_problem mx_moe_gemm_shape(int64_t m, int64_t n, int64_t k, mx_dtype dtype,
                                  mx_activation activation);
/* The host-count path after routing: CUB groups, the counts come to the host, a GEMM pair per
 * expert with tokens (MXFP4, or dense when w1 is set). */
mx_status mx_moe_host_counts(mx_moe_context *context, const mx_moe_problem *problem,
                             mx_gemm_variant variant, const void *w1, const void *w2,
                             const mx_moe_layout *layout, char *workspace, cudaStream_t stream);

// ---- moe_kernels.cu

/* Routing alone, as the layer routes (the router kernel up to MX_MOE_DEVICE_MAX_TOKENS tokens,
 * cuBLAS logits and the top-k kernel above); pair_ids (when not NULL) gets the pair indices the
 * host-count path sorts. */
mx_status mx_moe_route_launch(mx_moe_context *context, const mx_moe_problem *problem, void *logits,
                              int32_t *expert_ids, float *expert_weights, int32_t *pair_ids,
                              cudaStream_t stream);
/* x's rows into the grouped buffer: by order (host-count path), or where the group kernel put
 * each pair (order NULL, device-count path). */
mx_status mx_moe_gather_launch(const mx_moe_context *context, const mx_moe_problem *problem,
                               const int32_t *order, const mx_moe_layout *layout, char *workspace,
                               cudaStream_t stream);
/* The whole layer after the checks and the plan: route, group, experts (MXFP4, or dense when w1
 * is set), combine. */
mx_status mx_moe_run(mx_moe_context *context, const mx_moe_problem *problem,
                     mx_gemm_variant variant, const void *w1, const void *w2,
                     const mx_moe_layout *layout, char *workspace, cudaStream_t stream);

#endif
