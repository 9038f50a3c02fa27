/* What the two files of the GPU MoE suite share (gpu_moe.c: the layer, and these fixtures;
 * gpu_moe_routing.c: routing and refusals): one problem's host data and its device copies, made,
 * uploaded and freed, the GPU's routing, and the error measure. */
#ifndef MX_SUITES_GPU_MOE_H
#define MX_SUITES_GPU_MOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "common.h"

typedef struct {
    int tokens, hidden, intermediate, experts, topk;
    bool residual;
} moe_shape;

typedef enum {
    ROUTER_GAUSSIAN,   /* tokens spread over the experts */
    ROUTER_FAVOURITES, /* a bias of 16 on topk favourite experts: they take every token */
} router_kind;

/* Host data of one problem: dense values exactly representable in FP16 and BF16 (8 significant
 * bits, in FP16's normal range), so one FP64 reference serves both dtypes; MXFP4 experts and
 * their exact FP32 dequantization. */
typedef struct {
    moe_shape s;
    double *x, *router_w, *router_bias, *b1, *b2, *residual;
    float *w1, *w2;
    uint8_t *w1_blocks, *w1_scales, *w2_blocks, *w2_scales;
    int32_t favourites[4];
} host_moe;

typedef struct {
    int dtype_index;
    mx_moe_context *context;
    mx_moe_problem problem;
    void *w1_prepared, *w2_prepared; /* the buffers of problem.w1 and problem.w2 */
    void *w1_dense, *w2_dense, *workspace;
    size_t workspace_bytes;
    uint16_t *y_host;
} device_moe;

/* ||a - b|| / ||b|| over the elements where b is finite; non-finite a there are counted. */
typedef struct {
    double rel_l2;
    int64_t nonfinite;
} figures;

/* count values of 8 significant bits, exact in FP16 and BF16: +-m 2^e, m in [0, 2) in steps of
 * 1/128, e in -8 .. 1 plus exponent_shift. */
double *mx_test_exact_values(int64_t count, int exponent_shift, mx_rng *rng);
/* A problem of shape s; with ROUTER_FAVOURITES, h.favourites take every token. */
host_moe mx_test_make_moe(moe_shape s, router_kind router, mx_rng *rng);
void mx_test_free_host_moe(host_moe *h);
/* A value stored in FP16 (BF16) and read back. */
double mx_test_store_f16(double value);
double mx_test_store_bf16(double value);
/* doubles (or floats when f32 is set) -> a new device array of the dtype (NULL for NULL). */
void *mx_test_upload_dense(const double *values, const float *f32, int64_t count, int dtype_index);
/* The device copies of h in the dtype (0: FP16, 1: BF16), a context, no workspace yet. */
device_moe mx_test_upload_moe(const host_moe *h, int dtype_index);
void mx_test_release_moe(device_moe *d);
/* A workspace of exactly bytes, filled with garbage (nothing may rely on zeros). */
void mx_test_workspace_exactly(device_moe *d, size_t bytes);
size_t mx_test_y_bytes(const device_moe *d);
/* The GPU's routing: ids [tokens, topk], weights as doubles, logits as doubles (may be NULL). */
void mx_test_gpu_route(const device_moe *d, int32_t *ids, double *weights, double *logits);
figures mx_test_relative_error(const double *a, const double *b, int64_t count);

#endif
