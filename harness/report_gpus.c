/* `mxbench report --out DIR RUN...` with runs of several GPU models: each problem's best MXFP4
 * speed-up over FP16 per GPU, side by side (report_data.h). */
#include "report_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doc.h"
#include "files.h"
#include "gnuplot.h"
#include "run_folder.h"
#include "stats.h"
#include "text.h"

/* A problem as the table lists it: its description, and in each run its index (-1: absent). */
typedef struct {
    char label[400];
    int problem[8];
    int64_t m;
} gpu_row;

static double best_speedup(const report_data *d, int p) {
    const problem *pr = &d->problems[p];
    return 1.0 / report_ratio(d, pr->best);
}

/* Every problem of any run, in the first run's order then the others'. */
static int collect(const report_data *runs, int count, gpu_row **out) {
    int capacity = 0;
    for (int g = 0; g < count; g++) capacity += runs[g].problem_count;
    gpu_row *rows = calloc((size_t)capacity + 1, sizeof *rows);
    int n = 0;
    for (int g = 0; rows && g < count; g++)
        for (int p = 0; p < runs[g].problem_count; p++) {
            char label[400];
            const result_row *first = &runs[g].rows[runs[g].problems[p].first];
            report_describe_problem(first, label, sizeof label);
            int at = 0;
            while (at < n && strcmp(rows[at].label, label)) at++;
            if (at == n) {
                snprintf(rows[n].label, sizeof rows[n].label, "%s", label);
                for (int k = 0; k < 8; k++) rows[n].problem[k] = -1;
                rows[n].m = first->m;
                n++;
            }
            rows[at].problem[g] = p;
        }
    *out = rows;
    return rows ? n : -1;
}

static void write_summary(mx_doc *out, const report_data *runs, int count, const gpu_row *rows,
                          int n, char models[][128]) {
    static const struct {
        const char *name;
        int64_t low, high;
    } regimes[] = {{"decode (M <= 16)", 1, 16},
                   {"medium (M = 64-256)", 64, 256},
                   {"prefill (M >= 1024)", 1024, INT64_MAX}};
    mx_doc_heading(out, 2, "Median speed-up of the best MXFP4 variant over FP16, by regime");
    mx_doc_table(out, "GPU\tdecode (M <= 16)\tmedium (M = 64-256)\tprefill (M >= 1024)");
    double *values = malloc(sizeof *values * ((size_t)n + 1));
    for (int g = 0; values && g < count; g++) {
        char cells[3][48];
        for (int k = 0; k < 3; k++) {
            int c = 0;
            for (int r = 0; r < n; r++) {
                int p = rows[r].problem[g];
                double s = p >= 0 ? best_speedup(&runs[g], p) : NAN;
                if (isfinite(s) && rows[r].m >= regimes[k].low && rows[r].m <= regimes[k].high)
                    values[c++] = s;
            }
            if (c)
                snprintf(cells[k], sizeof cells[k], "%.2fx (%d problems)",
                         mx_stats_median_of(values, c), c);
            else
                snprintf(cells[k], sizeof cells[k], "-");
        }
        mx_doc_row(out, "%s\t%s\t%s\t%s", models[g], cells[0], cells[1], cells[2]);
    }
    free(values);
}

static bool write_plot_data(const char *path, const report_data *runs, int count,
                            const gpu_row *rows, int n, char *error, size_t error_size) {
    mx_text data = {0};
    mx_text_printf(&data, "# index\tlabel");
    for (int g = 0; g < count; g++) mx_text_printf(&data, "\tspeedup_%d", g + 1);
    mx_text_printf(&data, "\n");
    for (int r = 0; r < n; r++) {
        mx_text_printf(&data, "%d\t\"%s\"", r, rows[r].label);
        for (int g = 0; g < count; g++) {
            double s = rows[r].problem[g] >= 0 ? best_speedup(&runs[g], rows[r].problem[g]) : NAN;
            if (isfinite(s))
                mx_text_printf(&data, "\t%.4f", s);
            else
                mx_text_printf(&data, "\tNaN");
        }
        mx_text_printf(&data, "\n");
    }
    bool ok = !data.failed &&
              mx_write_file_atomic(path, mx_text_get(&data), data.length, error, error_size);
    mx_text_free(&data);
    return ok;
}

int report_gpus(const char *out_dir, const char *const *dirs, int count, bool no_plots) {
    report_data runs[8];
    char models[8][128];
    int loaded = 0, status = MX_EXIT_OK;
    for (; loaded < count && status == MX_EXIT_OK; loaded++) {
        status = report_load_run(&runs[loaded], dirs[loaded]);
        if (status != MX_EXIT_OK) break;
        if (!mx_gpu_model_name(runs[loaded].meta.gpu_name, models[loaded], sizeof models[0]))
            snprintf(models[loaded], sizeof models[0], "run %d", loaded + 1);
    }
    if (status != MX_EXIT_OK) {
        for (int g = 0; g < loaded; g++) report_free(&runs[g]);
        return status;
    }
    gpu_row *rows = NULL;
    int n = collect(runs, count, &rows);
    if (n < 0 || !mx_ensure_folder(out_dir)) {
        mx_cli_error("report: %s", n < 0 ? "out of memory" : "cannot create the --out folder");
        for (int g = 0; g < count; g++) report_free(&runs[g]);
        free(rows);
        return n < 0 ? MX_EXIT_FAILED : MX_EXIT_INPUT;
    }
    mx_doc doc = {0};
    mx_doc_begin(&doc, "mxbench: GPUs side by side");
    mx_doc_heading(&doc, 1, "mxbench: %d GPU models side by side", count);
    mx_doc_table(&doc, "GPU\trun\tcommit\tcopy GB/s\tcuBLAS FP16 TFLOP/s");
    for (int g = 0; g < count; g++) {
        char copy[32], tflops[32];
        mx_format_known(copy, sizeof copy, runs[g].meta.copy_gbps, "%.0f");
        mx_format_known(tflops, sizeof tflops, runs[g].meta.fp16_tflops, "%.0f");
        mx_doc_row(&doc, "%s (%s)\t`%s`\t`%.12s`\t%s\t%s", models[g],
                   runs[g].meta.gpu_name[0] ? runs[g].meta.gpu_name : "?", dirs[g],
                   runs[g].meta.git_commit, copy, tflops);
    }
    write_summary(&doc, runs, count, rows, n, models);
    mx_doc_heading(&doc, 2, "Speed-up of the best MXFP4 variant over FP16, per problem");
    mx_doc_paragraph(&doc, "FP16 time / the fastest correct MXFP4 variant that keeps no FP16 copy "
                           "(above 1: MXFP4 is faster); `-` where a run lacks the problem.");
    mx_text header = {0};
    mx_text_printf(&header, "problem");
    for (int g = 0; g < count; g++) mx_text_printf(&header, "\t%s", models[g]);
    mx_doc_table(&doc, "%s", mx_text_get(&header));
    mx_text_free(&header);
    for (int r = 0; r < n; r++) {
        mx_text line = {0};
        mx_text_printf(&line, "%s", rows[r].label);
        for (int g = 0; g < count; g++) {
            int p = rows[r].problem[g];
            double s = p >= 0 ? best_speedup(&runs[g], p) : NAN;
            if (isfinite(s))
                mx_text_printf(&line, "\t%.2fx (%s)", s,
                               runs[g].rows[runs[g].problems[p].best].variant);
            else
                mx_text_printf(&line, "\t-");
        }
        mx_doc_row(&doc, "%s", mx_text_get(&line));
        mx_text_free(&line);
    }
    mx_doc_close(&doc);
    char data_dir[4200], data_path[4300], base[4300], error[2048];
    mx_format_text(data_dir, sizeof data_dir, "%s/plot_data", out_dir);
    mx_format_text(data_path, sizeof data_path, "%s/gpus.dat", data_dir);
    mx_format_text(base, sizeof base, "%s/gpus", out_dir);
    bool drawn = false;
    mx_gnuplot gnuplot;
    if (mx_ensure_folder(data_dir) &&
        write_plot_data(data_path, runs, count, rows, n, error, sizeof error) && !no_plots &&
        mx_gnuplot_find(&gnuplot)) {
        char count_text[16], names[1200] = "";
        mx_format_text(count_text, sizeof count_text, "%d", n);
        for (int g = 0; g < count; g++)
            mx_format_append(names, sizeof names, "%s%s", g ? " " : "", models[g]);
        const mx_plot_variable variables[] = {{"data", data_path},
                                              {"count", count_text},
                                              {"names", names},
                                              {"title", "best MXFP4 speed-up over FP16 per GPU"}};
        drawn = mx_plot_render(&gnuplot, "gpus.gp", variables, 4, base, error, sizeof error);
        if (!drawn) fprintf(stderr, "mxbench: warning: gpus.png not drawn: %s\n", error);
    }
    if (drawn) mx_doc_figure(&doc, out_dir, "gpus", "best MXFP4 speed-up over FP16 per GPU");
    mx_doc_end(&doc, "mxbench report --out: runs of several GPU models");
    bool saved = report_save_text(out_dir, "report_gpus.md", &doc.md) &&
                 report_save_text(out_dir, "report_gpus.html", &doc.html);
    mx_doc_free(&doc);
    printf("compared %d GPU models over %d problems: %s/report_gpus.md, .html%s\n", count, n,
           out_dir, drawn ? ", gpus.png" : "");
    for (int g = 0; g < count; g++) report_free(&runs[g]);
    free(rows);
    return saved ? MX_EXIT_OK : MX_EXIT_FAILED;
}
