/* auto's measured dispatch on the CPU: the table's lookup against a brute-force one on fresh
 * random tables, every malformed table refused naming its line, a foreign table refused,
 * MX_GEMM_DISPATCH read or refused, the built-in tables valid, and `mxbench tune` picking the
 * fastest candidate of each problem of a real H200 run (checked against its results.csv). */
#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "dispatch.h"
#include "tune.h"

#define HEADER MX_GEMM_DISPATCH_COLUMNS "\n"

static mx_status parse(const char *text, const char *gpu, const char *path, mx_gemm_dispatch *table,
                       bool *matched) {
    return mx_gemm_dispatch_parse(text, strlen(text), "t.csv", gpu, path, table, matched);
}

static mx_gemm_dispatch parse_ok(const char *text) {
    mx_gemm_dispatch table;
    bool matched = false;
    cr_assert_eq(parse(text, "GPU A", "hopper", &table, &matched), MX_OK, "%s", mx_last_error());
    cr_assert(matched);
    return table;
}

/* suites/fixtures/NAME. */
static void fixture(const char *name, char *path, size_t size) {
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, size, "%.*s/fixtures/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", name);
}

Test(cpu_dispatch, a_table_gives_the_nearest_shape_then_the_smallest_m_at_or_above) {
    mx_gemm_dispatch table =
        parse_ok("# a comment\n" HEADER "GPU A,hopper,f16,1,4096,4096,skinny,10,fused,15\n"
                 "GPU A,hopper,f16,64,4096,4096,fused,30,skinny,31\n"
                 "GPU A,hopper,f16,16,4096,4096,skinny,14,fused,17\n"
                 "GPU A,hopper,f16,1,201088,2880,fused,90,skinny,95\n"
                 "GPU A,hopper,bf16,4096,4096,4096,skinny,900,fused,1000\n"
                 "GPU B,hopper,f16,1,4096,4096,fused,1,skinny,2\n"
                 "GPU A,portable,f16,1,4096,4096,fused,1,skinny,2\n");
    cr_expect_eq(table.count, 5, "only GPU A on the hopper path: %zu rows", table.count);
    struct {
        mx_dtype dtype;
        int64_t m, n, k;
        mx_gemm_variant expected;
    } cases[] = {
        {MX_F16, 1, 4096, 4096, MX_GEMM_SKINNY},   {MX_F16, 2, 4096, 4096, MX_GEMM_SKINNY},
        {MX_F16, 16, 4096, 4096, MX_GEMM_SKINNY},  {MX_F16, 64, 4096, 4096, MX_GEMM_FUSED},
        {MX_F16, 17, 4096, 4096, MX_GEMM_FUSED},   {MX_F16, 9999, 4096, 4096, MX_GEMM_FUSED},
        {MX_F16, 1, 14336, 4096, MX_GEMM_SKINNY},  {MX_F16, 1, 131072, 2880, MX_GEMM_FUSED},
        {MX_F16, 64, 262144, 4096, MX_GEMM_FUSED}, {MX_BF16, 1, 4096, 4096, MX_GEMM_SKINNY},
        {MX_F32, 1, 4096, 4096, MX_GEMM_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(
            mx_gemm_dispatch_pick(&table, cases[i].dtype, cases[i].m, cases[i].n, cases[i].k),
            cases[i].expected, "case %zu: m %lld %lldx%lld", i, (long long)cases[i].m,
            (long long)cases[i].n, (long long)cases[i].k);
    mx_gemm_dispatch_free(&table);
}

/* The lookup written the plain way: the least distance over the rows of the dtype, then the
 * smallest (n, k) within 1e-9 of it, then its m. */
static double distance(const int64_t *row, int64_t n, int64_t k) {
    return fabs(log2((double)row[2] / n)) + fabs(log2((double)row[3] / k));
}

static mx_gemm_variant brute_force(const int64_t (*rows)[5], int count, int64_t dtype, int64_t m,
                                   int64_t n, int64_t k) {
    double best = INFINITY;
    for (int i = 0; i < count; i++)
        if (rows[i][0] == dtype && distance(rows[i], n, k) < best) best = distance(rows[i], n, k);
    int shape = -1;
    for (int i = 0; i < count; i++)
        if (rows[i][0] == dtype && distance(rows[i], n, k) <= best + 1e-9 &&
            (shape < 0 || rows[i][2] < rows[shape][2] ||
             (rows[i][2] == rows[shape][2] && rows[i][3] < rows[shape][3])))
            shape = i;
    if (shape < 0) return MX_GEMM_AUTO;
    int above = -1, largest = -1;
    for (int i = 0; i < count; i++) {
        if (rows[i][0] != dtype || rows[i][2] != rows[shape][2] || rows[i][3] != rows[shape][3])
            continue;
        if (largest < 0 || rows[i][1] > rows[largest][1]) largest = i;
        if (rows[i][1] >= m && (above < 0 || rows[i][1] < rows[above][1])) above = i;
    }
    return (mx_gemm_variant)rows[above >= 0 ? above : largest][4];
}

Test(cpu_dispatch, random_tables_give_what_a_brute_force_lookup_gives) {
    mx_rng rng = mx_rng_fresh();
    static const int64_t sides[] = {32, 2880, 4096, 5760, 14336, 201088};
    static const int64_t ms[] = {1, 2, 4, 16, 64, 256, 4096};
    for (int trial = 0; trial < 200; trial++) {
        int64_t rows[64][5];
        int count = 0;
        char text[16384] = HEADER;
        size_t used = strlen(text);
        for (int attempt = 0; attempt < 64; attempt++) {
            int64_t row[5] = {1 + (int64_t)(mx_rng_next(&rng) % 2), ms[mx_rng_next(&rng) % 7],
                              sides[mx_rng_next(&rng) % 6], sides[mx_rng_next(&rng) % 6],
                              mx_rng_next(&rng) % 2 ? MX_GEMM_FUSED : MX_GEMM_SKINNY};
            bool seen = false;
            for (int i = 0; i < count; i++)
                seen = seen || (rows[i][0] == row[0] && rows[i][1] == row[1] &&
                                rows[i][2] == row[2] && rows[i][3] == row[3]);
            if (seen) continue;
            memcpy(rows[count++], row, sizeof row);
            used += (size_t)snprintf(
                text + used, sizeof text - used, "GPU A,hopper,%s,%lld,%lld,%lld,%s,1.5,%s,2\n",
                row[0] == MX_BF16 ? "bf16" : "f16", (long long)row[1], (long long)row[2],
                (long long)row[3], mx_gemm_variant_name((mx_gemm_variant)row[4]),
                mx_gemm_variant_name(row[4] == MX_GEMM_FUSED ? MX_GEMM_SKINNY : MX_GEMM_FUSED));
        }
        mx_gemm_dispatch table = parse_ok(text);
        for (int query = 0; query < 50; query++) {
            int64_t dtype = 1 + (int64_t)(mx_rng_next(&rng) % 2);
            /* half of them at a measured m, shape or both */
            int64_t m = mx_rng_next(&rng) % 2 ? ms[mx_rng_next(&rng) % 7]
                                              : 1 + (int64_t)(mx_rng_next(&rng) % 5000);
            bool measured = mx_rng_next(&rng) % 2;
            int64_t n =
                measured ? sides[mx_rng_next(&rng) % 6] : 1 + (int64_t)(mx_rng_next(&rng) % 300000);
            int64_t k = measured ? sides[mx_rng_next(&rng) % 6]
                                 : 32 * (1 + (int64_t)(mx_rng_next(&rng) % 1000));
            cr_assert_eq(mx_gemm_dispatch_pick(&table, (mx_dtype)dtype, m, n, k),
                         brute_force((const int64_t(*)[5])rows, count, dtype, m, n, k),
                         "dtype %lld m %lld %lldx%lld in:\n%s", (long long)dtype, (long long)m,
                         (long long)n, (long long)k, text);
        }
        mx_gemm_dispatch_free(&table);
    }
}

typedef struct {
    char text[200]; /* the rows after the header ('@': no header) */
    char needle[80];
} bad_table;

static bad_table bad_tables[] = {
    {"@gpu,path,dtype,m,n,k,variant,time_us\n", "the header is"},
    {"@", "no header line"},
    {"", "no rows after its header"},
    {"GPU A,hopper,f16,1,64,64,skinny,1,fused\n", "t.csv:2: expected 10 comma-separated cells"},
    {"GPU A,hopper,f16,1,64,64,skinny,1,fused,2,x\n", "t.csv:2: expected 10"},
    {",hopper,f16,1,64,64,skinny,1,fused,2\n", "gpu ''"},
    {"GPU A,ampere,f16,1,64,64,skinny,1,fused,2\n", "path 'ampere': expected hopper or portable"},
    {"GPU A,hopper,f32,1,64,64,skinny,1,fused,2\n", "dtype 'f32': expected f16 or bf16"},
    {"GPU A,hopper,f16,0,64,64,skinny,1,fused,2\n", "m '0': expected an integer from 1"},
    {"GPU A,hopper,f16,+4,64,64,skinny,1,fused,2\n", "m '+4'"},
    {"GPU A,hopper,f16, 4,64,64,skinny,1,fused,2\n", "m ' 4'"},
    {"GPU A,hopper,f16,1,99999999999,64,skinny,1,fused,2\n", "n '99999999999'"},
    {"GPU A,hopper,f16,1,64,100,skinny,1,fused,2\n", "k '100': expected a multiple of 32"},
    {"GPU A,hopper,f16,1,64,64,dequant_cublas,1,fused,2\n", "variant 'dequant_cublas'"},
    {"GPU A,hopper,f16,1,64,64,persistent,1,fused,2\n", "auto never picks"},
    {"GPU A,hopper,f16,1,64,64,auto,1,fused,2\n", "variant 'auto'"},
    {"GPU A,hopper,f16,1,64,64,skinny,nan,fused,2\n", "time_us 'nan'"},
    {"GPU A,hopper,f16,1,64,64,skinny,-1,fused,2\n", "time_us '-1'"},
    {"GPU A,hopper,f16,1,64,64,skinny,0,fused,2\n", "time_us '0'"},
    {"GPU A,hopper,f16,1,64,64,skinny,1.5x,fused,2\n", "time_us '1.5x'"},
    {"GPU A,hopper,f16,1,64,64,skinny,1e,fused,2\n", "time_us '1e'"},
    {"GPU A,hopper,f16,1,64,64,skinny,.,fused,2\n", "time_us '.'"},
    {"GPU A,hopper,f16,1,64,64,skinny,1e999,fused,2\n", "time_us '1e999'"},
    {"GPU A,hopper,f16,1,64,64,skinny,1,skinny,2\n", "runner_up 'skinny'"},
    {"GPU A,hopper,f16,1,64,64,skinny,3,fused,2\n", "runner_up_time_us '2': expected at least"},
    {"GPU A,hopper,f16,1,64,64,skinny,1,fused,2\nGPU A,hopper,f16,1,64,64,fused,1,skinny,2\n",
     "t.csv:3: the problem of line 2 again"},
    {"GPU B,hopper,f16,1,64,64,skinny,1,fused,2\nGPU A,hopper,f16,1,64,64,what,1,fused,2\n",
     "t.csv:3: variant 'what'"},
};

ParameterizedTestParameters(cpu_dispatch, a_malformed_table_is_refused_naming_line_and_value) {
    return cr_make_param_array(bad_table, bad_tables, sizeof bad_tables / sizeof bad_tables[0]);
}

ParameterizedTest(bad_table *bad, cpu_dispatch,
                  a_malformed_table_is_refused_naming_line_and_value) {
    char text[512];
    snprintf(text, sizeof text, "%s%s", bad->text[0] == '@' ? "" : HEADER,
             bad->text + (bad->text[0] == '@'));
    mx_gemm_dispatch table = {(mx_gemm_dispatch_row *)&table, 7, (mx_gemm_dispatch_shape *)&table,
                              7}; /* poisoned */
    bool matched = true;
    cr_assert_eq(parse(text, "GPU A", "hopper", &table, &matched), MX_ERR_INVALID_ARGUMENT,
                 "accepted:\n%s", text);
    cr_expect(strstr(mx_last_error(), bad->needle), "'%s' does not say '%s'", mx_last_error(),
              bad->needle);
    cr_expect(!matched && table.count == 0 && table.rows == NULL && table.shapes == NULL,
              "a refused table kept rows");
}

Test(cpu_dispatch, a_long_line_a_nul_byte_and_too_many_rows_are_refused) {
    mx_gemm_dispatch table;
    bool matched;
    char line[2000];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    char text[2100];
    snprintf(text, sizeof text, HEADER "%s\n", line);
    cr_expect_eq(parse(text, "GPU A", "hopper", &table, &matched), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "t.csv:2: a line of 1999 bytes"), "%s", mx_last_error());
    const char nul[] = HEADER "GPU A,hopper,f16,1,64,64,skinny,1,fused,2\0\n";
    cr_expect_eq(
        mx_gemm_dispatch_parse(nul, sizeof nul - 1, "t.csv", "GPU A", "hopper", &table, &matched),
        MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "NUL"), "%s", mx_last_error());
    size_t size = strlen(HEADER) + (MX_GEMM_DISPATCH_MAX_ROWS + 1) * 48 + 1;
    char *many = malloc(size);
    cr_assert(many);
    size_t used = (size_t)snprintf(many, size, HEADER);
    for (int i = 0; i <= MX_GEMM_DISPATCH_MAX_ROWS; i++)
        used += (size_t)snprintf(many + used, size - used,
                                 "G,hopper,f16,%d,64,64,skinny,1,fused,2\n", 1 + i % 1000000);
    cr_expect_eq(mx_gemm_dispatch_parse(many, used, "t.csv", "G", "hopper", &table, &matched),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "more than 10000 rows"), "%s", mx_last_error());
    free(many);
}

Test(cpu_dispatch, a_table_of_another_gpu_or_path_matches_nothing) {
    const char *text = HEADER "NVIDIA H200,hopper,f16,1,64,64,skinny,1,fused,2\n";
    mx_gemm_dispatch table;
    bool matched = true;
    cr_assert_eq(parse(text, "NVIDIA H100 80GB HBM3", "hopper", &table, &matched), MX_OK);
    cr_expect(!matched && table.count == 0);
    cr_assert_eq(parse(text, "NVIDIA H200", "portable", &table, &matched), MX_OK);
    cr_expect(!matched && table.count == 0);
    cr_assert_eq(parse(text, "NVIDIA H200", "hopper", &table, &matched), MX_OK);
    cr_expect(matched && table.count == 1);
    mx_gemm_dispatch_free(&table);
}

/* Each built-in table parses for every GPU and path it has rows of (so that their duplicates are
 * checked too), and no two tables have rows of the same GPU and path (the first would win). */
Test(cpu_dispatch, every_built_in_table_is_valid_and_the_only_one_of_its_gpus) {
    char seen[64][300];
    int seen_count = 0, tables = 0;
    for (const mx_gemm_dispatch_source_text *b = mx_gemm_dispatch_builtin; b->text; b++, tables++) {
        const char *rows = strstr(b->text, HEADER);
        cr_assert(rows, "%s has no header line", b->origin);
        int first_of_table = seen_count;
        for (const char *line = rows + strlen(HEADER); *line; line = strchr(line, '\n') + 1) {
            char gpu[256] = "", path[32] = "", pair[300];
            if (line[0] != '#' && sscanf(line, "%255[^,],%31[^,]", gpu, path) == 2) {
                snprintf(pair, sizeof pair, "%s on the %s path", gpu, path);
                int found = -1;
                for (int i = 0; i < seen_count; i++)
                    if (!strcmp(seen[i], pair)) found = i;
                cr_expect(found < 0 || found >= first_of_table,
                          "%s has rows of %s, as an earlier table has", b->origin, pair);
                if (found < 0 && seen_count < 64) {
                    snprintf(seen[seen_count++], sizeof seen[0], "%s", pair);
                    mx_gemm_dispatch table;
                    bool matched = false;
                    cr_expect_eq(mx_gemm_dispatch_parse(b->text, strlen(b->text), b->origin, gpu,
                                                        path, &table, &matched),
                                 MX_OK, "%s", mx_last_error());
                    cr_expect(matched, "%s: no rows for %s", b->origin, pair);
                    mx_gemm_dispatch_free(&table);
                }
            }
            if (!strchr(line, '\n')) break;
        }
    }
    cr_log_info("%d built-in dispatch table%s, %d GPU and path pairs", tables,
                tables == 1 ? "" : "s", seen_count);
}

/* Times in any decimal form tune or a person writes, read the same whatever LC_NUMERIC says;
 * shapes at the same distance go to the smaller n, exactly (log2 120/96 = log2 150/120, though
 * log2 150 - log2 120 comes out below log2 120 - log2 96 in doubles). */
Test(cpu_dispatch, times_ignore_the_locale_and_equal_distances_tie_to_the_smaller_n) {
    const char *text = HEADER "GPU A,hopper,f16,1,96,2880,fused,1.25e1,skinny,2.5E+1\n"
                              "GPU A,hopper,f16,1,150,2880,skinny,12,fused,12.000\n";
    const char *locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C"};
    for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++) {
        if (!setlocale(LC_NUMERIC, locales[i])) {
            cr_log_info("locale %s not installed here", locales[i]);
            continue;
        }
        mx_gemm_dispatch table = parse_ok(text);
        cr_expect_eq(mx_gemm_dispatch_pick(&table, MX_F16, 1, 120, 2880), MX_GEMM_FUSED,
                     "n 120 between 96 and 150 (locale %s)", locales[i]);
        cr_expect_eq(mx_gemm_dispatch_pick(&table, MX_F16, 1, 121, 2880), MX_GEMM_SKINNY);
        mx_gemm_dispatch_free(&table);
    }
    setlocale(LC_NUMERIC, "C");
}

/* mx_gemm_dispatch_open with MX_GEMM_DISPATCH=value: its status and source text. */
static mx_status open_with(const char *value, char *source, size_t size) {
    if (value)
        setenv(MX_GEMM_DISPATCH_ENV, value, 1);
    else
        unsetenv(MX_GEMM_DISPATCH_ENV);
    mx_gemm_dispatch table = {(mx_gemm_dispatch_row *)source, 3, (mx_gemm_dispatch_shape *)source,
                              3}; /* poisoned */
    mx_status status = mx_gemm_dispatch_open("GPU A", "hopper", &table, source, size);
    cr_expect_eq(table.count > 0, status == MX_OK && strncmp(source, "table ", 6) == 0,
                 "%zu rows for '%s'", table.count, source);
    mx_gemm_dispatch_free(&table);
    return status;
}

Test(cpu_dispatch, MX_GEMM_DISPATCH_names_a_table_or_the_thresholds,
     .init = mx_test_work_dir_create) {
    char source[512];
    const char *good = mx_test_path("good.csv"), *foreign = mx_test_path("foreign.csv"),
               *broken = mx_test_path("broken.csv");
    const char good_text[] = HEADER "GPU A,hopper,f16,1,64,64,fused,1,skinny,2\n";
    const char foreign_text[] = HEADER "GPU B,hopper,f16,1,64,64,fused,1,skinny,2\n";
    const char broken_text[] = HEADER "GPU A,hopper,f16,1,64,64,fused,1,skinny\n";
    mx_test_write_file(good, good_text, sizeof good_text - 1);
    mx_test_write_file(foreign, foreign_text, sizeof foreign_text - 1);
    mx_test_write_file(broken, broken_text, sizeof broken_text - 1);

    cr_expect_eq(open_with(good, source, sizeof source), MX_OK, "%s", source);
    cr_expect(strstr(source, good) && strstr(source, "1 rows for GPU A on the hopper path"), "%s",
              source);
    cr_expect_eq(open_with("thresholds", source, sizeof source), MX_OK);
    cr_expect(strstr(source, "thresholds (MX_GEMM_DISPATCH=thresholds)"), "%s", source);
    cr_expect_eq(open_with(NULL, source, sizeof source), MX_OK);
    cr_expect(strstr(source, "thresholds (no table for GPU A on the hopper path)"), "%s", source);

    struct {
        const char *value, *needle;
    } refused[] = {
        {foreign, "no row for GPU A on the hopper path"},
        {broken, "broken.csv:2: expected 10 comma-separated cells"},
        {mx_test_path("missing.csv"), "No such file"},
        {mx_test_work_dir, "not a regular file"},
        {"/dev/zero", "not a regular file"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cr_expect_eq(open_with(refused[i].value, source, sizeof source), MX_ERR_INVALID_ARGUMENT,
                     "%s accepted: %s", refused[i].value, source);
        cr_expect(strstr(source, "thresholds: MX_GEMM_DISPATCH=") &&
                      strstr(source, refused[i].needle),
                  "'%s' does not say '%s'", source, refused[i].needle);
    }
}

// ---- mxbench tune

/* One results.csv row's cell. */
static const char *cell(const mx_table *t, size_t row, const char *column) {
    int index = mx_table_column_index(t, column);
    return index < 0 ? "" : mx_table_cell(t, (int)row, index);
}

/* The smoke run of an H200: every table row is the faster of its problem's fused and skinny rows,
 * every problem with both (and judged) has a row, and the library reads the table back. */
Test(cpu_dispatch, tune_keeps_the_faster_candidate_of_every_problem_of_a_real_run,
     .init = mx_test_work_dir_create) {
    char run[4096], path[4200], error[512];
    fixture("h200_smoke", run, sizeof run);
    snprintf(path, sizeof path, "%s/results.csv", run);
    mx_table *results = NULL;
    cr_assert(mx_csv_read(path, &results, error, sizeof error), "%s", error);
    snprintf(path, sizeof path, "%s/run.json", run);
    mx_run_info meta;
    cr_assert(mx_run_info_read(path, &meta, error, sizeof error), "%s", error);

    /* Make every row judged, and one problem fused's, so that both outcomes are checked. */
    size_t rows = mx_table_row_count(results);
    for (size_t r = 0; r < rows; r++) {
        mx_table_set(results, (int)r, "unstable", "false");
        if (!strcmp(cell(results, r, "variant"), "fused") && !strcmp(cell(results, r, "M"), "256"))
            mx_table_set(results, (int)r, "time_us", "1.000");
    }
    mx_text text = {0};
    mx_tune_summary summary;
    cr_assert(mx_tune_table(run, results, &meta, &text, &summary, error, sizeof error), "%s",
              error);
    cr_log_info("%s", text.data);

    size_t expected = 0;
    for (size_t a = 0; a < rows; a++) {
        if (strcmp(cell(results, a, "op"), "gemm") || strcmp(cell(results, a, "variant"), "skinny"))
            continue;
        for (size_t b = 0; b < rows; b++) {
            if (strcmp(cell(results, b, "variant"), "fused") ||
                strcmp(cell(results, b, "op"), "gemm"))
                continue;
            const char *key[] = {"dtype", "M", "N", "K"};
            bool same = true;
            for (int i = 0; i < 4; i++)
                same = same && !strcmp(cell(results, a, key[i]), cell(results, b, key[i]));
            if (!same) continue;
            double skinny = atof(cell(results, a, "time_us")),
                   fused = atof(cell(results, b, "time_us"));
            char line[256];
            snprintf(line, sizeof line, "NVIDIA H200,hopper,%s,%s,%s,%s,%s,%.3f,%s,%.3f\n",
                     cell(results, a, "dtype"), cell(results, a, "M"), cell(results, a, "N"),
                     cell(results, a, "K"), skinny < fused ? "skinny" : "fused",
                     fmin(skinny, fused), skinny < fused ? "fused" : "skinny", fmax(skinny, fused));
            cr_expect(strstr(text.data, line), "the table lacks %s", line);
            expected++;
        }
    }
    cr_expect_geq(expected, 6);
    cr_expect_eq(summary.problems, expected);
    cr_expect_eq(summary.picked[MX_GEMM_FUSED], 2, "fused made fastest at 2 problems (m 256)");

    mx_gemm_dispatch table;
    bool matched = false;
    cr_assert_eq(mx_gemm_dispatch_parse(text.data, text.length, "tuned", "NVIDIA H200", "hopper",
                                        &table, &matched),
                 MX_OK, "%s", mx_last_error());
    cr_expect(matched && table.count == expected);
    cr_expect_eq(mx_gemm_dispatch_pick(&table, MX_F16, 200, 2880, 2880), MX_GEMM_FUSED);
    cr_expect_eq(mx_gemm_dispatch_pick(&table, MX_F16, 1, 2880, 2880), MX_GEMM_SKINNY);
    mx_gemm_dispatch_free(&table);
    mx_text_free(&text);
    mx_table_free(results);
}

/* Rows that must not decide: not ok, batched, throttled, over the error gate; a problem without
 * both candidates is counted, not guessed. */
Test(cpu_dispatch, tune_leaves_out_rows_that_cannot_be_judged) {
    const char csv[] = "op,variant,dtype,M,N,K,batch,status,time_us,throttled,unstable,pass_error\n"
                       "gemm,fused,f16,1,64,64,1,ok,5,false,false,true\n"
                       "gemm,skinny,f16,1,64,64,1,ok,9,false,false,true\n"
                       "gemm,skinny,f16,1,64,64,1,fail,1,false,false,true\n"
                       "gemm,skinny,f16,1,64,64,4,ok,1,false,false,true\n"
                       "gemm,skinny,f16,1,64,64,1,ok,1,true,false,true\n"
                       "gemm,skinny,f16,1,64,64,1,ok,1,false,false,false\n"
                       "gemm,skinny,f16,1,64,64,1,ok,,false,false,true\n"
                       "gemm,fused,f16,2,64,64,1,ok,5,false,false,true\n"
                       "gemm,dequant_cublas,f16,2,64,64,1,ok,1,false,false,true\n"
                       "moe,skinny,f16,2,64,64,1,ok,1,false,false,true\n";
    mx_table *results = NULL;
    char error[512];
    cr_assert(mx_csv_parse("r.csv", csv, sizeof csv - 1, &results, error, sizeof error), "%s",
              error);
    mx_run_info meta;
    mx_run_info_clear(&meta);
    strcpy(meta.gpu_name, "GPU A");
    strcpy(meta.code_path, "hopper");
    strcpy(meta.suite, "two\nlines"); /* stays in its comment line */
    mx_text text = {0};
    mx_tune_summary summary;
    cr_assert(mx_tune_table("run", results, &meta, &text, &summary, error, sizeof error), "%s",
              error);
    cr_expect(strstr(text.data, "\nGPU A,hopper,f16,1,64,64,fused,5.000,skinny,9.000\n"), "%s",
              text.data);
    cr_expect(strstr(text.data, "(suite two lines,"), "%s", text.data);
    cr_expect_eq(summary.problems, 1);
    cr_expect_eq(summary.not_ok, 2);
    cr_expect_eq(summary.batched, 1);
    cr_expect_eq(summary.flagged, 2);
    cr_expect_eq(summary.incomplete, 1);
    cr_expect(strstr(summary.first_incomplete, "f16 m 2 64x64: 1 of the 2"), "%s",
              summary.first_incomplete);
    mx_text_free(&text);

    strcpy(meta.code_path, "");
    cr_expect(!mx_tune_table("run", results, &meta, &text, &summary, error, sizeof error));
    cr_expect(strstr(error, "no gpu.code_path"), "%s", error);
    mx_text_free(&text);
    strcpy(meta.code_path, "hopper");
    strcpy(meta.gpu_name, "GPU, A");
    cr_expect(!mx_tune_table("run", results, &meta, &text, &summary, error, sizeof error));
    cr_expect(strstr(error, "'GPU, A'"), "%s", error);
    mx_text_free(&text);
    mx_table_free(results);
}

/* The command: a table written atomically; a run it cannot use exits 2, a write that fails 1,
 * and neither leaves a file nor touches the one already there. */
Test(cpu_dispatch, tune_command_writes_the_table_or_refuses_leaving_files_as_they_were,
     .init = mx_test_work_dir_create) {
    char smoke[4096], standard[4096];
    fixture("h200_smoke", smoke, sizeof smoke);
    fixture("h200_standard", standard, sizeof standard);
    const char *out = mx_test_path("table.csv");
    mx_test_write_file(out, "old", 3);

    const char *old_run[] = {"tune", standard, "--out", out, NULL};
    mx_cli_result result = mx_test_run_cli(old_run);
    cr_expect_eq(result.exit_code, 2, "%s", result.err);
    cr_expect(strstr(result.err, "no gpu.code_path"), "%s", result.err);
    const char *missing[] = {"tune", mx_test_path("nothing"), "--out", out, NULL};
    result = mx_test_run_cli(missing);
    cr_expect_eq(result.exit_code, 2, "%s", result.err);
    cr_expect(strstr(result.err, "nothing/run.json"), "%s", result.err);
    const char *unwritable[] = {"tune", smoke, "--out", mx_test_path("no/such/folder.csv"), NULL};
    result = mx_test_run_cli(unwritable);
    cr_expect_eq(result.exit_code, 1, "%s", result.err);
    char text[8192];
    mx_test_read_text(out, text, sizeof text);
    cr_expect_str_eq(text, "old", "a refused tune changed the file");

    const char *good[] = {"tune", smoke, "--out", out, NULL};
    result = mx_test_run_cli(good);
    cr_expect_eq(result.exit_code, 0, "%s", result.err);
    cr_expect(strstr(result.out, "dispatch table for NVIDIA H200 (hopper path)"), "%s", result.out);
    mx_test_read_text(out, text, sizeof text);
    cr_expect(strstr(text, "\n" HEADER), "%s", text);
    DIR *dir = opendir(mx_test_work_dir);
    cr_assert(dir);
    for (struct dirent *entry; (entry = readdir(dir));)
        cr_expect(strncmp(entry->d_name, "table.csv.", 10), "left behind: %s", entry->d_name);
    closedir(dir);
}
