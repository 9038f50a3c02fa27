/* Reading run.json back (run_info.c writes it): the report's environment table, the captions of
 * plots, compare's checks that two runs belong together. */
#ifndef MX_RUN_META_H
#define MX_RUN_META_H

#include <stdbool.h>
#include <stddef.h>

/* What the report shows of run.json (harness/run_info.h writes it). Unknown numbers are NaN,
 * unknown versions 0, unknown text "". */
typedef struct {
    char run_id[64], status[32], suite[64], command_line[2048], hostname[256];
    char start_time[32], end_time[32]; /* ISO 8601 UTC */
    char git_commit[48];
    int git_dirty; /* 1 dirty, 0 clean, -1 unknown */
    char gpu_name[256], gpu_uuid[64], compute_capability[16];
    double sm_count, l2_bytes, memory_bytes;
    double sm_clock_max_mhz, sm_clock_start_mhz, memory_clock_max_mhz;
    int driver_version, runtime_version, cublas_version;     /* CUDA's integer encodings */
    char code_path[16], code_path_why[96], built_archs[256]; /* kernels/arch.h */
    double copy_gbps, fp16_tflops;                           /* the ceilings measured at start-up */
    double min_samples, max_samples, max_noise_pct, time_budget_ms, l2_flush_bytes, seed;
    int l2_flushed; /* 1, 0, -1 unknown */
} mx_run_meta;

/* Reads path into *meta (cleared first, so a failure leaves every field unknown). False with
 * "FILE:LINE: what" in error for unreadable or malformed JSON; fields it lacks stay unknown. */
bool mx_run_meta_read(const char *path, mx_run_meta *meta, char *error, size_t error_size);

/* The line plot titles carry: "NVIDIA H200, 2026-11-26, commit ce68653 (dirty)". */
void mx_run_meta_caption(const mx_run_meta *meta, char *text, size_t size);

#endif
