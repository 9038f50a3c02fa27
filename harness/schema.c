/* The column table (schema.h). */
#include "schema.h"

#include <string.h>

enum { R = MX_IN_RESULTS, S = MX_IN_SAMPLES, RS = MX_IN_RESULTS | MX_IN_SAMPLES };

#define TEXT(name, unit, meaning, files, key, required)                                            \
    { name, MX_COLUMN_TEXT, unit, meaning, files, key, required, 0, 0 }
#define INTEGER(name, unit, meaning, files, key, required, minimum, fallback)                      \
    { name, MX_COLUMN_INTEGER, unit, meaning, files, key, required, minimum, fallback }
#define NUMBER(name, unit, meaning, files, required)                                               \
    { name, MX_COLUMN_NUMBER, unit, meaning, files, false, required, 0, 0 }
#define FLAG(name, meaning, required)                                                              \
    { name, MX_COLUMN_FLAG, "", meaning, R, false, required, 0, 0 }

static const mx_column columns[] = {
    TEXT("run_id", "", "the run folder's name (UTC start time)", RS, false, true),
    TEXT("suite", "", "the sweep's name", R, false, true),
    TEXT("op", "", "the op (mxbench run --help lists them)", RS, true, true),
    TEXT("variant", "", "fp16 (the reference) or an MXFP4 variant (harness/variants.c)", RS, true,
         true),
    TEXT("dtype", "", "activation and output dtype: f16 or bf16", RS, true, true),
    TEXT("dist", "", "the weights' and inputs' distribution", RS, true, true),
    INTEGER("M", "tokens", "rows of the activations (tokens)", RS, true, true, 1, 0),
    INTEGER("N", "", "output features of the weight", RS, true, true, 1, 0),
    INTEGER("K", "", "input features of the weight", RS, true, true, 1, 0),
    INTEGER("experts", "", "MoE experts (empty: not a MoE row; older runs wrote 0)", RS, true, true,
            0, 0),
    INTEGER("topk", "", "MoE experts per token (empty: not a MoE row)", RS, true, true, 0, 0),
    INTEGER("samples", "", "timed samples behind time_us: one per round", R, false, true, 0, 0),
    NUMBER("time_us", "us", "results: the median of the samples; samples: one sample", RS, true),
    NUMBER("time_us_min", "us", "the fastest sample", R, true),
    NUMBER("time_us_max", "us", "the slowest sample", R, true),
    NUMBER("noise_pct", "%", "relative standard error of the median (MAD-based)", R, true),
    NUMBER("fp16_time_us", "us", "the problem's fp16 row's time_us", R, true),
    NUMBER("overhead_pct", "%",
           "median over the rounds of time / the round's FP16 time, - 1 (negative: faster)", R,
           true),
    NUMBER("gbps", "GB/s", "bytes the row must move per second", R, true),
    NUMBER("tflops", "TFLOP/s", "FLOPs per second", R, true),
    NUMBER("pct_peak_bw", "%", "gbps as a share of the copy bandwidth measured at start-up", R,
           true),
    NUMBER("pct_peak_flops", "%", "tflops as a share of cuBLAS FP16 at 8192^3 at start-up", R,
           true),
    NUMBER("rel_err_vs_fp16", "", "norm-wise error against the FP16 reference, same weights", R,
           true),
    NUMBER("max_rel_err_vs_fp16", "", "largest element-wise error against the FP16 reference", R,
           true),
    NUMBER("rel_err_vs_exact", "", "norm-wise error against FP64 on the dequantized weights", R,
           true),
    NUMBER("quant_rel_err", "", "norm-wise error of the FP16 path on the unquantized weights", R,
           true),
    NUMBER("sqnr_db", "dB", "signal-to-quantization-noise ratio of quant_rel_err", R, true),
    NUMBER("nonfinite", "", "non-finite outputs where the exact result is finite", R, true),
    NUMBER("weight_bytes_fp16", "bytes", "the FP16 weights the MXFP4 ones replace", R, true),
    NUMBER("weight_bytes_mxfp4", "bytes", "MXFP4 blocks + scales (0 for fp16)", R, true),
    NUMBER("workspace_bytes", "bytes",
           "every other buffer the variant needs, less those the FP16 path needs too (never its "
           "GEMMs' own)",
           R, true),
    NUMBER("vram_savings_pct", "%", "1 - (mxfp4 + workspace) / fp16 weight bytes", R, true),
    FLAG("pass_overhead", "overhead target of a single row (harness/targets.c)", true),
    FLAG("pass_error", "error targets of a single row (harness/targets.c)", true),
    TEXT("status", "", "ok, fail or skipped", R, false, true),
    TEXT("note", "", "why a row failed or was skipped; measuring remarks", R, false, true),
    INTEGER("batch", "", "independent problems in one call", RS, true, false, 1, 1),
    TEXT("shape_name", "", "the sweep's name for the weight (gpt-oss.qkv...)", R, false, false),
    TEXT("group", "", "the sweep block the row came from", R, false, false),
    INTEGER("seed", "", "data seed of the row's inputs and weights", RS, true, false, 0, 0),
    NUMBER("sm_clock_mhz", "MHz", "median of the SM clock probed after each round", R, false),
    FLAG("throttled", "sm_clock_mhz below harness/targets.c's share of the start-up clock", false),
    NUMBER("vram_measured_bytes", "bytes", "cudaMemGetInfo delta around the variant's buffers", R,
           false),
    TEXT("stop_reason", "", "why sampling stopped (noise target, time budget, max samples)", R,
         false, false),
    TEXT("gpu", "", "the GPU's name", R, false, false),
    INTEGER("kv_heads", "", "attention KV heads (empty: not an attention row)", RS, true, false, 0,
            0),
    NUMBER("prepare_us", "us", "one-off reordering of the MXFP4 weights at setup", R, false),
    TEXT("problem", "", "the problem the row measures: its fp16 row and variants share it", RS,
         true, false),
    INTEGER("sample", "", "the round the sample was taken in (a problem's rows share them)", S,
            false, false, 0, 0),
    NUMBER("time_us_lo", "us",
           "95 % interval of the median time, across runs: low end (empty below 6 rounds)", R,
           false),
    NUMBER("time_us_hi", "us", "95 % interval of the median time: high end", R, false),
    NUMBER("overhead_pct_lo", "%", "95 % interval of overhead_pct: low end (variants only)", R,
           false),
    NUMBER("overhead_pct_hi", "%", "95 % interval of overhead_pct: high end", R, false),
    NUMBER("elem_err_vs_bound", "",
           "the worst element's error against FP64 over its bound (harness/elementwise.h): "
           "above 1 fails; empty for ops without the bound",
           R, false),
    TEXT("worst_element", "", "where elem_err_vs_bound is: output row and column (and batch entry)",
         R, false, false),
    INTEGER("elements_over_bound", "", "output elements beyond their element-wise bound", R, false,
            false, 0, 0),
    NUMBER("vram_savings_measured_pct", "%",
           "1 - vram_measured_bytes / fp16 weight bytes: the saving the VRAM target judges", R,
           false),
    FLAG("vram_mismatch",
         "vram_measured_bytes more than harness/targets.c's share off mxfp4 + workspace: the "
         "saving is not judged",
         false),
    TEXT("fp16_algo", "",
         "the fp16 row: the cuBLAS algorithm it timed, the fastest of those the op offers", R,
         false, false),
    NUMBER("fp16_default_us", "us",
           "the fp16 row: cublasGemmEx with cuBLAS's own choice, timed in the same rounds", R,
           false),
    FLAG("unstable",
         "a variant making cublasGemmEx's own call measured off it: the problem is not judged",
         false),
};

enum { COLUMN_COUNT = sizeof columns / sizeof columns[0] };

const mx_column *mx_columns(int *count) {
    *count = COLUMN_COUNT;
    return columns;
}

const mx_column *mx_column_find(const char *name) {
    for (int i = 0; name && i < COLUMN_COUNT; i++)
        if (strcmp(columns[i].name, name) == 0) return &columns[i];
    return NULL;
}

const char *const *mx_column_names(unsigned file, int *count) {
    static const char *results[COLUMN_COUNT + 1], *samples[COLUMN_COUNT + 1];
    static int result_count, sample_count;
    if (!result_count)
        for (int i = 0; i < COLUMN_COUNT; i++) {
            if (columns[i].files & MX_IN_RESULTS) results[result_count++] = columns[i].name;
            if (columns[i].files & MX_IN_SAMPLES) samples[sample_count++] = columns[i].name;
        }
    *count = file == MX_IN_SAMPLES ? sample_count : result_count;
    return file == MX_IN_SAMPLES ? samples : results;
}

const char *mx_flag_text(bool value) {
    return value ? "true" : "false";
}

int mx_flag_value(const char *text) {
    if (!text || !text[0]) return -1;
    if (!strcmp(text, "true") || !strcmp(text, "yes")) return 1;
    if (!strcmp(text, "false") || !strcmp(text, "no")) return 0;
    return -2;
}

bool mx_flag_is_true(const char *text) {
    return mx_flag_value(text) == 1;
}
