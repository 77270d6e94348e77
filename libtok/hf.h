/*
 * Hugging Face tokenizer.json pipelines beyond byte-level BPE (private).
 *
 * A byte-level BPE file keeps using the tiktoken-like fast path of
 * tokenizer.c (vocabulary as bytes, ByteLevel decoder). Every other file gets
 * an hf_pipeline hung off the tokenizer (t->hf): per segment of text between
 * added tokens, the normalizer steps run in order (hf_normalize.c), the
 * pre-tokenizer cuts the normalized text into words (hf_pretok.c), the model
 * turns each word into ids (hf_models.c: BPE over characters with byte
 * fallback, Unigram Viterbi, WordPiece), and decoding runs the decoder chain
 * over the tokens' strings (hf_decode.c), as tokenizers' decode_chain does.
 * Vocabulary strings are kept as written in the file (with U+2581, "##").
 *
 * The pipeline is immutable after loading; all scratch memory is per call.
 */
#ifndef TOK_HF_H
#define TOK_HF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* JSON helpers shared by the tokenizer.json loaders (json is a cJSON node). */
const char *hf_type_of(const void *json);                 /* "type", or NULL */
bool hf_flag(const void *json, const char *key, bool dflt); /* a bool member */
int hf_split_behavior(const char *s);                     /* SPLIT_*, -1 if unknown */
/* The double Hugging Face reads for a JSON number whose correctly rounded
 * value is d (see hf_json.c: serde_json can be 1 ulp off, and Unigram ties
 * depend on it). */
double hf_serde_f64(double d);

/* Hugging Face BertNormalizer's view of general categories (the Unicode 8
 * tables of the unicode_categories crate; hf_categories.c). */
bool hf_is_mark_nonspacing(uint32_t c); /* Mn: stripped by strip_accents */
bool hf_is_other(uint32_t c);           /* Cc | Cf | Co: dropped by clean_text */

enum hf_model_kind { HFM_BPE_CHARS = 1, HFM_UNIGRAM, HFM_WORDPIECE };

enum hf_norm_kind {
    HFN_NFC = 1, HFN_NFKC, HFN_NFD, HFN_NFKD, HFN_LOWERCASE, HFN_PREPEND, HFN_REPLACE, HFN_PRECOMPILED, HFN_BERT,
    HFN_STRIP_ACCENTS, HFN_STRIP, HFN_REPLACE_REGEX
};

typedef struct hf_norm {
    int kind;
    char *a, *b; /* Prepend: a; Replace: a -> b (literal) */
    size_t an, bn;
    bool clean_text, chinese, strip_accents, lowercase; /* BertNormalizer */
    bool left, right;                                    /* Strip */
    void *re;                                            /* Replace with a Regex: pcre2_code, b = content */
    struct spm_model *charsmap;                          /* Precompiled */
} hf_norm;

enum hf_pre_kind { HFP_NONE = 0, HFP_SPLIT, HFP_METASPACE, HFP_BERT, HFP_WHITESPACE_SPLIT };
enum hf_prepend { HF_PREPEND_ALWAYS, HF_PREPEND_FIRST, HF_PREPEND_NEVER };

enum hf_dec_kind { HFD_REPLACE = 1, HFD_BYTE_FALLBACK, HFD_FUSE, HFD_STRIP, HFD_METASPACE, HFD_WORDPIECE };

typedef struct hf_dec {
    int kind;
    char *a, *b; /* Replace a -> b; Strip: a = content; WordPiece: a = prefix */
    size_t an, bn;
    int start, stop;  /* Strip */
    int prepend;      /* Metaspace */
    bool cleanup;     /* WordPiece */
} hf_dec;

typedef struct hf_pipeline {
    int model;
    hf_norm *norm;
    size_t n_norm;
    int pre;               /* enum hf_pre_kind; HFP_SPLIT runs t->pt */
    int meta_prepend;      /* Metaspace */
    bool meta_split;
    bool has_decoder;      /* false: tokens are joined with spaces */
    hf_dec *dec;
    size_t n_dec;
    int32_t unk_id;        /* -1: none */
    bool fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_tok[256]; /* <0xNN> tokens, -1 if absent */
    double *scores;        /* Unigram, per id */
    struct spm_trie *trie; /* Unigram: every vocabulary string, value = its id (vocab_find's) */
    double min_score;
    size_t max_piece_len;  /* longest vocabulary string, bytes */
    uint64_t *bigram;      /* BPE: adjacent character pairs inside tokens */
    size_t bigram_mask, bigram_n;
    /* BPE fast path for ASCII characters and U+2581 ("small" codes 0..128):
     * their ids, and the bigram set restricted to them (bit a*129+b) */
    int32_t small_id[129];
    uint64_t small_bigram[(129 * 129 + 63) / 64];
    char *wp_prefix;       /* WordPiece continuing_subword_prefix */
    size_t wp_prefix_len, wp_max_chars;
} hf_pipeline;

void hf_pipeline_free(hf_pipeline *h);

/* hf_normalize.c: runs the normalizer steps; returns a new NUL-terminated
 * buffer (*out_len bytes) or NULL with err set. */
char *hf_normalize(const hf_pipeline *h, const char *s, size_t len, size_t *out_len, tok_error *err);

/* hf_pretok.c: encodes one segment of text (between added tokens) with the
 * whole pipeline. at_start: the segment begins the input (Metaspace "first"). */
int hf_encode_segment(const tok_tokenizer *t, const char *text, size_t len, bool at_start, tok_ids *out,
                      tok_error *err);

/* A per-call cache of the ids of short strings (words, or BPE runs no merge
 * crosses): text repeats itself, and a string's ids depend on its bytes only.
 * Direct-mapped, HF_CACHE_SLOTS entries (a collision overwrites); an entry
 * points at the ids it already appended to `out` and at its bytes, which
 * both outlive the call. Used only on inputs of at least HF_CACHE_MIN_INPUT
 * bytes, where it pays for clearing the table. */
#define HF_CACHE_SLOTS 4096
#define HF_CACHE_MIN_INPUT 2048
#define HF_CACHE_MAX_LEN 128
typedef struct hf_cache_ent {
    uint64_t h;
    const char *p;
    uint32_t start; /* first id in out->ids */
    uint16_t len, n;
} hf_cache_ent;
/* On a hit appends the cached ids and returns 1 (or -1 out of memory);
 * on a miss returns 0 and leaves *slot for hf_cache_put. */
int hf_cache_get(hf_cache_ent *c, const char *p, size_t len, tok_ids *out, hf_cache_ent **slot);
/* Records that out->ids[start, out->n) are the ids of p[0, len). */
void hf_cache_put(hf_cache_ent *slot, const char *p, size_t len, size_t start, const tok_ids *out);

/* hf_models.c: one pre-tokenized word to ids. */
int hf_bpe_word(const tok_tokenizer *t, const char *s, size_t n, tok_ids *out, tok_error *err);
/* Builds h->bigram from the vocabulary (call once all strings are set). */
int hf_bpe_build_bigrams(tok_tokenizer *t, tok_error *err);
/* Builds h->trie for the Unigram lattice (idem). */
int hf_unigram_build_trie(tok_tokenizer *t, tok_error *err);
int hf_unigram_word(const tok_tokenizer *t, const char *s, size_t n, tok_ids *out, tok_error *err);
int hf_wordpiece_word(const tok_tokenizer *t, const char *s, size_t n, tok_ids *out, tok_error *err);

/* hf_decode.c: Hugging Face decode(ids, skip_special) with the decoder chain. */
int hf_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, tok_bytes *out,
              tok_error *err);

/* hf_load.c: the parts of a non-byte-level file (called by hf_json_load). */
int hf_load_normalizer(tok_tokenizer *t, const void *json, const char *path, tok_error *err);
int hf_load_pretokenizer(tok_tokenizer *t, const void *json, const char *path, tok_error *err);
int hf_load_model(tok_tokenizer *t, const void *json, const char *path, tok_error *err);
int hf_load_decoder(tok_tokenizer *t, const void *json, const char *path, tok_error *err);
/* Refuses added tokens with normalized=true that the normalizers change. */
int hf_check_added(tok_tokenizer *t, const void *added_json, const char *path, tok_error *err);
/* After added tokens are in: resolves unk_token, byte tokens. */
int hf_load_finish(tok_tokenizer *t, const void *model_json, const char *path, tok_error *err);
#endif
