/* libFuzzer target: the whole `mxbench report --no-plots` command (loading, organising, judging
 * the targets, report.md and report.html) on a run folder made of the input: results.csv, and
 * after a line "--run.json--" run.json (no such line: the folder has no run.json). fuzz/run.sh
 * runs it with -close_fd_mask=3: the report's tables and messages are not what is fuzzed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char folder[64] = "/tmp/mxbench-fuzz-report.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(folder)) abort();
    return 0;
}

static void put(const char *name, const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(data, 1, size, file) != size) abort();
    fclose(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char separator[] = "\n--run.json--\n";
    const size_t length = sizeof separator - 1;
    const uint8_t *split = NULL;
    for (size_t i = 0; !split && size >= length && i <= size - length; i++)
        if (memcmp(data + i, separator, length) == 0) split = data + i;
    size_t csv_size = split ? (size_t)(split - data) : size;
    put("results.csv", data, csv_size);
    char path[128];
    snprintf(path, sizeof path, "%s/run.json", folder);
    if (split) {
        const uint8_t *json = split + length;
        put("run.json", json, size - (size_t)(json - data));
    } else {
        unlink(path);
    }
    char *argv[] = {"--no-plots", folder, NULL};
    mx_parsed_options parsed;
    if (mx_parse_options(&mx_report_command, 2, argv, &parsed) == MX_EXIT_OK)
        (void)mx_report_command.run(&parsed);
    return 0;
}
