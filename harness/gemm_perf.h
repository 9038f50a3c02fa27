/* The GEMM timing command of the CLI. */
#ifndef MX_GEMM_PERF_H
#define MX_GEMM_PERF_H

#include "cli.h"

extern const mx_command mx_gemm_perf_command;

#endif
