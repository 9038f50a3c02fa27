/* CLI suite: runs the built mxbench binary. Good calls must reproduce the library's bytes; bad
 * calls must exit non-zero with a message naming the value and leave no output file behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "common.h"

static int files_in_work_dir(void) {
    DIR *dir = opendir(mx_test_work_dir);
    cr_assert(dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir));)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) count++;
    closedir(dir);
    return count;
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
    mx_test_write_file(mx_test_path("in.f32"), values, (size_t)rows * cols * sizeof(float));
    return values;
}

/* Runs a bad call and checks: exit code, a message holding each needle, no file left behind. */
static void expect_refusal(const char *const *args, int exit_code, const char *needle_a,
                           const char *needle_b) {
    int files_before = files_in_work_dir();
    mx_cli_result result = mx_test_run_cli(args);
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
        "quantize", "--in", mx_test_path("in.f32"), "--dtype", "f32", "--rows", rows, "--cols",    \
            cols, "--out-blocks", mx_test_path("w.blocks"), "--out-scales",                        \
            mx_test_path("w.scales"), __VA_ARGS__ NULL                                             \
    }

/* quantize of a 2 x 64 f32 input from and into these files of the work directory. */
#define QUANTIZE_FILES(in, blocks, scales)                                                         \
    (const char *const[]) {                                                                        \
        "quantize", "--in", mx_test_path(in), "--dtype", "f32", "--rows", "2", "--cols", "64",     \
            "--out-blocks", mx_test_path(blocks), "--out-scales", mx_test_path(scales), NULL       \
    }

Test(cli, quantize_and_dequantize_reproduce_the_library, .init = mx_test_work_dir_create) {
    const int rows = 8, cols = 96;
    float *values = write_random_input(rows, cols);
    const char *modes[2] = {"floor", "rceil"};
    for (int m = 0; m < 2; m++) {
        mx_cli_result result = mx_test_run_cli(QUANTIZE("8", "96", "--scale-mode", modes[m], ));
        cr_assert_eq(result.exit_code, 0, "quantize failed: %s", result.err);
        uint8_t expected[rows * cols / 2 + rows * cols / 32];
        MX_CR_OK(mx_ref_quantize(values, MX_F32, rows, cols, (mx_scale_mode)m, expected,
                                 expected + rows * cols / 2));
        uint8_t *blocks = read_file(mx_test_path("w.blocks"), rows * cols / 2);
        uint8_t *scales = read_file(mx_test_path("w.scales"), rows * cols / 32);
        cr_assert(memcmp(blocks, expected, rows * cols / 2) == 0, "blocks differ (%s)", modes[m]);
        cr_assert(memcmp(scales, expected + rows * cols / 2, rows * cols / 32) == 0,
                  "scales differ");

        result = mx_test_run_cli(
            (const char *const[]){"dequantize", "--blocks", mx_test_path("w.blocks"), "--scales",
                                  mx_test_path("w.scales"), "--rows", "8", "--cols=96", "--out",
                                  mx_test_path("out.f32"), NULL});
        cr_assert_eq(result.exit_code, 0, "dequantize failed: %s", result.err);
        float decoded[rows * cols];
        MX_CR_OK(mx_ref_dequantize(blocks, scales, rows, cols, decoded));
        float *got = read_file(mx_test_path("out.f32"), sizeof decoded);
        cr_assert(memcmp(got, decoded, sizeof decoded) == 0, "dequantized values differ");
        free(blocks);
        free(scales);
        free(got);
    }
    free(values);
}

Test(cli, shape_errors_name_the_value, .init = mx_test_work_dir_create) {
    free(write_random_input(2, 64));
    expect_refusal(QUANTIZE("4", "33", ), 2, "33", "multiple of");
    expect_refusal(QUANTIZE("0", "32", ), 2, "--rows '0'", NULL);
    expect_refusal(QUANTIZE("-5", "64", ), 2, "--rows '-5'", NULL);
    expect_refusal(QUANTIZE("2", "0", ), 2, "--cols '0'", NULL);
    expect_refusal(QUANTIZE("2", "sixty-four", ), 2, "sixty-four", "integer");
    expect_refusal(QUANTIZE("99999999999999999999", "64", ), 2, "99999999999999999999", NULL);
    expect_refusal(QUANTIZE("4611686018427387904", "64", ), 2, "4611686018427387904", "overflows");
    expect_refusal(QUANTIZE(" 4", "64", ), 2, "--rows ' 4'", "integer");
    expect_refusal(QUANTIZE("+4", "64", ), 2, "--rows '+4'", "integer");
    expect_refusal(QUANTIZE("4 ", "64", ), 2, "--rows '4 '", "integer");
}

Test(cli, input_size_must_match_the_shape, .init = mx_test_work_dir_create) {
    free(write_random_input(2, 64)); /* 512 bytes */
    expect_refusal(QUANTIZE("4", "64", ), 2, "512 bytes", "too short");
    expect_refusal(QUANTIZE("1", "64", ), 2, "needs exactly 256", "too long");
    const char *const bf16_args[] = {"quantize",
                                     "--in",
                                     mx_test_path("in.f32"),
                                     "--dtype",
                                     "bf16",
                                     "--rows",
                                     "2",
                                     "--cols",
                                     "64",
                                     "--out-blocks",
                                     mx_test_path("w.blocks"),
                                     "--out-scales",
                                     mx_test_path("w.scales"),
                                     NULL};
    expect_refusal(bf16_args, 2, "needs exactly 256", "bf16");
}

Test(cli, unknown_dtype_mode_option_and_missing_flags, .init = mx_test_work_dir_create) {
    free(write_random_input(2, 64));
    const char *const bad_dtype[] = {"quantize",
                                     "--in",
                                     mx_test_path("in.f32"),
                                     "--dtype",
                                     "f8",
                                     "--rows",
                                     "2",
                                     "--cols",
                                     "64",
                                     "--out-blocks",
                                     mx_test_path("w.blocks"),
                                     "--out-scales",
                                     mx_test_path("w.scales"),
                                     NULL};
    expect_refusal(bad_dtype, 2, "'f8'", "f32, f16, bf16");
    expect_refusal(QUANTIZE("2", "64", "--scale-mode", "ceil", ), 2, "'ceil'", "floor, rceil");
    expect_refusal(QUANTIZE("2", "64", "--device", "tpu", ), 2, "'tpu'", "cpu, gpu");
    expect_refusal(QUANTIZE("2", "64", "--colour", "red", ), 2, "--colour", "unknown option");
    expect_refusal(QUANTIZE("2", "64", "--rows", "2", ), 2, "--rows", "twice");
    const char *const missing[] = {"quantize",
                                   "--in",
                                   mx_test_path("in.f32"),
                                   "--dtype",
                                   "f32",
                                   "--rows",
                                   "2",
                                   "--cols",
                                   "64",
                                   "--out-scales",
                                   mx_test_path("w.scales"),
                                   NULL};
    expect_refusal(missing, 2, "--out-blocks", "missing");
    expect_refusal((const char *const[]){"quantise", NULL}, 2, "quantise", "unknown command");
}

Test(cli, unreadable_inputs_and_unwritable_outputs, .init = mx_test_work_dir_create) {
    free(write_random_input(2, 64));
    expect_refusal(QUANTIZE_FILES("absent.f32", "w.blocks", "w.scales"), 2, "absent.f32",
                   "No such file");
    const char *const dir_input[] = {"dequantize", "--blocks",        mx_test_work_dir,
                                     "--scales",   mx_test_work_dir,  "--rows",
                                     "2",          "--cols",          "64",
                                     "--out",      mx_test_path("o"), NULL};
    expect_refusal(dir_input, 2, mx_test_work_dir, "not a regular file");
    /* a FIFO as the input: refused at once, not read (it would block until a writer came) */
    cr_assert_eq(mkfifo(mx_test_path("pipe.f32"), 0600), 0);
    expect_refusal(QUANTIZE_FILES("pipe.f32", "w.blocks", "w.scales"), 2, "pipe.f32",
                   "not a regular file");
    expect_refusal(QUANTIZE_FILES("in.f32", "nowhere/w.blocks", "w.scales"), 1, "nowhere/w.blocks",
                   "cannot create");
    /* The second output cannot be renamed into place (a directory has its name): the first,
     * already written, must be removed again. */
    cr_assert_eq(mkdir(mx_test_path("scales-dir"), 0700), 0);
    expect_refusal(QUANTIZE_FILES("in.f32", "w.blocks", "scales-dir"), 1, "scales-dir",
                   "cannot write");
    cr_assert_eq(access(mx_test_path("w.blocks"), F_OK), -1, "the first output was left behind");
    /* ... and where the first output replaced a file, that file is put back as it was. */
    mx_test_write_file(mx_test_path("w.blocks"), "keep", 4);
    expect_refusal(QUANTIZE_FILES("in.f32", "w.blocks", "scales-dir"), 1, "scales-dir",
                   "cannot write");
    char kept[16] = "";
    mx_test_read_text(mx_test_path("w.blocks"), kept, sizeof kept);
    cr_expect_str_eq(kept, "keep", "the old w.blocks is restored");
}

/* Two outputs, or an output and an input, that are one file: refused before anything is read or
 * written (the blocks would be lost under the scales, the input under an output). */
Test(cli, outputs_that_are_one_file_are_refused, .init = mx_test_work_dir_create) {
    write_random_input(2, 64);
    expect_refusal(QUANTIZE_FILES("in.f32", "w.out", "./w.out"), 2,
                   "--out-blocks and --out-scales name the same file", "overwrite the other");
    expect_refusal(QUANTIZE_FILES("in.f32", "in.f32", "w.scales"), 2,
                   "--out-blocks and --in name the same file", "overwrite the input");
    cr_expect_eq(access(mx_test_path("in.f32"), R_OK), 0, "the input is still there");
}

Test(cli, gpu_device_runs_the_kernels_or_says_there_is_no_gpu, .init = mx_test_work_dir_create) {
    const int rows = 16, cols = 256;
    float *values = write_random_input(rows, cols);
    char reason[256];
    if (!mx_test_gpu_available(reason, sizeof reason)) {
        expect_refusal(QUANTIZE("16", "256", "--device", "gpu", ), 3, "no usable CUDA device",
                       "--device cpu");
    } else {
        mx_cli_result result = mx_test_run_cli(QUANTIZE("16", "256", "--device", "gpu", ));
        cr_assert_eq(result.exit_code, 0, "GPU quantize failed: %s", result.err);
        uint8_t expected[rows * cols / 2];
        uint8_t expected_scales[rows * cols / 32];
        MX_CR_OK(
            mx_ref_quantize(values, MX_F32, rows, cols, MX_SCALE_FLOOR, expected, expected_scales));
        uint8_t *blocks = read_file(mx_test_path("w.blocks"), sizeof expected);
        cr_assert(memcmp(blocks, expected, sizeof expected) == 0, "GPU CLI blocks differ");
        free(blocks);
    }
    free(values);
}

Test(cli, help_describes_every_flag, .init = mx_test_work_dir_create) {
    const char *const commands[] = {"quantize", "dequantize"};
    const char *const flags[2][8] = {
        {"--in", "--dtype", "--rows", "--cols", "--scale-mode", "--out-blocks", "--out-scales",
         "--device"},
        {"--blocks", "--scales", "--rows", "--cols", "--out", "--device", NULL, NULL}};
    for (int c = 0; c < 2; c++) {
        mx_cli_result result = mx_test_run_cli((const char *const[]){commands[c], "--help", NULL});
        cr_assert_eq(result.exit_code, 0);
        for (int f = 0; f < 8 && flags[c][f]; f++)
            cr_assert(strstr(result.out, flags[c][f]), "%s --help lacks %s", commands[c],
                      flags[c][f]);
    }
    mx_cli_result result = mx_test_run_cli((const char *const[]){"--help", NULL});
    cr_assert_eq(result.exit_code, 0);
    cr_assert(strstr(result.out, "quantize") && strstr(result.out, "dequantize"));
}
