/* The variant table (variants.h): the reference, the GEMM variants of gemm.h's list, then the
 * other ops' own. */
#include "variants.h"

#include <assert.h>
#include <string.h>

#include "gemm.h"

/* A kept GEMM variant holds an FP16 copy of the weights and a call runs cuBLAS alone on it. */
#define GEMM_TRAITS(id, name, runs_mxfp4, kept, summary) {name, summary, false, kept, kept},

static const mx_variant_traits table[] = {
    {MX_BENCH_FP16,
     "the op's FP16 reference path through cuBLAS (gemm: the fastest of cublasGemmEx and "
     "cublasLt's candidates)",
     true, false, true},
    MX_GEMM_VARIANT_LIST(GEMM_TRAITS) /* the GEMM variants, in gemm.h's order */
    {"onthefly", "embedding rows decoded from MXFP4 at every lookup", false, false, false},
    {"cached", "embedding rows decoded once into an FP16 cache", false, true, false},
    {"fused_qkv", "attention with one GEMM for Q, K and V", false, false, false},
    {"separate_qkv", "attention with three GEMMs for Q, K and V", false, false, false},
    {"epilogue", "FFN on auto GEMMs, activation in the GEMM's epilogue", false, false, false},
    {"separate", "FFN on auto GEMMs, activation as its own kernel", false, false, false},
    {"fused_epilogue", "FFN on fused GEMMs, activation in the epilogue", false, false, false},
    {"skinny_epilogue", "FFN on skinny GEMMs, activation in the epilogue", false, false, false},
};
enum { VARIANT_COUNT = sizeof table / sizeof table[0] };

/* Plot styles in table order: Okabe-Ito first (colour-blind safe), then Tableau, then spares for
 * variants to come. */
static const struct {
    const char *color;
    int point;
} styles[] = {
    {"#000000", 6},  {"#E69F00", 2},  {"#56B4E9", 5},  {"#009E73", 7},  {"#CC79A7", 9},
    {"#D55E00", 11}, {"#B8860B", 13}, {"#8C564B", 3},  {"#1F77B4", 15}, {"#9467BD", 4},
    {"#2CA02C", 8},  {"#D62728", 10}, {"#17BECF", 12}, {"#BCBD22", 14}, {"#FF7F0E", 1},
    {"#7F7F7F", 2},  {"#AEC7E8", 5},  {"#98DF8A", 7},  {"#FF9896", 9},  {"#C5B0D5", 11},
};
static_assert(sizeof styles / sizeof styles[0] >= VARIANT_COUNT,
              "a plot style for every variant: add one to styles");

static const mx_variant_traits unknown = {"", "", false, false, false};

const mx_variant_traits *mx_variants(int *count) {
    *count = VARIANT_COUNT;
    return table;
}

/* name's place in the table, or -1. */
static int find(const char *name) {
    for (int i = 0; name && i < VARIANT_COUNT; i++)
        if (strcmp(table[i].name, name) == 0) return i;
    return -1;
}

const mx_variant_traits *mx_variant_traits_of(const char *name) {
    const int i = find(name);
    return i >= 0 ? &table[i] : &unknown;
}

bool mx_variant_known(const char *name) {
    return find(name) >= 0;
}

void mx_variant_style(const char *name, const char **color, int *point) {
    const int i = find(name);
    *color = i >= 0 ? styles[i].color : "#999999";
    *point = i >= 0 ? styles[i].point : 1;
}
