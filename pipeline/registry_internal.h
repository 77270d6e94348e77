/* Private to pipeline/registry*.c and model_cost.c: the registry's rows as
 * stored, with their match rules and price sets. */
#ifndef TOK_REGISTRY_INTERNAL_H
#define TOK_REGISTRY_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tok_pipeline.h"

enum match_kind { M_EQUALS, M_STARTS, M_ENDS, M_CONTAINS, M_REGEX, M_OR, M_AND };

/* One node of a `match` rule; strings are lower-cased at load. */
typedef struct match_node {
    int kind;
    char *str;
    pcre2_code *re;
    struct match_node *kids;
    size_t n_kids;
} match_node;

enum price_set_kind { PS_START_DATE, PS_TIME_OF_DAY, PS_DEFAULT_BEFORE };

/* One entry of `price_changes`. */
typedef struct price_set {
    int kind;
    char start_date[11]; /* YYYY-MM-DD for PS_START_DATE */
    double input, output; /* -1 unknown */
    tok_price_tier *in_tiers, *out_tiers;
    size_t n_in_tiers, n_out_tiers;
} price_set;

typedef struct reg_model {
    tok_model_entry info;
    match_node *match; /* NULL: the id alone */
    price_set *changes;
    size_t n_changes;
    tok_price_tier *in_tiers, *out_tiers; /* owned; info points at them */
    bool user; /* added by an override file: looked up first */
} reg_model;

/* "tokenizer_files" of the override files: family -> tokenizer path. */
typedef struct tokfile {
    char *family, *path;
} tokfile;

struct tok_registry {
    reg_model *rows;
    size_t n, cap;
    char effective_as_of[11]; /* source.prices_effective_as_of */
    char data_dirs[3][1024];  /* where tokenizers/FAMILY/tokenizer.json may be */
    char *sources;
    tokfile *tokfiles; /* later files last: searched from the end */
    size_t n_tokfiles;
    char **origins; /* each file read, once; rows' `origin` points here */
    size_t n_origins;
};

bool reg_match(const match_node *m, const char *name);
#endif
