/* read_floor: what reading a weight costs under the harness's timing method (docs/gemm.md,
 * "The floor of the method"): CUDA events around one kernel launched right after the harness's
 * L2 flush (mx_bench_flush_l2, MX_L2_FLUSH_FACTOR x the L2 read), the median of 40 samples. For
 * each size: an empty kernel, a grid-stride read (16-byte streaming loads, 4 in flight a thread, 4
 * CTAs of 512 threads an SM) and the skinny kernel's weight stream alone (256 CTAs x 8 warps, each
 * warp its contiguous range of 2176-byte chunks through a ring of 6 with gemm_kernel.cuh's copies).
 * read_floor --help says how to run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include "bench_gpu.h"
#include "gemm_kernel.cuh"
extern "C" { /* the harness's C headers */
#include "cli.h"
#include "device.h"
#include "timing.h"
}

/* The harness's CUDA status check (timing.h); a failure ends the tool with its message. */
#define CHECK(call) need(call, #call)
static void need(cudaError_t error, const char *what) {
    char why[256];
    if (mx_cuda_step(error, why, sizeof why, what)) return;
    fprintf(stderr, "read_floor: %s\n", why);
    exit(MX_EXIT_FAILED);
}

enum { SAMPLES = 40, RING = 6, STREAM_CTAS = 256, STREAM_WARPS = 8 };

/* The loaded words meet in acc; a store nobody reads keeps the loads alive. */
__device__ __forceinline__ void keep(unsigned acc, unsigned *sink) {
    if (acc == 0x9E3779B9u) *sink = acc;
}

static __global__ void empty_kernel() {}

static __global__ void grid_read(const uint4 *w, int64_t units, unsigned *sink) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    unsigned acc = 0;
    for (; i + 3 * step < units; i += 4 * step) {
        uint4 v[4];
#pragma unroll
        for (int u = 0; u < 4; u++) v[u] = __ldcs(w + i + u * step);
#pragma unroll
        for (int u = 0; u < 4; u++) acc ^= v[u].x ^ v[u].w;
    }
    for (; i < units; i += step) acc ^= __ldcs(w + i).x;
    keep(acc, sink);
}

static __global__ void ring_stream(const uint8_t *w, int chunks, unsigned *sink) {
    extern __shared__ __align__(16) uint8_t smem[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint8_t *source =
        w + ((int64_t)blockIdx.x * STREAM_WARPS + warp) * chunks * MX_CHUNK_BYTES + 16 * lane;
    const uint8_t *ring = smem + warp * RING * MX_CHUNK_BYTES;
    const uint32_t ring_shared = (uint32_t)__cvta_generic_to_shared(ring) + 16 * lane;
    int issued = 0;
    auto issue = [&]() {
        if (issued < chunks) {
            const uint32_t target = ring_shared + (issued % RING) * MX_CHUNK_BYTES;
            const uint8_t *chunk = source + (int64_t)issued * MX_CHUNK_BYTES;
            for (int u = 0; 512 * u + 16 * lane < MX_CHUNK_BYTES; u++)
                mx_copy16(target + 512 * u, chunk + 512 * u);
        }
        issued++;
        mx_copy_commit();
    };
    for (int s = 0; s < RING - 1; s++) issue();
    unsigned acc = 0;
    for (int c = 0; c < chunks; c++) {
        mx_copy_wait<RING - 2>();
        __syncwarp();
        issue();
        acc ^= *(const unsigned *)(ring + (c % RING) * MX_CHUNK_BYTES + 4 * lane);
    }
    keep(acc, sink);
}

typedef struct {
    mx_timer flush; /* its flush buffer only */
    void *weights;
    unsigned *sink;
    cudaEvent_t start, stop;
} bench;

/* What the ring stream reads for bytes: whole chunks, the same number for every warp. */
static size_t stream_bytes(size_t bytes) {
    const size_t warps_chunk = (size_t)STREAM_CTAS * STREAM_WARPS * MX_CHUNK_BYTES;
    return (bytes + warps_chunk - 1) / warps_chunk * warps_chunk;
}

/* Median of SAMPLES launches of kind (0 empty, 1 grid read, 2 ring stream) over bytes, each
 * timed right after the flush. */
static double median_us(const bench *b, int kind, size_t bytes, int sms) {
    const int chunks =
        (int)(stream_bytes(bytes) / ((size_t)STREAM_CTAS * STREAM_WARPS * MX_CHUNK_BYTES));
    const size_t ring_smem = (size_t)STREAM_WARPS * RING * MX_CHUNK_BYTES;
    float samples[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        if (mx_bench_flush_l2(b->flush.flush, b->flush.flush_bytes, 0) != MX_OK) {
            fprintf(stderr, "read_floor: the L2 flush failed\n");
            exit(MX_EXIT_FAILED);
        }
        CHECK(cudaEventRecord(b->start));
        if (kind == 0) empty_kernel<<<1, 32>>>();
        if (kind == 1)
            grid_read<<<4 * sms, 512>>>((const uint4 *)b->weights, (int64_t)(bytes / 16), b->sink);
        if (kind == 2)
            ring_stream<<<STREAM_CTAS, 32 * STREAM_WARPS, ring_smem>>>((const uint8_t *)b->weights,
                                                                       chunks, b->sink);
        CHECK(cudaGetLastError());
        CHECK(cudaEventRecord(b->stop));
        CHECK(cudaEventSynchronize(b->stop));
        CHECK(cudaEventElapsedTime(&samples[i], b->start, b->stop));
    }
    std::sort(samples, samples + SAMPLES);
    return samples[SAMPLES / 2] * 1e3;
}

static const char usage[] =
    "usage: read_floor [MB ...]\n"
    "Times, as mxbench times a row (events around one launch right after the L2 flush; the\n"
    "median of 40), an empty kernel, a grid-stride read and the skinny kernel's weight stream\n"
    "alone, over each size in MB (0 < MB <= 4096; default: 4.41 8.91 31.19 307.70, the MXFP4\n"
    "weights of 2880x2880, 4096x4096, 4096x14336 and 201088x2880). docs/gemm.md, \"The floor of\n"
    "the method\", says what the figures mean. Exit 0 done, 1 a CUDA error, 2 a bad argument, 3\n"
    "no usable CUDA GPU.\n";

int main(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return MX_EXIT_OK;
    }
    const double defaults[] = {4.41, 8.91, 31.19, 307.70};
    const int count = argc > 1 ? argc - 1 : 4;
    double mb[64];
    if (count > 64) {
        fprintf(stderr, "read_floor: %d sizes; at most 64\n%s", count, usage);
        return MX_EXIT_INPUT;
    }
    for (int i = 0; i < count; i++) {
        char *end = NULL;
        mb[i] = argc > 1 ? strtod(argv[i + 1], &end) : defaults[i];
        if (argc > 1 && (end == argv[i + 1] || *end || !(mb[i] > 0.0 && mb[i] <= 4096.0))) {
            fprintf(stderr, "read_floor: '%s' is not a size in MB (0 < MB <= 4096)\n%s",
                    argv[i + 1], usage);
            return MX_EXIT_INPUT;
        }
    }
    if (!mx_cli_open_device(0, NULL)) return MX_EXIT_NO_DEVICE;
    cudaDeviceProp props;
    CHECK(cudaGetDeviceProperties(&props, 0));
    bench b = {};
    char why[256];
    if (!mx_timer_flush_buffer(&b.flush, props.l2CacheSize, why, sizeof why)) {
        fprintf(stderr, "read_floor: %s\n", why);
        return MX_EXIT_FAILED;
    }
    size_t most = 0;
    for (int i = 0; i < count; i++) most = std::max(most, stream_bytes((size_t)(mb[i] * 1e6)));
    CHECK(cudaMalloc(&b.weights, most));
    CHECK(cudaMemset(b.weights, 0x3C, most));
    CHECK(cudaMalloc((void **)&b.sink, sizeof *b.sink));
    CHECK(cudaEventCreate(&b.start));
    CHECK(cudaEventCreate(&b.stop));
    CHECK(cudaFuncSetAttribute(ring_stream, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               STREAM_WARPS * RING * MX_CHUNK_BYTES));
    printf("%s, %d SMs, L2 %d MiB; event-timed after a %zu MiB L2 flush, median of %d\n",
           props.name, props.multiProcessorCount, props.l2CacheSize >> 20,
           b.flush.flush_bytes >> 20, SAMPLES);
    printf("%10s %10s %14s %10s %16s %10s\n", "MB", "empty us", "grid read us", "GB/s",
           "ring stream us", "GB/s");
    for (int i = 0; i < count; i++) {
        const size_t bytes = (size_t)(mb[i] * 1e6);
        const double empty = median_us(&b, 0, bytes, props.multiProcessorCount);
        const double read = median_us(&b, 1, bytes, props.multiProcessorCount);
        const double ring = median_us(&b, 2, bytes, props.multiProcessorCount);
        printf("%10.2f %10.2f %14.2f %10.0f %16.2f %10.0f\n", mb[i], empty, read,
               (double)bytes / read / 1e3, ring, (double)stream_bytes(bytes) / ring / 1e3);
    }
    return MX_EXIT_OK;
}
