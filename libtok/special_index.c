/*
 * Finding special/added tokens in raw text quickly when there are thousands
 * (Gemma 3 has 6,415 added tokens, 6,322 of them starting with '<', and 31
 * that are runs of '\n').
 *
 * The specials are sorted by length (longest first), then id. The index
 * keeps, per first byte, the distinct lengths of the specials starting with
 * it (longest first), and a hash of the token texts giving the first sorted
 * index of each text. At a text position, the candidates come out in sorted
 * order: for each length L, a hash probe of the L bytes there, then the
 * duplicates of that text (same length, contiguous in the sorted array).
 * That is the order of a linear scan of the sorted list, so the caller's
 * "first enabled candidate wins" gives the same leftmost-longest result.
 * Cost per position: one probe per distinct length for that first byte
 * (~10 for '<' in Gemma) instead of a scan of every special token.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

struct special_index {
    uint32_t *slot; /* sorted index + 1; 0 = empty */
    size_t mask;
    uint32_t *lens; /* per first byte, distinct lengths, longest first */
    uint32_t off[256], n[256];
};

static uint64_t text_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

void special_index_free(special_index *x) {
    if (!x) return;
    free(x->slot);
    free(x->lens);
    free(x);
}

int special_index_build(tok_tokenizer *t, tok_error *err) {
    special_index_free(t->sidx);
    t->sidx = NULL;
    if (!t->n_specials) return 0;
    special_index *x = calloc(1, sizeof *x);
    size_t cap = 16;
    while (cap < 2 * t->n_specials) cap *= 2;
    if (x) x->slot = calloc(cap, sizeof *x->slot);
    if (x) x->lens = malloc(t->n_specials * sizeof *x->lens);
    if (!x || !x->slot || !x->lens) {
        special_index_free(x);
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    x->mask = cap - 1;
    for (size_t k = 0; k < t->n_specials; k++) {
        const special_tok *s = &t->specials[k];
        for (size_t i = text_hash(s->text, s->len) & x->mask;; i = (i + 1) & x->mask) {
            if (!x->slot[i]) {
                x->slot[i] = (uint32_t)k + 1;
                break;
            }
            const special_tok *o = &t->specials[x->slot[i] - 1];
            if (o->len == s->len && !memcmp(o->text, s->text, s->len)) break; /* a duplicate: keep the first */
        }
    }
    /* distinct lengths per first byte: the sorted order gives them longest first */
    size_t used = 0;
    for (int b = 0; b < 256; b++) {
        x->off[b] = (uint32_t)used;
        for (size_t k = 0; k < t->n_specials; k++) {
            const special_tok *s = &t->specials[k];
            if ((unsigned char)s->text[0] != b) continue;
            if (x->n[b] && x->lens[used - 1] == s->len) continue;
            x->lens[used++] = (uint32_t)s->len;
            x->n[b]++;
        }
    }
    t->sidx = x;
    return 0;
}

long special_next_match(const tok_tokenizer *t, const char *text, size_t len, size_t i, long after) {
    const special_index *x = t->sidx;
    if (!x || i >= len) return -1;
    size_t below = SIZE_MAX;
    if (after >= 0) {
        const special_tok *a = &t->specials[after];
        for (size_t j = (size_t)after + 1; j < t->n_specials && t->specials[j].len == a->len; j++)
            if (!memcmp(t->specials[j].text, a->text, a->len)) return (long)j;
        below = a->len;
    }
    unsigned char b = (unsigned char)text[i];
    for (uint32_t q = 0; q < x->n[b]; q++) {
        size_t L = x->lens[x->off[b] + q];
        if (L >= below || L > len - i) continue;
        for (size_t h = text_hash(text + i, L) & x->mask; x->slot[h]; h = (h + 1) & x->mask) {
            const special_tok *s = &t->specials[x->slot[h] - 1];
            if (s->len == L && !memcmp(s->text, text + i, L)) return (long)x->slot[h] - 1;
        }
    }
    return -1;
}
