/* libFuzzer target: run.json read back (harness/run_info.c, cJSON) on arbitrary bytes, and what it
 * accepts written again and read back. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "run_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mx_run_info info, back;
    char error[512], caption[512], path[64];
    if (!mx_run_info_parse("fuzz.json", (const char *)data, size, &info, error, sizeof error))
        return 0;
    mx_run_info_caption(&info, caption, sizeof caption);
    snprintf(path, sizeof path, "/tmp/mxbench-fuzz-%ld.json", (long)getpid());
    if (mx_run_info_save(&info, path, error, sizeof error)) {
        if (!mx_run_info_read(path, &back, error, sizeof error)) __builtin_trap();
        unlink(path);
    }
    return 0;
}
