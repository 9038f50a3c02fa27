/* auto's measured dispatch (dispatch.h). */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "fail.h"

enum { COLUMN_COUNT = 10, MAX_LINE = 1024, MAX_M = 1048576 };
static const int64_t MAX_SIDE = INT64_C(1) << 31;

void mx_gemm_dispatch_free(mx_gemm_dispatch *table) {
    free(table->rows);
    free(table->shapes);
    *table = (mx_gemm_dispatch){0};
}

/* One data row's cells, and where it came from. */
typedef struct {
    const char *origin;
    int line;
    char *cells[COLUMN_COUNT];
} row_text;

static mx_status bad(const row_text *row, const char *name, const char *value,
                     const char *expected) {
    return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s:%d: %s '%s': expected %s", row->origin, row->line,
                   name, value, expected);
}

static mx_status integer(const row_text *row, int column, const char *name, int64_t low,
                         int64_t high, int64_t *value) {
    const char *text = row->cells[column];
    char *end = NULL;
    errno = 0;
    long long parsed = text[0] >= '0' && text[0] <= '9' ? strtoll(text, &end, 10) : 0;
    if (!end || *end || errno || parsed < low || parsed > high) {
        char expected[64];
        snprintf(expected, sizeof expected, "an integer from %lld to %lld", (long long)low,
                 (long long)high);
        return bad(row, name, text, expected);
    }
    *value = parsed;
    return MX_OK;
}

/* Digits, an optional fraction, an optional exponent: read by hand, so that a program that set
 * a locale with a decimal comma reads the tables all the same. */
static bool decimal(const char *c, double *value) {
    double mantissa = 0.0;
    int scale = 0, exponent = 0, sign = 1;
    bool digits = false, exponent_digits = false;
    for (; *c >= '0' && *c <= '9'; c++, digits = true) mantissa = 10.0 * mantissa + (*c - '0');
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9'; c++, scale--, digits = true)
            mantissa = 10.0 * mantissa + (*c - '0');
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-') sign = *c++ == '-' ? -1 : 1;
        for (; *c >= '0' && *c <= '9'; c++, exponent_digits = true)
            if (exponent < 100000) exponent = 10 * exponent + (*c - '0');
        if (!exponent_digits) return false;
    }
    *value = mantissa * pow(10.0, scale + sign * exponent);
    return digits && *c == '\0';
}

static mx_status time_us(const row_text *row, int column, const char *name, double *value) {
    const char *text = row->cells[column];
    if (!decimal(text, value) || !isfinite(*value) || *value <= 0.0)
        return bad(row, name, text, "a positive number of microseconds");
    return MX_OK;
}

static mx_status candidate(const row_text *row, int column, const char *name,
                           mx_gemm_variant *variant) {
    const char *text = row->cells[column];
    if (mx_gemm_dispatch_candidate_named(text, variant)) return MX_OK;
    char names[128], expected[256];
    snprintf(expected, sizeof expected, "%s (auto never picks a variant that keeps an FP16 copy)",
             mx_gemm_mxfp4_variant_names(" or ", names, sizeof names));
    return bad(row, name, text, expected);
}

/* Checks a data row; fills out. */
static mx_status parse_row(const row_text *row, mx_gemm_dispatch_row *out) {
    const char *gpu = row->cells[0], *path = row->cells[1], *dtype = row->cells[2];
    if (!gpu[0] || strlen(gpu) > 255) return bad(row, "gpu", gpu, "a GPU name (1-255 bytes)");
    static const char *const paths[MX_PATH_COUNT] = {MX_CODE_PATH_NAMES};
    bool path_known = false;
    for (int p = 0; p < MX_PATH_COUNT; p++) path_known = path_known || strcmp(path, paths[p]) == 0;
    if (!path_known) return bad(row, "path", path, "hopper or portable");
    const int named = mx_dtype_from_name(dtype);
    if (named != MX_F16 && named != MX_BF16) return bad(row, "dtype", dtype, "f16 or bf16");
    out->dtype = (mx_dtype)named;
    MX_TRY(integer(row, 3, "m", 1, MAX_M, &out->m));
    MX_TRY(integer(row, 4, "n", 1, MAX_SIDE, &out->n));
    MX_TRY(integer(row, 5, "k", 32, MAX_SIDE, &out->k));
    if (out->k % 32) return bad(row, "k", row->cells[5], "a multiple of 32");
    mx_gemm_variant runner_up = MX_GEMM_AUTO;
    double time = 0.0, runner_up_time = 0.0;
    MX_TRY(candidate(row, 6, "variant", &out->variant));
    MX_TRY(time_us(row, 7, "time_us", &time));
    MX_TRY(candidate(row, 8, "runner_up", &runner_up));
    MX_TRY(time_us(row, 9, "runner_up_time_us", &runner_up_time));
    if (runner_up == out->variant)
        return bad(row, "runner_up", row->cells[8], "a variant other than the fastest");
    if (runner_up_time < time)
        return bad(row, "runner_up_time_us", row->cells[9], "at least time_us (the fastest)");
    return MX_OK;
}

/* Orders rows by dtype, n, k, m, then file line. */
static int row_order(const void *left, const void *right) {
    const mx_gemm_dispatch_row *a = left, *b = right;
    int64_t keys[][2] = {
        {a->dtype, b->dtype}, {a->n, b->n}, {a->k, b->k}, {a->m, b->m}, {a->line, b->line}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (keys[i][0] != keys[i][1]) return keys[i][0] < keys[i][1] ? -1 : 1;
    return 0;
}

/* Sorts the rows and lists their shapes; a problem twice is an error naming both lines. */
static mx_status index_rows(mx_gemm_dispatch *table, const char *origin) {
    if (table->count > 1) qsort(table->rows, table->count, sizeof *table->rows, row_order);
    table->shapes = malloc((table->count ? table->count : 1) * sizeof *table->shapes);
    if (!table->shapes)
        return mx_fail(MX_ERR_OUT_OF_MEMORY, "%s: no memory for its shapes", origin);
    for (size_t i = 0; i < table->count; i++) {
        const mx_gemm_dispatch_row *a = i ? &table->rows[i - 1] : NULL, *b = &table->rows[i];
        bool same_shape = a && a->dtype == b->dtype && a->n == b->n && a->k == b->k;
        if (same_shape && a->m == b->m)
            return mx_fail(MX_ERR_INVALID_ARGUMENT,
                           "%s:%d: the problem of line %d again (m %lld, %lldx%lld)", origin,
                           b->line, a->line, (long long)b->m, (long long)b->n, (long long)b->k);
        if (same_shape) {
            table->shapes[table->shape_count - 1].count++;
        } else {
            table->shapes[table->shape_count++] =
                (mx_gemm_dispatch_shape){b->dtype, log2((double)b->n), log2((double)b->k), i, 1};
        }
    }
    return MX_OK;
}

/* Splits line (modified in place) at commas into exactly COLUMN_COUNT cells. */
static bool split(char *line, char **cells) {
    int count = 0;
    for (char *cell = line;; cell++) {
        if (count == COLUMN_COUNT) return false;
        cells[count++] = cell;
        cell = strchr(cell, ',');
        if (!cell) break;
        *cell = '\0';
    }
    return count == COLUMN_COUNT;
}

static mx_status parse_lines(char *text, const char *origin, const char *gpu, const char *path,
                             mx_gemm_dispatch *table, bool *matched) {
    row_text row = {origin, 0, {0}};
    bool header = false;
    size_t rows = 0, capacity = 0;
    mx_status status = MX_OK;
    for (char *next = text; status == MX_OK && next && *next;) {
        char *line = next;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        row.line++;
        size_t length = strlen(line);
        if (length && line[length - 1] == '\r') line[--length] = '\0';
        if (length > MAX_LINE) {
            status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s:%d: a line of %zu bytes: at most %d",
                             origin, row.line, length, MAX_LINE);
        } else if (line[0] == '#' || length == 0) {
            continue;
        } else if (!header) {
            header = strcmp(line, MX_GEMM_DISPATCH_COLUMNS) == 0;
            if (!header)
                status =
                    mx_fail(MX_ERR_INVALID_ARGUMENT, "%s:%d: the header is '%.80s': expected '%s'",
                            origin, row.line, line, MX_GEMM_DISPATCH_COLUMNS);
        } else if (!split(line, row.cells)) {
            status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s:%d: expected %d comma-separated cells",
                             origin, row.line, COLUMN_COUNT);
        } else if (++rows > MX_GEMM_DISPATCH_MAX_ROWS) {
            status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s:%d: more than %d rows", origin, row.line,
                             MX_GEMM_DISPATCH_MAX_ROWS);
        } else {
            mx_gemm_dispatch_row parsed = {.line = row.line};
            status = parse_row(&row, &parsed);
            if (status != MX_OK || strcmp(row.cells[0], gpu) || strcmp(row.cells[1], path))
                continue;
            if (table->count == capacity) {
                capacity = capacity ? 2 * capacity : 64;
                mx_gemm_dispatch_row *grown = realloc(table->rows, capacity * sizeof *grown);
                if (!grown) {
                    status = mx_fail(MX_ERR_OUT_OF_MEMORY, "%s: no memory for its rows", origin);
                    continue;
                }
                table->rows = grown;
            }
            table->rows[table->count++] = parsed;
        }
    }
    if (status == MX_OK && !header)
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: no header line '%s'", origin,
                         MX_GEMM_DISPATCH_COLUMNS);
    if (status == MX_OK && rows == 0)
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: no rows after its header", origin);
    if (status == MX_OK) status = index_rows(table, origin);
    *matched = status == MX_OK && table->count > 0;
    if (status != MX_OK) mx_gemm_dispatch_free(table);
    return status;
}

mx_status mx_gemm_dispatch_parse(const char *text, size_t size, const char *origin, const char *gpu,
                                 const char *path, mx_gemm_dispatch *table, bool *matched) {
    *table = (mx_gemm_dispatch){0};
    *matched = false;
    if (size > MX_GEMM_DISPATCH_MAX_BYTES)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: %zu bytes: a table holds at most %d", origin,
                       size, MX_GEMM_DISPATCH_MAX_BYTES);
    if (memchr(text, '\0', size))
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: a NUL byte: not a CSV table", origin);
    char *copy = malloc(size + 1);
    if (!copy) return mx_fail(MX_ERR_OUT_OF_MEMORY, "%s: no memory to parse it", origin);
    memcpy(copy, text, size);
    copy[size] = '\0';
    mx_status status = parse_lines(copy, origin, gpu, path, table, matched);
    free(copy);
    return status;
}

/* The file's bytes into *text (malloc'd) and *size. A FIFO or device is refused before it can
 * block; so is a file over the size limit. */
static mx_status read_table(const char *file, char **text, size_t *size) {
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat info;
    mx_status status = MX_OK;
    *text = NULL;
    if (fd < 0 || fstat(fd, &info) != 0)
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: %s", file, strerror(errno));
    else if (!S_ISREG(info.st_mode))
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: not a regular file", file);
    else if (info.st_size > MX_GEMM_DISPATCH_MAX_BYTES)
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: %lld bytes: a table holds at most %d", file,
                         (long long)info.st_size, MX_GEMM_DISPATCH_MAX_BYTES);
    else if (!(*text = malloc((size_t)info.st_size + 1)))
        status = mx_fail(MX_ERR_OUT_OF_MEMORY, "%s: no memory to read it", file);
    else if (read(fd, *text, (size_t)info.st_size + 1) != info.st_size)
        status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: could not read it whole", file);
    if (fd >= 0) close(fd);
    if (status != MX_OK) {
        free(*text);
        *text = NULL;
    }
    *size = *text ? (size_t)info.st_size : 0;
    return status;
}

mx_status mx_gemm_dispatch_open(const char *gpu, const char *path, mx_gemm_dispatch *table,
                                char *source, size_t source_size) {
    *table = (mx_gemm_dispatch){0};
    const char *file = getenv(MX_GEMM_DISPATCH_ENV);
    bool matched = false;
    mx_status status = MX_OK;
    if (file && strcmp(file, MX_GEMM_DISPATCH_THRESHOLDS) == 0) {
        snprintf(source, source_size, "%s (%s=%s)", MX_GEMM_DISPATCH_THRESHOLDS,
                 MX_GEMM_DISPATCH_ENV, MX_GEMM_DISPATCH_THRESHOLDS);
        return MX_OK;
    }
    if (file && file[0]) {
        size_t size = 0;
        char *text = NULL;
        status = read_table(file, &text, &size);
        if (status == MX_OK)
            status = mx_gemm_dispatch_parse(text, size, file, gpu, path, table, &matched);
        free(text);
        if (status == MX_OK && !matched)
            status = mx_fail(MX_ERR_INVALID_ARGUMENT, "%s: no row for %s on the %s path", file, gpu,
                             path);
        if (status != MX_OK) {
            snprintf(source, source_size, "%s: %s=%s refused: %s", MX_GEMM_DISPATCH_THRESHOLDS,
                     MX_GEMM_DISPATCH_ENV, file, mx_last_error());
            return status;
        }
        snprintf(source, source_size, "table %s=%s: %zu rows for %s on the %s path",
                 MX_GEMM_DISPATCH_ENV, file, table->count, gpu, path);
        return MX_OK;
    }
    for (const mx_gemm_dispatch_source_text *b = mx_gemm_dispatch_builtin; b->text; b++) {
        status =
            mx_gemm_dispatch_parse(b->text, strlen(b->text), b->origin, gpu, path, table, &matched);
        if (status != MX_OK) {
            snprintf(source, source_size, "%s: the built-in table refused: %s",
                     MX_GEMM_DISPATCH_THRESHOLDS, mx_last_error());
            return status;
        }
        if (matched) {
            snprintf(source, source_size, "table %s (built in): %zu rows for %s on the %s path",
                     b->origin, table->count, gpu, path);
            return MX_OK;
        }
    }
    snprintf(source, source_size, "%s (no table for %s on the %s path)",
             MX_GEMM_DISPATCH_THRESHOLDS, gpu, path);
    return MX_OK;
}

mx_gemm_variant mx_gemm_dispatch_pick(const mx_gemm_dispatch *table, mx_dtype dtype, int64_t m,
                                      int64_t n, int64_t k) {
    const double log2_n = log2((double)n), log2_k = log2((double)k);
    const mx_gemm_dispatch_shape *nearest = NULL;
    double best = INFINITY;
    for (size_t i = 0; i < table->shape_count; i++) {
        const mx_gemm_dispatch_shape *shape = &table->shapes[i];
        double distance = fabs(shape->log2_n - log2_n) + fabs(shape->log2_k - log2_k);
        if (shape->dtype == dtype && distance < best - 1e-9) {
            best = distance;
            nearest = shape;
        }
    }
    if (!nearest) return MX_GEMM_AUTO;
    const mx_gemm_dispatch_row *row = &table->rows[nearest->first];
    const mx_gemm_dispatch_row *last = row + nearest->count - 1;
    while (row->m < m && row < last) row++;
    return row->variant;
}
