/* The growing string (text.h). */
#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

void mx_text_append(mx_text *t, const char *bytes, size_t count) {
    if (t->failed) return;
    if (t->length + count + 1 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 4096;
        while (t->length + count + 1 > capacity) capacity *= 2;
        char *data = realloc(t->data, capacity);
        if (!data) {
            t->failed = true;
            return;
        }
        t->data = data;
        t->capacity = capacity;
    }
    memcpy(t->data + t->length, bytes, count);
    t->length += count;
    t->data[t->length] = '\0';
}

void mx_text_vprintf(mx_text *t, const char *format, va_list args) {
    va_list copy;
    va_copy(copy, args);
    char small[512];
    int length = vsnprintf(small, sizeof small, format, args);
    if (length < 0) {
        t->failed = true;
    } else if ((size_t)length < sizeof small) {
        mx_text_append(t, small, (size_t)length);
    } else {
        char *large = malloc((size_t)length + 1);
        if (large) {
            vsnprintf(large, (size_t)length + 1, format, copy);
            mx_text_append(t, large, (size_t)length);
        }
        t->failed |= large == NULL;
        free(large);
    }
    va_end(copy);
}

void mx_text_printf(mx_text *t, const char *format, ...) {
    va_list args;
    va_start(args, format);
    mx_text_vprintf(t, format, args);
    va_end(args);
}

const char *mx_text_get(const mx_text *t) {
    return t->data ? t->data : "";
}

void mx_text_free(mx_text *t) {
    free(t->data);
    *t = (mx_text){0};
}

void mx_format_known(char *out, size_t size, double value, const char *format) {
    if (isfinite(value))
        snprintf(out, size, format, value);
    else
        snprintf(out, size, "?");
}

char *mx_read_whole_file(const char *path, size_t *size, char *why, size_t why_size) {
    FILE *file = mx_open_input(path, why, why_size);
    if (!file) return NULL;
    mx_text content = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, file)) > 0) mx_text_append(&content, chunk, got);
    bool failed = ferror(file) || content.failed;
    fclose(file);
    if (failed) {
        snprintf(why, why_size, "%s", content.failed ? "out of host memory" : strerror(EIO));
        mx_text_free(&content);
        return NULL;
    }
    if (size) *size = content.length;
    return content.data ? content.data : calloc(1, 1);
}

void mx_format_text(char *text, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(text, size, format, args);
    va_end(args);
}

bool mx_format_fail(char *error, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(error, size, format, args);
    va_end(args);
    return false;
}

void mx_format_append(char *text, size_t size, const char *format, ...) {
    size_t used = strlen(text);
    if (used + 1 >= size) return;
    va_list args;
    va_start(args, format);
    vsnprintf(text + used, size - used, format, args);
    va_end(args);
}

/* Length of the valid UTF-8 sequence at text, 0 when it is not one. */
static int utf8_sequence_length(const unsigned char *text) {
    unsigned lead = text[0], code_point, smallest;
    int length;
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, code_point = lead & 0x1F, smallest = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, code_point = lead & 0x0F, smallest = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) {
        if ((text[i] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
        code_point = code_point << 6 | (text[i] & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

void mx_text_append_utf8(mx_text *t, const char *value) {
    const unsigned char *text = (const unsigned char *)value;
    for (size_t i = 0; text[i];) {
        int length = utf8_sequence_length(text + i);
        if (length > 0) {
            mx_text_append(t, (const char *)text + i, (size_t)length);
            i += (size_t)length;
        } else {
            mx_text_append(t, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        }
    }
}

void mx_format_grouped(char *out, size_t size, long long value) {
    char digits[32];
    int length = snprintf(digits, sizeof digits, "%lld", value < 0 ? -value : value);
    size_t at = 0;
    if (value < 0 && at + 1 < size) out[at++] = '-';
    for (int i = 0; i < length && at + 1 < size; i++) {
        if (i > 0 && (length - i) % 3 == 0 && at + 2 < size) out[at++] = ',';
        out[at++] = digits[i];
    }
    if (size) out[at < size ? at : size - 1] = '\0';
}
