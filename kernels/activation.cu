/* The separate elementwise epilogue (activation.h): one thread per output element, FP32 math from
 * activation.cuh. Memory bound; used by the FP16 reference paths and the unfused variants. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "activation.cuh"
#include "check.h"

// ---- kernels

template <typename T>
static __global__ void mx_activation_kernel(int64_t m, int64_t n, mx_activation activation,
                                            const T *x, const T *bias, const T *residual, T *y) {
    const bool gated = mx_act_gated(activation);
    const int64_t width = gated ? n / 2 : n, count = m * width;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / width, column = i % width;
        float value;
        if (gated) {
            int64_t gate_column = 2 * column;
            float gate = (float)x[row * n + gate_column],
                  linear = (float)x[row * n + gate_column + 1];
            if (bias) {
                gate += (float)bias[gate_column];
                linear += (float)bias[gate_column + 1];
            }
            value = mx_glu(activation, gate, linear);
        } else {
            value = mx_act(activation, (float)x[i] + (bias ? (float)bias[column] : 0.0f));
        }
        if (residual) value += (float)residual[i];
        y[i] = (T)value;
    }
}

// ---- launchers

template <typename T>
static mx_status mx_activation_launch(int64_t m, int64_t n, mx_activation activation, const void *x,
                                      const void *bias, const void *residual, void *y,
                                      cudaStream_t stream) {
    const int threads = 256;
    int64_t blocks = (m * mx_activation_out_width(activation, n) + threads - 1) / threads;
    mx_activation_kernel<T><<<(int)(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
        m, n, activation, (const T *)x, (const T *)bias, (const T *)residual, (T *)y);
    MX_LAUNCH_CHECK("mx_activation_kernel");
    return MX_OK;
}

extern "C" mx_status mx_activation_apply(int64_t m, int64_t n, mx_dtype dtype,
                                         mx_activation activation, const void *x, const void *bias,
                                         const void *residual, void *y, cudaStream_t stream) {
    if ((unsigned)activation >= MX_ACT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "activation = %d: not an mx_activation",
                       (int)activation);
    if (m <= 0 || n <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "m = %lld, n = %lld: expected both > 0",
                       (long long)m, (long long)n);
    if (mx_act_gated(activation) && n % 2 != 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "n = %lld: %s reads interleaved (gate, linear) pairs, n must be even",
                       (long long)n, mx_activation_name(activation));
    if (dtype != MX_F16 && dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)dtype);
    MX_TRY(mx_check_pointer(x, 2, "x"));
    MX_TRY(mx_check_pointer(y, 2, "y"));
    if (bias) MX_TRY(mx_check_pointer(bias, 2, "bias"));
    if (residual) MX_TRY(mx_check_pointer(residual, 2, "residual"));
    if (mx_act_gated(activation) && x == y)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "x = y = %p with %s: a gated unit writes n/2 columns while others still "
                       "read x; give y a buffer of its own",
                       y, mx_activation_name(activation));
    return dtype == MX_F16
               ? mx_activation_launch<__half>(m, n, activation, x, bias, residual, y, stream)
               : mx_activation_launch<__nv_bfloat16>(m, n, activation, x, bias, residual, y,
                                                     stream);
}
