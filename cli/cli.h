/* The tok command: one function per subcommand, dispatched from main.c.
 * Exit codes: 0 success, 1 runtime failure, 2 usage error. */
#ifndef TOK_CLI_H
#define TOK_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_count(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Prints "tok CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer. */
char *cli_read_file(const char *path, size_t *len);
/* argv[*i] is option `name`, alone or as --name=value (long options only). */
bool cli_is_opt(const char *a, const char *name);
/* The value of the option at argv[*i] (--name=value, or the next argument,
 * advancing *i); prints a usage message and returns NULL if missing. */
const char *cli_opt_value(const char *cmd, int argc, char **argv, int *i);
/* True if argv[i] is --help or -h. */
bool cli_is_help(const char *arg);
#endif
