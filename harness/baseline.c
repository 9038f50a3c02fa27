/* `mxbench baseline`: list the baselines, or promote a run to its GPU model's baseline. */
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

static int list_baselines(const char *dir) {
    DIR *folder = opendir(dir);
    if (!folder) {
        if (errno != ENOENT) {
            mx_cli_error("%s: %s", dir, strerror(errno));
            return MX_EXIT_UNUSABLE_INPUT;
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
        mx_run_folder *run = mx_run_folder_load_checked(path, error, sizeof error);
        if (run) {
            mx_run_describe(run, text, sizeof text);
            printf("  %-24s %s: %s\n", names[i], run->meta.gpu_name, text);
            if (strcmp(run->model, names[i]))
                printf("  %-24s warning: its run.json names model %s: compare looks in %s/%s/\n",
                       "", run->model, dir, run->model);
        } else {
            printf("  %-24s unusable: %s\n", names[i], error);
            status = MX_EXIT_UNUSABLE_INPUT;
        }
        mx_run_folder_free(run);
    }
    if (count == 0)
        printf("  none yet (mxbench baseline --update RUN_DIR --baselines %s makes one)\n", dir);
    return status;
}

/* Writes the run's files into a fresh folder beside target, then swaps it in: a reader sees the
 * old baseline or the new one (or, for an instant, none: compare then exits 2), never a mix. */
static bool replace_baseline(const char *dir, const mx_run_folder *run, char *error,
                             size_t error_size) {
    const char *model = run->model;
    const char *sources[MX_RUN_FILE_COUNT] = {run->results_path, run->samples_path, run->json_path};
    char target[2048], fresh[2100], old[2100], path[2200];
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
    for (int i = 0; i < MX_RUN_FILE_COUNT; i++) {
        mx_format_text(path, sizeof path, "%s/%s", fresh, mx_run_files[i]);
        if (!mx_copy_file(sources[i], path, error, error_size)) {
            mx_remove_folder(fresh);
            return false;
        }
    }
    bool had_old = mx_is_folder(target);
    if (had_old && (!mkdtemp(old) || rename(target, old) != 0)) {
        mx_format_text(error, error_size, "cannot move the old baseline %s aside: %s", target,
                       strerror(errno));
        rmdir(old);
        mx_remove_folder(fresh);
        return false;
    }
    if (rename(fresh, target) != 0) {
        mx_format_text(error, error_size, "cannot rename %s to %s: %s", fresh, target,
                       strerror(errno));
        if (had_old) rename(old, target);
        mx_remove_folder(fresh);
        return false;
    }
    if (had_old && !mx_remove_folder(old))
        fprintf(stderr, "mxbench: warning: could not remove the old baseline moved to %s\n", old);
    return true;
}

static int update_baseline(const char *dir, const char *run_dir) {
    char error[4096];
    mx_run_folder *run = mx_run_folder_load_checked(run_dir, error, sizeof error), *previous = NULL;
    int status = MX_EXIT_UNUSABLE_INPUT;
    if (!run) {
        mx_cli_error("%s", error);
        goto done;
    }
    size_t measured = mx_run_measured_rows(run);
    if (strcmp(run->meta.status, "complete") || measured == 0) {
        mx_cli_error("%s: %s: a baseline must be a complete run with measured rows (rows it lacked "
                     "would never be checked)",
                     run->json_path,
                     measured ? "the run's status is not 'complete'" : "no row was measured");
        if (measured) fprintf(stderr, "  status: '%s'\n", run->meta.status);
        goto done;
    }
    char target[2048], before[512] = "", after[512];
    mx_format_text(target, sizeof target, "%s/%s", dir, run->model);
    if (mx_is_folder(target)) {
        previous = mx_run_folder_load(target, error, sizeof error);
        if (previous)
            mx_run_describe(previous, before, sizeof before);
        else
            mx_format_text(before, sizeof before, "an unusable baseline (%s)", error);
    }
    if (!replace_baseline(dir, run, error, sizeof error)) {
        mx_cli_error("%s", error);
        status = MX_EXIT_ERROR;
        goto done;
    }
    mx_run_describe(run, after, sizeof after);
    printf("baseline %s ('%s') in %s/:\n", run->model, run->meta.gpu_name, target);
    if (before[0]) printf("  replaced %s\n", before);
    printf("  %s %s\n  from %s (results.csv, samples.csv, run.json)\n",
           before[0] ? "with    " : "created:", after, run->dir);
    if (strcmp(run->meta.suite, "nightly"))
        printf(
            "note: this is a '%s' run; make nightly compares nightly runs with it, and every row "
            "it has that the nightly suite lacks will show as MISSING\n",
            run->meta.suite);
    if (run->meta.git_dirty == 1)
        printf("note: the run was made from a checkout with uncommitted changes (commit %.12s)\n",
               run->meta.git_commit);
    printf("commit it to make it the gate of make nightly: git add %s\n", target);
    status = MX_EXIT_OK;
done:
    mx_run_folder_free(run);
    mx_run_folder_free(previous);
    return status;
}

static int run_baseline(const mx_parsed_options *parsed) {
    char default_dir[4096];
    mx_data_path("baselines", default_dir, sizeof default_dir);
    const char *dir = mx_option_value(parsed, "baselines");
    if (!dir) dir = default_dir;
    bool update = mx_option_value(parsed, "update") != NULL;
    if (update && parsed->argument_count != 1) {
        mx_cli_error("baseline --update: which run? usage: mxbench baseline --update RUN_DIR");
        return MX_EXIT_ERROR;
    }
    if (!update && parsed->argument_count) {
        mx_cli_error("baseline: '%s' given without --update (mxbench baseline --update %s "
                     "promotes it; without arguments the baselines are listed)",
                     parsed->arguments[0], parsed->arguments[0]);
        return MX_EXIT_ERROR;
    }
    return update ? update_baseline(dir, parsed->arguments[0]) : list_baselines(dir);
}

static const mx_option baseline_options[] = {
    {"update", NULL, "make RUN_DIR the baseline of its GPU model", NULL, false},
    {"baselines", "DIR",
     "the baselines folder (default: baselines/ of the data folder: results/baselines of the "
     "checkout in a build tree)",
     NULL, true},
};

const mx_command mx_baseline_command = {
    "baseline",
    "List the baselines, or promote a run to its GPU model's baseline (--update RUN_DIR).",
    "A baseline is a complete run folder kept as DIR/<gpu-model>/ (results.csv, samples.csv,\n"
    "run.json; the model is run.json's gpu.name in lower case with dashes: NVIDIA H200 ->\n"
    "nvidia-h200); `mxbench compare DIR CUR` (make nightly) compares CUR with the baseline of\n"
    "CUR's GPU model. --update checks the run as compare will read it, copies its three files\n"
    "into a new folder and swaps it for the old one, and prints what it replaced; commit the\n"
    "folder to make it the nightly gate. Without --update: the baselines there, with their run,\n"
    "date, commit and rows. Exit: 0 done, 1 bad usage or a failed write, 2 an unusable run or\n"
    "baseline.",
    baseline_options,
    (int)(sizeof baseline_options / sizeof baseline_options[0]),
    run_baseline,
    0,
    1,
    "[RUN_DIR]",
    NULL,
};
