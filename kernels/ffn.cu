/* MXFP4 feed-forward block (ffn.h): two mx_gemm calls, the activation either in the GEMM
 * epilogues or in activation.h's kernel between them, and the dense FP16 reference. No kernel of
 * its own: the work is the two GEMMs (docs/ffn.md). */
#include "check.h"
#include "dense_gemm.h"
#include "fp16.h"
#include "ffn.h"

static const char *const mx_ffn_epilogue_names[MX_FFN_EPILOGUE_COUNT] = {"fused", "separate"};

extern "C" const char *mx_ffn_epilogue_name(mx_ffn_epilogue mode) {
    return (unsigned)mode < MX_FFN_EPILOGUE_COUNT ? mx_ffn_epilogue_names[mode] : "unknown";
}

extern "C" int64_t mx_ffn_up_rows(mx_activation activation, int64_t intermediate) {
    return activation == MX_ACT_SWIGLU || activation == MX_ACT_SWIGLU_GPTOSS ? 2 * intermediate
                                                                             : intermediate;
}

static size_t mx_align256(size_t bytes) {
    return (bytes + 255) / 256 * 256;
}

/* Workspace layout shared by mx_ffn and the dense reference: the hidden activations h
 * [m, intermediate] first, then (when there is one) the up product u [m, up_n], then the GEMMs'
 * own workspace; each part starts on a 256-byte boundary. */
typedef struct {
    size_t h_offset, u_offset, gemm_offset, total;
} mx_ffn_layout;

static mx_ffn_layout mx_ffn_plan(const mx_ffn_problem *p, bool with_u, size_t gemm_bytes) {
    mx_ffn_layout layout;
    size_t h_bytes = (size_t)(p->m * p->intermediate * 2);
    size_t u_bytes =
        with_u ? (size_t)(p->m * mx_ffn_up_rows(p->activation, p->intermediate) * 2) : 0;
    layout.h_offset = 0;
    layout.u_offset = mx_align256(h_bytes);
    layout.gemm_offset = mx_align256(layout.u_offset + u_bytes);
    layout.total = gemm_bytes > 0 ? layout.gemm_offset + gemm_bytes : layout.u_offset + u_bytes;
    return layout;
}

/* The GEMM of one half of the block: up (x -> h or u) or down (h -> y). In fused mode up carries
 * the bias and activation, down the bias and residual; in separate mode both are bare products
 * (the biases and the residual go to the elementwise passes of mx_ffn_sequence). */
static mx_gemm_problem mx_ffn_gemm(const mx_ffn_problem *p, bool down, bool fused, const void *in,
                                   void *out) {
    mx_gemm_problem g = {};
    g.m = p->m;
    g.batch = 1;
    g.dtype = p->dtype;
    g.x = in;
    g.y = out;
    if (!down) {
        g.n = mx_ffn_up_rows(p->activation, p->intermediate);
        g.k = p->hidden;
        g.w = p->up;
        g.bias = fused ? p->up_bias : NULL;
        g.activation = fused ? p->activation : MX_ACT_NONE;
    } else {
        g.n = p->hidden;
        g.k = p->intermediate;
        g.w = p->down;
        g.bias = fused ? p->down_bias : NULL;
        g.residual = fused ? p->residual : NULL;
    }
    return g;
}

/* The larger of the two GEMMs' workspaces. */
static mx_status mx_ffn_gemm_bytes(const mx_gemm_context *context, const mx_ffn_problem *p,
                                   mx_gemm_variant variant, bool fused, size_t *bytes) {
    mx_gemm_problem up = mx_ffn_gemm(p, false, fused, p->x, NULL);
    mx_gemm_problem down = mx_ffn_gemm(p, true, fused, NULL, p->y);
    size_t up_bytes = 0, down_bytes = 0;
    MX_TRY(mx_gemm_workspace_bytes(context, &up, variant, &up_bytes));
    MX_TRY(mx_gemm_workspace_bytes(context, &down, variant, &down_bytes));
    *bytes = up_bytes > down_bytes ? up_bytes : down_bytes;
    return MX_OK;
}

/* The block's sizes, dtype and activation: what its workspace queries check. */
static mx_status mx_ffn_check_sizes(const mx_ffn_problem *p) {
    if (!p) return mx_fail(MX_ERR_INVALID_ARGUMENT, "problem is NULL");
    if (p->m <= 0)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "m = %lld: expected > 0", (long long)p->m);
    if (p->hidden <= 0 || p->hidden % MX_BLOCK_SIZE || p->intermediate <= 0 ||
        p->intermediate % MX_BLOCK_SIZE)
        return mx_fail(MX_ERR_UNSUPPORTED_SHAPE,
                       "hidden = %lld, intermediate = %lld: expected both positive multiples of "
                       "%d (each is the K of one MXFP4 GEMM)",
                       (long long)p->hidden, (long long)p->intermediate, MX_BLOCK_SIZE);
    if (p->activation != MX_ACT_GELU && p->activation != MX_ACT_SWIGLU &&
        p->activation != MX_ACT_SWIGLU_GPTOSS)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "activation = %d (%s): expected MX_ACT_GELU, MX_ACT_SWIGLU or "
                       "MX_ACT_SWIGLU_GPTOSS",
                       (int)p->activation, mx_activation_name(p->activation));
    if (p->dtype != MX_F16 && p->dtype != MX_BF16)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "dtype = %d: expected MX_F16 or MX_BF16",
                       (int)p->dtype);
    return MX_OK;
}

/* The variant and mode of an mx_ffn call, and the sizes. */
static mx_status mx_ffn_check_call(const mx_ffn_problem *p, mx_gemm_variant variant,
                                   mx_ffn_epilogue mode) {
    MX_TRY(mx_gemm_check_block_variant(variant, "the FFN block",
                                       "it keeps prepared weights per GEMM"));
    if ((unsigned)mode >= MX_FFN_EPILOGUE_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "mode = %d: expected MX_FFN_FUSED or "
                       "MX_FFN_SEPARATE",
                       (int)mode);
    return mx_ffn_check_sizes(p);
}

extern "C" mx_status mx_ffn_workspace_bytes(const mx_gemm_context *context,
                                            const mx_ffn_problem *problem, mx_gemm_variant variant,
                                            mx_ffn_epilogue mode, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_ffn_check_call(problem, variant, mode));
    const bool fused = mode == MX_FFN_FUSED;
    size_t gemm_bytes = 0;
    MX_TRY(mx_ffn_gemm_bytes(context, problem, variant, fused, &gemm_bytes));
    *bytes = mx_ffn_plan(problem, !fused, gemm_bytes).total;
    return MX_OK;
}

extern "C" mx_status mx_ffn_fp16_workspace_bytes(const mx_ffn_problem *problem, size_t *bytes) {
    MX_TRY(mx_check_bytes_out(bytes));
    MX_TRY(mx_ffn_check_sizes(problem));
    *bytes = mx_ffn_plan(problem, true, 0).total;
    return MX_OK;
}

/* The block's own pointers (after its sizes); each GEMM's own checks follow in mx_ffn. */
static mx_status mx_ffn_check_pointers(const mx_ffn_problem *p) {
    MX_TRY(mx_check_pointer(p->x, 16, "x"));
    MX_TRY(mx_check_pointer(p->y, 4, "y"));
    /* the separate mode hands these to the elementwise kernel, not to a GEMM's checks */
    if (p->up_bias) MX_TRY(mx_check_pointer(p->up_bias, 2, "up_bias"));
    if (p->down_bias) MX_TRY(mx_check_pointer(p->down_bias, 2, "down_bias"));
    if (p->residual) MX_TRY(mx_check_pointer(p->residual, 2, "residual"));
    /* y is written by the down GEMM before the separate residual pass reads the residual. */
    if (p->y == p->x || p->y == p->residual)
        return mx_fail(MX_ERR_INVALID_ARGUMENT,
                       "y = %p is also %s: y must be a buffer of its own (residual may be x)", p->y,
                       p->y == p->x ? "x" : "residual");
    return MX_OK;
}

static mx_status mx_ffn_check_workspace(const char *what, size_t needed, const void *workspace,
                                        size_t workspace_bytes) {
    if (workspace_bytes < needed || !workspace)
        return mx_fail(MX_ERR_WORKSPACE, "%s needs %zu workspace bytes; got %zu%s", what, needed,
                       workspace_bytes, workspace ? "" : " (NULL)");
    return mx_check_pointer(workspace, 256, "workspace");
}

/* The unfused sequence, shared by the separate mode and the FP16 reference: product(up) into u,
 * the activation (with the up bias) into h, product(down) into y, then the down bias and the
 * residual added in one pass in place (one elementwise pass after each product, so that neither
 * path pays for a bias broadcast that the other does not). */
typedef mx_status (*mx_ffn_product)(const void *state, bool down, const void *in, void *out,
                                    cudaStream_t stream);

static mx_status mx_ffn_sequence(const mx_ffn_problem *p, void *u, void *h, mx_ffn_product product,
                                 const void *state, cudaStream_t stream) {
    int64_t up_n = mx_ffn_up_rows(p->activation, p->intermediate);
    MX_TRY(product(state, false, p->x, u, stream));
    MX_TRY(
        mx_activation_apply(p->m, up_n, p->dtype, p->activation, u, p->up_bias, NULL, h, stream));
    MX_TRY(product(state, true, h, p->y, stream));
    if (!p->residual && !p->down_bias) return MX_OK;
    return mx_activation_apply(p->m, p->hidden, p->dtype, MX_ACT_NONE, p->y, p->down_bias,
                               p->residual, p->y, stream);
}

typedef struct {
    mx_gemm_context *context;
    const mx_ffn_problem *problem;
    mx_gemm_variant variant;
    void *workspace;
    size_t workspace_bytes;
} mx_ffn_mxfp4_state;

static mx_status mx_ffn_mxfp4_product(const void *opaque, bool down, const void *in, void *out,
                                      cudaStream_t stream) {
    const mx_ffn_mxfp4_state *s = (const mx_ffn_mxfp4_state *)opaque;
    mx_gemm_problem g = mx_ffn_gemm(s->problem, down, false, in, out);
    return mx_gemm(s->context, &g, s->variant, s->workspace, s->workspace_bytes, stream);
}

extern "C" mx_status mx_ffn(mx_gemm_context *context, const mx_ffn_problem *problem,
                            mx_gemm_variant variant, mx_ffn_epilogue mode, void *workspace,
                            size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    MX_TRY(mx_ffn_check_call(problem, variant, mode));
    MX_TRY(mx_ffn_check_pointers(problem));
    const bool fused = mode == MX_FFN_FUSED;
    size_t gemm_bytes = 0;
    MX_TRY(mx_ffn_gemm_bytes(context, problem, variant, fused, &gemm_bytes));
    const mx_ffn_layout layout = mx_ffn_plan(problem, !fused, gemm_bytes);
    MX_TRY(mx_ffn_check_workspace("mx_ffn", layout.total, workspace, workspace_bytes));
    char *base = (char *)workspace;
    void *h = base + layout.h_offset, *u = base + layout.u_offset;
    void *gemm_workspace = gemm_bytes > 0 ? base + layout.gemm_offset : NULL;
    /* Both GEMMs are checked before the first one runs. */
    mx_gemm_problem up = mx_ffn_gemm(problem, false, fused, problem->x, fused ? h : u);
    mx_gemm_problem down = mx_ffn_gemm(problem, true, fused, h, problem->y);
    MX_TRY(mx_gemm_check(context, &up, variant, gemm_workspace, gemm_bytes));
    MX_TRY(mx_gemm_check(context, &down, variant, gemm_workspace, gemm_bytes));
    if (fused) {
        MX_TRY(mx_gemm(context, &up, variant, gemm_workspace, gemm_bytes, stream));
        return mx_gemm(context, &down, variant, gemm_workspace, gemm_bytes, stream);
    }
    mx_ffn_mxfp4_state state = {context, problem, variant, gemm_workspace, gemm_bytes};
    return mx_ffn_sequence(problem, u, h, mx_ffn_mxfp4_product, &state, stream);
}

typedef struct {
    cublasHandle_t cublas;
    const mx_ffn_problem *problem;
    const void *up_weights, *down_weights;
} mx_ffn_dense_state;

static mx_status mx_ffn_dense_product(const void *opaque, bool down, const void *in, void *out,
                                      cudaStream_t stream) {
    const mx_ffn_dense_state *s = (const mx_ffn_dense_state *)opaque;
    const mx_ffn_problem *p = s->problem;
    if (!down)
        return mx_dense_gemm(s->cublas, p->m, mx_ffn_up_rows(p->activation, p->intermediate),
                             p->hidden, 1, p->dtype, in, s->up_weights, NULL, out, stream);
    return mx_dense_gemm(s->cublas, p->m, p->hidden, p->intermediate, 1, p->dtype, in,
                         s->down_weights, NULL, out, stream);
}

extern "C" mx_status mx_ffn_fp16(mx_gemm_context *context, const mx_ffn_problem *problem,
                                 const void *up_weights, const void *down_weights, void *workspace,
                                 size_t workspace_bytes, cudaStream_t stream) {
    if (!context) return mx_fail(MX_ERR_INVALID_ARGUMENT, "context is NULL");
    cublasHandle_t cublas = mx_gemm_context_cublas(context);
    MX_TRY(mx_ffn_check_sizes(problem));
    MX_TRY(mx_ffn_check_pointers(problem));
    MX_TRY(mx_check_pointer(up_weights, 16, "up_weights"));
    MX_TRY(mx_check_pointer(down_weights, 16, "down_weights"));
    const mx_ffn_layout layout = mx_ffn_plan(problem, true, 0);
    MX_TRY(mx_ffn_check_workspace("mx_ffn_fp16", layout.total, workspace, workspace_bytes));
    char *base = (char *)workspace;
    mx_ffn_dense_state state = {cublas, problem, up_weights, down_weights};
    return mx_ffn_sequence(problem, base + layout.u_offset, base + layout.h_offset,
                           mx_ffn_dense_product, &state, stream);
}
