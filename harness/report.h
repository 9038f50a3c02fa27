/* `mxbench report RUN_DIR`: plots and report of a run (being written). */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include "cli.h"

extern const mx_command mx_report_command;

#endif
