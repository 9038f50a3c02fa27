/* The whole-model weight memory table (harness/model.h) against the published gpt-oss figures,
 * its own consistency, and the `mxbench model` command. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "model.h"

static double number(const mx_table *t, int row, const char *column) {
    return atof(mx_table_get(t, row, column));
}

static int row_of(const mx_table *t, const char *component) {
    for (size_t r = 0; r < mx_table_row_count(t); r++)
        if (strcmp(mx_table_get(t, (int)r, "component"), component) == 0) return (int)r;
    cr_assert_fail("no row '%s'", component);
    return -1;
}

/* The model cards: gpt-oss-20b has 20.91 billion parameters and its checkpoint (experts MXFP4,
 * the rest BF16) is 13.76 GB; gpt-oss-120b 116.83 billion and 65.25 GB. */
Test(cpu_model, totals_match_the_published_models) {
    const struct {
        const char *name;
        double params, checkpoint_bytes;
    } published[] = {{"gpt-oss-20b", 20.91e9, 13.76e9}, {"gpt-oss-120b", 116.83e9, 65.25e9}};
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        const mx_model *m = mx_model_find(published[i].name);
        cr_assert_not_null(m, "%s", published[i].name);
        mx_table *t = mx_model_vram_table(m);
        cr_assert_not_null(t);
        int total = row_of(t, "total");
        cr_expect_float_eq(number(t, total, "params"), published[i].params, 0.006e9, "%s",
                           published[i].name);
        cr_expect_float_eq(number(t, total, "gptoss_mix_bytes"), published[i].checkpoint_bytes,
                           0.01e9, "%s", published[i].name);
        mx_table_free(t);
    }
}

Test(cpu_model, components_add_up_and_only_experts_differ_in_the_mix) {
    int count = 0;
    const mx_model *models = mx_models(&count);
    cr_assert_geq(count, 2);
    const char *const sums[] = {"params", "fp16_bytes", "mxfp4_bytes", "gptoss_mix_bytes"};
    for (int i = 0; i < count; i++) {
        mx_table *t = mx_model_vram_table(&models[i]);
        int total = row_of(t, "total");
        for (size_t c = 0; c < sizeof sums / sizeof sums[0]; c++) {
            double sum = 0;
            for (int r = 0; r < total; r++) sum += number(t, r, sums[c]);
            cr_expect_float_eq(sum, number(t, total, sums[c]), 0.5, "%s %s", models[i].name,
                               sums[c]);
        }
        for (int r = 0; r < total; r++) {
            bool experts = strcmp(mx_table_get(t, r, "component"), "moe_experts") == 0;
            double fp16 = number(t, r, "fp16_bytes"), mix = number(t, r, "gptoss_mix_bytes");
            cr_expect_float_eq(fp16, 2 * number(t, r, "params"), 0.5);
            if (experts)
                cr_expect_float_eq(mix, number(t, r, "mxfp4_bytes"), 0.5);
            else
                cr_expect_float_eq(mix, fp16, 0.5, "%s", mx_table_get(t, r, "component"));
        }
        /* a vocabulary table in MXFP4: 4.25 bits of 16 per weight, 73.44 % saved */
        cr_expect_str_eq(mx_table_get(t, row_of(t, "embedding"), "mxfp4_savings_pct"), "73.44");
        mx_table_free(t);
    }
    cr_expect_null(mx_model_find("gpt-oss-7b"));
}

Test(cpu_model, command_prints_writes_and_refuses, .init = mx_test_work_dir_create) {
    mx_cli_result r = mx_test_run_cli((const char *const[]){"model", "gpt-oss-20b", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "| total | 20,914,757,184 | 38.95") && strstr(r.out, "FP16 GiB"), "%s",
              r.out);
    cr_expect_null(strstr(r.out, "gpt-oss-120b"), "only the model named");
    r = mx_test_run_cli((const char *const[]){"model", NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "gpt-oss-20b") && strstr(r.out, "gpt-oss-120b"), "%s", r.out);
    const char *csv = mx_test_path("vram.csv");
    r = mx_test_run_cli((const char *const[]){"model", "gpt-oss-120b", "--csv", csv, NULL});
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char text[4096];
    mx_test_read_text(csv, text, sizeof text);
    cr_expect(strncmp(text, "component,params,fp16_bytes,mxfp4_bytes,gptoss_mix_bytes,", 57) == 0,
              "%s", text);
    r = mx_test_run_cli((const char *const[]){"model", "llama-70b", NULL});
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "unknown model 'llama-70b'"), "%s", r.err);
    r = mx_test_run_cli(
        (const char *const[]){"model", "gpt-oss-20b", "gpt-oss-120b", "--csv", csv, NULL});
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "name one model"), "%s", r.err);
}
