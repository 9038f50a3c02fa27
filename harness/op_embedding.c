/* The embedding op for the harness: y[t] = dequant(table[id[t]]) + positions[t % seq_len] over
 * `batch` sequences of m tokens, table MXFP4 [N = vocab, K = hidden], token ids uniform in
 * [0, vocab) from the row's seed, an FP16/BF16 position table from the row's distribution.
 * Variants of kernels/embedding.h: "onthefly" and "cached"; the FP16 reference is the gather
 * from the dequantized dense table; the exact reference is the CPU codec + FP64 sum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedding_ref.h"
#include "op_util.h"

/* The CPU reference runs when the output has at most this many elements (256 MB of doubles)
 * and the MXFP4 table it decodes rows from (downloaded whole) is at most 1 GiB. */
#define EMBEDDING_EXACT_MAX_OUTPUTS     (1LL << 25)
#define EMBEDDING_EXACT_MAX_TABLE_BYTES (1LL << 30)

typedef struct {
    int64_t vocab, hidden, seq_len, tokens;
    mx_dtype dtype;
    mx_op_weight w;
    int32_t *ids;
    void *positions, *y, *y_fp16, *y_original;
    double *y_exact;
    mx_embedding_context *context;
} embedding_problem;

/* The variants' codes (mx_op_prepared.variant); cached keeps its cache as the workspace. */
enum { EMBEDDING_ONTHEFLY, EMBEDDING_CACHED };

static const char *const embedding_variants[] = {"onthefly", "cached", NULL};

/* Rows read (tokens x a row in the MXFP4 storage, or FP16 for the reference; the cached variant
 * moves the FP16 bytes too, which this interface cannot tell apart: its GB/s is understated),
 * the position table once, the ids and the output written. */
static double embedding_bytes(const mx_sweep_row *row, bool fp16) {
    double tokens = (double)row->m * row->batch;
    double row_bytes = row->k * (fp16 ? 2.0 : MX_BYTES_PER_WEIGHT);
    return tokens * (row_bytes + 4.0 + row->k * 2.0) + (double)row->m * row->k * 2.0;
}

/* One add per output element (the position embedding). */
static double embedding_flops(const mx_sweep_row *row) {
    return (double)row->m * row->batch * row->k;
}

static void embedding_teardown(void *opaque) {
    embedding_problem *p = opaque;
    if (!p) return;
    void *buffers[] = {p->ids, p->positions, p->y, p->y_fp16, p->y_original, p->y_exact};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_op_weight_free(&p->w);
    mx_embedding_context_destroy(p->context);
    free(p);
}

static mx_embedding_problem view(const embedding_problem *p) {
    mx_embedding_problem problem = {.vocab = p->vocab,
                                    .hidden = p->hidden,
                                    .tokens = p->tokens,
                                    .seq_len = p->seq_len,
                                    .dtype = p->dtype,
                                    .ids = p->ids,
                                    .positions = p->positions,
                                    .y = p->y};
    return problem;
}

/* Gathers from a dense table into y and checks the ids (synchronizes). */
static bool gather(embedding_problem *p, const void *table, void *y, char *why, size_t why_size) {
    mx_embedding_problem problem = view(p);
    problem.y = y;
    return mx_op_mx_ok(mx_embedding_gather(p->context, &problem, table, 0), why, why_size,
                       "gather") &&
           mx_op_mx_ok(mx_embedding_status(p->context, 0), why, why_size, "token ids");
}

/* Token ids uniform in [0, vocab) from seed (splitmix64; the top 32 bits times vocab). */
static bool make_ids(embedding_problem *p, uint64_t seed, char *why, size_t why_size) {
    int32_t *host = malloc((size_t)p->tokens * sizeof *host);
    if (!host) return mx_op_failed(why, why_size, "token ids", "out of host memory");
    for (int64_t t = 0; t < p->tokens; t++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        host[t] = (int32_t)(((z >> 32) * (uint64_t)p->vocab) >> 32);
    }
    bool ok = mx_op_allocate((void **)&p->ids, p->tokens * 4.0, why, why_size, "token ids") &&
              mx_op_cuda_ok(cudaMemcpy(p->ids, host, (size_t)p->tokens * 4, cudaMemcpyHostToDevice),
                            why, why_size, "token ids");
    free(host);
    return ok;
}

/* The CPU FP64 reference (within the bounds above), uploaded into y_exact. */
static bool exact_reference(embedding_problem *p, char *why, size_t why_size) {
    int64_t outputs = p->tokens * p->hidden;
    int64_t table_bytes = mx_op_weight_bytes_mxfp4(p->vocab, p->hidden);
    if (outputs > EMBEDDING_EXACT_MAX_OUTPUTS || table_bytes > EMBEDDING_EXACT_MAX_TABLE_BYTES)
        return true;
    size_t block_bytes = (size_t)(p->vocab * p->hidden / 2),
           scale_bytes = (size_t)(p->vocab * p->hidden / MX_BLOCK_SIZE);
    uint8_t *blocks = malloc(block_bytes), *scales = malloc(scale_bytes);
    int32_t *ids = malloc((size_t)p->tokens * sizeof *ids);
    double *positions = NULL, *y = malloc((size_t)outputs * sizeof *y);
    bool ok = (blocks && scales && ids && y) ||
              mx_op_failed(why, why_size, "FP64 reference", "out of host memory");
    ok = ok &&
         mx_op_cuda_ok(cudaMemcpy(blocks, p->w.blocks, block_bytes, cudaMemcpyDeviceToHost), why,
                       why_size, "download") &&
         mx_op_cuda_ok(cudaMemcpy(scales, p->w.scales, scale_bytes, cudaMemcpyDeviceToHost), why,
                       why_size, "download") &&
         mx_op_cuda_ok(cudaMemcpy(ids, p->ids, (size_t)p->tokens * 4, cudaMemcpyDeviceToHost), why,
                       why_size, "download") &&
         mx_op_download_f64(&positions, p->positions, p->dtype, p->seq_len * p->hidden, why,
                            why_size) &&
         mx_op_mx_ok(mx_ref_embedding_f64(ids, p->tokens, p->seq_len, blocks, scales, p->vocab,
                                          p->hidden, positions, y),
                     why, why_size, "FP64 reference") &&
         mx_op_upload_f64(&p->y_exact, y, outputs, why, why_size);
    free(blocks);
    free(scales);
    free(ids);
    free(positions);
    free(y);
    return ok;
}

static bool embedding_setup(const mx_sweep_row *row, void **out, char *why, size_t why_size) {
    *out = NULL;
    if (row->k % MX_BLOCK_SIZE != 0 || row->n > INT32_MAX || row->m * row->batch > INT32_MAX)
        return mx_op_failed(why, why_size, "unsupported shape",
                            "K (hidden) must be a multiple of 32, N (vocab) and M x batch "
                            "(tokens) below 2^31");
    mx_dist dist;
    if (!mx_op_row_dist(row, &dist, why, why_size)) return false;
    embedding_problem *p = calloc(1, sizeof *p);
    if (!p) return mx_op_failed(why, why_size, "setup", "out of host memory");
    p->vocab = row->n;
    p->hidden = row->k;
    p->seq_len = row->m;
    p->tokens = row->m * row->batch;
    p->dtype = mx_op_row_dtype(row);
    const int64_t y_count = p->tokens * p->hidden;
    bool ok = mx_op_mx_ok(mx_embedding_context_create(&p->context), why, why_size, "context") &&
              mx_op_weight_make(&p->w, 1, p->vocab, p->hidden, p->dtype, dist,
                                mx_op_seed(row, 0xE1), false, false, why, why_size) &&
              mx_op_activations_make(&p->positions, p->seq_len * p->hidden, p->dtype, dist,
                                     mx_op_seed(row, 0xE2), why, why_size) &&
              make_ids(p, mx_op_seed(row, 0xE3), why, why_size) &&
              mx_op_allocate(&p->y, y_count * 2.0, why, why_size, "output") &&
              mx_op_allocate(&p->y_fp16, y_count * 2.0, why, why_size, "FP16 reference output") &&
              mx_op_allocate(&p->y_original, y_count * 2.0, why, why_size, "unquantized output") &&
              gather(p, p->w.dequantized, p->y_fp16, why, why_size) &&
              gather(p, p->w.original, p->y_original, why, why_size) &&
              exact_reference(p, why, why_size);
    return mx_op_setup_finish(ok, p, embedding_teardown, out);
}

static bool embedding_prepare(void *opaque, const char *variant, mx_op_prepared *v,
                              mx_bench_memory *memory, char *why, size_t why_size) {
    embedding_problem *p = opaque;
    memset(memory, 0, sizeof *memory);
    memory->weight_bytes_fp16 = mx_op_weight_bytes_fp16(p->vocab, p->hidden);
    v->fp16 = strcmp(variant, MX_BENCH_FP16) == 0;
    if (v->fp16) {
        memory->measured_bytes = -1; /* allocated in setup among other buffers: not measured */
        return true;
    }
    memory->weight_bytes_mxfp4 = mx_op_weight_bytes_mxfp4(p->vocab, p->hidden);
    memory->measured_bytes = p->w.mxfp4_measured_bytes;
    if (strcmp(variant, "onthefly") == 0) {
        v->variant = EMBEDDING_ONTHEFLY;
        return true;
    }
    if (strcmp(variant, "cached") != 0)
        return mx_op_failed(why, why_size, "variant", "expected onthefly or cached");
    v->variant = EMBEDDING_CACHED;
    /* The cache is the variant's workspace: its VRAM saving is negative, honestly. */
    v->workspace_bytes = mx_embedding_cache_bytes(p->vocab, p->hidden, p->dtype);
    return mx_op_workspace_allocate(&v->workspace, v->workspace_bytes, 0, 0, memory, why,
                                    why_size) &&
           mx_op_mx_ok(mx_embedding_cache_prepare(p->w.blocks, p->w.scales, p->vocab, p->hidden,
                                                  p->dtype, v->workspace, v->workspace_bytes, 0),
                       why, why_size, "cache prepare") &&
           mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "cache prepare");
}

static bool embedding_run(void *opaque, const mx_op_prepared *v, cudaStream_t stream, char *why,
                          size_t why_size) {
    embedding_problem *p = opaque;
    mx_embedding_problem problem = view(p);
    mx_status status;
    if (!v->fp16 && v->variant == EMBEDDING_ONTHEFLY)
        status = mx_embedding(p->context, &problem, p->w.blocks, p->w.scales, stream);
    else
        status = mx_embedding_gather(p->context, &problem,
                                     v->fp16 ? p->w.dequantized : v->workspace, stream);
    return mx_op_mx_ok(status, why, why_size, "embedding");
}

/* A run followed by the device-side token id check (out-of-range ids are reported there). */
static bool embedding_run_and_status(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                                     char *why, size_t why_size) {
    embedding_problem *p = opaque;
    return embedding_run(p, v, stream, why, why_size) &&
           mx_op_mx_ok(mx_embedding_status(p->context, stream), why, why_size, "token ids");
}

static bool embedding_check(void *opaque, const mx_op_prepared *v, cudaStream_t stream,
                            mx_bench_errors *errors, char *why, size_t why_size) {
    embedding_problem *p = opaque;
    mx_op_output output = {p->y,       p->dtype, p->tokens * p->hidden, p->y_fp16, p->y_original,
                           p->y_exact, NULL};
    return mx_op_check_output(&output, embedding_run_and_status, p, v, stream, errors, why,
                              why_size);
}

const mx_bench_op mx_op_embedding = {
    .name = "embedding",
    .variants = embedding_variants,
    .bytes = embedding_bytes,
    .flops = embedding_flops,
    .setup = embedding_setup,
    .teardown = embedding_teardown,
    .prepare = embedding_prepare,
    .run = embedding_run,
    .check = embedding_check,
};
