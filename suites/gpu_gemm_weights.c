/* GPU GEMM suite, what the weights hold (the GEMM's shapes, batching, valid rows, code path and
 * refusals, and the fixtures, are in gpu_gemm.c): scales on both sides of the FP16 boundary, a NaN
 * scale, the prepared layout bit for bit and its refusals, and the harness's stress distributions
 * through every variant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "bench_gpu.h"
#include "codec.h"
#include "gpu_gemm.h"

/* Re-derives the dequantized FP64 weights after a test edited blocks or scales. */
static void refresh_weights(host_problem *p) {
    int64_t ws = p->batch * p->n * p->k;
    float *decoded = malloc((size_t)ws * sizeof(float));
    cr_assert(decoded);
    MX_CR_OK(mx_ref_dequantize(p->blocks, p->scales, p->batch * p->n, p->k, decoded));
    for (int64_t i = 0; i < ws; i++) p->w[i] = decoded[i];
    free(decoded);
}

/* Scale exponent 13 is the last at which FP16 weights hold every code (6 * 2^13 < 65504) and -23
 * the last at which they hold code 1 (0.5 * 2^-23 = 2^-24). fused and skinny stay exact on both
 * sides; the paths that go through FP16 weights are exact inside and lose outside. fused runs
 * its warpgroup kernel on Hopper at 160 (MX_GEMM_WGMMA_MIN_M and up; 128 tokens per CTA) and at
 * 777 x 4232 rows x 288 K (136 tiles of 256 tokens: its TMA layout; an odd last block), its
 * mma.sync kernel at 24 and on the portable path (gpu_gemm_portable): each takes its per-block
 * path for scales outside the folded range, 12, 17 and -32 here; m = 1 is decode (skinny with 8
 * tokens per CTA).
 * "Exact" is within the output's own resolution (mx_test_compare_ulp's limit): at -32 the outputs
 * are about 2^-16, FP16 subnormals (spacing 2^-24), whose rounding alone gives a relative L2
 * error of 1.4e-3 at the median of 1000 simulated draws and up to 2.4e-3, above 2e-3 in 0.6 % of
 * them (an H200 run drew 2.02e-3); the limit there is 3.2e-3 or more (median 4.8e-3). */
Test(gpu_gemm, extreme_scales_on_both_sides_of_the_fp16_boundary) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const struct {
        int weight_exponent; /* sets the block scales: gaussian * 2^e gives s around e - 1 */
        bool fp16_paths_exact;
    } cases[] = {{12, true}, {-20, true}, {17, false}, {-32, false}};
    const int ms[] = {1, 24, 160, 777};
    const int sizes = sizeof ms / sizeof ms[0];
    for (size_t c = 0; c < sizes * sizeof cases / sizeof cases[0]; c++) {
        const int m = ms[c % sizes];
        host_problem p = mx_test_make_problem(m, m == 777 ? 4232 : 72, m == 777 ? 288 : 256, 1,
                                              cases[c / sizes].weight_exponent, &rng);
        /* Keep activations and outputs inside FP16: lean the activations against the weights'
         * magnitude; the reference takes the FP16 values actually used. */
        double x_scale = ldexp(1.0, cases[c / sizes].weight_exponent > 0 ? -12 : 12);
        for (int64_t i = 0; i < p.m * p.k; i++) {
            p.x16[0][i] = mx_test_encode(p.x[i] * x_scale, 0);
            p.x[i] = mx_test_f16_to_double(p.x16[0][i]);
        }
        int max_exponent = -200, min_exponent = 200;
        for (int64_t i = 0; i < p.n * p.k / 32; i++) {
            int exponent = p.scales[i] - 127;
            max_exponent = exponent > max_exponent ? exponent : max_exponent;
            min_exponent = exponent < min_exponent ? exponent : min_exponent;
        }
        double *ref = mx_test_reference_output(&p, false);
        device_problem d = mx_test_upload_problem(&p);
        mx_gemm_problem problem = mx_test_device_view(&p, &d, 0, false);
        for (int v = 0; v < VARIANT_COUNT; v++) {
            mx_test_run_variant(&d, &problem, all_variants[v]);
            mx_test_errors e = mx_test_compare_ulp(d.y_host, 0, ref, p.m * p.n);
            mx_gemm_variant runs = all_variants[v] == MX_GEMM_AUTO
                                       ? mx_gemm_choose(d.context, &problem)
                                       : all_variants[v];
            bool through_fp16 = runs == MX_GEMM_DEQUANT_CUBLAS || runs == MX_GEMM_PERSISTENT;
            bool exact = e.nonfinite == 0 && e.rel_l2 <= e.limit;
            if (!through_fp16 || cases[c / sizes].fp16_paths_exact)
                cr_expect(exact,
                          "%s m=%d, scale exponents %d..%d: rel_l2 %.3g (limit %.3g), %lld "
                          "non-finite",
                          mx_gemm_variant_name(all_variants[v]), m, min_exponent, max_exponent,
                          e.rel_l2, e.limit, (long long)e.nonfinite);
            else
                cr_expect(!exact,
                          "%s m=%d through FP16 weights, scale exponents %d..%d: expected "
                          "the documented loss, got rel_l2 %.3g",
                          mx_gemm_variant_name(all_variants[v]), m, min_exponent, max_exponent,
                          e.rel_l2);
        }
        mx_test_release_problem(&d);
        free(ref);
        mx_test_free_problem(&p);
    }
}

/* A 0xFF scale makes its whole row NaN (every token), and nothing else; 777 tokens x 4232 rows
 * reach the warpgroup kernel's TMA layout (256 tokens per CTA) on Hopper. */
Test(gpu_gemm, nan_scale_poisons_only_its_row) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int ms[] = {1, 5, 200, 777};
    for (int case_index = 0; case_index < 4; case_index++) {
        int m = ms[case_index];
        host_problem p = mx_test_make_problem(m, m == 777 ? 4232 : 300, 320, 1, 0, &rng);
        const int nan_row = 137, nan_block = 4;
        p.scales[nan_row * 10 + nan_block] = 0xFF;
        refresh_weights(&p);
        double *ref = mx_test_reference_output(&p, true);
        device_problem d = mx_test_upload_problem(&p);
        for (int t = 0; t < 2; t++) {
            mx_gemm_problem problem = mx_test_device_view(&p, &d, t, true);
            for (int v = 0; v < VARIANT_COUNT; v++) {
                mx_test_run_variant(&d, &problem, all_variants[v]);
                for (int64_t i = 0; i < p.m * p.n; i++) {
                    double value = t ? mx_test_bf16_to_double(d.y_host[i])
                                     : mx_test_f16_to_double(d.y_host[i]);
                    bool in_row = i % p.n == nan_row;
                    cr_assert(in_row ? isnan(value) : isfinite(value),
                              "%s m=%d: output (%lld, %lld) = %g; only row %d should be NaN",
                              mx_gemm_variant_name(all_variants[v]), m, (long long)(i / p.n),
                              (long long)(i % p.n), value, nan_row);
                }
                mx_test_errors e = mx_test_compare_ulp(d.y_host, t, ref, p.m * p.n);
                cr_expect(e.rel_l2 <= e.limit, "%s: rel_l2 %.3g on the finite rows (limit %.3g)",
                          mx_gemm_variant_name(all_variants[v]), e.rel_l2, e.limit);
            }
        }
        mx_test_release_problem(&d);
        free(ref);
        mx_test_free_problem(&p);
    }
}

/* Host bytes of a device buffer. */
static uint8_t *download_bytes(const void *device, size_t bytes) {
    uint8_t *host = malloc(bytes);
    cr_assert(host);
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
    return host;
}

/* The prepared layout holds exactly the OCP bytes: unprepare gives them back bit for bit (also
 * through the views of one batch entry and of whole row tiles), the weights it decodes equal the
 * OCP decode bit for bit in every dtype, and it takes the OCP bytes plus the zero rows that
 * complete a 16-row tile. Random bytes: every code, every scale including 0xFF. Shapes: n off
 * the tile, one block, an odd last block, short last chunks, long K, several entries. */
Test(gpu_gemm, prepared_layout_round_trips_bit_for_bit) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const struct {
        int64_t n, k, batch;
    } cases[] = {{16, 256, 1}, {17, 32, 1},     {40, 96, 3},
                 {8, 2880, 2}, {100, 14336, 1}, {2880, 2880, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t n = cases[c].n, k = cases[c].k, batch = cases[c].batch;
        const size_t block_bytes = (size_t)(batch * n * k / 2), scale_bytes = block_bytes / 16;
        const size_t padded_rows = (size_t)((n + 15) / 16 * 16);
        cr_expect_eq(mx_weights_bytes(n, k, batch),
                     (size_t)batch * padded_rows * (size_t)k / 32 * 17, "n=%lld k=%lld batch=%lld",
                     (long long)n, (long long)k, (long long)batch);
        uint8_t *blocks = malloc(block_bytes), *scales = malloc(scale_bytes);
        cr_assert(blocks && scales);
        for (size_t i = 0; i < block_bytes; i++) blocks[i] = (uint8_t)mx_rng_next(&rng);
        for (size_t i = 0; i < scale_bytes; i++) scales[i] = (uint8_t)mx_rng_next(&rng);
        void *prepared = NULL;
        mx_weights w = mx_test_prepare_weights(blocks, scales, n, k, batch, &prepared);
        cr_expect(w.magic == MX_WEIGHTS_MAGIC && w.n == n && w.k == k && w.batch == batch);

        uint8_t *ocp_blocks, *ocp_scales;
        MX_CR_CUDA(cudaMalloc((void **)&ocp_blocks, block_bytes));
        MX_CR_CUDA(cudaMalloc((void **)&ocp_scales, scale_bytes));
        MX_CR_OK(mx_weights_unprepare(&w, ocp_blocks, ocp_scales, 0));
        uint8_t *back_blocks = download_bytes(ocp_blocks, block_bytes);
        uint8_t *back_scales = download_bytes(ocp_scales, scale_bytes);
        cr_expect(memcmp(back_blocks, blocks, block_bytes) == 0 &&
                      memcmp(back_scales, scales, scale_bytes) == 0,
                  "n=%lld k=%lld batch=%lld: unprepare(prepare(OCP)) != OCP", (long long)n,
                  (long long)k, (long long)batch);

        /* The last entry alone, and (when there are two tiles) the rows of the second tile. */
        mx_weights part;
        MX_CR_OK(mx_weights_entry(&w, batch - 1, &part));
        const size_t entry_blocks = block_bytes / (size_t)batch;
        MX_CR_OK(mx_weights_unprepare(&part, ocp_blocks, ocp_scales, 0));
        uint8_t *entry = download_bytes(ocp_blocks, entry_blocks);
        cr_expect(memcmp(entry, blocks + (size_t)(batch - 1) * entry_blocks, entry_blocks) == 0,
                  "entry %lld", (long long)(batch - 1));
        free(entry);
        if (n > 16) {
            MX_CR_OK(mx_weights_rows(&w, 16, n - 16, &part));
            MX_CR_OK(mx_weights_unprepare(&part, ocp_blocks, ocp_scales, 0));
            const size_t row_bytes = (size_t)k / 2, rows_bytes = (size_t)(n - 16) * row_bytes;
            uint8_t *rows = download_bytes(ocp_blocks, rows_bytes);
            cr_expect(memcmp(rows, blocks + 16 * row_bytes, rows_bytes) == 0, "rows 16..%lld",
                      (long long)n);
            free(rows);
        }

        /* Decoding: prepared == OCP, bit for bit, FP32, FP16 and BF16. */
        MX_CR_CUDA(cudaMemcpy(ocp_blocks, blocks, block_bytes, cudaMemcpyHostToDevice));
        MX_CR_CUDA(cudaMemcpy(ocp_scales, scales, scale_bytes, cudaMemcpyHostToDevice));
        const mx_dtype dtypes[] = {MX_F32, MX_F16, MX_BF16};
        const size_t count = (size_t)(batch * n * k);
        void *dense_ocp, *dense_prepared;
        MX_CR_CUDA(cudaMalloc(&dense_ocp, count * 4));
        MX_CR_CUDA(cudaMalloc(&dense_prepared, count * 4));
        for (int d = 0; d < 3; d++) {
            const size_t bytes = count * (dtypes[d] == MX_F32 ? 4 : 2);
            MX_CR_OK(mx_dequantize(ocp_blocks, ocp_scales, batch * n, k, dtypes[d], dense_ocp, 0));
            MX_CR_OK(mx_weights_dequantize(&w, dtypes[d], dense_prepared, 0));
            uint8_t *a = download_bytes(dense_ocp, bytes),
                    *b = download_bytes(dense_prepared, bytes);
            cr_expect(memcmp(a, b, bytes) == 0, "dtype %d n=%lld k=%lld: decodes differ", d,
                      (long long)n, (long long)k);
            free(a);
            free(b);
        }
        cudaFree(dense_ocp);
        cudaFree(dense_prepared);
        cudaFree(ocp_blocks);
        cudaFree(ocp_scales);
        cudaFree(prepared);
        free(back_blocks);
        free(back_scales);
        free(blocks);
        free(scales);
    }
}

/* Bad arguments of the prepared-layout entry points: refused with the value named, nothing
 * written. */
Test(gpu_gemm, prepare_refuses_bad_arguments) {
    MX_REQUIRE_GPU();
    const int64_t n = 32, k = 64;
    const size_t needed = mx_weights_bytes(n, k, 1);
    uint8_t *blocks, *scales, *prepared;
    MX_CR_CUDA(cudaMalloc((void **)&blocks, (size_t)(n * k / 2)));
    MX_CR_CUDA(cudaMalloc((void **)&scales, (size_t)(n * k / 32)));
    MX_CR_CUDA(cudaMalloc((void **)&prepared, needed));
    MX_CR_CUDA(cudaMemset(prepared, 0x5A, needed));
    mx_weights w = {0};
    cr_expect_eq(mx_weights_prepare(blocks, scales, n, k, 1, prepared, needed - 1, &w, 0),
                 MX_ERR_WORKSPACE);
    char needed_text[32];
    snprintf(needed_text, sizeof needed_text, "%zu", needed);
    cr_expect(strstr(mx_last_error(), needed_text), "message: %s", mx_last_error());
    cr_expect_eq(mx_weights_prepare(blocks, scales, n, 33, 1, prepared, needed, &w, 0),
                 MX_ERR_UNSUPPORTED_SHAPE);
    cr_expect_eq(mx_weights_prepare(blocks, scales, n, k, 1, blocks, needed, &w, 0),
                 MX_ERR_INVALID_ARGUMENT, "an output over the input");
    cr_expect(strstr(mx_last_error(), "overlaps"), "message: %s", mx_last_error());
    cr_expect_eq(mx_weights_prepare(blocks + 4, scales, n, k, 1, prepared, needed, &w, 0),
                 MX_ERR_MISALIGNED);
    cr_expect_eq(w.magic, 0u, "a refused prepare leaves the view alone");
    uint8_t *after = download_bytes(prepared, needed);
    for (size_t i = 0; i < needed; i++)
        cr_assert_eq(after[i], 0x5A, "byte %zu written by a refused prepare", i);
    free(after);
    MX_CR_OK(mx_weights_prepare(blocks, scales, n, k, 1, prepared, needed, &w, 0));
    mx_weights part;
    cr_expect_eq(mx_weights_rows(&w, 8, 16, &part), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "multiple of 16"), "message: %s", mx_last_error());
    cr_expect_eq(mx_weights_entry(&w, 1, &part), MX_ERR_INVALID_ARGUMENT);
    mx_weights ocp = {.n = n, .k = k, .batch = 1, .data = blocks, .entry_bytes = (int64_t)needed};
    cr_expect_eq(mx_weights_dequantize(&ocp, MX_F16, prepared, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "not a prepared view"), "message: %s", mx_last_error());
    MX_CR_CUDA(cudaDeviceSynchronize());
    cudaFree(blocks);
    cudaFree(scales);
    cudaFree(prepared);
}

/* The harness's stress distributions through every variant that claims exactness on them: the
 * outliers (one weight in 1000 times 50) on every variant, the range-stress rows (scales 2^-24
 * .. 2^17) on fused and skinny, which never hold FP16 weights (the FP16-weight paths' loss there
 * is the documented one, tested above). Activations scaled so that the outputs fit FP16. */
Test(gpu_gemm, harness_weight_distributions) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const mx_dist dists[] = {MX_DIST_OUTLIERS, MX_DIST_RANGE};
    const int ms[] = {1, 15, 33, 255};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 4; i++) {
            host_problem p = mx_test_make_problem(ms[i], 272, 1024, 1, 0, &rng);
            const int64_t count = p.n * p.k;
            float *w32 = NULL, *host = malloc((size_t)count * sizeof(float));
            float *decoded = malloc((size_t)count * sizeof(float));
            cr_assert(host && decoded);
            MX_CR_CUDA(cudaMalloc((void **)&w32, (size_t)count * sizeof(float)));
            MX_CR_OK(mx_bench_fill(w32, p.n, p.k, dists[d], mx_rng_next(&rng), 0));
            MX_CR_CUDA(cudaDeviceSynchronize());
            MX_CR_CUDA(
                cudaMemcpy(host, w32, (size_t)count * sizeof(float), cudaMemcpyDeviceToHost));
            MX_CR_OK(mx_ref_quantize(host, MX_F32, p.n, p.k, MX_SCALE_FLOOR, p.blocks, p.scales));
            MX_CR_OK(mx_ref_dequantize(p.blocks, p.scales, p.n, p.k, decoded));
            for (int64_t j = 0; j < count; j++) p.w[j] = decoded[j];
            const double x_scale = dists[d] == MX_DIST_RANGE ? 0x1p-16 : 1.0;
            for (int64_t j = 0; j < p.m * p.k; j++)
                for (int t = 0; t < 2; t++) {
                    p.x16[t][j] = mx_test_encode(p.x[j] * x_scale, t);
                    if (t == 0) p.x[j] = mx_test_f16_to_double(p.x16[0][j]);
                }
            /* BF16 rounds x differently: one FP64 reference per dtype. */
            double *ref[2];
            ref[0] = mx_test_reference_output(&p, false);
            for (int64_t j = 0; j < p.m * p.k; j++) p.x[j] = mx_test_bf16_to_double(p.x16[1][j]);
            ref[1] = mx_test_reference_output(&p, false);
            device_problem dev = mx_test_upload_problem(&p);
            for (int t = 0; t < 2; t++) {
                mx_gemm_problem problem = mx_test_device_view(&p, &dev, t, false);
                for (int v = 0; v < VARIANT_COUNT; v++) {
                    mx_gemm_variant runs = all_variants[v] == MX_GEMM_AUTO
                                               ? mx_gemm_choose(dev.context, &problem)
                                               : all_variants[v];
                    if (dists[d] == MX_DIST_RANGE && runs != MX_GEMM_FUSED &&
                        runs != MX_GEMM_SKINNY)
                        continue;
                    mx_test_run_variant(&dev, &problem, all_variants[v]);
                    mx_test_errors e = mx_test_compare_ulp(dev.y_host, t, ref[t], p.m * p.n);
                    cr_expect(e.nonfinite == 0 && e.rel_l2 <= e.limit,
                              "%s %s %s m=%lld: rel_l2 %.3g (limit %.3g), %lld non-finite",
                              mx_gemm_variant_name(all_variants[v]), mx_dist_name(dists[d]),
                              t ? "bf16" : "f16", (long long)p.m, e.rel_l2, e.limit,
                              (long long)e.nonfinite);
                }
            }
            mx_test_release_problem(&dev);
            free(ref[0]);
            free(ref[1]);
            cudaFree(w32);
            free(host);
            free(decoded);
            mx_test_free_problem(&p);
        }
}
