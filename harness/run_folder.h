/* A run folder (results.csv, samples.csv, run.json) read for compare and baseline: the files
 * checked as compare relies on them, every results row keyed by schema.c's key columns, the
 * samples sorted by key. */
#ifndef MX_RUN_FOLDER_H
#define MX_RUN_FOLDER_H

#include <stdbool.h>
#include <stddef.h>

#include "run_info.h"
#include "table.h"

#define MX_RUN_FILE_COUNT 3
extern const char *const mx_run_files[MX_RUN_FILE_COUNT]; /* results.csv, samples.csv, run.json */

typedef struct {
    char *key;
    double time_us;
} mx_keyed_sample;

/* The key of a row: schema.c's key columns; the required ones always, the others (batch, seed,
 * kv_heads) where both runs have them (in their results and samples). */
enum { MX_MAX_KEY_COLUMNS = 16 };

typedef struct {
    const char *columns[MX_MAX_KEY_COLUMNS];
    int count, required; /* the first `required` are docs/design.md §5 columns */
} mx_key_set;

typedef struct {
    char dir[1024], results_path[1100], samples_path[1100], json_path[1100];
    mx_table *results, *samples;
    mx_run_info meta;   /* run.json */
    mx_key_set key_set; /* the key columns it was indexed on */
    char model[128];    /* file-safe name of meta.gpu_name */
    /* per results row: its key and time (NAN when not measured) */
    char **keys;
    double *time_us;
    size_t row_count;
    char ***keys_sorted;             /* pointers into keys, sorted: mx_run_find_row searches them */
    mx_keyed_sample *samples_by_key; /* sorted by key */
    size_t sample_count;
} mx_run_folder;

/* Every key column of schema.c, the required ones first. */
mx_key_set mx_schema_keys(void);

/* Reads and checks a run folder (mx_run_folder_free it), or NULL with error saying why. */
mx_run_folder *mx_run_folder_load(const char *dir, char *error, size_t error_size);
/* The same, then keyed on its own key columns (what compare will need of it). */
mx_run_folder *mx_run_folder_load_checked(const char *dir, char *error, size_t error_size);
/* Keys a loaded run on its own key columns: mx_run_folder_load_checked's check. */
bool mx_run_folder_check(mx_run_folder *run, char *error, size_t error_size);
void mx_run_folder_free(mx_run_folder *run);

/* The runs of dir, newest first (by run.json's start time): dir itself when it is a run folder,
 * else every subfolder of it that is one (a baseline's history). Returns their count, or 0 with
 * error saying why (also when there is none); free each and the array. */
int mx_run_history_load(const char *dir, mx_run_folder ***runs, char *error, size_t error_size);

/* Key columns every one of the runs has. */
mx_key_set mx_run_shared_keys(mx_run_folder *const *runs, int count);
/* Keys every results row and sorts the samples by key; a key twice in results.csv, a key column
 * samples.csv lacks, a bad sample time, or a measured row whose samples are missing or fewer or
 * more than its `samples` cell says is an error. */
bool mx_run_folder_index(mx_run_folder *run, const mx_key_set *keys, char *error,
                         size_t error_size);

/* The samples of a key, into a new array (*values; NULL when none); returns their count. */
int mx_run_samples(const mx_run_folder *run, const char *key, double **values);
/* Row row's key over keys (the cells joined as run folders index them; empty integer cells as
 * their fallback), malloc'd; NULL out of memory. */
char *mx_run_row_key(const mx_table *table, size_t row, const mx_key_set *keys);
/* Index of the results row with this key, or -1. */
long mx_run_find_row(const mx_run_folder *run, const char *key);
/* Index of the row of the same problem with the FP16 reference variant (its control), or -1. */
long mx_run_reference_row(const mx_run_folder *run, size_t row);
/* The median of the row's samples (its time in this run); NAN when it has none. */
double mx_run_row_median(const mx_run_folder *run, size_t row);
/* Rows with a time. */
size_t mx_run_measured_rows(const mx_run_folder *run);
/* "run ID, suite S, commit C, started T, N rows (M measured)". */
void mx_run_describe(const mx_run_folder *run, char *text, size_t size);

/* Row row's time_us cell (table read from path, for the message): "" is no time (NAN),
 * otherwise a positive finite number; false with error naming file, line and text for anything
 * else. */
bool mx_run_time_cell(const mx_table *table, const char *path, size_t row, double *value,
                      char *error, size_t error_size);

/* The cell's text; "" for a column the table lacks. */
const char *mx_run_cell(const mx_table *table, size_t row, const char *column);

/* The file-safe name of a GPU model, for results/baselines/<model>/: ASCII letters and digits
 * lower-cased, every other run of characters one '-', none at either end ("NVIDIA H200" ->
 * "nvidia-h200", "NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3"). False when nothing is
 * left or it does not fit. */
bool mx_gpu_model_name(const char *gpu_name, char *model, size_t size);

#endif
