/* The nightly regression gate: `mxbench compare BASE CUR...` matches the rows of the runs by key
 * and judges each from its runs (gate.h); `mxbench baseline` keeps a history of runs per GPU
 * model as the baseline (results/baselines/<model>/<run>/). */
#ifndef MX_COMPARE_H
#define MX_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "gate.h"
#include "run_folder.h"

extern const mx_command mx_compare_command;
extern const mx_command mx_baseline_command;

/* compare's exit status: 0 no regression, 1 a regression, 2 (MX_EXIT_INPUT of
 * report.h) the inputs cannot be compared. */
enum { MX_COMPARE_EXIT_REGRESSION = 1 };

/* k of gate.h: a change counts only beyond exp(k s) - 1 of the row's run-to-run spread s. */
#define MX_GATE_SPREAD_FACTOR 3.0

#endif
