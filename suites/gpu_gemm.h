/* What the two files of the GPU GEMM suite share (gpu_gemm.c: the GEMM, and these fixtures;
 * gpu_gemm_weights.c: what the weights hold): the variants, one problem's host data and device
 * copies, its FP64 reference, and one variant's run. */
#ifndef MX_SUITES_GPU_GEMM_H
#define MX_SUITES_GPU_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "common.h"

static const mx_gemm_variant all_variants[] = {
    MX_GEMM_FUSED, MX_GEMM_SKINNY, MX_GEMM_DEQUANT_CUBLAS, MX_GEMM_PERSISTENT, MX_GEMM_AUTO};
enum { VARIANT_COUNT = sizeof all_variants / sizeof all_variants[0] };

/* Host data of one test problem: X exactly representable in FP16 and BF16 (8 significant bits,
 * magnitudes 2^-8..2^3), so one FP64 reference serves both dtypes. */
typedef struct {
    int64_t m, n, k, batch;
    double *x, *w, *bias;         /* FP64 copies: x [batch,m,k], dequantized w [batch,n,k], bias */
    uint16_t *x16[2], *bias16[2]; /* per dtype (0: FP16, 1: BF16) */
    uint8_t *blocks, *scales;
} host_problem;

/* Device copies (the weights prepared), a context and the largest workspace any variant needs. */
typedef struct {
    mx_gemm_context *context;
    void *x[2], *bias[2], *y, *workspace, *prepared;
    mx_weights w;
    size_t workspace_bytes;
    uint16_t *y_host;
} device_problem;

/* weight_exponent: the log2 magnitude of the weights (0 gives gaussian weights of about 1). */
host_problem mx_test_make_problem(int64_t m, int64_t n, int64_t k, int64_t batch,
                                  int weight_exponent, mx_rng *rng);
void mx_test_free_problem(host_problem *p);
/* The FP64 product of every batch entry (with the bias when with_bias); the caller frees it. */
double *mx_test_reference_output(const host_problem *p, bool with_bias);
device_problem mx_test_upload_problem(const host_problem *p);
void mx_test_release_problem(device_problem *d);
/* The problem of dtype dtype_index on d's buffers, with or without the bias. */
mx_gemm_problem mx_test_device_view(const host_problem *p, const device_problem *d, int dtype_index,
                                    bool with_bias);
/* Runs one variant with Y poisoned to NaN first; leaves Y (as 16-bit values) in d->y_host. */
void mx_test_run_variant(device_problem *d, const mx_gemm_problem *problem,
                         mx_gemm_variant variant);

#endif
