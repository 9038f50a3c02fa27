/* What each variant is, declared once: the runner's --help, the report (the best MXFP4 choice,
 * the VRAM judgement, the order and style of every table and plot) and compare (its control
 * rows) derive from this table. The GEMM variants' entries come from gemm.h's list (as do the
 * gemm, moe and lm_head ops' variants), the others' are written in variants.c. An op lists the
 * names of its variants (ops.h); a variant name means the same thing in every op that has it. */
#ifndef MX_VARIANTS_H
#define MX_VARIANTS_H

#include <stdbool.h>

/* The pseudo-variant every problem runs first: the FP16 reference path, timed the same way. */
#define MX_BENCH_FP16 "fp16"

typedef struct {
    const char *name;
    const char *summary; /* one line of run --help */
    bool reference;      /* the op's FP16 reference path (fp16) */
    /* Keeps a dequantized FP16/BF16 copy of the weights between calls: measured and drawn, but
     * never the "best MXFP4" of a problem, and its VRAM is not judged (it saves none). */
    bool fp16_copy;
    /* What is timed is cuBLAS alone on FP16 weights: no mxbench kernel runs in it, so a change
     * of its time is the environment's; compare reports it and never gates on it. */
    bool cublas_only;
} mx_variant_traits;

/* Every variant, in the order of every table and plot (the reference first). */
const mx_variant_traits *mx_variants(int *count);

/* How plots draw name: its colour ("#RRGGBB") and gnuplot point type, from its place in the
 * table (every variant its own); grey for a name the table lacks. */
void mx_variant_style(const char *name, const char **color, int *point);

/* The traits of name; for a name the table lacks (a file of another build), a plain MXFP4
 * variant: not the reference, no FP16 copy, not cuBLAS alone. */
const mx_variant_traits *mx_variant_traits_of(const char *name);

/* Whether the table declares name. */
bool mx_variant_known(const char *name);

#endif
