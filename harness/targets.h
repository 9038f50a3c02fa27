/* The targets of docs/design.md §7 (raised 2026-12-04), declared once: the runner's pass
 * columns, the report's target table and the plots' target lines all read these values and
 * rules. */
#ifndef MX_TARGETS_H
#define MX_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "format.h"

typedef struct {
    double overhead_pct; /* best MXFP4 time / FP16 time - 1, below this (in %) */
    double rel_vs_fp16;  /* norm-wise error against the FP16 reference, at most */
    double rel_vs_exact; /* norm-wise kernel error against FP64, at most, for FP16 outputs (other
                            dtypes: mx_target_rel_vs_exact) */
    double elementwise_factor;        /* c of the element-wise bound against FP64 (elementwise.h) */
    int64_t decode_max_m;             /* decode and bandwidth targets: M up to this */
    double decode_min_fp16_bytes;     /* decode: FP16 weights of at least this many bytes */
    double decode_speedup;            /* decode: FP16 time / MXFP4 time, at least */
    double bandwidth_min_mxfp4_bytes; /* bandwidth: MXFP4 weights of at least this many bytes */
    double bandwidth_pct;             /* bandwidth: % of the measured copy bandwidth, at least */
    int64_t medium_m[2];              /* medium M: these token counts... */
    double medium_speedup[2];         /* ...need FP16 time / MXFP4 time at least this */
    int64_t prefill_min_m;            /* prefill: M from this */
    double prefill_ratio;             /* prefill: MXFP4 time / FP16 time at most (no workspace) */
    double vram_saved_pct;            /* VRAM: savings in %, at least */
    double throttle_fraction; /* a row whose SM clock fell below this share of the start-up clock
                                 is throttled: reported, not judged */
    double vram_mismatch_pct; /* measured VRAM (cudaMemGetInfo) this many % off the computed
                                 bytes flags the row: its saving is not judged */
    double self_check_pct;    /* a variant making cublasGemmEx's own call (cublas_only) whose
                                 ratio's 95 % interval lies wholly this many % beyond 1 makes its
                                 problem unstable: reported, not judged (docs/design.md §4) */
} mx_target_values;

extern const mx_target_values mx_targets;

/* The rules a single row is judged by (results.csv's pass_overhead and pass_error). */
bool mx_target_overhead_passes(double overhead_pct);
/* The kernel gate for outputs of dtype: rel_vs_exact scaled by the dtype's unit roundoff over
 * FP16's (BF16's own rounding is ~8x FP16's: 2e-3 would fail BF16 for rounding alone). */
double mx_target_rel_vs_exact(mx_dtype dtype);
/* NaN rel_vs_exact or elementwise (the worst element's error over its bound, elementwise.h): no
 * such reference at this size or for this op, not held against the row. */
bool mx_target_errors_pass(mx_dtype dtype, double rel_vs_fp16, double rel_vs_exact,
                           double elementwise, int64_t nonfinite);
bool mx_target_throttled(double sm_clock_mhz, double start_clock_mhz);
/* The VRAM saving a row is judged by: the measured one (vram_savings_measured_pct) where the row
 * has it, else the computed one (runs before the measured column, the fp16 rows). */
double mx_target_vram_saved(double measured_pct, double computed_pct);
/* Whether measured bytes are too far from the computed ones to judge the row's saving. */
bool mx_target_vram_mismatch(double measured_bytes, double computed_bytes);
/* The self-check on a cublas_only variant's ratio interval [ratio_low, ratio_high] to FP16. */
bool mx_target_unstable(double ratio_low, double ratio_high);

#endif
