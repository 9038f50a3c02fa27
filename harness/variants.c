/* The variant table (variants.h). Colours: Okabe-Ito first (colour-blind safe), then Tableau. */
#include "variants.h"

#include <string.h>

static const mx_variant_traits table[] = {
    {MX_BENCH_FP16,
     "the op's FP16 reference path through cuBLAS (gemm: the fastest of cublasGemmEx and "
     "cublasLt's candidates)",
     true, false, true, "#000000", 6},
    {"auto", "the GEMM variant mx_gemm_choose picks: from the GPU's dispatch table, else by m",
     false, false, false, "#E69F00", 2},
    {"fused",
     "tensor-core kernel on prepared MXFP4 weights: mma.sync with 32 or 64 tokens per CTA; on "
     "Hopper from 128 tokens wgmma with 128",
     false, false, false, "#56B4E9", 5},
    {"skinny", "the decode kernel, 8 or 16 tokens per CTA", false, false, false, "#009E73", 7},
    {"dequant_cublas",
     "dequantize to a temporary FP16 buffer (the workspace), then cublasGemmEx; both timed", false,
     false, false, "#CC79A7", 9},
    {"persistent", "FP16 weights dequantized once at setup and kept, then cublasGemmEx", false,
     true, true, "#D55E00", 11},
    {"onthefly", "embedding rows decoded from MXFP4 at every lookup", false, false, false,
     "#B8860B", 13},
    {"cached", "embedding rows decoded once into an FP16 cache", false, true, false, "#8C564B", 3},
    {"fused_qkv", "attention with one GEMM for Q, K and V", false, false, false, "#1F77B4", 15},
    {"separate_qkv", "attention with three GEMMs for Q, K and V", false, false, false, "#9467BD",
     4},
    {"epilogue", "FFN on auto GEMMs, activation in the GEMM's epilogue", false, false, false,
     "#2CA02C", 8},
    {"separate", "FFN on auto GEMMs, activation as its own kernel", false, false, false, "#D62728",
     10},
    {"fused_epilogue", "FFN on fused GEMMs, activation in the epilogue", false, false, false,
     "#17BECF", 12},
    {"skinny_epilogue", "FFN on skinny GEMMs, activation in the epilogue", false, false, false,
     "#BCBD22", 14},
};

static const mx_variant_traits unknown = {"", "", false, false, false, "#999999", 1};

const mx_variant_traits *mx_variants(int *count) {
    *count = (int)(sizeof table / sizeof table[0]);
    return table;
}

static const mx_variant_traits *find(const char *name) {
    for (size_t i = 0; name && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

const mx_variant_traits *mx_variant_traits_of(const char *name) {
    const mx_variant_traits *found = find(name);
    return found ? found : &unknown;
}

bool mx_variant_known(const char *name) {
    return find(name) != NULL;
}
