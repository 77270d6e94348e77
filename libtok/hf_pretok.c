/*
 * One segment of text (between added tokens) through a non-byte-level
 * tokenizer.json pipeline: normalizer steps, then the pre-tokenizer cuts the
 * normalized text into words, then the model turns each word into ids.
 *
 * Pre-tokenizers here: none (the whole normalized segment is one word, as
 * Llama 2 / Mistral files have), Split (the regex/literal stages of pretok.c,
 * run on the normalized text as HF does: Gemma's Split(" ") therefore sees
 * U+2581, not spaces), Metaspace (' ' -> U+2581, the prepend scheme, split
 * before each U+2581), BertPreTokenizer (whitespace removed, punctuation
 * characters isolated) and WhitespaceSplit. Cost: linear in the segment plus
 * the model's cost per distinct word: a long segment caches each short
 * word's ids (hf.h), so a repeated word costs one hash lookup.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "hf.h"

#define META "\xe2\x96\x81"

static int model_word(const tok_tokenizer *t, const char *s, size_t n, tok_ids *out, tok_error *err) {
    switch (t->hf->model) {
    case HFM_BPE_CHARS: return hf_bpe_word(t, s, n, out, err);
    case HFM_UNIGRAM: return hf_unigram_word(t, s, n, out, err);
    case HFM_WORDPIECE: return hf_wordpiece_word(t, s, n, out, err);
    }
    return tok_fail(err, TOK_EINVAL, "no model");
}

typedef struct word_ctx {
    const tok_tokenizer *t;
    tok_ids *out;
    tok_error *err;
    hf_cache_ent *cache; /* long segments: ids of the words seen (hf.h) */
} word_ctx;

static int word(word_ctx *w, const char *s, size_t n) {
    hf_cache_ent *slot = NULL;
    int hit = hf_cache_get(w->cache, s, n, w->out, &slot);
    if (hit) return hit < 0 ? tok_fail(w->err, TOK_ENOMEM, "out of memory") : 0;
    size_t start = w->out->n;
    int rc = model_word(w->t, s, n, w->out, w->err);
    if (!rc) hf_cache_put(slot, s, n, start, w->out);
    return rc;
}

static int emit_word(void *ctx, const char *text, size_t a, size_t b) {
    return word(ctx, text + a, b - a);
}

static bool rust_white(uint32_t c) {
    return c == ' ' || (c >= 9 && c <= 13) || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool bert_punct(uint32_t c) {
    if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* BertPreTokenizer (punct = true) and WhitespaceSplit (punct = false). */
static int split_words(word_ctx *wc, const char *s, size_t n, bool punct) {
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int k = tok_utf8_decode((const unsigned char *)s + i, n - i, &c);
        if (k <= 0) k = 1, c = 0xFFFD;
        bool w = rust_white(c), p = punct && bert_punct(c);
        if (w || p) {
            int rc = word(wc, s + start, i - start);
            if (!rc && p) rc = word(wc, s + i, (size_t)k);
            if (rc) return rc;
            start = i + (size_t)k;
        }
        i += (size_t)k;
    }
    return word(wc, s + start, n - start);
}

static int metaspace(word_ctx *wc, const char *s, size_t n, bool at_start) {
    const hf_pipeline *h = wc->t->hf;
    if (!n) return 0;
    tok_bytes b = {0};
    /* after ' ' -> U+2581, HF prepends only if the text does not start with it */
    bool starts = (n >= 3 && !memcmp(s, META, 3)) || s[0] == ' ';
    int rc = tok_bytes_append(&b, "", 0);
    if (!starts && !rc &&
        (h->meta_prepend == HF_PREPEND_ALWAYS || (h->meta_prepend == HF_PREPEND_FIRST && at_start)))
        rc = tok_bytes_append(&b, META, 3);
    for (size_t i = 0; i < n && !rc; i++) rc = s[i] == ' ' ? tok_bytes_append(&b, META, 3) : tok_bytes_append(&b, s + i, 1);
    if (rc) {
        tok_bytes_free(&b);
        return tok_fail(wc->err, TOK_ENOMEM, "out of memory");
    }
    /* the cached words point into b: the cache must not outlive it */
    if (!h->meta_split) rc = word(wc, b.data, b.n);
    else {
        size_t start = 0;
        for (size_t i = 0; i + 3 <= b.n && !rc; i++)
            if (!memcmp(b.data + i, META, 3) && i > start) {
                rc = word(wc, b.data + start, i - start);
                start = i;
            }
        if (!rc) rc = word(wc, b.data + start, b.n - start);
    }
    tok_bytes_free(&b);
    return rc;
}

int hf_encode_segment(const tok_tokenizer *t, const char *text, size_t len, bool at_start, tok_ids *out,
                      tok_error *err) {
    const hf_pipeline *h = t->hf;
    if (!len) return 0;
    char *norm = NULL;
    size_t n = len;
    const char *s = text;
    if (h->n_norm) {
        norm = hf_normalize(h, text, len, &n, err);
        if (!norm) return err ? err->code : TOK_ENOMEM;
        s = norm;
    }
    int rc;
    word_ctx w = {t, out, err, NULL};
    if (h->pre != HFP_NONE && n >= HF_CACHE_MIN_INPUT) w.cache = calloc(HF_CACHE_SLOTS, sizeof *w.cache);
    switch (h->pre) {
    case HFP_SPLIT: rc = pretok_run(&t->pt, s, n, emit_word, &w, err); break;
    case HFP_METASPACE: rc = metaspace(&w, s, n, at_start); break;
    case HFP_BERT: rc = split_words(&w, s, n, true); break;
    case HFP_WHITESPACE_SPLIT: rc = split_words(&w, s, n, false); break;
    default: rc = model_word(t, s, n, out, err); break;
    }
    free(w.cache);
    free(norm);
    return rc;
}
