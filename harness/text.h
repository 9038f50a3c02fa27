/* The harness's growing string: appended to and printed into without a size limit, with a sticky
 * out-of-memory flag instead of a failure per call. Used for the report's documents, plot data,
 * command lines and file contents. */
#ifndef MX_TEXT_H
#define MX_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t length, capacity;
    bool failed; /* out of memory: the text is incomplete */
} mx_text;

/* {0} is the empty text; mx_text_free makes it empty again. */
void mx_text_append(mx_text *t, const char *bytes, size_t count);
void mx_text_vprintf(mx_text *t, const char *format, va_list args);
void mx_text_printf(mx_text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Appends value with every byte of an invalid UTF-8 sequence (overlong forms, surrogates, code
 * points above U+10FFFF, truncated sequences) replaced by U+FFFD, so that it may go into JSON. */
void mx_text_append_utf8(mx_text *t, const char *value);
/* The text so far ("" when empty); valid until the next change. */
const char *mx_text_get(const mx_text *t);
void mx_text_free(mx_text *t);

/* value with a comma between every three digits ("20,914,757,184"). */
void mx_format_grouped(char *out, size_t size, long long value);

/* value in format, or "?" when it is unknown (NaN). */
void mx_format_known(char *out, size_t size, double value, const char *format);

/* The whole regular file in a new buffer (NUL-terminated, the caller frees it); NULL with why on
 * failure (a FIFO or device is refused unread: files.h). size (may be NULL) gets its length. */
char *mx_read_whole_file(const char *path, size_t *size, char *why, size_t why_size);

/* snprintf for messages, labels and paths into fixed buffers, which may be cut (through
 * vsnprintf, so that GCC's truncation warnings do not ask for buffers sized for any path). */
void mx_format_text(char *text, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* mx_format_text into error, returning false: `return mx_format_fail(error, size, "...", ...);`. */
bool mx_format_fail(char *error, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends to the text already in the buffer (nothing when it is full). */
void mx_format_append(char *text, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
