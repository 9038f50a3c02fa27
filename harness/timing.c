/* The timing loop (timing.h). */
#include "timing.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
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

bool mx_timer_flush_buffer(mx_timer *t, int64_t l2_bytes, char *why, size_t why_size) {
    t->flush_bytes = (size_t)(MX_L2_FLUSH_FACTOR * l2_bytes);
    return mx_cuda_step(cudaMalloc(&t->flush, t->flush_bytes), why, why_size, "L2 flush buffer") &&
           mx_cuda_step(cudaMemset(t->flush, 0x5A, t->flush_bytes), why, why_size,
                        "L2 flush buffer");
}

/* One sample of call into *us: the flush or a spin (so that the start event never waits for the
 * host's launch work), events around exactly the call. false with why set: a failed call when
 * *call_failed, else the timing itself. */
static bool sample(const mx_timer *t, mx_timed_call call, void *context, double *us,
                   bool *call_failed, char *why, size_t why_size) {
    *call_failed = false;
    mx_status busy = t->flush_bytes ? mx_bench_flush_l2(t->flush, t->flush_bytes, t->stream)
                                    : mx_bench_spin(t->stream, 50);
    if (busy != MX_OK) {
        snprintf(why, why_size, "before the sample: %s", mx_last_error());
        return false;
    }
    if (!mx_cuda_step(cudaEventRecord(t->start, t->stream), why, why_size, "cudaEventRecord"))
        return false;
    if (!call(context, t->stream, why, why_size)) {
        *call_failed = true;
        return false;
    }
    float ms = 0.0f;
    if (!mx_cuda_step(cudaEventRecord(t->stop, t->stream), why, why_size, "cudaEventRecord"))
        return false;
    /* a kernel's fault surfaces here, asynchronously: it is the call's */
    if (!mx_cuda_step(cudaEventSynchronize(t->stop), why, why_size, "the timed call")) {
        *call_failed = true;
        return false;
    }
    if (!mx_cuda_step(cudaEventElapsedTime(&ms, t->start, t->stop), why, why_size,
                      "cudaEventElapsedTime"))
        return false;
    *us = ms * 1e3;
    return true;
}

bool mx_time_call(const mx_timer *t, mx_timed_call call, void *context, double *samples, int *count,
                  mx_stop_reason *reason, char *why, size_t why_size) {
    for (int i = 0; i < 2; i++)
        if (!call(context, t->stream, why, why_size)) return false;
    *count = 0;
    double begin = mx_now_ms();
    for (bool failed;;) {
        if (!sample(t, call, context, &samples[*count], &failed, why, why_size)) return false;
        (*count)++;
        *reason = mx_stats_stop_reason(&t->rule, samples, *count, mx_now_ms() - begin);
        if (*reason != MX_STOP_CONTINUE) return true;
    }
}

/* The active candidate (of calls[0..references)) with the lowest median over rounds, or -1. */
static int best_candidate(const mx_round_call *calls, int references, int rounds) {
    int best = -1;
    double best_median = INFINITY;
    for (int c = 0; c < references; c++) {
        if (!calls[c].active) continue;
        double median = mx_stats_median_of(calls[c].samples, rounds);
        if (best < 0 || median < best_median) {
            best = c;
            best_median = median;
        }
    }
    return best;
}

/* Leaves the candidates whose median's interval lies wholly above the best one's out of the
 * next rounds: they cannot be the reference any more. keep (-1: none) always stays. */
static void prune(mx_round_call *calls, int references, int keep, int best, int rounds) {
    mx_interval top = mx_stats_median_interval(calls[best].samples, rounds);
    for (int c = 0; c < references; c++) {
        if (c == best || c == keep || !calls[c].active) continue;
        mx_interval other = mx_stats_median_interval(calls[c].samples, rounds);
        if (other.low > top.high) {
            calls[c].active = false;
            calls[c].pruned = true;
        }
    }
}

/* Leaves a failed call out of the rounds; false when no reference candidate is left. */
static bool drop(mx_round_call *calls, int references, int c, const char *failure, char *why,
                 size_t why_size) {
    calls[c].active = false;
    snprintf(calls[c].why, sizeof calls[c].why, "%s", failure);
    if (c >= references) return true;
    for (int r = 0; r < references; r++)
        if (calls[r].active) return true;
    snprintf(why, why_size, "%s", failure);
    return false;
}

void mx_round_order(int round, int count, int *order) {
    const int period = count % 2 ? 2 * count : count;
    const int r = round % period, shift = r % count;
    for (int i = 0; i < count; i++) {
        /* the first row: 0, 1, count - 1, 2, count - 2, ...; row r adds r */
        const int first = i == 0 ? 0 : i % 2 ? (i + 1) / 2 : count - i / 2;
        order[r < count ? i : count - 1 - i] = (first + shift) % count;
    }
}

bool mx_time_rounds(const mx_timer *t, mx_round_call *calls, int count, int references, int keep,
                    int *reference, double *clocks, int *rounds, mx_stop_reason *reason, char *why,
                    size_t why_size) {
    char failure[512];
    *rounds = 0;
    *reference = -1;
    for (int c = 0; c < count; c++) {
        calls[c].active = true;
        calls[c].pruned = false;
        calls[c].why[0] = '\0';
    }
    for (int c = 0; c < count; c++)
        for (int i = 0; i < 2 && calls[c].active; i++)
            if (!calls[c].call(calls[c].context, t->stream, failure, sizeof failure) &&
                !drop(calls, references, c, failure, why, why_size))
                return false;
    /* what the stopping rule sees: the reference, then the variants */
    const double **samples = malloc(sizeof *samples * (size_t)(count + 1));
    bool *active = malloc(sizeof *active * (size_t)(count + 1));
    int *order = malloc(sizeof *order * (size_t)count);
    if (!samples || !active || !order) {
        free(samples);
        free(active);
        free(order);
        snprintf(why, why_size, "timing: out of host memory");
        return false;
    }
    bool ok = true;
    double begin = mx_now_ms();
    for (*reason = MX_STOP_CONTINUE; ok && *reason == MX_STOP_CONTINUE;) {
        mx_round_order(*rounds, count, order);
        for (int i = 0; i < count && ok; i++) {
            int c = order[i];
            bool call_failed;
            if (calls[c].active &&
                !sample(t, calls[c].call, calls[c].context, &calls[c].samples[*rounds],
                        &call_failed, failure, sizeof failure)) {
                if (call_failed)
                    ok = drop(calls, references, c, failure, why, why_size);
                else { /* the timing failed, not the call: nothing more can be measured */
                    snprintf(why, why_size, "%s", failure);
                    ok = false;
                }
            }
        }
        if (ok && mx_bench_sm_clock_mhz(t->stream, &clocks[*rounds]) != MX_OK) {
            snprintf(why, why_size, "SM clock probe: %s", mx_last_error());
            ok = false;
        }
        if (!ok) break;
        (*rounds)++;
        /* chosen on the first min_samples rounds, then fixed (unless it fails): a reference
         * picked again every round as the lowest of many medians would ride on the very noise
         * the ratios are taken against */
        if (*rounds <= t->rule.min_samples || !calls[*reference].active)
            *reference = best_candidate(calls, references, *rounds);
        if (*rounds >= t->rule.min_samples) prune(calls, references, keep, *reference, *rounds);
        samples[0] = calls[*reference].samples;
        active[0] = true;
        for (int c = references; c < count; c++) {
            samples[1 + c - references] = calls[c].samples;
            active[1 + c - references] = calls[c].active;
        }
        *reason = mx_stats_rounds_stop_reason(&t->rule, samples, active, 1 + count - references,
                                              *rounds, mx_now_ms() - begin);
    }
    free(samples);
    free(active);
    free(order);
    return ok;
}
