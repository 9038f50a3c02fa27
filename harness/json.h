/* A small streaming JSON writer for run.json (docs/design.md §5): values are appended in order to a
 * growable text, with commas and 2-space indentation placed automatically and misuse recorded
 * rather than written, and the result saved through the atomic file writer of table.h. */
#ifndef MX_JSON_H
#define MX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mx_json mx_json;

/* NULL when out of memory. */
mx_json *mx_json_create(void);
void mx_json_free(mx_json *json);

/* Containers nest up to 64 deep. Inside an object every value follows an mx_json_key. */
void mx_json_begin_object(mx_json *json);
void mx_json_end_object(mx_json *json);
void mx_json_begin_array(mx_json *json);
void mx_json_end_array(mx_json *json);
void mx_json_key(mx_json *json, const char *name);

/* Escapes '"' and '\\', writes \b \f \n \r \t by name and the other control characters as
 * \u00XX; valid UTF-8 is copied byte for byte, and each byte of an invalid sequence becomes
 * \ufffd so that the output is always valid JSON. NULL writes null. */
void mx_json_string(mx_json *json, const char *value);
/* The shortest of "%.15g", "%.16g", "%.17g" that reads back as the same double (0.1 stays 0.1,
 * every value round-trips); NaN and infinities, which JSON cannot hold, write null. Formatting
 * assumes the C locale (a decimal point), which the CLI never changes. */
void mx_json_number(mx_json *json, double value);
void mx_json_int(mx_json *json, int64_t value);
void mx_json_bool(mx_json *json, bool value);
void mx_json_null(mx_json *json);

/* False once a call was misused (a key outside an object or twice in a row, a value in an object
 * without its key, an end that matches no begin, a second top-level value, nesting too deep) or
 * memory ran out; from then on further calls write nothing and mx_json_error says what happened
 * first ("" while ok). */
bool mx_json_ok(const mx_json *json);
const char *mx_json_error(const mx_json *json);
/* True when ok and the top-level value is finished (every container closed). */
bool mx_json_complete(const mx_json *json);

/* The text so far; once complete it ends with a newline. */
const char *mx_json_text(const mx_json *json);

/* Writes the text to path atomically (mx_write_file_atomic); refuses JSON that is not complete. */
bool mx_json_save(const mx_json *json, const char *path, char *error, size_t error_size);

#endif
