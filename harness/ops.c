/* The op table: every op of ops.h's list. */
#include <string.h>

#include "ops.h"

#define OP_ENTRY(id) &mx_op_##id,
static const mx_bench_op *const all_ops[] = {MX_BENCH_OP_LIST(OP_ENTRY)};

const mx_bench_op *const *mx_bench_ops(int *count) {
    *count = (int)(sizeof all_ops / sizeof all_ops[0]);
    return all_ops;
}

const mx_bench_op *mx_bench_find_op(const char *name) {
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (strcmp(all_ops[i]->name, name) == 0) return all_ops[i];
    return NULL;
}
