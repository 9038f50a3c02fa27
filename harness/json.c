/* The JSON writer behind run.json: a text buffer, a stack of open containers that decides where
 * commas, line breaks and indentation go, and a first-misuse record instead of malformed output. */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "text.h"

enum { MAX_DEPTH = 64 };

typedef struct {
    char kind;       /* '{' or '[' */
    long item_count; /* members or elements written so far */
} open_container;

struct mx_json {
    mx_text text;
    open_container stack[MAX_DEPTH];
    int depth;
    bool key_pending; /* a key was written and its value is due */
    bool root_done;
    char error[160];
};

static void misuse(mx_json *json, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void misuse(mx_json *json, const char *format, ...) {
    if (json->error[0]) return;
    va_list args;
    va_start(args, format);
    vsnprintf(json->error, sizeof json->error, format, args);
    va_end(args);
}

static void append_bytes(mx_json *json, const char *bytes, size_t count) {
    if (json->error[0]) return;
    mx_text_append(&json->text, bytes, count);
    if (json->text.failed) misuse(json, "out of memory");
}

static void append(mx_json *json, const char *text) {
    append_bytes(json, text, strlen(text));
}

static void new_line(mx_json *json) {
    append(json, "\n");
    for (int level = 0; level < json->depth; level++) append(json, "  ");
}

mx_json *mx_json_create(void) {
    return calloc(1, sizeof(mx_json));
}

void mx_json_free(mx_json *json) {
    if (!json) return;
    mx_text_free(&json->text);
    free(json);
}

/* Places the separator a new value needs; false (and nothing written) where no value may go. */
static bool begin_value(mx_json *json, const char *what) {
    if (json->error[0]) return false;
    if (json->depth == 0) {
        if (json->root_done) misuse(json, "%s after the top-level value was finished", what);
        return !json->root_done;
    }
    open_container *top = &json->stack[json->depth - 1];
    if (top->kind == '{') {
        if (!json->key_pending) misuse(json, "%s inside an object without a key before it", what);
        json->key_pending = false;
        return !json->error[0];
    }
    if (top->item_count++ > 0) append(json, ",");
    new_line(json);
    return true;
}

static void end_value(mx_json *json) {
    if (json->depth == 0 && !json->error[0]) {
        json->root_done = true;
        append(json, "\n");
    }
}

static void write_scalar(mx_json *json, const char *what, const char *text) {
    if (!begin_value(json, what)) return;
    append(json, text);
    end_value(json);
}

/* Length of the valid UTF-8 sequence (1 to 4 bytes) starting at text, 0 if it is not one
 * (a stray continuation byte, a truncated or overlong sequence, a surrogate, above U+10FFFF). */
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

static void append_quoted(mx_json *json, const char *value) {
    const unsigned char *text = (const unsigned char *)value;
    append(json, "\"");
    for (size_t i = 0; text[i];) {
        size_t run = i; /* bytes copied as they are */
        int length;
        while (text[run] >= 0x20 && text[run] != '"' && text[run] != '\\' &&
               (length = utf8_sequence_length(text + run)) > 0)
            run += (size_t)length;
        append_bytes(json, value + i, run - i);
        i = run;
        if (!text[i]) break;
        char escape[8];
        switch (text[i]) {
        case '"':
            strcpy(escape, "\\\"");
            break;
        case '\\':
            strcpy(escape, "\\\\");
            break;
        case '\b':
            strcpy(escape, "\\b");
            break;
        case '\f':
            strcpy(escape, "\\f");
            break;
        case '\n':
            strcpy(escape, "\\n");
            break;
        case '\r':
            strcpy(escape, "\\r");
            break;
        case '\t':
            strcpy(escape, "\\t");
            break;
        default:
            if (text[i] < 0x20)
                snprintf(escape, sizeof escape, "\\u%04x", text[i]);
            else
                strcpy(escape, "\\ufffd"); /* a byte of invalid UTF-8 */
        }
        append(json, escape);
        i++;
    }
    append(json, "\"");
}

void mx_json_key(mx_json *json, const char *name) {
    if (json->error[0]) return;
    if (json->depth == 0 || json->stack[json->depth - 1].kind != '{') {
        misuse(json, "key \"%.64s\" outside an object", name ? name : "(null)");
    } else if (json->key_pending) {
        misuse(json, "key \"%.64s\" right after another key", name ? name : "(null)");
    } else if (!name) {
        misuse(json, "NULL key");
    } else {
        if (json->stack[json->depth - 1].item_count++ > 0) append(json, ",");
        new_line(json);
        append_quoted(json, name);
        append(json, ": ");
        json->key_pending = true;
    }
}

static void begin_container(mx_json *json, char kind) {
    const char *what = kind == '{' ? "object" : "array";
    if (!begin_value(json, what)) return;
    if (json->depth == MAX_DEPTH) {
        misuse(json, "%s nested deeper than %d levels", what, MAX_DEPTH);
        return;
    }
    json->stack[json->depth++] = (open_container){kind, 0};
    append(json, kind == '{' ? "{" : "[");
}

static void end_container(mx_json *json, char kind) {
    const char *what = kind == '{' ? "end of an object" : "end of an array";
    if (json->error[0]) return;
    if (json->depth == 0 || json->stack[json->depth - 1].kind != kind) {
        misuse(json, "%s where no %s is open", what, kind == '{' ? "object" : "array");
    } else if (json->key_pending) {
        misuse(json, "%s right after a key (its value is missing)", what);
    } else {
        long item_count = json->stack[--json->depth].item_count;
        if (item_count > 0) new_line(json);
        append(json, kind == '{' ? "}" : "]");
        end_value(json);
    }
}

void mx_json_begin_object(mx_json *json) {
    begin_container(json, '{');
}

void mx_json_end_object(mx_json *json) {
    end_container(json, '{');
}

void mx_json_begin_array(mx_json *json) {
    begin_container(json, '[');
}

void mx_json_end_array(mx_json *json) {
    end_container(json, '[');
}

void mx_json_string(mx_json *json, const char *value) {
    if (!value) {
        mx_json_null(json);
        return;
    }
    if (!begin_value(json, "string")) return;
    append_quoted(json, value);
    end_value(json);
}

void mx_json_number(mx_json *json, double value) {
    char text[32] = "null";
    for (int digits = 15; isfinite(value) && digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value) break;
    }
    write_scalar(json, "number", text);
}

void mx_json_int(mx_json *json, int64_t value) {
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, value);
    write_scalar(json, "integer", text);
}

void mx_json_bool(mx_json *json, bool value) {
    write_scalar(json, "boolean", value ? "true" : "false");
}

void mx_json_null(mx_json *json) {
    write_scalar(json, "null", "null");
}

bool mx_json_ok(const mx_json *json) {
    return !json->error[0];
}

const char *mx_json_error(const mx_json *json) {
    return json->error;
}

bool mx_json_complete(const mx_json *json) {
    return mx_json_ok(json) && json->root_done;
}

const char *mx_json_text(const mx_json *json) {
    return mx_text_get(&json->text);
}

bool mx_json_save(const mx_json *json, const char *path, char *error, size_t error_size) {
    if (mx_json_complete(json))
        return mx_write_file_atomic(path, json->text.data, json->text.length, error, error_size);
    if (!error || error_size == 0) return false;
    if (!mx_json_ok(json))
        snprintf(error, error_size, "cannot write '%s': the JSON writer failed: %s", path,
                 json->error);
    else
        snprintf(error, error_size, "cannot write '%s': the JSON is %s", path,
                 json->depth ? "unfinished (containers still open)" : "empty");
    return false;
}
