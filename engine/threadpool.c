/*
 * A fixed pool of worker threads that share out the chunks of one operation
 * (a fork-join per op, like ggml's graph threads, with a shared claim word
 * instead of a fixed split: the caller claims chunks from the front of the
 * range, the workers from the back, which walks the upper half upwards).
 *
 * Why chunks taken from a shared counter rather than one fixed range per
 * thread: on a busy 2-core machine a worker is often descheduled or asleep
 * when an op starts. With fixed ranges the caller then waits a scheduler
 * time slice (milliseconds) for the missing range, which made 2 threads 5-10x
 * slower than 1 on small models. Here the caller (thread 0) takes chunks too
 * and simply does every chunk no worker has claimed, so it only ever waits
 * for chunks that are being computed right now. The claim word holds the
 * run's generation in its high half (and the unclaimed range's two ends in
 * the low half), so a worker that wakes late can never claim a chunk of a
 * run that is over (its compare-and-swap fails).
 *
 * Workers spin a short while for the next run (ops of one token follow each
 * other within microseconds), then sleep on a condition variable, so an idle
 * session costs nothing. Cost per run: one store to publish, one CAS per
 * chunk, a broadcast only when a worker sleeps. No allocation per run.
 * Callers decide how many chunks an op deserves (one chunk: run inline).
 *
 * Contention guard: a worker that is preempted while it holds a chunk makes
 * the caller wait for a whole time slice. After each run the caller
 * compares the wall time with what it alone would have needed (its own time
 * per chunk times the chunk count). When threading made the run slower than
 * that, the caller runs alone every op of at most as many chunks as the one
 * that lost (smaller ops lose first, while the large ones of the same model
 * still gain from the second core) for a while, 2 ms after the first such
 * run and twice as long after each further one in a row (up to 0.5 s), then
 * tries threading again. On a quiet machine this never triggers; on an
 * overloaded one threading is retried at most a few times a second, at a
 * cost of a few milliseconds each, so 2 threads are not slower than 1.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "engine.h"

/* Pause instructions a worker spins for the next op before it sleeps:
 * ~200 us on Zen 5 (a pause takes ~20 ns there; 5-140 cycles elsewhere),
 * longer than the gaps between the ops of a token and between tokens,
 * much shorter than a scheduler tick. 1000 (~20 us) let workers fall
 * asleep inside a token on a fast core: paired runs at 2 threads, 10000
 * vs 1000, +4-5% generation on both bench shapes. A sleeping worker only
 * costs the caller a wake-up call, never a wait (the caller does unclaimed
 * chunks itself); a spinning one spends CPU time other processes could
 * use, for at most this long after the last op. */
#define SPIN_ITERS 10000

struct tok_pool {
    int n;
    pthread_t *threads;
    /* the current run; written by the caller before the ticket publishes it */
    _Atomic(tok_pool_fn) fn;
    _Atomic(void *) ctx;
    atomic_int total; /* chunks of the current run */
    uint32_t gen; /* caller-private copy of the newest generation */
    _Alignas(64) atomic_ullong ticket; /* generation << 32 | end << 16 | start of the unclaimed chunks */
    _Alignas(64) atomic_int done;      /* chunks of the current run finished */
    _Alignas(64) atomic_int sleepers;  /* workers inside the condition wait */
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    atomic_bool stop;
    /* contention guard (caller only) */
    double solo_until; /* CLOCK_MONOTONIC seconds: run alone until then, */
    int solo_chunks;   /* the ops of at most this many chunks (the size that lost) */
    int strikes;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct { tok_pool *p; int ith; } worker_arg;

/* Claims and runs chunks of generation g until none is left; returns how
 * many this thread ran. The caller (ith 0) takes chunks from the front of
 * the range, the workers from the back, so with two threads each walks
 * its own part of the matrix: consecutive chunks of one thread are
 * neighbours in memory, and the prefetch running ahead of the caller's
 * chunk lands in its own next chunk rather than in one another thread
 * will read (paired runs at 2 threads, Zen 5: generation +10% on the
 * TinyLlama shape, +15% on stories110M, prompts +5-20%). The claims from
 * the back are numbered so that they walk the upper half upwards (claim
 * n-1 runs chunk n/2, n-2 runs n/2+1, ...; past the middle, as the caller
 * would continue, they come down from the top): a forward stream, as the
 * hardware prefetchers follow best (a kernel alone on one matrix, 2
 * threads, halves upwards vs the upper half downwards: +5-10%; in the
 * model, paired runs at 2 threads: generation +3-10%, prompts level). */
static int take_chunks(tok_pool *p, uint32_t g, int ith) {
    int ran = 0;
    for (;;) {
        unsigned long long v = atomic_load_explicit(&p->ticket, memory_order_acquire);
        if ((uint32_t)(v >> 32) != g) return ran;
        tok_pool_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        unsigned start = (unsigned)(v & 0xffff), end = (unsigned)(v >> 16 & 0xffff);
        if (start >= end) return ran;
        bool back = ith > 0;
        int idx = back ? (int)end - 1 : (int)start;
        unsigned long long next = back ? v - (1ull << 16) : v + 1;
        /* Success means the ticket did not move since it was read, so run g
         * was still open when fn/ctx were read: they are g's. */
        if (!atomic_compare_exchange_weak_explicit(&p->ticket, &v, next, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        /* claims from the back map to the upper half in ascending order */
        int n = atomic_load_explicit(&p->total, memory_order_relaxed), half = n / 2;
        fn(ctx, idx < half ? idx : half + (n - 1 - idx), ith);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        ran++;
    }
}

static void *worker(void *arg) {
    worker_arg *wa = arg;
    tok_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    uint32_t seen = 0;
    for (;;) {
        int spins = 0;
        while ((uint32_t)(atomic_load_explicit(&p->ticket, memory_order_acquire) >> 32) == seen &&
               spins < SPIN_ITERS && !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            cpu_relax();
            spins++;
        }
        if ((uint32_t)(atomic_load(&p->ticket) >> 32) == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1); /* seq_cst: pairs with the caller's ticket store */
            while ((uint32_t)(atomic_load(&p->ticket) >> 32) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->start_cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = (uint32_t)(atomic_load(&p->ticket) >> 32);
        take_chunks(p, seen, ith);
    }
}

tok_pool *tok_pool_new(int n_threads) {
    tok_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
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

void tok_pool_run(tok_pool *p, tok_pool_fn fn, void *ctx, int n_chunks) {
    if (n_chunks <= 0) return;
    double t0 = p->n == 1 || n_chunks == 1 ? 0 : now_s();
    /* the ticket holds chunk indices in 16 bits (callers make a few thousand at most) */
    if (p->n == 1 || n_chunks == 1 || n_chunks > 0xffff || (t0 < p->solo_until && n_chunks <= p->solo_chunks)) {
        for (int c = 0; c < n_chunks; c++) fn(ctx, c, 0);
        return;
    }
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->total, n_chunks, memory_order_relaxed);
    uint32_t g = ++p->gen;
    atomic_store(&p->ticket, (unsigned long long)g << 32 | (unsigned long long)n_chunks << 16); /* seq_cst: publishes the fields above */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->start_cv);
        pthread_mutex_unlock(&p->mu);
    }
    int mine = take_chunks(p, g, 0);
    double t1 = now_s();
    /* Every chunk is claimed; wait for those still being computed. A worker
     * descheduled mid-chunk needs the CPU back: yield after a short spin. */
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < n_chunks) {
        if (++spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
    /* Threading lost when the run took longer than the caller alone would
     * have (its time per chunk times all chunks): a worker was descheduled
     * while it held a chunk. A run whose chunks all fell to the caller
     * (the workers woke too late for a small op) only cost a wake-up and
     * does not count: sidelining the workers after such runs kept the
     * second core idle for most ops of a small model (paired runs,
     * stories110M shape, 2 threads, Zen 5: 485 -> 560 tokens/s; with both
     * cores busy with other processes still 300 -> 320, above 1 thread's
     * 240). */
    bool lost = false;
    if (mine > 0 && mine < n_chunks) {
        double alone = (t1 - t0) / mine * n_chunks, took = now_s() - t0;
        lost = took > alone;
    }
    if (lost) {
        int k = p->strikes < 8 ? p->strikes : 8;
        p->solo_until = now_s() + 0.002 * (double)(1 << k);
        p->solo_chunks = n_chunks;
        p->strikes++;
    } else {
        p->strikes = 0;
    }
}

void tok_pool_free(tok_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    free(p->threads);
    free(p);
}
