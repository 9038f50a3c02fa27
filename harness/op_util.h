/* What every op of the table (ops.h) needs to set up a problem: failures recorded as text for
 * the row's note, device allocations that say how much memory was missing, MXFP4 weights drawn
 * from a sweep distribution in all the forms the references need, and the three error figures
 * of docs/design.md §4 from the references an op keeps. */
#ifndef MX_OP_UTIL_H
#define MX_OP_UTIL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm_ref.h"
#include "mx.h"
#include "bench_gpu.h"
#include "ops.h"

/* Writes "what: detail" into why and returns false. */
bool mx_op_failed(char *why, size_t why_size, const char *what, const char *detail);
/* true on cudaSuccess; otherwise clears the error (a failed allocation must not poison the next
 * row), records it and returns false. */
bool mx_op_cuda_ok(cudaError_t error, char *why, size_t why_size, const char *what);
/* true on CUBLAS_STATUS_SUCCESS; otherwise records "what: cuBLAS's message". */
bool mx_op_cublas_ok(cublasStatus_t status, char *why, size_t why_size, const char *what);
/* true on MX_OK; otherwise records mx_last_error(). */
bool mx_op_mx_ok(mx_status status, char *why, size_t why_size, const char *what);
/* cudaMalloc of bytes; on failure *buffer = NULL and why says "out of memory allocating X GB
 * (Y GB free)". */
bool mx_op_allocate(void **buffer, double bytes, char *why, size_t why_size, const char *what);

/* Ends an op's setup(): on success hands problem out through *out, on failure tears it down. */
bool mx_op_setup_finish(bool ok, void *problem, void (*teardown)(void *), void **out);

/* Allocates an op variant's workspace of bytes (nothing when 0) and counts it on its row: less
 * shared_bytes, the workspace the op's FP16 path needs as well (on the fp16 row; 0 where it has
 * none), but never less than gemm_bytes, what the variant's GEMMs need of it (dequant_cublas's
 * FP16 copy shows even where the FP16 path's buffers would hold it). That in
 * memory->workspace_bytes; the cudaMemGetInfo delta around the allocation, less the same
 * discount, added to memory->measured_bytes. */
bool mx_op_workspace_allocate(void **workspace, size_t bytes, size_t shared_bytes,
                              size_t gemm_bytes, mx_bench_memory *memory, char *why,
                              size_t why_size);

/* The row's activation dtype (MX_F16 for "f16", MX_BF16 for "bf16"). */
mx_dtype mx_op_row_dtype(const mx_sweep_row *row);
/* The row's weight distribution; false with why set when the name is unknown. */
bool mx_op_row_dist(const mx_sweep_row *row, mx_dist *dist, char *why, size_t why_size);
/* A seed for one tensor of a row: the row's seed mixed with a tag per tensor. */
uint64_t mx_op_seed(const mx_sweep_row *row, uint64_t tag);

/* One weight tensor, batch matrices [rows / batch, cols] (cols a multiple of 32) one after the
 * other, in every form a problem needs. */
typedef struct {
    int64_t batch, rows, cols; /* rows over all batch entries */
    uint8_t *blocks, *scales;  /* MXFP4 in the OCP layout (kept only when not prepared) */
    mx_weights prepared;       /* MXFP4 prepared for the GEMM kernels (weights.h), or zero */
    void *prepared_data;       /* its buffer */
    double prepare_us;         /* what mx_weights_prepare took, once (CUDA events) */
    int64_t mxfp4_bytes;       /* bytes of the MXFP4 form kept: prepared, or blocks + scales */
    void *dequantized; /* the exactly dequantized weights rounded to the dtype (FP16 path) */
    void *original;    /* the unquantized weights in the dtype (quantization error) */
    float *exact;      /* the weights dequantized in FP32 by the CPU reference codec (exact; not the
                        * library's kernel), when asked for */
    int64_t mxfp4_measured_bytes; /* cudaMemGetInfo delta around the MXFP4 form kept */
} mx_op_weight;

/* Draws the weights from dist (seeded), quantizes them (floor scales) and dequantizes them.
 * prepare: reorders the MXFP4 weights for the GEMM kernels and frees the OCP ones (what an
 * engine does once at load time; timed); otherwise keeps the OCP layout (row lookups).
 * keep_exact keeps the FP32 dequantized copy in w->exact. On failure frees what it allocated. */
bool mx_op_weight_make(mx_op_weight *w, int64_t batch, int64_t rows, int64_t cols, mx_dtype dtype,
                       mx_dist dist, uint64_t seed, bool keep_exact, bool prepare, char *why,
                       size_t why_size);
void mx_op_weight_free(mx_op_weight *w);
/* Frees the FP32 copy (w->exact) once the exact reference it fed is computed. */
void mx_op_weight_drop_exact(mx_op_weight *w);
/* Bytes of the weight: FP16 (2 per element) and MXFP4 (blocks + scales). */
int64_t mx_op_weight_bytes_fp16(int64_t rows, int64_t cols);
int64_t mx_op_weight_bytes_mxfp4(int64_t rows, int64_t cols);

/* Activations [count] from the row's distribution (seeded) in the dtype, allocated here. */
bool mx_op_activations_make(void **x, int64_t count, mx_dtype dtype, mx_dist dist, uint64_t seed,
                            char *why, size_t why_size);

/* What the element-wise bound needs beside the exact result (elementwise.h), for an output
 * [count / cols, cols] that is a product over k terms per element, batch entries of
 * rows_per_batch rows one after the other: on the device, m = |X| |W|^T per element and s = the
 * sum of |x| over each output row's activations. */
typedef struct {
    const double *magnitude, *row_sums;
    int64_t k, cols, rows_per_batch;
} mx_op_magnitudes;

/* The output an op's check() measures and the references it is measured against. */
typedef struct {
    void *y; /* [count] of dtype */
    mx_dtype dtype;
    int64_t count;
    const void *y_fp16, *y_original;
    const double *y_exact;              /* NULL: no exact reference at this size */
    const mx_op_magnitudes *magnitudes; /* NULL: no element-wise check (composite ops) */
} mx_op_output;

/* The errors of output->y against the references an op keeps: y_fp16 (the FP16 path on the
 * dequantized weights, dtype), y_exact (FP64 on the device, or NULL when the op has no exact
 * reference for this size: rel_vs_exact is then NaN and nonfinite is counted against y_fp16),
 * y_original (the FP16 path on the unquantized weights, dtype), and with magnitudes the
 * element-wise bound against y_exact (on the GPU). */
bool mx_op_errors(const mx_op_output *output, mx_bench_errors *errors, cudaStream_t stream,
                  char *why, size_t why_size);

typedef bool (*mx_op_run_fn)(void *problem, const mx_op_prepared *prepared, cudaStream_t stream,
                             char *why, size_t why_size);

/* Tests only (NULL otherwise): called on the output between the checked run and its errors, so
 * that a suite can plant an error the gates must catch (gpu_harness). */
extern bool (*mx_op_check_tamper)(void *y, mx_dtype dtype, int64_t count, cudaStream_t stream);

/* The check of every op: poisons the output, runs the prepared variant once and measures the
 * errors of what it wrote (mx_op_errors). */
bool mx_op_check_output(const mx_op_output *output, mx_op_run_fn run, void *problem,
                        const mx_op_prepared *prepared, cudaStream_t stream,
                        mx_bench_errors *errors, char *why, size_t why_size);

/* The FP64 references of a product Y[m, n] = X[m, k] . W[n, k]^T per batch entry, on the device
 * through cublas (DGEMM on widened inputs: exact products, FP64 sums): *exact = X . W^T from X
 * (dtype) and the exactly dequantized w_exact (FP32), allocated here; then what the element-wise
 * bound needs (mx_op_magnitudes): *magnitude = |X| . |W|^T and *row_sums, the sum of |x| over
 * each of the batch * m rows. Those two are optional: without the memory (or on any failure)
 * they stay NULL and the bound is not applied. false with why set when exact cannot be had. */
bool mx_op_exact_product(cublasHandle_t cublas, const void *x, mx_dtype dtype, const float *w_exact,
                         int64_t m, int64_t n, int64_t k, int64_t batch, double **exact,
                         double **magnitude, double **row_sums, char *why, size_t why_size);

/* y64[m, n] = x64[m, k] . w64[n, k]^T on the device by cuBLAS DGEMM (exact products, FP64 sums). */
bool mx_op_dgemm(cublasHandle_t cublas, int64_t m, int64_t n, int64_t k, const double *x64,
                 const double *w64, double *y64, char *why, size_t why_size);

/* The composite references' products (gemm_ref.h) on this GPU, for rows the CPU would take
 * minutes over: the FP64 operands (their absolute values for magnitudes) uploaded, cuBLAS DGEMM
 * (exact products, FP64 sums), the result downloaded, the bias added on the host. A failure's
 * reason goes to why. */
typedef struct {
    cublasHandle_t cublas;
    char *why;
    size_t why_size;
} mx_op_gpu_product;
/* Opens gpu: its cuBLAS handle, failures' reasons to why. false with why set (gpu->cublas NULL). */
bool mx_op_gpu_product_open(mx_op_gpu_product *gpu, char *why, size_t why_size);
void mx_op_gpu_product_close(mx_op_gpu_product *gpu);
mx_ref_product mx_op_gpu_product_hook(mx_op_gpu_product *gpu);

/* Copies count doubles from the host to a new device buffer (a CPU FP64 reference to compare
 * against on the GPU). */
bool mx_op_upload_f64(double **device, const double *host, int64_t count, char *why,
                      size_t why_size);
/* Copies count elements of dtype (MX_F16, MX_BF16 or MX_F32) from the device into new host
 * doubles (malloc; the caller frees). */
bool mx_op_download_f64(double **host, const void *device, mx_dtype dtype, int64_t count, char *why,
                        size_t why_size);

#endif
