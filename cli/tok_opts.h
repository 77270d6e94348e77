/* Options shared by the tokenizer commands (encode, decode, count, show). */
#ifndef TOK_CLI_TOK_OPTS_H
#define TOK_CLI_TOK_OPTS_H
#include <stdbool.h>

#include "tok.h"

typedef struct tok_opts {
    const char *tokenizer; /* -t */
    const char *pattern;   /* --pattern, for .tiktoken files */
    const char *special;   /* --special none|all|default|LIST */
    bool strict_special;   /* --strict-special */
    bool add_special;      /* --add-special */
    bool no_add_special;   /* --no-add-special (GGUF vocabularies add BOS by default) */
    bool lossy;            /* --lossy */
    char **allowed;        /* parsed LIST, NULL-terminated */
    tok_encode_params params;
} tok_opts;

/* Handles one shared option at argv[*i]; returns 1 if consumed, 0 if not
 * ours, -1 on a usage error (message printed). */
int tok_opts_parse(tok_opts *o, const char *cmd, int argc, char **argv, int *i);
/* Loads the tokenizer and fills params; prints the error and returns NULL. */
tok_tokenizer *tok_opts_load(tok_opts *o, const char *cmd);
void tok_opts_free(tok_opts *o);
extern const char TOK_OPTS_HELP[];
#endif
