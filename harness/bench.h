/* `mxbench run`: the sweep runner (DESIGN.md §4-§6). */
#ifndef MX_BENCH_H
#define MX_BENCH_H

#include "cli.h"

extern const mx_command mx_run_command;

/* results.csv columns, in order: DESIGN.md §5's required ones, then the harness's extras. */
const char *const *mx_results_columns(int *count);

#endif
