/* What the grid-stride kernels that write dense FP32/FP16/BF16 arrays share: the grid size, the
 * rounding of an FP32 value to the output dtype, and the choice of the typed launch by dtype. */
#ifndef MX_ELEMENTWISE_CUH
#define MX_ELEMENTWISE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "format.h"
#include "status.h"

/* Blocks of threads_per_block for work_items, at most 65536 (the loops stride over the rest). */
static inline int mx_grid_size(int64_t work_items, int threads_per_block) {
    const int64_t max_blocks = 65536;
    int64_t blocks = (work_items + threads_per_block - 1) / threads_per_block;
    return (int)(blocks < max_blocks ? blocks : max_blocks);
}

template <typename T> __device__ __forceinline__ T mx_from_f32(float value);
template <> __device__ __forceinline__ float mx_from_f32<float>(float value) {
    return value;
}
template <> __device__ __forceinline__ __half mx_from_f32<__half>(float value) {
    return __float2half_rn(value);
}
template <> __device__ __forceinline__ __nv_bfloat16 mx_from_f32<__nv_bfloat16>(float value) {
    return __float2bfloat16_rn(value);
}

/* launch(T *dst) with T the element type of dst_dtype (MX_F16, MX_BF16, else MX_F32). */
template <typename Launch>
static mx_status mx_launch_for_dtype(mx_dtype dst_dtype, void *dst, Launch launch) {
    switch (dst_dtype) {
    case MX_F16:
        return launch((__half *)dst);
    case MX_BF16:
        return launch((__nv_bfloat16 *)dst);
    default:
        return launch((float *)dst);
    }
}

#endif
