/* The activations of the GEMM epilogues (activation.h has the formulas) as plain C, without CUDA
 * headers: the CPU references and host code name them through this header. */
#ifndef MX_ACTIVATION_TYPES_H
#define MX_ACTIVATION_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MX_ACT_NONE = 0,
    MX_ACT_GELU,
    MX_ACT_SWIGLU,
    MX_ACT_SWIGLU_GPTOSS,
    MX_ACT_COUNT
} mx_activation;

#define MX_SWIGLU_GPTOSS_LIMIT 7.0f
#define MX_SWIGLU_GPTOSS_ALPHA 1.702f

/* "none", "gelu", "swiglu", "swiglu_gptoss". */
const char *mx_activation_name(mx_activation activation);
/* Width of the output for an input of width n: n, or n / 2 for the gated units. */
int64_t mx_activation_out_width(mx_activation activation, int64_t n);

/* The gated units read interleaved (gate, linear) pairs and write half the width. */
#define MX_ACTIVATION_GATED(activation)                                                            \
    ((activation) == MX_ACT_SWIGLU || (activation) == MX_ACT_SWIGLU_GPTOSS)

#ifdef __cplusplus
}
#endif

#endif
