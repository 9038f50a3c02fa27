/* The timing loop (timing.h). */
#include "timing.h"

#include <stdio.h>
#include <time.h>

#include "mx.h"
#include "bench_gpu.h"

double mx_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

bool mx_cuda_step(cudaError_t error, char *why, size_t why_size, const char *what) {
    if (error == cudaSuccess) return true;
    cudaGetLastError();
    snprintf(why, why_size, "%s: %s", what, cudaGetErrorString(error));
    return false;
}

bool mx_time_call(const mx_timer *t, mx_timed_call call, void *context, double *samples, int *count,
                  mx_stop_reason *reason, char *why, size_t why_size) {
    for (int i = 0; i < 2; i++)
        if (!call(context, t->stream, why, why_size)) return false;
    *count = 0;
    double begin = mx_now_ms();
    for (;;) {
        /* Keep the GPU busy until the call is enqueued: the flush does, and without it a short
         * spin, so that the start event never waits for the host's launch work. */
        mx_status busy = t->flush_bytes ? mx_bench_flush_l2(t->flush, t->flush_bytes, t->stream)
                                        : mx_bench_spin(t->stream, 50);
        if (busy != MX_OK) {
            snprintf(why, why_size, "before the sample: %s", mx_last_error());
            return false;
        }
        if (!mx_cuda_step(cudaEventRecord(t->start, t->stream), why, why_size, "cudaEventRecord") ||
            !call(context, t->stream, why, why_size) ||
            !mx_cuda_step(cudaEventRecord(t->stop, t->stream), why, why_size, "cudaEventRecord") ||
            !mx_cuda_step(cudaEventSynchronize(t->stop), why, why_size, "the timed call"))
            return false;
        float ms = 0.0f;
        if (!mx_cuda_step(cudaEventElapsedTime(&ms, t->start, t->stop), why, why_size,
                          "cudaEventElapsedTime"))
            return false;
        samples[(*count)++] = ms * 1e3;
        *reason = mx_stats_stop_reason(&t->rule, samples, *count, mx_now_ms() - begin);
        if (*reason != MX_STOP_CONTINUE) return true;
    }
}
