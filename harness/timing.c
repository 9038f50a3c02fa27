/* The timing loop (timing.h). */
#include "timing.h"

#include <stdio.h>
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
    if (!mx_cuda_step(cudaEventRecord(t->stop, t->stream), why, why_size, "cudaEventRecord") ||
        !mx_cuda_step(cudaEventSynchronize(t->stop), why, why_size, "the timed call") ||
        !mx_cuda_step(cudaEventElapsedTime(&ms, t->start, t->stop), why, why_size,
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

/* Leaves call out of the rounds with why; false when it is the reference (the rounds end). */
static bool drop(mx_round_call *call, bool reference, const char *why, char *out, size_t out_size) {
    call->active = false;
    snprintf(call->why, sizeof call->why, "%s", why);
    if (reference) snprintf(out, out_size, "%s", why);
    return !reference;
}

bool mx_time_rounds(const mx_timer *t, mx_round_call *calls, int count, double *clocks, int *rounds,
                    mx_stop_reason *reason, char *why, size_t why_size) {
    char failure[512];
    *rounds = 0;
    for (int c = 0; c < count; c++) {
        calls[c].active = true;
        calls[c].why[0] = '\0';
        for (int i = 0; i < 2 && calls[c].active; i++)
            if (!calls[c].call(calls[c].context, t->stream, failure, sizeof failure) &&
                !drop(&calls[c], c == 0, failure, why, why_size))
                return false;
    }
    const double **samples = malloc(sizeof *samples * (size_t)count);
    bool *active = malloc(sizeof *active * (size_t)count);
    if (!samples || !active) {
        free(samples);
        free(active);
        snprintf(why, why_size, "timing: out of host memory");
        return false;
    }
    bool ok = true;
    double begin = mx_now_ms();
    for (*reason = MX_STOP_CONTINUE; ok && *reason == MX_STOP_CONTINUE;) {
        for (int i = 0; i < count && ok; i++) {
            int c = (*rounds + i) % count;
            mx_round_call *call = &calls[c];
            bool call_failed;
            if (call->active && !sample(t, call->call, call->context, &call->samples[*rounds],
                                        &call_failed, failure, sizeof failure)) {
                if (call_failed)
                    ok = drop(call, c == 0, failure, why, why_size);
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
        for (int c = 0; c < count; c++) {
            samples[c] = calls[c].samples;
            active[c] = calls[c].active;
        }
        *reason = mx_stats_rounds_stop_reason(&t->rule, samples, active, count, *rounds,
                                              mx_now_ms() - begin);
    }
    free(samples);
    free(active);
    return ok;
}
