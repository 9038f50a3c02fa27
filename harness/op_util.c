/* Shared set-up of the harness's ops (op_util.h). */
#include "op_util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "elementwise.h"

bool mx_op_failed(char *why, size_t why_size, const char *what, const char *detail) {
    snprintf(why, why_size, "%s: %s", what, detail);
    return false;
}

bool mx_op_cuda_ok(cudaError_t error, char *why, size_t why_size, const char *what) {
    if (error == cudaSuccess) return true;
    cudaGetLastError();
    return mx_op_failed(why, why_size, what,
                        error == cudaErrorMemoryAllocation ? "out of memory"
                                                           : cudaGetErrorString(error));
}

bool mx_op_mx_ok(mx_status status, char *why, size_t why_size, const char *what) {
    if (status == MX_OK) return true;
    cudaGetLastError();
    return mx_op_failed(why, why_size, what, mx_last_error());
}

bool mx_op_allocate(void **buffer, double bytes, char *why, size_t why_size, const char *what) {
    cudaError_t error = cudaMalloc(buffer, (size_t)bytes);
    if (error == cudaSuccess) return true;
    *buffer = NULL;
    cudaGetLastError();
    if (error != cudaErrorMemoryAllocation)
        return mx_op_failed(why, why_size, what, cudaGetErrorString(error));
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    char message[160];
    snprintf(message, sizeof message, "out of memory allocating %.2f GB (%.2f GB free)",
             bytes / 1e9, (double)free_bytes / 1e9);
    return mx_op_failed(why, why_size, what, message);
}

/* bytes - shared_bytes, or 0 where shared_bytes covers them */
static size_t mx_op_beyond(size_t bytes, size_t shared_bytes) {
    return bytes > shared_bytes ? bytes - shared_bytes : 0;
}

bool mx_op_workspace_allocate(void **workspace, size_t bytes, size_t shared_bytes,
                              size_t gemm_bytes, mx_bench_memory *memory, char *why,
                              size_t why_size) {
    *workspace = NULL;
    size_t free_before = 0, free_after = 0, total = 0;
    if (!mx_op_cuda_ok(cudaMemGetInfo(&free_before, &total), why, why_size, "cudaMemGetInfo") ||
        (bytes > 0 && !mx_op_allocate(workspace, (double)bytes, why, why_size, "workspace")) ||
        !mx_op_cuda_ok(cudaMemGetInfo(&free_after, &total), why, why_size, "cudaMemGetInfo"))
        return false;
    size_t counted = mx_op_beyond(bytes, shared_bytes);
    if (counted < gemm_bytes) counted = gemm_bytes < bytes ? gemm_bytes : bytes;
    memory->workspace_bytes = (int64_t)counted;
    memory->measured_bytes +=
        (int64_t)mx_op_beyond(mx_op_beyond(free_before, free_after), bytes - counted);
    return true;
}

mx_dtype mx_op_row_dtype(const mx_sweep_row *row) {
    return mx_activation_dtype(row->dtype);
}

bool mx_op_row_dist(const mx_sweep_row *row, mx_dist *dist, char *why, size_t why_size) {
    *dist = mx_dist_from_name(row->dist);
    return *dist != MX_DIST_COUNT || mx_op_failed(why, why_size, "unknown distribution", row->dist);
}

uint64_t mx_op_seed(const mx_sweep_row *row, uint64_t tag) {
    return (uint64_t)row->seed * 0x9E3779B97F4A7C15ULL ^ tag;
}

int64_t mx_op_weight_bytes_fp16(int64_t rows, int64_t cols) {
    return rows * cols * 2;
}

int64_t mx_op_weight_bytes_mxfp4(int64_t rows, int64_t cols) {
    return rows * cols / 2 + rows * cols / MX_BLOCK_SIZE;
}

void mx_op_weight_free(mx_op_weight *w) {
    void *buffers[] = {w->blocks,   w->scales,      w->prepared_data,
                       w->original, w->dequantized, w->exact};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) cudaFree(buffers[i]);
    memset(w, 0, sizeof *w);
}

void mx_op_weight_drop_exact(mx_op_weight *w) {
    cudaFree(w->exact);
    w->exact = NULL;
}

bool mx_op_setup_finish(bool ok, void *problem, void (*teardown)(void *), void **out) {
    if (!ok) {
        teardown(problem);
        return false;
    }
    *out = problem;
    return true;
}

/* Reorders w's OCP weights into a buffer of their own (its cudaMemGetInfo delta measured), times
 * that with events, and frees the OCP ones. */
static bool weight_prepare(mx_op_weight *w, char *why, size_t why_size) {
    const int64_t n = w->rows / w->batch;
    const size_t bytes = mx_weights_bytes(n, w->cols, w->batch);
    size_t free_before = 0, free_after = 0, total = 0;
    cudaEvent_t start = NULL, stop = NULL;
    float elapsed_ms = 0.0f;
    bool ok =
        mx_op_cuda_ok(cudaMemGetInfo(&free_before, &total), why, why_size, "cudaMemGetInfo") &&
        mx_op_allocate(&w->prepared_data, (double)bytes, why, why_size, "prepared weights") &&
        mx_op_cuda_ok(cudaMemGetInfo(&free_after, &total), why, why_size, "cudaMemGetInfo") &&
        mx_op_cuda_ok(cudaEventCreate(&start), why, why_size, "cudaEventCreate") &&
        mx_op_cuda_ok(cudaEventCreate(&stop), why, why_size, "cudaEventCreate") &&
        mx_op_cuda_ok(cudaEventRecord(start, 0), why, why_size, "cudaEventRecord") &&
        mx_op_mx_ok(mx_weights_prepare(w->blocks, w->scales, n, w->cols, w->batch, w->prepared_data,
                                       bytes, &w->prepared, 0),
                    why, why_size, "prepare") &&
        mx_op_cuda_ok(cudaEventRecord(stop, 0), why, why_size, "cudaEventRecord") &&
        mx_op_cuda_ok(cudaEventSynchronize(stop), why, why_size, "prepare") &&
        mx_op_cuda_ok(cudaEventElapsedTime(&elapsed_ms, start, stop), why, why_size, "prepare");
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (!ok) return false;
    w->prepare_us = 1000.0 * elapsed_ms;
    w->mxfp4_bytes = (int64_t)bytes;
    w->mxfp4_measured_bytes = (int64_t)free_before - (int64_t)free_after;
    cudaFree(w->blocks);
    cudaFree(w->scales);
    w->blocks = w->scales = NULL;
    return true;
}

/* The CPU reference codec over row ranges, one thread per range. */
typedef struct {
    const uint8_t *blocks, *scales;
    int64_t rows, cols;
    float *out;
    mx_status status;
    char message[256]; /* mx_last_error() of the thread that ran it */
} dequantize_job;

static void *dequantize_rows(void *opaque) {
    dequantize_job *job = opaque;
    job->status = mx_ref_dequantize(job->blocks, job->scales, job->rows, job->cols, job->out);
    if (job->status != MX_OK) snprintf(job->message, sizeof job->message, "%s", mx_last_error());
    return NULL;
}

/* Dequantizes the weights with the CPU reference codec (reference/codec.c), not the library's
 * GPU kernel: the exact reference every error column is measured against must not share the
 * code under test (the gpu_codec suite proves the two equal). */
static bool reference_dequantize(mx_op_weight *w, char *why, size_t why_size) {
    const int64_t count = w->rows * w->cols;
    uint8_t *blocks = malloc((size_t)(count / 2)), *scales = malloc((size_t)(count / 32));
    float *exact = malloc(sizeof *exact * (size_t)count);
    bool ok = (blocks && scales && exact) ||
              mx_op_failed(why, why_size, "exact reference", "out of host memory");
    ok = ok &&
         mx_op_cuda_ok(cudaMemcpy(blocks, w->blocks, (size_t)(count / 2), cudaMemcpyDeviceToHost),
                       why, why_size, "weights to the host") &&
         mx_op_cuda_ok(cudaMemcpy(scales, w->scales, (size_t)(count / 32), cudaMemcpyDeviceToHost),
                       why, why_size, "scales to the host");
    enum { MAX_THREADS = 32 };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    if (w->rows < threads) threads = (int)w->rows;
    dequantize_job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started = 0;
    for (int t = 0; ok && t < threads; t++) {
        int64_t first = w->rows * t / threads, last = w->rows * (t + 1) / threads;
        jobs[t] = (dequantize_job){blocks + first * w->cols / 2,
                                   scales + first * w->cols / 32,
                                   last - first,
                                   w->cols,
                                   exact + first * w->cols,
                                   MX_OK,
                                   ""};
        if (pthread_create(&ids[t], NULL, dequantize_rows, &jobs[t]) == 0)
            started++;
        else
            dequantize_rows(&jobs[t]);
    }
    for (int t = 0; t < started; t++) pthread_join(ids[t], NULL);
    for (int t = 0; ok && t < threads; t++)
        if (jobs[t].status != MX_OK)
            ok = mx_op_failed(why, why_size, "CPU reference dequantization", jobs[t].message);
    ok = ok && mx_op_cuda_ok(cudaMemcpy(w->exact, exact, sizeof *exact * (size_t)count,
                                        cudaMemcpyHostToDevice),
                             why, why_size, "exact weights to the GPU");
    free(blocks);
    free(scales);
    free(exact);
    return ok;
}

bool mx_op_weight_make(mx_op_weight *w, int64_t batch, int64_t rows, int64_t cols, mx_dtype dtype,
                       mx_dist dist, uint64_t seed, bool keep_exact, bool prepare, char *why,
                       size_t why_size) {
    memset(w, 0, sizeof *w);
    w->batch = batch;
    w->rows = rows;
    w->cols = cols;
    const int64_t count = rows * cols;
    size_t free_before = 0, free_after = 0, total = 0;
    bool ok =
        mx_op_cuda_ok(cudaMemGetInfo(&free_before, &total), why, why_size, "cudaMemGetInfo") &&
        mx_op_allocate((void **)&w->blocks, count / 2.0, why, why_size, "MXFP4 weights") &&
        mx_op_allocate((void **)&w->scales, count / 32.0, why, why_size, "MXFP4 scales") &&
        mx_op_cuda_ok(cudaMemGetInfo(&free_after, &total), why, why_size, "cudaMemGetInfo");
    w->mxfp4_measured_bytes = (int64_t)free_before - (int64_t)free_after;
    w->mxfp4_bytes = mx_op_weight_bytes_mxfp4(rows, cols);
    /* The distribution in FP32 -> original in the dtype, MXFP4, dequantized by the CPU reference
     * codec (exact in FP32) -> the dtype for the FP16 path. */
    ok =
        ok && mx_op_allocate(&w->dequantized, count * 2.0, why, why_size, "FP16 weights") &&
        mx_op_allocate(&w->original, count * 2.0, why, why_size, "original weights") &&
        mx_op_allocate((void **)&w->exact, count * 4.0, why, why_size, "FP32 weights") &&
        mx_op_mx_ok(mx_bench_fill(w->exact, rows, cols, dist, seed, 0), why, why_size, "weights") &&
        mx_op_mx_ok(mx_bench_narrow(w->exact, count, dtype, w->original, 0), why, why_size,
                    "weights") &&
        mx_op_mx_ok(
            mx_quantize(w->exact, MX_F32, rows, cols, MX_SCALE_FLOOR, w->blocks, w->scales, 0), why,
            why_size, "quantize") &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "quantize") &&
        reference_dequantize(w, why, why_size) &&
        mx_op_mx_ok(mx_bench_narrow(w->exact, count, dtype, w->dequantized, 0), why, why_size,
                    "dequantize") &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "weights") &&
        (!prepare || weight_prepare(w, why, why_size));
    if (ok && !keep_exact) mx_op_weight_drop_exact(w);
    if (!ok) mx_op_weight_free(w);
    return ok;
}

bool mx_op_activations_make(void **x, int64_t count, mx_dtype dtype, mx_dist dist, uint64_t seed,
                            char *why, size_t why_size) {
    float *x32 = NULL;
    bool ok =
        mx_op_allocate(x, count * 2.0, why, why_size, "activations") &&
        mx_op_allocate((void **)&x32, count * 4.0, why, why_size, "activation scratch") &&
        mx_op_mx_ok(mx_bench_fill_activations(x32, count, dist, seed, 0), why, why_size,
                    "activations") &&
        mx_op_mx_ok(mx_bench_narrow(x32, count, dtype, *x, 0), why, why_size, "activations") &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "activations");
    cudaFree(x32);
    if (!ok) {
        cudaFree(*x);
        *x = NULL;
    }
    return ok;
}

bool (*mx_op_check_tamper)(void *y, mx_dtype dtype, int64_t count, cudaStream_t stream);

/* The element-wise bound over the whole output, on the GPU. */
static bool elementwise(const mx_op_output *o, mx_bench_errors *errors, cudaStream_t stream,
                        char *why, size_t why_size) {
    const mx_op_magnitudes *mag = o->magnitudes;
    mx_elementwise_result result;
    if (!mx_op_mx_ok(mx_bench_elementwise(o->y, o->dtype, o->y_exact, mag->magnitude, mag->row_sums,
                                          o->count, mag->cols, mag->k, &result, stream),
                     why, why_size, "element-wise check"))
        return false;
    bool any = result.worst_index >= 0;
    int64_t row = any ? result.worst_index / mag->cols : -1;
    errors->elementwise = any ? result.worst : NAN;
    errors->worst_batch = any ? row / mag->rows_per_batch : -1;
    errors->worst_row = any ? row % mag->rows_per_batch : -1;
    errors->worst_column = any ? result.worst_index % mag->cols : -1;
    errors->elementwise_over = result.over;
    return true;
}

bool mx_op_errors(const mx_op_output *o, mx_bench_errors *errors, cudaStream_t stream, char *why,
                  size_t why_size) {
    const void *y = o->y, *y_fp16 = o->y_fp16, *y_original = o->y_original;
    const double *y_exact = o->y_exact;
    mx_dtype dtype = o->dtype;
    int64_t count = o->count;
    mx_error_figures fp16, exact, original;
    bool ok =
        mx_op_mx_ok(mx_bench_compare(y, dtype, y_fp16, dtype, 0, count, &fp16, stream), why,
                    why_size, "compare") &&
        (!y_exact ||
         mx_op_mx_ok(mx_bench_compare(y, dtype, y_exact, MX_F32, 1, count, &exact, stream), why,
                     why_size, "compare")) &&
        mx_op_mx_ok(mx_bench_compare(y, dtype, y_original, dtype, 0, count, &original, stream), why,
                    why_size, "compare");
    if (!ok) return false;
    errors->rel_vs_fp16 = fp16.rel;
    errors->max_rel_vs_fp16 = fp16.max_rel;
    errors->rel_vs_exact = y_exact ? exact.rel : NAN;
    errors->quant_rel = original.rel;
    errors->nonfinite = y_exact ? exact.nonfinite : fp16.nonfinite;
    errors->elementwise = NAN;
    errors->worst_batch = errors->worst_row = errors->worst_column = -1;
    errors->elementwise_over = 0;
    return !(y_exact && o->magnitudes) || elementwise(o, errors, stream, why, why_size);
}

bool mx_op_check_output(const mx_op_output *output, mx_op_run_fn run, void *problem,
                        const mx_op_prepared *prepared, cudaStream_t stream,
                        mx_bench_errors *errors, char *why, size_t why_size) {
    return mx_op_mx_ok(mx_bench_poison(output->y, output->dtype, output->count, stream), why,
                       why_size, "poison") &&
           run(problem, prepared, stream, why, why_size) &&
           (!mx_op_check_tamper ||
            mx_op_check_tamper(output->y, output->dtype, output->count, stream) ||
            mx_op_failed(why, why_size, "check", "the test's tamper hook failed")) &&
           mx_op_errors(output, errors, stream, why, why_size);
}

void mx_op_prepared_free(mx_op_prepared *prepared) {
    cudaFree(prepared->workspace);
    *prepared = (mx_op_prepared){0};
}

bool mx_op_cublas_ok(cublasStatus_t status, char *why, size_t why_size, const char *what) {
    return status == CUBLAS_STATUS_SUCCESS ||
           mx_op_failed(why, why_size, what, cublasGetStatusString(status));
}

/* The shape of mx_op_exact_product. */
typedef struct {
    cublasHandle_t cublas;
    int64_t m, n, k, batch;
} product_shape;

/* y = X64 . W64^T per batch entry: the column-major TN product cublasGemmEx serves. */
static bool product_f64(const product_shape *s, const double *x64, const double *w64, double *y,
                        char *why, size_t why_size) {
    double one = 1.0, zero = 0.0;
    return mx_op_cublas_ok(
        cublasDgemmStridedBatched(s->cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)s->n, (int)s->m,
                                  (int)s->k, &one, w64, (int)s->k, s->n * s->k, x64, (int)s->k,
                                  s->m * s->k, &zero, y, (int)s->n, s->m * s->n, (int)s->batch),
        why, why_size, "cublasDgemmStridedBatched");
}

/* |X| . |W|^T and each row's sum of |x| (DGEMV against ones), x64 and w64 as scratch; on any
 * failure both freed and NULL. */
static void magnitudes(const product_shape *s, const void *x, mx_dtype dtype, const float *w_exact,
                       double *x64, double *w64, double **magnitude, double **row_sums) {
    char why[512];
    int64_t x_count = s->batch * s->m * s->k, w_count = s->batch * s->n * s->k;
    double *ones = NULL, *ones_host = malloc(sizeof *ones_host * (size_t)s->k), one = 1.0,
           zero = 0.0;
    for (int64_t i = 0; ones_host && i < s->k; i++) ones_host[i] = 1.0;
    bool ok =
        ones_host &&
        cudaMalloc((void **)magnitude, (size_t)(s->batch * s->m * s->n) * 8) == cudaSuccess &&
        cudaMalloc((void **)row_sums, (size_t)(s->batch * s->m) * 8) == cudaSuccess &&
        mx_op_mx_ok(mx_bench_widen_abs(x, dtype, x_count, x64, 0), why, sizeof why, "widen |X|") &&
        mx_op_mx_ok(mx_bench_widen_abs(w_exact, MX_F32, w_count, w64, 0), why, sizeof why,
                    "widen |W|") &&
        product_f64(s, x64, w64, *magnitude, why, sizeof why) &&
        mx_op_upload_f64(&ones, ones_host, s->k, why, sizeof why) &&
        mx_op_cublas_ok(cublasDgemv(s->cublas, CUBLAS_OP_T, (int)s->k, (int)(s->batch * s->m), &one,
                                    x64, (int)s->k, ones, 1, &zero, *row_sums, 1),
                        why, sizeof why, "cublasDgemv") &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, sizeof why, "FP64 magnitudes");
    free(ones_host);
    cudaFree(ones);
    if (ok) return;
    cudaGetLastError(); /* a failed cudaMalloc must not poison what follows */
    cudaFree(*magnitude);
    cudaFree(*row_sums);
    *magnitude = *row_sums = NULL;
}

bool mx_op_exact_product(cublasHandle_t cublas, const void *x, mx_dtype dtype, const float *w_exact,
                         int64_t m, int64_t n, int64_t k, int64_t batch, double **exact,
                         double **magnitude, double **row_sums, char *why, size_t why_size) {
    const product_shape s = {cublas, m, n, k, batch};
    double *x64 = NULL, *w64 = NULL;
    int64_t x_count = batch * m * k, w_count = batch * n * k;
    *magnitude = *row_sums = NULL;
    bool ok =
        mx_op_allocate((void **)exact, batch * m * n * 8.0, why, why_size, "FP64 reference") &&
        mx_op_allocate((void **)&x64, x_count * 8.0, why, why_size, "FP64 reference") &&
        mx_op_allocate((void **)&w64, w_count * 8.0, why, why_size, "FP64 reference") &&
        mx_op_mx_ok(mx_bench_widen(x, dtype, x_count, x64, 0), why, why_size, "widen X") &&
        mx_op_mx_ok(mx_bench_widen(w_exact, MX_F32, w_count, w64, 0), why, why_size, "widen W") &&
        product_f64(&s, x64, w64, *exact, why, why_size) &&
        mx_op_cuda_ok(cudaDeviceSynchronize(), why, why_size, "FP64 reference");
    if (ok) magnitudes(&s, x, dtype, w_exact, x64, w64, magnitude, row_sums);
    cudaFree(x64);
    cudaFree(w64);
    if (!ok) { /* nothing half made */
        cudaFree(*exact);
        *exact = NULL;
    }
    return ok;
}

bool mx_op_dgemm(cublasHandle_t cublas, int64_t m, int64_t n, int64_t k, const double *x64,
                 const double *w64, double *y64, char *why, size_t why_size) {
    const product_shape s = {cublas, m, n, k, 1};
    return product_f64(&s, x64, w64, y64, why, why_size);
}

/* mx_ref_product's run on the GPU (context: an mx_op_gpu_product). */
static int gpu_product(void *context, int64_t m, int64_t n, int64_t k, const double *x,
                       const double *w, const double *bias, int magnitudes, double *y) {
    const mx_op_gpu_product *gpu = context;
    double *abs_x = NULL, *abs_w = NULL, *x64 = NULL, *w64 = NULL, *y64 = NULL;
    if (magnitudes) {
        abs_x = malloc((size_t)(m * k) * sizeof *abs_x);
        abs_w = malloc((size_t)(n * k) * sizeof *abs_w);
        for (int64_t i = 0; abs_x && i < m * k; i++) abs_x[i] = fabs(x[i]);
        for (int64_t i = 0; abs_w && i < n * k; i++) abs_w[i] = fabs(w[i]);
    }
    bool ok =
        (!magnitudes || (abs_x && abs_w) ||
         mx_op_failed(gpu->why, gpu->why_size, "FP64 reference", "out of host memory")) &&
        mx_op_upload_f64(&x64, magnitudes ? abs_x : x, m * k, gpu->why, gpu->why_size) &&
        mx_op_upload_f64(&w64, magnitudes ? abs_w : w, n * k, gpu->why, gpu->why_size) &&
        mx_op_allocate((void **)&y64, m * n * 8.0, gpu->why, gpu->why_size, "FP64 reference") &&
        mx_op_dgemm(gpu->cublas, m, n, k, x64, w64, y64, gpu->why, gpu->why_size) &&
        mx_op_cuda_ok(cudaMemcpy(y, y64, (size_t)(m * n) * 8, cudaMemcpyDeviceToHost), gpu->why,
                      gpu->why_size, "FP64 reference download");
    for (int64_t i = 0; ok && bias && i < m; i++)
        for (int64_t j = 0; j < n; j++) y[i * n + j] += magnitudes ? fabs(bias[j]) : bias[j];
    free(abs_x);
    free(abs_w);
    cudaFree(x64);
    cudaFree(w64);
    cudaFree(y64);
    return ok ? 0 : -1;
}

bool mx_op_gpu_product_open(mx_op_gpu_product *gpu, char *why, size_t why_size) {
    *gpu = (mx_op_gpu_product){NULL, why, why_size};
    if (cublasCreate(&gpu->cublas) == CUBLAS_STATUS_SUCCESS) return true;
    gpu->cublas = NULL;
    return mx_op_failed(why, why_size, "cublasCreate", "failed");
}

void mx_op_gpu_product_close(mx_op_gpu_product *gpu) {
    if (gpu->cublas) cublasDestroy(gpu->cublas);
    gpu->cublas = NULL;
}

mx_ref_product mx_op_gpu_product_hook(mx_op_gpu_product *gpu) {
    return (mx_ref_product){gpu_product, gpu};
}

bool mx_op_upload_f64(double **device, const double *host, int64_t count, char *why,
                      size_t why_size) {
    return mx_op_allocate((void **)device, count * 8.0, why, why_size, "FP64 reference") &&
           mx_op_cuda_ok(cudaMemcpy(*device, host, (size_t)count * 8, cudaMemcpyHostToDevice), why,
                         why_size, "FP64 reference upload");
}

bool mx_op_download_f64(double **host, const void *device, mx_dtype dtype, int64_t count, char *why,
                        size_t why_size) {
    double *wide = NULL;
    *host = malloc((size_t)count * sizeof **host);
    bool ok = (*host || mx_op_failed(why, why_size, "download", "out of host memory")) &&
              mx_op_allocate((void **)&wide, count * 8.0, why, why_size, "download") &&
              mx_op_mx_ok(mx_bench_widen(device, dtype, count, wide, 0), why, why_size, "widen") &&
              mx_op_cuda_ok(cudaMemcpy(*host, wide, (size_t)count * 8, cudaMemcpyDeviceToHost), why,
                            why_size, "download");
    cudaFree(wide);
    if (!ok) {
        free(*host);
        *host = NULL;
    }
    return ok;
}
