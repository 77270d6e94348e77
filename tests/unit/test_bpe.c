/* libtok core: pre-tokenizer fast paths vs PCRE2, heap vs array BPE, worst
 * cases, streaming counts, batch, UTF-8 policies, special-token modes. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tokenizer.h"

/* The texts of a reference JSONL file, concatenated with newlines. */
static char *corpus_texts(const char *path, size_t *n) {
    size_t len;
    char *data = check_read_file(path, &len);
    if (!data) return NULL;
    tok_bytes out = {0};
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
        if (cJSON_IsString(t)) {
            tok_bytes_append(&out, t->valuestring, strlen(t->valuestring));
            tok_bytes_append(&out, "\n", 1);
        }
        cJSON_Delete(o);
    }
    free(data);
    *n = out.n;
    return out.data;
}

typedef struct pieces {
    size_t *ends;
    size_t n, cap;
} pieces;

static int collect(void *ctx, const char *text, size_t a, size_t b) {
    pieces *p = ctx;
    if (p->n == p->cap) p->ends = realloc(p->ends, (p->cap = p->cap ? p->cap * 2 : 1024) * sizeof *p->ends);
    p->ends[p->n++] = b;
    return 0;
}

/* The hand-written matcher and PCRE2 must cut every text identically. */
static void check_fast_equals_pcre(const char *enc, const char *text, size_t len) {
    tok_error err = {0};
    tok_tokenizer *t = tok_load(enc, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) return;
    CHECK(t->pt.n == 1 && t->pt.stages[0].fast != FAST_NONE);
    pieces a = {0}, b = {0};
    CHECK_EQ_INT(pretok_run(&t->pt, text, len, collect, &a, &err), 0);
    t->pt.force_pcre = 1;
    CHECK_EQ_INT(pretok_run(&t->pt, text, len, collect, &b, &err), 0);
    CHECK_MSG(a.n == b.n, "%s: %zu pieces vs %zu", enc, a.n, b.n);
    size_t first = 0;
    while (first < a.n && first < b.n && a.ends[first] == b.ends[first]) first++;
    CHECK_MSG(first == a.n && first == b.n, "%s: pieces differ from piece %zu (byte %zu)", enc, first,
              first < a.n ? a.ends[first] : 0);
    free(a.ends);
    free(b.ends);
    tok_free(t);
}

static void check_heap_equals_array(const char *enc, const char *text, size_t len) {
    tok_error err = {0};
    tok_tokenizer *t = tok_load(enc, &err);
    if (!t) return;
    t->whole_lookup = false; /* force merging of every piece */
    tok_ids a = {0}, b = {0};
    size_t saved = bpe_heap_threshold;
    bpe_heap_threshold = (size_t)-1;
    CHECK_EQ_INT(tok_encode(t, text, len, NULL, &a, &err), 0);
    bpe_heap_threshold = 2;
    CHECK_EQ_INT(tok_encode(t, text, len, NULL, &b, &err), 0);
    bpe_heap_threshold = saved;
    CHECK_MSG(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids), "%s: heap and array merges differ", enc);
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_free(t);
}

static void check_roundtrip(const tok_tokenizer *t, const char *text, size_t len, const char *what) {
    tok_ids ids = {0};
    tok_bytes out = {0};
    tok_error err = {0};
    CHECK_MSG(tok_encode(t, text, len, NULL, &ids, &err) == 0, "%s: %s", what, err.msg);
    CHECK_MSG(tok_decode(t, ids.ids, ids.n, false, &out, &err) == 0, "%s: %s", what, err.msg);
    CHECK_MSG(out.n == len && !memcmp(out.data, text, len), "%s: decode(encode(x)) != x", what);
    size_t count = 0;
    CHECK_EQ_INT(tok_count(t, text, len, NULL, &count, &err), 0);
    CHECK_EQ_INT(count, ids.n);
    tok_ids_free(&ids);
    tok_bytes_free(&out);
}

static void worst_cases(void) {
    tok_error err = {0};
    tok_tokenizer *t = tok_load("cl100k_base", &err);
    CHECK(t != NULL);
    if (!t) return;
    size_t n = 1 << 20;
    char *s = malloc(n);
    const char fills[] = {'a', ' ', '\n', '!', '7'};
    for (size_t k = 0; k < sizeof fills; k++) {
        memset(s, fills[k], n);
        char what[32];
        snprintf(what, sizeof what, "1 MB of 0x%02x", fills[k]);
        check_roundtrip(t, s, n, what);
    }
    /* a 1 MB run of one 3-byte character (no spaces) */
    for (size_t i = 0; i + 3 <= n; i += 3) memcpy(s + i, "\xe4\xb8\x80", 3);
    check_roundtrip(t, s, n / 3 * 3, "1 MB of U+4E00");
    free(s);
    tok_free(t);
}

static void streaming_and_batch(const char *text, size_t len) {
    tok_error err = {0};
    tok_tokenizer *t = tok_load("o200k_base", &err);
    if (!t) return;
    size_t whole = 0, streamed = 0;
    CHECK_EQ_INT(tok_count(t, text, len, NULL, &whole, &err), 0);
    /* feed in odd-sized pieces, several windows' worth */
    tok_counter *c = tok_counter_new(t, NULL, &err);
    size_t reps = (3u << 20) / (len + 1) + 1;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < len; i += 7777) tok_counter_feed(c, text + i, len - i < 7777 ? len - i : 7777, &err);
    CHECK_EQ_INT(tok_counter_finish(c, &streamed, &err), 0);
    tok_counter_free(c);
    /* the repeated text's count: the joins between copies may merge tokens,
     * so compare with counting the same concatenation in one go */
    tok_bytes all = {0};
    for (size_t r = 0; r < reps; r++) tok_bytes_append(&all, text, len);
    size_t direct = 0;
    CHECK_EQ_INT(tok_count(t, all.data, all.n, NULL, &direct, &err), 0);
    CHECK_EQ_INT(streamed, direct);
    CHECK(whole > 0);
    tok_bytes_free(&all);

    /* batch on 2 threads equals one by one */
    enum { N = 64 };
    const char *texts[N];
    size_t lens[N];
    tok_ids outs[N];
    memset(outs, 0, sizeof outs);
    for (int i = 0; i < N; i++) {
        size_t off = (len / N) * (size_t)i;
        while (off < len && ((unsigned char)text[off] & 0xC0) == 0x80) off++;
        texts[i] = text + off;
        lens[i] = len - off;
    }
    CHECK_EQ_INT(tok_encode_batch(t, texts, lens, N, NULL, 2, outs, &err), 0);
    for (int i = 0; i < N; i += 9) {
        tok_ids one = {0};
        tok_encode(t, texts[i], lens[i], NULL, &one, &err);
        CHECK(one.n == outs[i].n && !memcmp(one.ids, outs[i].ids, one.n * sizeof *one.ids));
        tok_ids_free(&one);
    }
    for (int i = 0; i < N; i++) tok_ids_free(&outs[i]);
    tok_free(t);
}

static void utf8_and_specials(void) {
    tok_error err = {0};
    tok_tokenizer *t = tok_load("cl100k_base", &err);
    if (!t) return;
    tok_ids ids = {0};
    const char bad[] = "ok \xff\xfe then";
    CHECK_EQ_INT(tok_encode(t, bad, sizeof bad - 1, NULL, &ids, &err), TOK_EUTF8);
    CHECK_MSG(strstr(err.msg, "byte 3") != NULL, "%s", err.msg);
    tok_encode_params p = tok_encode_default_params();
    p.utf8 = TOK_UTF8_REPLACE;
    ids.n = 0;
    CHECK_EQ_INT(tok_encode(t, bad, sizeof bad - 1, &p, &ids, &err), 0);
    tok_bytes out = {0};
    tok_decode(t, ids.ids, ids.n, false, &out, &err);
    CHECK_EQ_STR(out.data, "ok \xEF\xBF\xBD\xEF\xBF\xBD then");

    const char *s = "a<|endoftext|>b";
    ids.n = 0;
    CHECK_EQ_INT(tok_encode(t, s, strlen(s), NULL, &ids, &err), 0);
    CHECK(ids.n > 3); /* plain text by default */
    p = tok_encode_default_params();
    p.special = TOK_SPECIAL_ALL;
    ids.n = 0;
    tok_encode(t, s, strlen(s), &p, &ids, &err);
    CHECK(ids.n == 3 && ids.ids[1] == 100257);
    p.special = TOK_SPECIAL_ERROR;
    CHECK_EQ_INT(tok_encode(t, s, strlen(s), &p, &ids, &err), TOK_ESPECIAL);
    const char *allow[] = {"<|endoftext|>", NULL};
    p.allowed = allow;
    ids.n = 0;
    CHECK_EQ_INT(tok_encode(t, s, strlen(s), &p, &ids, &err), 0);
    CHECK(ids.n == 3 && ids.ids[1] == 100257);
    int32_t oob = 999999;
    CHECK_EQ_INT(tok_decode(t, &oob, 1, false, &out, &err), TOK_ERANGE);
    tok_bytes_free(&out);
    tok_ids_free(&ids);
    tok_free(t);
}

/* The validating automaton agrees with decoding character by character. */
static size_t utf8_reference(const unsigned char *u, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        int k = u[i] < 0x80 ? 1 : tok_utf8_decode(u + i, len - i, &cp);
        if (!k) return i;
        i += (size_t)k;
    }
    return len;
}

static void utf8_validation(void) {
    unsigned seed = 1;
    unsigned char b[64];
    int bad = 0;
    for (long it = 0; it < 300000; it++) {
        /* short strings of any bytes, and (every other one) up to 63 bytes
         * mostly ASCII, so the 16-byte ASCII steps and their ends are met */
        size_t n = (seed = seed * 1103515245u + 12345u) >> 16 & (it & 1 ? 63 : 15);
        for (size_t i = 0; i < n; i++) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            unsigned kind = it & 1 && r % 8 < 6 ? 0 : r % 6, x = r >> 3;
            b[i] = (unsigned char)(kind == 0 ? x % 128 : kind == 1 ? 0x80 + x % 64 : kind == 2 ? 0xC0 + x % 64
                                   : kind == 3 ? 0xE0 + x % 16 : kind == 4 ? 0xF0 + x % 16 : x % 256);
        }
        if (tok_utf8_check((const char *)b, n) != utf8_reference(b, n)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* Long texts of valid characters (the 32-byte vector path of the check),
 * with edge code points, and then one byte overwritten or the end cut: the
 * check agrees with decoding character by character. */
static void utf8_validation_long(void) {
    static const uint32_t edges[] = {0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF,
                                     0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
    unsigned seed = 7;
    unsigned char b[400];
    int bad = 0;
    for (long it = 0; it < 200000; it++) {
        size_t n = 0, want = ((seed = seed * 1103515245u + 12345u) >> 16) % 380;
        unsigned script = (seed >> 8) % 4; /* mostly ASCII, 2-byte, 3-byte or any */
        while (n < want) {
            unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
            uint32_t cp;
            if (r % 16 == 0) cp = edges[(r >> 4) % (sizeof edges / sizeof *edges)];
            else if (script == 0 || r % 5 == 0) cp = 0x20 + r % 95;
            else if (script == 1) cp = 0x80 + r % 0x780;
            else if (script == 2) cp = 0x800 + r % 0xF800;
            else cp = (r * 2654435761u) % 0x110000;
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xE000;
            char tmp[4];
            int k = tok_utf8_encode(cp, tmp);
            memcpy(b + n, tmp, (size_t)k);
            n += (size_t)k;
        }
        unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
        if (n && r % 3 == 1) b[(r >> 2) % n] = (unsigned char)(seed >> 3);
        if (n && r % 3 == 2) n -= (r >> 2) % (n < 4 ? n : 4);
        if (tok_utf8_check((const char *)b, n) != utf8_reference(b, n)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* A .tiktoken file that is not a regular file (a pipe, as from a shell's
 * process substitution) is read rather than mapped, with the same result. */
typedef struct pipe_feed {
    int fd;
    const char *text;
} pipe_feed;

static void *feed_pipe(void *arg) {
    pipe_feed *f = arg;
    size_t n = strlen(f->text);
    CHECK(write(f->fd, f->text, n) == (ssize_t)n);
    close(f->fd);
    return NULL;
}

static void rank_file_from_pipe(void) {
    const char *ranks = "YQ== 0\nYg== 1\nYWI= 2\nYWJhYg== 3\r\n\n";
    int fds[2];
    CHECK(pipe(fds) == 0);
    pipe_feed feed = {fds[1], ranks};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, feed_pipe, &feed) == 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
    tok_error err = {0};
    tok_tokenizer *t = tok_load_tiktoken(path, "cl100k_base", NULL, 0, &err);
    pthread_join(th, NULL);
    close(fds[0]);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) return;
    tok_ids ids = {0};
    CHECK(tok_encode(t, "ababab", 6, NULL, &ids, &err) == 0);
    CHECK_EQ_INT(ids.n, 2);
    if (ids.n == 2) {
        CHECK_EQ_INT(ids.ids[0], 3);
        CHECK_EQ_INT(ids.ids[1], 2);
    }
    tok_ids_free(&ids);
    tok_free(t);
}

/* Malformed tokenizer files give an error naming the cause, never a crash. */
static void malformed_files(void) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/tok_test_%d.tiktoken", dir, (int)getpid());
    struct { const char *content, *expect; } cases[] = {
        {"YQ== 0\nYg== x\n", "not a number"},
        {"YQ== 0\n!!!! 1\n", "invalid base64"},
        {"YQ== 0\nYQ== 1\n", "same bytes"},
        {"YQ== 0\nYg== 0\n", "defined twice"},
        {"YQ== 99999999999999999999\n", "too large"},
        {"YQ==\n", "expected"},
        {"", "no tokens"},
        {NULL, "longer than 2304 bytes"}, /* 3076 base64 digits */
    };
    char long_line[3100];
    memset(long_line, 'Q', 3076);
    memcpy(long_line + 3076, " 0\n", 4);
    cases[sizeof cases / sizeof *cases - 1].content = long_line;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(path, "wb");
        fputs(cases[i].content, f);
        fclose(f);
        tok_error err = {0};
        tok_tokenizer *t = tok_load_tiktoken(path, "cl100k_base", NULL, 0, &err);
        CHECK_MSG(t == NULL && strstr(err.msg, cases[i].expect), "case %zu: %s", i, err.msg);
        tok_free(t);
    }
    snprintf(path, sizeof path, "%s/tok_test_%d.json", dir, (int)getpid());
    struct { const char *content, *expect; } json[] = {
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "merges[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", "Whitespace"},
        {"{\"model\": {\"type\": \"WordLevel\"}}", "WordLevel"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e30}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "merged token"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {", "invalid JSON"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}", "regex"},
    };
    for (size_t i = 0; i < sizeof json / sizeof *json; i++) {
        FILE *f = fopen(path, "wb");
        fputs(json[i].content, f);
        fclose(f);
        tok_error err = {0};
        tok_tokenizer *t = tok_load(path, &err);
        CHECK_MSG(t == NULL && strstr(err.msg, json[i].expect), "json case %zu: %s", i, err.msg);
        tok_free(t);
    }
    remove(path);
}

/* ids of text through a fresh explicit encoder (its own, empty cache) */
static tok_ids fresh_ids(const tok_tokenizer *t, const char *text, size_t len) {
    tok_error err = {0};
    tok_ids ids = {0};
    tok_encoder *e = tok_encoder_new(t, &err);
    CHECK(e != NULL);
    if (e) CHECK_EQ_INT(tok_encoder_encode(e, text, len, NULL, &ids, &err), 0);
    tok_encoder_free(e);
    return ids;
}

static void *encode_in_thread(void *arg) {
    const tok_tokenizer *t = ((const tok_tokenizer **)arg)[0];
    const tok_ids *want = ((const tok_ids **)arg)[1];
    const char *text = ((const char **)arg)[2];
    size_t len = (size_t)((uintptr_t *)arg)[3];
    tok_ids got = {0};
    tok_encode(t, text, len, NULL, &got, &(tok_error){0});
    CHECK(got.n == want->n && !memcmp(got.ids, want->ids, got.n * sizeof *got.ids));
    tok_ids_free(&got);
    return NULL; /* the thread's encoder is freed as it exits (make asan: no leak) */
}

static void *free_in_thread(void *t) {
    tok_free(t);
    return NULL;
}

/* tok_encode keeps a cache per thread and tokenizer: it must never answer
 * for another tokenizer, even one loaded at the address of one that another
 * thread freed (this thread's encoder for it is still there), nor after it
 * has been evicted by others; a thread's encoders go with it. */
static void thread_encoders(const char *text, size_t len) {
    const char *encs[] = {"cl100k_base", "o200k_base", "r50k_base", "cl100k_base", "p50k_base",
                          "o200k_base", "r50k_base", "cl100k_base"};
    tok_tokenizer *keep = tok_load("o200k_base", &(tok_error){0});
    tok_ids keep_want = keep ? fresh_ids(keep, text, len) : (tok_ids){0};
    for (size_t i = 0; i < sizeof encs / sizeof *encs; i++) {
        tok_error err = {0};
        tok_tokenizer *t = tok_load(encs[i], &err);
        CHECK_MSG(t != NULL, "%s", err.msg);
        if (!t) continue;
        tok_ids want = fresh_ids(t, text, len);
        for (int rep = 0; rep < 2; rep++) { /* cold, then from the cache */
            tok_ids got = {0};
            CHECK_EQ_INT(tok_encode(t, text, len, NULL, &got, &err), 0);
            CHECK_MSG(got.n == want.n && !memcmp(got.ids, want.ids, got.n * sizeof *got.ids), "%s, pass %d", encs[i], rep);
            tok_ids_free(&got);
        }
        tok_ids_free(&want);
        if (keep && i % 3 == 2) { /* a tokenizer that stays loaded throughout */
            tok_ids got = {0};
            tok_encode(keep, text, len, NULL, &got, &err);
            CHECK(got.n == keep_want.n && !memcmp(got.ids, keep_want.ids, got.n * sizeof *got.ids));
            tok_ids_free(&got);
        }
        if (i % 2) tok_free(t);
        else { /* freed elsewhere: this thread keeps its encoder for t */
            pthread_t th;
            CHECK_EQ_INT(pthread_create(&th, NULL, free_in_thread, t), 0);
            pthread_join(th, NULL);
        }
    }
    if (keep) {
        const void *arg[4] = {keep, &keep_want, text, (void *)(uintptr_t)len};
        pthread_t th;
        CHECK_EQ_INT(pthread_create(&th, NULL, encode_in_thread, arg), 0);
        pthread_join(th, NULL);
    }
    tok_ids_free(&keep_want);
    tok_free(keep);
}

typedef struct batch_args {
    const tok_tokenizer *t;
    const char *const *texts;
    const size_t *lens;
    size_t n;
    const tok_ids *want;
    int ok;
} batch_args;

/* One batch on 2 threads, compared with want[]; 1 if equal. */
static int batch_matches(const batch_args *a) {
    tok_ids *outs = calloc(a->n, sizeof *outs);
    int ok = outs && tok_encode_batch(a->t, a->texts, a->lens, a->n, NULL, 2, outs, &(tok_error){0}) == 0;
    for (size_t i = 0; ok && i < a->n; i++)
        ok = outs[i].n == a->want[i].n && !memcmp(outs[i].ids, a->want[i].ids, outs[i].n * sizeof *outs[i].ids);
    for (size_t i = 0; outs && i < a->n; i++) tok_ids_free(&outs[i]);
    free(outs);
    return ok;
}

static void *batch_in_thread(void *arg) {
    batch_args *a = arg;
    a->ok = 1;
    for (int r = 0; r < 3; r++) a->ok &= batch_matches(a);
    return NULL;
}

/* tok_encode_batch's worker pool: two callers at once (one gets the pool,
 * the other threads of its own), and a child of fork, which has none of the
 * parent's workers, must still finish a batch (it hung before the pool was
 * reset after fork). */
static void batch_pool(const char *text, size_t len) {
    tok_tokenizer *t = tok_load("cl100k_base", &(tok_error){0});
    CHECK(t != NULL);
    if (!t) return;
    enum { N = 24 };
    const char *texts[N];
    size_t lens[N];
    tok_ids want[N];
    for (int i = 0; i < N; i++) {
        size_t off = (len / N) * (size_t)i;
        while (off < len && ((unsigned char)text[off] & 0xC0) == 0x80) off++;
        texts[i] = text + off;
        lens[i] = (len - off) / 4;
        while (lens[i] && ((unsigned char)texts[i][lens[i]] & 0xC0) == 0x80) lens[i]--;
        want[i] = fresh_ids(t, texts[i], lens[i]);
    }
    batch_args a = {t, texts, lens, N, want, 0}, b = a;
    pthread_t th[2];
    CHECK_EQ_INT(pthread_create(&th[0], NULL, batch_in_thread, &a), 0);
    CHECK_EQ_INT(pthread_create(&th[1], NULL, batch_in_thread, &b), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK(a.ok && b.ok);
    CHECK(batch_matches(&a)); /* the pool has workers now */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a hang ends the child with SIGALRM */
        _exit(batch_matches(&a) ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    for (int i = 0; i < N; i++) tok_ids_free(&want[i]);
    tok_free(t);
}

int main(void) {
    size_t len;
    char *text = corpus_texts("tests/data/reference/o200k_base/dev.jsonl", &len);
    CHECK(text != NULL);
    if (text) {
        check_fast_equals_pcre("cl100k_base", text, len);
        check_fast_equals_pcre("o200k_base", text, len);
        check_fast_equals_pcre("r50k_base", text, len);
        check_heap_equals_array("cl100k_base", text, len);
        check_heap_equals_array("o200k_base", text, len);
        streaming_and_batch(text, len);
        thread_encoders(text, len);
        batch_pool(text, len);
        tok_tokenizer *t = tok_load("o200k_base", &(tok_error){0});
        if (t) check_roundtrip(t, text, len, "corpus");
        tok_free(t);
    }
    free(text);
    worst_cases();
    utf8_and_specials();
    utf8_validation();
    utf8_validation_long();
    malformed_files();
    rank_file_from_pipe();
    return check_summary("test_bpe");
}
