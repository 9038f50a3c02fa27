/* Timing one call the way every row and ceiling is timed: warm-up, then samples (CUDA events
 * around exactly the call, the L2 flushed or a short spin before each) until the stopping rule of
 * stats.h says so. */
#ifndef MX_TIMING_H
#define MX_TIMING_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

#include "stats.h"

typedef struct {
    cudaStream_t stream;
    cudaEvent_t start, stop;
    void *flush;
    size_t flush_bytes; /* 0: --warm-l2 */
    mx_stop_rule rule;
} mx_timer;

typedef bool (*mx_timed_call)(void *context, cudaStream_t stream, char *why, size_t why_size);

/* Milliseconds of the monotonic clock. */
double mx_now_ms(void);
/* true for cudaSuccess; else clears the error, puts "what: CUDA's message" in why, false. */
bool mx_cuda_step(cudaError_t error, char *why, size_t why_size, const char *what);
/* Warm-up, then samples until the stopping rule says so. samples must hold rule.max_samples. */
bool mx_time_call(const mx_timer *t, mx_timed_call call, void *context, double *samples, int *count,
                  mx_stop_reason *reason, char *why, size_t why_size);

#endif
