/* Sweep files (harness/sweeps/NAME.sweep): the text format a person edits to say which rows a run
 * measures, and its parser. Plain C, no CUDA; errors come back as text, nothing is printed.
 *
 * Format. `#` starts a comment to the end of the line; blank lines are ignored; tokens are
 * separated by spaces or tabs. A line is `key value value ...`, or `[name]`, which starts a group
 * (name: letters, digits, '-', '_', '.'; unique in the file). Keys before the first group are
 * file-level defaults inherited by every group; a group's own line for a key replaces the
 * default. A file without any group is one group named after the file. Each key appears at most
 * once per group and once at file level. The sweep is each group's cartesian product, in file
 * order; inside a group rows run op, shape, m, dtype, dist, then variant innermost (the runner
 * reuses one problem setup across consecutive variants).
 *
 *   description TEXT...   file level only; the rest of the line (at most 255 characters)
 *   ops NAME...           op names, from the vocabulary the caller passes
 *   variants NAME...|all  each valid for at least one op of the group, and each op of the group
 *                         needs one; rows only for the (op, variant) pairs the op supports, in
 *                         this line's order; `all`: every variant of each op, in the op's order
 *   dtypes f16|bf16...    activation dtypes
 *   dists NAME...         weight distributions: gaussian uniform heavy outliers range
 *   m INT|A..B...         token counts in [1, 1048576]; A..B is the powers of two from A to B
 *                         (both powers of two, A <= B): 1..16 = 1 2 4 8 16
 *   shapes SHAPE...       NxK (N output features, K input features, K a multiple of 32, both in
 *                         [1, 2^31)) or a named shape (mx_sweep_named_shapes: gpt-oss.qkv ...)
 *   batch INT             independent problems per row, [1, 65535] (default 1)
 *   experts INT           MoE experts, [0, 4096] (default 0: not a MoE row); needs topk
 *   topk INT              experts per token, [0, experts] (default 0)
 *   kv_heads INT          attention rows: key/value heads, [0, 4096] (default 0: as many as
 *                         query heads, N / 64)
 *   budget_ms NUMBER      time budget per row (default 0: the command line's)
 *   seed INT              data seed (default 0: the command line's)
 *
 * Required in every group, after inheritance: ops, variants, dtypes, dists, m, shapes. A value
 * listed twice in one line is an error (it would repeat rows), and so is a sweep of more than
 * MX_SWEEP_MAX_ROWS rows. Every error reads `FILE:LINE:COL: message`, COL the 1-based column
 * (in bytes) of the offending token, and the message names the token and what was expected. */
#ifndef MX_SWEEP_H
#define MX_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_SWEEP_MAX_ROWS   100000
#define MX_SWEEP_MAX_VALUES 4096 /* values of one key on one line */
#define MX_SWEEP_MAX_GROUPS 4096 /* [groups] in one file */

/* One op the caller can run and its variants (a NULL-terminated list). Names fit the row's
 * fields: op at most 31 characters, variants at most 31. */
typedef struct {
    const char *op;
    const char *const *variants;
} mx_sweep_op_vocabulary;

typedef struct {
    char group[64];
    char op[32], variant[32], dtype[8], dist[16];
    char shape_name[32]; /* "gpt-oss.qkv", or "" when given as NxK */
    int64_t m, n, k, batch, experts, topk, seed;
    int64_t kv_heads; /* attention: key/value heads (query heads = N / 64); 0: not given */
    double budget_ms;
    int line; /* the line of the group header (1 for a file without groups) */
} mx_sweep_row;

typedef struct {
    char name[64];         /* file stem: "standard" for harness/sweeps/standard.sweep */
    char description[256]; /* "" when the file has no description line */
    mx_sweep_row *rows;
    size_t count;
} mx_sweep;

/* The row's problem: what its FP16 reference and every variant of it share, as results.csv's
 * `problem` column writes it: "gemm 4096x14336 m=1 f16 gaussian seed=1", with " experts=E
 * topk=T" (MoE), " batch=B" (more than 1) and " kv_heads=H" (attention) where they apply. Two
 * rows are the same problem exactly when these texts are equal. */
void mx_sweep_problem(const mx_sweep_row *row, char *text, size_t size);
/* Whether two rows are variants of one problem (their mx_sweep_problem texts are equal). */
bool mx_sweep_same_problem(const mx_sweep_row *a, const mx_sweep_row *b);

/* Parses text as the contents of file_name (used in messages and for the sweep's name). On
 * success fills *sweep (free it with mx_sweep_free); on failure writes `FILE:LINE:COL: message`
 * into error (when error_size > 0), leaves *sweep empty and returns false. */
bool mx_sweep_parse_text(const char *text, const char *file_name, const mx_sweep_op_vocabulary *ops,
                         int op_count, mx_sweep *sweep, char *error, size_t error_size);

/* Reads path and parses it; an unreadable file's message names the path and the reason. */
bool mx_sweep_parse_file(const char *path, const mx_sweep_op_vocabulary *ops, int op_count,
                         mx_sweep *sweep, char *error, size_t error_size);

/* Frees the rows and leaves the sweep empty (safe on an empty or already freed sweep). */
void mx_sweep_free(mx_sweep *sweep);

/* The named shapes `shapes` accepts, for --help and docs; *count (when not NULL) gets their
 * number. */
typedef struct {
    const char *name;
    int64_t n, k;
    const char *what;
} mx_sweep_named_shape;

const mx_sweep_named_shape *mx_sweep_named_shapes(int *count);

#endif
