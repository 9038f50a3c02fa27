/* libFuzzer target: auto's dispatch table reader (kernels/dispatch.c) on arbitrary text, for two
 * GPUs and both code paths, then lookups over decode to prefill token counts and odd shapes. */
#include <stdbool.h>
#include <stdint.h>

#include "dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const gpus[] = {"NVIDIA H200", "G"}, *const paths[] = {"hopper", "portable"};
    for (int i = 0; i < 4; i++) {
        mx_gemm_dispatch table;
        bool matched;
        if (mx_gemm_dispatch_parse((const char *)data, size, "fuzz.csv", gpus[i / 2], paths[i % 2],
                                   &table, &matched) != MX_OK)
            return 0;
        for (int64_t m = 1; m <= 1048576; m *= 7)
            mx_gemm_dispatch_pick(&table, i % 2 ? MX_BF16 : MX_F16, m, 1 + m % 300000, 32 * m);
        mx_gemm_dispatch_free(&table);
    }
    return 0;
}
