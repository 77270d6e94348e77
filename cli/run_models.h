/* The models of one `tok run` (run_models.c): loaded on first use, kept
 * until the run ends; run_models_get is the recipe runner's resolver. */
#ifndef TOK_CLI_RUN_MODELS_H
#define TOK_CLI_RUN_MODELS_H
#include <stdbool.h>

#include "registry_cli.h"
#include "tok_pipeline.h"

typedef struct run_models run_models;

/* recipe_dir: where relative model paths are looked up; tmpl: --chat-template
 * for local models (NULL: the model's); n_ctx, n_threads: 0 for defaults. */
run_models *run_models_new(const char *recipe_dir, const char *tmpl, int n_ctx, int n_threads, bool kv_f16, bool quiet,
                           const cli_registry_opts *ro);
void run_models_free(run_models *R);
/* A tok_recipe_resolve_fn: ud is the run_models; name NULL: the bundled model. */
const tok_recipe_backend *run_models_get(void *ud, const char *name, tok_error *err);
/* Whether any model loaded so far has registry prices. */
bool run_models_any_priced(const run_models *R);
#endif
