/* File input and atomic file output for the CLI: inputs are checked against the size the
 * command line implies, outputs are written to a temporary name beside the target and renamed
 * only when complete, so a failed or interrupted command leaves no partial file behind. */
#ifndef MX_IO_H
#define MX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads the whole of path into a new malloc'd buffer, which must hold exactly expected_bytes
 * (what says where that number comes from, for the message). Prints an error and returns false
 * otherwise. */
bool mx_read_file_exact(const char *path, int64_t expected_bytes, const char *what, void **data);

typedef struct {
    char final_path[4096];
    char temp_path[4096 + 16];
    FILE *file;
} mx_output_file;

/* Creates the temporary file beside path (fails early on an unwritable location). */
bool mx_output_open(mx_output_file *output, const char *path);
bool mx_output_write(mx_output_file *output, const void *data, size_t bytes);
/* Flushes, syncs and closes the temporary files, then renames each onto its final path, all or
 * nothing: when one cannot land (its path is a folder, a rename fails), the outputs already
 * renamed are put back as they were (the files they replaced restored from hard links), so a
 * failed command leaves every earlier file unchanged. At most 8 outputs. */
bool mx_outputs_commit(mx_output_file *outputs, int count);
/* Closes and removes the temporary file (safe to call after a failed or done commit). */
void mx_output_discard(mx_output_file *output);

#endif
