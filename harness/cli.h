/* Command-line plumbing of the mxbench CLI: the command table, option parsing with errors that
 * name the offending flag and value, and the exit codes every command shares. */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* The exit status of every command (mxbench --help says the same): */
enum {
    MX_EXIT_OK = 0,
    MX_EXIT_FAILED = 1,    /* the work failed (a write, a kernel, memory); compare: a regression */
    MX_EXIT_INPUT = 2,     /* bad usage or unusable input: the message names the flag or file */
    MX_EXIT_NO_DEVICE = 3, /* the command needs a usable CUDA GPU and there is none */
    MX_EXIT_INTERRUPTED = 130, /* Ctrl-C (run stops after the current problem, files valid) */
};

/* The exit codes in words, for --help. */
extern const char mx_exit_help[];

/* One option of a command: "--name VALUE" or "--name=VALUE"; flags (value_name NULL) take none. */
typedef struct {
    const char *name;       /* without the leading dashes */
    const char *value_name; /* shown in help ("N", "FILE"); NULL for a flag */
    const char *help;
    const char *default_value; /* NULL: required (for valued options) or off (flags) */
    bool optional;             /* a valued option without default that may be left out */
} mx_option;

/* The most positional arguments a command takes: merge's OUT and every shard (shard.h). */
enum { MX_CLI_MAX_ARGUMENTS = 1 + 1024 };

typedef struct {
    const mx_option *options;
    int option_count;
    const char *values[32]; /* parsed value per option, default applied; "1" for a set flag */
    const char *arguments[MX_CLI_MAX_ARGUMENTS]; /* positional arguments, in order */
    int argument_count;
} mx_parsed_options;

/* A subcommand of mxbench. */
typedef struct {
    const char *name;
    const char *summary; /* one line for `mxbench --help` */
    const char *details; /* paragraph printed after the option list by `mxbench NAME --help` */
    const mx_option *options;
    int option_count;
    int (*run)(const mx_parsed_options *parsed);
    /* Positional arguments ("RUN_DIR", "BASE CUR"): how many, and their names for usage lines.
     * 0/0 (the default) means none are accepted. */
    int min_arguments, max_arguments;
    const char *arguments_usage;
    /* Prints what --help shows after details that is derived from tables (NULL: nothing). */
    void (*help_tail)(void);
} mx_command;

/* Keeps the command line (quoted where needed) for run.json; main() calls it first. */
void mx_cli_set_command_line(int argc, char **argv);
const char *mx_cli_command_line(void);

/* Prints "mxbench: error: <message>" to stderr. */
void mx_cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Parses argv (after the command name). Returns -1 after printing help, MX_EXIT_OK on success,
 * MX_EXIT_INPUT after printing an error naming the flag. */
int mx_parse_options(const mx_command *command, int argc, char **argv, mx_parsed_options *parsed);

void mx_print_command_help(const mx_command *command);

/* The value of option name (NULL when an optional option is absent). */
const char *mx_option_value(const mx_parsed_options *parsed, const char *name);

/* Strict integer parse of option name into [min, max]; prints an error naming the flag, the text
 * and the range, and returns false, on anything else. */
bool mx_option_int64(const mx_parsed_options *parsed, const char *name, int64_t min, int64_t max,
                     int64_t *out);

/* Index of the option's value in choices[] (a NULL-terminated list); prints the allowed values
 * and returns -1 on anything else. */
int mx_option_choice(const mx_parsed_options *parsed, const char *name, const char *const *choices);

#endif
