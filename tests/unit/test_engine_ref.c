/*
 * A plain-C forward pass written from the math in the fixtures' README
 * (llama2.c style: one token at a time, dequantized weights, double
 * accumulators), independent of the engine's kernels, batching and threads.
 * The engine's logprobs at every position must match it: within 1e-4 for
 * F32 fixtures, within the quantized tolerance for Q4_0 (the engine, like
 * llama.cpp, quantizes activations; this reference does not).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_engine.h"

static float half(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e ? ldexpf((float)(m | 1024), e - 25) : ldexpf((float)m, -24);
    return h & 0x8000 ? -v : v;
}

/* Tensor as floats (F32 or Q4_0: d * (nibble - 8), low nibbles first). */
static float *tensor(const tok_gguf *g, const char *name, int64_t *n_out) {
    const tok_gguf_tensor *t = tok_gguf_find_tensor(g, name);
    if (!t) return NULL;
    int64_t n = t->ne[0] * t->ne[1];
    float *f = malloc((size_t)n * sizeof *f);
    if (t->type == TOK_TYPE_F32) {
        memcpy(f, t->data, (size_t)n * 4);
    } else if (t->type == TOK_TYPE_Q4_0) {
        const unsigned char *p = t->data;
        for (int64_t b = 0; b < n / 32; b++, p += 18) {
            float d = half((uint16_t)(p[0] | p[1] << 8));
            for (int j = 0; j < 16; j++) {
                f[b * 32 + j] = d * ((p[2 + j] & 15) - 8);
                f[b * 32 + j + 16] = d * ((p[2 + j] >> 4) - 8);
            }
        }
    } else {
        free(f);
        return NULL;
    }
    if (n_out) *n_out = t->ne[1];
    return f;
}

static void matvec(double *out, const float *w, const double *x, int n_in, int n_out, const float *bias) {
    for (int r = 0; r < n_out; r++) {
        double s = bias ? bias[r] : 0;
        for (int i = 0; i < n_in; i++) s += (double)w[(size_t)r * n_in + i] * x[i];
        out[r] = s;
    }
}
static void rms(double *out, const double *x, const float *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * sc * w[i];
}

static void check_model(const char *path, double tol) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fclose(f);
    tok_error err = {0};
    tok_model *m = tok_model_load(path, NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) return;
    const tok_model_info *in = tok_model_get_info(m);
    const tok_gguf *g = tok_model_gguf(m);
    bool neox = !strcmp(in->arch, "qwen2");
    int D = in->dim, H = in->n_heads, KH = in->n_kv_heads, hd = in->head_dim, F = in->ffn_dim, V = in->vocab_size;
    enum { T = 12 };
    int32_t ids[T] = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203};
    for (int i = 0; i < T; i++) ids[i] %= V;
    /* engine: all logits in one call */
    float *elog = malloc((size_t)T * V * sizeof(float));
    tok_session_params sp = tok_session_default_params();
    sp.n_ctx = 64; sp.n_threads = 2;
    tok_session *s = tok_session_new(m, &sp, &err);
    CHECK(s && tok_session_eval(s, ids, T, elog, true, &err) == 0);
    /* reference */
    double *x = calloc(D, 8), *xb = calloc(D, 8), *q = calloc(H * hd, 8), *k = calloc(KH * hd, 8),
           *v = calloc(KH * hd, 8), *ao = calloc(H * hd, 8), *h1 = calloc(F, 8), *h2 = calloc(F, 8),
           *logits = calloc(V, 8), *att = calloc(T, 8);
    double *kc = calloc((size_t)in->n_layers * T * KH * hd, 8), *vc = calloc((size_t)in->n_layers * T * KH * hd, 8);
    float *emb = tensor(g, "token_embd.weight", NULL), *onorm = tensor(g, "output_norm.weight", NULL);
    float *out = tensor(g, "output.weight", NULL);
    if (!out) out = emb;
    double worst = 0;
    for (int pos = 0; pos < T; pos++) {
        for (int i = 0; i < D; i++) x[i] = emb[(size_t)ids[pos] * D + i];
        for (int l = 0; l < in->n_layers; l++) {
            char n[64];
#define W(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), tensor(g, n, NULL))
            float *an = W("attn_norm.weight"), *wq = W("attn_q.weight"), *wk = W("attn_k.weight"),
                  *wv = W("attn_v.weight"), *wo = W("attn_output.weight"), *fn = W("ffn_norm.weight"),
                  *wg = W("ffn_gate.weight"), *wu = W("ffn_up.weight"), *wd = W("ffn_down.weight"),
                  *bq = W("attn_q.bias"), *bk = W("attn_k.bias"), *bv = W("attn_v.bias");
#undef W
            rms(xb, x, an, D, in->norm_eps);
            matvec(q, wq, xb, D, H * hd, bq);
            matvec(k, wk, xb, D, KH * hd, bk);
            matvec(v, wv, xb, D, KH * hd, bv);
            for (int hh = 0; hh < H + KH; hh++) {
                double *vec = hh < H ? q + hh * hd : k + (hh - H) * hd;
                for (int j = 0; j < hd / 2; j++) {
                    double th = pos * pow(in->rope_base, -2.0 * j / hd);
                    int a = neox ? j : 2 * j, b = neox ? j + hd / 2 : 2 * j + 1;
                    double x0 = vec[a], x1 = vec[b];
                    vec[a] = x0 * cos(th) - x1 * sin(th);
                    vec[b] = x0 * sin(th) + x1 * cos(th);
                }
            }
            double *K = kc + (size_t)l * T * KH * hd, *Vv = vc + (size_t)l * T * KH * hd;
            memcpy(K + (size_t)pos * KH * hd, k, KH * hd * 8);
            memcpy(Vv + (size_t)pos * KH * hd, v, KH * hd * 8);
            for (int h = 0; h < H; h++) {
                int kh = h / (H / KH);
                double mx = -INFINITY, sum = 0;
                for (int p = 0; p <= pos; p++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += q[h * hd + i] * K[(size_t)p * KH * hd + kh * hd + i];
                    att[p] = d / sqrt(hd);
                    if (att[p] > mx) mx = att[p];
                }
                for (int p = 0; p <= pos; p++) sum += att[p] = exp(att[p] - mx);
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int p = 0; p <= pos; p++) o += att[p] / sum * Vv[(size_t)p * KH * hd + kh * hd + i];
                    ao[h * hd + i] = o;
                }
            }
            matvec(xb, wo, ao, H * hd, D, NULL);
            for (int i = 0; i < D; i++) x[i] += xb[i];
            rms(xb, x, fn, D, in->norm_eps);
            matvec(h1, wg, xb, D, F, NULL);
            matvec(h2, wu, xb, D, F, NULL);
            for (int i = 0; i < F; i++) h1[i] = h1[i] / (1 + exp(-h1[i])) * h2[i];
            matvec(xb, wd, h1, F, D, NULL);
            for (int i = 0; i < D; i++) x[i] += xb[i];
            free(an); free(wq); free(wk); free(wv); free(wo); free(fn); free(wg); free(wu); free(wd);
            free(bq); free(bk); free(bv);
        }
        rms(xb, x, onorm, D, in->norm_eps);
        matvec(logits, out, xb, D, V, NULL);
        /* compare log-softmax over the whole vocabulary */
        double mr = -INFINITY, me = -INFINITY, sr = 0, se = 0;
        const float *el = elog + (size_t)pos * V;
        for (int i = 0; i < V; i++) { if (logits[i] > mr) mr = logits[i]; if (el[i] > me) me = el[i]; }
        for (int i = 0; i < V; i++) { sr += exp(logits[i] - mr); se += exp(el[i] - me); }
        for (int i = 0; i < V; i++) {
            double d = fabs((logits[i] - mr - log(sr)) - (el[i] - me - log(se)));
            if (d > worst) worst = d;
        }
    }
    CHECK_MSG(worst <= tol, "%s: engine vs plain reference max |dlogprob| %.3g > %.3g", path, worst, tol);
    printf("%s: engine vs plain C reference, %d positions x %d logprobs: max diff %.2g\n", path, T, V, worst);
    if (out != emb) free(out);
    free(emb); free(onorm);
    free(x); free(xb); free(q); free(k); free(v); free(ao); free(h1); free(h2); free(logits); free(att);
    free(kc); free(vc); free(elog);
    tok_session_free(s);
    tok_model_free(m);
}

int main(void) {
    check_model("tests/data/models/llama-rand-tiny-Q4_0.gguf", 0.3);
    const char *shared = getenv("SHARED");
    if (shared) {
        char p[1024];
        snprintf(p, sizeof p, "%s/models/llama-rand-tiny-F32.gguf", shared);
        check_model(p, 1e-4);
        snprintf(p, sizeof p, "%s/models/qwen2-rand-tiny-F32.gguf", shared);
        check_model(p, 1e-4);
        snprintf(p, sizeof p, "%s/models/tiny-kjv/tiny-kjv-f32.gguf", shared);
        check_model(p, 1e-4);
    }
    return check_summary("test_engine_ref");
}
