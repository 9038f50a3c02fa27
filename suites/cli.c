/* CLI suite: runs the built mxbench binary. Good calls must reproduce the library's bytes; bad
 * calls must exit non-zero with a message naming the value and leave no output file behind. */
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../reference/codec.h"
#include "common.h"

extern char **environ;

typedef struct {
    int exit_code;
    char err[4096];
    char out[8192];
} cli_result;

static char work_dir[64];

static void make_work_dir(void) {
    strcpy(work_dir, "/tmp/mxbench-cli.XXXXXX");
    cr_assert(mkdtemp(work_dir), "mkdtemp failed");
}

static const char *path_in(const char *name) {
    static char paths[8][128];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", work_dir, name);
    return path;
}

static void read_text(const char *path, char *buffer, size_t size) {
    FILE *file = fopen(path, "r");
    size_t got = file ? fread(buffer, 1, size - 1, file) : 0;
    buffer[got] = '\0';
    if (file) fclose(file);
}

/* Runs mxbench with args (NULL-terminated), capturing stdout and stderr. */
static cli_result run_cli(const char *const *args) {
    const char *argv[32] = {MXBENCH_EXE};
    int argc = 1;
    while (args[argc - 1] && argc < 31) argv[argc] = args[argc - 1], argc++;
    argv[argc] = NULL;
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s.stdout", work_dir);
    snprintf(err_path, sizeof err_path, "%s.stderr", work_dir);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int spawn = posix_spawn(&pid, MXBENCH_EXE, &actions, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    cr_assert_eq(spawn, 0, "cannot start %s", MXBENCH_EXE);
    int wait_status = 0;
    cr_assert_eq(waitpid(pid, &wait_status, 0), pid);
    cr_assert(WIFEXITED(wait_status), "mxbench did not exit normally (signal %d)",
              WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
    cli_result result = {.exit_code = WEXITSTATUS(wait_status)};
    read_text(out_path, result.out, sizeof result.out);
    read_text(err_path, result.err, sizeof result.err);
    unlink(out_path);
    unlink(err_path);
    return result;
}

static int files_in_work_dir(void) {
    DIR *dir = opendir(work_dir);
    cr_assert(dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir));)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) count++;
    closedir(dir);
    return count;
}

static void write_file(const char *path, const void *data, size_t bytes) {
    FILE *file = fopen(path, "wb");
    cr_assert(file && fwrite(data, 1, bytes, file) == bytes, "cannot write %s", path);
    fclose(file);
}

static void *read_file(const char *path, size_t bytes) {
    void *data = malloc(bytes + 1);
    FILE *file = fopen(path, "rb");
    cr_assert(data && file, "cannot open %s", path);
    cr_assert_eq(fread(data, 1, bytes + 1, file), bytes, "%s has the wrong size", path);
    fclose(file);
    return data;
}

/* A fresh random FP32 input [rows, cols] written to in.f32. */
static float *write_random_input(int rows, int cols) {
    mx_rng rng = mx_rng_fresh();
    float *values = malloc((size_t)rows * cols * sizeof(float));
    cr_assert(values);
    for (int i = 0; i < rows * cols; i++) values[i] = (float)(mx_rng_gaussian(&rng) * 3.0);
    write_file(path_in("in.f32"), values, (size_t)rows * cols * sizeof(float));
    return values;
}

/* Runs a bad call and checks: exit code, a message holding each needle, no file left behind. */
static void expect_refusal(const char *const *args, int exit_code, const char *needle_a,
                           const char *needle_b) {
    int files_before = files_in_work_dir();
    cli_result result = run_cli(args);
    cr_assert_eq(result.exit_code, exit_code, "exit %d, expected %d; stderr: %s", result.exit_code,
                 exit_code, result.err);
    cr_assert(strstr(result.err, "error:"), "no error message: '%s'", result.err);
    cr_assert(strstr(result.err, needle_a), "message does not name '%s': %s", needle_a, result.err);
    if (needle_b)
        cr_assert(strstr(result.err, needle_b), "message does not say '%s': %s", needle_b,
                  result.err);
    cr_assert_eq(files_in_work_dir(), files_before, "a file was left behind by: %s", result.err);
}

#define QUANTIZE(rows, cols, ...)                                                                  \
    (const char *const[]) {                                                                        \
        "quantize", "--in", path_in("in.f32"), "--dtype", "f32", "--rows", rows, "--cols", cols,   \
            "--out-blocks", path_in("w.blocks"), "--out-scales", path_in("w.scales"),              \
            __VA_ARGS__ NULL                                                                       \
    }

Test(cli, quantize_and_dequantize_reproduce_the_library, .init = make_work_dir) {
    const int rows = 8, cols = 96;
    float *values = write_random_input(rows, cols);
    const char *modes[2] = {"floor", "rceil"};
    for (int m = 0; m < 2; m++) {
        cli_result result = run_cli(QUANTIZE("8", "96", "--scale-mode", modes[m], ));
        cr_assert_eq(result.exit_code, 0, "quantize failed: %s", result.err);
        uint8_t expected[rows * cols / 2 + rows * cols / 32];
        MX_CR_OK(mx_ref_quantize(values, MX_F32, rows, cols, (mx_scale_mode)m, expected,
                                 expected + rows * cols / 2));
        uint8_t *blocks = read_file(path_in("w.blocks"), rows * cols / 2);
        uint8_t *scales = read_file(path_in("w.scales"), rows * cols / 32);
        cr_assert(memcmp(blocks, expected, rows * cols / 2) == 0, "blocks differ (%s)", modes[m]);
        cr_assert(memcmp(scales, expected + rows * cols / 2, rows * cols / 32) == 0,
                  "scales differ");

        result = run_cli((const char *const[]){"dequantize", "--blocks", path_in("w.blocks"),
                                               "--scales", path_in("w.scales"), "--rows", "8",
                                               "--cols=96", "--out", path_in("out.f32"), NULL});
        cr_assert_eq(result.exit_code, 0, "dequantize failed: %s", result.err);
        float decoded[rows * cols];
        MX_CR_OK(mx_ref_dequantize(blocks, scales, rows, cols, decoded));
        float *got = read_file(path_in("out.f32"), sizeof decoded);
        cr_assert(memcmp(got, decoded, sizeof decoded) == 0, "dequantized values differ");
        free(blocks);
        free(scales);
        free(got);
    }
    free(values);
}

Test(cli, shape_errors_name_the_value, .init = make_work_dir) {
    free(write_random_input(2, 64));
    expect_refusal(QUANTIZE("4", "33", ), 1, "33", "multiple of");
    expect_refusal(QUANTIZE("0", "32", ), 1, "--rows '0'", NULL);
    expect_refusal(QUANTIZE("-5", "64", ), 1, "--rows '-5'", NULL);
    expect_refusal(QUANTIZE("2", "0", ), 1, "--cols '0'", NULL);
    expect_refusal(QUANTIZE("2", "sixty-four", ), 1, "sixty-four", "integer");
    expect_refusal(QUANTIZE("99999999999999999999", "64", ), 1, "99999999999999999999", NULL);
    expect_refusal(QUANTIZE("4611686018427387904", "64", ), 1, "4611686018427387904", "overflows");
}

Test(cli, input_size_must_match_the_shape, .init = make_work_dir) {
    free(write_random_input(2, 64)); /* 512 bytes */
    expect_refusal(QUANTIZE("4", "64", ), 1, "512 bytes", "too short");
    expect_refusal(QUANTIZE("1", "64", ), 1, "needs exactly 256", "too long");
    const char *const bf16_args[] = {"quantize",
                                     "--in",
                                     path_in("in.f32"),
                                     "--dtype",
                                     "bf16",
                                     "--rows",
                                     "2",
                                     "--cols",
                                     "64",
                                     "--out-blocks",
                                     path_in("w.blocks"),
                                     "--out-scales",
                                     path_in("w.scales"),
                                     NULL};
    expect_refusal(bf16_args, 1, "needs exactly 256", "bf16");
}

Test(cli, unknown_dtype_mode_option_and_missing_flags, .init = make_work_dir) {
    free(write_random_input(2, 64));
    const char *const bad_dtype[] = {"quantize",
                                     "--in",
                                     path_in("in.f32"),
                                     "--dtype",
                                     "f8",
                                     "--rows",
                                     "2",
                                     "--cols",
                                     "64",
                                     "--out-blocks",
                                     path_in("w.blocks"),
                                     "--out-scales",
                                     path_in("w.scales"),
                                     NULL};
    expect_refusal(bad_dtype, 1, "'f8'", "f32, f16, bf16");
    expect_refusal(QUANTIZE("2", "64", "--scale-mode", "ceil", ), 1, "'ceil'", "floor, rceil");
    expect_refusal(QUANTIZE("2", "64", "--device", "tpu", ), 1, "'tpu'", "cpu, gpu");
    expect_refusal(QUANTIZE("2", "64", "--colour", "red", ), 1, "--colour", "unknown option");
    expect_refusal(QUANTIZE("2", "64", "--rows", "2", ), 1, "--rows", "twice");
    const char *const missing[] = {
        "quantize", "--in", path_in("in.f32"), "--dtype",           "f32", "--rows", "2",
        "--cols",   "64",   "--out-scales",    path_in("w.scales"), NULL};
    expect_refusal(missing, 1, "--out-blocks", "missing");
    expect_refusal((const char *const[]){"quantise", NULL}, 1, "quantise", "unknown command");
}

Test(cli, unreadable_inputs_and_unwritable_outputs, .init = make_work_dir) {
    free(write_random_input(2, 64));
    const char *const no_input[] = {"quantize",
                                    "--in",
                                    path_in("absent.f32"),
                                    "--dtype",
                                    "f32",
                                    "--rows",
                                    "2",
                                    "--cols",
                                    "64",
                                    "--out-blocks",
                                    path_in("w.blocks"),
                                    "--out-scales",
                                    path_in("w.scales"),
                                    NULL};
    expect_refusal(no_input, 1, "absent.f32", "No such file");
    const char *const dir_input[] = {"dequantize", "--blocks", work_dir,     "--scales",
                                     work_dir,     "--rows",   "2",          "--cols",
                                     "64",         "--out",    path_in("o"), NULL};
    expect_refusal(dir_input, 1, work_dir, "not a regular file");
    const char *const bad_dir[] = {"quantize",
                                   "--in",
                                   path_in("in.f32"),
                                   "--dtype",
                                   "f32",
                                   "--rows",
                                   "2",
                                   "--cols",
                                   "64",
                                   "--out-blocks",
                                   path_in("nowhere/w.blocks"),
                                   "--out-scales",
                                   path_in("w.scales"),
                                   NULL};
    expect_refusal(bad_dir, 1, "nowhere/w.blocks", "cannot create");
    /* The second output cannot be renamed into place (a directory has its name): the first,
     * already written, must be removed again. */
    cr_assert_eq(mkdir(path_in("scales-dir"), 0700), 0);
    const char *const second_fails[] = {"quantize",
                                        "--in",
                                        path_in("in.f32"),
                                        "--dtype",
                                        "f32",
                                        "--rows",
                                        "2",
                                        "--cols",
                                        "64",
                                        "--out-blocks",
                                        path_in("w.blocks"),
                                        "--out-scales",
                                        path_in("scales-dir"),
                                        NULL};
    expect_refusal(second_fails, 1, "scales-dir", "cannot write");
    cr_assert_eq(access(path_in("w.blocks"), F_OK), -1, "the first output was left behind");
}

Test(cli, gpu_device_runs_the_kernels_or_says_there_is_no_gpu, .init = make_work_dir) {
    const int rows = 16, cols = 256;
    float *values = write_random_input(rows, cols);
    char reason[256];
    if (!mx_test_gpu_available(reason, sizeof reason)) {
        expect_refusal(QUANTIZE("16", "256", "--device", "gpu", ), 2, "no usable CUDA device",
                       "--device cpu");
    } else {
        cli_result result = run_cli(QUANTIZE("16", "256", "--device", "gpu", ));
        cr_assert_eq(result.exit_code, 0, "GPU quantize failed: %s", result.err);
        uint8_t expected[rows * cols / 2];
        uint8_t expected_scales[rows * cols / 32];
        MX_CR_OK(
            mx_ref_quantize(values, MX_F32, rows, cols, MX_SCALE_FLOOR, expected, expected_scales));
        uint8_t *blocks = read_file(path_in("w.blocks"), sizeof expected);
        cr_assert(memcmp(blocks, expected, sizeof expected) == 0, "GPU CLI blocks differ");
        free(blocks);
    }
    free(values);
}

Test(cli, help_describes_every_flag, .init = make_work_dir) {
    const char *const commands[] = {"quantize", "dequantize"};
    const char *const flags[2][8] = {
        {"--in", "--dtype", "--rows", "--cols", "--scale-mode", "--out-blocks", "--out-scales",
         "--device"},
        {"--blocks", "--scales", "--rows", "--cols", "--out", "--device", NULL, NULL}};
    for (int c = 0; c < 2; c++) {
        cli_result result = run_cli((const char *const[]){commands[c], "--help", NULL});
        cr_assert_eq(result.exit_code, 0);
        for (int f = 0; f < 8 && flags[c][f]; f++)
            cr_assert(strstr(result.out, flags[c][f]), "%s --help lacks %s", commands[c],
                      flags[c][f]);
    }
    cli_result result = run_cli((const char *const[]){"--help", NULL});
    cr_assert_eq(result.exit_code, 0);
    cr_assert(strstr(result.out, "quantize") && strstr(result.out, "dequantize"));
}
