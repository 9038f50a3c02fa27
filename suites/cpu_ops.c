/* The op and variant tables (CPU): an op's bytes and FLOPs against hand-computed values, every op
 * complete, and the GEMM variants' names and traits taken from gemm.h's list once. */
#include <string.h>

#include "dense_gemm.h"
#include "ops.h"
#include "common.h"

static mx_sweep_row gemm_row(int64_t m, int64_t n, int64_t k, int64_t batch) {
    mx_sweep_row row = {.m = m, .n = n, .k = k, .batch = batch};
    strcpy(row.op, "gemm");
    strcpy(row.dtype, "f16");
    return row;
}

Test(cpu_ops, gemm_bytes_and_flops_match_hand_computed_values) {
    const mx_bench_op *gemm = mx_bench_find_op("gemm");
    cr_assert_not_null(gemm);
    /* M=1, 4096x14336: weights 4096*14336*(1/2 + 1/32) = 31195136 bytes (117440512 in FP16),
     * X 14336*2 + Y 4096*2 = 36864 bytes, 2*4096*14336 = 117440512 FLOPs. */
    mx_sweep_row decode = gemm_row(1, 4096, 14336, 1);
    cr_expect_float_eq(gemm->bytes(&decode, false), 31195136.0 + 36864.0, 0.5);
    cr_expect_float_eq(gemm->bytes(&decode, true), 117440512.0 + 36864.0, 0.5);
    cr_expect_float_eq(gemm->flops(&decode), 117440512.0, 0.5);
    /* batch 3, M=64, 2880x2880: weights 3*2880*2880*0.53125 = 13219200, activations
     * 3*64*(2880+2880)*2 = 2211840, FLOPs 2*3*64*2880*2880 = 3185049600. */
    mx_sweep_row batched = gemm_row(64, 2880, 2880, 3);
    cr_expect_float_eq(gemm->bytes(&batched, false), 13219200.0 + 2211840.0, 0.5);
    cr_expect_float_eq(gemm->flops(&batched), 3185049600.0, 0.5);
}

Test(cpu_ops, every_op_in_the_table_is_complete) {
    int count = 0;
    const mx_bench_op *const *ops = mx_bench_ops(&count);
    cr_assert_gt(count, 0);
    for (int i = 0; i < count; i++) {
        const mx_bench_op *op = ops[i];
        cr_expect(op->name && op->variants && op->variants[0], "op %d has no name or variants", i);
        cr_expect(op->bytes && op->flops && op->setup && op->teardown && op->prepare && op->run &&
                      op->check,
                  "op %s misses an entry point", op->name);
        cr_expect_eq(mx_bench_find_op(op->name), op);
        for (int v = 0; op->variants[v]; v++) {
            cr_expect_str_neq(op->variants[v], MX_BENCH_FP16, "fp16 is the automatic reference");
            cr_expect(mx_variant_known(op->variants[v]),
                      "%s's variant %s has no traits in "
                      "harness/variants.c",
                      op->name, op->variants[v]);
        }
        for (int j = 0; j < i; j++) cr_expect_str_neq(ops[j]->name, op->name);
    }
    cr_expect_null(mx_bench_find_op("conv2d"));
}

/* The GEMM variants' names live in gemm.h's list alone: the gemm, moe and lm_head ops list theirs
 * from it, and the blocks' refusal of persistent lists the same names. */
Test(cpu_ops, gemm_variant_names_come_from_the_library_once) {
    const mx_bench_op *gemm = mx_bench_find_op("gemm"), *moe = mx_bench_find_op("moe");
    cr_assert(gemm && moe);
    int v = 0;
    for (; gemm->variants[v]; v++) {
        mx_gemm_variant parsed;
        cr_expect_eq(mx_gemm_variant_from_name(gemm->variants[v], &parsed), MX_OK, "%s",
                     gemm->variants[v]);
        cr_expect_str_eq(mx_gemm_variant_name(parsed), gemm->variants[v]);
        bool in_blocks = mx_gemm_check_block_variant(parsed, "a block", "a reason") == MX_OK;
        cr_expect_eq(in_blocks, parsed != MX_GEMM_PERSISTENT, "%s", gemm->variants[v]);
    }
    cr_expect_eq(v, MX_GEMM_VARIANT_COUNT);
    int b = 0;
    for (; moe->variants[b]; b++)
        cr_expect_eq(mx_gemm_check_block_variant(b, "a block", "a reason"), MX_OK);
    cr_expect_eq(b, MX_GEMM_VARIANT_COUNT - 1, "every variant but persistent");
    cr_expect_eq(mx_gemm_check_block_variant(MX_GEMM_PERSISTENT, "the X block", "its reason"),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_str_eq(mx_last_error(), "variant persistent: not supported by the X block (its "
                                      "reason); expected auto, fused, skinny or dequant_cublas");
    cr_expect_eq(mx_gemm_check_block_variant((mx_gemm_variant)42, "the X block", "its reason"),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "variant = 42"), "%s", mx_last_error());
    mx_gemm_variant parsed;
    cr_expect_eq(mx_gemm_variant_from_name("turbo", &parsed), MX_ERR_INVALID_ARGUMENT);
    cr_expect_str_eq(mx_last_error(), "unknown GEMM variant 'turbo': expected auto, fused, skinny, "
                                      "dequant_cublas or persistent");
}

/* The harness's traits of a GEMM variant come from gemm.h's list: the table holds each exactly
 * once, right after the reference and in the list's order, an FP16 copy and cuBLAS alone exactly
 * for the kept one (persistent); every variant of the table has a plot style no other has, and a
 * name the table lacks is grey. */
Test(cpu_ops, variant_traits_of_gemm_variants_come_from_the_library_list) {
    int count;
    const mx_variant_traits *table = mx_variants(&count);
    cr_assert_gt(count, MX_GEMM_VARIANT_COUNT);
    cr_expect_str_eq(table[0].name, MX_BENCH_FP16);
    cr_expect(table[0].reference && table[0].cublas_only && !table[0].fp16_copy);
    for (int v = 0; v < MX_GEMM_VARIANT_COUNT; v++) {
        const mx_variant_traits *t = &table[1 + v];
        cr_expect_str_eq(t->name, mx_gemm_variant_name((mx_gemm_variant)v));
        const bool kept = v == MX_GEMM_PERSISTENT;
        cr_expect(!t->reference && t->fp16_copy == kept && t->cublas_only == kept, "%s", t->name);
        cr_expect(t->summary && strlen(t->summary) > 10, "%s has a summary", t->name);
        cr_expect_eq(mx_variant_traits_of(t->name), t);
    }
    for (int i = 0; i < count; i++) {
        const char *color;
        int point;
        mx_variant_style(table[i].name, &color, &point);
        cr_expect(color[0] == '#' && strlen(color) == 7 && point > 0, "%s", table[i].name);
        cr_expect_str_neq(color, "#999999", "%s: grey is for unknown names", table[i].name);
        for (int j = 0; j < i; j++) {
            const char *other;
            int other_point;
            mx_variant_style(table[j].name, &other, &other_point);
            cr_expect_str_neq(color, other, "%s and %s", table[i].name, table[j].name);
            cr_expect_str_neq(table[i].name, table[j].name);
        }
    }
    const char *color;
    int point;
    mx_variant_style("turbo", &color, &point);
    cr_expect_str_eq(color, "#999999");
    cr_expect(!mx_variant_known("turbo") && !mx_variant_traits_of("turbo")->fp16_copy);
}
