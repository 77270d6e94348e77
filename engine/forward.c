/*
 * Sessions and the forward pass. A session owns the KV cache (F32, or F16
 * with kv_f16; one row per position per layer) and the scratch buffers of
 * one batch; the model is only read, so sessions on one model run
 * independently.
 *
 * A call evaluates its tokens in batches of n_batch: every weight matrix is
 * then read once per batch (matrix × matrix) rather than once per token,
 * which is what makes prompt processing faster than generation. Only the
 * rows whose logits are wanted go through the output matrix. Memory:
 * 2 · n_layers · n_ctx · kv_dim values of cache (4 bytes, or 2 with kv_f16)
 * plus O(n_batch · (dim + ffn + vocab)) scratch.
 */
#include <math.h>
#include <stdlib.h>

#include "model.h"

tok_session_params tok_session_default_params(void) {
    tok_session_params p = {0, 1, 64, false};
    return p;
}

void tok_session_free(tok_session *s) {
    if (!s) return;
    tok_pool_free(s->pool);
    free(s->key_cache); free(s->value_cache);
    free(s->x); free(s->xb); free(s->q); free(s->k); free(s->v); free(s->att_out); free(s->att);
    free(s->hb); free(s->hb2); free(s->logits); free(s->xq); free(s->rope_cs);
    free(s);
}

static void *alloc_floats(size_t n, bool *ok) {
    void *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = false;
    return p;
}

tok_session *tok_session_new(const tok_model *m, const tok_session_params *p, tok_error *err) {
    tok_session_params d = tok_session_default_params();
    if (!p) p = &d;
    const model_config *c = &m->cfg;
    tok_session *s = calloc(1, sizeof *s);
    if (!s) { eng_fail(err, TOK_ENOMEM, "out of memory"); return NULL; }
    s->m = m;
    s->n_ctx = p->n_ctx > 0 ? p->n_ctx : c->ctx_train;
    s->n_batch = p->n_batch > 0 ? p->n_batch : 64;
    if (s->n_ctx > (1 << 24) || s->n_batch > 4096) {
        eng_fail(err, TOK_EINVAL, "session: n_ctx %d or n_batch %d is too large", s->n_ctx, s->n_batch);
        free(s);
        return NULL;
    }
    int nt = p->n_threads > 0 ? p->n_threads : 1;
    size_t B = (size_t)s->n_batch, kv_dim = (size_t)c->n_kv_heads * c->head_dim, qd = (size_t)c->n_heads * c->head_dim;
    bool ok = true;
    size_t cache = (size_t)c->n_layers * s->n_ctx * kv_dim;
    s->kv_f16 = p->kv_f16;
    if (s->kv_f16) cache = (cache + 1) / 2; /* floats' worth of fp16 pairs */
    s->key_cache = alloc_floats(cache, &ok);
    s->value_cache = alloc_floats(cache, &ok);
    s->x = alloc_floats(B * c->dim, &ok);
    s->xb = alloc_floats(B * c->dim, &ok);
    s->q = alloc_floats(B * qd, &ok);
    s->k = alloc_floats(B * kv_dim, &ok);
    s->v = alloc_floats(B * kv_dim, &ok);
    s->att_out = alloc_floats(B * qd, &ok);
    s->att = alloc_floats((size_t)nt * ATT_ROWS * ((size_t)s->n_ctx + ATT_ROWS), &ok);
    s->hb = alloc_floats(B * c->ffn_dim, &ok);
    s->hb2 = alloc_floats(B * c->ffn_dim, &ok);
    s->logits = alloc_floats(B * c->vocab, &ok);
    s->rope_cs = alloc_floats(B * (size_t)c->n_rot, &ok);
    /* widest activation row: F32 of max(dim, ffn, qd) values bounds every dot type */
    size_t widest = (size_t)(c->dim > c->ffn_dim ? c->dim : c->ffn_dim);
    if (qd > widest) widest = qd;
    s->xq_row_cap = widest * sizeof(float);
    s->xq = malloc(B * s->xq_row_cap);
    if (!s->xq) ok = false;
    if (ok) s->pool = tok_pool_new(nt);
    if (!ok || !s->pool) {
        eng_fail(err, TOK_ENOMEM, "session: out of memory for a %d-position KV cache", s->n_ctx);
        tok_session_free(s);
        return NULL;
    }
    return s;
}

int tok_session_n_past(const tok_session *s) { return s->n_past; }
int tok_session_n_ctx(const tok_session *s) { return s->n_ctx; }
void tok_session_rewind(tok_session *s, int n_past) {
    if (n_past >= 0 && n_past < s->n_past) s->n_past = n_past;
}

/* One batch of n tokens at positions n_past..; logits for rows [first, n).
 * Each block's residual add is done with the next block's norm
 * (norm_rows), per token, and a token's RoPE and cache store by attention. */
static void forward_batch(tok_session *s, const int32_t *ids, int n, int first_logit) {
    const tok_model *m = s->m;
    const model_config *c = &m->cfg;
    int dim = c->dim, pos0 = s->n_past;
    for (int t = 0; t < n; t++) {
        rope_angles(c, m->rope_freqs, pos0 + t, s->rope_cs + (size_t)t * c->n_rot);
        m->tok_embd.q->to_float((const char *)m->tok_embd.data + (size_t)ids[t] * m->tok_embd.row_bytes,
                                s->x + (size_t)t * dim, dim);
    }
    for (int l = 0; l < c->n_layers; l++) {
        const layer_weights *L = &m->layers[l];
        /* attention block (after layer 0, x += the previous block's output first) */
        norm_rows(s, L->attn_norm, 0, n, l > 0);
        matmul_fused(s, 3, (float *const[]){s->q, s->k, s->v}, (const weight *const[]){&L->wq, &L->wk, &L->wv}, s->xb,
                     n, (const float *const[]){L->bq, L->bk, L->bv});
        attention(s, l, pos0, n);
        matmul(s, s->xb, &L->wo, s->att_out, n, L->bo);
        /* SwiGLU feed-forward block */
        norm_rows(s, L->ffn_norm, 0, n, true);
        matmul_swiglu(s, s->hb, s->hb2, &L->w_gate, &L->w_up, s->xb, n);
        matmul(s, s->xb, &L->w_down, s->hb, n, NULL);
    }
    if (first_logit >= n) return;
    norm_rows(s, m->output_norm, first_logit, n, true);
    matmul(s, s->logits, &m->output, s->xb + (size_t)first_logit * dim, n - first_logit, NULL);
}

int tok_session_eval(tok_session *s, const int32_t *ids, int n, float *logits, bool all_logits, tok_error *err) {
    const model_config *c = &s->m->cfg;
    if (n < 0) return eng_fail(err, TOK_EINVAL, "eval: negative token count");
    if (n > s->n_ctx - s->n_past)
        return eng_fail(err, TOK_ERANGE, "eval: %d tokens do not fit the context (%d of %d positions used)", n,
                        s->n_past, s->n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return eng_fail(err, TOK_ERANGE, "eval: token %d (id %d) is outside the vocabulary of %d", i, ids[i],
                            c->vocab);
    for (int done = 0; done < n;) {
        int nb = n - done < s->n_batch ? n - done : s->n_batch;
        bool last = done + nb == n;
        int first = !logits ? nb : all_logits ? 0 : last ? nb - 1 : nb;
        forward_batch(s, ids + done, nb, first);
        if (logits && first < nb) {
            float *dst = all_logits ? logits + (size_t)done * c->vocab : logits;
            memcpy(dst, s->logits, (size_t)(nb - first) * c->vocab * sizeof(float));
        }
        s->n_past += nb;
        done += nb;
    }
    return 0;
}
