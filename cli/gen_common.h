/* Options and set-up shared by the commands that run a local model
 * (tok generate, tok chat): sampling flags, the default model, threads, the
 * chat template. Each helper prints its own message (tok CMD: ...). */
#ifndef TOK_CLI_GEN_COMMON_H
#define TOK_CLI_GEN_COMMON_H
#include <stdbool.h>
#include <stddef.h>

#include "tok_engine.h"
#include "tok_pipeline.h"

#define GEN_DEFAULT_MODEL "tiny-kjv-Q8_0.gguf"
#define GEN_MAX_BIAS 64

int gen_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out);
int gen_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out);
/* --kv-type: "f16" sets *f16, "f32" clears it; anything else is a usage error (printed). */
int gen_parse_kv_type(const char *cmd, const char *opt, const char *s, bool *f16);

/* Handles a sampling option a with value v (--temp, --top-k, --top-p,
 * --min-p, --repeat-penalty, --repeat-last-n, --frequency-penalty,
 * --presence-penalty, --logit-bias, -s/--seed): 1 consumed, 0 not one of
 * them, -1 usage error (printed). bias has room for GEN_MAX_BIAS entries and
 * becomes sp->logit_bias. */
int gen_sampling_option(const char *cmd, const char *a, const char *v, tok_sampling_params *sp,
                        tok_logit_bias *bias);

/* The bundled model: $TOK_DATA_DIR/models, then beside the executable
 * (../data, ../share/tok, data), then the install prefix. */
const char *gen_default_model(char *buf, size_t cap);
/* 1 for models under 100 MB (fork-join costs more than the work), else all cores. */
int gen_default_threads(const tok_model *m);
double gen_now_ms(void);

/* The chat template: from FILE if given, else the model's GGUF key (a
 * model without one gets plain User:/Assistant: turns and, unless quiet, a
 * notice). NULL after printing the error. */
tok_chat *gen_load_chat(const char *cmd, const tok_model *m, const tok_tokenizer *tk,
                        const char *template_file, bool quiet);
#endif
