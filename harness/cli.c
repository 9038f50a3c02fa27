/* Option parsing and help output shared by every mxbench command. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char command_line[2048];

void mx_cli_set_command_line(int argc, char **argv) {
    size_t used = 0;
    command_line[0] = '\0';
    for (int i = 0; i < argc && used < sizeof command_line; i++) {
        bool plain = argv[i][0] && strpbrk(argv[i], " \t\"'\\$") == NULL;
        used += (size_t)snprintf(command_line + used, sizeof command_line - used,
                                 plain ? "%s%s" : "%s'%s'", i ? " " : "", argv[i]);
    }
}

const char *mx_cli_command_line(void) {
    return command_line;
}

void mx_cli_error(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("mxbench: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

const char mx_exit_help[] =
    "exit status: 0 done; 1 the work failed (a write, a kernel, memory) or compare found a\n"
    "regression; 2 bad usage or unusable input (the message names the flag or file); 3 no usable\n"
    "CUDA GPU for a command that needs one; 130 interrupted (Ctrl-C).";

void mx_print_command_help(const mx_command *command) {
    printf("usage: mxbench %s", command->name);
    for (int i = 0; i < command->option_count; i++) {
        const mx_option *option = &command->options[i];
        int optional =
            option->value_name == NULL || option->default_value != NULL || option->optional;
        printf(" %s--%s%s%s%s", optional ? "[" : "", option->name, option->value_name ? " " : "",
               option->value_name ? option->value_name : "", optional ? "]" : "");
    }
    if (command->arguments_usage) printf(" %s", command->arguments_usage);
    printf("\n\n%s\n\noptions:\n", command->summary);
    for (int i = 0; i < command->option_count; i++) {
        const mx_option *option = &command->options[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", option->name, option->value_name ? " " : "",
                 option->value_name ? option->value_name : "");
        printf("  %-24s %s", left, option->help);
        if (option->value_name && option->default_value)
            printf(" (default: %s)", option->default_value);
        else if (option->value_name && !option->optional)
            printf(" (required)");
        printf("\n");
    }
    printf("  %-24s %s\n", "--help", "print this help and exit");
    if (command->details) printf("\n%s\n", command->details);
    if (command->help_tail) command->help_tail();
    printf("\n%s\n", mx_exit_help);
}

static int mx_find_option(const mx_command *command, const char *name, size_t length) {
    for (int i = 0; i < command->option_count; i++)
        if (strlen(command->options[i].name) == length &&
            strncmp(command->options[i].name, name, length) == 0)
            return i;
    return -1;
}

int mx_parse_options(const mx_command *command, int argc, char **argv, mx_parsed_options *parsed) {
    parsed->options = command->options;
    parsed->option_count = command->option_count;
    parsed->argument_count = 0;
    int seen[32] = {0};
    for (int i = 0; i < command->option_count; i++)
        parsed->values[i] =
            command->options[i].value_name ? command->options[i].default_value : NULL;
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            mx_print_command_help(command);
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (parsed->argument_count < command->max_arguments) {
                parsed->arguments[parsed->argument_count++] = arg;
                continue;
            }
            mx_cli_error("%s: unexpected argument '%s' (%s; see mxbench %s --help)", command->name,
                         arg,
                         command->max_arguments ? "too many arguments" : "options start with --",
                         command->name);
            return MX_EXIT_INPUT;
        }
        const char *name = arg + 2;
        const char *equals = strchr(name, '=');
        size_t length = equals ? (size_t)(equals - name) : strlen(name);
        int index = mx_find_option(command, name, length);
        if (index < 0) {
            mx_cli_error("%s: unknown option '--%.*s' (see mxbench %s --help)", command->name,
                         (int)length, name, command->name);
            return MX_EXIT_INPUT;
        }
        const mx_option *option = &command->options[index];
        if (seen[index]++) {
            mx_cli_error("%s: option --%s given twice", command->name, option->name);
            return MX_EXIT_INPUT;
        }
        if (!option->value_name) {
            if (equals) {
                mx_cli_error("%s: option --%s takes no value (got '%s')", command->name,
                             option->name, equals + 1);
                return MX_EXIT_INPUT;
            }
            parsed->values[index] = "1";
        } else if (equals) {
            parsed->values[index] = equals + 1;
        } else if (a + 1 < argc) {
            parsed->values[index] = argv[++a];
        } else {
            mx_cli_error("%s: option --%s needs a value %s", command->name, option->name,
                         option->value_name);
            return MX_EXIT_INPUT;
        }
    }
    if (parsed->argument_count < command->min_arguments) {
        mx_cli_error("%s: missing argument: usage mxbench %s %s", command->name, command->name,
                     command->arguments_usage ? command->arguments_usage : "");
        return MX_EXIT_INPUT;
    }
    for (int i = 0; i < command->option_count; i++) {
        if (command->options[i].value_name && !command->options[i].optional &&
            parsed->values[i] == NULL) {
            mx_cli_error("%s: missing required option --%s %s (see mxbench %s --help)",
                         command->name, command->options[i].name, command->options[i].value_name,
                         command->name);
            return MX_EXIT_INPUT;
        }
    }
    return MX_EXIT_OK;
}

const char *mx_option_value(const mx_parsed_options *parsed, const char *name) {
    for (int i = 0; i < parsed->option_count; i++)
        if (strcmp(parsed->options[i].name, name) == 0) return parsed->values[i];
    return NULL;
}

bool mx_option_int64(const mx_parsed_options *parsed, const char *name, int64_t min, int64_t max,
                     int64_t *out) {
    const char *text = mx_option_value(parsed, name);
    char *end = NULL;
    errno = 0;
    /* strict: digits with an optional '-', nothing strtoll would skip or accept besides ("+4",
     * " 4") */
    bool digits = text && (isdigit((unsigned char)text[0]) ||
                           (text[0] == '-' && isdigit((unsigned char)text[1])));
    long long value = digits ? strtoll(text, &end, 10) : 0;
    if (!digits || end == text || *end != '\0' || errno == ERANGE || value < min || value > max) {
        mx_cli_error("--%s '%s': expected an integer in [%lld, %lld]", name, text ? text : "",
                     (long long)min, (long long)max);
        return false;
    }
    *out = value;
    return true;
}

int mx_option_choice(const mx_parsed_options *parsed, const char *name,
                     const char *const *choices) {
    const char *text = mx_option_value(parsed, name);
    for (int i = 0; text && choices[i]; i++)
        if (strcmp(text, choices[i]) == 0) return i;
    char allowed[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(allowed, i ? ", " : "", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, choices[i], sizeof allowed - strlen(allowed) - 1);
    }
    mx_cli_error("--%s '%s': expected one of %s", name, text ? text : "", allowed);
    return -1;
}
