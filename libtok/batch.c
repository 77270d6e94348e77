/*
 * Many texts at once, and one text of any length in bounded memory.
 *
 * tok_encode_batch: worker threads take the next text index from an atomic
 * counter, so uneven document sizes balance themselves; each thread has its
 * own scratch, the tokenizer is shared read-only.
 *
 * tok_counter: buffers input and counts all of it up to the last "safe cut",
 * a position between an ASCII letter and a space that is followed by an ASCII
 * letter. Every supported pre-tokenizer ends a piece there ("...x" | " y..."),
 * and no special token we match spans "x y", so counting the two sides
 * separately gives the same total. Memory stays ~2 windows unless the text
 * has no such position for a long stretch, when the buffer grows.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer.h"

typedef struct batch_job {
    const tok_tokenizer *t;
    const char *const *texts;
    const size_t *lens;
    size_t n;
    const tok_encode_params *p;
    tok_ids *outs;
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    size_t fail_index;
    tok_error first_err;
} batch_job;

static void *batch_worker(void *arg) {
    batch_job *j = arg;
    tok_encoder *enc = tok_encoder_new(j->t, NULL); /* NULL: fall back to tok_encode */
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->failed)) break;
        tok_error err = {0};
        /* Encode into a copy on this thread's stack: outs[] is one array, and
         * neighbouring entries written by two threads share cache lines (every
         * id pushed updates .n), which cost the second thread a third of its
         * gain. The buffer itself is the caller's, handed back below. */
        tok_ids out = j->outs[i];
        int rc = enc ? tok_encoder_encode(enc, j->texts[i], j->lens[i], j->p, &out, &err)
                     : tok_encode(j->t, j->texts[i], j->lens[i], j->p, &out, &err);
        j->outs[i] = out;
        if (rc) {
            pthread_mutex_lock(&j->lock);
            if (!atomic_load(&j->failed) || i < j->fail_index) {
                j->fail_index = i;
                j->first_err = err;
            }
            atomic_store(&j->failed, 1);
            pthread_mutex_unlock(&j->lock);
        }
    }
    tok_encoder_free(enc);
    return NULL;
}

int tok_encode_batch(const tok_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                     const tok_encode_params *p, int n_threads, tok_ids *outs, tok_error *err) {
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if ((size_t)n_threads > n) n_threads = n ? (int)n : 1;
    batch_job j = {.t = t, .texts = texts, .lens = lens, .n = n, .p = p, .outs = outs};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    pthread_t th[64];
    if (n_threads > 64) n_threads = 64;
    int started = 0;
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&th[started], NULL, batch_worker, &j) == 0) started++;
    batch_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.lock);
    if (atomic_load(&j.failed)) {
        if (err) {
            *err = j.first_err;
            tok_error_prefix(err, "text %zu", j.fail_index);
        }
        return j.first_err.code ? j.first_err.code : TOK_EINVAL;
    }
    return 0;
}

/* ---- streaming count ------------------------------------------------------------ */

#define WINDOW (1u << 20)

struct tok_counter {
    const tok_tokenizer *t;
    tok_encoder *enc;
    tok_encode_params p;
    char *buf;
    size_t n, cap;
    size_t total;
    size_t consumed; /* bytes already counted, for error offsets */
};

tok_counter *tok_counter_new(const tok_tokenizer *t, const tok_encode_params *p, tok_error *err) {
    tok_counter *c = calloc(1, sizeof *c);
    if (!c) {
        tok_fail(err, TOK_ENOMEM, "out of memory");
        return NULL;
    }
    c->t = t;
    if (!(c->enc = tok_encoder_new(t, err))) {
        free(c);
        return NULL;
    }
    c->p = p ? *p : tok_encode_default_params();
    c->p.add_special = false; /* added once, in finish */
    if (p && p->add_special) c->total = t->n_prefix + t->n_suffix;
    return c;
}

static int is_ascii_letter(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }

/* Last safe cut in buf[0, n): index of the space, or 0. */
static size_t last_safe_cut(const char *b, size_t n) {
    for (size_t i = n - 2; n >= 3 && i >= 1; i--)
        if (b[i] == ' ' && is_ascii_letter((unsigned char)b[i - 1]) && is_ascii_letter((unsigned char)b[i + 1])) return i;
    return 0;
}

static int count_part(tok_counter *c, size_t upto, tok_error *err) {
    size_t k;
    int rc = tok_encoder_count(c->enc, c->buf, upto, &c->p, &k, err);
    if (rc) {
        if (err && (rc == TOK_EUTF8 || rc == TOK_ESPECIAL)) tok_error_prefix(err, "after %zu earlier bytes", c->consumed);
        return rc;
    }
    c->total += k;
    c->consumed += upto;
    memmove(c->buf, c->buf + upto, c->n - upto);
    c->n -= upto;
    return 0;
}

int tok_counter_feed(tok_counter *c, const char *data, size_t len, tok_error *err) {
    while (len) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 2 * WINDOW;
            char *nb = realloc(c->buf, cap);
            if (!nb) return tok_fail(err, TOK_ENOMEM, "out of memory");
            c->buf = nb;
            c->cap = cap;
        }
        size_t k = c->cap - c->n < len ? c->cap - c->n : len;
        memcpy(c->buf + c->n, data, k);
        c->n += k;
        data += k;
        len -= k;
        /* SentencePiece's dummy prefix belongs to the start of the text only,
         * so a cut would change the count: such streams are counted whole */
        if (c->n >= WINDOW && !c->t->spm && !c->t->hf) { /* hf: Prepend/Metaspace, whole-segment BPE */
            /* SentencePiece puts a dummy prefix before every piece encoded: never cut */
            size_t cut = c->t->spm ? 0 : last_safe_cut(c->buf, c->n);
            if (cut) {
                int rc = count_part(c, cut, err);
                if (rc) return rc;
            }
        }
    }
    return 0;
}

int tok_counter_finish(tok_counter *c, size_t *tokens, tok_error *err) {
    int rc = c->n ? count_part(c, c->n, err) : 0;
    if (!rc && tokens) *tokens = c->total;
    return rc;
}

void tok_counter_free(tok_counter *c) {
    if (!c) return;
    tok_encoder_free(c->enc);
    free(c->buf);
    free(c);
}
