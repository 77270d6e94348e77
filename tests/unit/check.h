/*
 * A test program is a list of CHECKs; it prints one line per failed check and
 * a summary, and exits non-zero if anything failed. tests/run.sh runs them all.
 */
#ifndef TOK_CHECK_H
#define TOK_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed, check_total;

#define CHECK(cond) do { check_total++; if (!(cond)) { check_failed++; \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { check_total++; if (!(cond)) { check_failed++; \
    fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); check_total++; \
    if (_a != _b) { check_failed++; fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", \
    __FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); check_total++; \
    if (!_a || !_b || strcmp(_a, _b)) { check_failed++; fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n", \
    __FILE__, __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)

/* A whole file, NUL-terminated (len may be NULL); NULL if it cannot be read. */
static inline char *check_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}

static inline int check_summary(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
    return check_failed ? 1 : 0;
}
#endif
