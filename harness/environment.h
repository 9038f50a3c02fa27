/* What run.json records about the machine before a sweep: the GPU, driver, cuBLAS, code path, git
 * state, and the ceilings measured on it (copy bandwidth, cuBLAS FP16 TFLOP/s). */
#ifndef MX_ENVIRONMENT_H
#define MX_ENVIRONMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "run_info.h"
#include "timing.h"

/* The device's and the checkout's facts into info; false with why on a CUDA failure or a GPU the
 * library refuses. */
bool mx_collect_environment(int device, mx_run_info *info, char *why, size_t why_size);
/* Device-to-device copy of 1 GiB (GB/s counts bytes read + written), cuBLAS FP16 8192^3 and the
 * SM clock under load, timed as the rows are. */
bool mx_measure_ceilings(const mx_timer *t, mx_run_info *info, char *why, size_t why_size);

#endif
