/* What gemm.h's list of GEMM variants gives: their names (gemm.h), which run MXFP4 (dispatch.h),
 * and the checks of a variant argument (dense_gemm.h). Plain C, so that the dispatch table's
 * reader (dispatch.c) needs no CUDA code. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "dense_gemm.h"
#include "dispatch.h"
#include "fail.h"

/* The names from gemm.h's list; the blocks take the variants before the first kept one (its
 * entry ends their list). */
#define MX_NAME(id, name, ...)                         name,
#define MX_BLOCK_NAME(id, name, runs_mxfp4, kept, ...) (kept) ? NULL : name,
const char *const mx_gemm_variant_names[MX_GEMM_VARIANT_COUNT + 1] = {MX_GEMM_VARIANT_LIST(MX_NAME)
                                                                          NULL};
const char *const mx_gemm_block_variant_names[MX_GEMM_VARIANT_COUNT + 1] = {
    MX_GEMM_VARIANT_LIST(MX_BLOCK_NAME) NULL};
#define MX_KEPT(id, name, runs_mxfp4, kept, ...) +(kept)
enum { MX_GEMM_KEPT_COUNT = 0 MX_GEMM_VARIANT_LIST(MX_KEPT) };
#define MX_KEPT_LAST(id, name, runs_mxfp4, kept, ...)                                              \
    &&(kept) == (MX_GEMM_##id >= MX_GEMM_VARIANT_COUNT - MX_GEMM_KEPT_COUNT)
static_assert(1 MX_GEMM_VARIANT_LIST(MX_KEPT_LAST), "the kept variants come last");

#define MX_RUNS_MXFP4(id, name, runs_mxfp4, ...) runs_mxfp4,
static const bool mx_runs_mxfp4[MX_GEMM_VARIANT_COUNT] = {MX_GEMM_VARIANT_LIST(MX_RUNS_MXFP4)};
#define MX_MXFP4_NAME(id, name, runs_mxfp4, ...) (runs_mxfp4) ? name : NULL,
static const char *const mx_mxfp4_names[MX_GEMM_VARIANT_COUNT] = {
    MX_GEMM_VARIANT_LIST(MX_MXFP4_NAME)};

/* "a, b, ... <last> z" from the names among names[0 .. count) (NULL: none, or the end), into
 * text (which mx_fail then copies). */
static const char *mx_join_names(const char *const *names, int count, const char *last, char *text,
                                 size_t size) {
    size_t used = 0;
    text[0] = '\0';
    for (int v = 0, written_names = 0; v < count; v++) {
        if (!names[v]) continue;
        bool more = false;
        for (int w = v + 1; w < count && !more; w++) more = names[w] != NULL;
        const char *separator = written_names++ == 0 ? "" : more ? ", " : last;
        int written = snprintf(text + used, size - used, "%s%s", separator, names[v]);
        used += written > 0 && (size_t)written < size - used ? (size_t)written : 0;
    }
    return text;
}

bool mx_gemm_variant_runs_mxfp4(mx_gemm_variant variant) {
    return (unsigned)variant < MX_GEMM_VARIANT_COUNT && mx_runs_mxfp4[variant];
}

const char *mx_gemm_mxfp4_variant_names(const char *last, char *text, size_t size) {
    return mx_join_names(mx_mxfp4_names, MX_GEMM_VARIANT_COUNT, last, text, size);
}

/* The variant named name, or -1. */
static int mx_find_variant(const char *name) {
    for (int v = 0; name && v < MX_GEMM_VARIANT_COUNT; v++)
        if (strcmp(name, mx_gemm_variant_names[v]) == 0) return v;
    return -1;
}

bool mx_gemm_dispatch_candidate_named(const char *name, mx_gemm_variant *variant) {
    int v = mx_find_variant(name);
    if (v < 0) return false;
    *variant = (mx_gemm_variant)v;
    return mx_gemm_variant_runs_mxfp4(*variant);
}

const char *mx_gemm_variant_name(mx_gemm_variant variant) {
    return (unsigned)variant < MX_GEMM_VARIANT_COUNT ? mx_gemm_variant_names[variant] : "unknown";
}

mx_status mx_gemm_variant_from_name(const char *name, mx_gemm_variant *variant) {
    int v = mx_find_variant(name);
    if (v >= 0) {
        *variant = (mx_gemm_variant)v;
        return MX_OK;
    }
    char known[128];
    return mx_fail(
        MX_ERR_INVALID_ARGUMENT, "unknown GEMM variant '%s': expected %s", name ? name : "(null)",
        mx_join_names(mx_gemm_variant_names, MX_GEMM_VARIANT_COUNT, " or ", known, sizeof known));
}

mx_status mx_check_variant_value(mx_gemm_variant variant) {
    if ((unsigned)variant >= MX_GEMM_VARIANT_COUNT)
        return mx_fail(MX_ERR_INVALID_ARGUMENT, "variant = %d: not an mx_gemm_variant",
                       (int)variant);
    return MX_OK;
}

mx_status mx_gemm_check_block_variant(mx_gemm_variant variant, const char *block,
                                      const char *why_not_persistent) {
    MX_TRY(mx_check_variant_value(variant));
    if (variant < MX_GEMM_VARIANT_COUNT - MX_GEMM_KEPT_COUNT) return MX_OK;
    char known[128];
    return mx_fail(MX_ERR_INVALID_ARGUMENT, "variant %s: not supported by %s (%s); expected %s",
                   mx_gemm_variant_name(variant), block, why_not_persistent,
                   mx_join_names(mx_gemm_block_variant_names, MX_GEMM_VARIANT_COUNT, " or ", known,
                                 sizeof known));
}
