/* Report suite (CPU): `mxbench report` on committed runs (the H200 standard sweep and a hand-made
 * 10-row run whose pass counts per target are worked out below), every plot drawn headless with
 * gnuplot (skipped, visibly, where there is none), the report without gnuplot, the shared
 * run.json reader and gnuplot helper, and the refusals of unusable input (exit 2). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "common.h"

// ---- helpers

/* path = this suite's folder + "/" + relative (fixtures, and the checkout's .deps). */
static void suite_path(const char *relative, char *path, size_t size) {
    const char *slash = strrchr(__FILE__, '/');
    int length = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, size, "%.*s/%s", length, slash ? __FILE__ : ".", relative);
}

static void fixture_path(const char *fixture, const char *file, char *path, size_t size) {
    char relative[256];
    snprintf(relative, sizeof relative, "fixtures/%s/%s", fixture, file);
    suite_path(relative, path, size);
}

/* The whole file (NUL-terminated, malloc'd); NULL when it cannot be read. */
static char *slurp(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc((size_t)length + 1);
    size_t got = data ? fread(data, 1, (size_t)length, file) : 0;
    fclose(file);
    if (data) data[got] = '\0';
    if (size) *size = got;
    return data;
}

/* A run folder in the work dir holding the fixture's files; returns its path. */
static const char *copy_fixture(const char *fixture) {
    const char *dir = mx_test_path("run");
    cr_assert(mkdir(dir, 0777) == 0, "mkdir %s", dir);
    static const char *const files[] = {"results.csv", "run.json"};
    for (int i = 0; i < 2; i++) {
        char from[512], to[512];
        fixture_path(fixture, files[i], from, sizeof from);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        size_t size;
        char *data = slurp(from, &size);
        cr_assert_not_null(data, "cannot read the fixture %s", from);
        mx_test_write_file(to, data, size);
        free(data);
    }
    return dir;
}

static char *read_output(const char *dir, const char *name, size_t *size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = slurp(path, size);
    cr_assert_not_null(text, "%s was not written", path);
    return text;
}

static int count_of(const char *text, const char *needle) {
    int count = 0;
    for (const char *at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle)) count++;
    return count;
}

/* No temporary file may be left beside the outputs. */
static void expect_no_temporaries(const char *dir) {
    DIR *folder = opendir(dir);
    cr_assert_not_null(folder, "%s", dir);
    for (struct dirent *entry; (entry = readdir(folder)) != NULL;)
        cr_expect_null(strstr(entry->d_name, ".tmp"), "temporary file %s/%s left behind", dir,
                       entry->d_name);
    closedir(folder);
}

#define REQUIRE_GNUPLOT()                                                                          \
    do {                                                                                           \
        mx_gnuplot gnuplot_;                                                                       \
        if (!mx_gnuplot_find(&gnuplot_))                                                           \
            cr_skip_test("gnuplot not found on PATH or in .deps/root (sudo apt-get install "       \
                         "gnuplot-nox, or .ci/deps.sh bundle bench for an offline box)");          \
    } while (0)

// ---- the targets, by hand

/* suites/fixtures/report_small: three problems, ten rows.
 *   A 4096x4096 M=1 gaussian (32 MiB FP16): fp16 20 us; skinny 16 us, 13.9 % of copy; fused 40 us,
 *     2 % error vs FP16; persistent 15 us (fastest, but never "best").
 *   B 14336x4096 M=4 gaussian (112 MiB): fp16 100 us; skinny 40 us (2.5x), 85 % of copy; fused
 *     150 us, throttled.
 *   C 4096x4096 M=4096 range: fp16 200 us with 100 non-finite outputs (status fail); fused
 *     224 us, 3.0e-3 vs exact, 70.00 % VRAM saved (a workspace); dequant_cublas skipped.
 * overhead: A -20 % pass, B -60 % pass, C +12 % fail -> 2/3. error vs FP16: 6 measured MXFP4
 * rows, A fused fails, C dequant_cublas not judged -> 5/6 (+1). vs exact: C fused fails -> 5/6
 * (+1). decode (M <= 16, >= 64 MiB): only B, 2.50x < 3.5x -> 0/1. bandwidth (M <= 16, MXFP4
 * weights >= 16 MB): A's 8.9 MB are too few, B 85 % pass -> 1/1. medium M (64, 256): none.
 * prefill (M >= 1024, no workspace): C's only correct MXFP4 row, fused, has a workspace -> no
 * result, 0/1. VRAM (per weight and variant that
 * keeps no FP16 copy, its lowest): 4096x4096 skinny 73.44 % pass, fused 70.00 % fail,
 * dequant_cublas no figure (not judged); 14336x4096 skinny and fused 73.44 % pass -> 3/4 (+1);
 * persistent keeps a copy: not judged, never best. */
static const char *const small_summary[] = {
    "| 1 | overhead vs FP16 < +10 % | best MXFP4 variant per problem | 2/3 | +12.0 %: gemm "
    "4096x4096 M=4096 f16 range (fused) |",
    "| 2 | error vs FP16 reference <= 1 % | every measured MXFP4 row | 5/6 (+1 not judged) | 2 "
    "%: gemm 4096x4096 M=1 f16 gaussian (fused) |",
    "| 3 | kernel error vs exact <= 2e-3 (BF16 1.6e-2) | every measured MXFP4 row | 5/6 (+1 not "
    "judged) | "
    "3.00e-03: gemm 4096x4096 M=4096 f16 range (fused) |",
    "| 4 | decode: MXFP4 >= 3.5x faster than FP16 | M <= 16, FP16 weights >= 64 MiB | 0/1 | "
    "2.50x: gemm 14336x4096 M=4 f16 gaussian (skinny) |",
    "| 5 | bandwidth >= 85 % of copy (M <= 16) | best MXFP4 variant per problem, M <= 16, MXFP4 "
    "weights >= 16 MB | 1/1 | 85.0 %: gemm 14336x4096 M=4 f16 gaussian (skinny) |",
    "| 6 | medium M: >= 1.5x faster than FP16 at M = 64, >= 1x at M = 256 | best MXFP4 variant "
    "per problem, M = 64 or 256 | 0/0 | no rows to judge |",
    "| 7 | prefill <= 1.05x FP16 time (M >= 1024), no workspace | best MXFP4 variant without "
    "workspace per problem, M >= 1024 | 0/1 | no result: gemm 4096x4096 M=4096 f16 range (fused) "
    "|",
    "| 8 | VRAM >= 73 % saved | each weight shape and variant that keeps no FP16 copy | 3/4 (+1 "
    "not judged) | 70.00 %: gemm 4096x4096 (fused) |",
};

Test(cpu_report, small_run_pass_counts_match_the_hand_computed_ones,
     .init = mx_test_work_dir_create) {
    const char *dir = copy_fixture("report_small");
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", "--no-plots", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char *md = read_output(dir, "report.md", NULL);
    for (size_t i = 0; i < sizeof small_summary / sizeof small_summary[0]; i++) {
        cr_expect(strstr(md, small_summary[i]), "report.md lacks\n%s\n%s", small_summary[i], md);
        cr_expect(strstr(r.out, small_summary[i]), "stdout lacks\n%s\n%s", small_summary[i], r.out);
    }
    /* The worst five of a target, the per-variant table, the caveats. */
    static const char *const expected[] = {
        "| 1 | gemm 4096x4096 M=4096 f16 range | fused | +12.0 % | fail | best: fused 224.00 us "
        "vs FP16 200.00 us |",
        /* prefill: why no result (the fused row's workspace, 1153434 bytes) */
        "| 1 | gemm 4096x4096 M=4096 f16 range | fused | no result | fail | every correct MXFP4 "
        "variant that keeps no FP16 copy needs a workspace; fastest: fused 224.00 us with 1.10 "
        "MiB |",
        "| 2 | gemm 4096x4096 M=1 f16 gaussian | skinny | -20.0 % | pass |",
        "| skinny | 2 of 2 | 2 | 2 | 2 | -20.0 % | -20.0 % | 73.44 % |",
        "| persistent | 1 of 1 | 1 | 1 | 1 | -25.0 % | -25.0 % | -26.56 % |",
        "| dequant_cublas | 0 of 1 | 0 | 0 | 0 | - | - | - |",
        "MXFP4 itself is off by 10.5 % to 11.5 % (SQNR 18.8 to 19.6 dB) over 6 rows",
        "**Non-finite FP16 reference**: 1 problem",
        "| gemm 4096x4096 M=4096 f16 range | 100 | fused |",
        "**Throttled rows**: 1 row ran",
        "| gemm 14336x4096 M=4 f16 gaussian | fused | 1500 MHz |",
        "**Failed and skipped rows**: 1 failed, 1 skipped.",
        "| gemm 4096x4096 M=4096 f16 range | dequant_cublas | skipped | out of memory",
        "**Plots skipped**: --no-plots was given",
        "| copy bandwidth | 4257 GB/s |",
        "| driver / CUDA runtime / cuBLAS | 13.0 / 13.0 / 13.1.0 |",
        "(persistent, embedding cached: harness/variants.c) are left out of \"best\"",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect(strstr(md, expected[i]), "report.md lacks\n%s\n%s", expected[i], md);
    /* each plot under its target's section, the rest under Plots */
    const char *in_order[] = {"### 1. overhead",  "#### Plot: Overhead",  "### 2. error",
                              "#### Plot: Error", "### 5. bandwidth",     "#### Plot: Achieved",
                              "### 8. VRAM",      "#### Plot: VRAM",      "### 9.",
                              "## Plots",         "### Time per variant", "## Caveats"};
    const char *at = md;
    for (size_t i = 0; i < sizeof in_order / sizeof in_order[0]; i++) {
        const char *next = strstr(at, in_order[i]);
        cr_expect_not_null(next, "'%s' missing or out of order", in_order[i]);
        if (next) at = next;
    }
    char *html = read_output(dir, "report.html", NULL);
    cr_expect(strstr(html, "<td class=\"fail\">fail</td>") &&
                  strstr(html, "<h2 id=\"caveats\">Caveats</h2>"),
              "%s", html);
    cr_expect(strstr(html, "</html>"));
    free(md);
    free(html);
}

Test(cpu_report, standard_h200_run_pass_counts, .init = mx_test_work_dir_create) {
    const char *dir = copy_fixture("h200_standard");
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", "--no-plots", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* Counted independently from results.csv (52 problems, 260 MXFP4 rows, 7 non-finite). */
    static const char *const expected[] = {
        /* one of its problems was timed throttled: not judged */
        "| best MXFP4 variant per problem | 28/51 (+1 not judged) |",
        "| error vs FP16 reference <= 1 % | every measured MXFP4 row | 255/260 |",
        "| kernel error vs exact <= 2e-3 (BF16 1.6e-2) | every measured MXFP4 row | 255/260 |",
        "| M <= 16, FP16 weights >= 64 MiB | 0/9 |",
        "| best MXFP4 variant per problem, M <= 16, MXFP4 weights >= 16 MB | 0/9 |",
        "| best MXFP4 variant per problem, M = 64 or 256 | 0/17 |",
        "| best MXFP4 variant without workspace per problem, M >= 1024 | 0/12 |",
        /* auto and dequant_cublas hold a full FP16 copy while they run: -26.56 % on 12 */
        "| each weight shape and variant that keeps no FP16 copy | 12/24 |",
        "80384 non-finite: gemm 4096x4096 M=256 f16 range (auto)",
        "**Throttled rows**: 3 rows ran",
        "**Non-finite FP16 reference**: 2 problems",
    };
    char *md = read_output(dir, "report.md", NULL);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_expect(strstr(md, expected[i]), "report.md lacks\n%s\n%s", expected[i], r.out);
    cr_expect(strstr(md, "NVIDIA H200, 2026-11-26, commit ce68653 (dirty)"));
    free(md);
}

// ---- plots

typedef struct {
    char fixture[32];
} fixture_param;

ParameterizedTestParameters(cpu_report, every_plot_renders_headless) {
    static fixture_param params[] = {{"h200_standard"}, {"report_small"}};
    return cr_make_param_array(fixture_param, params, sizeof params / sizeof params[0]);
}

ParameterizedTest(fixture_param *param, cpu_report, every_plot_renders_headless,
                  .init = mx_test_work_dir_create) {
    REQUIRE_GNUPLOT();
    const char *dir = copy_fixture(param->fixture);
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    static const char *const plots[] = {"overhead", "error", "vram", "throughput", "time"};
    static const char *const data[] = {"overhead.dat", "error.dat", "vram.dat", "throughput_bw.dat",
                                       "time.dat"};
    char *md = read_output(dir, "report.md", NULL);
    char *html = read_output(dir, "report.html", NULL);
    for (size_t i = 0; i < sizeof plots / sizeof plots[0]; i++) {
        char name[64], image[128];
        size_t size;
        snprintf(name, sizeof name, "%s.png", plots[i]);
        char *png = read_output(dir, name, &size);
        cr_expect(size > 10000 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0,
                  "%s: %zu bytes, not a PNG", name, size);
        free(png);
        snprintf(name, sizeof name, "%s.svg", plots[i]);
        char *svg = read_output(dir, name, &size);
        cr_expect(size > 5000 && strstr(svg, "<svg") && strstr(svg, "</svg>"),
                  "%s: %zu bytes, no svg root", name, size);
        free(svg);
        snprintf(image, sizeof image, "](%s.png)", plots[i]);
        cr_expect(strstr(md, image), "report.md does not show %s.png", plots[i]);
        snprintf(name, sizeof name, "plot_data/%s", data[i]);
        free(read_output(dir, name, NULL));
    }
    /* Self-contained: every plot inlined as SVG (the overhead plot also at the top), nothing
     * loaded from elsewhere; a click opens each SVG full size. */
    cr_expect_eq(count_of(html, "<svg"), 6, "report.html inlines %d SVGs", count_of(html, "<svg"));
    cr_expect_eq(count_of(html, "title=\"open full size\""), 6);
    cr_expect(strstr(html, "<a href=\"#targets-docsdesignmd-7\">Targets (docs/design.md §7)</a>") &&
                  strstr(html, "<h2 id=\"targets-docsdesignmd-7\">"),
              "a contents list whose links reach their sections");
    cr_expect_null(strstr(html, "<img"));
    cr_expect_null(strstr(html, "<?xml"));
    cr_expect_null(strstr(md, "Plots skipped"));
    cr_expect(strstr(r.out, "plot: ") && strstr(r.out, "time.png"), "%s", r.out);
    expect_no_temporaries(dir);
    char data_dir[256];
    snprintf(data_dir, sizeof data_dir, "%s/plot_data", dir);
    expect_no_temporaries(data_dir);
    free(md);
    free(html);
}

/* The height of a PNG, from its IHDR chunk. */
static unsigned png_height(const unsigned char *png, size_t size) {
    cr_assert(size > 24 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0 &&
              memcmp(png + 12, "IHDR", 4) == 0);
    return (unsigned)png[20] << 24 | (unsigned)png[21] << 16 | (unsigned)png[22] << 8 | png[23];
}

/* The longest problem name of a plot's data file (tab-separated, the name in column 2). */
static size_t longest_label(const char *dat) {
    size_t longest = 0;
    for (const char *line = dat; *line;) {
        size_t width = strcspn(line, "\n");
        const char *tab = memchr(line, '\t', width);
        if (*line != '#' && tab) {
            size_t length = strcspn(tab + 1, "\t\n");
            longest = length > longest ? length : longest;
        }
        line += width + (line[width] == '\n');
    }
    return longest;
}

/* An H200 smoke run of the method of issue 15 (suites/fixtures/h200_smoke): its attention rows
 * have the longest problem names (62 characters); rotated under the axis they ran off the
 * bottom of error.png and throughput.png. The plots now reserve 24 + 5.6 pixels per character
 * of the longest name (plots/common.gp, rotated_labels_px), checked here on the image heights:
 * error.png 886 pixels above the names, throughput.png 490 per panel above them and 80 more. */
Test(cpu_report, plots_make_room_for_the_longest_problem_name, .init = mx_test_work_dir_create) {
    REQUIRE_GNUPLOT();
    const char *dir = copy_fixture("h200_smoke");
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert_null(strstr(r.err, "plot error"), "%s", r.err);
    size_t size;
    char *dat = read_output(dir, "plot_data/error.dat", NULL);
    size_t longest = longest_label(dat);
    free(dat);
    cr_expect_geq(longest, 60, "the fixture's longest name has %zu characters", longest);
    unsigned char *png = (unsigned char *)read_output(dir, "error.png", &size);
    cr_expect_geq(png_height(png, size), (unsigned)(886 + 24 + 5.6 * (double)longest),
                  "error.png: %u pixels high", png_height(png, size));
    free(png);
    dat = read_output(dir, "plot_data/throughput_bw.dat", NULL);
    longest = longest_label(dat);
    free(dat);
    png = (unsigned char *)read_output(dir, "throughput.png", &size);
    cr_expect_geq(png_height(png, size), (unsigned)(80 + 410 + 24 + 5.6 * (double)longest),
                  "throughput.png: %u pixels high, %zu characters", png_height(png, size), longest);
    free(png);
}

static bool bundle_has_gnuplot(void) {
    char path[512], nox[512];
    suite_path("../.deps/root/usr/bin/gnuplot", path, sizeof path);
    suite_path("../.deps/root/usr/bin/gnuplot-nox", nox, sizeof nox);
    return access(path, X_OK) == 0 || access(nox, X_OK) == 0;
}

Test(cpu_report, without_gnuplot_the_report_is_written_and_says_how_to_get_it,
     .init = mx_test_work_dir_create) {
    const char *dir = copy_fixture("report_small");
    setenv("PATH", "", 1); /* this forked test only */
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char *md = read_output(dir, "report.md", NULL);
    if (bundle_has_gnuplot()) {
        /* An unpacked offline bundle (.deps/root) is the next place looked in: it must work. */
        cr_log_info("the offline bundle has gnuplot: checking that it draws instead");
        cr_expect_null(strstr(md, "Plots skipped"), "%s", r.out);
        free(read_output(dir, "overhead.png", NULL));
    } else {
        cr_expect(strstr(md, "**Plots skipped**: gnuplot was not found"), "%s", md);
        cr_expect(strstr(md, "sudo apt-get install -y gnuplot-nox") &&
                      strstr(md, "bash .ci/deps.sh bundle bench"),
                  "%s", md);
        cr_expect(strstr(r.out, "plots skipped: gnuplot was not found"), "%s", r.out);
        char png[512];
        snprintf(png, sizeof png, "%s/overhead.png", dir);
        cr_expect_neq(access(png, F_OK), 0, "a plot appeared without gnuplot");
        /* The data is written all the same, to be drawn later. */
        free(read_output(dir, "plot_data/overhead.dat", NULL));
    }
    char *html = read_output(dir, "report.html", NULL);
    cr_expect(strstr(html, "<h2 id=\"summary\">Summary</h2>"));
    free(html);
    free(md);
}

/* The helper `mxbench compare` draws plot 6 with (plots/compare.gp). */
Test(cpu_report, compare_plot_renders_through_the_shared_helper, .init = mx_test_work_dir_create) {
    mx_gnuplot gnuplot;
    if (!mx_gnuplot_find(&gnuplot))
        cr_skip_test("gnuplot not found on PATH or in .deps/root (sudo apt-get install "
                     "gnuplot-nox, or .ci/deps.sh bundle bench for an offline box)");
    static const char data[] = "# index\tchange\tlow\thigh\tverdict\tlabel\n"
                               "0\t0.4\t-1.5\t1.5\tSAME\tgemm 4096x4096 M=1 fused\n"
                               "1\t10.2\t-0.8\t0.8\tSLOWER\tgemm 4096x4096 M=16 skinny\n"
                               "2\t-7.5\t-1.0\t1.0\tFASTER\tgemm 4096x4096 M=256 auto\n"
                               "3\t9.0\t-18.0\t18.0\tUNSURE\tgemm 2880x2880 M=1 it's noisy\n"
                               "4\tNaN\tNaN\tNaN\tMISSING\tgemm 2880x2880 M=4 skinny\n";
    mx_test_write_file(mx_test_path("compare.dat"), data, sizeof data - 1);
    const mx_plot_variable variables[] = {{"data", mx_test_path("compare.dat")},
                                          {"count", "5"},
                                          {"threshold", "5"},
                                          {"title", "Change vs baseline — it's a test"},
                                          {"ymin", "-1.000000e+01"},
                                          {"ymax", "1.500000e+01"}};
    char error[1024] = "";
    cr_assert(mx_plot_render(&gnuplot, "compare.gp", variables, 6, mx_test_path("compare"), error,
                             sizeof error),
              "%s", error);
    size_t size;
    char *png = read_output(mx_test_work_dir, "compare.png", &size);
    cr_expect(size > 10000 && memcmp(png, "\x89PNG", 4) == 0);
    free(png);
    char *svg = read_output(mx_test_work_dir, "compare.svg", NULL);
    cr_expect(strstr(svg, "<svg") && strstr(svg, "SLOWER") && strstr(svg, "run-to-run band") &&
              strstr(svg, "MISSING"));
    free(svg);

    /* A script that fails: false, gnuplot's message, and nothing left behind. */
    mx_test_write_file(mx_test_path("broken.gp"), "plot nonsense(\n", 15);
    cr_expect_not(mx_plot_render(&gnuplot, mx_test_path("broken.gp"), variables, 4,
                                 mx_test_path("broken"), error, sizeof error));
    cr_expect(strstr(error, "exit status") && strstr(error, "broken.gp"), "%s", error);
    char broken[256];
    snprintf(broken, sizeof broken, "%s/broken.png", mx_test_work_dir);
    cr_expect_neq(access(broken, F_OK), 0);
    expect_no_temporaries(mx_test_work_dir);
}

// ---- run.json

Test(cpu_report, run_json_reader_gives_the_environment, .init = mx_test_work_dir_create) {
    char path[512], error[512];
    fixture_path("h200_standard", "run.json", path, sizeof path);
    mx_run_info meta;
    cr_assert(mx_run_info_read(path, &meta, error, sizeof error), "%s", error);
    cr_expect_str_eq(meta.gpu_name, "NVIDIA H200");
    cr_expect_str_eq(meta.git_commit, "ce68653f9c26afb4d46969f4a58139d4cc07a2e0");
    cr_expect_eq(meta.git_dirty, 1);
    cr_expect_eq(meta.cublas_version, 130100);
    cr_expect_float_eq(meta.copy_gbps, 4257.096197040063, 1e-9);
    cr_expect_float_eq(meta.fp16_tflops, 893.21478420066, 1e-9);
    cr_expect_float_eq(meta.max_noise_pct, 0.5, 0);
    cr_expect_eq(meta.l2_flushed, 1);
    char caption[256];
    mx_run_info_caption(&meta, caption, sizeof caption);
    cr_expect_str_eq(caption, "NVIDIA H200, 2026-11-26, commit ce68653 (dirty)");

    static const char broken[] = "{\n  \"gpu\": {\"name\": \"x\",\n  \"sm_count\": 1 2\n}\n";
    mx_test_write_file(mx_test_path("run.json"), broken, sizeof broken - 1);
    cr_expect_not(mx_run_info_read(mx_test_path("run.json"), &meta, error, sizeof error));
    cr_expect(strstr(error, "run.json:3: malformed JSON"), "%s", error);
    cr_expect_str_eq(meta.gpu_name, "");
    cr_expect(meta.copy_gbps != meta.copy_gbps, "unknown numbers are NaN");
    static const char escaped[] = "{\"gpu\": {\"name\": \"A\\u00e9\\\"B\\\\\"}, \"git\": "
                                  "{\"dirty\": null}, \"ceilings\": [1, 2]}";
    mx_test_write_file(mx_test_path("run.json"), escaped, sizeof escaped - 1);
    cr_assert(mx_run_info_read(mx_test_path("run.json"), &meta, error, sizeof error), "%s", error);
    cr_expect_str_eq(meta.gpu_name, "A\xc3\xa9\"B\\");
    cr_expect_eq(meta.git_dirty, -1);
}

Test(cpu_report, without_run_json_the_report_says_the_environment_is_unknown,
     .init = mx_test_work_dir_create) {
    const char *dir = copy_fixture("report_small");
    char path[512];
    snprintf(path, sizeof path, "%s/run.json", dir);
    unlink(path);
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", "--no-plots", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning") && strstr(r.err, "run.json"), "%s", r.err);
    char *md = read_output(dir, "report.md", NULL);
    cr_expect(strstr(md, "run.json could not be read"), "%s", md);
    cr_expect(strstr(md, small_summary[0]), "%s", md);
    free(md);
}

// ---- unusable input: exit 2, and the message says where

static mx_cli_result report_on(const char *csv) {
    const char *dir = mx_test_path("run");
    mkdir(dir, 0777);
    char path[512];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    mx_test_write_file(path, csv, strlen(csv));
    return mx_test_run_cli((const char *[]){"report", dir, NULL});
}

/* The report.md of a run folder holding only csv as its results.csv (report_on), which must
 * succeed. */
static char *report_md_of(const char *csv) {
    mx_cli_result r = report_on(csv);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    char path[512];
    snprintf(path, sizeof path, "%s/run/report.md", mx_test_work_dir);
    char *md = slurp(path, NULL);
    cr_assert_not_null(md);
    return md;
}

Test(cpu_report, malformed_csv_exits_2_with_file_and_line, .init = mx_test_work_dir_create) {
    mx_cli_result r = report_on("op,variant,M\ngemm,fp16,1\ngemm,fused,1\ngemm,skinny\n");
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "results.csv:4:"), "%s", r.err);
    r = report_on("op,variant,M\ngemm,\"fused,1\n");
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "results.csv:2:"), "%s", r.err);
}

Test(cpu_report, a_cell_that_is_not_a_number_names_line_and_column,
     .init = mx_test_work_dir_create) {
    char path[512];
    fixture_path("report_small", "results.csv", path, sizeof path);
    char *csv = slurp(path, NULL);
    cr_assert_not_null(csv);
    char *third = strstr(csv, "\nsmall,hand,gemm,fused,f16,gaussian,1,");
    cr_assert_not_null(third);
    char *time = strstr(third, ",40.000,");
    memcpy(time, ",fast!!,", 8);
    mx_cli_result r = report_on(csv);
    free(csv);
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "results.csv:4: column time_us: 'fast!!' is not a number"), "%s",
              r.err);
}

Test(cpu_report, missing_columns_are_named, .init = mx_test_work_dir_create) {
    mx_cli_result r = report_on("op,variant,dtype,dist,M,N,K\ngemm,fp16,f16,gaussian,1,64,64\n");
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "lacks the columns") && strstr(r.err, "time_us") &&
                  strstr(r.err, "rel_err_vs_fp16") && strstr(r.err, "status"),
              "%s", r.err);
    cr_expect_null(strstr(r.err, "dtype"), "dtype is there: %s", r.err);
}

Test(cpu_report, a_missing_folder_or_csv_or_an_empty_run_exits_2, .init = mx_test_work_dir_create) {
    mx_cli_result r =
        mx_test_run_cli((const char *[]){"report", mx_test_path("no-such-run"), NULL});
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "no-such-run") && strstr(r.err, "No such file"), "%s", r.err);
    mkdir(mx_test_path("empty"), 0777);
    r = mx_test_run_cli((const char *[]){"report", mx_test_path("empty"), NULL});
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "empty/results.csv"), "%s", r.err);
    char path[512];
    fixture_path("report_small", "results.csv", path, sizeof path);
    char *csv = slurp(path, NULL);
    cr_assert_not_null(csv);
    *strchr(csv, '\n') = '\0'; /* the header alone */
    r = report_on(csv);
    free(csv);
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT);
    cr_expect(strstr(r.err, "no rows"), "%s", r.err);
    r = mx_test_run_cli((const char *[]){"report", NULL});
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT, "a usage error is 2, as unusable input");
}

/* An embedding lookup reads a few rows of a large table: neither decode target (speed, bandwidth)
 * judges it, by the same rule. */
Test(cpu_report, both_decode_targets_leave_an_embedding_lookup_unjudged,
     .init = mx_test_work_dir_create) {
    const char *csv =
        "run_id,suite,op,variant,dtype,dist,M,N,K,experts,topk,samples,time_us,time_us_min,"
        "time_us_max,noise_pct,"
        "fp16_time_us,overhead_pct,gbps,tflops,pct_peak_bw,pct_peak_flops,rel_err_vs_fp16,"
        "max_rel_err_vs_fp16,rel_err_vs_exact,quant_rel_err,sqnr_db,nonfinite,weight_bytes_fp16,"
        "weight_bytes_mxfp4,workspace_bytes,vram_savings_pct,pass_overhead,pass_error,status,"
        "note\n"
        "e,hand,embedding,fp16,f16,gaussian,16,201088,2880,,,10,5.000,4.9,5.1,0.2,5.000,0.00,0.1,0,"
        "0.0,0,"
        "0,0,0,0.1,20,0,1158266880,0,0,0.00,,true,ok,\n"
        "e,hand,embedding,onthefly,f16,gaussian,16,201088,2880,,,10,6.000,5.9,6.1,0.2,5.000,20.00,"
        "0.1,0,"
        "0.0,0,1e-6,1e-5,1e-6,0.1,20,0,1158266880,307662848,0,73.44,false,true,ok,\n";
    char *md = report_md_of(csv);
    const char *decode = strstr(md, "| 4 | decode");
    const char *bandwidth = strstr(md, "| 5 | bandwidth");
    cr_assert(decode && bandwidth, "%s", md);
    cr_expect(strstr(decode, "0/0 (+1 not judged)") && strstr(bandwidth, "0/0 (+1 not judged)"),
              "%.400s", decode);
    free(md);
}

/* Timed in rounds: the overhead target takes a row's overhead_pct (the median of its per-round
 * ratios: -20 % here, where the medians alone would say -5 %), and a problem flagged unstable
 * (its persistent row, fp16's own call, measured apart) is judged by no speed target. */
Test(cpu_report, rounds_overhead_and_unstable_problems, .init = mx_test_work_dir_create) {
    const char *header =
        "run_id,suite,op,variant,dtype,dist,M,N,K,experts,topk,samples,time_us,time_us_min,time_us_"
        "max,"
        "noise_pct,fp16_time_us,overhead_pct,gbps,tflops,pct_peak_bw,pct_peak_flops,"
        "rel_err_vs_fp16,max_rel_err_vs_fp16,rel_err_vs_exact,quant_rel_err,sqnr_db,nonfinite,"
        "weight_bytes_fp16,weight_bytes_mxfp4,workspace_bytes,vram_savings_pct,pass_overhead,"
        "pass_error,status,note,overhead_pct_lo,overhead_pct_hi,unstable,fp16_default_us\n";
    const char *rows =
        "r,hand,gemm,fp16,f16,gaussian,1,4096,4096,,,20,100.000,99,101,0.2,100.000,0.00,1,0,1,0,0,"
        "0,"
        "0,0.1,20,0,33554432,0,0,0.00,,true,ok,,,,false,110\n"
        "r,hand,gemm,skinny,f16,gaussian,1,4096,4096,,,20,95.000,94,96,0.2,100.000,-20.00,1,0,1,0,"
        "1e-4,1e-3,1e-4,0.1,20,0,33554432,8912896,0,73.44,true,true,ok,,-21.00,-19.00,false,\n"
        "r,hand,gemm,fp16,f16,gaussian,1,8192,4096,,,20,100.000,99,101,0.2,100.000,0.00,1,0,1,0,0,"
        "0,"
        "0,0.1,20,0,67108864,0,0,0.00,,true,ok,unstable: persistent,,,true,100\n"
        "r,hand,gemm,skinny,f16,gaussian,1,8192,4096,,,20,150.000,149,151,0.2,100.000,50.00,1,0,1,"
        "0,"
        "1e-4,1e-3,1e-4,0.1,20,0,67108864,17825792,0,73.44,,true,ok,unstable: persistent,49.00,"
        "51.00,true,\n"
        "r,hand,gemm,persistent,f16,gaussian,1,8192,4096,,,20,110.000,109,111,0.2,100.000,10.00,1,"
        "0,"
        "1,0,0,0,0,0.1,20,0,67108864,0,67108864,-0.00,,true,ok,unstable: persistent,9.00,11.00,"
        "true,\n";
    char csv[4096];
    snprintf(csv, sizeof csv, "%s%s", header, rows);
    char *md = report_md_of(csv);
    cr_expect(strstr(md, "| 1 | overhead vs FP16 < +10 % | best MXFP4 variant per problem | 1/1 "
                         "(+1 not judged) | -20.0 %"),
              "%s", md);
    cr_expect(strstr(md, "-20.0 % [-21.0, -19.0]"), "the overhead with its interval: %s", md);
    cr_expect(strstr(md, "**Unstable rows**: 3 rows belong to problems"), "%s", md);
    cr_expect(strstr(md, "**FP16 baseline**: in 1 of 2 problems a cublasLt algorithm beat "
                         "cublasGemmEx's own choice (by up to 9.1 %)"),
              "%s", md);
    cr_expect(strstr(md, "| gemm 8192x4096 M=1 f16 gaussian | unstable: persistent |"), "%s", md);
    free(md);
}

/* VRAM is judged on the measured saving where a row has it (70.00 % here although 73.44 % is
 * computed), and a row whose measured bytes contradict the computed ones is not judged. */
Test(cpu_report, vram_is_judged_on_the_measured_saving, .init = mx_test_work_dir_create) {
    const char *csv =
        "run_id,suite,op,variant,dtype,dist,M,N,K,experts,topk,samples,time_us,time_us_min,"
        "time_us_max,noise_pct,fp16_time_us,overhead_pct,gbps,tflops,pct_peak_bw,pct_peak_flops,"
        "rel_err_vs_fp16,max_rel_err_vs_fp16,rel_err_vs_exact,quant_rel_err,sqnr_db,nonfinite,"
        "weight_bytes_fp16,weight_bytes_mxfp4,workspace_bytes,vram_savings_pct,pass_overhead,"
        "pass_error,status,note,vram_savings_measured_pct,vram_mismatch\n"
        "v,hand,gemm,fp16,f16,gaussian,1,4096,4096,,,20,100,99,101,0.2,100,0.00,1,0,1,0,0,0,0,0.1,"
        "20,0,33554432,0,0,0.00,,true,ok,,,\n"
        "v,hand,gemm,skinny,f16,gaussian,1,4096,4096,,,20,50,49,51,0.2,100,-50.00,1,0,1,0,1e-4,"
        "1e-3,1e-4,0.1,20,0,33554432,8912896,0,73.44,true,true,ok,,70.00,false\n"
        "v,hand,gemm,fp16,f16,gaussian,1,8192,4096,,,20,100,99,101,0.2,100,0.00,1,0,1,0,0,0,0,0.1,"
        "20,0,67108864,0,0,0.00,,true,ok,,,\n"
        "v,hand,gemm,skinny,f16,gaussian,1,8192,4096,,,20,50,49,51,0.2,100,-50.00,1,0,1,0,1e-4,"
        "1e-3,1e-4,0.1,20,0,67108864,17825792,0,73.44,true,true,ok,,99.00,true\n";
    char *md = report_md_of(csv);
    cr_expect(strstr(md, "| 8 | VRAM >= 73 % saved | each weight shape and variant that keeps no "
                         "FP16 copy | 0/1 (+1 not judged) | 70.00 %: gemm 4096x4096 (skinny) |"),
              "%s", md);
    cr_expect(strstr(md, "vs FP16 32.00 MiB (measured)"), "%s", md);
    free(md);
}

/* A full disk, as far as mxbench can tell (RLIMIT_FSIZE: writes past a few KiB fail with
 * EFBIG): report fails with exit 1 naming what it could not write, the report.md of an earlier
 * report stays whole, and no temporary file is left. */
Test(cpu_report, a_full_disk_fails_cleanly_and_keeps_the_old_report,
     .init = mx_test_work_dir_create) {
    const char *dir = copy_fixture("report_small");
    mx_cli_result r = mx_test_run_cli((const char *[]){"report", "--no-plots", dir, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t before_size;
    char *before = read_output(dir, "report.md", &before_size);
    cr_assert_gt(before_size, 8192, "the report must outgrow the limit below");
    r = mx_test_run_cli_disk_full((const char *[]){"report", "--no-plots", dir, NULL}, 4096);
    cr_expect_eq(r.exit_code, MX_EXIT_FAILED, "out: %s\nerr: %s", r.out, r.err);
    cr_expect(strstr(r.err, "report.md"), "the message names the file: %s", r.err);
    size_t after_size;
    char *after = read_output(dir, "report.md", &after_size);
    cr_expect(after_size == before_size && memcmp(before, after, before_size) == 0,
              "the earlier report.md changed");
    expect_no_temporaries(dir);
    free(before);
    free(after);
}

/* Runs of two GPU models side by side: a column per model, the regime medians, the plot data. */
Test(cpu_report, runs_of_two_gpu_models_side_by_side, .init = mx_test_work_dir_create) {
    const char *models[] = {"h200", "h100"};
    for (int g = 0; g < 2; g++) {
        char from[512], to[512];
        mkdir(mx_test_path(models[g]), 0777);
        const char *files[] = {"results.csv", "run.json"};
        for (int f = 0; f < 2; f++) {
            fixture_path("h200_standard", files[f], from, sizeof from);
            char *text = slurp(from, NULL);
            cr_assert_not_null(text);
            char *name = g ? strstr(text, "NVIDIA H200") : NULL;
            if (name) { /* "NVIDIA H200" -> "NVIDIA H100" in run.json */
                name[8] = '1';
            }
            snprintf(to, sizeof to, "%s/%s", mx_test_path(models[g]), files[f]);
            mx_test_write_file(to, text, strlen(text));
            free(text);
        }
    }
    mx_cli_result r = mx_test_run_cli(
        (const char *[]){"report", mx_test_path("h200"), mx_test_path("h100"), NULL});
    cr_expect_eq(r.exit_code, MX_EXIT_INPUT, "two runs need --out: %s", r.err);
    r = mx_test_run_cli((const char *[]){"report", "--out", mx_test_path("side"), "--no-plots",
                                         mx_test_path("h200"), mx_test_path("h100"), NULL});
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    char path[512];
    snprintf(path, sizeof path, "%s/side/report_gpus.md", mx_test_work_dir);
    char *md = slurp(path, NULL);
    cr_assert_not_null(md);
    cr_expect(strstr(md, "| problem | nvidia-h200 | nvidia-h100 |"), "%s", md);
    cr_expect(strstr(md, "| nvidia-h100 | 1.16x (23 problems) | 0.67x (17 problems) |"), "%s", md);
    free(md);
    snprintf(path, sizeof path, "%s/side/plot_data/gpus.dat", mx_test_work_dir);
    char *dat = slurp(path, NULL);
    cr_assert_not_null(dat);
    cr_expect(strstr(dat, "# index\tlabel\tspeedup_1\tspeedup_2\n"), "%s", dat);
    free(dat);
}
