/*
 * Engine throughput: prompt processing (pp: one call evaluating N prompt
 * tokens in batches) and generation (tg: one token per call, the KV cache
 * growing) in tokens/s at 1 and 2 threads, best and median of several runs.
 * Usage: bench_engine [MODEL.gguf ...] (default: the bundled tiny-kjv-Q8_0
 * and, when ../shared exists, the other tiny-kjv quantizations). Env:
 * BENCH_ENGINE_RUNS (5), BENCH_PP (128), BENCH_TG (64).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tok_engine.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_model(const char *path, int runs, int pp, int tg) {
    tok_error err = {0};
    tok_model *m = tok_model_load(path, NULL, &err);
    if (!m) { fprintf(stderr, "bench_engine: %s\n", err.msg); return; }
    const tok_model_info *in = tok_model_get_info(m);
    int vocab = in->vocab_size;
    int32_t *ids = malloc((size_t)pp * sizeof *ids);
    for (int i = 0; i < pp; i++) ids[i] = (int32_t)((i * 7919 + 3) % vocab);
    float *logits = malloc((size_t)vocab * sizeof(float));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int nt = 1; nt <= 2; nt++) {
        tok_session_params sp = tok_session_default_params();
        sp.n_threads = nt;
        sp.n_batch = pp;
        sp.n_ctx = pp + tg + 1;
        tok_session *s = tok_session_new(m, &sp, &err);
        if (!s) { fprintf(stderr, "bench_engine: %s\n", err.msg); break; }
        double ppr[32], tgr[32];
        for (int r = 0; r < runs + 1; r++) { /* run 0 warms the page cache */
            tok_session_rewind(s, 0);
            double t0 = now();
            tok_session_eval(s, ids, pp, logits, false, &err);
            double t1 = now();
            tok_session_rewind(s, 0);
            int32_t id = 1;
            double t2 = now();
            for (int i = 0; i < tg; i++) {
                tok_session_eval(s, &id, 1, logits, false, &err);
                int best = 0;
                for (int v = 1; v < vocab; v++) if (logits[v] > logits[best]) best = v;
                id = best;
            }
            double t3 = now();
            if (r) { ppr[r - 1] = pp / (t1 - t0); tgr[r - 1] = tg / (t3 - t2); }
        }
        qsort(ppr, (size_t)runs, sizeof *ppr, cmp);
        qsort(tgr, (size_t)runs, sizeof *tgr, cmp);
        printf("engine  %-22s %6.1f MB  threads %d  pp%-4d %8.1f tok/s (best %8.1f)  tg%-3d %8.1f tok/s (best %8.1f)\n",
               base, in->weight_bytes / 1e6, nt, pp, ppr[runs / 2], ppr[runs - 1], tg, tgr[runs / 2], tgr[runs - 1]);
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
    if (runs < 1) runs = 1;
    if (runs > 32) runs = 32;
    if (pp < 1) pp = 1;
    if (tg < 1) tg = 1;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) bench_model(argv[i], runs, pp, tg);
        return 0;
    }
    bench_model("data/models/tiny-kjv-Q8_0.gguf", runs, pp, tg);
    const char *shared = getenv("SHARED") ? getenv("SHARED") : "../shared";
    const char *more[] = {"tiny-kjv-f32.gguf", "tiny-kjv-f16.gguf", "tiny-kjv-Q4_0.gguf", "tiny-kjv-Q4_K_M.gguf",
                          "tiny-kjv-Q6_K.gguf"};
    for (int i = 0; i < 5; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/models/tiny-kjv/%s", shared, more[i]);
        FILE *f = fopen(p, "rb");
        if (f) { fclose(f); bench_model(p, runs, pp, tg); }
    }
    return 0;
}
