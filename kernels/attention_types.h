/* The shape of an attention block (attention.h) as plain C, without CUDA headers: the CPU
 * reference and host code use it through this header. */
#ifndef MX_ATTENTION_TYPES_H
#define MX_ATTENTION_TYPES_H

#include <stdint.h>

#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the Q/K/V projections run: one mx_gemm over W_qkv, or three over its row slices (as a model
 * with separate q/k/v weights runs), writing separate Q, K and V buffers. */
typedef enum {
    MX_ATTENTION_QKV_FUSED = 0,
    MX_ATTENTION_QKV_SEPARATE,
    MX_ATTENTION_QKV_MODE_COUNT
} mx_attention_qkv_mode;

/* Largest head dimension supported (head_dim: a multiple of 8 in [8, MX_ATTENTION_MAX_HEAD_DIM]).
 */
#define MX_ATTENTION_MAX_HEAD_DIM 256

typedef struct {
    int64_t sequences, seq_len; /* tokens = sequences * seq_len, one sequence after the other */
    int64_t hidden;             /* a multiple of 32 */
    int64_t q_heads, kv_heads;  /* q_heads % kv_heads == 0 (equal: MHA) */
    int64_t head_dim;           /* a multiple of 8, <= MX_ATTENTION_MAX_HEAD_DIM;
                                   q_heads * head_dim a multiple of 32 (W_o's K) */
    mx_dtype dtype;             /* MX_F16 or MX_BF16 for every activation, bias and output */
} mx_attention_shape;

#ifdef __cplusplus
}
#endif

#endif
