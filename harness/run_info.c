/* run.json writer (see run_info.h). */
#include "run_info.h"

#include <stdio.h>
#include <time.h>

#include "json.h"

void mx_utc_now(char *text, size_t size) {
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(text, size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static void key_string(mx_json *json, const char *key, const char *value) {
    mx_json_key(json, key);
    mx_json_string(json, value);
}

static void key_int(mx_json *json, const char *key, int64_t value) {
    mx_json_key(json, key);
    mx_json_int(json, value);
}

static void key_number(mx_json *json, const char *key, double value) {
    mx_json_key(json, key);
    mx_json_number(json, value);
}

bool mx_run_info_save(const mx_run_info *info, const char *path, char *error, size_t error_size) {
    mx_json *json = mx_json_create();
    if (!json) {
        snprintf(error, error_size, "out of memory writing %s", path);
        return false;
    }
    mx_json_begin_object(json);
    key_string(json, "run_id", info->run_id);
    key_string(json, "status", info->status);
    key_string(json, "suite", info->suite);
    key_string(json, "sweep_file", info->sweep_path);
    key_string(json, "command_line", info->command_line);
    key_string(json, "start_time", info->start_time);
    key_string(json, "end_time", info->end_time[0] ? info->end_time : NULL);
    key_string(json, "hostname", info->hostname);
    mx_json_key(json, "git");
    mx_json_begin_object(json);
    key_string(json, "commit", info->git_commit);
    mx_json_key(json, "dirty");
    if (info->git_dirty < 0)
        mx_json_null(json);
    else
        mx_json_bool(json, info->git_dirty != 0);
    mx_json_end_object(json);

    mx_json_key(json, "gpu");
    mx_json_begin_object(json);
    key_string(json, "name", info->gpu_name);
    key_string(json, "uuid", info->gpu_uuid);
    key_int(json, "device", info->device_ordinal);
    char capability[16];
    snprintf(capability, sizeof capability, "%d.%d", info->compute_major, info->compute_minor);
    key_string(json, "compute_capability", capability);
    key_int(json, "sm_count", info->sm_count);
    key_int(json, "l2_bytes", info->l2_bytes);
    key_int(json, "memory_bytes", info->memory_bytes);
    key_int(json, "sm_clock_max_mhz", info->sm_clock_max_mhz);
    key_number(json, "sm_clock_start_mhz", info->sm_clock_start_mhz);
    key_int(json, "memory_clock_max_mhz", info->memory_clock_max_mhz);
    key_int(json, "driver_version", info->driver_version);
    key_int(json, "cuda_runtime_version", info->runtime_version);
    key_int(json, "cublas_version", info->cublas_version);
    key_string(json, "code_path", info->code_path);
    key_string(json, "code_path_why", info->code_path_why);
    key_string(json, "built_archs", info->built_archs);
    mx_json_end_object(json);

    mx_json_key(json, "ceilings");
    mx_json_begin_object(json);
    key_number(json, "copy_gbps", info->copy_gbps);
    key_number(json, "fp16_gemm_8192_tflops", info->fp16_tflops);
    mx_json_end_object(json);

    mx_json_key(json, "method");
    mx_json_begin_object(json);
    key_int(json, "min_samples", info->min_samples);
    key_int(json, "max_samples", info->max_samples);
    key_number(json, "max_noise_pct", info->max_noise_pct);
    key_number(json, "time_budget_ms", info->time_budget_ms);
    mx_json_key(json, "l2_flushed");
    mx_json_bool(json, info->l2_flushed);
    key_int(json, "l2_flush_bytes", info->l2_flush_bytes);
    key_int(json, "seed", (int64_t)info->seed);
    mx_json_end_object(json);

    mx_json_key(json, "rows");
    mx_json_begin_object(json);
    key_int(json, "planned", info->rows_planned);
    key_int(json, "done", info->rows_done);
    key_int(json, "ok", info->rows_ok);
    key_int(json, "fail", info->rows_failed);
    key_int(json, "skipped", info->rows_skipped);
    mx_json_end_object(json);
    mx_json_end_object(json);

    bool saved = mx_json_save(json, path, error, error_size);
    mx_json_free(json);
    return saved;
}
