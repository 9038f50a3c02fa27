/* File-system helpers (files.h). */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table.h"
#include "text.h"

static bool copy_stream(FILE *target, void *context) {
    FILE *source = context;
    char buffer[1 << 16];
    for (size_t got; (got = fread(buffer, 1, sizeof buffer, source)) > 0;)
        if (fwrite(buffer, 1, got, target) != got) return false;
    return !ferror(source);
}

/* Copies from to a new file to through the atomic writer of table.h. */
bool mx_copy_file(const char *from, const char *to, char *error, size_t error_size) {
    FILE *source = fopen(from, "rb");
    if (!source) return mx_format_fail(error, error_size, "%s: %s", from, strerror(errno));
    bool ok = mx_write_stream_atomic(to, copy_stream, source, error, error_size);
    fclose(source);
    return ok;
}

bool mx_is_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

bool mx_is_folder(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* The folder itself, not its parents: a typo in a path should not grow a tree. */
bool mx_ensure_folder(const char *path) {
    return mkdir(path, 0777) == 0 || (errno == EEXIST && mx_is_folder(path));
}

/* Removes a folder of plain files and folders of them (a baseline: runs of three files). Links
 * are removed, never followed. */
bool mx_remove_tree(const char *path) {
    DIR *folder = opendir(path);
    if (!folder) return false;
    for (struct dirent *entry; (entry = readdir(folder));) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char file[2400];
        struct stat info;
        mx_format_text(file, sizeof file, "%s/%s", path, entry->d_name);
        if (lstat(file, &info) == 0 && S_ISDIR(info.st_mode))
            mx_remove_tree(file);
        else
            unlink(file);
    }
    closedir(folder);
    return rmdir(path) == 0;
}
