/* Named-column tables, their RFC 4180 CSV output and input, and the atomic file writer (temporary
 * file beside the target, fsync, rename) that every harness output goes through. */
#include "table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

struct mx_table {
    char **columns;
    int column_count;
    char **cells; /* row-major, row * column_count + column; NULL is an empty cell */
    size_t row_count, row_capacity;
    char error[256];
    bool incomplete; /* a row or cell could not be added or set: mx_table_save refuses */
};

static void format_error(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void format_error(char *error, size_t error_size, const char *format, ...) {
    if (!error || error_size == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_size, format, args);
    va_end(args);
}

static char *copy_text(const char *text) {
    size_t bytes = strlen(text) + 1;
    char *copy = malloc(bytes);
    if (copy) memcpy(copy, text, bytes);
    return copy;
}

// ---- atomic file output

static mode_t current_umask(void) {
    mode_t mask = umask(0);
    umask(mask);
    return mask;
}

bool mx_write_stream_atomic(const char *path, mx_file_writer write_content, void *context,
                            char *error, size_t error_size) {
    static const char suffix[] = ".tmp.XXXXXX";
    size_t path_length = strlen(path);
    char *temp_path = malloc(path_length + sizeof suffix);
    if (!temp_path) {
        format_error(error, error_size, "cannot write '%s': out of memory", path);
        return false;
    }
    memcpy(temp_path, path, path_length);
    memcpy(temp_path + path_length, suffix, sizeof suffix);
    int fd = mkstemp(temp_path);
    if (fd < 0) {
        format_error(error, error_size, "cannot create a temporary file beside '%s': %s", path,
                     strerror(errno));
        free(temp_path);
        return false;
    }

    /* The first step that fails names the cause; errno is kept from that moment. */
    const char *failed_step = NULL;
    int failed_errno = 0;
    FILE *file = fdopen(fd, "wb");
    if (!file) {
        failed_step = "opening";
        failed_errno = errno;
        close(fd);
    } else {
        setvbuf(file, NULL, _IOFBF, 1 << 16);
        errno = 0;
        if (!write_content(file, context) || ferror(file) || fflush(file) != 0)
            failed_step = "writing";
        else if (fsync(fileno(file)) != 0)
            failed_step = "fsync";
        else if (fchmod(fileno(file), 0666 & ~current_umask()) != 0)
            failed_step = "chmod";
        if (failed_step) failed_errno = errno;
        if (fclose(file) != 0 && !failed_step) {
            failed_step = "closing";
            failed_errno = errno;
        }
    }
    if (!failed_step && rename(temp_path, path) != 0) {
        failed_step = "rename";
        failed_errno = errno;
    }
    if (failed_step) {
        unlink(temp_path);
        format_error(error, error_size, "cannot write '%s' (%s of %s failed): %s", path,
                     failed_step, temp_path,
                     failed_errno ? strerror(failed_errno) : "the content could not be produced");
    }
    free(temp_path);
    return !failed_step;
}

typedef struct {
    const void *data;
    size_t bytes;
} memory_content;

static bool write_memory(FILE *file, void *context) {
    const memory_content *content = context;
    return fwrite(content->data, 1, content->bytes, file) == content->bytes;
}

bool mx_write_file_atomic(const char *path, const void *data, size_t bytes, char *error,
                          size_t error_size) {
    memory_content content = {data, bytes};
    return mx_write_stream_atomic(path, write_memory, &content, error, error_size);
}

// ---- tables

void mx_table_free(mx_table *table) {
    if (!table) return;
    for (int c = 0; c < table->column_count; c++) free(table->columns[c]);
    for (size_t i = 0; i < table->row_count * (size_t)table->column_count; i++)
        free(table->cells[i]);
    free(table->columns);
    free(table->cells);
    free(table);
}

mx_table *mx_table_create(const char *const *columns, int column_count) {
    if (!columns || column_count < 1) return NULL;
    for (int c = 0; c < column_count; c++) {
        if (!columns[c] || !columns[c][0]) return NULL;
        for (int earlier = 0; earlier < c; earlier++)
            if (strcmp(columns[earlier], columns[c]) == 0) return NULL;
    }
    mx_table *table = calloc(1, sizeof *table);
    if (!table) return NULL;
    table->columns = calloc((size_t)column_count, sizeof *table->columns);
    if (!table->columns) {
        free(table);
        return NULL;
    }
    table->column_count = column_count;
    for (int c = 0; c < column_count; c++) {
        table->columns[c] = copy_text(columns[c]);
        if (!table->columns[c]) {
            mx_table_free(table);
            return NULL;
        }
    }
    return table;
}

int mx_table_column_count(const mx_table *table) {
    return table->column_count;
}

const char *mx_table_column_name(const mx_table *table, int column) {
    return column >= 0 && column < table->column_count ? table->columns[column] : NULL;
}

int mx_table_column_index(const mx_table *table, const char *name) {
    for (int c = 0; c < table->column_count; c++)
        if (strcmp(table->columns[c], name) == 0) return c;
    return -1;
}

int mx_table_add_row(mx_table *table) {
    if (table->row_count >= (size_t)(1u << 30) || table->row_count == table->row_capacity) {
        size_t capacity = table->row_capacity ? 2 * table->row_capacity : 64;
        char **cells =
            table->row_count >= (size_t)(1u << 30) /* row indices are ints */
                ? NULL
                : realloc(table->cells, capacity * (size_t)table->column_count * sizeof *cells);
        if (!cells) {
            table->incomplete = true;
            format_error(table->error, sizeof table->error,
                         "mx_table_add_row: no room for row %zu (out of memory)", table->row_count);
            return -1;
        }
        table->cells = cells;
        table->row_capacity = capacity;
    }
    char **row = table->cells + table->row_count * (size_t)table->column_count;
    for (int c = 0; c < table->column_count; c++) row[c] = NULL;
    return (int)table->row_count++;
}

size_t mx_table_row_count(const mx_table *table) {
    return table->row_count;
}

static char **cell_slot(const mx_table *table, int row, int column) {
    if (row < 0 || (size_t)row >= table->row_count || column < 0 || column >= table->column_count)
        return NULL;
    return &table->cells[(size_t)row * (size_t)table->column_count + (size_t)column];
}

bool mx_table_set(mx_table *table, int row, const char *column, const char *format, ...) {
    int index = mx_table_column_index(table, column);
    if (index < 0) {
        format_error(table->error, sizeof table->error, "mx_table_set: no column named '%s'",
                     column);
        table->incomplete = true;
        return false;
    }
    char **slot = cell_slot(table, row, index);
    if (!slot) {
        format_error(table->error, sizeof table->error,
                     "mx_table_set: row %d does not exist (the table has %zu rows)", row,
                     table->row_count);
        table->incomplete = true;
        return false;
    }
    va_list args;
    va_start(args, format);
    int length = vsnprintf(NULL, 0, format, args);
    va_end(args);
    char *text = length >= 0 ? malloc((size_t)length + 1) : NULL;
    if (!text) {
        format_error(table->error, sizeof table->error,
                     "mx_table_set: cannot format column '%s' of row %d (out of memory)", column,
                     row);
        table->incomplete = true;
        return false;
    }
    va_start(args, format);
    vsnprintf(text, (size_t)length + 1, format, args);
    va_end(args);
    free(*slot);
    *slot = text;
    return true;
}

const char *mx_table_cell(const mx_table *table, int row, int column) {
    char **slot = cell_slot(table, row, column);
    return !slot ? NULL : *slot ? *slot : "";
}

const char *mx_table_get(const mx_table *table, int row, const char *column) {
    return mx_table_cell(table, row, mx_table_column_index(table, column));
}

const char *mx_table_error(const mx_table *table) {
    return table->error;
}

// ---- CSV output

static void write_csv_field(FILE *file, const char *text, bool only_field) {
    if (!text[0] && only_field) {
        fputs("\"\"", file); /* a bare empty line would read back as a blank line, not a record */
    } else if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, file);
    } else {
        putc('"', file);
        for (const char *c = text; *c; c++) {
            if (*c == '"') putc('"', file);
            putc(*c, file);
        }
        putc('"', file);
    }
}

static void write_csv_record(FILE *file, const mx_table *table, const char *const *fields) {
    for (int c = 0; c < table->column_count; c++) {
        if (c) putc(',', file);
        write_csv_field(file, fields[c] ? fields[c] : "", table->column_count == 1);
    }
    putc('\n', file);
}

static bool write_table(FILE *file, void *context) {
    const mx_table *table = context;
    write_csv_record(file, table, (const char *const *)table->columns);
    for (size_t r = 0; r < table->row_count; r++)
        write_csv_record(file, table,
                         (const char *const *)table->cells + r * (size_t)table->column_count);
    return !ferror(file);
}

bool mx_table_save(const mx_table *table, const char *path, char *error, size_t error_size) {
    if (table->incomplete) {
        format_error(error, error_size, "%s not written: the table lost a row or cell (%s)", path,
                     table->error);
        return false;
    }
    return mx_write_stream_atomic(path, write_table, (void *)table, error, error_size);
}

// ---- CSV input

typedef struct {
    const char *path;
    const char *text;
    size_t length, position;
    int line; /* 1-based line of text[position] */
    char *error;
    size_t error_size;
    /* The record being read: its fields (NULL for an empty one) and the field being built. */
    char **fields;
    int field_count, field_capacity;
    char *field;
    size_t field_length, field_capacity_bytes;
} csv_parser;

static bool parser_out_of_memory(csv_parser *parser) {
    format_error(parser->error, parser->error_size, "%s: out of memory", parser->path);
    return false;
}

static bool append_char(csv_parser *parser, char c) {
    if (parser->field_length + 1 >= parser->field_capacity_bytes) {
        size_t capacity = parser->field_capacity_bytes ? 2 * parser->field_capacity_bytes : 256;
        char *field = realloc(parser->field, capacity);
        if (!field) return parser_out_of_memory(parser);
        parser->field = field;
        parser->field_capacity_bytes = capacity;
    }
    parser->field[parser->field_length++] = c;
    return true;
}

static bool finish_field(csv_parser *parser) {
    if (parser->field_count == parser->field_capacity) {
        int capacity = parser->field_capacity ? 2 * parser->field_capacity : 64;
        char **fields = realloc(parser->fields, (size_t)capacity * sizeof *fields);
        if (!fields) return parser_out_of_memory(parser);
        parser->fields = fields;
        parser->field_capacity = capacity;
    }
    char *text = NULL;
    if (parser->field_length > 0) {
        text = malloc(parser->field_length + 1);
        if (!text) return parser_out_of_memory(parser);
        memcpy(text, parser->field, parser->field_length);
        text[parser->field_length] = '\0';
    }
    parser->fields[parser->field_count++] = text;
    parser->field_length = 0;
    return true;
}

static void clear_fields(csv_parser *parser) {
    for (int i = 0; i < parser->field_count; i++) free(parser->fields[i]);
    parser->field_count = 0;
}

/* Length of the line break at position (LF or CRLF), 0 where there is none. */
static size_t line_break_at(const csv_parser *parser, size_t position) {
    if (position < parser->length && parser->text[position] == '\n') return 1;
    if (position + 1 < parser->length && parser->text[position] == '\r' &&
        parser->text[position + 1] == '\n')
        return 2;
    return 0;
}

static bool parse_error(csv_parser *parser, int line, const char *what, int field) {
    format_error(parser->error, parser->error_size, "%s:%d: field %d: %s", parser->path, line,
                 field, what);
    return false;
}

/* Reads one field at the parser's position into parser->field; stops before the separator. */
static bool read_field(csv_parser *parser) {
    const char *text = parser->text;
    int field_number = parser->field_count + 1;
    if (parser->position < parser->length && text[parser->position] == '"') {
        int opening_line = parser->line;
        for (parser->position++;; parser->position++) {
            if (parser->position >= parser->length)
                return parse_error(parser, opening_line, "unterminated quoted field", field_number);
            char c = text[parser->position];
            if (c == '"' && parser->position + 1 < parser->length &&
                text[parser->position + 1] == '"') {
                parser->position++;
            } else if (c == '"') {
                parser->position++;
                break;
            } else if (c == '\0') {
                return parse_error(parser, parser->line, "NUL byte", field_number);
            } else if (c == '\n') {
                parser->line++;
            }
            if (!append_char(parser, c)) return false;
        }
        if (parser->position < parser->length && text[parser->position] != ',' &&
            !line_break_at(parser, parser->position))
            return parse_error(parser, parser->line, "text after the closing quote", field_number);
        return true;
    }
    for (; parser->position < parser->length; parser->position++) {
        char c = text[parser->position];
        if (c == ',' || line_break_at(parser, parser->position)) break;
        if (c == '"')
            return parse_error(parser, parser->line, "double quote inside an unquoted field",
                               field_number);
        if (c == '\0') return parse_error(parser, parser->line, "NUL byte", field_number);
        if (!append_char(parser, c)) return false;
    }
    return true;
}

/* Reads the next record into parser->fields. 1: a record starting on *record_line; 0: end of
 * the file; -1: an error (in parser->error). */
static int read_record(csv_parser *parser, int *record_line) {
    clear_fields(parser);
    for (size_t skip; (skip = line_break_at(parser, parser->position)) != 0; parser->line++)
        parser->position += skip;
    if (parser->position >= parser->length) return 0;
    *record_line = parser->line;
    for (;;) {
        if (!read_field(parser) || !finish_field(parser)) return -1;
        if (parser->position >= parser->length) return 1;
        size_t line_break = line_break_at(parser, parser->position);
        parser->position += line_break ? line_break : 1;
        if (line_break) {
            parser->line++;
            return 1;
        }
    }
}

static bool read_whole_file(const char *path, char **text, size_t *length, char *error,
                            size_t error_size) {
    char why[256];
    FILE *file = mx_open_input(path, why, sizeof why);
    if (!file) {
        format_error(error, error_size, "%s: cannot open: %s", path, why);
        return false;
    }
    size_t capacity = 1 << 16, used = 0;
    char *buffer = malloc(capacity);
    for (size_t got = 1; buffer && got > 0; used += got) {
        if (used == capacity) {
            char *bigger = realloc(buffer, capacity *= 2);
            if (!bigger) free(buffer);
            buffer = bigger;
            if (!buffer) break;
        }
        got = fread(buffer + used, 1, capacity - used, file);
    }
    bool failed = !buffer || ferror(file);
    int read_errno = errno;
    fclose(file);
    if (failed) {
        format_error(error, error_size, "%s: cannot read: %s", path,
                     buffer ? strerror(read_errno) : "out of memory");
        free(buffer);
        return false;
    }
    *text = buffer;
    *length = used;
    return true;
}

/* The header record: no empty name, no name twice. */
static bool check_header(csv_parser *parser) {
    for (int c = 0; c < parser->field_count; c++) {
        if (!parser->fields[c])
            return parse_error(parser, 1, "empty column name in the header", c + 1);
        for (int earlier = 0; earlier < c; earlier++)
            if (strcmp(parser->fields[earlier], parser->fields[c]) == 0) {
                format_error(parser->error, parser->error_size,
                             "%s:1: duplicate column '%s' (columns %d and %d)", parser->path,
                             parser->fields[c], earlier + 1, c + 1);
                return false;
            }
    }
    return true;
}

static mx_table *parse_csv(csv_parser *parser) {
    static const char byte_order_mark[] = "\xEF\xBB\xBF";
    if (parser->length >= 3 && memcmp(parser->text, byte_order_mark, 3) == 0) parser->position = 3;
    if (parser->position >= parser->length) {
        format_error(parser->error, parser->error_size, "%s: empty file (no header line)",
                     parser->path);
        return NULL;
    }
    if (line_break_at(parser, parser->position)) {
        format_error(parser->error, parser->error_size,
                     "%s:1: missing header (the first line is empty)", parser->path);
        return NULL;
    }
    int record_line;
    if (read_record(parser, &record_line) < 0 || !check_header(parser)) return NULL;
    mx_table *table = mx_table_create((const char *const *)parser->fields, parser->field_count);
    if (!table) {
        parser_out_of_memory(parser);
        return NULL;
    }
    for (int status; (status = read_record(parser, &record_line)) != 0;) {
        int row = -1;
        if (status > 0 && parser->field_count != table->column_count) {
            format_error(parser->error, parser->error_size, "%s:%d: %d field%s, the header has %d",
                         parser->path, record_line, parser->field_count,
                         parser->field_count == 1 ? "" : "s", table->column_count);
        } else if (status > 0 && (row = mx_table_add_row(table)) < 0) {
            parser_out_of_memory(parser);
        }
        if (row < 0) {
            mx_table_free(table);
            return NULL;
        }
        /* The row takes the field texts over. */
        memcpy(cell_slot(table, row, 0), parser->fields,
               (size_t)table->column_count * sizeof *parser->fields);
        parser->field_count = 0;
    }
    return table;
}

bool mx_csv_parse(const char *name, const char *text, size_t length, mx_table **table, char *error,
                  size_t error_size) {
    csv_parser parser = {.path = name,
                         .text = text,
                         .length = length,
                         .line = 1,
                         .error = error,
                         .error_size = error_size};
    *table = parse_csv(&parser);
    clear_fields(&parser);
    free(parser.fields);
    free(parser.field);
    return *table != NULL;
}

bool mx_csv_read(const char *path, mx_table **table, char *error, size_t error_size) {
    *table = NULL;
    char *text;
    size_t length;
    if (!read_whole_file(path, &text, &length, error, error_size)) return false;
    bool ok = mx_csv_parse(path, text, length, table, error, error_size);
    free(text);
    return ok;
}
