/* `mxbench run`: its options and --help, the checks of everything given before the GPU is
 * touched (filters, sweep, --list, --shard, --retry, --inject-slowdown, --out), then the GPU's
 * ceilings, the measurement (bench_measure.c) and the summary. Files are rewritten atomically
 * after every problem (bench_rows.c); Ctrl-C stops after the current problem. */
#include "bench.h"
#include "bench_data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "data_dir.h"
#include "device.h"
#include "environment.h"
#include "ops.h"
#include "run_info.h"
#include "schema.h"
#include "shard.h"
#include "sweep.h"
#include "table.h"
#include "targets.h"
#include "timing.h"

// ---- interruption

volatile sig_atomic_t mx_bench_interrupted;

static void on_interrupt(int signal_number) {
    if (mx_bench_interrupted) { /* a second Ctrl-C: stop now */
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        return;
    }
    mx_bench_interrupted = 1;
    static const char message[] = "\nmxbench: interrupted: stopping after the current problem "
                                  "(Ctrl-C again to abort now)\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
}

// ---- the command

static bool in_list(const char *list, const char *name) {
    if (!list) return true;
    size_t length = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t item = end ? (size_t)(end - p) : strlen(p);
        if (item == length && strncmp(p, name, length) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

/* Keeps the rows whose op, variant and dtype pass the --ops/--variants/--dtype filters. */
static void filter_rows(mx_sweep *sweep, const mx_parsed_options *parsed) {
    size_t kept = 0;
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *row = &sweep->rows[i];
        if (in_list(mx_option_value(parsed, "ops"), row->op) &&
            in_list(mx_option_value(parsed, "variants"), row->variant) &&
            in_list(mx_option_value(parsed, "dtype"), row->dtype))
            sweep->rows[kept++] = *row;
    }
    sweep->count = kept;
}

/* Every comma-separated name of a filter must exist somewhere, or it is a typo. */
static bool check_filter(const mx_parsed_options *parsed, const char *option) {
    const char *list = mx_option_value(parsed, option);
    if (!list) return true;
    int op_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    char *copy = strdup(list); /* any length */
    if (!copy) {
        mx_cli_error("--%s: out of host memory", option);
        return false;
    }
    bool ok = true;
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name && ok;
         name = strtok_r(NULL, ",", &save)) {
        bool known = strcmp(option, "dtype") == 0 && mx_dtype_from_name(name) > MX_F32;
        for (int o = 0; o < op_count && !known; o++) {
            if (strcmp(option, "ops") == 0) known = strcmp(ops[o]->name, name) == 0;
            for (int v = 0; strcmp(option, "variants") == 0 && ops[o]->variants[v] && !known; v++)
                known = strcmp(ops[o]->variants[v], name) == 0;
        }
        if (!known) {
            mx_cli_error("--%s: unknown name '%s' (mxbench run --help lists them)", option, name);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* After a suite that is not there: the suites that are (the .sweep files of sweeps/). */
static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_suites_hint(void) {
    if (!mx_data_dir()) {
        fprintf(stderr,
                "  no data folder (sweeps/, plots/) found: looked in %s; set MXBENCH_DATA_DIR to "
                "the folder that holds them (share/mxbench of an installed tree)\n",
                mx_data_dir_searched());
        return;
    }
    char dir[4096];
    mx_data_path("sweeps", dir, sizeof dir);
    DIR *folder = opendir(dir);
    if (!folder) return;
    char *names[64];
    int count = 0;
    for (struct dirent *entry; count < 64 && (entry = readdir(folder));) {
        size_t length = strlen(entry->d_name);
        if (length > 6 && strcmp(entry->d_name + length - 6, ".sweep") == 0)
            names[count++] = strndup(entry->d_name, length - 6);
    }
    closedir(folder);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    fprintf(stderr, "  suites are the .sweep files in %s:", dir);
    for (int i = 0; i < count; i++) {
        fprintf(stderr, "%s %s", i ? "," : "", names[i] ? names[i] : "?");
        free(names[i]);
    }
    fprintf(stderr, "\n");
}

static bool load_sweep(const mx_parsed_options *parsed, mx_sweep *sweep, char *path,
                       size_t path_size) {
    const char *suite = mx_option_value(parsed, "suite"), *file = mx_option_value(parsed, "sweep");
    if (!suite == !file) {
        mx_cli_error("give exactly one of --suite NAME or --sweep FILE (see --help)");
        return false;
    }
    if (suite) {
        if (strchr(suite, '/')) {
            mx_cli_error("--suite '%s': a suite is a name (use --sweep for a file)", suite);
            return false;
        }
        char name[256];
        snprintf(name, sizeof name, "sweeps/%s.sweep", suite);
        mx_data_path(name, path, path_size);
    } else {
        snprintf(path, path_size, "%s", file);
    }
    int op_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    mx_sweep_op_vocabulary *vocabulary = calloc((size_t)op_count, sizeof *vocabulary);
    if (!vocabulary) {
        mx_cli_error("out of memory reading %s", path);
        return false;
    }
    for (int o = 0; o < op_count; o++)
        vocabulary[o] = (mx_sweep_op_vocabulary){ops[o]->name, ops[o]->variants};
    char error[1024];
    bool ok = mx_sweep_parse_file(path, vocabulary, op_count, sweep, error, sizeof error);
    free(vocabulary);
    if (!ok) {
        mx_cli_error("%s", error);
        if (suite && access(path, R_OK) != 0) print_suites_hint();
        return false;
    }
    return true;
}

/* Creates the parents of path as needed and path itself, which must not exist yet: two runs
 * started in the same second never share a folder (the second is refused). An existing empty
 * folder given with --out is accepted. */
static bool make_run_dir(const char *path) {
    char partial[3072];
    snprintf(partial, sizeof partial, "%s", path);
    for (char *p = partial + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(partial, 0777) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    if (mkdir(partial, 0777) == 0) return true;
    if (errno != EEXIST) return false;
    DIR *dir = opendir(partial);
    int entries = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));)
        entries += strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..");
    if (dir) closedir(dir);
    errno = EEXIST;
    return dir && entries == 0;
}

/* Per (op, variant), in the order they first appear: one pass over the rows. */
typedef struct {
    const char *op, *variant;
    int ok, overhead_pass, error_pass;
    double worst_overhead, worst_error, lowest_savings;
} summary_group;

/* A results row's judged VRAM saving (mx_target_vram_saved). */
static double judged_saving(const mx_table *t, int row) {
    const char *measured = mx_table_get(t, row, "vram_savings_measured_pct");
    return mx_target_vram_saved(measured[0] ? atof(measured) : NAN,
                                atof(mx_table_get(t, row, "vram_savings_pct")));
}

static void print_summary(const run_files *files) {
    const mx_table *t = files->results;
    size_t rows = mx_table_row_count(t);
    summary_group *groups = calloc(rows + 1, sizeof *groups);
    size_t group_count = 0;
    if (!groups) return;
    for (size_t i = 0; i < rows; i++) {
        const char *op = mx_table_get(t, (int)i, "op"),
                   *variant = mx_table_get(t, (int)i, "variant");
        size_t g = 0;
        while (g < group_count && (strcmp(groups[g].op, op) || strcmp(groups[g].variant, variant)))
            g++;
        if (g == group_count)
            groups[group_count++] = (summary_group){op, variant, 0, 0, 0, -INFINITY, 0.0, INFINITY};
        summary_group *group = &groups[g];
        if (!mx_table_get(t, (int)i, "time_us")[0]) continue;
        group->ok += !strcmp(mx_table_get(t, (int)i, "status"), "ok");
        group->overhead_pass += mx_flag_is_true(mx_table_get(t, (int)i, "pass_overhead"));
        group->error_pass += mx_flag_is_true(mx_table_get(t, (int)i, "pass_error"));
        group->worst_overhead =
            fmax(group->worst_overhead, atof(mx_table_get(t, (int)i, "overhead_pct")));
        group->worst_error =
            fmax(group->worst_error, atof(mx_table_get(t, (int)i, "rel_err_vs_fp16")));
        group->lowest_savings = fmin(group->lowest_savings, judged_saving(t, (int)i));
    }
    printf(
        "\n| op | variant | rows ok | pass overhead | pass error | worst overhead %% | worst rel "
        "err vs FP16 | lowest VRAM saved %% |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t g = 0; g < group_count; g++)
        printf("| %s | %s | %d | %d | %d | %+.1f | %.2e | %.1f |\n", groups[g].op,
               groups[g].variant, groups[g].ok, groups[g].overhead_pass, groups[g].error_pass,
               groups[g].worst_overhead, groups[g].worst_error, groups[g].lowest_savings);
    free(groups);
}

/* Problems of the sweep: each has an FP16 reference row besides its variants. */
static size_t count_problems(const mx_sweep *sweep) {
    size_t problems = 0;
    for (size_t i = 0; i < sweep->count; i++)
        problems += i == 0 || !mx_sweep_same_problem(&sweep->rows[i - 1], &sweep->rows[i]);
    return problems;
}

/* run --list: the rows to measure, in order, under a header, with what tells them apart. */
static void print_list(const mx_sweep *sweep, const char *path) {
    size_t problems = count_problems(sweep);
    printf("%s: %zu rows to measure: %zu variant rows and %zu FP16 reference rows (one per "
           "problem, timed in the same rounds as its variants)\n",
           path, sweep->count + problems, sweep->count, problems);
    int widths[3] = {(int)strlen("group"), (int)strlen("variant"), (int)strlen("problem")};
    char problem[256];
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *r = &sweep->rows[i];
        mx_sweep_problem(r, problem, sizeof problem);
        int lengths[3] = {(int)strlen(r->group), (int)strlen(r->variant), (int)strlen(problem)};
        for (int c = 0; c < 3; c++)
            if (lengths[c] > widths[c]) widths[c] = lengths[c];
    }
    printf("%-*s  %-*s  %-*s  %s\n", widths[0], "group", widths[1], "variant", widths[2], "problem",
           "shape");
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *r = &sweep->rows[i];
        mx_sweep_problem(r, problem, sizeof problem);
        printf("%-*s  %-*s  %-*s  %s\n", widths[0], r->group, widths[1], r->variant, widths[2],
               problem, r->shape_name);
    }
}

/* --shard I/N: the sweep cut down to its I-th slice (shard.h), said on stderr. */
static bool select_shard(mx_sweep *sweep, const char *text, double budget_ms) {
    int index, count;
    if (!mx_shard_parse(text, &index, &count)) {
        mx_cli_error("--shard '%s': expected I/N with 1 <= I <= N <= 1024 (e.g. 2/4)", text);
        return false;
    }
    double shard_cost, total_cost;
    char error[256];
    size_t before = sweep->count;
    if (!mx_shard_select(sweep, index, count, budget_ms, &shard_cost, &total_cost, error,
                         sizeof error)) {
        mx_cli_error("%s", error);
        return false;
    }
    fprintf(stderr, "shard %d/%d: %zu of %zu variant rows, %.0f %% of the sweep's expected cost\n",
            index, count, sweep->count, before,
            total_cost > 0 ? 100.0 * shard_cost / total_cost : 0.0);
    if (sweep->count == 0)
        fprintf(stderr, "shard %d/%d is empty: the sweep has fewer problems than shards\n", index,
                count);
    return true;
}

/* An integer cell of compare.csv; empty is 0 (not applicable), as schema.c's fallbacks say. */
static int64_t cell_integer(const mx_table *t, int row, const char *column) {
    const char *text = mx_table_get(t, row, column);
    return text && text[0] ? atoll(text) : 0;
}

/* --retry COMPARE_CSV: only the sweep rows compare called SLOWER there (make nightly measures
 * them again before failing). */
static bool keep_retried(mx_sweep *sweep, const char *path) {
    mx_table *t = NULL;
    char error[1024];
    if (!mx_csv_read(path, &t, error, sizeof error)) {
        mx_cli_error("--retry: %s", error);
        return false;
    }
    if (mx_table_column_index(t, "verdict") < 0) {
        mx_cli_error("--retry %s: no verdict column (give the compare.csv of mxbench compare)",
                     path);
        mx_table_free(t);
        return false;
    }
    size_t kept = 0;
    for (size_t i = 0; i < sweep->count; i++) {
        const mx_sweep_row *row = &sweep->rows[i];
        bool slower = false;
        for (int r = 0; r < (int)mx_table_row_count(t) && !slower; r++)
            slower =
                !strcmp(mx_table_get(t, r, "verdict"), "SLOWER") &&
                !strcmp(mx_table_get(t, r, "op"), row->op) &&
                !strcmp(mx_table_get(t, r, "variant"), row->variant) &&
                !strcmp(mx_table_get(t, r, "dtype"), row->dtype) &&
                !strcmp(mx_table_get(t, r, "dist"), row->dist) &&
                cell_integer(t, r, "M") == row->m && cell_integer(t, r, "N") == row->n &&
                cell_integer(t, r, "K") == row->k &&
                cell_integer(t, r, "experts") == row->experts &&
                cell_integer(t, r, "topk") == row->topk &&
                (cell_integer(t, r, "batch") ? cell_integer(t, r, "batch") : 1) == row->batch &&
                cell_integer(t, r, "seed") == row->seed &&
                cell_integer(t, r, "kv_heads") == row->kv_heads;
        if (slower) sweep->rows[kept++] = *row;
    }
    sweep->count = kept;
    mx_table_free(t);
    return true;
}

/* --inject-slowdown VARIANT:PCT: a variant of the table, 0 < PCT <= 1000. */
static bool parse_injection(const char *text) {
    const char *colon = strchr(text, ':');
    char *end = NULL;
    double pct = colon ? strtod(colon + 1, &end) : 0.0;
    size_t length = colon ? (size_t)(colon - text) : 0;
    if (!colon || length == 0 || length >= sizeof mx_bench_injected_variant || end == colon + 1 ||
        *end || !(pct > 0.0 && pct <= 1000.0)) {
        mx_cli_error("--inject-slowdown '%s': expected VARIANT:PCT, e.g. skinny:10 (PCT in "
                     "(0, 1000])",
                     text);
        return false;
    }
    memcpy(mx_bench_injected_variant, text, length);
    mx_bench_injected_variant[length] = '\0';
    if (!mx_variant_known(mx_bench_injected_variant)) {
        mx_cli_error("--inject-slowdown '%s': unknown variant '%s' (mxbench run --help lists them)",
                     text, mx_bench_injected_variant);
        return false;
    }
    const mx_variant_traits *traits = mx_variant_traits_of(mx_bench_injected_variant);
    if (traits->reference || traits->cublas_only) {
        mx_cli_error("--inject-slowdown '%s': %s times cuBLAS alone, which the gate never judges "
                     "(a slower fp16 would make every variant look faster): name an MXFP4 variant",
                     text, mx_bench_injected_variant);
        return false;
    }
    mx_bench_injected_pct = pct;
    return true;
}

static int run_run(const mx_parsed_options *parsed) {
    mx_sweep sweep = {0};
    char sweep_path[512];
    int64_t device, seed, min_samples, max_samples, budget_ms, min_time_ms;
    double max_noise = 0.0;
    if (!mx_option_int64(parsed, "gpu", 0, 63, &device) ||
        !mx_option_int64(parsed, "seed", 0, INT64_MAX, &seed) ||
        !mx_option_int64(parsed, "min-samples", 3, 100000, &min_samples) ||
        !mx_option_int64(parsed, "max-samples", 3, 100000, &max_samples) ||
        !mx_option_int64(parsed, "time-budget-ms", 1, 3600000, &budget_ms) ||
        !mx_option_int64(parsed, "min-time-ms", 0, 3600000, &min_time_ms))
        return MX_EXIT_INPUT;
    const char *noise_text = mx_option_value(parsed, "max-noise-pct");
    char *end;
    max_noise = strtod(noise_text, &end);
    if (end == noise_text || *end || !(max_noise > 0.0 && max_noise <= 100.0)) {
        mx_cli_error("--max-noise-pct '%s': expected a number in (0, 100]", noise_text);
        return MX_EXIT_INPUT;
    }
    if (max_samples < min_samples) {
        mx_cli_error("--max-samples %lld is below --min-samples %lld", (long long)max_samples,
                     (long long)min_samples);
        return MX_EXIT_INPUT;
    }
    if (!check_filter(parsed, "ops") || !check_filter(parsed, "variants") ||
        !check_filter(parsed, "dtype") ||
        !load_sweep(parsed, &sweep, sweep_path, sizeof sweep_path))
        return MX_EXIT_INPUT;
    filter_rows(&sweep, parsed);
    for (size_t i = 0; i < sweep.count; i++)
        if (sweep.rows[i].seed == 0) sweep.rows[i].seed = seed;
    const char *inject = mx_option_value(parsed, "inject-slowdown");
    if (inject && !parse_injection(inject)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    const char *retry = mx_option_value(parsed, "retry");
    if (retry && !keep_retried(&sweep, retry)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    const char *shard = mx_option_value(parsed, "shard");
    if (shard && !select_shard(&sweep, shard, (double)budget_ms)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (sweep.count == 0 && !shard) {
        mx_cli_error("no rows left in %s after the filters", sweep_path);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (mx_option_value(parsed, "list")) {
        print_list(&sweep, sweep_path);
        mx_sweep_free(&sweep);
        return MX_EXIT_OK;
    }
    static mx_run_info info;
    mx_run_info_clear(&info); /* every field unknown (-1, NaN); the row counts start at 0 */
    info.rows_done = info.rows_ok = info.rows_failed = info.rows_skipped = 0;
    if (shard) snprintf(info.shard, sizeof info.shard, "%s", shard);
    char start_stamp[32];
    mx_utc_now(info.start_time, sizeof info.start_time);
    time_t now = time(NULL);
    strftime(start_stamp, sizeof start_stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
    run_files files = {.info = &info};
    const char *out = mx_option_value(parsed, "out");
    if (out) {
        snprintf(files.dir, sizeof files.dir, "%s", out);
        for (size_t n = strlen(files.dir); n > 1 && files.dir[n - 1] == '/'; n--)
            files.dir[n - 1] = '\0';
    } else
        snprintf(files.dir, sizeof files.dir, "results/%s", start_stamp);
    const char *base = strrchr(files.dir, '/');
    const char *name = base && base[1] ? base + 1 : files.dir;
    if (strlen(name) >= sizeof info.run_id) {
        mx_cli_error("--out '%s': the folder name (the run id) must be under %zu characters",
                     files.dir, sizeof info.run_id);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    memcpy(info.run_id, name, strlen(name) + 1);
    snprintf(files.results_path, sizeof files.results_path, "%s/results.csv", files.dir);
    snprintf(files.samples_path, sizeof files.samples_path, "%s/samples.csv", files.dir);
    snprintf(files.run_path, sizeof files.run_path, "%s/run.json", files.dir);
    if (access(files.results_path, F_OK) == 0) {
        mx_cli_error("%s already holds results: choose another --out (nothing is overwritten)",
                     files.dir);
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    if (!mx_cli_open_device((int)device, NULL)) {
        mx_sweep_free(&sweep);
        return MX_EXIT_NO_DEVICE;
    }

    snprintf(info.suite, sizeof info.suite, "%s", sweep.name);
    snprintf(info.sweep_path, sizeof info.sweep_path, "%s", sweep_path);
    snprintf(info.status, sizeof info.status, "running");
    snprintf(info.command_line, sizeof info.command_line, "%s", mx_cli_command_line());
    info.min_samples = min_samples;
    info.max_samples = max_samples;
    info.max_noise_pct = max_noise;
    info.time_budget_ms = (double)budget_ms;
    info.min_time_ms = (double)min_time_ms;
    if (mx_bench_injected_pct > 0.0)
        snprintf(info.injected, sizeof info.injected, "%s +%g %%", mx_bench_injected_variant,
                 mx_bench_injected_pct);
    snprintf(info.timing, sizeof info.timing, "%s", MX_TIMING_ROUNDS);
    info.seed = (uint64_t)seed;
    info.rows_planned = (int64_t)(sweep.count + count_problems(&sweep));

    char why[512] = "";
    mx_timer t = {.rule = {.min_samples = (int)min_samples,
                           .max_samples = (int)max_samples,
                           .max_noise_pct = max_noise,
                           .min_ms = (double)min_time_ms,
                           .budget_ms = (double)budget_ms}};
    if (!mx_collect_environment((int)device, &info, why, sizeof why) ||
        !mx_cuda_step(cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking), why, sizeof why,
                      "cudaStreamCreate") ||
        !mx_cuda_step(cudaEventCreate(&t.start), why, sizeof why, "cudaEventCreate") ||
        !mx_cuda_step(cudaEventCreate(&t.stop), why, sizeof why, "cudaEventCreate")) {
        mx_cli_error("%s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    info.l2_flushed = !mx_option_value(parsed, "warm-l2");
    if (info.l2_flushed && !mx_timer_flush_buffer(&t, info.l2_bytes, why, sizeof why)) {
        mx_cli_error("%s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    info.l2_flush_bytes = (int64_t)t.flush_bytes;
    bool quiet = mx_option_value(parsed, "quiet") != NULL;
    if (!quiet)
        fprintf(stderr, "mxbench run: %s (%lld rows) on %s; measuring ceilings...\n", sweep_path,
                (long long)info.rows_planned, info.gpu_name);
    if (!mx_measure_ceilings(&t, &info, why, sizeof why)) {
        mx_cli_error("measuring the ceilings: %s", why);
        mx_sweep_free(&sweep);
        return MX_EXIT_FAILED;
    }
    if (!quiet)
        fprintf(stderr,
                "ceilings: copy %.0f GB/s, cuBLAS FP16 8192^3 %.0f TFLOP/s, SM clock %.0f "
                "MHz; results in %s/\n",
                info.copy_gbps, info.fp16_tflops, info.sm_clock_start_mhz, files.dir);

    int column_count;
    const char *const *columns = mx_column_names(MX_IN_RESULTS, &column_count);
    files.results = mx_table_create(columns, column_count);
    columns = mx_column_names(MX_IN_SAMPLES, &column_count);
    files.samples = mx_table_create(columns, column_count);
    if (!files.results || !files.samples || !make_run_dir(files.dir)) {
        mx_cli_error("cannot create %s: %s", files.dir,
                     files.results && files.samples ? strerror(errno) : "out of host memory");
        mx_sweep_free(&sweep);
        return MX_EXIT_INPUT;
    }
    struct sigaction action = {.sa_handler = on_interrupt};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    progress prog = {.quiet = quiet, .begin_ms = mx_now_ms(), .total = info.rows_planned};
    int status = mx_bench_save_all(&files) ? mx_bench_run_problems(&files, &t, &prog, &sweep)
                                           : MX_EXIT_FAILED;
    mx_utc_now(info.end_time, sizeof info.end_time);
    snprintf(info.status, sizeof info.status, "%s",
             status != MX_EXIT_OK   ? "failed"
             : mx_bench_interrupted ? "interrupted"
                                    : "complete");
    if (!mx_bench_save_all(&files)) status = MX_EXIT_FAILED;
    if (!quiet) print_summary(&files);
    printf("\n%s: %lld of %lld rows (%lld ok, %lld fail, %lld skipped) in %.0f s\nresults: %s/ "
           "(results.csv, samples.csv, run.json)\n",
           info.status, (long long)info.rows_done, (long long)info.rows_planned,
           (long long)info.rows_ok, (long long)info.rows_failed, (long long)info.rows_skipped,
           (mx_now_ms() - prog.begin_ms) / 1e3, files.dir);
    mx_table_free(files.results);
    mx_table_free(files.samples);
    mx_sweep_free(&sweep);
    cudaFree(t.flush);
    if (status == MX_EXIT_OK && mx_bench_interrupted) return MX_EXIT_INTERRUPTED;
    return status;
}

static const mx_option run_options[] = {
    {"suite", "NAME",
     "a sweep of the data folder's sweeps/ (below): smoke, standard, decode, prefill, "
     "gpt-oss-20b, gpt-oss-120b, nightly",
     NULL, true},
    {"sweep", "FILE", "a sweep file of your own (format: sweeps/standard.sweep)", NULL, true},
    {"out", "DIR",
     "where results.csv, samples.csv and run.json go (default results/<UTC time>); "
     "must not hold results already",
     NULL, true},
    {"ops", "A,B", "only these ops (below)", NULL, true},
    {"variants", "A,B", "only these variants (below); the FP16 reference always runs", NULL, true},
    {"dtype", "A,B", "only these activation dtypes (f16, bf16)", NULL, true},
    {"time-budget-ms", "N",
     "sampling time per row (a problem's rows share theirs), unless the sweep sets budget_ms",
     "400", false},
    {"min-time-ms", "N", "sampling time per row at least, even with the noise target reached", "10",
     false},
    {"min-samples", "N", "rounds (samples per row) at least", "10", false},
    {"max-samples", "N", "rounds (samples per row) at most", "1000", false},
    {"max-noise-pct", "X",
     "stop once the FP16 time and every variant's ratio to it have a relative standard error "
     "(from their 95 % intervals) of at most X %",
     "0.5", false},
    {"warm-l2", NULL, "do not flush the L2 before each sample (weights may stay cached)", NULL,
     false},
    {"gpu", "N", "CUDA device ordinal of the GPU to measure (nvidia-smi lists them)", "0", false},
    {"seed", "N", "data seed for rows whose sweep sets none", "1", false},
    {"shard", "I/N",
     "run only the I-th of N slices of the sweep, balanced by expected cost, a problem's rows "
     "together (mxbench merge joins the shards' folders)",
     NULL, true},
    {"retry", "COMPARE_CSV",
     "only the rows that compare.csv calls SLOWER (make nightly measures them again before the "
     "gate fails)",
     NULL, true},
    {"inject-slowdown", "VARIANT:PCT",
     "test only: make VARIANT about PCT % slower (a spin after each of its calls) to prove that "
     "the nightly gate finds it; run.json, report and compare say so",
     NULL, true},
    {"list", NULL, "print the rows the sweep expands to and exit (no GPU needed)", NULL, false},
    {"quiet", NULL, "no progress lines on stderr", NULL, false},
};

/* Ops and their variants from the op table, then what each variant is (variants.c). */
static void run_help_tail(void) {
    int op_count, variant_count;
    const mx_bench_op *const *ops = mx_bench_ops(&op_count);
    const mx_variant_traits *variants = mx_variants(&variant_count);
    printf(
        "\nOps (sweep `ops`) and their MXFP4 variants; what N, K, m and batch mean per op is in\n"
        "sweeps/standard.sweep:\n");
    for (int o = 0; o < op_count; o++) {
        printf("  %-14s", ops[o]->name);
        for (const char *const *v = ops[o]->variants; *v; v++) printf(" %s", *v);
        printf("\n");
    }
    printf("Variants (* keeps an FP16 copy of the weights: never the best MXFP4, VRAM not judged;\n"
           "c times cuBLAS alone: the nightly gate's control, never gated):\n");
    for (int v = 0; v < variant_count; v++)
        printf("  %-16s %s%s %s\n", variants[v].name, variants[v].fp16_copy ? "*" : " ",
               variants[v].cublas_only ? "c" : " ", variants[v].summary);
    printf(
        "\nMethod constants: the L2 flush reads %dx the GPU's L2 before every sample; throttle\n"
        "share %.0f %% of the start-up SM clock; self-check margin %.1f %%; run-to-run SD %.1f %%\n"
        "of a median, added to every interval (docs/design.md, section 4).\n",
        MX_L2_FLUSH_FACTOR, 100.0 * mx_targets.throttle_fraction, mx_targets.self_check_pct,
        MX_RUN_TO_RUN_SD_PCT);
    const char *data = mx_data_dir();
    printf("\nData folder (sweeps/, plots/, baselines/; MXBENCH_DATA_DIR overrides): %s\n",
           data ? data : "none found");
    if (!data) printf("  looked in %s\n", mx_data_dir_searched());
}

const mx_command mx_run_command = {
    "run",
    "Run a sweep: speed vs cuBLAS FP16, errors, VRAM per (op, variant, shape, dtype, dist) row.",
    "Ceilings first, on random data: a 1 GiB device-to-device copy (GB/s = bytes read +\n"
    "written) and cuBLAS FP16 at 8192^3. Then per problem: inputs and weights from the row's\n"
    "distribution and seed, MXFP4 weights (floor scales) dequantized by the CPU reference\n"
    "codec, and three references: the op's FP16 path on those weights (also timed, as variant\n"
    "fp16: every weight product through cuBLAS with FP32 compute; for gemm the fastest of\n"
    "cublasGemmEx (cuBLAS's own choice, also reported as fp16_default_us) and up to 16 cublasLt\n"
    "heuristic candidates with a 32 MiB workspace, timed in the same rounds, clearly slower\n"
    "ones dropped on the way; other ops cublasGemmEx; the rest of the op, e.g. the attention\n"
    "core or the sampler, shared with the MXFP4 path), FP64 on the same exact weights (cuBLAS\n"
    "DGEMM, with the FFN blocks' and MoE experts' activations on the CPU; MoE only where the\n"
    "experts a row can hit fit 4 GB in FP32, the attention core on the CPU only up to a size;\n"
    "beyond, rel_err_vs_exact is empty), and the FP16 path on the unquantized weights (the\n"
    "quantization error). Every\n"
    "variant of the problem and the FP16 path are prepared together; each is checked once\n"
    "(output poisoned with NaN), warmed up twice, then all are timed in interleaved rounds: a\n"
    "round times each once, in an order changed every round (every call at every position and\n"
    "after every other call equally often), so that drift, clocks, position and the call before\n"
    "hit all alike (CUDA events around exactly the call; an L2 flush read before each, its size\n"
    "below: clean lines, no write-back charged to the next call), then probes the SM clock.\n"
    "overhead_pct is the median of the per-round ratios to FP16, with a 95 % interval\n"
    "(overhead_pct_lo/hi; time_us_lo/hi for the time): the rounds' distribution-free interval\n"
    "of the median, widened by how far a re-run moves a median (measured between runs:\n"
    "docs/design.md, section 4), so that another run's figure falls in it. Rounds stop once the\n"
    "FP16 time and every ratio are known to --max-noise-pct (relative standard error from the\n"
    "rounds' interval) after --min-time-ms per row, or at the rows' --time-budget-ms, with\n"
    "--min-samples rounds at least. A problem whose median SM clock is below the throttle share\n"
    "of the start-up clock (below) is timed again after a pause, and if still low flagged\n"
    "throttled; one whose persistent variant (cublasGemmEx's own call on a copy) measures more\n"
    "than the self-check margin (below) off that call beyond its interval is flagged unstable;\n"
    "neither is judged by any speed target. results.csv, samples.csv and run.json are rewritten\n"
    "atomically after every problem; Ctrl-C stops after the current problem and leaves valid\n"
    "files (exit 130). A row that cannot run (out of memory, unsupported shape) is written as\n"
    "skipped with the reason, and the sweep goes on.",
    run_options,
    (int)(sizeof run_options / sizeof run_options[0]),
    run_run,
    0,
    0,
    NULL,
    run_help_tail,
};
