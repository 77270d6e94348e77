/* Errors, growable arrays, file reading and UTF-8 primitives used across libtok. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

char *tok_read_file(const char *path, size_t *len, tok_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        tok_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
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

/*
 * UTF-8 validation as a small automaton over byte classes (Unicode Table 3-7):
 * two table loads per non-ASCII byte, no branches on the sequence length.
 * States: A accept; C1/C2/C3 need that many continuation bytes; E0 needs
 * A0..BF, ED needs 80..9F, F0 needs 90..BF, F4 needs 80..8F (then C1/C2); X reject.
 */
enum { U_A, U_C1, U_C2, U_C3, U_E0, U_ED, U_F0, U_F4, U_X };
/* byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF, 4 invalid (C0 C1 F5..FF),
 * 5 C2..DF, 6 E0, 7 E1..EC EE EF, 8 ED, 9 F0, 10 F1..F3, 11 F4 */
static const uint8_t utf8_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

static const uint8_t utf8_next[U_X + 1][12] = {
    /*          asc  80   90   A0   bad  C2   E0    E1   ED    F0    F1   F4 */
    [U_A]  = {U_A, U_X, U_X, U_X, U_X, U_C1, U_E0, U_C2, U_ED, U_F0, U_C3, U_F4},
    [U_C1] = {U_X, U_A, U_A, U_A, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_C2] = {U_X, U_C1, U_C1, U_C1, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_C3] = {U_X, U_C2, U_C2, U_C2, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_E0] = {U_X, U_X, U_X, U_C1, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_ED] = {U_X, U_C1, U_C1, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_F0] = {U_X, U_X, U_C2, U_C2, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_F4] = {U_X, U_C2, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
    [U_X]  = {U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X, U_X},
};

size_t tok_utf8_check(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start = 0;
    unsigned st = U_A;
    while (i < len) {
        if (st == U_A) {
            /* ASCII fast path, 8 bytes at a time */
            while (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, u + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i >= len) break;
            start = i;
        }
        st = utf8_next[st][utf8_class[u[i]]];
        if (st == U_X) return start;
        i++;
    }
    return st == U_A ? len : start;
}

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
