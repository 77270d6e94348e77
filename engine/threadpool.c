/*
 * A fixed pool of worker threads that run one function on every thread and
 * meet at the end (a fork-join per operation, like ggml's graph threads).
 *
 * Start and finish are announced through atomics that the threads spin on
 * for a short while (an op of a small model takes microseconds, less than a
 * condition-variable wake-up), then sleep on a condition variable so an idle
 * session costs nothing. Cost per run: one atomic increment, plus a
 * broadcast only when some worker is asleep.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "engine.h"

#define SPIN_ITERS 2000

struct tok_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start_cv, done_cv;
    tok_pool_fn fn;
    void *ctx;
    atomic_uint gen;      /* incremented for each run */
    atomic_int pending;   /* workers still running the current run */
    int sleepers;         /* workers waiting on start_cv (under mu) */
    bool main_waiting;    /* caller waiting on done_cv (under mu) */
    bool stop;
};

typedef struct { tok_pool *p; int ith; } worker_arg;

static void *worker(void *arg) {
    worker_arg *wa = arg;
    tok_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && spins < SPIN_ITERS) {
            cpu_relax();
            spins++;
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !p->stop) {
            p->sleepers++;
            pthread_cond_wait(&p->start_cv, &p->mu);
            p->sleepers--;
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
        seen = atomic_load(&p->gen);
        p->fn(p->ctx, ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            if (p->main_waiting) pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

tok_pool *tok_pool_new(int n_threads) {
    tok_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < p->n; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) { p->n = i; break; }
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa)) { free(wa); p->n = i; break; }
    }
    return p;
}

int tok_pool_size(const tok_pool *p) { return p->n; }

void tok_pool_run(tok_pool *p, tok_pool_fn fn, void *ctx) {
    if (p->n == 1) { fn(ctx, 0, 1); return; }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->sleepers) pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spins < SPIN_ITERS) {
        cpu_relax();
        spins++;
    }
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        p->main_waiting = true;
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        p->main_waiting = false;
        pthread_mutex_unlock(&p->mu);
    }
}

void tok_pool_free(tok_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->threads);
    free(p);
}
