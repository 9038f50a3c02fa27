/* Shared helpers of the Criterion suites. */
#include "common.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mx.h"

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

// ---- running the CLI

extern char **environ;

char mx_test_work_dir[64];

void mx_test_work_dir_create(void) {
    strcpy(mx_test_work_dir, "/tmp/mxbench-cli.XXXXXX");
    cr_assert(mkdtemp(mx_test_work_dir), "mkdtemp failed");
}

const char *mx_test_path(const char *name) {
    static char paths[8][128];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", mx_test_work_dir, name);
    return path;
}

void mx_test_read_text(const char *path, char *buffer, size_t size) {
    FILE *file = fopen(path, "r");
    size_t got = file ? fread(buffer, 1, size - 1, file) : 0;
    buffer[got] = '\0';
    if (file) fclose(file);
}

pid_t mx_test_spawn_cli(const char *const *args) {
    const char *argv[32] = {MXBENCH_EXE};
    int argc = 1;
    while (args[argc - 1] && argc < 31) argv[argc] = args[argc - 1], argc++;
    argv[argc] = NULL;
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s.stdout", mx_test_work_dir);
    snprintf(err_path, sizeof err_path, "%s.stderr", mx_test_work_dir);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int spawn = posix_spawn(&pid, MXBENCH_EXE, &actions, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    cr_assert_eq(spawn, 0, "cannot start %s", MXBENCH_EXE);
    return pid;
}

mx_cli_result mx_test_wait_cli(pid_t pid) {
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s.stdout", mx_test_work_dir);
    snprintf(err_path, sizeof err_path, "%s.stderr", mx_test_work_dir);
    int wait_status = 0;
    cr_assert_eq(waitpid(pid, &wait_status, 0), pid);
    cr_assert(WIFEXITED(wait_status), "mxbench did not exit normally (signal %d)",
              WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
    mx_cli_result result = {.exit_code = WEXITSTATUS(wait_status)};
    mx_test_read_text(out_path, result.out, sizeof result.out);
    mx_test_read_text(err_path, result.err, sizeof result.err);
    unlink(out_path);
    unlink(err_path);
    return result;
}

void mx_test_write_file(const char *path, const void *data, size_t bytes) {
    FILE *file = fopen(path, "wb");
    cr_assert(file && fwrite(data, 1, bytes, file) == bytes, "cannot write %s", path);
    fclose(file);
}

mx_cli_result mx_test_run_cli(const char *const *args) {
    return mx_test_wait_cli(mx_test_spawn_cli(args));
}

mx_cli_result mx_test_run_cli_disk_full(const char *const *args, long bytes) {
    signal(SIGXFSZ, SIG_IGN); /* inherited through exec: writes fail instead of killing */
    struct rlimit old, small;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = (rlim_t)bytes;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    pid_t pid = mx_test_spawn_cli(args);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    return mx_test_wait_cli(pid);
}

void mx_test_elementwise_clear(mx_elementwise_result *result) {
    *result = (mx_elementwise_result){.worst = 0.0, .worst_index = -1};
}

void mx_test_elementwise_add(mx_elementwise_result *result, const mx_elementwise_bound *bound,
                             const double *y, const double *exact, const double *magnitude,
                             const double *row_sums, int64_t count, int64_t offset, int64_t cols) {
    for (int64_t i = 0; i < count; i++) {
        if (!mx_elementwise_judged(bound, y[i], exact[i])) continue;
        int64_t index = offset + i;
        double ratio = fabs(y[i] - exact[i]) /
                       mx_elementwise_limit(bound, exact[i], magnitude[i], row_sums[index / cols]);
        if (isnan(ratio)) continue; /* no bound: not judged */
        result->checked++;
        result->over += ratio > 1.0;
        if (ratio > result->worst || result->worst_index < 0) {
            result->worst = ratio;
            result->worst_index = index;
        }
    }
}

mx_test_errors mx_test_compare_ulp(const uint16_t *y, int bf16, const double *ref, int64_t count) {
    double diff2 = 0.0, ref2 = 0.0, ulp2 = 0.0;
    mx_test_errors e = {0.0, 0.0, 0};
    for (int64_t i = 0; i < count; i++) {
        double value = bf16 ? mx_test_bf16_to_double(y[i]) : mx_test_f16_to_double(y[i]);
        if (!isfinite(ref[i])) continue;
        if (!isfinite(value)) {
            e.nonfinite++;
            continue;
        }
        /* spacing of the output dtype at the exact value (FP16: 11 significant bits, BF16: 8;
         * FP16 subnormals: 2^-24) */
        int exponent;
        frexp(ref[i], &exponent);
        double ulp = ldexp(1.0, exponent - (bf16 ? 8 : 11));
        if (!bf16 && ulp < 0x1p-24) ulp = 0x1p-24;
        diff2 += (value - ref[i]) * (value - ref[i]);
        ref2 += ref[i] * ref[i];
        ulp2 += ulp * ulp;
    }
    e.rel_l2 = ref2 > 0 ? sqrt(diff2 / ref2) : sqrt(diff2);
    e.limit = fmax(2e-3, ref2 > 0 ? sqrt(ulp2 / ref2) : 0.0);
    return e;
}

uint16_t mx_test_encode(double value, int bf16) {
    return bf16 ? mx_test_f32_to_bf16_rne((float)value) : mx_test_f32_to_f16_rne((float)value);
}

double mx_test_decode(uint16_t bits, int bf16) {
    return bf16 ? mx_test_bf16_to_double(bits) : mx_test_f16_to_double(bits);
}

mx_weights mx_test_prepare_weights(const uint8_t *blocks, const uint8_t *scales, int64_t n,
                                   int64_t k, int64_t batch, void **buffer) {
    const size_t block_bytes = (size_t)(batch * n * k / 2),
                 prepared_bytes = mx_weights_bytes(n, k, batch);
    uint8_t *ocp_blocks = NULL, *ocp_scales = NULL;
    MX_CR_CUDA(cudaMalloc((void **)&ocp_blocks, block_bytes));
    MX_CR_CUDA(cudaMalloc((void **)&ocp_scales, block_bytes / MX_BLOCK_BYTES));
    MX_CR_CUDA(cudaMalloc(buffer, prepared_bytes));
    MX_CR_CUDA(cudaMemcpy(ocp_blocks, blocks, block_bytes, cudaMemcpyHostToDevice));
    MX_CR_CUDA(
        cudaMemcpy(ocp_scales, scales, block_bytes / MX_BLOCK_BYTES, cudaMemcpyHostToDevice));
    mx_weights weights;
    MX_CR_OK(mx_weights_prepare(ocp_blocks, ocp_scales, n, k, batch, *buffer, prepared_bytes,
                                &weights, 0));
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaFree(ocp_blocks));
    MX_CR_CUDA(cudaFree(ocp_scales));
    return weights;
}

uint16_t *mx_test_download16(const void *device, int64_t count) {
    uint16_t *host = malloc((size_t)count * 2);
    cr_assert(host);
    MX_CR_CUDA(cudaDeviceSynchronize());
    MX_CR_CUDA(cudaMemcpy(host, device, (size_t)count * 2, cudaMemcpyDeviceToHost));
    return host;
}
