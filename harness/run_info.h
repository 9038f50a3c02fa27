/* run.json, the run's environment and ceilings (docs/design.md §5): one model for the runner,
 * which collects it at start-up, finishes it at the end and writes it atomically whenever it
 * changes, and for report and compare, which read it back. Every field is declared once, with
 * its place in the file, in run_info.c; the file is JSON through cJSON. Plain data, so that both
 * directions are tested without a GPU.
 *
 * Unknown values (a field the file lacks, or null): text "", integers -1, reals NaN, flags -1,
 * seed 0. The writer writes unknown values as null. */
#ifndef MX_RUN_INFO_H
#define MX_RUN_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* method.timing of the runs this build writes: a problem's variants timed in interleaved rounds
 * (docs/design.md §4). */
#define MX_TIMING_ROUNDS "interleaved rounds"

typedef struct {
    char run_id[64], suite[64], sweep_path[512], command_line[2048];
    char shard[32]; /* "I/N" of run --shard; "" for a whole sweep; "merged N" after mxbench merge */
    char status[32];                   /* "running", "complete", "interrupted", "failed" */
    char start_time[32], end_time[32]; /* ISO 8601 UTC */
    char hostname[256], git_commit[48];
    int git_dirty; /* 1 the build had uncommitted changes, 0 clean, -1 unknown */
    /* GPU */
    char gpu_name[256], gpu_uuid[64], compute_capability[16]; /* "9.0" */
    int64_t device_ordinal, sm_count, l2_bytes, memory_bytes;
    int64_t sm_clock_max_mhz, memory_clock_max_mhz;
    double sm_clock_start_mhz; /* measured under load at start-up */
    /* CUDA's integer encodings (12080 = 12.8; cuBLAS 130000 = 13.0.0) */
    int64_t driver_version, runtime_version, cublas_version;
    /* the kernels' code path on this GPU (kernels/arch.h) and the architectures built for */
    char code_path[16], code_path_why[96], built_archs[256];
    char gemm_dispatch[512]; /* what the GEMM's auto follows (mx_gemm_dispatch_source) */
    /* ceilings measured at start-up */
    double copy_gbps, fp16_tflops;
    /* method */
    char timing[32];   /* MX_TIMING_ROUNDS; "" in runs that timed one variant after another */
    char injected[64]; /* run --inject-slowdown (test only): "skinny +10 %"; "" for a real run */
    int64_t min_samples, max_samples;
    double max_noise_pct, time_budget_ms, min_time_ms;
    int l2_flushed; /* 1, 0, -1 unknown */
    int64_t l2_flush_bytes;
    uint64_t seed;
    /* progress */
    int64_t rows_planned, rows_done, rows_ok, rows_failed, rows_skipped;
} mx_run_info;

/* Every field unknown. */
void mx_run_info_clear(mx_run_info *info);

bool mx_run_info_save(const mx_run_info *info, const char *path, char *error, size_t error_size);

/* Reads path into *info (cleared first, so a failure leaves every field unknown). False with
 * "FILE:LINE: what" in error for an unreadable or malformed file; fields it lacks stay unknown. */
bool mx_run_info_read(const char *path, mx_run_info *info, char *error, size_t error_size);

/* The same on text already in memory (size bytes, no NUL needed), name standing for the file. */
bool mx_run_info_parse(const char *name, const char *text, size_t size, mx_run_info *info,
                       char *error, size_t error_size);

/* The line plot titles carry: "NVIDIA H200, 2026-11-26, commit ce68653 (dirty)". */
void mx_run_info_caption(const mx_run_info *info, char *text, size_t size);

/* "YYYY-MM-DDTHH:MM:SSZ" for now. */
void mx_utc_now(char *text, size_t size);

#endif
