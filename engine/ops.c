/*
 * The neural-net blocks of the forward pass: RMSNorm, RoPE, the threaded
 * matrix multiplication over quantized weights, and causal attention over
 * the session's KV cache.
 *
 * Arithmetic follows ggml's CPU backend where the order matters for
 * agreement with llama.cpp: RMSNorm sums squares in double and scales before
 * multiplying by the weight; RoPE angles are built by repeated
 * multiplication by base^(-2/n_rot) in float; softmax sums in double.
 * matmul converts each activation row once to the weight's dot type (Q8_0,
 * Q8_K, F16, ...) and then runs the integer/F16 dot kernels, as llama.cpp's
 * mul_mat does: the repacked 8-row kernels for Q4_0/Q8_0/Q4_K (repack.h),
 * the row-major ones (four-column for batches) for the other types.
 * Threading: each op is cut into chunks of ~64 KB of weights (or K/V) times
 * tokens, handed to the pool, and ops smaller than two chunks run on the
 * caller alone, since a hand-off costs about as much as a few microseconds
 * of work. Matmuls of one input (Q/K/V; gate/up with SwiGLU applied per
 * chunk) share one quantization of it and one fork-join: a token of a small
 * model is ~100 pool runs, and each costs a wake-up and a wait for the
 * slowest chunk (paired runs: 3-7% more tokens/s at 2 threads on the
 * stories110M shape). Cost: matmul
 * O(n_tok · n_in · n_out), attention O(n_tok · n_past · dim); no
 * allocation (scratch lives in the session).
 */
#include <math.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "model.h"
#include "repack.h"
#include "attend.h"

void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* The angles of position pos: cs[i] = cos, cs[n_rot/2 + i] = sin of
 * theta_i, built by repeated multiplication by base^(-2/n_rot) in float as
 * ggml does. Computed once per position of a batch and used by every layer,
 * for Q and K alike. */
void rope_angles(const model_config *c, const float *freqs, int pos, float *cs) {
    float theta_scale = powf(c->rope_base, -2.0f / (float)c->n_rot);
    float theta = (float)pos;
    int half = c->n_rot / 2;
    for (int i = 0; i < half; i++) {
        float t = c->rope_freq_scale * (freqs ? theta / freqs[i] : theta);
        cs[i] = cosf(t);
        cs[half + i] = sinf(t);
        theta *= theta_scale;
    }
}

/* Rotates the first n_rot dims of each of n_heads heads of vec (head_dim
 * apart) by the angles cs of rope_angles. */
void rope_rotate(const model_config *c, const float *cs, float *vec, int n_heads) {
    int half = c->n_rot / 2;
    const float *cosv = cs, *sinv = cs + half;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * c->head_dim;
        for (int i = 0; i < half; i++) {
            int a = c->rope_neox ? i : 2 * i, b = c->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cosv[i] - x1 * sinv[i];
            v[b] = x0 * sinv[i] + x1 * cosv[i];
        }
    }
}

/* ---- per-token steps of a batch ---- */

/* The steps between matmuls (residual add, RMSNorm, activation
 * quantization, RoPE and the KV cache store) are independent per token:
 * for a batch they run on the pool, a few tokens per chunk (done by the
 * caller alone they left the other threads idle for ~10% of a prompt at 2
 * threads); a single token runs them inline, as a hand-off would cost
 * more than the step. */
typedef void (*token_fn)(const void *ctx, int t);
typedef struct {
    token_fn fn;
    const void *ctx;
    int t0, t1, per;
} token_job;

static void token_chunk(void *ctx, int chunk, int ith) {
    (void)ith;
    const token_job *j = ctx;
    int a = j->t0 + chunk * j->per, b = a + j->per < j->t1 ? a + j->per : j->t1;
    for (int t = a; t < b; t++) j->fn(j->ctx, t);
}

static void for_tokens(tok_session *s, int t0, int t1, token_fn fn, const void *ctx) {
    int n = t1 - t0, nth = tok_pool_size(s->pool);
    if (nth == 1 || n < 4) {
        for (int t = t0; t < t1; t++) fn(ctx, t);
        return;
    }
    int n_chunks = n / 2 < 4 * nth ? n / 2 : 4 * nth, per = (n + n_chunks - 1) / n_chunks;
    token_job j = {fn, ctx, t0, t1, per};
    tok_pool_run(s->pool, token_chunk, &j, (n + per - 1) / per);
}

typedef struct {
    tok_session *s;
    const float *w;
    bool add;
} norm_job;

static void norm_token(const void *ctx, int t) {
    const norm_job *j = ctx;
    const model_config *c = &j->s->m->cfg;
    float *x = j->s->x + (size_t)t * c->dim, *xb = j->s->xb + (size_t)t * c->dim;
    if (j->add)
        for (int i = 0; i < c->dim; i++) x[i] += xb[i];
    rmsnorm(xb, x, j->w, c->dim, c->eps);
}

void norm_rows(tok_session *s, const float *w, int t0, int t1, bool add) {
    norm_job j = {s, w, add};
    for_tokens(s, t0, t1, norm_token, &j);
}

/* ---- matmul ---- */

/* Threading thresholds, in bytes of weights touched times tokens (a proxy
 * for the integer work). A chunk of ~64 KB of Q8_0 rows takes a few
 * microseconds per token, several times the cost of handing it to a
 * spinning worker; smaller ops run on the caller alone. */
#define CHUNK_WORK (64 * 1024)
#define MAX_CHUNKS_PER_THREAD 32
#define MIN_CHUNK_ROWS 4

typedef struct {
    float *out;
    const weight *w;
    const char *xq;
    size_t xq_row;
    int n_tok, rows_per_chunk;
    const float *bias;
    quant_dot4_fn dot4;
    const packed_kernels *pk; /* repacked weights only: */
    const char *packed;       /* their interleaved copy */
} matmul_job;

/* Chunk = a contiguous range of weight rows, walked in blocks of rows that
 * fit in L2 (<= 64 KB): each four-token group of activation rows is loaded
 * into L1 once per block and meets every row of it, and each block is read
 * from memory once for all tokens, so a batch streams the weights once and
 * the activations from cache. Every (row, token) pair goes through the same
 * kernel as in generation, so results do not depend on the blocking. */
static void matmul_chunk(void *ctx, int chunk, int ith) {
    (void)ith;
    const matmul_job *j = ctx;
    const weight *w = j->w;
    int r0 = chunk * j->rows_per_chunk, r1 = r0 + j->rows_per_chunk < w->n_out ? r0 + j->rows_per_chunk : w->n_out;
    quant_dot_fn dot = w->q->dot;
    size_t xs = j->xq_row, no = (size_t)w->n_out;
    int block = w->row_bytes ? (int)(65536 / w->row_bytes) : 1;
    if (block < 1) block = 1;
    if (block > 16) block = 16;
    int t4 = j->dot4 ? j->n_tok / 4 * 4 : 0;
    for (int b0 = r0; b0 < r1; b0 += block) {
        int b1 = b0 + block < r1 ? b0 + block : r1;
        for (int t = 0; t < t4; t += 4)
            for (int r = b0; r < b1; r++) {
                float v[4], b = j->bias ? j->bias[r] : 0.0f;
                j->dot4(w->n_in, (const char *)w->data + (size_t)r * w->row_bytes, j->xq + (size_t)t * xs, xs, v);
                for (int c = 0; c < 4; c++) j->out[(size_t)(t + c) * no + r] = v[c] + b;
            }
        for (int r = b0; r < b1; r++) {
            const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
            float b = j->bias ? j->bias[r] : 0.0f;
            for (int t = t4; t < j->n_tok; t++) {
                float v;
                dot(w->n_in, row, j->xq + (size_t)t * xs, &v);
                j->out[(size_t)t * no + r] = v + b;
            }
        }
    }
}

/* Repacked weights (repack.h): a chunk is a range of eight-row groups.
 * Groups are walked in blocks of <= 128 KB of weights; within a block each
 * four-token tile of activations stays in L1 while it meets every group
 * (gemm4: 8 rows x 4 tokens per inner loop), and the block stays in L2 for
 * all tiles. Leftover tokens (and generation) use the one-token kernel,
 * whose float order is the tile's (repack.h), so a batch gives bit for bit
 * the results of token-at-a-time. */
/* o[r] = v[r] + b[r] for the eight rows of a group */
static inline void store8(float *o, const float *v, const float *b) {
#if defined(__AVX2__)
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(v), _mm256_loadu_ps(b)));
#else
    for (int r = 0; r < Q4X8; r++) o[r] = v[r] + b[r];
#endif
}

/* The results v of nt tokens for the pair of groups g, g+1 into out
 * (rows of no floats) plus the bias (NULL: none) */
static inline void store_pair(float *out, size_t no, int g, const float *v, int nt, const float *bias) {
    static const float zeros[Q4X8];
    const float *b = bias ? bias + (size_t)g * Q4X8 : zeros, *b2 = bias ? b + Q4X8 : zeros;
    float *o = out + (size_t)g * Q4X8;
    for (int c = 0; c < nt; c++) {
        store8(o + (size_t)c * no, v + 16 * c, b);
        store8(o + (size_t)c * no + Q4X8, v + 16 * c + 8, b2);
    }
}

/* Rows of groups [g0, g1) (whole pairs) of a panel-layout matrix
 * (repack.h): PANEL_PAIRS pairs at a time, panel after panel, so each
 * panel's activation slice stays in L1 for all of them (and the pairs'
 * panel slice, ~300 KB, in L2 for every token tile). The kernels carry
 * their sums in out from one panel to the next; the bias is added after
 * the last. One token runs all the chunk's pairs per panel (the longest
 * reuse of each slice; paired runs: ~2% ahead of runs of 16 pairs). */
enum { PANEL_PAIRS = 16 };
static void panel_matmul(const packed_kernels *k, const char *packed, int n_in, int n_out, int panels, int g0, int g1,
                         const char *xq, size_t xq_row, int n_tok, const float *bias, float *out, size_t no) {
    float v[64];
    int nb = n_in / k->block, pb = k->panel_blocks, ng = n_out / Q4X8, t4 = n_tok / 4 * 4;
    int span = n_tok == 1 ? g1 - g0 : 2 * PANEL_PAIRS;
    for (int s0 = g0; s0 < g1; s0 += span) {
        int s1 = s0 + span < g1 ? s0 + span : g1;
        for (int p = 0; p < panels; p++) {
            int w = nb - p * pb < pb ? nb - p * pb : pb;
            size_t gbytes = (size_t)w * k->group_bytes;
            const char *base = packed + (size_t)p * pb * ng * k->group_bytes;
            const char *xp = xq + (size_t)p * pb * k->act_bytes;
            bool first = p == 0, last = p == panels - 1;
            for (int t = 0; t < n_tok;) {
                int four = t < t4, nt = four ? 4 : 1;
                const char *x = xp + (size_t)t * xq_row;
                for (int g = s0; g < s1; g += 2) {
                    const char *pw = base + (size_t)g * gbytes;
                    float *o = out + (size_t)t * no + (size_t)g * Q4X8;
                    if (four) {
                        k->gemm4x2_acc(w * k->block, pw, x, xq_row, first ? NULL : o, no, v);
                        if (!last) {
                            for (int c = 0; c < 4; c++) memcpy(o + (size_t)c * no, v + 16 * c, 16 * sizeof(float));
                            continue;
                        }
                    } else {
                        k->gemv2_acc(w * k->block, pw, x, first ? NULL : o, last ? v : o);
                        if (!last) continue;
                    }
                    store_pair(out + (size_t)t * no, no, g, v, nt, bias);
                }
                t += nt;
            }
        }
    }
}

void packed_matmul(const packed_kernels *k, const void *packed, int n_in, int n_out, int panels, int g0, int g1,
                   const void *xqv, size_t xq_row, int n_tok, const float *bias, float *out, size_t no) {
    static const float zeros[Q4X8];
    const char *xq = xqv;
    if (panels > 0) {
        panel_matmul(k, packed, n_in, n_out, panels, g0, g1, xq, xq_row, n_tok, bias, out, no);
        return;
    }
    size_t gbytes = (size_t)(n_in / k->block) * k->group_bytes;
    int block = (int)(128 * 1024 / gbytes);
    if (block < 1) block = 1;
    int t4 = n_tok / 4 * 4;
    /* pairs of groups (repack.h) start at even groups: chunks and blocks
     * hold whole pairs, so only an odd last group runs alone */
    bool x16 = k->gemv2 != NULL;
    if (x16) block = block < 2 ? 2 : block & ~1;
    float v[64];
    for (int b0 = g0; b0 < g1; b0 += block) {
        int b1 = b0 + block < g1 ? b0 + block : g1;
        for (int t = 0; t < n_tok;) {
            int four = t < t4, nt = four ? 4 : 1;
            const char *x = xq + (size_t)t * xq_row;
            for (int g = b0; g < b1;) {
                const char *pw = (const char *)packed + (size_t)g * gbytes;
                if (x16 && g + 1 < b1) { /* a pair (g even): sixteen rows */
                    if (four) k->gemm4x2(n_in, pw, x, xq_row, v);
                    else k->gemv2(n_in, pw, x, v);
                    store_pair(out + (size_t)t * no, no, g, v, nt, bias);
                    g += 2;
                    continue;
                }
                const float *b = bias ? bias + (size_t)g * Q4X8 : zeros;
                float *o = out + (size_t)t * no + (size_t)g * Q4X8;
                if (four) k->gemm4(n_in, pw, x, xq_row, v);
                else k->gemv(n_in, pw, x, v);
                for (int c = 0; c < nt; c++) store8(o + (size_t)c * no, v + 8 * c, b);
                g++;
            }
            t += nt;
        }
    }
}

static void matmul_packed_chunk(void *ctx, int chunk, int ith) {
    (void)ith;
    const matmul_job *j = ctx;
    const weight *w = j->w;
    int ng = w->n_out / Q4X8, gpc = j->rows_per_chunk / Q4X8;
    int g0 = chunk * gpc, g1 = g0 + gpc < ng ? g0 + gpc : ng;
    packed_matmul(j->pk, j->packed, w->n_in, w->n_out, w->panels, g0, g1, j->xq, j->xq_row, j->n_tok, j->bias, j->out,
                  (size_t)w->n_out);
}

/* One matmul made ready to run: activations quantized into xq (which
 * must hold n_tok rows of the weight's activation format, act_format),
 * the job and its chunk count. */
typedef struct {
    matmul_job j;
    tok_pool_fn fn;
    int n_chunks;
} matmul_prep;

static int chunk_count(int nth, double work, int limit) {
    int n = 1;
    if (nth > 1 && work >= 2.0 * CHUNK_WORK) {
        double c = work / CHUNK_WORK;
        int cap = nth * MAX_CHUNKS_PER_THREAD;
        n = c > cap ? cap : (int)c;
        if (n > limit) n = limit;
        if (n < 1) n = 1;
    }
    return n;
}

/* Activation format of w: its packed kernels' quantizer or its dot type. */
static uintptr_t act_format(const tok_model *m, const weight *w) {
    if (model_packed(m, w)) return (uintptr_t)packed_kernels_of(w->type)->quantize;
    return (uintptr_t)w->q->dot_type;
}

/* Activation rows into s->xq: with the packed kernels' quantizer q, or
 * else as dot type dt. */
typedef struct {
    void (*q)(const float *x, void *y, int n);
    int dt, n_in;
    const float *x;
    char *xq;
    size_t xrow;
} quant_job;

static void quantize_token(const void *ctx, int t) {
    const quant_job *j = ctx;
    const float *x = j->x + (size_t)t * j->n_in;
    char *y = j->xq + (size_t)t * j->xrow;
    if (j->q) j->q(x, y, j->n_in);
    else quant_from_float(j->dt, x, y, j->n_in);
}

static void quantize_rows(tok_session *s, void (*q)(const float *, void *, int), int dt, const float *x, int n_in,
                          size_t xrow, int n_tok) {
    quant_job j = {q, dt, n_in, x, s->xq, xrow};
    for_tokens(s, 0, n_tok, quantize_token, &j);
}

static void matmul_prepare(tok_session *s, float *out, const weight *w, const float *x, int n_tok, const float *bias,
                           bool quantize, matmul_prep *p) {
    const void *packed = model_packed(s->m, w);
    int nth = tok_pool_size(s->pool);
    double work = (double)w->row_bytes * w->n_out * n_tok;
    if (packed) {
        const packed_kernels *k = packed_kernels_of(w->type);
        size_t xrow = (size_t)(w->n_in / k->block) * k->act_bytes;
        if (quantize) quantize_rows(s, k->quantize, 0, x, w->n_in, xrow, n_tok);
        int ng = w->n_out / Q4X8, n_chunks = chunk_count(nth, work, ng);
        int per = (ng + n_chunks - 1) / n_chunks;
        if (k->gemv2 && per % 2) per++; /* whole pairs for the sixteen-row kernels */
        if ((ng + per - 1) / per > 1) k = packed_kernels_threaded(k);
        p->j = (matmul_job){out, w, s->xq, xrow, n_tok, per * Q4X8, bias, NULL, k, packed};
        p->fn = matmul_packed_chunk;
        p->n_chunks = (ng + per - 1) / per;
        return;
    }
    int dt = w->q->dot_type;
    size_t xrow = quant_row_bytes(dt, w->n_in);
    const char *xq = s->xq;
    if (dt == TOK_TYPE_F32) xq = (const char *)x;
    else if (quantize) quantize_rows(s, NULL, dt, x, w->n_in, xrow, n_tok);
    /* The four-column kernels only pay when the same row meets >= 4 tokens. */
    quant_dot4_fn dot4 = n_tok >= 4 ? quant_dot4_avx2(w->type) : NULL;
    int n_chunks = chunk_count(nth, work, w->n_out / MIN_CHUNK_ROWS);
    int per = (w->n_out + n_chunks - 1) / n_chunks;
    p->j = (matmul_job){out, w, xq, xrow, n_tok, per, bias, dot4, NULL, NULL};
    p->fn = matmul_chunk;
    p->n_chunks = (w->n_out + per - 1) / per;
}

void matmul(tok_session *s, float *out, const weight *w, const float *x, int n_tok, const float *bias) {
    matmul_prep p;
    matmul_prepare(s, out, w, x, n_tok, bias, true, &p);
    tok_pool_run(s->pool, p.fn, &p.j, p.n_chunks);
}

/* Several matmuls of one input as one pool run: chunk c belongs to the
 * first job whose range holds it. */
typedef struct {
    int n;
    matmul_prep p[MATMUL_MAX_FUSED];
    int start[MATMUL_MAX_FUSED + 1];
} matmul_group;

static void matmul_group_chunk(void *ctx, int chunk, int ith) {
    matmul_group *g = ctx;
    int k = 0;
    while (chunk >= g->start[k + 1]) k++;
    g->p[k].fn(&g->p[k].j, chunk - g->start[k], ith);
}

void matmul_fused(tok_session *s, int n, float *const *outs, const weight *const *ws, const float *x, int n_tok,
                  const float *const *biases) {
    /* Consecutive weights reading the same activation format share one
     * quantization of x and one fork-join; a different format starts a new
     * group (xq holds one format at a time). */
    for (int i = 0; i < n;) {
        matmul_group g = {0};
        uintptr_t fmt = act_format(s->m, ws[i]);
        while (i < n && g.n < MATMUL_MAX_FUSED && (g.n == 0 || act_format(s->m, ws[i]) == fmt)) {
            matmul_prep *p = &g.p[g.n];
            matmul_prepare(s, outs[i], ws[i], x, n_tok, biases ? biases[i] : NULL, g.n == 0, p);
            g.start[g.n + 1] = g.start[g.n] + p->n_chunks;
            g.n++;
            i++;
        }
        if (g.n == 1) tok_pool_run(s->pool, g.p[0].fn, &g.p[0].j, g.p[0].n_chunks);
        else tok_pool_run(s->pool, matmul_group_chunk, &g, g.start[g.n]);
    }
}

/* SwiGLU: out = silu(x·W_gate) * (x·W_up), the two matmuls cut into the
 * same row ranges, so each chunk applies the activation to its own rows
 * while they are in cache instead of the caller doing all of them alone
 * afterwards. up is scratch of the same size as out. */
typedef struct {
    matmul_prep gate, up;
    float *out, *up_out;
    int n_out, n_tok, rows_per_chunk;
} swiglu_job;

/* SwiGLU of one value: silu(g) * u, the forward pass's exact float steps */
static inline float swiglu(float g, float u) { return g / (1.0f + expf(-g)) * u; }

static void swiglu_chunk(void *ctx, int chunk, int ith) {
    swiglu_job *j = ctx;
    j->gate.fn(&j->gate.j, chunk, ith);
    j->up.fn(&j->up.j, chunk, ith);
    int r0 = chunk * j->rows_per_chunk, r1 = r0 + j->rows_per_chunk < j->n_out ? r0 + j->rows_per_chunk : j->n_out;
    for (int t = 0; t < j->n_tok; t++) {
        float *g = j->out + (size_t)t * j->n_out, *u = j->up_out + (size_t)t * j->n_out;
        for (int r = r0; r < r1; r++) g[r] = swiglu(g[r], u[r]);
    }
}

void matmul_swiglu(tok_session *s, float *out, float *up, const weight *w_gate, const weight *w_up, const float *x,
                   int n_tok) {
    swiglu_job j = {.out = out, .up_out = up, .n_out = w_gate->n_out, .n_tok = n_tok};
    bool same = w_gate->n_out == w_up->n_out && w_gate->n_in == w_up->n_in && w_gate->type == w_up->type &&
                act_format(s->m, w_gate) == act_format(s->m, w_up);
    if (same) {
        matmul_prepare(s, out, w_gate, x, n_tok, NULL, true, &j.gate);
        matmul_prepare(s, up, w_up, x, n_tok, NULL, false, &j.up);
        same = j.gate.n_chunks == j.up.n_chunks && j.gate.j.rows_per_chunk == j.up.j.rows_per_chunk;
    }
    if (!same) { /* different types or shapes: two runs, the activation after */
        matmul_fused(s, 2, (float *const[]){out, up}, (const weight *const[]){w_gate, w_up}, x, n_tok, NULL);
        for (size_t i = 0; i < (size_t)n_tok * w_gate->n_out; i++) out[i] = swiglu(out[i], up[i]);
        return;
    }
    j.rows_per_chunk = j.gate.j.rows_per_chunk;
    tok_pool_run(s->pool, swiglu_chunk, &j, j.gate.n_chunks);
}

/* ---- attention ---- */

/* Token t's query heads [h0, h1) and key heads [kv0, kv1) rotated (RoPE at
 * position pos0 + t), and its key and value heads [kv0, kv1) stored in the
 * cache (F16: rounded to nearest even on store, as ggml's fp32 -> fp16). */
static void place_heads(tok_session *s, int layer, int pos0, int t, int h0, int h1, int kv0, int kv1) {
    const model_config *c = &s->m->cfg;
    int hd = c->head_dim, kv_dim = c->n_kv_heads * hd, type = s->kv_f16 ? TOK_TYPE_F16 : TOK_TYPE_F32;
    const float *cs = s->rope_cs + (size_t)t * c->n_rot;
    float *q = s->q + (size_t)t * c->n_heads * hd, *k = s->k + (size_t)t * kv_dim, *v = s->v + (size_t)t * kv_dim;
    rope_rotate(c, cs, q + (size_t)h0 * hd, h1 - h0);
    rope_rotate(c, cs, k + (size_t)kv0 * hd, kv1 - kv0);
    size_t row = quant_row_bytes(type, kv_dim);
    size_t at = ((size_t)layer * s->n_ctx + (size_t)(pos0 + t)) * row + quant_row_bytes(type, (int64_t)kv0 * hd);
    int n = (kv1 - kv0) * hd;
    quant_from_float(type, k + (size_t)kv0 * hd, (char *)s->key_cache + at, n);
    quant_from_float(type, v + (size_t)kv0 * hd, (char *)s->value_cache + at, n);
}

typedef struct {
    tok_session *s;
    int layer, pos0, n_tok, tasks_per_chunk;
    bool place; /* one token: each chunk places its own heads first */
} attn_job;

static void place_token(const void *ctx, int t) {
    const attn_job *j = ctx;
    const model_config *c = &j->s->m->cfg;
    place_heads(j->s, j->layer, j->pos0, t, 0, c->n_heads, 0, c->n_kv_heads);
}

/* Chunk = a contiguous range of tasks; ith picks this thread's rows of
 * score scratch. One token (place): a task is a head, chunks hold whole
 * groups of query heads sharing a key head, and each chunk rotates and
 * caches them before it attends, in the same pool run (generation: one
 * fork-join less per layer, and the work no longer waits on the caller
 * alone); the heads of a group are attended ATT_ROWS at a time
 * (attend_group: each K/V row read once for them). A batch: a task is a
 * head and ATT_ROWS consecutive tokens, attended together (attend_heads). */
static void attention_chunk(void *ctx, int chunk, int ith) {
    const attn_job *j = ctx;
    tok_session *s = j->s;
    const model_config *c = &s->m->cfg;
    int hd = c->head_dim, kv_dim = c->n_kv_heads * hd, qd = c->n_heads * hd, group = c->n_heads / c->n_kv_heads;
    size_t layer = (size_t)j->layer * s->n_ctx * kv_dim; /* values before this layer's rows */
    size_t att_stride = (size_t)s->n_ctx + ATT_ROWS;
    float *att = s->att + (size_t)ith * ATT_ROWS * att_stride;
    float scale = 1.0f / sqrtf((float)hd);
    int quads = (j->n_tok + ATT_ROWS - 1) / ATT_ROWS, n_tasks = quads * c->n_heads; /* one token: quads = 1 */
    int t0 = chunk * j->tasks_per_chunk, t1 = t0 + j->tasks_per_chunk < n_tasks ? t0 + j->tasks_per_chunk : n_tasks;
    if (j->place) place_heads(s, j->layer, j->pos0, 0, t0, t1, t0 / group, t1 / group);
    for (int task = t0; task < t1;) {
        /* one token: up to ATT_ROWS heads of one KV head, each query over the
         * same positions; a batch: one head, its ATT_ROWS tokens' queries */
        int h, tok, nq;
        if (j->place) {
            int end = (task / group + 1) * group < t1 ? (task / group + 1) * group : t1;
            h = task, tok = 0, nq = end - task < ATT_ROWS ? end - task : ATT_ROWS;
            task += nq;
        } else {
            h = task / quads, tok = task % quads * ATT_ROWS, nq = j->n_tok - tok < ATT_ROWS ? j->n_tok - tok : ATT_ROWS;
            task++;
        }
        const float *q[ATT_ROWS];
        float *o[ATT_ROWS];
        for (int i = 0; i < nq; i++) {
            size_t off = j->place ? (size_t)(h + i) * hd : (size_t)(tok + i) * qd + (size_t)h * hd;
            q[i] = s->q + off;
            o[i] = s->att_out + off;
        }
        size_t at = layer + (size_t)(h / group) * hd;
        int n = j->pos0 + tok + 1;
        if (s->kv_f16) {
            const uint16_t *k = (const uint16_t *)s->key_cache + at, *v = (const uint16_t *)s->value_cache + at;
            if (j->place) attend_group_f16(q, k, v, (size_t)kv_dim, n, nq, hd, scale, att, att_stride, o);
            else attend_heads_f16(q, k, v, (size_t)kv_dim, n, nq, hd, scale, att, att_stride, o);
        } else {
            const float *k = (const float *)s->key_cache + at, *v = (const float *)s->value_cache + at;
            if (j->place) attend_group(q, k, v, (size_t)kv_dim, n, nq, hd, scale, att, att_stride, o);
            else attend_heads(q, k, v, (size_t)kv_dim, n, nq, hd, scale, att, att_stride, o);
        }
    }
}

void attention(tok_session *s, int layer, int pos0, int n_tok) {
    const model_config *c = &s->m->cfg;
    int nth = tok_pool_size(s->pool), group = c->n_heads / c->n_kv_heads;
    attn_job j = {s, layer, pos0, n_tok, 0, n_tok == 1};
    if (!j.place) for_tokens(s, 0, n_tok, place_token, &j);
    int n_tasks = (n_tok + ATT_ROWS - 1) / ATT_ROWS * c->n_heads;
    /* bytes of K and V read, as for matmul */
    double work = (double)n_tok * c->n_heads * (pos0 + n_tok) * c->head_dim * 2 *
                  (s->kv_f16 ? sizeof(uint16_t) : sizeof(float));
    int n_chunks = chunk_count(nth, work, j.place ? c->n_kv_heads : n_tasks);
    int per = (n_tasks + n_chunks - 1) / n_chunks;
    if (j.place) per = (per + group - 1) / group * group;
    j.tasks_per_chunk = per;
    tok_pool_run(s->pool, attention_chunk, &j, (n_tasks + per - 1) / per);
}
