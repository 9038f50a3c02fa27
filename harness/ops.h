/* The op table: everything the harness knows about an op. The runner (bench_measure.c) holds no
 * per-op code; an op declares its variants, the bytes and FLOPs a row moves, and how to set up a
 * problem (one sweep row without its variant), run its FP16 reference or one of its MXFP4
 * variants, and measure the last output's errors. */
#ifndef MX_OPS_H
#define MX_OPS_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sweep.h"
#include "variants.h"

/* Memory a variant holds for the op's weights (docs/design.md §4), in bytes. */
typedef struct {
    int64_t weight_bytes_fp16;  /* the FP16 weights the MXFP4 ones replace */
    int64_t weight_bytes_mxfp4; /* blocks + scales; 0 for the fp16 pseudo-variant */
    int64_t workspace_bytes;    /* every other buffer the variant needs (exact); on an MXFP4
                                   row less those the op's FP16 path needs too, never less than
                                   its GEMMs' own (mx_op_workspace_allocate) */
    int64_t measured_bytes;     /* cudaMemGetInfo delta around those allocations (2 MiB pages);
                                   -1 where they cannot be isolated (the fp16 reference) */
    double prepare_us;          /* the one-off reordering of the MXFP4 weights for the kernels
                                   (mx_weights_prepare) at setup, not part of time_us; 0: none */
} mx_bench_memory;

/* The three error figures of docs/design.md §4 for the last output. */
typedef struct {
    double rel_vs_fp16, max_rel_vs_fp16; /* against the FP16 reference on the same weights */
    double rel_vs_exact;                 /* against FP64 on the dequantized weights */
    double quant_rel;                    /* against the FP16 path on the unquantized weights */
    int64_t nonfinite;                   /* non-finite outputs where the exact result is finite */
    /* The element-wise gate against FP64 (elementwise.h), where the op has the magnitudes: the
     * worst element's error over its bound (NaN: not checked), where it is, how many exceed. */
    double elementwise;
    int64_t worst_batch, worst_row, worst_column, elementwise_over;
} mx_bench_errors;

/* One variant of a problem as prepare() set it up. The runner keeps one per variant, so that a
 * problem's variants are all prepared at once and timed in interleaved rounds (timing.h). */
typedef struct {
    bool fp16;              /* the FP16 reference path */
    int variant, mode;      /* the op's own codes for the variant (e.g. an mx_gemm_variant); for
                               fp16, mode is the FP16 candidate the runner asks for */
    void *workspace;        /* what the variant allocated, or NULL */
    size_t workspace_bytes; /* its size */
} mx_op_prepared;

/* Frees what prepare() allocated (also after a failed prepare) and clears prepared. */
void mx_op_prepared_free(mx_op_prepared *prepared);

typedef struct {
    const char *name;
    /* NULL-terminated names of the MXFP4 variants selectable in sweeps, each with its traits in
     * variants.c's table */
    const char *const *variants;
    /* Bytes the row must move (weights in the variant's storage, activations in, outputs out)
     * and its FLOPs; fp16 = the FP16 reference's bytes. */
    double (*bytes)(const mx_sweep_row *row, bool fp16);
    double (*flops)(const mx_sweep_row *row);
    /* Allocates and fills the problem of row (inputs, weights in both formats, references).
     * false with why set (out of memory, unsupported shape...) skips every row of the problem. */
    bool (*setup)(const mx_sweep_row *row, void **problem, char *why, size_t why_size);
    void (*teardown)(void *problem);
    /* Prepares a variant (MX_BENCH_FP16 or one of variants) into *prepared (zeroed by the
     * caller), allocating what it needs there; several variants of a problem may be prepared at
     * once. mx_op_prepared_free releases it. */
    bool (*prepare)(void *problem, const char *variant, mx_op_prepared *prepared,
                    mx_bench_memory *memory, char *why, size_t why_size);
    /* Exactly what a caller pays for one call of the prepared variant, on stream. */
    bool (*run)(void *problem, const mx_op_prepared *prepared, cudaStream_t stream, char *why,
                size_t why_size);
    /* Poisons the output, runs the prepared variant once, and measures that output's errors. */
    bool (*check)(void *problem, const mx_op_prepared *prepared, cudaStream_t stream,
                  mx_bench_errors *errors, char *why, size_t why_size);
    /* Optional (NULL: none). How many FP16 algorithms beside cuBLAS's own choice the op offers
     * for the problem's reference (cublasLt's heuristic candidates), and a name for candidate c
     * (0: cuBLAS's own choice). The runner prepares each as the fp16 pseudo-variant with
     * prepared->mode = c set before prepare(), times them in the rounds with the variants and
     * keeps the fastest as the fp16 row (docs/design.md §4). */
    int (*fp16_candidates)(void *problem);
    void (*fp16_candidate_name)(void *problem, int candidate, char *text, size_t size);
} mx_bench_op;

/* Every op, once, in the order --help and the sweep vocabulary list them: X(id) for the op
 * mx_op_<id> that harness/op_*.c defines. The declarations below and the table (ops.c) derive
 * from this list. */
#define MX_BENCH_OP_LIST(X)                                                                        \
    X(gemm) X(embedding) X(attention) X(ffn_gelu) X(ffn_swiglu) X(ffn_gptoss) X(moe) X(lm_head)

#define MX_BENCH_OP_DECLARE(id) extern const mx_bench_op mx_op_##id;
MX_BENCH_OP_LIST(MX_BENCH_OP_DECLARE)
#undef MX_BENCH_OP_DECLARE

/* Every op, for the runner, the sweep vocabulary and --help. */
const mx_bench_op *const *mx_bench_ops(int *count);
const mx_bench_op *mx_bench_find_op(const char *name);

#endif
