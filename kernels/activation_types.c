/* Names and widths of the activations (activation_types.h): host code without CUDA. */
#include "activation_types.h"

static const char *const activation_names[MX_ACT_COUNT] = {"none", "gelu", "swiglu",
                                                           "swiglu_gptoss"};

const char *mx_activation_name(mx_activation activation) {
    return (unsigned)activation < MX_ACT_COUNT ? activation_names[activation] : "unknown";
}

int64_t mx_activation_out_width(mx_activation activation, int64_t n) {
    return MX_ACTIVATION_GATED(activation) ? n / 2 : n;
}
