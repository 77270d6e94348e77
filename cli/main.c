/* tok: entry point and subcommand dispatch. */
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tok.h"

static int cmd_version(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("tok %s\n", TOK_VERSION);
    return EXIT_OK;
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"encode", cmd_encode, "text to token ids"},
    {"decode", cmd_decode, "token ids to text"},
    {"count", cmd_count, "tokens, characters, words and bytes per file"},
    {"show", cmd_show, "text with token boundaries coloured, and the ids"},
    {"template", cmd_template, "render a chat or prompt template with a JSON context"},
    {"version", cmd_version, "print the version"},
    {"inspect", cmd_inspect, "print a GGUF file's metadata and tensor table"},
    {"generate", cmd_generate, "continue a prompt with a local GGUF model"},
    {"models", cmd_models, "list, search and show the model registry (context, prices, tokenizer)"},
    {"cost", cmd_cost, "tokens, context fit and cost of files for one or more models"},
    {"chat", cmd_chat, "talk with a local GGUF model (its chat template, history, usage)"},
    {"run", cmd_run, "run a YAML recipe: templated prompt steps on a local model, with usage"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tok COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'tok COMMAND --help' describes one command. Exit status: 0 success,\n"
               "1 runtime failure, 2 usage error.\n");
}

void cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "tok %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool cli_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

bool cli_is_opt(const char *a, const char *name) {
    size_t n = strlen(name);
    return !strncmp(a, name, n) && (a[n] == 0 || (a[n] == '=' && name[1] == '-'));
}

const char *cli_opt_value(const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *eq = strchr(a, '=');
    if (a[0] == '-' && a[1] == '-' && eq) return eq + 1;
    if (*i + 1 >= argc) {
        cli_error(cmd, "option %s needs a value", a);
        return NULL;
    }
    return argv[++*i];
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || bad) { free(buf); return NULL; }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Built-in encodings ship in data/ beside the build tree, or share/tok when
 * installed; find them relative to the executable unless TOK_DATA_DIR is set. */
static void locate_data_dir(void) {
    static char dir[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *d = dirname(exe);
    const char *candidates[] = {"/../data", "/../share/tok", "/data"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s%s", d, candidates[i]);
        char probe[sizeof dir + 32];
        snprintf(probe, sizeof probe, "%s/encodings.json", dir);
        if (access(probe, R_OK) == 0) { tok_set_data_dir(dir); return; }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) { usage(stdout); return EXIT_OK; }
    if (!strcmp(argv[1], "--version")) { printf("tok %s\n", TOK_VERSION); return EXIT_OK; }
    locate_data_dir();
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tok: unknown command '%s' (see 'tok --help')\n", argv[1]);
    return EXIT_USAGE;
}
