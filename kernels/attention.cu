/* Attention block (attention.h): MXFP4 projections through mx_gemm, and the core every path
 * shares: S = Q K^T / sqrt(D) (cublasGemmBatchedEx, FP32 scores), a causal masked softmax (one CTA
 * per query row, FP32, max-subtracted) into FP16/BF16 probabilities, ctx = P V (cuBLAS again), in
 * steps of 256 queries against only the keys they can see. Pointer arrays carry GQA (several
 * query heads on one kv head). For prefill (no KV cache); the core's cost is in docs/attention.md.
 */
#include <cub/cub.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdlib.h>

#include "attention.h"
#include "check.h"
#include "dense_gemm.h"
#include "fp16.h"

struct mx_attention_context {
    mx_gemm_context *gemm;
    cublasHandle_t cublas; /* the core's products and the dense reference */
};

enum {
    MX_SOFTMAX_THREADS = 128,
    MX_POINTER_ARRAYS = 6, /* K, Q, S for Q K^T; V, P, ctx for P V */
    /* Queries per step of the core: step c computes the scores of queries [c*256, (c+1)*256)
     * against keys [0, (c+1)*256) only, so the causal upper triangle costs about 256 / (2 L) of
     * the work instead of as much again, and the scores buffer holds 256 rows per head. */
    MX_QUERY_CHUNK = 256,
};

/* Sequences whose scores are computed together stay within this many bytes of S and P (unless
 * one sequence alone needs more): few launches for many short sequences, bounded memory for long
 * ones. */
static const double mx_pass_score_bytes = 1073741824.0;

static size_t mx_align256(size_t bytes) {
    return (bytes + 255) / 256 * 256;
}

static int64_t mx_tokens(const mx_attention_shape *shape) {
    return shape->sequences * shape->seq_len;
}

static int64_t mx_qkv_rows(const mx_attention_shape *shape) {
    return (shape->q_heads + 2 * shape->kv_heads) * shape->head_dim;
}

/* Query rows per step (the last step of a sequence may have fewer). */
static int64_t mx_query_chunk(const mx_attention_shape *shape) {
    return shape->seq_len < MX_QUERY_CHUNK ? shape->seq_len : (int64_t)MX_QUERY_CHUNK;
}

static int64_t mx_sequences_per_pass(const mx_attention_shape *shape) {
    double per_sequence =
        (double)shape->q_heads * mx_query_chunk(shape) * shape->seq_len * 6.0; /* S + P */
    int64_t count = (int64_t)(mx_pass_score_bytes / per_sequence);
    if (count < 1) count = 1;
    return count < shape->sequences ? count : shape->sequences;
}

/* One step of the core: sequences [first_sequence, + sequences) and queries [first_query,
 * + queries) of each, against keys [0, keys). */
typedef struct {
    int64_t first_sequence, sequences, first_query, queries, keys;
} mx_core_step;

// ---- kernels

/* Operand pointers of one step's two batched products, one entry b per (sequence, query head)
 * of the step: arrays[a * batch + b] for a = K, Q, S, V, P, ctx. Entry b's scores and
 * probabilities are [queries, keys] at b * queries * keys. */
static __global__ void mx_attention_pointers_kernel(mx_attention_qkv_view view, char *out,
                                                    float *scores, char *probs, mx_core_step step,
                                                    int64_t q_heads, int64_t group, int64_t seq_len,
                                                    int64_t head_dim, void **arrays) {
    const int64_t batch = step.sequences * q_heads;
    int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch) return;
    const int64_t element = 2; /* FP16 and BF16 */
    int64_t head = b % q_heads, kv_head = head / group;
    int64_t first_token = (step.first_sequence + b / q_heads) * seq_len;
    int64_t first_query = first_token + step.first_query;
    int64_t slot = b * step.queries * step.keys;
    arrays[0 * batch + b] =
        (char *)view.k + (first_token * view.k_stride + kv_head * head_dim) * element;
    arrays[1 * batch + b] =
        (char *)view.q + (first_query * view.q_stride + head * head_dim) * element;
    arrays[2 * batch + b] = scores + slot;
    arrays[3 * batch + b] =
        (char *)view.v + (first_token * view.v_stride + kv_head * head_dim) * element;
    arrays[4 * batch + b] = probs + slot * element;
    arrays[5 * batch + b] = out + (first_query * q_heads * head_dim + head * head_dim) * element;
}

/* Running (max, sum of exp(s - max)) of a part of a row; merged across threads by CUB. */
struct mx_softmax_state {
    float max, sum;
};

struct mx_softmax_merge {
    __device__ mx_softmax_state operator()(const mx_softmax_state &a,
                                           const mx_softmax_state &b) const {
        float max = fmaxf(a.max, b.max);
        if (max == -INFINITY) return a; /* both parts empty */
        mx_softmax_state merged = {max, a.sum * expf(a.max - max) + b.sum * expf(b.max - max)};
        return merged;
    }
};

/* One CTA per score row r of a step (scores [rows, keys], queries rows per head): the query at
 * position i = first_query + r % queries sees keys 0..i. probs gets exp(s - max) / sum there and
 * exact zeros past i, so that the P V product adds nothing from future tokens. A NaN score makes
 * its row NaN (the sum becomes NaN). */
template <typename T>
static __global__ void __launch_bounds__(MX_SOFTMAX_THREADS)
    mx_attention_softmax_kernel(const float *scores, T *probs, int64_t queries, int64_t keys,
                                int64_t first_query) {
    using block_reduce = cub::BlockReduce<mx_softmax_state, MX_SOFTMAX_THREADS>;
    __shared__ typename block_reduce::TempStorage storage;
    __shared__ mx_softmax_state row_state;
    const int64_t row = blockIdx.x, last_key = first_query + row % queries;
    const float *s = scores + row * keys;
    T *p = probs + row * keys;
    mx_softmax_state state = {-INFINITY, 0.0f};
    for (int64_t j = threadIdx.x; j <= last_key; j += MX_SOFTMAX_THREADS) {
        float value = s[j];
        if (value > state.max) {
            state.sum = state.sum * expf(state.max - value) + 1.0f;
            state.max = value;
        } else {
            state.sum += expf(value - state.max);
        }
    }
    mx_softmax_state total = block_reduce(storage).Reduce(state, mx_softmax_merge());
    if (threadIdx.x == 0) row_state = total;
    __syncthreads();
    const float max = row_state.max, inverse = 1.0f / row_state.sum;
    for (int64_t j = threadIdx.x; j < keys; j += MX_SOFTMAX_THREADS)
        p[j] = (T)(j <= last_key ? expf(s[j] - max) * inverse : 0.0f);
}

// ---- launchers

static size_t mx_core_bytes(const mx_attention_shape *shape) {
    int64_t batch = mx_sequences_per_pass(shape) * shape->q_heads;
    size_t scores = (size_t)(batch * mx_query_chunk(shape) * shape->seq_len);
    return mx_align256((size_t)batch * MX_POINTER_ARRAYS * sizeof(void *)) +
           mx_align256(scores * 4) + mx_align256(scores * 2);
}

static mx_status mx_attention_softmax_launch(const mx_attention_shape *shape, const float *scores,
                                             void *probs, const mx_core_step *step, int64_t rows,
                                             cudaStream_t stream) {
    if (shape->dtype == MX_BF16)
        mx_attention_softmax_kernel<__nv_bfloat16>
            <<<(unsigned)rows, MX_SOFTMAX_THREADS, 0, stream>>>(
                scores, (__nv_bfloat16 *)probs, step->queries, step->keys, step->first_query);
    else
        mx_attention_softmax_kernel<__half><<<(unsigned)rows, MX_SOFTMAX_THREADS, 0, stream>>>(
            scores, (__half *)probs, step->queries, step->keys, step->first_query);
    MX_LAUNCH_CHECK("mx_attention_softmax_kernel");
    return MX_OK;
}

/* One step: its pointer arrays, S = Q K^T / sqrt(D), the masked softmax, ctx = P V. */
static mx_status mx_attention_step(mx_attention_context *context, const mx_attention_shape *shape,
                                   const mx_attention_qkv_view *view, void *out, void **arrays,
                                   float *scores, void *probs, const mx_core_step *step,
                                   cudaStream_t stream) {
    const int64_t batch = step->sequences * shape->q_heads;
    const int threads = 256;
    mx_attention_pointers_kernel<<<(unsigned)((batch + threads - 1) / threads), threads, 0,
                                   stream>>>(*view, (char *)out, scores, (char *)probs, *step,
                                             shape->q_heads, shape->q_heads / shape->kv_heads,
                                             shape->seq_len, shape->head_dim, arrays);
    MX_LAUNCH_CHECK("mx_attention_pointers_kernel");
    cublasHandle_t cublas = context->cublas;
    const cudaDataType type = shape->dtype == MX_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float scale = (float)(1.0 / sqrt((double)shape->head_dim)), one = 1.0f, zero = 0.0f;
    const int keys = (int)step->keys, queries = (int)step->queries, d = (int)shape->head_dim;
    /* Column-major view of row-major data: S^T[j, i] = sum_d K[j, d] Q[i, d], i.e. the TN
     * product with K as the transposed A; S row i is query i, contiguous over keys j. */
    MX_CUBLAS_CHECK(cublasGemmBatchedEx(
        cublas, CUBLAS_OP_T, CUBLAS_OP_N, keys, queries, d, &scale,
        (const void *const *)(arrays + 0 * batch), type, (int)view->k_stride,
        (const void *const *)(arrays + 1 * batch), type, (int)view->q_stride, &zero,
        arrays + 2 * batch, CUDA_R_32F, keys, (int)batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    MX_TRY(mx_attention_softmax_launch(shape, scores, probs, step, batch * step->queries, stream));
    /* ctx^T[d, i] = sum_j V[j, d] P[i, j]: V^T is V read column-major, P^T likewise. */
    MX_CUBLAS_CHECK(
        cublasGemmBatchedEx(cublas, CUBLAS_OP_N, CUBLAS_OP_N, d, queries, keys, &one,
                            (const void *const *)(arrays + 3 * batch), type, (int)view->v_stride,
                            (const void *const *)(arrays + 4 * batch), type, keys, &zero,
                            arrays + 5 * batch, type, (int)(shape->q_heads * shape->head_dim),
                            (int)batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return MX_OK;
}

/* The core on arguments already checked; workspace holds mx_core_bytes. Steps run in stream
 * order, so one set of pointer arrays and one scores buffer serve them all. */
static mx_status mx_attention_core_launch(mx_attention_context *context,
                                          const mx_attention_shape *shape,
                                          const mx_attention_qkv_view *view, void *out,
                                          void *workspace, cudaStream_t stream) {
    const int64_t per_pass = mx_sequences_per_pass(shape), chunk = mx_query_chunk(shape);
    const int64_t max_batch = per_pass * shape->q_heads;
    const size_t scores_count = (size_t)(max_batch * chunk * shape->seq_len);
    void **arrays = (void **)workspace;
    char *scores =
        (char *)workspace + mx_align256((size_t)max_batch * MX_POINTER_ARRAYS * sizeof(void *));
    char *probs = scores + mx_align256(scores_count * 4);
    MX_CUBLAS_CHECK(cublasSetStream(context->cublas, stream));
    for (int64_t first = 0; first < shape->sequences; first += per_pass) {
        for (int64_t query = 0; query < shape->seq_len; query += chunk) {
            mx_core_step step;
            step.first_sequence = first;
            step.sequences =
                shape->sequences - first < per_pass ? shape->sequences - first : per_pass;
            step.first_query = query;
            step.queries = shape->seq_len - query < chunk ? shape->seq_len - query : chunk;
            step.keys = query + step.queries;
            MX_TRY(mx_attention_step(context, shape, view, out, arrays, (float *)scores, probs,
                                     &step, stream));
        }
    }
    return MX_OK;
}

/* mx_gemm problem of rows [first_row, first_row + rows) of W_qkv writing y [tokens, rows]. */
static mx_gemm_problem mx_qkv_gemm(const mx_attention_problem *problem, int64_t first_row,
                                   int64_t rows, void *y) {
    const mx_attention_shape *shape = &problem->shape;
    mx_gemm_problem gemm = {};
    gemm.m = mx_tokens(shape);
    gemm.n = rows;
    gemm.k = shape->hidden;
    gemm.batch = 1;
    gemm.dtype = shape->dtype;
    gemm.x = problem->x;
    /* A slice that is not a prepared view stays zero (refused by mx_gemm; the entry points
     * refuse such shapes first, mx_check_qkv_slices). */
    if (mx_weights_rows(&problem->qkv, first_row, rows, &gemm.w) != MX_OK) gemm.w = mx_weights{};
    if (problem->qkv_bias) gemm.bias = (const char *)problem->qkv_bias + first_row * 2;
    gemm.y = y;
    return gemm;
}

static mx_gemm_problem mx_output_gemm(const mx_attention_problem *problem, const void *attn) {
    const mx_attention_shape *shape = &problem->shape;
    mx_gemm_problem gemm = {};
    gemm.m = mx_tokens(shape);
    gemm.n = shape->hidden;
    gemm.k = shape->q_heads * shape->head_dim;
    gemm.batch = 1;
    gemm.dtype = shape->dtype;
    gemm.x = attn;
    gemm.w = problem->o;
    gemm.bias = problem->o_bias;
    gemm.residual = problem->residual;
    gemm.y = problem->y;
    return gemm;
}

/* Which projections a workspace must serve (a mask). */
enum { MX_PROJ_FUSED = 1, MX_PROJ_SEPARATE = 2, MX_PROJ_OUTPUT = 4 };

static mx_status mx_projection_bytes(mx_attention_context *context,
                                     const mx_attention_problem *problem, int which,
                                     mx_gemm_variant variant, size_t *largest) {
    const mx_attention_shape *shape = &problem->shape;
    const int64_t q_rows = shape->q_heads * shape->head_dim,
                  kv_rows = shape->kv_heads * shape->head_dim;
    mx_gemm_problem gemms[5];
    int count = 0;
    if (which & MX_PROJ_FUSED) gemms[count++] = mx_qkv_gemm(problem, 0, mx_qkv_rows(shape), NULL);
    if (which & MX_PROJ_SEPARATE) {
        gemms[count++] = mx_qkv_gemm(problem, 0, q_rows, NULL);
        gemms[count++] = mx_qkv_gemm(problem, q_rows, kv_rows, NULL);
        gemms[count++] = mx_qkv_gemm(problem, q_rows + kv_rows, kv_rows, NULL);
    }
    if (which & MX_PROJ_OUTPUT) gemms[count++] = mx_output_gemm(problem, NULL);
    *largest = 0;
    for (int i = 0; i < count; i++) {
        size_t bytes = 0;
        MX_TRY(mx_gemm_workspace_bytes(context->gemm, &gemms[i], variant, &bytes));
        *largest = bytes > *largest ? bytes : *largest;
    }
    return MX_OK;
}

/* Block workspace: Q/K/V buffer, context buffer, then a region the core and the projections (or
 * the dense path's residual temporary) use in turn. */
typedef struct {
    size_t qkv_offset, attn_offset, rest_offset, total;
} mx_block_layout;

static mx_block_layout mx_block(const mx_attention_shape *shape, size_t rest_bytes) {
    mx_block_layout layout;
    const int64_t tokens = mx_tokens(shape);
    layout.qkv_offset = 0;
    layout.attn_offset = mx_align256((size_t)(tokens * mx_qkv_rows(shape) * 2));
    layout.rest_offset =
        layout.attn_offset + mx_align256((size_t)(tokens * shape->q_heads * shape->head_dim * 2));
    size_t core = mx_core_bytes(shape);
    layout.total = layout.rest_offset + (core > rest_bytes ? core : rest_bytes);
    return layout;
}

static size_t mx_dense_rest_bytes(const mx_attention_problem *problem) {
    return problem->residual ? (size_t)(mx_tokens(&problem->shape) * problem->shape.hidden * 2) : 0;
}

// ---- argument checks

extern "C" mx_status mx_attention_check_shape(const mx_attention_shape *s) {
    if (!s) return mx_fail(MX_ERR_INVALID_ARGUMENT, "shape is NULL");
    if (s->sequences <= 0 || s->seq_len <= 0 || s->hidden <= 0 || s->q_heads <= 0 ||
        s->kv_heads <= 0 || s->head_dim <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "sequences = %lld, seq_len = %lld, hidden = %lld, q_heads = %lld, "
                       "kv_heads = %lld, head_dim = %lld: expected all > 0",
                       (long long)s->sequences, (long long)s->seq_len, (long long)s->hidden,
                       (long long)s->q_heads, (long long)s->kv_heads, (long long)s->head_dim);
    if (s->q_heads % s->kv_heads != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "q_heads = %lld: expected a multiple of kv_heads = %lld",
                       (long long)s->q_heads, (long long)s->kv_heads);
    if (s->dtype != MX_F16 && s->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)s->dtype);
    if (s->hidden % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "hidden = %lld: expected a multiple of 32 (the MXFP4 block along K)",
                       (long long)s->hidden);
    if (s->head_dim % 8 != 0 || s->head_dim > MX_ATTENTION_MAX_HEAD_DIM)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "head_dim = %lld: expected a multiple of 8 in [8, %d]",
                       (long long)s->head_dim, MX_ATTENTION_MAX_HEAD_DIM);
    const int64_t limit = (int64_t)1 << 30; /* mx_gemm's bound on m and n */
    if (s->q_heads > limit || s->kv_heads > limit || mx_qkv_rows(s) > limit || s->hidden > limit)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "(q_heads + 2 kv_heads) * head_dim = (%lld + 2 * %lld) * %lld and hidden = "
                       "%lld: expected each <= 2^30",
                       (long long)s->q_heads, (long long)s->kv_heads, (long long)s->head_dim,
                       (long long)s->hidden);
    if (s->q_heads * s->head_dim % MX_BLOCK_SIZE != 0)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "q_heads * head_dim = %lld: expected a multiple of 32 (W_o's input width)",
                       (long long)(s->q_heads * s->head_dim));
    if (s->seq_len > limit / s->sequences)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "sequences * seq_len = %lld * %lld: expected at most 2^30 tokens",
                       (long long)s->sequences, (long long)s->seq_len);
    MX_TRY(mx_check_shape(mx_qkv_rows(s), s->hidden));
    MX_TRY(mx_check_shape(s->hidden, s->q_heads * s->head_dim));
    double scores_bytes = (double)s->q_heads * mx_query_chunk(s) * s->seq_len * 6.0;
    double activation_bytes = (double)mx_tokens(s) * (mx_qkv_rows(s) + s->hidden) * 2.0;
    if (s->q_heads * s->seq_len > INT32_MAX || s->sequences * s->q_heads > INT32_MAX ||
        scores_bytes > 0x1p46 || activation_bytes > 0x1p46)
        return mx_fail(
            MX_ERR_UNSUPPORTED_SHAPE,
            "sequences = %lld, q_heads = %lld, seq_len = %lld: the scores of a step "
            "of one sequence take %.3g GB and the activations %.3g GB; beyond what the core "
            "supports (at most 2^31 - 1 (sequence, head) pairs and query rows per "
            "sequence, 2^46 bytes)",
            (long long)s->sequences, (long long)s->q_heads, (long long)s->seq_len,
            scores_bytes / 1e9, activation_bytes / 1e9);
    return MX_OK;
}

/* What an entry point reads or writes; only those pointers are checked. */
enum {
    MX_USES_QKV_MXFP4 = 1,
    MX_USES_O_MXFP4 = 2,
    MX_USES_DENSE = 4,
};

static mx_status mx_check_problem(const mx_attention_problem *problem, int uses) {
    if (!problem) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    MX_TRY(mx_attention_check_shape(&problem->shape));
    if (uses & (MX_USES_QKV_MXFP4 | MX_USES_DENSE)) {
        MX_TRY(mx_check_pointer(problem->x, 16, "x"));
        if (problem->qkv_bias) MX_TRY(mx_check_pointer(problem->qkv_bias, 2, "qkv_bias"));
    }
    const mx_attention_shape *shape = &problem->shape;
    if (uses & MX_USES_QKV_MXFP4)
        MX_TRY(mx_weights_check(&problem->qkv, mx_qkv_rows(shape), shape->hidden, 1, "qkv"));
    if (uses & MX_USES_O_MXFP4)
        MX_TRY(
            mx_weights_check(&problem->o, shape->hidden, shape->q_heads * shape->head_dim, 1, "o"));
    if (uses & MX_USES_DENSE) {
        MX_TRY(mx_check_pointer(problem->qkv_weight, 16, "qkv_weight"));
        MX_TRY(mx_check_pointer(problem->o_weight, 16, "o_weight"));
    }
    if (uses & (MX_USES_O_MXFP4 | MX_USES_DENSE)) {
        MX_TRY(mx_check_pointer(problem->y, 4, "y"));
        if (problem->o_bias) MX_TRY(mx_check_pointer(problem->o_bias, 2, "o_bias"));
        if (problem->residual) MX_TRY(mx_check_pointer(problem->residual, 2, "residual"));
    }
    return MX_OK;
}

static mx_status mx_check_variant(mx_gemm_variant variant) {
    /* persistent reads weights that mx_gemm_persistent_prepare left in the workspace; the block
     * reuses its workspace between projections, so nothing would be there. */
    return mx_gemm_check_block_variant(variant, "the attention block",
                                       "its workspace holds no prepared weights");
}

static mx_status mx_check_workspace(size_t needed, const void *workspace, size_t workspace_bytes,
                                    const char *what) {
    if (workspace_bytes < needed || (needed > 0 && !workspace))
        return mx_fail(MX_ERR_WORKSPACE, "%s needs %zu workspace bytes; got %zu%s", what, needed,
                       workspace_bytes, workspace ? "" : " (NULL)");
    if (needed > 0) MX_TRY(mx_check_pointer(workspace, 256, "workspace"));
    return MX_OK;
}

static mx_status mx_check_view(const mx_attention_shape *shape, const mx_attention_qkv_view *view) {
    if (!view) return mx_fail(MX_ERR_INVALID_ARGUMENT, "qkv view is NULL");
    MX_TRY(mx_check_pointer(view->q, 16, "q"));
    MX_TRY(mx_check_pointer(view->k, 16, "k"));
    MX_TRY(mx_check_pointer(view->v, 16, "v"));
    const int64_t q_width = shape->q_heads * shape->head_dim,
                  kv_width = shape->kv_heads * shape->head_dim;
    const int64_t strides[3] = {view->q_stride, view->k_stride, view->v_stride};
    const int64_t widths[3] = {q_width, kv_width, kv_width};
    const char *names[3] = {"q_stride", "k_stride", "v_stride"};
    for (int i = 0; i < 3; i++)
        if (strides[i] < widths[i] || strides[i] % 8 != 0 || strides[i] > INT32_MAX)
            return mx_fail(MX_ERR_INVALID_ARGUMENT,
                           "%s = %lld: expected a multiple of 8 in [%lld, 2^31) (the heads' width)",
                           names[i], (long long)strides[i], (long long)widths[i]);
    return MX_OK;
}

static mx_status mx_check_context(const mx_attention_context *context) {
    return context ? MX_OK : mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
}

// ---- public entry points

extern "C" mx_status mx_attention_context_create(mx_attention_context **context) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    *context = nullptr;
    mx_attention_context *created = (mx_attention_context *)calloc(1, sizeof *created);
    if (!created) return mx_fail(MX_ERR_OUT_OF_MEMORY, "cannot allocate an attention context");
    mx_status status = mx_gemm_context_create(&created->gemm);
    if (status != MX_OK) {
        free(created);
        return status;
    }
    cublasStatus_t cublas_status = cublasCreate(&created->cublas);
    if (cublas_status != CUBLAS_STATUS_SUCCESS) {
        mx_gemm_context_destroy(created->gemm);
        free(created);
        return mx_cublas_fail(cublas_status, "cublasCreate", __FILE__, __LINE__);
    }
    *context = created;
    return MX_OK;
}

extern "C" void mx_attention_context_destroy(mx_attention_context *context) {
    if (!context) return;
    cublasDestroy(context->cublas);
    mx_gemm_context_destroy(context->gemm);
    free(context);
}

extern "C" const char *mx_attention_qkv_mode_name(mx_attention_qkv_mode mode) {
    switch (mode) {
    case MX_ATTENTION_QKV_FUSED:
        return "fused_qkv";
    case MX_ATTENTION_QKV_SEPARATE:
        return "separate_qkv";
    default:
        return "unknown";
    }
}

extern "C" mx_attention_qkv_view mx_attention_fused_view(const mx_attention_shape *shape,
                                                         const void *qkv) {
    const int64_t q_width = shape->q_heads * shape->head_dim,
                  kv_width = shape->kv_heads * shape->head_dim, stride = mx_qkv_rows(shape);
    mx_attention_qkv_view view;
    view.q = qkv;
    view.k = (const char *)qkv + q_width * 2;
    view.v = (const char *)qkv + (q_width + kv_width) * 2;
    view.q_stride = view.k_stride = view.v_stride = stride;
    return view;
}

extern "C" mx_status mx_attention_core_workspace_bytes(const mx_attention_shape *shape,
                                                       size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_attention_check_shape(shape));
    *bytes = mx_core_bytes(shape);
    return MX_OK;
}

extern "C" mx_status mx_attention_projection_workspace_bytes(mx_attention_context *context,
                                                             const mx_attention_problem *problem,
                                                             mx_gemm_variant variant,
                                                             size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_check_variant(variant));
    MX_TRY(mx_check_problem(problem, 0));
    return mx_projection_bytes(context, problem, MX_PROJ_FUSED | MX_PROJ_SEPARATE | MX_PROJ_OUTPUT,
                               variant, bytes);
}

static int mx_mode_projections(mx_attention_qkv_mode mode) {
    return (mode == MX_ATTENTION_QKV_FUSED ? MX_PROJ_FUSED : MX_PROJ_SEPARATE) | MX_PROJ_OUTPUT;
}

static mx_status mx_check_mode(mx_attention_qkv_mode mode) {
    if ((unsigned)mode >= MX_ATTENTION_QKV_MODE_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "mode = %d: expected MX_ATTENTION_QKV_FUSED or MX_ATTENTION_QKV_SEPARATE",
                       (int)mode);
    return MX_OK;
}

extern "C" mx_status mx_attention_workspace_bytes(mx_attention_context *context,
                                                  const mx_attention_problem *problem,
                                                  mx_attention_qkv_mode mode,
                                                  mx_gemm_variant variant, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_check_mode(mode));
    MX_TRY(mx_check_variant(variant));
    MX_TRY(mx_check_problem(problem, 0));
    size_t projection_bytes = 0;
    MX_TRY(mx_projection_bytes(context, problem, mx_mode_projections(mode), variant,
                               &projection_bytes));
    *bytes = mx_block(&problem->shape, projection_bytes).total;
    return MX_OK;
}

extern "C" mx_status mx_attention_fp16_workspace_bytes(const mx_attention_problem *problem,
                                                       size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_check_problem(problem, 0));
    *bytes = mx_block(&problem->shape, mx_dense_rest_bytes(problem)).total;
    return MX_OK;
}

/* The checks of every projection entry point: context, variant, the problem's inputs, and the
 * workspace of the projections `which` runs. */
/* The separate projections read W_qkv from rows q_heads * D and (q_heads + kv_heads) * D:
 * prepared views start on 16-row tiles. */
static mx_status mx_check_qkv_slices(const mx_attention_shape *shape) {
    if ((shape->q_heads * shape->head_dim) % MX_TILE_ROWS == 0 &&
        (shape->kv_heads * shape->head_dim) % MX_TILE_ROWS == 0)
        return MX_OK;
    return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                   "separate Q/K/V projections with q_heads * head_dim = %lld and kv_heads * "
                   "head_dim = %lld: prepared W_qkv splits at multiples of %d rows (use the "
                   "fused QKV projection)",
                   (long long)(shape->q_heads * shape->head_dim),
                   (long long)(shape->kv_heads * shape->head_dim), MX_TILE_ROWS);
}

static mx_status mx_check_projection(mx_attention_context *context,
                                     const mx_attention_problem *problem, mx_gemm_variant variant,
                                     int uses, int which, const void *workspace,
                                     size_t workspace_bytes, const char *what) {
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_check_variant(variant));
    MX_TRY(mx_check_problem(problem, uses));
    if (which & MX_PROJ_SEPARATE) MX_TRY(mx_check_qkv_slices(&problem->shape));
    size_t needed = 0;
    MX_TRY(mx_projection_bytes(context, problem, which, variant, &needed));
    return mx_check_workspace(needed, workspace, workspace_bytes, what);
}

extern "C" mx_status mx_attention_qkv_fused(mx_attention_context *context,
                                            const mx_attention_problem *problem,
                                            mx_gemm_variant variant, void *qkv, void *workspace,
                                            size_t workspace_bytes, cudaStream_t stream) {
    MX_TRY(mx_check_projection(context, problem, variant, MX_USES_QKV_MXFP4, MX_PROJ_FUSED,
                               workspace, workspace_bytes, "the fused QKV projection"));
    MX_TRY(mx_check_pointer(qkv, 4, "qkv"));
    mx_gemm_problem gemm = mx_qkv_gemm(problem, 0, mx_qkv_rows(&problem->shape), qkv);
    return mx_gemm(context->gemm, &gemm, variant, workspace, workspace_bytes, stream);
}

/* Q, K and V as three products over the row slices of W_qkv (arguments already checked). */
static mx_status mx_qkv_separate_launch(mx_attention_context *context,
                                        const mx_attention_problem *problem,
                                        mx_gemm_variant variant, void *q, void *k, void *v,
                                        void *workspace, size_t workspace_bytes,
                                        cudaStream_t stream) {
    const mx_attention_shape *shape = &problem->shape;
    const int64_t q_rows = shape->q_heads * shape->head_dim,
                  kv_rows = shape->kv_heads * shape->head_dim;
    const int64_t first_rows[3] = {0, q_rows, q_rows + kv_rows};
    const int64_t rows[3] = {q_rows, kv_rows, kv_rows};
    void *outputs[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
        mx_gemm_problem gemm = mx_qkv_gemm(problem, first_rows[i], rows[i], outputs[i]);
        MX_TRY(mx_gemm(context->gemm, &gemm, variant, workspace, workspace_bytes, stream));
    }
    return MX_OK;
}

extern "C" mx_status mx_attention_qkv_separate(mx_attention_context *context,
                                               const mx_attention_problem *problem,
                                               mx_gemm_variant variant, void *q, void *k, void *v,
                                               void *workspace, size_t workspace_bytes,
                                               cudaStream_t stream) {
    MX_TRY(mx_check_projection(context, problem, variant, MX_USES_QKV_MXFP4, MX_PROJ_SEPARATE,
                               workspace, workspace_bytes, "the separate Q/K/V projections"));
    MX_TRY(mx_check_pointer(q, 4, "q"));
    MX_TRY(mx_check_pointer(k, 4, "k"));
    MX_TRY(mx_check_pointer(v, 4, "v"));
    return mx_qkv_separate_launch(context, problem, variant, q, k, v, workspace, workspace_bytes,
                                  stream);
}

extern "C" mx_status mx_attention_core(mx_attention_context *context,
                                       const mx_attention_shape *shape,
                                       const mx_attention_qkv_view *qkv, void *out, void *workspace,
                                       size_t workspace_bytes, cudaStream_t stream) {
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_attention_check_shape(shape));
    MX_TRY(mx_check_view(shape, qkv));
    MX_TRY(mx_check_pointer(out, 16, "out"));
    MX_TRY(
        mx_check_workspace(mx_core_bytes(shape), workspace, workspace_bytes, "the attention core"));
    return mx_attention_core_launch(context, shape, qkv, out, workspace, stream);
}

extern "C" mx_status mx_attention_output(mx_attention_context *context,
                                         const mx_attention_problem *problem,
                                         mx_gemm_variant variant, const void *attn, void *workspace,
                                         size_t workspace_bytes, cudaStream_t stream) {
    MX_TRY(mx_check_projection(context, problem, variant, MX_USES_O_MXFP4, MX_PROJ_OUTPUT,
                               workspace, workspace_bytes, "the output projection"));
    MX_TRY(mx_check_pointer(attn, 16, "attn"));
    mx_gemm_problem gemm = mx_output_gemm(problem, attn);
    return mx_gemm(context->gemm, &gemm, variant, workspace, workspace_bytes, stream);
}

extern "C" mx_status mx_attention(mx_attention_context *context,
                                  const mx_attention_problem *problem, mx_attention_qkv_mode mode,
                                  mx_gemm_variant variant, void *workspace, size_t workspace_bytes,
                                  cudaStream_t stream) {
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_check_mode(mode));
    MX_TRY(mx_check_variant(variant));
    MX_TRY(mx_check_problem(problem, MX_USES_QKV_MXFP4 | MX_USES_O_MXFP4));
    const mx_attention_shape *shape = &problem->shape;
    if (mode == MX_ATTENTION_QKV_SEPARATE) MX_TRY(mx_check_qkv_slices(shape));
    size_t projection_bytes = 0;
    MX_TRY(mx_projection_bytes(context, problem, mx_mode_projections(mode), variant,
                               &projection_bytes));
    mx_block_layout layout = mx_block(shape, projection_bytes);
    MX_TRY(mx_check_workspace(layout.total, workspace, workspace_bytes, "the attention block"));
    char *base = (char *)workspace;
    char *qkv = base + layout.qkv_offset, *attn = base + layout.attn_offset,
         *rest = base + layout.rest_offset;
    const size_t rest_bytes = workspace_bytes - layout.rest_offset;
    mx_attention_qkv_view view;
    if (mode == MX_ATTENTION_QKV_FUSED) {
        mx_gemm_problem gemm = mx_qkv_gemm(problem, 0, mx_qkv_rows(shape), qkv);
        MX_TRY(mx_gemm(context->gemm, &gemm, variant, rest, rest_bytes, stream));
        view = mx_attention_fused_view(shape, qkv);
    } else {
        /* Q [tokens, q_heads * D], then K and V [tokens, kv_heads * D], in the same buffer. */
        const int64_t tokens = mx_tokens(shape), q_width = shape->q_heads * shape->head_dim,
                      kv_width = shape->kv_heads * shape->head_dim;
        char *k = qkv + tokens * q_width * 2, *v = k + tokens * kv_width * 2;
        MX_TRY(
            mx_qkv_separate_launch(context, problem, variant, qkv, k, v, rest, rest_bytes, stream));
        view.q = qkv;
        view.k = k;
        view.v = v;
        view.q_stride = q_width;
        view.k_stride = view.v_stride = kv_width;
    }
    MX_TRY(mx_attention_core_launch(context, shape, &view, attn, rest, stream));
    mx_gemm_problem output = mx_output_gemm(problem, attn);
    return mx_gemm(context->gemm, &output, variant, rest, rest_bytes, stream);
}

extern "C" mx_status mx_attention_fp16(mx_attention_context *context,
                                       const mx_attention_problem *problem, void *workspace,
                                       size_t workspace_bytes, cudaStream_t stream) {
    MX_TRY(mx_check_context(context));
    MX_TRY(mx_check_problem(problem, MX_USES_DENSE));
    const mx_attention_shape *shape = &problem->shape;
    mx_block_layout layout = mx_block(shape, mx_dense_rest_bytes(problem));
    MX_TRY(mx_check_workspace(layout.total, workspace, workspace_bytes,
                              "the FP16 reference attention block"));
    char *base = (char *)workspace;
    char *qkv = base + layout.qkv_offset, *attn = base + layout.attn_offset,
         *rest = base + layout.rest_offset;
    const int64_t tokens = mx_tokens(shape), attn_width = shape->q_heads * shape->head_dim;
    MX_TRY(mx_dense_gemm(context->cublas, tokens, mx_qkv_rows(shape), shape->hidden, 1,
                         shape->dtype, problem->x, problem->qkv_weight, problem->qkv_bias, qkv,
                         stream));
    mx_attention_qkv_view view = mx_attention_fused_view(shape, qkv);
    MX_TRY(mx_attention_core_launch(context, shape, &view, attn, rest, stream));
    if (!problem->residual)
        return mx_dense_gemm(context->cublas, tokens, shape->hidden, attn_width, 1, shape->dtype,
                             attn, problem->o_weight, problem->o_bias, problem->y, stream);
    /* As mx_gemm's epilogue: the product rounded to the dtype, then bias and residual in FP32
     * (residual may be y itself). */
    MX_TRY(mx_dense_gemm(context->cublas, tokens, shape->hidden, attn_width, 1, shape->dtype, attn,
                         problem->o_weight, NULL, rest, stream));
    return mx_activation_apply(tokens, shape->hidden, shape->dtype, MX_ACT_NONE, rest,
                               problem->o_bias, problem->residual, problem->y, stream);
}
