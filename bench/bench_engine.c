/*
 * Engine throughput: prompt processing (pp: one call evaluating N prompt
 * tokens in one batch) and generation (tg: one token per call, the KV cache
 * growing) in tokens/s at 1 and 2 threads, median and best of several runs,
 * plus the memory-bandwidth ceiling of generation.
 *
 * Generation streams every weight matrix once per token, so it cannot beat
 * (read bandwidth) / (weight bytes per token). The bandwidth is measured
 * here, at 1 and 2 threads, by summing a 512 MiB buffer (median of passes),
 * and each tg figure is printed with the fraction of that ceiling it
 * reaches. On a shared machine other jobs slow runs down: the load average
 * is printed, and the CPU seconds per token (process CPU time, which other
 * jobs do not stretch at 1 thread) beside the wall-clock rates.
 *
 * Usage: bench_engine [MODEL.gguf ...] (default: the bundled tiny-kjv-Q8_0
 * and, when ../shared exists, the other tiny-kjv quantizations). Env:
 * BENCH_ENGINE_RUNS (5), BENCH_PP (128), BENCH_TG (64), BENCH_THREADS
 * ("1 2"), BENCH_BW_MB (512; 0 skips the bandwidth measurement; only the
 * 1- and/or 2-thread figure the thread counts need is measured), BENCH_BW
 * ("GB/s-1-thread GB/s-2-threads": use these instead of measuring, so a
 * script that runs one model at a time measures the bandwidth once),
 * BENCH_PAIRED_MB (256; 0: off): after every timed tg run the bandwidth is
 * measured again over this many MiB at the run's thread count (median of 3
 * passes, ~30 ms), and that run's share of the ceiling taken against it;
 * the median of those shares is printed as "paired". On a machine whose
 * speed drifts within minutes (a shared VM) it is the steadier figure: a
 * bandwidth measured once, minutes before or after, can be from a faster
 * or slower spell than the run it is compared with.
 * Each result also goes out as one "result ..." line of key=value pairs for
 * scripts (bench/engine_peers.sh).
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tok_engine.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}
static double load_avg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* ---- read bandwidth ---- */

typedef struct { const char *p; size_t n; double sink; } bw_part;

/* The ceiling's read: a forward stream, with one line prefetched 16 KB
 * ahead per 2 KB as the one-token kernels do (engine/repack.h), the
 * fastest read of a long array found on the test machines (a plain loop
 * read ~10% less on Zen 5, and the kernels outran it). */
static void *bw_read(void *arg) {
    bw_part *b = arg;
#if defined(__AVX2__)
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 128 <= b->n; i += 128) {
        if (i % 2048 == 0) _mm_prefetch(b->p + i + 16384, _MM_HINT_T0);
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(b->p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(b->p + i + 32)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(b->p + i + 64)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(b->p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    long long v[4];
    memcpy(v, &s, sizeof v);
    b->sink = (double)(v[0] + v[1] + v[2] + v[3]);
#else
    const long long *q = (const long long *)b->p;
    long long s = 0;
    for (size_t i = 0; i < b->n / 8; i++) s += q[i];
    b->sink = (double)s;
#endif
    return NULL;
}

/* The buffer the bandwidth passes read: made (and its pages faulted in)
 * once, at the largest size asked for. */
static char *bw_buf;
static size_t bw_buf_n;

static char *bw_buffer(size_t n) {
    if (n <= bw_buf_n) return bw_buf;
    free(bw_buf);
    bw_buf_n = 0;
    if (!(bw_buf = aligned_alloc(64, n))) return NULL;
    memset(bw_buf, 1, n);
    bw_buf_n = n;
    return bw_buf;
}

/* GB/s reading mb MiB with nt threads, median of `passes` passes. */
static double measure_bw(size_t mb, int nt, int passes) {
    size_t n = mb << 20;
    char *buf = bw_buffer(n);
    if (!buf || passes < 1) return 0;
    if (passes > 7) passes = 7;
    double r[7];
    for (int pass = 0; pass < passes; pass++) {
        bw_part parts[2];
        pthread_t th[2];
        double t0 = now();
        for (int t = 0; t < nt; t++) {
            parts[t].p = buf + n / (size_t)nt * (size_t)t;
            parts[t].n = n / (size_t)nt;
            if (t) pthread_create(&th[t], NULL, bw_read, &parts[t]);
        }
        bw_read(&parts[0]);
        for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
        r[pass] = (double)n / (now() - t0) / 1e9;
    }
    return median(r, passes);
}

/* ---- models ---- */

/* Weight bytes one generated token reads: every matrix, but of an untied
 * token embedding only the one row looked up. */
static double bytes_per_token(const tok_model *m) {
    const tok_model_info *in = tok_model_get_info(m);
    double b = (double)in->weight_bytes;
    const tok_gguf_tensor *e = tok_gguf_find_tensor(tok_model_gguf(m), "token_embd.weight");
    if (e && !in->tied_output) b -= (double)e->nbytes * (1.0 - 1.0 / in->vocab_size);
    return b;
}

/* MiB of the bandwidth pass after each timed tg run (0: none) */
static int paired_mb = 256;

static void bench_model(const char *path, int runs, int pp, int tg, const int *threads, int n_thr,
                        const double *bw) {
    tok_error err = {0};
    tok_model *m = tok_model_load(path, NULL, &err);
    if (!m) { fprintf(stderr, "bench_engine: %s\n", err.msg); return; }
    const tok_model_info *in = tok_model_get_info(m);
    int vocab = in->vocab_size;
    double bpt = bytes_per_token(m);
    int32_t *ids = malloc((size_t)pp * sizeof *ids);
    for (int i = 0; i < pp; i++) ids[i] = (int32_t)((i * 7919 + 3) % vocab);
    float *logits = malloc((size_t)vocab * sizeof(float));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int ti = 0; ti < n_thr; ti++) {
        int nt = threads[ti];
        tok_session_params sp = tok_session_default_params();
        sp.n_threads = nt;
        sp.n_batch = pp;
        sp.n_ctx = pp + tg + 1;
        tok_session *s = tok_session_new(m, &sp, &err);
        if (!s) { fprintf(stderr, "bench_engine: %s\n", err.msg); break; }
        double ppr[32], tgr[32], ppc[32], tgc[32], pbw[32], pct[32], load0 = load_avg();
        for (int r = 0; r < runs + 1; r++) { /* run 0 warms the page cache */
            tok_session_rewind(s, 0);
            double c0 = cpu_now(), t0 = now();
            tok_session_eval(s, ids, pp, logits, false, &err);
            double t1 = now(), c1 = cpu_now();
            /* tg as llama-bench's tg test: from an empty cache, one token
             * at a time with its logits, the next id pseudo-random rather
             * than sampled (neither figure includes a sampler) */
            tok_session_rewind(s, 0);
            int32_t id = 1;
            double c2 = cpu_now(), t2 = now();
            for (int i = 0; i < tg; i++) {
                tok_session_eval(s, &id, 1, logits, false, &err);
                id = (int32_t)(((uint32_t)i * 7919u + 11u) % (uint32_t)vocab);
            }
            double t3 = now(), c3 = cpu_now();
            if (r) {
                ppr[r - 1] = pp / (t1 - t0); tgr[r - 1] = tg / (t3 - t2);
                ppc[r - 1] = (c1 - c0) / pp * 1e3; tgc[r - 1] = (c3 - c2) / tg * 1e3;
                /* the read bandwidth of this very moment, at this run's
                 * thread count: the machine's speed drifts by a third
                 * within minutes, so each run's share of the ceiling
                 * is taken against the bandwidth measured beside it */
                pbw[r - 1] = paired_mb > 0 ? measure_bw((size_t)paired_mb, nt > 1 ? 2 : 1, 3) : 0;
                pct[r - 1] = pbw[r - 1] > 0 ? 100 * tgr[r - 1] * bpt / (pbw[r - 1] * 1e9) : 0;
            }
        }
        double load = (load0 + load_avg()) / 2;
        double ppm = median(ppr, runs), tgm = median(tgr, runs), ppb = ppr[runs - 1], tgb = tgr[runs - 1];
        double ppcm = median(ppc, runs), tgcm = median(tgc, runs);
        double ceil = bw && bw[nt > 1] > 0 ? bw[nt > 1] * 1e9 / bpt : 0;
        double pbwm = paired_mb > 0 ? median(pbw, runs) : 0, pctm = paired_mb > 0 ? median(pct, runs) : 0;
        printf("engine  %-22s %7.1f MB/tok  threads %d  pp%-4d %8.1f tok/s (best %8.1f, %6.2f cpu-ms/tok)  "
               "tg%-3d %7.1f tok/s (best %7.1f, %6.2f cpu-ms/tok)",
               base, bpt / 1e6, nt, pp, ppm, ppb, ppcm, tg, tgm, tgb, tgcm);
        if (ceil > 0) printf("  ceiling %.1f tok/s: %.0f%%", ceil, 100 * tgm / ceil);
        if (pbwm > 0) printf("  paired: %.0f%% of %.1f GB/s", pctm, pbwm);
        printf("  load %.1f\n", load);
        printf("result engine model=%s threads=%d pp=%d pp_tok_s=%.2f pp_best=%.2f pp_cpu_ms=%.3f tg=%d tg_tok_s=%.2f "
               "tg_best=%.2f tg_cpu_ms=%.3f mb_per_tok=%.1f ceiling_tok_s=%.2f paired_bw_gb_s=%.2f paired_pct=%.1f load=%.2f\n",
               base, nt, pp, ppm, ppb, ppcm, tg, tgm, tgb, tgcm, bpt / 1e6, ceil, pbwm, pctm, load);
        fflush(stdout);
        tok_session_free(s);
    }
    free(ids);
    free(logits);
    tok_model_free(m);
}

int main(int argc, char **argv) {
    int runs = getenv("BENCH_ENGINE_RUNS") ? atoi(getenv("BENCH_ENGINE_RUNS")) : 5;
    int pp = getenv("BENCH_PP") ? atoi(getenv("BENCH_PP")) : 128;
    int tg = getenv("BENCH_TG") ? atoi(getenv("BENCH_TG")) : 64;
    int bw_mb = getenv("BENCH_BW_MB") ? atoi(getenv("BENCH_BW_MB")) : 512;
    if (getenv("BENCH_PAIRED_MB")) paired_mb = atoi(getenv("BENCH_PAIRED_MB"));
    if (runs < 1) runs = 1;
    if (runs > 32) runs = 32;
    if (pp < 1) pp = 1;
    if (tg < 1) tg = 1;
    int threads[8], n_thr = 0;
    const char *ts = getenv("BENCH_THREADS") ? getenv("BENCH_THREADS") : "1 2";
    for (char *e; *ts && n_thr < 8; ts = e) {
        long v = strtol(ts, &e, 10);
        if (e == ts) break;
        if (v >= 1 && v <= 64) threads[n_thr++] = (int)v;
    }
    double bw[2] = {0, 0};
    if (getenv("BENCH_BW") && sscanf(getenv("BENCH_BW"), "%lf %lf", &bw[0], &bw[1]) == 2) {
        bw_mb = 0;
    } else if (bw_mb > 0) { /* the figures the thread counts asked for need (0: not measured) */
        for (int i = 0; i < n_thr; i++)
            if (bw[threads[i] > 1] == 0) bw[threads[i] > 1] = measure_bw((size_t)bw_mb, threads[i] > 1 ? 2 : 1, 7);
        printf("engine  memory read bandwidth (%d MiB, median of 7): 1 thread %.1f GB/s, 2 threads %.1f GB/s, load %.1f\n",
               bw_mb, bw[0], bw[1], load_avg());
        printf("result membw mb=%d bw1_gb_s=%.2f bw2_gb_s=%.2f\n", bw_mb, bw[0], bw[1]);
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++) bench_model(argv[i], runs, pp, tg, threads, n_thr, bw);
        return 0;
    }
    bench_model("data/models/tiny-kjv-Q8_0.gguf", runs, pp, tg, threads, n_thr, bw);
    const char *shared = getenv("SHARED") ? getenv("SHARED") : "../shared";
    const char *more[] = {"tiny-kjv-f32.gguf", "tiny-kjv-f16.gguf", "tiny-kjv-Q4_0.gguf", "tiny-kjv-Q4_K_M.gguf",
                          "tiny-kjv-Q6_K.gguf"};
    for (int i = 0; i < 5; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/models/tiny-kjv/%s", shared, more[i]);
        FILE *f = fopen(p, "rb");
        if (f) { fclose(f); bench_model(p, runs, pp, tg, threads, n_thr, bw); }
    }
    return 0;
}
