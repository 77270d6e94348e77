/* The generation loop, as one engine function every front end shares (tok
 * generate, tok chat, later the pipeline runner and the server): evaluate the
 * prompt in one batch, then sample a token, check it, stream its text,
 * evaluate it, until a stop condition.
 *
 * Text is the concatenation of the tokens' pieces (llama.cpp's token_to_piece
 * with special=false: control tokens add nothing). What goes to the streaming
 * callback is held back while the text ends inside a UTF-8 sequence (a
 * character split over byte tokens) or inside a prefix of a stop string, so
 * nothing passed on is ever taken back and a stop string never appears.
 *
 * Cost per token beyond the forward pass: O(vocab) for sampling (twice that
 * with logprobs), O(|stop|) per stop string for the checks; the text and id
 * buffers grow geometrically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "model.h"

tok_generate_params tok_generate_default_params(void) {
    tok_generate_params p;
    memset(&p, 0, sizeof p);
    p.sampling = tok_sampling_default_params();
    p.max_tokens = 128;
    return p;
}

const char *tok_stop_reason_name(int reason) {
    switch (reason) {
    case TOK_STOP_LENGTH: return "length";
    case TOK_STOP_EOS: return "eos";
    case TOK_STOP_STRING: return "stop";
    case TOK_STOP_CONTEXT: return "context";
    case TOK_STOP_CANCELLED: return "cancelled";
    default: return "?";
    }
}

const tok_model *tok_session_model(const tok_session *s) { return s->m; }

const char *tok_token_piece(const tok_tokenizer *tk, int32_t id, size_t *len) {
    *len = 0;
    if (!tk || tok_is_special(tk, id)) return "";
    const char *b = tok_token_bytes(tk, id, len);
    if (!b) *len = 0;
    return b ? b : "";
}

bool tok_model_is_end_token(const tok_model *m, int32_t id) {
    static const char *keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                 "tokenizer.ggml.eom_token_id"};
    const tok_gguf *g = tok_model_gguf(m);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        int64_t v;
        if (tok_gguf_get_int(g, keys[i], &v) && v == id) return true;
    }
    return false;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- streamed text and stop strings ---------------------------------------------- */

typedef struct gen_stream {
    const tok_generate_params *p;
    tok_bytes *text;  /* pieces so far, cut at a stop string */
    size_t emitted;   /* bytes of text already passed to on_text */
    bool cancelled;
} gen_stream;

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8
 * sequence. */
static size_t utf8_complete(const char *s, size_t n) {
    for (size_t k = 1; k <= 4 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF8 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? n - k : n;
    }
    return n;
}

static void stream_to(gen_stream *g, size_t upto) {
    if (upto <= g->emitted || g->cancelled) return;
    if (g->p->on_text && g->p->on_text(g->text->data + g->emitted, upto - g->emitted, g->p->user))
        g->cancelled = true;
    g->emitted = upto;
}

/* Appends a piece; returns 1 if a stop string now occurs (text is cut
 * before it), -1 out of memory, 0 otherwise. Streams what can no longer
 * change. */
static int stream_add(gen_stream *g, const char *piece, size_t len) {
    size_t old = g->text->n;
    if (len && tok_bytes_append(g->text, piece, len)) return -1;
    const char *t = g->text->data;
    size_t n = g->text->n, cut = SIZE_MAX, safe = n;
    for (size_t i = 0; i < g->p->n_stop; i++) {
        const char *stop = g->p->stop[i];
        size_t sl = strlen(stop);
        if (!sl) continue;
        size_t from = old >= sl - 1 ? old - (sl - 1) : 0; /* a match must end in the piece */
        if (from < n) {
            const char *hit = memmem(t + from, n - from, stop, sl);
            if (hit && (size_t)(hit - t) < cut) cut = (size_t)(hit - t);
        }
        /* hold back a tail that could still grow into this stop string */
        for (size_t k = sl - 1 < n ? sl - 1 : n; k > 0; k--)
            if (!memcmp(t + n - k, stop, k)) {
                if (n - k < safe) safe = n - k;
                break;
            }
    }
    if (cut != SIZE_MAX) {
        g->text->n = cut;
        g->text->data[cut] = 0;
        safe = cut;
    } else {
        safe = utf8_complete(t, safe);
    }
    stream_to(g, safe);
    return cut != SIZE_MAX;
}

/* ---- log-probabilities ---------------------------------------------------------- */

static float logprob_of(const float *logits, int n_vocab, int32_t id) {
    float max = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    return (float)((double)logits[id] - max - log(sum));
}

static int push_logprobs(tok_generation *out, size_t *cap, const float *logits, int n_vocab,
                         int k, int32_t id) {
    if (out->ids.n == *cap) { /* logprobs[] runs in step with ids */
        size_t nc = *cap ? 2 * *cap : 64;
        tok_step_logprobs *ns = realloc(out->logprobs, nc * sizeof *ns);
        if (!ns) return -1;
        out->logprobs = ns;
        *cap = nc;
    }
    tok_step_logprobs *st = &out->logprobs[out->ids.n];
    st->ids = malloc((size_t)k * sizeof *st->ids);
    st->logprobs = malloc((size_t)k * sizeof *st->logprobs);
    if (!st->ids || !st->logprobs) {
        free(st->ids);
        free(st->logprobs);
        return -1;
    }
    st->n = tok_logprobs_top(logits, n_vocab, k, st->ids, st->logprobs);
    st->logprob = logprob_of(logits, n_vocab, id);
    return 0;
}

/* ---- the loop ----------------------------------------------------------------------- */

void tok_generation_free(tok_generation *g) {
    if (!g) return;
    if (g->logprobs)
        for (size_t j = 0; j < g->ids.n; j++) {
            free(g->logprobs[j].ids);
            free(g->logprobs[j].logprobs);
        }
    free(g->logprobs);
    tok_ids_free(&g->ids);
    tok_bytes_free(&g->text);
    memset(g, 0, sizeof *g);
}

int tok_generate(tok_session *s, const tok_tokenizer *tk, const int32_t *prompt, size_t n_prompt,
                 const tok_generate_params *p, tok_generation *out, tok_error *err) {
    tok_generate_params defaults = tok_generate_default_params();
    if (!p) p = &defaults;
    memset(out, 0, sizeof *out);
    out->seed = TOK_SEED_RANDOM;
    const tok_model *m = s->m;
    int n_vocab = tok_model_get_info(m)->vocab_size, n_ctx = tok_session_n_ctx(s);
    if (!n_prompt) return eng_fail(err, TOK_EINVAL, "generate: empty prompt");
    if (n_prompt > (size_t)n_ctx)
        return eng_fail(err, TOK_ERANGE, "prompt has %zu tokens; the context holds %d", n_prompt,
                        n_ctx);
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= n_vocab)
            return eng_fail(err, TOK_ERANGE, "prompt id %d at %zu is outside the vocabulary (%d tokens)",
                            prompt[i], i, n_vocab);
    /* At least the last prompt token is evaluated: its logits start the loop. */
    int reuse = p->n_reuse < 0 ? 0 : p->n_reuse;
    if ((size_t)reuse >= n_prompt) reuse = (int)n_prompt - 1;
    if (reuse > tok_session_n_past(s)) reuse = tok_session_n_past(s);
    tok_session_rewind(s, reuse);

    tok_sampler *chain = tok_sampler_chain_from_params(&p->sampling);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    int rc = 0;
    size_t lp_cap = 0;
    gen_stream gs = {.p = p, .text = &out->text};
    if (!chain || !logits) {
        rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory");
        goto done;
    }
    if (tok_bytes_append(&out->text, "", 0)) { /* text.data is never NULL on success */
        rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_prompt; i++) tok_sampler_accept(chain, prompt[i]);
    out->prompt_tokens = (int)n_prompt;
    out->prompt_evaluated = (int)n_prompt - reuse;

    double t0 = now_ms();
    if ((rc = tok_session_eval(s, prompt + reuse, (int)n_prompt - reuse, logits, false, err)))
        goto done;
    out->prompt_ms = now_ms() - t0;
    out->stop_reason = TOK_STOP_LENGTH;
    double t_gen = now_ms();
    for (int i = 0; p->max_tokens < 0 || i < p->max_tokens; i++) {
        int32_t id = tok_sampler_sample(chain, logits, n_vocab);
        if (id < 0) {
            rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory while sampling");
            goto done;
        }
        tok_sampler_accept(chain, id);
        if (!p->ignore_eos && tok_model_is_end_token(m, id)) {
            out->stop_reason = TOK_STOP_EOS;
            break;
        }
        if (p->n_logprobs > 0 && push_logprobs(out, &lp_cap, logits, n_vocab, p->n_logprobs, id)) {
            rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory");
            goto done;
        }
        if (tok_ids_append(&out->ids, &id, 1)) {
            if (p->n_logprobs > 0) { /* the step was recorded for an id not kept */
                free(out->logprobs[out->ids.n].ids);
                free(out->logprobs[out->ids.n].logprobs);
            }
            rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory");
            goto done;
        }
        size_t plen;
        const char *piece = tok_token_piece(tk, id, &plen);
        int hit = stream_add(&gs, piece, plen);
        if (hit < 0) {
            rc = eng_fail(err, TOK_ENOMEM, "generate: out of memory");
            goto done;
        }
        if (hit) {
            out->stop_reason = TOK_STOP_STRING;
            break;
        }
        if (gs.cancelled) {
            out->stop_reason = TOK_STOP_CANCELLED;
            break;
        }
        if (p->max_tokens >= 0 && i + 1 >= p->max_tokens) break;
        if (tok_session_n_past(s) >= n_ctx) {
            out->stop_reason = TOK_STOP_CONTEXT;
            break;
        }
        double te = now_ms();
        if ((rc = tok_session_eval(s, &id, 1, logits, false, err))) goto done;
        out->eval_ms += now_ms() - te;
        out->n_eval++;
    }
    out->gen_ms = now_ms() - t_gen;
    int64_t n_sampled;
    tok_sampler_chain_perf(chain, &out->sample_ms, &n_sampled);
    out->seed = tok_sampler_get_seed(chain);
    out->completion_tokens = (int)out->ids.n;
    /* The end: what was held back (a split character, a stop-string prefix
     * that never completed) is final now. */
    stream_to(&gs, out->text.n);
done:
    tok_sampler_free(chain);
    free(logits);
    if (rc) tok_generation_free(out);
    return rc;
}
