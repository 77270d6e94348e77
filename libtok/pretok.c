/*
 * Pre-tokenizer pipeline: a sequence of Split stages (Hugging Face's Split and
 * the regex part of ByteLevel; a tiktoken encoding is one stage). Each stage
 * cuts every piece of the previous stage, so a regex sees only its piece, as
 * in Hugging Face (look-ahead stops at the piece end).
 *
 * Patterns are compiled with PCRE2 (UTF + UCP, JIT). `\s` is rewritten to the
 * Unicode White_Space set that Rust's regex and Python's regex use (PCRE2's
 * \s also matches U+180E). Patterns of the known encodings run through the
 * hand-written matchers in pretok_fast.c instead; both must agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "internal.h"
#include "pretok.h"
#include "unicode_age.h"

/* Debian 12's PCRE2 (10.42) has Unicode 14 tables; utf8proc and the
 * references' regex engines know Unicode 15. */
#define PCRE2_UNICODE_AGE 140

/* White_Space, as class members (usable inside [...]) */
#define WS_MEMBERS "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static const char PAT_GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char PAT_CL100K[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_O200K[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int pretok_fast_for_pattern(const char *pattern) {
    if (!strcmp(pattern, PAT_GPT2)) return FAST_GPT2;
    if (!strcmp(pattern, PAT_CL100K)) return FAST_CL100K;
    if (!strcmp(pattern, PAT_O200K)) return FAST_O200K;
    return FAST_NONE;
}

const char *pretok_gpt2_pattern(void) { return PAT_GPT2; }

/* Whether utf8proc's category of cp belongs to the property name (L, Lu, P, ...). */
static int in_property(uint32_t cp, const char *name, size_t len) {
    static const char *cats[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd",
                                 "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf",
                                 "Cs", "Co"};
    int c = utf8proc_category((utf8proc_int32_t)cp);
    if (c <= 0 || c >= (int)(sizeof cats / sizeof *cats)) return 0;
    if (len == 1) return cats[c][0] == name[0];
    return len == 2 && cats[c][0] == name[0] && cats[c][1] == name[1];
}

/* Class members (\x{...} ranges) for the characters of a property that
 * PCRE2's older tables do not have; "" if none. Caller frees. */
static char *property_extra(const char *name, size_t len) {
    tok_bytes b = {0};
    if (tok_bytes_append(&b, "", 0)) return NULL;
    for (unsigned r = 0; r < unicode_age_count; r++) {
        if (unicode_age_ranges[r].age <= PCRE2_UNICODE_AGE) continue;
        for (uint32_t cp = unicode_age_ranges[r].lo; cp <= unicode_age_ranges[r].hi; cp++) {
            if (!in_property(cp, name, len)) continue;
            uint32_t hi = cp;
            while (hi < unicode_age_ranges[r].hi && in_property(hi + 1, name, len)) hi++;
            char m[48];
            int k = hi > cp ? snprintf(m, sizeof m, "\\x{%X}-\\x{%X}", cp, hi) : snprintf(m, sizeof m, "\\x{%X}", cp);
            if (tok_bytes_append(&b, m, (size_t)k)) {
                tok_bytes_free(&b);
                return NULL;
            }
            cp = hi;
        }
    }
    return b.data;
}

/* Rewrites \s and \S to White_Space and adds to each \p{..} the characters
 * PCRE2's tables lack; everything else passes through. */
static char *rewrite_pattern(const char *pat) {
    size_t n = strlen(pat);
    tok_bytes out = {0};
    int in_class = 0, bad = 0;
#define PUT(s, k) (bad |= tok_bytes_append(&out, (s), (k)))
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 2 < n && pat[i + 1] == 'p') {
            const char *name = pat + i + 2;
            size_t len = 1, skip = 3;
            if (*name == '{') {
                const char *close = strchr(name, '}');
                if (close) {
                    len = (size_t)(close - name - 1);
                    skip = 3 + len + 1;
                    name++;
                }
            }
            char *extra = len <= 2 ? property_extra(name, len) : NULL;
            if (extra && *extra) {
                if (!in_class) PUT("[", 1);
                PUT(pat + i, skip);
                PUT(extra, strlen(extra));
                if (!in_class) PUT("]", 1);
            } else
                PUT(pat + i, skip);
            free(extra);
            i += skip - 1;
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            if (d == 's') {
                if (!in_class) PUT("[", 1);
                PUT(WS_MEMBERS, strlen(WS_MEMBERS));
                if (!in_class) PUT("]", 1);
                i++;
                continue;
            }
            if (d == 'S' && !in_class) {
                PUT("[^", 2);
                PUT(WS_MEMBERS, strlen(WS_MEMBERS));
                PUT("]", 1);
                i++;
                continue;
            }
            PUT(pat + i, 2);
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            PUT(pat + i, 1);
            if (i + 1 < n && pat[i + 1] == '^') PUT(pat + ++i, 1);
            if (i + 1 < n && pat[i + 1] == ']') PUT(pat + ++i, 1); /* literal ] first */
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        PUT(pat + i, 1);
    }
#undef PUT
    if (bad) {
        tok_bytes_free(&out);
        return NULL;
    }
    return out.data;
}

static int add_stage(pretok *p, pretok_stage *st, tok_error *err) {
    pretok_stage *ns = realloc(p->stages, (size_t)(p->n + 1) * sizeof *ns);
    if (!ns) return tok_fail(err, TOK_ENOMEM, "out of memory");
    p->stages = ns;
    p->stages[p->n++] = *st;
    if (!p->uc) p->uc = uclass_get();
    return 0;
}

int pretok_add_regex(pretok *p, const char *pattern, int behavior, int invert, tok_error *err) {
    pretok_stage st = {0};
    st.fast = pretok_fast_for_pattern(pattern);
    st.behavior = behavior;
    st.invert = invert;
    char *rw = rewrite_pattern(pattern);
    if (!rw) return tok_fail(err, TOK_ENOMEM, "out of memory");
    int ec;
    PCRE2_SIZE eo;
    st.re = pcre2_compile((PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    free(rw);
    if (!st.re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return tok_fail(err, TOK_EUNSUPPORTED, "pre-tokenizer regex: %s (pattern: %.200s)", (char *)msg, pattern);
    }
    pcre2_jit_compile(st.re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if unavailable */
    int rc = add_stage(p, &st, err);
    if (rc) pcre2_code_free(st.re);
    return rc;
}

int pretok_add_literal(pretok *p, const char *s, size_t len, int behavior, int invert, tok_error *err) {
    if (!len) return tok_fail(err, TOK_EFORMAT, "Split: empty String pattern");
    pretok_stage st = {0};
    st.literal = malloc(len);
    if (!st.literal) return tok_fail(err, TOK_ENOMEM, "out of memory");
    memcpy(st.literal, s, len);
    st.literal_len = len;
    st.behavior = behavior;
    st.invert = invert;
    int rc = add_stage(p, &st, err);
    if (rc) free(st.literal);
    return rc;
}

void pretok_free(pretok *p) {
    for (int i = 0; i < p->n; i++) {
        if (p->stages[i].re) pcre2_code_free(p->stages[i].re);
        free(p->stages[i].literal);
    }
    free(p->stages);
    p->stages = NULL;
    p->n = 0;
}

/* ---- running ---------------------------------------------------------- */

typedef struct seg {
    size_t a, b;
    int delim; /* the pattern matched here (after invert) */
} seg;

typedef struct run_ctx {
    const pretok *p;
    const char *text;
    pretok_emit emit;
    void *ctx;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    tok_error *err;
    int rc;
} run_ctx;

static int run_stage(run_ctx *r, int k, size_t a, size_t b);

static int out_piece(run_ctx *r, int k, size_t a, size_t b) {
    if (a >= b) return 0;
    if (k + 1 < r->p->n) return run_stage(r, k + 1, a, b);
    return r->emit(r->ctx, r->text, a, b);
}

/* Finds the pattern's matches in [a, b) as segments (gaps and matches). */
static int find_segments(run_ctx *r, const pretok_stage *st, size_t a, size_t b, seg **out, size_t *n_out) {
    size_t n = 0, cap = 16;
    seg *v = malloc(cap * sizeof *v);
    if (!v) return tok_fail(r->err, TOK_ENOMEM, "out of memory");
#define PUSH(A, B, D)                                                         \
    do {                                                                      \
        if (n == cap) {                                                       \
            seg *nv = realloc(v, (cap *= 2) * sizeof *v);                     \
            if (!nv) { free(v); return tok_fail(r->err, TOK_ENOMEM, "out of memory"); } \
            v = nv;                                                           \
        }                                                                     \
        v[n].a = (A); v[n].b = (B); v[n].delim = (D); n++;                    \
    } while (0)
    size_t prev = a, pos = a;
    while (pos < b) {
        size_t ms, me;
        if (st->literal) {
            const char *hit = memmem(r->text + pos, b - pos, st->literal, st->literal_len);
            if (!hit) break;
            ms = (size_t)(hit - r->text);
            me = ms + st->literal_len;
        } else {
            int rc = pcre2_match(st->re, (PCRE2_SPTR)(r->text + a), b - a, pos - a, PCRE2_NO_UTF_CHECK, r->md, r->mc);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                free(v);
                return tok_fail(r->err, TOK_EINVAL, "pre-tokenizer regex failed at byte %zu: %s", pos, (char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
            ms = a + ov[0];
            me = a + ov[1];
            if (me == ms) { /* empty match: step over one character */
                pos = me + 1;
                while (pos < b && ((unsigned char)r->text[pos] & 0xC0) == 0x80) pos++;
                continue;
            }
        }
        if (ms > prev) PUSH(prev, ms, 0);
        PUSH(ms, me, 1);
        prev = pos = me;
    }
    if (prev < b) PUSH(prev, b, 0);
#undef PUSH
    if (st->invert)
        for (size_t i = 0; i < n; i++) v[i].delim = !v[i].delim;
    *out = v;
    *n_out = n;
    return 0;
}

/* The fast matchers cover all text with matches, so Isolated and inverted
 * Removed both yield exactly the matches, in order. */
static int stage_is_fast(const pretok *p, const pretok_stage *st) {
    return st->fast && !p->force_pcre &&
           (st->behavior == SPLIT_ISOLATED || (st->behavior == SPLIT_REMOVED && st->invert));
}

pretok_next_fn pretok_single_fast(const pretok *p) {
    if (p->n != 1 || !stage_is_fast(p, &p->stages[0])) return NULL;
    int f = p->stages[0].fast;
    return f == FAST_GPT2 ? pretok_gpt2_next : f == FAST_CL100K ? pretok_cl100k_next : pretok_o200k_next;
}

static int run_stage(run_ctx *r, int k, size_t a, size_t b) {
    const pretok_stage *st = &r->p->stages[k];
    const unsigned char *t = (const unsigned char *)r->text;
    if (stage_is_fast(r->p, st)) {
        size_t (*next)(const uclass_table *, const unsigned char *, size_t, size_t) =
            st->fast == FAST_GPT2 ? pretok_gpt2_next : st->fast == FAST_CL100K ? pretok_cl100k_next : pretok_o200k_next;
        /* the matchers see [a, b) as the whole text */
        for (size_t s = a; s < b;) {
            size_t e = a + next(r->p->uc, t + a, b - a, s - a);
            int rc = out_piece(r, k, s, e);
            if (rc) return rc;
            s = e;
        }
        return 0;
    }
    seg *v;
    size_t n;
    int rc = find_segments(r, st, a, b, &v, &n);
    if (rc) return rc;
    size_t pa = 0, pb = 0;
    int have = 0, prev_delim = 0;
    switch (st->behavior) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < n && !rc; i++) rc = out_piece(r, k, v[i].a, v[i].b);
        break;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < n && !rc; i++)
            if (!v[i].delim) rc = out_piece(r, k, v[i].a, v[i].b);
        break;
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < n && !rc; i++) {
            if (v[i].delim && !prev_delim && have) pb = v[i].b;
            else {
                if (have) rc = out_piece(r, k, pa, pb);
                pa = v[i].a, pb = v[i].b, have = 1;
            }
            prev_delim = v[i].delim;
        }
        if (have && !rc) rc = out_piece(r, k, pa, pb);
        break;
    case SPLIT_MERGED_NEXT:
        /* a delimiter starts the piece that follows it (right-to-left fold) */
        {
            size_t m = 0;
            for (size_t i = n; i-- > 0;) {
                if (v[i].delim && !prev_delim && m) v[m - 1].a = v[i].a;
                else v[m++] = v[i];
                prev_delim = v[i].delim;
            }
            for (size_t i = m; i-- > 0 && !rc;) rc = out_piece(r, k, v[i].a, v[i].b);
        }
        break;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < n && !rc; i++) {
            if (v[i].delim == prev_delim && have) pb = v[i].b;
            else {
                if (have) rc = out_piece(r, k, pa, pb);
                pa = v[i].a, pb = v[i].b, have = 1;
            }
            prev_delim = v[i].delim;
        }
        if (have && !rc) rc = out_piece(r, k, pa, pb);
        break;
    }
    free(v);
    return rc;
}

int pretok_run(const pretok *p, const char *text, size_t len, pretok_emit emit, void *ctx, tok_error *err) {
    if (len == 0) return 0;
    if (p->n == 0) return emit(ctx, text, 0, len);
    run_ctx r = {p, text, emit, ctx, NULL, NULL, NULL, err, 0};
    int need_pcre = 0;
    for (int i = 0; i < p->n; i++)
        if (p->stages[i].re && !stage_is_fast(p, &p->stages[i])) need_pcre = 1;
    if (need_pcre) {
        r.md = pcre2_match_data_create(4, NULL);
        r.mc = pcre2_match_context_create(NULL);
        r.js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (!r.md || !r.mc || !r.js) {
            pcre2_match_data_free(r.md);
            pcre2_match_context_free(r.mc);
            pcre2_jit_stack_free(r.js);
            return tok_fail(err, TOK_ENOMEM, "out of memory");
        }
        pcre2_jit_stack_assign(r.mc, NULL, r.js);
    }
    int rc = run_stage(&r, 0, 0, len);
    if (r.md) {
        pcre2_match_data_free(r.md);
        pcre2_match_context_free(r.mc);
        pcre2_jit_stack_free(r.js);
    }
    return rc;
}
