/* Which GPUs the kernels run on and which code path each takes (docs/gemm.md, "GPUs").
 *
 * The library is built for several architectures at once (CMake's MX_CUDA_ARCHS: by default
 * sm_80, 86, 89, 90a, 100, 120 and PTX for compute_120). At run time every context asks
 * mx_device_query once and takes one of two paths:
 *   hopper    compute capability 9.0 (H100, H200, GH200): thread-block clusters split K and
 *             reduce it in distributed shared memory; rings up to the 227 KB a block can use.
 *   portable  every other supported GPU (Ampere, Ada, Blackwell), and Hopper when the
 *             environment says MX_CODE_PATH=portable: the same mma.sync kernels without
 *             clusters, shapes that fit 99 KB of shared memory per block (the smallest of
 *             sm_80+: 8.6, 8.9, 12.x), so that the path tested on one GPU is the path every
 *             other GPU runs.
 * GPUs older than sm_80 (no BF16 mma.sync, no cp.async) are refused, naming their compute
 * capability; so is a GPU this build carries no code for. */
#ifndef MX_ARCH_H
#define MX_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MX_PATH_PORTABLE = 0, MX_PATH_HOPPER, MX_PATH_COUNT } mx_code_path;
/* Their names, in that order (mx_code_path_name), as an initializer list. */
#define MX_CODE_PATH_NAMES "portable", "hopper"

/* The shared memory a block of the portable path may use (the opt-in limit of sm_86/89/120). */
enum { MX_PORTABLE_SMEM_BYTES = 99 * 1024 };

typedef struct {
    int device;       /* CUDA ordinal */
    char name[256];   /* as CUDA gives it (cudaDeviceProp.name): "NVIDIA H200" */
    int major, minor; /* compute capability */
    int sm_count;
    size_t smem_block_bytes; /* shared memory one block may use on this path */
    mx_code_path path;
    char why[96]; /* why this path: "compute capability 9.0", "MX_CODE_PATH=portable"... */
} mx_device_info;

/* Asks the device (CUDA ordinal) once: compute capability, SMs, shared memory, and the path
 * (above). MX_ERR_NO_DEVICE naming the GPU and its compute capability when it is older than
 * sm_80 or this build has no code for it; MX_ERR_INVALID_ARGUMENT naming the value when
 * MX_CODE_PATH is set to something other than "native" or "portable". */
mx_status mx_device_query(int device, mx_device_info *info);

/* "hopper", "portable". */
const char *mx_code_path_name(mx_code_path path);

/* The architectures this library was built for, as given to CMake: "80-real 86-real ...". */
const char *mx_built_archs(void);

#ifdef __cplusplus
}
#endif

#endif
