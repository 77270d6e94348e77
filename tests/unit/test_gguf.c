/*
 * GGUF reader: every fixture opens and reads back what the file says; a
 * synthetic file written here exercises every metadata type; truncated and
 * corrupted variants (of the synthetic file and of a real fixture) must fail
 * with an error naming the cause, never read out of bounds (run under ASan:
 * each variant is an exact-size heap copy).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_engine.h"

/* ---- a tiny GGUF writer for the synthetic file ---- */
typedef struct { unsigned char *p; size_t n, cap; } buf;
static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 64; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }

/* Offsets of fields the corruption tests poke at. */
static size_t off_strlen, off_arrcount, off_ndims, off_ne0, off_type, off_offset, off_type2, off_ntensors, off_align;

static buf make_synthetic(void) {
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    off_ntensors = b.n;
    put_u64(&b, 2);  /* tensors */
    put_u64(&b, 9);  /* kv */
    put_str(&b, "general.architecture"); put_u32(&b, TOK_GGUF_STRING);
    off_strlen = b.n;
    put_str(&b, "llama");
    put_str(&b, "a.u8"); put_u32(&b, TOK_GGUF_U8); put(&b, "\xfe", 1);
    put_str(&b, "a.i16"); put_u32(&b, TOK_GGUF_I16); { int16_t v = -300; put(&b, &v, 2); }
    put_str(&b, "a.f32"); put_u32(&b, TOK_GGUF_F32); { float v = 0.5f; put(&b, &v, 4); }
    put_str(&b, "a.f64"); put_u32(&b, TOK_GGUF_F64); { double v = -2.25; put(&b, &v, 8); }
    put_str(&b, "a.bool"); put_u32(&b, TOK_GGUF_BOOL); put(&b, "\x01", 1);
    put_str(&b, "a.i64"); put_u32(&b, TOK_GGUF_I64); { int64_t v = -5000000000LL; put(&b, &v, 8); }
    put_str(&b, "a.strs"); put_u32(&b, TOK_GGUF_ARRAY); put_u32(&b, TOK_GGUF_STRING);
    off_arrcount = b.n;
    put_u64(&b, 3); put_str(&b, "x"); put_str(&b, ""); put_str(&b, "hello");
    put_str(&b, "general.alignment"); put_u32(&b, TOK_GGUF_U32);
    off_align = b.n;
    put_u32(&b, 64);
    /* tensor 0: F32 [4, 2] at 0; tensor 1: Q8_0 [32] at 64 */
    put_str(&b, "t0");
    off_ndims = b.n;
    put_u32(&b, 2);
    off_ne0 = b.n;
    put_u64(&b, 4); put_u64(&b, 2);
    off_type = b.n;
    put_u32(&b, TOK_TYPE_F32);
    off_offset = b.n;
    put_u64(&b, 0);
    put_str(&b, "t1"); put_u32(&b, 1); put_u64(&b, 32);
    off_type2 = b.n;
    put_u32(&b, TOK_TYPE_Q8_0); put_u64(&b, 64);
    while (b.n % 64) put(&b, "", 1);
    for (int i = 0; i < 64 + 34; i++) put(&b, "\x01", 1);
    return b;
}

/* Opens an exact-size heap copy so ASan sees any overread. */
static tok_gguf *open_copy(const unsigned char *p, size_t n, tok_error *err) {
    unsigned char *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    tok_gguf *g = tok_gguf_open_memory(c, n, "variant.gguf", err);
    if (g) tok_gguf_close(g);
    free(c);
    return g;
}
static void expect_error(const buf *b, const char *cause) {
    tok_error err = {0};
    tok_gguf *g = open_copy(b->p, b->n, &err);
    CHECK_MSG(g == NULL, "variant expected to fail with '%s' opened", cause);
    CHECK_MSG(err.code != 0 && strstr(err.msg, "variant.gguf") && strstr(err.msg, cause),
              "error '%s' should name the file and '%s'", err.msg, cause);
}
static void poke64(buf *b, size_t off, uint64_t v) { memcpy(b->p + off, &v, 8); }
static void poke32(buf *b, size_t off, uint32_t v) { memcpy(b->p + off, &v, 4); }

static void test_synthetic(void) {
    buf b = make_synthetic();
    tok_error err = {0};
    tok_gguf *g = tok_gguf_open_memory(b.p, b.n, "synthetic.gguf", &err);
    CHECK_MSG(g != NULL, "%s", err.msg);
    if (!g) return;
    int64_t iv;
    double fv;
    bool bv;
    CHECK_EQ_STR(tok_gguf_get_string(g, "general.architecture"), "llama");
    CHECK(tok_gguf_get_int(g, "a.u8", &iv) && iv == 254);
    CHECK(tok_gguf_get_int(g, "a.i16", &iv) && iv == -300);
    CHECK(tok_gguf_get_float(g, "a.f32", &fv) && fv == 0.5);
    CHECK(tok_gguf_get_float(g, "a.f64", &fv) && fv == -2.25);
    CHECK(tok_gguf_get_bool(g, "a.bool", &bv) && bv);
    CHECK(tok_gguf_get_int(g, "a.i64", &iv) && iv == -5000000000LL);
    CHECK(!tok_gguf_get_int(g, "general.architecture", &iv)); /* wrong type */
    CHECK(!tok_gguf_get_int(g, "missing", &iv));
    CHECK_EQ_INT(tok_gguf_alignment(g), 64);
    int et;
    uint64_t n;
    CHECK(tok_gguf_get_array(g, "a.strs", &et, &n) && et == TOK_GGUF_STRING && n == 3);
    int64_t k = tok_gguf_find_key(g, "a.strs");
    tok_gguf_str s = tok_gguf_array_string(g, k, 2);
    CHECK(s.len == 5 && !memcmp(s.s, "hello", 5));
    CHECK(tok_gguf_array_string(g, k, 1).len == 0);
    CHECK_EQ_INT(tok_gguf_n_tensors(g), 2);
    const tok_gguf_tensor *t1 = tok_gguf_find_tensor(g, "t1");
    CHECK(t1 && t1->type == TOK_TYPE_Q8_0 && t1->nbytes == 34 && t1->ne[0] == 32);
    CHECK(t1 && (const unsigned char *)t1->data == b.p + tok_gguf_data_offset(g) + 64);
    tok_gguf_close(g);

    /* every truncation fails cleanly */
    int trunc_ok = 0;
    for (size_t cut = 0; cut < b.n; cut++) {
        tok_error e = {0};
        if (open_copy(b.p, cut, &e) == NULL && e.code) trunc_ok++;
    }
    CHECK_EQ_INT(trunc_ok, (long long)b.n);

    buf v = {0};
#define VARIANT(stmt, cause) do { v.n = 0; put(&v, b.p, b.n); stmt; expect_error(&v, cause); } while (0)
    VARIANT(memcpy(v.p, "GGUX", 4), "magic");
    VARIANT(poke32(&v, 4, 1), "version 1");
    VARIANT(poke64(&v, off_ntensors, 1ULL << 60), "tensor count");
    VARIANT(poke64(&v, off_strlen, 1ULL << 62), "string length");
    VARIANT(poke64(&v, off_strlen, UINT64_MAX), "string length");
    VARIANT(poke64(&v, off_arrcount, 1ULL << 61), "exceeds the file");
    VARIANT(poke32(&v, off_align, 48), "power of two");
    VARIANT(poke32(&v, off_ndims, 7), "dimensions");
    VARIANT(poke64(&v, off_ne0, 1ULL << 62), "overflows");
    VARIANT(poke64(&v, off_ne0, 1ULL << 40), "outside the data section");
    VARIANT(poke64(&v, off_ne0, UINT64_MAX), "negative");
    VARIANT(poke32(&v, off_type, 99), "unknown tensor type 99");
    VARIANT(poke32(&v, off_type2, TOK_TYPE_Q4_K), "block size");
    VARIANT(poke64(&v, off_offset, 1ULL << 63), "outside the data section");
    VARIANT(poke64(&v, off_offset, UINT64_MAX - 63), "outside the data section");
    VARIANT(poke64(&v, off_offset, 3), "alignment");
    VARIANT(v.n -= 1, "outside the data section");
#undef VARIANT
    free(v.p);
    free(b.p);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*n);
    if (fread(p, 1, *n, f) != *n) { free(p); p = NULL; }
    fclose(f);
    return p;
}

/* A real fixture cut at many places and with random bytes flipped in its
 * header: each variant opens or fails, never crashes. */
static void test_fixture_corruptions(const char *path) {
    size_t n;
    unsigned char *p = slurp(path, &n);
    CHECK_MSG(p != NULL, "cannot read %s", path);
    if (!p) return;
    tok_error err = {0};
    tok_gguf *g = tok_gguf_open_memory(p, n, path, &err);
    CHECK_MSG(g != NULL, "%s", err.msg);
    uint64_t data = g ? tok_gguf_data_offset(g) : 0;
    if (g) tok_gguf_close(g);
    int failed = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += cut < data + 64 ? 1499 : 65521, tried++) {
        tok_error e = {0};
        if (!open_copy(p, cut, &e) && e.code) failed++;
    }
    CHECK_EQ_INT(failed, tried);
    uint32_t rng = 12345;
    for (int i = 0; i < 300; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, p, n);
        for (int k = 0; k < 4; k++) {
            rng = rng * 1103515245u + 12345u;
            c[(rng >> 8) % (data ? data : n)] ^= (unsigned char)(1u << ((rng >> 4) & 7));
        }
        tok_error e = {0};
        tok_gguf *h = tok_gguf_open_memory(c, n, "flipped.gguf", &e);
        if (h) tok_gguf_close(h);
        else CHECK_MSG(e.code != 0 && e.msg[0], "failure without a message");
        free(c);
    }
    free(p);
}

static void test_fixture(const char *path) {
    tok_error err = {0};
    tok_gguf *g = tok_gguf_open(path, &err);
    CHECK_MSG(g != NULL, "%s: %s", path, err.msg);
    if (!g) return;
    const char *arch = tok_gguf_get_string(g, "general.architecture");
    CHECK_MSG(arch && (!strcmp(arch, "llama") || !strcmp(arch, "qwen2")), "%s: arch", path);
    char key[96];
    snprintf(key, sizeof key, "%s.embedding_length", arch ? arch : "?");
    int64_t dim = 0;
    CHECK(tok_gguf_get_int(g, key, &dim) && dim > 0);
    const tok_gguf_tensor *emb = tok_gguf_find_tensor(g, "token_embd.weight");
    CHECK_MSG(emb && emb->ne[0] == dim, "%s: token_embd", path);
    int et;
    uint64_t nvocab;
    CHECK(tok_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &nvocab) && et == TOK_GGUF_STRING);
    CHECK(emb && (uint64_t)emb->ne[1] == nvocab);
    /* tensors tile the data section in order, like llama.cpp requires */
    uint64_t expect = 0;
    for (int64_t i = 0; i < tok_gguf_n_tensors(g); i++) {
        const tok_gguf_tensor *t = tok_gguf_tensor_at(g, i);
        CHECK_MSG(t->offset == expect, "%s: %s offset", path, t->name);
        expect = (t->offset + t->nbytes + 31) / 32 * 32;
    }
    tok_gguf_close(g);
}

static void for_each_gguf(const char *dir, void (*fn)(const char *)) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".gguf")) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            fn(path);
        }
    }
    closedir(d);
}

int main(void) {
    test_synthetic();
    test_fixture("tests/data/models/llama-rand-tiny-Q4_0.gguf");
    test_fixture_corruptions("tests/data/models/llama-rand-tiny-Q4_0.gguf");
    tok_error err = {0};
    CHECK(tok_gguf_open("tests/data/models/does-not-exist.gguf", &err) == NULL && err.code == TOK_EIO &&
          strstr(err.msg, "does-not-exist.gguf"));
    const char *shared = getenv("SHARED");
    if (shared) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/models", shared);
        for_each_gguf(dir, test_fixture);
        snprintf(dir, sizeof dir, "%s/models/tiny-kjv", shared);
        for_each_gguf(dir, test_fixture);
    }
    return check_summary("test_gguf");
}
