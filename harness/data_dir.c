/* The CLI's data folder, found relative to the executable or through MXBENCH_DATA_DIR. */
#include "data_dir.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static char found[PATH_MAX], searched[3 * PATH_MAX + 64], first[PATH_MAX];
static bool looked;

static void note_candidate(const char *candidate) {
    if (!first[0]) snprintf(first, sizeof first, "%s", candidate);
    size_t used = strlen(searched);
    snprintf(searched + used, sizeof searched - used, "%s%s", used ? ", " : "", candidate);
}

/* True (and found set) when candidate holds sweeps/. */
static bool try_candidate(const char *candidate) {
    note_candidate(candidate);
    char sweeps[PATH_MAX + 16];
    snprintf(sweeps, sizeof sweeps, "%s/sweeps", candidate);
    if (!mx_is_folder(sweeps)) return false;
    snprintf(found, sizeof found, "%s", candidate);
    return true;
}

static void look_up(void) {
    if (looked) return;
    looked = true;
    const char *environment = getenv("MXBENCH_DATA_DIR");
    if (environment && environment[0]) {
        try_candidate(environment);
        return; /* an explicit choice is not second-guessed */
    }
    char exe[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0) {
        note_candidate("(the executable's folder: /proc/self/exe unreadable)");
        return;
    }
    exe[length] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    char candidate[PATH_MAX + 32];
    snprintf(candidate, sizeof candidate, "%s/share/mxbench", exe);
    if (try_candidate(candidate)) return;
    slash = strrchr(exe, '/');
    snprintf(candidate, sizeof candidate, "%.*s/share/mxbench",
             slash ? (int)(slash - exe) : (int)strlen(exe), exe);
    try_candidate(candidate);
}

const char *mx_data_dir(void) {
    look_up();
    return found[0] ? found : NULL;
}

const char *mx_data_dir_searched(void) {
    look_up();
    return searched;
}

void mx_data_path(const char *name, char *path, size_t size) {
    const char *dir = mx_data_dir();
    snprintf(path, size, "%s/%s", dir ? dir : first, name);
}
