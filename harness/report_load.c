/* results.csv read into the report's rows, grouped into problems, series and weights
 * (report_data.h). */
#include "report_data.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "schema.h"
#include "targets.h"
#include "text.h"
#include "variants.h"

// ---- results.csv

/* Where each column the report reads goes in result_row; its type, whether a file must have it,
 * its least value and the value of an empty cell come from schema.c. */
typedef struct {
    const char *name;
    size_t offset;
} result_column;

#define FIELD(name, field)                                                                         \
    { name, offsetof(result_row, field) }

static const result_column result_columns[] = {
    FIELD("op", op),
    FIELD("variant", variant),
    FIELD("dtype", dtype),
    FIELD("dist", dist),
    FIELD("M", m),
    FIELD("N", n),
    FIELD("K", k),
    FIELD("experts", experts),
    FIELD("topk", topk),
    FIELD("time_us", time_us),
    FIELD("time_us_min", time_min_us),
    FIELD("time_us_max", time_max_us),
    FIELD("noise_pct", noise_pct),
    FIELD("fp16_time_us", fp16_time_us),
    FIELD("gbps", gbps),
    FIELD("tflops", tflops),
    FIELD("pct_peak_bw", pct_peak_bw),
    FIELD("pct_peak_flops", pct_peak_flops),
    FIELD("rel_err_vs_fp16", rel_vs_fp16),
    FIELD("max_rel_err_vs_fp16", max_rel_vs_fp16),
    FIELD("rel_err_vs_exact", rel_vs_exact),
    FIELD("quant_rel_err", quant_rel),
    FIELD("sqnr_db", sqnr_db),
    FIELD("nonfinite", nonfinite),
    FIELD("weight_bytes_fp16", weight_bytes_fp16),
    FIELD("weight_bytes_mxfp4", weight_bytes_mxfp4),
    FIELD("workspace_bytes", workspace_bytes),
    FIELD("vram_savings_pct", vram_savings_pct),
    FIELD("status", status),
    FIELD("note", note),
    FIELD("batch", batch),
    FIELD("seed", seed),
    FIELD("kv_heads", kv_heads),
    FIELD("shape_name", shape_name),
    FIELD("throttled", throttled),
    FIELD("unstable", unstable),
    FIELD("overhead_pct", overhead_pct),
    FIELD("overhead_pct_lo", overhead_low),
    FIELD("overhead_pct_hi", overhead_high),
    FIELD("elem_err_vs_bound", elementwise),
    FIELD("worst_element", worst_element),
    FIELD("vram_savings_measured_pct", vram_measured_pct),
    FIELD("vram_mismatch", vram_mismatch),
    FIELD("fp16_default_us", fp16_default_us),
    FIELD("sm_clock_mhz", sm_clock_mhz),
};
enum { RESULT_COLUMN_COUNT = sizeof result_columns / sizeof result_columns[0] };

static bool is_number_text(const char *cell, double *value) {
    char *end;
    *value = strtod(cell, &end);
    return end != cell && *end == '\0';
}

static int count_newlines(const char *cell) {
    int count = 0;
    for (; *cell; cell++) count += *cell == '\n';
    return count;
}

/* Fills the rows from the table; false with "FILE:LINE: ..." for a cell the report cannot use. */
bool report_parse_rows(report_data *d, char *error, size_t error_size) {
    const mx_table *t = d->table;
    const mx_column *schema[RESULT_COLUMN_COUNT];
    mx_text missing = {0};
    for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
        schema[c] = mx_column_find(result_columns[c].name);
        if (schema[c]->required && mx_table_column_index(t, schema[c]->name) < 0)
            mx_text_printf(&missing, "%s%s", missing.length ? ", " : "", schema[c]->name);
    }
    if (missing.length) {
        snprintf(error, error_size,
                 "%s: lacks the column%s %s, which the report needs (docs/design.md §5 lists them)",
                 d->results_path, strchr(mx_text_get(&missing), ',') ? "s" : "",
                 mx_text_get(&missing));
        mx_text_free(&missing);
        return false;
    }
    d->row_count = (int)mx_table_row_count(t);
    d->rows = calloc((size_t)d->row_count + 1, sizeof *d->rows);
    if (!d->rows) {
        snprintf(error, error_size, "out of memory reading %s", d->results_path);
        return false;
    }
    int line = 2;
    for (int c = 0; c < mx_table_column_count(t); c++)
        line += count_newlines(mx_table_column_name(t, c));
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        row->line = line;
        line++;
        for (int c = 0; c < mx_table_column_count(t); c++)
            line += count_newlines(mx_table_cell(t, r, c));
        for (int c = 0; c < RESULT_COLUMN_COUNT; c++) {
            const mx_column *column = schema[c];
            const char *cell = mx_table_get(t, r, column->name);
            char *field = (char *)row + result_columns[c].offset;
            double value = NAN;
            bool empty = !cell || !cell[0];
            if (column->type == MX_COLUMN_TEXT || column->type == MX_COLUMN_FLAG) {
                *(const char **)field = cell ? cell : "";
                continue;
            }
            if (!empty && !is_number_text(cell, &value)) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not a number",
                         d->results_path, row->line, column->name, cell);
                return false;
            }
            if (column->type == MX_COLUMN_NUMBER) {
                *(double *)field = value;
                continue;
            }
            if (empty) value = (double)column->fallback;
            if (value != floor(value) || value < (double)column->minimum || value > 1e15) {
                snprintf(error, error_size, "%s:%d: column %s: '%s' is not an integer >= %lld",
                         d->results_path, row->line, column->name, empty ? "" : cell,
                         (long long)column->minimum);
                return false;
            }
            *(int64_t *)field = (int64_t)value;
        }
        if (!row->variant[0] || !row->op[0]) {
            snprintf(error, error_size, "%s:%d: empty %s", d->results_path, row->line,
                     row->op[0] ? "variant" : "op");
            return false;
        }
        row->reference = mx_variant_traits_of(row->variant)->reference;
        row->measured = isfinite(row->time_us) && row->time_us > 0;
    }
    return true;
}

// ---- problems, series and weights

bool report_same_weight(const result_row *a, const result_row *b) {
    return strcmp(a->op, b->op) == 0 && a->n == b->n && a->k == b->k && a->batch == b->batch &&
           a->experts == b->experts && a->topk == b->topk && a->kv_heads == b->kv_heads &&
           strcmp(a->shape_name, b->shape_name) == 0;
}

static bool same_series(const result_row *a, const result_row *b) {
    return report_same_weight(a, b) && strcmp(a->dtype, b->dtype) == 0 &&
           strcmp(a->dist, b->dist) == 0;
}

static bool same_problem(const result_row *a, const result_row *b) {
    return same_series(a, b) && a->m == b->m && a->seed == b->seed;
}

bool report_is_mxfp4(const result_row *row) {
    return !row->reference;
}

/* An MXFP4 variant that saves memory: it keeps no FP16 copy of the weights (variants.h). */
bool report_saves_vram(const result_row *row) {
    return report_is_mxfp4(row) && !mx_variant_traits_of(row->variant)->fp16_copy;
}

double report_vram_saved(const result_row *row) {
    return mx_target_vram_saved(row->vram_measured_pct, row->vram_savings_pct);
}

mx_dtype report_dtype(const result_row *row) {
    return mx_activation_dtype(row->dtype);
}

double report_ratio(const report_data *d, int r) {
    if (r < 0 || !d->rows[r].measured) return NAN;
    const result_row *row = &d->rows[r];
    if (isfinite(row->overhead_pct)) return 1.0 + row->overhead_pct / 100.0;
    return row->time_us / d->problems[row->problem].reference_us;
}

/* A row whose time may stand for MXFP4 in the overhead target: correct output, and a variant
 * that does not keep an FP16 copy of the weights. */
static bool can_be_best(const result_row *row) {
    return report_saves_vram(row) && row->measured && strcmp(row->status, "ok") == 0 &&
           !(row->nonfinite > 0);
}

static void add_variant(report_data *d, const char *variant) {
    for (int v = 0; v < d->variant_count; v++)
        if (strcmp(d->variants[v], variant) == 0) return;
    d->variants[d->variant_count++] = variant;
}

bool report_organise(report_data *d) {
    d->problems = calloc((size_t)d->row_count, sizeof *d->problems);
    d->series = calloc((size_t)d->row_count, sizeof *d->series);
    d->weights = calloc((size_t)d->row_count, sizeof *d->weights);
    d->variants = calloc((size_t)d->row_count + 1, sizeof *d->variants);
    int *last_row = calloc((size_t)d->row_count, sizeof *last_row);
    if (!d->problems || !d->series || !d->weights || !d->variants || !last_row) {
        free(last_row);
        return false;
    }
    int known_count;
    const mx_variant_traits *known = mx_variants(&known_count);
    for (int k = 0; k < known_count; k++)
        for (int r = 0; r < d->row_count; r++)
            if (strcmp(d->rows[r].variant, known[k].name) == 0) {
                add_variant(d, known[k].name);
                break;
            }
    for (int r = 0; r < d->row_count; r++) {
        result_row *row = &d->rows[r];
        add_variant(d, row->variant);
        row->next = -1;
        int p = d->problem_count - 1; /* rows of a problem are usually together: look back */
        while (p >= 0 && !same_problem(&d->rows[d->problems[p].first], row)) p--;
        if (p < 0) {
            p = d->problem_count++;
            d->problems[p] =
                (problem){.first = r, .reference = -1, .best = -1, .best_lean = -1, .series = -1};
            int s = 0;
            while (s < d->series_count &&
                   !same_series(&d->rows[d->problems[d->series[s].first_problem].first], row))
                s++;
            if (s == d->series_count) {
                d->series[s] =
                    (series){.first_problem = p, .panel = s < MAX_PANELS ? d->panel_count++ : -1};
                d->series_count++;
            }
            d->problems[p].series = s;
            int w = 0;
            while (w < d->weight_count && !report_same_weight(&d->rows[d->weights[w]], row)) w++;
            if (w == d->weight_count) d->weights[d->weight_count++] = r;
        } else {
            d->rows[last_row[p]].next = r;
        }
        last_row[p] = r;
        row->problem = p;
        problem *pr = &d->problems[p];
        if (row->reference && pr->reference < 0) pr->reference = r;
        pr->mxfp4_rows += report_is_mxfp4(row);
        if (can_be_best(row) && (pr->best < 0 || row->time_us < d->rows[pr->best].time_us))
            pr->best = r;
        if (can_be_best(row) && row->workspace_bytes == 0 &&
            (pr->best_lean < 0 || row->time_us < d->rows[pr->best_lean].time_us))
            pr->best_lean = r;
    }
    free(last_row);
    for (int p = 0; p < d->problem_count; p++) {
        problem *pr = &d->problems[p];
        pr->reference_us = NAN;
        if (pr->reference >= 0 && d->rows[pr->reference].measured)
            pr->reference_us = d->rows[pr->reference].time_us;
        for (int r = pr->first; r >= 0 && !isfinite(pr->reference_us); r = d->rows[r].next)
            if (d->rows[r].fp16_time_us > 0) pr->reference_us = d->rows[r].fp16_time_us;
    }
    return true;
}

/* The row of variant in problem p, or NULL. */
const result_row *report_variant_row(const report_data *d, int p, const char *variant) {
    for (int r = d->problems[p].first; r >= 0; r = d->rows[r].next)
        if (strcmp(d->rows[r].variant, variant) == 0) return &d->rows[r];
    return NULL;
}

/* "4096x4096", "gpt-oss.qkv 5120x2880", with batch and experts where they apply. */
void report_describe_weight(const result_row *row, char *out, size_t size) {
    char extra[96] = "";
    if (row->batch > 1) snprintf(extra, sizeof extra, " batch %lld", (long long)row->batch);
    if (row->experts > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld experts top-%lld",
                 (long long)row->experts, (long long)row->topk);
    if (row->kv_heads > 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %lld KV heads",
                 (long long)row->kv_heads);
    snprintf(out, size, "%s%s%lldx%lld%s", row->shape_name, row->shape_name[0] ? " " : "",
             (long long)row->n, (long long)row->k, extra);
}

/* "gemm 4096x4096 M=256 f16 range": what a problem is, in tables and on plot axes. */
void report_describe_problem(const result_row *row, char *out, size_t size) {
    char weight[192];
    report_describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s M=%lld %s %s", row->op, weight, (long long)row->m, row->dtype,
             row->dist);
}

void report_describe_series(const result_row *row, char *out, size_t size) {
    char weight[192];
    report_describe_weight(row, weight, sizeof weight);
    snprintf(out, size, "%s %s %s %s", row->op, weight, row->dtype, row->dist);
}

void report_free(report_data *d) {
    free(d->rows);
    free(d->problems);
    free(d->series);
    free(d->weights);
    free(d->variants);
    mx_table_free(d->table);
    memset(d, 0, sizeof *d);
}

int report_load_run(report_data *d, const char *dir) {
    memset(d, 0, sizeof *d);
    d->run_dir = dir;
    struct stat info;
    if (strlen(d->run_dir) > 1000) {
        mx_cli_error("report: the folder name is longer than 1000 characters");
        return MX_EXIT_INPUT;
    }
    if (stat(d->run_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        mx_cli_error("report: %s: %s (give the folder `mxbench run` wrote, e.g. results/<run id>)",
                     d->run_dir, stat(d->run_dir, &info) != 0 ? strerror(errno) : "not a folder");
        return MX_EXIT_INPUT;
    }
    snprintf(d->results_path, sizeof d->results_path, "%s/results.csv", d->run_dir);
    snprintf(d->run_json_path, sizeof d->run_json_path, "%s/run.json", d->run_dir);
    char error[2048];
    if (access(d->results_path, F_OK) != 0) {
        mx_cli_error("report: %s: %s (not a run folder? `mxbench run` writes results.csv there)",
                     d->results_path, strerror(errno));
        return MX_EXIT_INPUT;
    }
    if (!mx_csv_read(d->results_path, &d->table, error, sizeof error) ||
        !report_parse_rows(d, error, sizeof error)) {
        mx_cli_error("report: %s", error);
        report_free(d);
        return MX_EXIT_INPUT;
    }
    if (d->row_count == 0) {
        mx_cli_error("report: %s: no rows (the run wrote none)", d->results_path);
        report_free(d);
        return MX_EXIT_INPUT;
    }
    d->meta_read =
        mx_run_info_read(d->run_json_path, &d->meta, d->meta_error, sizeof d->meta_error);
    if (!d->meta_read)
        fprintf(stderr, "mxbench: warning: report: %s; the environment will read unknown\n",
                d->meta_error);
    mx_run_info_caption(&d->meta, d->caption, sizeof d->caption);
    if (!report_organise(d)) {
        mx_cli_error("report: out of memory");
        report_free(d);
        return MX_EXIT_FAILED;
    }
    return MX_EXIT_OK;
}
