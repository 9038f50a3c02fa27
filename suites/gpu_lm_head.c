/* GPU LM head suite: sampling against the CPU FP64 reference (greedy argmax with ties, softmax
 * probabilities, the top-k / top-p candidate sets, the empirical distribution of many draws by a
 * chi-square bound), reproducibility by seed and offset, the logits of mx_lm_head against FP64
 * and the cuBLAS FP16 reference for every GEMM variant, and bad parameters refused before launch.
 * Vocabularies 1, 7, 1000, 50257 and 201088; fresh random logits; outputs poisoned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "codec.h"
#include "fp16.h"
#include "gemm_ref.h"
#include "lm_head_ref.h"
#include "common.h"

static const mx_dtype all_dtypes[] = {MX_F32, MX_F16, MX_BF16};
static const char *const dtype_names[] = {"f32", "f16", "bf16"};

/* value rounded to dtype (what the device holds), and its bits at element i of data. */
static double store(void *data, mx_dtype dtype, int64_t i, double value) {
    if (dtype == MX_F32) {
        ((float *)data)[i] = (float)value;
        return (float)value;
    }
    uint16_t bits = dtype == MX_F16 ? mx_test_f32_to_f16_rne((float)value)
                                    : mx_test_f32_to_bf16_rne((float)value);
    ((uint16_t *)data)[i] = bits;
    return dtype == MX_F16 ? mx_test_f16_to_double(bits) : mx_test_bf16_to_double(bits);
}

/* Device logits [m, vocab] of dtype from values (rounded in place to what the device holds). */
static void *upload_logits(double *values, int64_t count, mx_dtype dtype) {
    size_t bytes = (size_t)count * (size_t)mx_dtype_bytes(dtype);
    void *host = malloc(bytes), *device = NULL;
    cr_assert(host);
    for (int64_t i = 0; i < count; i++) values[i] = store(host, dtype, i, values[i]);
    MX_CR_CUDA(cudaMalloc(&device, bytes));
    MX_CR_CUDA(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice));
    free(host);
    return device;
}

/* Runs mx_sample with a poisoned workspace, tokens and probabilities; downloads the results
 * (probabilities only when asked). */
static void sample(const void *logits, mx_dtype dtype, int64_t m, int64_t vocab,
                   mx_sampling_params params, int32_t *tokens, float *probabilities) {
    size_t workspace_bytes = 0;
    MX_CR_OK(mx_sample_workspace_bytes(m, vocab, &workspace_bytes));
    cr_assert_gt(workspace_bytes, 0);
    void *workspace = NULL;
    int32_t *d_tokens = NULL;
    float *d_probabilities = NULL;
    MX_CR_CUDA(cudaMalloc(&workspace, workspace_bytes));
    MX_CR_CUDA(cudaMemset(workspace, 0x5A, workspace_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&d_tokens, (size_t)m * 4));
    MX_CR_CUDA(cudaMemset(d_tokens, 0xFF, (size_t)m * 4));
    if (probabilities) {
        MX_CR_CUDA(cudaMalloc((void **)&d_probabilities, (size_t)(m * vocab) * 4));
        MX_CR_CUDA(cudaMemset(d_probabilities, 0xFF, (size_t)(m * vocab) * 4));
    }
    MX_CR_OK(mx_sample(logits, dtype, m, vocab, &params, d_tokens, d_probabilities, workspace,
                       workspace_bytes, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(tokens, d_tokens, (size_t)m * 4, cudaMemcpyDeviceToHost));
    if (probabilities)
        MX_CR_CUDA(cudaMemcpy(probabilities, d_probabilities, (size_t)(m * vocab) * 4,
                              cudaMemcpyDeviceToHost));
    cudaFree(workspace);
    cudaFree(d_tokens);
    cudaFree(d_probabilities);
}

typedef struct {
    int64_t vocab, m;
} sampling_shape;

static sampling_shape vocab_shapes[] = {{1, 5}, {7, 33}, {1000, 17}, {50257, 3}, {201088, 2}};

ParameterizedTestParameters(gpu_lm_head, greedy_is_cpu_argmax_with_ties) {
    return cr_make_param_array(sampling_shape, vocab_shapes,
                               sizeof vocab_shapes / sizeof vocab_shapes[0]);
}

/* Small integer logits (exact in every dtype) make ties frequent; temperature 0 must ignore
 * top_k and top_p, and the probabilities are the one-hot row of the token. */
ParameterizedTest(sampling_shape *shape, gpu_lm_head, greedy_is_cpu_argmax_with_ties,
                  .timeout = 60) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    int64_t m = shape->m, vocab = shape->vocab, count = m * vocab;
    double *logits = malloc((size_t)count * sizeof *logits);
    float *probabilities = malloc((size_t)count * sizeof *probabilities);
    int32_t *tokens = malloc((size_t)m * sizeof *tokens);
    cr_assert(logits && probabilities && tokens);
    for (int d = 0; d < 3; d++) {
        for (int64_t i = 0; i < count; i++) logits[i] = (double)(mx_rng_next(&rng) % 16) - 8.0;
        void *device = upload_logits(logits, count, all_dtypes[d]);
        mx_sampling_params params = {.temperature = 0.0f,
                                     .top_k = (int64_t)(mx_rng_next(&rng) % (uint64_t)(vocab + 1)),
                                     .top_p = (float)(1.0 - mx_rng_uniform(&rng)),
                                     .seed = mx_rng_next(&rng),
                                     .offset = mx_rng_next(&rng)};
        sample(device, all_dtypes[d], m, vocab, params, tokens, probabilities);
        for (int64_t r = 0; r < m; r++) {
            int64_t expected = mx_ref_argmax(logits + r * vocab, vocab);
            cr_expect_eq(tokens[r], expected, "%s vocab %lld row %lld: token %d, argmax %lld",
                         dtype_names[d], (long long)vocab, (long long)r, tokens[r],
                         (long long)expected);
            for (int64_t i = 0; i < vocab; i++)
                cr_assert_eq(probabilities[r * vocab + i], i == expected ? 1.0f : 0.0f,
                             "%s row %lld: probability %lld = %g", dtype_names[d], (long long)r,
                             (long long)i, (double)probabilities[r * vocab + i]);
        }
        cudaFree(device);
    }
    free(logits);
    free(probabilities);
    free(tokens);
}

ParameterizedTestParameters(gpu_lm_head, softmax_probabilities_match_fp64) {
    return cr_make_param_array(sampling_shape, vocab_shapes,
                               sizeof vocab_shapes / sizeof vocab_shapes[0]);
}

ParameterizedTest(sampling_shape *shape, gpu_lm_head, softmax_probabilities_match_fp64,
                  .timeout = 60) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    int64_t m = shape->m, vocab = shape->vocab, count = m * vocab;
    double *logits = malloc((size_t)count * sizeof *logits);
    double *expected = malloc((size_t)vocab * sizeof *expected);
    float *probabilities = malloc((size_t)count * sizeof *probabilities);
    int32_t *tokens = malloc((size_t)m * sizeof *tokens);
    cr_assert(logits && expected && probabilities && tokens);
    const float temperatures[] = {0.5f, 1.0f, 2.5f};
    for (int d = 0; d < 3; d++) {
        for (int64_t i = 0; i < count; i++) logits[i] = 3.0 * mx_rng_gaussian(&rng);
        void *device = upload_logits(logits, count, all_dtypes[d]);
        float temperature = temperatures[d];
        mx_sampling_params params = {temperature, 0, 1.0f, mx_rng_next(&rng), 0};
        sample(device, all_dtypes[d], m, vocab, params, tokens, probabilities);
        for (int64_t r = 0; r < m; r++) {
            mx_ref_softmax_f64(logits + r * vocab, vocab, temperature, expected);
            double diff2 = 0.0, ref2 = 0.0;
            for (int64_t i = 0; i < vocab; i++) {
                double error = probabilities[r * vocab + i] - expected[i];
                diff2 += error * error;
                ref2 += expected[i] * expected[i];
            }
            cr_expect(sqrt(diff2 / ref2) <= 1e-5, "%s T=%g vocab %lld row %lld: rel_l2 %.3g",
                      dtype_names[d], (double)temperature, (long long)vocab, (long long)r,
                      sqrt(diff2 / ref2));
            cr_expect(tokens[r] >= 0 && tokens[r] < vocab, "token %d", tokens[r]);
        }
        cudaFree(device);
    }
    free(logits);
    free(expected);
    free(probabilities);
    free(tokens);
}

/* Logits whose probabilities are well apart (a permutation of evenly spaced values over a range
 * of 8), so that FP32 and FP64 sort them the same way. */
static void spaced_logits(double *row, int64_t vocab, mx_rng *rng) {
    for (int64_t i = 0; i < vocab; i++) row[i] = 8.0 * (double)i / (double)vocab;
    for (int64_t i = vocab - 1; i > 0; i--) {
        int64_t j = (int64_t)(mx_rng_next(rng) % (uint64_t)(i + 1));
        double swap = row[i];
        row[i] = row[j];
        row[j] = swap;
    }
}

typedef struct {
    float temperature;
    int64_t top_k; /* -1: vocab */
    float top_p;
} filter;

static const filter filters[] = {
    {1.0f, 5, 1.0f},  {0.7f, 0, 0.5f}, {1.3f, 50, 0.9f},
    {1.0f, -1, 1.0f}, {2.0f, 1, 0.3f}, {0.4f, 3, 0.99f},
};

/* Every token of tokens [m] is among the CPU candidates of its row. top_p is widened by 1e-4:
 * the FP32 nucleus may keep one more candidate than FP64 when the mass lands within rounding of
 * top_p. top_k == 1 must give the argmax (lowest index on ties). */
static void expect_inside_cpu_candidates(const double *logits, int64_t m, int64_t vocab, filter fl,
                                         int64_t top_k, const int32_t *tokens) {
    double *probs = malloc((size_t)vocab * sizeof *probs);
    int32_t *candidates = malloc((size_t)vocab * sizeof *candidates);
    cr_assert(probs && candidates);
    for (int64_t r = 0; r < m; r++) {
        int64_t count;
        mx_ref_sample_candidates(logits + r * vocab, vocab, fl.temperature, top_k,
                                 fmin(1.0, fl.top_p + 1e-4), candidates, probs, &count);
        bool inside = false;
        for (int64_t i = 0; i < count && !inside; i++) inside = candidates[i] == tokens[r];
        cr_expect(inside,
                  "vocab %lld T=%g top_k=%lld top_p=%g row %lld: token %d is not among the %lld "
                  "CPU candidates",
                  (long long)vocab, (double)fl.temperature, (long long)top_k, (double)fl.top_p,
                  (long long)r, tokens[r], (long long)count);
        if (top_k == 1) cr_expect_eq(tokens[r], mx_ref_argmax(logits + r * vocab, vocab));
    }
    free(probs);
    free(candidates);
}

/* Samples logits [m, vocab] (F32) with each filter (top_k -1 = vocab, clamped to vocab) and
 * checks every token against the CPU candidate set. */
static void expect_filters_inside_cpu_candidates(double *logits, int64_t m, int64_t vocab,
                                                 const filter *tested, size_t count, mx_rng *rng) {
    int32_t *tokens = malloc((size_t)m * sizeof *tokens);
    cr_assert(tokens);
    void *device = upload_logits(logits, m * vocab, MX_F32);
    for (size_t f = 0; f < count; f++) {
        filter fl = tested[f];
        int64_t top_k = fl.top_k < 0 ? vocab : (fl.top_k > vocab ? vocab : fl.top_k);
        mx_sampling_params params = {fl.temperature, top_k, fl.top_p, mx_rng_next(rng),
                                     mx_rng_next(rng)};
        sample(device, MX_F32, m, vocab, params, tokens, NULL);
        expect_inside_cpu_candidates(logits, m, vocab, fl, top_k, tokens);
    }
    cudaFree(device);
    free(tokens);
}

Test(gpu_lm_head, top_k_and_top_p_never_leave_the_cpu_candidate_set, .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const sampling_shape shapes[] = {{7, 512}, {1000, 512}, {50257, 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s].m, vocab = shapes[s].vocab;
        double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
        cr_assert(logits);
        for (int64_t r = 0; r < m; r++) spaced_logits(logits + r * vocab, vocab, &rng);
        expect_filters_inside_cpu_candidates(logits, m, vocab, filters,
                                             sizeof filters / sizeof filters[0], &rng);
        free(logits);
    }
}

/* Every sampler path on a vocabulary of many chunks: no filter (no sort), top_k up to 4096
 * (histogram selection + segmented sort, 4096 at its cap), top_k above 4096 and top_k == 0 with
 * top_p < 1 (device-wide sort; the nucleus scan stops early). */
Test(gpu_lm_head, every_sampler_path_stays_in_the_cpu_candidate_set, .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const filter tested[] = {
        {1.0f, 0, 1.0f},    {0.8f, 50, 0.95f},  {0.8f, 4096, 0.95f}, {1.0f, 4096, 1.0f},
        {1.0f, 5000, 1.0f}, {0.8f, 5000, 0.9f}, {1.0f, 0, 0.95f},    {0.5f, 0, 0.3f},
        {1.0f, -1, 0.9f},   {0.7f, 4097, 0.5f},
    };
    const int64_t m = 5, vocab = 50257;
    double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
    cr_assert(logits);
    for (int64_t r = 0; r < m; r++) spaced_logits(logits + r * vocab, vocab, &rng);
    expect_filters_inside_cpu_candidates(logits, m, vocab, tested, sizeof tested / sizeof tested[0],
                                         &rng);
    free(logits);
}

/* Integer logits 0..7 tie in large groups: the top-k boundary falls inside a group, and only
 * its lowest indices may be drawn (p descending, then index ascending), on both the selection
 * path (top_k <= 4096) and the device-wide sort (top_k > 4096). */
Test(gpu_lm_head, ties_at_the_top_k_boundary_keep_the_lowest_indices, .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const filter small_vocab[] = {
        {1.0f, 37, 1.0f}, {0.5f, 300, 1.0f}, {1.0f, 37, 0.5f}, {1.0f, 1, 1.0f}};
    const filter large_vocab[] = {{1.0f, 5000, 1.0f}, {1.0f, 4096, 1.0f}, {2.0f, 5001, 0.8f}};
    const sampling_shape shapes[] = {{1000, 256}, {20000, 4}};
    for (size_t s = 0; s < 2; s++) {
        int64_t m = shapes[s].m, vocab = shapes[s].vocab;
        double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
        cr_assert(logits);
        for (int64_t i = 0; i < m * vocab; i++) logits[i] = (double)(mx_rng_next(&rng) % 8);
        expect_filters_inside_cpu_candidates(logits, m, vocab, s ? large_vocab : small_vocab,
                                             s ? sizeof large_vocab / sizeof large_vocab[0]
                                               : sizeof small_vocab / sizeof small_vocab[0],
                                             &rng);
        free(logits);
    }
}

/* Draw counts of tokens [m] against the CPU's filtered, renormalized probabilities: no draw
 * outside candidates[0..count), and a chi-square below df + 8 sqrt(2 df) + 10 (false alarm below
 * 1e-7 for a correct sampler). Candidates expecting fewer than 50 draws share one bin (the
 * chi-square tail of nearly empty bins is far heavier than the bound assumes). */
static void expect_frequencies(const int32_t *tokens, int64_t m, int64_t vocab,
                               const int32_t *candidates, const double *probs, int64_t count,
                               filter fl) {
    int64_t *observed = calloc((size_t)vocab, sizeof *observed), outside = 0;
    cr_assert(observed);
    for (int64_t r = 0; r < m; r++) {
        if (tokens[r] >= 0 && tokens[r] < vocab)
            observed[tokens[r]]++;
        else
            outside++;
    }
    double chi2 = 0.0, in_set = 0.0, pooled_expected = 0.0, pooled_observed = 0.0;
    int bins = 0;
    for (int64_t i = 0; i < count; i++) {
        double expected = probs[i] * (double)m, o = (double)observed[candidates[i]];
        in_set += o;
        if (expected < 50.0) {
            pooled_expected += expected;
            pooled_observed += o;
            continue;
        }
        chi2 += (o - expected) * (o - expected) / expected;
        bins++;
    }
    if (pooled_expected >= 50.0) {
        chi2 += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) /
                pooled_expected;
        bins++;
    } else { /* too few for a bin: a Poisson tail bound instead */
        cr_expect(pooled_observed <= pooled_expected + 6.0 * sqrt(pooled_expected) + 10.0,
                  "T=%g: %.0f draws among the rare candidates, %.2f expected",
                  (double)fl.temperature, pooled_observed, pooled_expected);
    }
    outside += m - (int64_t)in_set;
    double df = (double)(bins > 1 ? bins - 1 : 1), bound = df + 8.0 * sqrt(2.0 * df) + 10.0;
    cr_expect_eq(outside, 0, "T=%g top_k=%lld top_p=%g: %lld draws outside the %lld candidates",
                 (double)fl.temperature, (long long)fl.top_k, (double)fl.top_p, (long long)outside,
                 (long long)count);
    cr_expect(chi2 <= bound, "T=%g top_k=%lld top_p=%g: chi-square %.1f > %.1f (df %.0f)",
              (double)fl.temperature, (long long)fl.top_k, (double)fl.top_p, chi2, bound, df);
    free(observed);
}

/* 200000 rows holding the same logits draw independently (subsequence = row): the counts must
 * fit the CPU's filtered, renormalized probabilities. Chi-square with df = candidates - 1 stays
 * below df + 8 sqrt(2 df) + 10 except with probability below 1e-7 for a correct sampler; a
 * sampler that skips the renormalization, shifts the nucleus by one or leaks mass outside it
 * lands far above. */
Test(gpu_lm_head, empirical_frequencies_match_cpu_probabilities, .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t vocab = 12, m = 200000;
    const filter tested[] = {{0.9f, 6, 0.8f}, {1.0f, 0, 1.0f}, {1.5f, 0, 0.7f}, {0.6f, 4, 1.0f}};
    double row[12], probs[12], wider_probs[12], narrower_probs[12];
    int32_t candidates[12], other[12];
    double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
    int32_t *tokens = malloc((size_t)m * sizeof *tokens);
    cr_assert(logits && tokens);
    for (size_t f = 0; f < sizeof tested / sizeof tested[0]; f++) {
        filter fl = tested[f];
        int64_t count, wider, narrower;
        do { /* redraw until the nucleus is not within 1e-3 of its boundary */
            for (int64_t i = 0; i < vocab; i++) row[i] = 1.5 * mx_rng_gaussian(&rng);
            mx_ref_sample_candidates(row, vocab, fl.temperature, fl.top_k, fl.top_p, candidates,
                                     probs, &count);
            wider = narrower = count;
            if (fl.top_p < 1.0f) {
                mx_ref_sample_candidates(row, vocab, fl.temperature, fl.top_k, fl.top_p + 1e-3,
                                         other, wider_probs, &wider);
                mx_ref_sample_candidates(row, vocab, fl.temperature, fl.top_k, fl.top_p - 1e-3,
                                         other, narrower_probs, &narrower);
            }
        } while (wider != count || narrower != count);
        for (int64_t r = 0; r < m; r++) memcpy(logits + r * vocab, row, sizeof row);
        void *device = upload_logits(logits, m * vocab, MX_F32);
        mx_sampling_params params = {fl.temperature, fl.top_k, fl.top_p, mx_rng_next(&rng),
                                     mx_rng_next(&rng) % 1000};
        sample(device, MX_F32, m, vocab, params, tokens, NULL);
        expect_frequencies(tokens, m, vocab, candidates, probs, count, fl);
        cudaFree(device);
    }
    free(logits);
    free(tokens);
}

/* The unfiltered draw (top_k 0, top_p 1) walks chunk masses, then one chunk of 2048 logits: six
 * tokens on and around chunk edges hold nearly all the mass; the counts must fit the CPU's. */
Test(gpu_lm_head, unfiltered_draw_across_chunks_matches_cpu_probabilities, .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t vocab = 4200, m = 2000;
    const int64_t heavy[] = {3, 2047, 2048, 3000, 4095, 4199};
    double *row = malloc((size_t)vocab * sizeof *row), *probs = malloc((size_t)vocab * 8);
    int32_t *candidates = malloc((size_t)vocab * 4), *tokens = malloc((size_t)m * 4);
    double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
    cr_assert(row && probs && candidates && tokens && logits);
    for (int64_t i = 0; i < vocab; i++) row[i] = -6.0 + mx_rng_gaussian(&rng);
    for (size_t h = 0; h < sizeof heavy / sizeof heavy[0]; h++)
        row[heavy[h]] = 2.0 + 0.5 * mx_rng_gaussian(&rng);
    for (int64_t r = 0; r < m; r++) memcpy(logits + r * vocab, row, (size_t)vocab * sizeof *row);
    void *device = upload_logits(logits, m * vocab, MX_F32);
    const filter fl = {1.0f, 0, 1.0f};
    int64_t count;
    mx_ref_sample_candidates(logits, vocab, fl.temperature, 0, 1.0, candidates, probs, &count);
    mx_sampling_params params = {fl.temperature, 0, 1.0f, mx_rng_next(&rng), mx_rng_next(&rng)};
    sample(device, MX_F32, m, vocab, params, tokens, NULL);
    expect_frequencies(tokens, m, vocab, candidates, probs, count, fl);
    cudaFree(device);
    void *host[] = {row, probs, candidates, tokens, logits};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

Test(gpu_lm_head, same_seed_and_offset_reproduce_others_differ) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t vocab = 1000, m = 4096;
    double *logits = malloc((size_t)(m * vocab) * sizeof *logits);
    int32_t *first = malloc((size_t)m * 4), *again = malloc((size_t)m * 4);
    cr_assert(logits && first && again);
    for (int64_t i = 0; i < m * vocab; i++) logits[i] = 0.5 * mx_rng_gaussian(&rng);
    void *device = upload_logits(logits, m * vocab, MX_F32);
    mx_sampling_params params = {1.0f, 0, 1.0f, mx_rng_next(&rng), mx_rng_next(&rng) % 100000};
    sample(device, MX_F32, m, vocab, params, first, NULL);
    sample(device, MX_F32, m, vocab, params, again, NULL);
    cr_expect(memcmp(first, again, (size_t)m * 4) == 0, "same seed and offset gave other tokens");
    /* Two independent draws over ~1000 near-uniform tokens agree about 0.2 % of the time. */
    mx_sampling_params changed[2] = {params, params};
    changed[0].seed += 1;
    changed[1].offset += 1;
    for (int c = 0; c < 2; c++) {
        sample(device, MX_F32, m, vocab, changed[c], again, NULL);
        int64_t same = 0;
        for (int64_t r = 0; r < m; r++) same += first[r] == again[r];
        cr_expect_lt(same, m / 20, "another %s: %lld of %lld tokens unchanged",
                     c ? "offset" : "seed", (long long)same, (long long)m);
    }
    cudaFree(device);
    free(logits);
    free(first);
    free(again);
}

typedef struct {
    int64_t m, vocab, hidden;
} head_shape;

static head_shape head_shapes[] = {{1, 7, 64},     {3, 1000, 96},  {17, 1000, 2880},
                                   {1, 50257, 64}, {5, 50257, 32}, {2, 201088, 32}};

ParameterizedTestParameters(gpu_lm_head, logits_match_fp64_and_fp16_reference) {
    return cr_make_param_array(head_shape, head_shapes, sizeof head_shapes / sizeof head_shapes[0]);
}

/* mx_lm_head with every GEMM variant: logits vs the CPU FP64 GEMM on the dequantized weights
 * (rel_l2 <= max(2e-3, one output ulp)) and vs cublasGemmEx on the dequantized FP16/BF16
 * weights (<= 1 %); the greedy token is the argmax of the logits returned. */
ParameterizedTest(head_shape *shape, gpu_lm_head, logits_match_fp64_and_fp16_reference,
                  .timeout = 120) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t m = shape->m, n = shape->vocab, k = shape->hidden;
    float *w32 = malloc((size_t)(n * k) * sizeof *w32), *decoded = malloc((size_t)(n * k) * 4);
    double *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
    double *ref = malloc((size_t)(m * n) * sizeof *ref);
    uint8_t *blocks = malloc((size_t)(n * k / 2)), *scales = malloc((size_t)(n * k / 32));
    uint16_t *x16 = malloc((size_t)(m * k) * 2), *y = malloc((size_t)(m * n) * 2),
             *y_fp16 = malloc((size_t)(m * n) * 2);
    cr_assert(w32 && decoded && x && w && ref && blocks && scales && x16 && y && y_fp16);
    for (int64_t i = 0; i < n * k; i++) w32[i] = (float)mx_rng_gaussian(&rng);
    MX_CR_OK(mx_ref_quantize(w32, MX_F32, n, k, MX_SCALE_FLOOR, blocks, scales));
    MX_CR_OK(mx_ref_dequantize(blocks, scales, n, k, decoded));
    for (int64_t i = 0; i < n * k; i++) w[i] = decoded[i];
    /* x: integers / 64 in [-2, 2): exact in FP16 and BF16, one reference for both. */
    for (int64_t i = 0; i < m * k; i++) x[i] = ((double)(mx_rng_next(&rng) % 255) - 127.0) / 64.0;
    mx_ref_gemm_f64(m, n, k, x, w, NULL, ref);

    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *d_prepared, *d_x, *d_w16, *d_logits, *d_logits_fp16;
    int32_t *d_tokens;
    const mx_weights w_prepared = mx_test_prepare_weights(blocks, scales, n, k, 1, &d_prepared);
    MX_CR_CUDA(cudaMalloc(&d_x, (size_t)(m * k) * 2));
    MX_CR_CUDA(cudaMalloc(&d_w16, (size_t)(n * k) * 2));
    MX_CR_CUDA(cudaMalloc(&d_logits, (size_t)(m * n) * 2));
    MX_CR_CUDA(cudaMalloc(&d_logits_fp16, (size_t)(m * n) * 2));
    MX_CR_CUDA(cudaMalloc((void **)&d_tokens, (size_t)m * 4));
    const mx_gemm_variant variants[] = {MX_GEMM_AUTO, MX_GEMM_FUSED, MX_GEMM_SKINNY,
                                        MX_GEMM_DEQUANT_CUBLAS};
    int32_t *tokens = malloc((size_t)m * 4);
    double *stored = malloc((size_t)n * sizeof *stored);
    cr_assert(tokens && stored);
    for (int d = 1; d < 3; d++) {
        mx_dtype dtype = all_dtypes[d];
        for (int64_t i = 0; i < m * k; i++) store(x16, dtype, i, x[i]);
        MX_CR_CUDA(cudaMemcpy(d_x, x16, (size_t)(m * k) * 2, cudaMemcpyHostToDevice));
        MX_CR_OK(mx_weights_dequantize(&w_prepared, dtype, d_w16, 0));
        MX_CR_OK(mx_gemm_fp16(context, m, n, k, 1, dtype, d_x, d_w16, NULL, d_logits_fp16, 0));
        MX_CR_CUDA(cudaMemcpy(y_fp16, d_logits_fp16, (size_t)(m * n) * 2, cudaMemcpyDeviceToHost));
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            mx_gemm_problem problem = {.m = m,
                                       .n = n,
                                       .k = k,
                                       .batch = 1,
                                       .dtype = dtype,
                                       .x = d_x,
                                       .w = w_prepared,
                                       .y = d_logits};
            size_t bytes = 0;
            MX_CR_OK(mx_lm_head_workspace_bytes(context, &problem, variants[v], &bytes));
            void *workspace = NULL;
            MX_CR_CUDA(cudaMalloc(&workspace, bytes));
            MX_CR_CUDA(cudaMemset(d_logits, 0xFF, (size_t)(m * n) * 2));
            MX_CR_CUDA(cudaMemset(d_tokens, 0xFF, (size_t)m * 4));
            mx_sampling_params greedy = {0.0f, n < 50 ? n : 50, 0.9f, 1, 0};
            MX_CR_OK(mx_lm_head(context, &problem, variants[v], &greedy, d_tokens, NULL, workspace,
                                bytes, 0));
            MX_CR_CUDA(cudaDeviceSynchronize());
            MX_CR_CUDA(cudaMemcpy(y, d_logits, (size_t)(m * n) * 2, cudaMemcpyDeviceToHost));
            MX_CR_CUDA(cudaMemcpy(tokens, d_tokens, (size_t)m * 4, cudaMemcpyDeviceToHost));
            double diff2 = 0.0, ref2 = 0.0, ulp2 = 0.0, fp16_diff2 = 0.0, fp16_2 = 0.0;
            int64_t nonfinite = 0;
            for (int64_t i = 0; i < m * n; i++) {
                double value = d == 1 ? mx_test_f16_to_double(y[i]) : mx_test_bf16_to_double(y[i]);
                double fp16 =
                    d == 1 ? mx_test_f16_to_double(y_fp16[i]) : mx_test_bf16_to_double(y_fp16[i]);
                nonfinite += !isfinite(value);
                int exponent;
                frexp(ref[i], &exponent);
                double ulp = fmax(ldexp(1.0, exponent - (d == 2 ? 8 : 11)), d == 2 ? 0 : 0x1p-24);
                diff2 += (value - ref[i]) * (value - ref[i]);
                ref2 += ref[i] * ref[i];
                ulp2 += ulp * ulp;
                fp16_diff2 += (value - fp16) * (value - fp16);
                fp16_2 += fp16 * fp16;
            }
            double rel = sqrt(diff2 / ref2), limit = fmax(2e-3, sqrt(ulp2 / ref2));
            cr_expect(nonfinite == 0 && rel <= limit,
                      "%s %s m=%lld vocab=%lld hidden=%lld: rel_l2 vs FP64 %.3g (limit %.3g), "
                      "%lld non-finite",
                      mx_gemm_variant_name(variants[v]), dtype_names[d], (long long)m, (long long)n,
                      (long long)k, rel, limit, (long long)nonfinite);
            cr_expect(sqrt(fp16_diff2 / fp16_2) <= 0.01, "%s %s: rel_l2 vs cuBLAS FP16 %.3g",
                      mx_gemm_variant_name(variants[v]), dtype_names[d], sqrt(fp16_diff2 / fp16_2));
            for (int64_t r = 0; r < m; r++) {
                for (int64_t i = 0; i < n; i++)
                    stored[i] = d == 1 ? mx_test_f16_to_double(y[r * n + i])
                                       : mx_test_bf16_to_double(y[r * n + i]);
                cr_expect_eq(tokens[r], mx_ref_argmax(stored, n), "%s row %lld: greedy token",
                             mx_gemm_variant_name(variants[v]), (long long)r);
            }
            cudaFree(workspace);
        }
    }
    void *buffers[] = {d_prepared, d_x, d_w16, d_logits, d_logits_fp16, d_tokens};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_gemm_context_destroy(context);
    void *host[] = {w32, decoded, x, w, ref, blocks, scales, x16, y, y_fp16, tokens, stored};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}

Test(gpu_lm_head, bad_parameters_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    const int64_t m = 4, vocab = 10;
    double logits[40];
    for (int i = 0; i < 40; i++) logits[i] = i % 7;
    void *device = upload_logits(logits, m * vocab, MX_F32);
    size_t bytes = 0;
    MX_CR_OK(mx_sample_workspace_bytes(m, vocab, &bytes));
    void *workspace;
    int32_t *tokens, host_tokens[4];
    MX_CR_CUDA(cudaMalloc(&workspace, bytes));
    MX_CR_CUDA(cudaMalloc((void **)&tokens, sizeof host_tokens));
    MX_CR_CUDA(cudaMemset(tokens, 0x7E, sizeof host_tokens));
    const mx_sampling_params good = {0.8f, 5, 0.9f, 1, 0};
    struct {
        mx_sampling_params params;
        const char *message;
    } cases[] = {
        {{0.8f, -1, 0.9f, 1, 0}, "top_k = -1"},      {{0.8f, 11, 0.9f, 1, 0}, "top_k = 11"},
        {{0.8f, 5, 0.0f, 1, 0}, "top_p = 0"},        {{0.8f, 5, 1.5f, 1, 0}, "top_p = 1.5"},
        {{0.8f, 5, NAN, 1, 0}, "top_p = nan"},       {{-1.0f, 5, 0.9f, 1, 0}, "temperature = -1"},
        {{NAN, 5, 0.9f, 1, 0}, "temperature = nan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(mx_sample(device, MX_F32, m, vocab, &cases[i].params, tokens, NULL, workspace,
                               bytes, 0),
                     MX_ERR_INVALID_ARGUMENT, "case %s", cases[i].message);
        cr_expect(strstr(mx_last_error(), cases[i].message), "message: %s", mx_last_error());
    }
    cr_expect_eq(mx_sample(device, MX_F32, 0, vocab, &good, tokens, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "m = 0"), "message: %s", mx_last_error());
    cr_expect_eq(mx_sample(device, MX_F32, m, 0, &good, tokens, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "vocab = 0"), "message: %s", mx_last_error());
    cr_expect_eq(mx_sample(NULL, MX_F32, m, vocab, &good, tokens, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_sample(device, MX_F32, m, vocab, &good, NULL, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_sample(device, MX_F32, m, vocab, NULL, tokens, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_sample(device, (mx_dtype)7, m, vocab, &good, tokens, NULL, workspace, bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_sample(device, MX_F32, m, vocab, &good, tokens, NULL, workspace, bytes - 1, 0),
                 MX_ERR_WORKSPACE);
    char needed[32];
    snprintf(needed, sizeof needed, "%zu", bytes);
    cr_expect(strstr(mx_last_error(), needed), "message: %s", mx_last_error());
    /* mx_lm_head checks the sampler before the GEMM: the logits stay untouched. */
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    void *x, *logits16, *blocks, *scales, *prepared;
    MX_CR_CUDA(cudaMalloc(&x, 64 * 2 * m));
    MX_CR_CUDA(cudaMemset(x, 0, 64 * 2 * m));
    MX_CR_CUDA(cudaMalloc(&blocks, vocab * 32));
    MX_CR_CUDA(cudaMemset(blocks, 0x11, vocab * 32));
    MX_CR_CUDA(cudaMalloc(&scales, vocab * 2));
    MX_CR_CUDA(cudaMemset(scales, 127, vocab * 2));
    const size_t prepared_bytes = mx_weights_bytes(vocab, 64, 1);
    MX_CR_CUDA(cudaMalloc(&prepared, prepared_bytes));
    mx_weights w;
    MX_CR_OK(mx_weights_prepare(blocks, scales, vocab, 64, 1, prepared, prepared_bytes, &w, 0));
    MX_CR_CUDA(cudaMalloc(&logits16, m * vocab * 2));
    MX_CR_CUDA(cudaMemset(logits16, 0x7E, m * vocab * 2));
    mx_gemm_problem problem = {
        .m = m, .n = vocab, .k = 64, .batch = 1, .dtype = MX_F16, .x = x, .w = w, .y = logits16};
    size_t head_bytes = 0;
    MX_CR_OK(mx_lm_head_workspace_bytes(context, &problem, MX_GEMM_FUSED, &head_bytes));
    void *head_workspace;
    MX_CR_CUDA(cudaMalloc(&head_workspace, head_bytes));
    cr_expect_eq(mx_lm_head(context, &problem, MX_GEMM_FUSED, &cases[0].params, tokens, NULL,
                            head_workspace, head_bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_lm_head(context, &problem, MX_GEMM_FUSED, &good, tokens, NULL, head_workspace,
                            head_bytes - 1, 0),
                 MX_ERR_WORKSPACE);
    MX_CR_CUDA(cudaDeviceSynchronize());
    uint16_t host_logits[40];
    MX_CR_CUDA(cudaMemcpy(host_logits, logits16, sizeof host_logits, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 40; i++)
        cr_assert_eq(host_logits[i], 0x7E7E, "logit %d written by a refused call", i);
    MX_CR_CUDA(cudaMemcpy(host_tokens, tokens, sizeof host_tokens, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(host_tokens[i], 0x7E7E7E7E, "token %d written by a refused call", i);
    void *buffers[] = {device,   workspace, tokens,        x, blocks, scales,
                       prepared, logits16,  head_workspace};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    mx_gemm_context_destroy(context);
}
