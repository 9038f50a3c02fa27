/* libFuzzer target: the sweep parser (harness/sweep.c) on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

static const char *const gemm_variants[] = {"auto",           "fused",      "skinny",
                                            "dequant_cublas", "persistent", NULL};
static const char *const moe_variants[] = {"auto", "fused", "skinny", "dequant_cublas", NULL};
static const mx_sweep_op_vocabulary ops[] = {{"gemm", gemm_variants}, {"moe", moe_variants}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mx_sweep sweep;
    char error[512];
    if (mx_sweep_parse_text(text, "fuzz.sweep", ops, 2, &sweep, error, sizeof error))
        mx_sweep_free(&sweep);
    free(text);
    return 0;
}
