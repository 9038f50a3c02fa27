/* Helpers shared by the Criterion suites: fresh random data with a logged seed, independent
 * FP16/BF16 conversions, CUDA status checks, and a visible skip where there is no GPU. */
#ifndef MX_SUITES_COMMON_H
#define MX_SUITES_COMMON_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "elementwise.h"
#include "weights.h"

/* xoshiro256** state; mx_rng_fresh seeds it from the OS (or MX_TEST_SEED) and logs the seed,
 * so that a failure can be replayed with MX_TEST_SEED=<seed>. */
typedef struct {
    uint64_t s[4];
} mx_rng;

mx_rng mx_rng_fresh(void);
uint64_t mx_rng_next(mx_rng *rng);
double mx_rng_uniform(mx_rng *rng); /* [0, 1) */
double mx_rng_gaussian(mx_rng *rng);

/* Independent of kernels/format.h: FP16/BF16 bits <-> double by the IEEE definitions. */
double mx_test_f16_to_double(uint16_t bits);
double mx_test_bf16_to_double(uint16_t bits);
uint16_t mx_test_f32_to_f16_rne(float value);
uint16_t mx_test_f32_to_bf16_rne(float value);

/* y (FP16 bits, or BF16 bits when bf16) against an FP64 reference: rel_l2 over the outputs whose
 * reference is finite, the outputs that are not finite there, and the limit a correct kernel
 * meets: max(2e-3, one unit in the last place of the output dtype at each reference value) (a
 * kernel that rounds an FP32 sum once is within one ulp; BF16 cannot meet 2e-3 on its own). */
typedef struct {
    double rel_l2, limit;
    int64_t nonfinite;
} mx_test_errors;

mx_test_errors mx_test_compare_ulp(const uint16_t *y, int bf16, const double *ref, int64_t count);

/* A value rounded to FP16 (bf16 = 0) or BF16 (bf16 = 1) bits, nearest-even, and bits back to a
 * double: the dtype of a test as an index. */
uint16_t mx_test_encode(double value, int bf16);
double mx_test_decode(uint16_t bits, int bf16);
/* count 16-bit values of a device buffer, after the device synchronized (the caller frees them). */
uint16_t *mx_test_download16(const void *device, int64_t count);

/* OCP blocks [batch * n, k / 2] and scales [batch * n, k / 32] from the host, prepared on the
 * device for the GEMM kernels (weights.h) the way an engine loads them: upload, prepare, free the
 * OCP copies. *buffer receives the prepared allocation (cudaFree it). */
mx_weights mx_test_prepare_weights(const uint8_t *blocks, const uint8_t *scales, int64_t n,
                                   int64_t k, int64_t batch, void **buffer);

/* True when a CUDA device is usable; otherwise reason holds why. CUDA is initialised here, inside
 * the (forked) test, never in a global constructor. */
bool mx_test_gpu_available(char *reason, size_t reason_size);

/* Running the built mxbench (MXBENCH_EXE) from a test, in a fresh temporary work directory. */
typedef struct {
    int exit_code;
    char err[4096];
    char out[8192];
} mx_cli_result;

extern char mx_test_work_dir[64];
void mx_test_work_dir_create(void);
/* work_dir/name, in one of 8 rotating buffers. */
const char *mx_test_path(const char *name);
void mx_test_read_text(const char *path, char *buffer, size_t size);
void mx_test_write_file(const char *path, const void *data, size_t bytes);
/* Starts mxbench with args (NULL-terminated), stdout and stderr going to files of the work dir. */
pid_t mx_test_spawn_cli(const char *const *args);
/* Waits for it (it must exit normally) and collects its exit code and output. */
mx_cli_result mx_test_wait_cli(pid_t pid);
mx_cli_result mx_test_run_cli(const char *const *args);
/* The same on a "full disk": every file mxbench writes is cut at bytes (RLIMIT_FSIZE; writes
 * beyond fail with EFBIG, SIGXFSZ ignored). */
mx_cli_result mx_test_run_cli_disk_full(const char *const *args, long bytes);

/* The element-wise bound (elementwise.h) on the host, the reference for the GPU's check: judges
 * elements offset .. offset + count of an output [rows, cols] into result (cleared first by
 * mx_test_elementwise_clear); row_sums holds every row's s. */
void mx_test_elementwise_clear(mx_elementwise_result *result);
void mx_test_elementwise_add(mx_elementwise_result *result, const mx_elementwise_bound *bound,
                             const double *y, const double *exact, const double *magnitude,
                             const double *row_sums, int64_t count, int64_t offset, int64_t cols);

#define MX_REQUIRE_GPU()                                                                           \
    do {                                                                                           \
        char mx_reason_[256];                                                                      \
        if (!mx_test_gpu_available(mx_reason_, sizeof mx_reason_))                                 \
            cr_skip_test("no usable CUDA device (%s)", mx_reason_);                                \
    } while (0)

#define MX_CR_CUDA(call)                                                                           \
    do {                                                                                           \
        cudaError_t mx_cr_error_ = (call);                                                         \
        cr_assert_eq(mx_cr_error_, cudaSuccess, "%s failed: %s", #call,                            \
                     cudaGetErrorString(mx_cr_error_));                                            \
    } while (0)

#define MX_CR_OK(call)                                                                             \
    do {                                                                                           \
        mx_status mx_cr_status_ = (call);                                                          \
        cr_assert_eq(mx_cr_status_, MX_OK, "%s returned %s: %s", #call,                            \
                     mx_status_string(mx_cr_status_), mx_last_error());                            \
    } while (0)

#endif
