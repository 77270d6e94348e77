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
 * mul_mat does. Cost: matmul O(n_tok · n_in · n_out), attention
 * O(n_tok · n_past · dim); no allocation (scratch lives in the session).
 */
#include <math.h>

#include "model.h"

void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)(x[i] * x[i]);
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* Rotates the first n_rot dims of each of n_heads heads of vec (head_dim
 * apart) by the angles of position pos. */
void rope_rotate(const model_config *c, const float *freqs, float *vec, int n_heads, int pos) {
    float theta_scale = powf(c->rope_base, -2.0f / (float)c->n_rot);
    float cosv[512], sinv[512]; /* n_rot/2 <= 512: checked at load */
    float theta = (float)pos;
    for (int i = 0; i < c->n_rot / 2; i++) {
        float t = c->rope_freq_scale * (freqs ? theta / freqs[i] : theta);
        cosv[i] = cosf(t);
        sinv[i] = sinf(t);
        theta *= theta_scale;
    }
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * c->head_dim;
        for (int i = 0; i < c->n_rot / 2; i++) {
            int a = c->rope_neox ? i : 2 * i, b = c->rope_neox ? i + c->n_rot / 2 : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cosv[i] - x1 * sinv[i];
            v[b] = x0 * sinv[i] + x1 * cosv[i];
        }
    }
}

/* ---- matmul ---- */

typedef struct {
    float *out;
    const weight *w;
    const char *xq;
    size_t xq_row;
    int n_tok;
    const float *bias;
} matmul_job;

/* Rows are split into contiguous ranges, one per thread; within a range each
 * weight row is read once and dotted with every token's row (which stay in
 * cache), so a batch reads the weights once. */
static void matmul_worker(void *ctx, int ith, int nth) {
    const matmul_job *j = ctx;
    const weight *w = j->w;
    int per = (w->n_out + nth - 1) / nth;
    int r0 = ith * per, r1 = r0 + per < w->n_out ? r0 + per : w->n_out;
    quant_dot_fn dot = w->q->dot;
    for (int r = r0; r < r1; r++) {
        const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
        float b = j->bias ? j->bias[r] : 0.0f;
        for (int t = 0; t < j->n_tok; t++) {
            float v;
            dot(w->n_in, row, j->xq + (size_t)t * j->xq_row, &v);
            j->out[(size_t)t * w->n_out + r] = v + b;
        }
    }
}

void matmul(tok_session *s, float *out, const weight *w, const float *x, int n_tok, const float *bias) {
    int dt = w->q->dot_type;
    size_t xrow = quant_row_bytes(dt, w->n_in);
    const char *xq;
    if (dt == TOK_TYPE_F32) {
        xq = (const char *)x;
    } else {
        for (int t = 0; t < n_tok; t++)
            quant_from_float(dt, x + (size_t)t * w->n_in, (char *)s->xq + (size_t)t * xrow, w->n_in);
        xq = s->xq;
    }
    matmul_job j = {out, w, xq, xrow, n_tok, bias};
    tok_pool_run(s->pool, matmul_worker, &j);
}

/* ---- attention ---- */

typedef struct {
    tok_session *s;
    int layer, pos0, n_tok;
} attn_job;

static void attention_worker(void *ctx, int ith, int nth) {
    const attn_job *j = ctx;
    tok_session *s = j->s;
    const model_config *c = &s->m->cfg;
    int hd = c->head_dim, kv_dim = c->n_kv_heads * hd, group = c->n_heads / c->n_kv_heads;
    const float *kc = s->key_cache + (size_t)j->layer * s->n_ctx * kv_dim;
    const float *vc = s->value_cache + (size_t)j->layer * s->n_ctx * kv_dim;
    float *att = s->att + (size_t)ith * s->n_ctx;
    float scale = 1.0f / sqrtf((float)hd);
    for (int task = ith; task < j->n_tok * c->n_heads; task += nth) {
        int t = task / c->n_heads, h = task % c->n_heads, pos = j->pos0 + t;
        const float *q = s->q + (size_t)t * c->n_heads * hd + (size_t)h * hd;
        int kvh = h / group;
        float max = -INFINITY;
        for (int p = 0; p <= pos; p++) {
            const float *k = kc + (size_t)p * kv_dim + (size_t)kvh * hd;
            float d = 0;
            for (int i = 0; i < hd; i++) d += q[i] * k[i];
            att[p] = d * scale;
            if (att[p] > max) max = att[p];
        }
        double sum = 0;
        for (int p = 0; p <= pos; p++) {
            att[p] = expf(att[p] - max);
            sum += att[p];
        }
        float inv = (float)(1.0 / sum);
        float *o = s->att_out + (size_t)t * c->n_heads * hd + (size_t)h * hd;
        for (int i = 0; i < hd; i++) o[i] = 0;
        for (int p = 0; p <= pos; p++) {
            float a = att[p] * inv;
            const float *v = vc + (size_t)p * kv_dim + (size_t)kvh * hd;
            for (int i = 0; i < hd; i++) o[i] += a * v[i];
        }
    }
}

void attention(tok_session *s, int layer, int pos0, int n_tok) {
    attn_job j = {s, layer, pos0, n_tok};
    tok_pool_run(s->pool, attention_worker, &j);
}
