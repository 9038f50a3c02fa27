/* The targets' values and single-row rules (targets.h). */
#include "targets.h"

#include <math.h>

#include "elementwise.h"

const mx_target_values mx_targets = {
    .overhead_pct = 10.0,
    .rel_vs_fp16 = 0.01,
    .rel_vs_exact = 2e-3,
    .elementwise_factor = 2.0,
    .decode_max_m = 16,
    .decode_min_fp16_bytes = 64.0 * 1024.0 * 1024.0,
    .decode_speedup = 3.5,
    .bandwidth_min_mxfp4_bytes = 16e6,
    .bandwidth_pct = 85.0,
    .medium_m = {64, 256},
    .medium_speedup = {1.5, 1.0},
    .prefill_min_m = 1024,
    .prefill_ratio = 1.05,
    .vram_saved_pct = 73.0,
    .throttle_fraction = 0.9,
    .vram_mismatch_pct = 2.0,
    .self_check_pct = 2.0,
};

bool mx_target_overhead_passes(double overhead_pct) {
    return overhead_pct < mx_targets.overhead_pct;
}

double mx_target_rel_vs_exact(mx_dtype dtype) {
    return mx_targets.rel_vs_exact * mx_unit_roundoff(dtype) / mx_unit_roundoff(MX_F16);
}

bool mx_target_errors_pass(mx_dtype dtype, double rel_vs_fp16, double rel_vs_exact,
                           double elementwise, int64_t nonfinite) {
    return nonfinite == 0 && rel_vs_fp16 <= mx_targets.rel_vs_fp16 &&
           (isnan(rel_vs_exact) || rel_vs_exact <= mx_target_rel_vs_exact(dtype)) &&
           (isnan(elementwise) || elementwise <= 1.0);
}

bool mx_target_throttled(double sm_clock_mhz, double start_clock_mhz) {
    return sm_clock_mhz < mx_targets.throttle_fraction * start_clock_mhz;
}

double mx_target_vram_saved(double measured_pct, double computed_pct) {
    return isfinite(measured_pct) ? measured_pct : computed_pct;
}

bool mx_target_vram_mismatch(double measured_bytes, double computed_bytes) {
    return fabs(measured_bytes - computed_bytes) >
           mx_targets.vram_mismatch_pct / 100.0 * computed_bytes;
}

bool mx_target_unstable(double ratio_low, double ratio_high) {
    double margin = 1.0 + mx_targets.self_check_pct / 100.0;
    return ratio_low > margin || ratio_high < 1.0 / margin;
}
