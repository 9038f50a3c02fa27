/* libFuzzer target: the RFC 4180 reader (harness/table.c) on arbitrary bytes, and every cell of
 * what it accepts read back and saved again. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mx_table *table = NULL;
    char error[512];
    if (!mx_csv_parse("fuzz.csv", (const char *)data, size, &table, error, sizeof error)) return 0;
    size_t rows = mx_table_row_count(table);
    int columns = mx_table_column_count(table);
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++) (void)mx_table_cell(table, (int)r, c);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mxbench-fuzz-%ld.csv", (long)getpid());
    if (mx_table_save(table, path, error, sizeof error)) unlink(path);
    mx_table_free(table);
    return 0;
}
