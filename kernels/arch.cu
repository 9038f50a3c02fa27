/* Device support and code path (arch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "check.h"

/* Carries no work: whether the runtime finds an image of it says whether this build has code
 * for the device. */
__global__ void mx_probe_kernel() {}

extern "C" const char *mx_code_path_name(mx_code_path path) {
    static const char *const names[MX_PATH_COUNT] = {MX_CODE_PATH_NAMES};
    return (unsigned)path < MX_PATH_COUNT ? names[path] : "unknown";
}

extern "C" const char *mx_built_archs(void) {
    return MX_BUILT_ARCHS;
}

/* MX_CODE_PATH: unset, empty or "native" lets the GPU decide; "portable" forces that path. */
static mx_status mx_forced_portable(bool *forced) {
    const char *value = getenv("MX_CODE_PATH");
    *forced = value && strcmp(value, "portable") == 0;
    if (!value || !value[0] || *forced || strcmp(value, "native") == 0) return MX_OK;
    return mx_fail(MX_ERR_INVALID_ARGUMENT,
                   "MX_CODE_PATH = '%s': expected native (the GPU's own path, the default) or "
                   "portable (the path of Ampere, Ada and Blackwell)",
                   value);
}

extern "C" mx_status mx_device_query(int device, mx_device_info *info) {
    if (!info) return mx_fail(MX_ERR_INVALID_ARGUMENT, "info is NULL");
    memset(info, 0, sizeof *info);
    bool forced = false;
    MX_TRY(mx_forced_portable(&forced));
    cudaDeviceProp props;
    MX_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
    if (props.major < 8)
        return mx_fail(MX_ERR_NO_DEVICE,
                       "CUDA device %d (%s) has compute capability %d.%d: mxbench needs 8.0 or "
                       "newer (Ampere, Ada, Hopper, Blackwell)",
                       device, props.name, props.major, props.minor);
    cudaFuncAttributes attributes;
    cudaError_t error = cudaFuncGetAttributes(&attributes, mx_probe_kernel);
    if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorInvalidDeviceFunction) {
        cudaGetLastError();
        return mx_fail(MX_ERR_NO_DEVICE,
                       "this build has no code for CUDA device %d (%s, compute capability %d.%d): "
                       "it was built for %s; rebuild with the default architectures or "
                       "make MX_CUDA_ARCHS=native",
                       device, props.name, props.major, props.minor, MX_BUILT_ARCHS);
    }
    MX_CUDA_CHECK(error);
    info->device = device;
    snprintf(info->name, sizeof info->name, "%s", props.name);
    info->major = props.major;
    info->minor = props.minor;
    info->sm_count = props.multiProcessorCount;
    info->path = props.major == 9 && !forced ? MX_PATH_HOPPER : MX_PATH_PORTABLE;
    size_t optin = props.sharedMemPerBlockOptin;
    info->smem_block_bytes = info->path == MX_PATH_HOPPER || optin < MX_PORTABLE_SMEM_BYTES
                                 ? optin
                                 : (size_t)MX_PORTABLE_SMEM_BYTES;
    if (forced)
        snprintf(info->why, sizeof info->why, "MX_CODE_PATH=portable");
    else
        snprintf(info->why, sizeof info->why, "compute capability %d.%d", props.major, props.minor);
    return MX_OK;
}
