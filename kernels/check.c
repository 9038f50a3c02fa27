/* Turns CUDA errors into mx_status values with a message that names the failing call. */
#include "check.h"

#include <stdint.h>

#include "format.h"

mx_status mx_cuda_fail(cudaError_t error, const char *call, const char *file, int line) {
    mx_status status = MX_ERR_CUDA;
    if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver)
        status = MX_ERR_NO_DEVICE;
    else if (error == cudaErrorMemoryAllocation)
        status = MX_ERR_OUT_OF_MEMORY;
    return mx_fail(status, "%s failed at %s:%d: %s (%s)", call, file, line,
                   cudaGetErrorString(error), cudaGetErrorName(error));
}

mx_status mx_check_pointer(const void *pointer, unsigned alignment, const char *what) {
    if (!pointer) return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s is NULL", what);
    if ((uintptr_t)pointer % alignment != 0)
        return mx_fail(MX_ERR_MISALIGNED, "%s = %p is not %u-byte aligned", what, pointer,
                       alignment);
    return MX_OK;
}

mx_status mx_check_dtype(int dtype, const char *what) {
    if (dtype == MX_F32 || dtype == MX_F16 || dtype == MX_BF16) return MX_OK;
    return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s = %d: expected MX_F32, MX_F16 or MX_BF16", what,
                   dtype);
}

mx_status mx_check_bytes_out(size_t *bytes) {
    if (!bytes) return mx_fail(MX_ERR_INVALID_ARGUMENT, "bytes is NULL");
    *bytes = 0;
    return MX_OK;
}
