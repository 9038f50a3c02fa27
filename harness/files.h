/* Small file-system helpers of the harness: what a path is, folders made and removed, a file
 * copied through the atomic writer. */
#ifndef MX_FILES_H
#define MX_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Opens path for reading, only when it is a regular file: a FIFO would block and a device
 * (/dev/zero) never end, so neither is ever read. NULL with why ("No such file or directory",
 * "not a regular file (a FIFO, device, socket or folder)"). */
FILE *mx_open_input(const char *path, char *why, size_t why_size);

/* Whether two paths name the same file: the same inode where both exist, else the same folder
 * (resolved) and name. */
bool mx_same_file(const char *a, const char *b);

bool mx_is_file(const char *path);
bool mx_is_folder(const char *path);
/* The folder itself, not its parents: a typo in a path should not grow a tree. */
bool mx_ensure_folder(const char *path);
/* Removes a folder, its files and its subfolders (links are removed, not followed). */
bool mx_remove_tree(const char *path);
/* Copies from to a new file to through the atomic writer of table.h. */
bool mx_copy_file(const char *from, const char *to, char *error, size_t error_size);

#endif
