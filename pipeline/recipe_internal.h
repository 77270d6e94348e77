/* The recipe structure shared by the loader (recipe.c) and the runner
 * (recipe_run.c). Private to pipeline/. */
#ifndef TOK_RECIPE_INTERNAL_H
#define TOK_RECIPE_INTERNAL_H
#include "tok_pipeline.h"

enum { RC_IN_STRING, RC_IN_FILE, RC_IN_NUMBER, RC_IN_LIST };
enum { RC_STEP_PROMPT, RC_STEP_TEMPLATE, RC_STEP_SPLIT };
enum { RC_FMT_TEXT, RC_FMT_JSON, RC_FMT_LINES };
enum { RC_OVERFLOW_ERROR, RC_OVERFLOW_TRUNCATE, RC_OVERFLOW_CHUNK };
enum { RC_TRUNC_HEAD, RC_TRUNC_TAIL, RC_TRUNC_MIDDLE };

/* Sampling settings: each field is meaningful only if its bit is set, so a
 * step's overrides merge over the recipe's defaults. */
enum { RC_S_TEMP = 1, RC_S_TOP_P = 2, RC_S_TOP_K = 4, RC_S_MAX = 8, RC_S_SEED = 16, RC_S_STOP = 32 };
typedef struct rc_sampling {
    unsigned set;
    float temperature, top_p;
    int top_k, max_tokens;
    int64_t seed;
    char **stop;
    size_t n_stop;
} rc_sampling;

typedef struct rc_input {
    char *name, *description;
    int type;
    cJSON *def; /* NULL: required */
    int line, col;
} rc_input;

typedef struct rc_msg {
    char *role, *src;  /* role as written; content template source */
    tok_template *t;
} rc_msg;

typedef struct rc_step {
    char *id;
    int line, col;
    int kind;
    char *model;
    tok_template *prompt, *system, *tmpl, *when;
    char *prompt_src, *system_src, *tmpl_src;
    rc_msg *msgs; /* `messages:` (instead of prompt) */
    size_t n_msgs;
    int format, overflow, truncate;
    rc_sampling s;
    size_t overlap;   /* split: tokens repeated between chunks */
    char *over;       /* map: `over:` path (steps.ID.output, inputs.NAME) */
    size_t *deps, n_deps;
} rc_step;

struct tok_recipe {
    char *file, *dir;
    char *name, *description, *model;
    rc_sampling defaults;
    rc_input *inputs;
    size_t n_inputs;
    rc_step *steps; /* in run order after loading */
    size_t n_steps;
};

/* The known word closest to w (edit distance <= 2, or <= a third of its
 * length), or NULL. */
const char *rc_suggest(const char *w, const char *const *known, size_t n);
/* split (recipe_split.c): text into chunks of at most max tokens of tk each,
 * cut at paragraph, sentence, word, else character boundaries; overlap
 * tokens repeated. A JSON array of strings, or NULL with err set. */
cJSON *rc_split(const tok_tokenizer *tk, const char *text, size_t max, size_t overlap, tok_error *err);
/* The value at a dotted path ("steps.x.output", optionally in {{ }}), or NULL. */
const cJSON *rc_lookup(const cJSON *ctx, const char *path);
#endif
