/* The recipe structure shared by the loader (recipe.c) and the runner
 * (recipe_run.c). Private to pipeline/. */
#ifndef TOK_RECIPE_INTERNAL_H
#define TOK_RECIPE_INTERNAL_H
#include "tok_engine.h"
#include "tok_pipeline.h"

enum { RC_IN_STRING, RC_IN_FILE, RC_IN_NUMBER, RC_IN_LIST, RC_IN_FILES };
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
    int concurrency;  /* map: calls at once (0 or 1: one after another) */
    char *reduce;     /* reduce: the list to combine (same paths as over) */
    int group_tokens; /* reduce: the most prompt tokens per call (0: the context's budget) */
    char *separator;  /* reduce: between items in {{ text }} ("\n\n") */
    cJSON *schema;    /* format json: JSON Schema the output must satisfy, or NULL */
    char **choices;   /* a prompt answered by the most likely of these, or NULL */
    size_t n_choices;
    int retries;      /* format json/schema failures: generate again this many times */
    bool raw;         /* chat: false: the prompt as plain text, no chat template */
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
/* json_schema.c: checks a schema's own keywords (only the supported subset,
 * so nothing is silently unchecked), and a value against it; -1 and a
 * message naming the path ("schema.properties.x: ..." / ".items[2]: ...") */
int rc_schema_check(const cJSON *schema, char *msg, size_t cap);
int rc_schema_validate(const cJSON *schema, const cJSON *value, char *msg, size_t cap);
/* The value at a dotted path ("steps.x.output", optionally in {{ }}), or NULL. */
const cJSON *rc_lookup(const cJSON *ctx, const char *path);
/* ---- the runner's shared parts (recipe_run.c) ---- */
int rc_fail(tok_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double rc_now_ms(void);
cJSON *rc_split_lines(const char *s);
size_t rc_count_tokens(const tok_tokenizer *tk, const char *text);
/* t rendered with ctx into out; errors name the step and `what` */
int rc_render(const tok_recipe *r, const rc_step *s, const char *what, const tok_template *t, const cJSON *ctx,
              tok_bytes *out, tok_error *err);
/* One model call of a prompt step (counted, budgeted, generated; choices
 * scored; json retried): st gets the prompt, output, tokens and cost. */
int rc_run_prompt(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                  const cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_error *err);
/* A step's output text as later steps see it (format; json checked against
 * the schema); NULL with err set. */
cJSON *rc_parse_output(const tok_recipe *r, const rc_step *s, const char *text, tok_error *err);
/* on_overflow: chunk, after rc_run_prompt failed with TOK_ERANGE (st holds
 * its count): the biggest input split to fit, the prompt once per chunk,
 * the outputs joined by newlines. */
int rc_run_chunked(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                   const cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_error *err);
/* One trace line (where: {"item": N} etc. for a call of a multi-call step,
 * NULL for the step's own line); one write() under a lock. */
void rc_trace(FILE *f, const tok_recipe_step_result *st, const cJSON *where, bool dry, const char *error);
/* Adds one call's tokens, latency and cost into a step's totals. */
void rc_accumulate(tok_recipe_step_result *st, const tok_recipe_step_result *one);
/* The cost of one call (-1 unknown, 0 local). */
double rc_call_cost(const tok_recipe_backend *b, size_t in, size_t out);

/* recipe_map.c: over: once per item, in order or `concurrency` calls at
 * once (a session each); the list of outputs, in item order */
cJSON *rc_run_map(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                  cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_bytes *buf, tok_error *err);
/* recipe_reduce.c: reduce: the list combined by the prompt, group by group,
 * until one call holds it all */
int rc_run_reduce(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                  const cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_error *err);
/* recipe_choice.c: the index of the most likely choice after the prompt
 * (ids and rendered text; the sum of the choice tokens' log-probabilities),
 * or -1 with err set;
 * the choice's token count in *n_tok */
int rc_choose(const tok_recipe_backend *b, tok_session *sess, const tok_ids *prompt, const char *prompt_text,
              char *const *choices, size_t n, int *n_tok, tok_error *err);
/* recipe_cache.c: --cache DIR. Calls are cacheable when greedy or seeded;
 * a hit fills out (caller frees text and stop_reason) and returns 1. */
typedef struct rc_cached {
    char *text, *stop_reason;
    int completion_tokens;
} rc_cached;
bool rc_cacheable(const rc_sampling *m);
int rc_cache_get(const char *dir, const char *model_path, int n_ctx, const tok_ids *prompt, const rc_sampling *m,
                 int attempt, rc_cached *out);
void rc_cache_put(const char *dir, const char *model_path, int n_ctx, const tok_ids *prompt, const rc_sampling *m,
                  int attempt, const char *text, int completion_tokens, const char *stop_reason);
#endif
