/* tok show: the text with each token's extent coloured, then the ids. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tok_opts.h"

static const char SHOW_HELP[] =
    "usage: tok show [-t TOKENIZER] [OPTIONS] [FILE | -p TEXT]\n"
    "On a terminal, prints the text with token boundaries shown by alternating background\n"
    "colours, then the ids. Otherwise (or with NO_COLOR set, or --plain) prints one token\n"
    "per line: its id and its text, with control characters escaped.\n\n"
    "  -p, --text TEXT        show TEXT instead of a file\n"
    "      --plain            the one-token-per-line form even on a terminal\n";

/* Pastel backgrounds, as the tiktokenizer page uses, with black text. */
static const int colours[] = {153, 186, 217, 151, 223, 189};

static void put_escaped(const char *s, size_t n, bool colour) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs(colour ? "\\n\n" : "\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
}

int cmd_show(int argc, char **argv) {
    tok_opts o = {0};
    const char *text = NULL, *file = NULL;
    bool plain = false;
    for (int i = 1; i < argc; i++) {
        int r = tok_opts_parse(&o, "show", argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf("%s%s", SHOW_HELP, TOK_OPTS_HELP);
            return EXIT_OK;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--text")) {
            if (++i >= argc) return cli_error("show", "%s needs a value", a), EXIT_USAGE;
            text = argv[i];
        } else if (!strcmp(a, "--plain")) plain = true;
        else if (a[0] == '-' && a[1]) return cli_error("show", "unknown option %s (see --help)", a), EXIT_USAGE;
        else file = a;
    }
    const char *nc = getenv("NO_COLOR");
    bool colour = !plain && isatty(STDOUT_FILENO) && !(nc && *nc);
    tok_tokenizer *t = tok_opts_load(&o, "show");
    if (!t) return EXIT_RUNTIME;
    size_t len = 0;
    char *owned = NULL;
    if (!text) {
        owned = cli_read_file(file ? file : "-", &len);
        if (!owned) {
            cli_error("show", "%s: cannot read", file ? file : "stdin");
            tok_free(t);
            return EXIT_RUNTIME;
        }
        text = owned;
    } else
        len = strlen(text);
    tok_ids ids = {0};
    tok_error err = {0};
    int status = EXIT_OK;
    if (tok_encode(t, text, len, &o.params, &ids, &err)) {
        cli_error("show", "%s", err.msg);
        status = EXIT_RUNTIME;
    }
    /* A token may end inside a UTF-8 character (byte-level BPE); such tokens
     * are shown together with the following ones until the character is whole. */
    tok_bytes pending = {0};
    int group = 0;
    for (size_t i = 0; status == EXIT_OK && i < ids.n; i++) {
        size_t n;
        const char *b = tok_token_bytes(t, ids.ids[i], &n);
        if (!b) continue;
        tok_bytes_append(&pending, b, n);
        if (tok_utf8_check(pending.data, pending.n) != pending.n && i + 1 < ids.n) {
            if (!colour) printf("%d\t(part of a character)\n", ids.ids[i]);
            continue;
        }
        if (colour) {
            printf("\x1b[48;5;%dm\x1b[30m", colours[group++ % (int)(sizeof colours / sizeof *colours)]);
            put_escaped(pending.data, pending.n, true);
            fputs("\x1b[0m", stdout);
        } else {
            printf("%d\t\"", ids.ids[i]);
            put_escaped(pending.data, pending.n, false);
            fputs("\"\n", stdout);
        }
        pending.n = 0;
    }
    if (status == EXIT_OK && colour) {
        printf("\n\n%zu tokens, %zu bytes\n", ids.n, len);
        for (size_t i = 0; i < ids.n; i++) printf(i ? ", %d" : "[%d", ids.ids[i]);
        puts(ids.n ? "]" : "[]");
    } else if (status == EXIT_OK)
        printf("# %zu tokens, %zu bytes\n", ids.n, len);
    tok_bytes_free(&pending);
    tok_ids_free(&ids);
    free(owned);
    tok_free(t);
    tok_opts_free(&o);
    return status;
}
