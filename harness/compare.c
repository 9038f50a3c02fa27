/* `mxbench compare BASE CUR` and `mxbench baseline` (the nightly gate of issue 5): load run
 * folders (results.csv, samples.csv, run.json), match rows by key, judge each row from its samples
 * and print, save and plot the verdicts; keep one run per GPU model as that model's baseline. */
#include "compare.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "schema.h"
#include "stats.h"
#include "table.h"
#include "variants.h"

#ifndef MX_SOURCE_DIR
#define MX_SOURCE_DIR "."
#endif

#define RUN_FILE_COUNT 3
static const char *const run_files[RUN_FILE_COUNT] = {"results.csv", "samples.csv", "run.json"};

// ---- text

/* snprintf for messages, labels and paths, which may be cut: through vsnprintf, so that GCC's
 * truncation warnings do not ask for buffers sized for any path at all. */
static void format_text(char *text, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void format_text(char *text, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(text, size, format, args);
    va_end(args);
}

/* format_text into error, returning false: `return fail(error, size, "...", ...);`. */
static bool fail(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(char *error, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
    return false;
}

static void append(char *text, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *text, size_t size, const char *format, ...) {
    size_t used = strlen(text);
    if (used + 1 >= size) return;
    va_list args;
    va_start(args, format);
    vsnprintf(text + used, size - used, format, args);
    va_end(args);
}

// ---- verdicts

static const char *const verdict_names[MX_VERDICT_COUNT] = {
    "ACCURACY", "MISSING", "SLOWER", "UNSURE", "SAME", "FASTER", "NEW", "SKIPPED"};

const char *mx_verdict_string(mx_verdict verdict) {
    return (unsigned)verdict < MX_VERDICT_COUNT ? verdict_names[verdict] : "?";
}

bool mx_verdict_is_regression(mx_verdict verdict) {
    return verdict == MX_VERDICT_ACCURACY || verdict == MX_VERDICT_MISSING ||
           verdict == MX_VERDICT_SLOWER;
}

bool mx_gpu_model_name(const char *gpu_name, char *model, size_t size) {
    size_t used = 0;
    bool dash = false;
    if (size == 0) return false;
    model[0] = '\0';
    for (const unsigned char *p = (const unsigned char *)gpu_name; *p; p++) {
        unsigned char c = *p;
        bool upper = c >= 'A' && c <= 'Z';
        if (!upper && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9')) {
            dash = used > 0;
            continue;
        }
        if (used + dash + 1 >= size) {
            model[0] = '\0';
            return false;
        }
        if (dash) model[used++] = '-';
        dash = false;
        model[used++] = (char)(upper ? c - 'A' + 'a' : c);
    }
    model[used] = '\0';
    return used > 0;
}

/* z with P(Z > z) = tail for a standard normal variable (tail in (0, 0.5]), by bisection. */
static double normal_upper_quantile(double tail) {
    double low = 0.0, high = 40.0;
    for (int i = 0; i < 100; i++) {
        double middle = 0.5 * (low + high);
        *(0.5 * erfc(middle / sqrt(2.0)) > tail ? &low : &high) = middle;
    }
    return 0.5 * (low + high);
}

void mx_compare_timing(const double *base, int base_count, const double *cur, int cur_count,
                       const mx_compare_rule *rule, mx_timing_verdict *out) {
    mx_sample_stats b, c;
    mx_stats_compute(base, base_count, &b);
    mx_stats_compute(cur, cur_count, &c);
    *out = (mx_timing_verdict){.verdict = MX_VERDICT_UNSURE,
                               .base_count = base_count,
                               .cur_count = cur_count,
                               .base_median_us = b.median,
                               .cur_median_us = c.median,
                               .change_pct = (c.median / b.median - 1.0) * 100.0,
                               .band_low_pct = NAN,
                               .band_high_pct = NAN,
                               .base_noise_pct = b.noise_pct,
                               .cur_noise_pct = c.noise_pct,
                               .p_value = NAN};
    /* The relative standard errors of the medians add in quadrature on the log of their ratio. */
    double spread = hypot(b.noise_pct, c.noise_pct) / 100.0;
    double z = normal_upper_quantile(rule->alpha / 2.0);
    if (isfinite(spread)) {
        out->band_low_pct = (exp(-z * spread) - 1.0) * 100.0;
        out->band_high_pct = (exp(z * spread) - 1.0) * 100.0;
    }
    if (base_count < MX_COMPARE_MIN_SAMPLES || cur_count < MX_COMPARE_MIN_SAMPLES) {
        bool base_short = base_count < MX_COMPARE_MIN_SAMPLES;
        format_text(out->reason, sizeof out->reason,
                    "only %d samples in %s (the U test needs %d a side)",
                    base_short ? base_count : cur_count, base_short ? "BASE" : "CUR",
                    MX_COMPARE_MIN_SAMPLES);
        return;
    }
    if (!(b.median > 0.0) || !isfinite(out->change_pct)) {
        format_text(out->reason, sizeof out->reason, "the BASE median is not a positive time");
        return;
    }
    out->p_value = mx_stats_mann_whitney_p(base, base_count, cur, cur_count);
    if (isnan(out->p_value)) {
        format_text(out->reason, sizeof out->reason, "the U test failed (out of memory)");
        return;
    }
    bool significant = out->p_value < rule->alpha;
    bool large = fabs(out->change_pct) >= rule->min_change_pct;
    /* Below the minimum change a row is the SAME, detectable or not: two runs on one board
     * differ by 1-3 % with p far below alpha, and that is not what the gate is for. */
    if (significant && large)
        out->verdict = out->change_pct > 0.0 ? MX_VERDICT_SLOWER : MX_VERDICT_FASTER;
    else if (!large) {
        out->verdict = MX_VERDICT_SAME;
        if (significant)
            format_text(out->reason, sizeof out->reason,
                        "a real change (p %.2g < %g) but smaller than the %g %% that counts",
                        out->p_value, rule->alpha, rule->min_change_pct);
    } else
        format_text(out->reason, sizeof out->reason,
                    "%+.1f %% but not significant (p %.2g >= %g): within the noise",
                    out->change_pct, out->p_value, rule->alpha);
}

// ---- files

static bool copy_stream(FILE *target, void *context) {
    FILE *source = context;
    char buffer[1 << 16];
    for (size_t got; (got = fread(buffer, 1, sizeof buffer, source)) > 0;)
        if (fwrite(buffer, 1, got, target) != got) return false;
    return !ferror(source);
}

/* Copies from to a new file to through the atomic writer of table.h. */
static bool copy_file(const char *from, const char *to, char *error, size_t error_size) {
    FILE *source = fopen(from, "rb");
    if (!source) return fail(error, error_size, "%s: %s", from, strerror(errno));
    bool ok = mx_write_stream_atomic(to, copy_stream, source, error, error_size);
    fclose(source);
    return ok;
}

static bool is_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static bool is_folder(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* The folder itself, not its parents: a typo in a path should not grow a tree. */
static bool ensure_folder(const char *path) {
    return mkdir(path, 0777) == 0 || (errno == EEXIST && is_folder(path));
}

/* Removes a folder of plain files (one level, which is all a baseline folder holds). */
static bool remove_folder(const char *path) {
    DIR *folder = opendir(path);
    if (!folder) return false;
    for (struct dirent *entry; (entry = readdir(folder));) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char file[2400];
        format_text(file, sizeof file, "%s/%s", path, entry->d_name);
        unlink(file);
    }
    closedir(folder);
    return rmdir(path) == 0;
}

// ---- run folders

/* The key of a row: schema.c's key columns; the required ones always, the others (batch, seed,
 * kv_heads) where both runs have them (in their results and samples). */
enum { MAX_KEY_COLUMNS = 16 };

typedef struct {
    const char *columns[MAX_KEY_COLUMNS];
    int count, required; /* the first `required` are DESIGN.md §5 columns */
} key_set;

static key_set schema_keys(void) {
    key_set keys = {.count = 0};
    int count;
    const mx_column *columns = mx_columns(&count);
    for (int pass = 0; pass < 2; pass++) { /* the required keys first */
        for (int i = 0; i < count && keys.count < MAX_KEY_COLUMNS; i++)
            if (columns[i].key && columns[i].required == (pass == 0))
                keys.columns[keys.count++] = columns[i].name;
        if (pass == 0) keys.required = keys.count;
    }
    return keys;
}

typedef struct {
    char *key;
    double time_us;
} keyed_sample;

typedef struct {
    char dir[1024], results_path[1100], samples_path[1100], json_path[1100];
    mx_table *results, *samples;
    mx_run_meta meta; /* run.json */
    char model[128];  /* file-safe name of meta.gpu_name */
    /* per results row: its key and time (NAN when not measured) */
    char **keys;
    double *time_us;
    size_t row_count;
    char ***keys_sorted;          /* pointers into keys, sorted: find_row searches them */
    keyed_sample *samples_by_key; /* sorted by key */
    size_t sample_count;
} run_data;

static void free_run(run_data *run) {
    if (!run) return;
    mx_table_free(run->results);
    mx_table_free(run->samples);
    for (size_t i = 0; run->keys && i < run->row_count; i++) free(run->keys[i]);
    free(run->keys);
    free(run->keys_sorted);
    free(run->time_us);
    for (size_t i = 0; i < run->sample_count; i++) free(run->samples_by_key[i].key);
    free(run->samples_by_key);
    free(run);
}

/* The cell's text; "" for a column the table lacks. */
static const char *cell(const mx_table *table, size_t row, const char *column) {
    const char *text = mx_table_get(table, (int)row, column);
    return text ? text : "";
}

static int count_line_breaks(const char *text) {
    int count = 0;
    for (; text && *text; text++) count += *text == '\n';
    return count;
}

/* The line of the file where row's record starts: line breaks inside quoted fields are counted,
 * blank lines (which the reader skips) are not. */
static long row_line(const mx_table *table, size_t row) {
    int columns = mx_table_column_count(table);
    long line = 2;
    for (int c = 0; c < columns; c++) line += count_line_breaks(mx_table_column_name(table, c));
    for (size_t r = 0; r < row; r++) {
        line++;
        for (int c = 0; c < columns; c++)
            line += count_line_breaks(mx_table_cell(table, (int)r, c));
    }
    return line;
}

static bool require_columns(const mx_table *table, const char *path, const char *const *columns,
                            int count, char *error, size_t error_size) {
    for (int i = 0; i < count; i++)
        if (mx_table_column_index(table, columns[i]) < 0) {
            format_text(error, error_size, "%s: no column '%s' (not an mxbench %s)", path,
                        columns[i], strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
            return false;
        }
    return true;
}

/* A time cell: "" is no time (NAN); otherwise a positive finite number. */
static bool parse_time(const mx_table *table, const char *path, size_t row, double *value,
                       char *error, size_t error_size) {
    const char *text = cell(table, row, "time_us");
    char *end = NULL;
    *value = text[0] ? strtod(text, &end) : NAN;
    if (!text[0] || (*end == '\0' && isfinite(*value) && *value > 0.0)) return true;
    format_text(error, error_size, "%s:%ld: time_us '%s' is not a positive number of microseconds",
                path, row_line(table, row), text);
    return false;
}

static bool check_row(const run_data *run, size_t row, char *error, size_t error_size) {
    const char *status = cell(run->results, row, "status");
    const char *pass = cell(run->results, row, "pass_error");
    if (strcmp(status, "ok") && strcmp(status, "fail") && strcmp(status, "skipped"))
        return fail(error, error_size, "%s:%ld: status '%s' is not ok, fail or skipped",
                    run->results_path, row_line(run->results, row), status);
    if (pass[0] && strcmp(pass, "yes") && strcmp(pass, "no"))
        return fail(error, error_size, "%s:%ld: pass_error '%s' is not yes, no or empty",
                    run->results_path, row_line(run->results, row), pass);
    return parse_time(run->results, run->results_path, row, &run->time_us[row], error, error_size);
}

/* Reads the files of a run folder, checking the columns and cells compare relies on. */
static bool read_run(run_data *run, char *error, size_t error_size) {
    /* the required keys, then what compare reads of each file */
    key_set keys = schema_keys(), result_columns = keys, sample_columns = keys;
    result_columns.count = sample_columns.count = keys.required;
    result_columns.columns[result_columns.count++] = "time_us";
    result_columns.columns[result_columns.count++] = "status";
    result_columns.columns[result_columns.count++] = "pass_error";
    sample_columns.columns[sample_columns.count++] = "time_us";
    char *paths[RUN_FILE_COUNT] = {run->results_path, run->samples_path, run->json_path};
    for (int i = 0; i < RUN_FILE_COUNT; i++) {
        format_text(paths[i], sizeof run->results_path, "%s/%s", run->dir, run_files[i]);
        if (!is_file(paths[i]))
            return fail(error, error_size, "%s: %s (a run folder holds %s, %s and %s)", paths[i],
                        is_folder(run->dir) ? "no such file" : "no such run folder", run_files[0],
                        run_files[1], run_files[2]);
    }
    if (!mx_csv_read(run->results_path, &run->results, error, error_size) ||
        !require_columns(run->results, run->results_path, result_columns.columns,
                         result_columns.count, error, error_size) ||
        !mx_csv_read(run->samples_path, &run->samples, error, error_size) ||
        !require_columns(run->samples, run->samples_path, sample_columns.columns,
                         sample_columns.count, error, error_size))
        return false;
    run->row_count = mx_table_row_count(run->results);
    run->time_us = calloc(run->row_count + 1, sizeof *run->time_us);
    if (!run->time_us) return fail(error, error_size, "out of memory reading %s", run->dir);
    for (size_t r = 0; r < run->row_count; r++)
        if (!check_row(run, r, error, error_size)) return false;
    if (!mx_run_meta_read(run->json_path, &run->meta, error, error_size)) return false;
    if (!mx_gpu_model_name(run->meta.gpu_name, run->model, sizeof run->model))
        return fail(error, error_size, "%s: gpu.name '%s' names no GPU model", run->json_path,
                    run->meta.gpu_name);
    return true;
}

/* A run folder read into memory (free_run), or NULL with error saying why. */
static run_data *load_run(const char *dir, char *error, size_t error_size) {
    run_data *run = calloc(1, sizeof *run);
    if (!run) {
        fail(error, error_size, "out of memory reading %s", dir);
        return NULL;
    }
    format_text(run->dir, sizeof run->dir, "%s", dir);
    for (size_t length = strlen(run->dir); length > 1 && run->dir[length - 1] == '/';)
        run->dir[--length] = '\0';
    if (!read_run(run, error, error_size)) {
        free_run(run);
        return NULL;
    }
    return run;
}

/* Key columns both runs have (b may be a itself). */
static key_set shared_keys(const run_data *a, const run_data *b) {
    key_set all = schema_keys(), keys = {.count = 0, .required = all.required};
    for (int i = 0; i < all.count; i++) {
        const char *name = all.columns[i];
        if (i < all.required || (mx_table_column_index(a->results, name) >= 0 &&
                                 mx_table_column_index(b->results, name) >= 0 &&
                                 mx_table_column_index(a->samples, name) >= 0 &&
                                 mx_table_column_index(b->samples, name) >= 0))
            keys.columns[keys.count++] = name;
    }
    return keys;
}

/* The row's key cells joined by US (0x1F), which no cell of ours holds; NULL out of memory. */
static char *row_key(const mx_table *table, size_t row, const key_set *keys) {
    size_t length = 1;
    for (int i = 0; i < keys->count; i++) length += strlen(cell(table, row, keys->columns[i])) + 1;
    char *key = malloc(length), *at = key;
    for (int i = 0; key && i < keys->count; i++)
        at += sprintf(at, "%s%s", i ? "\x1f" : "", cell(table, row, keys->columns[i]));
    return key;
}

static int compare_samples(const void *a, const void *b) {
    return strcmp(((const keyed_sample *)a)->key, ((const keyed_sample *)b)->key);
}

static int compare_key_pointers(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Keys every results row and sorts the samples by key; a key twice in results.csv, a key column
 * samples.csv lacks or a bad sample time is an error. */
static bool index_run(run_data *run, const key_set *keys, char *error, size_t error_size) {
    if (!require_columns(run->samples, run->samples_path, keys->columns, keys->count, error,
                         error_size))
        return false;
    run->keys = calloc(run->row_count + 1, sizeof *run->keys);
    char ***order = calloc(run->row_count + 1, sizeof *order);
    size_t samples = mx_table_row_count(run->samples);
    run->samples_by_key = calloc(samples + 1, sizeof *run->samples_by_key);
    bool ok = run->keys && order && run->samples_by_key;
    for (size_t r = 0; ok && r < run->row_count; r++) {
        ok = (run->keys[r] = row_key(run->results, r, keys)) != NULL;
        order[r] = &run->keys[r];
    }
    for (size_t s = 0; ok && s < samples; s++) {
        keyed_sample *sample = &run->samples_by_key[s];
        if (!parse_time(run->samples, run->samples_path, s, &sample->time_us, error, error_size) ||
            (isnan(sample->time_us) && !fail(error, error_size, "%s:%ld: empty time_us",
                                             run->samples_path, row_line(run->samples, s))))
            goto failed;
        ok = (sample->key = row_key(run->samples, s, keys)) != NULL;
        run->sample_count += ok;
    }
    if (!ok) {
        fail(error, error_size, "out of memory reading %s", run->dir);
        goto failed;
    }
    qsort(run->samples_by_key, run->sample_count, sizeof *run->samples_by_key, compare_samples);
    qsort(order, run->row_count, sizeof *order, compare_key_pointers);
    for (size_t i = 1; i < run->row_count; i++) {
        if (strcmp(*order[i - 1], *order[i])) continue;
        size_t one = (size_t)(order[i - 1] - run->keys), other = (size_t)(order[i] - run->keys);
        size_t first = one < other ? one : other, second = one < other ? other : one;
        format_text(error, error_size,
                    "%s:%ld: the same row as line %ld (op, variant, dtype, dist, "
                    "shape%s must tell rows apart)",
                    run->results_path, row_line(run->results, second),
                    row_line(run->results, first),
                    keys->count > keys->required ? ", batch, seed, kv_heads" : "");
        goto failed;
    }
    run->keys_sorted = order;
    return true;
failed:
    free(order);
    return false;
}

/* The samples of a key, into a new array (*values; NULL when none); returns their count. */
static int samples_of(const run_data *run, const char *key, double **values) {
    size_t low = 0, high = run->sample_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (strcmp(run->samples_by_key[middle].key, key) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    size_t end = low;
    while (end < run->sample_count && !strcmp(run->samples_by_key[end].key, key)) end++;
    *values = end > low ? malloc((end - low) * sizeof **values) : NULL;
    if (!*values) return 0;
    for (size_t i = low; i < end; i++) (*values)[i - low] = run->samples_by_key[i].time_us;
    return (int)(end - low);
}

/* Index of the results row with this key, or -1. */
static long find_row(const run_data *run, const char *key) {
    size_t low = 0, high = run->row_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(*run->keys_sorted[middle], key);
        if (order == 0) return (long)(run->keys_sorted[middle] - run->keys);
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return -1;
}

static size_t measured_rows(const run_data *run) {
    size_t measured = 0;
    for (size_t r = 0; r < run->row_count; r++) measured += !isnan(run->time_us[r]);
    return measured;
}

static void describe_run(const run_data *run, char *text, size_t size) {
    const mx_run_meta *meta = &run->meta;
    format_text(text, size, "run %s, suite %s, commit %.12s%s, started %s, %zu rows (%zu measured)",
                meta->run_id[0] ? meta->run_id : "?", meta->suite[0] ? meta->suite : "?",
                meta->git_commit[0] ? meta->git_commit : "unknown",
                meta->git_dirty == 1 ? " (dirty)" : "",
                meta->start_time[0] ? meta->start_time : "?", run->row_count, measured_rows(run));
}

// ---- compare

typedef struct {
    long base_row, cur_row; /* -1: absent from that run */
    size_t order;           /* BASE's row order, then rows only in CUR */
    mx_verdict verdict;
    bool timed; /* both measured: timing holds the medians and the change */
    mx_timing_verdict timing;
    char reason[512];
} compared_row;

static void describe_unmeasured(const run_data *run, long row, const char *side, char *text,
                                size_t size) {
    const char *note = cell(run->results, (size_t)row, "note");
    append(text, size, "not measured in %s (status %s%s%s)", side,
           cell(run->results, (size_t)row, "status"), note[0] ? ": " : "", note);
}

static void judge_row(const run_data *base, const run_data *cur, const mx_compare_rule *rule,
                      compared_row *row) {
    long b = row->base_row, c = row->cur_row;
    bool base_measured = b >= 0 && !isnan(base->time_us[b]);
    bool cur_measured = c >= 0 && !isnan(cur->time_us[c]);
    row->reason[0] = '\0';
    if (base_measured && cur_measured) {
        double *base_samples = NULL, *cur_samples = NULL;
        int nb = samples_of(base, base->keys[b], &base_samples);
        int nc = samples_of(cur, cur->keys[c], &cur_samples);
        mx_compare_timing(base_samples, nb, cur_samples, nc, rule, &row->timing);
        free(base_samples);
        free(cur_samples);
        if (nb == 0 || nc == 0) { /* judged UNSURE; the medians come from results.csv */
            if (nb == 0) row->timing.base_median_us = base->time_us[b];
            if (nc == 0) row->timing.cur_median_us = cur->time_us[c];
            row->timing.change_pct =
                (row->timing.cur_median_us / row->timing.base_median_us - 1.0) * 100.0;
            format_text(row->timing.reason, sizeof row->timing.reason,
                        "no samples of this row in %s",
                        nb == 0 ? base->samples_path : cur->samples_path);
        }
        row->timed = true;
    }
    if (c < 0) {
        row->verdict = base_measured ? MX_VERDICT_MISSING : MX_VERDICT_SKIPPED;
        append(row->reason, sizeof row->reason, "absent from CUR%s",
               base_measured ? "" : " and not measured in BASE");
        return;
    }
    if (b < 0) {
        row->verdict = MX_VERDICT_NEW;
        append(row->reason, sizeof row->reason, "only in CUR%s", cur_measured ? "" : "; ");
        if (!cur_measured) describe_unmeasured(cur, c, "CUR", row->reason, sizeof row->reason);
        return;
    }
    const char *base_pass = cell(base->results, (size_t)b, "pass_error");
    const char *cur_pass = cell(cur->results, (size_t)c, "pass_error");
    const char *base_status = cell(base->results, (size_t)b, "status");
    const char *cur_status = cell(cur->results, (size_t)c, "status");
    bool error_lost = !strcmp(base_pass, "yes") && !strcmp(cur_pass, "no");
    bool status_lost = !strcmp(base_status, "ok") && !strcmp(cur_status, "fail");
    if (error_lost || status_lost) {
        row->verdict = MX_VERDICT_ACCURACY;
        if (error_lost) {
            append(row->reason, sizeof row->reason, "pass_error yes -> no");
            static const char *const errors[] = {"rel_err_vs_fp16", "rel_err_vs_exact",
                                                 "nonfinite"};
            for (int i = 0; i < 3; i++)
                if (cell(base->results, (size_t)b, errors[i])[0] ||
                    cell(cur->results, (size_t)c, errors[i])[0])
                    append(row->reason, sizeof row->reason, "%s %s %s -> %s", i ? "," : ":",
                           errors[i], cell(base->results, (size_t)b, errors[i]),
                           cell(cur->results, (size_t)c, errors[i]));
        }
        if (status_lost) {
            const char *note = cell(cur->results, (size_t)c, "note");
            append(row->reason, sizeof row->reason, "%sstatus ok -> fail%s%s",
                   error_lost ? "; " : "", note[0] ? ": " : "", note);
        }
    } else if (base_measured != cur_measured) {
        row->verdict = base_measured ? MX_VERDICT_MISSING : MX_VERDICT_NEW;
        if (base_measured)
            describe_unmeasured(cur, c, "CUR", row->reason, sizeof row->reason);
        else
            describe_unmeasured(base, b, "BASE", row->reason, sizeof row->reason);
    } else if (!base_measured) {
        row->verdict = MX_VERDICT_SKIPPED;
        describe_unmeasured(cur, c, "either run", row->reason, sizeof row->reason);
    } else {
        row->verdict = row->timing.verdict;
        append(row->reason, sizeof row->reason, "%s", row->timing.reason);
    }
    /* Variants that time cuBLAS alone (variants.h: fp16, persistent) run no mxbench kernel.
     * They are the control: a change there is the environment (board, driver, cuBLAS), which the
     * report shows but the gate must not blame on the code. */
    const char *variant = cell(cur->results, (size_t)c, "variant");
    if ((row->verdict == MX_VERDICT_SLOWER || row->verdict == MX_VERDICT_FASTER) &&
        mx_variant_traits_of(variant)->cublas_only) {
        append(row->reason, sizeof row->reason,
               "%s not gated (p %.2g): this row times cuBLAS alone, a change is the environment",
               mx_verdict_string(row->verdict), row->timing.p_value);
        row->verdict = MX_VERDICT_UNSURE;
    }
    const run_data *runs[2] = {base, cur};
    long rows[2] = {b, c};
    bool throttled = false;
    for (int i = 0; i < 2 && row->timed; i++) {
        if (strcmp(cell(runs[i]->results, (size_t)rows[i], "throttled"), "yes")) continue;
        /* A row timed at a lowered SM clock (run flags it) says nothing about the code. */
        if (!throttled &&
            (row->verdict == MX_VERDICT_SLOWER || row->verdict == MX_VERDICT_FASTER)) {
            append(row->reason, sizeof row->reason,
                   "%s discounted (p %.2g): not timed at the same SM clock",
                   mx_verdict_string(row->verdict), row->timing.p_value);
            row->verdict = MX_VERDICT_UNSURE;
        }
        throttled = true;
        append(row->reason, sizeof row->reason, "%s%s row throttled (SM clock %s MHz)",
               row->reason[0] ? "; " : "", i ? "CUR" : "BASE",
               cell(runs[i]->results, (size_t)rows[i], "sm_clock_mhz"));
    }
}

/* Worst first: by verdict, then the largest slowdown, then the sweep's order. */
static int compare_rows(const void *a, const void *b) {
    const compared_row *x = a, *y = b;
    if (x->verdict != y->verdict) return x->verdict < y->verdict ? -1 : 1;
    double cx = x->timed ? x->timing.change_pct : NAN, cy = y->timed ? y->timing.change_pct : NAN;
    if (!isnan(cx) && !isnan(cy) && cx != cy) return cx > cy ? -1 : 1;
    if (isnan(cx) != isnan(cy)) return isnan(cx) ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

typedef struct {
    const run_data *base, *cur;
    compared_row *rows;
    size_t count;
    size_t plotted; /* rows in compare.dat */
    mx_compare_rule rule;
} comparison;

/* "gemm fused f16 gaussian M=1 N=4096 K=4096" (+ experts, batch where they matter). */
static void row_label(const comparison *cmp, const compared_row *row, char *label, size_t size) {
    const mx_table *t = row->base_row >= 0 ? cmp->base->results : cmp->cur->results;
    size_t r = (size_t)(row->base_row >= 0 ? row->base_row : row->cur_row);
    format_text(label, size, "%s %s %s %s M=%s N=%s K=%s", cell(t, r, "op"), cell(t, r, "variant"),
                cell(t, r, "dtype"), cell(t, r, "dist"), cell(t, r, "M"), cell(t, r, "N"),
                cell(t, r, "K"));
    const char *experts = cell(t, r, "experts"), *batch = cell(t, r, "batch");
    if (experts[0] && strcmp(experts, "0"))
        append(label, size, " experts=%s topk=%s", experts, cell(t, r, "topk"));
    if (batch[0] && strcmp(batch, "1")) append(label, size, " batch=%s", batch);
    for (char *p = label; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
}

static void format_number(char *text, size_t size, const char *format, double value) {
    if (isfinite(value))
        format_text(text, size, format, value);
    else
        format_text(text, size, "-");
}

static void print_table(const comparison *cmp, bool all) {
    size_t listed = 0;
    char band_title[32];
    format_text(band_title, sizeof band_title, "noise %g%%", 100.0 * (1.0 - cmp->rule.alpha));
    printf("\n%-8s %9s %10s %8s %10s %10s  %s\n", "verdict", "change", band_title, "p", "base us",
           "cur us", "row");
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        if (row->verdict == MX_VERDICT_SAME && !all) continue;
        const mx_timing_verdict *t = &row->timing;
        char change[32] = "-", band[48] = "-", p[32] = "-", base_us[32] = "-", cur_us[32] = "-";
        char label[256];
        if (row->timed) {
            format_number(change, sizeof change, "%+.1f %%", t->change_pct);
            format_number(band, sizeof band, "+-%.1f %%", fmax(-t->band_low_pct, t->band_high_pct));
            format_number(p, sizeof p, "%.1e", t->p_value);
            format_number(base_us, sizeof base_us, "%.2f", t->base_median_us);
            format_number(cur_us, sizeof cur_us, "%.2f", t->cur_median_us);
        }
        row_label(cmp, row, label, sizeof label);
        printf("%-8s %9s %10s %8s %10s %10s  %s%s%s\n", mx_verdict_string(row->verdict), change,
               band, p, base_us, cur_us, label, row->reason[0] ? ": " : "", row->reason);
        listed++;
    }
    if (listed == 0) printf("(no row changed)\n");
    if (!all && listed < cmp->count)
        printf("(%zu SAME rows not listed: --all lists them; compare.csv has every row)\n",
               cmp->count - listed);
}

static const char *const compare_columns[] = {
    /* the row's key */
    "verdict", "op", "variant", "dtype", "dist", "M", "N", "K", "experts", "topk", "batch", "seed",
    "kv_heads",
    /* what was compared */
    "base_samples", "cur_samples", "base_median_us", "cur_median_us", "change_pct", "band_low_pct",
    "band_high_pct", "p_value", "base_noise_pct", "cur_noise_pct", "base_status", "cur_status",
    "base_pass_error", "cur_pass_error", "reason"};

static bool set_number(mx_table *t, int r, const char *column, const char *format, double value) {
    return !isfinite(value) || mx_table_set(t, r, column, format, value);
}

static bool save_compare_csv(const comparison *cmp, const char *path, char *error,
                             size_t error_size) {
    mx_table *t =
        mx_table_create(compare_columns, (int)(sizeof compare_columns / sizeof compare_columns[0]));
    bool ok = t != NULL;
    key_set keys = schema_keys();
    for (size_t i = 0; ok && i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        const mx_timing_verdict *tv = &row->timing;
        int r = mx_table_add_row(t);
        ok = r >= 0 && mx_table_set(t, r, "verdict", "%s", mx_verdict_string(row->verdict)) &&
             mx_table_set(t, r, "reason", "%s", row->reason);
        const run_data *runs[2] = {cmp->base, cmp->cur};
        long rows[2] = {row->base_row, row->cur_row};
        for (int side = 1; side >= 0; side--) { /* keys from BASE where it has the row */
            if (rows[side] < 0) continue;
            const mx_table *from = runs[side]->results;
            size_t at = (size_t)rows[side];
            for (int k = 0; ok && k < keys.count; k++)
                ok = mx_table_set(t, r, keys.columns[k], "%s", cell(from, at, keys.columns[k]));
            ok = ok &&
                 mx_table_set(t, r, side ? "cur_status" : "base_status", "%s",
                              cell(from, at, "status")) &&
                 mx_table_set(t, r, side ? "cur_pass_error" : "base_pass_error", "%s",
                              cell(from, at, "pass_error"));
        }
        if (ok && row->timed)
            ok = mx_table_set(t, r, "base_samples", "%d", tv->base_count) &&
                 mx_table_set(t, r, "cur_samples", "%d", tv->cur_count) &&
                 set_number(t, r, "base_median_us", "%.3f", tv->base_median_us) &&
                 set_number(t, r, "cur_median_us", "%.3f", tv->cur_median_us) &&
                 set_number(t, r, "change_pct", "%.2f", tv->change_pct) &&
                 set_number(t, r, "band_low_pct", "%.2f", tv->band_low_pct) &&
                 set_number(t, r, "band_high_pct", "%.2f", tv->band_high_pct) &&
                 set_number(t, r, "p_value", "%.3g", tv->p_value) &&
                 set_number(t, r, "base_noise_pct", "%.3f", tv->base_noise_pct) &&
                 set_number(t, r, "cur_noise_pct", "%.3f", tv->cur_noise_pct);
    }
    if (!ok) format_text(error, error_size, "%s: out of memory", path);
    ok = ok && mx_table_save(t, path, error, error_size);
    mx_table_free(t);
    return ok;
}

/* compare.dat, the data of plots/compare.gp (report.h): the rows timed in both runs, in the
 * sweep's order (the rows are still in that order when it is written). */
static bool write_compare_dat(FILE *file, void *context) {
    comparison *cmp = context;
    const mx_run_meta *base = &cmp->base->meta, *cur = &cmp->cur->meta;
    fprintf(file,
            "# mxbench compare on %s: change of the median time vs BASE in %% (positive: slower),\n"
            "# the change the noise alone could give (%g %% band) and the verdict on the time\n"
            "# base: run %s, commit %s\n# cur: run %s, commit %s\n"
            "# index\tchange_pct\tband_low_pct\tband_high_pct\tverdict\tlabel\n",
            cur->gpu_name, 100.0 * (1.0 - cmp->rule.alpha), base->run_id, base->git_commit,
            cur->run_id, cur->git_commit);
    cmp->plotted = 0;
    for (size_t i = 0; i < cmp->count; i++) {
        const compared_row *row = &cmp->rows[i];
        const mx_timing_verdict *t = &row->timing;
        if (!row->timed || !isfinite(t->change_pct)) continue;
        char label[256], band[64] = "NaN\tNaN";
        row_label(cmp, row, label, sizeof label);
        if (isfinite(t->band_low_pct) && isfinite(t->band_high_pct))
            format_text(band, sizeof band, "%.3f\t%.3f", t->band_low_pct, t->band_high_pct);
        /* the row's verdict; the timing one where accuracy decided (the plot shows time only) */
        mx_verdict verdict = row->verdict == MX_VERDICT_ACCURACY ? t->verdict : row->verdict;
        fprintf(file, "%zu\t%.3f\t%s\t%s\t%s\n", cmp->plotted++, t->change_pct, band,
                mx_verdict_string(verdict), label);
    }
    return !ferror(file);
}

/* compare.png and .svg from compare.dat; a plot that cannot be drawn is a warning only. */
static void draw_plot(const comparison *cmp, const char *dat_path, const char *out_dir) {
    mx_gnuplot gnuplot;
    char out_base[2200], path[2300];
    format_text(out_base, sizeof out_base, "%s/compare", out_dir);
    for (int i = 0; i < 2; i++) { /* an earlier comparison's plot must not pass for this one's */
        format_text(path, sizeof path, "%s.%s", out_base, i ? "svg" : "png");
        unlink(path);
    }
    if (cmp->plotted == 0) return;
    if (!mx_gnuplot_find(&gnuplot)) {
        fprintf(stderr, "mxbench: warning: compare.png not drawn: gnuplot not found; %s\n",
                mx_gnuplot_advice);
        return;
    }
    char caption[512], title[1024], count[32], threshold[32], error[2048];
    mx_run_meta_caption(&cmp->cur->meta, caption, sizeof caption);
    format_text(title, sizeof title, "run %s vs %s: change of the median time (%s)",
                cmp->cur->meta.run_id, cmp->base->meta.run_id, caption);
    format_text(count, sizeof count, "%zu", cmp->plotted);
    format_text(threshold, sizeof threshold, "%g", cmp->rule.min_change_pct);
    const mx_plot_variable variables[] = {
        {"data", dat_path}, {"count", count}, {"threshold", threshold}, {"title", title}};
    if (mx_plot_render(&gnuplot, "compare.gp", variables, 4, out_base, error, sizeof error))
        printf("plot: %s.png, %s.svg\n", out_base, out_base);
    else
        fprintf(stderr, "mxbench: warning: compare.png not drawn: %s\n", error);
}

static bool number_option(const mx_parsed_options *parsed, const char *name, double low,
                          double high, bool low_open, double *value) {
    const char *text = mx_option_value(parsed, name);
    char *end = NULL;
    *value = text ? strtod(text, &end) : NAN;
    if (text && end != text && *end == '\0' && *value <= high &&
        (low_open ? *value > low : *value >= low))
        return true;
    mx_cli_error("--%s '%s': expected a number in %c%g, %g]", name, text ? text : "",
                 low_open ? '(' : '[', low, high);
    return false;
}

static void list_models(const char *dir, char *text, size_t size) {
    text[0] = '\0';
    DIR *folder = opendir(dir);
    for (struct dirent *entry; folder && (entry = readdir(folder));) {
        char path[2400];
        format_text(path, sizeof path, "%s/%s/run.json", dir, entry->d_name);
        if (entry->d_name[0] != '.' && is_file(path))
            append(text, size, "%s%s", text[0] ? ", " : "", entry->d_name);
    }
    if (folder) closedir(folder);
    if (!text[0]) format_text(text, size, "none");
}

/* BASE is a run folder, or a baselines folder holding a run folder per GPU model: then CUR's. */
static bool resolve_base(const char *base_arg, const run_data *cur, char *dir, size_t size,
                         bool *from_baselines, char *error, size_t error_size) {
    char base[1024];
    format_text(base, sizeof base, "%s", base_arg);
    for (size_t length = strlen(base); length > 1 && base[length - 1] == '/';)
        base[--length] = '\0';
    *from_baselines = false;
    if (!is_folder(base)) {
        format_text(error, error_size, "BASE '%s': %s (give a run folder or a baselines folder)",
                    base, access(base, F_OK) ? strerror(errno) : "not a folder");
        return false;
    }
    for (int i = 0; i < RUN_FILE_COUNT; i++) {
        format_text(dir, size, "%s/%s", base, run_files[i]);
        if (access(dir, F_OK) == 0) {
            format_text(dir, size, "%s", base);
            return true;
        }
    }
    format_text(dir, size, "%s/%s", base, cur->model);
    *from_baselines = true;
    if (is_folder(dir)) return true;
    char models[512];
    list_models(base, models, sizeof models);
    format_text(
        error, error_size,
        "no baseline for GPU model %s ('%s', from %s) in %s (baselines there: %s).\n"
        "  Make one from a run you trust: mxbench baseline --update RUN_DIR --baselines %s\n"
        "  then commit %s/%s/ (nothing was compared: a missing baseline never passes)",
        cur->model, cur->meta.gpu_name, cur->json_path, base, models, base, base, cur->model);
    return false;
}

static void print_header(const comparison *cmp, bool from_baselines) {
    char base_text[512], cur_text[512];
    describe_run(cmp->base, base_text, sizeof base_text);
    describe_run(cmp->cur, cur_text, sizeof cur_text);
    printf("mxbench compare on %s\n  BASE %s%s: %s\n  CUR  %s: %s\n", cmp->cur->meta.gpu_name,
           cmp->base->dir, from_baselines ? " (the baseline of this GPU model)" : "", base_text,
           cmp->cur->dir, cur_text);
    printf("  per row: Mann-Whitney U on the samples at alpha %g and a change of the medians of at "
           "least %g %% (%d samples a side at least)\n",
           cmp->rule.alpha, cmp->rule.min_change_pct, MX_COMPARE_MIN_SAMPLES);
    const run_data *runs[2] = {cmp->base, cmp->cur};
    for (int i = 0; i < 2; i++)
        if (strcmp(runs[i]->meta.status, "complete"))
            printf("  note: %s is a run with status '%s': rows it lacks show as %s\n",
                   i ? "CUR" : "BASE", runs[i]->meta.status, i ? "MISSING" : "NEW");
    const mx_run_meta *base = &cmp->base->meta, *cur = &cmp->cur->meta;
    if (strcmp(base->suite, cur->suite))
        printf("  note: the suites differ (BASE %s, CUR %s): rows of one only show as MISSING or "
               "NEW\n",
               base->suite, cur->suite);
    if (base->l2_flushed >= 0 && cur->l2_flushed >= 0 && base->l2_flushed != cur->l2_flushed)
        printf("  note: %s flushed the L2 before each sample and %s did not: times are not like "
               "for like\n",
               base->l2_flushed ? "BASE" : "CUR", base->l2_flushed ? "CUR" : "BASE");
}

static int compare_runs(comparison *cmp, const char *out_dir, bool all) {
    const run_data *base = cmp->base, *cur = cmp->cur;
    cmp->rows = calloc(base->row_count + cur->row_count + 1, sizeof *cmp->rows);
    if (!cmp->rows) {
        mx_cli_error("out of memory");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    bool *matched = calloc(cur->row_count + 1, sizeof *matched);
    for (size_t b = 0; matched && b < base->row_count; b++) {
        compared_row *row = &cmp->rows[cmp->count];
        *row = (compared_row){
            .base_row = (long)b, .cur_row = find_row(cur, base->keys[b]), .order = cmp->count};
        if (row->cur_row >= 0) matched[row->cur_row] = true;
        cmp->count++;
    }
    for (size_t c = 0; matched && c < cur->row_count; c++) {
        if (matched[c]) continue;
        cmp->rows[cmp->count] =
            (compared_row){.base_row = -1, .cur_row = (long)c, .order = cmp->count};
        cmp->count++;
    }
    if (!matched) {
        mx_cli_error("out of memory");
        return MX_EXIT_UNUSABLE_INPUT;
    }
    free(matched);
    int counts[MX_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < cmp->count; i++) {
        judge_row(base, cur, &cmp->rule, &cmp->rows[i]);
        counts[cmp->rows[i].verdict]++;
    }
    char csv_path[2200], dat_path[2200], error[2600];
    format_text(csv_path, sizeof csv_path, "%s/compare.csv", out_dir);
    format_text(dat_path, sizeof dat_path, "%s/compare.dat", out_dir);
    if (!ensure_folder(out_dir)) {
        mx_cli_error("cannot create %s: %s", out_dir, strerror(errno));
        return MX_EXIT_UNUSABLE_INPUT;
    }
    if (!mx_write_stream_atomic(dat_path, write_compare_dat, cmp, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    qsort(cmp->rows, cmp->count, sizeof *cmp->rows, compare_rows);
    print_table(cmp, all);
    if (!save_compare_csv(cmp, csv_path, error, sizeof error)) {
        mx_cli_error("%s", error);
        return MX_EXIT_UNUSABLE_INPUT;
    }
    int regressions = 0;
    printf("\nsummary: %zu rows:", cmp->count);
    for (int v = 0; v < MX_VERDICT_COUNT; v++) {
        printf("%s %d %s", v ? "," : "", counts[v], mx_verdict_string((mx_verdict)v));
        if (mx_verdict_is_regression((mx_verdict)v)) regressions += counts[v];
    }
    printf("\nwrote %s and %s\n", csv_path, dat_path);
    draw_plot(cmp, dat_path, out_dir);
    if (regressions) {
        printf("REGRESSION: %d rows (%d ACCURACY, %d MISSING, %d SLOWER) vs %s (exit 1)\n",
               regressions, counts[MX_VERDICT_ACCURACY], counts[MX_VERDICT_MISSING],
               counts[MX_VERDICT_SLOWER], base->dir);
        return MX_COMPARE_EXIT_REGRESSION;
    }
    printf("no regression vs %s (exit 0)\n", base->dir);
    return MX_EXIT_OK;
}

static int run_compare(const mx_parsed_options *parsed) {
    comparison cmp = {.rows = NULL};
    bool all = mx_option_value(parsed, "all") != NULL;
    if (!number_option(parsed, "alpha", 0.0, 0.5, true, &cmp.rule.alpha) ||
        !number_option(parsed, "min-change-pct", 0.0, 1000.0, false, &cmp.rule.min_change_pct))
        return MX_EXIT_UNUSABLE_INPUT;
    const char *base_arg = parsed->arguments[0], *cur_arg = parsed->arguments[1];
    char error[4096], base_dir[1024];
    bool from_baselines = false;
    int status = MX_EXIT_UNUSABLE_INPUT;
    run_data *base = NULL, *cur = load_run(cur_arg, error, sizeof error);
    if (!cur ||
        !resolve_base(base_arg, cur, base_dir, sizeof base_dir, &from_baselines, error,
                      sizeof error) ||
        !(base = load_run(base_dir, error, sizeof error))) {
        mx_cli_error("%s", error);
        goto done;
    }
    if (strcmp(base->model, cur->model)) {
        mx_cli_error("the runs are from different GPU models: BASE %s ran on '%s' (%s), CUR %s on "
                     "'%s' (%s); times from different GPUs are not comparable (compare against a "
                     "baselines folder to pick CUR's model)",
                     base->dir, base->meta.gpu_name, base->model, cur->dir, cur->meta.gpu_name,
                     cur->model);
        goto done;
    }
    key_set keys = shared_keys(base, cur);
    if (!index_run(base, &keys, error, sizeof error) ||
        !index_run(cur, &keys, error, sizeof error)) {
        mx_cli_error("%s", error);
        goto done;
    }
    if (measured_rows(base) == 0) {
        mx_cli_error("%s has no measured row: there is nothing to compare against",
                     base->results_path);
        goto done;
    }
    cmp.base = base;
    cmp.cur = cur;
    print_header(&cmp, from_baselines);
    const char *out = mx_option_value(parsed, "out");
    status = compare_runs(&cmp, out ? out : cur->dir, all);
done:
    free(cmp.rows);
    free_run(base);
    free_run(cur);
    return status;
}

// ---- baseline

/* A run loaded and checked on its own (what compare will need of it). */
static run_data *load_checked_run(const char *dir, char *error, size_t error_size) {
    run_data *run = load_run(dir, error, error_size);
    if (run) {
        key_set keys = shared_keys(run, run);
        if (!index_run(run, &keys, error, error_size)) {
            free_run(run);
            run = NULL;
        }
    }
    return run;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(a, b);
}

static int list_baselines(const char *dir) {
    DIR *folder = opendir(dir);
    if (!folder) {
        if (errno != ENOENT) {
            mx_cli_error("%s: %s", dir, strerror(errno));
            return MX_EXIT_UNUSABLE_INPUT;
        }
        printf("no baselines: %s does not exist (mxbench baseline --update RUN_DIR makes one)\n",
               dir);
        return MX_EXIT_OK;
    }
    char names[256][256];
    int count = 0;
    for (struct dirent *entry; (entry = readdir(folder)) && count < 256;) {
        char path[2400];
        format_text(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (entry->d_name[0] != '.' && strlen(entry->d_name) < sizeof names[0] && is_folder(path))
            format_text(names[count++], sizeof names[0], "%s", entry->d_name);
    }
    closedir(folder);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    int status = MX_EXIT_OK;
    printf("baselines in %s:\n", dir);
    for (int i = 0; i < count; i++) {
        char path[2400], error[2048], text[512];
        format_text(path, sizeof path, "%s/%s", dir, names[i]);
        run_data *run = load_checked_run(path, error, sizeof error);
        if (run) {
            describe_run(run, text, sizeof text);
            printf("  %-24s %s: %s\n", names[i], run->meta.gpu_name, text);
            if (strcmp(run->model, names[i]))
                printf("  %-24s warning: its run.json names model %s: compare looks in %s/%s/\n",
                       "", run->model, dir, run->model);
        } else {
            printf("  %-24s unusable: %s\n", names[i], error);
            status = MX_EXIT_UNUSABLE_INPUT;
        }
        free_run(run);
    }
    if (count == 0)
        printf("  none yet (mxbench baseline --update RUN_DIR --baselines %s makes one)\n", dir);
    return status;
}

/* Writes the run's files into a fresh folder beside target, then swaps it in: a reader sees the
 * old baseline or the new one (or, for an instant, none: compare then exits 2), never a mix. */
static bool replace_baseline(const char *dir, const run_data *run, char *error, size_t error_size) {
    const char *model = run->model;
    const char *sources[RUN_FILE_COUNT] = {run->results_path, run->samples_path, run->json_path};
    char target[2048], fresh[2100], old[2100], path[2200];
    format_text(target, sizeof target, "%s/%s", dir, model);
    format_text(fresh, sizeof fresh, "%s/.%s.new.XXXXXX", dir, model);
    format_text(old, sizeof old, "%s/.%s.old.XXXXXX", dir, model);
    if (!ensure_folder(dir) || !mkdtemp(fresh)) {
        format_text(error, error_size, "cannot create a folder in %s: %s", dir, strerror(errno));
        return false;
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(fresh, 0777 & ~mask); /* mkdtemp makes it private */
    for (int i = 0; i < RUN_FILE_COUNT; i++) {
        format_text(path, sizeof path, "%s/%s", fresh, run_files[i]);
        if (!copy_file(sources[i], path, error, error_size)) {
            remove_folder(fresh);
            return false;
        }
    }
    bool had_old = is_folder(target);
    if (had_old && (!mkdtemp(old) || rename(target, old) != 0)) {
        format_text(error, error_size, "cannot move the old baseline %s aside: %s", target,
                    strerror(errno));
        rmdir(old);
        remove_folder(fresh);
        return false;
    }
    if (rename(fresh, target) != 0) {
        format_text(error, error_size, "cannot rename %s to %s: %s", fresh, target,
                    strerror(errno));
        if (had_old) rename(old, target);
        remove_folder(fresh);
        return false;
    }
    if (had_old && !remove_folder(old))
        fprintf(stderr, "mxbench: warning: could not remove the old baseline moved to %s\n", old);
    return true;
}

static int update_baseline(const char *dir, const char *run_dir) {
    char error[4096];
    run_data *run = load_checked_run(run_dir, error, sizeof error), *previous = NULL;
    int status = MX_EXIT_UNUSABLE_INPUT;
    if (!run) {
        mx_cli_error("%s", error);
        goto done;
    }
    size_t measured = measured_rows(run);
    if (strcmp(run->meta.status, "complete") || measured == 0) {
        mx_cli_error("%s: %s: a baseline must be a complete run with measured rows (rows it lacked "
                     "would never be checked)",
                     run->json_path,
                     measured ? "the run's status is not 'complete'" : "no row was measured");
        if (measured) fprintf(stderr, "  status: '%s'\n", run->meta.status);
        goto done;
    }
    char target[2048], before[512] = "", after[512];
    format_text(target, sizeof target, "%s/%s", dir, run->model);
    if (is_folder(target)) {
        previous = load_run(target, error, sizeof error);
        if (previous)
            describe_run(previous, before, sizeof before);
        else
            format_text(before, sizeof before, "an unusable baseline (%s)", error);
    }
    if (!replace_baseline(dir, run, error, sizeof error)) {
        mx_cli_error("%s", error);
        status = MX_EXIT_ERROR;
        goto done;
    }
    describe_run(run, after, sizeof after);
    printf("baseline %s ('%s') in %s/:\n", run->model, run->meta.gpu_name, target);
    if (before[0]) printf("  replaced %s\n", before);
    printf("  %s %s\n  from %s (results.csv, samples.csv, run.json)\n",
           before[0] ? "with    " : "created:", after, run->dir);
    if (strcmp(run->meta.suite, "nightly"))
        printf(
            "note: this is a '%s' run; make nightly compares nightly runs with it, and every row "
            "it has that the nightly suite lacks will show as MISSING\n",
            run->meta.suite);
    if (run->meta.git_dirty == 1)
        printf("note: the run was made from a checkout with uncommitted changes (commit %.12s)\n",
               run->meta.git_commit);
    printf("commit it to make it the gate of make nightly: git add %s\n", target);
    status = MX_EXIT_OK;
done:
    free_run(run);
    free_run(previous);
    return status;
}

static int run_baseline(const mx_parsed_options *parsed) {
    const char *dir = mx_option_value(parsed, "baselines");
    bool update = mx_option_value(parsed, "update") != NULL;
    if (update && parsed->argument_count != 1) {
        mx_cli_error("baseline --update: which run? usage: mxbench baseline --update RUN_DIR");
        return MX_EXIT_ERROR;
    }
    if (!update && parsed->argument_count) {
        mx_cli_error("baseline: '%s' given without --update (mxbench baseline --update %s "
                     "promotes it; without arguments the baselines are listed)",
                     parsed->arguments[0], parsed->arguments[0]);
        return MX_EXIT_ERROR;
    }
    return update ? update_baseline(dir, parsed->arguments[0]) : list_baselines(dir);
}

// ---- commands

static const mx_option compare_options[] = {
    {"out", "DIR", "where compare.csv and compare.dat go (default: CUR)", NULL, true},
    {"alpha", "P", "level of the two-sided Mann-Whitney U test of each row, in (0, 0.5]", "0.01",
     false},
    {"min-change-pct", "X", "smallest change of the median time that is FASTER or SLOWER", "5",
     false},
    {"all", NULL, "list SAME rows in the table too (compare.csv always has every row)", NULL,
     false},
};

const mx_command mx_compare_command = {
    "compare",
    "Compare two runs row by row: FASTER, SLOWER, SAME, UNSURE; exit 1 on a regression.",
    "BASE and CUR are run folders (results.csv, samples.csv, run.json). BASE may instead be a\n"
    "baselines folder (results/baselines): then BASE/<gpu-model>/ is used, the model taken from\n"
    "CUR's run.json (\"NVIDIA H200\" -> nvidia-h200). Rows match by op, variant, dtype, dist, M,\n"
    "N, K, experts, topk (and batch, seed, kv_heads where both runs have them). Per row, from\n"
    "the samples:\n"
    "  ACCURACY  pass_error yes -> no, or status ok -> fail (whatever the times)\n"
    "  MISSING   measured in BASE, but absent from CUR or not measured there (skipped, failed):\n"
    "            the row may hide a regression, so it counts as one; the reason is shown\n"
    "  SLOWER    Mann-Whitney p < alpha and the median time up by >= --min-change-pct\n"
    "  FASTER    p < alpha and the median down by >= --min-change-pct\n"
    "  SAME      p >= alpha and the change below --min-change-pct\n"
    "  UNSURE    the rest: a significant change below the minimum, a large one within the noise,\n"
    "            fewer than 8 samples on a side (the U test's approximation needs 8), or a\n"
    "            SLOWER/FASTER row that either run timed throttled (at a lowered SM clock)\n"
    "  NEW       measured in CUR only;  SKIPPED  measured in neither\n"
    "The table lists the rows worst first, then counts. DIR/compare.csv (every row: key, medians,\n"
    "change %, its (1 - alpha) interval from both medians' noise, p-value, noise, verdict) and\n"
    "DIR/compare.dat (tab-separated, for plots/compare.gp) are written atomically.\n"
    "Exit: 0 no regression, 1 a regression (ACCURACY, MISSING or SLOWER rows), 2 unusable input\n"
    "(a missing or malformed file, different GPU models, no baseline for CUR's GPU model).",
    compare_options,
    (int)(sizeof compare_options / sizeof compare_options[0]),
    run_compare,
    2,
    2,
    "BASE CUR",
    NULL,
};

static const mx_option baseline_options[] = {
    {"update", NULL, "make RUN_DIR the baseline of its GPU model", NULL, false},
    {"baselines", "DIR", "the baselines folder", MX_SOURCE_DIR "/results/baselines", false},
};

const mx_command mx_baseline_command = {
    "baseline",
    "List the baselines, or promote a run to its GPU model's baseline (--update RUN_DIR).",
    "A baseline is a complete run folder kept as DIR/<gpu-model>/ (results.csv, samples.csv,\n"
    "run.json; the model is run.json's gpu.name in lower case with dashes: NVIDIA H200 ->\n"
    "nvidia-h200); `mxbench compare DIR CUR` (make nightly) compares CUR with the baseline of\n"
    "CUR's GPU model. --update checks the run as compare will read it, copies its three files\n"
    "into a new folder and swaps it for the old one, and prints what it replaced; commit the\n"
    "folder to make it the nightly gate. Without --update: the baselines there, with their run,\n"
    "date, commit and rows. Exit: 0 done, 1 bad usage or a failed write, 2 an unusable run or\n"
    "baseline.",
    baseline_options,
    (int)(sizeof baseline_options / sizeof baseline_options[0]),
    run_baseline,
    0,
    1,
    "[RUN_DIR]",
    NULL,
};
