/* Shared helpers of the Criterion suites. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/mx.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

mx_rng mx_rng_fresh(void) {
    uint64_t seed = 0;
    const char *fixed = getenv("MX_TEST_SEED");
    if (fixed) {
        seed = strtoull(fixed, NULL, 0);
    } else {
        FILE *urandom = fopen("/dev/urandom", "rb");
        if (!urandom || fread(&seed, sizeof seed, 1, urandom) != 1)
            seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        if (urandom) fclose(urandom);
    }
    cr_log_info("random seed %llu (replay with MX_TEST_SEED=%llu)", (unsigned long long)seed,
                (unsigned long long)seed);
    mx_rng rng;
    for (int i = 0; i < 4; i++) rng.s[i] = splitmix64(&seed);
    return rng;
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t mx_rng_next(mx_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mx_rng_uniform(mx_rng *rng) {
    return (double)(mx_rng_next(rng) >> 11) * 0x1.0p-53;
}

double mx_rng_gaussian(mx_rng *rng) {
    double u = 1.0 - mx_rng_uniform(rng), v = mx_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

double mx_test_f16_to_double(uint16_t bits) {
    int exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
    double sign = (bits & 0x8000) ? -1.0 : 1.0;
    if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
    if (exponent == 0) return sign * ldexp(mantissa, -24);
    return sign * ldexp(1024 + mantissa, exponent - 25);
}

double mx_test_bf16_to_double(uint16_t bits) {
    int exponent = (bits >> 7) & 0xFF, mantissa = bits & 0x7F;
    double sign = (bits & 0x8000) ? -1.0 : 1.0;
    if (exponent == 255) return mantissa ? NAN : sign * INFINITY;
    if (exponent == 0) return sign * ldexp(mantissa, -133);
    return sign * ldexp(128 + mantissa, exponent - 134);
}

/* Round a finite-or-not float to a format with `mantissa_bits` stored bits, `exponent_bits`
 * exponent bits, to nearest even, by searching the neighbouring representable values. */
static uint16_t round_to_small_float(float value, int exponent_bits, int mantissa_bits) {
    uint16_t sign = signbit(value) ? (uint16_t)(1u << (exponent_bits + mantissa_bits)) : 0;
    uint16_t inf_bits = (uint16_t)(((1u << exponent_bits) - 1) << mantissa_bits);
    if (isnan(value)) return (uint16_t)(inf_bits | (1u << (mantissa_bits - 1)));
    double magnitude = fabs((double)value);
    int bias = (1 << (exponent_bits - 1)) - 1;
    double max_finite = ldexp(2.0 - ldexp(1.0, -mantissa_bits), bias);
    /* Overflow: values at or past max + half an ulp round to Inf. */
    if (magnitude >= max_finite + ldexp(1.0, bias - mantissa_bits - 1)) return sign | inf_bits;
    double ulp_min = ldexp(1.0, 1 - bias - mantissa_bits);
    int e = magnitude > 0 ? ilogb(magnitude) : 1 - bias;
    if (e < 1 - bias) e = 1 - bias;
    double ulp = ldexp(ulp_min, e - (1 - bias));
    double below = floor(magnitude / ulp), rem = magnitude / ulp - below;
    double units = below + (rem > 0.5 || (rem == 0.5 && fmod(below, 2.0) == 1.0));
    double rounded = units * ulp;
    if (rounded == 0) return sign;
    int re = ilogb(rounded);
    if (re < 1 - bias) return sign | (uint16_t)(rounded / ulp_min); /* subnormal */
    uint16_t mantissa = (uint16_t)(ldexp(rounded, mantissa_bits - re) - ldexp(1.0, mantissa_bits));
    return sign | (uint16_t)((re + bias) << mantissa_bits) | mantissa;
}

uint16_t mx_test_f32_to_f16_rne(float value) {
    return round_to_small_float(value, 5, 10);
}

uint16_t mx_test_f32_to_bf16_rne(float value) {
    return round_to_small_float(value, 8, 7);
}

bool mx_test_gpu_available(char *reason, size_t reason_size) {
    int count = 0;
    cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess || count == 0) {
        snprintf(reason, reason_size, "%s",
                 error != cudaSuccess ? cudaGetErrorString(error) : "0 devices");
        return false;
    }
    error = cudaSetDevice(0);
    if (error == cudaSuccess) error = cudaFree(NULL);
    if (error != cudaSuccess) {
        snprintf(reason, reason_size, "%s", cudaGetErrorString(error));
        return false;
    }
    return true;
}
