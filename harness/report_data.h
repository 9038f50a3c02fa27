/* The report's own data, shared by its parts: report_load.c (results.csv into rows, problems,
 * series and weights), report_targets.c (the target table judged), report_plots.c (plot data and
 * drawing) and report.c (the document and the command). Not part of the harness's interface. */
#ifndef MX_REPORT_DATA_H
#define MX_REPORT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "gnuplot.h"
#include "run_info.h"
#include "table.h"
#include "text.h"

#define MAX_PANELS 16 /* shapes drawn in the per-shape plots */
#define MIB        (1024.0 * 1024.0)

typedef struct {
    const char *op, *variant, *dtype, *dist, *shape_name, *status, *note, *throttled, *unstable,
        *worst_element, *vram_mismatch;
    int64_t m, n, k, batch, experts, topk, seed, kv_heads;
    double time_us, time_min_us, time_max_us, fp16_time_us, gbps, tflops, pct_peak_bw,
        pct_peak_flops, rel_vs_fp16, max_rel_vs_fp16, rel_vs_exact, quant_rel, sqnr_db, nonfinite,
        weight_bytes_fp16, weight_bytes_mxfp4, workspace_bytes, vram_savings_pct, noise_pct,
        sm_clock_mhz, overhead_pct, overhead_low, overhead_high, elementwise, vram_measured_pct,
        fp16_default_us;
    int line;    /* where the row starts in results.csv */
    int problem; /* index in report_data.problems */
    int next;    /* the next row of the same problem, -1 after the last */
    bool measured, reference;
} result_row;

typedef struct {
    int first;     /* its first row; rows follow through result_row.next */
    int reference; /* the FP16 (cuBLAS) row, -1 if none */
    int best;      /* the fastest correct MXFP4 row that keeps no FP16 copy, -1 if none */
    int best_lean; /* the same among rows with no workspace at all, -1 if none */
    int series;    /* index in report_data.series */
    int mxfp4_rows;
    double reference_us; /* the FP16 time the overheads are against (NaN: none) */
} problem;

typedef struct {
    int first_problem;
    int panel; /* position in the per-shape plots, -1 when not drawn */
} series;

typedef struct {
    const char *run_dir;
    char results_path[1100], run_json_path[1100];
    mx_table *table;
    result_row *rows;
    int row_count;
    problem *problems;
    int problem_count;
    series *series;
    int series_count, panel_count;
    int *weights; /* a row of each distinct weight, in order of appearance */
    int weight_count;
    const char **variants; /* the order of variants.h's table, then unknown ones as they come */
    int variant_count;
    mx_run_info meta;
    bool meta_read;
    char meta_error[1400], caption[512];
} report_data;

typedef struct {
    int row; /* the row the figure belongs to */
    bool pass;
    double badness; /* larger is worse: the worst items come first */
    char figure[48], detail[224];
} target_item;

typedef struct {
    target_item *items;
    int count, capacity, passed;
    int not_judged;
    const char *not_judged_why;
    char name[128];      /* "overhead vs FP16 < +10 %", with targets.h's value */
    char judged_on[160]; /* what one item is */
} target_result;

typedef struct {
    void (*title)(target_result *t); /* name and judged_on from targets.h's values */
    const char *figure_name;
    const char *explanation; /* a paragraph; `code` and **bold** are kept */
    void (*collect)(const report_data *d, target_result *out);
    bool per_weight;  /* an item is a weight shape, not a problem */
    const char *plot; /* the plot (report_plots.c's base name) drawn under it, or NULL */
} target_def;

typedef enum { PLOT_DRAWN, PLOT_NO_DATA, PLOT_SKIPPED, PLOT_FAILED } plot_state;

typedef struct {
    plot_state state;
    char message[1200];
    const char *base, *title, *caption; /* the plot's files (base.png, base.svg) and texts */
} plot_outcome;

// ---- report_load.c

/* Reads and organises the run folder dir into d (report_free it); MX_EXIT_OK, or the exit code
 * after saying why. */
int report_load_run(report_data *d, const char *dir);
/* Writes content to run_dir/name atomically; false after saying why. */
bool report_save_text(const char *run_dir, const char *name, const mx_text *content);
/* report_gpus.c: runs of several GPU models side by side into out_dir (report --out). */
int report_gpus(const char *out_dir, const char *const *dirs, int count, bool no_plots);
void report_free(report_data *d);
/* Fills d->rows from d->table; false with "FILE:LINE: ..." for a cell the report cannot use. */
bool report_parse_rows(report_data *d, char *error, size_t error_size);
/* Groups the rows into problems, series and weights and orders the variants; false out of
 * memory. */
bool report_organise(report_data *d);
bool report_same_weight(const result_row *a, const result_row *b);
bool report_is_mxfp4(const result_row *row);
/* An MXFP4 variant that saves memory: it keeps no FP16 copy of the weights (variants.h). */
bool report_saves_vram(const result_row *row);
/* Row r's time over its problem's FP16 time: 1 + overhead_pct / 100 (the median of the per-round
 * ratios, docs/design.md §4), or time_us / the FP16 time in a file without the column; NaN for
 * r < 0 or an unmeasured row. Every figure of the report relative to FP16 comes from here. */
double report_ratio(const report_data *d, int r);
/* The saving the VRAM target judges (mx_target_vram_saved). */
double report_vram_saved(const result_row *row);
/* The row's output dtype (MX_BF16 for "bf16", else MX_F16). */
mx_dtype report_dtype(const result_row *row);
/* The row of variant in problem p, or NULL. */
const result_row *report_variant_row(const report_data *d, int p, const char *variant);
/* "4096x4096", "gpt-oss.qkv 5120x2880", with batch and experts where they apply. */
void report_describe_weight(const result_row *row, char *out, size_t size);
void report_describe_problem(const result_row *row, char *out, size_t size);
void report_describe_series(const result_row *row, char *out, size_t size);

// ---- report_targets.c

enum { TARGET_COUNT = 9 };
extern const target_def report_targets[TARGET_COUNT];
/* Judges every target; the items of each sorted worst first. */
void report_judge(const report_data *d, target_result results[TARGET_COUNT]);
/* A small limit as people write it: 2e-3, not 0.002 or 2e-03. */
void report_format_limit(char out[32], size_t size, double value);

// ---- report_plots.c

enum { PLOT_COUNT = 5 };
/* Writes every plot's data into RUN_DIR/plot_data/ and, with gnuplot (NULL: skip_reason says
 * why not), draws it. */
void report_draw_plots(const report_data *d, const mx_gnuplot *gnuplot, const char *skip_reason,
                       plot_outcome outcomes[PLOT_COUNT]);

#endif
