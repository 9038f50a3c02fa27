/* mxbench: the command-line front end. A table of commands; each parses its own options. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec_cmd.h"
#include "bench.h"
#include "compare.h"
#include "model.h"
#include "report.h"

static const mx_command *const commands[] = {
    &mx_quantize_command, &mx_dequantize_command, &mx_run_command,   &mx_report_command,
    &mx_compare_command,  &mx_baseline_command,   &mx_model_command,
};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static void print_usage(void) {
    printf("usage: mxbench COMMAND [OPTIONS]   (mxbench COMMAND --help for its options)\n\n"
           "MXFP4 weight kernels for transformer inference, their FP16 cuBLAS references, and a\n"
           "harness that measures speed, error and memory against them.\n\ncommands:\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        printf("  %-12s %s\n", commands[i]->name, commands[i]->summary);
    printf("\nexit status: 0 ok, 1 bad input or failure, 2 no usable GPU for a GPU command.\n");
}

int main(int argc, char **argv) {
    mx_cli_set_command_line(argc, argv);
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
        return argc < 2 ? MX_EXIT_ERROR : MX_EXIT_OK;
    }
    for (int i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0) continue;
        mx_parsed_options parsed;
        int parse = mx_parse_options(commands[i], argc - 2, argv + 2, &parsed);
        if (parse < 0) return MX_EXIT_OK; /* help was printed */
        /* compare's exit 1 means "regression": a gate must not read a usage error as one. */
        if (parse != MX_EXIT_OK)
            return commands[i] == &mx_compare_command ? MX_EXIT_UNUSABLE_INPUT : parse;
        return commands[i]->run(&parsed);
    }
    fprintf(stderr, "mxbench: error: unknown command '%s' (mxbench --help lists them)\n", argv[1]);
    return MX_EXIT_ERROR;
}
