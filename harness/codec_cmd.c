/* `mxbench quantize` and `mxbench dequantize`: raw files in and out, on the CPU reference codec
 * or the GPU kernels (bit-identical). Every argument is checked before any work, and outputs
 * appear only when complete. */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mx.h"
#include "codec.h"
#include "cli.h"
#include "codec_cmd.h"
#include "device.h"
#include "files.h"
#include "io.h"

static const char *const dtype_names[] = {MX_DTYPE_NAMES, NULL};
static const char *const scale_mode_names[] = {"floor", "rceil", NULL};
static const char *const device_names[] = {"cpu", "gpu", NULL};
enum { DEVICE_CPU, DEVICE_GPU };

/* The shape options shared by both commands, checked as a pair (K % 32, overflow). */
static bool parse_shape(const mx_parsed_options *parsed, int64_t *rows, int64_t *cols) {
    if (!mx_option_int64(parsed, "rows", 1, INT64_MAX, rows) ||
        !mx_option_int64(parsed, "cols", 1, INT64_MAX, cols))
        return false;
    if (mx_check_shape(*rows, *cols) != MX_OK) {
        mx_cli_error("--rows %lld --cols %lld: %s", (long long)*rows, (long long)*cols,
                     mx_last_error());
        return false;
    }
    return true;
}

static int parse_device(const mx_parsed_options *parsed) {
    int device = mx_option_choice(parsed, "device", device_names);
    if (device == DEVICE_GPU && !mx_cli_open_device(0, "--device cpu runs the reference codec"))
        return -2;
    return device;
}

/* Device buffers of one GPU codec call, released together. */
typedef struct {
    void *dense;
    uint8_t *blocks;
    uint8_t *scales;
} gpu_buffers;

static void gpu_buffers_free(gpu_buffers *buffers) {
    cudaFree(buffers->dense);
    cudaFree(buffers->blocks);
    cudaFree(buffers->scales);
}

static mx_status gpu_buffers_alloc(gpu_buffers *buffers, size_t dense_bytes, size_t block_bytes,
                                   size_t scale_bytes) {
    MX_CUDA_CHECK(cudaMalloc(&buffers->dense, dense_bytes));
    MX_CUDA_CHECK(cudaMalloc((void **)&buffers->blocks, block_bytes));
    MX_CUDA_CHECK(cudaMalloc((void **)&buffers->scales, scale_bytes));
    return MX_OK;
}

static mx_status gpu_quantize(const void *src, mx_dtype dtype, int64_t rows, int64_t cols,
                              mx_scale_mode mode, uint8_t *blocks, uint8_t *scales,
                              gpu_buffers *gpu) {
    size_t dense_bytes = (size_t)(rows * cols * mx_dtype_bytes(dtype));
    size_t block_bytes = (size_t)(rows * cols / 2), scale_bytes = (size_t)(rows * cols / 32);
    MX_TRY(gpu_buffers_alloc(gpu, dense_bytes, block_bytes, scale_bytes));
    MX_CUDA_CHECK(cudaMemcpy(gpu->dense, src, dense_bytes, cudaMemcpyHostToDevice));
    MX_TRY(mx_quantize(gpu->dense, dtype, rows, cols, mode, gpu->blocks, gpu->scales, 0));
    MX_CUDA_CHECK(cudaMemcpy(blocks, gpu->blocks, block_bytes, cudaMemcpyDeviceToHost));
    MX_CUDA_CHECK(cudaMemcpy(scales, gpu->scales, scale_bytes, cudaMemcpyDeviceToHost));
    return MX_OK;
}

static mx_status gpu_dequantize(const uint8_t *blocks, const uint8_t *scales, int64_t rows,
                                int64_t cols, float *dst, gpu_buffers *gpu) {
    size_t dense_bytes = (size_t)(rows * cols) * sizeof(float);
    size_t block_bytes = (size_t)(rows * cols / 2), scale_bytes = (size_t)(rows * cols / 32);
    MX_TRY(gpu_buffers_alloc(gpu, dense_bytes, block_bytes, scale_bytes));
    MX_CUDA_CHECK(cudaMemcpy(gpu->blocks, blocks, block_bytes, cudaMemcpyHostToDevice));
    MX_CUDA_CHECK(cudaMemcpy(gpu->scales, scales, scale_bytes, cudaMemcpyHostToDevice));
    MX_TRY(mx_dequantize(gpu->blocks, gpu->scales, rows, cols, MX_F32, gpu->dense, 0));
    MX_CUDA_CHECK(cudaMemcpy(dst, gpu->dense, dense_bytes, cudaMemcpyDeviceToHost));
    return MX_OK;
}

/* Writes each (path, data, bytes) output through a temporary file; renames them all only once
 * every one is fully written, all or nothing (io.h). */
static bool write_outputs(int count, const char *const paths[], const void *const data[],
                          const size_t bytes[]) {
    mx_output_file outputs[2];
    int opened = 0;
    bool ok = true;
    for (; opened < count && ok; opened++) ok = mx_output_open(&outputs[opened], paths[opened]);
    if (!ok) opened--; /* the one that failed cleaned up after itself */
    for (int i = 0; i < opened && ok; i++) ok = mx_output_write(&outputs[i], data[i], bytes[i]);
    ok = ok && mx_outputs_commit(outputs, opened);
    for (int i = 0; i < opened; i++) mx_output_discard(&outputs[i]);
    return ok;
}

/* No output may be another output or an input: writing it would lose data (the blocks under the
 * scales, the input under an output). names[i] is the flag of paths[i]; the outputs come first. */
static bool distinct_paths(const char *const *names, const char *const *paths, int outputs,
                           int count) {
    for (int i = 0; i < outputs; i++)
        for (int j = i + 1; j < count; j++)
            if (mx_same_file(paths[i], paths[j])) {
                mx_cli_error("--%s and --%s name the same file '%s': %s", names[i], names[j],
                             paths[i],
                             j < outputs ? "one output would overwrite the other"
                                         : "the output would overwrite the input it reads");
                return false;
            }
    return true;
}

static int run_quantize(const mx_parsed_options *parsed) {
    int64_t rows, cols;
    if (!parse_shape(parsed, &rows, &cols)) return MX_EXIT_INPUT;
    int dtype = mx_option_choice(parsed, "dtype", dtype_names);
    int mode = mx_option_choice(parsed, "scale-mode", scale_mode_names);
    if (dtype < 0 || mode < 0) return MX_EXIT_INPUT;
    int device = parse_device(parsed);
    if (device < 0) return device == -2 ? MX_EXIT_NO_DEVICE : MX_EXIT_INPUT;
    const char *const names[] = {"out-blocks", "out-scales", "in"};
    const char *const files[] = {mx_option_value(parsed, "out-blocks"),
                                 mx_option_value(parsed, "out-scales"),
                                 mx_option_value(parsed, "in")};
    if (!distinct_paths(names, files, 2, 3)) return MX_EXIT_INPUT;

    char what[160];
    snprintf(what, sizeof what, "--rows %lld x --cols %lld of %s", (long long)rows, (long long)cols,
             dtype_names[dtype]);
    void *src = NULL;
    if (!mx_read_file_exact(mx_option_value(parsed, "in"), rows * cols * mx_dtype_bytes(dtype),
                            what, &src))
        return MX_EXIT_INPUT;
    size_t bytes[2] = {(size_t)(rows * cols / 2), (size_t)(rows * cols / 32)};
    uint8_t *blocks = malloc(bytes[0]), *scales = malloc(bytes[1]);
    int exit_code = MX_EXIT_FAILED;
    gpu_buffers gpu = {0};
    if (!blocks || !scales) {
        mx_cli_error("out of host memory for %zu output bytes", bytes[0] + bytes[1]);
    } else {
        mx_status status = device == DEVICE_GPU
                               ? gpu_quantize(src, (mx_dtype)dtype, rows, cols, (mx_scale_mode)mode,
                                              blocks, scales, &gpu)
                               : mx_ref_quantize(src, (mx_dtype)dtype, rows, cols,
                                                 (mx_scale_mode)mode, blocks, scales);
        if (status != MX_OK) {
            mx_cli_error("quantize failed (%s): %s", mx_status_string(status), mx_last_error());
        } else {
            const char *paths[2] = {mx_option_value(parsed, "out-blocks"),
                                    mx_option_value(parsed, "out-scales")};
            const void *data[2] = {blocks, scales};
            if (write_outputs(2, paths, data, bytes)) exit_code = MX_EXIT_OK;
        }
    }
    gpu_buffers_free(&gpu);
    free(src);
    free(blocks);
    free(scales);
    return exit_code;
}

static int run_dequantize(const mx_parsed_options *parsed) {
    int64_t rows, cols;
    if (!parse_shape(parsed, &rows, &cols)) return MX_EXIT_INPUT;
    int device = parse_device(parsed);
    if (device < 0) return device == -2 ? MX_EXIT_NO_DEVICE : MX_EXIT_INPUT;
    const char *const names[] = {"out", "blocks", "scales"};
    const char *const files[] = {mx_option_value(parsed, "out"), mx_option_value(parsed, "blocks"),
                                 mx_option_value(parsed, "scales")};
    if (!distinct_paths(names, files, 1, 3)) return MX_EXIT_INPUT;

    char what[160];
    snprintf(what, sizeof what, "--rows %lld x --cols %lld", (long long)rows, (long long)cols);
    void *blocks = NULL, *scales = NULL;
    if (!mx_read_file_exact(mx_option_value(parsed, "blocks"), rows * cols / 2, what, &blocks) ||
        !mx_read_file_exact(mx_option_value(parsed, "scales"), rows * cols / 32, what, &scales)) {
        free(blocks);
        return MX_EXIT_INPUT;
    }
    size_t bytes = (size_t)(rows * cols) * sizeof(float);
    float *dst = malloc(bytes);
    int exit_code = MX_EXIT_FAILED;
    gpu_buffers gpu = {0};
    if (!dst) {
        mx_cli_error("out of host memory for %zu output bytes", bytes);
    } else {
        mx_status status = device == DEVICE_GPU
                               ? gpu_dequantize(blocks, scales, rows, cols, dst, &gpu)
                               : mx_ref_dequantize(blocks, scales, rows, cols, dst);
        if (status != MX_OK) {
            mx_cli_error("dequantize failed (%s): %s", mx_status_string(status), mx_last_error());
        } else {
            const char *paths[1] = {mx_option_value(parsed, "out")};
            const void *data[1] = {dst};
            if (write_outputs(1, paths, data, &bytes)) exit_code = MX_EXIT_OK;
        }
    }
    gpu_buffers_free(&gpu);
    free(blocks);
    free(scales);
    free(dst);
    return exit_code;
}

#define DEVICE_OPTION                                                                              \
    {                                                                                              \
        "device", "cpu|gpu", "cpu: the reference codec; gpu: the CUDA kernels (bit-identical)",    \
            "cpu", false                                                                           \
    }

static const mx_option quantize_options[] = {
    {"in", "FILE", "dense input matrix [rows, cols], raw little-endian --dtype values", NULL,
     false},
    {"dtype", "f32|f16|bf16", "element type of --in", NULL, false},
    {"rows", "N", "rows of W (output features)", NULL, false},
    {"cols", "K", "columns of W (input features, the reduction axis): a multiple of 32", NULL,
     false},
    {"scale-mode", "floor|rceil",
     "shared exponent: floor(log2 amax)-2 (OCP spec) or amax/6 rounded up (cuBLAS, triton)",
     "floor", false},
    {"out-blocks", "FILE", "packed E2M1 codes, rows x cols/2 bytes, element 2j in the low nibble",
     NULL, false},
    {"out-scales", "FILE", "E8M0 scale bytes, rows x cols/32", NULL, false},
    DEVICE_OPTION,
};

static const mx_option dequantize_options[] = {
    {"blocks", "FILE", "packed E2M1 codes, rows x cols/2 bytes", NULL, false},
    {"scales", "FILE", "E8M0 scale bytes, rows x cols/32", NULL, false},
    {"rows", "N", "rows of W", NULL, false},
    {"cols", "K", "columns of W: a multiple of 32", NULL, false},
    {"out", "FILE", "dense FP32 output [rows, cols], raw little-endian", NULL, false},
    DEVICE_OPTION,
};

const mx_command mx_quantize_command = {
    "quantize",
    "Quantize a dense FP32/FP16/BF16 matrix to MXFP4 (OCP MX v1.0).",
    "Each run of 32 values along a row shares one E8M0 scale; a block holding NaN or Inf gets\n"
    "scale 0xFF (NaN) and codes 0. Elements round to nearest, ties to even, saturating at 6.\n"
    "Outputs are written to temporary files and renamed only when complete.\n"
    "example: mxbench quantize --in w.f16 --dtype f16 --rows 4096 --cols 14336 \\\n"
    "           --out-blocks w.blocks --out-scales w.scales --device gpu",
    quantize_options,
    (int)(sizeof quantize_options / sizeof quantize_options[0]),
    run_quantize,
    0,
    0,
    NULL,
    NULL,
};

const mx_command mx_dequantize_command = {
    "dequantize",
    "Decode MXFP4 blocks and scales to a dense FP32 matrix.",
    "value = E2M1[code] * 2^(scale - 127) in FP32: exact, Inf where it overflows FP32, NaN for\n"
    "scale 0xFF. The output appears only when complete.",
    dequantize_options,
    (int)(sizeof dequantize_options / sizeof dequantize_options[0]),
    run_dequantize,
    0,
    0,
    NULL,
    NULL,
};
