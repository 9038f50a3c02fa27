/* Programmatic dependent launch (Hopper): a kernel launched with the attribute below may be
 * scheduled while the kernel before it in the stream still runs, once every CTA of that one has
 * begun; it must wait for it (griddepcontrol.wait: that kernel complete, its writes visible, and
 * so, kernel by kernel, everything before it) before touching memory. The kernels of a chain
 * begin with mx_dependent_begin(), so that launching them as dependents hides each launch and
 * ramp behind the tail of the kernel before. Internal to the library. */
#ifndef MX_DEPENDENT_LAUNCH_CUH
#define MX_DEPENDENT_LAUNCH_CUH

#include <cuda_runtime.h>

/* Lets the next dependent kernel be scheduled, then waits for the kernel before this one. Both
 * are no-ops in a kernel launched without the attribute, and below sm_90 (the attribute is only
 * given on the Hopper path, arch.h). */
static __device__ __forceinline__ void mx_dependent_begin() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/* The launch attribute that makes a kernel a programmatic dependent of the one before it. */
static inline cudaLaunchAttribute mx_dependent_attribute() {
    cudaLaunchAttribute attribute = {};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    return attribute;
}

/* kernel<<<grid, threads, 0, stream>>>(args...), as a dependent when dependent is true (only for
 * kernels that begin with mx_dependent_begin). */
template <typename... Params, typename... Args>
static cudaError_t mx_launch(void (*kernel)(Params...), int grid, int threads, cudaStream_t stream,
                             bool dependent, Args... args) {
    cudaLaunchAttribute attribute = mx_dependent_attribute();
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3((unsigned)grid);
    config.blockDim = dim3((unsigned)threads);
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = dependent ? 1 : 0;
    return cudaLaunchKernelEx(&config, kernel, args...);
}

#endif
