/* GPU embedding suite: the on-the-fly lookup and the cached gather against the CPU FP64
 * reference (spec codec + FP64 position add) and against the FP16 reference path (the gather
 * from the dequantized dense table), over vocabularies and widths that break tiling, batched
 * sequences, with and without positions, FP16 and BF16, outputs NaN-poisoned, fresh random
 * tables. Plus out-of-range token ids (reported through the context, rows zeroed) and bad
 * arguments refused before launch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "embedding_ref.h"
#include "common.h"

typedef struct {
    int64_t vocab, hidden, seq_len, sequences;
} embedding_shape;

/* Host side of one problem: a random MXFP4 table (every nibble is a valid code; scale bytes
 * 117..137 keep every value finite in FP16), ids uniform in [0, vocab) with the first and last
 * row always present, positions exactly representable in FP16 and BF16 (8 significant bits). */
typedef struct {
    embedding_shape s;
    int64_t tokens;
    uint8_t *blocks, *scales;
    int32_t *ids;
    double *positions;
    uint16_t *positions16[2]; /* 0: FP16, 1: BF16 */
} host_problem;

static host_problem make_problem(embedding_shape s, mx_rng *rng) {
    host_problem p = {.s = s, .tokens = s.seq_len * s.sequences};
    size_t block_bytes = (size_t)(s.vocab * s.hidden / 2), scale_bytes = block_bytes / 16;
    int64_t position_count = s.seq_len * s.hidden;
    p.blocks = malloc(block_bytes);
    p.scales = malloc(scale_bytes);
    p.ids = malloc((size_t)p.tokens * sizeof *p.ids);
    p.positions = malloc((size_t)position_count * sizeof *p.positions);
    p.positions16[0] = malloc((size_t)position_count * 2);
    p.positions16[1] = malloc((size_t)position_count * 2);
    cr_assert(p.blocks && p.scales && p.ids && p.positions && p.positions16[0] && p.positions16[1]);
    for (size_t i = 0; i < block_bytes; i += 8) {
        uint64_t bits = mx_rng_next(rng);
        memcpy(p.blocks + i, &bits, 8); /* block_bytes is a multiple of 16 */
    }
    for (size_t i = 0; i < scale_bytes; i++) p.scales[i] = (uint8_t)(117 + mx_rng_next(rng) % 21);
    for (int64_t t = 0; t < p.tokens; t++) p.ids[t] = (int32_t)(mx_rng_next(rng) % s.vocab);
    p.ids[0] = (int32_t)(s.vocab - 1);
    if (p.tokens > 1) p.ids[p.tokens - 1] = 0;
    for (int64_t i = 0; i < position_count; i++) {
        double mantissa = (double)(mx_rng_next(rng) % 256) / 128.0;
        p.positions[i] =
            (mx_rng_next(rng) & 1 ? -1.0 : 1.0) * ldexp(mantissa, (int)(mx_rng_next(rng) % 8) - 6);
        for (int d = 0; d < 2; d++) p.positions16[d][i] = mx_test_encode(p.positions[i], d);
    }
    return p;
}

static void free_problem(host_problem *p) {
    free(p->blocks);
    free(p->scales);
    free(p->ids);
    free(p->positions);
    free(p->positions16[0]);
    free(p->positions16[1]);
}

typedef struct {
    mx_embedding_context *context;
    uint8_t *blocks, *scales;
    int32_t *ids;
    void *positions[2], *y, *cache;
    size_t y_bytes;
    uint16_t *y_host;
} device_problem;

static device_problem upload(const host_problem *p) {
    device_problem d = {0};
    size_t block_bytes = (size_t)(p->s.vocab * p->s.hidden / 2), scale_bytes = block_bytes / 16;
    size_t position_bytes = (size_t)(p->s.seq_len * p->s.hidden) * 2;
    d.y_bytes = (size_t)(p->tokens * p->s.hidden) * 2;
    MX_CR_OK(mx_embedding_context_create(&d.context));
    MX_CR_CUDA(cudaMalloc((void **)&d.blocks, block_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&d.scales, scale_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&d.ids, (size_t)p->tokens * 4));
    MX_CR_CUDA(cudaMalloc(&d.y, d.y_bytes));
    MX_CR_CUDA(cudaMemcpy(d.blocks, p->blocks, block_bytes, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d.scales, p->scales, scale_bytes, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d.ids, p->ids, (size_t)p->tokens * 4, cudaMemcpyHostToDevice));
    for (int t = 0; t < 2; t++) {
        MX_CR_CUDA(cudaMalloc(&d.positions[t], position_bytes));
        MX_CR_CUDA(
            cudaMemcpy(d.positions[t], p->positions16[t], position_bytes, cudaMemcpyHostToDevice));
    }
    size_t cache_bytes = mx_embedding_cache_bytes(p->s.vocab, p->s.hidden, MX_F16);
    cr_assert_eq(cache_bytes, (size_t)(p->s.vocab * p->s.hidden * 2));
    MX_CR_CUDA(cudaMalloc(&d.cache, cache_bytes));
    d.y_host = malloc(d.y_bytes);
    cr_assert(d.y_host);
    return d;
}

static void release(device_problem *d) {
    void *buffers[] = {d->blocks,       d->scales, d->ids,  d->positions[0],
                       d->positions[1], d->y,      d->cache};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_embedding_context_destroy(d->context);
    free(d->y_host);
}

static mx_embedding_problem view(const host_problem *p, const device_problem *d, int bf16,
                                 bool with_positions) {
    mx_embedding_problem problem = {.vocab = p->s.vocab,
                                    .hidden = p->s.hidden,
                                    .tokens = p->tokens,
                                    .seq_len = p->s.seq_len,
                                    .dtype = bf16 ? MX_BF16 : MX_F16,
                                    .ids = d->ids,
                                    .positions = with_positions ? d->positions[bf16] : NULL,
                                    .y = d->y};
    return problem;
}

enum { ONTHEFLY, CACHED };

/* Runs a variant with y poisoned (NaN), checks the id record is clean, downloads y. */
static void run_variant(device_problem *d, const mx_embedding_problem *problem, int variant) {
    MX_CR_CUDA(cudaMemset(d->y, 0xFF, d->y_bytes));
    if (variant == ONTHEFLY) {
        MX_CR_OK(mx_embedding(d->context, problem, d->blocks, d->scales, 0));
    } else {
        size_t cache_bytes = mx_embedding_cache_bytes(problem->vocab, problem->hidden, MX_F16);
        MX_CR_CUDA(cudaMemset(d->cache, 0xFF, cache_bytes));
        MX_CR_OK(mx_embedding_cache_prepare(d->blocks, d->scales, problem->vocab, problem->hidden,
                                            problem->dtype, d->cache, cache_bytes, 0));
        MX_CR_OK(mx_embedding_gather(d->context, problem, d->cache, 0));
    }
    MX_CR_OK(mx_embedding_status(d->context, 0));
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->y, d->y_bytes, cudaMemcpyDeviceToHost));
}

/* rel_l2 of y against ref, and the limit max(2e-3, the error that rounding ref to the dtype
 * can force: one unit in the last place per element). Non-finite y counts as a failure. */
static bool within_limit(const uint16_t *y, int bf16, const double *ref, int64_t count, double *rel,
                         double *limit) {
    double diff2 = 0.0, ref2 = 0.0, ulp2 = 0.0;
    bool finite = true;
    for (int64_t i = 0; i < count; i++) {
        double value = mx_test_decode(y[i], bf16);
        finite = finite && isfinite(value);
        int exponent;
        frexp(ref[i], &exponent);
        double ulp = fmax(ldexp(1.0, exponent - (bf16 ? 8 : 11)), bf16 ? 0.0 : 0x1p-24);
        diff2 += (value - ref[i]) * (value - ref[i]);
        ref2 += ref[i] * ref[i];
        ulp2 += ulp * ulp;
    }
    *rel = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    *limit = fmax(2e-3, ref2 > 0 ? sqrt(ulp2 / ref2) : 0.0);
    return finite && *rel <= *limit;
}

static embedding_shape shapes[] = {
    {1, 32, 1, 1},       {7, 96, 3, 5},      {1000, 2880, 17, 3},
    {50257, 64, 129, 2}, {1000, 4096, 1, 7}, {201088, 2880, 5, 1},
};

ParameterizedTestParameters(gpu_embedding, variants_match_fp64_and_fp16_reference) {
    return cr_make_param_array(embedding_shape, shapes, sizeof shapes / sizeof shapes[0]);
}

ParameterizedTest(embedding_shape *shape, gpu_embedding, variants_match_fp64_and_fp16_reference,
                  .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_problem p = make_problem(*shape, &rng);
    device_problem d = upload(&p);
    int64_t count = p.tokens * p.s.hidden;
    double *ref = malloc((size_t)count * sizeof *ref);
    uint16_t *onthefly = malloc((size_t)count * 2);
    cr_assert(ref && onthefly);
    for (int with_positions = 0; with_positions < 2; with_positions++) {
        MX_CR_OK(mx_ref_embedding_f64(p.ids, p.tokens, p.s.seq_len, p.blocks, p.scales, p.s.vocab,
                                      p.s.hidden, with_positions ? p.positions : NULL, ref));
        for (int bf16 = 0; bf16 < 2; bf16++) {
            mx_embedding_problem problem = view(&p, &d, bf16, with_positions);
            for (int variant = ONTHEFLY; variant <= CACHED; variant++) {
                run_variant(&d, &problem, variant);
                double rel, limit;
                cr_expect(within_limit(d.y_host, bf16, ref, count, &rel, &limit),
                          "%s %s%s vocab=%lld hidden=%lld seq_len=%lld x %lld: rel_l2 %.3g "
                          "(limit %.3g) or non-finite outputs",
                          variant == ONTHEFLY ? "onthefly" : "cached", bf16 ? "bf16" : "f16",
                          with_positions ? " +positions" : "", (long long)p.s.vocab,
                          (long long)p.s.hidden, (long long)p.s.seq_len, (long long)p.s.sequences,
                          rel, limit);
                if (variant == ONTHEFLY) {
                    memcpy(onthefly, d.y_host, (size_t)count * 2);
                    continue;
                }
                /* The cached gather is the FP16 reference path: on-the-fly within 1 % of it,
                 * and bit-identical without positions (both round the same exact value once). */
                double diff2 = 0.0, ref2 = 0.0;
                int64_t differing = 0;
                for (int64_t i = 0; i < count; i++) {
                    double a = mx_test_decode(onthefly[i], bf16),
                           b = mx_test_decode(d.y_host[i], bf16);
                    diff2 += (a - b) * (a - b);
                    ref2 += b * b;
                    differing += onthefly[i] != d.y_host[i];
                }
                cr_expect(sqrt(diff2) <= 0.01 * sqrt(ref2), "%s: onthefly vs FP16 path rel %.3g",
                          bf16 ? "bf16" : "f16", ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2));
                if (!with_positions)
                    cr_expect_eq(differing, 0, "%s: %lld outputs differ from the FP16 path",
                                 bf16 ? "bf16" : "f16", (long long)differing);
            }
        }
    }
    free(ref);
    free(onthefly);
    release(&d);
    free_problem(&p);
}

Test(gpu_embedding, out_of_range_ids_are_reported_and_zeroed) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    embedding_shape shape = {1000, 96, 4, 2};
    host_problem p = make_problem(shape, &rng);
    p.ids[5] = -1;
    p.ids[3] = 1002; /* the lowest bad position is the one reported */
    device_problem d = upload(&p);
    MX_CR_CUDA(cudaMemcpy(d.ids, p.ids, (size_t)p.tokens * 4, cudaMemcpyHostToDevice));
    int64_t count = p.tokens * p.s.hidden;
    double *ref = malloc((size_t)count * sizeof *ref);
    cr_assert(ref);
    MX_CR_OK(mx_ref_embedding_f64(p.ids, p.tokens, p.s.seq_len, p.blocks, p.scales, p.s.vocab,
                                  p.s.hidden, p.positions, ref));
    size_t cache_bytes = mx_embedding_cache_bytes(p.s.vocab, p.s.hidden, MX_F16);
    MX_CR_OK(mx_embedding_cache_prepare(d.blocks, d.scales, p.s.vocab, p.s.hidden, MX_F16, d.cache,
                                        cache_bytes, 0));
    for (int variant = ONTHEFLY; variant <= CACHED; variant++) {
        mx_embedding_problem problem = view(&p, &d, 0, true);
        MX_CR_CUDA(cudaMemset(d.y, 0xFF, d.y_bytes));
        if (variant == ONTHEFLY)
            MX_CR_OK(mx_embedding(d.context, &problem, d.blocks, d.scales, 0));
        else
            MX_CR_OK(mx_embedding_gather(d.context, &problem, d.cache, 0));
        cr_expect_eq(mx_embedding_status(d.context, 0), MX_ERR_INVALID_ARGUMENT);
        cr_expect(strstr(mx_last_error(), "token id 1002 at position 3: expected 0 <= id < 1000") !=
                      NULL,
                  "message: %s", mx_last_error());
        MX_CR_OK(mx_embedding_status(d.context, 0)); /* the record was reset */
        MX_CR_CUDA(cudaMemcpy(d.y_host, d.y, d.y_bytes, cudaMemcpyDeviceToHost));
        double rel, limit;
        cr_expect(within_limit(d.y_host, 0, ref, count, &rel, &limit),
                  "variant %d: rel_l2 %.3g (limit %.3g); bad rows must be zero, others exact",
                  variant, rel, limit);
        for (int64_t h = 0; h < p.s.hidden; h++)
            cr_assert(d.y_host[3 * p.s.hidden + h] == 0 && d.y_host[5 * p.s.hidden + h] == 0,
                      "variant %d: element %lld of a bad row is not +0", variant, (long long)h);
    }
    free(ref);
    release(&d);
    free_problem(&p);
}

Test(gpu_embedding, bad_arguments_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    embedding_shape shape = {100, 64, 3, 2};
    host_problem p = make_problem(shape, &rng);
    device_problem d = upload(&p);
    MX_CR_CUDA(cudaMemset(d.y, 0x7E, d.y_bytes));
    mx_embedding_problem good = view(&p, &d, 0, true), bad;
    struct {
        mx_embedding_problem problem;
        mx_status expected;
        const char *message;
    } cases[] = {
        {(bad = good, bad.hidden = 33, bad), MX_ERR_UNSUPPORTED_SHAPE, "hidden = 33"},
        {(bad = good, bad.tokens = 0, bad), MX_ERR_INVALID_ARGUMENT, "tokens = 0"},
        {(bad = good, bad.seq_len = 4, bad), MX_ERR_INVALID_ARGUMENT, "seq_len = 4"},
        {(bad = good, bad.vocab = 0, bad), MX_ERR_INVALID_ARGUMENT, "vocab = 0"},
        {(bad = good, bad.ids = NULL, bad), MX_ERR_INVALID_ARGUMENT, "ids"},
        {(bad = good, bad.y = NULL, bad), MX_ERR_INVALID_ARGUMENT, "y"},
        {(bad = good, bad.y = (char *)d.y + 2, bad), MX_ERR_MISALIGNED, "y"},
        {(bad = good, bad.dtype = MX_F32, bad), MX_ERR_INVALID_ARGUMENT, "dtype = 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(mx_embedding(d.context, &cases[i].problem, d.blocks, d.scales, 0),
                     cases[i].expected, "case %zu (%s)", i, cases[i].message);
        cr_expect(strstr(mx_last_error(), cases[i].message), "message: %s", mx_last_error());
        cr_expect_eq(mx_embedding_gather(d.context, &cases[i].problem, d.cache, 0),
                     cases[i].expected, "gather case %zu (%s)", i, cases[i].message);
    }
    cr_expect_eq(mx_embedding(d.context, &good, NULL, d.scales, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_embedding(d.context, &good, d.blocks + 8, d.scales, 0), MX_ERR_MISALIGNED);
    cr_expect_eq(mx_embedding(NULL, &good, d.blocks, d.scales, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_embedding_gather(d.context, &good, NULL, 0), MX_ERR_INVALID_ARGUMENT);
    size_t cache_bytes = mx_embedding_cache_bytes(p.s.vocab, p.s.hidden, MX_F16);
    cr_expect_eq(mx_embedding_cache_prepare(d.blocks, d.scales, p.s.vocab, p.s.hidden, MX_F16,
                                            d.cache, cache_bytes - 1, 0),
                 MX_ERR_WORKSPACE);
    char needed[32];
    snprintf(needed, sizeof needed, "%zu", cache_bytes);
    cr_expect(strstr(mx_last_error(), needed), "message: %s", mx_last_error());
    MX_CR_OK(mx_embedding_status(d.context, 0));
    MX_CR_CUDA(cudaMemcpy(d.y_host, d.y, d.y_bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < d.y_bytes / 2; i++)
        cr_assert_eq(d.y_host[i], 0x7E7E, "output %zu was written by a refused call", i);
    release(&d);
    free_problem(&p);
}
