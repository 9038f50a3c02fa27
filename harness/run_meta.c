/* run.json read back (run_meta.h). */
#include "run_meta.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
/* A small JSON reader that flattens the document into "a.b.c" -> text leaves. */

typedef struct {
    char path[128];
    char *value; /* the string's text, a number's or literal's spelling; NULL for null */
} json_leaf;

typedef struct {
    const char *at, *file;
    int line;
    json_leaf *leaves;
    int count, capacity;
    char error[256];
} json_reader;

static bool json_fail(json_reader *r, const char *what) {
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s:%d: %s", r->file, r->line, what);
    return false;
}

static void json_space(json_reader *r) {
    for (; *r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'; r->at++)
        r->line += *r->at == '\n';
}

static bool json_add_leaf(json_reader *r, const char *path, const char *value, size_t length) {
    if (r->count == r->capacity) {
        int capacity = r->capacity ? 2 * r->capacity : 64;
        json_leaf *leaves = realloc(r->leaves, sizeof *leaves * (size_t)capacity);
        if (!leaves) return json_fail(r, "out of memory");
        r->leaves = leaves;
        r->capacity = capacity;
    }
    json_leaf *leaf = &r->leaves[r->count];
    snprintf(leaf->path, sizeof leaf->path, "%s", path);
    leaf->value = NULL;
    if (value) {
        leaf->value = malloc(length + 1);
        if (!leaf->value) return json_fail(r, "out of memory");
        memcpy(leaf->value, value, length);
        leaf->value[length] = '\0';
    }
    r->count++;
    return true;
}

static void utf8_encode(mx_text *out, unsigned code) {
    char bytes[4];
    size_t count;
    if (code < 0x80) {
        bytes[0] = (char)code, count = 1;
    } else if (code < 0x800) {
        bytes[0] = (char)(0xC0 | code >> 6), bytes[1] = (char)(0x80 | (code & 0x3F)), count = 2;
    } else if (code < 0x10000) {
        bytes[0] = (char)(0xE0 | code >> 12), bytes[1] = (char)(0x80 | (code >> 6 & 0x3F));
        bytes[2] = (char)(0x80 | (code & 0x3F)), count = 3;
    } else {
        bytes[0] = (char)(0xF0 | code >> 18), bytes[1] = (char)(0x80 | (code >> 12 & 0x3F));
        bytes[2] = (char)(0x80 | (code >> 6 & 0x3F)), bytes[3] = (char)(0x80 | (code & 0x3F));
        count = 4;
    }
    mx_text_append(out, bytes, count);
}

static bool json_hex4(json_reader *r, unsigned *code) {
    *code = 0;
    for (int i = 0; i < 4; i++, r->at++) {
        char c = *r->at;
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0) return json_fail(r, "bad \\u escape in a string");
        *code = *code * 16 + (unsigned)digit;
    }
    return true;
}

/* r->at is on the opening quote. */
static bool json_string(json_reader *r, mx_text *out) {
    r->at++;
    for (;;) {
        char c = *r->at;
        if (c == '\0' || c == '\n') return json_fail(r, "unterminated string");
        r->at++;
        if (c == '"') return !out->failed || json_fail(r, "out of memory");
        if ((unsigned char)c < 0x20) return json_fail(r, "control character in a string");
        if (c != '\\') {
            mx_text_append(out, &c, 1);
            continue;
        }
        char escape = *r->at++;
        static const char names[] = "\"\\/bfnrt", values[] = "\"\\/\b\f\n\r\t";
        const char *named = escape ? strchr(names, escape) : NULL;
        if (named) {
            mx_text_append(out, &values[named - names], 1);
            continue;
        }
        unsigned code;
        if (escape != 'u' || !json_hex4(r, &code)) return json_fail(r, "bad escape in a string");
        if (code >= 0xD800 && code < 0xDC00 && r->at[0] == '\\' && r->at[1] == 'u') {
            r->at += 2;
            unsigned low;
            if (!json_hex4(r, &low)) return false;
            code = low >= 0xDC00 && low < 0xE000
                       ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                       : 0xFFFD;
        } else if (code >= 0xD800 && code < 0xE000) {
            code = 0xFFFD;
        }
        utf8_encode(out, code);
    }
}

static bool json_value(json_reader *r, const char *path, int depth);

/* Objects and arrays: members or elements until the closing bracket. */
static bool json_container(json_reader *r, const char *path, int depth, char close) {
    r->at++;
    json_space(r);
    if (*r->at == close) {
        r->at++;
        return true;
    }
    for (int index = 0;; index++) {
        char child[128];
        json_space(r);
        if (close == '}') {
            mx_text key = {0};
            if (*r->at != '"') return json_fail(r, "expected a member name in double quotes");
            bool ok = json_string(r, &key);
            snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "." : "", mx_text_get(&key));
            mx_text_free(&key);
            json_space(r);
            if (!ok || *r->at != ':') return ok && json_fail(r, "expected ':' after a name");
            r->at++;
        } else {
            snprintf(child, sizeof child, "%s[%d]", path, index);
        }
        if (!json_value(r, child, depth + 1)) return false;
        json_space(r);
        if (*r->at == ',') {
            r->at++;
        } else if (*r->at == close) {
            r->at++;
            return true;
        } else {
            return json_fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
}

static bool json_value(json_reader *r, const char *path, int depth) {
    if (depth > 32) return json_fail(r, "nested too deeply");
    json_space(r);
    char c = *r->at;
    if (c == '{' || c == '[') return json_container(r, path, depth, c == '{' ? '}' : ']');
    if (c == '"') {
        mx_text value = {0};
        bool ok =
            json_string(r, &value) && json_add_leaf(r, path, mx_text_get(&value), value.length);
        mx_text_free(&value);
        return ok;
    }
    static const char *const literals[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t length = strlen(literals[i]);
        if (strncmp(r->at, literals[i], length) == 0) {
            r->at += length;
            return json_add_leaf(r, path, i < 2 ? literals[i] : NULL, length);
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        strtod(r->at, &end);
        bool ok = json_add_leaf(r, path, r->at, (size_t)(end - r->at));
        r->at = end;
        return ok;
    }
    return json_fail(r, c ? "expected a value" : "unexpected end of file");
}

static const char *json_get(const json_reader *r, const char *path) {
    for (int i = 0; i < r->count; i++)
        if (strcmp(r->leaves[i].path, path) == 0) return r->leaves[i].value;
    return NULL;
}

/* Where each field of mx_run_meta is in run.json (harness/run_info.c writes it). */
typedef enum { META_TEXT, META_NUMBER, META_VERSION, META_FLAG } meta_kind;

typedef struct {
    const char *path;
    meta_kind kind;
    size_t offset, size;
} meta_field;

#define META(path, kind, field)                                                                    \
    { path, kind, offsetof(mx_run_meta, field), sizeof(((mx_run_meta *)0)->field) }

static const meta_field meta_fields[] = {
    META("run_id", META_TEXT, run_id),
    META("status", META_TEXT, status),
    META("suite", META_TEXT, suite),
    META("command_line", META_TEXT, command_line),
    META("hostname", META_TEXT, hostname),
    META("start_time", META_TEXT, start_time),
    META("end_time", META_TEXT, end_time),
    META("git.commit", META_TEXT, git_commit),
    META("git.dirty", META_FLAG, git_dirty),
    META("gpu.name", META_TEXT, gpu_name),
    META("gpu.uuid", META_TEXT, gpu_uuid),
    META("gpu.compute_capability", META_TEXT, compute_capability),
    META("gpu.sm_count", META_NUMBER, sm_count),
    META("gpu.l2_bytes", META_NUMBER, l2_bytes),
    META("gpu.memory_bytes", META_NUMBER, memory_bytes),
    META("gpu.sm_clock_max_mhz", META_NUMBER, sm_clock_max_mhz),
    META("gpu.sm_clock_start_mhz", META_NUMBER, sm_clock_start_mhz),
    META("gpu.memory_clock_max_mhz", META_NUMBER, memory_clock_max_mhz),
    META("gpu.driver_version", META_VERSION, driver_version),
    META("gpu.cuda_runtime_version", META_VERSION, runtime_version),
    META("gpu.cublas_version", META_VERSION, cublas_version),
    META("gpu.code_path", META_TEXT, code_path),
    META("gpu.code_path_why", META_TEXT, code_path_why),
    META("gpu.built_archs", META_TEXT, built_archs),
    META("ceilings.copy_gbps", META_NUMBER, copy_gbps),
    META("ceilings.fp16_gemm_8192_tflops", META_NUMBER, fp16_tflops),
    META("method.min_samples", META_NUMBER, min_samples),
    META("method.max_samples", META_NUMBER, max_samples),
    META("method.max_noise_pct", META_NUMBER, max_noise_pct),
    META("method.time_budget_ms", META_NUMBER, time_budget_ms),
    META("method.l2_flushed", META_FLAG, l2_flushed),
    META("method.l2_flush_bytes", META_NUMBER, l2_flush_bytes),
    META("method.seed", META_NUMBER, seed),
};

/* Fills every field from the leaves; what is absent (or null) reads unknown. */
static void fill_meta(const json_reader *r, mx_run_meta *meta) {
    for (size_t i = 0; i < sizeof meta_fields / sizeof meta_fields[0]; i++) {
        const meta_field *field = &meta_fields[i];
        const char *value = json_get(r, field->path);
        char *target = (char *)meta + field->offset, *end = NULL;
        double number = value ? strtod(value, &end) : NAN;
        if (!value || end == value || *end != '\0') number = NAN;
        switch (field->kind) {
        case META_TEXT:
            snprintf(target, field->size, "%s", value ? value : "");
            break;
        case META_NUMBER:
            *(double *)target = number;
            break;
        case META_VERSION:
            *(int *)target = isfinite(number) ? (int)number : 0;
            break;
        case META_FLAG:
            *(int *)target = value && strcmp(value, "true") == 0    ? 1
                             : value && strcmp(value, "false") == 0 ? 0
                                                                    : -1;
            break;
        }
    }
}

bool mx_run_meta_read(const char *path, mx_run_meta *meta, char *error, size_t error_size) {
    json_reader r = {.file = path, .line = 1};
    char *content = mx_read_whole_file(path, NULL);
    bool ok = content != NULL;
    if (!ok) {
        snprintf(error, error_size, "%s: %s", path, strerror(errno));
    } else {
        r.at = content;
        ok = json_value(&r, "", 0);
        json_space(&r);
        if (ok && *r.at) ok = json_fail(&r, "text after the JSON value");
        if (!ok) snprintf(error, error_size, "%s", r.error);
    }
    memset(meta, 0, sizeof *meta);
    int leaves = r.count;
    if (!ok) r.count = 0; /* a broken file says nothing */
    fill_meta(&r, meta);
    for (int i = 0; i < leaves; i++) free(r.leaves[i].value);
    free(r.leaves);
    free(content);
    return ok;
}

void mx_run_meta_caption(const mx_run_meta *meta, char *text_out, size_t size) {
    snprintf(text_out, size, "%s, %.10s, commit %.7s%s",
             meta->gpu_name[0] ? meta->gpu_name : "GPU ?",
             meta->start_time[0] ? meta->start_time : "date ?",
             meta->git_commit[0] ? meta->git_commit : "?", meta->git_dirty == 1 ? " (dirty)" : "");
}
