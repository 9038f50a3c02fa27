/* `mxbench merge OUT RUN...`: the shards of one sweep (run --shard I/N) joined into one run
 * folder that report and compare take like any other. */
#include "merge.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "run_folder.h"
#include "shard.h"
#include "table.h"
#include "text.h"

/* Two method figures agree, unknown (NaN: a run written before the figure existed) included. */
static bool same_real(double a, double b) {
    return a == b || (isnan(a) && isnan(b));
}

/* The shards belong together: one sweep, binary, GPU model and method, every index of 1..N
 * once. shards[i] is run i's index (1-based). */
static bool check_shards(mx_run_folder *const *runs, int count, int *shards, char *error,
                         size_t error_size) {
    int total = 0;
    for (int i = 0; i < count; i++) {
        const mx_run_info *a = &runs[i]->meta, *b = &runs[0]->meta;
        int index, n;
        if (!mx_shard_parse(a->shard, &index, &n))
            return mx_format_fail(error, error_size,
                                  "%s: not a shard (its run.json has shard '%s'; run --shard I/N "
                                  "makes shards)",
                                  runs[i]->dir, a->shard);
        if (i > 0 && n != total)
            return mx_format_fail(error, error_size,
                                  "%s is shard %s, %s is shard %s: one sweep "
                                  "cut two ways",
                                  runs[0]->dir, b->shard, runs[i]->dir, a->shard);
        total = n;
        shards[i] = index;
        const char *differs =
            strcmp(a->suite, b->suite) || strcmp(a->sweep_path, b->sweep_path)     ? "sweep"
            : strcmp(a->git_commit, b->git_commit) || a->git_dirty != b->git_dirty ? "commit"
            : strcmp(runs[i]->model, runs[0]->model)                               ? "GPU model"
            : strcmp(a->timing, b->timing) || strcmp(a->injected, b->injected) ||
                    a->min_samples != b->min_samples || a->max_samples != b->max_samples ||
                    !same_real(a->max_noise_pct, b->max_noise_pct) ||
                    !same_real(a->time_budget_ms, b->time_budget_ms) ||
                    !same_real(a->min_time_ms, b->min_time_ms) || a->l2_flushed != b->l2_flushed
                ? "method (timing, samples, noise, times or L2 flushing)"
                : NULL;
        if (differs)
            return mx_format_fail(error, error_size,
                                  "%s and %s differ in their %s: shards of one run share it "
                                  "(mixed GPU models are compared with mxbench compare instead)",
                                  runs[0]->dir, runs[i]->dir, differs);
        for (int j = 0; j < i; j++)
            if (shards[j] == index)
                return mx_format_fail(error, error_size, "%s and %s are both shard %d/%d",
                                      runs[j]->dir, runs[i]->dir, index, total);
    }
    char missing[256] = "";
    for (int index = 1; index <= total; index++) {
        bool found = false;
        for (int i = 0; i < count && !found; i++) found = shards[i] == index;
        if (!found)
            mx_format_append(missing, sizeof missing, "%s%d/%d", missing[0] ? ", " : "", index,
                             total);
    }
    if (missing[0])
        return mx_format_fail(error, error_size, "shard%s %s missing: merge takes all %d",
                              strchr(missing, ',') ? "s" : "", missing, total);
    return true;
}

/* Every row of every run into one table with the first run's columns; run_id becomes the
 * merged run's. A row key in two shards is an error. */
static mx_table *join(mx_run_folder *const *runs, int count, bool samples, const char *run_id,
                      char *error, size_t error_size) {
    const mx_table *first = samples ? runs[0]->samples : runs[0]->results;
    int columns = mx_table_column_count(first);
    const char **names = malloc(sizeof *names * (size_t)columns);
    if (!names) return NULL;
    for (int c = 0; c < columns; c++) names[c] = mx_table_column_name(first, c);
    mx_table *out = mx_table_create(names, columns);
    free(names);
    for (int i = 0; out && i < count; i++) {
        const mx_table *from = samples ? runs[i]->samples : runs[i]->results;
        if (mx_table_column_count(from) != columns) {
            mx_format_fail(error, error_size, "%s and %s have different columns", runs[0]->dir,
                           runs[i]->dir);
            mx_table_free(out);
            return NULL;
        }
        for (size_t r = 0; r < mx_table_row_count(from); r++) {
            if (!samples)
                for (int j = 0; j < i; j++)
                    if (mx_run_find_row(runs[j], runs[i]->keys[r]) >= 0) {
                        mx_format_fail(error, error_size,
                                       "%s and %s both measured row %s %s "
                                       "M=%s N=%s K=%s",
                                       runs[j]->dir, runs[i]->dir, mx_run_cell(from, r, "op"),
                                       mx_run_cell(from, r, "variant"), mx_run_cell(from, r, "M"),
                                       mx_run_cell(from, r, "N"), mx_run_cell(from, r, "K"));
                        mx_table_free(out);
                        return NULL;
                    }
            int row = mx_table_add_row(out);
            for (int c = 0; c < columns; c++) {
                const char *name = mx_table_column_name(first, c);
                mx_table_set(out, row, name, "%s",
                             strcmp(name, "run_id") ? mx_run_cell(from, r, name) : run_id);
            }
        }
    }
    return out;
}

_Static_assert(1 + MX_MAX_SHARDS <= MX_CLI_MAX_ARGUMENTS, "merge takes OUT and every shard");

static int run_merge(const mx_parsed_options *parsed) {
    const char *out = parsed->arguments[0];
    int count = parsed->argument_count - 1;
    mx_run_folder **runs = calloc((size_t)count, sizeof *runs);
    int *shards = calloc((size_t)count, sizeof *shards);
    char error[4096] = "";
    int status = MX_EXIT_INPUT;
    mx_table *results = NULL, *samples = NULL;
    bool ok = runs && shards;
    for (int i = 0; ok && i < count; i++)
        ok = (runs[i] = mx_run_folder_load_checked(parsed->arguments[1 + i], error,
                                                   sizeof error)) != NULL;
    ok = ok && check_shards(runs, count, shards, error, sizeof error);
    char results_path[4200], samples_path[4200], json_path[4200];
    mx_format_text(results_path, sizeof results_path, "%s/results.csv", out);
    mx_format_text(samples_path, sizeof samples_path, "%s/samples.csv", out);
    mx_format_text(json_path, sizeof json_path, "%s/run.json", out);
    if (ok && access(results_path, F_OK) == 0)
        ok = mx_format_fail(error, sizeof error,
                            "%s already holds results: choose another OUT "
                            "(nothing is overwritten)",
                            out);
    const char *slash = strrchr(out, '/');
    const char *run_id = slash && slash[1] ? slash + 1 : out;
    ok = ok && (results = join(runs, count, false, run_id, error, sizeof error)) &&
         (samples = join(runs, count, true, run_id, error, sizeof error));
    if (!ok) {
        mx_cli_error("%s", error[0] ? error : "out of host memory");
        goto done;
    }
    mx_run_info info = runs[0]->meta;
    snprintf(info.run_id, sizeof info.run_id, "%s", run_id);
    snprintf(info.shard, sizeof info.shard, "merged %d", count);
    snprintf(info.command_line, sizeof info.command_line, "%s", mx_cli_command_line());
    info.rows_planned = info.rows_done = info.rows_ok = info.rows_failed = info.rows_skipped = 0;
    for (int i = 0; i < count; i++) {
        const mx_run_info *s = &runs[i]->meta;
        if (strcmp(s->start_time, info.start_time) < 0)
            snprintf(info.start_time, sizeof info.start_time, "%s", s->start_time);
        if (strcmp(s->end_time, info.end_time) > 0)
            snprintf(info.end_time, sizeof info.end_time, "%s", s->end_time);
        if (strcmp(s->status, "complete"))
            snprintf(info.status, sizeof info.status, "%s", s->status);
        info.rows_planned += s->rows_planned > 0 ? s->rows_planned : 0;
        info.rows_done += s->rows_done > 0 ? s->rows_done : 0;
        info.rows_ok += s->rows_ok > 0 ? s->rows_ok : 0;
        info.rows_failed += s->rows_failed > 0 ? s->rows_failed : 0;
        info.rows_skipped += s->rows_skipped > 0 ? s->rows_skipped : 0;
    }
    bool created = access(out, F_OK) != 0;
    if (!mx_ensure_folder(out)) {
        mx_cli_error("cannot create %s: %s", out, strerror(errno));
        goto done;
    }
    status = MX_EXIT_FAILED;
    /* all three files or none: a half-written OUT would hold "results" merge then refuses;
     * results.csv, which says OUT holds results, last */
    int saved = mx_table_save(samples, samples_path, error, sizeof error);
    saved += saved == 1 && mx_run_info_save(&info, json_path, error, sizeof error);
    saved += saved == 2 && mx_table_save(results, results_path, error, sizeof error);
    if (saved < 3) {
        mx_cli_error("%s", error);
        const char *written[] = {samples_path, json_path};
        for (int i = 0; i < saved; i++) unlink(written[i]);
        if (created) rmdir(out);
        goto done;
    }
    printf("merged %d shard%s of %s (%s) into %s: %zu rows, %zu samples, status %s\n", count,
           count == 1 ? "" : "s", info.suite, info.gpu_name, out, mx_table_row_count(results),
           mx_table_row_count(samples), info.status);
    status = MX_EXIT_OK;
done:
    mx_table_free(results);
    mx_table_free(samples);
    for (int i = 0; runs && i < count; i++) mx_run_folder_free(runs[i]);
    free(runs);
    free(shards);
    return status;
}

const mx_command mx_merge_command = {
    "merge",
    "Join the shards of one sweep (run --shard I/N) into one run folder.",
    "RUN... are the shards' folders, all N of one sweep in any order (N = 1 too: the one shard\n"
    "of a one-GPU make bench GPUS=0). merge checks that they belong together (the same sweep,\n"
    "commit, GPU model and method; every index of 1..N once; no row measured twice) and writes\n"
    "OUT/results.csv, samples.csv and run.json (shard 'merged N', the earliest start and latest\n"
    "end, the rows summed, the status complete only when every shard's is), which report and\n"
    "compare take like any run. OUT must not hold results already. Shards of different GPU\n"
    "models are refused: compare them instead.",
    NULL,
    0,
    run_merge,
    2,
    1 + MX_MAX_SHARDS,
    "OUT RUN...",
    NULL,
};
