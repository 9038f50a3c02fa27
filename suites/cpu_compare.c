/* Compare suite (CPU): the verdict rule on synthetic samples (quantiles of a normal distribution,
 * so that every run of the suite sees the same numbers), GPU model names, and `mxbench compare` /
 * `mxbench baseline` end to end on run folders written here: verdicts, exit codes, compare.csv and
 * compare.dat, refusals of unusable input with file and line, and the baselines folder. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "compare.h"
#include "run_info.h"
#include "table.h"
#include "schema.h"
#include "common.h"

#define H200 "NVIDIA H200"
#define H100 "NVIDIA H100 80GB HBM3"

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
static void remove_work_dir(void) {
    if (mx_test_work_dir[0]) remove_tree(mx_test_work_dir);
}
#define IN_A_FRESH_DIR .init = mx_test_work_dir_create, .fini = remove_work_dir

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

// ---- the rule itself

typedef struct {
    double shift_pct, noise_pct;
    int samples;
    mx_verdict verdict;
    char reason[48]; /* in the verdict's reason ("" for none) */
} timing_case;

ParameterizedTestParameters(cpu_compare, timing_rule_follows_the_table) {
    static timing_case cases[] = {
        {0.0, 1.0, 30, MX_VERDICT_SAME, ""},
        {10.0, 1.0, 30, MX_VERDICT_SLOWER, ""},
        {-10.0, 1.0, 30, MX_VERDICT_FASTER, ""},
        {10.0, 20.0, 30, MX_VERDICT_UNSURE, "not significant"},
        {1.0, 20.0, 30, MX_VERDICT_SAME, ""},
        {2.0, 0.5, 30, MX_VERDICT_SAME, "smaller than the 5 %"},
        {10.0, 1.0, 7, MX_VERDICT_UNSURE, "only 7 samples"},
        {10.0, 1.0, 8, MX_VERDICT_SLOWER, ""},
    };
    return cr_make_param_array(timing_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(timing_case *c, cpu_compare, timing_rule_follows_the_table) {
    double base[64], cur[64];
    normal_samples(100.0, c->noise_pct, c->samples, base);
    normal_samples(100.0 * (1.0 + c->shift_pct / 100.0), c->noise_pct, c->samples, cur);
    mx_compare_rule rule = {.alpha = 0.01, .min_change_pct = 5.0};
    mx_timing_verdict v;
    mx_compare_timing(base, c->samples, cur, c->samples, &rule, &v);
    cr_expect_eq(v.verdict, c->verdict, "shift %+.0f %% in %.1f %% noise, %d samples: %s (%s)",
                 c->shift_pct, c->noise_pct, c->samples, mx_verdict_string(v.verdict), v.reason);
    cr_expect(strstr(v.reason, c->reason), "reason '%s' lacks '%s'", v.reason, c->reason);
    cr_expect_float_eq(v.change_pct, c->shift_pct, 1e-9);
    cr_expect_eq(v.base_count, c->samples);
    cr_expect(v.band_low_pct < 0.0 && v.band_high_pct > 0.0, "noise band [%g, %g] around 0",
              v.band_low_pct, v.band_high_pct);
    if (c->samples < MX_COMPARE_MIN_SAMPLES)
        cr_expect(isnan(v.p_value), "no p-value below %d samples", MX_COMPARE_MIN_SAMPLES);
}

/* With 1 % noise and 30 samples each median's relative standard error is about
 * 1.2533 * 1 % / sqrt(30) = 0.23 %; at alpha 0.01 (z = 2.576) the band is about +-0.83 %. */
Test(cpu_compare, noise_band_comes_from_the_noise_of_both_medians) {
    double base[30], cur[30];
    normal_samples(100.0, 1.0, 30, base);
    normal_samples(100.0, 1.0, 30, cur);
    mx_timing_verdict v;
    mx_compare_timing(base, 30, cur, 30, &(mx_compare_rule){0.01, 5.0}, &v);
    cr_expect_eq(v.verdict, MX_VERDICT_SAME);
    cr_expect_float_eq(v.p_value, 1.0, 1e-12);
    cr_expect(v.band_high_pct > 0.6 && v.band_high_pct < 1.1, "%g", v.band_high_pct);
    cr_expect_float_eq(v.band_low_pct, -v.band_high_pct, 0.01);
}

typedef struct {
    char name[32], model[32];
} model_case;

ParameterizedTestParameters(cpu_compare, gpu_model_names_are_file_safe) {
    static model_case cases[] = {
        {H200, "nvidia-h200"},
        {H100, "nvidia-h100-80gb-hbm3"},
        {"  Tesla V100-SXM2-16GB ", "tesla-v100-sxm2-16gb"},
        {"NVIDIA GeForce RTX 4090/../x", "nvidia-geforce-rtx-4090-x"},
        {"", ""},
        {" ./- ", ""},
    };
    return cr_make_param_array(model_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(model_case *c, cpu_compare, gpu_model_names_are_file_safe) {
    char model[64];
    cr_expect_eq(mx_gpu_model_name(c->name, model, sizeof model), c->model[0] != '\0');
    cr_expect_str_eq(model, c->model);
    cr_expect_not(mx_gpu_model_name("NVIDIA H200", model, 11), "12 bytes needed");
}

// ---- run folders written here

/* One row of a synthetic run (op gemm, f16, gaussian, N = K = 4096). */
typedef struct {
    const char *variant;
    int m;
    double median_us, noise_pct;
    int samples;            /* 0: a skipped row */
    const char *pass_error; /* NULL: "true" */
    const char *status;     /* NULL: "ok", or "skipped" (out of memory) without samples */
} fake_row;

static void save_table(const mx_table *t, const char *path) {
    char error[512];
    cr_assert(mx_table_save(t, path, error, sizeof error), "%s", error);
}

static void write_run_json(const char *dir, const char *gpu, const char *status) {
    mx_run_info info = {.git_dirty = 0};
    const char *name = strrchr(dir, '/') + 1;
    snprintf(info.run_id, sizeof info.run_id, "%s", name);
    snprintf(info.status, sizeof info.status, "%s", status);
    snprintf(info.suite, sizeof info.suite, "nightly");
    snprintf(info.gpu_name, sizeof info.gpu_name, "%s", gpu);
    snprintf(info.git_commit, sizeof info.git_commit, "0123456789abcdef0123456789abcdef01234567");
    snprintf(info.start_time, sizeof info.start_time, "2026-11-26T12:00:00Z");
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", dir);
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
}

/* A run folder work_dir/name as `mxbench run` writes it (results.csv with the real schema). */
static void write_run(const char *name, const char *gpu, const fake_row *rows, int count) {
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
    save_table(results, path);
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    save_table(samples, path);
    mx_table_free(results);
    mx_table_free(samples);
    write_run_json(dir, gpu, "complete");
}

/* A run's rows with the times of the fused and skinny rows scaled by factor. */
static void write_scaled_run(const char *name, const char *gpu, double factor) {
    fake_row rows[] = {
        {"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
        {"fused", 1, 40.0 * factor, 1.0, 30, NULL, NULL},
        {"skinny", 1, 20.0 * factor, 1.0, 30, NULL, NULL},
        {"fp16", 4096, 900.0, 0.5, 20, NULL, NULL},
        {"fused", 4096, 1000.0, 0.5, 20, NULL, NULL},
    };
    write_run(name, gpu, rows, 5);
}

static mx_table *read_csv(const char *path) {
    mx_table *t = NULL;
    char error[512];
    cr_assert(mx_csv_read(path, &t, error, sizeof error), "%s", error);
    return t;
}

/* Sets a cell of results.csv of run name, as `mxbench run` would have written it. */
static void set_result(const char *name, int row, const char *column, const char *value) {
    char path[128], error[512];
    snprintf(path, sizeof path, "%s/%s/results.csv", mx_test_work_dir, name);
    mx_table *t = read_csv(path);
    cr_assert(mx_table_set(t, row, column, "%s", value), "%s", mx_table_error(t));
    cr_assert(mx_table_save(t, path, error, sizeof error), "%s", error);
    mx_table_free(t);
}

/* The compare.csv row of (variant, M); -1 if there is none. */
static int find_compared(const mx_table *t, const char *variant, int m) {
    char text[16];
    snprintf(text, sizeof text, "%d", m);
    for (size_t r = 0; r < mx_table_row_count(t); r++)
        if (!strcmp(mx_table_get(t, (int)r, "variant"), variant) &&
            !strcmp(mx_table_get(t, (int)r, "M"), text))
            return (int)r;
    return -1;
}

static void expect_verdict(const mx_table *t, const char *variant, int m, const char *verdict) {
    int r = find_compared(t, variant, m);
    cr_assert_geq(r, 0, "compare.csv has no row %s M=%d", variant, m);
    cr_expect_str_eq(mx_table_get(t, r, "verdict"), verdict, "%s M=%d: %s", variant, m,
                     mx_table_get(t, r, "reason"));
}

static mx_cli_result compare(const char *base, const char *cur) {
    char base_path[128], cur_path[128];
    snprintf(base_path, sizeof base_path, "%s", mx_test_path(base));
    snprintf(cur_path, sizeof cur_path, "%s", mx_test_path(cur));
    return mx_test_run_cli((const char *[]){"compare", base_path, cur_path, NULL});
}

// ---- mxbench compare

Test(cpu_compare, identical_runs_are_same_everywhere, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("base", "cur");
    cr_assert_eq(r.exit_code, 0, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "5 SAME") && strstr(r.out, "no regression"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    cr_assert_eq(mx_table_row_count(t), 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(mx_table_get(t, i, "verdict"), "SAME");
        cr_expect_str_eq(mx_table_get(t, i, "change_pct"), "0.00");
        cr_expect_str_eq(mx_table_get(t, i, "p_value"), "1");
    }
    mx_table_free(t);
}

typedef struct {
    double factor, noise_pct;
    char verdict[16];
    int exit_code;
    int position; /* in compare.csv, worst first: SLOWER, UNSURE, SAME, FASTER */
} shift_case;

ParameterizedTestParameters(cpu_compare, shifted_row_gets_its_verdict_and_exit_code) {
    static shift_case cases[] = {
        {1.10, 1.0, "SLOWER", 1, 0},
        {1 / 1.10, 1.0, "FASTER", 0, 1},
        {1.10, 20.0, "UNSURE", 0, 0},
    };
    return cr_make_param_array(shift_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(shift_case *c, cpu_compare, shifted_row_gets_its_verdict_and_exit_code,
                  IN_A_FRESH_DIR) {
    fake_row base[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 100.0, c->noise_pct, 30, NULL, NULL}};
    fake_row cur[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                      {"fused", 1, 100.0 * c->factor, c->noise_pct, 30, NULL, NULL}};
    write_run("base", H200, base, 2);
    write_run("cur", H200, cur, 2);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, c->exit_code, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "fused", 1, c->verdict);
    expect_verdict(t, "fp16", 1, "SAME");
    cr_expect_str_eq(mx_table_get(t, c->position, "verdict"), c->verdict, "worst first");
    mx_table_free(t);
    cr_expect(strstr(r.out, c->exit_code ? "REGRESSION" : "no regression"), "%s", r.out);
}

Test(cpu_compare, missing_and_new_rows_are_reported, IN_A_FRESH_DIR) {
    fake_row base[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 40.0, 1.0, 30, NULL, NULL},
                       {"skinny", 1, 20.0, 1.0, 30, NULL, NULL},
                       {"persistent", 1, 60.0, 1.0, 30, NULL, NULL}};
    fake_row cur[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                      {"fused", 1, 40.0, 1.0, 30, NULL, NULL},
                      {"persistent", 1, 0.0, 0.0, 0, NULL, "skipped"},
                      {"dequant_cublas", 1, 70.0, 1.0, 30, NULL, NULL}};
    write_run("base", H200, base, 4);
    write_run("cur", H200, cur, 4);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "MISSING rows fail: %s%s", r.out, r.err);
    cr_expect(strstr(r.out, "absent from CUR") && strstr(r.out, "out of memory"), "%s", r.out);
    cr_expect(strstr(r.out, "2 MISSING") && strstr(r.out, "1 NEW"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "skinny", 1, "MISSING");
    expect_verdict(t, "persistent", 1, "MISSING");
    expect_verdict(t, "dequant_cublas", 1, "NEW");
    expect_verdict(t, "fused", 1, "SAME");
    int persistent = find_compared(t, "persistent", 1);
    cr_expect_str_eq(mx_table_get(t, persistent, "cur_status"), "skipped");
    cr_expect(strstr(mx_table_get(t, persistent, "reason"), "not measured in CUR"));
    mx_table_free(t);
}

Test(cpu_compare, a_change_timed_throttled_is_unsure, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.2);
    set_result("cur", 1, "throttled", "true"); /* fused M=1 */
    set_result("cur", 1, "sm_clock_mhz", "1530");
    set_result("base", 2, "throttled", "true"); /* skinny M=1 */
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "a lowered clock is not a regression: %s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "fused", 1, "UNSURE");
    expect_verdict(t, "skinny", 1, "UNSURE");
    int fused = find_compared(t, "fused", 1);
    cr_expect(strstr(mx_table_get(t, fused, "reason"),
                     "SLOWER discounted (p 3e-11): not timed at the same SM clock; CUR row "
                     "throttled (SM clock 1530 MHz)"),
              "%s", mx_table_get(t, fused, "reason"));
    cr_expect_str_eq(mx_table_get(t, fused, "change_pct"), "20.00");
    mx_table_free(t);
    char dat[4096];
    mx_test_read_text(mx_test_path("cur/compare.dat"), dat, sizeof dat);
    cr_expect(strstr(dat, "\tUNSURE\tgemm fused f16 gaussian M=1 N=4096 K=4096\n"),
              "the plot shows the verdict that counted: %s", dat);
}

Test(cpu_compare, cublas_only_rows_are_the_control_not_the_gate, IN_A_FRESH_DIR) {
    /* The same 10 % slowdown with 1 % noise: a regression in an mxbench kernel, the environment
     * in a row that times cuBLAS alone (fp16 reference, persistent). */
    fake_row base_rows[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                            {"persistent", 1, 50.0, 1.0, 30, NULL, NULL},
                            {"skinny", 1, 20.0, 1.0, 30, NULL, NULL}};
    fake_row cur_rows[] = {{"fp16", 1, 55.0, 1.0, 30, NULL, NULL},
                           {"persistent", 1, 55.0, 1.0, 30, NULL, NULL},
                           {"skinny", 1, 22.0, 1.0, 30, NULL, NULL}};
    write_run("base", H200, base_rows, 3);
    write_run("cur", H200, cur_rows, 3);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "the skinny row regressed: %s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "skinny", 1, "SLOWER");
    const char *controls[] = {"fp16", "persistent"};
    for (int i = 0; i < 2; i++) {
        expect_verdict(t, controls[i], 1, "UNSURE");
        cr_expect(
            strstr(mx_table_get(t, find_compared(t, controls[i], 1), "reason"), "SLOWER not gated"),
            "%s", mx_table_get(t, find_compared(t, controls[i], 1), "reason"));
    }
    mx_table_free(t);
}

Test(cpu_compare, new_rows_alone_pass, IN_A_FRESH_DIR) {
    write_run("base", H200, &(fake_row){"fp16", 1, 50.0, 1.0, 30, NULL, NULL}, 1);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "1 SAME") && strstr(r.out, "4 NEW") && strstr(r.out, "only in CUR"),
              "%s", r.out);
}

typedef struct {
    char pass_error[8], status[8];
} accuracy_case;

ParameterizedTestParameters(cpu_compare, losing_accuracy_fails_whatever_the_times) {
    static accuracy_case cases[] = {{"false", "ok"}, {"false", "fail"}, {"true", "fail"}};
    return cr_make_param_array(accuracy_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(accuracy_case *c, cpu_compare, losing_accuracy_fails_whatever_the_times,
                  IN_A_FRESH_DIR) {
    fake_row base[] = {{"fused", 16, 40.0, 1.0, 30, NULL, NULL}};
    fake_row cur[] = {{"fused", 16, 30.0, 1.0, 30, c->pass_error, c->status}};
    write_run("base", H200, base, 1);
    write_run("cur", H200, cur, 1);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "fused", 16, "ACCURACY");
    const char *reason = mx_table_get(t, 0, "reason");
    if (!strcmp(c->pass_error, "false"))
        cr_expect(strstr(reason, "pass_error true -> false: rel_err_vs_fp16 1.5e-06 -> 3.1e-02"),
                  "%s", reason);
    if (!strcmp(c->status, "fail")) cr_expect(strstr(reason, "status ok -> fail"), "%s", reason);
    cr_expect_str_eq(mx_table_get(t, 0, "change_pct"), "-25.00", "the times are still reported");
    mx_table_free(t);
    char dat[4096];
    mx_test_read_text(mx_test_path("cur/compare.dat"), dat, sizeof dat);
    cr_expect(strstr(dat, "\tFASTER\tgemm fused"), "the plot shows the time's verdict: %s", dat);
}

Test(cpu_compare, different_gpu_models_are_refused_naming_both, IN_A_FRESH_DIR) {
    write_scaled_run("base", H100, 1.0);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "'" H100 "'") && strstr(r.err, "'" H200 "'"), "%s", r.err);
    cr_expect_neq(access(mx_test_path("cur/compare.csv"), F_OK), 0, "nothing is written");
}

Test(cpu_compare, missing_baseline_is_refused_with_how_to_make_one, IN_A_FRESH_DIR) {
    cr_assert_eq(mkdir(mx_test_path("baselines"), 0777), 0);
    write_scaled_run("baselines/nvidia-h100-80gb-hbm3", H100, 1.0);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("baselines", "cur");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "no baseline for GPU model nvidia-h200"), "%s", r.err);
    cr_expect(strstr(r.err, "mxbench baseline --update RUN_DIR"), "%s", r.err);
    cr_expect(strstr(r.err, "nvidia-h100-80gb-hbm3"), "lists the baselines there: %s", r.err);
    r = compare("nowhere", "cur");
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "nowhere"), "%s", r.err);
}

/* A good CUR run with line `line` of a file damaged: `from` in it replaced by `to` (the whole
 * line when from is empty; line 0: the file removed). The error must name the file and line. */
typedef struct {
    char file[16];
    int line;
    char from[16], to[80];
    char needle[64];
} damage_case;

ParameterizedTestParameters(cpu_compare, unusable_input_exits_2_naming_file_and_line) {
    static damage_case cases[] = {
        {"results.csv", 3, "", "cur,nightly,gemm,fused", "results.csv:3: "},
        {"results.csv", 1, ",dtype,", ",kind,", "results.csv: no column 'dtype'"},
        {"results.csv", 2, ",ok,", ",great,", "results.csv:2: status 'great'"},
        {"samples.csv", 4, "", "cur,gemm,fp16,f16,gaussian,1,4096,4096,0,0,1,1,2,fast",
         "samples.csv:4: time_us 'fast'"},
        {"samples.csv", 5, "", "cur,gemm,fp16,f16,gaussian,1,4096,4096,0,0,1,1,3,\"9",
         "samples.csv:5: "},
        {"samples.csv", 1, ",time_us", ",time", "samples.csv: no column 'time_us'"},
        {"run.json", 3, "\"complete\"", "complete", "run.json:3: malformed JSON"},
        {"run.json", 15, "NVIDIA H200", " ", "names no GPU model"},
        {"samples.csv", 0, "", "", "samples.csv: no such file"},
    };
    return cr_make_param_array(damage_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(damage_case *c, cpu_compare, unusable_input_exits_2_naming_file_and_line,
                  IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.0);
    char path[128], text[65536], damaged[65536 + 128] = "";
    snprintf(path, sizeof path, "%s/cur/%s", mx_test_work_dir, c->file);
    mx_test_read_text(path, text, sizeof text);
    int line = 1;
    for (char *p = text, *end; *p; p = end + 1, line++) {
        end = strchr(p, '\n');
        cr_assert(end, "%s: no line %d", path, c->line);
        char *at = line == c->line && c->from[0] ? strstr(p, c->from) : NULL;
        if (line != c->line) {
            strncat(damaged, p, (size_t)(end - p + 1));
        } else if (!c->from[0]) {
            strcat(strcat(damaged, c->to), "\n");
        } else {
            cr_assert(at && at < end, "line %d of %s lacks %s", line, path, c->from);
            strncat(damaged, p, (size_t)(at - p));
            strcat(damaged, c->to);
            strncat(damaged, at + strlen(c->from), (size_t)(end - at - strlen(c->from) + 1));
        }
    }
    if (c->line == 0)
        cr_assert_eq(unlink(path), 0);
    else
        mx_test_write_file(path, damaged, strlen(damaged));
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.err, c->needle), "stderr lacks '%s': %s", c->needle, r.err);
    cr_expect(strstr(r.err, path), "stderr names %s: %s", path, r.err);
}

Test(cpu_compare, duplicate_rows_and_bad_options_are_unusable, IN_A_FRESH_DIR) {
    fake_row twice[] = {{"fused", 1, 40.0, 1.0, 10, NULL, NULL},
                        {"fused", 1, 41.0, 1.0, 10, NULL, NULL}};
    write_run("base", H200, twice, 2);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "results.csv:3: the same row as line 2"), "%s", r.err);
    r = mx_test_run_cli((const char *[]){"compare", "--alpha", "0.7", mx_test_path("cur"),
                                         mx_test_path("cur"), NULL});
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "--alpha '0.7'"), "%s", r.err);
}

Test(cpu_compare, compare_csv_and_dat_hold_the_numbers, IN_A_FRESH_DIR) {
    fake_row base[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 100.0, 1.0, 30, NULL, NULL},
                       {"skinny", 1, 20.0, 1.0, 30, NULL, NULL}};
    fake_row cur[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                      {"fused", 1, 110.0, 1.0, 30, NULL, NULL},
                      {"skinny", 1, 20.0, 1.0, 5, NULL, NULL}};
    write_run("base", H200, base, 3);
    write_run("cur", H200, cur, 3);
    mx_cli_result r =
        mx_test_run_cli((const char *[]){"compare", "--out", mx_test_path("elsewhere"),
                                         mx_test_path("base"), mx_test_path("cur"), NULL});
    cr_assert_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect_neq(access(mx_test_path("cur/compare.csv"), F_OK), 0, "--out moves the files");
    mx_table *t = read_csv(mx_test_path("elsewhere/compare.csv"));
    char text[4096];
    mx_test_read_text(mx_test_path("elsewhere/compare.csv"), text, sizeof text);
    const char *header =
        "verdict,op,variant,dtype,dist,M,N,K,experts,topk,batch,seed,kv_heads,problem,"
        "base_samples,cur_samples,base_median_us,cur_median_us,change_pct,"
        "band_low_pct,band_high_pct,p_value,base_noise_pct,cur_noise_pct,"
        "base_status,cur_status,base_pass_error,cur_pass_error,reason\n";
    cr_expect(strncmp(text, header, strlen(header)) == 0, "%s", text);
    cr_assert_eq(mx_table_row_count(t), 3);
    /* worst first: SLOWER, UNSURE, SAME */
    cr_expect_str_eq(mx_table_get(t, 0, "verdict"), "SLOWER");
    cr_expect_str_eq(mx_table_get(t, 1, "verdict"), "UNSURE");
    cr_expect_str_eq(mx_table_get(t, 2, "verdict"), "SAME");
    const char *const expected[][2] = {{"op", "gemm"},
                                       {"variant", "fused"},
                                       {"dtype", "f16"},
                                       {"dist", "gaussian"},
                                       {"M", "1"},
                                       {"N", "4096"},
                                       {"K", "4096"},
                                       {"experts", "0"},
                                       {"topk", "0"},
                                       {"batch", "1"},
                                       {"seed", "1"},
                                       {"base_samples", "30"},
                                       {"cur_samples", "30"},
                                       {"base_median_us", "100.000"},
                                       {"cur_median_us", "110.000"},
                                       {"change_pct", "10.00"},
                                       {"base_status", "ok"},
                                       {"cur_pass_error", "true"},
                                       {"reason", ""}};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect_str_eq(mx_table_get(t, 0, expected[i][0]), expected[i][1], "%s", expected[i][0]);
    double low = atof(mx_table_get(t, 0, "band_low_pct")),
           high = atof(mx_table_get(t, 0, "band_high_pct"));
    cr_expect(low > -1.1 && low < -0.6 && high > 0.6 && high < 1.1, "[%g, %g]", low, high);
    cr_expect_lt(atof(mx_table_get(t, 0, "p_value")), 1e-9);
    double noise = atof(mx_table_get(t, 0, "base_noise_pct"));
    cr_expect(noise > 0.15 && noise < 0.3, "1.2533 * 1 %% / sqrt(30) = 0.23 %%, got %g", noise);
    cr_expect(strstr(mx_table_get(t, 1, "reason"), "only 5 samples in CUR"), "%s",
              mx_table_get(t, 1, "reason"));
    mx_table_free(t);

    char dat[4096];
    mx_test_read_text(mx_test_path("elsewhere/compare.dat"), dat, sizeof dat);
    cr_expect(strstr(dat, "# index\tchange_pct\tband_low_pct\tband_high_pct\tverdict\tlabel\n"),
              "%s", dat);
    cr_expect(strstr(dat, "\n0\t0.000\t-0.8"), "%s", dat);
    cr_expect(strstr(dat, "\tSAME\tgemm fp16 f16 gaussian M=1 N=4096 K=4096\n1\t10.000\t"), "%s",
              dat);
    cr_expect(strstr(dat, "\tSLOWER\tgemm fused f16 gaussian M=1 N=4096 K=4096\n2\t0.000\t"),
              "the sweep's order, not worst first: %s", dat);
    cr_expect(strstr(dat, "\tUNSURE\tgemm skinny f16 gaussian M=1 N=4096 K=4096\n"), "%s", dat);
}

/* The plot needs gnuplot and plots/compare.gp; without them compare says so and decides alike. */
static void expect_plot_or_warning(const mx_cli_result *r) {
    char png[16] = "", svg[4096] = "";
    mx_test_read_text(mx_test_path("cur/compare.png"), png, sizeof png);
    mx_test_read_text(mx_test_path("cur/compare.svg"), svg, sizeof svg);
    if (access(mx_test_path("cur/compare.png"), F_OK) != 0) {
        cr_expect(strstr(r->err, "compare.png not drawn"), "%s", r->err);
        return;
    }
    cr_expect(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "compare.png is a PNG");
    cr_expect(strstr(svg, "<svg"), "compare.svg is an SVG: %.200s", svg);
    cr_expect(strstr(r->out, "plot: "), "%s", r->out);
}

Test(cpu_compare, plot_is_drawn_or_its_absence_explained, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.2);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    expect_plot_or_warning(&r);
}

Test(cpu_compare, no_gnuplot_changes_no_verdict, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.2);
    setenv("PATH", "/nonexistent", 1); /* this test's process only (Criterion forks) */
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect_eq(access(mx_test_path("cur/compare.csv"), F_OK), 0);
    expect_plot_or_warning(&r);
}

/* suites/fixtures/compare/NAME (README.md there says what the runs are). */
static void fixture(const char *name, char *path, size_t size) {
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, size, "%.*s/fixtures/compare/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", name);
}

/* Two real nightly runs on one H200 with nothing changed: the second ran partly throttled. */
Test(cpu_compare, back_to_back_h200_runs_pass_in_either_order, IN_A_FRESH_DIR) {
    char first[512], second[512];
    fixture("h200_nightly_1", first, sizeof first);
    fixture("h200_nightly_2", second, sizeof second);
    mx_cli_result r = mx_test_run_cli(
        (const char *[]){"compare", "--out", mx_test_path("out"), first, second, NULL});
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "120 rows: 0 ACCURACY, 0 MISSING, 0 SLOWER, 12 UNSURE, 108 SAME, 0 "
                            "FASTER, 0 NEW, 0 SKIPPED"),
              "%s", r.out);
    mx_table *t = read_csv(mx_test_path("out/compare.csv"));
    int discounted = 0;
    for (size_t i = 0; i < mx_table_row_count(t); i++)
        discounted += strstr(mx_table_get(t, (int)i, "reason"), "SLOWER discounted") != NULL ||
                      strstr(mx_table_get(t, (int)i, "reason"), "SLOWER not gated") != NULL;
    cr_expect_eq(discounted, 8, "the rows the throttled clock slowed");
    mx_table_free(t);
    r = mx_test_run_cli(
        (const char *[]){"compare", "--out", mx_test_path("out"), second, first, NULL});
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "0 SLOWER"), "%s", r.out);
}

// ---- mxbench baseline

static mx_cli_result baseline(const char *run) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s", mx_test_path("baselines"));
    if (run)
        return mx_test_run_cli(
            (const char *[]){"baseline", "--update", mx_test_path(run), "--baselines", dir, NULL});
    return mx_test_run_cli((const char *[]){"baseline", "--baselines", dir, NULL});
}

static int count_entries(const char *dir) {
    DIR *folder = opendir(dir);
    int count = 0;
    for (struct dirent *entry; folder && (entry = readdir(folder));)
        count += strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..");
    if (folder) closedir(folder);
    return count;
}

Test(cpu_compare, baseline_update_then_compare_against_the_baselines, IN_A_FRESH_DIR) {
    write_scaled_run("first", H200, 1.0);
    write_scaled_run("again", H200, 1.0);
    write_scaled_run("slow", H200, 1.2);
    mx_cli_result r = baseline(NULL);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "no baselines"), "%s", r.out);

    r = baseline("first");
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "created") && strstr(r.out, "nvidia-h200"), "%s", r.out);
    const char *const files[] = {"results.csv", "samples.csv", "run.json"};
    for (int i = 0; i < 3; i++) {
        char name[64], copied[65536], original[65536];
        snprintf(name, sizeof name, "baselines/nvidia-h200/%s", files[i]);
        mx_test_read_text(mx_test_path(name), copied, sizeof copied);
        snprintf(name, sizeof name, "first/%s", files[i]);
        mx_test_read_text(mx_test_path(name), original, sizeof original);
        cr_expect(original[0] && !strcmp(copied, original), "%s is copied as it is", files[i]);
    }
    r = baseline(NULL);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "nvidia-h200") && strstr(r.out, "run first") &&
                  strstr(r.out, "commit 0123456789ab") && strstr(r.out, "5 rows"),
              "%s", r.out);

    r = compare("baselines", "again");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "baselines/nvidia-h200 (the baseline of this GPU model)"), "%s", r.out);
    r = compare("baselines/", "slow");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "2 SLOWER"), "%s", r.out);

    r = baseline("slow");
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "replaced run first") && strstr(r.out, "run slow"), "%s", r.out);
    cr_expect_eq(count_entries(mx_test_path("baselines")), 1, "no temporary folder is left");
    r = compare("baselines", "slow");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
}

Test(cpu_compare, baseline_refuses_an_incomplete_run_and_keeps_the_old, IN_A_FRESH_DIR) {
    write_scaled_run("first", H200, 1.0);
    write_scaled_run("cut", H200, 1.0);
    write_run_json(mx_test_path("cut"), H200, "interrupted");
    cr_assert_eq(baseline("first").exit_code, 0);
    mx_cli_result r = baseline("cut");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "complete"), "%s", r.err);
    char text[4096];
    mx_test_read_text(mx_test_path("baselines/nvidia-h200/run.json"), text, sizeof text);
    cr_expect(strstr(text, "\"run_id\":\t\"first\""), "%s", text);
    r = mx_test_run_cli((const char *[]){"baseline", mx_test_path("first"), NULL});
    cr_expect_eq(r.exit_code, 1, "a run without --update is a usage error: %s", r.err);
    cr_expect(strstr(r.err, "without --update"), "%s", r.err);
}
