/* CPU codec suite: the reference codec against an independent derivation of docs/design.md §2
 * written here in double arithmetic (nearest-value search, frexp for exponents), on every FP16 and
 * BF16 bit pattern, every midpoint, every power of two, the special blocks, the gpt-oss nibble
 * order, and the round trip of every valid encoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"
#include "weights.cuh"
#include "codec.h"
#include "common.h"

static const double e2m1_magnitudes[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};

/* The shared exponent by its definition: floor(log2 amax) - 2, or the smallest power of two (at
 * least the smallest normal one, 2^-126, by the bit rule docs/design.md pins) >= fp32(amax / 6). */
static int independent_exponent(double amax, mx_scale_mode mode) {
    int exponent, binary_exponent;
    if (mode == MX_SCALE_FLOOR) {
        frexp(amax, &binary_exponent); /* amax = m 2^e, m in [0.5, 1): floor(log2) = e - 1 */
        exponent = binary_exponent - 1 - 2;
    } else {
        float quotient = (float)amax / 6.0f;
        if (quotient == 0.0f) {
            exponent = -127;
        } else {
            double mantissa = frexp(quotient, &binary_exponent);
            exponent = mantissa == 0.5 ? binary_exponent - 1 : binary_exponent;
            if (exponent < -126) exponent = -126;
        }
    }
    return exponent < -127 ? -127 : exponent > 127 ? 127 : exponent;
}

/* Nearest E2M1 magnitude to |value| / 2^exponent, the even code on a tie, sign bit kept. */
static uint8_t independent_code(double value, int exponent) {
    double q = ldexp(fabs(value), -exponent);
    if (q > 6.0) return (uint8_t)(7 | (signbit(value) ? 8 : 0)); /* saturation */
    int best = 0;
    for (int code = 1; code < 8; code++) {
        double distance = fabs(q - e2m1_magnitudes[code]);
        double best_distance = fabs(q - e2m1_magnitudes[best]);
        if (distance < best_distance || (distance == best_distance && code % 2 == 0)) best = code;
    }
    return (uint8_t)(best | (signbit(value) ? 8 : 0));
}

static void independent_quantize_block(const double values[32], mx_scale_mode mode,
                                       uint8_t codes[32], uint8_t *scale_byte) {
    double amax = 0.0;
    for (int i = 0; i < 32; i++) {
        if (!isfinite(values[i])) {
            memset(codes, 0, 32);
            *scale_byte = 0xFF;
            return;
        }
        amax = fmax(amax, fabs(values[i]));
    }
    int exponent = amax == 0.0 ? -127 : independent_exponent(amax, mode);
    for (int i = 0; i < 32; i++) codes[i] = independent_code(values[i], exponent);
    *scale_byte = (uint8_t)(exponent + 127);
}

static double independent_load(const void *src, mx_dtype dtype, int64_t i) {
    if (dtype == MX_F16) return mx_test_f16_to_double(((const uint16_t *)src)[i]);
    if (dtype == MX_BF16) return mx_test_bf16_to_double(((const uint16_t *)src)[i]);
    return ((const float *)src)[i];
}

/* Quantizes src with the reference codec and checks every block against the derivation above. */
static void check_against_independent(const void *src, mx_dtype dtype, int64_t block_count,
                                      mx_scale_mode mode) {
    uint8_t *blocks = malloc((size_t)block_count * 16), *scales = malloc((size_t)block_count);
    cr_assert(blocks && scales);
    MX_CR_OK(mx_ref_quantize(src, dtype, block_count, 32, mode, blocks, scales));
    for (int64_t b = 0; b < block_count; b++) {
        double values[32];
        uint8_t codes[32], scale_byte;
        for (int i = 0; i < 32; i++) values[i] = independent_load(src, dtype, b * 32 + i);
        independent_quantize_block(values, mode, codes, &scale_byte);
        cr_assert_eq(scales[b], scale_byte,
                     "block %lld (dtype %d, mode %d, amax-bearing block): scale %u, expected %u",
                     (long long)b, dtype, mode, scales[b], scale_byte);
        for (int i = 0; i < 32; i++) {
            unsigned got = (blocks[b * 16 + i / 2] >> (4 * (i % 2))) & 0xF;
            cr_assert_eq(got, codes[i],
                         "block %lld element %d = %a (dtype %d, mode %d, scale byte %u): code %u, "
                         "expected %u",
                         (long long)b, i, values[i], dtype, mode, scale_byte, got, codes[i]);
        }
    }
    free(blocks);
    free(scales);
}

static void shuffle_u16(uint16_t *values, int count, mx_rng *rng) {
    for (int i = count - 1; i > 0; i--) {
        int j = (int)(mx_rng_next(rng) % (uint64_t)(i + 1));
        uint16_t t = values[i];
        values[i] = values[j];
        values[j] = t;
    }
}

static const mx_scale_mode both_modes[2] = {MX_SCALE_FLOOR, MX_SCALE_RCEIL};

Test(cpu_codec, every_f16_value_rounds_to_nearest_even_at_every_test_scale) {
    const int exponents[] = {-127, -126, -25, -24, -15, -14, -3,  -1,
                             0,    1,    2,   13,  14,  100, 125, 127};
    for (int bits = 0; bits < 65536; bits++) {
        double value = mx_test_f16_to_double((uint16_t)bits);
        if (!isfinite(value)) continue;
        for (size_t e = 0; e < sizeof exponents / sizeof exponents[0]; e++) {
            uint8_t expected = independent_code(value, exponents[e]);
            uint8_t got = mx_e2m1_encode((float)value, exponents[e]);
            cr_assert_eq(got, expected, "fp16 0x%04x = %a at 2^%d: code %u, expected %u", bits,
                         value, exponents[e], got, expected);
        }
    }
}

/* All 65536 patterns of a 16-bit dtype as 2048 blocks: in order (neighbours share magnitudes)
 * and in fresh random orders (mixed magnitudes, NaN/Inf spread over many blocks). */
static void check_every_16bit_pattern(mx_dtype dtype) {
    uint16_t *patterns = malloc(65536 * sizeof *patterns);
    cr_assert(patterns);
    mx_rng rng = mx_rng_fresh();
    for (int order = 0; order < 4; order++) {
        for (int i = 0; i < 65536; i++) patterns[i] = (uint16_t)i;
        if (order > 0) shuffle_u16(patterns, 65536, &rng);
        for (int m = 0; m < 2; m++) check_against_independent(patterns, dtype, 2048, both_modes[m]);
    }
    free(patterns);
}

Test(cpu_codec, every_f16_bit_pattern_in_blocks_both_modes) {
    check_every_16bit_pattern(MX_F16);
}

Test(cpu_codec, every_bf16_bit_pattern_in_blocks_both_modes) {
    check_every_16bit_pattern(MX_BF16);
}

Test(cpu_codec, random_f32_bits_and_magnitudes_both_modes) {
    enum { BLOCKS = 65536 };
    float *values = malloc(BLOCKS * 32 * sizeof *values);
    cr_assert(values);
    mx_rng rng = mx_rng_fresh();
    for (int b = 0; b < BLOCKS; b++) {
        int kind = b % 3, exponent = (int)(mx_rng_next(&rng) % 280) - 150;
        for (int i = 0; i < 32; i++) {
            float *v = &values[b * 32 + i];
            if (kind == 0) { /* any bit pattern: NaN, Inf, subnormals, both zeros */
                uint32_t bits = (uint32_t)mx_rng_next(&rng);
                memcpy(v, &bits, sizeof bits);
            } else { /* gaussian or uniform at one magnitude per block */
                double base = kind == 1 ? mx_rng_gaussian(&rng) : 2.0 * mx_rng_uniform(&rng) - 1.0;
                *v = (float)ldexp(base, exponent);
            }
        }
    }
    for (int m = 0; m < 2; m++) check_against_independent(values, MX_F32, BLOCKS, both_modes[m]);
    free(values);
}

/* The spec's tie cases and their neighbours, at several exponents and both signs. */
Test(cpu_codec, midpoints_ties_to_even_and_saturation) {
    const struct {
        float q, at, below, above; /* value of q, and of q rounded down one FP32 ulp / up */
    } cases[] = {
        {0.25f, 0.0f, 0.0f, 0.5f}, {0.75f, 1.0f, 0.5f, 1.0f}, {1.25f, 1.0f, 1.0f, 1.5f},
        {1.75f, 2.0f, 1.5f, 2.0f}, {2.5f, 2.0f, 2.0f, 3.0f},  {3.5f, 4.0f, 3.0f, 4.0f},
        {5.0f, 4.0f, 4.0f, 6.0f},  {6.0f, 6.0f, 6.0f, 6.0f},  {7.0f, 6.0f, 6.0f, 6.0f},
        {7.99f, 6.0f, 6.0f, 6.0f}, {1e30f, 6.0f, 6.0f, 6.0f},
    };
    const int exponents[] = {-127, -100, -2, 0, 3, 90, 127};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t e = 0; e < sizeof exponents / sizeof exponents[0]; e++) {
            int exponent = exponents[e];
            float scale = (float)ldexp(1.0, exponent);
            float at = cases[c].q * scale;
            if (!isfinite(at) || at == 0.0f || ilogb(at) < -126 + 3) continue; /* q not exact */
            float probes[3] = {nextafterf(at, 0.0f), at, nextafterf(at, INFINITY)};
            float expected[3] = {cases[c].below, cases[c].at, cases[c].above};
            for (int p = 0; p < 3; p++) {
                for (int sign = 0; sign < 2; sign++) {
                    float value = sign ? -probes[p] : probes[p];
                    unsigned code = mx_e2m1_encode(value, exponent);
                    float magnitude = fabsf(mx_e2m1_value(code));
                    cr_assert_eq(magnitude, expected[p], "q = %a (%s) at 2^%d -> %g, expected %g",
                                 (double)probes[p] / scale,
                                 p == 0   ? "just below"
                                 : p == 1 ? "exact"
                                          : "just above",
                                 exponent, magnitude, expected[p]);
                    cr_assert_eq(code >> 3, (unsigned)sign, "sign of %a lost", (double)value);
                }
            }
        }
    }
}

Test(cpu_codec, scale_at_and_around_every_power_of_two_both_modes) {
    for (int e = -149; e <= 127; e++) {
        float power = (float)ldexp(1.0, e);
        float probes[3] = {nextafterf(power, 0.0f), power, nextafterf(power, INFINITY)};
        for (int p = 0; p < 3; p++) {
            if (probes[p] == 0.0f || !isfinite(probes[p])) continue;
            for (int m = 0; m < 2; m++) {
                int expected = independent_exponent(probes[p], both_modes[m]);
                int got = mx_shared_exponent(probes[p], both_modes[m]);
                cr_assert_eq(got, expected, "amax %a, mode %s: exponent %d, expected %d",
                             (double)probes[p], m ? "rceil" : "floor", got, expected);
                /* The same amax carried by a whole block, at every position. */
                float block[32] = {0};
                block[(e + 149 + p) % 32] = -probes[p];
                uint8_t packed[16], scale_byte;
                mx_ref_quantize_block(block, both_modes[m], packed, &scale_byte);
                cr_assert_eq(scale_byte, expected + 127, "block with amax %a, mode %s: scale %u",
                             (double)probes[p], m ? "rceil" : "floor", scale_byte);
            }
        }
    }
}

Test(cpu_codec, nan_inf_zero_and_subnormal_blocks) {
    const float specials[3] = {NAN, INFINITY, -INFINITY};
    for (int s = 0; s < 3; s++) {
        for (int position = 0; position < 32; position++) {
            float block[32];
            for (int i = 0; i < 32; i++) block[i] = (float)(i - 16) * 0.37f;
            block[position] = specials[s];
            uint8_t packed[16], scale_byte;
            for (int m = 0; m < 2; m++) {
                mx_ref_quantize_block(block, both_modes[m], packed, &scale_byte);
                cr_assert_eq(scale_byte, 0xFF, "%f at %d: scale %u, expected 0xFF", specials[s],
                             position, scale_byte);
                for (int j = 0; j < 16; j++) cr_assert_eq(packed[j], 0, "codes must be 0");
            }
            float decoded[32];
            uint8_t nan_scale = 0xFF;
            MX_CR_OK(mx_ref_dequantize(packed, &nan_scale, 1, 32, decoded));
            for (int i = 0; i < 32; i++) cr_assert(isnan(decoded[i]), "NaN block decodes NaN");
        }
    }
    /* Zero blocks: scale 0, each signed zero encodes as itself. */
    float zeros[32];
    for (int i = 0; i < 32; i++) zeros[i] = (i % 3 == 0) ? -0.0f : 0.0f;
    for (int m = 0; m < 2; m++) {
        uint8_t packed[16], scale_byte;
        mx_ref_quantize_block(zeros, both_modes[m], packed, &scale_byte);
        cr_assert_eq(scale_byte, 0);
        for (int i = 0; i < 32; i++) {
            unsigned code = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
            cr_assert_eq(code, (i % 3 == 0) ? 8u : 0u, "zero %d: code %u", i, code);
        }
        float decoded[32];
        MX_CR_OK(mx_ref_dequantize(packed, &scale_byte, 1, 32, decoded));
        for (int i = 0; i < 32; i++)
            cr_assert(decoded[i] == 0.0f && signbit(decoded[i]) == signbit(zeros[i]));
    }
    /* Subnormal amax: exponent clamps at -127, elements round at 2^-127. */
    float subnormal[32];
    for (int i = 0; i < 32; i++)
        subnormal[i] = (float)ldexp((i % 2 ? -1 : 1) * (i + 1), -149 + i % 24);
    for (int m = 0; m < 2; m++) {
        uint8_t packed[16], scale_byte, codes[32], expected_scale;
        double values[32];
        for (int i = 0; i < 32; i++) values[i] = subnormal[i];
        mx_ref_quantize_block(subnormal, both_modes[m], packed, &scale_byte);
        independent_quantize_block(values, both_modes[m], codes, &expected_scale);
        cr_assert_eq(scale_byte, expected_scale, "subnormal block, mode %d: scale %u vs %u", m,
                     scale_byte, expected_scale);
        for (int i = 0; i < 32; i++)
            cr_assert_eq((packed[i / 2] >> (4 * (i % 2))) & 0xF, codes[i], "subnormal element %d",
                         i);
    }
}

/* gpt-oss decodes byte j as lut[b & 0xF] -> element 2j and lut[b >> 4] -> element 2j+1, then
 * ldexp by (scale - 127). Written out here on its own and compared on random bytes. */
Test(cpu_codec, nibble_order_matches_the_gpt_oss_decode) {
    const double lut[16] = {+0.0, +0.5, +1.0, +1.5, +2.0, +3.0, +4.0, +6.0,
                            -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0};
    enum { ROWS = 64, COLS = 4096 };
    uint8_t *blocks = malloc(ROWS * COLS / 2), *scales = malloc(ROWS * COLS / 32);
    float *decoded = malloc(ROWS * COLS * sizeof(float));
    cr_assert(blocks && scales && decoded);
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < ROWS * COLS / 2; i++) blocks[i] = (uint8_t)mx_rng_next(&rng);
    for (int i = 0; i < ROWS * COLS / 32; i++) scales[i] = (uint8_t)(i % 256); /* every byte */
    MX_CR_OK(mx_ref_dequantize(blocks, scales, ROWS, COLS, decoded));
    for (int row = 0; row < ROWS; row++) {
        for (int j = 0; j < COLS / 2; j++) {
            uint8_t byte = blocks[row * COLS / 2 + j], scale = scales[(row * COLS + 2 * j) / 32];
            double pair[2] = {lut[byte & 0x0F], lut[byte >> 4]};
            for (int h = 0; h < 2; h++) {
                float expected = scale == 0xFF ? NAN : (float)ldexp(pair[h], scale - 127);
                float got = decoded[row * COLS + 2 * j + h];
                cr_assert(isnan(expected) ? isnan(got) : memcmp(&got, &expected, 4) == 0,
                          "row %d element %d (byte 0x%02x, scale %u): %a, gpt-oss gives %a", row,
                          2 * j + h, byte, scale, (double)got, (double)expected);
            }
        }
    }
    free(blocks);
    free(scales);
    free(decoded);
}

/* quantize(dequantize(x)) == x for every valid encoding: every scale byte, an anchor code 6 or
 * 7 (magnitude 4 or 6, which pins the scale), and every code at every other position, the rest
 * random. Byte 0 in floor mode is the clamp: any codes at all round trip there. rceil never
 * produces byte 0 for a non-zero block (its bit rule stops at 2^-126), so it starts at 1. */
Test(cpu_codec, round_trip_of_every_valid_encoding) {
    mx_rng rng = mx_rng_fresh();
    long checked = 0;
    for (int m = 0; m < 2; m++) {
        for (int scale = m == 0 ? 0 : 1; scale <= 254; scale++) {
            for (int anchor = -1; anchor < 4; anchor++) {
                if (anchor < 0 && scale != 0) continue; /* no anchor: only at the clamp */
                for (int position = 0; position < 32; position++) {
                    for (int code = 0; code < 16; code++) {
                        uint8_t codes[32], packed[16];
                        for (int i = 0; i < 32; i++) codes[i] = (uint8_t)(mx_rng_next(&rng) & 0xF);
                        if (anchor >= 0)
                            codes[(position + 1) % 32] =
                                (uint8_t)(6 + (anchor & 1) + 8 * (anchor >> 1));
                        codes[position] = (uint8_t)code;
                        for (int j = 0; j < 16; j++)
                            packed[j] = (uint8_t)(codes[2 * j] | codes[2 * j + 1] << 4);
                        uint8_t scale_byte = (uint8_t)scale;
                        float decoded[32];
                        MX_CR_OK(mx_ref_dequantize(packed, &scale_byte, 1, 32, decoded));
                        int finite = 1;
                        for (int i = 0; i < 32; i++) finite &= isfinite(decoded[i]) != 0;
                        if (!finite) continue; /* 4 or 6 x 2^126 and up overflow FP32 */
                        uint8_t again[16], again_scale;
                        mx_ref_quantize_block(decoded, both_modes[m], again, &again_scale);
                        cr_assert_eq(again_scale, scale_byte,
                                     "mode %d scale %d anchor %d: scale became %u", m, scale,
                                     anchor, again_scale);
                        cr_assert(memcmp(again, packed, 16) == 0,
                                  "mode %d scale %d: codes changed (position %d code %d)", m, scale,
                                  position, code);
                        checked++;
                    }
                }
            }
        }
    }
    cr_assert_gt(checked, 250000, "only %ld encodings checked", checked);
}

Test(cpu_codec, shape_errors_name_the_value) {
    float values[64] = {0};
    uint8_t blocks[32], scales[2];
    cr_assert_eq(mx_ref_quantize(values, MX_F32, 2, 33, MX_SCALE_FLOOR, blocks, scales),
                 MX_ERR_UNSUPPORTED_SHAPE);
    cr_assert(strstr(mx_last_error(), "33") != NULL, "message: %s", mx_last_error());
    cr_assert_eq(mx_ref_quantize(values, MX_F32, 0, 32, MX_SCALE_FLOOR, blocks, scales),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_ref_quantize(values, MX_F32, -3, 32, MX_SCALE_FLOOR, blocks, scales),
                 MX_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(mx_last_error(), "-3") != NULL, "message: %s", mx_last_error());
    cr_assert_eq(
        mx_ref_quantize(values, MX_F32, INT64_MAX / 64, 64, MX_SCALE_FLOOR, blocks, scales),
        MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_ref_dequantize(blocks, scales, 1, 0, values), MX_ERR_INVALID_ARGUMENT);
    cr_assert_eq(mx_ref_quantize(NULL, MX_F32, 1, 32, MX_SCALE_FLOOR, blocks, scales),
                 MX_ERR_INVALID_ARGUMENT);
}

/* The prepared layout (kernels/weights.h) is a permutation: every code word and scale byte of a
 * batch entry, padded rows included, has its own place, and together they fill the entry; a word
 * goes there and back unchanged. Shapes: n off the 16-row tile, one block, an odd last block, a
 * short last chunk, full chunks. */
Test(cpu_codec, prepared_layout_places_every_byte_once) {
    const int64_t shapes[][2] = {{16, 256}, {17, 32}, {40, 96}, {8, 2880}, {48, 14336}};
    mx_rng rng = mx_rng_fresh();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t n = shapes[s][0], k = shapes[s][1], k_blocks = k / MX_BLOCK_SIZE;
        const int64_t rows = (n + MX_TILE_ROWS - 1) / MX_TILE_ROWS * MX_TILE_ROWS;
        const size_t bytes = mx_weights_bytes(n, k, 1);
        cr_assert_eq(bytes, (size_t)(rows / MX_TILE_ROWS * k_blocks * MX_TILE_BLOCK_BYTES));
        uint8_t *owner = calloc(bytes, 1);
        cr_assert(owner);
        for (int64_t row = 0; row < rows; row++)
            for (int64_t block = 0; block < k_blocks; block++) {
                for (int t = 0; t < 4; t++) {
                    const int64_t offset = mx_prepared_word_offset(k, row, block, t);
                    cr_assert(offset >= 0 && offset % 4 == 0 && offset + 4 <= (int64_t)bytes,
                              "n=%lld k=%lld (%lld, %lld, %d): offset %lld", (long long)n,
                              (long long)k, (long long)row, (long long)block, t, (long long)offset);
                    for (int b = 0; b < 4; b++) owner[offset + b]++;
                }
                owner[mx_prepared_scale_offset(k, row, block)]++;
            }
        for (size_t i = 0; i < bytes; i++)
            cr_assert_eq(owner[i], 1, "n=%lld k=%lld: byte %zu placed %d times", (long long)n,
                         (long long)k, i, owner[i]);
        free(owner);
    }
    for (int i = 0; i < 10000; i++) {
        const uint32_t word = (uint32_t)mx_rng_next(&rng);
        cr_assert_eq(mx_ocp_word(mx_prepared_word(word)), word, "word 0x%08x", word);
    }
}

/* A lane that reads the layout in its own order (mx_prepared_pair_offset: the dequantizer) finds
 * there exactly the words the per-element addresses name. */
Test(cpu_codec, lane_reads_of_the_prepared_layout_hold_the_named_words) {
    const int64_t shapes[][2] = {{17, 32}, {40, 96}, {8, 2880}, {32, 14336}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t n = shapes[s][0], k = shapes[s][1], k_blocks = k / MX_BLOCK_SIZE;
        for (int64_t tile = 0; tile * MX_TILE_ROWS < n; tile++)
            for (int64_t pair = 0; 2 * pair < k_blocks; pair++)
                for (int lane = 0; lane < 32; lane++) {
                    const int64_t offset = mx_prepared_pair_offset(k, tile, pair, lane);
                    const int words = 2 * pair + 1 < k_blocks ? 4 : 2;
                    for (int q = 0; q < words; q++) {
                        const int64_t row = tile * MX_TILE_ROWS + lane / 4 + 8 * (q & 1);
                        const int64_t block = 2 * pair + q / 2;
                        cr_assert_eq(
                            offset + 4 * q, mx_prepared_word_offset(k, row, block, lane % 4),
                            "n=%lld k=%lld tile %lld pair %lld lane %d word %d", (long long)n,
                            (long long)k, (long long)tile, (long long)pair, lane, q);
                    }
                }
    }
}
