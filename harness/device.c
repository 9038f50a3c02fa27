/* Device selection for the CLI: the one place that turns "no GPU" into a clear message. */
#include "device.h"

#include <cuda_runtime_api.h>

#include "arch.h"
#include "cli.h"

bool mx_cli_open_device(int ordinal, const char *alternative) {
    int count = 0;
    cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess || count == 0) {
        mx_cli_error("no usable CUDA device: cudaGetDeviceCount says %s (%s). This needs an "
                     "NVIDIA GPU with its driver%s%s",
                     error == cudaSuccess ? "0 devices" : cudaGetErrorString(error),
                     cudaGetErrorName(error), alternative ? "; " : "",
                     alternative ? alternative : "");
        return false;
    }
    if (ordinal < 0 || ordinal >= count) {
        mx_cli_error("CUDA device %d does not exist: this machine has %d (0..%d)", ordinal, count,
                     count - 1);
        return false;
    }
    error = cudaSetDevice(ordinal);
    if (error == cudaSuccess) error = cudaFree(NULL); /* creates the context now */
    if (error != cudaSuccess) {
        mx_cli_error("cannot use CUDA device %d: %s", ordinal, cudaGetErrorString(error));
        return false;
    }
    mx_device_info gpu; /* a GPU older than sm_80, or one this build has no code for */
    if (mx_device_query(ordinal, &gpu) != MX_OK) {
        mx_cli_error("%s", mx_last_error());
        return false;
    }
    return true;
}
