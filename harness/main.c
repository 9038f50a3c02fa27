/* mxbench: the command-line front end. A table of commands; each parses its own options. */
#include <stdio.h>
#include <string.h>

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include "cli.h"
#include "codec_cmd.h"
#include "bench.h"
#include "compare.h"
#include "merge.h"
#include "mx.h"
#include "mx_version.h"
#include "model.h"
#include "report.h"
#include "tune.h"

static const mx_command *const commands[] = {
    &mx_quantize_command, &mx_dequantize_command, &mx_run_command,
    &mx_report_command,   &mx_compare_command,    &mx_baseline_command,
    &mx_merge_command,    &mx_model_command,      &mx_tune_command,
};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static void print_usage(void) {
    printf("usage: mxbench COMMAND [OPTIONS]   (mxbench COMMAND --help for its options;\n"
           "       mxbench --version)\n\n"
           "MXFP4 weight kernels for transformer inference, their FP16 cuBLAS references, and a\n"
           "harness that measures speed, error and memory against them.\n\ncommands:\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        printf("  %-12s %s\n", commands[i]->name, commands[i]->summary);
    printf("\n%s\n", mx_exit_help);
}

/* The version, the commit it was built from, and the CUDA and cuBLAS it was built with (and
 * the driver's CUDA version here, when there is a driver). */
static int print_version(void) {
    int driver = 0;
    cudaDriverGetVersion(&driver);
    printf("mxbench %s\ncommit %s%s\nbuilt with CUDA %d.%d, cuBLAS %d.%d.%d, for %s\n", MX_VERSION,
           MX_GIT_COMMIT,
           MX_GIT_DIRTY == 1   ? " (with uncommitted changes)"
           : MX_GIT_DIRTY == 0 ? ""
                               : " (not built from a git checkout)",
           CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR,
           CUBLAS_VER_PATCH, mx_built_archs());
    if (driver > 0)
        printf("driver supports CUDA %d.%d\n", driver / 1000, driver % 1000 / 10);
    else
        printf("no CUDA driver here\n");
    return MX_EXIT_OK;
}

int main(int argc, char **argv) {
    mx_cli_set_command_line(argc, argv);
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0))
        return print_version();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            for (int i = 0; i < COMMAND_COUNT; i++)
                if (strcmp(argv[2], commands[i]->name) == 0) {
                    mx_print_command_help(commands[i]);
                    return MX_EXIT_OK;
                }
        }
        print_usage();
        return argc < 2 ? MX_EXIT_INPUT : MX_EXIT_OK;
    }
    for (int i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0) continue;
        mx_parsed_options parsed;
        int parse = mx_parse_options(commands[i], argc - 2, argv + 2, &parsed);
        if (parse < 0) return MX_EXIT_OK; /* help was printed */
        if (parse != MX_EXIT_OK) return parse;
        return commands[i]->run(&parsed);
    }
    fprintf(stderr, "mxbench: error: unknown command '%s' (mxbench --help lists them)\n", argv[1]);
    return MX_EXIT_INPUT;
}
