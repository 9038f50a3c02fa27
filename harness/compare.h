/* `mxbench compare BASE CUR` and `mxbench baseline` (being written). */
#ifndef MX_COMPARE_H
#define MX_COMPARE_H

#include "cli.h"

extern const mx_command mx_compare_command;
extern const mx_command mx_baseline_command;

#endif
