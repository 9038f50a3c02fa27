/* Sweep files (format in sweep.h): a line-by-line parser that checks every token where it stands,
 * so that each error can name its file, line and column; per-group settings over file-level
 * defaults. Each group's check and expansion into its cartesian product of rows are in
 * sweep_expand.c. */
#include "sweep.h"
#include "format.h" /* before sweep_parser.h: its type `value` would shadow parameters */
#include "sweep_parser.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"

#define MAX_TEXT_BYTES (16 << 20)
#define MAX_M          1048576
#define MAX_DIMENSION  INT64_C(2147483647) /* N and K: [1, 2^31) */
#define MAX_BUDGET_MS  1e9

static const mx_sweep_named_shape named_shapes[] = {
    {"gpt-oss.qkv", 5120, 2880, "gpt-oss QKV: hidden 2880 -> 64 query + 2 x 8 KV heads of 64"},
    {"gpt-oss.o", 2880, 4096, "gpt-oss attention output: 64 heads x 64 -> hidden 2880"},
    {"gpt-oss.mlp1", 5760, 2880, "gpt-oss expert MLP1: 2880 -> gate and linear, interleaved"},
    {"gpt-oss.mlp2", 2880, 2880,
     "gpt-oss expert MLP2: 2880 -> hidden 2880 (ffn/moe rows: intermediate x hidden)"},
    {"gpt-oss.unembed", 201088, 2880,
     "gpt-oss unembedding (and embedding table): vocabulary 201088 x hidden 2880"},
    {"gpt-oss.attn", 4096, 2880,
     "gpt-oss attention block: 64 query heads of 64 (N), hidden 2880 (K); kv_heads 8"},
    {"llama.up", 14336, 4096,
     "Llama-style MLP up/gate: 4096 -> 14336 (ffn rows: intermediate x hidden)"},
    {"llama.down", 4096, 14336, "Llama-style MLP down: 14336 -> 4096"},
    {"square4096", 4096, 4096, "square 4096 x 4096"},
    {"square8192", 8192, 8192, "square 8192 x 8192"},
};
#define NAMED_SHAPE_COUNT (int)(sizeof named_shapes / sizeof named_shapes[0])

static const char *const dtype_names[] = {MX_ACTIVATION_DTYPE_NAMES, NULL};
static const char *const dist_names[] = {"gaussian", "uniform", "heavy", "outliers", "range", NULL};

const mx_sweep_named_shape *mx_sweep_named_shapes(int *count) {
    if (count) *count = NAMED_SHAPE_COUNT;
    return named_shapes;
}

/* Printf arguments for "%.*s" of a token, cut short for the message. */
#define TOKEN_ARGS(t) ((t)->length > 80 ? 80 : (t)->length), (t)->text

static bool parse_op(parser *p, key_id key, setting *s, const token *t);
static bool parse_variant(parser *p, key_id key, setting *s, const token *t);
static bool parse_choice(parser *p, key_id key, setting *s, const token *t);
static bool parse_m(parser *p, key_id key, setting *s, const token *t);
static bool parse_shape(parser *p, key_id key, setting *s, const token *t);
static bool parse_integer(parser *p, key_id key, setting *s, const token *t);
static bool parse_number(parser *p, key_id key, setting *s, const token *t);

/* The keys: how a value is read, how many there may be, and what a missing one defaults to. */
const key_def mx_sweep_keys[KEY_COUNT] = {
    [KEY_DESCRIPTION] = {"description", "description", NULL, true, false, "a line of text", NULL, 0,
                         0, 0},
    [KEY_OPS] = {"ops", "op", parse_op, true, true, "op names", NULL, 0, 0, 0},
    [KEY_VARIANTS] = {"variants", "variant", parse_variant, true, true, "variant names or all",
                      NULL, 0, 0, 0},
    [KEY_DTYPES] = {"dtypes", "dtype", parse_choice, true, true, "f16 or bf16", dtype_names, 0, 0,
                    0},
    [KEY_DISTS] = {"dists", "dist", parse_choice, true, true,
                   "gaussian, uniform, heavy, outliers or range", dist_names, 0, 0, 0},
    [KEY_M] = {"m", "m", parse_m, true, true, "token counts or ranges A..B", NULL, 1, MAX_M, 0},
    [KEY_SHAPES] = {"shapes", "shape", parse_shape, true, true, "NxK or named shapes", NULL, 1,
                    MAX_DIMENSION, 0},
    [KEY_BATCH] = {"batch", "batch", parse_integer, false, false, "an integer", NULL, 1, 65535, 1},
    [KEY_EXPERTS] = {"experts", "experts", parse_integer, false, false, "an integer", NULL, 0, 4096,
                     0},
    [KEY_TOPK] = {"topk", "topk", parse_integer, false, false, "an integer", NULL, 0, 4096, 0},
    [KEY_KV_HEADS] = {"kv_heads", "kv_heads", parse_integer, false, false, "an integer", NULL, 0,
                      4096, 0},
    [KEY_BUDGET_MS] = {"budget_ms", "budget_ms", parse_number, false, false, "milliseconds", NULL,
                       0, 0, 0},
    [KEY_SEED] = {"seed", "seed", parse_integer, false, false, "an integer", NULL, 0, INT64_MAX, 0},
};

/* ---- errors and small helpers */

/* Writes "FILE:LINE:COL: message" (or "FILE: message" for line 0) and returns false. */
__attribute__((format(printf, 4, 5))) bool mx_sweep_fail_at(parser *p, int line, int column,
                                                            const char *format, ...) {
    if (!p->error || p->error_size == 0) return false;
    int used = line > 0
                   ? snprintf(p->error, p->error_size, "%s:%d:%d: ", p->file_name, line, column)
                   : snprintf(p->error, p->error_size, "%s: ", p->file_name);
    if (used >= 0 && (size_t)used < p->error_size) {
        va_list args;
        va_start(args, format);
        vsnprintf(p->error + used, p->error_size - (size_t)used, format, args);
        va_end(args);
    }
    return false;
}

/* Grows *array to hold at least needed elements. */
bool mx_sweep_grow(parser *p, void **array, int *capacity, int needed, size_t element_size) {
    if (needed <= *capacity) return true;
    int wanted = *capacity > 0 ? *capacity : 8;
    while (wanted < needed) wanted *= 2;
    void *bigger = realloc(*array, (size_t)wanted * element_size);
    if (!bigger) return mx_sweep_fail_at(p, p->line, 1, "out of host memory");
    *array = bigger;
    *capacity = wanted;
    return true;
}

void mx_sweep_list_add(name_list *list, const char *name) {
    size_t length = strlen(list->text);
    if (list->count > 0) list->last_separator = length;
    snprintf(list->text + length, sizeof list->text - length, "%s%s", list->count ? ", " : "",
             name);
    list->count++;
}

const char *mx_sweep_list_text(name_list *list) {
    if (list->count == 0) return "(none)";
    size_t length = strlen(list->text), at = list->last_separator;
    if (list->count >= 2 && length + 2 < sizeof list->text) {
        memmove(list->text + at + 4, list->text + at + 2, length - at - 2 + 1);
        memcpy(list->text + at, " or ", 4);
    }
    list->count = 0; /* the text is final */
    return list->text;
}

static bool token_is(const token *t, const char *word) {
    return strlen(word) == (size_t)t->length && memcmp(t->text, word, (size_t)t->length) == 0;
}

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool all_digits(const char *text, int length) {
    if (length == 0) return false;
    for (int i = 0; i < length; i++)
        if (!isdigit((unsigned char)text[i])) return false;
    return true;
}

static bool is_power_of_two(int64_t v) {
    return v > 0 && (v & (v - 1)) == 0;
}

void mx_sweep_copy_text(char *destination, size_t size, const char *source) {
    snprintf(destination, size, "%s", source);
}

/* Reads text (the whole token t, or a part of it) as an integer in [min, max]; what names the
 * quantity in messages. */
static bool read_bounded(parser *p, const token *t, const char *text, int length, const char *what,
                         int64_t min, int64_t max, int64_t *out) {
    char context[128] = "";
    int shown = length > 80 ? 80 : length;
    if (text != t->text || length != t->length)
        snprintf(context, sizeof context, " in '%.*s'", TOKEN_ARGS(t));
    if (!all_digits(text, length))
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "bad integer '%.*s'%s for %s: expected a whole number in [%lld, %lld]", shown, text,
            context, what, (long long)min, (long long)max);
    int64_t v = 0;
    bool too_large = false;
    for (int i = 0; i < length && !too_large; i++) {
        int digit = text[i] - '0';
        if (v > (INT64_MAX - digit) / 10)
            too_large = true;
        else
            v = v * 10 + digit;
    }
    if (too_large || v < min || v > max)
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "%s '%.*s'%s is out of range: expected a whole number in [%lld, %lld]", what, shown,
            text, context, (long long)min, (long long)max);
    *out = v;
    return true;
}

/* ---- values */

static bool same_value(key_id key, const value *a, const value *b) {
    if (key == KEY_SHAPES) return a->integer == b->integer && a->k == b->k;
    if (a->all || b->all) return a->all && b->all;
    if (a->name && b->name) return strcmp(a->name, b->name) == 0;
    return a->integer == b->integer;
}

/* Appends v (read from token t) to s; a value listed twice would repeat rows, so it is an error.
 * At most MX_SWEEP_MAX_VALUES per key: the duplicate check stays fast, and a longer list is a
 * mistake long before the row limit would say so. */
static bool add_value(parser *p, key_id key, setting *s, const token *t, value v) {
    v.line = p->line;
    v.column = t->column;
    if (s->count >= MX_SWEEP_MAX_VALUES)
        return mx_sweep_fail_at(p, p->line, t->column, "more than %d %s values on one line",
                                MX_SWEEP_MAX_VALUES, mx_sweep_keys[key].name);
    for (int i = 0; i < s->count; i++) {
        const value *earlier = &s->values[i];
        if (same_value(key, earlier, &v)) {
            if (key == KEY_M)
                return mx_sweep_fail_at(p, p->line, t->column,
                                        "m value %lld in '%.*s' is already listed at column %d",
                                        (long long)v.integer, TOKEN_ARGS(t), earlier->column);
            if (key == KEY_SHAPES)
                return mx_sweep_fail_at(p, p->line, t->column,
                                        "shape '%.*s' (%lldx%lld) is already listed at column %d",
                                        TOKEN_ARGS(t), (long long)v.integer, (long long)v.k,
                                        earlier->column);
            return mx_sweep_fail_at(p, p->line, t->column,
                                    "%s '%.*s' is already listed at column %d",
                                    mx_sweep_keys[key].noun, TOKEN_ARGS(t), earlier->column);
        }
        if (earlier->all || v.all)
            return mx_sweep_fail_at(
                p, p->line, t->column,
                "variant '%.*s' cannot be combined with 'all' in one variants line", TOKEN_ARGS(t));
    }
    if (!mx_sweep_grow(p, (void **)&s->values, &s->capacity, s->count + 1, sizeof *s->values))
        return false;
    s->values[s->count++] = v;
    return true;
}

static bool parse_op(parser *p, key_id key, setting *s, const token *t) {
    name_list known = {0};
    for (int i = 0; i < p->op_count; i++) {
        if (token_is(t, p->ops[i].op))
            return add_value(p, key, s, t, (value){.name = p->ops[i].op, .integer = i});
        mx_sweep_list_add(&known, p->ops[i].op);
    }
    return mx_sweep_fail_at(p, p->line, t->column, "unknown op '%.*s': expected %s", TOKEN_ARGS(t),
                            mx_sweep_list_text(&known));
}

bool mx_sweep_op_has_variant(const mx_sweep_op_vocabulary *op, const char *variant) {
    for (const char *const *v = op->variants; *v; v++)
        if (strcmp(*v, variant) == 0) return true;
    return false;
}

/* A variant name must belong to some op of the vocabulary here; whether an op of its group has
 * it is checked when the group is complete (the ops line may come later or be inherited). */
static bool parse_variant(parser *p, key_id key, setting *s, const token *t) {
    if (token_is(t, "all")) return add_value(p, key, s, t, (value){.all = true});
    name_list known = {0};
    mx_sweep_list_add(&known, "all");
    for (int i = 0; i < p->op_count; i++) {
        for (const char *const *v = p->ops[i].variants; *v; v++) {
            if (token_is(t, *v)) return add_value(p, key, s, t, (value){.name = *v});
            bool listed = false;
            for (int j = 0; j < i && !listed; j++) listed = mx_sweep_op_has_variant(&p->ops[j], *v);
            if (!listed) mx_sweep_list_add(&known, *v);
        }
    }
    return mx_sweep_fail_at(p, p->line, t->column, "unknown variant '%.*s': expected %s",
                            TOKEN_ARGS(t), mx_sweep_list_text(&known));
}

static bool parse_choice(parser *p, key_id key, setting *s, const token *t) {
    for (const char *const *choice = mx_sweep_keys[key].choices; *choice; choice++)
        if (token_is(t, *choice)) return add_value(p, key, s, t, (value){.name = *choice});
    return mx_sweep_fail_at(p, p->line, t->column, "unknown %s '%.*s': expected %s",
                            mx_sweep_keys[key].noun, TOKEN_ARGS(t), mx_sweep_keys[key].expected);
}

/* An integer, or A..B: the powers of two from A to B. */
static bool parse_m(parser *p, key_id key, setting *s, const token *t) {
    int64_t first, last;
    const char *dots = NULL;
    for (int i = 0; i + 1 < t->length && !dots; i++)
        if (t->text[i] == '.' && t->text[i + 1] == '.') dots = t->text + i;
    if (!dots) {
        if (!read_bounded(p, t, t->text, t->length, "m", mx_sweep_keys[key].min,
                          mx_sweep_keys[key].max, &first))
            return false;
        return add_value(p, key, s, t, (value){.integer = first});
    }
    int first_length = (int)(dots - t->text), last_length = t->length - first_length - 2;
    if (!read_bounded(p, t, t->text, first_length, "range start", mx_sweep_keys[key].min,
                      mx_sweep_keys[key].max, &first) ||
        !read_bounded(p, t, dots + 2, last_length, "range end", mx_sweep_keys[key].min,
                      mx_sweep_keys[key].max, &last))
        return false;
    if (!is_power_of_two(first) || !is_power_of_two(last))
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "range '%.*s': %lld is not a power of two: expected A..B with A and B "
            "powers of two",
            TOKEN_ARGS(t), (long long)(is_power_of_two(first) ? last : first));
    if (first > last)
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "range '%.*s': start %lld is greater than end %lld: expected A <= B", TOKEN_ARGS(t),
            (long long)first, (long long)last);
    for (int64_t m = first; m <= last; m *= 2)
        if (!add_value(p, key, s, t, (value){.integer = m})) return false;
    return true;
}

static bool parse_shape(parser *p, key_id key, setting *s, const token *t) {
    name_list known = {0};
    for (int i = 0; i < NAMED_SHAPE_COUNT; i++) {
        const mx_sweep_named_shape *named = &named_shapes[i];
        if (token_is(t, named->name))
            return add_value(p, key, s, t,
                             (value){.name = named->name, .integer = named->n, .k = named->k});
        mx_sweep_list_add(&known, named->name);
    }
    const char *x = memchr(t->text, 'x', (size_t)t->length);
    int n_length = x ? (int)(x - t->text) : 0, k_length = t->length - n_length - 1;
    if (!x || !all_digits(t->text, n_length) || !all_digits(x + 1, k_length))
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "unknown shape '%.*s': expected NxK (e.g. 4096x4096) or a named shape: %s",
            TOKEN_ARGS(t), mx_sweep_list_text(&known));
    int64_t n, k;
    if (!read_bounded(p, t, t->text, n_length, "N", mx_sweep_keys[key].min, mx_sweep_keys[key].max,
                      &n) ||
        !read_bounded(p, t, x + 1, k_length, "K", mx_sweep_keys[key].min, mx_sweep_keys[key].max,
                      &k))
        return false;
    if (k % 32 != 0)
        return mx_sweep_fail_at(
            p, p->line, t->column,
            "shape '%.*s': K = %lld is not a multiple of 32 (the MXFP4 block size)", TOKEN_ARGS(t),
            (long long)k);
    return add_value(p, key, s, t, (value){.name = "", .integer = n, .k = k});
}

static bool parse_integer(parser *p, key_id key, setting *s, const token *t) {
    int64_t v;
    if (!read_bounded(p, t, t->text, t->length, mx_sweep_keys[key].name, mx_sweep_keys[key].min,
                      mx_sweep_keys[key].max, &v))
        return false;
    return add_value(p, key, s, t, (value){.integer = v});
}

static bool parse_number(parser *p, key_id key, setting *s, const token *t) {
    char text[64];
    double v = NAN;
    if (t->length < (int)sizeof text) {
        memcpy(text, t->text, (size_t)t->length);
        text[t->length] = '\0';
        char *end;
        v = strtod(text, &end);
        if (end != text + t->length) v = NAN;
    }
    if (!isfinite(v) || v < 0 || v > MAX_BUDGET_MS)
        return mx_sweep_fail_at(p, p->line, t->column,
                                "bad number '%.*s' for %s: expected milliseconds in [0, %.0f]",
                                TOKEN_ARGS(t), mx_sweep_keys[key].name, MAX_BUDGET_MS);
    return add_value(p, key, s, t, (value){.number = v});
}

/* ---- lines */

/* `[name]`: finishes the group before it and starts a new one. open: index of '[' in line. */
static bool parse_group_header(parser *p, const char *line, int length, int open) {
    if (p->in_group && !mx_sweep_finish_group(p)) return false;
    int end = length;
    while (end > open && is_blank(line[end - 1])) end--;
    const char *close = memchr(line + open, ']', (size_t)(end - open));
    if (!close)
        return mx_sweep_fail_at(p, p->line, open + 1,
                                "unterminated group header '%.*s': expected ']'", end - open,
                                line + open);
    const char *name = line + open + 1;
    int name_length = (int)(close - name);
    if (name_length == 0)
        return mx_sweep_fail_at(p, p->line, open + 1,
                                "empty group name '[]': expected letters, digits, '-', '_' or '.'");
    for (int i = 0; i < name_length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.') continue;
        char shown[8];
        if (isprint(c))
            snprintf(shown, sizeof shown, "'%c'", c);
        else
            snprintf(shown, sizeof shown, "0x%02x", c);
        return mx_sweep_fail_at(
            p, p->line, open + 2 + i,
            "bad character %s in group name '%.*s': expected letters, digits, '-', "
            "'_' or '.'",
            shown, name_length, name);
    }
    if (name_length >= (int)sizeof p->group_name)
        return mx_sweep_fail_at(p, p->line, open + 2,
                                "group name '%.*s' is %d characters long: at most %d", name_length,
                                name, name_length, (int)sizeof p->group_name - 1);
    int after = (int)(close - line) + 1;
    while (after < end && is_blank(line[after])) after++;
    if (after < end)
        return mx_sweep_fail_at(p, p->line, after + 1,
                                "unexpected '%.*s' after group header '[%.*s]'", end - after,
                                line + after, name_length, name);
    if (p->group_count >= MX_SWEEP_MAX_GROUPS)
        return mx_sweep_fail_at(p, p->line, open + 1, "more than %d groups in one file",
                                MX_SWEEP_MAX_GROUPS);
    for (int g = 0; g < p->group_count; g++)
        if (strlen(p->groups[g].name) == (size_t)name_length &&
            memcmp(p->groups[g].name, name, (size_t)name_length) == 0)
            return mx_sweep_fail_at(p, p->line, open + 1,
                                    "duplicate group '%.*s' (first at line %d)", name_length, name,
                                    p->groups[g].line);
    if (!mx_sweep_grow(p, (void **)&p->groups, &p->group_capacity, p->group_count + 1,
                       sizeof *p->groups))
        return false;
    group_seen *seen = &p->groups[p->group_count++];
    snprintf(seen->name, sizeof seen->name, "%.*s", name_length, name);
    seen->line = p->line;
    mx_sweep_copy_text(p->group_name, sizeof p->group_name, seen->name);
    p->group_line = p->line;
    p->group_column = open + 1;
    p->in_group = true;
    for (int key = 0; key < KEY_COUNT; key++) {
        p->group[key].present = false;
        p->group[key].count = 0;
    }
    return true;
}

static bool parse_key_line(parser *p) {
    const token *key_token = &p->tokens[0];
    int key = 0;
    while (key < KEY_COUNT && !token_is(key_token, mx_sweep_keys[key].name)) key++;
    if (key == KEY_COUNT) {
        name_list known = {0};
        for (int k = 0; k < KEY_COUNT; k++) mx_sweep_list_add(&known, mx_sweep_keys[k].name);
        return mx_sweep_fail_at(p, p->line, key_token->column, "unknown key '%.*s': expected %s",
                                TOKEN_ARGS(key_token), mx_sweep_list_text(&known));
    }
    if (key == KEY_DESCRIPTION && p->in_group)
        return mx_sweep_fail_at(
            p, p->line, key_token->column,
            "key 'description' inside group '%s': expected it at file level, before "
            "the first [group]",
            p->group_name);
    setting *s = p->in_group ? &p->group[key] : &p->defaults[key];
    if (s->present) {
        char where[96] = "the file-level defaults";
        if (p->in_group) snprintf(where, sizeof where, "group '%s'", p->group_name);
        return mx_sweep_fail_at(p, p->line, key_token->column,
                                "duplicate key '%s' in %s (first at line %d)",
                                mx_sweep_keys[key].name, where, s->line);
    }
    *s = (setting){.present = true,
                   .line = p->line,
                   .column = key_token->column,
                   .values = s->values,
                   .capacity = s->capacity};
    if (p->token_count < 2)
        return mx_sweep_fail_at(p, p->line, key_token->column, "key '%s' has no value: expected %s",
                                mx_sweep_keys[key].name, mx_sweep_keys[key].expected);
    if (key == KEY_DESCRIPTION) {
        const token *first = &p->tokens[1], *last = &p->tokens[p->token_count - 1];
        int length = (int)(last->text + last->length - first->text);
        if (length >= (int)sizeof p->sweep->description)
            return mx_sweep_fail_at(p, p->line, first->column,
                                    "description is %d characters long: at most %d", length,
                                    (int)sizeof p->sweep->description - 1);
        memcpy(p->sweep->description, first->text, (size_t)length);
        p->sweep->description[length] = '\0';
        return true;
    }
    if (!mx_sweep_keys[key].list && p->token_count > 2)
        return mx_sweep_fail_at(p, p->line, p->tokens[2].column,
                                "key '%s' takes one value: unexpected '%.*s'",
                                mx_sweep_keys[key].name, TOKEN_ARGS(&p->tokens[2]));
    for (int i = 1; i < p->token_count; i++)
        if (!mx_sweep_keys[key].parse(p, (key_id)key, s, &p->tokens[i])) return false;
    return true;
}

/* One line without its comment. */
static bool parse_line(parser *p, const char *line, int length) {
    p->token_count = 0;
    for (int i = 0; i < length;) {
        if (is_blank(line[i])) {
            i++;
            continue;
        }
        int begin = i;
        while (i < length && !is_blank(line[i])) i++;
        if (!mx_sweep_grow(p, (void **)&p->tokens, &p->token_capacity, p->token_count + 1,
                           sizeof *p->tokens))
            return false;
        p->tokens[p->token_count++] = (token){line + begin, i - begin, begin + 1};
    }
    if (p->token_count == 0) return true;
    if (p->tokens[0].text[0] == '[')
        return parse_group_header(p, line, length, p->tokens[0].column - 1);
    return parse_key_line(p);
}

static bool check_vocabulary(parser *p) {
    if (p->op_count < 0 || (p->op_count > 0 && !p->ops))
        return mx_sweep_fail_at(p, 0, 0, "invalid op vocabulary: %d ops at %p", p->op_count,
                                (const void *)p->ops);
    for (int i = 0; i < p->op_count; i++) {
        const mx_sweep_op_vocabulary *op = &p->ops[i];
        if (!op->op || !op->op[0] || strlen(op->op) >= sizeof p->sweep->rows->op || !op->variants)
            return mx_sweep_fail_at(p, 0, 0,
                                    "invalid op vocabulary: op %d ('%s') needs a name of 1 to %d "
                                    "characters and a variant list",
                                    i, op->op ? op->op : "(null)",
                                    (int)sizeof p->sweep->rows->op - 1);
        for (const char *const *v = op->variants; *v; v++)
            if (!(*v)[0] || strlen(*v) >= sizeof p->sweep->rows->variant)
                return mx_sweep_fail_at(p, 0, 0,
                                        "invalid op vocabulary: op '%s' has a variant '%s': "
                                        "expected 1 to %d characters",
                                        op->op, *v, (int)sizeof p->sweep->rows->variant - 1);
    }
    return true;
}

static bool parse_all(parser *p, const char *text) {
    if (!check_vocabulary(p)) return false;
    if (!text) return mx_sweep_fail_at(p, 0, 0, "no text to parse");
    size_t text_length = strlen(text);
    if (text_length > MAX_TEXT_BYTES)
        return mx_sweep_fail_at(p, 0, 0, "%zu bytes: a sweep file holds at most %d", text_length,
                                MAX_TEXT_BYTES);
    for (const char *cursor = text; *cursor;) {
        p->line++;
        const char *end = strchr(cursor, '\n');
        if (!end) end = cursor + strlen(cursor);
        const char *comment = memchr(cursor, '#', (size_t)(end - cursor));
        if (!parse_line(p, cursor, (int)((comment ? comment : end) - cursor))) return false;
        cursor = *end ? end + 1 : end;
    }
    if (!p->in_group) { /* no [group]: the whole file is one, named after it */
        mx_sweep_copy_text(p->group_name, sizeof p->group_name, p->sweep->name);
        p->group_line = p->group_column = 1;
    }
    return mx_sweep_finish_group(p);
}

/* "harness/sweeps/standard.sweep" -> "standard". */
static void file_stem(const char *file_name, char *stem, size_t size) {
    const char *base = strrchr(file_name, '/');
    base = base ? base + 1 : file_name;
    const char *dot = strrchr(base, '.');
    int length = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(stem, size, "%.*s", length, base);
}

bool mx_sweep_parse_text(const char *text, const char *file_name, const mx_sweep_op_vocabulary *ops,
                         int op_count, mx_sweep *sweep, char *error, size_t error_size) {
    memset(sweep, 0, sizeof *sweep);
    if (error && error_size) error[0] = '\0';
    parser p = {.file_name = file_name ? file_name : "(sweep)",
                .ops = ops,
                .op_count = op_count,
                .sweep = sweep,
                .error = error,
                .error_size = error_size};
    file_stem(p.file_name, sweep->name, sizeof sweep->name);
    bool ok = parse_all(&p, text);
    for (int key = 0; key < KEY_COUNT; key++) {
        free(p.defaults[key].values);
        free(p.group[key].values);
    }
    free(p.groups);
    free(p.tokens);
    if (!ok) mx_sweep_free(sweep);
    return ok;
}

bool mx_sweep_parse_file(const char *path, const mx_sweep_op_vocabulary *ops, int op_count,
                         mx_sweep *sweep, char *error, size_t error_size) {
    memset(sweep, 0, sizeof *sweep);
    char why[256];
    FILE *file = mx_open_input(path, why, sizeof why);
    struct stat info;
    const char *problem = NULL;
    if (!file)
        problem = why;
    else if (fstat(fileno(file), &info) != 0)
        problem = strerror(errno);
    else if (info.st_size > MAX_TEXT_BYTES)
        problem = "larger than 16 MiB";
    char *text = problem ? NULL : malloc((size_t)info.st_size + 1);
    if (!problem && !text) problem = "out of host memory";
    if (!problem) {
        size_t got = fread(text, 1, (size_t)info.st_size, file);
        if (got != (size_t)info.st_size)
            problem = ferror(file) ? strerror(errno) : "short read";
        else
            text[got] = '\0';
        if (!problem && memchr(text, '\0', got)) problem = "contains a NUL byte: not a text file";
    }
    if (file) fclose(file);
    if (problem) {
        if (error && error_size)
            snprintf(error, error_size, "%s: cannot read sweep file: %s", path, problem);
        free(text);
        return false;
    }
    bool ok = mx_sweep_parse_text(text, path, ops, op_count, sweep, error, error_size);
    free(text);
    return ok;
}
