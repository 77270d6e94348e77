/* Errors, growable arrays, file reading and UTF-8 primitives used across libtok. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int tok_fail(tok_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void tok_error_prefix(tok_error *err, const char *fmt, ...) {
    if (!err) return;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof err->msg - 2) return;
    size_t used = (size_t)n;
    memcpy(err->msg + used, ": ", 2);
    used += 2;
    size_t room = sizeof err->msg - used - 1, ol = strlen(old);
    if (ol > room) ol = room;
    memcpy(err->msg + used, old, ol);
    err->msg[used + ol] = 0;
}

void tok_ids_free(tok_ids *v) {
    if (!v) return;
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

void tok_bytes_free(tok_bytes *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->n = b->cap = 0;
}

int tok_ids_reserve(tok_ids *v, size_t extra) {
    if (v->cap - v->n >= extra) return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap - v->n < extra) cap *= 2;
    int32_t *p = realloc(v->ids, cap * sizeof *p);
    if (!p) return TOK_ENOMEM;
    v->ids = p;
    v->cap = cap;
    return 0;
}


int tok_ids_append(tok_ids *v, const int32_t *ids, size_t n) {
    if (tok_ids_reserve(v, n)) return TOK_ENOMEM;
    if (n) memcpy(v->ids + v->n, ids, n * sizeof *ids);
    v->n += n;
    return 0;
}

int tok_bytes_append(tok_bytes *b, const void *data, size_t n) {
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return TOK_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->n, data, n);
    b->n += n;
    b->data[b->n] = 0;
    return 0;
}

/* Reads f to its end into a NUL-terminated buffer and closes it. */
static char *read_stream(FILE *f, const char *path, size_t *len, tok_error *err) {
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            char *p = realloc(buf, cap + 1);
            if (!p) {
                free(buf);
                fclose(f);
                tok_fail(err, TOK_ENOMEM, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        tok_fail(err, TOK_EIO, "%s: read error", path);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

char *tok_read_file(const char *path, size_t *len, tok_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    return read_stream(f, path, len, err);
}

int tok_file_open(tok_file *f, const char *path, tok_error *err) {
    *f = (tok_file){"", 0, NULL, NULL};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
        /* a pipe, or nothing to map: read what is open (a FIFO opened a
         * second time would be a second reader) */
        FILE *in = fdopen(fd, "rb");
        if (!in) {
            close(fd);
            return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        }
        if (!(f->buf = read_stream(in, path, &f->len, err))) return err ? err->code : TOK_EIO;
        f->data = f->buf;
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return tok_fail(err, TOK_EIO, "%s: %s", path, strerror(e));
    f->map = m;
    f->data = m;
    f->len = (size_t)st.st_size;
    return 0;
}

void tok_file_close(tok_file *f) {
    if (f->map) munmap(f->map, f->len);
    free(f->buf);
    *f = (tok_file){"", 0, NULL, NULL};
}

#define HUGE_PAGE ((size_t)2 << 20)

void *tok_table_alloc(size_t n) {
#ifndef __SANITIZE_ADDRESS__ /* under ASan, heap blocks keep their redzones */
    if (n >= TOK_TABLE_HUGE) {
        /* over-map by one huge page, then trim both ends to 2 MB alignment */
        size_t span = (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        char *m = mmap(NULL, span + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (p > m) munmap(m, (size_t)(p - m));
        if (p + span < m + span + HUGE_PAGE) munmap(p + span, (size_t)(m + span + HUGE_PAGE - (p + span)));
        madvise(p, span, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
        return p;
    }
#endif
    return calloc(1, n ? n : 1);
}

void tok_table_free(void *p, size_t n) {
    if (!p) return;
#ifndef __SANITIZE_ADDRESS__
    if (n >= TOK_TABLE_HUGE) {
        munmap(p, (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE);
        return;
    }
#endif
    free(p);
}

int tok_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* UTF-8 validation (Unicode Table 3-7: E0 needs A0..BF next, ED 80..9F,
 * F0 90..BF, F4 80..8F). Returns the offset of the first sequence that is
 * invalid or cut short by the end, or len.
 *
 * Scalar: one whole character per step. */
static size_t utf8_check_scalar(const unsigned char *u, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        if (c < 0x80) { /* ASCII: then 16 bytes at a time while they are */
            i++;
            while (i + 16 <= len) {
                uint64_t a, b;
                memcpy(&a, u + i, 8);
                memcpy(&b, u + i + 8, 8);
                if ((a | b) & 0x8080808080808080ull) break;
                i += 16;
            }
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (u[i + 1] & 0xC0) != 0x80) return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (i + 2 >= len || u[i + 1] < lo || u[i + 1] > hi || (u[i + 2] & 0xC0) != 0x80) return i;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (i + 3 >= len || u[i + 1] < lo || u[i + 1] > hi || (u[i + 2] & 0xC0) != 0x80 ||
                (u[i + 3] & 0xC0) != 0x80)
                return i;
            i += 4;
        } else {
            return i;
        }
    }
    return len;
}

#if defined(__AVX2__)
#include <immintrin.h>
/*
 * AVX2: 32 bytes per step, no branch per character (mixed-script text made
 * the scalar loop's lead-byte branch unpredictable: 6-7% of encoding time).
 * Every error of Table 3-7 shows in a pair (previous byte, byte), as a
 * conjunction of conditions on three nibbles, so three 16-entry tables
 * (previous byte's high and low nibble, byte's high nibble), looked up with
 * pshufb and ANDed, leave a bit set exactly where a pair is bad:
 *   0x01 lead then no continuation     0x02 ASCII then continuation
 *   0x04 E0 80..9F (overlong)          0x08 F4 90..BF, F5..FF 90..BF
 *   0x10 ED A0..BF (surrogate)         0x20 C0/C1 then continuation
 *   0x40 F0 80..8F, F5..FF 80..8F      0x80 continuation after continuation
 * The last is an error unless the byte two back is a 3- or 4-byte lead or
 * the byte three back a 4-byte lead, which is XORed in. The vector path
 * only says whether a block is clean; the offset of an error (rare) comes
 * from the scalar loop, restarted at the end of the last clean block that
 * ended on a character boundary.
 */
size_t tok_utf8_check(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    /* by the previous byte's high nibble, its low nibble, this byte's high nibble */
    static const uint8_t prev_hi[16] = {0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
                                        0x80, 0x80, 0x80, 0x80, 0x21, 0x01, 0x15, 0x49};
    static const uint8_t prev_lo[16] = {0xE7, 0xA3, 0x83, 0x83, 0x8B, 0xCB, 0xCB, 0xCB,
                                        0xCB, 0xCB, 0xCB, 0xCB, 0xCB, 0xDB, 0xCB, 0xCB};
    static const uint8_t cur_hi[16] = {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
                                       0xE6, 0xAE, 0xBA, 0xBA, 0x01, 0x01, 0x01, 0x01};
    const __m256i hi1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)prev_hi)),
                  lo1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)prev_lo)),
                  hi0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)cur_hi));
    const __m256i nib = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8((char)0x80);
    __m256i prev = _mm256_setzero_si256();
    size_t i = 0, safe = 0;
    int pending = 0; /* the last block ended inside a character */
    for (; i + 32 <= len; i += 32) {
        __m256i in = _mm256_loadu_si256((const __m256i *)(u + i));
        if (!_mm256_movemask_epi8(in)) {
            if (pending) break;
            safe = i + 32;
            prev = in;
            continue;
        }
        __m256i cross = _mm256_permute2x128_si256(prev, in, 0x21); /* prev's high half, in's low half */
        __m256i p1 = _mm256_alignr_epi8(in, cross, 15), p2 = _mm256_alignr_epi8(in, cross, 14),
                p3 = _mm256_alignr_epi8(in, cross, 13);
        __m256i e = _mm256_and_si256(
            _mm256_and_si256(_mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
                             _mm256_shuffle_epi8(lo1, _mm256_and_si256(p1, nib))),
            _mm256_shuffle_epi8(hi0, _mm256_and_si256(_mm256_srli_epi16(in, 4), nib)));
        __m256i must = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8(0x60)),  /* >= 0x80 iff p2 >= E0 */
                                       _mm256_subs_epu8(p3, _mm256_set1_epi8(0x70))); /* >= 0x80 iff p3 >= F0 */
        e = _mm256_xor_si256(e, _mm256_and_si256(must, top));
        if (!_mm256_testz_si256(e, e)) break;
        pending = u[i + 31] >= 0xC0 || u[i + 30] >= 0xE0 || u[i + 29] >= 0xF0;
        if (!pending) safe = i + 32;
        prev = in;
    }
    return safe + utf8_check_scalar(u + safe, len - safe);
}
#else
size_t tok_utf8_check(const char *s, size_t len) { return utf8_check_scalar((const unsigned char *)s, len); }
#endif

/* Length of the maximal prefix of an invalid sequence that could start a valid
 * one (the "maximal subpart" rule of Unicode §3.9, as WHATWG decoders apply). */
static size_t invalid_run(const unsigned char *s, size_t len) {
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c < 0xE0) need = 1;
    else if (c >= 0xE0 && c < 0xF0) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c < 0xF5) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 1;
    size_t i = 1;
    for (; i <= need && i < len; i++) {
        if (s[i] < lo || s[i] > hi) break;
        lo = 0x80;
        hi = 0xBF;
    }
    return i;
}

char *tok_utf8_sanitize(const char *s, size_t len, size_t *out_len) {
    const unsigned char *u = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        int k = u[i] < 0x80 ? 1 : tok_utf8_decode(u + i, len - i, &cp);
        if (k) {
            memcpy(out + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += invalid_run(u + i, len - i);
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}
