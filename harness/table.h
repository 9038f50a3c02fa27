/* Result tables: a fixed list of named columns, rows whose cells are set by column name, saved as
 * RFC 4180 CSV through an atomic replace (results.csv and samples.csv of docs/design.md §5), and a
 * CSV reader for the commands that load runs back. Also the atomic file writer the JSON output
 * shares.
 */
#ifndef MX_TABLE_H
#define MX_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- atomic file output */

/* Writes the whole file content to file; returns false on failure (errno saying why, if known). */
typedef bool (*mx_file_writer)(FILE *file, void *context);

/* Replaces path atomically: write_content() streams into a new temporary file beside path
 * (path + ".tmp.XXXXXX", same directory so that rename cannot cross file systems), which is
 * flushed, fsync'ed, given mode 0666 & ~umask and renamed onto path. A reader sees the old file or
 * the complete new one, never a part; on any failure the temporary file is removed, path is left
 * as it was, and error holds a message naming path and the cause. */
bool mx_write_stream_atomic(const char *path, mx_file_writer write_content, void *context,
                            char *error, size_t error_size);
/* The same for a buffer already in memory. */
bool mx_write_file_atomic(const char *path, const void *data, size_t bytes, char *error,
                          size_t error_size);

/* ---- tables */

typedef struct mx_table mx_table;

/* A table with the given columns (copied), in this order. NULL when out of memory or when the
 * list is unusable (no column, a NULL or empty name, a name given twice): a programming error. */
mx_table *mx_table_create(const char *const *columns, int column_count);
void mx_table_free(mx_table *table);

int mx_table_column_count(const mx_table *table);
/* NULL for an index out of range. */
const char *mx_table_column_name(const mx_table *table, int column);
/* Index of the column called name, -1 if there is none. */
int mx_table_column_index(const mx_table *table, const char *name);

/* Appends a row of empty cells; returns its index, or -1 when out of memory. A failed add or set
 * marks the table incomplete: mx_table_save then refuses it, so that a file already written is
 * never replaced by one that silently lacks what the caller meant to put in it. */
int mx_table_add_row(mx_table *table);
size_t mx_table_row_count(const mx_table *table);

/* Sets the cell of row in the named column to the printf-formatted text. An unknown column or
 * row is a bug in the caller: false, and mx_table_error says which name or index. Also false
 * when out of memory (the cell keeps its old text). */
bool mx_table_set(mx_table *table, int row, const char *column, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
/* The text of a cell ("" for a cell never set), or NULL for an unknown row or column. */
const char *mx_table_get(const mx_table *table, int row, const char *column);
const char *mx_table_cell(const mx_table *table, int row, int column);
/* Why the last failed mx_table_add_row or mx_table_set failed ("" when none has). */
const char *mx_table_error(const mx_table *table);

/* Writes the header and every row as CSV (fields quoted only where RFC 4180 needs it: a comma,
 * double quote, CR or LF inside; inner quotes doubled; each row ends with "\n") through
 * mx_write_stream_atomic, in one buffered stream. False, writing nothing, for an incomplete
 * table (above). */
bool mx_table_save(const mx_table *table, const char *path, char *error, size_t error_size);

/* ---- CSV input */

/* Reads an RFC 4180 file (quoted fields may hold commas, doubled quotes and line breaks; records
 * end in LF or CRLF; a UTF-8 byte order mark and blank lines are skipped) whose first record is
 * the header, into a new table (*table; free with mx_table_free). On failure *table is NULL and
 * error reads "FILE:LINE: what" with the 1-based line where the bad record starts (or "FILE: what"
 * for an unreadable or empty file): a record whose field count differs from the header's, an
 * unterminated quoted field, text after a closing quote, a quote inside an unquoted field, a NUL
 * byte, a missing header, an empty or duplicate column name. */
bool mx_csv_read(const char *path, mx_table **table, char *error, size_t error_size);
/* The same on text already in memory (length bytes, no NUL needed), name standing for the file. */
bool mx_csv_parse(const char *name, const char *text, size_t length, mx_table **table, char *error,
                  size_t error_size);

#endif
