/* Run folders read and keyed (run_folder.h). */
#include "run_folder.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "schema.h"
#include "stats.h"
#include "text.h"
#include "variants.h"

const char *const mx_run_files[MX_RUN_FILE_COUNT] = {"results.csv", "samples.csv", "run.json"};

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

mx_key_set mx_schema_keys(void) {
    mx_key_set keys = {.count = 0};
    int count;
    const mx_column *columns = mx_columns(&count);
    for (int pass = 0; pass < 2; pass++) { /* the required keys first */
        for (int i = 0; i < count && keys.count < MX_MAX_KEY_COLUMNS; i++)
            if (columns[i].key && columns[i].required == (pass == 0))
                keys.columns[keys.count++] = columns[i].name;
        if (pass == 0) keys.required = keys.count;
    }
    return keys;
}

void mx_run_folder_free(mx_run_folder *run) {
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
const char *mx_run_cell(const mx_table *table, size_t row, const char *column) {
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
            mx_format_text(error, error_size, "%s: no column '%s' (not an mxbench %s)", path,
                           columns[i], strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
            return false;
        }
    return true;
}

bool mx_run_time_cell(const mx_table *table, const char *path, size_t row, double *value,
                      char *error, size_t error_size) {
    const char *text = mx_run_cell(table, row, "time_us");
    char *end = NULL;
    *value = text[0] ? strtod(text, &end) : NAN;
    if (!text[0] || (*end == '\0' && isfinite(*value) && *value > 0.0)) return true;
    mx_format_text(error, error_size,
                   "%s:%ld: time_us '%s' is not a positive number of microseconds", path,
                   row_line(table, row), text);
    return false;
}

static bool check_row(const mx_run_folder *run, size_t row, char *error, size_t error_size) {
    const char *status = mx_run_cell(run->results, row, "status");
    const char *pass = mx_run_cell(run->results, row, "pass_error");
    if (strcmp(status, "ok") && strcmp(status, "fail") && strcmp(status, "skipped"))
        return mx_format_fail(error, error_size, "%s:%ld: status '%s' is not ok, fail or skipped",
                              run->results_path, row_line(run->results, row), status);
    if (mx_flag_value(pass) == -2)
        return mx_format_fail(error, error_size,
                              "%s:%ld: pass_error '%s' is not true, false (yes, no) or empty",
                              run->results_path, row_line(run->results, row), pass);
    return mx_run_time_cell(run->results, run->results_path, row, &run->time_us[row], error,
                            error_size);
}

/* Reads the files of a run folder, checking the columns and cells compare relies on. */
static bool read_run(mx_run_folder *run, char *error, size_t error_size) {
    /* the required keys, then what compare reads of each file */
    mx_key_set keys = mx_schema_keys(), result_columns = keys, sample_columns = keys;
    result_columns.count = sample_columns.count = keys.required;
    result_columns.columns[result_columns.count++] = "time_us";
    result_columns.columns[result_columns.count++] = "status";
    result_columns.columns[result_columns.count++] = "pass_error";
    sample_columns.columns[sample_columns.count++] = "time_us";
    char *paths[MX_RUN_FILE_COUNT] = {run->results_path, run->samples_path, run->json_path};
    for (int i = 0; i < MX_RUN_FILE_COUNT; i++) {
        mx_format_text(paths[i], sizeof run->results_path, "%s/%s", run->dir, mx_run_files[i]);
        if (!mx_is_file(paths[i]))
            return mx_format_fail(error, error_size, "%s: %s (a run folder holds %s, %s and %s)",
                                  paths[i],
                                  mx_is_folder(run->dir) ? "no such file" : "no such run folder",
                                  mx_run_files[0], mx_run_files[1], mx_run_files[2]);
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
    if (!run->time_us)
        return mx_format_fail(error, error_size, "out of memory reading %s", run->dir);
    for (size_t r = 0; r < run->row_count; r++)
        if (!check_row(run, r, error, error_size)) return false;
    if (!mx_run_info_read(run->json_path, &run->meta, error, error_size)) return false;
    if (!mx_gpu_model_name(run->meta.gpu_name, run->model, sizeof run->model))
        return mx_format_fail(error, error_size, "%s: gpu.name '%s' names no GPU model",
                              run->json_path, run->meta.gpu_name);
    return true;
}

/* A run folder read into memory (free_run), or NULL with error saying why. */
mx_run_folder *mx_run_folder_load(const char *dir, char *error, size_t error_size) {
    mx_run_folder *run = calloc(1, sizeof *run);
    if (!run) {
        mx_format_fail(error, error_size, "out of memory reading %s", dir);
        return NULL;
    }
    mx_format_text(run->dir, sizeof run->dir, "%s", dir);
    for (size_t length = strlen(run->dir); length > 1 && run->dir[length - 1] == '/';)
        run->dir[--length] = '\0';
    if (!read_run(run, error, error_size)) {
        mx_run_folder_free(run);
        return NULL;
    }
    return run;
}

/* Key columns both runs have (b may be a itself). */
mx_key_set mx_run_shared_keys(mx_run_folder *const *runs, int count) {
    mx_key_set all = mx_schema_keys(), keys = {.count = 0, .required = all.required};
    for (int i = 0; i < all.count; i++) {
        bool everywhere = true;
        for (int r = 0; r < count && i >= all.required; r++)
            everywhere = everywhere &&
                         mx_table_column_index(runs[r]->results, all.columns[i]) >= 0 &&
                         mx_table_column_index(runs[r]->samples, all.columns[i]) >= 0;
        if (everywhere) keys.columns[keys.count++] = all.columns[i];
    }
    return keys;
}

/* The row's key cells joined by US (0x1F), which no cell of ours holds, with the variant cell
 * replaced by variant when that is not NULL; NULL out of memory. */
static char *row_key_as(const mx_table *table, size_t row, const mx_key_set *keys,
                        const char *variant) {
    size_t length = 1 + (variant ? strlen(variant) : 0) + 24 * (size_t)keys->count;
    for (int i = 0; i < keys->count; i++)
        length += strlen(mx_run_cell(table, row, keys->columns[i])) + 1;
    char *key = malloc(length), *at = key;
    for (int i = 0; key && i < keys->count; i++) {
        const char *cell = variant && !strcmp(keys->columns[i], "variant")
                               ? variant
                               : mx_run_cell(table, row, keys->columns[i]);
        /* an empty integer cell is its fallback: "" and "0" experts are the same row */
        const mx_column *column = cell[0] ? NULL : mx_column_find(keys->columns[i]);
        if (column && column->type == MX_COLUMN_INTEGER)
            at += sprintf(at, "%s%lld", i ? "\x1f" : "", (long long)column->fallback);
        else
            at += sprintf(at, "%s%s", i ? "\x1f" : "", cell);
    }
    return key;
}

char *mx_run_row_key(const mx_table *table, size_t row, const mx_key_set *keys) {
    return row_key_as(table, row, keys, NULL);
}

static int compare_samples(const void *a, const void *b) {
    return strcmp(((const mx_keyed_sample *)a)->key, ((const mx_keyed_sample *)b)->key);
}

static int compare_key_pointers(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Every measured row has its samples, as many as its `samples` cell says (where there is one):
 * a gate fed a header-only samples.csv must refuse, not judge every row UNSURE. */
static bool check_sample_counts(const mx_run_folder *run, char *error, size_t error_size) {
    bool has_count = mx_table_column_index(run->results, "samples") >= 0;
    for (size_t r = 0; r < run->row_count; r++) {
        if (isnan(run->time_us[r])) continue;
        double *values;
        int count = mx_run_samples(run, run->keys[r], &values);
        free(values);
        const char *stated = has_count ? mx_run_cell(run->results, r, "samples") : "";
        if (count == 0 || (stated[0] && atoi(stated) != count))
            return mx_format_fail(error, error_size,
                                  "%s:%ld: the row has %d samples in %s%s%s: the files do not "
                                  "belong together (or samples.csv was cut short)",
                                  run->results_path, row_line(run->results, r), count,
                                  run->samples_path, stated[0] ? ", results.csv says " : "",
                                  stated);
    }
    return true;
}

/* Keys every results row and sorts the samples by key; a key twice in results.csv, a key column
 * samples.csv lacks or a bad sample time is an error. */
bool mx_run_folder_index(mx_run_folder *run, const mx_key_set *keys, char *error,
                         size_t error_size) {
    if (!require_columns(run->samples, run->samples_path, keys->columns, keys->count, error,
                         error_size))
        return false;
    run->keys = calloc(run->row_count + 1, sizeof *run->keys);
    char ***order = calloc(run->row_count + 1, sizeof *order);
    size_t samples = mx_table_row_count(run->samples);
    run->samples_by_key = calloc(samples + 1, sizeof *run->samples_by_key);
    bool ok = run->keys && order && run->samples_by_key;
    for (size_t r = 0; ok && r < run->row_count; r++) {
        ok = (run->keys[r] = mx_run_row_key(run->results, r, keys)) != NULL;
        order[r] = &run->keys[r];
    }
    for (size_t s = 0; ok && s < samples; s++) {
        mx_keyed_sample *sample = &run->samples_by_key[s];
        if (!mx_run_time_cell(run->samples, run->samples_path, s, &sample->time_us, error,
                              error_size) ||
            (isnan(sample->time_us) &&
             !mx_format_fail(error, error_size, "%s:%ld: empty time_us", run->samples_path,
                             row_line(run->samples, s))))
            goto failed;
        ok = (sample->key = mx_run_row_key(run->samples, s, keys)) != NULL;
        run->sample_count += ok;
    }
    if (!ok) {
        mx_format_fail(error, error_size, "out of memory reading %s", run->dir);
        goto failed;
    }
    qsort(run->samples_by_key, run->sample_count, sizeof *run->samples_by_key, compare_samples);
    qsort(order, run->row_count, sizeof *order, compare_key_pointers);
    for (size_t i = 1; i < run->row_count; i++) {
        if (strcmp(*order[i - 1], *order[i])) continue;
        size_t one = (size_t)(order[i - 1] - run->keys), other = (size_t)(order[i] - run->keys);
        size_t first = one < other ? one : other, second = one < other ? other : one;
        mx_format_text(error, error_size,
                       "%s:%ld: the same row as line %ld (op, variant, dtype, dist, "
                       "shape%s must tell rows apart)",
                       run->results_path, row_line(run->results, second),
                       row_line(run->results, first),
                       keys->count > keys->required ? ", batch, seed, kv_heads" : "");
        goto failed;
    }
    run->keys_sorted = order;
    run->key_set = *keys;
    return check_sample_counts(run, error, error_size);
failed:
    free(order);
    return false;
}

/* The samples of a key, into a new array (*values; NULL when none); returns their count. */
int mx_run_samples(const mx_run_folder *run, const char *key, double **values) {
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
long mx_run_find_row(const mx_run_folder *run, const char *key) {
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

size_t mx_run_measured_rows(const mx_run_folder *run) {
    size_t measured = 0;
    for (size_t r = 0; r < run->row_count; r++) measured += !isnan(run->time_us[r]);
    return measured;
}

void mx_run_describe(const mx_run_folder *run, char *text, size_t size) {
    const mx_run_info *meta = &run->meta;
    mx_format_text(
        text, size, "run %s, suite %s, commit %.12s%s, started %s, %zu rows (%zu measured)",
        meta->run_id[0] ? meta->run_id : "?", meta->suite[0] ? meta->suite : "?",
        meta->git_commit[0] ? meta->git_commit : "unknown", meta->git_dirty == 1 ? " (dirty)" : "",
        meta->start_time[0] ? meta->start_time : "?", run->row_count, mx_run_measured_rows(run));
}

bool mx_run_folder_check(mx_run_folder *run, char *error, size_t error_size) {
    mx_key_set keys = mx_run_shared_keys(&run, 1);
    return mx_run_folder_index(run, &keys, error, error_size);
}

/* A run loaded and checked on its own (what compare will need of it). */
mx_run_folder *mx_run_folder_load_checked(const char *dir, char *error, size_t error_size) {
    mx_run_folder *run = mx_run_folder_load(dir, error, error_size);
    if (run && !mx_run_folder_check(run, error, error_size)) {
        mx_run_folder_free(run);
        run = NULL;
    }
    return run;
}

long mx_run_reference_row(const mx_run_folder *run, size_t row) {
    char *key = row_key_as(run->results, row, &run->key_set, MX_BENCH_FP16);
    long found = key ? mx_run_find_row(run, key) : -1;
    free(key);
    return found;
}

double mx_run_row_median(const mx_run_folder *run, size_t row) {
    double *values;
    int count = mx_run_samples(run, run->keys[row], &values);
    double median = count ? mx_stats_median_of(values, count) : NAN;
    free(values);
    return median;
}

static int newest_first(const void *a, const void *b) {
    const mx_run_folder *x = *(mx_run_folder *const *)a, *y = *(mx_run_folder *const *)b;
    int order = strcmp(y->meta.start_time, x->meta.start_time);
    return order ? order : strcmp(y->dir, x->dir);
}

static bool history_add(const char *dir, mx_run_folder ***runs, int *count, char *error,
                        size_t error_size) {
    mx_run_folder **grown = realloc(*runs, sizeof *grown * (size_t)(*count + 1));
    if (!grown) return mx_format_fail(error, error_size, "out of memory");
    *runs = grown;
    return ((*runs)[*count] = mx_run_folder_load(dir, error, error_size)) && ++*count;
}

int mx_run_history_load(const char *dir, mx_run_folder ***runs, char *error, size_t error_size) {
    *runs = NULL;
    int count = 0;
    char path[2400];
    mx_format_text(path, sizeof path, "%s/results.csv", dir);
    bool ok = true;
    if (mx_is_file(path)) {
        ok = history_add(dir, runs, &count, error, error_size);
    } else {
        DIR *folder = opendir(dir);
        if (!folder) ok = mx_format_fail(error, error_size, "%s: %s", dir, strerror(errno));
        for (struct dirent *entry; ok && folder && (entry = readdir(folder));) {
            mx_format_text(path, sizeof path, "%s/%s/results.csv", dir, entry->d_name);
            if (entry->d_name[0] == '.' || !mx_is_file(path)) continue;
            mx_format_text(path, sizeof path, "%s/%s", dir, entry->d_name);
            ok = history_add(path, runs, &count, error, error_size);
        }
        if (folder) closedir(folder);
        if (ok && count == 0)
            ok = mx_format_fail(error, error_size,
                                "%s: no run folder there (results.csv, samples.csv, run.json), "
                                "nor in its subfolders",
                                dir);
    }
    if (!ok) {
        for (int i = 0; i < count; i++) mx_run_folder_free((*runs)[i]);
        free(*runs);
        *runs = NULL;
        return 0;
    }
    qsort(*runs, (size_t)count, sizeof **runs, newest_first);
    return count;
}
