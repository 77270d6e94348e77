/*
 * Loading a model: the config from GGUF keys (ARCH.embedding_length, ...),
 * then every weight bound to its tensor in the mmap with its shape and type
 * checked. Architectures: `llama` (adjacent-pair RoPE, optional biases,
 * output tied to token_embd when output.weight is absent, optional
 * rope_freqs.weight for Llama 3.1 scaling and linear rope scaling) and
 * `qwen2` (NEOX RoPE, Q/K/V biases required). Cost: O(n_tensors) lookups and
 * a float copy of the 1-D tensors; the weights themselves are not read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

tok_model_params tok_model_default_params(void) {
    tok_model_params p = {true};
    return p;
}

static bool get_u(const tok_gguf *g, const char *arch, const char *suffix, int64_t *out, bool required,
                  tok_error *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    if (!tok_gguf_get_int(g, key, &v)) {
        if (required)
            eng_fail(err, TOK_EFORMAT, "%s: missing or non-integer key '%s'", tok_gguf_path(g), key);
        return false;
    }
    if (v <= 0 || v > (1 << 30)) {
        eng_fail(err, TOK_EFORMAT, "%s: key '%s' = %lld is out of range", tok_gguf_path(g), key, (long long)v);
        return false;
    }
    *out = v;
    return true;
}

static bool read_config(tok_model *m, tok_error *err) {
    const tok_gguf *g = m->gguf;
    const char *path = tok_gguf_path(g);
    model_config *c = &m->cfg;
    const char *arch = tok_gguf_get_string(g, "general.architecture");
    if (!arch) return eng_fail(err, TOK_EFORMAT, "%s: missing key 'general.architecture'", path), false;
    if (!strcmp(arch, "llama")) c->arch = ARCH_LLAMA;
    else if (!strcmp(arch, "qwen2")) c->arch = ARCH_QWEN2;
    else return eng_fail(err, TOK_EUNSUPPORTED, "%s: architecture '%s' is not supported (llama, qwen2 are)", path, arch), false;
    int64_t dim, nl, nh, nkv, ffn, ctx = 0, v;
    if (!get_u(g, arch, "embedding_length", &dim, true, err) || !get_u(g, arch, "block_count", &nl, true, err) ||
        !get_u(g, arch, "attention.head_count", &nh, true, err) ||
        !get_u(g, arch, "feed_forward_length", &ffn, true, err))
        return false;
    if (!get_u(g, arch, "attention.head_count_kv", &nkv, false, err)) nkv = nh;
    if (err && err->code) return false;
    get_u(g, arch, "context_length", &ctx, false, err);
    if (err && err->code) return false;
    c->dim = (int)dim; c->n_layers = (int)nl; c->n_heads = (int)nh; c->n_kv_heads = (int)nkv;
    c->ffn_dim = (int)ffn; c->ctx_train = ctx ? (int)ctx : 2048;
    c->head_dim = (int)(dim / nh);
    if (get_u(g, arch, "attention.key_length", &v, false, err)) c->head_dim = (int)v;
    if (err && err->code) return false;
    int64_t vl;
    if (get_u(g, arch, "attention.value_length", &vl, false, err) && vl != c->head_dim)
        return eng_fail(err, TOK_EUNSUPPORTED, "%s: key_length %d != value_length %lld is not supported",
                        path, c->head_dim, (long long)vl), false;
    if (err && err->code) return false;
    if (nh % nkv)
        return eng_fail(err, TOK_EFORMAT, "%s: head_count %lld is not a multiple of head_count_kv %lld", path,
                        (long long)nh, (long long)nkv), false;
    c->n_rot = c->head_dim;
    if (get_u(g, arch, "rope.dimension_count", &v, false, err)) c->n_rot = (int)v;
    if (err && err->code) return false;
    if (c->n_rot > c->head_dim || c->n_rot % 2 || c->n_rot > 1024)
        return eng_fail(err, TOK_EFORMAT, "%s: rope.dimension_count %d does not fit head size %d", path, c->n_rot,
                        c->head_dim), false;
    char key[160];
    double f;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (!tok_gguf_get_float(g, key, &f)) return eng_fail(err, TOK_EFORMAT, "%s: missing key '%s'", path, key), false;
    c->eps = (float)f;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    c->rope_base = tok_gguf_get_float(g, key, &f) ? (float)f : 10000.0f;
    c->rope_freq_scale = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *st = tok_gguf_get_string(g, key);
    if (st && strcmp(st, "none")) {
        if (strcmp(st, "linear"))
            return eng_fail(err, TOK_EUNSUPPORTED, "%s: rope scaling type '%s' is not supported (linear is)", path, st), false;
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
        if (tok_gguf_get_float(g, key, &f) && f > 0) c->rope_freq_scale = (float)(1.0 / f);
    }
    c->rope_neox = c->arch == ARCH_QWEN2;
    return true;
}

/* Binds a 2-D weight of shape ne = [n_in, n_out]. */
static bool bind_weight(tok_model *m, weight *w, const char *name, int64_t n_in, int64_t n_out, bool required,
                        tok_error *err) {
    const tok_gguf_tensor *t = tok_gguf_find_tensor(m->gguf, name);
    const char *path = tok_gguf_path(m->gguf);
    if (!t) {
        if (required) eng_fail(err, TOK_EFORMAT, "%s: missing tensor '%s'", path, name);
        return false;
    }
    if (t->ne[0] != n_in || (n_out >= 0 && t->ne[1] != n_out) || t->ne[2] != 1 || t->ne[3] != 1)
        return eng_fail(err, TOK_EFORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", path, name,
                        (long long)t->ne[0], (long long)t->ne[1], (long long)n_in, (long long)n_out), false;
    const quant_traits *q = quant_traits_of(t->type);
    if (!q)
        return eng_fail(err, TOK_EUNSUPPORTED, "%s: tensor '%s' has type %s, which the engine does not support",
                        path, name, tok_tensor_type_name(t->type)), false;
    if (t->ne[1] > (1 << 30))
        return eng_fail(err, TOK_EFORMAT, "%s: tensor '%s' has too many rows", path, name), false;
    w->data = t->data;
    w->type = t->type;
    w->n_in = (int)n_in;
    w->n_out = (int)t->ne[1];
    w->row_bytes = quant_row_bytes(t->type, n_in);
    w->q = q;
    m->info.weight_bytes += t->nbytes;
    return true;
}

/* Copies a 1-D tensor of n values to a new float array. */
static bool load_vector(tok_model *m, float **out, const char *name, int64_t n, bool required, tok_error *err) {
    const tok_gguf_tensor *t = tok_gguf_find_tensor(m->gguf, name);
    const char *path = tok_gguf_path(m->gguf);
    *out = NULL;
    if (!t) {
        if (required) eng_fail(err, TOK_EFORMAT, "%s: missing tensor '%s'", path, name);
        return false;
    }
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return eng_fail(err, TOK_EFORMAT, "%s: tensor '%s' has %lld values, expected %lld", path, name,
                        (long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]), (long long)n), false;
    const quant_traits *q = quant_traits_of(t->type);
    if (!q)
        return eng_fail(err, TOK_EUNSUPPORTED, "%s: tensor '%s' has type %s, which the engine does not support",
                        path, name, tok_tensor_type_name(t->type)), false;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return eng_fail(err, TOK_ENOMEM, "%s: out of memory", path), false;
    q->to_float(t->data, *out, n);
    m->info.weight_bytes += t->nbytes;
    return true;
}

static bool bind_all(tok_model *m, tok_error *err) {
    model_config *c = &m->cfg;
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    if (!bind_weight(m, &m->tok_embd, "token_embd.weight", c->dim, -1, true, err)) return false;
    c->vocab = m->tok_embd.n_out;
    if (!load_vector(m, &m->output_norm, "output_norm.weight", c->dim, true, err)) return false;
    if (!bind_weight(m, &m->output, "output.weight", c->dim, c->vocab, false, err)) {
        if (err && err->code) return false;
        m->output = m->tok_embd;
        m->info.tied_output = true;
    }
    if (!load_vector(m, &m->rope_freqs, "rope_freqs.weight", c->n_rot / 2, false, err) && err && err->code)
        return false;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return eng_fail(err, TOK_ENOMEM, "out of memory"), false;
    bool need_bias = c->arch == ARCH_QWEN2;
    for (int l = 0; l < c->n_layers; l++) {
        layer_weights *L = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        if (!load_vector(m, &L->attn_norm, NAME("attn_norm.weight"), c->dim, true, err) ||
            !load_vector(m, &L->ffn_norm, NAME("ffn_norm.weight"), c->dim, true, err) ||
            !bind_weight(m, &L->wq, NAME("attn_q.weight"), c->dim, qd, true, err) ||
            !bind_weight(m, &L->wk, NAME("attn_k.weight"), c->dim, kvd, true, err) ||
            !bind_weight(m, &L->wv, NAME("attn_v.weight"), c->dim, kvd, true, err) ||
            !bind_weight(m, &L->wo, NAME("attn_output.weight"), qd, c->dim, true, err) ||
            !bind_weight(m, &L->w_gate, NAME("ffn_gate.weight"), c->dim, c->ffn_dim, true, err) ||
            !bind_weight(m, &L->w_up, NAME("ffn_up.weight"), c->dim, c->ffn_dim, true, err) ||
            !bind_weight(m, &L->w_down, NAME("ffn_down.weight"), c->ffn_dim, c->dim, true, err))
            return false;
        /* optional tensors: absent is fine, malformed is an error */
        if (!load_vector(m, &L->bq, NAME("attn_q.bias"), qd, need_bias, err) && err->code) return false;
        if (!load_vector(m, &L->bk, NAME("attn_k.bias"), kvd, need_bias, err) && err->code) return false;
        if (!load_vector(m, &L->bv, NAME("attn_v.bias"), kvd, need_bias, err) && err->code) return false;
        if (!load_vector(m, &L->bo, NAME("attn_output.bias"), c->dim, false, err) && err->code) return false;
#undef NAME
    }
    return true;
}

void tok_model_free(tok_model *m) {
    if (!m) return;
    if (m->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            layer_weights *L = &m->layers[l];
            free(L->attn_norm); free(L->ffn_norm);
            free(L->bq); free(L->bk); free(L->bv); free(L->bo);
        }
    free(m->layers);
    free(m->output_norm);
    free(m->rope_freqs);
    model_repack_free(m);
    tok_gguf_close(m->gguf);
    free(m);
}

tok_model *tok_model_load(const char *path, const tok_model_params *p, tok_error *err) {
    (void)p;
    tok_error local = {0};
    if (!err) err = &local;
    err->code = 0;
    tok_model *m = calloc(1, sizeof *m);
    if (!m) { eng_fail(err, TOK_ENOMEM, "out of memory"); return NULL; }
    m->gguf = tok_gguf_open(path, err);
    if (!m->gguf || !read_config(m, err) || !bind_all(m, err) || model_repack(m, err)) {
        if (!err->code) eng_fail(err, TOK_EFORMAT, "%s: cannot load the model", path);
        tok_model_free(m);
        return NULL;
    }
    model_config *c = &m->cfg;
    tok_model_info *i = &m->info;
    i->arch = c->arch == ARCH_QWEN2 ? "qwen2" : "llama";
    i->dim = c->dim; i->n_layers = c->n_layers; i->n_heads = c->n_heads; i->n_kv_heads = c->n_kv_heads;
    i->head_dim = c->head_dim; i->ffn_dim = c->ffn_dim; i->vocab_size = c->vocab; i->ctx_train = c->ctx_train;
    i->rope_base = c->rope_base; i->norm_eps = c->eps;
    return m;
}

const tok_model_info *tok_model_get_info(const tok_model *m) { return &m->info; }
const tok_gguf *tok_model_gguf(const tok_model *m) { return m->gguf; }
