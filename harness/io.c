/* Exact-size input files and atomically renamed output files. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "files.h"

bool mx_read_file_exact(const char *path, int64_t expected_bytes, const char *what, void **data) {
    char why[256];
    FILE *file = mx_open_input(path, why, sizeof why);
    if (!file) {
        mx_cli_error("cannot open input '%s': %s", path, why);
        return false;
    }
    struct stat info;
    if (fstat(fileno(file), &info) != 0) {
        mx_cli_error("cannot read input '%s': %s", path, strerror(errno));
        fclose(file);
        return false;
    }
    if ((int64_t)info.st_size != expected_bytes) {
        mx_cli_error("input '%s' has %lld bytes; %s needs exactly %lld (file %s)", path,
                     (long long)info.st_size, what, (long long)expected_bytes,
                     (int64_t)info.st_size < expected_bytes ? "too short" : "too long");
        fclose(file);
        return false;
    }
    *data = malloc(expected_bytes > 0 ? (size_t)expected_bytes : 1);
    if (!*data) {
        mx_cli_error("out of host memory reading '%s' (%lld bytes)", path,
                     (long long)expected_bytes);
        fclose(file);
        return false;
    }
    size_t got = fread(*data, 1, (size_t)expected_bytes, file);
    fclose(file);
    if (got != (size_t)expected_bytes) {
        mx_cli_error("read error on '%s' after %zu of %lld bytes", path, got,
                     (long long)expected_bytes);
        free(*data);
        *data = NULL;
        return false;
    }
    return true;
}

bool mx_output_open(mx_output_file *output, const char *path) {
    output->file = NULL;
    output->temp_path[0] = '\0';
    if (strlen(path) >= sizeof output->final_path) {
        mx_cli_error("output path too long (%zu characters): '%.64s...'", strlen(path), path);
        return false;
    }
    strcpy(output->final_path, path);
    snprintf(output->temp_path, sizeof output->temp_path, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(output->temp_path);
    if (fd < 0) {
        mx_cli_error("cannot create output '%s': %s", path, strerror(errno));
        output->temp_path[0] = '\0';
        return false;
    }
    output->file = fdopen(fd, "wb");
    if (!output->file) {
        mx_cli_error("cannot open output '%s': %s", path, strerror(errno));
        close(fd);
        mx_output_discard(output);
        return false;
    }
    return true;
}

bool mx_output_write(mx_output_file *output, const void *data, size_t bytes) {
    if (fwrite(data, 1, bytes, output->file) == bytes) return true;
    mx_cli_error("write error on '%s': %s", output->final_path, strerror(errno));
    return false;
}

/* Flushes, syncs and closes the temporary file and gives it the usual permissions. */
static bool output_finish(mx_output_file *output) {
    FILE *file = output->file;
    output->file = NULL;
    bool ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
    ok = (fclose(file) == 0) && ok;
    mode_t mask = umask(0); /* mkstemp creates 0600 */
    umask(mask);
    ok = ok && chmod(output->temp_path, 0666 & ~mask) == 0;
    if (!ok) mx_cli_error("cannot write output '%s': %s", output->final_path, strerror(errno));
    return ok;
}

/* A hard link to the file an output replaces (backup gets its name, "" when there is none). */
static bool keep_old(const mx_output_file *output, char *backup, size_t size) {
    backup[0] = '\0';
    struct stat info;
    if (lstat(output->final_path, &info) != 0) return errno == ENOENT;
    if (S_ISDIR(info.st_mode)) {
        errno = EISDIR;
        return false;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(backup, size, "%s.old.%ld.%d", output->final_path, (long)getpid(), attempt);
        if (link(output->final_path, backup) == 0) return true;
        if (errno != EEXIST) break;
    }
    backup[0] = '\0';
    return false;
}

bool mx_outputs_commit(mx_output_file *outputs, int count) {
    enum { MAX_OUTPUTS = 8 };
    char backups[MAX_OUTPUTS][4096 + 32];
    int renamed = 0;
    bool ok = count <= MAX_OUTPUTS;
    for (int i = 0; ok && i < count; i++) ok = output_finish(&outputs[i]);
    for (int i = 0; ok && i < count; i++) backups[i][0] = '\0';
    for (; ok && renamed < count; renamed++) {
        mx_output_file *output = &outputs[renamed];
        ok = keep_old(output, backups[renamed], sizeof backups[renamed]) &&
             rename(output->temp_path, output->final_path) == 0;
        if (!ok) {
            mx_cli_error("cannot write output '%s': %s", output->final_path, strerror(errno));
            if (backups[renamed][0]) unlink(backups[renamed]);
        } else {
            output->temp_path[0] = '\0';
        }
    }
    if (!ok) renamed--; /* the one that failed did not land */
    /* Every output landed, or every one that did is put back as it was. */
    for (int i = 0; i < renamed; i++) {
        if (ok) {
            if (backups[i][0]) unlink(backups[i]);
        } else if (backups[i][0]) {
            rename(backups[i], outputs[i].final_path);
        } else {
            unlink(outputs[i].final_path);
        }
    }
    return ok;
}

void mx_output_discard(mx_output_file *output) {
    if (output->file) fclose(output->file);
    output->file = NULL;
    if (output->temp_path[0]) unlink(output->temp_path);
    output->temp_path[0] = '\0';
}
