/* run.json written and read through one table of fields (run_info.h), with cJSON. */
#include "run_info.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"
#include "text.h"

void mx_utc_now(char *text, size_t size) {
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(text, size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

/* Where each field is in run.json: "gpu.name" is key "name" of the object "gpu". The file's key
 * order is this table's. */
/* FIELD_VERSION: an integer of CUDA's version encodings, read only in [0, 10^7) (12080 is 12.8):
 * anything larger is garbage and reads unknown. */
typedef enum {
    FIELD_TEXT,
    FIELD_INTEGER,
    FIELD_VERSION,
    FIELD_REAL,
    FIELD_FLAG,
    FIELD_SEED
} field_kind;

typedef struct {
    const char *path;
    field_kind kind;
    size_t offset, size;
} run_field;

#define FIELD(path, kind, member)                                                                  \
    { path, kind, offsetof(mx_run_info, member), sizeof(((mx_run_info *)0)->member) }

static const run_field fields[] = {
    FIELD("run_id", FIELD_TEXT, run_id),
    FIELD("status", FIELD_TEXT, status),
    FIELD("suite", FIELD_TEXT, suite),
    FIELD("sweep_file", FIELD_TEXT, sweep_path),
    FIELD("shard", FIELD_TEXT, shard),
    FIELD("command_line", FIELD_TEXT, command_line),
    FIELD("start_time", FIELD_TEXT, start_time),
    FIELD("end_time", FIELD_TEXT, end_time),
    FIELD("hostname", FIELD_TEXT, hostname),
    FIELD("git.commit", FIELD_TEXT, git_commit),
    FIELD("git.dirty", FIELD_FLAG, git_dirty),
    FIELD("gpu.name", FIELD_TEXT, gpu_name),
    FIELD("gpu.uuid", FIELD_TEXT, gpu_uuid),
    FIELD("gpu.device", FIELD_INTEGER, device_ordinal),
    FIELD("gpu.compute_capability", FIELD_TEXT, compute_capability),
    FIELD("gpu.sm_count", FIELD_INTEGER, sm_count),
    FIELD("gpu.l2_bytes", FIELD_INTEGER, l2_bytes),
    FIELD("gpu.memory_bytes", FIELD_INTEGER, memory_bytes),
    FIELD("gpu.sm_clock_max_mhz", FIELD_INTEGER, sm_clock_max_mhz),
    FIELD("gpu.sm_clock_start_mhz", FIELD_REAL, sm_clock_start_mhz),
    FIELD("gpu.memory_clock_max_mhz", FIELD_INTEGER, memory_clock_max_mhz),
    FIELD("gpu.driver_version", FIELD_VERSION, driver_version),
    FIELD("gpu.cuda_runtime_version", FIELD_VERSION, runtime_version),
    FIELD("gpu.cublas_version", FIELD_VERSION, cublas_version),
    FIELD("gpu.code_path", FIELD_TEXT, code_path),
    FIELD("gpu.code_path_why", FIELD_TEXT, code_path_why),
    FIELD("gpu.built_archs", FIELD_TEXT, built_archs),
    FIELD("gpu.gemm_dispatch", FIELD_TEXT, gemm_dispatch),
    FIELD("ceilings.copy_gbps", FIELD_REAL, copy_gbps),
    FIELD("ceilings.fp16_gemm_8192_tflops", FIELD_REAL, fp16_tflops),
    FIELD("method.timing", FIELD_TEXT, timing),
    FIELD("method.injected_slowdown", FIELD_TEXT, injected),
    FIELD("method.min_samples", FIELD_INTEGER, min_samples),
    FIELD("method.max_samples", FIELD_INTEGER, max_samples),
    FIELD("method.max_noise_pct", FIELD_REAL, max_noise_pct),
    FIELD("method.time_budget_ms", FIELD_REAL, time_budget_ms),
    FIELD("method.min_time_ms", FIELD_REAL, min_time_ms),
    FIELD("method.l2_flushed", FIELD_FLAG, l2_flushed),
    FIELD("method.l2_flush_bytes", FIELD_INTEGER, l2_flush_bytes),
    FIELD("method.seed", FIELD_SEED, seed),
    FIELD("rows.planned", FIELD_INTEGER, rows_planned),
    FIELD("rows.done", FIELD_INTEGER, rows_done),
    FIELD("rows.ok", FIELD_INTEGER, rows_ok),
    FIELD("rows.fail", FIELD_INTEGER, rows_failed),
    FIELD("rows.skipped", FIELD_INTEGER, rows_skipped),
};
enum { FIELD_COUNT = sizeof fields / sizeof fields[0] };

void mx_run_info_clear(mx_run_info *info) {
    memset(info, 0, sizeof *info);
    for (int f = 0; f < FIELD_COUNT; f++) {
        char *member = (char *)info + fields[f].offset;
        if (fields[f].kind == FIELD_INTEGER || fields[f].kind == FIELD_VERSION)
            *(int64_t *)member = -1;
        if (fields[f].kind == FIELD_REAL) *(double *)member = NAN;
        if (fields[f].kind == FIELD_FLAG) *(int *)member = -1;
    }
}

/* The object that holds path's last key (created on the way when create), and that key. */
static cJSON *parent_of(cJSON *root, const char *path, bool create, const char **key) {
    const char *dot = strchr(path, '.');
    *key = dot ? dot + 1 : path;
    if (!dot) return root;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(dot - path), path);
    cJSON *parent = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!parent && create) parent = cJSON_AddObjectToObject(root, name);
    return cJSON_IsObject(parent) ? parent : NULL;
}

/* The field's value as cJSON, null when unknown; text as valid UTF-8 (invalid bytes become
 * U+FFFD, so that the file is always valid JSON). */
static cJSON *field_value(const run_field *field, const mx_run_info *info) {
    const char *member = (const char *)info + field->offset;
    switch (field->kind) {
    case FIELD_TEXT: {
        if (!member[0]) return cJSON_CreateNull();
        mx_text text = {0};
        mx_text_append_utf8(&text, member);
        cJSON *value = text.failed ? NULL : cJSON_CreateString(mx_text_get(&text));
        mx_text_free(&text);
        return value;
    }
    case FIELD_INTEGER:
    case FIELD_VERSION: {
        int64_t number = *(const int64_t *)member;
        return number < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)number);
    }
    case FIELD_REAL: /* cJSON writes NaN and infinities as null */
        return cJSON_CreateNumber(*(const double *)member);
    case FIELD_FLAG: {
        int flag = *(const int *)member;
        return flag < 0 ? cJSON_CreateNull() : cJSON_CreateBool(flag);
    }
    case FIELD_SEED: { /* every digit of a 64-bit seed, which a double would round */
        char digits[32];
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)*(const uint64_t *)member);
        return cJSON_CreateRaw(digits);
    }
    }
    return NULL;
}

bool mx_run_info_save(const mx_run_info *info, const char *path, char *error, size_t error_size) {
    cJSON *root = cJSON_CreateObject();
    bool built = root != NULL;
    for (int f = 0; built && f < FIELD_COUNT; f++) {
        const char *key;
        cJSON *parent = parent_of(root, fields[f].path, true, &key);
        cJSON *value = parent ? field_value(&fields[f], info) : NULL;
        built = value && cJSON_AddItemToObject(parent, key, value);
        if (!built) cJSON_Delete(value);
    }
    char *text = built ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(error, error_size, "out of memory writing %s", path);
        return false;
    }
    mx_text file = {0};
    mx_text_printf(&file, "%s\n", text);
    cJSON_free(text);
    bool saved = !file.failed &&
                 mx_write_file_atomic(path, mx_text_get(&file), file.length, error, error_size);
    if (file.failed) snprintf(error, error_size, "out of memory writing %s", path);
    mx_text_free(&file);
    return saved;
}

/* One field from the document; what is absent, null or of another type stays unknown. */
static void read_field(const run_field *field, cJSON *root, mx_run_info *info) {
    const char *key;
    const cJSON *parent = parent_of(root, field->path, false, &key);
    const cJSON *value = parent ? cJSON_GetObjectItemCaseSensitive(parent, key) : NULL;
    char *member = (char *)info + field->offset;
    double number = cJSON_IsNumber(value) ? value->valuedouble : NAN;
    switch (field->kind) {
    case FIELD_TEXT:
        if (cJSON_IsString(value)) snprintf(member, field->size, "%s", value->valuestring);
        break;
    case FIELD_INTEGER: /* exact in a double: below 2^53 */
    case FIELD_VERSION:
        if (number >= 0 && number < (field->kind == FIELD_VERSION ? 1e7 : 9007199254740992.0) &&
            number == floor(number))
            *(int64_t *)member = (int64_t)number;
        break;
    case FIELD_REAL:
        *(double *)member = number;
        break;
    case FIELD_FLAG:
        if (cJSON_IsBool(value)) *(int *)member = cJSON_IsTrue(value);
        break;
    case FIELD_SEED:
        if (number >= 0 && number < 1.8e19) *(uint64_t *)member = (uint64_t)number;
        break;
    }
}

bool mx_run_info_parse(const char *name, const char *text, size_t size, mx_run_info *info,
                       char *error, size_t error_size) {
    mx_run_info_clear(info);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, false);
    if (root && end) { /* only blanks may follow the value */
        while (end < text + size && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end < text + size) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    bool ok = cJSON_IsObject(root);
    if (!ok) {
        const char *at = root || !end ? text : end;
        int line = 1;
        for (const char *c = text; c < at && c < text + size; c++) line += *c == '\n';
        snprintf(error, error_size, "%s:%d: %s", name, line,
                 root ? "expected a JSON object" : "malformed JSON");
    }
    for (int f = 0; ok && f < FIELD_COUNT; f++) read_field(&fields[f], root, info);
    cJSON_Delete(root);
    return ok;
}

bool mx_run_info_read(const char *path, mx_run_info *info, char *error, size_t error_size) {
    size_t size;
    char why[256];
    char *content = mx_read_whole_file(path, &size, why, sizeof why);
    if (!content) {
        mx_run_info_clear(info);
        snprintf(error, error_size, "%s: %s", path, why);
        return false;
    }
    bool ok = mx_run_info_parse(path, content, size, info, error, error_size);
    free(content);
    return ok;
}

void mx_run_info_caption(const mx_run_info *info, char *text, size_t size) {
    snprintf(text, size, "%s, %.10s, commit %.7s%s", info->gpu_name[0] ? info->gpu_name : "GPU ?",
             info->start_time[0] ? info->start_time : "date ?",
             info->git_commit[0] ? info->git_commit : "?", info->git_dirty == 1 ? " (dirty)" : "");
}
