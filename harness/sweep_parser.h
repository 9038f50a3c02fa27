/* The sweep parser's own data, shared by its parts: sweep.c (lines, keys and values read where
 * they stand) and sweep_expand.c (a finished group checked and expanded into rows). Not part of
 * the harness's interface. */
#ifndef MX_SWEEP_PARSER_H
#define MX_SWEEP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sweep.h"

/* A token of the current line: not NUL-terminated, column 1-based. */
typedef struct {
    const char *text;
    int length;
    int column;
} token;

/* One value of a key line and the token it came from. */
typedef struct {
    int line, column;
    bool all;         /* variants `all` */
    const char *name; /* op, variant, dtype, dist, or a shape's name ("" for NxK) */
    int64_t integer;  /* m, batch, experts, topk, seed; an op's index; a shape's N */
    int64_t k;        /* a shape's K */
    double number;    /* budget_ms */
} value;

/* A key's line in one group or at file level. */
typedef struct {
    bool present;
    int line, column; /* of the key */
    value *values;
    int count, capacity;
} setting;

typedef enum {
    KEY_DESCRIPTION,
    KEY_OPS,
    KEY_VARIANTS,
    KEY_DTYPES,
    KEY_DISTS,
    KEY_M,
    KEY_SHAPES,
    KEY_BATCH,
    KEY_EXPERTS,
    KEY_TOPK,
    KEY_KV_HEADS,
    KEY_BUDGET_MS,
    KEY_SEED,
    KEY_COUNT
} key_id;

typedef struct {
    char name[64];
    int line;
} group_seen;

typedef struct {
    const char *file_name;
    const mx_sweep_op_vocabulary *ops;
    int op_count;
    mx_sweep *sweep;
    int row_capacity;
    char *error;
    size_t error_size;
    int line;
    setting defaults[KEY_COUNT], group[KEY_COUNT];
    bool in_group;
    char group_name[64];
    int group_line, group_column;
    group_seen *groups;
    int group_count, group_capacity;
    token *tokens;
    int token_count, token_capacity;
} parser;

typedef bool (*value_parser)(parser *p, key_id key, setting *s, const token *t);

/* A key: how a value is read, how many there may be, and what a missing one defaults to. */
typedef struct {
    const char *name, *noun; /* noun: one value, in messages */
    value_parser parse;      /* one value token; NULL for description (the rest of the line) */
    bool list, required;
    const char *expected; /* what the values look like, for messages */
    const char *const *choices;
    int64_t min, max, fallback; /* integer keys */
} key_def;

/* "a, b or c" for messages. */
typedef struct {
    char text[640];
    size_t last_separator;
    int count;
} name_list;

/* ---- sweep.c */

extern const key_def mx_sweep_keys[KEY_COUNT];
/* Writes "FILE:LINE:COL: message" (or "FILE: message" for line 0) and returns false. */
__attribute__((format(printf, 4, 5))) bool mx_sweep_fail_at(parser *p, int line, int column,
                                                            const char *format, ...);
/* Grows *array to hold at least needed elements; false (said) out of memory. */
bool mx_sweep_grow(parser *p, void **array, int *capacity, int needed, size_t element_size);
/* "a, b or c" for messages: names added one by one, then the text, once ("(none)" if empty). */
void mx_sweep_list_add(name_list *list, const char *name);
const char *mx_sweep_list_text(name_list *list);
bool mx_sweep_op_has_variant(const mx_sweep_op_vocabulary *op, const char *variant);
void mx_sweep_copy_text(char *destination, size_t size, const char *source);

/* ---- sweep_expand.c */

/* Checks the finished group and appends its rows. */
bool mx_sweep_finish_group(parser *p);

#endif
