/* The tokenizer handle shared by the loaders and the encoder. */
#ifndef TOK_TOKENIZER_H
#define TOK_TOKENIZER_H

#include <stdbool.h>

#include "internal.h"
#include "pretok.h"
#include "vocab.h"

enum tok_norm { NORM_NONE = 0, NORM_NFC, NORM_NFKC };

/* A special or added token matched in raw text before anything else. */
typedef struct special_tok {
    char *text;
    size_t len;
    int32_t id;
    bool special;     /* false: a Hugging Face added token that is ordinary */
    bool lstrip, rstrip, single_word;
} special_tok;

struct tok_tokenizer {
    uint64_t serial;         /* unique per handle in this process (thread encoders, tokenizer.c) */
    char *name;
    const char *format;      /* "tiktoken", "tokenizer.json" */
    vocab v;
    pretok pt;
    bool whole_lookup;       /* tiktoken; Hugging Face ignore_merges */
    bool specials_by_default;/* Hugging Face: added tokens always matched */
    bool decode_lossy;       /* Hugging Face decode returns a lossy UTF-8 string */
    int norm;
    int norm_max_age;        /* see tok_normalize */
    special_tok *specials;   /* sorted by length, longest first */
    size_t n_specials;
    uint8_t special_first[256]; /* first bytes of any special token */
    int32_t *prefix, *suffix;   /* post-processor ids (add_special) */
    size_t n_prefix, n_suffix;
    int32_t bos, eos;
    uint8_t *special_ids;       /* bitmap over ids: special tokens */
    /* GGUF vocabularies (vocab_ctor.c) */
    bool added_always;          /* non-special added tokens matched in every mode */
    struct spm_model *spm;      /* set: encode/decode go to SentencePiece */
    struct hf_pipeline *hf;     /* set: a non-byte-level tokenizer.json (hf.h) */
    struct special_index *sidx; /* special_index.c: specials by first byte, length, hash */
};

tok_tokenizer *tokenizer_new(const char *name, const char *format, tok_error *err);
/* batch.c: stops and joins tok_encode_batch's worker pool (library unload). */
void batch_pool_fini(void);
/* Registers a special/added token (copies text). Call tokenizer_finish after. */
int tokenizer_add_special(tok_tokenizer *t, const char *text, size_t len, int32_t id, bool special,
                          tok_error *err);
typedef struct special_index special_index;
/* special_index.c: built by tokenizer_finish. special_next_match gives the
 * specials whose text starts text[i], in sorted order (longest first, then
 * id): after = -1 for the first, then the previous answer; -1 at the end. */
int special_index_build(tok_tokenizer *t, tok_error *err);
void special_index_free(special_index *x);
long special_next_match(const tok_tokenizer *t, const char *text, size_t len, size_t i, long after);
/* Sorts specials, builds filters and bitmaps, fills byte ids. */
int tokenizer_finish(tok_tokenizer *t, tok_error *err);

tok_tokenizer *tiktoken_load(const char *path, const char *pattern, const tok_special_token *specials,
                             size_t n_specials, const char *name, tok_error *err);
tok_tokenizer *tiktoken_load_builtin(const char *name, tok_error *err);
tok_tokenizer *hf_json_load(const char *path, const char *data, size_t len, tok_error *err);
/* The text a SentencePiece piece stands for (U+2581 -> space, <0xNN> -> the
 * byte) into out (n bytes of room suffice). */
size_t spm_piece_text(const char *s, size_t n, int32_t type, char *out);
/* spm_tokenizer.c: a SentencePiece .model file as a tokenizer. */
tok_tokenizer *spm_tokenizer_load(const char *path, tok_error *err);

/* vocab_ctor.c: the SentencePiece path of a tokenizer with t->spm set. */
int tokenizer_spm_encode(const tok_tokenizer *t, const char *text, size_t len, tok_ids *out, tok_error *err);
int tokenizer_spm_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, tok_bytes *out,
                         tok_error *err);

/* Normalization (utf8proc). Returns a new buffer. */
/* max_age: characters assigned after this Unicode version (x10) are left
 * alone, as by a normalizer with older tables; 0 = no limit. */
char *tok_normalize(int norm, int max_age, const char *s, size_t len, size_t *out_len, tok_error *err);
#define HF_UNICODE_AGE 90
#endif
