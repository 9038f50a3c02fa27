/* gnuplot: finding it (PATH, then the offline bundle) and running a plot script (gnuplot.h). */
#include "gnuplot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data_dir.h"
#include "files.h"
#include "text.h"

extern char **environ;

const char mx_gnuplot_advice[] =
    "install gnuplot with `sudo apt-get install -y gnuplot-nox` (or `make report RUN=<run "
    "folder>`, "
    "which installs it through `.ci/deps.sh ensure bench` and reruns this command); on a GPU box "
    "without package access, run `bash .ci/deps.sh bundle bench` on a Debian/Ubuntu machine that "
    "has it, copy its .deps/ folder next to this checkout's Makefile and run `make report "
    "RUN=<run folder>`";

static bool is_executable_file(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode) && access(path, X_OK) == 0;
}

bool mx_gnuplot_find(mx_gnuplot *gnuplot) {
    static const char *const names[] = {"gnuplot", "gnuplot-nox"};
    memset(gnuplot, 0, sizeof *gnuplot);
    const char *search = getenv("PATH");
    for (int n = 0; n < 2; n++) {
        for (const char *dir = search; dir && *dir;) {
            const char *end = strchr(dir, ':');
            size_t length = end ? (size_t)(end - dir) : strlen(dir);
            if (length > 0 && length < sizeof gnuplot->path - 32) {
                snprintf(gnuplot->path, sizeof gnuplot->path, "%.*s/%s", (int)length, dir,
                         names[n]);
                if (is_executable_file(gnuplot->path)) return true;
            }
            dir = end ? end + 1 : dir + length;
        }
    }
    char bundle[sizeof gnuplot->bundle - 32];
    mx_data_path("deps", bundle, sizeof bundle);
    for (int n = 0; n < 2; n++) {
        snprintf(gnuplot->path, sizeof gnuplot->path, "%s/usr/bin/%s", bundle, names[n]);
        if (is_executable_file(gnuplot->path)) {
            snprintf(gnuplot->bundle, sizeof gnuplot->bundle, "%s", bundle);
            return true;
        }
    }
    gnuplot->path[0] = '\0';
    return false;
}

/* A bundled gnuplot loads its libraries from the bundle: every library folder of it and the
 * folders directly inside them (some libraries live in subfolders), then the caller's path. */
static void bundle_library_path(const char *bundle, mx_text *path) {
    static const char *const folders[] = {"usr/lib/x86_64-linux-gnu",
                                          "lib/x86_64-linux-gnu",
                                          "usr/lib/aarch64-linux-gnu",
                                          "lib/aarch64-linux-gnu",
                                          "usr/lib",
                                          "lib"};
    mx_text_printf(path, "LD_LIBRARY_PATH=");
    size_t empty = path->length;
    for (size_t f = 0; f < sizeof folders / sizeof folders[0]; f++) {
        mx_text folder = {0};
        mx_text_printf(&folder, "%s/%s", bundle, folders[f]);
        DIR *dir = opendir(mx_text_get(&folder));
        if (dir) {
            mx_text_printf(path, "%s%s", path->length > empty ? ":" : "", mx_text_get(&folder));
            for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
                if (entry->d_name[0] == '.') continue;
                mx_text sub = {0};
                mx_text_printf(&sub, "%s/%s", mx_text_get(&folder), entry->d_name);
                if (mx_is_folder(mx_text_get(&sub))) mx_text_printf(path, ":%s", mx_text_get(&sub));
                mx_text_free(&sub);
            }
            closedir(dir);
        }
        mx_text_free(&folder);
    }
    const char *inherited = getenv("LD_LIBRARY_PATH");
    if (inherited && *inherited) mx_text_printf(path, ":%s", inherited);
}

/* The caller's environment, plus the library and font paths of a bundled gnuplot. The strings
 * the result points to live in the caller's environ or in extra (freed by the caller). */
static char **plot_environment(const mx_gnuplot *gnuplot, mx_text *library_path, mx_text *fonts) {
    size_t count = 0;
    while (environ[count]) count++;
    char **env = calloc(count + 3, sizeof *env);
    if (!env) return NULL;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        bool replaced = gnuplot->bundle[0] && (strncmp(environ[i], "LD_LIBRARY_PATH=", 16) == 0 ||
                                               strncmp(environ[i], "FONTCONFIG_FILE=", 16) == 0);
        if (!replaced) env[used++] = environ[i];
    }
    if (gnuplot->bundle[0]) {
        bundle_library_path(gnuplot->bundle, library_path);
        env[used++] = library_path->data;
        /* .ci/deps.sh writes a font configuration that adds the bundle's fonts. */
        mx_text_printf(fonts, "FONTCONFIG_FILE=%s/etc/fonts/mxbench-fonts.conf", gnuplot->bundle);
        if (access(mx_text_get(fonts) + 16, R_OK) == 0) env[used++] = fonts->data;
    }
    return env;
}

static void append_gnuplot_string(mx_text *command, const char *name, const char *value) {
    mx_text_printf(command, "%s%s='", command->length ? "; " : "", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            mx_text_append(command, "''", 2);
        else
            mx_text_append(command, *p == '\n' || *p == '\r' ? " " : p, 1);
    }
    mx_text_append(command, "'", 1);
}

/* Runs argv with stdin and stdout on /dev/null, collecting stderr; returns the exit status, or
 * -1 (with why in output) when it could not run or died of a signal. */
static int run_collecting_stderr(char *const *argv, char **env, mx_text *output) {
    int pipe_ends[2];
    if (pipe(pipe_ends) != 0) {
        mx_text_printf(output, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], 2);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[1]);
    pid_t pid;
    int spawned = posix_spawn(&pid, argv[0], &actions, NULL, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_ends[1]);
    if (spawned != 0) {
        close(pipe_ends[0]);
        mx_text_printf(output, "cannot start %s: %s", argv[0], strerror(spawned));
        return -1;
    }
    char chunk[4096];
    ssize_t got;
    while ((got = read(pipe_ends[0], chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        if (output->length < 65536) mx_text_append(output, chunk, (size_t)got);
    }
    close(pipe_ends[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    mx_text_printf(output, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* The image gnuplot wrote starts like one: the PNG signature, or an SVG/XML opening (a terminal
 * that fails half-way, e.g. without fonts, can leave other bytes behind). */
static bool image_is_valid(const char *path, const char *format) {
    char head[64] = {0};
    FILE *file = fopen(path, "rb");
    size_t got = file ? fread(head, 1, sizeof head - 1, file) : 0;
    if (file) fclose(file);
    if (strcmp(format, "png") == 0) return got >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
    return got > 0 && (strstr(head, "<svg") || strstr(head, "<?xml"));
}

bool mx_plot_render(const mx_gnuplot *gnuplot, const char *script,
                    const mx_plot_variable *variables, int variable_count, const char *out_base,
                    char *error, size_t error_size) {
    static const char *const formats[] = {"png", "svg"};
    mx_text script_path = {0}, temp_base = {0}, command = {0}, output = {0}, library_path = {0},
            fonts = {0};
    char plots[4096];
    mx_data_path("plots", plots, sizeof plots);
    if (strchr(script, '/'))
        mx_text_printf(&script_path, "%s", script);
    else
        mx_text_printf(&script_path, "%s/%s", plots, script);
    mx_text_printf(&temp_base, "%s.tmp-%ld", out_base, (long)getpid());
    append_gnuplot_string(&command, "plotdir", plots);
    append_gnuplot_string(&command, "out", mx_text_get(&temp_base));
    append_gnuplot_string(&command, "formats", "png svg");
    for (int i = 0; i < variable_count; i++)
        append_gnuplot_string(&command, variables[i].name, variables[i].value);
    char **env = plot_environment(gnuplot, &library_path, &fonts);
    bool ok = false;
    if (access(mx_text_get(&script_path), R_OK) != 0) {
        snprintf(error, error_size, "plot script %s: %s", mx_text_get(&script_path),
                 strerror(errno));
    } else if (!env || command.failed || temp_base.failed || library_path.failed) {
        snprintf(error, error_size, "out of memory running gnuplot");
    } else {
        char *argv[] = {(char *)gnuplot->path, "-e", command.data, script_path.data, NULL};
        int status = run_collecting_stderr(argv, env, &output);
        const char *tail = mx_text_get(&output);
        if (output.length > 800) tail += output.length - 800;
        ok = status == 0;
        for (int f = 0; f < 2 && ok; f++) {
            mx_text made = {0};
            mx_text_printf(&made, "%s.%s", mx_text_get(&temp_base), formats[f]);
            ok = image_is_valid(mx_text_get(&made), formats[f]);
            mx_text_free(&made);
        }
        if (!ok)
            snprintf(error, error_size, "%s %s: %s%d%s%s", gnuplot->path, mx_text_get(&script_path),
                     status == 0 ? "wrote no valid image although exit status " : "exit status ",
                     status, *tail ? ": " : "", tail);
    }
    for (int f = 0; f < 2; f++) {
        mx_text made = {0}, final = {0};
        mx_text_printf(&made, "%s.%s", mx_text_get(&temp_base), formats[f]);
        mx_text_printf(&final, "%s.%s", out_base, formats[f]);
        if (ok && rename(mx_text_get(&made), mx_text_get(&final)) != 0) {
            snprintf(error, error_size, "renaming %s to %s: %s", mx_text_get(&made),
                     mx_text_get(&final), strerror(errno));
            ok = false;
        }
        unlink(mx_text_get(&made));
        mx_text_free(&made);
        mx_text_free(&final);
    }
    free(env);
    mx_text_free(&script_path);
    mx_text_free(&temp_base);
    mx_text_free(&command);
    mx_text_free(&output);
    mx_text_free(&library_path);
    mx_text_free(&fonts);
    return ok;
}
