/* MXFP4 GEMM family (see gemm.h): the launch plan of the tensor-core kernel (gemm_kernel.cuh:
 * token tiles, persistent CTAs or cluster split-K), the cuBLAS variants, auto, and the checks
 * every entry point makes before launching. Regime and figures (H200): docs/gemm.md. */
#include <cudaTypedefs.h> /* PFN_cuTensorMapEncodeTiled */
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "check.h"
#include "dense_gemm.h"
#include "dependent_launch.cuh"
#include "dispatch.h"
#include "fp16.h"
#include "gemm.h"
#include "gemm_kernel.cuh"
#include "gemm_wgmma.cuh"

struct mx_gemm_context {
    cublasHandle_t cublas;
    mx_device_info gpu;        /* the device it was created on, and its code path (arch.h) */
    mx_gemm_dispatch dispatch; /* auto's table for that GPU and path; empty: the thresholds */
    char dispatch_source[512]; /* what auto follows (mx_gemm_dispatch_source) */
    bool dispatch_refused;
    bool dependent_launch; /* kernels launched as programmatic dependents (Hopper path only) */
};

// ---- launchers

/* Launch geometry of the tensor-core kernel for a problem. */
typedef struct {
    int tokens;
    int64_t token_tiles; /* over all batch entries: the grid's z when it fits */
    int row_tiles, cta_tiles;
    dim3 grid;
    int k_parts; /* warps of a CTA on one row tile, each on its part of the split's chunks */
    int splits, chunks_per_split;
} mx_mma_plan;

/* Token tiles (over all batch entries) the launch must cover. With batch_rows and a known total
 * S (A <= min(batch, S) entries hold rows), sum_b ceil(r_b / T) <= (S + A (T - 1)) / T. */
static int64_t mx_token_tile_bound(const mx_gemm_problem *problem, int tokens) {
    int64_t all = (problem->m + tokens - 1) / tokens * problem->batch;
    if (!problem->batch_rows || problem->batch_rows_total <= 0) return all;
    int64_t total = problem->batch_rows_total;
    int64_t entries = total < problem->batch ? total : problem->batch;
    int64_t bound = (total + entries * (tokens - 1)) / tokens;
    return bound < all ? bound : all;
}

/* ctas_per_sm: how many CTAs of the instantiation an SM holds; max_clusters(splits): how many
 * clusters of that many CTAs the GPU runs at once. */
static mx_mma_plan mx_plan_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                               int tokens, int warps, int ctas_per_sm,
                               int (*max_clusters)(int splits)) {
    mx_mma_plan plan;
    plan.tokens = tokens;
    plan.row_tiles = (int)((problem->n + MX_TILE_ROWS - 1) / MX_TILE_ROWS);
    int64_t token_tiles = mx_token_tile_bound(problem, tokens); /* all batch entries */
    int64_t k_chunks = (problem->k / MX_BLOCK_SIZE + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS;
    int64_t slots = (int64_t)context->gpu.sm_count * (ctas_per_sm > 0 ? ctas_per_sm : 1);
    /* Too few row tiles to fill the GPU with one token tile per batch entry (each entry streams
     * its own weights: the MoE's experts at one token): the warps of a CTA share fewer row tiles
     * and split their K between them (reduced in shared memory; no cluster, every GPU), while the
     * CTAs still fit one wave and each part keeps at least two chunks to stream. With several
     * token tiles on the same weights (M = 256 on fused) it measured 1-5 % slower on the H200:
     * not there. */
    plan.k_parts = 1;
    auto cta_tiles = [&](int parts) {
        int group = warps / parts;
        return (int64_t)((plan.row_tiles + group - 1) / group) * token_tiles;
    };
    const bool one_tile_per_entry = problem->m <= tokens;
    while (one_tile_per_entry && plan.k_parts < warps && cta_tiles(2 * plan.k_parts) <= slots &&
           k_chunks >= 4 * plan.k_parts)
        plan.k_parts *= 2;
    plan.cta_tiles = (int)(cta_tiles(plan.k_parts) / token_tiles);
    int64_t tiles = plan.cta_tiles * token_tiles;
    /* Then split K over a cluster (Hopper) until the CTAs fill the resident slots of one wave,
     * and no more clusters than can be resident together (past that limit the last clusters
     * wait for a second wave). */
    bool clusters = context->gpu.path == MX_PATH_HOPPER;
    int64_t splits = clusters && tiles < slots ? slots / tiles : 1;
    if (splits > MX_MAX_SPLITS) splits = MX_MAX_SPLITS;
    if (splits > k_chunks / (2 * plan.k_parts)) splits = k_chunks / (2 * plan.k_parts);
    while (splits > 1 && tiles > max_clusters((int)splits)) splits--;
    if (splits < 1) splits = 1;
    int64_t per_split = (k_chunks + splits - 1) / splits;
    splits = (k_chunks + per_split - 1) / per_split;
    plan.splits = (int)splits;
    plan.chunks_per_split = (int)per_split;
    plan.token_tiles = token_tiles;
    /* Without a split, more groups of row tiles than resident slots: persistent CTAs, each
     * walking groups gridDim.x apart, so that the warps' rings never drain between tiles. */
    int64_t z = token_tiles < 65536 ? token_tiles : 65535;
    int64_t columns = plan.cta_tiles;
    if (splits == 1 && tiles > slots) {
        int64_t per_column = slots / z;
        columns = per_column < 1 ? 1 : per_column < columns ? per_column : columns;
    }
    plan.grid = dim3((unsigned)columns, (unsigned)splits, (unsigned)z);
    return plan;
}

enum { MX_MAX_DEVICES = 64 };

/* Once per kernel and device: allow its shared memory (> 48 KB). */
template <auto kernel, int smem_bytes> static cudaError_t mx_configure_smem(int device) {
    static bool configured[MX_MAX_DEVICES];
    if (device >= 0 && device < MX_MAX_DEVICES && configured[device]) return cudaSuccess;
    cudaError_t error =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes);
    if (error == cudaSuccess && device >= 0 && device < MX_MAX_DEVICES) configured[device] = true;
    return error;
}

template <typename T, int TT, int E, int SLOT_TOKENS>
static cudaError_t mx_configure_kernel(int device) {
    return mx_configure_smem<mx_gemm_kernel<T, TT, E, SLOT_TOKENS>,
                             mx_tile_shape<TT, SLOT_TOKENS>::smem_bytes>(device);
}

/* CTAs of the instantiation one SM holds on this device, asked once (0 when the query fails). */
template <typename T, int TT, int E, int SLOT_TOKENS> static int mx_ctas_per_sm(int device) {
    static int cache[MX_MAX_DEVICES];
    if (device < 0 || device >= MX_MAX_DEVICES) return 0;
    if (cache[device] == 0) {
        int count = 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                &count, mx_gemm_kernel<T, TT, E, SLOT_TOKENS>,
                mx_tile_shape<TT, SLOT_TOKENS>::threads,
                mx_tile_shape<TT, SLOT_TOKENS>::smem_bytes) != cudaSuccess) {
            cudaGetLastError();
            count = 0;
        }
        cache[device] = count > 0 ? count : -1;
    }
    return cache[device] > 0 ? cache[device] : 0;
}
/* attributes[2]: the cluster of `splits` CTAs along y (when > 1), then the dependent launch
 * (dependent_launch.cuh) when asked. */
static cudaLaunchConfig_t mx_launch_config(dim3 grid, int threads, int smem_bytes,
                                           cudaStream_t stream, cudaLaunchAttribute *attributes,
                                           int splits, bool dependent) {
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = dim3((unsigned)threads);
    config.dynamicSmemBytes = (size_t)smem_bytes;
    config.stream = stream;
    config.attrs = attributes;
    if (splits > 1) {
        cudaLaunchAttribute *cluster = &attributes[config.numAttrs++];
        cluster->id = cudaLaunchAttributeClusterDimension;
        cluster->val.clusterDim.x = 1;
        cluster->val.clusterDim.y = (unsigned)splits;
        cluster->val.clusterDim.z = 1;
    }
    if (dependent) attributes[config.numAttrs++] = mx_dependent_attribute();
    return config;
}

/* Resident clusters of `splits` CTAs of this instantiation on the current device, asked once
 * per size and device (0 when the query fails: then split-K is not used). */
template <auto kernel, int threads, int smem_bytes> static int mx_max_active_clusters(int splits) {
    static int cache[MX_MAX_DEVICES][MX_MAX_SPLITS + 1];
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= MX_MAX_DEVICES) {
        cudaGetLastError();
        return 0;
    }
    int *known = cache[device];
    if (known[splits] == 0) {
        int count = 0;
        cudaLaunchAttribute attributes[2];
        cudaLaunchConfig_t config = mx_launch_config(dim3(1, (unsigned)splits, 1), threads,
                                                     smem_bytes, 0, attributes, splits, false);
        if (mx_configure_smem<kernel, smem_bytes>(device) != cudaSuccess ||
            cudaOccupancyMaxActiveClusters(&count, kernel, &config) != cudaSuccess) {
            cudaGetLastError();
            count = 0;
        }
        known[splits] = count > 0 ? count : -1;
    }
    return known[splits] > 0 ? known[splits] : 0;
}

/* The kernels' parameters that follow from the problem and the tokens per CTA; the launchers
 * add their plan's (cta_tiles and k_parts: the mma.sync kernel's; chunks_per_split: both). */
static mx_gemm_params mx_gemm_params_for(const mx_gemm_problem *problem, int tokens) {
    mx_gemm_params params = {};
    params.x = problem->x;
    params.bias = problem->bias;
    params.w = problem->w.data;
    params.entry_bytes = problem->w.entry_bytes;
    params.y = problem->y;
    params.residual = problem->residual;
    params.batch_rows = problem->batch_rows;
    params.activation = problem->activation;
    params.m = problem->m;
    params.n = problem->n;
    params.k = problem->k;
    params.batch = problem->batch;
    params.tile_bytes = mx_tile_bytes(problem->k);
    params.k_blocks = (int)(problem->k / MX_BLOCK_SIZE);
    params.token_tiles = (int)((problem->m + tokens - 1) / tokens);
    params.row_tiles = (int)((problem->n + MX_TILE_ROWS - 1) / MX_TILE_ROWS);
    return params;
}

/* The refusal of a launch whose token tiles do not fit a grid's z. */
static mx_status mx_too_many_token_tiles(const mx_gemm_problem *problem, int64_t token_tiles,
                                         int tokens, const char *kernel) {
    return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                   "unsupported shape: m = %lld, batch = %lld give %lld token tiles of %d for %s; "
                   "at most 65535 (smaller m or batch)",
                   (long long)problem->m, (long long)problem->batch, (long long)token_tiles, tokens,
                   kernel);
}

template <typename T, int TT, int E, int SLOT_TOKENS = 0>
static mx_status mx_gemm_mma_launch(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                    cudaStream_t stream) {
    using shape = mx_tile_shape<TT, SLOT_TOKENS>;
    if ((size_t)shape::smem_bytes > context->gpu.smem_block_bytes)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "%s with %d tokens per CTA needs %d bytes of shared memory per block; the "
                       "%s path on this GPU (%s) allows %zu",
                       mx_gemm_variant_name(TT >= 4 ? MX_GEMM_FUSED : MX_GEMM_SKINNY),
                       shape::tokens, shape::smem_bytes, mx_code_path_name(context->gpu.path),
                       context->gpu.why, context->gpu.smem_block_bytes);
    MX_CUDA_CHECK((mx_configure_kernel<T, TT, E, SLOT_TOKENS>(context->gpu.device)));
    mx_mma_plan plan = mx_plan_mma(context, problem, shape::tokens, shape::warps,
                                   mx_ctas_per_sm<T, TT, E, SLOT_TOKENS>(context->gpu.device),
                                   mx_max_active_clusters<mx_gemm_kernel<T, TT, E, SLOT_TOKENS>,
                                                          shape::threads, shape::smem_bytes>);
    if (plan.token_tiles > 65535)
        return mx_too_many_token_tiles(
            problem, plan.token_tiles, plan.tokens,
            mx_gemm_variant_name(TT >= 4 ? MX_GEMM_FUSED : MX_GEMM_SKINNY));
    mx_gemm_params params = mx_gemm_params_for(problem, plan.tokens);
    params.cta_tiles = plan.cta_tiles;
    params.k_parts = plan.k_parts;
    params.chunks_per_split = plan.chunks_per_split;
    cudaLaunchAttribute attributes[2];
    cudaLaunchConfig_t config =
        mx_launch_config(plan.grid, shape::threads, shape::smem_bytes, stream, attributes,
                         plan.splits, context->dependent_launch);
    MX_CUDA_CHECK(cudaLaunchKernelEx(&config, mx_gemm_kernel<T, TT, E, SLOT_TOKENS>, params));
    MX_LAUNCH_CHECK("mx_gemm_kernel");
    return MX_OK;
}

/* The TMA map of the warpgroup kernel's activations: x as [batch][m][k] of the dtype, boxes of
 * 64 K x `tokens` tokens (one stage), 128-byte swizzle, zeros past m and past k. The encoder is
 * the driver's, found through the runtime once (no link to libcuda). */
static mx_status mx_activation_map(const mx_gemm_problem *problem, int tokens, CUtensorMap *map) {
    static PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
        void *found = nullptr;
        cudaDriverEntryPointQueryResult result;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &found, 12000,
                                             cudaEnableDefault, &result) != cudaSuccess ||
            result != cudaDriverEntryPointSuccess) {
            cudaGetLastError();
            found = nullptr;
        }
        return (PFN_cuTensorMapEncodeTiled_v12000)found;
    }();
    if (!encode)
        return mx_fail(MX_ERR_CUDA, "the driver has no cuTensorMapEncodeTiled (CUDA 12.0 or "
                                    "later needed for fused's warpgroup kernel)");
    const cuuint64_t element = (cuuint64_t)mx_dtype_bytes(problem->dtype);
    const cuuint64_t dims[3] = {(cuuint64_t)problem->k, (cuuint64_t)problem->m,
                                (cuuint64_t)problem->batch};
    const cuuint64_t strides[2] = {dims[0] * element, dims[0] * dims[1] * element};
    const cuuint32_t box[3] = {2 * MX_BLOCK_SIZE, (cuuint32_t)tokens, 1}, unit[3] = {1, 1, 1};
    const CUresult result =
        encode(map,
               problem->dtype == MX_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                         : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
               3, const_cast<void *>(problem->x), dims, strides, box, unit,
               CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
               CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (result != CUDA_SUCCESS)
        return mx_fail(MX_ERR_CUDA,
                       "cuTensorMapEncodeTiled failed (CUresult %d) for x at %p, m = %lld, k = "
                       "%lld, batch = %lld",
                       (int)result, problem->x, (long long)problem->m, (long long)problem->k,
                       (long long)problem->batch);
    return MX_OK;
}

/* The warpgroup kernel (gemm_wgmma.cuh): 128 weight rows x TOKENS tokens per CTA, one CTA per
 * SM, no workspace. When the output tiles are fewer than the SMs (m up to a few hundred), K is
 * split over a thread-block cluster of up to 8 CTAs (at most k_chunks / 2 splits), so that the
 * clusters fill one wave; the splits are summed on chip (mx_reduce_tile). */
template <typename T, int E, int TOKENS>
static mx_status mx_gemm_wgmma_launch(const mx_gemm_context *context,
                                      const mx_gemm_problem *problem, cudaStream_t stream) {
    using shape = mx_wgmma_shape<TOKENS>;
    constexpr auto kernel = mx_gemm_wgmma_kernel<T, E, TOKENS>;
    MX_CUDA_CHECK((mx_configure_smem<kernel, shape::smem_bytes>(context->gpu.device)));
    const int64_t token_tiles = mx_token_tile_bound(problem, shape::tokens);
    if (token_tiles > 65535)
        return mx_too_many_token_tiles(problem, token_tiles, shape::tokens,
                                       "fused (warpgroup kernel)");
    const int64_t row_blocks = (problem->n + shape::rows - 1) / shape::rows;
    const int64_t tiles = row_blocks * token_tiles;
    const int64_t k_chunks = (problem->k / MX_BLOCK_SIZE + MX_CHUNK_BLOCKS - 1) / MX_CHUNK_BLOCKS;
    int64_t splits = tiles < context->gpu.sm_count ? context->gpu.sm_count / tiles : 1;
    if (splits > MX_MAX_SPLITS) splits = MX_MAX_SPLITS;
    if (splits > k_chunks / 2) splits = k_chunks / 2;
    while (splits > 1 &&
           tiles > mx_max_active_clusters<kernel, shape::threads, shape::smem_bytes>((int)splits))
        splits--;
    if (splits < 1) splits = 1;
    const int64_t per_split = (k_chunks + splits - 1) / splits;
    splits = (k_chunks + per_split - 1) / per_split;
    mx_gemm_params params = mx_gemm_params_for(problem, shape::tokens);
    params.chunks_per_split = (int)per_split;
    CUtensorMap activations = {}; /* read by the TMA layout only */
    if constexpr (shape::tma) {
        mx_status status = mx_activation_map(problem, shape::tokens, &activations);
        if (status != MX_OK) return status;
    }
    cudaLaunchAttribute attributes[2];
    cudaLaunchConfig_t config = mx_launch_config(
        dim3((unsigned)row_blocks, (unsigned)splits, (unsigned)token_tiles), shape::threads,
        shape::smem_bytes, stream, attributes, (int)splits, context->dependent_launch);
    MX_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, params, activations));
    MX_LAUNCH_CHECK("mx_gemm_wgmma_kernel");
    return MX_OK;
}

/* fused on the hopper path from MX_GEMM_WGMMA_MIN_M tokens takes the warpgroup kernel, when the
 * build holds sm_90a code (the default architectures do; `native` and 90-real do not: wgmma is
 * 90a only) and the path's shared memory holds its larger shape. */
static bool mx_wgmma_runs(const mx_gemm_context *context, const mx_gemm_problem *problem,
                          mx_gemm_variant variant) {
    return variant == MX_GEMM_FUSED && problem->m >= MX_GEMM_WGMMA_MIN_M &&
           context->gpu.path == MX_PATH_HOPPER && strstr(mx_built_archs(), "90a") != NULL &&
           (size_t)mx_wgmma_shape<128>::smem_bytes <= context->gpu.smem_block_bytes;
}

/* Whether the warpgroup kernel takes 256 tokens per CTA (its TMA layout, about 1.4x the work per
 * unit of time of 128 tokens at prefill) rather than 128, above 128 tokens: once those tiles
 * fill at least half the SMs (at exactly half, K is split in two; below, the 128-token tiles'
 * splits of K are shorter to sum), and never with batch_rows (the MoE's experts: the entries' rows
 * are uneven and a 256-token tile mostly empty). Measured on an H100: docs/gemm.md. */
static bool mx_wgmma_wide(const mx_gemm_context *context, const mx_gemm_problem *problem) {
    using wide = mx_wgmma_shape<256>;
    const int64_t row_blocks = (problem->n + wide::rows - 1) / wide::rows;
    const int64_t tiles =
        row_blocks * ((problem->m + wide::tokens - 1) / wide::tokens) * problem->batch;
    return problem->m > mx_wgmma_shape<128>::tokens && !problem->batch_rows &&
           2 * tiles >= context->gpu.sm_count &&
           (size_t)wide::smem_bytes <= context->gpu.smem_block_bytes;
}

/* Whether the path's shared memory holds the 8-token kernel's rings with slot_tokens tokens'
 * activations in them (0: none). */
template <int SLOT_TOKENS> static bool mx_slots_fit(const mx_gemm_context *context) {
    return (size_t)mx_tile_shape<1, SLOT_TOKENS>::smem_bytes <= context->gpu.smem_block_bytes;
}

/* skinny: 8 or 16 tokens per CTA (16 also for m <= 8 where the 8-token ring does not fit the
 * path's shared memory; up to m = 4 the activations ride in the ring where it fits, in slots for
 * 1, 2 or 4 tokens); fused: the warpgroup kernel (above), or 32 or 64 tokens per CTA. */
template <typename T, int E>
static mx_status mx_gemm_mma_dispatch(const mx_gemm_context *context,
                                      const mx_gemm_problem *problem, mx_gemm_variant variant,
                                      cudaStream_t stream) {
    if (mx_wgmma_runs(context, problem, variant)) {
        if (problem->m <= mx_wgmma_shape<64>::tokens)
            return mx_gemm_wgmma_launch<T, E, 64>(context, problem, stream);
        return mx_wgmma_wide(context, problem)
                   ? mx_gemm_wgmma_launch<T, E, 256>(context, problem, stream)
                   : mx_gemm_wgmma_launch<T, E, 128>(context, problem, stream);
    }
    if (variant == MX_GEMM_SKINNY) {
        const int64_t m = problem->m;
        if (m == 1 && mx_slots_fit<1>(context))
            return mx_gemm_mma_launch<T, 1, E, 1>(context, problem, stream);
        if (m == 2 && mx_slots_fit<2>(context))
            return mx_gemm_mma_launch<T, 1, E, 2>(context, problem, stream);
        if (m > 2 && m <= 4 && mx_slots_fit<4>(context))
            return mx_gemm_mma_launch<T, 1, E, 4>(context, problem, stream);
        return m <= 8 && mx_slots_fit<0>(context)
                   ? mx_gemm_mma_launch<T, 1, E>(context, problem, stream)
                   : mx_gemm_mma_launch<T, 2, E>(context, problem, stream);
    }
    return problem->m <= 32 ? mx_gemm_mma_launch<T, 4, E>(context, problem, stream)
                            : mx_gemm_mma_launch<T, 8, E>(context, problem, stream);
}
template <typename T>
static mx_status mx_gemm_mma_epilogue(const mx_gemm_context *context,
                                      const mx_gemm_problem *problem, mx_gemm_variant variant,
                                      cudaStream_t stream) {
    if (mx_act_gated(problem->activation))
        return mx_gemm_mma_dispatch<T, MX_EPILOGUE_GATED>(context, problem, variant, stream);
    if (problem->activation != MX_ACT_NONE || problem->residual)
        return mx_gemm_mma_dispatch<T, MX_EPILOGUE_ACT>(context, problem, variant, stream);
    return mx_gemm_mma_dispatch<T, MX_EPILOGUE_BIAS>(context, problem, variant, stream);
}

static mx_status mx_gemm_mma(const mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, cudaStream_t stream) {
    return problem->dtype == MX_BF16
               ? mx_gemm_mma_epilogue<__nv_bfloat16>(context, problem, variant, stream)
               : mx_gemm_mma_epilogue<__half>(context, problem, variant, stream);
}

// ---- public entry points

extern "C" cublasHandle_t mx_gemm_context_cublas(const mx_gemm_context *context) {
    return context ? context->cublas : NULL;
}

extern "C" bool mx_gemm_context_launch_dependent(mx_gemm_context *context) {
    context->dependent_launch = context->gpu.path == MX_PATH_HOPPER;
    return context->dependent_launch;
}

extern "C" mx_status mx_gemm_fp16(mx_gemm_context *context, int64_t m, int64_t n, int64_t k,
                                  int64_t batch, mx_dtype dtype, const void *x, const void *w,
                                  const void *bias, void *y, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    return mx_dense_gemm(context->cublas, m, n, k, batch, dtype, x, w, bias, y, stream);
}

extern "C" mx_status mx_gemm_context_create(mx_gemm_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = nullptr;
    int device = 0;
    MX_CUDA_CHECK(cudaGetDevice(&device));
    mx_device_info gpu;
    MX_TRY(mx_device_query(device, &gpu));
    mx_gemm_context *created = (mx_gemm_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate a GEMM context");
    created->gpu = gpu;
    cublasStatus_t status = cublasCreate(&created->cublas);
    if (status != CUBLAS_STATUS_SUCCESS) {
        free(created);
        return mx_cublas_fail(status, "cublasCreate", __FILE__, __LINE__);
    }
    created->dispatch_refused =
        mx_gemm_dispatch_open(gpu.name, mx_code_path_name(gpu.path), &created->dispatch,
                              created->dispatch_source, sizeof created->dispatch_source) != MX_OK;
    *context = created;
    return MX_OK;
}

extern "C" void mx_gemm_context_destroy(mx_gemm_context *context) {
    if (!context) return;
    cublasDestroy(context->cublas);
    mx_gemm_dispatch_free(&context->dispatch);
    free(context);
}

extern "C" const char *mx_gemm_dispatch_source(const mx_gemm_context *context, bool *refused) {
    if (refused) *refused = context && context->dispatch_refused;
    return context ? context->dispatch_source : MX_GEMM_DISPATCH_THRESHOLDS " (no context)";
}

extern "C" mx_gemm_variant mx_gemm_choose(const mx_gemm_context *context,
                                          const mx_gemm_problem *problem) {
    mx_gemm_variant measured = context ? mx_gemm_dispatch_pick(&context->dispatch, problem->dtype,
                                                               problem->m, problem->n, problem->k)
                                       : MX_GEMM_AUTO;
    if (measured != MX_GEMM_AUTO) return measured;
    /* The thresholds (docs/gemm.md): skinny wins up to 16 tokens, skinny and fused tie at 64
     * (H200); above, the mma.sync kernels are 2-5x slower than dequantize + cuBLAS, and the
     * warpgroup kernel is faster up to 128 tokens, on larger weights up to more (H100; gemm.h). */
    if (problem->m <= MX_GEMM_SKINNY_MAX_M) return MX_GEMM_SKINNY;
    if (problem->m <= MX_GEMM_FUSED_MAX_M) return MX_GEMM_FUSED;
    const int64_t weights = problem->n * problem->k;
    const int64_t wgmma_max_m =
        weights >= MX_GEMM_WGMMA_AUTO_LARGE_WEIGHTS ? MX_GEMM_WGMMA_AUTO_LARGE_MAX_M
        : weights >= MX_GEMM_WGMMA_AUTO_MID_WEIGHTS ? MX_GEMM_WGMMA_AUTO_MID_MAX_M
                                                    : MX_GEMM_WGMMA_AUTO_MAX_M;
    if (context && problem->m <= wgmma_max_m && mx_wgmma_runs(context, problem, MX_GEMM_FUSED))
        return MX_GEMM_FUSED;
    return MX_GEMM_DEQUANT_CUBLAS;
}

static mx_gemm_variant mx_resolve(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                  mx_gemm_variant variant) {
    return variant == MX_GEMM_AUTO ? mx_gemm_choose(context, problem) : variant;
}

static bool mx_has_epilogue(const mx_gemm_problem *problem) {
    return problem->activation != MX_ACT_NONE || problem->residual;
}

/* The weights' part of the workspace: dequantized weights for the cuBLAS paths; the MXFP4
 * kernels reduce split-K partials on chip. */
static size_t mx_weight_workspace_bytes(const mx_gemm_problem *problem, mx_gemm_variant variant) {
    return mx_gemm_variant_runs_mxfp4(variant)
               ? 0
               : (size_t)(problem->batch * problem->n * problem->k * 2);
}

/* The epilogue's temporary starts at the next 256-byte boundary after the weights. */
static size_t mx_epilogue_offset(size_t weight_bytes) {
    return (weight_bytes + 255) / 256 * 256;
}

/* The workspace of a checked problem on the variant that runs (auto resolved). */
static size_t mx_needed_bytes(const mx_gemm_problem *problem, mx_gemm_variant runs) {
    size_t weights = mx_weight_workspace_bytes(problem, runs);
    if (!mx_has_epilogue(problem) || mx_gemm_variant_runs_mxfp4(runs)) return weights;
    return mx_epilogue_offset(weights) + (size_t)(problem->m * problem->n * 2);
}

extern "C" mx_vram_report mx_gemm_vram(const mx_gemm_context *context,
                                       const mx_gemm_problem *problem, mx_gemm_variant variant) {
    mx_vram_report report;
    int64_t weights = problem->batch * problem->n * problem->k;
    report.weight_bytes_fp16 = weights * 2;
    report.weight_bytes_mxfp4 = (int64_t)mx_weights_bytes(problem->n, problem->k, problem->batch);
    report.workspace_bytes =
        (int64_t)mx_needed_bytes(problem, mx_resolve(context, problem, variant));
    report.savings = 1.0 - (double)(report.weight_bytes_mxfp4 + report.workspace_bytes) /
                               (double)report.weight_bytes_fp16;
    return report;
}

/* Everything but the data pointers: what the workspace query checks. */
static mx_status mx_check_sizes(const mx_gemm_problem *problem) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (problem->m <= 0 || problem->batch <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "m = %lld, batch = %lld: expected both > 0",
                       (long long)problem->m, (long long)problem->batch);
    MX_TRY(mx_check_shape(problem->n, problem->k));
    if (problem->m > INT32_MAX / 2 || problem->n > INT32_MAX / 2 || problem->batch > 65535)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "m = %lld, n = %lld, batch = %lld: supported up to 2^30, 2^30, 65535",
                       (long long)problem->m, (long long)problem->n, (long long)problem->batch);
    if (problem->dtype != MX_F16 && problem->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)problem->dtype);
    if ((unsigned)problem->activation >= MX_ACT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "activation = %d: not an mx_activation",
                       (int)problem->activation);
    if (problem->batch_rows) {
        if (problem->batch_rows_total < 0 ||
            problem->batch_rows_total > problem->batch * problem->m)
            return mx_fail(MX_ERR_INVALID_ARGUMENT,
                           "batch_rows_total = %lld: expected 0 (unknown) .. batch x m = %lld",
                           (long long)problem->batch_rows_total,
                           (long long)(problem->batch * problem->m));
    } else if (problem->batch_rows_total != 0) {
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch_rows_total = %lld without batch_rows: expected 0",
                       (long long)problem->batch_rows_total);
    }
    if (mx_act_gated(problem->activation) && problem->n % 2 != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "n = %lld: %s reads interleaved (gate, linear) pairs, n must be even",
                       (long long)problem->n, mx_activation_name(problem->activation));
    return MX_OK;
}

static mx_status mx_check_problem(const mx_gemm_problem *problem) {
    MX_TRY(mx_check_sizes(problem));
    MX_TRY(mx_check_pointer(problem->x, 16, "x"));
    MX_TRY(mx_weights_check(&problem->w, problem->n, problem->k, problem->batch, "w"));
    MX_TRY(mx_check_pointer(problem->y, 4, "y"));
    if (problem->bias) MX_TRY(mx_check_pointer(problem->bias, 2, "bias"));
    if (problem->batch_rows) MX_TRY(mx_check_pointer(problem->batch_rows, 4, "batch_rows"));
    if (problem->residual) MX_TRY(mx_check_pointer(problem->residual, 2, "residual"));
    return MX_OK;
}

/* What only fused and skinny do: the epilogue with batch > 1 (in registers; the cuBLAS paths'
 * temporary holds one entry) and valid rows read on the device (cuBLAS needs host sizes). */
static mx_status mx_check_variant_support(const mx_gemm_problem *problem, mx_gemm_variant variant) {
    if (mx_gemm_variant_runs_mxfp4(variant)) return MX_OK;
    char names[128];
    if (mx_has_epilogue(problem) && problem->batch != 1)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch = %lld with an activation or residual on %s: its epilogue needs "
                       "batch 1 (%s take any batch)",
                       (long long)problem->batch, mx_gemm_variant_name(variant),
                       mx_gemm_mxfp4_variant_names(" and ", names, sizeof names));
    if (problem->batch_rows)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "batch_rows is set for %s: cuBLAS needs the row counts on the host; "
                       "batch_rows needs %s",
                       mx_gemm_variant_name(variant),
                       mx_gemm_mxfp4_variant_names(" or ", names, sizeof names));
    return MX_OK;
}

static mx_status mx_check_workspace(const mx_gemm_problem *problem, mx_gemm_variant variant,
                                    const void *workspace, size_t workspace_bytes) {
    size_t needed = mx_needed_bytes(problem, variant);
    if (workspace_bytes < needed || (needed > 0 && !workspace))
        return mx_fail(MX_ERR_WORKSPACE,
                       "variant %s needs %zu workspace bytes for m=%lld n=%lld k=%lld batch=%lld; "
                       "got %zu%s",
                       mx_gemm_variant_name(variant), needed, (long long)problem->m,
                       (long long)problem->n, (long long)problem->k, (long long)problem->batch,
                       workspace_bytes, workspace ? "" : " (NULL)");
    if (needed > 0) MX_TRY(mx_check_pointer(workspace, 256, "workspace"));
    return MX_OK;
}

extern "C" mx_status mx_gemm_persistent_prepare(mx_gemm_context *context,
                                                const mx_gemm_problem *problem, void *workspace,
                                                size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_check_problem(problem));
    MX_TRY(mx_check_variant_support(problem, MX_GEMM_PERSISTENT));
    MX_TRY(mx_check_workspace(problem, MX_GEMM_PERSISTENT, workspace, workspace_bytes));
    return mx_weights_dequantize(&problem->w, problem->dtype, workspace, stream);
}

/* What a call and its workspace query both check: the context, the variant, the problem (its
 * data pointers too for a call), and that the variant that runs (*runs) supports it. */
static mx_status mx_check_call(const mx_gemm_context *context, const mx_gemm_problem *problem,
                               mx_gemm_variant variant, bool pointers, mx_gemm_variant *runs) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_check_variant_value(variant));
    MX_TRY(pointers ? mx_check_problem(problem) : mx_check_sizes(problem));
    *runs = mx_resolve(context, problem, variant);
    return mx_check_variant_support(problem, *runs);
}

/* mx_gemm_check, telling the variant that runs. */
static mx_status mx_check_all(const mx_gemm_context *context, const mx_gemm_problem *problem,
                              mx_gemm_variant variant, const void *workspace,
                              size_t workspace_bytes, mx_gemm_variant *runs) {
    MX_TRY(mx_check_call(context, problem, variant, true, runs));
    return mx_check_workspace(problem, *runs, workspace, workspace_bytes);
}

extern "C" mx_status mx_gemm_check(const mx_gemm_context *context, const mx_gemm_problem *problem,
                                   mx_gemm_variant variant, const void *workspace,
                                   size_t workspace_bytes) {
    mx_gemm_variant runs = MX_GEMM_AUTO;
    return mx_check_all(context, problem, variant, workspace, workspace_bytes, &runs);
}

extern "C" mx_status mx_gemm_workspace_bytes(const mx_gemm_context *context,
                                             const mx_gemm_problem *problem,
                                             mx_gemm_variant variant, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    mx_gemm_variant runs = MX_GEMM_AUTO;
    MX_TRY(mx_check_call(context, problem, variant, false, &runs));
    *bytes = mx_needed_bytes(problem, runs);
    return MX_OK;
}

extern "C" mx_status mx_gemm(mx_gemm_context *context, const mx_gemm_problem *problem,
                             mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
    MX_TRY(mx_check_all(context, problem, variant, workspace, workspace_bytes, &variant));
    if (mx_has_epilogue(problem) && !mx_gemm_variant_runs_mxfp4(variant)) {
        /* The product into the temporary after the weights' workspace, then the epilogue. */
        size_t weight_bytes = mx_weight_workspace_bytes(problem, variant);
        mx_gemm_problem product = *problem;
        product.y = (char *)workspace + mx_epilogue_offset(weight_bytes);
        product.bias = NULL;
        product.activation = MX_ACT_NONE;
        product.residual = NULL;
        MX_TRY(mx_gemm(context, &product, variant, workspace, weight_bytes, stream));
        return mx_activation_apply(problem->m, problem->n, problem->dtype, problem->activation,
                                   product.y, problem->bias, problem->residual, problem->y, stream);
    }
    nvtxRangePushA(mx_gemm_variant_name(variant));
    mx_status status = MX_OK;
    switch (variant) {
    case MX_GEMM_DEQUANT_CUBLAS:
        status = mx_weights_dequantize(&problem->w, problem->dtype, workspace, stream);
        if (status != MX_OK) break;
        [[fallthrough]]; /* the GEMM on the freshly dequantized weights */
    case MX_GEMM_PERSISTENT:
        status =
            mx_dense_gemm(context->cublas, problem->m, problem->n, problem->k, problem->batch,
                          problem->dtype, problem->x, workspace, problem->bias, problem->y, stream);
        break;
    default:
        status = mx_gemm_mma(context, problem, variant, stream);
        break;
    }
    nvtxRangePop();
    return status;
}

extern "C" mx_status mx_gemm_profile(mx_gemm_context *context, const mx_gemm_problem *problem,
                                     mx_gemm_variant variant, void *workspace,
                                     size_t workspace_bytes, int iterations, cudaStream_t stream,
                                     float *mean_us) {
    if (iterations <= 0 || !mean_us)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "iterations = %d (expected > 0), mean_us %s",
                       iterations, mean_us ? "set" : "NULL");
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_check_problem(problem));
    char name[160];
    snprintf(name, sizeof name, "mx_gemm %s m=%lld n=%lld k=%lld batch=%lld",
             mx_gemm_variant_name(variant), (long long)problem->m, (long long)problem->n,
             (long long)problem->k, (long long)problem->batch);
    cudaEvent_t start, stop;
    MX_CUDA_CHECK(cudaEventCreate(&start));
    cudaError_t created = cudaEventCreate(&stop);
    if (created != cudaSuccess) {
        cudaEventDestroy(start);
        return mx_cuda_fail(created, "cudaEventCreate", __FILE__, __LINE__);
    }
    nvtxRangePushA(name);
    mx_status status = MX_OK;
    cudaError_t error = cudaEventRecord(start, stream);
    for (int i = 0; i < iterations && status == MX_OK && error == cudaSuccess; i++)
        status = mx_gemm(context, problem, variant, workspace, workspace_bytes, stream);
    if (error == cudaSuccess) error = cudaEventRecord(stop, stream);
    if (error == cudaSuccess) error = cudaEventSynchronize(stop);
    float total_ms = 0.0f;
    if (error == cudaSuccess) error = cudaEventElapsedTime(&total_ms, start, stop);
    nvtxRangePop();
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    if (status != MX_OK) return status;
    if (error != cudaSuccess)
        return mx_cuda_fail(error, "mx_gemm_profile timing", __FILE__, __LINE__);
    *mean_us = total_ms * 1000.0f / (float)iterations;
    return MX_OK;
}
