/* Shards of a sweep (`mxbench run --shard I/N`): N deterministic slices of its problems, balanced
 * by expected cost rather than by row count, a problem's rows (its FP16 row and every variant)
 * never split. The cost model (shard.c) prices a problem as its set-up plus, per row (the FP16
 * reference included), its sampling: each row samples its time budget or 200 calls of its
 * roofline time, whichever is shorter, at least 5 ms. Good enough to balance, not a forecast. */
#ifndef MX_SHARD_H
#define MX_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "sweep.h"

/* The expected cost in ms of the problem whose rows are rows[0..count), with budget_ms per row
 * where a row sets none. */
double mx_shard_problem_cost(const mx_sweep_row *rows, size_t count, double budget_ms);

/* Assigns each problem of the sweep to one of count shards (longest first onto the least
 * loaded, ties to the lower index): shard_of_row[r] for every row (0-based shards), and each
 * shard's cost in costs[count]. False when out of memory. */
bool mx_shard_assign(const mx_sweep *sweep, int count, double budget_ms, int *shard_of_row,
                     double *costs);

/* Keeps only the rows of shard index (1-based) of count, in the sweep's order. "I/N" parsing:
 * mx_shard_parse. False (with error) when out of memory. */
bool mx_shard_select(mx_sweep *sweep, int index, int count, double budget_ms, double *shard_cost,
                     double *total_cost, char *error, size_t error_size);

/* The most slices a sweep is cut into (and merge joins). */
enum { MX_MAX_SHARDS = 1024 };

/* "I/N" with 1 <= I <= N <= MX_MAX_SHARDS into index and count; false for anything else. */
bool mx_shard_parse(const char *text, int *index, int *count);

#endif
