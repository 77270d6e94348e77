/*
 * The engine's thread pool (engine/threadpool.c): every chunk of every run
 * is run exactly once, by a thread index below the pool size, before
 * tok_pool_run returns; with two or more threads the workers really take
 * chunks (from the back of the range while the caller takes the front;
 * claim k from the back runs chunk n/2 + k, so a worker walks the upper
 * half upwards, and past the middle either thread continues down from the
 * other's end);
 * runs of one chunk, of many, and of more chunks than the claim word holds
 * (which the caller runs alone) all complete; back-to-back runs never mix
 * (a late worker cannot claim a chunk of a run that is over).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "engine.h"

typedef struct {
    int n, n_threads;
    atomic_int *hits;      /* per chunk */
    atomic_int bad_ith;
    atomic_int by_worker;  /* chunks run by ith > 0 */
    atomic_int order_bad;  /* caller saw a lower chunk after a higher one, or a worker the reverse */
    int *caller_seq, caller_n; /* the caller's chunks in order (only the caller writes them) */
    int last_upper;        /* the worker's previous chunk in the upper half (two threads: one worker) */
    atomic_int last_worker;
    int spin_ns;
} run_ctx;

static void busy(int ns) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

/* The claim that runs chunk (the claim word's index): the lower half in
 * order, the upper half from its bottom up as claims n-1, n-2, ... */
static int claim_of(int chunk, int n) {
    int half = n / 2;
    return chunk < half ? chunk : n - 1 - (chunk - half);
}

static void chunk_fn(void *vctx, int chunk, int ith) {
    run_ctx *c = vctx;
    if (ith < 0 || ith >= c->n_threads) atomic_fetch_add(&c->bad_ith, 1);
    if (chunk >= 0 && chunk < c->n) atomic_fetch_add(&c->hits[chunk], 1);
    int claim = claim_of(chunk, c->n);
    if (ith == 0) { /* checked after the run (see one_run) */
        c->caller_seq[c->caller_n++] = chunk;
    } else {
        atomic_fetch_add(&c->by_worker, 1);
        /* one worker (two threads): its claims go down from the back */
        if (c->n_threads == 2) {
            if (claim >= atomic_load(&c->last_worker)) atomic_fetch_add(&c->order_bad, 1);
            atomic_store(&c->last_worker, claim);
        }
        /* and the chunks it runs in the upper half go up from the middle */
        if (c->n_threads == 2 && chunk >= c->n / 2) {
            if (chunk <= c->last_upper) atomic_fetch_add(&c->order_bad, 1);
            c->last_upper = chunk;
        }
    }
    if (c->spin_ns) busy(c->spin_ns);
}

/* One run of n chunks; returns how many chunks were not run exactly once. */
static int one_run(tok_pool *p, int nt, int n, int spin_ns, int *by_worker, int *order_bad) {
    run_ctx c = {.n = n, .n_threads = nt, .last_upper = -1, .spin_ns = spin_ns};
    c.hits = calloc((size_t)n, sizeof *c.hits);
    c.caller_seq = malloc((size_t)n * sizeof *c.caller_seq);
    atomic_init(&c.last_worker, n);
    tok_pool_run(p, chunk_fn, &c, n);
    int wrong = 0;
    for (int i = 0; i < n; i++) wrong += atomic_load(&c.hits[i]) != 1;
    wrong += atomic_load(&c.bad_ith);
    *by_worker += atomic_load(&c.by_worker);
    /* The caller's claims go up from the front; a run it did alone (one
     * thread, too many chunks for the claim word, the contention guard)
     * runs the chunks in order instead. */
    bool claims_up = true, chunks_up = true;
    for (int i = 1; i < c.caller_n; i++) {
        if (claim_of(c.caller_seq[i], n) <= claim_of(c.caller_seq[i - 1], n)) claims_up = false;
        if (c.caller_seq[i] <= c.caller_seq[i - 1]) chunks_up = false;
    }
    if (!claims_up && !(chunks_up && c.caller_n == n)) atomic_fetch_add(&c.order_bad, 1);
    *order_bad += atomic_load(&c.order_bad);
    free(c.caller_seq);
    free(c.hits);
    return wrong;
}

int main(void) {
    for (int nt = 1; nt <= 4; nt++) {
        tok_pool *p = tok_pool_new(nt);
        CHECK(p != NULL);
        CHECK_EQ_INT(tok_pool_size(p), nt);
        int wrong = 0, by_worker = 0, order_bad = 0;
        /* many short runs back to back: the generation check keeps them apart */
        for (int r = 0; r < 3000; r++) wrong += one_run(p, nt, 1 + r % 37, 0, &by_worker, &order_bad);
        /* runs long enough for every worker to wake and take chunks */
        int slow_by_worker = 0;
        for (int r = 0; r < 200 && (r < 20 || (nt > 1 && slow_by_worker == 0)); r++)
            wrong += one_run(p, nt, 64, 20000, &slow_by_worker, &order_bad);
        /* more chunks than the claim word holds: run by the caller alone */
        int big_by_worker = 0;
        wrong += one_run(p, nt, 70000, 0, &big_by_worker, &order_bad);
        CHECK_MSG(wrong == 0, "%d threads: %d chunks not run exactly once (or a bad thread index)", nt, wrong);
        CHECK_MSG(order_bad == 0, "%d threads: %d chunks claimed out of order (caller: front up, worker: back down = upper half up)",
                  nt, order_bad);
        CHECK_EQ_INT(big_by_worker, 0);
        if (nt == 1) CHECK_EQ_INT(by_worker + slow_by_worker, 0);
        else CHECK_MSG(slow_by_worker > 0, "%d threads: the workers took no chunk of 200 runs of 64 x 20 us", nt);
        tok_pool_free(p);
    }
    return check_summary("test_threadpool");
}
