/* Internal to the library: auto's measured dispatch (docs/gemm.md, "Dispatch"). A table, measured
 * on one GPU model and code path by `mxbench tune`, says which of the variants auto may pick
 * (those that keep no FP16 copy of the weights: fused, skinny) was fastest for each problem.
 *
 * A table is CSV: comment lines starting with '#', the header MX_GEMM_DISPATCH_COLUMNS, then
 * one row per measured problem:
 *   gpu                the GPU's name as CUDA gives it (cudaDeviceProp.name): NVIDIA H200
 *   path               the code path it was measured on (arch.h): hopper or portable
 *   dtype              f16 or bf16
 *   m, n, k            the problem (k a multiple of 32)
 *   variant, time_us   the fastest candidate and its median time in microseconds
 *   runner_up, runner_up_time_us   the next fastest, for the reader of a diff (not used)
 * A file may hold rows of several GPUs; a (gpu, path, dtype, m, n, k) appears once.
 *
 * Lookup (mx_gemm_dispatch_pick): among the rows of the problem's dtype, the measured shape
 * nearest the problem's (n, k) by |log2 n - log2 n'| + |log2 k - log2 k'| (distances within
 * 1e-9 tie; on a tie the smaller n, then k), then that shape's row with the smallest m >= the
 * problem's m (its largest m beyond). Times are read without the C library's locale. */
#ifndef MX_DISPATCH_H
#define MX_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MX_GEMM_DISPATCH_COLUMNS "gpu,path,dtype,m,n,k,variant,time_us,runner_up,runner_up_time_us"

/* The environment variable that chooses auto's table: a file, or "thresholds" for none. */
#define MX_GEMM_DISPATCH_ENV "MX_GEMM_DISPATCH"

/* Limits on what a table may hold (a real one has a few hundred rows). */
enum { MX_GEMM_DISPATCH_MAX_ROWS = 10000, MX_GEMM_DISPATCH_MAX_BYTES = 1 << 20 };

typedef struct {
    mx_dtype dtype;
    int64_t m, n, k;
    mx_gemm_variant variant;
    int line; /* in its file, for messages */
} mx_gemm_dispatch_row;

/* A measured shape: its rows are rows[first .. first + count), in order of m. */
typedef struct {
    mx_dtype dtype;
    double log2_n, log2_k;
    size_t first, count;
} mx_gemm_dispatch_shape;

/* The rows of one GPU model and code path, sorted by dtype, n, k and m, and their shapes in the
 * same order. */
typedef struct {
    mx_gemm_dispatch_row *rows;
    size_t count;
    mx_gemm_dispatch_shape *shapes;
    size_t shape_count;
} mx_gemm_dispatch;

/* A table built into the library: kernels/dispatch/<gpu-model>.csv, embedded by CMake. */
typedef struct {
    const char *origin; /* its path in the source tree */
    const char *text;
} mx_gemm_dispatch_source_text;

/* Every built-in table, then {NULL, NULL}. */
extern const mx_gemm_dispatch_source_text mx_gemm_dispatch_builtin[];

/* From gemm.h's list of variants (gemm_names.c). Whether variant runs an MXFP4 kernel on the
 * prepared weights (fused, skinny): it keeps no FP16 copy of them and applies the epilogue in
 * registers. What auto may take from a table, what needs no weight workspace, what MoE runs its
 * own layer with ask this. */
bool mx_gemm_variant_runs_mxfp4(mx_gemm_variant variant);
/* Their names as "a, b <last> c" in text (for messages). */
const char *mx_gemm_mxfp4_variant_names(const char *last, char *text, size_t size);
/* The candidate named name (a variant name of gemm.h), if it is one. */
bool mx_gemm_dispatch_candidate_named(const char *name, mx_gemm_variant *variant);

/* Parses a table (text, size bytes; origin names it in messages) and keeps the rows of gpu on
 * path in table (mx_gemm_dispatch_free it). *matched: whether it has any. MX_ERR_INVALID_ARGUMENT
 * naming "origin:line" and the value for a malformed table (table then empty). */
mx_status mx_gemm_dispatch_parse(const char *text, size_t size, const char *origin, const char *gpu,
                                 const char *path, mx_gemm_dispatch *table, bool *matched);
void mx_gemm_dispatch_free(mx_gemm_dispatch *table);

/* auto's table for gpu on path: MX_GEMM_DISPATCH's file, none for "thresholds", else the first
 * built-in table with rows for them (none: the thresholds). Writes what auto follows into source
 * (for run.json and messages). MX_OK; or, when MX_GEMM_DISPATCH's file is unreadable, malformed
 * or has no row for gpu on path (a foreign table), or a built-in table is malformed, the
 * refusal's status with source saying why (table empty: auto uses its thresholds). */
mx_status mx_gemm_dispatch_open(const char *gpu, const char *path, mx_gemm_dispatch *table,
                                char *source, size_t source_size);

/* The variant the table gives the problem (lookup above); MX_GEMM_AUTO when it has no row of
 * dtype. */
mx_gemm_variant mx_gemm_dispatch_pick(const mx_gemm_dispatch *table, mx_dtype dtype, int64_t m,
                                      int64_t n, int64_t k);

#ifdef __cplusplus
}
#endif

#endif
