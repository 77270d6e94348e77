/*
 * The model and session structures shared by the loader (model_load.c), the
 * building blocks (ops.c) and the forward pass (forward.c). Private.
 *
 * Weights stay in the mmap'd GGUF file in their stored type; only the small
 * 1-D tensors (norms, biases, RoPE factors) are converted to float arrays the
 * model owns. A session owns everything that changes while evaluating.
 */
#ifndef TOK_MODEL_H
#define TOK_MODEL_H
#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "quant.h"

enum { ARCH_LLAMA, ARCH_QWEN2 };

/* ---- config (from GGUF keys) ---- */
typedef struct model_config {
    int arch;
    int dim;          /* embedding width */
    int n_layers;
    int n_heads, n_kv_heads, head_dim; /* GQA: query head h reads kv head h / (n_heads/n_kv_heads) */
    int ffn_dim;      /* SwiGLU hidden width */
    int vocab;
    int ctx_train;
    int n_rot;        /* rotated dims per head (<= head_dim) */
    bool rope_neox;   /* qwen2: rotate (x[i], x[i+n_rot/2]); llama: (x[2i], x[2i+1]) */
    float rope_base, rope_freq_scale, eps;
} model_config;

/* A weight matrix: n_out rows of n_in values, in the file's type. */
typedef struct weight {
    const void *data;
    int type;
    int n_in, n_out;
    size_t row_bytes;
    const quant_traits *q;
    void *pack_dst;       /* where its interleaved copy for the matmul kernels goes
                             (repack.c), or NULL: multiplied in the file's layout */
    _Atomic(const void *) packed; /* pack_dst once the copy is made (on first use) */
    int panels;           /* the copy's panels (repack.h; 0: the plain pair layout), set before packed */
} weight;

typedef struct layer_weights {
    float *attn_norm;                 /* (dim) */
    weight wq, wk, wv, wo;            /* (n_heads*hd, dim), (kv_dim, dim) x2, (dim, n_heads*hd) */
    float *bq, *bk, *bv, *bo;         /* (n_heads*hd), (kv_dim), (kv_dim), (dim); NULL when absent */
    float *ffn_norm;                  /* (dim) */
    weight w_gate, w_up, w_down;      /* (ffn, dim), (ffn, dim), (dim, ffn) */
} layer_weights;

struct tok_model {
    tok_gguf *gguf;
    model_config cfg;
    tok_model_info info;
    weight tok_embd;                  /* (vocab, dim) */
    layer_weights *layers;            /* (n_layers) */
    float *output_norm;               /* (dim) */
    weight output;                    /* (vocab, dim); == tok_embd when tied */
    float *rope_freqs;                /* (n_rot/2) divisors of the frequencies, or NULL */
    void *packed_mem;                 /* the repacked weights (repack.c), or NULL */
    size_t packed_size;
    void *pack_tmp;                   /* scratch of two groups for the pair layout (repack.c) */
    pthread_mutex_t pack_lock;        /* one packer at a time (sessions on threads) */
};

/* ---- run state ---- */
#define ATT_ROWS 4 /* queries of a prompt batch attended together (attend_heads) */
struct tok_session {
    const tok_model *m;
    tok_pool *pool;
    int n_ctx, n_batch, n_past;
    void *key_cache;    /* (layer, n_ctx, kv_dim) floats, or fp16 values with kv_f16 */
    void *value_cache;  /* (layer, n_ctx, kv_dim) */
    bool kv_f16;
    /* scratch for one batch of up to n_batch tokens */
    float *x;      /* (n_batch, dim) residual stream */
    float *xb;     /* (n_batch, dim) normed input of a block */
    float *q;      /* (n_batch, n_heads*hd) */
    float *k, *v;  /* (n_batch, kv_dim) */
    float *att_out;/* (n_batch, n_heads*hd) */
    float *att;    /* (n_threads, ATT_ROWS, n_ctx + ATT_ROWS) attention scores, rows per thread */
    float *hb, *hb2; /* (n_batch, ffn) */
    float *logits; /* (n_batch, vocab) */
    float *rope_cs;/* (n_batch, n_rot) RoPE cosines and sines of the batch's positions */
    void *xq;      /* quantized activation rows: (n_batch, row bytes of the widest input) */
    size_t xq_row_cap;
};

/* ---- repacking on first use (repack.c) ---- */
/* At load: reserves the packed copies (address space only, no work). */
int model_repack(tok_model *m, tok_error *err);
void model_repack_free(tok_model *m);
/* The weight's interleaved copy, made now if this is its first use (any
 * thread; one packs, the others wait), or NULL if it has none. */
const void *model_packed(const tok_model *m, const weight *w);

/* ---- building blocks (ops.c) ---- */
void rmsnorm(float *out, const float *x, const float *w, int n, float eps);
void rope_angles(const model_config *c, const float *freqs, int pos, float *cs);
void rope_rotate(const model_config *c, const float *cs, float *vec, int n_heads);
/* Rows [t0, t1) of the batch: x += xb first if add, then xb = RMSNorm(x) · w. */
void norm_rows(tok_session *s, const float *w, int t0, int t1, bool add);
/* out[t][r] = W row r · x[t] (+ bias[r]) for t < n_tok; threaded over rows. */
void matmul(tok_session *s, float *out, const weight *w, const float *x, int n_tok, const float *bias);
/* n matmuls of the same input x (Q/K/V, gate/up) in as few pool runs as the
 * weights' activation formats allow; each output equals matmul's. */
#define MATMUL_MAX_FUSED 3
void matmul_fused(tok_session *s, int n, float *const *outs, const weight *const *ws, const float *x, int n_tok,
                  const float *const *biases);
/* out = silu(x·W_gate) * (x·W_up) (SwiGLU), the activation applied by the
 * threads that computed each row range; up is scratch of out's size. */
void matmul_swiglu(tok_session *s, float *out, float *up, const weight *w_gate, const weight *w_up, const float *x,
                   int n_tok);
/* Causal attention of n_tok new tokens at positions pos0.. for one layer:
 * rotates their queries and keys (RoPE, angles in rope_cs) and stores keys
 * and values in the cache first. */
void attention(tok_session *s, int layer, int pos0, int n_tok);
#endif
