/* Baseline and merge suite (CPU): GPU model names, `mxbench baseline` (a history per GPU model,
 * updated only by what would not weaken it, a full disk, runs with an injected slowdown or a
 * taken run id refused) and `mxbench merge` (shards joined into the whole run, or refused) on
 * run folders written here (fake_runs.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compare.h"
#include "run_info.h"
#include "common.h"
#include "fake_runs.h"

// ---- GPU model names (a baseline's folder)

typedef struct {
    char name[32], model[32];
} model_case;

ParameterizedTestParameters(cpu_baseline, gpu_model_names_are_file_safe) {
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

ParameterizedTest(model_case *c, cpu_baseline, gpu_model_names_are_file_safe) {
    char model[64];
    cr_expect_eq(mx_gpu_model_name(c->name, model, sizeof model), c->model[0] != '\0');
    cr_expect_str_eq(model, c->model);
    cr_expect_not(mx_gpu_model_name("NVIDIA H200", model, 11), "12 bytes needed");
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

Test(cpu_baseline, baseline_update_then_compare_against_the_baselines, IN_A_FRESH_DIR) {
    mx_test_write_job("first", 3, H200, 1.0, 1.0);
    mx_test_write_job("again", 3, H200, 1.0, 1.0);
    mx_test_write_job("slow", 3, H200, 1.2, 1.0);
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

    r = mx_test_compare("baselines", "again");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "baselines/nvidia-h200 (the baseline of this GPU model): 3 runs"), "%s",
              r.out);
    r = mx_test_compare("baselines/", "slow");
    cr_expect_eq(r.exit_code, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "2 SLOWER"), "%s", r.out);

    /* Appending keeps the newest 9: 3 + 3 + 3 + 3 runs leave the first 3 out. */
    const char *more[][3] = {{"again/again-1", "again/again-2", "again/again-3"},
                             {"slow/slow-1", "slow/slow-2", "slow/slow-3"}};
    cr_assert_eq(baseline_update(more[0], 3, false).exit_code, 0);
    cr_assert_eq(baseline_update(more[1], 3, false).exit_code, 0);
    mx_test_write_job("third", 3, H200, 1.0, 1.0);
    const char *third[] = {"third/third-1", "third/third-2", "third/third-3"};
    r = baseline_update(third, 3, false);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, ": 9 runs") && strstr(r.out, "dropped first-1"), "%s", r.out);
    cr_expect_eq(count_entries(mx_test_path("baselines")), 1, "no temporary folder is left");
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 9);
}

/* make nightly's job folder (its runs, and the compare folders beside them) is taken as the
 * runs in it, as README's recipe gives it; a damaged run in it refuses the whole update. */
Test(cpu_baseline, a_job_folder_adds_the_runs_in_it, IN_A_FRESH_DIR) {
    mx_test_write_job("job", 3, H200, 1.0, 1.0);
    mkdir(mx_test_path("job/first"), 0755); /* compare --out's folder: no run */
    const char *job[] = {"job"};
    mx_cli_result r = baseline_update(job, 1, false);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, ": 3 runs") && strstr(r.out, "added run job-1") &&
                  strstr(r.out, "added run job-3"),
              "%s", r.out);
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 3);

    mx_test_write_job("broken", 2, H200, 1.0, 1.0);
    mx_test_write_file(mx_test_path("broken/broken-2/samples.csv"), "", 0);
    const char *broken[] = {"broken"};
    r = baseline_update(broken, 1, false);
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "broken-2"), "names the damaged run: %s", r.err);
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 3, "the baseline is kept");
}

/* A full disk (writes cut at 2 KiB, 256 bytes): baseline --update fails with exit 1 naming what it
 * could not write and keeps the history as it was, no temporary folder left; compare fails with
 * exit 1 instead of giving a verdict, and leaves no temporary file. */
Test(cpu_baseline, a_full_disk_keeps_the_baseline_and_fails_cleanly, IN_A_FRESH_DIR) {
    mx_test_write_job("first", 3, H200, 1.0, 1.0);
    mx_test_write_job("again", 3, H200, 1.0, 1.0);
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
Test(cpu_baseline, a_single_run_baseline_becomes_a_history, IN_A_FRESH_DIR) {
    mx_cli_result r = mx_test_compare_with_baseline("nvidia-h200", H200, H200);
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "(the baseline of this GPU model): 1 run"), "%s", r.out);
    r = baseline("cur");
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "added run cur") && strstr(r.out, "kept  run nvidia-h200"), "%s",
              r.out);
    cr_expect_eq(access(mx_test_path("baselines/nvidia-h200/nvidia-h200/run.json"), F_OK), 0);
    cr_expect_eq(access(mx_test_path("baselines/nvidia-h200/cur/results.csv"), F_OK), 0);
}

Test(cpu_baseline, baseline_refuses_what_would_weaken_it_and_keeps_the_old, IN_A_FRESH_DIR) {
    mx_test_write_scaled_run("first", H200, 1.0);
    cr_assert_eq(baseline("first").exit_code, 0);
    char text[4096];

    mx_test_write_scaled_run("cut", H200, 1.0);
    mx_test_write_run_json(mx_test_path("cut"), H200, "interrupted");
    mx_cli_result r = baseline("cut");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "complete"), "%s", r.err);

    /* samples.csv with its header only: every row would be UNSURE forever */
    mx_test_write_scaled_run("hollow", H200, 1.0);
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
    mx_test_write_run("lone", H200, lone, 3);
    r = baseline("lone");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "1 measured rows, the baseline's newest run 5"), "%s", r.err);

    /* another sweep */
    mx_test_write_scaled_run("smoke", H200, 1.0);
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
    cr_expect(strstr(r.out, "dropped first (--force replaces the history)"), "%s", r.out);

    r = mx_test_run_cli((const char *[]){"baseline", mx_test_path("first"), NULL});
    cr_expect_eq(r.exit_code, 2, "a run without --update is a usage error: %s", r.err);
    cr_expect(strstr(r.err, "without --update"), "%s", r.err);
}

/* Runs are kept by id: the same run given twice is kept once; another run of an id that the
 * update or the baseline already holds is refused, naming both, and the baseline is kept. */
Test(cpu_baseline, two_runs_of_one_id_are_refused, IN_A_FRESH_DIR) {
    cr_assert_eq(mkdir(mx_test_path("a"), 0777), 0);
    cr_assert_eq(mkdir(mx_test_path("b"), 0777), 0);
    mx_test_write_scaled_run("a/x", H200, 1.0);
    mx_test_write_scaled_run("b/x", H200, 1.0); /* started a minute later */
    const char *twice[] = {"a/x", "a/x"};
    mx_cli_result r = baseline_update(twice, 2, false);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, ": 1 run "), "%s", r.out);

    r = baseline("b/x");
    cr_expect_eq(r.exit_code, 2, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "b/x and ") &&
                  strstr(r.err, "nvidia-h200/x (in the baseline) are both run 'x'"),
              "%s", r.err);
    const char *both[] = {"b/x", "a/x"};
    r = baseline_update(both, 2, true);
    cr_expect_eq(r.exit_code, 2, "--force: %s%s", r.out, r.err);
    cr_expect(strstr(r.err, "a/x and ") && strstr(r.err, "b/x are both run 'x'"), "%s", r.err);

    char text[4096], original[4096];
    mx_test_read_text(mx_test_path("baselines/nvidia-h200/x/run.json"), text, sizeof text);
    mx_test_read_text(mx_test_path("a/x/run.json"), original, sizeof original);
    cr_expect(!strcmp(text, original), "the baseline keeps a/x: %s", text);
    cr_expect_eq(count_entries(mx_test_path("baselines/nvidia-h200")), 1);
}

/* Reached through a link (a build tree's share/mxbench/baselines), the folder to commit is named
 * as git sees it: the link's target. */
Test(cpu_baseline, the_folder_to_commit_is_named_without_links, IN_A_FRESH_DIR) {
    cr_assert_eq(mkdir(mx_test_path("real"), 0777), 0);
    cr_assert_eq(symlink(mx_test_path("real"), mx_test_path("baselines")), 0);
    mx_test_write_scaled_run("x", H200, 1.0);
    mx_cli_result r = baseline("x");
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    char *real = realpath(mx_test_path("real"), NULL), line[4096];
    cr_assert(real);
    snprintf(line, sizeof line, "git add %s/nvidia-h200\n", real);
    cr_expect(strstr(r.out, line), "expected '%s' in: %s", line, r.out);
    free(real);
    cr_expect_eq(access(mx_test_path("real/nvidia-h200/x/run.json"), F_OK), 0);
}

/* A run made with run --inject-slowdown (test only) is never mistaken for a measurement. */
Test(cpu_baseline, an_injected_slowdown_is_announced, IN_A_FRESH_DIR) {
    mx_test_write_scaled_run("base", H200, 1.0);
    mx_test_write_scaled_run("cur", H200, 1.1);
    char path[256], error[512];
    snprintf(path, sizeof path, "%s/run.json", mx_test_path("cur"));
    mx_run_info info;
    cr_assert(mx_run_info_read(path, &info, error, sizeof error), "%s", error);
    snprintf(info.injected, sizeof info.injected, "fused +10 %%");
    cr_assert(mx_run_info_save(&info, path, error, sizeof error), "%s", error);
    mx_cli_result r = mx_test_compare("base", "cur");
    cr_expect(strstr(r.out, "WARNING: measured with an injected slowdown (run --inject-slowdown, "
                            "test only): fused +10 %"),
              "%s", r.out);
    const char *cur[] = {"cur"};
    r = baseline_update(cur, 1, true);
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT, "%s", r.err);
    cr_expect(strstr(r.err, "is never a baseline"), "even forced: %s", r.err);
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

enum { MAX_TEST_SHARDS = 16 };

static mx_cli_result merge(const char *out, const char *const *runs, int count) {
    static char paths[MAX_TEST_SHARDS + 1][256];
    const char *argv[MAX_TEST_SHARDS + 3] = {"merge"};
    cr_assert_leq(count, MAX_TEST_SHARDS);
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
Test(cpu_baseline, merged_shards_are_the_whole_run, IN_A_FRESH_DIR) {
    fake_row whole[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL},
                        {"fp16", 4096, 900.0, 0.5, 20, NULL, NULL},
                        {"fused", 4096, 1000.0, 0.5, 20, NULL, NULL}};
    mx_test_write_run("whole", H200, whole, 4);
    mx_test_write_run("s1", H200, whole, 2);
    mx_test_write_run("s2", H200, whole + 2, 2);
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
    r = mx_test_compare("whole", "merged");
    cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "4 SAME") && strstr(r.out, "0 MISSING") && strstr(r.out, "0 NEW"), "%s",
              r.out);
    r = merge("merged", (const char *[]){"s1", "s2"}, 2);
    cr_expect_eq(r.exit_code, 2, "nothing is overwritten: %s", r.err);
    cr_expect(strstr(r.err, "already holds results"), "%s", r.err);
}

/* One shard (make bench GPUS=0: a worker on one GPU) merges into itself; and a sweep cut for
 * more GPUs than one box of eight has (the command line once took seven shards at most) merges
 * whole. */
Test(cpu_baseline, merge_takes_one_shard_and_many, IN_A_FRESH_DIR) {
    fake_row rows[MAX_TEST_SHARDS];
    const char *names[MAX_TEST_SHARDS];
    static char name_text[MAX_TEST_SHARDS][16];
    for (int i = 0; i < MAX_TEST_SHARDS; i++) {
        rows[i] = (fake_row){i % 2 ? "fused" : "fp16", 1 + i / 2, 50.0 + i, 1.0, 20, NULL, NULL};
        snprintf(name_text[i], sizeof name_text[i], "s%d", i + 1);
        names[i] = name_text[i];
    }
    mx_test_write_run("whole", H200, rows, MAX_TEST_SHARDS);
    mx_test_write_run("only", H200, rows, MAX_TEST_SHARDS);
    set_shard("only", "1/1");
    mx_cli_result r = merge("one", (const char *[]){"only"}, 1);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "merged 1 shard of"), "%s", r.out);
    for (int i = 0; i < MAX_TEST_SHARDS; i++) {
        char shard[16];
        mx_test_write_run(names[i], H200, rows + i, 1);
        snprintf(shard, sizeof shard, "%d/%d", i + 1, MAX_TEST_SHARDS);
        set_shard(names[i], shard);
    }
    r = merge("many", names, MAX_TEST_SHARDS);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    cr_expect(strstr(r.out, "merged 16 shards") && strstr(r.out, "16 rows, 320 samples"), "%s",
              r.out);
    for (int i = 0; i < 2; i++) {
        r = mx_test_compare("whole", i ? "many" : "one");
        cr_expect_eq(r.exit_code, 0, "%s%s", r.out, r.err);
        cr_expect(strstr(r.out, "16 SAME") && strstr(r.out, "0 MISSING") && strstr(r.out, "0 NEW"),
                  "%s", r.out);
    }
}

/* A full disk: merge fails with exit 1 and leaves no half-written OUT, so that the same merge
 * succeeds once there is room. */
Test(cpu_baseline, merge_on_a_full_disk_leaves_nothing_behind, IN_A_FRESH_DIR) {
    fake_row whole[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                        {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    mx_test_write_run("s1", H200, whole, 1);
    mx_test_write_run("s2", H200, whole + 1, 1);
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

Test(cpu_baseline, merge_refuses_shards_that_do_not_belong_together, IN_A_FRESH_DIR) {
    fake_row rows[] = {{"fp16", 1, 50.0, 1.0, 30, NULL, NULL},
                       {"fused", 1, 40.0, 1.0, 30, NULL, NULL}};
    mx_test_write_run("a", H200, rows, 1);
    mx_test_write_run("b", H200, rows + 1, 1);
    mx_test_write_run("c", H100, rows + 1, 1);
    mx_test_write_run("d", H200, rows, 1);
    mx_test_write_run("plain", H200, rows, 2);
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
    mx_test_write_run("e", H200, rows + 1, 1);
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
