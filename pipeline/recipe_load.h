/* The recipe loader's shared parts: the load state and the YAML node helpers
 * used by recipe.c (top level, inputs, references, order) and recipe_step.c
 * (one step). Private to pipeline/. Every helper that fails stores
 * "FILE:LINE:COL: message" in L->err and returns -1. */
#ifndef TOK_RECIPE_LOAD_H
#define TOK_RECIPE_LOAD_H
#include <stdbool.h>
#include <yaml.h>

#include "recipe_internal.h"

typedef struct ld {
    const char *name; /* file name for messages */
    const char *src;
    size_t len;
    yaml_document_t doc;
    tok_error *err;
    tok_recipe *r;
} ld;

int rc_fail_at(ld *L, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *rc_xstrndup(const char *s, size_t n);
yaml_node_t *rc_node(ld *L, int i);
const char *rc_scalar(const yaml_node_t *n); /* NULL unless a scalar */
int rc_want_scalar(ld *L, const yaml_node_t *n, const char *what, char **out);
int rc_want_number(ld *L, const yaml_node_t *n, const char *what, double lo, double hi, bool integer,
                   double *out);
/* key k must be one of known[] (else an error with a suggestion) */
int rc_check_key(ld *L, const yaml_node_t *k, const char *owner, const char *const *known, size_t n);
int rc_check_dup_keys(ld *L, const yaml_node_t *m, const char *owner);
cJSON *rc_to_json(ld *L, yaml_node_t *n, int depth);
/* 1 if key was a sampling key (parsed into s), 0 if not, -1 on error */
int rc_parse_sampling(ld *L, const char *key, yaml_node_t *v, const char *owner, rc_sampling *s);
int rc_parse_tmpl(ld *L, yaml_node_t *v, const char *step, const char *key, char **src, tok_template **out);
/* recipe_step.c: steps[si] from its mapping node */
int rc_parse_step(ld *L, size_t si, yaml_node_t *m);
#endif
