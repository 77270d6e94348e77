/*
 * tok pipeline: templates, model registry and cost, context budgeting,
 * recipes and their runner. Depends on the engine and libtok.
 */
#ifndef TOK_PIPELINE_H
#define TOK_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- templates (Jinja subset) -------------------------------------------- */

/*
 * A Jinja subset that renders Hugging Face chat templates byte for byte as
 * transformers does (trim_blocks, lstrip_blocks, loopcontrols, its tojson,
 * raise_exception, strftime_now, {% generation %}); docs/templates.md lists
 * what is supported. Parsing checks syntax and filter/test names; a parsed
 * template is immutable and may be rendered from many threads at once.
 * Nothing in a template can reach files, the network or the environment.
 */
#include <cjson/cJSON.h>

typedef struct tok_template tok_template;

typedef struct tok_template_params {
    size_t max_output_bytes;    /* rendering longer than this fails (default 16 MiB) */
    size_t max_loop_iterations; /* total over the render (default 1,000,000) */
    int max_depth;              /* nesting of macro calls and expressions (default 200) */
    size_t max_memory_bytes;    /* working memory of one render (default 512 MiB) */
    bool fixed_now;             /* strftime_now uses now_unix (read as UTC) */
    int64_t now_unix;           /* otherwise it uses the local clock */
    bool keep_trailing_newline; /* default false, as transformers */
} tok_template_params;

tok_template_params tok_template_default_params(void);

/* Parses src[0..len). name prefixes error messages ("chat_template:3:17:
 * unknown filter 'tojsn'"). p may be NULL for the defaults. */
tok_template *tok_template_parse(const char *name, const char *src, size_t len,
                                 const tok_template_params *p, tok_error *err);

enum tok_template_error_kind {
    TOK_TEMPLATE_OK = 0,
    TOK_TEMPLATE_ESYNTAX,    /* the template does not parse */
    TOK_TEMPLATE_ERAISE,     /* the template called raise_exception(msg) */
    TOK_TEMPLATE_EUNDEFINED, /* an undefined value was used (Jinja's UndefinedError) */
    TOK_TEMPLATE_ETYPE,      /* an operation on values of the wrong type */
    TOK_TEMPLATE_ELIMIT      /* output, iteration, depth or memory limit */
};

typedef struct tok_template_diag {
    int kind;          /* enum tok_template_error_kind */
    int line, col;     /* 1-based position in the template */
    char message[512]; /* the cause without the location; for ERAISE exactly
                          the template's text */
} tok_template_diag;

/* Renders with the variables of a JSON object (key order is kept: tojson and
 * |items see it). Appends to out (NUL-terminated). On failure err holds
 * "name:line:col: cause" and, if diag is non-NULL, its parts. */
int tok_template_render(const tok_template *t, const cJSON *context, tok_bytes *out,
                        tok_error *err);
int tok_template_render_diag(const tok_template *t, const cJSON *context, tok_bytes *out,
                             tok_error *err, tok_template_diag *diag);

void tok_template_free(tok_template *t);


/* ---- chat: a model's chat template applied to messages ---------------------- */

/*
 * A conversation becomes a prompt the way transformers' apply_chat_template
 * and llama.cpp do it: the chat template (GGUF key tokenizer.chat_template,
 * or a file) is rendered with `messages`, `add_generation_prompt`, and
 * `bos_token`/`eos_token` taken from the vocabulary; the text is tokenized
 * with special tokens parsed (control-token text such as <|im_start|> becomes
 * its id) and the tokenizer's BOS added only if the text does not already
 * start with the BOS token's text (llama.cpp's rule: no double BOS).
 * A tok_chat borrows its tokenizer (which must outlive it) and is immutable:
 * many threads may format with one at once.
 */
typedef struct tok_chat_message {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content; /* NUL-terminated UTF-8 */
} tok_chat_message;

typedef struct tok_chat tok_chat;

/* From template source src[0..len); name prefixes error messages. tk may be
 * NULL (no bos/eos_token, and tok_chat_tokenize fails). */
tok_chat *tok_chat_new(const char *name, const char *src, size_t len, const tok_tokenizer *tk,
                       tok_error *err);
/* From a GGUF file's tokenizer.chat_template. A file without one fails with a
 * message that says so and suggests --chat-template. */
struct tok_gguf;
tok_chat *tok_chat_from_gguf(const struct tok_gguf *g, const tok_tokenizer *tk, tok_error *err);
void tok_chat_free(tok_chat *c);

/* The rendered prompt text, appended to out. */
int tok_chat_render(const tok_chat *c, const tok_chat_message *msgs, size_t n,
                    bool add_generation_prompt, tok_bytes *out, tok_error *err);
/* Rendered text -> ids (special tokens parsed, BOS unless already there);
 * appends to out. */
int tok_chat_tokenize(const tok_chat *c, const char *text, size_t len, tok_ids *out,
                      tok_error *err);
/* Both: messages -> ids; text (if non-NULL) receives the rendered prompt. */
int tok_chat_format(const tok_chat *c, const tok_chat_message *msgs, size_t n,
                    bool add_generation_prompt, tok_ids *out, tok_bytes *text, tok_error *err);

/* ---- model registry and cost --------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
