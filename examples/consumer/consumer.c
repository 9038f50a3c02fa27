/* What an inference engine does with an installed mxbench: include <mxbench/mx.h>, link the
 * library (CMake: find_package(mxbench) + mxbench::mx; or pkg-config mxbench), quantize a weight
 * matrix on the GPU, prepare it once, multiply with the variant auto picks, and check the
 * product against the dequantized weights on the CPU (FP64). Built and run by the `install`
 * test against a freshly installed tree. Without a usable GPU it says so and exits 0: there the
 * test proves that the installed headers compile and the library links. */
#include <mxbench/mx.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#define CHECK(call)                                                                                \
    do {                                                                                           \
        mx_status check_status_ = (call);                                                          \
        if (check_status_ != MX_OK) {                                                              \
            fprintf(stderr, "consumer: %s: %s: %s\n", #call, mx_status_string(check_status_),      \
                    mx_last_error());                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define CUDA(call)                                                                                 \
    do {                                                                                           \
        cudaError_t cuda_error_ = (call);                                                          \
        if (cuda_error_ != cudaSuccess) {                                                          \
            fprintf(stderr, "consumer: %s: %s\n", #call, cudaGetErrorString(cuda_error_));         \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { M = 3, N = 48, K = 96 };

/* BF16 <-> float; the activations are multiples of 1/8 in [-2, 2]: exact in BF16. */
static uint16_t to_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (uint16_t)(bits >> 16);
}

static float from_bf16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

int main(void) {
    mx_device_info device;
    mx_status status = mx_device_query(0, &device);
    if (status == MX_ERR_NO_DEVICE) {
        printf("consumer: linked against mxbench; GPU part skipped: %s\n", mx_last_error());
        return 0;
    }
    CHECK(status);

    static float w[N * K], w_exact[N * K];
    static uint16_t x[M * K], y[M * N];
    unsigned state = 12345u;
    for (int i = 0; i < N * K; i++) {
        state = state * 1664525u + 1013904223u;
        w[i] = ((float)(state >> 8) / 16777216.0f - 0.5f) * 4.0f;
    }
    for (int i = 0; i < M * K; i++) x[i] = to_bf16((float)(i % 33 - 16) / 8.0f);

    float *w_d, *w_exact_d;
    uint8_t *blocks_d, *scales_d, *prepared_d;
    uint16_t *x_d, *y_d;
    size_t prepared_bytes = mx_weights_bytes(N, K, 1);
    CUDA(cudaMalloc((void **)&w_d, sizeof w));
    CUDA(cudaMalloc((void **)&w_exact_d, sizeof w_exact));
    CUDA(cudaMalloc((void **)&blocks_d, N * K / 2));
    CUDA(cudaMalloc((void **)&scales_d, N * K / MX_BLOCK_SIZE));
    CUDA(cudaMalloc((void **)&prepared_d, prepared_bytes));
    CUDA(cudaMalloc((void **)&x_d, sizeof x));
    CUDA(cudaMalloc((void **)&y_d, sizeof y));
    CUDA(cudaMemcpy(w_d, w, sizeof w, cudaMemcpyHostToDevice));
    CUDA(cudaMemcpy(x_d, x, sizeof x, cudaMemcpyHostToDevice));
    CUDA(cudaMemset(y_d, 0xFF, sizeof y)); /* NaN: a row left unwritten cannot pass */

    CHECK(mx_quantize(w_d, MX_F32, N, K, MX_SCALE_FLOOR, blocks_d, scales_d, 0));
    CHECK(mx_dequantize(blocks_d, scales_d, N, K, MX_F32, w_exact_d, 0));
    mx_weights weights;
    CHECK(mx_weights_prepare(blocks_d, scales_d, N, K, 1, prepared_d, prepared_bytes, &weights, 0));

    mx_gemm_context *context;
    CHECK(mx_gemm_context_create(&context));
    mx_gemm_problem problem = {
        .m = M, .n = N, .k = K, .batch = 1, .dtype = MX_BF16, .x = x_d, .w = weights, .y = y_d};
    size_t workspace_bytes = 0;
    CHECK(mx_gemm_workspace_bytes(context, &problem, MX_GEMM_AUTO, &workspace_bytes));
    void *workspace = NULL;
    if (workspace_bytes) CUDA(cudaMalloc(&workspace, workspace_bytes));
    CHECK(mx_gemm(context, &problem, MX_GEMM_AUTO, workspace, workspace_bytes, 0));
    CUDA(cudaDeviceSynchronize());
    CUDA(cudaMemcpy(y, y_d, sizeof y, cudaMemcpyDeviceToHost));
    CUDA(cudaMemcpy(w_exact, w_exact_d, sizeof w_exact, cudaMemcpyDeviceToHost));

    /* The product is FP32-accumulated and rounded once to BF16 (8 bits): within 2^-7 of the
     * largest |y|, the CPU's FP64 product of the same exact operands. */
    double worst = 0.0, largest = 0.0;
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) {
            double expected = 0.0;
            for (int i = 0; i < K; i++)
                expected += (double)from_bf16(x[r * K + i]) * (double)w_exact[c * K + i];
            double error = fabs((double)from_bf16(y[r * N + c]) - expected);
            largest = fmax(largest, fabs(expected));
            if (!(error <= worst)) worst = error; /* NaN sticks */
        }
    printf("consumer: %s on %s path (sm_%d%d): max |y - FP64| = %.3g of max |y| %.3g\n",
           mx_gemm_variant_name(mx_gemm_choose(context, &problem)), mx_code_path_name(device.path),
           device.major, device.minor, worst, largest);
    mx_gemm_context_destroy(context);
    cudaFree(workspace);
    cudaFree(w_d);
    cudaFree(w_exact_d);
    cudaFree(blocks_d);
    cudaFree(scales_d);
    cudaFree(prepared_d);
    cudaFree(x_d);
    cudaFree(y_d);
    if (!(largest > 0.0) || !(worst <= largest / 128.0)) {
        fprintf(stderr, "consumer: the product is wrong\n");
        return 1;
    }
    return 0;
}
