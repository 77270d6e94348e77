/*
 * Hand-written matchers for the three pre-tokenizer regexes that cover most
 * traffic: GPT-2's (r50k, p50k, the ByteLevel pre-tokenizer), cl100k's and
 * o200k's. Each function returns the end of the match a backtracking regex
 * engine (fancy-regex, PCRE2) finds at `s`, following the alternatives in
 * order and their greedy/backtracking rules; see the comment on each
 * alternative. They are an optimisation only: the PCRE2 path compiles the
 * same pattern, and tests/unit/test_pretok.c checks that both cut the corpus
 * identically. Cost: O(length of the piece) per call, no allocation.
 * The input must be valid UTF-8 (the caller checks or repairs it first).
 */
#include <string.h>

#include "pretok.h"
#include "uclass.h"

typedef struct cursor {
    const unsigned char *t;
    size_t len;
    const uclass_table *uc;
} cursor;

/* Class of the character at i and its length; -1 at the end of the text. */
static inline int cls(const cursor *c, size_t i, size_t *n) {
    if (i >= c->len) { *n = 0; return -1; }
    unsigned b = c->t[i];
    if (b < 0x80) {
        *n = 1;
        return ascii_class[b];
    }
    uint32_t cp;
    if (b < 0xE0) { cp = ((b & 0x1Fu) << 6) | (c->t[i + 1] & 0x3Fu); *n = 2; }
    else if (b < 0xF0) { cp = ((b & 0x0Fu) << 12) | ((c->t[i + 1] & 0x3Fu) << 6) | (c->t[i + 2] & 0x3Fu); *n = 3; }
    else { cp = ((b & 0x07u) << 18) | ((c->t[i + 1] & 0x3Fu) << 12) | ((c->t[i + 2] & 0x3Fu) << 6) | (c->t[i + 3] & 0x3Fu); *n = 4; }
    return uclass_of(c->uc, cp);
}

static inline int in(int k, unsigned set) { return k >= 0 && (set >> k) & 1u; }

/* End of the maximal run of characters whose class is in `set`, from i. */
static inline size_t run(const cursor *c, size_t i, unsigned set) {
    size_t n;
    for (;;) {
        if (i < c->len && c->t[i] < 0x80) { /* ASCII fast path */
            if (!((set >> ascii_class[c->t[i]]) & 1u)) return i;
            i++;
            continue;
        }
        int k = cls(c, i, &n);
        if (!in(k, set)) return i;
        i += n;
    }
}

/* Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0. With
 * caseless matching, S also folds from U+017F (long s), as in both regex engines. */
static size_t contraction(const cursor *c, size_t i, int caseless) {
    if (i + 1 >= c->len || c->t[i] != '\'') return 0;
    unsigned a = c->t[i + 1], b = i + 2 < c->len ? c->t[i + 2] : 0;
    if (caseless) {
        if (a == 0xC5 && b == 0xBF) return 3; /* 'ſ */
        if (a >= 'A' && a <= 'Z') a += 32;
        if (b >= 'A' && b <= 'Z') b += 32;
    }
    switch (a) {
    case 's': case 't': case 'm': case 'd': return 2;
    case 'r': case 'v': return b == 'e' ? 3 : 0;
    case 'l': return b == 'l' ? 3 : 0;
    default: return 0;
    }
}

#define SET_LN (UCS_L | UCS_N)
/* [^\s\p{L}\p{N}] */
#define SET_PUNCT (~(unsigned)(UCS_WS | SET_LN) & 0x1FFu)

/* \s*[\r\n]+ | \s+(?!\S) | \s+ at a whitespace character s. */
static size_t whitespace_tail(const cursor *c, size_t s, int with_newline_rule) {
    size_t e = run(c, s, UCS_WS);
    if (with_newline_rule) {
        /* \s* backtracks until [\r\n]+ can match: the match ends after the
         * last CR or LF inside the whitespace run. */
        for (size_t j = e; j > s; j--)
            if (c->t[j - 1] == '\r' || c->t[j - 1] == '\n') return j;
    }
    if (e >= c->len) return e;
    /* \s+(?!\S): give back the last whitespace character if any remains */
    size_t last = e - 1;
    while ((c->t[last] & 0xC0) == 0x80) last--;
    return last > s ? last : e;
}

/* ---- ASCII fast paths ---------------------------------------------------
 * Most pieces of English and code are an ASCII word, optionally after one
 * space. These scans answer such a piece with one table load per byte and
 * hand anything else (non-ASCII, apostrophes) to the general code below,
 * which gives the same answer for these cases too. */

/* 1: A-Z, 2: a-z, 3: a byte >= 0x80 (undecided), 0: other ASCII */
static const uint8_t ascii_word[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 2, ['b'] = 2, ['c'] = 2, ['d'] = 2, ['e'] = 2, ['f'] = 2, ['g'] = 2, ['h'] = 2, ['i'] = 2,
    ['j'] = 2, ['k'] = 2, ['l'] = 2, ['m'] = 2, ['n'] = 2, ['o'] = 2, ['p'] = 2, ['q'] = 2, ['r'] = 2,
    ['s'] = 2, ['t'] = 2, ['u'] = 2, ['v'] = 2, ['w'] = 2, ['x'] = 2, ['y'] = 2, ['z'] = 2,
#define X3(b) [b] = 3, [b + 1] = 3, [b + 2] = 3, [b + 3] = 3
#define X16(b) X3(b), X3(b + 4), X3(b + 8), X3(b + 12)
    X16(0x80), X16(0x90), X16(0xA0), X16(0xB0), X16(0xC0), X16(0xD0), X16(0xE0), X16(0xF0),
#undef X16
#undef X3
};

/* End of an ASCII letter run from i, or 0 if it ends at a non-ASCII byte
 * (undecided: the general code must look at that character). */
static inline size_t ascii_letters(const unsigned char *t, size_t len, size_t i) {
    while (i < len) {
        uint8_t k = ascii_word[t[i]];
        if (k == 3) return 0;
        if (!k) break;
        i++;
    }
    return i;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
size_t pretok_gpt2_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s) {
    {
        size_t w = s + (t[s] == ' ');
        if (w < len && (ascii_word[t[w]] == 1 || ascii_word[t[w]] == 2)) {
            size_t e = ascii_letters(t, len, w);
            if (e) return e;
        }
    }
    cursor c = {t, len, uc};
    size_t n, m;
    size_t k = contraction(&c, s, 0);
    if (k) return s + k;
    size_t p = s;
    int first = cls(&c, s, &n);
    if (t[s] == ' ') {
        int next = cls(&c, s + 1, &m);
        if (in(next, UCS_L)) return run(&c, s + 1, UCS_L);
        if (in(next, UCS_N)) return run(&c, s + 1, UCS_N);
        if (in(next, SET_PUNCT)) return run(&c, s + 1, SET_PUNCT);
    }
    if (in(first, UCS_L)) return run(&c, p, UCS_L);
    if (in(first, UCS_N)) return run(&c, p, UCS_N);
    if (in(first, SET_PUNCT)) return run(&c, p, SET_PUNCT);
    return whitespace_tail(&c, s, 0);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 * ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
size_t pretok_cl100k_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s) {
    if (t[s] != '\'') {
        /* [^\r\n\p{L}\p{N}]?\p{L}+ with an ASCII word: a letter, or one
         * ASCII non-letter, non-digit, non-CR/LF character before it */
        size_t w = s;
        if (ascii_word[t[s]] == 0 && t[s] != '\r' && t[s] != '\n' && (t[s] < '0' || t[s] > '9')) w = s + 1;
        if (w < len && (ascii_word[t[w]] == 1 || ascii_word[t[w]] == 2)) {
            size_t e = ascii_letters(t, len, w);
            if (e) return e;
        }
    }
    cursor c = {t, len, uc};
    size_t n, m;
    size_t k = contraction(&c, s, 1);
    if (k) return s + k;
    int first = cls(&c, s, &n);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (in(first, UCS_L)) return run(&c, s + n, UCS_L);
    if (t[s] != '\r' && t[s] != '\n' && !in(first, SET_LN)) {
        if (in(cls(&c, s + n, &m), UCS_L)) return run(&c, s + n, UCS_L);
    }
    /* \p{N}{1,3} */
    if (first == UC_N) {
        size_t e = s + n;
        for (int i = 1; i < 3 && cls(&c, e, &m) == UC_N; i++) e += m;
        return e;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t p = s;
    if (t[s] == ' ' && in(cls(&c, s + 1, &m), SET_PUNCT)) p = s + 1;
    if (in(cls(&c, p, &m), SET_PUNCT)) {
        size_t e = run(&c, p, SET_PUNCT);
        while (e < len && (t[e] == '\r' || t[e] == '\n')) e++;
        return e;
    }
    return whitespace_tail(&c, s, 1);
}

/* o200k:
 *  [^\r\n\p{L}\p{N}]?[UPPER]*[LOWER]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * |[^\r\n\p{L}\p{N}]?[UPPER]+[LOWER]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with UPPER = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], LOWER = [\p{Ll}\p{Lm}\p{Lo}\p{M}].
 * The two letter classes overlap (Lm, Lo, M), so [UPPER]*[LOWER]+ is solved
 * as the backtracking engine would: the UPPER run is taken whole, then given
 * back one character at a time until LOWER+ can start. */
static size_t o200k_letters1(const cursor *c, size_t p) {
    size_t e = run(c, p, UCS_UPPERISH), n;
    if (in(cls(c, e, &n), UCS_LOWERISH)) return run(c, e, UCS_LOWERISH);
    /* give back: the last character of the UPPER run that is also LOWER
     * ends the match (the character after it is not LOWER) */
    size_t best = 0;
    for (size_t i = p; i < e; i += n) {
        int k = cls(c, i, &n);
        if (in(k, UCS_LOWERISH)) best = i + n;
    }
    return best; /* 0: no match */
}

size_t pretok_o200k_next(const uclass_table *uc, const unsigned char *t, size_t len, size_t s) {
    {
        /* an ASCII [A-Z]*[a-z]+ or [A-Z]+ word, optionally after one ASCII
         * non-letter, non-digit, non-CR/LF character, ended by an ASCII byte
         * other than an apostrophe (no contraction, no undecided letter) */
        size_t w = s;
        if (ascii_word[t[s]] == 0 && t[s] != '\r' && t[s] != '\n' && (t[s] < '0' || t[s] > '9')) w = s + 1;
        if (w < len && (ascii_word[t[w]] == 1 || ascii_word[t[w]] == 2)) {
            size_t e = w;
            while (e < len && ascii_word[t[e]] == 1) e++;
            size_t upper_end = e;
            while (e < len && ascii_word[t[e]] == 2) e++;
            if (e >= len || (ascii_word[t[e]] == 0 && t[e] != '\'')) return e;
            if (ascii_word[t[e]] == 1 && e > upper_end) return e; /* "HelloWorld": the next word starts */
            (void)upper_end;
        }
    }
    cursor c = {t, len, uc};
    size_t n, m;
    int first = cls(&c, s, &n);
    int prefix_ok = t[s] != '\r' && t[s] != '\n' && !in(first, SET_LN);
    /* alternative 1, with then without the optional prefix character */
    size_t e = 0;
    if (prefix_ok) e = o200k_letters1(&c, s + n);
    if (!e) e = o200k_letters1(&c, s);
    if (!e) {
        /* alternative 2: [UPPER]+[LOWER]* */
        size_t p = prefix_ok && in(cls(&c, s + n, &m), UCS_UPPERISH) ? s + n : s;
        if (in(cls(&c, p, &m), UCS_UPPERISH)) {
            e = run(&c, p, UCS_UPPERISH);
            e = run(&c, e, UCS_LOWERISH);
        }
    }
    if (e) return e + contraction(&c, e, 1);
    if (first == UC_N) {
        e = s + n;
        for (int i = 1; i < 3 && cls(&c, e, &m) == UC_N; i++) e += m;
        return e;
    }
    size_t p = s;
    if (t[s] == ' ' && in(cls(&c, s + 1, &m), SET_PUNCT)) p = s + 1;
    if (in(cls(&c, p, &m), SET_PUNCT)) {
        e = run(&c, p, SET_PUNCT);
        while (e < len && (t[e] == '\r' || t[e] == '\n' || t[e] == '/')) e++;
        return e;
    }
    return whitespace_tail(&c, s, 1);
}
