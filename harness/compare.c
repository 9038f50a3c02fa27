/* placeholder: being written */
#include "compare.h"

#include <stddef.h>

static int run_compare(const mx_parsed_options *parsed) {
    (void)parsed;
    mx_cli_error("compare: not written yet");
    return MX_EXIT_ERROR;
}

const mx_command mx_compare_command = {
    "compare", "Compare two runs row by row.", NULL, NULL, 0, run_compare, 2, 2, "BASE CUR"};
const mx_command mx_baseline_command = {
    "baseline", "Promote a run to the committed baseline.", NULL, NULL, 0, run_compare, 0, 1,
    "RUN_DIR"};
