/* Sweep-file suite: every shipped sweep parses against the real GEMM variants and stays within
 * its time budget in rows; small texts give the hand-computed product in the specified order,
 * with inheritance, ranges, named shapes and `all`; every kind of bad input is reported at its
 * exact FILE:LINE:COL with a message that names the token. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sweep.h"
#include "mx.h"
#include "common.h"

/* Two ops with different variants, to test `all` and per-op validity. */
static const char *const gemm_variants[] = {"auto", "fused", "skinny", NULL};
static const char *const moe_variants[] = {"auto", "grouped", NULL};
static const mx_sweep_op_vocabulary fake_ops[] = {{"gemm", gemm_variants}, {"moe", moe_variants}};

static mx_sweep parse_ok(const char *text, const char *file_name) {
    mx_sweep sweep;
    char error[512];
    bool ok = mx_sweep_parse_text(text, file_name, fake_ops, 2, &sweep, error, sizeof error);
    cr_assert(ok, "%s did not parse: %s", file_name, error);
    cr_assert_str_empty(error);
    return sweep;
}

/* ---- the shipped sweep files */

/* harness/sweeps beside this suite's source (CMake compiles it by its absolute path). */
static void sweeps_dir(char *dir, size_t size) {
    const char *slash = strrchr(__FILE__, '/');
    int length = slash ? (int)(slash - __FILE__) : 1;
    snprintf(dir, size, "%.*s/../harness/sweeps", length, slash ? __FILE__ : ".");
}

/* The real vocabulary: every op of the harness's table and its variants. */
static mx_sweep parse_shipped(const char *name) {
    int op_count = 0;
    const mx_bench_op *const *table = mx_bench_ops(&op_count);
    mx_sweep_op_vocabulary ops[32];
    cr_assert_leq(op_count, 32);
    for (int o = 0; o < op_count; o++)
        ops[o] = (mx_sweep_op_vocabulary){table[o]->name, table[o]->variants};
    char dir[4096], path[4352], error[512];
    sweeps_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.sweep", dir, name);
    mx_sweep sweep;
    cr_assert(mx_sweep_parse_file(path, ops, op_count, &sweep, error, sizeof error), "%s", error);
    cr_assert_str_eq(sweep.name, name);
    cr_assert_str_not_empty(sweep.description, "%s has no description line", path);
    cr_assert_gt(sweep.count, 0);
    return sweep;
}

/* Parameters are copied into the test's process: strings inline, not pointers. */
typedef struct {
    char name[32];
    size_t min_rows, max_rows; /* what the file's comment and its time budget promise */
} shipped_sweep;

static shipped_sweep shipped[] = {
    {"smoke", 10, 100},   {"standard", 200, 400},    {"decode", 50, 300},
    {"prefill", 50, 300}, {"gpt-oss-20b", 100, 350}, {"gpt-oss-120b", 100, 350},
    {"nightly", 50, 150}, {"tune", 400, 500},
};

ParameterizedTestParameters(cpu_sweep, shipped_sweep_parses_within_its_row_budget) {
    return cr_make_param_array(shipped_sweep, shipped, sizeof shipped / sizeof shipped[0]);
}

ParameterizedTest(shipped_sweep *s, cpu_sweep, shipped_sweep_parses_within_its_row_budget) {
    mx_sweep sweep = parse_shipped(s->name);
    cr_assert(sweep.count >= s->min_rows && sweep.count <= s->max_rows,
              "%s.sweep has %zu rows, expected %zu to %zu", s->name, sweep.count, s->min_rows,
              s->max_rows);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, every_file_in_the_sweeps_folder_parses) {
    char dir[4096];
    sweeps_dir(dir, sizeof dir);
    DIR *listing = opendir(dir);
    cr_assert(listing, "cannot open %s: %s", dir, strerror(errno));
    int files = 0;
    for (struct dirent *entry; (entry = readdir(listing));) {
        size_t length = strlen(entry->d_name);
        if (length <= 6 || strcmp(entry->d_name + length - 6, ".sweep") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(length - 6), entry->d_name);
        mx_sweep sweep = parse_shipped(name);
        mx_sweep_free(&sweep);
        files++;
    }
    closedir(listing);
    cr_assert_geq(files, (int)(sizeof shipped / sizeof shipped[0]));
}

/* The model suites, smoke and standard run every op of the table, each with every variant
 * (issue 6: `mxbench run --suite gpt-oss-20b` produces rows for every op). */
Test(cpu_sweep, model_suites_smoke_and_standard_run_every_op_and_variant) {
    int op_count = 0;
    const mx_bench_op *const *table = mx_bench_ops(&op_count);
    const char *const names[] = {"gpt-oss-20b", "gpt-oss-120b", "smoke", "standard"};
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        mx_sweep sweep = parse_shipped(names[f]);
        for (int o = 0; o < op_count; o++)
            for (const char *const *v = table[o]->variants; *v; v++) {
                size_t i = 0;
                while (i < sweep.count && (strcmp(sweep.rows[i].op, table[o]->name) != 0 ||
                                           strcmp(sweep.rows[i].variant, *v) != 0))
                    i++;
                cr_expect_lt(i, sweep.count, "%s.sweep has no %s %s row", names[f], table[o]->name,
                             *v);
            }
        mx_sweep_free(&sweep);
    }
}

Test(cpu_sweep, standard_covers_six_shapes_seven_m_every_variant_bf16_and_every_dist) {
    mx_sweep sweep = parse_shipped("standard");
    int main_rows = 0, bf16_rows = 0, dists_seen = 0;
    const char *dists[] = {"gaussian", "uniform", "heavy", "outliers", "range"};
    for (size_t i = 0; i < sweep.count; i++) {
        main_rows += strcmp(sweep.rows[i].group, "main") == 0;
        bf16_rows += strcmp(sweep.rows[i].dtype, "bf16") == 0;
        for (int d = 0; d < 5; d++)
            if (strcmp(sweep.rows[i].dist, dists[d]) == 0) dists_seen |= 1 << d;
    }
    cr_assert_eq(main_rows, 6 * 7 * MX_GEMM_VARIANT_COUNT);
    cr_assert_gt(bf16_rows, 0);
    cr_assert_eq(dists_seen, 0x1F);
    mx_sweep_free(&sweep);
}

/* ---- good texts */

Test(cpu_sweep, row_count_is_the_product_of_the_lists) {
    mx_sweep sweep = parse_ok("ops gemm\n"
                              "variants fused skinny\n"
                              "dtypes f16 bf16\n"
                              "dists gaussian range\n"
                              "m 1 7 300\n"
                              "shapes 64x64 4096x14336\n",
                              "count.sweep");
    cr_assert_eq(sweep.count, 2 * 2 * 2 * 3 * 2);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, rows_run_op_shape_m_dtype_dist_then_variant_innermost) {
    mx_sweep sweep = parse_ok("[order]\n"
                              "ops gemm moe\n"
                              "variants grouped skinny auto   # listed order, per op\n"
                              "shapes 64x32 square4096\n"
                              "m 2 1\n"
                              "dtypes bf16 f16\n"
                              "dists uniform gaussian\n",
                              "order.sweep");
    const char *ops[] = {"gemm", "moe"}, *dtypes[] = {"bf16", "f16"},
               *dists[] = {"uniform", "gaussian"};
    const char *variants[2][2] = {{"skinny", "auto"}, {"grouped", "auto"}};
    const int64_t ns[] = {64, 4096}, ks[] = {32, 4096}, ms[] = {2, 1};
    size_t i = 0;
    for (int o = 0; o < 2; o++)
        for (int s = 0; s < 2; s++)
            for (int m = 0; m < 2; m++)
                for (int d = 0; d < 2; d++)
                    for (int w = 0; w < 2; w++)
                        for (int v = 0; v < 2; v++, i++) {
                            const mx_sweep_row *row = &sweep.rows[i];
                            cr_assert_lt(i, sweep.count);
                            cr_assert_str_eq(row->group, "order");
                            cr_assert_str_eq(row->op, ops[o], "row %zu", i);
                            cr_assert_str_eq(row->variant, variants[o][v], "row %zu", i);
                            cr_assert_eq(row->n, ns[s], "row %zu", i);
                            cr_assert_eq(row->k, ks[s], "row %zu", i);
                            cr_assert_str_eq(row->shape_name, s ? "square4096" : "", "row %zu", i);
                            cr_assert_eq(row->m, ms[m], "row %zu", i);
                            cr_assert_str_eq(row->dtype, dtypes[d], "row %zu", i);
                            cr_assert_str_eq(row->dist, dists[w], "row %zu", i);
                        }
    cr_assert_eq(sweep.count, i);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, groups_inherit_file_defaults_and_override_them) {
    mx_sweep sweep = parse_ok("description two groups\n"
                              "ops gemm\n"
                              "variants fused\n"
                              "dtypes f16\n"
                              "dists gaussian\n"
                              "m 8\n"
                              "batch 3\n"
                              "seed 7\n"
                              "budget_ms 2.5\n"
                              "\n"
                              "[inherits]\n"
                              "shapes 64x64\n"
                              "[overrides]\n"
                              "dtypes bf16\n"
                              "m 1 2\n"
                              "batch 1\n"
                              "budget_ms 0.25\n"
                              "experts 32\n"
                              "topk 4\n"
                              "kv_heads 8\n"
                              "shapes 128x64\n",
                              "dir/inherit.sweep");
    cr_assert_str_eq(sweep.name, "inherit");
    cr_assert_str_eq(sweep.description, "two groups");
    cr_assert_eq(sweep.count, 3);
    const mx_sweep_row *a = &sweep.rows[0], *b = &sweep.rows[1];
    cr_assert_str_eq(a->group, "inherits");
    cr_assert_eq(a->line, 11);
    cr_assert_str_eq(a->dtype, "f16");
    cr_assert_eq(a->m, 8);
    cr_assert_eq(a->batch, 3);
    cr_assert_eq(a->seed, 7);
    cr_assert_float_eq(a->budget_ms, 2.5, 0);
    cr_assert_eq(a->experts, 0);
    cr_assert_eq(a->topk, 0);
    cr_assert_eq(a->kv_heads, 0);
    cr_assert_str_eq(b->group, "overrides");
    cr_assert_eq(b->line, 13);
    cr_assert_str_eq(b->dtype, "bf16");
    cr_assert_eq(b->m, 1);
    cr_assert_eq(sweep.rows[2].m, 2);
    cr_assert_eq(b->batch, 1);
    cr_assert_eq(b->seed, 7);
    cr_assert_float_eq(b->budget_ms, 0.25, 0);
    cr_assert_eq(b->experts, 32);
    cr_assert_eq(b->topk, 4);
    cr_assert_eq(b->kv_heads, 8);
    cr_assert_eq(b->n, 128);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, defaults_when_no_line_sets_them) {
    mx_sweep sweep = parse_ok("ops gemm\nvariants auto\ndtypes f16\ndists gaussian\nm 1\n"
                              "shapes 32x32\n",
                              "defaults");
    cr_assert_eq(sweep.count, 1);
    cr_assert_str_eq(sweep.name, "defaults");
    cr_assert_str_empty(sweep.description);
    cr_assert_str_eq(sweep.rows[0].group, "defaults", "a file without groups is one group");
    cr_assert_eq(sweep.rows[0].line, 1);
    cr_assert_eq(sweep.rows[0].batch, 1);
    cr_assert_eq(sweep.rows[0].experts, 0);
    cr_assert_eq(sweep.rows[0].topk, 0);
    cr_assert_eq(sweep.rows[0].seed, 0);
    cr_assert_float_eq(sweep.rows[0].budget_ms, 0.0, 0);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, ranges_expand_to_powers_of_two) {
    mx_sweep sweep = parse_ok("ops gemm\nvariants auto\ndtypes f16\ndists gaussian\n"
                              "m 3 1..16 64..64 256..1048576\nshapes 32x32\n",
                              "ranges.sweep");
    const int64_t expected[] = {3,     1,     2,      4,      8,      16,     64,
                                256,   512,   1024,   2048,   4096,   8192,   16384,
                                32768, 65536, 131072, 262144, 524288, 1048576};
    size_t count = sizeof expected / sizeof expected[0];
    cr_assert_eq(sweep.count, count);
    for (size_t i = 0; i < count; i++) cr_assert_eq(sweep.rows[i].m, expected[i], "m #%zu", i);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, named_shapes_resolve_and_are_listed) {
    int count = 0;
    const mx_sweep_named_shape *named = mx_sweep_named_shapes(&count);
    cr_assert_eq(count, 10);
    cr_assert_eq(mx_sweep_named_shapes(NULL), named);
    char text[1024] = "ops gemm\nvariants auto\ndtypes f16\ndists gaussian\nm 1\nshapes";
    for (int i = 0; i < count; i++) {
        strcat(text, " ");
        strcat(text, named[i].name);
        cr_assert_eq(named[i].k % 32, 0, "%s", named[i].name);
        cr_assert_str_not_empty(named[i].what);
    }
    mx_sweep sweep = parse_ok(text, "named.sweep");
    cr_assert_eq(sweep.count, (size_t)count);
    for (int i = 0; i < count; i++) {
        cr_assert_str_eq(sweep.rows[i].shape_name, named[i].name);
        cr_assert_eq(sweep.rows[i].n, named[i].n, "%s", named[i].name);
        cr_assert_eq(sweep.rows[i].k, named[i].k, "%s", named[i].name);
    }
    /* The values docs/design.md §6 gives. */
    const struct {
        const char *name;
        int64_t n, k;
    } design[] = {{"gpt-oss.qkv", 5120, 2880},       {"gpt-oss.o", 2880, 4096},
                  {"gpt-oss.mlp1", 5760, 2880},      {"gpt-oss.mlp2", 2880, 2880},
                  {"gpt-oss.unembed", 201088, 2880}, {"llama.up", 14336, 4096},
                  {"llama.down", 4096, 14336},       {"square4096", 4096, 4096},
                  {"square8192", 8192, 8192}};
    for (int d = 0; d < 9; d++) {
        int i = 0;
        while (i < count && strcmp(named[i].name, design[d].name) != 0) i++;
        cr_assert_lt(i, count, "%s missing", design[d].name);
        cr_assert(named[i].n == design[d].n && named[i].k == design[d].k, "%s", design[d].name);
    }
    mx_sweep_free(&sweep);
}

/* Parses an ops and a variants line over one shape, m, dtype and dist; checks the (op, variant)
 * rows in order. */
static void check_pairs(const char *ops_and_variants, const char *const expected[][2],
                        size_t count) {
    char text[256];
    snprintf(text, sizeof text, "%s\ndtypes f16\ndists gaussian\nm 1\nshapes 32x32\n",
             ops_and_variants);
    mx_sweep sweep = parse_ok(text, "pairs.sweep");
    cr_assert_eq(sweep.count, count, "%s", ops_and_variants);
    for (size_t i = 0; i < count; i++) {
        cr_assert_str_eq(sweep.rows[i].op, expected[i][0], "%s: row %zu", ops_and_variants, i);
        cr_assert_str_eq(sweep.rows[i].variant, expected[i][1], "%s: row %zu", ops_and_variants, i);
    }
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, all_expands_to_each_ops_own_variants) {
    const char *const expected[][2] = {{"moe", "auto"},
                                       {"moe", "grouped"},
                                       {"gemm", "auto"},
                                       {"gemm", "fused"},
                                       {"gemm", "skinny"}};
    check_pairs("ops moe gemm\nvariants all", expected, 5);
}

Test(cpu_sweep, a_variant_only_makes_rows_for_the_ops_that_have_it) {
    const char *const expected[][2] = {
        {"gemm", "skinny"}, {"gemm", "auto"}, {"moe", "grouped"}, {"moe", "auto"}};
    check_pairs("ops gemm moe\nvariants skinny grouped auto", expected, 4);
}

Test(cpu_sweep, comments_blank_lines_tabs_and_crlf_are_ignored) {
    mx_sweep sweep = parse_ok("# a comment line\r\n"
                              "\r\n"
                              "   \t \n"
                              "description  spaced   out text   # not part of it\r\n"
                              "ops\tgemm# glued comment\n"
                              "\t[g-1_x.y]   # group comment\r\n"
                              "variants fused\r\n"
                              "dtypes f16\n"
                              "dists gaussian\n"
                              "m 1\t 2\r\n"
                              "shapes 32x64",
                              "comments.sweep");
    cr_assert_str_eq(sweep.description, "spaced   out text");
    cr_assert_eq(sweep.count, 2);
    cr_assert_str_eq(sweep.rows[1].group, "g-1_x.y");
    cr_assert_eq(sweep.rows[1].m, 2);
    cr_assert_eq(sweep.rows[1].k, 64);
    mx_sweep_free(&sweep);
}

Test(cpu_sweep, a_sweep_of_exactly_the_row_limit_parses) {
    /* 1000 m x 100 shapes = 100000 rows; one more dtype doubles it past the limit. */
    size_t size = 64 * 1024;
    char *text = malloc(size);
    cr_assert(text);
    int used = snprintf(text, size, "ops gemm\nvariants auto\ndists gaussian\n[big]\nm");
    for (int m = 1; m <= 1000; m++) used += snprintf(text + used, size - used, " %d", m);
    used += snprintf(text + used, size - used, "\nshapes");
    for (int n = 1; n <= 100; n++) used += snprintf(text + used, size - used, " %dx32", n);
    snprintf(text + used, size - used, "\ndtypes f16\n");
    mx_sweep sweep = parse_ok(text, "big.sweep");
    cr_assert_eq(sweep.count, MX_SWEEP_MAX_ROWS);
    mx_sweep_free(&sweep);

    snprintf(text + used, size - used, "\ndtypes f16 bf16\n");
    char error[512];
    cr_assert_not(mx_sweep_parse_text(text, "big.sweep", fake_ops, 2, &sweep, error, sizeof error));
    cr_assert(strstr(error, "big.sweep:4:1: group 'big' has 200000 rows"), "%s", error);
    cr_assert(strstr(error, "100000"), "%s", error);
    cr_assert_null(sweep.rows);
    cr_assert_eq(sweep.count, 0);
    free(text);
}

Test(cpu_sweep, an_unreadable_file_names_the_path_and_the_reason) {
    mx_sweep sweep;
    char error[512];
    cr_assert_not(
        mx_sweep_parse_file("/nonexistent/dir/x.sweep", fake_ops, 2, &sweep, error, sizeof error));
    cr_assert_str_eq(error, "/nonexistent/dir/x.sweep: cannot read sweep file: No such file or "
                            "directory");
    cr_assert_not(mx_sweep_parse_file("/", fake_ops, 2, &sweep, error, sizeof error));
    cr_assert(strstr(error, "/: cannot read sweep file: not a regular file"), "%s", error);
    cr_assert_eq(sweep.count, 0);
}

Test(cpu_sweep, a_description_longer_than_255_characters_is_an_error) {
    char text[512] = "description ";
    memset(text + 12, 'a', 256);
    strcpy(text + 12 + 256, "\nops gemm\n");
    mx_sweep sweep;
    char error[512];
    cr_assert_not(mx_sweep_parse_text(text, "d.sweep", fake_ops, 2, &sweep, error, sizeof error));
    cr_assert_str_eq(error, "d.sweep:1:13: description is 256 characters long: at most 255");
}

Test(cpu_sweep, free_is_safe_twice) {
    mx_sweep sweep = parse_ok("ops gemm\nvariants auto\ndtypes f16\ndists gaussian\nm 1\n"
                              "shapes 32x32\n",
                              "free.sweep");
    mx_sweep_free(&sweep);
    mx_sweep_free(&sweep);
    cr_assert_null(sweep.rows);
    mx_sweep_free(NULL);
}

/* ---- bad inputs: the exact location and a message naming the token */

typedef struct {
    char text[320];
    char location[32]; /* "bad.sweep:LINE:COL: " */
    char message[160]; /* a part of the message that names the token and what was expected */
} bad_case;

/* The lines of a valid group; each case below breaks one thing. */
#define OPS      "ops gemm\n"
#define VARIANTS "variants all\n"
#define DTYPES   "dtypes f16\n"
#define DISTS    "dists gaussian\n"
#define M        "m 1\n"
#define SHAPES   "shapes 64x64\n"
#define REST     DTYPES DISTS M SHAPES /* lines 3 to 6 after OPS VARIANTS */
/* A valid group with line 5 (m) or line 6 (shapes) replaced, or lines added from line 7 on. */
#define WITH_M(line)      OPS VARIANTS DTYPES DISTS line "\n" SHAPES
#define WITH_SHAPES(line) OPS VARIANTS DTYPES DISTS M line "\n"
#define PLUS(lines)       OPS VARIANTS REST lines

static bad_case bad_cases[] = {
    /* values */
    {OPS VARIANTS "dtypes f16 fp8\n" DISTS M SHAPES,
     "bad.sweep:3:12: ", "unknown dtype 'fp8': expected f16 or bf16"},
    {OPS VARIANTS DTYPES "dists gaussian normal\n" M SHAPES, "bad.sweep:4:16: ",
     "unknown dist 'normal': expected gaussian, uniform, heavy, outliers or range"},
    {"ops gemm conv\n" VARIANTS REST,
     "bad.sweep:1:10: ", "unknown op 'conv': expected gemm or moe"},
    {OPS "variants fused turbo\n" REST,
     "bad.sweep:2:16: ", "unknown variant 'turbo': expected all, auto, fused, skinny or grouped"},
    {OPS "variants all fused\n" REST, "bad.sweep:2:14: ", "'fused' cannot be combined with 'all'"},
    {"ops moe\nvariants skinny\n" REST, "bad.sweep:2:10: ",
     "variant 'skinny' is not a variant of any op of group 'bad': expected a variant of moe"},
    {"ops gemm moe\nvariants skinny\n" REST, "bad.sweep:1:10: ",
     "op 'moe' has none of the variants of group 'bad': expected one of auto or grouped"},
    {"variants grouped\n[g]\nops gemm\n" REST,
     "bad.sweep:1:10: ", "variant 'grouped' is not a variant of any op of group 'g'"},
    {WITH_SHAPES("shapes 64x64 4096x100"),
     "bad.sweep:6:14: ", "shape '4096x100': K = 100 is not a multiple of 32"},
    {WITH_SHAPES("shapes gpt-oss.foo"), "bad.sweep:6:8: ",
     "unknown shape 'gpt-oss.foo': expected NxK (e.g. 4096x4096) or a named shape: gpt-oss.qkv"},
    {WITH_SHAPES("shapes 64X64"), "bad.sweep:6:8: ", "unknown shape '64X64'"},
    {WITH_SHAPES("shapes 0x4096"), "bad.sweep:6:8: ",
     "N '0' in '0x4096' is out of range: expected a whole number in [1, 2147483647]"},
    {WITH_SHAPES("shapes 64x2147483648"),
     "bad.sweep:6:8: ", "K '2147483648' in '64x2147483648' is out of range"},
    {WITH_M("m 1 12a"),
     "bad.sweep:5:5: ", "bad integer '12a' for m: expected a whole number in [1, 1048576]"},
    {WITH_M("m -3"), "bad.sweep:5:3: ", "bad integer '-3' for m"},
    {WITH_M("m 0"),
     "bad.sweep:5:3: ", "m '0' is out of range: expected a whole number in [1, 1048576]"},
    {WITH_M("m 2097152"), "bad.sweep:5:3: ", "m '2097152' is out of range"},
    {WITH_M("m 99999999999999999999"),
     "bad.sweep:5:3: ", "m '99999999999999999999' is out of range"},
    {PLUS("batch 99999999999999999999\n"), "bad.sweep:7:7: ",
     "batch '99999999999999999999' is out of range: expected a whole number in [1, 65535]"},
    {PLUS("batch 0\n"), "bad.sweep:7:7: ", "batch '0' is out of range"},
    {PLUS("seed 1.5\n"), "bad.sweep:7:6: ", "bad integer '1.5' for seed"},
    {PLUS("budget_ms fast\n"),
     "bad.sweep:7:11: ", "bad number 'fast' for budget_ms: expected milliseconds"},
    {PLUS("budget_ms -1\n"), "bad.sweep:7:11: ", "bad number '-1' for budget_ms"},
    {WITH_M("m 1..12"), "bad.sweep:5:3: ", "range '1..12': 12 is not a power of two"},
    {WITH_M("m 3..16"), "bad.sweep:5:3: ", "range '3..16': 3 is not a power of two"},
    {WITH_M("m 64..16"), "bad.sweep:5:3: ", "range '64..16': start 64 is greater than end 16"},
    {WITH_M("m 1.."), "bad.sweep:5:3: ", "bad integer '' in '1..' for range end"},
    {WITH_M("m 1..2097152"),
     "bad.sweep:5:3: ", "range end '2097152' in '1..2097152' is out of range"},
    /* values listed twice */
    {OPS VARIANTS "dtypes f16 bf16 f16\n" DISTS M SHAPES,
     "bad.sweep:3:17: ", "dtype 'f16' is already listed at column 8"},
    {WITH_M("m 1..8 4"), "bad.sweep:5:8: ", "m value 4 in '4' is already listed at column 3"},
    {WITH_SHAPES("shapes gpt-oss.mlp2 2880x2880"),
     "bad.sweep:6:21: ", "shape '2880x2880' (2880x2880) is already listed at column 8"},
    {"ops gemm gemm\n" VARIANTS REST, "bad.sweep:1:10: ", "op 'gemm' is already listed"},
    /* keys */
    {PLUS("tokens 1 2\n"),
     "bad.sweep:7:1: ", "unknown key 'tokens': expected description, ops, variants"},
    {PLUS("\n  m 2\n"),
     "bad.sweep:8:3: ", "duplicate key 'm' in the file-level defaults (first at line 5)"},
    {"[g]\n" PLUS("m 2\n"), "bad.sweep:8:1: ", "duplicate key 'm' in group 'g' (first at line 6)"},
    {WITH_M("m   # nothing"),
     "bad.sweep:5:1: ", "key 'm' has no value: expected token counts or ranges A..B"},
    {PLUS("batch 1 2\n"), "bad.sweep:7:9: ", "key 'batch' takes one value: unexpected '2'"},
    {PLUS("[g]\ndescription late\n"),
     "bad.sweep:8:1: ", "key 'description' inside group 'g': expected it at file level"},
    {PLUS("experts 32\n"), "bad.sweep:7:9: ", "experts 32 in group 'bad' needs a topk line"},
    {PLUS("kv_heads 4097\n"),
     "bad.sweep:7:10: ", "kv_heads '4097' is out of range: expected a whole number in [0, 4096]"},
    {PLUS("topk 4\n"), "bad.sweep:7:6: ", "topk 4 in group 'bad' needs an experts line"},
    {PLUS("experts 2\ntopk 4\n"),
     "bad.sweep:8:6: ", "topk 4 in group 'bad' is more than its experts (2)"},
    /* groups */
    {OPS VARIANTS DTYPES DISTS SHAPES "\n[decode]\n",
     "bad.sweep:7:1: ", "group 'decode' has no 'm' line"},
    {OPS VARIANTS DTYPES DISTS M, "bad.sweep:1:1: ", "group 'bad' has no 'shapes' line"},
    {"", "bad.sweep:1:1: ", "group 'bad' has no 'ops' line"},
    {PLUS("[a]\n[b]\n[a]\n"), "bad.sweep:9:1: ", "duplicate group 'a' (first at line 7)"},
    {PLUS("[]\n"), "bad.sweep:7:1: ", "empty group name '[]'"},
    {PLUS("  [decode   # no bracket\n"),
     "bad.sweep:7:3: ", "unterminated group header '[decode': expected ']'"},
    {PLUS("[de code]\n"), "bad.sweep:7:4: ", "bad character ' ' in group name 'de code'"},
    {PLUS("[a/b]\n"), "bad.sweep:7:3: ", "bad character '/' in group name 'a/b'"},
    {PLUS("[a] m 1\n"), "bad.sweep:7:5: ", "unexpected 'm 1' after group header '[a]'"},
    {PLUS("[0123456789012345678901234567890123456789012345678901234567890123]\n"),
     "bad.sweep:7:2: ", "is 64 characters long: at most 63"},
};

ParameterizedTestParameters(cpu_sweep, bad_input_is_reported_at_its_line_and_column) {
    return cr_make_param_array(bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(bad_case *c, cpu_sweep, bad_input_is_reported_at_its_line_and_column) {
    mx_sweep sweep;
    char error[512];
    bool ok = mx_sweep_parse_text(c->text, "bad.sweep", fake_ops, 2, &sweep, error, sizeof error);
    cr_assert_not(ok, "parsed, expected %s%s:\n%s", c->location, c->message, c->text);
    cr_assert(strncmp(error, c->location, strlen(c->location)) == 0,
              "error '%s' does not start with '%s'", error, c->location);
    cr_assert(strstr(error + strlen(c->location), c->message), "error '%s' lacks '%s'", error,
              c->message);
    cr_assert_null(sweep.rows, "a failed parse leaves the sweep empty");
    cr_assert_eq(sweep.count, 0);
}

Test(cpu_sweep, a_small_error_buffer_is_cut_short_not_overrun) {
    mx_sweep sweep;
    char error[16];
    memset(error, 'x', sizeof error);
    cr_assert_not(mx_sweep_parse_text("bogus\n", "bad.sweep", fake_ops, 2, &sweep, error, 12));
    cr_assert_str_eq(error, "bad.sweep:1");
    cr_assert_eq(error[12], 'x');
    cr_assert_not(mx_sweep_parse_text("bogus\n", "bad.sweep", fake_ops, 2, &sweep, NULL, 0));
}

/* A line of 200000 values, or 100000 groups, is refused at once (the limit, not the row count
 * after a quadratic duplicate check, stops it). */
Test(cpu_sweep, huge_lines_and_group_counts_are_refused_early, .timeout = 10.0) {
    size_t size = 2000000;
    char *text = malloc(size), error[512];
    cr_assert_not_null(text);
    size_t used = (size_t)snprintf(text, size,
                                   "ops gemm\nvariants auto\ndtypes f16\n"
                                   "dists gaussian\nshapes 64x64\nm");
    for (int i = 1; i <= 200000 && used + 16 < size; i++)
        used += (size_t)snprintf(text + used, size - used, " %d", i);
    snprintf(text + used, size - used, "\n");
    mx_sweep sweep;
    cr_assert_not(
        mx_sweep_parse_text(text, "wide.sweep", fake_ops, 2, &sweep, error, sizeof error));
    cr_expect(strstr(error, "wide.sweep:6:") && strstr(error, "more than 4096 m values"), "%s",
              error);
    used = 0;
    for (int g = 0; g < 100000 && used + 200 < size; g++)
        used += (size_t)snprintf(text + used, size - used,
                                 "[g%d]\nops gemm\nvariants auto\ndtypes f16\ndists gaussian\n"
                                 "shapes 64x64\nm 1\n",
                                 g);
    cr_assert_not(
        mx_sweep_parse_text(text, "tall.sweep", fake_ops, 2, &sweep, error, sizeof error));
    cr_expect(strstr(error, "more than 4096 groups"), "%s", error);
    free(text);
}
