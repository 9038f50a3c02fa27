/* Internal to the library. The single check-macro family: a failing CUDA or cuBLAS call becomes an
 * mx_status with a message naming the call, the file and the line. Used inside functions that
 * return mx_status. */
#ifndef MX_CHECK_H
#define MX_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "fail.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Maps a CUDA error to a status (no device, out of memory, or CUDA error) and records
 * "<call> failed at <file>:<line>: <CUDA's message>". */
mx_status mx_cuda_fail(cudaError_t error, const char *call, const char *file, int line);

/* NULL -> MX_ERR_INVALID_ARGUMENT, not a multiple of alignment -> MX_ERR_MISALIGNED; the
 * message names the argument (what) and its value. */
mx_status mx_check_pointer(const void *pointer, unsigned alignment, const char *what);

/* Records a cuBLAS failure ("<call> failed at file:line: <cuBLAS's message>"). */
mx_status mx_cublas_fail(cublasStatus_t status, const char *call, const char *file, int line);

/* A dense dtype argument must be MX_F32, MX_F16 or MX_BF16. */
mx_status mx_check_dtype(int dtype, const char *what);

/* The out argument of a workspace query (gemm.h's convention): NULL is refused, else set to 0
 * until the query succeeds. */
mx_status mx_check_bytes_out(size_t *bytes);

#ifdef __cplusplus
}
#endif

#define MX_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        cudaError_t mx_check_error_ = (call);                                                      \
        if (mx_check_error_ != cudaSuccess)                                                        \
            return mx_cuda_fail(mx_check_error_, #call, __FILE__, __LINE__);                       \
    } while (0)

#define MX_CUBLAS_CHECK(call)                                                                      \
    do {                                                                                           \
        cublasStatus_t mx_cublas_status_ = (call);                                                 \
        if (mx_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                            \
            return mx_cublas_fail(mx_cublas_status_, #call, __FILE__, __LINE__);                   \
    } while (0)

/* After every kernel launch: a launch error (bad configuration, no device) surfaces here, named
 * after the kernel. */
#define MX_LAUNCH_CHECK(kernel_name)                                                               \
    do {                                                                                           \
        cudaError_t mx_check_error_ = cudaGetLastError();                                          \
        if (mx_check_error_ != cudaSuccess)                                                        \
            return mx_cuda_fail(mx_check_error_, "launch of " kernel_name, __FILE__, __LINE__);    \
    } while (0)

#endif
