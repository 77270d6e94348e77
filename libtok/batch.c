/*
 * Many texts at once, and one text of any length in bounded memory.
 *
 * tok_encode_batch: worker threads take the next text index from an atomic
 * counter, so uneven document sizes balance themselves; the tokenizer is
 * shared read-only. The workers are a pool that outlives the call: each
 * thread encodes through its own thread encoder (tokenizer.c), whose piece
 * cache then stays warm from one batch to the next, as the caller's does.
 * One caller at a time uses the pool; a concurrent caller starts threads of
 * its own for its call.
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
#include <stdbool.h>
#include <stdint.h>
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

static void batch_worker(batch_job *j) {
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->failed)) break;
        tok_error err = {0};
        /* Encode into a copy on this thread's stack: outs[] is one array, and
         * neighbouring entries written by two threads share cache lines (every
         * id pushed updates .n), which cost the second thread a third of its
         * gain. The buffer itself is the caller's, handed back below. */
        tok_ids out = j->outs[i];
        int rc = tok_encode(j->t, j->texts[i], j->lens[i], j->p, &out, &err);
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
}

static void *batch_thread(void *arg) {
    batch_worker(arg);
    return NULL;
}

/* ---- the pool ---- */

#define POOL_MAX 63
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t th[POOL_MAX];
    int started;      /* workers running */
    bool busy;        /* a caller owns the pool */
    bool quit;        /* the library is being unloaded */
    uint64_t round;   /* bumped for each job */
    batch_job *job;
    int helpers;      /* workers 0..helpers-1 take part in the job */
    int active;       /* of those, still working */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void *pool_thread(void *arg) {
    int me = (int)(intptr_t)arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.round == seen && !pool.quit) pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.quit) break;
        seen = pool.round;
        if (me >= pool.helpers) continue;
        batch_job *j = pool.job;
        pthread_mutex_unlock(&pool.lock);
        batch_worker(j);
        pthread_mutex_lock(&pool.lock);
        if (--pool.active == 0) pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* A child of fork has none of the parent's threads: it starts over. */
static void pool_after_fork(void) {
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.started = 0;
    pool.busy = false;
    pool.job = NULL;
    pool.helpers = pool.active = 0;
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_after_fork); }

/* The workers are idle whenever no call runs: at exit or unload they are
 * told to stop and joined, so none is left in unmapped code (called by
 * tokenizer.c's library destructor, before the thread encoders' key goes,
 * so the workers' encoders are freed as they exit). */
void batch_pool_fini(void) {
    pthread_mutex_lock(&pool.lock);
    pool.quit = true;
    pthread_cond_broadcast(&pool.wake);
    int n = pool.started;
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < n; i++) pthread_join(pool.th[i], NULL);
    pool.started = 0;
}

/* Runs j on the caller and `helpers` pool workers; false if the pool is
 * in use (or has no threads to give), and nothing ran. */
static bool pool_run(batch_job *j, int helpers) {
    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool.lock);
    if (pool.busy || pool.quit) {
        pthread_mutex_unlock(&pool.lock);
        return false;
    }
    while (pool.started < helpers &&
           pthread_create(&pool.th[pool.started], NULL, pool_thread, (void *)(intptr_t)pool.started) == 0)
        pool.started++;
    if (pool.started < helpers) helpers = pool.started;
    pool.busy = true;
    pool.job = j;
    pool.helpers = pool.active = helpers;
    pool.round++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    batch_worker(j);
    pthread_mutex_lock(&pool.lock);
    while (pool.active) pthread_cond_wait(&pool.done, &pool.lock);
    pool.busy = false;
    pool.job = NULL;
    pthread_mutex_unlock(&pool.lock);
    return true;
}

int tok_encode_batch(const tok_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                     const tok_encode_params *p, int n_threads, tok_ids *outs, tok_error *err) {
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if ((size_t)n_threads > n) n_threads = n ? (int)n : 1;
    if (n_threads > POOL_MAX + 1) n_threads = POOL_MAX + 1;
    batch_job j = {.t = t, .texts = texts, .lens = lens, .n = n, .p = p, .outs = outs};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    if (n_threads == 1) batch_worker(&j);
    else if (!pool_run(&j, n_threads - 1)) { /* another call has the pool: threads of our own */
        pthread_t th[POOL_MAX];
        int started = 0;
        for (int i = 1; i < n_threads; i++)
            if (pthread_create(&th[started], NULL, batch_thread, &j) == 0) started++;
        batch_worker(&j);
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    }
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
