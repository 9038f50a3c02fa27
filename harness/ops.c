/* The op table: every op the harness can run, in the order --help and the sweep vocabulary list
 * them. */
#include <string.h>

#include "ops.h"

static const mx_bench_op *const all_ops[] = {&mx_op_gemm,     &mx_op_embedding,  &mx_op_attention,
                                             &mx_op_ffn_gelu, &mx_op_ffn_swiglu, &mx_op_ffn_gptoss,
                                             &mx_op_moe,      &mx_op_lm_head};

const mx_bench_op *const *mx_bench_ops(int *count) {
    *count = (int)(sizeof all_ops / sizeof all_ops[0]);
    return all_ops;
}

const mx_bench_op *mx_bench_find_op(const char *name) {
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (strcmp(all_ops[i]->name, name) == 0) return all_ops[i];
    return NULL;
}
