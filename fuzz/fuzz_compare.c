/* libFuzzer target: the whole `mxbench compare BASE CUR` command (loading both run folders,
 * matching rows, the run-level gate, compare.csv and compare.dat; the plot is drawn only where
 * gnuplot is found) on two run folders made of the input: BASE's results.csv, samples.csv and
 * run.json, then CUR's, the six parts separated by lines "--next--" (parts not given: files
 * absent). fuzz/run.sh runs it with -close_fd_mask=3. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char folder[64] = "/tmp/mxbench-fuzz-compare.XXXXXX";
static const char *const parts[] = {"base/results.csv", "base/samples.csv", "base/run.json",
                                    "cur/results.csv",  "cur/samples.csv",  "cur/run.json"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(folder)) abort();
    char path[128];
    snprintf(path, sizeof path, "%s/base", folder);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/cur", folder);
    mkdir(path, 0777);
    /* no gnuplot (neither on PATH nor in a bundle beside the data): not what is fuzzed */
    if (setenv("PATH", "/nonexistent", 1) != 0 ||
        setenv("MXBENCH_DATA_DIR", "/nonexistent", 1) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char separator[] = "\n--next--\n";
    const size_t length = sizeof separator - 1;
    const uint8_t *at = data, *end = data + size;
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", folder, parts[p]);
        if (!at) {
            unlink(path);
            continue;
        }
        const uint8_t *next = NULL;
        for (const uint8_t *i = at; !next && (size_t)(end - i) >= length; i++)
            if (memcmp(i, separator, length) == 0) next = i;
        FILE *file = fopen(path, "wb");
        size_t bytes = (size_t)((next ? next : end) - at);
        if (!file || fwrite(at, 1, bytes, file) != bytes) abort();
        fclose(file);
        at = next ? next + length : NULL;
    }
    char base[96], cur[96], out[96];
    snprintf(base, sizeof base, "%s/base", folder);
    snprintf(cur, sizeof cur, "%s/cur", folder);
    snprintf(out, sizeof out, "%s/out", folder);
    char *argv[] = {"--out", out, base, cur, NULL};
    mx_parsed_options parsed;
    if (mx_parse_options(&mx_compare_command, 4, argv, &parsed) == MX_EXIT_OK)
        (void)mx_compare_command.run(&parsed);
    return 0;
}
