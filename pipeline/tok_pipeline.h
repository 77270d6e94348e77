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


/* ---- model registry and cost --------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
