/*
 * Minimal reader for the reference JSONL records of the SentencePiece tests:
 * one flat object per line whose values are strings, numbers, booleans or
 * arrays of numbers/strings. Strings are decoded to bytes with an explicit
 * length, because reference texts contain U+0000, which cJSON's
 * NUL-terminated strings cannot hold.
 */
#ifndef TEST_SPM_JSONL_H
#define TEST_SPM_JSONL_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct jstr {
    char *s;
    size_t n;
} jstr;

typedef struct jrec {
    jstr text, decoded, src;
    int has_decoded;
    int32_t *ids;
    size_t n_ids;
    jstr *pieces;
    size_t n_pieces;
} jrec;

static void jrec_free(jrec *r) {
    free(r->text.s);
    free(r->decoded.s);
    free(r->src.s);
    free(r->ids);
    for (size_t i = 0; i < r->n_pieces; i++) free(r->pieces[i].s);
    free(r->pieces);
    memset(r, 0, sizeof *r);
}

static void j_put_utf8(jstr *o, uint32_t cp) {
    if (cp < 0x80) o->s[o->n++] = (char)cp;
    else if (cp < 0x800) {
        o->s[o->n++] = (char)(0xC0 | (cp >> 6));
        o->s[o->n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o->s[o->n++] = (char)(0xE0 | (cp >> 12));
        o->s[o->n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o->s[o->n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o->s[o->n++] = (char)(0xF0 | (cp >> 18));
        o->s[o->n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o->s[o->n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o->s[o->n++] = (char)(0x80 | (cp & 0x3F));
    }
}

static unsigned j_hex4(const char *p) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
    }
    return v;
}

/* p at the opening quote; returns the position after the closing quote. */
static const char *j_string(const char *p, const char *end, jstr *o) {
    p++;
    o->s = malloc((size_t)(end - p) + 4);
    o->n = 0;
    while (p < end && *p != '"') {
        if (*p != '\\') {
            o->s[o->n++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case 'n': o->s[o->n++] = '\n'; break;
        case 't': o->s[o->n++] = '\t'; break;
        case 'r': o->s[o->n++] = '\r'; break;
        case 'b': o->s[o->n++] = '\b'; break;
        case 'f': o->s[o->n++] = '\f'; break;
        case 'u': {
            uint32_t cp = j_hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = j_hex4(p + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            j_put_utf8(o, cp);
            break;
        }
        default: o->s[o->n++] = c;
        }
    }
    o->s[o->n] = 0;
    return p + 1;
}

/* Parses one line; returns 0 on success. */
static int jrec_parse(const char *p, const char *end, jrec *r) {
    memset(r, 0, sizeof *r);
    while (p < end && *p != '{') p++;
    if (p == end) return -1;
    p++;
    for (;;) {
        while (p < end && (*p == ' ' || *p == ',')) p++;
        if (p >= end || *p == '}') return 0;
        if (*p != '"') return -1;
        jstr key;
        p = j_string(p, end, &key);
        while (p < end && (*p == ' ' || *p == ':')) p++;
        if (*p == '"') {
            jstr v;
            p = j_string(p, end, &v);
            if (!strcmp(key.s, "text")) r->text = v;
            else if (!strcmp(key.s, "decoded")) r->decoded = v, r->has_decoded = 1;
            else if (!strcmp(key.s, "src")) r->src = v;
            else free(v.s);
        } else if (*p == '[') {
            p++;
            int is_ids = !strcmp(key.s, "ids"), is_pieces = !strcmp(key.s, "pieces");
            size_t cap = 16;
            if (is_ids) r->ids = malloc(cap * sizeof *r->ids);
            if (is_pieces) r->pieces = malloc(cap * sizeof *r->pieces);
            for (;;) {
                while (p < end && (*p == ' ' || *p == ',')) p++;
                if (p >= end) return -1;
                if (*p == ']') {
                    p++;
                    break;
                }
                if (*p == '"') {
                    jstr v;
                    p = j_string(p, end, &v);
                    if (is_pieces) {
                        if (r->n_pieces == cap) r->pieces = realloc(r->pieces, (cap *= 2) * sizeof *r->pieces);
                        r->pieces[r->n_pieces++] = v;
                    } else {
                        free(v.s);
                    }
                } else {
                    char *e;
                    long v = strtol(p, &e, 10);
                    if (e == p) return -1;
                    p = e;
                    if (is_ids) {
                        if (r->n_ids == cap) r->ids = realloc(r->ids, (cap *= 2) * sizeof *r->ids);
                        r->ids[r->n_ids++] = (int32_t)v;
                    }
                }
            }
        } else {
            while (p < end && *p != ',' && *p != '}') p++;
        }
        free(key.s);
    }
}
#endif
