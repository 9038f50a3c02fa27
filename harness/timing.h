/* Timing the way every row and ceiling is timed: warm-up, then samples (CUDA events around
 * exactly the call, the L2 flushed or a short spin before each) until a stopping rule of stats.h
 * says so; a problem's calls (its FP16 reference and variants) in interleaved rounds. */
#ifndef MX_TIMING_H
#define MX_TIMING_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

typedef struct {
    cudaStream_t stream;
    cudaEvent_t start, stop;
    void *flush;
    size_t flush_bytes; /* 0: --warm-l2 */
    mx_stop_rule rule;
} mx_timer;

typedef bool (*mx_timed_call)(void *context, cudaStream_t stream, char *why, size_t why_size);

/* The flush before each sample reads this many times the L2 (docs/design.md asks for at least 2x):
 * clean lines, no write-back charged to the next call. */
enum { MX_L2_FLUSH_FACTOR = 4 };

/* Milliseconds of the monotonic clock. */
double mx_now_ms(void);
/* true for cudaSuccess; else clears the error, puts "what: CUDA's message" in why, false. */
bool mx_cuda_step(cudaError_t error, char *why, size_t why_size, const char *what);
/* t->flush: MX_L2_FLUSH_FACTOR x l2_bytes of device memory, allocated and written once, and
 * t->flush_bytes. false with why set. */
bool mx_timer_flush_buffer(mx_timer *t, int64_t l2_bytes, char *why, size_t why_size);
/* Warm-up, then samples until the stopping rule says so. samples must hold rule.max_samples. */
bool mx_time_call(const mx_timer *t, mx_timed_call call, void *context, double *samples, int *count,
                  mx_stop_reason *reason, char *why, size_t why_size);

/* One call of a problem timed in rounds. */
typedef struct {
    mx_timed_call call;
    void *context;
    double *samples; /* [rule.max_samples]: the call's time in each round, in us */
    bool active;     /* still measured */
    bool pruned;     /* a reference candidate left out as clearly slower than the best */
    char why[512];   /* why the call failed (active false, pruned false) */
} mx_round_call;

/* The order of round `round` of count calls: a Williams design. Over every count rounds (2 count
 * when count is odd, the second half reversed) each call is at each position equally often and
 * directly after each other call equally often, so that neither the position in the round nor
 * the call before (its caches, TLB entries, clocks) favours any one. order[count]. */
void mx_round_order(int round, int count, int *order);

/* Times calls[0..count) in rounds (docs/design.md §4): 2 warm-up calls each, then rounds in
 * which every active call is timed once, in the order of mx_round_order, so that drift, clocks,
 * position and the call before hit all calls alike; after each round the SM clock is probed
 * into clocks[round] ([rule.max_samples]).
 *
 * calls[0..references) are the candidates for the reference (the FP16 paths cuBLAS offers for
 * the problem), the others the variants. The reference (*reference, its index) is the active
 * candidate with the lowest median over the first min_samples rounds, then fixed (chosen again
 * only if it fails), so that the choice does not ride on the noise of the samples it is compared
 * on; from min_samples rounds on, a candidate whose median's 95 % interval lies wholly above the
 * reference's is pruned (never calls[keep]; keep -1: none). The stopping rule
 * (mx_stats_rounds_stop_reason) sees the reference and the variants. A call that fails (a kernel
 * fault included) leaves the rounds with its why set and the others go on; *rounds counts the
 * rounds every call still active has a sample of. false with why set when no candidate is left,
 * or the flush, events or clock probe fail. */
bool mx_time_rounds(const mx_timer *t, mx_round_call *calls, int count, int references, int keep,
                    int *reference, double *clocks, int *rounds, mx_stop_reason *reason, char *why,
                    size_t why_size);

#endif
