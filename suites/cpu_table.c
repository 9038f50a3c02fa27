/* Table and CSV suite: column order, RFC 4180 quoting and its exact bytes, unknown columns, the
 * save/read round trip, atomic replacement (failures leave the old file and no temporary files, a
 * concurrent reader only ever sees whole files) and every reader error with its exact "file:line:"
 * message. (run.json, JSON through cJSON, is tested in cpu_harness.) Each test works in its own
 * fresh temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table.h"
#include "common.h"

static char work_dir[64];

static void remove_tree(const char *path) {
    struct stat info;
    if (lstat(path, &info) != 0) return;
    if (S_ISDIR(info.st_mode)) {
        chmod(path, 0700);
        DIR *dir = opendir(path);
        for (struct dirent *entry; dir && (entry = readdir(dir));) {
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            remove_tree(child);
        }
        if (dir) closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Each test runs inside its own new directory, so the file names below are relative. */
static void make_work_dir(void) {
    strcpy(work_dir, "/tmp/mxbench-table.XXXXXX");
    cr_assert(mkdtemp(work_dir), "mkdtemp failed: %s", strerror(errno));
    cr_assert_eq(chdir(work_dir), 0);
}

static void remove_work_dir(void) {
    if (chdir("/") == 0) remove_tree(work_dir);
}

TestSuite(table, .init = make_work_dir, .fini = remove_work_dir);
TestSuite(csv_read, .init = make_work_dir, .fini = remove_work_dir);

/* The whole file as a malloc'd string (NULL if unreadable). */
static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    char *text = malloc(1 << 20);
    size_t got = text ? fread(text, 1, (1 << 20) - 1, file) : 0;
    fclose(file);
    if (text) text[got] = '\0';
    return text;
}

static void write_text(const char *path, const char *text, size_t bytes) {
    FILE *file = fopen(path, "wb");
    cr_assert(file, "cannot create %s", path);
    cr_assert_eq(fwrite(text, 1, bytes, file), bytes);
    cr_assert_eq(fclose(file), 0);
}

static void assert_file_is(const char *path, const char *expected) {
    char *text = read_text(path);
    cr_assert(text, "cannot read %s", path);
    cr_assert_str_eq(text, expected);
    free(text);
}

/* The names in the work directory other than the expected ones (the temporary-file check). */
static int unexpected_entries(const char *const *expected, int expected_count) {
    DIR *dir = opendir(".");
    cr_assert(dir);
    int unexpected = 0;
    for (struct dirent *entry; (entry = readdir(dir));) {
        bool known = !strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..");
        for (int i = 0; i < expected_count; i++)
            known = known || !strcmp(entry->d_name, expected[i]);
        if (!known) cr_log_error("leftover in the work directory: %s", entry->d_name);
        unexpected += !known;
    }
    closedir(dir);
    return unexpected;
}

static mx_table *create_table(const char *const *columns, int count) {
    mx_table *table = mx_table_create(columns, count);
    cr_assert(table, "mx_table_create failed");
    return table;
}

static void save_table(const mx_table *table, const char *path) {
    char error[512];
    cr_assert(mx_table_save(table, path, error, sizeof error), "save failed: %s", error);
}

// ---- tables and CSV output

Test(table, column_order_preserved) {
    const char *columns[] = {"suite", "op", "M", "time_us"};
    mx_table *table = create_table(columns, 4);
    cr_assert_eq(mx_table_column_count(table), 4);
    for (int c = 0; c < 4; c++) cr_assert_str_eq(mx_table_column_name(table, c), columns[c]);
    cr_assert_null(mx_table_column_name(table, 4));
    cr_assert_eq(mx_table_column_index(table, "M"), 2);
    cr_assert_eq(mx_table_column_index(table, "m"), -1);
    int row = mx_table_add_row(table);
    cr_assert_eq(row, 0);
    /* Set out of order: the file still follows the column list. */
    cr_assert(mx_table_set(table, row, "time_us", "%.3f", 12.3456));
    cr_assert(mx_table_set(table, row, "suite", "%s", "gemm"));
    cr_assert(mx_table_set(table, row, "M", "%d", 16));
    cr_assert_eq(mx_table_add_row(table), 1);
    cr_assert(mx_table_set(table, 1, "op", "dense"));
    cr_assert_eq(mx_table_row_count(table), 2);
    cr_assert_str_eq(mx_table_get(table, 0, "op"), "", "a cell never set is empty");
    cr_assert_str_eq(mx_table_get(table, 0, "time_us"), "12.346");
    save_table(table, "results.csv");
    assert_file_is("results.csv", "suite,op,M,time_us\ngemm,,16,12.346\n,dense,,\n");
    mx_table_free(table);
}

Test(table, rfc4180_quoting) {
    const char *columns[] = {"text", "n"};
    mx_table *table = create_table(columns, 2);
    const char *cells[] = {"a,b",      "say \"hi\"", "two\nlines", "", "  leading spaces",
                           "cr\rhere", "plain",      "\""};
    for (int i = 0; i < 8; i++) {
        int row = mx_table_add_row(table);
        cr_assert(mx_table_set(table, row, "text", "%s", cells[i]));
        cr_assert(mx_table_set(table, row, "n", "%d", i));
    }
    save_table(table, "q.csv");
    assert_file_is("q.csv", "text,n\n"
                            "\"a,b\",0\n"
                            "\"say \"\"hi\"\"\",1\n"
                            "\"two\nlines\",2\n"
                            ",3\n"
                            "  leading spaces,4\n"
                            "\"cr\rhere\",5\n"
                            "plain,6\n"
                            "\"\"\"\",7\n");
    mx_table_free(table);
}

Test(table, quoted_header_and_single_column_empty_cells) {
    const char *columns[] = {"a,b"};
    mx_table *table = create_table(columns, 1);
    mx_table_add_row(table);
    int row = mx_table_add_row(table);
    cr_assert(mx_table_set(table, row, "a,b", "x"));
    save_table(table, "one.csv");
    /* An empty only field is written "" so that it does not read back as a skipped blank line. */
    assert_file_is("one.csv", "\"a,b\"\n\"\"\nx\n");
    char error[512];
    mx_table *back;
    cr_assert(mx_csv_read("one.csv", &back, error, sizeof error), "%s", error);
    cr_assert_eq(mx_table_row_count(back), 2);
    cr_assert_str_eq(mx_table_get(back, 0, "a,b"), "");
    cr_assert_str_eq(mx_table_get(back, 1, "a,b"), "x");
    mx_table_free(back);
    mx_table_free(table);
}

Test(table, unknown_column_or_row_rejected) {
    const char *columns[] = {"time_us", "note"};
    mx_table *table = create_table(columns, 2);
    int row = mx_table_add_row(table);
    cr_assert_str_eq(mx_table_error(table), "");
    cr_assert_not(mx_table_set(table, row, "time_ms", "%d", 1));
    cr_assert(strstr(mx_table_error(table), "'time_ms'"), "error: %s", mx_table_error(table));
    cr_assert_not(mx_table_set(table, 5, "note", "x"));
    cr_assert(strstr(mx_table_error(table), "row 5"), "error: %s", mx_table_error(table));
    cr_assert_not(mx_table_set(table, -1, "note", "x"));
    cr_assert_str_eq(mx_table_get(table, row, "note"), "");
    cr_assert_null(mx_table_get(table, row, "time_ms"));
    cr_assert_null(mx_table_get(table, 1, "note"));
    /* A table that lost a cell is not saved: an earlier complete file stays. */
    char error[512];
    write_text("results.csv", "time_us,note\n1,old\n", 19);
    cr_assert_not(mx_table_save(table, "results.csv", error, sizeof error));
    cr_assert(strstr(error, "results.csv not written") && strstr(error, "row -1"), "%s", error);
    assert_file_is("results.csv", "time_us,note\n1,old\n");
    mx_table_free(table);

    const char *twice[] = {"a", "b", "a"}, *empty_name[] = {"a", ""}, *null_name[] = {"a", NULL};
    cr_assert_null(mx_table_create(twice, 3));
    cr_assert_null(mx_table_create(empty_name, 2));
    cr_assert_null(mx_table_create(null_name, 2));
    cr_assert_null(mx_table_create(twice, 0));
}

Test(table, save_then_read_back_gives_identical_cells) {
    const char *columns[] = {"id", "text", "value", "empty", "note"};
    mx_table *table = create_table(columns, 5);
    const char *tricky[] = {"a,b,,c",     "\"quoted\"", "multi\nline\r\nwith CRLF",
                            "  spaced  ", "trailing,",  ",",
                            "\"",         "héllo € ✓",  "tab\there",
                            "x\"y\"z"};
    mx_rng rng = mx_rng_fresh();
    for (int i = 0; i < 500; i++) {
        int row = mx_table_add_row(table);
        cr_assert_eq(row, i);
        cr_assert(mx_table_set(table, row, "id", "%d", i));
        cr_assert(mx_table_set(table, row, "text", "%s", tricky[mx_rng_next(&rng) % 10]));
        cr_assert(mx_table_set(table, row, "value", "%.17g", mx_rng_gaussian(&rng)));
        if (i % 3) cr_assert(mx_table_set(table, row, "note", "%s|%s", tricky[i % 10], "end"));
    }
    save_table(table, "results.csv");
    char error[512];
    mx_table *back = NULL;
    cr_assert(mx_csv_read("results.csv", &back, error, sizeof error), "%s", error);
    cr_assert_eq(mx_table_column_count(back), 5);
    for (int c = 0; c < 5; c++) cr_assert_str_eq(mx_table_column_name(back, c), columns[c]);
    cr_assert_eq(mx_table_row_count(back), 500);
    for (int r = 0; r < 500; r++)
        for (int c = 0; c < 5; c++)
            cr_assert_str_eq(mx_table_cell(back, r, c), mx_table_cell(table, r, c),
                             "row %d column %s", r, columns[c]);
    mx_table_free(back);
    mx_table_free(table);
}

// ---- atomic replacement

static mx_table *one_cell_table(const char *text) {
    const char *columns[] = {"value"};
    mx_table *table = create_table(columns, 1);
    mx_table_add_row(table);
    cr_assert(mx_table_set(table, 0, "value", "%s", text));
    return table;
}

Test(table, saved_file_gets_umask_permissions_and_replaces_old) {
    const char *expected[] = {"r.csv"};
    umask(022);
    write_text("r.csv", "old\n", 4);
    mx_table *table = one_cell_table("new");
    save_table(table, "r.csv");
    assert_file_is("r.csv", "value\nnew\n");
    struct stat info;
    cr_assert_eq(stat("r.csv", &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0644, "mode %o", (unsigned)(info.st_mode & 0777));
    cr_assert_eq(unexpected_entries(expected, 1), 0);
    mx_table_free(table);
}

/* As root a read-only directory is still writable: the save then runs with the effective uid of
 * nobody (the test is a forked process of its own). */
Test(table, read_only_directory_keeps_old_file) {
    const char *expected[] = {"r.csv"};
    write_text("r.csv", "old content\n", 12);
    cr_assert_eq(chmod("r.csv", 0644), 0);
    cr_assert_eq(chmod(work_dir, 0555), 0);
    bool as_root = geteuid() == 0;
    if (as_root && seteuid(65534) != 0) cr_skip_test("cannot drop root privileges to test this");
    if (faccessat(AT_FDCWD, work_dir, W_OK, AT_EACCESS) == 0) {
        if (as_root) cr_assert_eq(seteuid(0), 0);
        cr_skip_test("the directory stays writable after chmod 0555");
    }
    mx_table *table = one_cell_table("new");
    char error[512] = "";
    bool saved = mx_table_save(table, "r.csv", error, sizeof error);
    if (as_root) cr_assert_eq(seteuid(0), 0);
    cr_assert_not(saved);
    cr_assert(strstr(error, "r.csv") && strstr(error, "ermission denied"), "error: %s", error);
    assert_file_is("r.csv", "old content\n");
    cr_assert_eq(unexpected_entries(expected, 1), 0);
    mx_table_free(table);
}

Test(table, failed_rename_removes_temporary_file) {
    const char *expected[] = {"r.csv"};
    cr_assert_eq(mkdir("r.csv", 0700), 0);
    write_text("r.csv/inside", "x", 1); /* a non-empty directory cannot be replaced */
    mx_table *table = one_cell_table("new");
    char error[512] = "";
    cr_assert_not(mx_table_save(table, "r.csv", error, sizeof error));
    cr_assert(strstr(error, "rename"), "error: %s", error);
    assert_file_is("r.csv/inside", "x");
    cr_assert_eq(unexpected_entries(expected, 1), 0);
    mx_table_free(table);
}

static bool write_half_then_fail(FILE *file, void *context) {
    (void)context;
    fputs("partial", file);
    errno = ENOSPC;
    return false;
}

Test(table, failed_write_keeps_old_file) {
    const char *expected[] = {"run.json"};
    write_text("run.json", "{}\n", 3);
    char error[512] = "";
    cr_assert_not(
        mx_write_stream_atomic("run.json", write_half_then_fail, NULL, error, sizeof error));
    cr_assert(strstr(error, "writing") && strstr(error, strerror(ENOSPC)), "error: %s", error);
    assert_file_is("run.json", "{}\n");
    cr_assert_eq(unexpected_entries(expected, 1), 0);
}

Test(table, missing_directory_fails_cleanly) {
    mx_table *table = one_cell_table("x");
    char error[512] = "";
    cr_assert_not(mx_table_save(table, "no/such/dir/r.csv", error, sizeof error));
    cr_assert(strstr(error, "cannot create a temporary file beside") &&
                  strstr(error, "No such file or directory"),
              "error: %s", error);
    cr_assert_eq(unexpected_entries(NULL, 0), 0);
    mx_table_free(table);
}

/* A reader polling the file while it is saved again and again only ever sees one of the two
 * complete versions (they differ in length, so a torn read would show). */
Test(table, concurrent_reader_never_sees_partial_file) {
    mx_table *versions[2] = {one_cell_table("short"), NULL};
    const char *columns[] = {"value"};
    versions[1] = create_table(columns, 1);
    for (int i = 0; i < 3000; i++) {
        int row = mx_table_add_row(versions[1]);
        cr_assert(mx_table_set(versions[1], row, "value", "row %d of the longer version", i));
    }
    const char *path = "live.csv";
    save_table(versions[0], path);
    char *expected[2] = {read_text(path), NULL};
    save_table(versions[1], path);
    expected[1] = read_text(path);
    pid_t reader = fork();
    cr_assert_neq(reader, -1);
    if (reader == 0) {
        for (int i = 0; i < 400; i++) {
            char *text = read_text(path);
            bool whole = text && (!strcmp(text, expected[0]) || !strcmp(text, expected[1]));
            free(text);
            if (!whole) _exit(1);
        }
        _exit(0);
    }
    for (int i = 0; i < 200; i++) save_table(versions[i % 2], path);
    int status = 0;
    cr_assert_eq(waitpid(reader, &status, 0), reader);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader saw a partial file");
    free(expected[0]);
    free(expected[1]);
    mx_table_free(versions[0]);
    mx_table_free(versions[1]);
}

// ---- CSV input

/* Writes text to name, reads it with mx_csv_read and returns the table (NULL on error). */
static mx_table *read_csv_text(const char *name, const char *text, size_t bytes, char *error,
                               size_t error_size) {
    write_text(name, text, bytes);
    mx_table *table = (mx_table *)1;
    bool ok = mx_csv_read(name, &table, error, error_size);
    cr_assert_eq(ok, table != NULL, "the return value and the table disagree");
    return table;
}

static void assert_read_error(const char *text, size_t bytes, const char *expected_after_path) {
    char error[512] = "", expected[512];
    mx_table *table = read_csv_text("bad.csv", text, bytes, error, sizeof error);
    cr_assert_null(table, "read succeeded on bad CSV");
    snprintf(expected, sizeof expected, "bad.csv%s", expected_after_path);
    cr_assert_str_eq(error, expected);
}

#define ASSERT_READ_ERROR(literal, expected)                                                       \
    assert_read_error(literal, sizeof literal - 1, expected)

Test(csv_read, wrong_field_count) {
    ASSERT_READ_ERROR("a,b,c\n1,2,3\n1,2\n", ":3: 2 fields, the header has 3");
    ASSERT_READ_ERROR("a,b,c\n1,2,3,4\n", ":2: 4 fields, the header has 3");
    ASSERT_READ_ERROR("a,b\nx\n", ":2: 1 field, the header has 2");
    /* Lines inside a quoted field count: the bad record starts on line 4. */
    ASSERT_READ_ERROR("a,b\n\"x\ny\",1\n1,2,3\n", ":4: 3 fields, the header has 2");
}

Test(csv_read, unterminated_quote) {
    ASSERT_READ_ERROR("a,b\n1,2\n3,\"open\n4,5\n", ":3: field 2: unterminated quoted field");
}

Test(csv_read, misplaced_quotes) {
    ASSERT_READ_ERROR("a,b\n\"x\"y,2\n", ":2: field 1: text after the closing quote");
    ASSERT_READ_ERROR("a,b\n1,x\"y\n", ":2: field 2: double quote inside an unquoted field");
}

Test(csv_read, empty_file_and_missing_header) {
    ASSERT_READ_ERROR("", ": empty file (no header line)");
    ASSERT_READ_ERROR("\xEF\xBB\xBF", ": empty file (no header line)");
    ASSERT_READ_ERROR("\na,b\n1,2\n", ":1: missing header (the first line is empty)");
}

Test(csv_read, bad_column_names) {
    ASSERT_READ_ERROR("a,b,a\n1,2,3\n", ":1: duplicate column 'a' (columns 1 and 3)");
    ASSERT_READ_ERROR("a,,b\n1,2,3\n", ":1: field 2: empty column name in the header");
}

Test(csv_read, nul_byte) {
    ASSERT_READ_ERROR("a,b\n1,x\0y\n", ":2: field 2: NUL byte");
}

Test(csv_read, unreadable_file) {
    char error[512] = "", expected[512];
    mx_table *table = (mx_table *)1;
    cr_assert_not(mx_csv_read("absent.csv", &table, error, sizeof error));
    cr_assert_null(table);
    snprintf(expected, sizeof expected, "absent.csv: cannot open: %s", strerror(ENOENT));
    cr_assert_str_eq(error, expected);
    cr_assert_not(mx_csv_read(".", &table, error, sizeof error));
    cr_assert_str_eq(error,
                     ".: cannot open: not a regular file (a FIFO, device, socket or folder)");
}

/* A FIFO would block a reader forever and /dev/zero never end: neither is opened for reading. */
Test(csv_read, fifo_and_device_are_refused_unread, .timeout = 10.0) {
    char error[512] = "";
    mx_table *table = NULL;
    cr_assert_eq(mkfifo("pipe.csv", 0600), 0);
    cr_assert_not(mx_csv_read("pipe.csv", &table, error, sizeof error));
    cr_expect(strstr(error, "pipe.csv: cannot open: not a regular file"), "%s", error);
    cr_assert_eq(symlink("/dev/zero", "zero.csv"), 0);
    cr_assert_not(mx_csv_read("zero.csv", &table, error, sizeof error));
    cr_expect(strstr(error, "zero.csv: cannot open: not a regular file"), "%s", error);
    cr_assert_null(table);
}

Test(csv_read, accepts_crlf_bom_blank_lines_and_missing_final_newline) {
    static const char text[] = "\xEF\xBB\xBFname,\"quoted, header\"\r\n"
                               "x,\"1\r\n2\"\r\n"
                               "\r\n"
                               "\n"
                               "y,\"\"\"\"\r\n"
                               "z,";
    char error[512] = "";
    mx_table *table = read_csv_text("ok.csv", text, sizeof text - 1, error, sizeof error);
    cr_assert(table, "%s", error);
    cr_assert_str_eq(mx_table_column_name(table, 0), "name");
    cr_assert_str_eq(mx_table_column_name(table, 1), "quoted, header");
    cr_assert_eq(mx_table_row_count(table), 3);
    cr_assert_str_eq(mx_table_cell(table, 0, 1), "1\r\n2");
    cr_assert_str_eq(mx_table_cell(table, 1, 0), "y");
    cr_assert_str_eq(mx_table_cell(table, 1, 1), "\"");
    cr_assert_str_eq(mx_table_cell(table, 2, 0), "z");
    cr_assert_str_eq(mx_table_cell(table, 2, 1), "");
    mx_table_free(table);
}
