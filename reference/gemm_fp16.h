/* The FP16 reference GEMM of the harness: Y[m, n] = X[m, k] . W[n, k]^T per batch entry, FP16
 * (or BF16) in and out, FP32 compute, through cuBLASLt with the algorithm that is fastest for the
 * shape. A weak baseline flatters MXFP4, so the plan times every algorithm cuBLASLt's heuristic
 * offers (up to 8, cuBLAS's own default choice among them) on the caller's buffers and keeps the
 * fastest. */
#ifndef MX_REFERENCE_GEMM_FP16_H
#define MX_REFERENCE_GEMM_FP16_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "../kernels/format.h"
#include "../kernels/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_ref_gemm_fp16 mx_ref_gemm_fp16;

/* Plans the shape and chooses its algorithm by timing each candidate (median of 7 calls after 2
 * warm-ups) on x, w and y (dense, row-major, batch entries one after the other). Holds a 32 MiB
 * cuBLASLt workspace. */
mx_status mx_ref_gemm_fp16_create(int64_t m, int64_t n, int64_t k, int64_t batch, mx_dtype dtype,
                                  const void *x, const void *w, void *y, cudaStream_t stream,
                                  mx_ref_gemm_fp16 **plan);
mx_status mx_ref_gemm_fp16_run(const mx_ref_gemm_fp16 *plan, const void *x, const void *w, void *y,
                               cudaStream_t stream);
/* "algorithm 2 of 8 (heuristic rank): 31.9 us vs 33.0 us for cuBLAS's default" */
const char *mx_ref_gemm_fp16_choice(const mx_ref_gemm_fp16 *plan);
void mx_ref_gemm_fp16_destroy(mx_ref_gemm_fp16 *plan);

#ifdef __cplusplus
}
#endif

#endif
