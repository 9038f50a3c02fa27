/* GPU codec suite: mx_quantize / mx_dequantize against the CPU codec, byte for byte, on large
 * fresh random inputs of many distributions and magnitudes and on the edge cases; outputs are
 * poisoned before every launch. Skips, saying why, where there is no CUDA device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "codec.h"
#include "common.h"

enum { COLS = 2048 };

typedef enum {
    DIST_ANY_BITS,     /* every bit pattern: NaN, Inf, subnormal, signed zeros */
    DIST_GAUSSIAN,     /* one random magnitude 2^-150..2^127 per block */
    DIST_UNIFORM,      /* uniform in [-1, 1) scaled per row */
    DIST_HEAVY_TAILED, /* Cauchy */
    DIST_OUTLIERS,     /* gaussian with one in 64 values x 1000 */
    DIST_TIES,         /* exact E2M1 midpoints times a power of two */
    DIST_COUNT
} distribution;

static const char *const distribution_names[DIST_COUNT] = {"any-bits",     "gaussian", "uniform",
                                                           "heavy-tailed", "outliers", "ties"};

static float draw(distribution dist, mx_rng *rng, int64_t i) {
    static const float midpoints[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f, 7.0f};
    uint64_t r = mx_rng_next(rng);
    switch (dist) {
    case DIST_ANY_BITS: {
        uint32_t bits = (uint32_t)r;
        float value;
        memcpy(&value, &bits, 4);
        return value;
    }
    case DIST_GAUSSIAN:
        return (float)ldexp(mx_rng_gaussian(rng), (int)((i / 32 * 2654435761u) % 278) - 150);
    case DIST_UNIFORM:
        return (float)ldexp(2.0 * mx_rng_uniform(rng) - 1.0, (int)(i / COLS % 40) - 20);
    case DIST_HEAVY_TAILED:
        return (float)tan(3.14159265358979 * (mx_rng_uniform(rng) - 0.5));
    case DIST_OUTLIERS:
        return (float)(mx_rng_gaussian(rng) * (r % 64 == 0 ? 1000.0 : 1.0));
    case DIST_TIES:
        return (float)ldexp((r & 1 ? -1.0 : 1.0) * midpoints[(r >> 1) % 9],
                            (int)((r >> 8) % 6) - 3);
    default:
        return 0.0f;
    }
}

/* Fills a [rows, COLS] host array of dtype from the distribution (16-bit types rounded from the
 * FP32 draw, NaN/Inf kept). */
static void *make_input(distribution dist, mx_dtype dtype, int64_t rows, mx_rng *rng) {
    int64_t count = rows * COLS;
    void *data = malloc((size_t)(count * mx_dtype_bytes(dtype)));
    cr_assert(data);
    for (int64_t i = 0; i < count; i++) {
        float value = draw(dist, rng, i);
        if (dtype == MX_F32)
            ((float *)data)[i] = value;
        else if (dist == DIST_ANY_BITS)
            ((uint16_t *)data)[i] = (uint16_t)mx_rng_next(rng);
        else
            ((uint16_t *)data)[i] =
                dtype == MX_F16 ? mx_test_f32_to_f16_rne(value) : mx_test_f32_to_bf16_rne(value);
    }
    return data;
}

/* Runs mx_quantize on a copy of host_src (outputs poisoned first) and compares with the CPU. */
static void check_gpu_quantize(const void *host_src, mx_dtype dtype, int64_t rows,
                               mx_scale_mode mode, const char *what) {
    int64_t count = rows * COLS;
    size_t src_bytes = (size_t)(count * mx_dtype_bytes(dtype));
    size_t block_bytes = (size_t)count / 2, scale_bytes = (size_t)count / 32;
    uint8_t *expected = malloc(block_bytes + scale_bytes), *got = malloc(block_bytes + scale_bytes);
    cr_assert(expected && got);
    MX_CR_OK(mx_ref_quantize(host_src, dtype, rows, COLS, mode, expected, expected + block_bytes));

    void *src;
    uint8_t *blocks, *scales;
    MX_CR_CUDA(cudaMalloc(&src, src_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&blocks, block_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&scales, scale_bytes));
    MX_CR_CUDA(cudaMemcpy(src, host_src, src_bytes, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemset(blocks, 0xA5, block_bytes));
    MX_CR_CUDA(cudaMemset(scales, 0x5A, scale_bytes));
    MX_CR_OK(mx_quantize(src, dtype, rows, COLS, mode, blocks, scales, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(got, blocks, block_bytes, cudaMemcpyDeviceToHost));
    MX_CR_CUDA(cudaMemcpy(got + block_bytes, scales, scale_bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < block_bytes + scale_bytes; i++) {
        int64_t block = i < block_bytes ? (int64_t)(i / 16) : (int64_t)(i - block_bytes);
        cr_assert_eq(got[i], expected[i],
                     "%s, dtype %d, %s: %s of block %lld differs: GPU 0x%02x, CPU 0x%02x "
                     "(first input of the block %a)",
                     what, dtype, mode ? "rceil" : "floor",
                     i < block_bytes ? "a code byte" : "the scale", (long long)block, got[i],
                     expected[i], (double)mx_load_as_f32(host_src, dtype, block * 32));
    }
    cudaFree(src);
    cudaFree(blocks);
    cudaFree(scales);
    free(expected);
    free(got);
}

typedef struct {
    mx_dtype dtype;
    mx_scale_mode mode;
} codec_case;

static codec_case codec_cases[] = {
    {MX_F32, MX_SCALE_FLOOR}, {MX_F32, MX_SCALE_RCEIL},  {MX_F16, MX_SCALE_FLOOR},
    {MX_F16, MX_SCALE_RCEIL}, {MX_BF16, MX_SCALE_FLOOR}, {MX_BF16, MX_SCALE_RCEIL},
};

ParameterizedTestParameters(gpu_codec, quantize_matches_cpu_on_every_distribution) {
    return cr_make_param_array(codec_case, codec_cases, sizeof codec_cases / sizeof codec_cases[0]);
}

ParameterizedTest(codec_case *param, gpu_codec, quantize_matches_cpu_on_every_distribution) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t rows = 1024; /* 2M values per distribution */
    for (int d = 0; d < DIST_COUNT; d++) {
        void *src = make_input((distribution)d, param->dtype, rows, &rng);
        check_gpu_quantize(src, param->dtype, rows, param->mode, distribution_names[d]);
        free(src);
    }
}

/* Every FP16 and BF16 bit pattern, in order and shuffled, both modes. */
Test(gpu_codec, quantize_matches_cpu_on_every_16bit_pattern) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t rows = 65536 / COLS * 4;
    uint16_t *patterns = malloc((size_t)(rows * COLS) * sizeof *patterns);
    cr_assert(patterns);
    for (int64_t i = 0; i < rows * COLS; i++)
        patterns[i] = i < 65536 ? (uint16_t)i : (uint16_t)mx_rng_next(&rng);
    for (int dtype = MX_F16; dtype <= MX_BF16; dtype++)
        for (int mode = 0; mode < 2; mode++)
            check_gpu_quantize(patterns, (mx_dtype)dtype, rows, (mx_scale_mode)mode,
                               "all patterns");
    free(patterns);
}

/* Dequantize every code with every scale byte, to FP32 (bit-exact, NaN for 0xFF) and to FP16 /
 * BF16 (the FP32 value rounded to nearest even, checked with an independent rounding). */
Test(gpu_codec, dequantize_matches_cpu_for_every_dtype) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int64_t rows = 512, count = rows * COLS;
    uint8_t *blocks = malloc((size_t)count / 2), *scales = malloc((size_t)count / 32);
    float *expected = malloc((size_t)count * sizeof(float));
    void *got = malloc((size_t)count * sizeof(float));
    cr_assert(blocks && scales && expected && got);
    for (int64_t i = 0; i < count / 2; i++) blocks[i] = (uint8_t)mx_rng_next(&rng);
    for (int64_t i = 0; i < count / 32; i++)
        scales[i] = (uint8_t)(i < 256 ? (uint64_t)i : mx_rng_next(&rng));
    MX_CR_OK(mx_ref_dequantize(blocks, scales, rows, COLS, expected));

    uint8_t *d_blocks, *d_scales;
    void *d_out;
    MX_CR_CUDA(cudaMalloc((void **)&d_blocks, (size_t)count / 2));
    MX_CR_CUDA(cudaMalloc((void **)&d_scales, (size_t)count / 32));
    MX_CR_CUDA(cudaMalloc(&d_out, (size_t)count * sizeof(float)));
    MX_CR_CUDA(cudaMemcpy(d_blocks, blocks, (size_t)count / 2, cudaMemcpyHostToDevice));
    MX_CR_CUDA(cudaMemcpy(d_scales, scales, (size_t)count / 32, cudaMemcpyHostToDevice));
    for (int dtype = MX_F32; dtype <= MX_BF16; dtype++) {
        size_t out_bytes = (size_t)count * (size_t)mx_dtype_bytes((mx_dtype)dtype);
        MX_CR_CUDA(cudaMemset(d_out, 0x7F, (size_t)count * sizeof(float)));
        MX_CR_OK(mx_dequantize(d_blocks, d_scales, rows, COLS, (mx_dtype)dtype, d_out, 0));
        MX_CR_CUDA(cudaMemcpy(got, d_out, out_bytes, cudaMemcpyDeviceToHost));
        for (int64_t i = 0; i < count; i++) {
            float want = expected[i];
            if (dtype == MX_F32) {
                float value = ((float *)got)[i];
                cr_assert(isnan(want) ? isnan(value) : memcmp(&value, &want, 4) == 0,
                          "f32 element %lld (scale 0x%02x): GPU %a, CPU %a", (long long)i,
                          scales[i / 32], (double)value, (double)want);
            } else {
                uint16_t value = ((uint16_t *)got)[i];
                uint16_t rounded =
                    dtype == MX_F16 ? mx_test_f32_to_f16_rne(want) : mx_test_f32_to_bf16_rne(want);
                double as_double =
                    dtype == MX_F16 ? mx_test_f16_to_double(value) : mx_test_bf16_to_double(value);
                cr_assert(isnan(want) ? isnan(as_double) : value == rounded,
                          "%s element %lld (scale 0x%02x, exact %a): GPU 0x%04x, expected 0x%04x",
                          dtype == MX_F16 ? "f16" : "bf16", (long long)i, scales[i / 32],
                          (double)want, value, rounded);
            }
        }
    }
    cudaFree(d_blocks);
    cudaFree(d_scales);
    cudaFree(d_out);
    free(blocks);
    free(scales);
    free(expected);
    free(got);
}

/* Bad arguments are refused with a message, before anything is launched. */
Test(gpu_codec, bad_arguments_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    void *src;
    uint8_t *blocks, *scales;
    MX_CR_CUDA(cudaMalloc(&src, 4096));
    MX_CR_CUDA(cudaMalloc((void **)&blocks, 4096));
    MX_CR_CUDA(cudaMalloc((void **)&scales, 4096));
    cr_assert_eq(mx_quantize(src, MX_F32, 2, 48, MX_SCALE_FLOOR, blocks, scales, 0),
                 MX_ERR_UNSUPPORTED_SHAPE);
    cr_assert(strstr(mx_last_error(), "48"), "message: %s", mx_last_error());
    cr_assert_eq(mx_quantize(src, MX_F32, 0, 32, MX_SCALE_FLOOR, blocks, scales, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_quantize(src, (mx_dtype)7, 1, 32, MX_SCALE_FLOOR, blocks, scales, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_quantize(src, MX_F32, 1, 32, (mx_scale_mode)3, blocks, scales, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_quantize(NULL, MX_F32, 1, 32, MX_SCALE_FLOOR, blocks, scales, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_quantize((char *)src + 2, MX_F32, 1, 32, MX_SCALE_FLOOR, blocks, scales, 0),
                 MX_ERR_MISALIGNED);
    cr_assert_eq(mx_dequantize(blocks + 4, scales, 1, 32, MX_F32, src, 0), MX_ERR_MISALIGNED);
    cr_assert_eq(mx_dequantize(blocks, scales, 1, 32, MX_F16, (char *)src + 8, 0),
                 MX_ERR_MISALIGNED);
    cr_assert(strstr(mx_last_error(), "16-byte"), "message: %s", mx_last_error());
    MX_CR_CUDA(cudaGetLastError()); /* nothing was launched, nothing failed */
    cudaFree(src);
    cudaFree(blocks);
    cudaFree(scales);
}
