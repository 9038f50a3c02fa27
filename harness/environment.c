/* The run's environment and ceilings (environment.h). */
#include "environment.h"

#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mx.h"
#include "bench_gpu.h"
#include "fp16.h"
#include "mx_version.h"

typedef struct {
    void *source, *target;
    size_t bytes;
} copy_job;

static bool run_copy(void *context, cudaStream_t stream, char *why, size_t why_size) {
    copy_job *job = context;
    return mx_cuda_step(
        cudaMemcpyAsync(job->target, job->source, job->bytes, cudaMemcpyDeviceToDevice, stream),
        why, why_size, "device-to-device copy");
}

typedef struct {
    mx_gemm_context *context;
    void *a, *c;
    int64_t size;
} square_gemm;

static bool run_square(void *context, cudaStream_t stream, char *why, size_t why_size) {
    square_gemm *g = context;
    if (mx_gemm_fp16(g->context, g->size, g->size, g->size, 1, MX_F16, g->a, g->a, NULL, g->c,
                     stream) == MX_OK)
        return true;
    snprintf(why, why_size, "cuBLAS FP16 %lld^3: %s", (long long)g->size, mx_last_error());
    return false;
}

/* Random FP16 values in the first 8192^2 elements (the GEMM's operand), repeated over the rest:
 * constant data flatters the tensor cores' power draw by ~12 % (893 vs ~790 TFLOP/s). */
static bool fill_random(void *buffer, size_t bytes, char *why, size_t why_size) {
    const size_t block = (size_t)8192 * 8192, block_bytes = block * 2;
    float *scratch = NULL;
    bool ok = mx_cuda_step(cudaMalloc((void **)&scratch, block * sizeof *scratch), why, why_size,
                           "ceiling scratch");
    if (ok &&
        (mx_bench_fill_activations(scratch, (int64_t)block, MX_DIST_GAUSSIAN, 1, 0) != MX_OK ||
         mx_bench_narrow(scratch, (int64_t)block, MX_F16, buffer, 0) != MX_OK)) {
        snprintf(why, why_size, "random ceiling data: %s", mx_last_error());
        ok = false;
    }
    for (size_t at = block_bytes; ok && at < bytes; at += block_bytes)
        ok = mx_cuda_step(cudaMemcpy((char *)buffer + at, buffer,
                                     bytes - at < block_bytes ? bytes - at : block_bytes,
                                     cudaMemcpyDeviceToDevice),
                          why, why_size, "random ceiling data");
    cudaFree(scratch);
    return ok;
}

/* Median of a timed call, for the ceilings (same method as the rows). */
static bool median_us(const mx_timer *t, mx_timed_call call, void *context, double *median,
                      char *why, size_t why_size) {
    double *samples = malloc(sizeof *samples * (size_t)t->rule.max_samples);
    int count = 0;
    mx_stop_reason reason;
    bool ok = samples && mx_time_call(t, call, context, samples, &count, &reason, why, why_size);
    if (ok) *median = mx_stats_median_of(samples, count);
    free(samples);
    return ok;
}

bool mx_measure_ceilings(const mx_timer *t, mx_run_info *info, char *why, size_t why_size) {
    copy_job copy = {.bytes = (size_t)1 << 30};
    double copy_us = 0.0, gemm_us = 0.0;
    bool ok =
        mx_cuda_step(cudaMalloc(&copy.source, copy.bytes), why, why_size, "ceiling buffers") &&
        mx_cuda_step(cudaMalloc(&copy.target, copy.bytes), why, why_size, "ceiling buffers") &&
        fill_random(copy.source, copy.bytes, why, why_size) &&
        median_us(t, run_copy, &copy, &copy_us, why, why_size);
    square_gemm gemm = {.size = 8192, .a = copy.source, .c = copy.target}; /* 128 MiB each */
    ok = ok && (mx_gemm_context_create(&gemm.context) == MX_OK ||
                (snprintf(why, why_size, "%s", mx_last_error()), false));
    ok = ok && median_us(t, run_square, &gemm, &gemm_us, why, why_size) &&
         mx_bench_sm_clock_mhz(t->stream, &info->sm_clock_start_mhz) == MX_OK;
    mx_gemm_context_destroy(gemm.context);
    cudaFree(copy.source);
    cudaFree(copy.target);
    if (!ok) return false;
    info->copy_gbps = 2.0 * (double)copy.bytes / (copy_us * 1e3);
    info->fp16_tflops = 2.0 * 8192.0 * 8192.0 * 8192.0 / (gemm_us * 1e6);
    return true;
}

bool mx_collect_environment(int device, mx_run_info *info, char *why, size_t why_size) {
    struct cudaDeviceProp props;
    if (!mx_cuda_step(cudaGetDeviceProperties(&props, device), why, why_size,
                      "cudaGetDeviceProperties"))
        return false;
    snprintf(info->gpu_name, sizeof info->gpu_name, "%s", props.name);
    char *uuid = info->gpu_uuid;
    uuid += sprintf(uuid, "GPU-");
    for (int i = 0; i < 16; i++)
        uuid += sprintf(uuid, "%02x%s", (unsigned char)props.uuid.bytes[i],
                        i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
    info->device_ordinal = device;
    snprintf(info->compute_capability, sizeof info->compute_capability, "%d.%d", props.major,
             props.minor);
    info->sm_count = props.multiProcessorCount;
    info->l2_bytes = props.l2CacheSize;
    info->memory_bytes = (int64_t)props.totalGlobalMem;
    int clock_khz = 0, memory_khz = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
    cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device);
    info->sm_clock_max_mhz = clock_khz / 1000;
    info->memory_clock_max_mhz = memory_khz / 1000;
    mx_device_info gpu;
    if (mx_device_query(device, &gpu) != MX_OK) {
        snprintf(why, why_size, "%s", mx_last_error());
        return false;
    }
    snprintf(info->code_path, sizeof info->code_path, "%s", mx_code_path_name(gpu.path));
    snprintf(info->code_path_why, sizeof info->code_path_why, "%s", gpu.why);
    snprintf(info->built_archs, sizeof info->built_archs, "%s", mx_built_archs());
    /* What auto follows; every op's GEMM context is created the same way, so takes the same. */
    mx_gemm_context *gemm = NULL;
    if (mx_gemm_context_create(&gemm) != MX_OK) {
        snprintf(why, why_size, "%s", mx_last_error());
        return false;
    }
    bool refused = false;
    snprintf(info->gemm_dispatch, sizeof info->gemm_dispatch, "%s",
             mx_gemm_dispatch_source(gemm, &refused));
    mx_gemm_context_destroy(gemm);
    if (refused) fprintf(stderr, "mxbench: warning: auto follows %s\n", info->gemm_dispatch);
    int driver = -1, runtime = -1, cublas_version = -1;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    cublasHandle_t cublas;
    if (cublasCreate(&cublas) == CUBLAS_STATUS_SUCCESS) {
        cublasGetVersion(cublas, &cublas_version);
        cublasDestroy(cublas);
    }
    info->driver_version = driver;
    info->runtime_version = runtime;
    info->cublas_version = cublas_version;
    gethostname(info->hostname, sizeof info->hostname - 1);
    /* The commit the binary was built from (cmake/version.cmake), not the one checked out now. */
    snprintf(info->git_commit, sizeof info->git_commit, "%s", MX_GIT_COMMIT);
    info->git_dirty = MX_GIT_DIRTY;
    return true;
}
