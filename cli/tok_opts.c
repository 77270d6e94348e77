/* Shared tokenizer options: which tokenizer, special-token policy, UTF-8 policy. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tok_engine.h"
#include "tok_opts.h"

const char TOK_OPTS_HELP[] =
    "  -t, --tokenizer SPEC   built-in encoding (cl100k_base, o200k_base, p50k_base, r50k_base,\n"
    "                         claude_legacy) or a tokenizer.json / .tiktoken / .gguf file [cl100k_base]\n"
    "      --pattern P        pre-tokenizer of a .tiktoken file: an encoding name or a regex\n"
    "      --special MODE     special-token strings in the text: 'default' (the format's own\n"
    "                         default: plain text for tiktoken, matched for tokenizer.json),\n"
    "                         'none', 'all', or a comma-separated list of tokens to match\n"
    "      --strict-special   fail on a special-token string that --special does not allow\n"
    "                         (tiktoken's encode() default)\n"
    "      --add-special      add the post-processor's BOS/EOS (tokenizer.json)\n"
    "      --no-add-special   .gguf: no BOS/EOS (by default a .gguf vocabulary adds them as\n"
    "                         llama.cpp's llama_tokenize(add_special=true, parse_special=false))\n"
    "      --lossy            replace invalid UTF-8 with U+FFFD instead of failing\n";

int tok_opts_parse(tok_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (cli_is_opt(a, "-t") || cli_is_opt(a, "--tokenizer")) return (o->tokenizer = cli_opt_value(cmd, argc, argv, i)) ? 1 : -1;
    if (cli_is_opt(a, "--pattern")) return (o->pattern = cli_opt_value(cmd, argc, argv, i)) ? 1 : -1;
    if (cli_is_opt(a, "--special")) return (o->special = cli_opt_value(cmd, argc, argv, i)) ? 1 : -1;
    if (!strcmp(a, "--strict-special")) return o->strict_special = true, 1;
    if (!strcmp(a, "--add-special")) return o->add_special = true, 1;
    if (!strcmp(a, "--no-add-special")) return o->no_add_special = true, 1;
    if (!strcmp(a, "--lossy")) return o->lossy = true, 1;
    return 0;
}

tok_tokenizer *tok_opts_load(tok_opts *o, const char *cmd) {
    tok_encode_params *p = &o->params;
    *p = tok_encode_default_params();
    p->add_special = o->add_special;
    p->utf8 = o->lossy ? TOK_UTF8_REPLACE : TOK_UTF8_STRICT;
    if (!o->special || !strcmp(o->special, "default")) p->special = o->strict_special ? TOK_SPECIAL_ERROR : TOK_SPECIAL_DEFAULT;
    else if (!strcmp(o->special, "none")) p->special = o->strict_special ? TOK_SPECIAL_ERROR : TOK_SPECIAL_NONE;
    else if (!strcmp(o->special, "all")) p->special = TOK_SPECIAL_ALL;
    else {
        size_t n = 1;
        for (const char *s = o->special; *s; s++) n += *s == ',';
        o->allowed = calloc(n + 1, sizeof *o->allowed);
        char *copy = strdup(o->special);
        if (!o->allowed || !copy) {
            free(copy);
            cli_error(cmd, "out of memory");
            return NULL;
        }
        size_t k = 0;
        for (char *save, *tokn = strtok_r(copy, ",", &save); tokn; tokn = strtok_r(NULL, ",", &save))
            o->allowed[k++] = strdup(tokn);
        free(copy);
        p->special = o->strict_special ? TOK_SPECIAL_ERROR : TOK_SPECIAL_LIST;
        p->allowed = (const char *const *)o->allowed;
    }
    tok_error err = {0};
    const char *spec = o->tokenizer ? o->tokenizer : "cl100k_base";
    size_t sl = strlen(spec);
    bool gguf = !o->pattern && sl > 5 && !strcmp(spec + sl - 5, ".gguf");
    tok_tokenizer *t = NULL;
    if (gguf) { /* the vocabulary embedded in a model file */
        tok_gguf *g = tok_gguf_open(spec, &err);
        t = g ? tok_gguf_tokenizer(g, &err) : NULL;
        tok_gguf_close(g);
        if (!o->no_add_special) p->add_special = true;
    } else
        t = o->pattern ? tok_load_tiktoken(spec, o->pattern, NULL, 0, &err) : tok_load(spec, &err);
    if (!t) {
        cli_error(cmd, "%s", err.msg);
        return NULL;
    }
    if (p->allowed)
        for (size_t i = 0; o->allowed[i]; i++)
            if (tok_token_id(t, o->allowed[i], strlen(o->allowed[i])) < 0 || !strcmp(o->allowed[i], "")) {
                cli_error(cmd, "--special: '%s' is not a special token of %s", o->allowed[i], spec);
                tok_free(t);
                return NULL;
            }
    return t;
}

void tok_opts_free(tok_opts *o) {
    for (size_t i = 0; o->allowed && o->allowed[i]; i++) free(o->allowed[i]);
    free(o->allowed);
    o->allowed = NULL;
}
