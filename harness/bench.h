/* `mxbench run`: the sweep runner (docs/design.md §4-§6). */
#ifndef MX_BENCH_H
#define MX_BENCH_H

#include "cli.h"

extern const mx_command mx_run_command;

#endif
