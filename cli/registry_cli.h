/* Shared by tok models, tok cost and tok count -m: opening the model
 * registry and turning a model name into a row and a tokenizer. */
#ifndef TOK_CLI_REGISTRY_H
#define TOK_CLI_REGISTRY_H
#include <stdbool.h>

#include "tok_pipeline.h"

typedef struct cli_registry_opts {
    const char *registry; /* --registry FILE */
    const char *config;   /* --config FILE */
    bool no_config;       /* --no-config */
} cli_registry_opts;

extern const char CLI_REGISTRY_HELP[];

/* Handles one registry option at argv[*i]: 1 consumed, 0 not ours, -1 usage
 * error (printed). */
int cli_registry_opt(cli_registry_opts *o, const char *cmd, int argc, char **argv, int *i);
/* Opens the registry (the data file beside the executable unless
 * --registry/$TOK_DATA_DIR say otherwise); prints the error and returns NULL. */
tok_registry *cli_registry_open(const char *cmd, const cli_registry_opts *o);

typedef struct cli_model {
    const tok_model_entry *m; /* a registry row, or &local */
    tok_model_entry local;
    tok_model_counting counting;
} cli_model;

/* A registry model name, "local:FILE.gguf" or FILE.gguf. r may be NULL for
 * local files only. Prints the error and returns EXIT_RUNTIME, or EXIT_OK. */
int cli_model_resolve(const char *cmd, const tok_registry *r, const char *name, cli_model *out);

/* "$0.001234" ("$3.0e-07" below a micro-dollar), "unknown" (negative) or "local". */
const char *cli_usd(char *buf, size_t n, double usd, bool local);
#endif
