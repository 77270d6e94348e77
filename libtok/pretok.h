/* Pre-tokenizers: cut normalized text into pieces that BPE encodes separately. */
#ifndef TOK_PRETOK_H
#define TOK_PRETOK_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tok.h"
#include "uclass.h"

/* ASCII characters' uclass, shared by the fast matchers. */
static const uint8_t ascii_class[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, UC_WS, UC_WS, UC_WS, UC_WS, UC_WS, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    UC_WS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, 0, 0, 0, 0, 0, 0,
    0, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU,
    UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, UC_LU, 0, 0, 0, 0, 0,
    0, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL,
    UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, UC_LL, 0, 0, 0, 0, 0,
};

size_t pretok_gpt2_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s);
size_t pretok_cl100k_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s);
size_t pretok_o200k_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s);

enum pretok_fast { FAST_NONE = 0, FAST_GPT2, FAST_CL100K, FAST_O200K };

/* How a Split stage treats the pieces its pattern matches (Hugging Face's
 * SplitDelimiterBehavior). */
enum split_behavior { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };

typedef struct pretok_stage {
    int fast;                 /* a hand-written matcher for this pattern, or FAST_NONE */
    pcre2_code *re;            /* the pattern compiled with PCRE2 (NULL for a literal) */
    char *literal;            /* a String pattern, matched literally (re NULL) */
    size_t literal_len;
    int behavior;
    int invert;
} pretok_stage;

typedef struct pretok {
    pretok_stage *stages;
    int n;
    const uclass_table *uc;
    int force_pcre; /* tests: disable the fast matchers */
} pretok;

/* Appends a Split stage. `pattern` is in fancy-regex / Python-regex syntax. */
int pretok_add_regex(pretok *p, const char *pattern, int behavior, int invert, tok_error *err);
int pretok_add_literal(pretok *p, const char *s, size_t len, int behavior, int invert, tok_error *err);
void pretok_free(pretok *p);

/* Receives each piece [start, end) of the text, in order. Returns non-zero to stop. */
typedef int (*pretok_emit)(void *ctx, const char *text, size_t start, size_t end);

/* Cuts text (valid UTF-8) into pieces through every stage; with no stage the
 * whole text is one piece. */
int pretok_run(const pretok *p, const char *text, size_t len, pretok_emit emit, void *ctx, tok_error *err);

typedef size_t (*pretok_next_fn)(const uclass_table *uc, const unsigned char *t, size_t len, size_t s);
/* The matcher of a pipeline that is exactly one hand-written stage, else NULL. */
pretok_next_fn pretok_single_fast(const pretok *p);

/* Which fast matcher, if any, implements a pattern exactly. */
int pretok_fast_for_pattern(const char *pattern);
#endif
