/* Exact-size input files and atomically renamed output files. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

bool mx_read_file_exact(const char *path, int64_t expected_bytes, const char *what, void **data) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        mx_cli_error("cannot open input '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
        mx_cli_error("input '%s' is not a regular file", path);
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

bool mx_output_commit(mx_output_file *output) {
    FILE *file = output->file;
    output->file = NULL;
    bool ok = fflush(file) == 0 && fsync(fileno(file)) == 0;
    ok = (fclose(file) == 0) && ok;
    /* mkstemp creates 0600; give the result the usual permissions. */
    mode_t mask = umask(0);
    umask(mask);
    ok = ok && chmod(output->temp_path, 0666 & ~mask) == 0;
    if (!ok || rename(output->temp_path, output->final_path) != 0) {
        mx_cli_error("cannot write output '%s': %s", output->final_path, strerror(errno));
        return false;
    }
    output->temp_path[0] = '\0';
    return true;
}

void mx_output_discard(mx_output_file *output) {
    if (output->file) fclose(output->file);
    output->file = NULL;
    if (output->temp_path[0]) unlink(output->temp_path);
    output->temp_path[0] = '\0';
}
