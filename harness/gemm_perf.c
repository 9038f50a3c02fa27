/* `mxbench gemm-perf`: times every GEMM variant against cuBLAS FP16 on the same shapes in the same
 * run, L2 flushed before every sample, median of the samples, after measuring this GPU's copy
 * bandwidth and cuBLAS FP16 TFLOP/s at 8192^3. Prints a table and writes a CSV. */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <curand.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/mx.h"
#include "cli.h"
#include "device.h"
#include "gemm_perf.h"
#include "io.h"

#define PERF_CHECK(call)                                                                           \
    do {                                                                                           \
        int perf_ok_ = (call) == 0;                                                                \
        if (!perf_ok_) {                                                                           \
            mx_cli_error("%s failed at %s:%d (%s)", #call, __FILE__, __LINE__, mx_last_error());   \
            exit(MX_EXIT_ERROR);                                                                   \
        }                                                                                          \
    } while (0)

typedef struct {
    cudaStream_t stream;
    cudaEvent_t start, stop;
    void *flush;
    size_t flush_bytes;
    int samples;
} timer;

typedef struct {
    void (*run)(void *state);
    void *state;
} timed_op;

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median over samples of op's time in microseconds, L2 flushed before each sample. */
static float time_median_us(timer *t, timed_op op) {
    float samples[256];
    for (int i = 0; i < 3; i++) op.run(op.state); /* warm-up */
    for (int i = 0; i < t->samples; i++) {
        PERF_CHECK(cudaMemsetAsync(t->flush, i & 0xFF, t->flush_bytes, t->stream));
        PERF_CHECK(cudaEventRecord(t->start, t->stream));
        op.run(op.state);
        PERF_CHECK(cudaEventRecord(t->stop, t->stream));
        PERF_CHECK(cudaEventSynchronize(t->stop));
        PERF_CHECK(cudaEventElapsedTime(&samples[i], t->start, t->stop));
        samples[i] *= 1000.0f;
    }
    qsort(samples, (size_t)t->samples, sizeof(float), compare_floats);
    return samples[t->samples / 2];
}

typedef struct {
    mx_gemm_context *context;
    mx_gemm_problem problem;
    mx_gemm_variant variant;
    void *workspace;
    size_t workspace_bytes;
    cudaStream_t stream;
    const void *w16; /* FP16 weights for the baseline */
} gemm_state;

static void run_variant(void *state) {
    gemm_state *s = state;
    if (mx_gemm(s->context, &s->problem, s->variant, s->workspace, s->workspace_bytes, s->stream) !=
        MX_OK) {
        mx_cli_error("%s: %s", mx_gemm_variant_name(s->variant), mx_last_error());
        exit(MX_EXIT_ERROR);
    }
}

static void run_fp16_baseline(void *state) {
    gemm_state *s = state;
    const mx_gemm_problem *p = &s->problem;
    cublasHandle_t cublas = *(cublasHandle_t *)s->workspace;
    PERF_CHECK(
        mx_dense_gemm(cublas, p->m, p->n, p->k, 1, p->dtype, p->x, s->w16, NULL, p->y, s->stream));
}

typedef struct {
    void *src, *dst;
    size_t bytes;
    cudaStream_t stream;
} copy_state;

static void run_copy(void *state) {
    copy_state *c = state;
    PERF_CHECK(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, c->stream));
}

/* Random MXFP4 weights [rows, k] (normal(0, stddev) quantized on the GPU) and, when dense is
 * not NULL, the same values dequantized to FP16. scratch holds rows * k floats. */
static void random_weights(curandGenerator_t rng, float *scratch, int64_t rows, int64_t k,
                           float stddev, uint8_t *blocks, uint8_t *scales, void *dense,
                           cudaStream_t stream) {
    PERF_CHECK(curandGenerateNormal(rng, scratch, (size_t)(rows * k), 0.0f, stddev));
    PERF_CHECK(mx_quantize(scratch, MX_F32, rows, k, MX_SCALE_FLOOR, blocks, scales, stream));
    if (dense) PERF_CHECK(mx_dequantize(blocks, scales, rows, k, MX_F16, dense, stream));
}

static bool parse_list(const char *text, int64_t *values, int *count, int capacity, bool pairs) {
    *count = 0;
    for (const char *p = text; *p;) {
        char *end;
        long long a = strtoll(p, &end, 10), b = 0;
        if (end == p || a <= 0) return false;
        if (pairs) {
            if (*end != 'x') return false;
            p = end + 1;
            b = strtoll(p, &end, 10);
            if (end == p || b <= 0) return false;
        }
        if (*count + (pairs ? 2 : 1) > capacity) return false;
        values[(*count)++] = a;
        if (pairs) values[(*count)++] = b;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return false;
    }
    return *count > 0;
}

static int run_gemm_perf(const mx_parsed_options *parsed) {
    int64_t shapes[64], ms[32], samples;
    int shape_values, m_count;
    if (!parse_list(mx_option_value(parsed, "shapes"), shapes, &shape_values, 64, true)) {
        mx_cli_error("--shapes '%s': expected NxK[,NxK...] with positive integers",
                     mx_option_value(parsed, "shapes"));
        return MX_EXIT_ERROR;
    }
    if (!parse_list(mx_option_value(parsed, "m"), ms, &m_count, 32, false)) {
        mx_cli_error("--m '%s': expected a comma-separated list of positive integers",
                     mx_option_value(parsed, "m"));
        return MX_EXIT_ERROR;
    }
    for (int i = 1; i < shape_values; i += 2)
        if (shapes[i] % 32 != 0) {
            mx_cli_error("--shapes: K = %lld is not a multiple of 32", (long long)shapes[i]);
            return MX_EXIT_ERROR;
        }
    if (!mx_option_int64(parsed, "samples", 10, 255, &samples)) return MX_EXIT_ERROR;
    if (!mx_cli_open_device(0)) return MX_EXIT_NO_DEVICE;

    int64_t max_m = 0;
    for (int i = 0; i < m_count; i++) max_m = ms[i] > max_m ? ms[i] : max_m;
    timer t = {.samples = (int)samples};
    int l2_bytes = 0, device = 0;
    PERF_CHECK(cudaGetDevice(&device));
    PERF_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    struct cudaDeviceProp props;
    PERF_CHECK(cudaGetDeviceProperties(&props, device));
    t.flush_bytes = (size_t)l2_bytes * 4;
    PERF_CHECK(cudaStreamCreate(&t.stream));
    PERF_CHECK(cudaEventCreate(&t.start));
    PERF_CHECK(cudaEventCreate(&t.stop));
    PERF_CHECK(cudaMalloc(&t.flush, t.flush_bytes));

    mx_gemm_context *context;
    PERF_CHECK(mx_gemm_context_create(&context));
    cublasHandle_t cublas;
    PERF_CHECK(cublasCreate(&cublas));
    curandGenerator_t rng;
    PERF_CHECK(curandCreateGenerator(&rng, CURAND_RNG_PSEUDO_DEFAULT));
    PERF_CHECK(curandSetPseudoRandomGeneratorSeed(rng, 20261126ULL));
    PERF_CHECK(curandSetStream(rng, t.stream));

    /* Ceilings: a 1 GiB device-to-device copy (bytes read + written) and cuBLAS FP16 8192^3. */
    copy_state copy = {.bytes = (size_t)1 << 30, .stream = t.stream};
    PERF_CHECK(cudaMalloc(&copy.src, copy.bytes));
    PERF_CHECK(cudaMalloc(&copy.dst, copy.bytes));
    float copy_us = time_median_us(&t, (timed_op){run_copy, &copy});
    double copy_gbps = 2.0 * (double)copy.bytes / (copy_us * 1e3);
    cudaFree(copy.src);
    cudaFree(copy.dst);

    const int64_t big = 8192;
    float *random32;
    void *big_a, *big_y;
    uint8_t *big_blocks, *big_scales;
    PERF_CHECK(cudaMalloc((void **)&random32, (size_t)(big * big) * 4));
    PERF_CHECK(cudaMalloc(&big_a, (size_t)(big * big) * 2));
    PERF_CHECK(cudaMalloc(&big_y, (size_t)(big * big) * 2));
    PERF_CHECK(cudaMalloc((void **)&big_blocks, (size_t)(big * big) / 2));
    PERF_CHECK(cudaMalloc((void **)&big_scales, (size_t)(big * big) / 32));
    random_weights(rng, random32, big, big, 1.0f, big_blocks, big_scales, big_a, t.stream);
    cudaFree(big_blocks);
    cudaFree(big_scales);
    gemm_state big_state = {
        .problem =
            {.m = big, .n = big, .k = big, .batch = 1, .dtype = MX_F16, .x = big_a, .y = big_y},
        .workspace = &cublas,
        .stream = t.stream,
        .w16 = big_a};
    float big_us = time_median_us(&t, (timed_op){run_fp16_baseline, &big_state});
    double peak_tflops = 2.0 * big * big * big / (big_us * 1e6);
    cudaFree(big_a);
    cudaFree(big_y);
    cudaFree(random32);

    printf("GPU %s, %d SMs, L2 %d MB; copy %.0f GB/s, cuBLAS FP16 8192^3 %.0f TFLOP/s; "
           "median of %d samples, L2 flushed\n",
           props.name, props.multiProcessorCount, l2_bytes >> 20, copy_gbps, peak_tflops,
           t.samples);

    const char *out_path = mx_option_value(parsed, "out");
    mx_output_file csv;
    if (!mx_output_open(&csv, out_path)) return MX_EXIT_ERROR;
    fprintf(csv.file, "gpu,N,K,M,variant,time_us,fp16_time_us,speedup_vs_fp16,mxfp4_gbps,"
                      "pct_copy_bw,tflops,pct_peak_flops,copy_gbps,peak_tflops\n");
    printf("\n| N x K | M | cuBLAS FP16 us | fused | skinny | dequant_cublas | persistent | auto | "
           "best vs FP16 | auto GB/s (%% copy) |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < shape_values; s += 2) {
        int64_t n = shapes[s], k = shapes[s + 1];
        float *w32;
        void *w16, *x, *y, *workspace;
        uint8_t *blocks, *scales;
        int64_t rows = n > max_m ? n : max_m; /* scratch rows for weights and activations */
        PERF_CHECK(cudaMalloc((void **)&w32, (size_t)(rows * k) * 4));
        PERF_CHECK(cudaMalloc(&w16, (size_t)(n * k) * 2));
        PERF_CHECK(cudaMalloc((void **)&blocks, (size_t)(rows * k) / 2));
        PERF_CHECK(cudaMalloc((void **)&scales, (size_t)(rows * k) / 32));
        PERF_CHECK(cudaMalloc(&x, (size_t)(max_m * k) * 2));
        PERF_CHECK(cudaMalloc(&y, (size_t)(max_m * n) * 2));
        /* Activations: normal(0, 1) through MXFP4 (random, never constant), then the weights. */
        random_weights(rng, w32, max_m, k, 1.0f, blocks, scales, x, t.stream);
        random_weights(rng, w32, n, k, 0.02f, blocks, scales, w16, t.stream);
        cudaFree(w32);
        for (int i = 0; i < m_count; i++) {
            int64_t m = ms[i];
            mx_gemm_problem problem = {.m = m,
                                       .n = n,
                                       .k = k,
                                       .batch = 1,
                                       .dtype = MX_F16,
                                       .x = x,
                                       .w_blocks = blocks,
                                       .w_scales = scales,
                                       .y = y};
            gemm_state base = {
                .problem = problem, .workspace = &cublas, .stream = t.stream, .w16 = w16};
            float fp16_us = time_median_us(&t, (timed_op){run_fp16_baseline, &base});
            float times[MX_GEMM_VARIANT_COUNT] = {0};
            float best = INFINITY;
            for (int v = MX_GEMM_AUTO; v < MX_GEMM_VARIANT_COUNT; v++) {
                if (v == MX_GEMM_SKINNY && m > 256) continue; /* far outside its regime */
                gemm_state state = {.context = context,
                                    .problem = problem,
                                    .variant = (mx_gemm_variant)v,
                                    .stream = t.stream};
                state.workspace_bytes = mx_gemm_workspace_bytes(context, &problem, state.variant);
                if (v == MX_GEMM_PERSISTENT) {
                    state.workspace = w16; /* the kept FP16 weights */
                } else {
                    PERF_CHECK(cudaMalloc(&workspace, state.workspace_bytes + 256));
                    PERF_CHECK(cudaMemset(workspace, 0, state.workspace_bytes + 256));
                    state.workspace = workspace;
                }
                times[v] = time_median_us(&t, (timed_op){run_variant, &state});
                if (v != MX_GEMM_PERSISTENT) cudaFree(workspace);
                if (v != MX_GEMM_PERSISTENT && v != MX_GEMM_AUTO && times[v] < best)
                    best = times[v];
                double bytes = (double)(n * k) * 0.53125 + (double)(m * k + m * n) * 2;
                double gbps = bytes / (times[v] * 1e3), tflops = 2.0 * m * n * k / (times[v] * 1e6);
                fprintf(csv.file,
                        "\"%s\",%lld,%lld,%lld,%s,%.2f,%.2f,%.3f,%.0f,%.1f,%.1f,%.1f,%.0f,%.0f\n",
                        props.name, (long long)n, (long long)k, (long long)m,
                        mx_gemm_variant_name((mx_gemm_variant)v), times[v], fp16_us,
                        fp16_us / times[v], gbps, 100.0 * gbps / copy_gbps, tflops,
                        100.0 * tflops / peak_tflops, copy_gbps, peak_tflops);
            }
            double auto_bytes = (double)(n * k) * 0.53125 + (double)(m * k + m * n) * 2;
            double auto_gbps = auto_bytes / (times[MX_GEMM_AUTO] * 1e3);
            printf("| %lldx%lld | %lld | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx | %.0f "
                   "(%.0f%%) |\n",
                   (long long)n, (long long)k, (long long)m, fp16_us, times[MX_GEMM_FUSED],
                   times[MX_GEMM_SKINNY], times[MX_GEMM_DEQUANT_CUBLAS], times[MX_GEMM_PERSISTENT],
                   times[MX_GEMM_AUTO], fp16_us / best, auto_gbps, 100.0 * auto_gbps / copy_gbps);
            fflush(stdout);
        }
        cudaFree(w16);
        cudaFree(blocks);
        cudaFree(scales);
        cudaFree(x);
        cudaFree(y);
    }
    printf("\n(best vs FP16: cuBLAS FP16 time / fastest of fused, skinny, dequant_cublas; "
           "skinny not run above M=256; times in us)\n");
    if (!mx_output_commit(&csv)) return MX_EXIT_ERROR;
    printf("CSV: %s\n", out_path);
    curandDestroyGenerator(rng);
    cublasDestroy(cublas);
    mx_gemm_context_destroy(context);
    return MX_EXIT_OK;
}

static const mx_option gemm_perf_options[] = {
    {"shapes", "NxK,...", "weight shapes (out x in features)",
     "4096x4096,14336x4096,4096x14336,5760x2880,2880x2880,201088x2880"},
    {"m", "M,...", "token counts", "1,4,16,64,256,1024,4096"},
    {"samples", "N", "timed samples per measurement (10..255), median reported", "20"},
    {"out", "FILE", "CSV output", "gemm_perf.csv"},
};

const mx_command mx_gemm_perf_command = {
    "gemm-perf",
    "Time every MXFP4 GEMM variant against cuBLAS FP16 on the same shapes (FP16 activations).",
    "Before timing it measures the GPU's ceilings: a 1 GiB device-to-device copy (bytes read +\n"
    "written) and cuBLAS FP16 at 8192^3. Every sample is preceded by a write of 4x the L2 size,\n"
    "so weights come from DRAM as in a real model; the median is reported. The FP16 baseline is\n"
    "cublasGemmEx (FP16 in/out, FP32 compute, default tensor-op algorithm) on the same weights\n"
    "dequantized to FP16. GB/s counts the bytes an MXFP4 GEMM must move (0.53125 per weight +\n"
    "X + Y).",
    gemm_perf_options,
    (int)(sizeof gemm_perf_options / sizeof gemm_perf_options[0]),
    run_gemm_perf,
};
