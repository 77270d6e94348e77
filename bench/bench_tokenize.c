/*
 * bench_tokenize: libtok throughput on one text file, through the public API
 * only (libtok/tok.h). bench/run.sh runs it beside the peers' drivers
 * (bench/peers/) and assembles the tables of docs/benchmarks.md.
 *
 *   bench_tokenize --encoding NAME --file F [--runs 5] [--chunk 65536]
 *                  [--mode encode|count|batch|stream] [--threads N]
 *
 * Every mode prints one parseable line (key=value, split on spaces):
 *   result impl=tok mode=encode encoding=cl100k_base file=english.txt bytes=N
 *          docs=N tokens=N idsum=XXXXXXXX runs=5 threads=1 median_s=S mb_s=M
 *
 * Method, shared with bench/peers/npm_peer.js and quicktok_bench.cpp so the
 * checksums of all of them must agree on the same file:
 * - documents: at most --chunk bytes, cut after the last '\n' in the window
 *   (else at a UTF-8 boundary); --chunk 0 = the whole file is one document;
 * - idsum: every id of every document in order folded as h = (h ^ id) *
 *   16777619 from 2166136261 (32 bits), computed in one untimed pass;
 * - one warm-up pass over the first ~1 MB of documents, then --runs timed
 *   passes; the median pass gives MB/s (input bytes / 1e6 / seconds), both
 *   by the wall clock (mb_s) and by this process's CPU time (cpu_mb_s: what
 *   run.sh tabulates for single-thread figures, since on a shared machine
 *   other jobs stretch wall time but not CPU time).
 *
 * Modes: encode = tok_encode per document on this thread (ids kept in one
 * reused buffer); count = tok_count per document; batch = tok_encode_batch of
 * all documents on --threads threads; stream = tok_counter fed the file in
 * 1 MiB reads (never holding the whole file: for files of any size), one
 * pass, also printing peak RSS (KiB) from getrusage.
 *
 * Cost: the file is held in memory once (except stream mode) plus the ids of
 * the largest document (batch mode: of all documents).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tok.h"

/* ---- small helpers --------------------------------------------------------- */

static void usage(const char *msg) {
    fprintf(stderr, "bench_tokenize: %s\n"
                    "usage: bench_tokenize --encoding NAME --file F [--runs N] [--chunk BYTES]\n"
                    "                      [--mode encode|count|batch|stream] [--threads N]\n", msg);
    exit(2);
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint32_t fold(uint32_t h, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)ids[i]) * 16777619u;
    return h;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            else buf = nb;
        }
    }
    if (ferror(f)) { free(buf); buf = NULL; }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- documents --------------------------------------------------------------- */

typedef struct docs {
    const char **text;
    size_t *len;
    size_t n;
} docs;

/* End of the document that starts at `start`: the shared cutting rule. */
static size_t doc_end(const char *buf, size_t len, size_t start, size_t chunk) {
    if (chunk == 0 || len - start <= chunk) return len;
    size_t end = start + chunk;
    const char *nl = memrchr(buf + start, '\n', end - start);
    if (nl) return (size_t)(nl - buf) + 1;
    while (end > start + 1 && ((unsigned char)buf[end] & 0xC0) == 0x80) end--;
    return end;
}

/* Two passes (count, then fill) so no array is ever resized. */
static int split_docs(const char *buf, size_t len, size_t chunk, docs *d) {
    size_t n = 0;
    for (size_t s = 0; s < len; s = doc_end(buf, len, s, chunk)) n++;
    d->text = malloc((n ? n : 1) * sizeof *d->text);
    d->len = malloc((n ? n : 1) * sizeof *d->len);
    if (!d->text || !d->len) return -1;
    d->n = 0;
    for (size_t s = 0, e; s < len; s = e) {
        e = doc_end(buf, len, s, chunk);
        d->text[d->n] = buf + s;
        d->len[d->n++] = e - s;
    }
    return 0;
}

/* ---- one timed pass per mode -------------------------------------------------- */

enum mode { MODE_ENCODE, MODE_COUNT, MODE_BATCH, MODE_STREAM };

typedef struct bench {
    const tok_tokenizer *t;
    tok_encode_params p;
    const docs *d;
    int threads;
    tok_ids one;   /* reused by encode mode */
    tok_ids *outs; /* one per document, batch mode */
} bench;

/* Tokens of the first n documents, or (size_t)-1 with err filled. */
static size_t pass(bench *b, enum mode m, size_t n, tok_error *err) {
    size_t total = 0;
    if (m == MODE_BATCH) {
        for (size_t i = 0; i < n; i++) b->outs[i].n = 0;
        if (tok_encode_batch(b->t, b->d->text, b->d->len, n, &b->p, b->threads, b->outs, err))
            return (size_t)-1;
        for (size_t i = 0; i < n; i++) total += b->outs[i].n;
        return total;
    }
    for (size_t i = 0; i < n; i++) {
        if (m == MODE_COUNT) {
            size_t c = 0;
            if (tok_count(b->t, b->d->text[i], b->d->len[i], &b->p, &c, err)) return (size_t)-1;
            total += c;
        } else {
            b->one.n = 0;
            if (tok_encode(b->t, b->d->text[i], b->d->len[i], &b->p, &b->one, err)) return (size_t)-1;
            total += b->one.n;
        }
    }
    return total;
}

/* ---- stream mode: tok_counter over the file in 1 MiB reads ---------------------- */

static int run_stream(const tok_tokenizer *t, const tok_encode_params *p, const char *enc,
                      const char *path) {
    tok_error err = {0};
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "bench_tokenize: %s: cannot open\n", path); return 1; }
    enum { PIECE = 1 << 20 };
    char *piece = malloc(PIECE);
    double t0 = now_s(), c0 = cpu_s();
    tok_counter *c = piece ? tok_counter_new(t, p, &err) : NULL;
    size_t bytes = 0, tokens = 0;
    int rc = c ? 0 : 1;
    while (!rc) {
        size_t r = fread(piece, 1, PIECE, f);
        if (r == 0) break;
        bytes += r;
        rc = tok_counter_feed(c, piece, r, &err);
    }
    if (!rc && ferror(f)) { snprintf(err.msg, sizeof err.msg, "%s: read error", path); rc = 1; }
    if (!rc) rc = tok_counter_finish(c, &tokens, &err);
    double secs = now_s() - t0, csecs = cpu_s() - c0;
    tok_counter_free(c);
    free(piece);
    fclose(f);
    if (rc) { fprintf(stderr, "bench_tokenize: %s: %s\n", path, err.msg); return 1; }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("result impl=tok mode=stream encoding=%s file=%s bytes=%zu docs=1 tokens=%zu runs=1 "
           "threads=1 median_s=%.6f mb_s=%.2f cpu_s=%.6f cpu_mb_s=%.2f peak_rss_kib=%ld\n",
           enc, base_name(path), bytes, tokens, secs, bytes / 1e6 / secs, csecs, bytes / 1e6 / csecs,
           ru.ru_maxrss);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    const char *enc = NULL, *path = NULL, *mode_s = "encode";
    long runs = 5, chunk = 65536, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("bench_tokenize --encoding NAME --file F [--runs 5] [--chunk 65536]\n"
                   "               [--mode encode|count|batch|stream] [--threads 1]\n"
                   "Prints one 'result key=value ...' line with the median MB/s.\n");
            return 0;
        }
        if (i + 1 >= argc) usage("every option takes a value");
        const char *k = argv[i], *v = argv[++i];
        if (!strcmp(k, "--encoding")) enc = v;
        else if (!strcmp(k, "--file")) path = v;
        else if (!strcmp(k, "--runs")) runs = atol(v);
        else if (!strcmp(k, "--chunk")) chunk = atol(v);
        else if (!strcmp(k, "--threads")) threads = atol(v);
        else if (!strcmp(k, "--mode")) mode_s = v;
        else usage("unknown option");
    }
    if (!enc || !path) usage("--encoding and --file are required");
    if (runs < 1 || chunk < 0 || threads < 0) usage("bad --runs, --chunk or --threads");
    enum mode m;
    if (!strcmp(mode_s, "encode")) m = MODE_ENCODE;
    else if (!strcmp(mode_s, "count")) m = MODE_COUNT;
    else if (!strcmp(mode_s, "batch")) m = MODE_BATCH;
    else if (!strcmp(mode_s, "stream")) m = MODE_STREAM;
    else usage("unknown --mode");

    tok_error err = {0};
    tok_tokenizer *t = tok_load(enc, &err);
    if (!t) { fprintf(stderr, "bench_tokenize: %s: %s\n", enc, err.msg); return 1; }
    bench b = {.t = t, .p = tok_encode_default_params(), .threads = (int)threads};
    if (m == MODE_STREAM) {
        int rc = run_stream(t, &b.p, enc, path);
        tok_free(t);
        return rc;
    }

    size_t len = 0;
    char *buf = read_all(path, &len);
    if (!buf) { fprintf(stderr, "bench_tokenize: %s: cannot read\n", path); tok_free(t); return 1; }
    docs d = {0};
    if (split_docs(buf, len, (size_t)chunk, &d)) { fprintf(stderr, "bench_tokenize: out of memory\n"); return 1; }
    b.d = &d;
    b.outs = calloc(d.n ? d.n : 1, sizeof *b.outs);

    /* The ids checksum and token count every timed pass must match. This
     * first pass meets every piece for the first time (no cache holds it
     * yet): its CPU time is reported as the cold figure, first_cpu_mb_s. */
    uint32_t idsum = 2166136261u;
    size_t tokens = 0;
    int rc = 0;
    double first_c0 = cpu_s();
    for (size_t i = 0; i < d.n && !rc; i++) {
        b.one.n = 0;
        rc = tok_encode(t, d.text[i], d.len[i], &b.p, &b.one, &err);
        idsum = fold(idsum, b.one.ids, b.one.n);
        tokens += b.one.n;
    }
    double first_cpu = cpu_s() - first_c0;
    size_t warm = 0, wbytes = 0;
    while (warm < d.n && wbytes < 1000000) wbytes += d.len[warm++];
    if (!rc && pass(&b, m, warm, &err) == (size_t)-1) rc = 1;

    double *times = calloc((size_t)runs * 2, sizeof *times), *cpu = times + runs;
    for (long r = 0; r < runs && !rc; r++) {
        double t0 = now_s(), c0 = cpu_s();
        size_t n = pass(&b, m, d.n, &err);
        times[r] = now_s() - t0;
        cpu[r] = cpu_s() - c0;
        if (n == (size_t)-1) rc = 1;
        else if (n != tokens) {
            fprintf(stderr, "bench_tokenize: %s: %s pass %ld gave %zu tokens, tok_encode %zu\n",
                    path, mode_s, r, n, tokens);
            rc = 1;
            err.msg[0] = 0;
        }
    }
    if (rc && err.msg[0]) fprintf(stderr, "bench_tokenize: %s: %s\n", path, err.msg);
    if (!rc) {
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
        double med = times[runs / 2], cmed = cpu[runs / 2];
        printf("result impl=tok mode=%s encoding=%s file=%s bytes=%zu docs=%zu tokens=%zu "
               "idsum=%08x runs=%ld threads=%ld median_s=%.6f mb_s=%.2f cpu_s=%.6f cpu_mb_s=%.2f first_cpu_mb_s=%.2f\n",
               mode_s, enc, base_name(path), len, d.n, tokens, idsum, runs,
               m == MODE_BATCH ? threads : 1, med, len / 1e6 / med, cmed, len / 1e6 / cmed, len / 1e6 / first_cpu);
    }
    free(times);
    tok_ids_free(&b.one);
    for (size_t i = 0; i < d.n; i++) tok_ids_free(&b.outs[i]);
    free(b.outs);
    free(d.text);
    free(d.len);
    free(buf);
    tok_free(t);
    return rc ? 1 : 0;
}
