/*
 * libtok: tokenizers that agree id for id with the implementations people use
 * (tiktoken, Hugging Face tokenizers, SentencePiece, GGUF vocabularies).
 *
 * Handles are opaque. A loaded tokenizer is immutable: any number of threads
 * may encode and decode with one handle at once. Functions that can fail take
 * a caller-owned tok_error and return 0 (or a non-NULL pointer) on success.
 * The library never prints and never exits.
 */
#ifndef TOK_H
#define TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOK_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum tok_status {
    TOK_OK = 0,
    TOK_EIO,          /* a file could not be read */
    TOK_EFORMAT,      /* malformed input file (position named in the message) */
    TOK_EUNSUPPORTED, /* a valid component this build does not implement */
    TOK_ENOMEM,
    TOK_EINVAL,       /* bad argument */
    TOK_ESPECIAL,     /* disallowed special token found in the text */
    TOK_EUTF8,        /* invalid UTF-8 in the input text (byte offset named) */
    TOK_ERANGE        /* an id outside the vocabulary */
};

typedef struct tok_error {
    int code;
    char msg[512];
} tok_error;

/* ---- growable outputs ---------------------------------------------------- */

typedef struct tok_ids {
    int32_t *ids;
    size_t n, cap;
} tok_ids;

typedef struct tok_bytes {
    char *data; /* always NUL-terminated after a successful call */
    size_t n, cap;
} tok_bytes;

void tok_ids_free(tok_ids *v);
void tok_bytes_free(tok_bytes *b);
/* Appends n ids; TOK_ENOMEM on failure (the vector is unchanged then). */
int tok_ids_append(tok_ids *v, const int32_t *ids, size_t n);
/* Appends n bytes (keeps the buffer NUL-terminated); TOK_ENOMEM on failure. */
int tok_bytes_append(tok_bytes *b, const void *data, size_t n);

/* ---- loading --------------------------------------------------------------- */

typedef struct tok_tokenizer tok_tokenizer;

/*
 * Loads a built-in encoding name (cl100k_base, o200k_base, r50k_base,
 * p50k_base, claude_legacy) or a path to a .tiktoken or tokenizer.json file
 * (further formats are recognised by content and named in the error if this
 * build cannot read them). Built-in data is looked up in $TOK_DATA_DIR, then
 * in the directory given to tok_set_data_dir, then in the install prefix.
 */
tok_tokenizer *tok_load(const char *spec, tok_error *err);

typedef struct tok_special_token {
    const char *text;
    int32_t id;
} tok_special_token;

/* A .tiktoken rank file with an explicit pre-tokenizer regex (PCRE2/fancy-regex
 * syntax) and special tokens. `pattern` may also be a built-in encoding name,
 * whose regex (and, if specials is NULL, special tokens) is then used. */
tok_tokenizer *tok_load_tiktoken(const char *path, const char *pattern,
                                 const tok_special_token *specials, size_t n_specials,
                                 tok_error *err);

/* Where built-in encodings live when $TOK_DATA_DIR is unset (the CLI points it
 * next to its executable). Not thread-safe; call before loading. */
void tok_set_data_dir(const char *dir);

void tok_free(tok_tokenizer *t);

/* ---- encoding -------------------------------------------------------------- */

typedef enum tok_special_mode {
    TOK_SPECIAL_DEFAULT = 0, /* the format's reference default: tiktoken
                                encode_ordinary (none), tokenizer.json added
                                tokens always matched */
    TOK_SPECIAL_NONE,        /* special-token strings are plain text */
    TOK_SPECIAL_ALL,         /* every special-token string becomes its id */
    TOK_SPECIAL_LIST,        /* only those in `allowed` */
    TOK_SPECIAL_ERROR        /* like tiktoken's encode(): fail with
                                TOK_ESPECIAL on a special token not in
                                `allowed` */
} tok_special_mode;

typedef enum tok_utf8_mode {
    TOK_UTF8_STRICT = 0, /* invalid UTF-8 fails with TOK_EUTF8 and its byte offset */
    TOK_UTF8_REPLACE     /* each maximal invalid subsequence becomes U+FFFD */
} tok_utf8_mode;

typedef struct tok_encode_params {
    tok_special_mode special;
    const char *const *allowed; /* for LIST and ERROR; NULL-terminated */
    bool add_special;           /* add the post-processor's BOS/EOS */
    tok_utf8_mode utf8;
} tok_encode_params;

tok_encode_params tok_encode_default_params(void);

/* Appends the ids of text[0..len) to out. The calling thread keeps an
 * encoder (scratch and a cache of merged pieces, up to 12 MB) for each of
 * its four most recently used tokenizers across calls; it is freed when the
 * thread exits, or by tok_free on this thread. */
int tok_encode(const tok_tokenizer *t, const char *text, size_t len,
               const tok_encode_params *p, tok_ids *out, tok_error *err);

/* Number of tokens without keeping the ids. */
int tok_count(const tok_tokenizer *t, const char *text, size_t len,
              const tok_encode_params *p, size_t *count, tok_error *err);

/* Reusable encoding state for one thread: scratch buffers and a cache of
 * merged pieces that persist across calls, for a caller that encodes many
 * texts in a row (ids are identical to tok_encode's). One encoder per
 * thread; they may share the tokenizer, which must outlive them. */
typedef struct tok_encoder tok_encoder;
tok_encoder *tok_encoder_new(const tok_tokenizer *t, tok_error *err);
int tok_encoder_encode(tok_encoder *e, const char *text, size_t len, const tok_encode_params *p, tok_ids *out,
                       tok_error *err);
int tok_encoder_count(tok_encoder *e, const char *text, size_t len, const tok_encode_params *p, size_t *count,
                      tok_error *err);
void tok_encoder_free(tok_encoder *e);

/* Encodes n independent texts on up to n_threads threads (0 = all cores).
 * outs[i] receives the ids of texts[i]. On failure err names the first
 * failing text by index. The calling thread takes part; the others come
 * from a pool started on first use and kept (idle) until the library is
 * unloaded, so their caches stay warm between calls; while one call uses
 * the pool, a concurrent call starts threads of its own. */
int tok_encode_batch(const tok_tokenizer *t, const char *const *texts, const size_t *lens,
                     size_t n, const tok_encode_params *p, int n_threads,
                     tok_ids *outs, tok_error *err);

/* ---- streaming count -------------------------------------------------------- */

/* Counts tokens of a text fed in pieces of any size, holding only a bounded
 * window in memory: the stream is cut where every supported pre-tokenizer is
 * guaranteed to cut (between an ASCII letter and a space followed by an ASCII
 * letter), so the count equals tok_count of the whole text. */
typedef struct tok_counter tok_counter;
tok_counter *tok_counter_new(const tok_tokenizer *t, const tok_encode_params *p, tok_error *err);
int tok_counter_feed(tok_counter *c, const char *data, size_t len, tok_error *err);
/* Finishes the text; fills the totals. The counter may then be freed. */
int tok_counter_finish(tok_counter *c, size_t *tokens, tok_error *err);
void tok_counter_free(tok_counter *c);

/* ---- decoding ----------------------------------------------------------------- */

/* Appends the text of ids to out (the format's decoder: byte-level mapping,
 * Metaspace, byte fallback...). Ids outside the vocabulary fail with TOK_ERANGE.
 * skip_special drops special/control tokens, as decode(ids, skip_special_tokens). */
int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
               tok_bytes *out, tok_error *err);

/* ---- vocabulary ------------------------------------------------------------- */

size_t tok_vocab_size(const tok_tokenizer *t); /* one past the largest id */
/* The bytes a token stands for (its decoded text when shown alone);
 * NULL for an id that is not in the vocabulary. */
const char *tok_token_bytes(const tok_tokenizer *t, int32_t id, size_t *len);
/* The id of a token given by its bytes, or -1. Special tokens included. */
int32_t tok_token_id(const tok_tokenizer *t, const char *bytes, size_t len);
bool tok_is_special(const tok_tokenizer *t, int32_t id);
int32_t tok_bos_id(const tok_tokenizer *t); /* -1 if none */
int32_t tok_eos_id(const tok_tokenizer *t); /* -1 if none */
const char *tok_name(const tok_tokenizer *t);
/* "tiktoken", "tokenizer.json", ... */
const char *tok_format(const tok_tokenizer *t);

/* Special tokens: their number, and the i-th (text, id). */
size_t tok_special_count(const tok_tokenizer *t);
int tok_special_at(const tok_tokenizer *t, size_t i, const char **text, int32_t *id);

/* ---- UTF-8 helpers ------------------------------------------------------------ */

/* Offset of the first invalid UTF-8 byte, or len if the text is valid. */
size_t tok_utf8_check(const char *s, size_t len);

/* ---- vocabularies given as arrays (GGUF tokenizer.ggml.*) ------------------- */

/* Builds a tokenizer from plain arrays, as a GGUF file's tokenizer.ggml.* keys
 * carry them, and encodes as llama.cpp's llama_tokenize does:
 *   TOK_VOCAB_BPE  (GGUF model "gpt2"): byte-level BPE; tokens are spelled in
 *                  GPT-2's byte-level alphabet, merges are "left right" strings
 *                  in rank order, `pre` names the pre-tokenizer (llama.cpp's
 *                  names: "default", "gpt-2", "llama-bpe"/"llama3", "qwen2",
 *                  "smollm", "starcoder", "falcon", "deepseek-coder",
 *                  "deepseek-v3", "gpt-4o"/"llama4", ...; a name this build
 *                  does not know, e.g. "deepseek-llm", is an error naming it).
 *   TOK_VOCAB_SPM  (GGUF model "llama"): SentencePiece-style BPE over pieces,
 *                  scores and types, byte fallback through <0xNN> pieces.
 * Token types are GGUF's (1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte). Control and unknown tokens are special: their text is
 * matched in the input only when tok_encode_params.special allows it (the
 * default does not, like llama_tokenize(parse_special=false)); user-defined
 * tokens are always matched. add_special adds BOS (if add_bos) and EOS (if
 * add_eos). Everything is copied; the arrays may be freed after the call. */
enum tok_vocab_kind { TOK_VOCAB_BPE = 1, TOK_VOCAB_SPM = 2 };

#define TOK_VOCAB_ID_DEFAULT (-2) /* llama.cpp's default id for the kind; -1 = none */

typedef struct tok_vocab_params {
    int kind;                      /* enum tok_vocab_kind */
    const char *name;              /* shown by tok_name() and in errors; may be NULL */
    size_t n_tokens;
    const char *const *tokens;     /* token i's text (need not be NUL-terminated) */
    const size_t *token_lens;      /* NULL: tokens are NUL-terminated */
    const float *scores;           /* SPM piece scores; NULL = all 0 */
    const int32_t *types;          /* GGUF token types; NULL = all normal */
    size_t n_merges;               /* BPE */
    const char *const *merges;     /* "left right", rank order */
    const size_t *merge_lens;      /* NULL: merges are NUL-terminated */
    const char *pre;               /* tokenizer.ggml.pre, or NULL ("default") */
    int32_t bos_id, eos_id, unk_id, pad_id; /* TOK_VOCAB_ID_DEFAULT, -1 or an id */
    /* 1 / 0, or -1 for llama.cpp's default (SPM: BOS and space prefix on;
     * BPE: off, except BOS for the llama3 family) */
    int add_bos, add_eos, add_space_prefix;
} tok_vocab_params;

tok_vocab_params tok_vocab_default_params(void);
tok_tokenizer *tok_from_vocab(const tok_vocab_params *p, tok_error *err);

#ifdef __cplusplus
}
#endif
#endif
