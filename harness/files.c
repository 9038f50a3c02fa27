/* File-system helpers (files.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table.h"
#include "text.h"

FILE *mx_open_input(const char *path, char *why, size_t why_size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open */
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        snprintf(why, why_size, "%s", strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(info.st_mode)) {
        snprintf(why, why_size, "not a regular file (a FIFO, device, socket or folder)");
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *file = fdopen(fd, "rb");
    if (!file) {
        snprintf(why, why_size, "%s", strerror(errno));
        close(fd);
    }
    return file;
}

static bool copy_stream(FILE *target, void *context) {
    FILE *source = context;
    char buffer[1 << 16];
    for (size_t got; (got = fread(buffer, 1, sizeof buffer, source)) > 0;)
        if (fwrite(buffer, 1, got, target) != got) return false;
    return !ferror(source);
}

/* Copies from to a new file to through the atomic writer of table.h. */
bool mx_copy_file(const char *from, const char *to, char *error, size_t error_size) {
    char why[256];
    FILE *source = mx_open_input(from, why, sizeof why);
    if (!source) return mx_format_fail(error, error_size, "%s: %s", from, why);
    bool ok = mx_write_stream_atomic(to, copy_stream, source, error, error_size);
    fclose(source);
    return ok;
}

/* path with its folder resolved (links, "..", "."), the name kept; "" when the folder is not. */
static void resolve_parent(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    char folder[4096];
    snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    char *resolved = realpath(folder, NULL);
    if (resolved)
        snprintf(out, size, "%s/%s", resolved, slash ? slash + 1 : path);
    else
        out[0] = '\0';
    free(resolved);
}

bool mx_same_file(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return true;
    struct stat x, y;
    bool has_x = stat(a, &x) == 0, has_y = stat(b, &y) == 0;
    if (has_x && has_y) return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
    if (has_x || has_y) return false;
    char resolved_a[8192], resolved_b[8192];
    resolve_parent(a, resolved_a, sizeof resolved_a);
    resolve_parent(b, resolved_b, sizeof resolved_b);
    return resolved_a[0] && strcmp(resolved_a, resolved_b) == 0;
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
