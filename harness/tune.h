/* `mxbench tune RUN`: a run's GEMM rows turned into auto's dispatch table (kernels/dispatch.h). */
#ifndef MX_TUNE_H
#define MX_TUNE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "gemm.h"
#include "run_info.h"
#include "table.h"
#include "text.h"

/* What went into a table, and what was left out. */
typedef struct {
    size_t problems;                      /* rows of the table */
    size_t picked[MX_GEMM_VARIANT_COUNT]; /* per variant, how many it won */
    size_t not_ok, flagged, batched; /* candidate rows left out: status, throttled/unstable/error
                                        gate, batch > 1 */
    size_t incomplete;               /* problems without a time for every candidate */
    char first_incomplete[160];      /* the first of them, in words */
} mx_tune_summary;

/* The table of a run (dir names it; its results.csv and run.json) into table: for every GEMM
 * problem (dtype, m, n, k) with a time for each variant auto may pick, the fastest (the mean of
 * its rows' times when it has several: other weight distributions or seeds). False with error
 * saying why when the run cannot give one (no code path recorded, no complete problem, a GPU
 * name with a comma). */
bool mx_tune_table(const char *dir, const mx_table *results, const mx_run_info *meta,
                   mx_text *table, mx_tune_summary *summary, char *error, size_t error_size);

extern const mx_command mx_tune_command;

#endif
