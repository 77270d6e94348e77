/* libtok private declarations shared between its files. Not installed. */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* Fills err (if non-NULL) and returns the code, so callers can
 * `return tok_fail(err, TOK_EFORMAT, "%s: line %zu: ...", path, line);` */
int tok_fail(tok_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "context: old message". */
void tok_error_prefix(tok_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int tok_ids_reserve(tok_ids *v, size_t extra);
static inline int tok_ids_push(tok_ids *v, int32_t id) {
    if (v->n == v->cap && tok_ids_reserve(v, 1)) return TOK_ENOMEM;
    v->ids[v->n++] = id;
    return 0;
}
int tok_bytes_append(tok_bytes *b, const void *data, size_t n);

/* Reads a whole file; the buffer is NUL-terminated. */
char *tok_read_file(const char *path, size_t *len, tok_error *err);
/* A whole file for parsing once at load: a regular file is mapped
 * read-only (its pages come from the page cache, not copied into fresh
 * ones), anything else read. data is not NUL-terminated. */
typedef struct tok_file {
    const char *data;
    size_t len;
    void *map;  /* the mapping, or NULL */
    char *buf;  /* the read buffer, or NULL */
} tok_file;
int tok_file_open(tok_file *f, const char *path, tok_error *err);
void tok_file_close(tok_file *f);

/* Zeroed memory for large tables (vocabulary hashes, piece caches). Sizes
 * of TOK_TABLE_HUGE and up are mapped on their own and ask for transparent
 * huge pages: a table is filled at load time, and one fault per 2 MB
 * instead of per 4 KB is the difference between a load of ~60 and ~25 ms
 * where faults are dear (11 us each in some VMs). Free with the same size. */
#define TOK_TABLE_HUGE (1u << 20)
void *tok_table_alloc(size_t n);
void tok_table_free(void *p, size_t n);

/* Decodes one UTF-8 sequence at s (len > 0 bytes available). Returns its
 * length (1..4) and the code point, or 0 if the bytes are not valid UTF-8. */
static inline int tok_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2) return 0;
    if (c < 0xE0) {
        if (len < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        return 2;
    }
    if (c < 0xF0) {
        if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        *cp = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        return 3;
    }
    if (c < 0xF5) {
        if (len < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        *cp = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
        return 4;
    }
    return 0;
}

int tok_utf8_encode(uint32_t cp, char out[4]);

/* Copies text replacing every maximal invalid UTF-8 subsequence with U+FFFD. */
char *tok_utf8_sanitize(const char *s, size_t len, size_t *out_len);



/* Full path of a file under the data directory; -1 if not found anywhere. */
int tok_data_path(const char *rel, char *out, size_t out_size);
#endif
