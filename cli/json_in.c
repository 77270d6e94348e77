/*
 * Reads one string member of a JSON object line, keeping embedded NULs
 * (cJSON's strings end at the first \u0000, and the reference corpora
 * contain such texts). Only the top level of the object is examined; other
 * values are skipped by bracket matching that respects strings.
 */
#include <stdlib.h>
#include <string.h>

#include "json_out.h"

static const char *ws(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
    return s;
}

static int hex4(const char *s, const char *e, unsigned *v) {
    if (e - s < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : (c | 32) >= 'a' && (c | 32) <= 'f' ? (unsigned)((c | 32) - 'a' + 10) : 16;
        if (d > 15) return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

static size_t put_utf8(unsigned cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63)); o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Decodes the string starting at the opening quote s; returns the position
 * after the closing quote, or NULL. If out is non-NULL, *out gets a malloc'd copy. */
static const char *string(const char *s, const char *e, char **out, size_t *len) {
    if (s >= e || *s != '"') return NULL;
    s++;
    char *buf = out ? malloc((size_t)(e - s) + 1) : NULL;
    if (out && !buf) return NULL;
    size_t o = 0;
    while (s < e && *s != '"') {
        if (*s != '\\') {
            if (buf) buf[o++] = *s;
            s++;
            continue;
        }
        if (++s >= e) break;
        char c = *s++, r = 0;
        unsigned cp;
        switch (c) {
        case '"': r = '"'; break;
        case '\\': r = '\\'; break;
        case '/': r = '/'; break;
        case 'b': r = '\b'; break;
        case 'f': r = '\f'; break;
        case 'n': r = '\n'; break;
        case 'r': r = '\r'; break;
        case 't': r = '\t'; break;
        case 'u':
            if (hex4(s, e, &cp)) goto bad;
            s += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo;
                if (!hex4(s + 2, e, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* lone surrogate */
            if (buf) o += put_utf8(cp, buf + o);
            continue;
        default: goto bad;
        }
        if (buf) buf[o++] = r;
    }
    if (s >= e) goto bad;
    if (buf) {
        buf[o] = 0;
        *out = buf;
        *len = o;
    }
    return s + 1;
bad:
    free(buf);
    return NULL;
}

static const char *skip_value(const char *s, const char *e) {
    s = ws(s, e);
    if (s >= e) return NULL;
    if (*s == '"') return string(s, e, NULL, NULL);
    if (*s == '{' || *s == '[') {
        int depth = 0;
        while (s < e) {
            if (*s == '"') {
                s = string(s, e, NULL, NULL);
                if (!s) return NULL;
                continue;
            }
            if (*s == '{' || *s == '[') depth++;
            else if (*s == '}' || *s == ']') {
                if (--depth == 0) return s + 1;
            }
            s++;
        }
        return NULL;
    }
    while (s < e && *s != ',' && *s != '}' && *s != ']' && *s != ' ' && *s != '\n') s++;
    return s;
}

int json_line_string(const char *line, size_t n, const char *key, char **out, size_t *len) {
    const char *s = ws(line, line + n), *e = line + n;
    if (s >= e || *s != '{') return -1;
    s++;
    size_t kl = strlen(key);
    for (;;) {
        s = ws(s, e);
        if (s < e && *s == '}') return -1;
        char *k = NULL;
        size_t klen = 0;
        s = string(s, e, &k, &klen);
        if (!s) return -1;
        int match = klen == kl && !memcmp(k, key, kl);
        free(k);
        s = ws(s, e);
        if (s >= e || *s != ':') return -1;
        s = ws(s + 1, e);
        if (match) return string(s, e, out, len) ? 0 : -1;
        s = skip_value(s, e);
        if (!s) return -1;
        s = ws(s, e);
        if (s < e && *s == ',') s++;
        else return -1;
    }
}
