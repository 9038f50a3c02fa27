/* Compare suite (CPU): `mxbench compare` end to end on run folders written here (fake_runs.h)
 * and on real A/A pairs from an H200: verdicts, exit codes, compare.csv and compare.dat, the
 * control, refusals of unusable input with file and line, --first and the interval agreement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compare.h"
#include "run_info.h"
#include "table.h"
#include "common.h"
#include "fake_runs.h"

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

// ---- mxbench compare

Test(cpu_compare, identical_runs_are_same_everywhere, IN_A_FRESH_DIR) {
    mx_test_write_scaled_run("base", H200, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = mx_test_compare("base", "cur");
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
    mx_test_write_job("base", 3, H200, 1.0, c->spread_pct);
    mx_test_write_job("cur", 3, H200, c->factor, c->spread_pct);
    mx_cli_result r = mx_test_compare("base", "cur");
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
    mx_test_write_run("base", H200, base, 4);
    mx_test_write_run("cur", H200, cur, 4);
    mx_cli_result r = mx_test_compare("base", "cur");
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
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.0, 1.0);
    const char *runs[] = {"cur/cur-1", "cur/cur-2", "cur/cur-3"};
    for (int i = 0; i < 3; i++) {
        set_result(runs[i], 2, "throttled", "true"); /* skinny M=1 in every run */
        set_result(runs[i], 2, "sm_clock_mhz", "1530");
    }
    /* fused M=1 1.3x slower, but only in a throttled run */
    mx_test_write_shifted_run("slow", H200, 1.3, 1.0);
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
    mx_test_run_values(1.0, 1.0, 3, offsets);
    for (int i = 0; i < 3; i++) {
        fake_row rows[] = {
            {"fp16", 1, 50.0 * control_factor * offsets[i], 1.0, 30, NULL, NULL},
            {"persistent", 1, 50.0 * control_factor * offsets[i], 1.0, 30, NULL, NULL},
            {"skinny", 1, 20.0 * skinny_factor * offsets[i], 1.0, 30, NULL, NULL}};
        char name[64];
        snprintf(name, sizeof name, "%s/%s-%d", dir, dir, i + 1);
        mx_test_write_run(name, H200, rows, 3);
    }
}

Test(cpu_compare, cublas_only_rows_are_the_control_not_the_gate, IN_A_FRESH_DIR) {
    write_control_job("base", 1.0, 1.0);
    write_control_job("kernel", 1.0, 1.1);
    write_control_job("board", 1.1, 1.1);
    mx_cli_result r = mx_test_compare("base", "kernel");
    cr_expect_eq(r.exit_code, 1, "the skinny row regressed: %s%s", r.out, r.err);
    cr_expect(strstr(r.out, "times are judged as measured"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("kernel/compare.csv"));
    expect_verdict(t, "skinny", 1, "SLOWER");
    expect_verdict(t, "fp16", 1, "SAME");
    mx_table_free(t);

    r = mx_test_compare("base", "board");
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
    mx_cli_result r = mx_test_compare("base", "board");
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
    mx_test_write_scaled_run("base", H200, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.0);
    blank_column("cur", "experts");
    blank_column("cur", "topk");
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "5 SAME") && strstr(r.out, "0 MISSING") && strstr(r.out, "0 NEW"), "%s",
              r.out);
}

Test(cpu_compare, new_rows_alone_pass, IN_A_FRESH_DIR) {
    mx_test_write_run("base", H200, &(fake_row){"fp16", 1, 50.0, 1.0, 30, NULL, NULL}, 1);
    mx_test_write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = mx_test_compare("base", "cur");
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
    mx_test_write_run("base", H200, base, 1);
    mx_test_write_run("cur", H200, cur, 1);
    mx_cli_result r = mx_test_compare("base", "cur");
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
    mx_test_write_scaled_run("base", H100, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "'" H100 "'") && strstr(r.err, "'" H200 "'"), "%s", r.err);
    cr_expect_neq(access(mx_test_path("cur/compare.csv"), F_OK), 0, "nothing is written");
}

/* Sets run.json fields of work_dir/name: what auto followed and the code path. */
static void set_run_json(const char *name, const char *dispatch, const char *code_path) {
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", mx_test_path(name));
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.gemm_dispatch, sizeof info.gemm_dispatch, "%s", dispatch);
    snprintf(info.code_path, sizeof info.code_path, "%s", code_path);
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
}

/* A change of auto's table or of the code path is said, not judged: the verdicts stay. A run from
 * before tables (nothing recorded) and one on the thresholds are alike. */
Test(cpu_compare, a_change_of_auto_table_or_code_path_is_noted, IN_A_FRESH_DIR) {
    const char *table = "table kernels/dispatch/nvidia-h200.csv (built in): 468 rows for " H200
                        " on the hopper path";
    const struct {
        const char *base_dispatch, *cur_dispatch, *base_path, *cur_path;
        bool table_note, path_note;
    } cases[] = {
        {"", "thresholds (no table for " H200 " on the hopper path)", "", "hopper", false, false},
        {"thresholds (MX_GEMM_DISPATCH=thresholds)", table, "hopper", "hopper", true, false},
        {table, table, "hopper", "portable", false, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char base[32], cur[32];
        snprintf(base, sizeof base, "base%zu", c);
        snprintf(cur, sizeof cur, "cur%zu", c);
        mx_test_write_scaled_run(base, H200, 1.0);
        mx_test_write_scaled_run(cur, H200, 1.0);
        set_run_json(base, cases[c].base_dispatch, cases[c].base_path);
        set_run_json(cur, cases[c].cur_dispatch, cases[c].cur_path);
        mx_cli_result r = mx_test_compare(base, cur);
        cr_expect_eq(r.exit_code, 0, "case %zu: %s%s", c, r.out, r.err);
        cr_expect_eq(strstr(r.out, "note: auto chose its GEMM variants from different places") !=
                         NULL,
                     cases[c].table_note, "case %zu: %s", c, r.out);
        if (cases[c].table_note)
            cr_expect(strstr(r.out, "BASE: its thresholds; CUR: table kernels/dispatch/"), "%s",
                      r.out);
        cr_expect_eq(strstr(r.out, "note: the kernels took different code paths (BASE hopper, "
                                   "CUR portable") != NULL,
                     cases[c].path_note, "case %zu: %s", c, r.out);
    }
}

Test(cpu_compare, missing_baseline_is_refused_with_how_to_make_one, IN_A_FRESH_DIR) {
    mx_cli_result r = mx_test_compare_with_baseline("nvidia-h100-80gb-hbm3", H100, H200);
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "no baseline for GPU model nvidia-h200"), "%s", r.err);
    cr_expect(strstr(r.err, "mxbench baseline --update RUN_DIR"), "%s", r.err);
    cr_expect(strstr(r.err, "nvidia-h100-80gb-hbm3"), "lists the baselines there: %s", r.err);
    r = mx_test_compare("nowhere", "cur");
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
    mx_test_write_scaled_run("base", H200, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.0);
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
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_expect(strstr(r.err, c->needle), "stderr lacks '%s': %s", c->needle, r.err);
    cr_expect(strstr(r.err, path), "stderr names %s: %s", path, r.err);
}

Test(cpu_compare, duplicate_rows_and_bad_options_are_unusable, IN_A_FRESH_DIR) {
    fake_row twice[] = {{"fused", 1, 40.0, 1.0, 10, NULL, NULL},
                        {"fused", 1, 41.0, 1.0, 10, NULL, NULL}};
    mx_test_write_run("base", H200, twice, 2);
    mx_test_write_scaled_run("cur", H200, 1.0);
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "results.csv:3: the same row as line 2"), "%s", r.err);
    r = mx_test_run_cli((const char *[]){"compare", "--alpha", "0.7", mx_test_path("cur"),
                                         mx_test_path("cur"), NULL});
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "--alpha '0.7'"), "%s", r.err);
}

Test(cpu_compare, compare_csv_and_dat_hold_the_numbers, IN_A_FRESH_DIR) {
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.1, 1.0);
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
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.2, 1.0);
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    expect_plot_or_warning(&r);
}

Test(cpu_compare, no_gnuplot_changes_no_verdict, IN_A_FRESH_DIR) {
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.2, 1.0);
    setenv("PATH", "/nonexistent", 1); /* this test's process only (Criterion forks) */
    mx_cli_result r = mx_test_compare("base", "cur");
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
        mx_test_save_table(t, path);
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
    mx_cli_result r = mx_test_compare("history", "steady");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    mx_table *t = read_csv(mx_test_path("steady/compare.csv"));
    expect_verdict(t, "fused", 16, "SLOWER");
    mx_table_free(t);
    copy_scaled(first, "wobbly", "dequant_cublas", "1", 1.10);
    r = mx_test_compare("history", "wobbly");
    cr_expect_eq(r.exit_code, 0, "the row moves 8.5 %% between runs of one binary: %s%s", r.out,
                 r.err);
}

/* make nightly's confirmation: compare --first takes the first comparison's compare.csv and
 * puts each row's verdict there beside its own, saying how many SLOWER held. */
Test(cpu_compare, first_verdicts_beside_the_confirmed_ones, IN_A_FRESH_DIR) {
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.2, 1.0);
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
    mx_test_write_scaled_run("base", H200, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.0);
    const char *values[2][2][3] = {{{"-20.00", "-21.00", "-19.00"}, {"-20.00", "-21.00", "-19.00"}},
                                   {{"-19.50", "-20.50", "-18.50"}, {"-9.00", "-10.00", "-8.00"}}};
    const char *runs[2] = {"base", "cur"};
    for (int side = 0; side < 2; side++)
        for (int row = 0; row < 2; row++) {
            set_result(runs[side], row + 1, "overhead_pct", values[side][row][0]);
            set_result(runs[side], row + 1, "overhead_pct_lo", values[side][row][1]);
            set_result(runs[side], row + 1, "overhead_pct_hi", values[side][row][2]);
        }
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect(strstr(r.out, "the figures agree within their 95 % intervals for 1 of 2 overheads "
                            "(50 %) and 0 of 0 times"),
              "%s", r.out);
    mx_test_write_scaled_run("old", H200, 1.0); /* runs without intervals: no such line */
    r = mx_test_compare("old", "old");
    cr_expect_null(strstr(r.out, "intervals ("), "%s", r.out);
}

/* A re-measurement of a few rows among CUR's runs (make nightly's confirmation): the rows come
 * from CUR's fullest run, so the others are not MISSING, and the re-measured rows have more runs.
 */
Test(cpu_compare, a_partial_run_among_cur_adds_runs_without_hiding_rows, IN_A_FRESH_DIR) {
    mx_test_write_job("base", 3, H200, 1.0, 1.0);
    mx_test_write_job("cur", 3, H200, 1.0, 1.0);
    fake_row again[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    mx_test_write_run("cur/zz-confirm", H200, again, 2); /* written last: the newest */
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "0 MISSING") && strstr(r.out, "5 SAME"), "%s", r.out);
    mx_table *t = read_csv(mx_test_path("cur/compare.csv"));
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "fused", 1), "cur_runs"), "4");
    cr_expect_str_eq(mx_table_get(t, find_compared(t, "skinny", 1), "cur_runs"), "3");
    mx_table_free(t);
}
