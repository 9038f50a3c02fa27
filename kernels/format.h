/* The MXFP4 format (OCP Microscaling Formats v1.0), described once for host and device code:
 * block geometry, the E2M1 value table, the E8M0 scale, and the per-element encode/decode rules
 * of docs/design.md §2. The CPU codec (reference/codec.c) and the GPU kernels
 * (kernels/quantize.cu and every fused kernel) use these helpers, so the rules live here only. */
#ifndef MX_FORMAT_H
#define MX_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "status.h"

#ifdef __CUDACC__
#define MX_HD __host__ __device__
#else
#define MX_HD
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MX_BLOCK_SIZE = 32,  /* elements along K sharing one scale */
    MX_BLOCK_BYTES = 16, /* packed E2M1 bytes per block: element 2j low nibble, 2j+1 high */
    MX_SCALE_BIAS = 127, /* E8M0 scale byte e means 2^(e - 127) */
    MX_SCALE_NAN = 0xFF, /* the scale byte that makes the whole block NaN */
    MX_SCALE_MIN_EXP = -127,
    MX_SCALE_MAX_EXP = 127,
};

/* Bytes of one MXFP4 weight in storage: 16 code bytes and 1 scale byte per block of 32. */
#define MX_BYTES_PER_WEIGHT ((MX_BLOCK_BYTES + 1.0) / MX_BLOCK_SIZE)

/* How the shared exponent is chosen (docs/design.md §2, step 3). */
typedef enum {
    MX_SCALE_FLOOR = 0, /* OCP spec: floor(log2(amax)) - 2 */
    MX_SCALE_RCEIL = 1, /* cuBLAS / triton_kernels: round amax/6 up to a power of two */
} mx_scale_mode;

/* Element types of dense (unquantized) data. */
typedef enum { MX_F32 = 0, MX_F16 = 1, MX_BF16 = 2 } mx_dtype;
/* Their names, in the enum's order: the CLI's, the sweeps' and the CSVs' spelling. Activations
 * and outputs are the last two. */
#define MX_ACTIVATION_DTYPE_NAMES "f16", "bf16"
#define MX_DTYPE_NAMES            "f32", MX_ACTIVATION_DTYPE_NAMES

/* The dtype named `name` (MX_DTYPE_NAMES), or -1. */
static inline int mx_dtype_from_name(const char *name) {
    static const char *const names[] = {MX_DTYPE_NAMES};
    for (int d = 0; d < (int)(sizeof names / sizeof names[0]); d++)
        if (strcmp(name, names[d]) == 0) return d;
    return -1;
}

/* The activation (and output) dtype of a row named `name`: MX_BF16 for "bf16", else MX_F16. */
static inline mx_dtype mx_activation_dtype(const char *name) {
    return mx_dtype_from_name(name) == MX_BF16 ? MX_BF16 : MX_F16;
}

/* The E2M1 magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 (codes 0..7), stored doubled, one per nibble:
 * code c has magnitude ((MX_E2M1_TWICE >> 4c) & 0xF) / 2. One constant serves host and device
 * without a memory table. Code | 8 is the negative. */
#define MX_E2M1_TWICE 0xC8643210u

/* Bytes one element of a dense dtype takes. */
MX_HD static inline int mx_dtype_bytes(mx_dtype dtype) {
    return dtype == MX_F32 ? 4 : 2;
}

MX_HD static inline uint32_t mx_f32_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

MX_HD static inline float mx_bits_f32(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Exact FP16 -> FP32 (every FP16 value, subnormals, Inf and NaN included, is an FP32 value). */
MX_HD static inline float mx_f16_to_f32(uint16_t half_bits) {
    uint32_t sign = (uint32_t)(half_bits & 0x8000u) << 16;
    uint32_t exponent = (half_bits >> 10) & 0x1Fu;
    uint32_t mantissa = half_bits & 0x3FFu;
    if (exponent == 0x1F) return mx_bits_f32(sign | 0x7F800000u | (mantissa << 13));
    if (exponent == 0) {
        /* Subnormal: mantissa * 2^-24, exact in FP32. */
        float magnitude = (float)mantissa * mx_bits_f32(0x33800000u);
        return mx_bits_f32(sign | mx_f32_bits(magnitude));
    }
    return mx_bits_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/* Exact BF16 -> FP32. */
MX_HD static inline float mx_bf16_to_f32(uint16_t bf16_bits) {
    return mx_bits_f32((uint32_t)bf16_bits << 16);
}

/* Element i of a dense array of the given dtype, converted exactly to FP32. */
MX_HD static inline float mx_load_as_f32(const void *data, mx_dtype dtype, int64_t i) {
    if (dtype == MX_F16) return mx_f16_to_f32(((const uint16_t *)data)[i]);
    if (dtype == MX_BF16) return mx_bf16_to_f32(((const uint16_t *)data)[i]);
    return ((const float *)data)[i];
}

MX_HD static inline int mx_highest_bit(uint32_t nonzero) {
#ifdef __CUDA_ARCH__
    return 31 - __clz(nonzero);
#else
    return 31 - __builtin_clz(nonzero);
#endif
}

/* Shared exponent s of a block whose largest magnitude amax is finite and non-zero, clamped to
 * [-127, 127]; the scale byte is s + 127.
 * floor: floor(log2(amax)) - 2, read from the exponent bits (subnormal amax from its top bit).
 * rceil: the FP32 quotient amax/6 rounded up to a power of two by its bits,
 *        (b + 0x7FFFFF) & 0x7F800000. A quotient that is subnormal therefore gives 2^-126 (the
 *        bits' exponent field becomes 1), and a quotient of 0 gives field 0 (s = -127). */
MX_HD static inline int mx_shared_exponent(float amax, mx_scale_mode mode) {
    int exponent;
    if (mode == MX_SCALE_RCEIL) {
        uint32_t quotient = mx_f32_bits(amax / 6.0f);
        exponent = (int)(((quotient + 0x7FFFFFu) & 0x7F800000u) >> 23) - 127;
    } else {
        uint32_t bits = mx_f32_bits(amax) & 0x7FFFFFFFu;
        int field = (int)(bits >> 23);
        int floor_log2 = field != 0 ? field - 127 : mx_highest_bit(bits) - 149;
        exponent = floor_log2 - 2;
    }
    if (exponent < MX_SCALE_MIN_EXP) exponent = MX_SCALE_MIN_EXP;
    if (exponent > MX_SCALE_MAX_EXP) exponent = MX_SCALE_MAX_EXP;
    return exponent;
}

/* 2^exponent as FP32 for exponent in [-127, 127] (2^-127 is the subnormal 0x00400000). */
MX_HD static inline float mx_pow2(int exponent) {
    return exponent > -127 ? mx_bits_f32((uint32_t)(exponent + 127) << 23)
                           : mx_bits_f32(0x00400000u);
}

/* E2M1 code of value / 2^exponent: round to nearest, ties to the even code, saturate at 6, keep
 * the sign bit (a value that rounds to zero keeps it too). value must be finite. The product is
 * exact whenever it is >= 2^-126, and anything smaller rounds to code 0 either way. */
MX_HD static inline uint8_t mx_e2m1_encode(float value, int exponent) {
    float q = (value < 0.0f ? -value : value) * mx_pow2(-exponent);
    /* Each comparison adds one when q is past a midpoint; > vs >= picks the even neighbour:
     * 0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4. */
    uint8_t code = (uint8_t)((q > 0.25f) + (q >= 0.75f) + (q > 1.25f) + (q >= 1.75f) + (q > 2.5f) +
                             (q >= 3.5f) + (q > 5.0f));
    return (uint8_t)(code | ((mx_f32_bits(value) >> 28) & 0x8u));
}

/* Magnitude of an E2M1 code with its sign, as FP32. */
MX_HD static inline float mx_e2m1_value(unsigned code) {
    float magnitude = (float)((MX_E2M1_TWICE >> (4u * (code & 7u))) & 0xFu) * 0.5f;
    return (code & 8u) ? -magnitude : magnitude;
}

/* The scale 2^(byte - 127) as FP32; byte 0xFF is NaN. */
MX_HD static inline float mx_scale_value(uint8_t scale_byte) {
    return scale_byte == MX_SCALE_NAN ? mx_bits_f32(0x7FC00000u)
                                      : mx_pow2((int)scale_byte - MX_SCALE_BIAS);
}

/* One element decoded: E2M1[code] * 2^(scale - 127) in FP32 with IEEE rounding (Inf when it
 * overflows; exact otherwise), NaN for scale byte 0xFF. */
MX_HD static inline float mx_decode(unsigned code, uint8_t scale_byte) {
    return mx_e2m1_value(code) * mx_scale_value(scale_byte);
}

/* Checks a [rows, cols] MXFP4 shape (host only): both positive, cols a multiple of 32,
 * rows * cols * 4 bytes representable. MX_OK, or a status with mx_last_error() naming the value. */
mx_status mx_check_shape(int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif

#endif
