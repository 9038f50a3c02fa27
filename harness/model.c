/* Weight memory of whole models (model.h). The byte counts are the ones the ops allocate:
 * FP16/BF16 2 bytes per weight; MXFP4 a 4-bit code per weight plus one scale byte per 32. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static const mx_model models[] = {
    {"gpt-oss-20b", 24, 2880, 64, 8, 64, 32, 4, 2880, 201088},
    {"gpt-oss-120b", 36, 2880, 64, 8, 64, 128, 4, 2880, 201088},
};

const mx_model *mx_models(int *count) {
    *count = (int)(sizeof models / sizeof models[0]);
    return models;
}

const mx_model *mx_model_find(const char *name) {
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(models[i].name, name) == 0) return &models[i];
    return NULL;
}

/* A component: matrices that an MXFP4 path can hold, vectors (biases, sinks, norms) that stay
 * 16-bit everywhere; expert says whether gpt-oss stores its matrices in MXFP4. */
typedef struct {
    const char *name, *what;
    int64_t matrix_params, vector_params;
    bool quantizable, expert;
} component;

static double mxfp4_bytes(int64_t params) {
    return params / 2.0 + params / 32.0;
}

static bool add_row(mx_table *t, const char *name, int64_t params, double fp16, double mxfp4,
                    double mix, const char *what) {
    int r = mx_table_add_row(t);
    return r >= 0 && mx_table_set(t, r, "component", "%s", name) &&
           mx_table_set(t, r, "params", "%lld", (long long)params) &&
           mx_table_set(t, r, "fp16_bytes", "%.0f", fp16) &&
           mx_table_set(t, r, "mxfp4_bytes", "%.0f", mxfp4) &&
           mx_table_set(t, r, "gptoss_mix_bytes", "%.0f", mix) &&
           mx_table_set(t, r, "mxfp4_savings_pct", "%.2f", 100.0 * (1.0 - mxfp4 / fp16)) &&
           mx_table_set(t, r, "gptoss_mix_savings_pct", "%.2f", 100.0 * (1.0 - mix / fp16)) &&
           mx_table_set(t, r, "what", "%s", what);
}

mx_table *mx_model_vram_table(const mx_model *m) {
    static const char *const columns[] = {"component",
                                          "params",
                                          "fp16_bytes",
                                          "mxfp4_bytes",
                                          "gptoss_mix_bytes",
                                          "mxfp4_savings_pct",
                                          "gptoss_mix_savings_pct",
                                          "what"};
    const int64_t qkv_rows = (m->q_heads + 2 * m->kv_heads) * m->head_dim,
                  q_width = m->q_heads * m->head_dim;
    char attention[160], experts[160], router[160], vocab[160], norms[96];
    snprintf(attention, sizeof attention,
             "%lld layers x (QKV %lldx%lld + O %lldx%lld), biases and sinks 16-bit",
             (long long)m->layers, (long long)qkv_rows, (long long)m->hidden, (long long)m->hidden,
             (long long)q_width);
    snprintf(experts, sizeof experts,
             "%lld layers x %lld experts x (MLP1 %lldx%lld + MLP2 %lldx%lld), biases 16-bit",
             (long long)m->layers, (long long)m->experts, (long long)(2 * m->intermediate),
             (long long)m->hidden, (long long)m->hidden, (long long)m->intermediate);
    snprintf(router, sizeof router, "%lld layers x %lldx%lld + bias, dense in every column",
             (long long)m->layers, (long long)m->experts, (long long)m->hidden);
    snprintf(vocab, sizeof vocab, "%lldx%lld", (long long)m->vocab, (long long)m->hidden);
    snprintf(norms, sizeof norms, "%lld RMSNorm scales of %lld", (long long)(2 * m->layers + 1),
             (long long)m->hidden);
    const component parts[] = {
        {"attention", attention, m->layers * (qkv_rows * m->hidden + m->hidden * q_width),
         m->layers * (qkv_rows + m->hidden + m->q_heads), true, false},
        {"moe_experts", experts,
         m->layers * m->experts * (2 * m->intermediate * m->hidden + m->hidden * m->intermediate),
         m->layers * m->experts * (2 * m->intermediate + m->hidden), true, true},
        {"router", router, 0, m->layers * (m->experts * m->hidden + m->experts), false, false},
        {"embedding", vocab, m->vocab * m->hidden, 0, true, false},
        {"unembedding", vocab, m->vocab * m->hidden, 0, true, false},
        {"norms", norms, 0, (2 * m->layers + 1) * m->hidden, false, false},
    };
    mx_table *t = mx_table_create(columns, (int)(sizeof columns / sizeof columns[0]));
    int64_t total_params = 0;
    double total_fp16 = 0, total_mxfp4 = 0, total_mix = 0;
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++) {
        const component *c = &parts[i];
        int64_t params = c->matrix_params + c->vector_params;
        double fp16 = 2.0 * params, vectors = 2.0 * c->vector_params;
        double mxfp4 = c->quantizable ? mxfp4_bytes(c->matrix_params) + vectors : fp16;
        double mix = c->expert ? mxfp4 : fp16;
        ok = add_row(t, c->name, params, fp16, mxfp4, mix, c->what);
        total_params += params;
        total_fp16 += fp16;
        total_mxfp4 += mxfp4;
        total_mix += mix;
    }
    ok = ok && add_row(t, "total", total_params, total_fp16, total_mxfp4, total_mix,
                       "every weight of the model");
    if (!ok) {
        mx_table_free(t);
        return NULL;
    }
    return t;
}

// ---- the table, as `mxbench model` and the report show it

#define GIB (1024.0 * 1024.0 * 1024.0)

void mx_model_document(const mx_model *m, const mx_table *t, mx_doc *out) {
    mx_doc_paragraph(out,
                     "%s: %lld layers, hidden %lld, %lld query / %lld KV heads of %lld, %lld "
                     "experts (top-%lld, intermediate %lld), vocabulary %lld. FP16: 2 bytes per "
                     "weight; MXFP4: 4-bit codes plus a scale byte per 32 for every weight matrix "
                     "(biases, sinks, norms and the router stay 16-bit); the gpt-oss mix holds "
                     "only the MoE experts in MXFP4. GiB = 2^30 bytes.",
                     m->name, (long long)m->layers, (long long)m->hidden, (long long)m->q_heads,
                     (long long)m->kv_heads, (long long)m->head_dim, (long long)m->experts,
                     (long long)m->topk, (long long)m->intermediate, (long long)m->vocab);
    mx_doc_table(out, "component\tparams\tFP16 GiB\tMXFP4 GiB\tMXFP4 saved\tgpt-oss mix "
                      "GiB\tmix saved\twhat");
    for (size_t r = 0; r < mx_table_row_count(t); r++) {
        const int i = (int)r;
        char params[32];
        mx_format_grouped(params, sizeof params, atoll(mx_table_get(t, i, "params")));
        mx_doc_row(
            out, "%s\t%s\t%.3f\t%.3f\t%s %%\t%.3f\t%s %%\t%s", mx_table_get(t, i, "component"),
            params, atof(mx_table_get(t, i, "fp16_bytes")) / GIB,
            atof(mx_table_get(t, i, "mxfp4_bytes")) / GIB, mx_table_get(t, i, "mxfp4_savings_pct"),
            atof(mx_table_get(t, i, "gptoss_mix_bytes")) / GIB,
            mx_table_get(t, i, "gptoss_mix_savings_pct"), mx_table_get(t, i, "what"));
    }
    mx_doc_close(out);
}

// ---- `mxbench model`

static void print_model(const mx_model *m, const mx_table *t) {
    mx_doc doc = {0};
    mx_model_document(m, t, &doc);
    printf("%s\n", mx_text_get(&doc.md));
    mx_doc_free(&doc);
}

static int run_model(const mx_parsed_options *parsed) {
    int count = 0;
    const mx_model *all = mx_models(&count);
    const char *csv = mx_option_value(parsed, "csv");
    if (csv && parsed->argument_count != 1) {
        mx_cli_error("model --csv %s: name one model (the CSV holds one table)", csv);
        return MX_EXIT_INPUT;
    }
    for (int a = 0; a < parsed->argument_count; a++)
        if (!mx_model_find(parsed->arguments[a])) {
            mx_cli_error("unknown model '%s': expected gpt-oss-20b or gpt-oss-120b",
                         parsed->arguments[a]);
            return MX_EXIT_INPUT;
        }
    int shown = parsed->argument_count ? parsed->argument_count : count;
    for (int i = 0; i < shown; i++) {
        const mx_model *m = parsed->argument_count ? mx_model_find(parsed->arguments[i]) : &all[i];
        mx_table *t = mx_model_vram_table(m);
        if (!t) {
            mx_cli_error("out of memory building the table of %s", m->name);
            return MX_EXIT_FAILED;
        }
        char error[512];
        bool ok = !csv || mx_table_save(t, csv, error, sizeof error);
        if (ok)
            print_model(m, t);
        else
            mx_cli_error("%s", error);
        mx_table_free(t);
        if (!ok) return MX_EXIT_FAILED;
    }
    return MX_EXIT_OK;
}

static const mx_option model_options[] = {
    {"csv", "FILE", "also write the table of the one named model as CSV", NULL, true},
};

const mx_command mx_model_command = {
    "model",
    "Weight memory of a whole model (gpt-oss-20b, gpt-oss-120b): FP16, MXFP4, gpt-oss mix.",
    "Per component (attention QKV+O, MoE experts, router, embedding, unembedding, norms): the\n"
    "parameters and the bytes of the weights held in FP16/BF16 (2 bytes each), all-MXFP4 (every\n"
    "weight matrix in MXFP4: 4-bit codes + one scale byte per 32; biases, sinks, norms and the\n"
    "small router stay 16-bit), and the gpt-oss mix (only the MoE experts in MXFP4, as the\n"
    "released checkpoints store them). The byte formulas are the ones the harness's ops\n"
    "allocate. Without a name: every model. Computed, needs no GPU.",
    model_options,
    (int)(sizeof model_options / sizeof model_options[0]),
    run_model,
    0,
    2,
    "[MODEL...]",
    NULL,
};
