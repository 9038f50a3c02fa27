/* The attention core in FP64 on the GPU: the exact reference (and its element-wise bound) of the
 * rows whose core is too large for the CPU's (reference/attention_ref.h), computed by the same
 * formulas with the same arguments, on device pointers. gpu_attention checks it against the CPU's
 * on shapes both can run. */
#ifndef MX_ATTENTION_F64_H
#define MX_ATTENTION_F64_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "attention_types.h"
#include "ffn_ref.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* With dq, dk and dv NULL: mx_ref_attention_core_f64 (out = the context; rounding is not read).
 * With all three: mx_ref_attention_core_bound_f64 (out = dctx). Every pointer but rounding is
 * device memory. Runs on stream and waits for it (it allocates and frees its scratch, the rows'
 * probabilities). MX_ERR_INVALID_ARGUMENT when only some of dq, dk, dv are given (or the bound
 * has no rounding), a size is not positive, q_heads is not a multiple of kv_heads, head_dim is
 * above MX_ATTENTION_MAX_HEAD_DIM or a stride does not cover its heads; hidden and the dtype are
 * not read. */
mx_status mx_bench_attention_core_f64(const mx_attention_shape *shape, const double *q,
                                      const double *dq, int64_t q_stride, const double *k,
                                      const double *dk, int64_t k_stride, const double *v,
                                      const double *dv, int64_t v_stride,
                                      const mx_ref_ffn_rounding *rounding, double *out,
                                      cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
