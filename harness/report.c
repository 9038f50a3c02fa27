/* `mxbench report RUN_DIR`: loads results.csv (and run.json), groups the rows into problems (one
 * shape, M, dtype and distribution, its FP16 reference and MXFP4 variants), judges them against
 * the targets of DESIGN.md §7 from one table of targets, writes the plot data and draws the plots
 * with gnuplot (the scripts in plots/), and writes report.md and report.html from one document
 * builder. */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kernels/format.h"
#include "model.h"
#include "schema.h"
#include "table.h"
#include "targets.h"
#include "variants.h"

#ifndef MX_SOURCE_DIR
#define MX_SOURCE_DIR "."
#endif

extern char **environ;

#define THROUGHPUT_LARGE_M 1024 /* rows drawn in the TFLOP/s panel */
#define MAX_PANELS         16   /* shapes drawn in the per-shape plots */
#define WORST_SHOWN        5
#define MIB                (1024.0 * 1024.0)

// ---- text buffers

typedef struct {
    char *data;
    size_t length, capacity;
    bool failed; /* out of memory: the text is incomplete */
} text;

static void text_append(text *t, const char *bytes, size_t count) {
    if (t->failed) return;
    if (t->length + count + 1 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 4096;
        while (t->length + count + 1 > capacity) capacity *= 2;
        char *data = realloc(t->data, capacity);
        if (!data) {
            t->failed = true;
            return;
        }
        t->data = data;
        t->capacity = capacity;
    }
    memcpy(t->data + t->length, bytes, count);
    t->length += count;
    t->data[t->length] = '\0';
}

static void text_vprintf(text *t, const char *format, va_list args) {
    va_list copy;
    va_copy(copy, args);
    char small[512];
    int length = vsnprintf(small, sizeof small, format, args);
    if (length < 0) {
        t->failed = true;
    } else if ((size_t)length < sizeof small) {
        text_append(t, small, (size_t)length);
    } else {
        char *large = malloc((size_t)length + 1);
        if (large) {
            vsnprintf(large, (size_t)length + 1, format, copy);
            text_append(t, large, (size_t)length);
        }
        t->failed |= large == NULL;
        free(large);
    }
    va_end(copy);
}

static void text_printf(text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(text *t, const char *format, ...) {
    va_list args;
    va_start(args, format);
    text_vprintf(t, format, args);
    va_end(args);
}

static const char *text_get(const text *t) {
    return t->data ? t->data : "";
}

static void text_free(text *t) {
    free(t->data);
    *t = (text){0};
}

/* value in format, or "?" when it is unknown (NaN). */
static void format_known(char *out, size_t size, double value, const char *format) {
    if (isfinite(value))
        snprintf(out, size, format, value);
    else
        snprintf(out, size, "?");
}

/* The whole file in a new buffer (NUL-terminated); NULL with errno set on failure. */
static char *read_whole_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    text content = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0) text_append(&content, chunk, got);
    bool failed = ferror(file) || content.failed;
    fclose(file);
    if (failed) {
        text_free(&content);
        errno = EIO;
        return NULL;
    }
    if (size) *size = content.length;
    return content.data ? content.data : calloc(1, 1);
}

// ---- run.json: a small JSON reader that flattens the document into "a.b.c" -> text leaves

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

static void utf8_encode(text *out, unsigned code) {
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
    text_append(out, bytes, count);
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
static bool json_string(json_reader *r, text *out) {
    r->at++;
    for (;;) {
        char c = *r->at;
        if (c == '\0' || c == '\n') return json_fail(r, "unterminated string");
        r->at++;
        if (c == '"') return !out->failed || json_fail(r, "out of memory");
        if ((unsigned char)c < 0x20) return json_fail(r, "control character in a string");
        if (c != '\\') {
            text_append(out, &c, 1);
            continue;
        }
        char escape = *r->at++;
        static const char names[] = "\"\\/bfnrt", values[] = "\"\\/\b\f\n\r\t";
        const char *named = escape ? strchr(names, escape) : NULL;
        if (named) {
            text_append(out, &values[named - names], 1);
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
            text key = {0};
            if (*r->at != '"') return json_fail(r, "expected a member name in double quotes");
            bool ok = json_string(r, &key);
            snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "." : "", text_get(&key));
            text_free(&key);
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
        text value = {0};
        bool ok = json_string(r, &value) && json_add_leaf(r, path, text_get(&value), value.length);
        text_free(&value);
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
    char *content = read_whole_file(path, NULL);
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

// ---- gnuplot

const char mx_gnuplot_advice[] =
    "install gnuplot with `sudo apt-get install -y gnuplot-nox` (or `make report RUN=<run "
    "folder>`, "
    "which installs it through `.ci/deps.sh ensure bench` and reruns this command); on a GPU box "
    "without package access, run `bash .ci/deps.sh bundle bench` on a Debian/Ubuntu machine that "
    "has it, copy its .deps/ folder next to this checkout's Makefile and run `make report "
    "RUN=<run folder>`";

static bool is_executable_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode) && access(path, X_OK) == 0;
}

bool mx_gnuplot_find(mx_gnuplot *gnuplot) {
    static const char *const names[] = {"gnuplot", "gnuplot-nox"};
    memset(gnuplot, 0, sizeof *gnuplot);
    const char *search = getenv("PATH");
    for (int n = 0; n < 2; n++) {
        for (const char *dir = search; dir && *dir;) {
            const char *end = strchr(dir, ':');
            size_t length = end ? (size_t)(end - dir) : strlen(dir);
            if (length > 0 && length < sizeof gnuplot->path - 32) {
                snprintf(gnuplot->path, sizeof gnuplot->path, "%.*s/%s", (int)length, dir,
                         names[n]);
                if (is_executable_file(gnuplot->path)) return true;
            }
            dir = end ? end + 1 : dir + length;
        }
    }
    for (int n = 0; n < 2; n++) {
        snprintf(gnuplot->path, sizeof gnuplot->path, "%s/.deps/root/usr/bin/%s", MX_SOURCE_DIR,
                 names[n]);
        if (is_executable_file(gnuplot->path)) {
            snprintf(gnuplot->bundle, sizeof gnuplot->bundle, "%s/.deps/root", MX_SOURCE_DIR);
            return true;
        }
    }
    gnuplot->path[0] = '\0';
    return false;
}

/* A bundled gnuplot loads its libraries from the bundle: every library folder of it and the
 * folders directly inside them (some libraries live in subfolders), then the caller's path. */
static void bundle_library_path(const char *bundle, text *path) {
    static const char *const folders[] = {"usr/lib/x86_64-linux-gnu",
                                          "lib/x86_64-linux-gnu",
                                          "usr/lib/aarch64-linux-gnu",
                                          "lib/aarch64-linux-gnu",
                                          "usr/lib",
                                          "lib"};
    text_printf(path, "LD_LIBRARY_PATH=");
    size_t empty = path->length;
    for (size_t f = 0; f < sizeof folders / sizeof folders[0]; f++) {
        text folder = {0};
        text_printf(&folder, "%s/%s", bundle, folders[f]);
        DIR *dir = opendir(text_get(&folder));
        if (dir) {
            text_printf(path, "%s%s", path->length > empty ? ":" : "", text_get(&folder));
            for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
                if (entry->d_name[0] == '.') continue;
                text sub = {0};
                text_printf(&sub, "%s/%s", text_get(&folder), entry->d_name);
                struct stat info;
                if (stat(text_get(&sub), &info) == 0 && S_ISDIR(info.st_mode))
                    text_printf(path, ":%s", text_get(&sub));
                text_free(&sub);
            }
            closedir(dir);
        }
        text_free(&folder);
    }
    const char *inherited = getenv("LD_LIBRARY_PATH");
    if (inherited && *inherited) text_printf(path, ":%s", inherited);
}

/* The caller's environment, plus the library and font paths of a bundled gnuplot. The strings
 * the result points to live in the caller's environ or in extra (freed by the caller). */
static char **plot_environment(const mx_gnuplot *gnuplot, text *library_path, text *fonts) {
    size_t count = 0;
    while (environ[count]) count++;
    char **env = calloc(count + 3, sizeof *env);
    if (!env) return NULL;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        bool replaced = gnuplot->bundle[0] && (strncmp(environ[i], "LD_LIBRARY_PATH=", 16) == 0 ||
                                               strncmp(environ[i], "FONTCONFIG_FILE=", 16) == 0);
        if (!replaced) env[used++] = environ[i];
    }
    if (gnuplot->bundle[0]) {
        bundle_library_path(gnuplot->bundle, library_path);
        env[used++] = library_path->data;
        /* .ci/deps.sh writes a font configuration that adds the bundle's fonts. */
        text_printf(fonts, "FONTCONFIG_FILE=%s/etc/fonts/mxbench-fonts.conf", gnuplot->bundle);
        if (access(text_get(fonts) + 16, R_OK) == 0) env[used++] = fonts->data;
    }
    return env;
}

static void append_gnuplot_string(text *command, const char *name, const char *value) {
    text_printf(command, "%s%s='", command->length ? "; " : "", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            text_append(command, "''", 2);
        else
            text_append(command, *p == '\n' || *p == '\r' ? " " : p, 1);
    }
    text_append(command, "'", 1);
}

/* Runs argv with stdin and stdout on /dev/null, collecting stderr; returns the exit status, or
 * -1 (with why in output) when it could not run or died of a signal. */
static int run_collecting_stderr(char *const *argv, char **env, text *output) {
    int pipe_ends[2];
    if (pipe(pipe_ends) != 0) {
        text_printf(output, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], 2);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[1]);
    pid_t pid;
    int spawned = posix_spawn(&pid, argv[0], &actions, NULL, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_ends[1]);
    if (spawned != 0) {
        close(pipe_ends[0]);
        text_printf(output, "cannot start %s: %s", argv[0], strerror(spawned));
        return -1;
    }
    char chunk[4096];
    ssize_t got;
    while ((got = read(pipe_ends[0], chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        if (output->length < 65536) text_append(output, chunk, (size_t)got);
    }
    close(pipe_ends[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    text_printf(output, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* The image gnuplot wrote starts like one: the PNG signature, or an SVG/XML opening (a terminal
 * that fails half-way, e.g. without fonts, can leave other bytes behind). */
static bool image_is_valid(const char *path, const char *format) {
    char head[64] = {0};
    FILE *file = fopen(path, "rb");
    size_t got = file ? fread(head, 1, sizeof head - 1, file) : 0;
    if (file) fclose(file);
    if (strcmp(format, "png") == 0) return got >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
    return got > 0 && (strstr(head, "<svg") || strstr(head, "<?xml"));
}

bool mx_plot_render(const mx_gnuplot *gnuplot, const char *script,
                    const mx_plot_variable *variables, int variable_count, const char *out_base,
                    char *error, size_t error_size) {
    static const char *const formats[] = {"png", "svg"};
    text script_path = {0}, temp_base = {0}, command = {0}, output = {0}, library_path = {0},
         fonts = {0};
    if (strchr(script, '/'))
        text_printf(&script_path, "%s", script);
    else
        text_printf(&script_path, "%s/plots/%s", MX_SOURCE_DIR, script);
    text_printf(&temp_base, "%s.tmp-%ld", out_base, (long)getpid());
    append_gnuplot_string(&command, "plotdir", MX_SOURCE_DIR "/plots");
    append_gnuplot_string(&command, "out", text_get(&temp_base));
    append_gnuplot_string(&command, "formats", "png svg");
    for (int i = 0; i < variable_count; i++)
        append_gnuplot_string(&command, variables[i].name, variables[i].value);
    char **env = plot_environment(gnuplot, &library_path, &fonts);
    bool ok = false;
    if (access(text_get(&script_path), R_OK) != 0) {
        snprintf(error, error_size, "plot script %s: %s", text_get(&script_path), strerror(errno));
    } else if (!env || command.failed || temp_base.failed || library_path.failed) {
        snprintf(error, error_size, "out of memory running gnuplot");
    } else {
        char *argv[] = {(char *)gnuplot->path, "-e", command.data, script_path.data, NULL};
        int status = run_collecting_stderr(argv, env, &output);
        const char *tail = text_get(&output);
        if (output.length > 800) tail += output.length - 800;
        ok = status == 0;
        for (int f = 0; f < 2 && ok; f++) {
            text made = {0};
            text_printf(&made, "%s.%s", text_get(&temp_base), formats[f]);
            ok = image_is_valid(text_get(&made), formats[f]);
            text_free(&made);
        }
        if (!ok)
            snprintf(error, error_size, "%s %s: %s%d%s%s", gnuplot->path, text_get(&script_path),
                     status == 0 ? "wrote no valid image although exit status " : "exit status ",
                     status, *tail ? ": " : "", tail);
    }
    for (int f = 0; f < 2; f++) {
        text made = {0}, final = {0};
        text_printf(&made, "%s.%s", text_get(&temp_base), formats[f]);
        text_printf(&final, "%s.%s", out_base, formats[f]);
        if (ok && rename(text_get(&made), text_get(&final)) != 0) {
            snprintf(error, error_size, "renaming %s to %s: %s", text_get(&made), text_get(&final),
                     strerror(errno));
            ok = false;
        }
        unlink(text_get(&made));
        text_free(&made);
        text_free(&final);
    }
    free(env);
    text_free(&script_path);
    text_free(&temp_base);
    text_free(&command);
    text_free(&output);
    text_free(&library_path);
    text_free(&fonts);
    return ok;
}

// ---- results.csv

typedef struct {
    const char *op, *variant, *dtype, *dist, *shape_name, *status, *note, *throttled;
    int64_t m, n, k, batch, experts, topk, seed, kv_heads;
    double time_us, fp16_time_us, gbps, tflops, pct_peak_bw, pct_peak_flops, rel_vs_fp16,
        max_rel_vs_fp16, rel_vs_exact, quant_rel, sqnr_db, nonfinite, weight_bytes_fp16,
        weight_bytes_mxfp4, workspace_bytes, vram_savings_pct, noise_pct, sm_clock_mhz;
    int line;    /* where the row starts in results.csv */
    int problem; /* index in report_data.problems */
    int next;    /* the next row of the same problem, -1 after the last */
    bool measured, reference;
} result_row;

/* Where each column the report reads goes in result_row; its type, whether a file must have it,
 * its least value and the value of an empty cell come from schema.c. */
typedef struct {
    const char *name;
    size_t offset;
} result_column;

#define FIELD(name, field)                                                                         \
    { name, offsetof(result_row, field) }

static const result_column result_columns[] = {
    FIELD("op", op),
    FIELD("variant", variant),
    FIELD("dtype", dtype),
    FIELD("dist", dist),
    FIELD("M", m),
    FIELD("N", n),
    FIELD("K", k),
    FIELD("experts", experts),
    FIELD("topk", topk),
    FIELD("time_us", time_us),
    FIELD("noise_pct", noise_pct),
    FIELD("fp16_time_us", fp16_time_us),
    FIELD("gbps", gbps),
    FIELD("tflops", tflops),
    FIELD("pct_peak_bw", pct_peak_bw),
    FIELD("pct_peak_flops", pct_peak_flops),
    FIELD("rel_err_vs_fp16", rel_vs_fp16),
    FIELD("max_rel_err_vs_fp16", max_rel_vs_fp16),
    FIELD("rel_err_vs_exact", rel_vs_exact),
    FIELD("quant_rel_err", quant_rel),
    FIELD("sqnr_db", sqnr_db),
    FIELD("nonfinite", nonfinite),
    FIELD("weight_bytes_fp16", weight_bytes_fp16),
    FIELD("weight_bytes_mxfp4", weight_bytes_mxfp4),
    FIELD("workspace_bytes", workspace_bytes),
    FIELD("vram_savings_pct", vram_savings_pct),
    FIELD("status", status),
    FIELD("note", note),
    FIELD("batch", batch),
    FIELD("seed", seed),
    FIELD("kv_heads", kv_heads),
    FIELD("shape_name", shape_name),
    FIELD("throttled", throttled),
    FIELD("sm_clock_mhz", sm_clock_mhz),
};
enum { RESULT_COLUMN_COUNT = sizeof result_columns / sizeof result_columns[0] };

typedef struct {
    int first;     /* its first row; rows follow through result_row.next */
    int reference; /* the FP16 (cuBLAS) row, -1 if none */
    int best;      /* the fastest correct MXFP4 row that keeps no FP16 copy, -1 if none */
    int best_lean; /* the same among rows with no workspace at all, -1 if none */
    int series;    /* index in report_data.series */
    int mxfp4_rows;
    double reference_us; /* the FP16 time the overheads are against (NaN: none) */
} problem;

typedef struct {
    int first_problem;
    int panel; /* position in the per-shape plots, -1 when not drawn */
} series;

typedef struct {
    const char *run_dir;
    char results_path[1100], run_json_path[1100];
    mx_table *table;
    result_row *rows;
    int row_count;
    problem *problems;
    int problem_count;
    series *series;
    int series_count, panel_count;
    int *weights; /* a row of each distinct weight, in order of appearance */
    int weight_count;
    const char **variants; /* the order of variants.h's table, then unknown ones as they come */
    int variant_count;
    mx_run_meta meta;
    bool meta_read;
    char meta_error[1400], caption[512];
} report_data;

static bool is_number_text(const char *cell, double *value) {
    char *end;
    *value = strtod(cell, &end);
    return end != cell && *end == '\0';
}

static int count_newlines(const char *cell) {
    int count = 0;
    for (; *cell; cell++) count += *cell == '\n';
    return count;
}

/* Fills the rows from the table; false with "FILE:LINE: ..." for a cell the report cannot use. */
static bool parse_rows(report_data *d, char *error, size_t error_size) {
    const mx_table *t = d->table;
    const mx_column *schema[RESULT_COLUMN_COUNT];
    text missing = {0};
    for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
        schema[c] = mx_column_find(result_columns[c].name);
        if (schema[c]->required && mx_table_column_index(t, schema[c]->name) < 0)
            text_printf(&missing, "%s%s", missing.length ? ", " : "", schema[c]->name);
    }
    if (missing.length) {
        snprintf(error, error_size,
                 "%s: lacks the column%s %s, which the report needs (DESIGN.md §5 lists them)",
                 d->results_path, strchr(text_get(&missing), ',') ? "s" : "", text_get(&missing));
        text_free(&missing);
        return false;
    }
    d->row_count = (int)mx_table_row_count(t);
    d->rows = calloc((size_t)d->row_count + 1, sizeof *d->rows);
    if (!d->rows) {
        snprintf(error, error_size, "out of memory reading %s", d->results_path);
        return false;
    }
    int line = 2;
    for (int c = 0; c < mx_table_column_count(t); c++)
        line += count_newlines(mx_table_column_name(t, c));
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        row->line = line;
        line++;
        for (int c = 0; c < mx_table_column_count(t); c++)
            line += count_newlines(mx_table_cell(t, r, c));
        for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
            const mx_column *column = schema[c];
            const char *cell = mx_table_get(t, r, column->name);
            char *field = (char *)row + result_columns[c].offset;
            double value = NAN;
            bool empty = !cell || !cell[0];
            if (column->type == MX_COLUMN_TEXT || column->type == MX_COLUMN_FLAG) {
                *(const char **)field = cell ? cell : "";
                continue;
            }
            if (!empty && !is_number_text(cell, &value)) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not a number",
                         d->results_path, row->line, column->name, cell);
                return false;
            }
            if (column->type == MX_COLUMN_NUMBER) {
                *(double *)field = value;
                continue;
            }
            if (empty) value = (double)column->fallback;
            if (value != floor(value) || value < (double)column->minimum || value > 1e15) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not an integer >= %lld",
                         d->results_path, row->line, column->name, empty ? "" : cell,
                         (long long)column->minimum);
                return false;
            }
            *(int64_t *)field = (int64_t)value;
        }
        if (!row->variant[0] || !row->op[0]) {
            snprintf(error, error_size, "%s:%d: empty %s", d->results_path, row->line,
                     row->op[0] ? "variant" : "op");
            return false;
        }
        row->reference = mx_variant_traits_of(row->variant)->reference;
        row->measured = isfinite(row->time_us) && row->time_us > 0;
    }
    return true;
}

// ---- problems, series and weights

static bool same_weight(const result_row *a, const result_row *b) {
    return strcmp(a->op, b->op) == 0 && a->n == b->n && a->k == b->k && a->batch == b->batch &&
           a->experts == b->experts && a->topk == b->topk && a->kv_heads == b->kv_heads &&
           strcmp(a->shape_name, b->shape_name) == 0;
}

static bool same_series(const result_row *a, const result_row *b) {
    return same_weight(a, b) && strcmp(a->dtype, b->dtype) == 0 && strcmp(a->dist, b->dist) == 0;
}

static bool same_problem(const result_row *a, const result_row *b) {
    return same_series(a, b) && a->m == b->m && a->seed == b->seed;
}

static bool is_mxfp4(const result_row *row) {
    return !row->reference;
}

/* An MXFP4 variant that saves memory: it keeps no FP16 copy of the weights (variants.h). */
static bool saves_vram(const result_row *row) {
    return is_mxfp4(row) && !mx_variant_traits_of(row->variant)->fp16_copy;
}

/* A row whose time may stand for MXFP4 in the overhead target: correct output, and a variant
 * that does not keep an FP16 copy of the weights. */
static bool can_be_best(const result_row *row) {
    return saves_vram(row) && row->measured && strcmp(row->status, "ok") == 0 &&
           !(row->nonfinite > 0);
}

static void add_variant(report_data *d, const char *variant) {
    for (int v = 0; v < d->variant_count; v++)
        if (strcmp(d->variants[v], variant) == 0) return;
    d->variants[d->variant_count++] = variant;
}

static bool organise(report_data *d) {
    d->problems = calloc((size_t)d->row_count, sizeof *d->problems);
    d->series = calloc((size_t)d->row_count, sizeof *d->series);
    d->weights = calloc((size_t)d->row_count, sizeof *d->weights);
    d->variants = calloc((size_t)d->row_count + 1, sizeof *d->variants);
    int *last_row = calloc((size_t)d->row_count, sizeof *last_row);
    if (!d->problems || !d->series || !d->weights || !d->variants || !last_row) {
        free(last_row);
        return false;
    }
    int known_count;
    const mx_variant_traits *known = mx_variants(&known_count);
    for (int k = 0; k < known_count; k++)
        for (int r = 0; r < d->row_count; r++)
            if (strcmp(d->rows[r].variant, known[k].name) == 0) {
                add_variant(d, known[k].name);
                break;
            }
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        add_variant(d, row->variant);
        row->next = -1;
        int p = d->problem_count - 1; /* rows of a problem are usually together: look back */
        while (p >= 0 && !same_problem(&d->rows[d->problems[p].first], row)) p--;
        if (p < 0) {
            p = d->problem_count++;
            d->problems[p] =
                (problem){.first = r, .reference = -1, .best = -1, .best_lean = -1, .series = -1};
            int s = 0;
            while (s < d->series_count &&
                   !same_series(&d->rows[d->problems[d->series[s].first_problem].first], row))
                s++;
            if (s == d->series_count) {
                d->series[s] =
                    (series){.first_problem = p, .panel = s < MAX_PANELS ? d->panel_count++ : -1};
                d->series_count++;
            }
            d->problems[p].series = s;
            int w = 0;
            while (w < d->weight_count && !same_weight(&d->rows[d->weights[w]], row)) w++;
            if (w == d->weight_count) d->weights[d->weight_count++] = r;
        } else {
            d->rows[last_row[p]].next = r;
        }
        last_row[p] = r;
        row->problem = p;
        problem *pr = &d->problems[p];
        if (row->reference && pr->reference < 0) pr->reference = r;
        pr->mxfp4_rows += is_mxfp4(row);
        if (can_be_best(row) && (pr->best < 0 || row->time_us < d->rows[pr->best].time_us))
            pr->best = r;
        if (can_be_best(row) && row->workspace_bytes == 0 &&
            (pr->best_lean < 0 || row->time_us < d->rows[pr->best_lean].time_us))
            pr->best_lean = r;
    }
    free(last_row);
    for (int p = 0; p < d->problem_count; p++) {
        problem *pr = &d->problems[p];
        pr->reference_us = NAN;
        if (pr->reference >= 0 && d->rows[pr->reference].measured)
            pr->reference_us = d->rows[pr->reference].time_us;
        for (int r = pr->first; r >= 0 && !isfinite(pr->reference_us); r = d->rows[r].next)
            if (d->rows[r].fp16_time_us > 0) pr->reference_us = d->rows[r].fp16_time_us;
    }
    return true;
}

/* The row of variant in problem p, or NULL. */
static const result_row *variant_row(const report_data *d, int p, const char *variant) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (strcmp(d->rows[r].variant, variant) == 0) return &d->rows[r];
    return NULL;
}

/* "4096x4096", "gpt-oss.qkv 5120x2880", with batch and experts where they apply. */
static void describe_weight(const result_row *row, char *out, size_t size) {
    char extra[96] = "";
    if (row->batch > 1) snprintf(extra, sizeof extra, " batch %lld", (long long)row->batch);
    if (row->experts > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld experts top-%lld",
                 (long long)row->experts, (long long)row->topk);
    if (row->kv_heads > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld KV heads",
                 (long long)row->kv_heads);
    snprintf(out, size, "%s%s%lldx%lld%s", row->shape_name, row->shape_name[0] ? " " : "",
             (long long)row->n, (long long)row->k, extra);
}

/* "gemm 4096x4096 M=256 f16 range": what a problem is, in tables and on plot axes. */
static void describe_problem(const result_row *row, char *out, size_t size) {
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s M=%lld %s %s", row->op, weight, (long long)row->m, row->dtype,
             row->dist);
}

static void describe_series(const result_row *row, char *out, size_t size) {
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s %s %s", row->op, weight, row->dtype, row->dist);
}

// ---- targets (DESIGN.md §7)

typedef struct {
    int row; /* the row the figure belongs to */
    bool pass;
    double badness; /* larger is worse: the worst items come first */
    char figure[48], detail[224];
} target_item;

typedef struct {
    target_item *items;
    int count, capacity, passed;
    int not_judged;
    const char *not_judged_why;
    char name[128];      /* "overhead vs FP16 < +10 %", with targets.h's value */
    char judged_on[160]; /* what one item is */
} target_result;

typedef struct {
    void (*title)(target_result *t); /* name and judged_on from targets.h's values */
    const char *figure_name;
    const char *explanation; /* a paragraph; `code` and **bold** are kept */
    void (*collect)(const report_data *d, target_result *out);
    bool per_weight; /* an item is a weight shape, not a problem */
} target_def;

static target_item *add_item(target_result *t, int row, bool pass, double badness) {
    if (t->count == t->capacity) {
        int capacity = t->capacity ? 2 * t->capacity : 64;
        target_item *items = realloc(t->items, sizeof *items * (size_t)capacity);
        if (!items) return NULL;
        t->items = items;
        t->capacity = capacity;
    }
    target_item *item = &t->items[t->count++];
    /* A missing figure sorts with the worst (NaN would break the ordering). */
    *item = (target_item){.row = row, .pass = pass, .badness = isnan(badness) ? 1e29 : badness};
    t->passed += pass;
    return item;
}

static void not_judged(target_result *t, const char *why) {
    t->not_judged++;
    t->not_judged_why = why;
}

static int first_mxfp4_row(const report_data *d, int p) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (is_mxfp4(&d->rows[r])) return r;
    return -1;
}

/* The item of a per-problem target whose figure comes from the best MXFP4 row; NULL (after
 * recording why) when the problem cannot be judged. pass_of gets the figure. */
typedef bool (*figure_test)(double figure);

/* best: the problem's best row (problem.best, or best_lean where workspace is not allowed). */
static target_item *best_item(const report_data *d, int p, int best, target_result *t,
                              double figure, figure_test pass_of, double badness) {
    const problem *pr = &d->problems[p];
    if (!isfinite(pr->reference_us)) {
        not_judged(t, "the FP16 reference did not run");
        return NULL;
    }
    if (best < 0) {
        target_item *item = add_item(t, first_mxfp4_row(d, p), false, INFINITY);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "no result");
            snprintf(item->detail, sizeof item->detail,
                     "no MXFP4 variant that keeps no FP16 copy%s gave a correct timed result",
                     best == pr->best ? "" : " and needs no workspace");
        }
        return NULL;
    }
    target_item *item = add_item(t, best, pass_of(figure), badness);
    if (item)
        snprintf(item->detail, sizeof item->detail, "best: %s %.2f us vs FP16 %.2f us",
                 d->rows[best].variant, d->rows[best].time_us, pr->reference_us);
    return item;
}

static double row_us(const report_data *d, int r) {
    return r >= 0 ? d->rows[r].time_us : NAN;
}

static int64_t problem_m(const report_data *d, int p) {
    return d->rows[d->problems[p].first].m;
}

static void collect_overhead(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0) continue;
        double overhead = (row_us(d, pr->best) / pr->reference_us - 1.0) * 100.0;
        target_item *item =
            best_item(d, p, pr->best, t, overhead, mx_target_overhead_passes, overhead);
        if (item) snprintf(item->figure, sizeof item->figure, "%+.1f %%", overhead);
    }
}

static bool decode_passes(double speedup) {
    return speedup >= mx_targets.decode_speedup;
}

/* A weight-size column of problem p's rows (the first positive one), or fallback. */
static double weight_bytes(const report_data *d, int p, size_t field, double fallback) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next) {
        double bytes = *(const double *)((const char *)&d->rows[r] + field);
        if (bytes > 0) return bytes;
    }
    return fallback;
}

static double fp16_weight_bytes(const report_data *d, int p) {
    const result_row *row = &d->rows[d->problems[p].first];
    return weight_bytes(d, p, offsetof(result_row, weight_bytes_fp16),
                        2.0 * (double)row->n * (double)row->k * (double)row->batch);
}

/* Bytes the FP16 path reads and writes per call (its GB/s x its time): the weights for a GEMM,
 * only the looked-up rows of an embedding table or the routed experts of a MoE layer. */
static double fp16_bytes_moved(const report_data *d, int p) {
    int r = d->problems[p].reference;
    if (r >= 0 && isfinite(d->rows[r].gbps) && d->rows[r].gbps > 0 && d->rows[r].measured)
        return d->rows[r].gbps * d->rows[r].time_us * 1e3;
    return fp16_weight_bytes(d, p);
}

static void title_decode(target_result *t) {
    snprintf(t->name, sizeof t->name, "decode: MXFP4 >= %gx faster than FP16",
             mx_targets.decode_speedup);
    snprintf(t->judged_on, sizeof t->judged_on, "M <= %lld, FP16 weights >= %g MiB",
             (long long)mx_targets.decode_max_m, mx_targets.decode_min_fp16_bytes / MIB);
}

static void collect_decode(const report_data *d, target_result *t) {
    double min_bytes = mx_targets.decode_min_fp16_bytes;
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m) continue;
        if (fp16_weight_bytes(d, p) >= min_bytes && fp16_bytes_moved(d, p) < min_bytes) {
            not_judged(t, "the op reads only part of its weights per call (an embedding lookup)");
            continue;
        }
        if (fp16_weight_bytes(d, p) < min_bytes) continue;
        double speedup = pr->reference_us / row_us(d, pr->best);
        target_item *item = best_item(d, p, pr->best, t, speedup, decode_passes, -speedup);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", speedup);
    }
}

static bool bandwidth_passes(double pct) {
    return pct >= mx_targets.bandwidth_pct;
}

static void title_bandwidth(target_result *t) {
    snprintf(t->name, sizeof t->name, "bandwidth >= %g %% of copy (M <= %lld)",
             mx_targets.bandwidth_pct, (long long)mx_targets.decode_max_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant per problem, M <= %lld, MXFP4 weights >= %g MB",
             (long long)mx_targets.decode_max_m, mx_targets.bandwidth_min_mxfp4_bytes / 1e6);
}

static void collect_bandwidth(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double mxfp4_bytes = weight_bytes(d, p, offsetof(result_row, weight_bytes_mxfp4),
                                          fp16_weight_bytes(d, p) / 2.0 * MX_BYTES_PER_WEIGHT);
        if (pr->mxfp4_rows == 0 || problem_m(d, p) > mx_targets.decode_max_m ||
            mxfp4_bytes < mx_targets.bandwidth_min_mxfp4_bytes)
            continue;
        double pct = pr->best >= 0 ? d->rows[pr->best].pct_peak_bw : NAN;
        target_item *item = best_item(d, p, pr->best, t, pct, bandwidth_passes, -pct);
        if (item) {
            snprintf(item->figure, sizeof item->figure, "%.1f %%", pct);
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used, ", %.0f GB/s",
                     d->rows[pr->best].gbps);
        }
    }
}

/* The speed-up the medium-M target asks at M (0: M is not one of its token counts). */
static double medium_speedup(int64_t m) {
    for (int i = 0; i < 2; i++)
        if (m == mx_targets.medium_m[i]) return mx_targets.medium_speedup[i];
    return 0.0;
}

static void title_medium(target_result *t) {
    snprintf(t->name, sizeof t->name,
             "medium M: >= %gx faster than FP16 at M = %lld, >= %gx at M = %lld",
             mx_targets.medium_speedup[0], (long long)mx_targets.medium_m[0],
             mx_targets.medium_speedup[1], (long long)mx_targets.medium_m[1]);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem, M = %lld or %lld",
             (long long)mx_targets.medium_m[0], (long long)mx_targets.medium_m[1]);
}

/* The medium-M figure is the speed-up over the one its M needs: at least 1 passes. */
static bool margin_passes(double margin) {
    return margin >= 1.0;
}

static void collect_medium(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        double wanted = medium_speedup(problem_m(d, p));
        if (pr->mxfp4_rows == 0 || wanted <= 0.0) continue;
        double speedup = pr->reference_us / row_us(d, pr->best);
        /* the rule differs per M: judge the margin over the M's own speed-up */
        target_item *item =
            best_item(d, p, pr->best, t, speedup / wanted, margin_passes, -speedup / wanted);
        if (item)
            snprintf(item->figure, sizeof item->figure, "%.2fx (M = %lld needs %gx)", speedup,
                     (long long)problem_m(d, p), wanted);
    }
}

static bool prefill_passes(double ratio) {
    return ratio <= mx_targets.prefill_ratio;
}

static void title_prefill(target_result *t) {
    snprintf(t->name, sizeof t->name, "prefill <= %gx FP16 time (M >= %lld), no workspace",
             mx_targets.prefill_ratio, (long long)mx_targets.prefill_min_m);
    snprintf(t->judged_on, sizeof t->judged_on,
             "best MXFP4 variant without workspace per problem, M >= %lld",
             (long long)mx_targets.prefill_min_m);
}

static void collect_prefill(const report_data *d, target_result *t) {
    for (int p = 0; p < d->problem_count; p++) {
        const problem *pr = &d->problems[p];
        if (pr->mxfp4_rows == 0 || problem_m(d, p) < mx_targets.prefill_min_m) continue;
        double ratio = row_us(d, pr->best_lean) / pr->reference_us;
        target_item *item = best_item(d, p, pr->best_lean, t, ratio, prefill_passes, ratio);
        if (item) snprintf(item->figure, sizeof item->figure, "%.2fx", ratio);
    }
}

/* Every measured MXFP4 row against an error limit; non-finite outputs fail whatever the norm. */
static void collect_error(const report_data *d, target_result *t, size_t field, double limit,
                          const char *figure_format, double figure_scale) {
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!is_mxfp4(row)) continue;
        if (!row->measured) {
            not_judged(t, "skipped or failed before a result");
            continue;
        }
        double error = *(const double *)((const char *)row + field);
        bool nonfinite = row->nonfinite > 0;
        if (isnan(error) && !nonfinite) { /* composite ops have no FP64 reference at large sizes */
            not_judged(t, "no reference figure at this size");
            continue;
        }
        target_item *item =
            add_item(t, r, !nonfinite && error <= limit, nonfinite ? 1e12 + row->nonfinite : error);
        if (!item) return;
        if (nonfinite)
            snprintf(item->figure, sizeof item->figure, "%.0f non-finite", row->nonfinite);
        else
            snprintf(item->figure, sizeof item->figure, figure_format, error * figure_scale);
        const result_row *reference = d->problems[row->problem].reference >= 0
                                          ? &d->rows[d->problems[row->problem].reference]
                                          : NULL;
        if (nonfinite)
            snprintf(item->detail, sizeof item->detail,
                     "outputs non-finite where the exact result is finite");
        else if (isfinite(row->max_rel_vs_fp16))
            snprintf(item->detail, sizeof item->detail, "max elementwise vs FP16 %.3g %%",
                     row->max_rel_vs_fp16 * 100.0);
        if (reference && reference->nonfinite > 0) {
            size_t used = strlen(item->detail);
            snprintf(item->detail + used, sizeof item->detail - used,
                     "%sthe FP16 reference itself has %.0f non-finite outputs", used ? "; " : "",
                     reference->nonfinite);
        }
    }
}

static void collect_error_vs_fp16(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_fp16), mx_targets.rel_vs_fp16, "%.3g %%",
                  100.0);
}

static void collect_error_vs_exact(const report_data *d, target_result *t) {
    collect_error(d, t, offsetof(result_row, rel_vs_exact), mx_targets.rel_vs_exact, "%.2e", 1.0);
}

static void vram_item(const report_data *d, target_result *t, int worst) {
    const result_row *row = &d->rows[worst];
    target_item *item = add_item(t, worst, row->vram_savings_pct >= mx_targets.vram_saved_pct,
                                 -row->vram_savings_pct);
    if (!item) return;
    snprintf(item->figure, sizeof item->figure, "%.2f %%", row->vram_savings_pct);
    snprintf(item->detail, sizeof item->detail,
             "%s: MXFP4 %.2f MiB + workspace %.2f MiB vs FP16 %.2f MiB", row->variant,
             row->weight_bytes_mxfp4 / MIB, row->workspace_bytes / MIB,
             row->weight_bytes_fp16 / MIB);
}

/* Per weight and VRAM-saving variant (one that keeps no FP16 copy): the lowest saving its rows
 * report (the workspace grows with M). */
static void collect_vram(const report_data *d, target_result *t) {
    for (int w = 0; w < d->weight_count; w++)
        for (int v = 0; v < d->variant_count; v++) {
            int worst = -1, seen = 0;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                if (strcmp(row->variant, d->variants[v]) != 0 || !saves_vram(row) ||
                    !same_weight(row, &d->rows[d->weights[w]]))
                    continue;
                seen++;
                if (isfinite(row->vram_savings_pct) &&
                    (worst < 0 || row->vram_savings_pct < d->rows[worst].vram_savings_pct))
                    worst = r;
            }
            if (seen && worst < 0) not_judged(t, "no VRAM figure (skipped or failed rows)");
            if (worst >= 0) vram_item(d, t, worst);
        }
}

static void title_overhead(target_result *t) {
    snprintf(t->name, sizeof t->name, "overhead vs FP16 < %+g %%", mx_targets.overhead_pct);
    snprintf(t->judged_on, sizeof t->judged_on, "best MXFP4 variant per problem");
}

static void title_error_vs_fp16(target_result *t) {
    snprintf(t->name, sizeof t->name, "error vs FP16 reference <= %g %%",
             mx_targets.rel_vs_fp16 * 100.0);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

/* A small limit as people write it: 2e-3, not 0.002 or 2e-03. */
static void format_limit(char out[32], size_t size, double value) {
    char mantissa[12];
    int exponent = (int)floor(log10(value));
    snprintf(mantissa, sizeof mantissa, "%.4g", value / pow(10.0, exponent));
    snprintf(out, size, "%se%d", mantissa, exponent);
}

static void title_error_vs_exact(target_result *t) {
    char limit[32];
    format_limit(limit, sizeof limit, mx_targets.rel_vs_exact);
    snprintf(t->name, sizeof t->name, "kernel error vs exact <= %s", limit);
    snprintf(t->judged_on, sizeof t->judged_on, "every measured MXFP4 row");
}

static void title_vram(target_result *t) {
    snprintf(t->name, sizeof t->name, "VRAM >= %g %% saved", mx_targets.vram_saved_pct);
    snprintf(t->judged_on, sizeof t->judged_on,
             "each weight shape and variant that keeps no FP16 copy");
}

/* The values in names and judged_on come from targets.c; the explanations say what is judged. */
static const target_def targets[] = {
    {title_overhead, "overhead",
     "Per problem (shape, M, dtype, distribution) the fastest MXFP4 variant with a correct result "
     "against cuBLAS FP16 timed on the same shape in the same run: overhead = t / t_FP16 - 1, "
     "negative when MXFP4 is faster. Variants that keep a dequantized FP16 copy of the weights "
     "(persistent, embedding cached: harness/variants.c) are left out of \"best\": they save no "
     "memory and are FP16 paths in disguise (they are measured and drawn all the same).",
     collect_overhead, false},
    {title_error_vs_fp16, "rel. error",
     "Normwise relative error ||y - r|| / ||r|| of each MXFP4 row against cuBLAS FP16 on the same "
     "dequantized weights (the Sprint 6 quantity). Rows with non-finite outputs where the exact "
     "result is finite fail whatever their norm.",
     collect_error_vs_fp16, false},
    {title_error_vs_exact, "rel. error",
     "The kernel's own error: against an FP64 product on the exactly dequantized weights. FP16 "
     "output rounding alone is about 3e-4.",
     collect_error_vs_exact, false},
    {title_decode, "speed-up",
     "At decode token counts a GEMM streams its weights, so MXFP4 (3.76x fewer bytes) can be up to "
     "3.76x faster than cuBLAS FP16; the target asks this much of the best MXFP4 variant. An op "
     "whose FP16 path moves less than the size limit per call although its weights are larger (an "
     "embedding lookup reads only its rows) is not judged.",
     collect_decode, false},
    {title_bandwidth, "% of copy",
     "Bytes the MXFP4 op must move (weights, scales, activations, output) per second, as a share "
     "of the device-to-device copy bandwidth measured at start-up (run.json); judged where the "
     "MXFP4 weights are large enough for launch latency not to dominate.",
     collect_bandwidth, false},
    {title_medium, "speed-up",
     "Between decode and prefill the weights are still read once per call while the FP16 GEMM "
     "starts to be compute bound: the best MXFP4 variant must be clearly faster at the lower "
     "token count and no slower at the higher one.",
     collect_medium, false},
    {title_prefill, "time / FP16",
     "At prefill token counts the GEMM is compute bound; the best MXFP4 variant that needs no "
     "workspace (so no temporary FP16 copy: dequant_cublas does not count) may take at most this "
     "multiple of the cuBLAS FP16 time.",
     collect_prefill, false},
    {title_vram, "saved",
     "savings = 1 - (MXFP4 blocks + scales + workspace) / FP16 bytes, the lowest over the rows of "
     "a weight and variant (a workspace may grow with M: dequant_cublas holds a full FP16 copy "
     "while it runs); the format itself allows at most 73.4 % (0.53125 of 2 bytes per weight).",
     collect_vram, true},
};
enum { TARGET_COUNT = sizeof targets / sizeof targets[0] };

static int compare_items(const void *a, const void *b) {
    const target_item *x = a, *y = b;
    if (x->badness != y->badness) return x->badness < y->badness ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

static void judge(const report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; i < TARGET_COUNT; i++) {
        results[i] = (target_result){0};
        targets[i].title(&results[i]);
        targets[i].collect(d, &results[i]);
        if (results[i].count > 1)
            qsort(results[i].items, (size_t)results[i].count, sizeof *results[i].items,
                  compare_items);
    }
}

// ---- plot data and plots

enum { MAX_PLOT_FILES = 2, MAX_PLOT_VARIABLES = 24 };

typedef struct {
    int file_count, variable_count;
    char file_names[MAX_PLOT_FILES][32], file_variables[MAX_PLOT_FILES][32];
    text files[MAX_PLOT_FILES];
    char variable_names[MAX_PLOT_VARIABLES][32];
    text variable_values[MAX_PLOT_VARIABLES];
} plot_job;

typedef struct {
    const char *base; /* images base.png and base.svg, data plot_data/base*.dat */
    const char *script;
    const char *title;
    const char *caption; /* how to read it */
    /* Fills the job's data files and variables; false when the run has nothing to draw. */
    bool (*prepare)(const report_data *d, plot_job *job);
} plot_def;

typedef enum { PLOT_DRAWN, PLOT_NO_DATA, PLOT_SKIPPED, PLOT_FAILED } plot_state;

typedef struct {
    plot_state state;
    char message[1200];
} plot_outcome;

static text *job_file(plot_job *job, const char *variable, const char *name) {
    int i = job->file_count++;
    snprintf(job->file_variables[i], sizeof job->file_variables[i], "%s", variable);
    snprintf(job->file_names[i], sizeof job->file_names[i], "%s", name);
    return &job->files[i];
}

static void job_set(plot_job *job, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void job_set(plot_job *job, const char *name, const char *format, ...) {
    if (job->variable_count == MAX_PLOT_VARIABLES) return; /* a script lacking it fails loudly */
    int i = job->variable_count++;
    snprintf(job->variable_names[i], sizeof job->variable_names[i], "%s", name);
    va_list args;
    va_start(args, format);
    text_vprintf(&job->variable_values[i], format, args);
    va_end(args);
}

static void job_free(plot_job *job) {
    for (int i = 0; i < MAX_PLOT_FILES; i++) text_free(&job->files[i]);
    for (int i = 0; i < MAX_PLOT_VARIABLES; i++) text_free(&job->variable_values[i]);
}

static void put_value(text *file, double value) {
    if (isfinite(value))
        text_printf(file, "\t%.6g", value);
    else
        text_printf(file, "\tNaN");
}

/* The variants a plot draws, space separated: every one, or the MXFP4 ones only; their colours
 * and point types (variants.h) in the same order, for common.gp's vcolor and vpoint; and the
 * targets' values for the target lines. */
static void job_variants(const report_data *d, plot_job *job, bool with_reference) {
    text names = {0}, colors = {0}, points = {0};
    for (int v = 0; v < d->variant_count; v++) {
        const mx_variant_traits *traits = mx_variant_traits_of(d->variants[v]);
        if (!with_reference && traits->reference) continue;
        const char *space = names.length ? " " : "";
        text_printf(&names, "%s%s", space, d->variants[v]);
        text_printf(&colors, "%s%s", space, traits->color);
        text_printf(&points, "%s%d", space, traits->point);
    }
    job_set(job, "variants", "%s", text_get(&names));
    job_set(job, "vcolors", "%s", text_get(&colors));
    job_set(job, "vpoints", "%s", text_get(&points));
    /* the target lines (targets.h) */
    job_set(job, "target_overhead_pct", "%g", mx_targets.overhead_pct);
    job_set(job, "target_rel_fp16", "%g", mx_targets.rel_vs_fp16);
    job_set(job, "target_rel_exact", "%g", mx_targets.rel_vs_exact);
    job_set(job, "target_bw_pct", "%g", mx_targets.bandwidth_pct);
    job_set(job, "target_vram_pct", "%g", mx_targets.vram_saved_pct);
    text_free(&names);
    text_free(&colors);
    text_free(&points);
}

static bool has_mxfp4_variant(const report_data *d) {
    for (int v = 0; v < d->variant_count; v++)
        if (!mx_variant_traits_of(d->variants[v])->reference) return true;
    return false;
}

/* The problems of series s ordered by M (the first of each M), into out; returns the count. */
static int series_problems(const report_data *d, int s, int *out) {
    int count = 0;
    for (int p = 0; p < d->problem_count; p++) {
        if (d->problems[p].series != s) continue;
        int64_t m = d->rows[d->problems[p].first].m;
        int at = count;
        while (at > 0 && d->rows[d->problems[out[at - 1]].first].m > m) at--;
        if (at > 0 && d->rows[d->problems[out[at - 1]].first].m == m) continue;
        memmove(out + at + 1, out + at, sizeof *out * (size_t)(count - at));
        out[at] = p;
        count++;
    }
    return count;
}

/* panels and panel_titles (gnuplot quoted words) of the per-shape plots. */
static void panel_titles(const report_data *d, plot_job *job) {
    text titles = {0};
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        char title[320];
        describe_series(&d->rows[d->problems[d->series[s].first_problem].first], title,
                        sizeof title);
        for (char *c = title; *c; c++)
            if (*c == '"') *c = '\'';
        text_printf(&titles, "%s\"%s\"", titles.length ? " " : "", title);
    }
    job_set(job, "panels", "%d", d->panel_count);
    job_set(job, "panel_titles", "%s", text_get(&titles));
    text_free(&titles);
}

static bool prepare_overhead(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d) || d->panel_count == 0) return false;
    text *file = job_file(job, "data", "overhead.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    int64_t *ms = malloc(sizeof *ms * (size_t)d->problem_count);
    if (!order || !ms) {
        free(order);
        free(ms);
        return false;
    }
    int m_count = 0;
    double low = 1.0, high = 1.0 + mx_targets.overhead_pct / 100.0;
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        text_printf(file, "# t / t_FP16 per variant (NaN: no result)\n# M");
        for (int v = 0; v < d->variant_count; v++)
            if (!mx_variant_traits_of(d->variants[v])->reference)
                text_printf(file, "\t%s", d->variants[v]);
        text_printf(file, "\tbest\n");
        int count = series_problems(d, s, order);
        for (int i = 0; i < count; i++) {
            const problem *pr = &d->problems[order[i]];
            int64_t m = d->rows[pr->first].m;
            int at = 0;
            while (at < m_count && ms[at] < m) at++;
            if (at == m_count || ms[at] != m) {
                memmove(ms + at + 1, ms + at, sizeof *ms * (size_t)(m_count - at));
                ms[at] = m;
                m_count++;
            }
            text_printf(file, "%lld", (long long)m);
            for (int v = 0; v < d->variant_count; v++) {
                if (mx_variant_traits_of(d->variants[v])->reference) continue;
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                double ratio = row && row->measured ? row->time_us / pr->reference_us : NAN;
                put_value(file, ratio);
                if (isfinite(ratio)) {
                    low = fmin(low, ratio), high = fmax(high, ratio);
                    any = true;
                }
            }
            put_value(file, pr->best >= 0 ? d->rows[pr->best].time_us / pr->reference_us : NAN);
            text_printf(file, "\n");
        }
        text_printf(file, "\n\n");
    }
    /* At most 9 tics on the M axis: every other value until they fit. */
    int step = 1;
    while ((m_count + step - 1) / step > 9) step *= 2;
    text tics = {0};
    for (int i = 0; i < m_count; i += step)
        text_printf(&tics, "%s%lld", tics.length ? " " : "", (long long)ms[i]);
    free(order);
    free(ms);
    job_variants(d, job, false);
    panel_titles(d, job);
    job_set(job, "mvalues", "%s", text_get(&tics));
    text_free(&tics);
    job_set(job, "ymin", "%.6e", low / 1.25);
    job_set(job, "ymax", "%.6e", high * 1.25);
    return any;
}

/* Whether variant v has a measured row in series s (its bar has a slot in that panel). */
static bool series_has_variant(const report_data *d, const int *order, int count, int v) {
    for (int i = 0; i < count; i++) {
        const result_row *row = variant_row(d, order[i], d->variants[v]);
        if (row && row->measured) return true;
    }
    return false;
}

/* One block per panel with a column per variant measured in that panel (so that an op's bars
 * are not spread over the slots of every other op's variants); panel_variants holds each
 * panel's variant names, comma-joined, one word per panel. */
static bool prepare_time(const report_data *d, plot_job *job) {
    if (d->panel_count == 0) return false;
    text *file = job_file(job, "data", "time.dat");
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    text panel_variants = {0};
    bool any = false;
    for (int s = 0; s < d->series_count; s++) {
        if (d->series[s].panel < 0) continue;
        int count = series_problems(d, s, order);
        text_printf(file, "# median time in us per variant (NaN: no result)\n# index\tM");
        text_printf(&panel_variants, "%s", panel_variants.length ? " " : "");
        bool first = true;
        for (int v = 0; v < d->variant_count; v++) {
            if (!series_has_variant(d, order, count, v)) continue;
            text_printf(file, "\t%s", d->variants[v]);
            text_printf(&panel_variants, "%s%s", first ? "" : ",", d->variants[v]);
            first = false;
        }
        if (first) text_printf(&panel_variants, "none");
        text_printf(file, "\n");
        for (int i = 0; i < count; i++) {
            text_printf(file, "%d\t%lld", i, (long long)d->rows[d->problems[order[i]].first].m);
            for (int v = 0; v < d->variant_count; v++) {
                if (!series_has_variant(d, order, count, v)) continue;
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                put_value(file, row && row->measured ? row->time_us : NAN);
                any |= row && row->measured;
            }
            text_printf(file, "\n");
        }
        text_printf(file, "\n\n");
    }
    free(order);
    job_variants(d, job, true);
    panel_titles(d, job);
    job_set(job, "panel_variants", "%s", text_get(&panel_variants));
    text_free(&panel_variants);
    return any;
}

/* Every how many rows a categorical axis is labelled: at most about 70 labels. */
static int axis_label_step(int rows) {
    return rows > 70 ? (rows + 69) / 70 : 1;
}

/* Problems in plot order: series by series, M ascending. Returns the count. */
static int problems_in_plot_order(const report_data *d, int *out) {
    int count = 0;
    for (int s = 0; s < d->series_count; s++) count += series_problems(d, s, out + count);
    return count;
}

static bool prepare_error(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double smallest = INFINITY, largest = 0.0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        double values[] = {row->rel_vs_fp16, row->rel_vs_exact, row->quant_rel};
        for (int i = 0; i < 3 && row->measured && !(row->nonfinite > 0); i++)
            if (values[i] > 0 && isfinite(values[i])) {
                smallest = fmin(smallest, values[i]);
                largest = fmax(largest, values[i]);
            }
    }
    /* A log axis has no 0: zeros (the same arithmetic as the reference) sit on a labelled floor
     * a decade below the smallest nonzero value. */
    double zero_at = isfinite(smallest) ? pow(10.0, floor(log10(smallest)) - 1.0) : 1e-8;
    zero_at = fmin(fmax(zero_at, 1e-12), 1e-4);
    text *file = job_file(job, "data", "error.dat");
    text_printf(file, "# index\tlabel\tquant_rel_err");
    for (int v = 0; v < d->variant_count; v++) text_printf(file, "\tvs_fp16:%s", d->variants[v]);
    for (int v = 0; v < d->variant_count; v++) text_printf(file, "\tvs_exact:%s", d->variants[v]);
    text_printf(file, "\tnonfinite\n# errors are relative; 0 is written as %g\n", zero_at);
    int label_step = axis_label_step(count);
    bool any = false;
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        char label[320] = "";
        if (i % label_step == 0) describe_problem(&d->rows[pr->first], label, sizeof label);
        double quant = NAN;
        bool nonfinite = false;
        for (int r = pr->first; r >= 0; r = d->rows[r].next) {
            nonfinite |= d->rows[r].nonfinite > 0;
            if (isnan(quant) && is_mxfp4(&d->rows[r]) && d->rows[r].measured)
                quant = d->rows[r].quant_rel;
        }
        text_printf(file, "%d\t%s", i, label);
        put_value(file, quant > 0 ? quant : NAN);
        for (int pass = 0; pass < 2; pass++)
            for (int v = 0; v < d->variant_count; v++) {
                const result_row *row = variant_row(d, order[i], d->variants[v]);
                double value = !row || !row->measured || row->nonfinite > 0 ? NAN
                               : pass == 0                                  ? row->rel_vs_fp16
                                                                            : row->rel_vs_exact;
                put_value(file, isfinite(value) ? fmax(value, zero_at) : NAN);
                any |= isfinite(value);
            }
        put_value(file, nonfinite ? 1.0 : NAN);
        text_printf(file, "\n");
    }
    free(order);
    job_variants(d, job, true);
    job_set(job, "count", "%d", count);
    job_set(job, "zero_at", "%.6e", zero_at);
    job_set(job, "ymax", "%.6e", fmax(1.0, largest * 3.0));
    return any;
}

static bool prepare_vram(const report_data *d, plot_job *job) {
    if (!has_mxfp4_variant(d)) return false;
    text *file = job_file(job, "data", "vram.dat");
    text_printf(file, "# index\tweight\tlowest vram_savings_pct per MXFP4 variant\n");
    double lowest = 0.0;
    bool any = false;
    int label_step = axis_label_step(d->weight_count);
    for (int w = 0; w < d->weight_count; w++) {
        char label[192] = "";
        if (w % label_step == 0) describe_weight(&d->rows[d->weights[w]], label, sizeof label);
        text_printf(file, "%d\t%s", w, label);
        for (int v = 0; v < d->variant_count; v++) {
            if (mx_variant_traits_of(d->variants[v])->reference) continue;
            double saved = NAN;
            for (int r = 0; r < d->row_count; r++) {
                const result_row *row = &d->rows[r];
                if (strcmp(row->variant, d->variants[v]) == 0 && isfinite(row->vram_savings_pct) &&
                    same_weight(row, &d->rows[d->weights[w]]))
                    saved =
                        isnan(saved) ? row->vram_savings_pct : fmin(saved, row->vram_savings_pct);
            }
            put_value(file, saved);
            if (isfinite(saved)) lowest = fmin(lowest, saved), any = true;
        }
        text_printf(file, "\n");
    }
    job_variants(d, job, false);
    job_set(job, "count", "%d", d->weight_count);
    job_set(job, "ymin", "%.6e", lowest);
    return any;
}

/* One throughput panel: the problems whose M is in [m_low, m_high], one column per variant. */
static int throughput_file(const report_data *d, text *file, const int *order, int count,
                           int64_t m_low, int64_t m_high, size_t field, double *largest,
                           bool *any) {
    text_printf(file, "# index\tproblem\t%s per variant\n",
                field == offsetof(result_row, pct_peak_bw) ? "pct_peak_bw" : "pct_peak_flops");
    int lines = 0, in_range = 0;
    for (int i = 0; i < count; i++) {
        int64_t m = d->rows[d->problems[order[i]].first].m;
        in_range += m >= m_low && m <= m_high;
    }
    int label_step = axis_label_step(in_range);
    for (int i = 0; i < count; i++) {
        const problem *pr = &d->problems[order[i]];
        int64_t m = d->rows[pr->first].m;
        if (m < m_low || m > m_high) continue;
        char label[320] = "";
        if (lines % label_step == 0) describe_problem(&d->rows[pr->first], label, sizeof label);
        text_printf(file, "%d\t%s", lines++, label);
        for (int v = 0; v < d->variant_count; v++) {
            const result_row *row = variant_row(d, order[i], d->variants[v]);
            double value =
                row && row->measured ? *(const double *)((const char *)row + field) : NAN;
            put_value(file, value);
            if (isfinite(value)) *largest = fmax(*largest, value), *any = true;
        }
        text_printf(file, "\n");
    }
    return lines;
}

static bool prepare_throughput(const report_data *d, plot_job *job) {
    int *order = malloc(sizeof *order * (size_t)d->problem_count);
    if (!order) return false;
    int count = problems_in_plot_order(d, order);
    double bw_largest = 100.0, flops_largest = 100.0;
    bool any = false;
    int bw_lines = throughput_file(d, job_file(job, "bw_data", "throughput_bw.dat"), order, count,
                                   1, mx_targets.decode_max_m, offsetof(result_row, pct_peak_bw),
                                   &bw_largest, &any);
    int flops_lines = throughput_file(d, job_file(job, "flops_data", "throughput_flops.dat"), order,
                                      count, THROUGHPUT_LARGE_M, INT64_MAX,
                                      offsetof(result_row, pct_peak_flops), &flops_largest, &any);
    free(order);
    job_variants(d, job, true);
    job_set(job, "bw_count", "%d", bw_lines);
    job_set(job, "flops_count", "%d", flops_lines);
    job_set(job, "bw_ymax", "%.6e", bw_largest * 1.08);
    job_set(job, "flops_ymax", "%.6e", flops_largest * 1.08);
    char copy[32], tflops[32];
    format_known(copy, sizeof copy, d->meta.copy_gbps, "%.0f");
    format_known(tflops, sizeof tflops, d->meta.fp16_tflops, "%.0f");
    job_set(job, "copy_gbps", "%s", copy);
    job_set(job, "fp16_tflops", "%s", tflops);
    return any;
}

static const plot_def plots[] = {
    {"overhead", "overhead.gp", "Overhead vs cuBLAS FP16",
     "Per weight shape (with dtype and distribution): t / t_FP16 of each MXFP4 variant against M "
     "on log axes, labelled as overhead; the thick line is the best MXFP4 variant (none that keeps "
     "an FP16 copy), the dashed red line the overhead target, below 0 % MXFP4 is faster.",
     prepare_overhead},
    {"error", "error.gp", "Error vs FP16 reference, kernel error and quantization error",
     "Top: relative error of each variant against cuBLAS FP16 on the same dequantized weights "
     "(target 2), and, as black squares, the quantization error against the original "
     "unquantized weights: a different quantity that target 2 does not apply to. Bottom: "
     "each path's error against the exact FP64 product (target 3). Exact zeros sit on the "
     "axis floor labelled 0; problems with non-finite outputs are marked with a red x.",
     prepare_error},
    {"vram", "vram.gp", "VRAM saved per variant",
     "Weight memory saved against FP16 per weight shape and variant, including every workspace "
     "the variant needs; the dashed line is the format's limit (73.4 %). Variants that hold an "
     "FP16 copy of the weights (dequant_cublas's temporary, persistent's cache) fall below zero.",
     prepare_vram},
    {"throughput", "throughput.gp", "Achieved bandwidth and compute against the ceilings",
     "Top: M <= 16, bytes moved per second as % of the measured copy bandwidth (target 80 % for "
     "MXFP4). Bottom: M >= 1024, TFLOP/s as % of cuBLAS FP16 at 8192^3.",
     prepare_throughput},
    {"time", "time.gp", "Time per variant",
     "Median time per variant (log axis) for each weight shape and M; fp16 is the cuBLAS "
     "reference.",
     prepare_time},
};
enum { PLOT_COUNT = sizeof plots / sizeof plots[0] };

static bool make_folder(const char *path) {
    return mkdir(path, 0777) == 0 || errno == EEXIST;
}

/* Writes every plot's data into RUN_DIR/plot_data/ and, with gnuplot, draws it. */
static void draw_plots(const report_data *d, const mx_gnuplot *gnuplot, const char *skip_reason,
                       plot_outcome outcomes[PLOT_COUNT]) {
    text folder = {0};
    text_printf(&folder, "%s/plot_data", d->run_dir);
    bool folder_ok = make_folder(text_get(&folder));
    for (int i = 0; i < PLOT_COUNT; i++) {
        plot_outcome *outcome = &outcomes[i];
        plot_job job = {0};
        *outcome = (plot_outcome){.state = PLOT_DRAWN};
        if (!plots[i].prepare(d, &job)) {
            outcome->state = PLOT_NO_DATA;
            snprintf(outcome->message, sizeof outcome->message, "nothing to draw in this run");
            job_free(&job);
            continue;
        }
        mx_plot_variable variables[MAX_PLOT_VARIABLES + MAX_PLOT_FILES + 1];
        text paths[MAX_PLOT_FILES] = {{0}}, title = {0}, out_base = {0};
        int count = 0;
        for (int f = 0; f < job.file_count && outcome->state == PLOT_DRAWN; f++) {
            text_printf(&paths[f], "%s/%s", text_get(&folder), job.file_names[f]);
            char error[1024];
            if (!folder_ok || job.files[f].failed ||
                !mx_write_file_atomic(text_get(&paths[f]), text_get(&job.files[f]),
                                      job.files[f].length, error, sizeof error)) {
                outcome->state = PLOT_FAILED;
                snprintf(outcome->message, sizeof outcome->message, "writing %s: %s",
                         text_get(&paths[f]),
                         folder_ok ? (job.files[f].failed ? "out of memory" : error)
                                   : strerror(errno));
            }
            variables[count++] = (mx_plot_variable){job.file_variables[f], text_get(&paths[f])};
        }
        for (int v = 0; v < job.variable_count; v++)
            variables[count++] =
                (mx_plot_variable){job.variable_names[v], text_get(&job.variable_values[v])};
        text_printf(&title, "%s — %s", plots[i].title, d->caption);
        variables[count++] = (mx_plot_variable){"title", text_get(&title)};
        text_printf(&out_base, "%s/%s", d->run_dir, plots[i].base);
        if (outcome->state == PLOT_DRAWN && !gnuplot) {
            outcome->state = PLOT_SKIPPED;
            snprintf(outcome->message, sizeof outcome->message, "%s", skip_reason);
        } else if (outcome->state == PLOT_DRAWN &&
                   !mx_plot_render(gnuplot, plots[i].script, variables, count, text_get(&out_base),
                                   outcome->message, sizeof outcome->message)) {
            outcome->state = PLOT_FAILED;
        }
        for (int f = 0; f < MAX_PLOT_FILES; f++) text_free(&paths[f]);
        text_free(&title);
        text_free(&out_base);
        job_free(&job);
    }
    text_free(&folder);
}

// ---- the document: one set of calls writes report.md and report.html

typedef struct {
    text md, html;
    bool in_list, in_table;
} doc;

/* HTML text with & < > " escaped, `code` spans and **bold** turned into elements. */
static void html_inline(text *html, const char *s) {
    bool code = false, bold = false;
    for (; *s; s++) {
        if (*s == '`') {
            text_printf(html, code ? "</code>" : "<code>");
            code = !code;
        } else if (!code && s[0] == '*' && s[1] == '*') {
            text_printf(html, bold ? "</strong>" : "<strong>");
            bold = !bold;
            s++;
        } else if (*s == '&' || *s == '<' || *s == '>' || *s == '"') {
            text_printf(html, "%s",
                        *s == '&'   ? "&amp;"
                        : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;"
                                    : "&quot;");
        } else {
            text_append(html, s, 1);
        }
    }
    if (code) text_printf(html, "</code>");
    if (bold) text_printf(html, "</strong>");
}

static void doc_close(doc *d) {
    if (d->in_list) text_printf(&d->html, "</ul>\n"), text_printf(&d->md, "\n");
    if (d->in_table) text_printf(&d->html, "</tbody></table>\n"), text_printf(&d->md, "\n");
    d->in_list = d->in_table = false;
}

static void doc_vformat(text *out, const char *format, va_list args) {
    text_vprintf(out, format, args);
    for (char *c = out->data; c && *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' '; /* one block stays one line */
}

#define DOC_FORMAT(line, format)                                                                   \
    text line = {0};                                                                               \
    do {                                                                                           \
        va_list args;                                                                              \
        va_start(args, format);                                                                    \
        doc_vformat(&line, format, args);                                                          \
        va_end(args);                                                                              \
    } while (0)

static void doc_heading(doc *d, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void doc_paragraph(doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void doc_bullet(doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void doc_table(doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void doc_row(doc *d, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void doc_heading(doc *d, int level, const char *format, ...) {
    DOC_FORMAT(line, format);
    doc_close(d);
    text_printf(&d->md, "%.*s %s\n\n", level, "######", text_get(&line));
    text_printf(&d->html, "<h%d>", level);
    html_inline(&d->html, text_get(&line));
    text_printf(&d->html, "</h%d>\n", level);
    text_free(&line);
}

static void doc_paragraph(doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    doc_close(d);
    text_printf(&d->md, "%s\n\n", text_get(&line));
    text_printf(&d->html, "<p>");
    html_inline(&d->html, text_get(&line));
    text_printf(&d->html, "</p>\n");
    text_free(&line);
}

static void doc_bullet(doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    if (!d->in_list) doc_close(d), text_printf(&d->html, "<ul>\n");
    d->in_list = true;
    text_printf(&d->md, "- %s\n", text_get(&line));
    text_printf(&d->html, "<li>");
    html_inline(&d->html, text_get(&line));
    text_printf(&d->html, "</li>\n");
    text_free(&line);
}

/* A table row: cells separated by tabs. */
static void table_cells(doc *d, const char *cells, bool header) {
    text_printf(&d->md, "|");
    text_printf(&d->html, "<tr>");
    for (const char *cell = cells;;) {
        const char *end = strchr(cell, '\t');
        size_t length = end ? (size_t)(end - cell) : strlen(cell);
        text one = {0};
        text_append(&one, cell, length);
        text_printf(&d->md, " ");
        for (const char *c = text_get(&one); *c; c++)
            text_append(&d->md, *c == '|' ? "\\|" : c, *c == '|' ? 2 : 1);
        text_printf(&d->md, " |");
        const char *tag = header ? "th" : "td";
        const char *mark = strcmp(text_get(&one), "fail") == 0   ? " class=\"fail\""
                           : strcmp(text_get(&one), "pass") == 0 ? " class=\"pass\""
                                                                 : "";
        text_printf(&d->html, "<%s%s>", tag, mark);
        html_inline(&d->html, text_get(&one));
        text_printf(&d->html, "</%s>", tag);
        text_free(&one);
        if (!end) break;
        cell = end + 1;
    }
    text_printf(&d->md, "\n");
    text_printf(&d->html, "</tr>\n");
}

static void doc_table(doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    doc_close(d);
    text_printf(&d->html, "<table><thead>\n");
    table_cells(d, text_get(&line), true);
    text_printf(&d->html, "</thead><tbody>\n");
    text_printf(&d->md, "|---|");
    for (const char *c = text_get(&line); (c = strchr(c, '\t')) != NULL; c++)
        text_printf(&d->md, "---|");
    text_printf(&d->md, "\n");
    d->in_table = true;
    text_free(&line);
}

static void doc_row(doc *d, const char *format, ...) {
    DOC_FORMAT(line, format);
    table_cells(d, text_get(&line), false);
    text_free(&line);
}

/* A drawn plot: the PNG (and a link to the SVG) in markdown, the SVG itself in HTML. */
static void doc_figure(doc *d, const char *run_dir, const char *base, const char *title) {
    doc_close(d);
    text_printf(&d->md, "![%s](%s.png)\n\n[SVG](%s.svg)\n\n", title, base, base);
    text path = {0};
    text_printf(&path, "%s/%s.svg", run_dir, base);
    char *svg = read_whole_file(text_get(&path), NULL);
    const char *root = svg ? strstr(svg, "<svg") : NULL;
    text_printf(&d->html, "<figure>\n");
    if (root)
        text_printf(&d->html, "%s", root);
    else
        text_printf(&d->html, "<p>%s.svg could not be read</p>", base);
    text_printf(&d->html, "\n<figcaption>");
    html_inline(&d->html, title);
    text_printf(&d->html, "</figcaption></figure>\n");
    free(svg);
    text_free(&path);
}

static void doc_free(doc *d) {
    text_free(&d->md);
    text_free(&d->html);
}

// ---- the report

static void describe_item(const report_data *d, const target_def *target, const target_item *item,
                          char *out, size_t size) {
    const result_row *row = &d->rows[item->row];
    if (!target->per_weight) {
        describe_problem(row, out, size);
        return;
    }
    char weight[192];
    describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s", row->op, weight);
}

static void write_summary_table(doc *out, const report_data *d,
                                const target_result results[TARGET_COUNT]) {
    doc_table(out, "#\ttarget (DESIGN.md §7)\tjudged on\tpass / total\tworst");
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_result *t = &results[i];
        char worst[640] = "no rows to judge", what[400], counts[64];
        if (t->count > 0) {
            describe_item(d, &targets[i], &t->items[0], what, sizeof what);
            snprintf(worst, sizeof worst, "%s: %s (%s)", t->items[0].figure, what,
                     d->rows[t->items[0].row].variant);
        }
        int used = snprintf(counts, sizeof counts, "%d/%d", t->passed, t->count);
        if (t->not_judged)
            snprintf(counts + used, sizeof counts - (size_t)used, " (+%d not judged)",
                     t->not_judged);
        doc_row(out, "%d\t%s\t%s\t%s\t%s", i + 1, t->name, t->judged_on, counts, worst);
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per variant: how its own rows fare against the row-level targets. */
static void write_variant_table(doc *out, const report_data *d) {
    double *overheads = malloc(sizeof *overheads * (size_t)d->row_count);
    if (!overheads) return;
    char limit[32];
    format_limit(limit, sizeof limit, mx_targets.rel_vs_exact);
    doc_table(out,
              "variant\trows measured\toverhead < %+g %%\terror vs FP16 <= %g %%\terror vs exact "
              "<= %s\tmedian overhead\tworst overhead\tlowest VRAM saved",
              mx_targets.overhead_pct, mx_targets.rel_vs_fp16 * 100.0, limit);
    for (int v = 0; v < d->variant_count; v++) {
        int rows = 0, measured = 0, count = 0, fast = 0, close_to_fp16 = 0, close_to_exact = 0,
            no_exact = 0;
        double lowest_saved = INFINITY;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (strcmp(row->variant, d->variants[v]) != 0) continue;
            rows++;
            if (isfinite(row->vram_savings_pct))
                lowest_saved = fmin(lowest_saved, row->vram_savings_pct);
            if (!row->measured) continue;
            measured++;
            double overhead = (row->time_us / d->problems[row->problem].reference_us - 1.0) * 100;
            if (isfinite(overhead)) overheads[count++] = overhead;
            fast += mx_target_overhead_passes(overhead);
            bool finite = !(row->nonfinite > 0);
            close_to_fp16 += finite && row->rel_vs_fp16 <= mx_targets.rel_vs_fp16;
            close_to_exact += finite && row->rel_vs_exact <= mx_targets.rel_vs_exact;
            no_exact += finite && isnan(row->rel_vs_exact);
        }
        qsort(overheads, (size_t)count, sizeof *overheads, compare_doubles);
        char median[32] = "-", worst[32] = "-", saved[32] = "-", fast_text[32];
        if (count) {
            snprintf(median, sizeof median, "%+.1f %%", overheads[count / 2]);
            snprintf(worst, sizeof worst, "%+.1f %%", overheads[count - 1]);
        }
        if (isfinite(lowest_saved)) snprintf(saved, sizeof saved, "%.2f %%", lowest_saved);
        bool reference = mx_variant_traits_of(d->variants[v])->reference;
        snprintf(fast_text, sizeof fast_text, "%d", fast);
        char exact_text[48];
        snprintf(exact_text, sizeof exact_text,
                 no_exact ? "%d (%d without an FP64 reference)" : "%d", close_to_exact, no_exact);
        doc_row(out, "%s\t%d of %d\t%s\t%d\t%s\t%s\t%s\t%s",
                reference ? "fp16 (cuBLAS reference)" : d->variants[v], measured, rows,
                reference ? "reference" : fast_text, close_to_fp16, exact_text,
                reference ? "reference" : median, reference ? "reference" : worst, saved);
    }
    free(overheads);
}

static void write_environment(doc *out, const report_data *d) {
    const mx_run_meta *m = &d->meta;
    doc_heading(out, 2, "Environment");
    if (!d->meta_read) {
        doc_paragraph(out,
                      "run.json could not be read (%s): the environment and the ceilings are "
                      "unknown.",
                      d->meta_error);
        return;
    }
    char memory[32], l2[32], sms[32], start_clock[32], max_clock[32], memory_clock[32];
    format_known(memory, sizeof memory, m->memory_bytes / (MIB * 1024.0), "%.1f GiB");
    format_known(l2, sizeof l2, m->l2_bytes / MIB, "%.0f MiB");
    format_known(sms, sizeof sms, m->sm_count, "%.0f");
    format_known(start_clock, sizeof start_clock, m->sm_clock_start_mhz, "%.0f MHz");
    format_known(max_clock, sizeof max_clock, m->sm_clock_max_mhz, "%.0f MHz");
    format_known(memory_clock, sizeof memory_clock, m->memory_clock_max_mhz, "%.0f MHz");
    doc_table(out, "item\tvalue");
    doc_row(out, "GPU\t%s (compute capability %s, %s SMs, %s, L2 %s), %s",
            m->gpu_name[0] ? m->gpu_name : "?", m->compute_capability, sms, memory, l2,
            m->gpu_uuid);
    doc_row(out, "driver / CUDA runtime / cuBLAS\t%d.%d / %d.%d / %d.%d.%d",
            m->driver_version / 1000, m->driver_version % 1000 / 10, m->runtime_version / 1000,
            m->runtime_version % 1000 / 10, m->cublas_version / 10000,
            m->cublas_version / 100 % 100, m->cublas_version % 100);
    doc_row(out,
            "code path\t%s (%s) for skinny and fused: hopper splits K over thread-block "
            "clusters, portable (Ampere, Ada, Blackwell) does not; the cuBLAS variants take "
            "cuBLAS's own path. Built for `%s`",
            m->code_path[0] ? m->code_path : "not recorded (a run before the portable path)",
            m->code_path_why[0] ? m->code_path_why : "?", m->built_archs[0] ? m->built_archs : "?");
    doc_row(out,
            "clocks\tSM %s under load at start-up (maximum %s); memory maximum %s; rows below "
            "90 %% of the start-up SM clock are flagged throttled",
            start_clock, max_clock, memory_clock);
    doc_row(out, "commit\t`%s`%s", m->git_commit,
            m->git_dirty == 1   ? ", dirty (uncommitted changes in the build)"
            : m->git_dirty == 0 ? ", clean"
                                : ", dirty state unknown");
    doc_row(out, "run\t`%s`, sweep `%s`, %s to %s, status %s, host %s", m->run_id, m->suite,
            m->start_time, m->end_time[0] ? m->end_time : "?", m->status, m->hostname);
    doc_row(out, "command\t`%s`", m->command_line);
    char flush[48];
    format_known(flush, sizeof flush, m->l2_flush_bytes / MIB, "%.0f MiB written");
    doc_row(out,
            "method\t%s; %.0f to %.0f samples per row until the median's noise is below %.2g %% "
            "or %.0f ms are spent; seed %.0f",
            m->l2_flushed == 1 ? "L2 flushed before every sample" : "L2 not flushed (warm)",
            m->min_samples, m->max_samples, m->max_noise_pct, m->time_budget_ms, m->seed);
    if (m->l2_flushed == 1) doc_row(out, "L2 flush\t%s before each sample", flush);
    doc_heading(out, 2, "Ceilings");
    char copy[32], tflops[32];
    format_known(copy, sizeof copy, m->copy_gbps, "%.0f GB/s");
    format_known(tflops, sizeof tflops, m->fp16_tflops, "%.1f TFLOP/s");
    doc_table(out, "ceiling\tvalue\tmeasured as");
    doc_row(out, "copy bandwidth\t%s\tdevice-to-device copy of 1 GiB (bytes read + written)", copy);
    doc_row(out, "cuBLAS FP16\t%s\tcuBLAS FP16 GEMM 8192^3, FP32 compute", tflops);
}

static void write_targets(doc *out, const report_data *d,
                          const target_result results[TARGET_COUNT]) {
    doc_heading(out, 2, "Targets (DESIGN.md §7)");
    for (int i = 0; i < TARGET_COUNT; i++) {
        const target_def *target = &targets[i];
        const target_result *t = &results[i];
        doc_heading(out, 3, "%d. %s", i + 1, t->name);
        doc_paragraph(out, "Judged on: %s. %s", t->judged_on, target->explanation);
        char extra[256] = "";
        if (t->not_judged)
            snprintf(extra, sizeof extra, "; %d not judged (%s)", t->not_judged, t->not_judged_why);
        doc_paragraph(out, "**%d of %d pass**, %d fail%s.", t->passed, t->count,
                      t->count - t->passed, extra);
        if (t->count == 0) continue;
        int shown = t->count < WORST_SHOWN ? t->count : WORST_SHOWN;
        doc_paragraph(out, "The %d worst:", shown);
        doc_table(out, "rank\t%s\tvariant\t%s\tresult\tdetail",
                  target->per_weight ? "weight" : "problem", target->figure_name);
        for (int k = 0; k < shown; k++) {
            const target_item *item = &t->items[k];
            char what[400];
            describe_item(d, target, item, what, sizeof what);
            doc_row(out, "%d\t%s\t%s\t%s\t%s\t%s", k + 1, what, d->rows[item->row].variant,
                    item->figure, item->pass ? "pass" : "fail", item->detail);
        }
    }
}

/* For a run of a whole-model sweep (gpt-oss-20b...): that model's weight memory (model.h). */
static void write_model_memory(doc *out, const report_data *d) {
    const mx_model *model = d->meta_read ? mx_model_find(d->meta.suite) : NULL;
    if (!model) return;
    mx_table *t = mx_model_vram_table(model);
    if (!t) return;
    doc_heading(out, 2, "Whole-model weight memory (%s)", model->name);
    doc_paragraph(out,
                  "Computed from the model's shapes with the byte counts the ops allocate "
                  "(`mxbench model %s`): FP16 2 bytes per weight; MXFP4 4-bit codes plus a scale "
                  "byte per 32 for every weight matrix (biases, sinks, norms and the router stay "
                  "16-bit); the gpt-oss mix holds only the MoE experts in MXFP4.",
                  model->name);
    doc_table(out, "component	params	FP16 GB	MXFP4 GB	saved %%	gpt-oss mix GB	"
                   "saved %%	what");
    for (size_t r = 0; r < mx_table_row_count(t); r++) {
        int i = (int)r;
        doc_row(out, "%s	%s	%.3f	%.3f	%s	%.3f	%s	%s",
                mx_table_get(t, i, "component"), mx_table_get(t, i, "params"),
                atof(mx_table_get(t, i, "fp16_bytes")) / 1e9,
                atof(mx_table_get(t, i, "mxfp4_bytes")) / 1e9,
                mx_table_get(t, i, "mxfp4_savings_pct"),
                atof(mx_table_get(t, i, "gptoss_mix_bytes")) / 1e9,
                mx_table_get(t, i, "gptoss_mix_savings_pct"), mx_table_get(t, i, "what"));
    }
    mx_table_free(t);
}

static void write_plots(doc *out, const report_data *d, const plot_outcome outcomes[PLOT_COUNT],
                        const char *skip_notice) {
    doc_heading(out, 2, "Plots");
    if (skip_notice) doc_paragraph(out, "%s", skip_notice);
    if (d->series_count > d->panel_count)
        doc_paragraph(out,
                      "The per-shape plots (1 and 5) show the first %d of %d shape series; every "
                      "row is in the tables above and in `plot_data/`.",
                      d->panel_count, d->series_count);
    for (int i = 0; i < PLOT_COUNT; i++) {
        doc_heading(out, 3, "%d. %s", i + 1, plots[i].title);
        doc_paragraph(out, "%s", plots[i].caption);
        switch (outcomes[i].state) {
        case PLOT_DRAWN:
            doc_figure(out, d->run_dir, plots[i].base, plots[i].title);
            break;
        case PLOT_NO_DATA:
            doc_paragraph(out, "Not drawn: %s.", outcomes[i].message);
            break;
        case PLOT_SKIPPED:
            doc_paragraph(out, "Not drawn (plots skipped); its data is in `plot_data/`.");
            break;
        case PLOT_FAILED:
            doc_paragraph(out, "Not drawn: %s", outcomes[i].message);
            break;
        }
    }
}

enum { MAX_LISTED = 40 };

static void write_quantization_caveat(doc *out, const report_data *d) {
    const char *dists[32];
    int dist_count = 0;
    double low = INFINITY, high = 0.0, sqnr_low = INFINITY, sqnr_high = -INFINITY;
    int rows = 0;
    for (int r = 0; r < d->row_count; r++) {
        const result_row *row = &d->rows[r];
        if (!is_mxfp4(row) || !row->measured || !(row->quant_rel > 0)) continue;
        rows++;
        low = fmin(low, row->quant_rel), high = fmax(high, row->quant_rel);
        sqnr_low = fmin(sqnr_low, row->sqnr_db), sqnr_high = fmax(sqnr_high, row->sqnr_db);
        int k = 0;
        while (k < dist_count && strcmp(dists[k], row->dist) != 0) k++;
        if (k == dist_count && dist_count < 32) dists[dist_count++] = row->dist;
    }
    if (rows == 0) {
        doc_bullet(out, "**Quantization error is not the 1 %% quantity.** No row of this run "
                        "reports it (quant_rel_err).");
        return;
    }
    doc_bullet(out,
               "**Quantization error is not the 1 %% quantity.** Against the original unquantized "
               "weights, MXFP4 itself is off by %.1f %% to %.1f %% (SQNR %.1f to %.1f dB) over "
               "%d rows: an E2M1 element keeps one mantissa bit, so MXFP4 cannot meet 1 %% "
               "against unquantized weights and this report does not claim it. The 1 %% target "
               "is the error against FP16 on the same dequantized weights (target 2).",
               low * 100.0, high * 100.0, sqnr_low, sqnr_high, rows);
    doc_table(out, "distribution\trows\tquantization error\tSQNR");
    for (int k = 0; k < dist_count; k++) {
        double dl = INFINITY, dh = 0.0, sl = INFINITY, sh = -INFINITY;
        int n = 0;
        for (int r = 0; r < d->row_count; r++) {
            const result_row *row = &d->rows[r];
            if (!is_mxfp4(row) || !row->measured || !(row->quant_rel > 0) ||
                strcmp(row->dist, dists[k]) != 0)
                continue;
            n++;
            dl = fmin(dl, row->quant_rel), dh = fmax(dh, row->quant_rel);
            sl = fmin(sl, row->sqnr_db), sh = fmax(sh, row->sqnr_db);
        }
        doc_row(out, "%s\t%d\t%.2f to %.2f %%\t%.1f to %.1f dB", dists[k], n, dl * 100.0,
                dh * 100.0, sl, sh);
    }
}

static void write_caveats(doc *out, const report_data *d) {
    doc_heading(out, 2, "Caveats");
    write_quantization_caveat(out, d);

    int broken = 0;
    for (int p = 0; p < d->problem_count; p++) {
        int reference = d->problems[p].reference;
        broken += reference >= 0 && d->rows[reference].nonfinite > 0;
    }
    doc_bullet(out,
               "**Non-finite FP16 reference**: %d problem%s where cuBLAS FP16 itself gives "
               "non-finite outputs where the exact result is finite (dequantized weights or "
               "partial sums beyond FP16's range, DESIGN.md §2: the range distribution provokes "
               "it). Their error vs FP16 compares against a broken reference; the error vs exact "
               "is the meaningful figure there.",
               broken, broken == 1 ? "" : "s");
    if (broken) {
        doc_table(out, "problem\tFP16 non-finite outputs\tMXFP4 variants with finite outputs");
        for (int p = 0; p < d->problem_count; p++) {
            int reference = d->problems[p].reference;
            if (reference < 0 || !(d->rows[reference].nonfinite > 0)) continue;
            text finite = {0};
            for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
                if (is_mxfp4(&d->rows[r]) && d->rows[r].measured && !(d->rows[r].nonfinite > 0))
                    text_printf(&finite, "%s%s", finite.length ? ", " : "", d->rows[r].variant);
            char what[400];
            describe_problem(&d->rows[reference], what, sizeof what);
            doc_row(out, "%s\t%.0f\t%s", what, d->rows[reference].nonfinite,
                    finite.length ? text_get(&finite) : "none");
            text_free(&finite);
        }
    }

    bool has_throttled = mx_table_column_index(d->table, "throttled") >= 0;
    int throttled = 0;
    for (int r = 0; r < d->row_count; r++) throttled += strcmp(d->rows[r].throttled, "yes") == 0;
    if (!has_throttled)
        doc_bullet(out, "**Throttled rows**: unknown (results.csv has no `throttled` column).");
    else
        doc_bullet(out,
                   "**Throttled rows**: %d row%s ran with the SM clock below 90 %% of the "
                   "start-up clock; their times are pessimistic.",
                   throttled, throttled == 1 ? "" : "s");
    if (throttled) {
        doc_table(out, "problem\tvariant\tSM clock\tnote");
        for (int r = 0; r < d->row_count; r++) {
            if (strcmp(d->rows[r].throttled, "yes") != 0) continue;
            char what[400], clock[32];
            describe_problem(&d->rows[r], what, sizeof what);
            format_known(clock, sizeof clock, d->rows[r].sm_clock_mhz, "%.0f MHz");
            doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, clock, d->rows[r].note);
        }
    }

    int failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    doc_bullet(out, "**Failed and skipped rows**: %d failed, %d skipped.", failed, skipped);
    if (failed + skipped) {
        doc_table(out, "problem\tvariant\tstatus\tnote");
        int listed = 0;
        for (int r = 0; r < d->row_count && listed < MAX_LISTED; r++) {
            if (strcmp(d->rows[r].status, "ok") == 0) continue;
            char what[400];
            describe_problem(&d->rows[r], what, sizeof what);
            doc_row(out, "%s\t%s\t%s\t%s", what, d->rows[r].variant, d->rows[r].status,
                    d->rows[r].note);
            listed++;
        }
        if (failed + skipped > listed)
            doc_paragraph(out, "... and %d more (status column of results.csv).",
                          failed + skipped - listed);
    }

    if (isfinite(d->meta.max_noise_pct)) {
        int noisy = 0;
        for (int r = 0; r < d->row_count; r++)
            noisy += d->rows[r].measured && d->rows[r].noise_pct > d->meta.max_noise_pct;
        doc_bullet(out,
                   "**Noisy rows**: %d measured row%s stopped with the median's noise above "
                   "the %.2g %% goal (time budget spent); compare them with care.",
                   noisy, noisy == 1 ? "" : "s", d->meta.max_noise_pct);
    }
}

static void write_report(doc *out, const report_data *d, const target_result results[TARGET_COUNT],
                         const plot_outcome outcomes[PLOT_COUNT], const char *skip_notice) {
    const mx_run_meta *m = &d->meta;
    const char *slash = strrchr(d->run_dir, '/');
    const char *name = m->run_id[0] ? m->run_id : slash && slash[1] ? slash + 1 : d->run_dir;
    text_printf(&out->html,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<title>mxbench report: ");
    html_inline(&out->html, name);
    text_printf(&out->html,
                "</title>\n<style>\nbody{font-family:sans-serif;max-width:1500px;margin:1em "
                "auto;padding:0 1em;color:#222}\ntable{border-collapse:collapse;margin:0.5em 0}\n"
                "th,td{border:1px solid #bbb;padding:2px 8px;text-align:left;vertical-align:top}\n"
                "th{background:#eee}\ntd.pass{color:#070}\ntd.fail{color:#b00;font-weight:bold}\n"
                "code{background:#f3f3f3;padding:0 2px}\nfigure{margin:1em 0}\n"
                "figure svg{width:100%%;height:auto;border:1px solid #ddd}\n</style>\n</head>\n"
                "<body>\n");
    doc_heading(out, 1, "mxbench report: %s", name);
    int ok = 0, failed = 0, skipped = 0;
    for (int r = 0; r < d->row_count; r++) {
        ok += strcmp(d->rows[r].status, "ok") == 0;
        failed += strcmp(d->rows[r].status, "fail") == 0;
        skipped += strcmp(d->rows[r].status, "skipped") == 0;
    }
    doc_paragraph(out,
                  "%s. `results.csv`: %d rows (%d ok, %d fail, %d skipped) in %d problems "
                  "(shape, M, dtype, distribution) of %d weight shapes.",
                  d->caption, d->row_count, ok, failed, skipped, d->problem_count, d->weight_count);
    text variants = {0};
    for (int v = 0; v < d->variant_count; v++)
        text_printf(&variants, "%s`%s`%s", v ? ", " : "", d->variants[v],
                    mx_variant_traits_of(d->variants[v])->reference ? " (cuBLAS FP16 reference)"
                                                                    : "");
    doc_paragraph(out, "Variants: %s.", text_get(&variants));
    text_free(&variants);
    doc_heading(out, 2, "Summary");
    write_summary_table(out, d, results);
    if (skip_notice) doc_paragraph(out, "%s", skip_notice);
    doc_paragraph(out, "Per variant (rows of that variant against the row-level targets; "
                       "overhead against cuBLAS FP16 on the same problem):");
    write_variant_table(out, d);
    write_environment(out, d);
    write_targets(out, d, results);
    write_model_memory(out, d);
    write_plots(out, d, outcomes, skip_notice);
    write_caveats(out, d);
    doc_close(out);
    text_printf(&out->md, "---\nWritten by `mxbench report` from `results.csv` and `run.json`; "
                          "plot data in `plot_data/`.\n");
    text_printf(&out->html, "<hr>\n<p>Written by <code>mxbench report</code> from "
                            "<code>results.csv</code> and <code>run.json</code>; plot data in "
                            "<code>plot_data/</code>.</p>\n</body>\n</html>\n");
}

// ---- the command

static bool save_text(const char *run_dir, const char *name, const text *content) {
    text path = {0};
    text_printf(&path, "%s/%s", run_dir, name);
    char error[1024];
    bool ok = !content->failed && !path.failed &&
              mx_write_file_atomic(text_get(&path), text_get(content), content->length, error,
                                   sizeof error);
    if (!ok) mx_cli_error("report: %s", content->failed ? "out of memory" : error);
    text_free(&path);
    return ok;
}

static void free_report(report_data *d, target_result results[TARGET_COUNT]) {
    for (int i = 0; results && i < TARGET_COUNT; i++) free(results[i].items);
    free(d->rows);
    free(d->problems);
    free(d->series);
    free(d->weights);
    free(d->variants);
    mx_table_free(d->table);
}

static int run_report(const mx_parsed_options *parsed) {
    report_data d = {.run_dir = parsed->arguments[0]};
    struct stat info;
    if (strlen(d.run_dir) > 1000) {
        mx_cli_error("report: the folder name is longer than 1000 characters");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (stat(d.run_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        mx_cli_error("report: %s: %s (give the folder `mxbench run` wrote, e.g. results/<run id>)",
                     d.run_dir, stat(d.run_dir, &info) != 0 ? strerror(errno) : "not a folder");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    snprintf(d.results_path, sizeof d.results_path, "%s/results.csv", d.run_dir);
    snprintf(d.run_json_path, sizeof d.run_json_path, "%s/run.json", d.run_dir);
    char error[2048];
    if (access(d.results_path, F_OK) != 0) {
        mx_cli_error("report: %s: %s (not a run folder? `mxbench run` writes results.csv there)",
                     d.results_path, strerror(errno));
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (!mx_csv_read(d.results_path, &d.table, error, sizeof error) ||
        !parse_rows(&d, error, sizeof error)) {
        mx_cli_error("report: %s", error);
        free_report(&d, NULL);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (d.row_count == 0) {
        mx_cli_error("report: %s: no rows (the run wrote none)", d.results_path);
        free_report(&d, NULL);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    d.meta_read = mx_run_meta_read(d.run_json_path, &d.meta, d.meta_error, sizeof d.meta_error);
    if (!d.meta_read)
        fprintf(stderr, "mxbench: warning: report: %s; the environment will read unknown\n",
                d.meta_error);
    mx_run_meta_caption(&d.meta, d.caption, sizeof d.caption);
    if (!organise(&d)) {
        mx_cli_error("report: out of memory");
        free_report(&d, NULL);
        return MX_EXIT_ERROR;
    }
    target_result results[TARGET_COUNT];
    judge(&d, results);

    mx_gnuplot gnuplot;
    char skip_reason[256] = "", skip_notice[2048] = "";
    if (mx_option_value(parsed, "no-plots"))
        snprintf(skip_reason, sizeof skip_reason, "--no-plots was given");
    else if (!mx_gnuplot_find(&gnuplot))
        snprintf(skip_reason, sizeof skip_reason,
                 "gnuplot was not found (searched PATH, then %s/.deps/root/usr/bin)",
                 MX_SOURCE_DIR);
    if (skip_reason[0])
        snprintf(skip_notice, sizeof skip_notice, "**Plots skipped**: %s. To draw them, %s.",
                 skip_reason,
                 mx_option_value(parsed, "no-plots") ? "run `mxbench report` without --no-plots"
                                                     : mx_gnuplot_advice);
    plot_outcome outcomes[PLOT_COUNT];
    draw_plots(&d, skip_reason[0] ? NULL : &gnuplot, skip_reason, outcomes);

    doc report = {0};
    write_report(&report, &d, results, outcomes, skip_notice[0] ? skip_notice : NULL);
    bool saved = save_text(d.run_dir, "report.md", &report.md) &&
                 save_text(d.run_dir, "report.html", &report.html);
    doc_free(&report);

    doc summary = {0};
    write_summary_table(&summary, &d, results);
    doc_close(&summary);
    printf("%s", text_get(&summary.md));
    doc_free(&summary);
    int exit_code = saved ? MX_EXIT_OK : MX_EXIT_ERROR;
    for (int i = 0; i < PLOT_COUNT; i++) {
        if (outcomes[i].state == PLOT_DRAWN)
            printf("plot: %s/%s.png, %s.svg\n", d.run_dir, plots[i].base, plots[i].base);
        else if (outcomes[i].state == PLOT_FAILED)
            fprintf(stderr, "mxbench: error: report: plot %s: %s\n", plots[i].base,
                    outcomes[i].message),
                exit_code = MX_EXIT_ERROR;
    }
    if (skip_reason[0])
        printf("plots skipped: %s; to draw them, %s\n", skip_reason,
               mx_option_value(parsed, "no-plots") ? "run without --no-plots" : mx_gnuplot_advice);
    if (saved) printf("report: %s/report.md, %s/report.html\n", d.run_dir, d.run_dir);
    free_report(&d, results);
    return exit_code;
}

static const mx_option report_options[] = {
    {"no-plots", NULL, "write the report without drawing the plots (their data is still written)",
     NULL, false},
};

const mx_command mx_report_command = {
    "report",
    "Plots and report.md/report.html of a run folder, judged against the targets.",
    "Reads RUN_DIR/results.csv (and run.json) and writes into RUN_DIR: the plots as PNG and SVG\n"
    "(overhead, error, vram, throughput, time; drawn by gnuplot with the scripts in plots/, from\n"
    "data it writes to RUN_DIR/plot_data/), report.md, and report.html (self-contained, the SVGs\n"
    "inlined). The report holds a summary table per target of DESIGN.md §7 (also printed here),\n"
    "the environment and ceilings, the five worst rows per target, the plots and the caveats.\n"
    "gnuplot is looked up on PATH (gnuplot, gnuplot-nox), then in the offline bundle\n"
    ".deps/root/usr/bin that `.ci/deps.sh ensure bench` unpacks; without it the report is\n"
    "written all the same and says how to get it. Files are replaced atomically.\n"
    "Exit: 0 written, 1 a plot or file could not be written, 2 unusable input (no such folder,\n"
    "a missing or malformed results.csv, required columns missing: the message names the file\n"
    "and line or the columns).",
    report_options,
    (int)(sizeof report_options / sizeof report_options[0]),
    run_report,
    1,
    1,
    "RUN_DIR",
    NULL,
};
