/*
 * tok engine: GGUF files, the forward pass of Llama-family models on the CPU,
 * samplers, and the backends the pipeline calls. Depends on libtok only.
 *
 * Ownership: a tok_gguf owns its mmap; a tok_model owns its tok_gguf and is
 * immutable after loading, so any number of sessions (each with its own KV
 * cache, scratch buffers and threads) may run on one model from several
 * threads at once. Functions that can fail take a caller-owned tok_error and
 * return 0 / non-NULL on success. Nothing here prints or exits.
 */
#ifndef TOK_ENGINE_H
#define TOK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GGUF files ------------------------------------------------------------ */

/* Metadata value types, numbered as in the GGUF specification. */
enum tok_gguf_type {
    TOK_GGUF_U8 = 0, TOK_GGUF_I8 = 1, TOK_GGUF_U16 = 2, TOK_GGUF_I16 = 3,
    TOK_GGUF_U32 = 4, TOK_GGUF_I32 = 5, TOK_GGUF_F32 = 6, TOK_GGUF_BOOL = 7,
    TOK_GGUF_STRING = 8, TOK_GGUF_ARRAY = 9, TOK_GGUF_U64 = 10, TOK_GGUF_I64 = 11,
    TOK_GGUF_F64 = 12
};

/* Tensor types, numbered as ggml numbers them. Only the ones the engine can
 * read are listed; tok_tensor_type_name() names any id ggml defines. */
enum tok_tensor_type {
    TOK_TYPE_F32 = 0, TOK_TYPE_F16 = 1, TOK_TYPE_Q4_0 = 2, TOK_TYPE_Q4_1 = 3,
    TOK_TYPE_Q5_0 = 6, TOK_TYPE_Q5_1 = 7, TOK_TYPE_Q8_0 = 8, TOK_TYPE_Q8_1 = 9,
    TOK_TYPE_Q2_K = 10, TOK_TYPE_Q3_K = 11, TOK_TYPE_Q4_K = 12, TOK_TYPE_Q5_K = 13,
    TOK_TYPE_Q6_K = 14, TOK_TYPE_Q8_K = 15, TOK_TYPE_BF16 = 30
};

typedef struct tok_gguf tok_gguf;

/* A string inside the file: NOT NUL-terminated (GGUF strings carry a length). */
typedef struct tok_gguf_str {
    const char *s;
    uint64_t len;
} tok_gguf_str;

/* One tensor of the file; `data` points into the mmap (nbytes long). */
typedef struct tok_gguf_tensor {
    const char *name;   /* NUL-terminated copy */
    uint32_t n_dims;    /* 1..4 */
    int64_t ne[4];      /* ne[0] is the contiguous dimension; unused dims are 1 */
    int type;           /* enum tok_tensor_type */
    uint64_t offset;    /* from the start of the data section */
    uint64_t nbytes;
    const void *data;
} tok_gguf_tensor;

/* Opens and validates a GGUF v2/v3 file (mmap'd read-only). Every offset,
 * length and size is checked against the file; errors name the file, the key
 * or tensor and the cause. */
tok_gguf *tok_gguf_open(const char *path, tok_error *err);
/* The same on a caller-owned buffer that must outlive the handle; `name` is
 * used in messages. */
tok_gguf *tok_gguf_open_memory(const void *data, size_t size, const char *name, tok_error *err);
void tok_gguf_close(tok_gguf *g);

uint32_t tok_gguf_version(const tok_gguf *g);
uint32_t tok_gguf_alignment(const tok_gguf *g);
uint64_t tok_gguf_data_offset(const tok_gguf *g); /* file offset of the data section */
const char *tok_gguf_path(const tok_gguf *g);

/* Metadata: keys in file order. */
int64_t tok_gguf_n_kv(const tok_gguf *g);
const char *tok_gguf_key(const tok_gguf *g, int64_t i);   /* NUL-terminated */
int tok_gguf_kv_type(const tok_gguf *g, int64_t i);       /* enum tok_gguf_type */
int64_t tok_gguf_find_key(const tok_gguf *g, const char *key); /* -1 if absent */

/* Typed getters by key; false if the key is absent or of an incompatible
 * type. get_int accepts every integer type (and bool), get_float F32/F64,
 * get_string a STRING (the pointer is NUL-terminated and owned by g). */
bool tok_gguf_get_int(const tok_gguf *g, const char *key, int64_t *out);
bool tok_gguf_get_uint(const tok_gguf *g, const char *key, uint64_t *out);
bool tok_gguf_get_float(const tok_gguf *g, const char *key, double *out);
bool tok_gguf_get_bool(const tok_gguf *g, const char *key, bool *out);
const char *tok_gguf_get_string(const tok_gguf *g, const char *key);
/* By index, for listing; scalar values only. */
bool tok_gguf_kv_int(const tok_gguf *g, int64_t i, int64_t *out);
bool tok_gguf_kv_uint(const tok_gguf *g, int64_t i, uint64_t *out);
bool tok_gguf_kv_float(const tok_gguf *g, int64_t i, double *out);
const char *tok_gguf_kv_string(const tok_gguf *g, int64_t i);

/* Arrays: element type and count (false if the key is absent or not an
 * array). Elements are read with the accessors below, which convert like the
 * scalar getters; i must be < n. Arrays of arrays are skipped over when
 * reading the file and report type TOK_GGUF_ARRAY with no accessors. */
bool tok_gguf_get_array(const tok_gguf *g, const char *key, int *elem_type, uint64_t *n);
bool tok_gguf_kv_array(const tok_gguf *g, int64_t i, int *elem_type, uint64_t *n);
int64_t tok_gguf_array_int(const tok_gguf *g, int64_t kv, uint64_t i);
double tok_gguf_array_float(const tok_gguf *g, int64_t kv, uint64_t i);
tok_gguf_str tok_gguf_array_string(const tok_gguf *g, int64_t kv, uint64_t i);

/* Tensors in file order. */
int64_t tok_gguf_n_tensors(const tok_gguf *g);
const tok_gguf_tensor *tok_gguf_tensor_at(const tok_gguf *g, int64_t i);
const tok_gguf_tensor *tok_gguf_find_tensor(const tok_gguf *g, const char *name);

/* "Q4_K", "F32", ...; "?" for an id ggml does not define. */
const char *tok_tensor_type_name(int type);
const char *tok_gguf_type_name(int type);
/* Values per block and bytes per block; 0 if the engine cannot read the type. */
int64_t tok_tensor_type_block(int type);
int64_t tok_tensor_type_size(int type);

/* ---- the embedded tokenizer ---------------------------------------------------- */

/* A libtok tokenizer from the file's tokenizer.ggml.* keys (model "llama" =
 * SentencePiece, "gpt2" = byte-level BPE with the `pre` pre-tokenizer), encoding
 * as llama.cpp's llama_tokenize: with tok_encode_params.add_special it adds BOS
 * when tokenizer.ggml.add_bos_token says so; control-token text is plain text
 * unless the params allow special tokens. Independent of g once built. */
tok_tokenizer *tok_gguf_tokenizer(const tok_gguf *g, tok_error *err);

/* ---- models and sessions ----------------------------------------------------- */

typedef struct tok_model tok_model;
typedef struct tok_session tok_session;

typedef struct tok_model_params {
    bool use_mmap; /* reserved: the file is always mmap'd today */
} tok_model_params;

tok_model_params tok_model_default_params(void);

/* Loads a GGUF model (architectures `llama`, `qwen2`). Unsupported
 * architectures or tensor types are named in the error. */
tok_model *tok_model_load(const char *path, const tok_model_params *p, tok_error *err);
void tok_model_free(tok_model *m);

/* The model's shape, read from its GGUF metadata. */
typedef struct tok_model_info {
    const char *arch;   /* "llama" or "qwen2" */
    int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, vocab_size;
    int ctx_train;      /* ARCH.context_length */
    float rope_base, norm_eps;
    bool tied_output;   /* output.weight absent: logits use token_embd */
    uint64_t weight_bytes;
} tok_model_info;

const tok_model_info *tok_model_get_info(const tok_model *m);
/* The GGUF file behind the model (tokenizer metadata lives there). */
const tok_gguf *tok_model_gguf(const tok_model *m);

typedef struct tok_session_params {
    int n_ctx;     /* KV cache positions; 0 = the model's training context */
    int n_threads; /* worker threads including the caller; 0 = 1 */
    int n_batch;   /* prompt tokens per forward batch; 0 = 64 */
    bool kv_f16;   /* keep K and V as F16 (half the memory, llama.cpp's
                    * default); false: F32, as the fixtures' primary
                    * llama.cpp references were made */
} tok_session_params;

tok_session_params tok_session_default_params(void);

/* A session holds the KV cache (F32, or F16 with kv_f16) and scratch buffers for one sequence;
 * it reads the model, never writes it. */
tok_session *tok_session_new(const tok_model *m, const tok_session_params *p, tok_error *err);
void tok_session_free(tok_session *s);

/* Appends ids[0..n) at the next positions. If logits is non-NULL it receives
 * vocab_size floats: for the last token only, or (all_logits) for each of the
 * n tokens one after the other. Fails (TOK_ERANGE) if the context is full or
 * an id is outside the vocabulary; the session is unchanged then. */
int tok_session_eval(tok_session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                     tok_error *err);
int tok_session_n_past(const tok_session *s);
int tok_session_n_ctx(const tok_session *s);
/* Forgets positions >= n_past (0 clears the session). */
void tok_session_rewind(tok_session *s, int n_past);

/* ---- samplers ---------------------------------------------------------------- */

/* Samplers turn a row of logits into the next token id, in the style of
 * llama.cpp's sampler chain: small samplers (penalties, logit bias, top-k,
 * top-p, min-p, temperature, greedy, dist) each narrow or reshape a candidate
 * array, and a chain applies them in the order they were added. The last one
 * (greedy or dist) selects. A chain belongs to one session (it is not
 * thread-safe); the model is never touched. */

typedef struct tok_sampler tok_sampler;

typedef struct tok_token_data {
    int32_t id;
    float logit;
    float p; /* filled by samplers that need probabilities (top-p, dist) */
} tok_token_data;

/* The candidates a sampler works on. `sorted` says data is ordered by
 * descending logit; `selected` is the index chosen by greedy/dist, or -1. */
typedef struct tok_token_array {
    tok_token_data *data;
    size_t size;
    int64_t selected;
    bool sorted;
} tok_token_array;

typedef struct tok_logit_bias {
    int32_t id;
    float bias; /* added to the logit; -INFINITY bans the token */
} tok_logit_bias;

/* Every sampler handle is freed with tok_sampler_free, unless it was added to
 * a chain: tok_sampler_chain_add takes ownership, and freeing the chain frees
 * its samplers. */
tok_sampler *tok_sampler_greedy_new(void);
/* Softmax, then a draw with the sampler's own xoshiro256** generator: the
 * same seed gives the same sequence on every machine. TOK_SEED_RANDOM picks a
 * seed from the clock (read it back with tok_sampler_get_seed). */
#define TOK_SEED_RANDOM 0xFFFFFFFFu
tok_sampler *tok_sampler_dist_new(uint32_t seed);
tok_sampler *tok_sampler_top_k_new(int k);            /* k <= 0: no-op */
tok_sampler *tok_sampler_top_p_new(float p, size_t min_keep); /* p >= 1: no-op */
tok_sampler *tok_sampler_min_p_new(float p, size_t min_keep); /* p <= 0: no-op */
/* logit / t; t <= 0 keeps only the best candidate(s) (greedy). */
tok_sampler *tok_sampler_temp_new(float t);
/* Over the last `last_n` accepted tokens (-1: all of them; 0: disabled), a
 * token seen c > 0 times gets: logit / repeat if logit > 0 else logit * repeat,
 * then - c * freq - present. NULL on allocation failure. */
tok_sampler *tok_sampler_penalties_new(int last_n, float repeat, float freq, float present);
/* Copies the biases. NULL on allocation failure. */
tok_sampler *tok_sampler_logit_bias_new(const tok_logit_bias *biases, size_t n);

typedef struct tok_sampler_chain_params {
    bool no_perf; /* true: do not time tok_sampler_sample */
} tok_sampler_chain_params;

tok_sampler_chain_params tok_sampler_chain_default_params(void);
tok_sampler *tok_sampler_chain_new(tok_sampler_chain_params p);
/* Appends s; the chain owns it from now on (also when this fails). Returns 0,
 * or TOK_ENOMEM / TOK_EINVAL (s NULL or chain not a chain). */
int tok_sampler_chain_add(tok_sampler *chain, tok_sampler *s);
int tok_sampler_chain_n(const tok_sampler *chain);
tok_sampler *tok_sampler_chain_get(const tok_sampler *chain, int i);

/* Applies any sampler (a chain applies its samplers in order). */
void tok_sampler_apply(tok_sampler *s, tok_token_array *cur);
/* Builds the candidates from logits[0..n_vocab), applies s, returns the
 * selected id; if no sampler selected one, the best remaining candidate.
 * -1 if n_vocab <= 0 or memory runs out. Does not accept the token. */
int32_t tok_sampler_sample(tok_sampler *s, const float *logits, int n_vocab);
/* Tells the samplers a token became part of the sequence (prompt tokens too,
 * so that penalties see them, as llama.cpp does). */
void tok_sampler_accept(tok_sampler *s, int32_t id);
/* Forgets accepted tokens and restarts the generators from their seeds. */
void tok_sampler_reset(tok_sampler *s);
void tok_sampler_free(tok_sampler *s);
const char *tok_sampler_name(const tok_sampler *s);
/* The seed of a dist sampler, or of the first one in a chain; TOK_SEED_RANDOM if none. */
uint32_t tok_sampler_get_seed(const tok_sampler *s);
/* Time spent in tok_sampler_sample on a chain, and the number of calls. */
void tok_sampler_chain_perf(const tok_sampler *chain, double *ms, int64_t *n_samples);

/* llama.cpp's common parameters, and the chain they mean:
 * logit bias -> penalties -> top-k -> top-p -> min-p -> temperature -> dist,
 * or greedy when temp <= 0. */
typedef struct tok_sampling_params {
    uint32_t seed;          /* TOK_SEED_RANDOM (default): from the clock */
    float temp;             /* 0.8 */
    int top_k;              /* 40; <= 0 off */
    float top_p;            /* 0.95; 1 off */
    float min_p;            /* 0.05; 0 off */
    int penalty_last_n;     /* 64; -1 whole history, 0 off */
    float penalty_repeat;   /* 1.0 off */
    float penalty_freq;     /* 0.0 off */
    float penalty_present;  /* 0.0 off */
    const tok_logit_bias *logit_bias; /* copied */
    size_t n_logit_bias;
} tok_sampling_params;

tok_sampling_params tok_sampling_default_params(void);
/* NULL on allocation failure. */
tok_sampler *tok_sampler_chain_from_params(const tok_sampling_params *p);

/* The k most likely tokens of a raw logits row, best first, with their
 * log-probabilities (log-softmax in double over all n_vocab logits). Ties go to
 * the lower id. Returns the number written, min(k, n_vocab). */
int tok_logprobs_top(const float *logits, int n_vocab, int k, int32_t *ids, float *logprobs);

/* ---- generation ---------------------------------------------------------------- */

/* The generation loop: evaluate a prompt, then sample one token at a time
 * until EOS/EOT, a token limit, a stop string, a full context or the caller
 * cancels. This is the shape of the backend interface the pipeline calls (a
 * prompt, sampling params, stop strings, a streaming callback; ids, text, a
 * stop reason, usage and timings out): an HTTP backend fills the same result
 * from a server's response. */

enum tok_stop_reason {
    TOK_STOP_LENGTH = 0, /* max_tokens generated */
    TOK_STOP_EOS,        /* the model's EOS, or EOT/EOM where the GGUF names them */
    TOK_STOP_STRING,     /* a stop string appeared (the text is cut before it) */
    TOK_STOP_CONTEXT,    /* the session's context is full */
    TOK_STOP_CANCELLED   /* the streaming callback asked to stop */
};
/* "length", "eos", "stop", "context", "cancelled". */
const char *tok_stop_reason_name(int reason);

/* Receives generated text in order, in pieces that are complete UTF-8
 * (unless the model produced invalid bytes) and can no longer become part of a
 * stop string: what was passed is never taken back. Return 0 to go on,
 * non-zero to stop (TOK_STOP_CANCELLED). */
typedef int (*tok_stream_fn)(const char *text, size_t len, void *user);

typedef struct tok_generate_params {
    tok_sampling_params sampling;
    int max_tokens;            /* 128; -1: until EOS or a full context */
    const char *const *stop;   /* stop strings (non-empty), n_stop of them */
    size_t n_stop;
    bool ignore_eos;           /* keep going after EOS/EOT */
    int n_logprobs;            /* > 0: the top-K log-probabilities of each step */
    /* Prompt ids [0, n_reuse) are already in the session's KV cache at those
     * positions (a previous turn of a conversation): only the rest is
     * evaluated. 0 (default) clears the session first. */
    int n_reuse;
    tok_stream_fn on_text;     /* may be NULL */
    void *user;
} tok_generate_params;

tok_generate_params tok_generate_default_params(void);

/* One step's log-probabilities, of the raw logits (before any sampler). */
typedef struct tok_step_logprobs {
    float logprob;      /* of the chosen token */
    int n;              /* top entries */
    int32_t *ids;       /* (n) best first */
    float *logprobs;    /* (n) */
} tok_step_logprobs;

typedef struct tok_generation {
    tok_ids ids;         /* generated ids (without the EOS that ended it) */
    tok_bytes text;      /* their text (pieces as llama.cpp's token_to_piece,
                            control tokens empty), cut before a stop string */
    int stop_reason;     /* enum tok_stop_reason */
    int prompt_tokens;   /* usage: the whole prompt, reused part included */
    int completion_tokens;
    int prompt_evaluated;/* prompt tokens actually evaluated (n_prompt - reuse) */
    uint32_t seed;       /* of the random draw; TOK_SEED_RANDOM when greedy */
    double prompt_ms;    /* prompt evaluation */
    double gen_ms;       /* the sampling loop, wall time */
    double eval_ms;      /* its forward passes */
    double sample_ms;    /* its sampling */
    int n_eval;          /* forward passes in the loop */
    tok_step_logprobs *logprobs; /* (ids.n) when n_logprobs > 0 */
} tok_generation;

/* Runs the loop on session s (whose model gives the logits and the end
 * tokens). tk turns ids into text and may be NULL (text stays empty). The
 * session then holds the prompt and every generated id but the last.
 * Fails (TOK_ERANGE) if the prompt does not fit the context, on an id outside
 * the vocabulary or on allocation failure; out is then freed. */
int tok_generate(tok_session *s, const tok_tokenizer *tk, const int32_t *prompt, size_t n_prompt,
                 const tok_generate_params *p, tok_generation *out, tok_error *err);
void tok_generation_free(tok_generation *g);
/* The model a session runs. */
const tok_model *tok_session_model(const tok_session *s);
/* A token's text as llama.cpp's token_to_piece(special=false): control
 * tokens give "" (so does a NULL tokenizer). */
const char *tok_token_piece(const tok_tokenizer *tk, int32_t id, size_t *len);
/* True if id ends generation for this model: EOS, EOT or EOM. */
bool tok_model_is_end_token(const tok_model *m, int32_t id);

#ifdef __cplusplus
}
#endif
#endif
