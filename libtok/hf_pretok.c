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
 * the model's cost per word.
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
} word_ctx;

static int emit_word(void *ctx, const char *text, size_t a, size_t b) {
    word_ctx *w = ctx;
    return model_word(w->t, text + a, b - a, w->out, w->err);
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
static int split_words(const tok_tokenizer *t, const char *s, size_t n, bool punct, tok_ids *out, tok_error *err) {
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int k = tok_utf8_decode((const unsigned char *)s + i, n - i, &c);
        if (k <= 0) k = 1, c = 0xFFFD;
        bool w = rust_white(c), p = punct && bert_punct(c);
        if (w || p) {
            int rc = model_word(t, s + start, i - start, out, err);
            if (!rc && p) rc = model_word(t, s + i, (size_t)k, out, err);
            if (rc) return rc;
            start = i + (size_t)k;
        }
        i += (size_t)k;
    }
    return model_word(t, s + start, n - start, out, err);
}

static int metaspace(const tok_tokenizer *t, const char *s, size_t n, bool at_start, tok_ids *out, tok_error *err) {
    const hf_pipeline *h = t->hf;
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
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!h->meta_split) rc = model_word(t, b.data, b.n, out, err);
    else {
        size_t start = 0;
        for (size_t i = 0; i + 3 <= b.n && !rc; i++)
            if (!memcmp(b.data + i, META, 3) && i > start) {
                rc = model_word(t, b.data + start, i - start, out, err);
                start = i;
            }
        if (!rc) rc = model_word(t, b.data + start, b.n - start, out, err);
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
    word_ctx w = {t, out, err};
    switch (h->pre) {
    case HFP_SPLIT: rc = pretok_run(&t->pt, s, n, emit_word, &w, err); break;
    case HFP_METASPACE: rc = metaspace(t, s, n, at_start, out, err); break;
    case HFP_BERT: rc = split_words(t, s, n, true, out, err); break;
    case HFP_WHITESPACE_SPLIT: rc = split_words(t, s, n, false, out, err); break;
    default: rc = model_word(t, s, n, out, err); break;
    }
    free(norm);
    return rc;
}
