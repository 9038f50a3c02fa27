/* Sweep files' groups (sweep_parser.h): each group checked once it is complete (every variant
 * serves an op, every op gets a variant, experts with topk) and expanded into its cartesian
 * product of rows; and what a row's problem is. */
#include "sweep.h"
#include "sweep_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- groups and rows */

static const setting *resolved(const parser *p, key_id key) {
    return p->group[key].present ? &p->group[key] : &p->defaults[key];
}

static int64_t single_integer(const parser *p, key_id key) {
    const setting *s = resolved(p, key);
    return s->present ? s->values[0].integer : mx_sweep_keys[key].fallback;
}

/* The index-th variant the group runs for op (NULL past the last): the op's own order for `all`,
 * else the variants line's order, less those the op does not have. */
static const char *nth_variant(const setting *variants, const mx_sweep_op_vocabulary *op,
                               int index) {
    if (variants->values[0].all) {
        for (int i = 0; op->variants[i]; i++)
            if (i == index) return op->variants[i];
        return NULL;
    }
    for (int i = 0; i < variants->count; i++)
        if (mx_sweep_op_has_variant(op, variants->values[i].name) && index-- == 0)
            return variants->values[i].name;
    return NULL;
}

static int variant_count(const setting *variants, const mx_sweep_op_vocabulary *op) {
    int count = 0;
    while (nth_variant(variants, op, count)) count++;
    return count;
}

/* Every variant must serve some op of the group and every op must get some variant; a MoE row
 * needs both experts and topk. */
static bool check_group(parser *p) {
    const setting *ops = resolved(p, KEY_OPS), *variants = resolved(p, KEY_VARIANTS);
    name_list op_names = {0};
    for (int o = 0; o < ops->count; o++) mx_sweep_list_add(&op_names, ops->values[o].name);
    const char *op_text = mx_sweep_list_text(&op_names);
    for (int v = 0; v < variants->count && !variants->values[v].all; v++) {
        const value *variant = &variants->values[v];
        bool served = false;
        for (int o = 0; o < ops->count && !served; o++)
            served = mx_sweep_op_has_variant(&p->ops[ops->values[o].integer], variant->name);
        if (!served)
            return mx_sweep_fail_at(
                p, variant->line, variant->column,
                "variant '%s' is not a variant of any op of group '%s': expected a "
                "variant of %s",
                variant->name, p->group_name, op_text);
    }
    for (int o = 0; o < ops->count; o++) {
        const mx_sweep_op_vocabulary *op = &p->ops[ops->values[o].integer];
        if (variant_count(variants, op) > 0) continue;
        name_list own = {0};
        for (const char *const *v = op->variants; *v; v++) mx_sweep_list_add(&own, *v);
        return mx_sweep_fail_at(
            p, ops->values[o].line, ops->values[o].column,
            "op '%s' has none of the variants of group '%s': expected one of %s", op->op,
            p->group_name, mx_sweep_list_text(&own));
    }
    int64_t experts = single_integer(p, KEY_EXPERTS), topk = single_integer(p, KEY_TOPK);
    const setting *experts_line = resolved(p, KEY_EXPERTS), *topk_line = resolved(p, KEY_TOPK);
    if (experts > 0 && topk == 0)
        return mx_sweep_fail_at(p, experts_line->values[0].line, experts_line->values[0].column,
                                "experts %lld in group '%s' needs a topk line (experts per token)",
                                (long long)experts, p->group_name);
    if (topk > 0 && experts == 0)
        return mx_sweep_fail_at(p, topk_line->values[0].line, topk_line->values[0].column,
                                "topk %lld in group '%s' needs an experts line (experts per layer)",
                                (long long)topk, p->group_name);
    if (topk > experts)
        return mx_sweep_fail_at(p, topk_line->values[0].line, topk_line->values[0].column,
                                "topk %lld in group '%s' is more than its experts (%lld)",
                                (long long)topk, p->group_name, (long long)experts);
    return true;
}

static void fill_row(const parser *p, mx_sweep_row *row, const mx_sweep_op_vocabulary *op,
                     const char *variant, const value *shape, int64_t m, const char *dtype,
                     const char *dist) {
    memset(row, 0, sizeof *row);
    mx_sweep_copy_text(row->group, sizeof row->group, p->group_name);
    mx_sweep_copy_text(row->op, sizeof row->op, op->op);
    mx_sweep_copy_text(row->variant, sizeof row->variant, variant);
    mx_sweep_copy_text(row->dtype, sizeof row->dtype, dtype);
    mx_sweep_copy_text(row->dist, sizeof row->dist, dist);
    mx_sweep_copy_text(row->shape_name, sizeof row->shape_name, shape->name);
    row->m = m;
    row->n = shape->integer;
    row->k = shape->k;
    row->batch = single_integer(p, KEY_BATCH);
    row->experts = single_integer(p, KEY_EXPERTS);
    row->topk = single_integer(p, KEY_TOPK);
    row->kv_heads = single_integer(p, KEY_KV_HEADS);
    row->seed = single_integer(p, KEY_SEED);
    const setting *budget = resolved(p, KEY_BUDGET_MS);
    row->budget_ms = budget->present ? budget->values[0].number : 0.0;
    row->line = p->group_line;
}

/* Checks the finished group and appends its rows: op, shape, m, dtype, dist, variant innermost. */
bool mx_sweep_finish_group(parser *p) {
    for (int key = 0; key < KEY_COUNT; key++)
        if (mx_sweep_keys[key].required && !resolved(p, (key_id)key)->present)
            return mx_sweep_fail_at(p, p->group_line, p->group_column,
                                    "group '%s' has no '%s' line", p->group_name,
                                    mx_sweep_keys[key].name);
    if (!check_group(p)) return false;
    const setting *ops = resolved(p, KEY_OPS), *variants = resolved(p, KEY_VARIANTS),
                  *shapes = resolved(p, KEY_SHAPES), *ms = resolved(p, KEY_M),
                  *dtypes = resolved(p, KEY_DTYPES), *dists = resolved(p, KEY_DISTS);
    double variant_total = 0;
    for (int o = 0; o < ops->count; o++)
        variant_total += variant_count(variants, &p->ops[ops->values[o].integer]);
    double group_rows =
        variant_total * shapes->count * ms->count * dtypes->count * (double)dists->count;
    double total = (double)p->sweep->count + group_rows;
    if (total > MX_SWEEP_MAX_ROWS)
        return mx_sweep_fail_at(
            p, p->group_line, p->group_column,
            "group '%s' has %.0f rows and brings the sweep to %.0f, more than the "
            "limit of %d: split the file or shorten its lists",
            p->group_name, group_rows, total, MX_SWEEP_MAX_ROWS);
    if (!mx_sweep_grow(p, (void **)&p->sweep->rows, &p->row_capacity, (int)total,
                       sizeof(mx_sweep_row)))
        return false;
    for (int o = 0; o < ops->count; o++) {
        const mx_sweep_op_vocabulary *op = &p->ops[ops->values[o].integer];
        for (int s = 0; s < shapes->count; s++)
            for (int m = 0; m < ms->count; m++)
                for (int d = 0; d < dtypes->count; d++)
                    for (int w = 0; w < dists->count; w++) {
                        const char *variant;
                        for (int v = 0; (variant = nth_variant(variants, op, v)); v++)
                            fill_row(p, &p->sweep->rows[p->sweep->count++], op, variant,
                                     &shapes->values[s], ms->values[m].integer,
                                     dtypes->values[d].name, dists->values[w].name);
                    }
    }
    return true;
}

/* ---- rows */

void mx_sweep_free(mx_sweep *sweep) {
    if (!sweep) return;
    free(sweep->rows);
    memset(sweep, 0, sizeof *sweep);
}

void mx_sweep_problem(const mx_sweep_row *row, char *text, size_t size) {
    int used =
        snprintf(text, size, "%s %lldx%lld m=%lld %s %s seed=%lld", row->op, (long long)row->n,
                 (long long)row->k, (long long)row->m, row->dtype, row->dist, (long long)row->seed);
    if (row->experts > 0 && used >= 0 && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, " experts=%lld topk=%lld",
                         (long long)row->experts, (long long)row->topk);
    if (row->batch > 1 && used >= 0 && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, " batch=%lld", (long long)row->batch);
    if (row->kv_heads > 0 && used >= 0 && (size_t)used < size)
        snprintf(text + used, size - (size_t)used, " kv_heads=%lld", (long long)row->kv_heads);
}

bool mx_sweep_same_problem(const mx_sweep_row *a, const mx_sweep_row *b) {
    char problem_a[256], problem_b[256];
    mx_sweep_problem(a, problem_a, sizeof problem_a);
    mx_sweep_problem(b, problem_b, sizeof problem_b);
    return strcmp(problem_a, problem_b) == 0;
}
