/* Compare suite (CPU): the run-level verdict rule (gate.h) on synthetic runs (quantiles of a
 * normal distribution, so that every run of the suite sees the same numbers), GPU model names, and
 * `mxbench compare` / `mxbench baseline` end to end on run folders written here and on real A/A
 * pairs from an H200: verdicts, exit codes, compare.csv and compare.dat, the control, refusals of
 * unusable input with file and line, and baselines with a history. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "compare.h"
#include "gate.h"
#include "run_info.h"
#include "table.h"
#include "schema.h"
#include "stats.h"
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

/* count run values around value whose logs have a standard deviation of about spread_pct %: the
 * normal quantiles at (i + 0.5) / count, symmetric, so that their geometric mean is value. */
static void run_values(double value, double spread_pct, int count, double *values) {
    for (int i = 0; i < count; i++)
        values[i] = value * exp(spread_pct / 100.0 * normal_quantile((i + 0.5) / count));
}

static const mx_gate_rule nightly_rule = {
    .alpha = 0.01, .min_change_pct = 5.0, .spread_factor = MX_GATE_SPREAD_FACTOR};

typedef struct {
    double shift_pct, spread_pct;
    int base_runs, cur_runs;
    mx_verdict verdict;
    char reason[48]; /* in the verdict's reason ("" for none) */
} gate_case;

ParameterizedTestParameters(cpu_compare, gate_rule_follows_the_table) {
    static gate_case cases[] = {
        {0.0, 1.0, 3, 3, MX_VERDICT_SAME, ""},
        {10.0, 1.0, 3, 3, MX_VERDICT_SLOWER, ""},
        {-10.0, 1.0, 3, 3, MX_VERDICT_FASTER, ""},
        {10.0, 1.0, 9, 1, MX_VERDICT_SLOWER, ""}, /* a history against one new run */
        {3.0, 0.2, 3, 3, MX_VERDICT_SAME, "a real change"},
        {10.0, 8.0, 3, 3, MX_VERDICT_SAME, ""}, /* within 3 x its own spread */
        {10.0, 1.0, 1, 1, MX_VERDICT_UNSURE, "one run a side"},
        {3.0, 1.0, 1, 1, MX_VERDICT_SAME, ""},
        {8.0, 2.0, 2, 1, MX_VERDICT_UNSURE, "not significant"}, /* one degree of freedom */
        {20.0, 1.0, 1, 3, MX_VERDICT_UNSURE, "a baseline of one run"},
    };
    return cr_make_param_array(gate_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(gate_case *c, cpu_compare, gate_rule_follows_the_table) {
    double base[16], cur[16];
    run_values(100.0, c->spread_pct, c->base_runs, base);
    run_values(100.0 * (1.0 + c->shift_pct / 100.0), c->spread_pct, c->cur_runs, cur);
    mx_gate_verdict v;
    mx_gate_judge(base, c->base_runs, cur, c->cur_runs, &nightly_rule, &v);
    cr_expect_eq(v.verdict, c->verdict, "%+.0f %% with %.1f %% spread, %d + %d runs: %s (%s)",
                 c->shift_pct, c->spread_pct, c->base_runs, c->cur_runs,
                 mx_verdict_string(v.verdict), v.reason);
    cr_expect(strstr(v.reason, c->reason), "reason '%s' lacks '%s'", v.reason, c->reason);
    cr_expect_float_eq(v.change_pct, c->shift_pct, 1e-9);
    cr_expect_float_eq(v.base_value, 100.0, 1e-9);
    cr_expect_eq(v.base_runs, c->base_runs);
    if (c->base_runs + c->cur_runs < 3)
        cr_expect(isnan(v.p_value) && isnan(v.band_low_pct), "no spread, no test");
    else
        cr_expect(v.band_low_pct < 0.0 && v.band_high_pct > 0.0 && v.threshold_pct >= 5.0,
                  "band [%g, %g] around 0, counts from %g", v.band_low_pct, v.band_high_pct,
                  v.threshold_pct);
}

/* The band is the change the spread alone could give: exp(+-t(alpha, df) s sqrt(1/nb + 1/nc)) - 1,
 * with s the pooled standard deviation of the logs; checked against the formula by hand. */
Test(cpu_compare, band_and_threshold_come_from_the_run_to_run_spread) {
    const double base[] = {100.0, 102.0, 98.0}, cur[] = {101.0, 99.0, 100.0};
    double squares = 0.0, mean_b = 0.0, mean_c = 0.0;
    for (int i = 0; i < 3; i++) mean_b += log(base[i]) / 3, mean_c += log(cur[i]) / 3;
    for (int i = 0; i < 3; i++)
        squares += pow(log(base[i]) - mean_b, 2) + pow(log(cur[i]) - mean_c, 2);
    double s = sqrt(squares / 4.0), half = 4.604095 * s * sqrt(2.0 / 3.0);
    mx_gate_verdict v;
    mx_gate_judge(base, 3, cur, 3, &nightly_rule, &v);
    cr_expect_eq(v.verdict, MX_VERDICT_SAME);
    cr_expect_float_eq(v.band_high_pct, (exp(half) - 1.0) * 100.0, 1e-4);
    cr_expect_float_eq(v.band_low_pct, (exp(-half) - 1.0) * 100.0, 1e-4);
    cr_expect_float_eq(v.spread_pct, (exp(s) - 1.0) * 100.0, 1e-9);
    cr_expect_float_eq(v.threshold_pct, 5.0, 0.0, "3 s = %g %% is below the minimum", 300.0 * s);
    cr_expect_float_eq(v.p_value, mx_stats_student_t_p((mean_c - mean_b) / (s * sqrt(2.0 / 3)), 4),
                       1e-12);
    const double bad[] = {100.0, -1.0};
    mx_gate_judge(bad, 2, cur, 3, &nightly_rule, &v);
    cr_expect_eq(v.verdict, MX_VERDICT_UNSURE);
    cr_expect(strstr(v.reason, "not a positive number"), "%s", v.reason);
}

/* Power and false alarms with a realistic spread: 3 runs a side, each row's runs 1 % apart (two
 * runs of one binary on an H200 differ by 0.7 % at the median). A 10-20 % slowdown is found; no
 * change is never called SLOWER. */
Test(cpu_compare, gate_finds_ten_percent_with_realistic_spread) {
    const double shifts[] = {0.0, 5.0, 10.0, 15.0, 20.0};
    const double spreads[] = {0.3, 0.7, 1.0, 1.5};
    for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; i++)
        for (size_t j = 0; j < sizeof spreads / sizeof spreads[0]; j++) {
            double base[3], cur[3];
            run_values(100.0, spreads[j], 3, base);
            run_values(100.0 * (1.0 + shifts[i] / 100.0), spreads[j], 3, cur);
            mx_gate_verdict v;
            mx_gate_judge(base, 3, cur, 3, &nightly_rule, &v);
            if (shifts[i] >= 10.0)
                cr_expect_eq(v.verdict, MX_VERDICT_SLOWER, "+%g %% at %g %% spread: %s (%s)",
                             shifts[i], spreads[j], mx_verdict_string(v.verdict), v.reason);
            if (shifts[i] == 0.0)
                cr_expect_eq(v.verdict, MX_VERDICT_SAME, "no change at %g %% spread: %s",
                             spreads[j], mx_verdict_string(v.verdict));
        }
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

/* A run's rows with the times of the fused and skinny rows scaled by factor, and every row's by
 * run_factor (what differs from one run to the next). */
static void write_shifted_run(const char *name, const char *gpu, double factor, double run_factor) {
    fake_row rows[] = {
        {"fp16", 1, 50.0 * run_factor, 1.0, 30, NULL, NULL},
        {"fused", 1, 40.0 * factor * run_factor, 1.0, 30, NULL, NULL},
        {"skinny", 1, 20.0 * factor * run_factor, 1.0, 30, NULL, NULL},
        {"fp16", 4096, 900.0 * run_factor, 0.5, 20, NULL, NULL},
        {"fused", 4096, 1000.0 * run_factor, 0.5, 20, NULL, NULL},
    };
    write_run(name, gpu, rows, 5);
}

static void write_scaled_run(const char *name, const char *gpu, double factor) {
    write_shifted_run(name, gpu, factor, 1.0);
}

/* A job of count runs DIR/DIR-1, DIR/DIR-2... (a folder of runs, as compare and baseline take
 * them): write_scaled_run's rows, run i's times multiplied by exp(spread z_i) with the normal
 * quantiles z_i, so that the runs are spread_pct apart and their geometric mean is the row's. */
static void write_job(const char *dir, int count, const char *gpu, double factor,
                      double spread_pct) {
    cr_assert_eq(mkdir(mx_test_path(dir), 0777), 0, "mkdir %s", dir);
    double offsets[16];
    run_values(1.0, spread_pct, count, offsets);
    for (int i = 0; i < count; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s/%s-%d", dir, dir, i + 1);
        write_shifted_run(name, gpu, factor, offsets[i]);
    }
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
    cr_expect(strstr(r.out, "a baseline of one run: how far a row moves"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    cr_assert_eq(mx_table_row_count(t), 5);
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(mx_table_get(t, i, "verdict"), "SAME");
        cr_expect_str_eq(mx_table_get(t, i, "change_pct"), "0.00");
        cr_expect_str_eq(mx_table_get(t, i, "base_runs"), "1");
        cr_expect_str_eq(mx_table_get(t, i, "p_value"), "", "no test without a spread");
    }
    mx_table_free(t);
}

typedef struct {
    double factor, spread_pct;
    char verdict[16];
    int exit_code;
    int position; /* in compare.csv, worst first: SLOWER, UNSURE, SAME, FASTER */
} shift_case;

ParameterizedTestParameters(cpu_compare, shifted_rows_get_their_verdict_and_exit_code) {
    static shift_case cases[] = {
        {1.10, 1.0, "SLOWER", 1, 0},
        {1 / 1.10, 1.0, "FASTER", 0, 3},
        {1.10, 8.0, "SAME", 0, 0},
    };
    return cr_make_param_array(shift_case, cases, sizeof cases / sizeof cases[0]);
}

/* Three runs a side (folders of runs), the fused and skinny rows of M=1 shifted. */
ParameterizedTest(shift_case *c, cpu_compare, shifted_rows_get_their_verdict_and_exit_code,
                  IN_A_FRESH_DIR) {
    write_job("base", 3, H200, 1.0, c->spread_pct);
    write_job("cur", 3, H200, c->factor, c->spread_pct);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, c->exit_code, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.out, "BASE ") && strstr(r.out, ": 3 runs"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "fused", 1, c->verdict);
    expect_verdict(t, "skinny", 1, c->verdict);
    expect_verdict(t, "fp16", 1, "SAME");
    cr_expect_str_eq(mx_table_get(t, c->position, "verdict"), c->verdict, "worst first");
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "fused", 1), "cur_runs"), "3");
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
    char dat[4096];
    mx_test_read_text(mx_test_path("cur/compare.dat"), dat, sizeof dat);
    cr_expect(strstr(dat, "\nNaN\tNaN\tNaN\tMISSING\tgemm skinny") ||
                  strstr(dat, "\tNaN\tNaN\tNaN\tMISSING\tgemm skinny"),
              "MISSING rows are drawn (marked at the top): %s", dat);
}

/* A run that timed a row at a lowered SM clock says nothing about the code: that run's value is
 * left out, and a row no CUR run timed at full clock is UNSURE. */
Test(cpu_compare, runs_timed_throttled_are_left_out, IN_A_FRESH_DIR) {
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.0, 1.0);
    const char *runs[] = {"cur/cur-1", "cur/cur-2", "cur/cur-3"};
    for (int i = 0; i < 3; i++) {
        set_result(runs[i], 2, "throttled", "true"); /* skinny M=1 in every run */
        set_result(runs[i], 2, "sm_clock_mhz", "1530");
    }
    /* fused M=1 1.3x slower, but only in a throttled run */
    write_shifted_run("slow", H200, 1.3, 1.0);
    set_result("slow", 1, "throttled", "true");
    set_result("slow", 2, "throttled", "true");
    mx_cli_result r = mx_test_run_cli((const char *[]){
        "compare", mx_test_path("base"), mx_test_path("cur"), mx_test_path("slow"), NULL});
    cr_expect_eq(r.exit_code, 0, "a lowered clock is not a regression: %s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    expect_verdict(t, "fused", 1, "SAME");
    expect_verdict(t, "skinny", 1, "UNSURE");
    const char *fused = mx_table_get(t, find_compared(t, "fused", 1), "reason");
    cr_expect(strstr(fused, "1 run timed it throttled (left out)"), "%s", fused);
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "fused", 1), "cur_runs"), "3");
    const char *skinny = mx_table_get(t, find_compared(t, "skinny", 1), "reason");
    cr_expect(strstr(skinny, "no run of CUR measured it") && strstr(skinny, "4 runs timed it"),
              "%s", skinny);
    mx_table_free(t);
}

/* Rows that time cuBLAS alone (fp16, persistent) are the control. Case 1: only the skinny kernel
 * got 10 % slower: a regression. Case 2: everything got 10 % slower (another board, clocks): the
 * control moved, skinny is judged relative to its FP16 row and is the SAME; the control rows are
 * reported, never gated. */
static void write_control_job(const char *dir, double control_factor, double skinny_factor) {
    cr_assert_eq(mkdir(mx_test_path(dir), 0777), 0);
    double offsets[3];
    run_values(1.0, 1.0, 3, offsets);
    for (int i = 0; i < 3; i++) {
        fake_row rows[] = {
            {"fp16", 1, 50.0 * control_factor * offsets[i], 1.0, 30, NULL, NULL},
            {"persistent", 1, 50.0 * control_factor * offsets[i], 1.0, 30, NULL, NULL},
            {"skinny", 1, 20.0 * skinny_factor * offsets[i], 1.0, 30, NULL, NULL}};
        char name[64];
        snprintf(name, sizeof name, "%s/%s-%d", dir, dir, i + 1);
        write_run(name, H200, rows, 3);
    }
}

Test(cpu_compare, cublas_only_rows_are_the_control_not_the_gate, IN_A_FRESH_DIR) {
    write_control_job("base", 1.0, 1.0);
    write_control_job("kernel", 1.0, 1.1);
    write_control_job("board", 1.1, 1.1);
    mx_cli_result r = compare("base", "kernel");
    cr_expect_eq(r.exit_code, 1, "the skinny row regressed: %s%s", r.out, r.err);
    cr_expect(strstr(r.out, "times are judged as measured"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("kernel/compare.csv"));
    expect_verdict(t, "skinny", 1, "SLOWER");
    expect_verdict(t, "fp16", 1, "SAME");
    mx_table_free(t);

    r = compare("base", "board");
    cr_expect_eq(r.exit_code, 0, "the board, not the code: %s%s", r.out, r.err);
    cr_expect(strstr(r.out, "control: the 2 cuBLAS-only rows moved by a median +10.0 %") &&
                  strstr(r.out, "judged relative to their FP16 row"),
              "%s", r.out);
    t = read_csv(mx_test_path("board/compare.csv"));
    expect_verdict(t, "skinny", 1, "SAME");
    cr_expect(strstr(mx_table_get(t, find_compared(t, "skinny", 1), "reason"),
                     "relative to its FP16 row"),
              "%s", mx_table_get(t, find_compared(t, "skinny", 1), "reason"));
    const char *controls[] = {"fp16", "persistent"};
    for (int i = 0; i < 2; i++) {
        int row = find_compared(t, controls[i], 1);
        expect_verdict(t, controls[i], 1, "UNSURE");
        cr_expect(strstr(mx_table_get(t, row, "reason"), "SLOWER not gated"), "%s",
                  mx_table_get(t, row, "reason"));
        cr_expect_str_eq(mx_table_get(t, row, "change_pct"), "10.00", "reported as measured");
    }
    mx_table_free(t);
}

/* Runs timed in rounds carry each row's paired ratio to its FP16 row (overhead_pct, with an
 * interval): when the control moved, the gate judges that ratio, not the ratio of medians.
 * Here every time is 10 % up (the board), and skinny's paired ratio is 10 % up as well: SLOWER,
 * although its median time moved exactly like its FP16 row's. */
static void set_overheads(const char *job, const char *overhead) {
    for (int i = 1; i <= 3; i++) {
        char name[64], path[256], error[512];
        snprintf(name, sizeof name, "%s/%s-%d", job, job, i);
        set_result(name, 2, "overhead_pct", overhead);
        snprintf(path, sizeof path, "%s/%s/run.json", mx_test_work_dir, name);
        mx_run_info info;
        cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
        snprintf(info.timing, sizeof info.timing, "%s", MX_TIMING_ROUNDS);
        cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
    }
}

Test(cpu_compare, relative_judging_takes_the_paired_ratio_of_rounds, IN_A_FRESH_DIR) {
    write_control_job("base", 1.0, 1.0);
    write_control_job("board", 1.1, 1.1);
    set_overheads("base", "-60.00");
    set_overheads("board", "-56.00");
    mx_cli_result r = compare("base", "board");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("board/compare.csv"));
    expect_verdict(t, "skinny", 1, "SLOWER");
    mx_table_free(t);
}

/* Empties a column of a run's results.csv and samples.csv (what newer runs write where it does
 * not apply). */
static void blank_column(const char *name, const char *column) {
    const char *const files[] = {"results.csv", "samples.csv"};
    for (int f = 0; f < 2; f++) {
        char path[256], error[512];
        snprintf(path, sizeof path, "%s/%s/%s", mx_test_work_dir, name, files[f]);
        mx_table *t = read_csv(path);
        for (size_t r = 0; r < mx_table_row_count(t); r++)
            mx_table_set(t, (int)r, column, "%s", "");
        cr_assert(mx_table_save(t, path, error, sizeof error), "%s", error);
        mx_table_free(t);
    }
}

/* Runs before the problem column wrote 0 for experts and topk outside MoE rows, newer ones leave
 * them empty: the same rows. */
Test(cpu_compare, empty_and_zero_not_applicable_cells_match, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.0);
    blank_column("cur", "experts");
    blank_column("cur", "topk");
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "5 SAME") && strstr(r.out, "0 MISSING") && strstr(r.out, "0 NEW"), "%s",
              r.out);
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
    cr_expect(strstr(dat, "\tUNSURE\tgemm fused"),
              "the plot shows the time's verdict (one run a side): %s", dat);
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
    char from[16], to[160];
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
        {"run.json", 16, "NVIDIA H200", " ", "names no GPU model"},
        {"samples.csv", 0, "", "", "samples.csv: no such file"},
        /* a sample row twice: 31 samples where results.csv says 30 */
        {"samples.csv", 2, "",
         "cur,gemm,fp16,f16,gaussian,1,4096,4096,0,0,1,1,0,50.0\n"
         "cur,gemm,fp16,f16,gaussian,1,4096,4096,0,0,1,1,0,50.0",
         "the row has 31 samples"},
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
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.1, 1.0);
    for (int i = 1; i <= 3; i++) { /* skinny M=1 throttled in every CUR run: UNSURE */
        char name[32];
        snprintf(name, sizeof name, "cur/cur-%d", i);
        set_result(name, 2, "throttled", "true");
    }
    mx_cli_result r =
        mx_test_run_cli((const char *[]){"compare", "--out", mx_test_path("elsewhere"),
                                         mx_test_path("base"), mx_test_path("cur"), NULL});
    cr_assert_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect_neq(access(mx_test_path("cur/compare.csv"), F_OK), 0, "--out moves the files");
    mx_table *t = read_csv(mx_test_path("elsewhere/compare.csv"));
    char text[4096];
    mx_test_read_text(mx_test_path("elsewhere/compare.csv"), text, sizeof text);
    const char *header = "verdict,op,variant,dtype,dist,M,N,K,experts,topk,batch,seed,kv_heads,"
                         "problem,base_runs,cur_runs,base_median_us,cur_median_us,change_pct,"
                         "band_low_pct,band_high_pct,p_value,spread_pct,threshold_pct,"
                         "base_status,cur_status,base_pass_error,cur_pass_error,reason,"
                         "first_verdict\n";
    cr_expect(strncmp(text, header, strlen(header)) == 0, "%s", text);
    cr_assert_eq(mx_table_row_count(t), 5);
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
                                       {"base_runs", "3"},
                                       {"cur_runs", "3"},
                                       {"base_median_us", "40.000"},
                                       {"cur_median_us", "44.000"},
                                       {"change_pct", "10.00"},
                                       {"threshold_pct", "5.00"},
                                       {"base_status", "ok"},
                                       {"cur_pass_error", "true"},
                                       {"reason", ""}};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect_str_eq(mx_table_get(t, 0, expected[i][0]), expected[i][1], "%s", expected[i][0]);
    /* runs 1 % apart (z = -0.967, 0, 0.967: s = 0.967 %); the band is +-t(0.01, 4) s sqrt(2/3) */
    double low = atof(mx_table_get(t, 0, "band_low_pct")),
           high = atof(mx_table_get(t, 0, "band_high_pct"));
    cr_expect(low > -3.9 && low < -3.3 && high > 3.3 && high < 3.9, "[%g, %g]", low, high);
    cr_expect_lt(atof(mx_table_get(t, 0, "p_value")), 1e-3); /* t = 12.1 at df 4 */
    double spread = atof(mx_table_get(t, 0, "spread_pct"));
    cr_expect(spread > 0.9 && spread < 1.05, "%g", spread);
    cr_expect(strstr(mx_table_get(t, 1, "reason"), "no run of CUR measured it"), "%s",
              mx_table_get(t, 1, "reason"));
    mx_table_free(t);

    char dat[4096];
    mx_test_read_text(mx_test_path("elsewhere/compare.dat"), dat, sizeof dat);
    cr_expect(strstr(dat, "# index\tchange_pct\tband_low_pct\tband_high_pct\tverdict\tlabel\n"),
              "%s", dat);
    /* worst first, as the table: the SLOWER row, then the SAME ones */
    cr_expect(strstr(dat, "\n0\t10.000\t-3."), "%s", dat);
    cr_expect(strstr(dat, "\tSLOWER\tgemm fused f16 gaussian M=1 N=4096 K=4096\n1\t0.000\t"),
              "worst first: %s", dat);
    cr_expect_not(strstr(dat, "gemm skinny"), "no change to draw without a CUR value: %s", dat);
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
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.2, 1.0);
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    expect_plot_or_warning(&r);
}

Test(cpu_compare, no_gnuplot_changes_no_verdict, IN_A_FRESH_DIR) {
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.2, 1.0);
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

/* Real A/A pairs of one binary on one H200 (fixtures/compare/README.md): a nightly pair whose
 * second run was partly throttled, and the MoE pair whose dequant_cublas M=1 row moved 8.5 %,
 * which the samples-based gate called SLOWER. Both pass in either order. */
typedef struct {
    char first[32], second[32];
} aa_case;

ParameterizedTestParameters(cpu_compare, real_aa_pairs_pass_in_either_order) {
    static aa_case cases[] = {{"h200_nightly_1", "h200_nightly_2"},
                              {"h200_nightly_2", "h200_nightly_1"},
                              {"aa_h200_moe_1", "aa_h200_moe_2"},
                              {"aa_h200_moe_2", "aa_h200_moe_1"}};
    return cr_make_param_array(aa_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(aa_case *c, cpu_compare, real_aa_pairs_pass_in_either_order, IN_A_FRESH_DIR) {
    char first[512], second[512];
    fixture(c->first, first, sizeof first);
    fixture(c->second, second, sizeof second);
    mx_cli_result r = mx_test_run_cli(
        (const char *[]){"compare", "--out", mx_test_path("out"), first, second, NULL});
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "0 ACCURACY, 0 MISSING, 0 SLOWER"), "%s", r.out);
}

/* The MoE A/A pair as BASE's history, against a copy of its first run made 10 % slower in one
 * MXFP4 row: with two runs the gate knows each row's spread, and finds the slowdown where the
 * row is steady (fused M=16), but not in the row that moves 8.5 % on its own. */
static void copy_scaled(const char *from, const char *to, const char *variant, const char *m,
                        double factor) {
    cr_assert_eq(mkdir(mx_test_path(to), 0777), 0);
    const char *const files[] = {"results.csv", "samples.csv"};
    for (int f = 0; f < 2; f++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", from, files[f]);
        mx_table *t = read_csv(path);
        for (size_t r = 0; r < mx_table_row_count(t); r++) {
            if (strcmp(mx_table_get(t, (int)r, "variant"), variant) ||
                strcmp(mx_table_get(t, (int)r, "M"), m))
                continue;
            double us = atof(mx_table_get(t, (int)r, "time_us"));
            mx_table_set(t, (int)r, "time_us", "%.4f", us * factor);
        }
        snprintf(path, sizeof path, "%s/%s", mx_test_path(to), files[f]);
        save_table(t, path);
        mx_table_free(t);
    }
    char json[4096], path[1100];
    snprintf(path, sizeof path, "%s/run.json", from);
    mx_test_read_text(path, json, sizeof json);
    snprintf(path, sizeof path, "%s/run.json", mx_test_path(to));
    mx_test_write_file(path, json, strlen(json));
}

Test(cpu_compare, a_history_finds_ten_percent_in_a_steady_row, IN_A_FRESH_DIR) {
    char first[512], second[512];
    fixture("aa_h200_moe_1", first, sizeof first);
    fixture("aa_h200_moe_2", second, sizeof second);
    cr_assert_eq(mkdir(mx_test_path("history"), 0777), 0);
    copy_scaled(first, "history/a", "fused", "16", 1.0);
    copy_scaled(second, "history/b", "fused", "16", 1.0);
    copy_scaled(first, "steady", "fused", "16", 1.10);
    mx_cli_result r = compare("history", "steady");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("steady/compare.csv"));
    expect_verdict(t, "fused", 16, "SLOWER");
    mx_table_free(t);
    copy_scaled(first, "wobbly", "dequant_cublas", "1", 1.10);
    r = compare("history", "wobbly");
    cr_expect_eq(r.exit_code, 0, "the row moves 8.5 %% between runs of one binary: %s%s", r.out,
                 r.err);
}

// ---- mxbench baseline

static mx_cli_result baseline_update(const char *const *runs, int count, bool force) {
    static char paths[8][128];
    const char *argv[16] = {"baseline", "--update"};
    int n = 2;
    if (force) argv[n++] = "--force";
    for (int i = 0; i < count; i++) {
        snprintf(paths[i], sizeof paths[i], "%s", mx_test_path(runs[i]));
        argv[n++] = paths[i];
    }
    static char dir[128];
    snprintf(dir, sizeof dir, "%s", mx_test_path("baselines"));
    argv[n++] = "--baselines";
    argv[n++] = dir;
    argv[n] = NULL;
    return mx_test_run_cli(argv);
}

static mx_cli_result baseline(const char *run) {
    if (run) return baseline_update(&run, 1, false);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", mx_test_path("baselines"));
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
    write_job("first", 3, H200, 1.0, 1.0);
    write_job("again", 3, H200, 1.0, 1.0);
    write_job("slow", 3, H200, 1.2, 1.0);
    mx_cli_result r = baseline(NULL);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "no baselines"), "%s", r.out);

    const char *first[] = {"first/first-1", "first/first-2", "first/first-3"};
    r = baseline_update(first, 3, false);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "nvidia-h200") && strstr(r.out, ": 3 runs") &&
                  strstr(r.out, "added run first-1"),
              "%s", r.out);
    const char *const files[] = {"results.csv", "samples.csv", "run.json"};
    for (int i = 0; i < 3; i++) {
        char name[64], copied[65536], original[65536];
        snprintf(name, sizeof name, "baselines/nvidia-h200/first-2/%s", files[i]);
        mx_test_read_text(mx_test_path(name), copied, sizeof copied);
        snprintf(name, sizeof name, "first/first-2/%s", files[i]);
        mx_test_read_text(mx_test_path(name), original, sizeof original);
        cr_expect(original[0] && !strcmp(copied, original), "%s is copied as it is", files[i]);
    }
    r = baseline(NULL);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "nvidia-h200") && strstr(r.out, "3 runs") &&
                  strstr(r.out, "run first-3") && strstr(r.out, "commit 0123456789ab") &&
                  strstr(r.out, "5 rows"),
              "%s", r.out);

    r = compare("baselines", "again");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "baselines/nvidia-h200 (the baseline of this GPU model): 3 runs"), "%s",
              r.out);
    r = compare("baselines/", "slow");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "2 SLOWER"), "%s", r.out);

    /* Appending keeps the newest 9: 3 + 3 + 3 + 3 runs leave the first 3 out. */
    const char *more[][3] = {{"again/again-1", "again/again-2", "again/again-3"},
                             {"slow/slow-1", "slow/slow-2", "slow/slow-3"}};
    cr_assert_eq(baseline_update(more[0], 3, false).exit_code, 0);
    cr_assert_eq(baseline_update(more[1], 3, false).exit_code, 0);
    write_job("third", 3, H200, 1.0, 1.0);
    const char *third[] = {"third/third-1", "third/third-2", "third/third-3"};
    r = baseline_update(third, 3, false);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, ": 9 runs") && strstr(r.out, "dropped first-1"), "%s", r.out);
    cr_expect_eq(count_entries(mx_test_path("baselines")), 1, "no temporary folder is left");
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 9);
}

/* A full disk (writes cut at 2 KiB, 256 bytes): baseline --update fails with exit 1 naming what it
 * could not write and keeps the history as it was, no temporary folder left; compare fails with
 * exit 1 instead of giving a verdict, and leaves no temporary file. */
Test(cpu_compare, a_full_disk_keeps_the_baseline_and_fails_cleanly, IN_A_FRESH_DIR) {
    write_job("first", 3, H200, 1.0, 1.0);
    write_job("again", 3, H200, 1.0, 1.0);
    const char *first[] = {"first/first-1", "first/first-2", "first/first-3"};
    cr_assert_eq(baseline_update(first, 3, false).exit_code, 0);
    char dir[128], again[128], cur[128];
    snprintf(dir, sizeof dir, "%s", mx_test_path("baselines"));
    snprintf(again, sizeof again, "%s", mx_test_path("again/again-1"));
    mx_cli_result r = mx_test_run_cli_disk_full(
        (const char *[]){"baseline", "--update", again, "--baselines", dir, NULL}, 2048);
    cr_expect_eq(r.exit_code, MX_EXIT_FAILED, "out: %s\nerr: %s", r.out, r.err);
    cr_expect(strstr(r.err, "again-1"), "the message names what was not written: %s", r.err);
    cr_expect_eq(count_entries(mx_test_path("baselines")), 1, "no temporary folder is left");
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 3,
                 "the history is as it was");
    r = baseline(NULL);
    cr_expect(strstr(r.out, "3 runs") && strstr(r.out, "run first-3"), "%s", r.out);

    snprintf(cur, sizeof cur, "%s", mx_test_path("again"));
    r = mx_test_run_cli_disk_full((const char *[]){"compare", dir, cur, NULL}, 256);
    cr_expect_eq(r.exit_code, MX_EXIT_FAILED, "out: %s\nerr: %s", r.out, r.err);
    cr_expect(strstr(r.err, "compare"), "%s", r.err);
    DIR *folder = opendir(cur);
    cr_assert_not_null(folder);
    for (struct dirent *entry; (entry = readdir(folder));)
        cr_expect_null(strstr(entry->d_name, ".tmp"), "temporary %s left", entry->d_name);
    closedir(folder);
}

/* A baseline from before histories (the three files in baselines/<model>/) is a history of one
 * run: compare reads it, and --update turns it into a history. */
Test(cpu_compare, a_single_run_baseline_becomes_a_history, IN_A_FRESH_DIR) {
    cr_assert_eq(mkdir(mx_test_path("baselines"), 0777), 0);
    write_scaled_run("baselines/nvidia-h200", H200, 1.0);
    write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = compare("baselines", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "(the baseline of this GPU model): 1 run"), "%s", r.out);
    r = baseline("cur");
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "added run cur") && strstr(r.out, "kept  run nvidia-h200"), "%s",
              r.out);
    cr_expect_eq(access(mx_test_path("baselines/nvidia-h200/nvidia-h200/run.json"), F_OK), 0);
    cr_expect_eq(access(mx_test_path("baselines/nvidia-h200/cur/results.csv"), F_OK), 0);
}

Test(cpu_compare, baseline_refuses_what_would_weaken_it_and_keeps_the_old, IN_A_FRESH_DIR) {
    write_scaled_run("first", H200, 1.0);
    cr_assert_eq(baseline("first").exit_code, 0);
    char text[4096];

    write_scaled_run("cut", H200, 1.0);
    write_run_json(mx_test_path("cut"), H200, "interrupted");
    mx_cli_result r = baseline("cut");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "complete"), "%s", r.err);

    /* samples.csv with its header only: every row would be UNSURE forever */
    write_scaled_run("hollow", H200, 1.0);
    mx_test_read_text(mx_test_path("hollow/samples.csv"), text, sizeof text);
    *strchr(text, '\n') = '\0';
    strcat(text, "\n");
    mx_test_write_file(mx_test_path("hollow/samples.csv"), text, strlen(text));
    r = baseline("hollow");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "the row has 0 samples"), "%s", r.err);

    /* one row measured where the baseline has five */
    fake_row lone[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 0.0, 0.0, 0, NULL, "skipped"},
                       {"skinny", 1, 0.0, 0.0, 0, NULL, "skipped"}};
    write_run("lone", H200, lone, 3);
    r = baseline("lone");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "1 measured rows, the baseline's newest run 5"), "%s", r.err);

    /* another sweep */
    write_scaled_run("smoke", H200, 1.0);
    mx_run_info info;
    char error[512], path[256];
    snprintf(path, sizeof path, "%s/run.json", mx_test_path("smoke"));
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.suite, sizeof info.suite, "smoke");
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
    r = baseline("smoke");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "a 'smoke' run, but the baseline holds 'nightly' runs"), "%s", r.err);

    mx_test_read_text(mx_test_path("baselines/nvidia-h200/first/run.json"), text, sizeof text);
    cr_expect(strstr(text, "\"run_id\":\t\"first\""), "the baseline is untouched: %s", text);
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 1);

    const char *forced[] = {"smoke"};
    r = baseline_update(forced, 1, true);
    cr_expect_eq(r.exit_code, 0, "--force: %s%s", r.out, r.err);
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 1, "replaced, not added");
    cr_expect_eq(access(mx_test_path("baselines/nvidia-h200/smoke/run.json"), F_OK), 0);

    r = mx_test_run_cli((const char *[]){"baseline", mx_test_path("first"), NULL});
    cr_expect_eq(r.exit_code, 2, "a run without --update is a usage error: %s", r.err);
    cr_expect(strstr(r.err, "without --update"), "%s", r.err);
}

/* A run made with run --inject-slowdown (test only) is never mistaken for a measurement. */
Test(cpu_compare, an_injected_slowdown_is_announced, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.1);
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", mx_test_path("cur"));
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.injected, sizeof info.injected, "fused +10 %%");
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
    mx_cli_result r = compare("base", "cur");
    cr_expect(strstr(r.out, "WARNING: measured with an injected slowdown (run --inject-slowdown, "
                            "test only): fused +10 %"),
              "%s", r.out);
    const char *cur[] = {"cur"};
    r = baseline_update(cur, 1, true);
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT, "%s", r.err);
    cr_expect(strstr(r.err, "is never a baseline"), "even forced: %s", r.err);
}

/* make nightly's confirmation: compare --first takes the first comparison's compare.csv and
 * puts each row's verdict there beside its own, saying how many SLOWER held. */
Test(cpu_compare, first_verdicts_beside_the_confirmed_ones, IN_A_FRESH_DIR) {
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.2, 1.0);
    char base[128], cur[128], first_out[128], confirmed_out[128], first_csv[160];
    snprintf(base, sizeof base, "%s", mx_test_path("base"));
    snprintf(cur, sizeof cur, "%s", mx_test_path("cur"));
    snprintf(first_out, sizeof first_out, "%s", mx_test_path("first"));
    snprintf(confirmed_out, sizeof confirmed_out, "%s", mx_test_path("confirmed"));
    snprintf(first_csv, sizeof first_csv, "%s/compare.csv", first_out);
    mx_cli_result r =
        mx_test_run_cli((const char *[]){"compare", "--out", first_out, base, cur, NULL});
    cr_assert_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    r = mx_test_run_cli(
        (const char *[]){"compare", "--out", confirmed_out, "--first", first_csv, base, cur, NULL});
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "confirmation: 2 of the 2 rows the first comparison called SLOWER"),
              "%s", r.out);
    mx_table *t = read_csv(mx_test_path("confirmed/compare.csv"));
    int slower = 0;
    for (int row = 0; row < (int)mx_table_row_count(t); row++) {
        slower += !strcmp(mx_table_get(t, row, "first_verdict"), "SLOWER");
        cr_expect(mx_table_get(t, row, "first_verdict")[0], "every row has its first verdict");
    }
    cr_expect_eq(slower, 2);
    mx_table_free(t);
    r = mx_test_run_cli(
        (const char *[]){"compare", "--first", mx_test_path("nope.csv"), base, cur, NULL});
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT, "%s", r.err);
    cr_expect(strstr(r.err, "nope.csv"), "%s", r.err);
}

/* Whether two runs agree within their 95 % intervals (docs/design.md §4's run-to-run check):
 * |a - b| <= sqrt(h_a^2 + h_b^2). Row 1: -20 +-1 and -19.5 +-1 agree; row 2: -20 +-1 and -9 +-1
 * do not. */
Test(cpu_compare, interval_agreement_between_runs, IN_A_FRESH_DIR) {
    write_scaled_run("base", H200, 1.0);
    write_scaled_run("cur", H200, 1.0);
    const char *values[2][2][3] = {{{"-20.00", "-21.00", "-19.00"}, {"-20.00", "-21.00", "-19.00"}},
                                   {{"-19.50", "-20.50", "-18.50"}, {"-9.00", "-10.00", "-8.00"}}};
    const char *runs[2] = {"base", "cur"};
    for (int side = 0; side < 2; side++)
        for (int row = 0; row < 2; row++) {
            set_result(runs[side], row + 1, "overhead_pct", values[side][row][0]);
            set_result(runs[side], row + 1, "overhead_pct_lo", values[side][row][1]);
            set_result(runs[side], row + 1, "overhead_pct_hi", values[side][row][2]);
        }
    mx_cli_result r = compare("base", "cur");
    cr_expect(strstr(r.out, "the figures agree within their 95 % intervals for 1 of 2 overheads "
                            "(50 %) and 0 of 0 times"),
              "%s", r.out);
    write_scaled_run("old", H200, 1.0); /* runs without intervals: no such line */
    r = compare("old", "old");
    cr_expect_null(strstr(r.out, "intervals ("), "%s", r.out);
}

// ---- mxbench merge

/* Marks run name as shard text ("1/2") of its sweep, as run --shard writes it. */
static void set_shard(const char *name, const char *shard) {
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/%s/run.json", mx_test_work_dir, name);
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.shard, sizeof info.shard, "%s", shard);
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
}

static mx_cli_result merge(const char *out, const char *const *runs, int count) {
    static char paths[9][256];
    const char *argv[12] = {"merge"};
    snprintf(paths[0], sizeof paths[0], "%s", mx_test_path(out));
    argv[1] = paths[0];
    for (int i = 0; i < count; i++) {
        snprintf(paths[i + 1], sizeof paths[i + 1], "%s", mx_test_path(runs[i]));
        argv[2 + i] = paths[i + 1];
    }
    argv[2 + count] = NULL;
    return mx_test_run_cli(argv);
}

/* Two shards of one sweep, in either order, merge into the rows of the whole: compare with an
 * unsharded run finds every row, none MISSING or NEW. */
Test(cpu_compare, merged_shards_are_the_whole_run, IN_A_FRESH_DIR) {
    fake_row whole[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL},
                        {"fp16", 4096, 900.0, 0.5, 20, NULL, NULL},
                        {"fused", 4096, 1000.0, 0.5, 20, NULL, NULL}};
    write_run("whole", H200, whole, 4);
    write_run("s1", H200, whole, 2);
    write_run("s2", H200, whole + 2, 2);
    set_shard("s1", "1/2");
    set_shard("s2", "2/2");
    mx_cli_result r = merge("merged", (const char *[]){"s2", "s1"}, 2);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "merged 2 shards") && strstr(r.out, "4 rows, 100 samples"), "%s",
              r.out);
    mx_run_info info;
    char error[512];
    cr_assert(mx_run_info_read(mx_test_path("merged/run.json"), &info, error, sizeof error), "%s",
              error);
    cr_expect_str_eq(info.shard, "merged 2");
    cr_expect_str_eq(info.run_id, "merged");
    r = compare("whole", "merged");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "4 SAME") && strstr(r.out, "0 MISSING") && strstr(r.out, "0 NEW"), "%s",
              r.out);
    r = merge("merged", (const char *[]){"s1", "s2"}, 2);
    cr_expect_eq(r.exit_code, 2, "nothing is overwritten: %s", r.err);
    cr_expect(strstr(r.err, "already holds results"), "%s", r.err);
}

/* A full disk: merge fails with exit 1 and leaves no half-written OUT, so that the same merge
 * succeeds once there is room. */
Test(cpu_compare, merge_on_a_full_disk_leaves_nothing_behind, IN_A_FRESH_DIR) {
    fake_row whole[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    write_run("s1", H200, whole, 1);
    write_run("s2", H200, whole + 1, 1);
    set_shard("s1", "1/2");
    set_shard("s2", "2/2");
    char out[128], s1[128], s2[128];
    snprintf(out, sizeof out, "%s", mx_test_path("merged"));
    snprintf(s1, sizeof s1, "%s", mx_test_path("s1"));
    snprintf(s2, sizeof s2, "%s", mx_test_path("s2"));
    mx_cli_result r = mx_test_run_cli_disk_full((const char *[]){"merge", out, s1, s2, NULL}, 1024);
    cr_expect_eq(r.exit_code, MX_EXIT_FAILED, "out: %s\nerr: %s", r.out, r.err);
    cr_expect_neq(access(out, F_OK), 0, "a half-written %s is left", out);
    r = merge("merged", (const char *[]){"s1", "s2"}, 2);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
}

Test(cpu_compare, merge_refuses_shards_that_do_not_belong_together, IN_A_FRESH_DIR) {
    fake_row rows[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    write_run("a", H200, rows, 1);
    write_run("b", H200, rows + 1, 1);
    write_run("c", H100, rows + 1, 1);
    write_run("d", H200, rows, 1);
    write_run("plain", H200, rows, 2);
    set_shard("a", "1/3");
    set_shard("b", "2/3");
    set_shard("c", "3/3");
    set_shard("d", "2/3");
    const struct {
        const char *runs[3];
        int count;
        const char *needle;
    } cases[] = {
        {{"a", "b"}, 2, "shard 3/3 missing"},
        {{"a", "b", "d"}, 3, "are both shard 2/3"},
        {{"a", "b", "c"}, 3, "differ in their GPU model"},
        {{"a", "plain"}, 2, "not a shard"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_cli_result r = merge("out", cases[i].runs, cases[i].count);
        cr_expect_eq(r.exit_code, 2, "case %zu: %s", i, r.err);
        cr_expect(strstr(r.err, cases[i].needle), "case %zu lacks '%s': %s", i, cases[i].needle,
                  r.err);
        cr_expect_neq(access(mx_test_path("out"), F_OK), 0, "nothing written");
    }
    set_shard("d", "3/3"); /* a third shard holding a row of the first */
    mx_cli_result r = merge("out", (const char *[]){"a", "b", "d"}, 3);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "both measured row gemm fp16"), "%s", r.err);

    /* a third shard timed another way (interleaved rounds against one row after another) */
    write_run("e", H200, rows + 1, 1);
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/e/run.json", mx_test_work_dir);
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.shard, sizeof info.shard, "3/3");
    snprintf(info.timing, sizeof info.timing, "%s",
             strcmp(info.timing, MX_TIMING_ROUNDS) ? MX_TIMING_ROUNDS : "");
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
    r = merge("out", (const char *[]){"a", "b", "e"}, 3);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "differ in their method (timing"), "%s", r.err);
}

/* A re-measurement of a few rows among CUR's runs (make nightly's confirmation): the rows come
 * from CUR's fullest run, so the others are not MISSING, and the re-measured rows have more runs.
 */
Test(cpu_compare, a_partial_run_among_cur_adds_runs_without_hiding_rows, IN_A_FRESH_DIR) {
    write_job("base", 3, H200, 1.0, 1.0);
    write_job("cur", 3, H200, 1.0, 1.0);
    fake_row again[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    write_run("cur/zz-confirm", H200, again, 2); /* written last: the newest */
    mx_cli_result r = compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "0 MISSING") && strstr(r.out, "5 SAME"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "fused", 1), "cur_runs"), "4");
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "skinny", 1), "cur_runs"), "3");
    mx_table_free(t);
}
