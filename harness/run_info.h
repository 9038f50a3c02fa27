/* The run's environment and ceilings (docs/design.md §5, run.json): collected once at start-up,
 * finished at the end, written atomically whenever it changes. Plain data, so that the writer is
 * tested without a GPU. */
#ifndef MX_RUN_INFO_H
#define MX_RUN_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char run_id[64], suite[64], sweep_path[512], command_line[2048];
    char status[32];                   /* "running", "complete", "interrupted", "failed" */
    char start_time[32], end_time[32]; /* ISO 8601 UTC */
    char hostname[256], git_commit[48];
    int git_dirty; /* 1 dirty, 0 clean, -1 unknown (no git or not a checkout) */
    /* GPU */
    char gpu_name[256], gpu_uuid[48];
    int device_ordinal, compute_major, compute_minor, sm_count;
    int64_t l2_bytes, memory_bytes;
    int sm_clock_max_mhz, memory_clock_max_mhz;
    double sm_clock_start_mhz; /* measured under load at start-up */
    int driver_version, runtime_version, cublas_version;
    /* the kernels' code path on this GPU (kernels/arch.h) and the architectures built for */
    char code_path[16], code_path_why[96], built_archs[256];
    /* ceilings measured at start-up */
    double copy_gbps, fp16_tflops;
    /* method */
    int min_samples, max_samples;
    double max_noise_pct, time_budget_ms;
    bool l2_flushed;
    int64_t l2_flush_bytes;
    uint64_t seed;
    /* progress */
    int64_t rows_planned, rows_done, rows_ok, rows_failed, rows_skipped;
} mx_run_info;

bool mx_run_info_save(const mx_run_info *info, const char *path, char *error, size_t error_size);

/* "YYYY-MM-DDTHH:MM:SSZ" for now. */
void mx_utc_now(char *text, size_t size);

#endif
