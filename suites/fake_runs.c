/* Run folders written for the suites of compare, baseline and merge (fake_runs.h): synthetic
 * runs with the real results.csv schema, samples at normal quantiles (every run of a suite sees
 * the same numbers), jobs of several runs, and a fresh work folder removed after each test. */
#include "fake_runs.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_info.h"
#include "schema.h"
#include "table.h"

static void remove_tree(const char *path) {
    DIR *folder = opendir(path);
    for (struct dirent *entry; folder && (entry = readdir(folder));) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char inner[512];
        snprintf(inner, sizeof inner, "%s/%s", path, entry->d_name);
        if (unlink(inner) != 0) remove_tree(inner);
    }
    if (folder) closedir(folder);
    rmdir(path);
}

/* Every test that writes runs does so in a temporary folder of its own, removed afterwards. */
void mx_test_remove_work_dir(void) {
    if (mx_test_work_dir[0]) remove_tree(mx_test_work_dir);
}

/* Phi^-1(p), by bisection on the normal CDF. */
static double normal_quantile(double p) {
    double low = -10.0, high = 10.0;
    for (int i = 0; i < 100; i++)
        *(0.5 * erfc(-(low + high) / 2.0 / sqrt(2.0)) < p ? &low : &high) = (low + high) / 2.0;
    return (low + high) / 2.0;
}

/* count samples around median_us with a standard deviation of noise_pct % of it: the normal
 * quantiles at (i + 0.5) / count, so the median is median_us itself. */
static void normal_samples(double median_us, double noise_pct, int count, double *samples) {
    for (int i = 0; i < count; i++)
        samples[i] = median_us * (1.0 + noise_pct / 100.0 * normal_quantile((i + 0.5) / count));
}

/* count run values around value whose logs have a standard deviation of about spread_pct %: the
 * normal quantiles at (i + 0.5) / count, symmetric, so that their geometric mean is value. */
void mx_test_run_values(double value, double spread_pct, int count, double *values) {
    for (int i = 0; i < count; i++)
        values[i] = value * exp(spread_pct / 100.0 * normal_quantile((i + 0.5) / count));
}

void mx_test_save_table(const mx_table *t, const char *path) {
    char error[512];
    cr_assert(mx_table_save(t, path, error, sizeof error), "%s", error);
}

void mx_test_write_run_json(const char *dir, const char *gpu, const char *status) {
    mx_run_info info = {.git_dirty = 0};
    const char *name = strrchr(dir, '/') + 1;
    snprintf(info.run_id, sizeof info.run_id, "%s", name);
    snprintf(info.status, sizeof info.status, "%s", status);
    snprintf(info.suite, sizeof info.suite, "nightly");
    snprintf(info.gpu_name, sizeof info.gpu_name, "%s", gpu);
    snprintf(info.git_commit, sizeof info.git_commit, "0123456789abcdef0123456789abcdef01234567");
    /* every run of a test starts a minute after the one written before it */
    static int minute;
    snprintf(info.start_time, sizeof info.start_time, "2026-11-26T%02d:%02d:00Z", 12 + minute / 60,
             minute % 60);
    minute++;
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", dir);
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
}

/* A run folder work_dir/name as `mxbench run` writes it (results.csv with the real schema). */
void mx_test_write_run(const char *name, const char *gpu, const fake_row *rows, int count) {
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s", mx_test_path(name));
    cr_assert(mkdir(dir, 0777) == 0, "mkdir %s", dir);
    int column_count;
    const char *const *columns = mx_column_names(MX_IN_RESULTS, &column_count);
    static const char *const sample_columns[] = {"run_id", "op",   "variant", "dtype",   "dist",
                                                 "M",      "N",    "K",       "experts", "topk",
                                                 "batch",  "seed", "sample",  "time_us"};
    mx_table *results = mx_table_create(columns, column_count);
    mx_table *samples = mx_table_create(sample_columns, 14);
    for (int i = 0; i < count; i++) {
        const fake_row *row = &rows[i];
        int r = mx_table_add_row(results);
        const char *status = row->status ? row->status : "ok";
        mx_table_set(results, r, "run_id", "%s", name);
        mx_table_set(results, r, "suite", "nightly");
        mx_table_set(results, r, "op", "gemm");
        mx_table_set(results, r, "variant", "%s", row->variant);
        mx_table_set(results, r, "dtype", "f16");
        mx_table_set(results, r, "dist", "gaussian");
        mx_table_set(results, r, "M", "%d", row->m);
        mx_table_set(results, r, "N", "4096");
        mx_table_set(results, r, "K", "4096");
        mx_table_set(results, r, "experts", "0");
        mx_table_set(results, r, "topk", "0");
        mx_table_set(results, r, "batch", "1");
        mx_table_set(results, r, "seed", "1");
        mx_table_set(results, r, "status", "%s", status);
        mx_table_set(results, r, "gpu", "%s", gpu);
        if (strcmp(status, "skipped") == 0) {
            mx_table_set(results, r, "note", "out of memory");
            continue;
        }
        double values[64];
        normal_samples(row->median_us, row->noise_pct, row->samples, values);
        mx_table_set(results, r, "samples", "%d", row->samples);
        mx_table_set(results, r, "time_us", "%.3f", row->median_us);
        mx_table_set(results, r, "pass_error", "%s", row->pass_error ? row->pass_error : "true");
        mx_table_set(results, r, "rel_err_vs_fp16", "%s",
                     row->pass_error && !strcmp(row->pass_error, "false") ? "3.1e-02" : "1.5e-06");
        mx_table_set(results, r, "throttled", "false");
        for (int s = 0; s < row->samples; s++) {
            int k = mx_table_add_row(samples);
            const char *const copied[] = {"run_id", "op", "variant", "dtype", "dist",  "M",
                                          "N",      "K",  "experts", "topk",  "batch", "seed"};
            for (int c = 0; c < 12; c++)
                mx_table_set(samples, k, copied[c], "%s", mx_table_get(results, r, copied[c]));
            mx_table_set(samples, k, "sample", "%d", s);
            mx_table_set(samples, k, "time_us", "%.4f", values[s]);
        }
    }
    snprintf(path, sizeof path, "%s/results.csv", dir);
    mx_test_save_table(results, path);
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    mx_test_save_table(samples, path);
    mx_table_free(results);
    mx_table_free(samples);
    mx_test_write_run_json(dir, gpu, "complete");
}

/* A run's rows with the times of the fused and skinny rows scaled by factor, and every row's by
 * run_factor (what differs from one run to the next). */
void mx_test_write_shifted_run(const char *name, const char *gpu, double factor,
                               double run_factor) {
    fake_row rows[] = {
        {"fp16", 1, 50.0 * run_factor, 1.0, 30, NULL, NULL},
        {"fused", 1, 40.0 * factor * run_factor, 1.0, 30, NULL, NULL},
        {"skinny", 1, 20.0 * factor * run_factor, 1.0, 30, NULL, NULL},
        {"fp16", 4096, 900.0 * run_factor, 0.5, 20, NULL, NULL},
        {"fused", 4096, 1000.0 * run_factor, 0.5, 20, NULL, NULL},
    };
    mx_test_write_run(name, gpu, rows, 5);
}

void mx_test_write_scaled_run(const char *name, const char *gpu, double factor) {
    mx_test_write_shifted_run(name, gpu, factor, 1.0);
}

/* A job of count runs DIR/DIR-1, DIR/DIR-2... (a folder of runs, as compare and baseline take
 * them): mx_test_write_scaled_run's rows, run i's times multiplied by exp(spread z_i) with the
 * normal quantiles z_i, so that the runs are spread_pct apart and their geometric mean is the
 * row's. */
void mx_test_write_job(const char *dir, int count, const char *gpu, double factor,
                       double spread_pct) {
    cr_assert_eq(mkdir(mx_test_path(dir), 0777), 0, "mkdir %s", dir);
    double offsets[16];
    mx_test_run_values(1.0, spread_pct, count, offsets);
    for (int i = 0; i < count; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s/%s-%d", dir, dir, i + 1);
        mx_test_write_shifted_run(name, gpu, factor, offsets[i]);
    }
}

mx_cli_result mx_test_compare(const char *base, const char *cur) {
    char base_path[128], cur_path[128];
    snprintf(base_path, sizeof base_path, "%s", mx_test_path(base));
    snprintf(cur_path, sizeof cur_path, "%s", mx_test_path(cur));
    return mx_test_run_cli((const char *[]){"compare", base_path, cur_path, NULL});
}

mx_cli_result mx_test_compare_with_baseline(const char *model, const char *base_gpu,
                                            const char *cur_gpu) {
    char folder[128];
    snprintf(folder, sizeof folder, "baselines/%s", model);
    cr_assert_eq(mkdir(mx_test_path("baselines"), 0777), 0);
    mx_test_write_scaled_run(folder, base_gpu, 1.0);
    mx_test_write_scaled_run("cur", cur_gpu, 1.0);
    return mx_test_compare("baselines", "cur");
}
