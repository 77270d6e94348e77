/*
 * Decoding of non-byte-level tokenizer.json files, as tokenizers' decode():
 * ids -> token strings (added tokens by their content; special ones left out
 * with skip_special), then each decoder of the chain rewrites the list of
 * strings (Replace, ByteFallback, Fuse, Strip, Metaspace, WordPiece), then
 * the strings are concatenated. Without a decoder HF joins the tokens with
 * spaces. Strings are (pointer, length) pairs into one arena per step:
 * O(steps x output length).
 */
#include <stdlib.h>
#include <string.h>

#include "hf.h"

typedef struct strv {
    tok_bytes arena; /* the strings, back to back */
    size_t *off, *len, n, cap;
} strv;

static void strv_free(strv *v) {
    tok_bytes_free(&v->arena);
    free(v->off);
    free(v->len);
    memset(v, 0, sizeof *v);
}

/* Starts a new string (empty); append its bytes with strv_add. */
static int strv_new(strv *v) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        size_t *o = realloc(v->off, nc * sizeof *o);
        if (!o) return TOK_ENOMEM;
        v->off = o;
        size_t *l = realloc(v->len, nc * sizeof *l);
        if (!l) return TOK_ENOMEM;
        v->len = l;
        v->cap = nc;
    }
    v->off[v->n] = v->arena.n;
    v->len[v->n++] = 0;
    return 0;
}

static int strv_add(strv *v, const void *s, size_t n) {
    if (tok_bytes_append(&v->arena, s, n)) return TOK_ENOMEM;
    v->len[v->n - 1] += n;
    return 0;
}

#define STR(v, i) ((v)->arena.data + (v)->off[i])

static int replace_all(strv *o, const char *s, size_t n, const char *a, size_t an, const char *b, size_t bn) {
    size_t i = 0;
    while (an && i < n) {
        const char *hit = memmem(s + i, n - i, a, an);
        if (!hit) break;
        if (strv_add(o, s + i, (size_t)(hit - s) - i) || strv_add(o, b, bn)) return TOK_ENOMEM;
        i = (size_t)(hit - s) + an;
    }
    return strv_add(o, s + i, n - i);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int flush_bytes(strv *o, tok_bytes *pend) {
    int rc = 0;
    if (!pend->n) return 0;
    if (tok_utf8_check(pend->data, pend->n) == pend->n) rc = strv_new(o) || strv_add(o, pend->data, pend->n);
    else
        for (size_t i = 0; i < pend->n && !rc; i++) rc = strv_new(o) || strv_add(o, "\xef\xbf\xbd", 3);
    pend->n = 0;
    return rc;
}

/* Applies one decoder to in, giving out. */
static int apply(const hf_dec *d, const strv *in, strv *o) {
    int rc = tok_bytes_append(&o->arena, "", 0);
    tok_bytes pend = {0};
    for (size_t i = 0; i < in->n && !rc; i++) {
        const char *s = STR(in, i);
        size_t n = in->len[i];
        switch (d->kind) {
        case HFD_REPLACE: rc = strv_new(o) || replace_all(o, s, n, d->a, d->an, d->b, d->bn); break;
        case HFD_BYTE_FALLBACK: {
            int hi = n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' ? hexval(s[3]) : -1;
            int lo = hi >= 0 ? hexval(s[4]) : -1;
            if (lo >= 0) rc = tok_bytes_append(&pend, (char[]){(char)(hi * 16 + lo)}, 1);
            else rc = flush_bytes(o, &pend) || strv_new(o) || strv_add(o, s, n);
            break;
        }
        case HFD_FUSE:
            if (i == 0) rc = strv_new(o);
            if (!rc) rc = strv_add(o, s, n);
            break;
        case HFD_STRIP: {
            /* up to start leading and stop trailing characters equal to content */
            size_t a = 0, b = n;
            for (int k = 0; k < d->start && a + d->an <= b && !memcmp(s + a, d->a, d->an); k++) a += d->an;
            for (int k = 0; k < d->stop && b >= a + d->an && !memcmp(s + b - d->an, d->a, d->an); k++) b -= d->an;
            rc = strv_new(o) || strv_add(o, s + a, b - a);
            break;
        }
        case HFD_METASPACE:
            /* HF drops every U+2581 of the first token (not only a leading one) */
            rc = strv_new(o) || replace_all(o, s, n, "\xe2\x96\x81", 3, " ",
                                            i == 0 && d->prepend != HF_PREPEND_NEVER ? 0 : 1);
            break;
        case HFD_WORDPIECE: {
            tok_bytes tmp = {0};
            if (i && n >= d->an && !memcmp(s, d->a, d->an)) rc = tok_bytes_append(&tmp, s + d->an, n - d->an);
            else rc = (i ? tok_bytes_append(&tmp, " ", 1) : 0) || tok_bytes_append(&tmp, s, n);
            if (!rc) rc = strv_new(o);
            if (!rc && d->cleanup) {
                static const char *const pairs[][2] = {{" .", "."},      {" ?", "?"},   {" !", "!"},     {" ,", ","},
                                                       {" ' ", "'"},     {" n't", "n't"}, {" 'm", "'m"},
                                                       {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"},
                                                       {" 're", "'re"}};
                for (size_t p = 0; p < sizeof pairs / sizeof *pairs && !rc; p++) {
                    strv t2 = {0};
                    rc = tok_bytes_append(&t2.arena, "", 0) || strv_new(&t2) ||
                         replace_all(&t2, tmp.data ? tmp.data : "", tmp.n, pairs[p][0], strlen(pairs[p][0]), pairs[p][1],
                                     strlen(pairs[p][1]));
                    if (!rc) {
                        tmp.n = 0;
                        rc = tok_bytes_append(&tmp, STR(&t2, 0), t2.len[0]);
                    }
                    strv_free(&t2);
                }
            }
            if (!rc) rc = strv_add(o, tmp.data ? tmp.data : "", tmp.n);
            tok_bytes_free(&tmp);
            break;
        }
        default: rc = TOK_EINVAL;
        }
    }
    if (!rc && d->kind == HFD_BYTE_FALLBACK) rc = flush_bytes(o, &pend);
    tok_bytes_free(&pend);
    return rc;
}

int hf_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, tok_bytes *out,
              tok_error *err) {
    const hf_pipeline *h = t->hf;
    strv cur = {0};
    int rc = tok_bytes_append(&cur.arena, "", 0);
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t id = ids[i];
        if (id < 0 || (uint32_t)id >= t->v.n || t->v.off[id] == VOCAB_NONE) {
            strv_free(&cur);
            return tok_fail(err, TOK_ERANGE, "id %d at position %zu is not in the vocabulary", id, i);
        }
        if (skip_special && tok_is_special(t, id)) continue;
        if (!h->has_decoder && cur.n) rc = strv_add(&cur, " ", 1) ? TOK_ENOMEM : 0;
        else rc = strv_new(&cur);
        if (!rc) rc = strv_add(&cur, t->v.blob + t->v.off[id], t->v.len[id]);
    }
    for (size_t k = 0; k < h->n_dec && !rc; k++) {
        strv next = {0};
        rc = apply(&h->dec[k], &cur, &next);
        strv_free(&cur);
        cur = next;
    }
    for (size_t i = 0; i < cur.n && !rc; i++) rc = tok_bytes_append(out, STR(&cur, i), cur.len[i]);
    if (!rc && !out->data) rc = tok_bytes_append(out, "", 0);
    strv_free(&cur);
    return rc ? tok_fail(err, TOK_ENOMEM, "out of memory") : 0;
}
