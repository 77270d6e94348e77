/*
 * A SentencePiece .model file as a tok_tokenizer: encoding and decoding go to
 * the spm_model (spm.h); the tokenizer adds what the common API needs around
 * it: each piece's text for tok_token_bytes/tok show, control pieces as
 * special tokens (matched in text only with --special, as SentencePiece never
 * does by default), and BOS/EOS for add_special as encode(add_bos=True,
 * add_eos=True) gives them.
 */
#include <stdlib.h>
#include <string.h>

#include "spm.h"
#include "tokenizer.h"

tok_tokenizer *spm_tokenizer_load(const char *path, tok_error *err) {
    spm_model *m = spm_load_file(path, err);
    if (!m) return NULL;
    tok_tokenizer *t = tokenizer_new(path, "sentencepiece", err);
    if (!t) {
        spm_free(m);
        return NULL;
    }
    t->spm = m;
    size_t n = spm_vocab_size(m);
    int rc = vocab_init(&t->v, (uint32_t)n, err);
    char *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t k;
        const char *piece = spm_piece(m, (int32_t)i, &k);
        int type = spm_piece_type(m, (int32_t)i);
        if (k + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * (k + 1));
            if (!nb) {
                rc = tok_fail(err, TOK_ENOMEM, "out of memory");
                break;
            }
            buf = nb;
        }
        size_t bl = spm_piece_text(piece, k, type, buf);
        bool dup = vocab_find(&t->v, buf, bl) >= 0;
        rc = vocab_set(&t->v, (int32_t)i, buf, bl, !dup, err);
        if (!rc && type == SPM_CONTROL && k) rc = tokenizer_add_special(t, piece, k, (int32_t)i, true, err);
    }
    free(buf);
    t->bos = spm_bos_id(m);
    t->eos = spm_eos_id(m);
    if (!rc && t->bos >= 0) {
        t->prefix = malloc(sizeof *t->prefix);
        if (t->prefix) t->prefix[t->n_prefix++] = t->bos;
        else rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!rc && t->eos >= 0) {
        t->suffix = malloc(sizeof *t->suffix);
        if (t->suffix) t->suffix[t->n_suffix++] = t->eos;
        else rc = tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!rc) rc = tokenizer_finish(t, err);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    return t;
}
