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
/* Replaces the bos_token/eos_token texts the template sees (NULL: none), for
 * vocabularies that do not name them (a tokenizer.json without its
 * tokenizer_config.json). Set-up only: not while other threads format. */
int tok_chat_set_tokens(tok_chat *c, const char *bos_token, const char *eos_token, tok_error *err);

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

/*
 * The model registry: context windows, output limits, prices (USD per million
 * tokens) and the tokenizer family of each model, read from a JSON data file
 * (data/registry/models.json; docs/registry.md) plus the user's overrides.
 * A loaded registry is immutable; lookups may run from many threads.
 */
typedef struct tok_registry tok_registry;

typedef struct tok_price_tier {
    int64_t above_input_tokens; /* the whole request is billed at `price` when
                                   its input tokens exceed this */
    double price;
} tok_price_tier;

/* One model row. Strings are owned by the registry. Unknown numbers are
 * negative (-1): an unknown price is never 0. */
typedef struct tok_model_entry {
    const char *id, *provider, *creator;
    const char *name;             /* display name or NULL */
    int64_t context_window;       /* total tokens (input + output); -1 unknown */
    int64_t max_output_tokens;    /* -1 unknown */
    double input_per_mtok, output_per_mtok;        /* -1 unknown */
    double cached_input_per_mtok, cache_write_per_mtok; /* -1 unknown */
    const tok_price_tier *input_tiers, *output_tiers;
    size_t n_input_tiers, n_output_tiers;
    size_t n_price_changes;       /* dated or time-of-day price sets */
    bool time_of_day_prices;      /* some price set applies only in UTC hours */
    const char *tokenizer;        /* family: "o200k_base", "llama3", "unknown/approximate", ... */
    const char *tokenizer_basis;  /* "mapped", "family-default", "approximate" or NULL */
    const char *price_comments;   /* NULL if none */
    bool first_party, deprecated;
    bool local;                   /* a local GGUF file: no per-token price */
    const char *origin;           /* file the row (or its last override) came from */
} tok_model_entry;

typedef struct tok_registry_params {
    const char *path;        /* the registry file; NULL: registry/models.json under
                                $TOK_DATA_DIR, then data_dir, then the install prefix */
    const char *data_dir;    /* see path; may be NULL */
    const char *config_path; /* overrides; NULL: $TOK_CONFIG, else
                                $XDG_CONFIG_HOME/tok/models.json or
                                ~/.config/tok/models.json if that file exists */
    bool no_config;          /* ignore the user's overrides */
} tok_registry_params;

tok_registry_params tok_registry_default_params(void);

/* Loads the registry and applies the overrides. Errors name the file and the
 * field ("models.json: models[12].match.or[1]: unknown test 'startswith'"). */
tok_registry *tok_registry_open(const tok_registry_params *p, tok_error *err);
/* Applies one more override file (same schema) to a registry being set up;
 * not to be called while other threads read it. */
int tok_registry_merge_file(tok_registry *r, const char *path, tok_error *err);
void tok_registry_free(tok_registry *r);

size_t tok_registry_count(const tok_registry *r);
const tok_model_entry *tok_registry_at(const tok_registry *r, size_t i);
/* The files the registry was read from ("a, b"), for messages. */
const char *tok_registry_sources(const tok_registry *r);

/* Finds the row for a model name as an API spells it: "gpt-4o",
 * "gpt-4o-2024-08-06", "anthropic:claude-3-5-sonnet-20241022" (a provider
 * prefix restricts the search). Order: user rows, exact id (first-party rows
 * first), then the rows' `match` rules (first-party first, in file order),
 * then once more with a -YYYYMMDD suffix rewritten as -YYYY-MM-DD. Case and
 * surrounding spaces are ignored. NULL with err set if nothing matches. */
const tok_model_entry *tok_registry_find(const tok_registry *r, const char *name, tok_error *err);

typedef struct tok_model_filter {
    const char *provider;     /* exact provider id, or NULL */
    const char *text;         /* case-insensitive substring of id, name, provider or creator */
    int64_t min_context;      /* 0 = any */
    double max_input_price;   /* < 0 = any; rows with an unknown price never pass */
    double max_output_price;
    bool include_deprecated;
} tok_model_filter;

tok_model_filter tok_model_default_filter(void);
/* Stores up to cap matching rows (in registry order) in out; returns how many
 * rows match. */
size_t tok_registry_search(const tok_registry *r, const tok_model_filter *f,
                           const tok_model_entry **out, size_t cap);

/* How a model's tokens are counted. */
typedef struct tok_model_counting {
    char spec[1024];   /* what tok_load / a .gguf loader takes: a built-in
                          encoding name or a file path */
    bool approximate;  /* no public tokenizer for this model (or its family's
                          file is not configured): spec is a stand-in */
    char note[256];    /* why, for messages ("no public tokenizer; counted with o200k_base") */
} tok_model_counting;

/* Maps the row's tokenizer family to a tokenizer: the exact encoding where
 * one is public and available (o200k_base, cl100k_base, p50k_base, r50k_base;
 * o200k_harmony counts plain text as o200k_base; a family named in the
 * config's "tokenizer_files" or found as tokenizers/FAMILY/tokenizer.json in
 * the data directory; a file path given as the tokenizer), else a documented
 * stand-in, marked approximate (docs/registry.md lists them). r may be NULL. */
void tok_model_counting_for(const tok_registry *r, const tok_model_entry *m, tok_model_counting *out);

/* Loads the tokenizer `c` names (GGUF files through the engine). */
tok_tokenizer *tok_model_counting_load(const tok_model_counting *c, tok_error *err);

/* A local GGUF model as a row: id = path (kept by the caller), provider
 * "local", context window from the file's metadata, no per-token price. */
int tok_model_local(const char *path, tok_model_entry *out, tok_error *err);

/* True for "local:FILE" or a path ending in .gguf; *path receives the file. */
bool tok_model_is_local(const char *name, const char **path);

typedef struct tok_cost {
    double input_price, output_price;  /* per million, after tiers and dated changes; -1 unknown */
    double input_usd, output_usd, total_usd; /* -1 unknown */
    bool tiered;                        /* a long-context tier applied */
} tok_cost;

/* Cost of a request with input_tokens in and output_tokens out (-1: unknown
 * output length, so the output and total costs are unknown). date is
 * "YYYY-MM-DD" for dated price changes (NULL = today, UTC). Local rows cost 0. */
tok_cost tok_model_cost(const tok_registry *r, const tok_model_entry *m, int64_t input_tokens,
                        int64_t output_tokens, const char *date);

/* ---- recipes: YAML prompt chains and their runner ------------------------ */

/*
 * A recipe (docs/recipes.md) is a YAML file: name, description, model,
 * sampling defaults, typed inputs, and steps that are templates wired by
 * `steps.ID.output` references. Loading validates everything that can be
 * checked before a model runs: known keys only (with a suggestion), unique
 * step ids, references to declared steps and inputs, no cycles, templates
 * that parse. Errors read "recipe.yaml:14:5: step "summarize": unknown key
 * "promt" (did you mean "prompt"?)". A loaded recipe is immutable.
 */
#include <stdio.h>
struct tok_model;

typedef struct tok_recipe tok_recipe;

tok_recipe *tok_recipe_parse(const char *name, const char *src, size_t len, tok_error *err);
/* Reads path; relative `file` input defaults are resolved from its folder. */
tok_recipe *tok_recipe_load(const char *path, tok_error *err);
void tok_recipe_free(tok_recipe *r);

const char *tok_recipe_name(const tok_recipe *r);  /* NULL if none */
const char *tok_recipe_model(const tok_recipe *r); /* as written; NULL if none */
const char *tok_recipe_dir(const tok_recipe *r);   /* folder of the file ("." if parsed) */
size_t tok_recipe_n_steps(const tok_recipe *r);
/* Step ids in run order (dependencies first, else file order). */
const char *tok_recipe_step_id(const tok_recipe *r, size_t i);
/* The model a step overrides (NULL: the recipe's). i in run order. */
const char *tok_recipe_step_model(const tok_recipe *r, size_t i);

/* A value for an input: "k", "v" from --var k=v; a value "@FILE" is read
 * from FILE. */
typedef struct tok_recipe_var {
    const char *key, *value;
} tok_recipe_var;

/* A model the steps run on. The runner calls models only through this:
 * the chat template builds and counts every prompt, the session generates. */
typedef struct tok_recipe_backend {
    const char *model_name;      /* for the trace and results */
    const struct tok_model *model; /* NULL: counting only (dry runs) */
    const tok_tokenizer *tk;     /* counts and decodes */
    const tok_chat *chat;        /* system + user -> prompt */
    int n_ctx;                   /* context window (0: the model's) */
    int n_threads;
    bool kv_f16;                 /* sessions keep an F16 KV cache (tok_session_params) */
    bool approximate;            /* tk is a stand-in: counts are estimates */
    const tok_registry *registry; /* with entry: prices for the cost; */
    const tok_model_entry *entry; /* NULL or a local row: costs nothing */
    const char *cannot_run;      /* model NULL: why it cannot generate, for
                                    the error of a real run */
} tok_recipe_backend;

/* Turns a step's `model:` into a backend (kept alive until the run ends);
 * NULL with err set if it cannot. */
typedef const tok_recipe_backend *(*tok_recipe_resolve_fn)(void *ud, const char *model, tok_error *err);

typedef struct tok_recipe_run_params {
    const tok_recipe_var *vars;
    size_t n_vars;
    bool dry_run;   /* render and count every step; call no model. Outputs of
                       earlier steps are placeholders ("[output of step X]"),
                       so the counts of steps that use them are estimates. */
    FILE *trace;    /* one JSON line per step, or NULL; each line is one
                       write() under an exclusive lock, so several
                       processes may append to one file */
    const char *cache_dir; /* calls that are greedy or seeded are stored
                              here and answered from here when made again
                              (same model file, prompt ids, sampling);
                              NULL: no cache */
    tok_recipe_resolve_fn resolve; /* steps with their own model; NULL: such
                                      steps fail */
    void *resolve_ud;
} tok_recipe_run_params;

tok_recipe_run_params tok_recipe_default_run_params(void);

typedef struct tok_recipe_step_result {
    const char *id;          /* owned by the recipe */
    bool ran, skipped;       /* skipped: its `when` was false */
    bool estimated;          /* dry run with placeholder outputs in the prompt */
    bool is_prompt;          /* a model call (else a template transform) */
    const char *kind;        /* "prompt", "template", "split", "map" or "reduce" */
    int n_items;             /* split and map: items in the output list;
                                on_overflow chunk and reduce: the calls made */
    char *prompt;            /* the rendered prompt text (chat-formatted) */
    char *output;            /* text; json re-serialized; lines joined by \n */
    int prompt_tokens, completion_tokens, max_tokens;
    int n_ctx;               /* the window the budget was checked against */
    double latency_ms, gen_ms;
    const char *stop_reason; /* NULL if no model ran */
    const char *truncated;   /* on_overflow truncate: the input cut, or NULL */
    int truncated_from, truncated_to; /* its tokens before and after */
    char *reasoning;         /* <think> text kept out of the output, or NULL */
    const char *model;       /* the backend's model_name (NULL: no model) */
    bool approximate;        /* counted with a stand-in tokenizer */
    double cost_usd;         /* this step's calls at the model's prices (dry
                                run: with max_tokens out per call); 0 for
                                local models; -1 unknown price */
    double cost_min_usd;     /* dry run: the same calls with no output (the
                                low end of the range); -1 unknown */
    bool local;              /* no per-token price */
    int attempts;            /* calls made for one item, retries included */
    int cache_hits;          /* of those, answered from the cache */
    int choice;              /* choices: index of the answer picked, else -1 */
} tok_recipe_step_result;

typedef struct tok_recipe_result {
    tok_recipe_step_result *steps; /* in run order; filled as far as the run got */
    size_t n;
    cJSON *outputs;                /* {"ID": output, ...} (json/lines steps as values) */
} tok_recipe_result;

/* Checks the inputs (missing ones are named, unknown --var keys get a
 * suggestion), then runs the steps in order. On failure err names the step
 * and cause, and out still holds the steps run before it. Always free out. */
int tok_recipe_run(const tok_recipe *r, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                   tok_recipe_result *out, tok_error *err);
void tok_recipe_result_free(tok_recipe_result *out);

/* Separates <think>...</think> reasoning from a model's answer: 1 and both
 * strings set (caller frees) if there was reasoning, 0 if none (both NULL),
 * -1 out of memory. Unclosed <think>: the rest is reasoning. */
int tok_recipe_split_reasoning(const char *text, char **answer, char **reasoning);

#ifdef __cplusplus
}
#endif
#endif
