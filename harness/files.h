/* Small file-system helpers of the harness: what a path is, folders made and removed, a file
 * copied through the atomic writer. */
#ifndef MX_FILES_H
#define MX_FILES_H

#include <stdbool.h>
#include <stddef.h>

bool mx_is_file(const char *path);
bool mx_is_folder(const char *path);
/* The folder itself, not its parents: a typo in a path should not grow a tree. */
bool mx_ensure_folder(const char *path);
/* Removes a folder, its files and its subfolders (links are removed, not followed). */
bool mx_remove_tree(const char *path);
/* Copies from to a new file to through the atomic writer of table.h. */
bool mx_copy_file(const char *from, const char *to, char *error, size_t error_size);

#endif
