/* `mxbench report RUN_DIR`: judges a run folder (results.csv, run.json) against the targets of
 * docs/design.md §7, draws its plots with gnuplot (plots/NAME.gp, PNG and SVG beside the CSV) and
 * writes report.md and a self-contained report.html there. It reads run.json through run_info.h,
 * draws through gnuplot.h and writes through doc.h; compare shares the first two. */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "gnuplot.h"
#include "run_info.h"

extern const mx_command mx_report_command;

#endif
