/* GPU GEMM suite: every variant (fused, skinny, dequant_cublas, persistent, auto) against the CPU
 * FP64 reference on the dequantized weights, over shapes that break tiling assumptions, with and
 * without bias, batched, FP16 and BF16, outputs poisoned with NaN before each launch, fresh random
 * data. Plus valid rows per batch entry read on the device (batch_rows, with the batched
 * epilogue), the code path, the VRAM report and bad arguments; and the fixtures of gpu_gemm.h.
 * What the weights hold (the prepared layout, extreme and NaN scales, the harness's
 * distributions): gpu_gemm_weights.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "activation_ref.h"
#include "codec.h"
#include "dispatch.h"
#include "gemm_ref.h"
#include "gpu_gemm.h"

static double draw_activation(mx_rng *rng) {
    double mantissa = (double)(mx_rng_next(rng) % 256) / 128.0; /* 8 bits, [0, 2) */
    int exponent = (int)(mx_rng_next(rng) % 10) - 8;
    return (mx_rng_next(rng) & 1 ? -1.0 : 1.0) * ldexp(mantissa, exponent);
}

/* weight_exponent: the log2 magnitude of the weights (0 gives gaussian weights of about 1). */
host_problem mx_test_make_problem(int64_t m, int64_t n, int64_t k, int64_t batch,
                                  int weight_exponent, mx_rng *rng) {
    host_problem p = {.m = m, .n = n, .k = k, .batch = batch};
    int64_t xs = batch * m * k, ws = batch * n * k, bs = batch * n;
    p.x = malloc((size_t)xs * sizeof(double));
    p.w = malloc((size_t)ws * sizeof(double));
    p.bias = malloc((size_t)bs * sizeof(double));
    float *w32 = malloc((size_t)ws * sizeof(float)), *decoded = malloc((size_t)ws * sizeof(float));
    p.blocks = malloc((size_t)ws / 2);
    p.scales = malloc((size_t)ws / 32);
    for (int d = 0; d < 2; d++) {
        p.x16[d] = malloc((size_t)xs * 2);
        p.bias16[d] = malloc((size_t)bs * 2);
    }
    cr_assert(p.x && p.w && p.bias && w32 && decoded && p.blocks && p.scales && p.x16[1] &&
              p.bias16[1]);
    for (int64_t i = 0; i < xs; i++) {
        p.x[i] = draw_activation(rng);
        for (int d = 0; d < 2; d++) p.x16[d][i] = mx_test_encode(p.x[i], d);
    }
    for (int64_t i = 0; i < ws; i++) w32[i] = (float)ldexp(mx_rng_gaussian(rng), weight_exponent);
    for (int64_t i = 0; i < bs; i++) {
        p.bias[i] = draw_activation(rng) * 4.0;
        for (int d = 0; d < 2; d++) p.bias16[d][i] = mx_test_encode(p.bias[i], d);
    }
    MX_CR_OK(mx_ref_quantize(w32, MX_F32, batch * n, k, MX_SCALE_FLOOR, p.blocks, p.scales));
    MX_CR_OK(mx_ref_dequantize(p.blocks, p.scales, batch * n, k, decoded));
    for (int64_t i = 0; i < ws; i++) p.w[i] = decoded[i];
    free(w32);
    free(decoded);
    return p;
}

void mx_test_free_problem(host_problem *p) {
    free(p->x);
    free(p->w);
    free(p->bias);
    free(p->blocks);
    free(p->scales);
    for (int d = 0; d < 2; d++) {
        free(p->x16[d]);
        free(p->bias16[d]);
    }
}

double *mx_test_reference_output(const host_problem *p, bool with_bias) {
    double *y = malloc((size_t)(p->batch * p->m * p->n) * sizeof(double));
    cr_assert(y);
    for (int64_t b = 0; b < p->batch; b++)
        mx_ref_gemm_f64(p->m, p->n, p->k, p->x + b * p->m * p->k, p->w + b * p->n * p->k,
                        with_bias ? p->bias + b * p->n : NULL, y + b * p->m * p->n);
    return y;
}

device_problem mx_test_upload_problem(const host_problem *p) {
    device_problem d = {0};
    int64_t xs = p->batch * p->m * p->k, ws = p->batch * p->n * p->k, ys = p->batch * p->m * p->n;
    MX_CR_OK(mx_gemm_context_create(&d.context));
    for (int t = 0; t < 2; t++) {
        MX_CR_CUDA(cudaMalloc(&d.x[t], (size_t)xs * 2));
        MX_CR_CUDA(cudaMalloc(&d.bias[t], (size_t)(p->batch * p->n) * 2));
        MX_CR_CUDA(cudaMemcpy(d.x[t], p->x16[t], (size_t)xs * 2, cudaMemcpyHostToDevice));
        MX_CR_CUDA(cudaMemcpy(d.bias[t], p->bias16[t], (size_t)(p->batch * p->n) * 2,
                              cudaMemcpyHostToDevice));
    }
    MX_CR_CUDA(cudaMalloc(&d.y, (size_t)ys * 2));
    d.w = mx_test_prepare_weights(p->blocks, p->scales, p->n, p->k, p->batch, &d.prepared);
    (void)ws;
    d.y_host = malloc((size_t)ys * 2);
    cr_assert(d.y_host);
    return d;
}

void mx_test_release_problem(device_problem *d) {
    for (int t = 0; t < 2; t++) {
        cudaFree(d->x[t]);
        cudaFree(d->bias[t]);
    }
    cudaFree(d->y);
    cudaFree(d->prepared);
    cudaFree(d->workspace);
    free(d->y_host);
    mx_gemm_context_destroy(d->context);
}

mx_gemm_problem mx_test_device_view(const host_problem *p, const device_problem *d, int dtype_index,
                                    bool with_bias) {
    mx_gemm_problem problem = {.m = p->m,
                               .n = p->n,
                               .k = p->k,
                               .batch = p->batch,
                               .dtype = dtype_index ? MX_BF16 : MX_F16,
                               .x = d->x[dtype_index],
                               .w = d->w,
                               .bias = with_bias ? d->bias[dtype_index] : NULL,
                               .y = d->y};
    return problem;
}

/* Runs one variant with Y poisoned to NaN first; leaves Y (as 16-bit values) in d->y_host. */
void mx_test_run_variant(device_problem *d, const mx_gemm_problem *problem,
                         mx_gemm_variant variant) {
    size_t needed = 0;
    MX_CR_OK(mx_gemm_workspace_bytes(d->context, problem, variant, &needed));
    if (needed > d->workspace_bytes) {
        cudaFree(d->workspace);
        MX_CR_CUDA(cudaMalloc(&d->workspace, needed));
        MX_CR_CUDA(cudaMemset(d->workspace, 0x5A, needed)); /* no variant may rely on zeros */
        d->workspace_bytes = needed;
    }
    size_t y_bytes = (size_t)(problem->batch * problem->m * problem->n) * 2;
    MX_CR_CUDA(cudaMemset(d->y, 0xFF, y_bytes)); /* NaN in FP16 and BF16 */
    if (variant == MX_GEMM_PERSISTENT)
        MX_CR_OK(
            mx_gemm_persistent_prepare(d->context, problem, d->workspace, d->workspace_bytes, 0));
    MX_CR_OK(mx_gemm(d->context, problem, variant, d->workspace, d->workspace_bytes, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d->y_host, d->y, y_bytes, cudaMemcpyDeviceToHost));
}

/* Runs every variant x dtype x bias on one problem against the FP64 reference. */
static void check_all_variants(const host_problem *p) {
    device_problem d = mx_test_upload_problem(p);
    int64_t count = p->batch * p->m * p->n;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        double *ref = mx_test_reference_output(p, with_bias);
        for (int t = 0; t < 2; t++) {
            mx_gemm_problem problem = mx_test_device_view(p, &d, t, with_bias);
            for (int v = 0; v < VARIANT_COUNT; v++) {
                mx_test_run_variant(&d, &problem, all_variants[v]);
                mx_test_errors e = mx_test_compare_ulp(d.y_host, t, ref, count);
                cr_expect(e.nonfinite == 0 && e.rel_l2 <= e.limit,
                          "%s %s%s m=%lld n=%lld k=%lld batch=%lld: rel_l2 %.3g (limit %.3g), "
                          "%lld non-finite outputs",
                          mx_gemm_variant_name(all_variants[v]), t ? "bf16" : "f16",
                          with_bias ? " +bias" : "", (long long)p->m, (long long)p->n,
                          (long long)p->k, (long long)p->batch, e.rel_l2, e.limit,
                          (long long)e.nonfinite);
            }
        }
        free(ref);
    }
    mx_test_release_problem(&d);
}

typedef struct {
    int m, n, k;
} shape;

/* The cross product of M {1,2,3,4,7,15,16,17,33,64,129,255,1000} (odd, on and off the 8-, 16-,
 * 32- and 64-token tiles; 1, 2 and 3-4: the activations in the ring for 1, 2 and 4 tokens)
 * x N {8,24,1030,2880,5760} (8, 24 and 1030 end in a partial 16-row tile; 1030 also puts every
 * other token's outputs off 8-byte alignment and ends in 2 of a group of 4: the outputs' stores
 * element by element)
 * x K {32,96,2880,14336} (one block, three (an odd last block), a short last chunk, 56 chunks),
 * less the combinations whose CPU FP64 reference is too slow for a unit test (> 1.6e8
 * multiply-adds); every value of each axis still appears. */
static shape shapes[220];

ParameterizedTestParameters(gpu_gemm, every_variant_matches_fp64_reference) {
    const int ms[] = {1, 2, 3, 4, 7, 15, 16, 17, 33, 64, 129, 255, 1000},
              ns[] = {8, 24, 1030, 2880, 5760}, ks[] = {32, 96, 2880, 14336};
    size_t count = 0;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++)
                if ((double)ms[i] * ns[j] * ks[l] <= 1.6e8 &&
                    count < sizeof shapes / sizeof shapes[0])
                    shapes[count++] = (shape){ms[i], ns[j], ks[l]};
    return cr_make_param_array(shape, shapes, count);
}

ParameterizedTest(shape *s, gpu_gemm, every_variant_matches_fp64_reference) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_problem p = mx_test_make_problem(s->m, s->n, s->k, 1, 0, &rng);
    check_all_variants(&p);
    mx_test_free_problem(&p);
}

/* Hopper takes its own path unless MX_CODE_PATH=portable (the suite's _portable twin), every
 * other GPU the portable one, whose shapes fit the 99 KB a block gets on sm_86/89/120. */
Test(gpu_gemm, code_path_follows_the_gpu_and_MX_CODE_PATH) {
    MX_REQUIRE_GPU();
    int device = 0;
    MX_CR_CUDA(cudaGetDevice(&device));
    struct cudaDeviceProp props;
    MX_CR_CUDA(cudaGetDeviceProperties(&props, device));
    const char *forced = getenv("MX_CODE_PATH");
    bool portable = forced && strcmp(forced, "portable") == 0;
    for (int pass = 0; pass < 2; pass++) {
        mx_device_info gpu;
        MX_CR_OK(mx_device_query(device, &gpu));
        cr_expect_eq(gpu.major, props.major);
        cr_expect_eq(gpu.sm_count, props.multiProcessorCount);
        mx_code_path expected = props.major == 9 && !portable ? MX_PATH_HOPPER : MX_PATH_PORTABLE;
        cr_expect_eq(gpu.path, expected, "path %s (%s) on compute capability %d.%d",
                     mx_code_path_name(gpu.path), gpu.why, props.major, props.minor);
        cr_expect_leq(gpu.smem_block_bytes, props.sharedMemPerBlockOptin);
        if (gpu.path == MX_PATH_PORTABLE) cr_expect_leq(gpu.smem_block_bytes, 99 * 1024);
        cr_assert_eq(setenv("MX_CODE_PATH", "portable", 1), 0);
        portable = true;
    }
}

/* Writes a dispatch table (kernels/dispatch.h) for gpu into path and points MX_GEMM_DISPATCH at
 * it: fused up to m 1 and skinny up to m 4096 on 256x256, FP16 only (the thresholds' opposites). */
static void use_dispatch_table(const char *path, const char *gpu, const char *code_path) {
    char text[1024];
    int length = snprintf(text, sizeof text,
                          MX_GEMM_DISPATCH_COLUMNS "\n%s,%s,f16,1,256,256,fused,1,skinny,2\n"
                                                   "%s,%s,f16,4096,256,256,skinny,1,fused,2\n",
                          gpu, code_path, gpu, code_path);
    mx_test_write_file(path, text, (size_t)length);
    cr_assert_eq(setenv(MX_GEMM_DISPATCH_ENV, path, 1), 0);
}

/* auto follows a table measured for this GPU and code path (MX_GEMM_DISPATCH), its workspace
 * query too, and computes right on what it picks; a table of another GPU is refused, naming it,
 * and auto keeps its thresholds (docs/gemm.md, "Dispatch"). */
Test(gpu_gemm, auto_follows_a_dispatch_table_of_this_gpu_and_refuses_a_foreign_one,
     .init = mx_test_work_dir_create) {
    MX_REQUIRE_GPU();
    int device = 0;
    MX_CR_CUDA(cudaGetDevice(&device));
    mx_device_info gpu;
    MX_CR_OK(mx_device_query(device, &gpu));
    const char *path = mx_test_path("dispatch.csv");
    for (int foreign = 0; foreign < 2; foreign++) {
        use_dispatch_table(path, foreign ? "Another GPU" : gpu.name, mx_code_path_name(gpu.path));
        mx_gemm_context *context = NULL;
        MX_CR_OK(mx_gemm_context_create(&context));
        bool refused = !foreign;
        const char *source = mx_gemm_dispatch_source(context, &refused);
        cr_expect_eq(refused, (bool)foreign, "%s", source);
        cr_expect(strstr(source, path), "'%s' does not name the table", source);
        if (foreign) cr_expect(strstr(source, "no row for"), "%s", source);
        mx_gemm_problem problem = {.m = 1, .n = 256, .k = 256, .batch = 1, .dtype = MX_F16};
        cr_expect_eq(mx_gemm_choose(context, &problem), foreign ? MX_GEMM_SKINNY : MX_GEMM_FUSED);
        problem.m = 1024;
        cr_expect_eq(mx_gemm_choose(context, &problem),
                     foreign ? MX_GEMM_DEQUANT_CUBLAS : MX_GEMM_SKINNY);
        size_t bytes = 1;
        MX_CR_OK(mx_gemm_workspace_bytes(context, &problem, MX_GEMM_AUTO, &bytes));
        cr_expect_eq(bytes == 0, !foreign, "auto's workspace does not follow its choice");
        problem.dtype = MX_BF16; /* no BF16 row: the thresholds */
        cr_expect_eq(mx_gemm_choose(context, &problem), MX_GEMM_DEQUANT_CUBLAS);
        mx_gemm_context_destroy(context);
    }
    use_dispatch_table(path, gpu.name, mx_code_path_name(gpu.path));
    mx_rng rng = mx_rng_fresh();
    const int ms[] = {1, 300};
    for (int i = 0; i < 2; i++) {
        host_problem p = mx_test_make_problem(ms[i], 256, 256, 1, 0, &rng);
        check_all_variants(&p);
        mx_test_free_problem(&p);
    }
}

Test(gpu_gemm, batched_problems) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const int ms[] = {3, 40};
    for (int i = 0; i < 2; i++) {
        host_problem p = mx_test_make_problem(ms[i], 136, 288, 3, -3, &rng);
        check_all_variants(&p);
        mx_test_free_problem(&p);
    }
}

/* The warpgroup kernel's 256-token tiles (its TMA layout, on Hopper) batched and split: 2 entries
 * x 300 tokens x 4232 rows (136 tiles, each entry its own box of the tensor map; K = 288, an odd
 * last block), and 129 tokens x (SMs / 2 x 128 - 5) rows: tiles for exactly half the SMs, where
 * K (1024: 4 chunks) is split in two and the halves summed on chip. Other GPUs run the same
 * problems on their own path. */
Test(gpu_gemm, wide_tiles_batched_and_split_at_half_the_sms) {
    MX_REQUIRE_GPU();
    int device = 0, sms = 0;
    MX_CR_CUDA(cudaGetDevice(&device));
    MX_CR_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const struct {
        int m, n, k, batch;
    } cases[] = {{300, 4232, 288, 2}, {129, sms / 2 * 128 - 5, 1024, 1}};
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < 2; i++) {
        host_problem p =
            mx_test_make_problem(cases[i].m, cases[i].n, cases[i].k, cases[i].batch, -3, &rng);
        check_all_variants(&p);
        mx_test_free_problem(&p);
    }
}

Test(gpu_gemm, bad_arguments_are_refused_before_launch) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    host_problem p = mx_test_make_problem(4, 64, 64, 1, 0, &rng);
    device_problem d = mx_test_upload_problem(&p);
    mx_gemm_problem good = mx_test_device_view(&p, &d, 0, false), bad;
    size_t y_bytes = (size_t)(p.m * p.n) * 2;
    MX_CR_CUDA(cudaMemset(d.y, 0x7E, y_bytes));
    MX_CR_CUDA(cudaMalloc(&d.workspace, 1 << 20));
    d.workspace_bytes = 1 << 20;

    bad = good, bad.k = 33;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_UNSUPPORTED_SHAPE);
    cr_expect(strstr(mx_last_error(), "33"), "message: %s", mx_last_error());
    bad = good, bad.m = 0;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_SKINNY, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    bad = good, bad.n = -8;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_SKINNY, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    bad = good, bad.x = NULL;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    bad = good, bad.w.data = d.w.data + 4;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_MISALIGNED);
    cr_expect(strstr(mx_last_error(), "16-byte"), "message: %s", mx_last_error());
    /* OCP bytes where prepared ones are expected (a view nobody prepared), and prepared weights
     * of another shape: refused, naming what differs. */
    bad = good, bad.w = (mx_weights){.n = p.n, .k = p.k, .batch = 1, .data = d.w.data};
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_SKINNY, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "mx_weights_prepare"), "message: %s", mx_last_error());
    bad = good, bad.n = 48;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_DEQUANT_CUBLAS, d.workspace, 1 << 20, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "n 64") && strstr(mx_last_error(), "n 48"), "message: %s",
              mx_last_error());
    bad = good, bad.k = 32;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "k 64") && strstr(mx_last_error(), "k 32"), "message: %s",
              mx_last_error());
    bad = good, bad.dtype = MX_F32;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    /* 16384 tokens x batch 1024 = 65536 tiles of 256 tokens (the warpgroup kernel on Hopper) or
     * 262144 of 64 (elsewhere): more than a grid holds. Refused before anything is read, so the
     * small buffers stand in for the huge ones. */
    bad = good, bad.m = 16384, bad.batch = 1024, bad.w.batch = 1024;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_UNSUPPORTED_SHAPE);
    cr_expect(strstr(mx_last_error(), "token tiles") && strstr(mx_last_error(), "at most 65535"),
              "message: %s", mx_last_error());
    size_t needed = 0;
    MX_CR_OK(mx_gemm_workspace_bytes(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, &needed));
    cr_expect_eq(mx_gemm(d.context, &good, MX_GEMM_DEQUANT_CUBLAS, d.workspace, needed - 1, 0),
                 MX_ERR_WORKSPACE);
    char needed_text[32];
    snprintf(needed_text, sizeof needed_text, "%zu", needed);
    cr_expect(strstr(mx_last_error(), needed_text), "message: %s", mx_last_error());
    /* The workspace query reads no data pointer, and refuses what the call would refuse for
     * its sizes, variant or epilogue, with *bytes = 0. */
    mx_gemm_problem sized = good;
    sized.x = NULL, sized.y = NULL;
    size_t bytes = 0;
    MX_CR_OK(mx_gemm_workspace_bytes(d.context, &sized, MX_GEMM_DEQUANT_CUBLAS, &bytes));
    cr_expect_eq(bytes, needed);
    bad = good, bad.m = 0;
    cr_expect_eq(mx_gemm_workspace_bytes(d.context, &bad, MX_GEMM_AUTO, &bytes),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(bytes == 0 && strstr(mx_last_error(), "m = 0"), "%zu bytes, message: %s", bytes,
              mx_last_error());
    bad = good, bad.batch = 2, bad.activation = MX_ACT_GELU;
    bytes = 1;
    cr_expect_eq(mx_gemm_workspace_bytes(d.context, &bad, MX_GEMM_DEQUANT_CUBLAS, &bytes),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(bytes == 0 && strstr(mx_last_error(), "batch = 2"), "%zu bytes, message: %s", bytes,
              mx_last_error());
    cr_expect_eq(mx_gemm_workspace_bytes(d.context, &good, (mx_gemm_variant)42, &bytes),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_gemm_workspace_bytes(d.context, &good, MX_GEMM_AUTO, NULL),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_gemm_workspace_bytes(NULL, &good, MX_GEMM_AUTO, &bytes),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect_eq(mx_gemm(d.context, &good, (mx_gemm_variant)42, NULL, 0, 0),
                 MX_ERR_INVALID_ARGUMENT);
    mx_gemm_variant parsed;
    cr_expect_eq(mx_gemm_variant_from_name("turbo", &parsed), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "turbo"), "message: %s", mx_last_error());
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d.y_host, d.y, y_bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < y_bytes / 2; i++)
        cr_assert_eq(d.y_host[i], 0x7E7E, "output %zu was written by a refused call", i);
    mx_test_release_problem(&d);
    mx_test_free_problem(&p);
}

Test(gpu_gemm, vram_report_counts_every_buffer) {
    MX_REQUIRE_GPU();
    mx_gemm_context *context;
    MX_CR_OK(mx_gemm_context_create(&context));
    mx_gemm_problem problem = {.m = 1, .n = 4096, .k = 14336, .batch = 1, .dtype = MX_F16};
    int64_t weights = 4096LL * 14336;
    mx_vram_report fused = mx_gemm_vram(context, &problem, MX_GEMM_FUSED);
    cr_expect_eq(fused.weight_bytes_fp16, 2 * weights);
    cr_expect_eq(fused.weight_bytes_mxfp4, weights / 2 + weights / 32);
    mx_vram_report staged = mx_gemm_vram(context, &problem, MX_GEMM_DEQUANT_CUBLAS);
    cr_expect_eq(staged.workspace_bytes, 2 * weights, "the FP16 copy must be counted");
    cr_expect_lt(staged.savings, 0.0, "dequant_cublas holds more than FP16: %.3f", staged.savings);
    /* Split-K reduces on chip: the register-dequantizing paths hold nothing but the MXFP4
     * weights, so they keep the whole 73.4 % of the format (docs/design.md §7). */
    mx_gemm_variant on_chip[] = {MX_GEMM_SKINNY, MX_GEMM_FUSED};
    for (int v = 0; v < 2; v++) {
        mx_vram_report report = mx_gemm_vram(context, &problem, on_chip[v]);
        cr_expect_eq(report.workspace_bytes, 0, "%s workspace", mx_gemm_variant_name(on_chip[v]));
        cr_expect_float_eq(report.savings, 1.0 - 0.53125 / 2.0, 1e-12, "%s savings %.6f",
                           mx_gemm_variant_name(on_chip[v]), report.savings);
    }
    mx_gemm_context_destroy(context);
}

/* Device copies of [count] values of one dtype (the residual of the batch_rows test). */
static void *upload_values(const double *values, int64_t count, int dtype_index) {
    uint16_t *bits = malloc((size_t)count * 2);
    cr_assert(bits);
    for (int64_t i = 0; i < count; i++) bits[i] = mx_test_encode(values[i], dtype_index);
    void *device = NULL;
    MX_CR_CUDA(cudaMalloc(&device, (size_t)count * 2));
    MX_CR_CUDA(cudaMemcpy(device, bits, (size_t)count * 2, cudaMemcpyHostToDevice));
    free(bits);
    return device;
}

/* batch_rows: entry b computes its first rows[b] rows (random in 0..m, with 0 and m present),
 * and every other row of y stays as poisoned; fused and skinny, FP16 and BF16, the plain product
 * with bias, the gated gpt-oss SwiGLU, and GELU plus a [batch, m, n] residual; the launch sized
 * by the exact total of the rows and by 0 (unknown). Shapes: one and several token tiles per
 * entry, split-K (long k, few rows), more than 32 entries (the tile search's second step), and
 * one row (m = 1, decode: entries of 0 or 1 rows); n = 138 (69 gated outputs) puts rows off the
 * outputs' 4- and 8-byte stores. */
Test(gpu_gemm, valid_rows_per_batch_entry_on_the_device) {
    MX_REQUIRE_GPU();
    mx_rng rng = mx_rng_fresh();
    const struct {
        int m, n, k, batch;
    } cases[] = {{5, 138, 1024, 6},
                 {13, 72, 320, 5},
                 {70, 136, 288, 4},
                 {3, 64, 256, 40},
                 {1, 138, 2880, 7}};
    const mx_activation acts[] = {MX_ACT_NONE, MX_ACT_SWIGLU_GPTOSS, MX_ACT_GELU};
    const mx_gemm_variant variants[] = {MX_GEMM_FUSED, MX_GEMM_SKINNY};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t m = cases[c].m, n = cases[c].n, k = cases[c].k, batch = cases[c].batch;
        host_problem p = mx_test_make_problem(m, n, k, batch, -3, &rng);
        int32_t *rows = malloc((size_t)batch * sizeof *rows);
        double *product = malloc((size_t)(batch * m * n) * sizeof *product);
        double *residual = malloc((size_t)(batch * m * n) * sizeof *residual);
        double *ref = malloc((size_t)(batch * m * n) * sizeof *ref);
        uint16_t *valid = malloc((size_t)(batch * m * n) * 2);
        cr_assert(rows && product && residual && ref && valid);
        int64_t total = 0;
        for (int64_t b = 0; b < batch; b++) {
            rows[b] = b == 0 ? 0 : b == 1 ? (int32_t)m : (int32_t)(mx_rng_next(&rng) % (m + 1));
            total += rows[b];
        }
        for (int64_t i = 0; i < batch * m * n; i++) residual[i] = draw_activation(&rng);
        for (int64_t b = 0; b < batch; b++) /* all m rows: the invalid ones are never compared */
            mx_ref_gemm_f64(m, n, k, p.x + b * m * k, p.w + b * n * k, NULL, product + b * m * n);
        device_problem d = mx_test_upload_problem(&p);
        int32_t *rows_device = NULL;
        MX_CR_CUDA(cudaMalloc((void **)&rows_device, (size_t)batch * sizeof *rows));
        MX_CR_CUDA(
            cudaMemcpy(rows_device, rows, (size_t)batch * sizeof *rows, cudaMemcpyHostToDevice));
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            const mx_activation act = acts[a];
            const int64_t out = act == MX_ACT_SWIGLU_GPTOSS ? n / 2 : n;
            const bool with_residual = act == MX_ACT_GELU;
            /* The FP64 answer of the valid rows, packed entry after entry. */
            int64_t valid_count = 0;
            for (int64_t b = 0; b < batch; b++) {
                mx_ref_activation_f64(rows[b], n, act, product + b * m * n, p.bias + b * n,
                                      with_residual ? residual + b * m * out : NULL,
                                      ref + valid_count);
                valid_count += rows[b] * out;
            }
            for (int t = 0; t < 2; t++) {
                void *residual_device =
                    with_residual ? upload_values(residual, batch * m * out, t) : NULL;
                mx_gemm_problem problem = mx_test_device_view(&p, &d, t, true);
                problem.activation = act;
                problem.residual = residual_device;
                problem.batch_rows = rows_device;
                for (int v = 0; v < 2; v++)
                    for (int sized = 0; sized < 2; sized++) {
                        problem.batch_rows_total = sized ? total : 0;
                        const size_t y_bytes = (size_t)(batch * m * out) * 2;
                        MX_CR_CUDA(cudaMemset(d.y, 0xFF, y_bytes)); /* NaN in FP16 and BF16 */
                        MX_CR_OK(mx_gemm(d.context, &problem, variants[v], NULL, 0, 0));
                        MX_CR_CUDA(cudaDeviceSynchronize());
                        MX_CR_CUDA(cudaMemcpy(d.y_host, d.y, y_bytes, cudaMemcpyDeviceToHost));
                        int64_t packed = 0, written = 0;
                        for (int64_t b = 0; b < batch; b++)
                            for (int64_t i = 0; i < m * out; i++) {
                                uint16_t bits = d.y_host[b * m * out + i];
                                if (i < rows[b] * out)
                                    valid[packed++] = bits;
                                else
                                    written += bits != 0xFFFF;
                            }
                        mx_test_errors e = mx_test_compare_ulp(valid, t, ref, valid_count);
                        cr_expect(written == 0 && e.nonfinite == 0 && e.rel_l2 <= e.limit,
                                  "%s %s %s m=%lld n=%lld k=%lld batch=%lld total %s: rel_l2 %.3g "
                                  "(limit %.3g), %lld non-finite, %lld rows-beyond outputs "
                                  "written",
                                  mx_gemm_variant_name(variants[v]), t ? "bf16" : "f16",
                                  mx_activation_name(act), (long long)m, (long long)n, (long long)k,
                                  (long long)batch, sized ? "exact" : "unknown", e.rel_l2, e.limit,
                                  (long long)e.nonfinite, (long long)written);
                    }
                cudaFree(residual_device);
            }
        }
        cudaFree(rows_device);
        mx_test_release_problem(&d);
        free(rows);
        free(product);
        free(residual);
        free(ref);
        free(valid);
        mx_test_free_problem(&p);
    }
}

/* batch_rows is for fused and skinny only (cuBLAS takes host sizes), its total is bounded, and
 * the cuBLAS paths keep refusing an epilogue with batch > 1; y stays untouched. */
Test(gpu_gemm, batch_rows_and_batched_epilogue_refused_where_unsupported) {
    MX_REQUIRE_GPU();
    /* auto on its thresholds, whatever table this GPU has: dequant_cublas above 64 tokens, or
     * above MX_GEMM_WGMMA_AUTO_MAX_M where fused runs the warpgroup kernel (a small weight) */
    cr_assert_eq(setenv(MX_GEMM_DISPATCH_ENV, "thresholds", 1), 0);
    mx_rng rng = mx_rng_fresh();
    host_problem p = mx_test_make_problem(4, 64, 64, 2, 0, &rng);
    device_problem d = mx_test_upload_problem(&p);
    const int32_t rows[2] = {1, 4};
    int32_t *rows_device = NULL;
    MX_CR_CUDA(cudaMalloc((void **)&rows_device, 2 * sizeof *rows_device + 4));
    MX_CR_CUDA(cudaMemcpy(rows_device, rows, sizeof rows, cudaMemcpyHostToDevice));
    size_t y_bytes = (size_t)(p.batch * p.m * p.n) * 2;
    MX_CR_CUDA(cudaMemset(d.y, 0x7E, y_bytes));
    MX_CR_CUDA(cudaMalloc(&d.workspace, 1 << 20));
    d.workspace_bytes = 1 << 20;
    mx_gemm_problem good = mx_test_device_view(&p, &d, 0, true), bad;
    good.batch_rows = rows_device;
    good.batch_rows_total = 5;
    const mx_gemm_variant cublas[] = {MX_GEMM_DEQUANT_CUBLAS, MX_GEMM_PERSISTENT};
    for (int v = 0; v < 2; v++) {
        cr_expect_eq(mx_gemm(d.context, &good, cublas[v], d.workspace, d.workspace_bytes, 0),
                     MX_ERR_INVALID_ARGUMENT, "%s", mx_gemm_variant_name(cublas[v]));
        cr_expect(strstr(mx_last_error(), "batch_rows"), "message: %s", mx_last_error());
    }
    cr_expect_eq(mx_gemm_persistent_prepare(d.context, &good, d.workspace, d.workspace_bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "batch_rows"), "message: %s", mx_last_error());
    bad = good, bad.m = MX_GEMM_WGMMA_AUTO_MAX_M + 1; /* auto runs dequant_cublas */
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_AUTO, d.workspace, d.workspace_bytes, 0),
                 MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "dequant_cublas"), "message: %s", mx_last_error());
    bad = good, bad.batch_rows_total = 9;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_SKINNY, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "batch_rows_total = 9"), "message: %s", mx_last_error());
    bad = good, bad.batch_rows_total = -1;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    bad = good, bad.batch_rows = NULL;
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_FUSED, NULL, 0, 0), MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "without batch_rows"), "message: %s", mx_last_error());
    bad = good, bad.batch_rows = (const int32_t *)((const char *)rows_device + 2);
    cr_expect_eq(mx_gemm(d.context, &bad, MX_GEMM_SKINNY, NULL, 0, 0), MX_ERR_MISALIGNED);
    cr_expect(strstr(mx_last_error(), "batch_rows"), "message: %s", mx_last_error());
    bad = good, bad.batch_rows = NULL, bad.batch_rows_total = 0;
    bad.activation = MX_ACT_SWIGLU_GPTOSS;
    cr_expect_eq(
        mx_gemm(d.context, &bad, MX_GEMM_DEQUANT_CUBLAS, d.workspace, d.workspace_bytes, 0),
        MX_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(mx_last_error(), "batch = 2"), "message: %s", mx_last_error());
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(d.y_host, d.y, y_bytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < y_bytes / 2; i++)
        cr_assert_eq(d.y_host[i], 0x7E7E, "output %zu was written by a refused call", i);
    cudaFree(rows_device);
    mx_test_release_problem(&d);
    mx_test_free_problem(&p);
}
