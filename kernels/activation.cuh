/* Device side of the epilogues of activation.h, shared by the separate activation kernel and the
 * fused GEMM epilogue so that both compute the same FP32 function. */
#ifndef MX_ACTIVATION_CUH
#define MX_ACTIVATION_CUH

#include "activation.h"

__device__ __forceinline__ float mx_gelu(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

__device__ __forceinline__ float mx_sigmoid(float x) {
    return 1.0f / (1.0f + __expf(-x));
}

/* A gated unit of one (gate, linear) pair. */
__device__ __forceinline__ float mx_glu(mx_activation activation, float gate, float linear) {
    if (activation == MX_ACT_SWIGLU_GPTOSS) {
        gate = fminf(gate, MX_SWIGLU_GPTOSS_LIMIT);
        linear = fminf(fmaxf(linear, -MX_SWIGLU_GPTOSS_LIMIT), MX_SWIGLU_GPTOSS_LIMIT);
        return gate * mx_sigmoid(MX_SWIGLU_GPTOSS_ALPHA * gate) * (linear + 1.0f);
    }
    return gate * mx_sigmoid(gate) * linear;
}

/* An ungated activation of one value. */
__device__ __forceinline__ float mx_act(mx_activation activation, float x) {
    return activation == MX_ACT_GELU ? mx_gelu(x) : x;
}

__host__ __device__ __forceinline__ bool mx_act_gated(mx_activation activation) {
    return MX_ACTIVATION_GATED(activation);
}

#endif
