/* `mxbench baseline`: list the baselines, or promote a run to its GPU model's baseline. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "compare.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_dir.h"
#include "files.h"
#include "report.h"
#include "run_folder.h"
#include "text.h"

static int compare_names(const void *a, const void *b) {
    return strcmp(a, b);
}

/* Keeps the newest runs of a GPU model's history; a run added needs at least this share of the
 * newest run's measured rows (unless forced). Both printed by --help. */
enum { MX_BASELINE_KEEP = 9, MX_BASELINE_MIN_ROWS_PCT = 90 };

static int list_baselines(const char *dir) {
    DIR *folder = opendir(dir);
    if (!folder) {
        if (errno != ENOENT) {
            mx_cli_error("%s: %s", dir, strerror(errno));
            return MX_EXIT_INPUT;
        }
        printf("no baselines: %s does not exist (mxbench baseline --update RUN_DIR makes one)\n",
               dir);
        return MX_EXIT_OK;
    }
    char names[256][256];
    int count = 0;
    for (struct dirent *entry; (entry = readdir(folder)) && count < 256;) {
        char path[2400];
        mx_format_text(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (entry->d_name[0] != '.' && strlen(entry->d_name) < sizeof names[0] &&
            mx_is_folder(path))
            mx_format_text(names[count++], sizeof names[0], "%s", entry->d_name);
    }
    closedir(folder);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    int status = MX_EXIT_OK;
    printf("baselines in %s:\n", dir);
    for (int i = 0; i < count; i++) {
        char path[2400], error[2048], text[512];
        mx_format_text(path, sizeof path, "%s/%s", dir, names[i]);
        mx_run_folder **runs;
        int runs_count = mx_run_history_load(path, &runs, error, sizeof error);
        if (!runs_count) {
            printf("  %-24s unusable: %s\n", names[i], error);
            status = MX_EXIT_INPUT;
            continue;
        }
        printf("  %-24s %s: %d run%s\n", names[i], runs[0]->meta.gpu_name, runs_count,
               runs_count == 1 ? "" : "s");
        for (int r = 0; r < runs_count; r++) {
            mx_key_set keys = mx_run_shared_keys(&runs[r], 1);
            if (mx_run_folder_index(runs[r], &keys, error, sizeof error)) {
                mx_run_describe(runs[r], text, sizeof text);
                printf("    %s\n", text);
            } else {
                printf("    unusable: %s\n", error);
                status = MX_EXIT_INPUT;
            }
            if (strcmp(runs[r]->model, names[i]))
                printf("    warning: its run.json names model %s: compare looks in %s/%s/\n",
                       runs[r]->model, dir, runs[r]->model);
            mx_run_folder_free(runs[r]);
        }
        free(runs);
    }
    if (count == 0)
        printf("  none yet (mxbench baseline --update RUN_DIR --baselines %s makes one)\n", dir);
    return status;
}

/* Writes the runs' files into a fresh folder beside target (one subfolder per run, named by its
 * run id), then swaps it in: a reader sees the old baseline or the new one (or, for an instant,
 * none: compare then exits 2), never a mix. */
static bool write_baseline(const char *dir, const char *model, mx_run_folder *const *runs,
                           int count, char *error, size_t error_size) {
    char target[2048], fresh[2100], old[2100], path[2400];
    mx_format_text(target, sizeof target, "%s/%s", dir, model);
    mx_format_text(fresh, sizeof fresh, "%s/.%s.new.XXXXXX", dir, model);
    mx_format_text(old, sizeof old, "%s/.%s.old.XXXXXX", dir, model);
    if (!mx_ensure_folder(dir) || !mkdtemp(fresh)) {
        mx_format_text(error, error_size, "cannot create a folder in %s: %s", dir, strerror(errno));
        return false;
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(fresh, 0777 & ~mask); /* mkdtemp makes it private */
    bool ok = true;
    for (int r = 0; ok && r < count; r++) {
        const mx_run_folder *run = runs[r];
        const char *sources[MX_RUN_FILE_COUNT] = {run->results_path, run->samples_path,
                                                  run->json_path};
        mx_format_text(path, sizeof path, "%s/%s", fresh, run->meta.run_id);
        ok = mx_ensure_folder(path) ||
             mx_format_fail(error, error_size, "cannot create %s: %s", path, strerror(errno));
        for (int i = 0; ok && i < MX_RUN_FILE_COUNT; i++) {
            mx_format_text(path, sizeof path, "%s/%s/%s", fresh, run->meta.run_id, mx_run_files[i]);
            ok = mx_copy_file(sources[i], path, error, error_size);
        }
    }
    bool had_old = ok && mx_is_folder(target);
    if (had_old && (!mkdtemp(old) || rename(target, old) != 0)) {
        mx_format_text(error, error_size, "cannot move the old baseline %s aside: %s", target,
                       strerror(errno));
        rmdir(old);
        ok = false;
    } else if (ok && rename(fresh, target) != 0) {
        mx_format_text(error, error_size, "cannot rename %s to %s: %s", fresh, target,
                       strerror(errno));
        if (had_old) rename(old, target);
        ok = false;
    }
    if (!ok) {
        mx_remove_tree(fresh);
        return false;
    }
    if (had_old && !mx_remove_tree(old))
        fprintf(stderr, "mxbench: warning: could not remove the old baseline moved to %s\n", old);
    return true;
}

/* What a run must be to become part of a baseline; with a history, also like its newest run
 * (unless forced): the same sweep and nearly as many measured rows. */
static bool acceptable(const mx_run_folder *run, const mx_run_folder *newest, bool force) {
    size_t measured = mx_run_measured_rows(run);
    if (strcmp(run->meta.status, "complete") || measured == 0) {
        mx_cli_error("%s: %s: a baseline must be a complete run with measured rows (rows it lacked "
                     "would never be checked)",
                     run->json_path,
                     measured ? "the run's status is not 'complete'" : "no row was measured");
        if (measured) fprintf(stderr, "  status: '%s'\n", run->meta.status);
        return false;
    }
    if (run->meta.injected[0]) { /* not even forced: it measures a slowdown made on purpose */
        mx_cli_error("%s: a test run with an injected slowdown (%s) is never a baseline", run->dir,
                     run->meta.injected);
        return false;
    }
    if (!newest || force) return true;
    size_t before = mx_run_measured_rows(newest);
    if (strcmp(run->meta.suite, newest->meta.suite)) {
        mx_cli_error("%s: a '%s' run, but the baseline holds '%s' runs (%s): its rows would not "
                     "match (--force replaces the history with runs of the new sweep)",
                     run->dir, run->meta.suite, newest->meta.suite, newest->dir);
        return false;
    }
    if (100 * measured < MX_BASELINE_MIN_ROWS_PCT * before) {
        mx_cli_error("%s: %zu measured rows, the baseline's newest run %zu (%s): a baseline that "
                     "lost rows stops checking them (--force accepts it)",
                     run->dir, measured, before, newest->dir);
        return false;
    }
    return true;
}

/* Runs are kept by id: a run given twice (same id, same start) is kept once, but two different
 * runs of one id (mxbench run --out of the same name twice) would lose one of them. */
static bool distinct_ids(mx_run_folder *const *fresh, int index, mx_run_folder *const *history,
                         int history_count) {
    const mx_run_folder *run = fresh[index];
    for (int i = 0; i < index + history_count; i++) {
        const mx_run_folder *other = i < index ? fresh[i] : history[i - index];
        if (!strcmp(run->meta.run_id, other->meta.run_id) &&
            strcmp(run->meta.start_time, other->meta.start_time)) {
            mx_cli_error("%s and %s%s are both run '%s' (started %s and %s): the baseline keeps "
                         "runs by id, so one would be lost; measure one again with another "
                         "--out name",
                         run->dir, other->dir, i < index ? "" : " (in the baseline)",
                         run->meta.run_id, run->meta.start_time, other->meta.start_time);
            return false;
        }
    }
    return true;
}

/* The runs each of run_dirs names: a run folder, or a folder of them (make nightly's job folder),
 * each checked as compare will read it; appended to *runs. Returns false with error saying why. */
static bool load_fresh(const char *const *run_dirs, int run_dir_count, mx_run_folder ***runs,
                       int *count, char *error, size_t error_size) {
    for (int i = 0; i < run_dir_count; i++) {
        mx_run_folder **found;
        int n = mx_run_history_load(run_dirs[i], &found, error, error_size);
        mx_run_folder **grown = n ? realloc(*runs, sizeof *grown * (size_t)(*count + n)) : NULL;
        bool ok = grown != NULL;
        if (n && !grown) mx_format_fail(error, error_size, "out of memory");
        if (grown) *runs = grown;
        for (int k = 0; k < n; k++) {
            ok = ok && mx_run_folder_check(found[k], error, error_size);
            if (grown)
                (*runs)[(*count)++] = found[k];
            else
                mx_run_folder_free(found[k]);
        }
        free(found);
        if (!ok) return false;
    }
    return true;
}

static int update_baseline(const char *dir, const char *const *run_dirs, int run_dir_count,
                           bool force) {
    char error[4096], target[2048];
    int status = MX_EXIT_INPUT, history_count = 0, replaced_count = 0, run_count = 0, count = 0;
    mx_run_folder **fresh = NULL, **history = NULL, **replaced = NULL, **keep = NULL;
    if (!load_fresh(run_dirs, run_dir_count, &fresh, &run_count, error, sizeof error)) {
        mx_cli_error("%s", error);
        goto done;
    }
    if (!(keep = calloc((size_t)run_count + MX_BASELINE_KEEP + 1, sizeof *keep))) {
        mx_cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < run_count; i++) {
        if (strcmp(fresh[i]->model, fresh[0]->model)) {
            mx_cli_error("%s ran on '%s', %s on '%s': a baseline holds runs of one GPU model",
                         fresh[i]->dir, fresh[i]->meta.gpu_name, fresh[0]->dir,
                         fresh[0]->meta.gpu_name);
            goto done;
        }
    }
    mx_format_text(target, sizeof target, "%s/%s", dir, fresh[0]->model);
    if (mx_is_folder(target)) {
        history_count = mx_run_history_load(target, &history, error, sizeof error);
        if (!history_count && !force) {
            mx_cli_error("the baseline %s is unusable (%s): fix or remove it, or --force replaces "
                         "it",
                         target, error);
            goto done;
        }
        if (force) { /* replaced: listed as dropped, none kept */
            replaced = history;
            replaced_count = history_count;
            history = NULL;
            history_count = 0;
        }
    }
    for (int i = 0; i < run_count; i++)
        if (!acceptable(fresh[i], history_count ? history[0] : NULL, force) ||
            !distinct_ids(fresh, i, history, history_count))
            goto done;
    /* The new runs first, then the history; a run id already kept is not kept twice. */
    for (int i = 0; i < run_count + history_count && count < MX_BASELINE_KEEP; i++) {
        mx_run_folder *run = i < run_count ? fresh[i] : history[i - run_count];
        bool seen = false;
        for (int k = 0; k < count && !seen; k++)
            seen = !strcmp(keep[k]->meta.run_id, run->meta.run_id);
        if (!seen) keep[count++] = run;
    }
    if (!write_baseline(dir, fresh[0]->model, keep, count, error, sizeof error)) {
        mx_cli_error("%s", error);
        status = MX_EXIT_FAILED;
        goto done;
    }
    /* The folder as git sees it: a build tree reaches results/baselines through a link. */
    char *real = realpath(target, NULL);
    const char *shown = real ? real : target;
    printf("baseline %s ('%s') in %s/: %d run%s (the newest %d are kept)\n", fresh[0]->model,
           fresh[0]->meta.gpu_name, shown, count, count == 1 ? "" : "s", MX_BASELINE_KEEP);
    for (int k = 0; k < count; k++) {
        char text[512];
        mx_run_describe(keep[k], text, sizeof text);
        printf("  %s %s\n", k < run_count ? "added" : "kept ", text);
    }
    for (int i = 0; i < history_count; i++) {
        bool kept = false;
        for (int k = 0; k < count && !kept; k++) kept = keep[k] == history[i];
        if (!kept)
            printf("  dropped %s (older than the %d kept)\n", history[i]->meta.run_id,
                   MX_BASELINE_KEEP);
    }
    for (int i = 0; i < replaced_count; i++)
        printf("  dropped %s (--force replaces the history)\n", replaced[i]->meta.run_id);
    for (int i = 0; i < run_count; i++) {
        if (strcmp(fresh[i]->meta.suite, "nightly"))
            printf("note: %s is a '%s' run; make nightly compares nightly runs with it, and "
                   "every row it has that the nightly suite lacks will show as MISSING\n",
                   fresh[i]->meta.run_id, fresh[i]->meta.suite);
        if (fresh[i]->meta.git_dirty == 1)
            printf("note: %s was made from a checkout with uncommitted changes (commit %.12s)\n",
                   fresh[i]->meta.run_id, fresh[i]->meta.git_commit);
    }
    printf("commit it to make it the gate of make nightly: git add %s\n", shown);
    free(real);
    status = MX_EXIT_OK;
done:
    for (int i = 0; i < run_count; i++) mx_run_folder_free(fresh[i]);
    for (int i = 0; i < history_count; i++) mx_run_folder_free(history[i]);
    for (int i = 0; i < replaced_count; i++) mx_run_folder_free(replaced[i]);
    free(fresh);
    free(history);
    free(replaced);
    free(keep);
    return status;
}

static int run_baseline(const mx_parsed_options *parsed) {
    char default_dir[4096];
    mx_data_path("baselines", default_dir, sizeof default_dir);
    const char *dir = mx_option_value(parsed, "baselines");
    if (!dir) dir = default_dir;
    bool update = mx_option_value(parsed, "update") != NULL;
    bool force = mx_option_value(parsed, "force") != NULL;
    if (update && parsed->argument_count < 1) {
        mx_cli_error("baseline --update: which runs? usage: mxbench baseline --update RUN_DIR...");
        return MX_EXIT_INPUT;
    }
    if (!update && (parsed->argument_count || force)) {
        mx_cli_error("baseline: %s%s given without --update (mxbench baseline --update RUN_DIR... "
                     "adds runs; without arguments the baselines are listed)",
                     parsed->argument_count ? parsed->arguments[0] : "--force",
                     parsed->argument_count ? "" : "");
        return MX_EXIT_INPUT;
    }
    return update ? update_baseline(dir, parsed->arguments, parsed->argument_count, force)
                  : list_baselines(dir);
}

static const mx_option baseline_options[] = {
    {"update", NULL,
     "add RUN_DIR... (run folders, or folders of them: make nightly's job) to the baseline of "
     "their GPU model",
     NULL, false},
    {"force", NULL,
     "with --update: accept runs of another sweep or with far fewer rows, replacing the history",
     NULL, false},
    {"baselines", "DIR",
     "the baselines folder (default: baselines/ of the data folder: results/baselines of the "
     "checkout in a build tree)",
     NULL, true},
};

static void baseline_help_tail(void) {
    printf(
        "\nA baseline keeps the newest %d runs; a run added needs at least %d %% of the measured\n"
        "rows of the baseline's newest run.\n",
        MX_BASELINE_KEEP, MX_BASELINE_MIN_ROWS_PCT);
}

const mx_command mx_baseline_command = {
    "baseline",
    "List the baselines, or add runs to their GPU model's baseline (--update RUN_DIR...).",
    "A baseline is a history of complete runs of one GPU model, DIR/<gpu-model>/<run-id>/ (each\n"
    "with results.csv, samples.csv, run.json; the model is run.json's gpu.name in lower case\n"
    "with dashes: NVIDIA H200 -> nvidia-h200); `mxbench compare DIR CUR...` (make nightly)\n"
    "compares CUR with the history of CUR's GPU model, from which it learns each row's\n"
    "run-to-run spread. A baseline from before histories (the three files directly in\n"
    "DIR/<gpu-model>/) is read as a history of one run. --update checks each run as compare\n"
    "will read it (complete, every measured row with its samples; like the newest run kept:\n"
    "the same sweep and nearly as many measured rows (below), unless --force; a run id of its\n"
    "own: another run of the same id is refused), writes the new runs and the newest of the\n"
    "history (how many: below) into a new folder, swaps it for the old one and prints what it\n"
    "added, kept and dropped; commit the folder to make it the nightly gate. Runs from more\n"
    "than one machine make the spread honest. Without --update: the baselines there, with\n"
    "their runs. A run or baseline it cannot use exits 2, naming it.",
    baseline_options,
    (int)(sizeof baseline_options / sizeof baseline_options[0]),
    run_baseline,
    0,
    8,
    "[RUN_DIR...]",
    baseline_help_tail,
};
