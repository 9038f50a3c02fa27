/* Every column of results.csv and samples.csv, declared once: name, type, unit, meaning, which
 * file holds it, whether it keys a row, whether docs/design.md §5 requires it. The runner writes
 * the files in this order, the report and compare read and check them through it, and
 * docs/results.md documents every entry (cpu_harness checks that it does). */
#ifndef MX_SCHEMA_H
#define MX_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { MX_COLUMN_TEXT, MX_COLUMN_INTEGER, MX_COLUMN_NUMBER, MX_COLUMN_FLAG } mx_column_type;

enum { MX_IN_RESULTS = 1, MX_IN_SAMPLES = 2 };

typedef struct {
    const char *name;
    mx_column_type type;
    const char *unit;    /* "" where there is none */
    const char *meaning; /* one line */
    unsigned files;      /* MX_IN_RESULTS and/or MX_IN_SAMPLES */
    bool key;            /* with the other key columns: which problem and variant a row is */
    bool required;    /* docs/design.md §5 requires it: readers refuse a results.csv without it */
    int64_t minimum;  /* integers: the least valid value */
    int64_t fallback; /* integers: the value of an absent column or an empty cell */
} mx_column;

/* Every column, in the order results.csv has them (samples.csv: the same order, its subset). */
const mx_column *mx_columns(int *count);

/* The column named name, or NULL. */
const mx_column *mx_column_find(const char *name);

/* Flag columns: the runner writes "true" or "false"; readers also take the "yes" / "no" of runs
 * written before, and an empty cell (not applicable). */
const char *mx_flag_text(bool value);
/* 1 true/yes, 0 false/no, -1 empty, -2 anything else. */
int mx_flag_value(const char *text);
/* True only for a cell that says true (or yes). */
bool mx_flag_is_true(const char *text);

/* The names of the columns a file holds (MX_IN_RESULTS or MX_IN_SAMPLES), in order. */
const char *const *mx_column_names(unsigned file, int *count);

#endif
