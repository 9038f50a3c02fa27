/* Timing the way every row and ceiling is timed: warm-up, then samples (CUDA events around
 * exactly the call, the L2 flushed or a short spin before each) until a stopping rule of stats.h
 * says so; a problem's calls (its FP16 reference and variants) in interleaved rounds. */
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

/* One call of a problem timed in rounds. */
typedef struct {
    mx_timed_call call;
    void *context;
    double *samples; /* [rule.max_samples]: the call's time in each round, in us */
    bool active;     /* measured; cleared when the call fails (why says how) */
    char why[512];
} mx_round_call;

/* Times calls[0..count) in rounds (docs/design.md §4): 2 warm-up calls each, then rounds in
 * which every active call is timed once, in an order rotated by one per round (round r starts
 * with call r mod count), so that drift, clocks and position hit all calls alike; after each
 * round the SM clock is probed into clocks[round] ([rule.max_samples]). Calls start active; one
 * that fails leaves the rounds with its why set, the others go on, and *rounds counts the rounds
 * every still active call has a sample of. calls[0] is the reference of the stopping rule
 * (mx_stats_rounds_stop_reason): if it fails, or the flush, events or clock fail, the result is
 * false with why set. */
bool mx_time_rounds(const mx_timer *t, mx_round_call *calls, int count, double *clocks, int *rounds,
                    mx_stop_reason *reason, char *why, size_t why_size);

#endif
