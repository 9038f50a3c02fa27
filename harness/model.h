/* Whole models as the ops see them: the gpt-oss configurations, and their weight memory by
 * component in FP16, all-MXFP4, and the gpt-oss mix (only the MoE experts in MXFP4, the rest in
 * BF16, as the released checkpoints store them). `mxbench model` prints it; the report of a
 * gpt-oss suite includes it. */
#ifndef MX_MODEL_H
#define MX_MODEL_H

#include <stdint.h>

#include "cli.h"
#include "doc.h"
#include "table.h"

typedef struct {
    const char *name; /* also the name of its sweep: gpt-oss-20b */
    int64_t layers, hidden, q_heads, kv_heads, head_dim, experts, topk, intermediate, vocab;
} mx_model;

const mx_model *mx_models(int *count);
/* NULL when name is not a known model. */
const mx_model *mx_model_find(const char *name);

/* One row per component (attention, moe_experts, router, embedding, unembedding, norms) and a
 * total: component, params, fp16_bytes, mxfp4_bytes, gptoss_mix_bytes, mxfp4_savings_pct,
 * gptoss_mix_savings_pct, what. NULL when out of memory. */
mx_table *mx_model_vram_table(const mx_model *model);

/* The model's line and the table (t: mx_model_vram_table) in GiB, with grouped digits. */
void mx_model_document(const mx_model *model, const mx_table *t, mx_doc *out);

extern const mx_command mx_model_command;

#endif
