/* `mxbench report RUN_DIR`: judges a run folder (results.csv, run.json) against the targets of
 * DESIGN.md §7, draws its plots with gnuplot (plots/NAME.gp, PNG and SVG beside the CSV) and writes
 * report.md and a self-contained report.html there. The run.json reader and the gnuplot helpers
 * are shared with `mxbench compare` (plots/compare.gp). */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

extern const mx_command mx_report_command;

/* Exit status of report and compare for an input they cannot use: a missing folder, a missing or
 * malformed results.csv, a results.csv without the columns they need. */
enum { MX_EXIT_UNUSABLE_INPUT = 2 };

// ---- run.json

/* What the report shows of run.json (harness/run_info.h writes it). Unknown numbers are NaN,
 * unknown versions 0, unknown text "". */
typedef struct {
    char run_id[64], status[32], suite[64], command_line[2048], hostname[256];
    char start_time[32], end_time[32]; /* ISO 8601 UTC */
    char git_commit[48];
    int git_dirty; /* 1 dirty, 0 clean, -1 unknown */
    char gpu_name[256], gpu_uuid[64], compute_capability[16];
    double sm_count, l2_bytes, memory_bytes;
    double sm_clock_max_mhz, sm_clock_start_mhz, memory_clock_max_mhz;
    int driver_version, runtime_version, cublas_version;     /* CUDA's integer encodings */
    char code_path[16], code_path_why[96], built_archs[256]; /* kernels/arch.h */
    double copy_gbps, fp16_tflops;                           /* the ceilings measured at start-up */
    double min_samples, max_samples, max_noise_pct, time_budget_ms, l2_flush_bytes, seed;
    int l2_flushed; /* 1, 0, -1 unknown */
} mx_run_meta;

/* Reads path into *meta (cleared first, so a failure leaves every field unknown). False with
 * "FILE:LINE: what" in error for unreadable or malformed JSON; fields it lacks stay unknown. */
bool mx_run_meta_read(const char *path, mx_run_meta *meta, char *error, size_t error_size);

/* The line plot titles carry: "NVIDIA H200, 2026-11-26, commit ce68653 (dirty)". */
void mx_run_meta_caption(const mx_run_meta *meta, char *text, size_t size);

// ---- gnuplot

typedef struct {
    char path[1024];   /* the executable */
    char bundle[1024]; /* the offline bundle's root (.deps/root) when path lies in it, else "" */
} mx_gnuplot;

/* Looks for gnuplot (then gnuplot-nox) in the directories of PATH, then in the offline bundle that
 * `.ci/deps.sh ensure bench` unpacks (MX_SOURCE_DIR/.deps/root/usr/bin). False when neither has
 * it; mx_gnuplot_advice says how to get it. */
bool mx_gnuplot_find(mx_gnuplot *gnuplot);
extern const char mx_gnuplot_advice[];

/* A variable for a plot script: set before the script runs as the gnuplot string
 * name='value' (quotes doubled, line breaks turned into spaces). Scripts use numeric ones
 * directly, as gnuplot converts such strings on use; write reals with "%.6e" or "%f", since its
 * conversion rejects an exponent after a mantissa without a point ("1e-08"). */
typedef struct {
    const char *name, *value;
} mx_plot_variable;

/* Runs the plot script (a file name in MX_SOURCE_DIR/plots/, or a path with a '/') with gnuplot
 * and the given variables, plus plotdir (the scripts' folder, for common.gp), out and formats
 * ("png svg"), and writes out_base.png and out_base.svg. gnuplot draws into temporary names
 * beside them, which are renamed only once both files are complete. False with gnuplot's exit
 * status and the end of its error output in error on any failure (nothing is left behind).
 *
 * plots/compare.gp (for `mxbench compare`) takes: data, a tab-separated file of one line per
 * compared row: index (0, 1, ...), change in %, noise band low and high in % (the change the
 * noise alone could give), verdict (FASTER, SLOWER, SAME or UNSURE), label (the row's key);
 * count (lines), threshold (the minimum relative change in %, drawn as +-threshold) and title. */
bool mx_plot_render(const mx_gnuplot *gnuplot, const char *script,
                    const mx_plot_variable *variables, int variable_count, const char *out_base,
                    char *error, size_t error_size);

#endif
