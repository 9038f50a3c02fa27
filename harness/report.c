/* placeholder: being written */
#include "report.h"

#include <stddef.h>

static int run_report(const mx_parsed_options *parsed) {
    (void)parsed;
    mx_cli_error("report: not written yet");
    return MX_EXIT_ERROR;
}

const mx_command mx_report_command = {
    "report", "Plots and report.md/report.html of a run folder.", NULL, NULL, 0, run_report, 1, 1,
    "RUN_DIR"};
