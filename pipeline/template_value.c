/*
 * Template values: the arena they live in, constructors, Python truthiness and
 * equality, and the three ways a value becomes text: str() (what {{ x }}
 * prints), repr() (inside a printed list or dict) and json.dumps (tojson, as
 * transformers overrides it: ensure_ascii=False, keys in insertion order).
 *
 * Cost: values are copied by value (24 bytes); lists and dicts are arrays,
 * dict lookup is a linear scan, which beats hashing for the handful of keys a
 * chat message has. Strings are (pointer, length) views, so slicing and
 * strip() never copy.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_internal.h"

/* ---- arena ---------------------------------------------------------------- */

struct tpl_chunk { tpl_chunk *next; };

void *tpl_alloc(tpl_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if ((size_t)(a->end - a->cur) < n) {
        size_t sz = n > 60000 ? n : 65536 - 32;
        if (a->limit && a->total + sz > a->limit) {
            if (a->errbuf) snprintf(a->errbuf, 512, "memory limit of %zu bytes exceeded", a->limit);
            longjmp(*a->jb, 2);
        }
        tpl_chunk *c = malloc(sizeof(tpl_chunk) + 16 + sz);
        if (!c) {
            if (a->errbuf) snprintf(a->errbuf, 512, "out of memory");
            longjmp(*a->jb, 2);
        }
        a->total += sz;
        c->next = a->head;
        a->head = c;
        char *p = (char *)c + 16;
        if (n > 60000) return p; /* a big block gets its own chunk */
        a->cur = p;
        a->end = p + sz;
    }
    void *r = a->cur;
    a->cur += n;
    return r;
}

void tpl_arena_free(tpl_arena *a) {
    tpl_chunk *c = a->head;
    while (c) {
        tpl_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total = 0;
}

char *tpl_strndup(tpl_arena *a, const char *s, size_t n) {
    char *p = tpl_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---- constructors ----------------------------------------------------------- */

tv tv_undef(const char *name, size_t n) { tv v = {.k = V_UNDEF, .n = n}; v.u.s = name; return v; }
tv tv_none(void) { tv v = {.k = V_NONE}; return v; }
tv tv_bool(bool b) { tv v = {.k = V_BOOL}; v.u.i = b; return v; }
tv tv_int(int64_t i) { tv v = {.k = V_INT}; v.u.i = i; return v; }
tv tv_float(double f) { tv v = {.k = V_FLOAT}; v.u.f = f; return v; }
tv tv_str(const char *s, size_t n) { tv v = {.k = V_STR, .n = n}; v.u.s = s; return v; }

tv tv_list(tpl_arena *A, size_t cap, bool tuple) {
    tpl_list *l = tpl_alloc(A, sizeof *l);
    l->n = 0;
    l->cap = cap;
    l->v = cap ? tpl_alloc(A, cap * sizeof(tv)) : NULL;
    l->tuple = tuple;
    tv v = {.k = V_LIST};
    v.u.l = l;
    return v;
}

tv tv_dict(tpl_arena *A, size_t cap) {
    tpl_dict *d = tpl_alloc(A, sizeof *d);
    d->n = 0;
    d->cap = cap;
    d->keys = cap ? tpl_alloc(A, cap * sizeof(tv)) : NULL;
    d->vals = cap ? tpl_alloc(A, cap * sizeof(tv)) : NULL;
    d->ns = false;
    tv v = {.k = V_DICT};
    v.u.d = d;
    return v;
}

void tpl_list_push(tpl_arena *A, tpl_list *l, tv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        tv *nv = tpl_alloc(A, cap * sizeof(tv));
        if (l->n) memcpy(nv, l->v, l->n * sizeof(tv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

tv *tpl_dict_get(const tpl_dict *d, const char *key, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->keys[i].k == V_STR && d->keys[i].n == n && !memcmp(d->keys[i].u.s, key, n)) return &d->vals[i];
    return NULL;
}

tv *tpl_dict_find(const tpl_dict *d, tv key) {
    if (key.k == V_STR) return tpl_dict_get(d, key.u.s, key.n);
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(d->keys[i], key)) return &d->vals[i];
    return NULL;
}

void tpl_dict_set(tpl_arena *A, tpl_dict *d, tv key, tv val) {
    tv *slot = tpl_dict_find(d, key);
    if (slot) { *slot = val; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        tv *nk = tpl_alloc(A, cap * sizeof(tv)), *nv = tpl_alloc(A, cap * sizeof(tv));
        if (d->n) {
            memcpy(nk, d->keys, d->n * sizeof(tv));
            memcpy(nv, d->vals, d->n * sizeof(tv));
        }
        d->keys = nk;
        d->vals = nv;
        d->cap = cap;
    }
    d->keys[d->n] = key;
    d->vals[d->n++] = val;
}

/* ---- truthiness, equality ------------------------------------------------------ */

bool tv_truthy(tv v) {
    switch (v.k) {
    case V_UNDEF: case V_NONE: return false;
    case V_BOOL: case V_INT: return v.u.i != 0;
    case V_FLOAT: return v.u.f != 0.0;
    case V_STR: return v.n != 0;
    case V_LIST: return v.u.l->n != 0;
    case V_DICT: return v.u.d->ns || v.u.d->n != 0;
    default: return true;
    }
}

static bool is_num(tv v) { return v.k == V_BOOL || v.k == V_INT || v.k == V_FLOAT; }

bool tv_equal(tv a, tv b) {
    if (is_num(a) && is_num(b)) {
        if (a.k != V_FLOAT && b.k != V_FLOAT) return a.u.i == b.u.i;
        double x = a.k == V_FLOAT ? a.u.f : (double)a.u.i, y = b.k == V_FLOAT ? b.u.f : (double)b.u.i;
        return x == y;
    }
    if (a.k != b.k) return false;
    switch (a.k) {
    case V_UNDEF: case V_NONE: return true;
    case V_STR: return a.n == b.n && !memcmp(a.u.s, b.u.s, a.n);
    case V_LIST:
        if (a.u.l->tuple != b.u.l->tuple || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!tv_equal(a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case V_DICT:
        if (a.u.d->ns || b.u.d->ns) return a.u.d == b.u.d;
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            tv *o = tpl_dict_find(b.u.d, a.u.d->keys[i]);
            if (!o || !tv_equal(a.u.d->vals[i], *o)) return false;
        }
        return true;
    case V_FUNC: return a.u.fn == b.u.fn;
    case V_LOOP: return a.u.lp == b.u.lp;
    }
    return false;
}

bool tv_is_str(tv v, const char *s) { return v.k == V_STR && v.n == strlen(s) && !memcmp(v.u.s, s, v.n); }

const char *tv_type_name(tv v) {
    switch (v.k) {
    case V_UNDEF: return "Undefined";
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "str";
    case V_LIST: return v.u.l->tuple ? "tuple" : "list";
    case V_DICT: return v.u.d->ns ? "Namespace" : "dict";
    case V_FUNC: return "function";
    default: return "LoopContext";
    }
}

/* ---- string builder ----------------------------------------------------------- */

void sb_put(tpl_arena *A, tpl_sb *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n) cap *= 2;
        char *p = tpl_alloc(A, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}
void sb_putc(tpl_arena *A, tpl_sb *b, char c) {
    if (b->n < b->cap) b->p[b->n++] = c;
    else sb_put(A, b, &c, 1);
}
void sb_puts(tpl_arena *A, tpl_sb *b, const char *s) { sb_put(A, b, s, strlen(s)); }
tv sb_value(tpl_sb *b) { return tv_str(b->p ? b->p : "", b->n); }

/* ---- numbers as Python prints them ------------------------------------------------- */

/* repr(float): the shortest digits that read back to the same double, fixed
 * notation for exponents -4..15, else d.ddde+XX. */
void tpl_format_float(double f, char out[40]) {
    if (isnan(f)) { strcpy(out, "nan"); return; }
    if (isinf(f)) { strcpy(out, f < 0 ? "-inf" : "inf"); return; }
    if (f == 0) { strcpy(out, signbit(f) ? "-0.0" : "0.0"); return; }
    char buf[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    /* buf: [-]d.ddde[+-]XX */
    char digits[24];
    int nd = 0;
    const char *p = buf;
    bool neg = false;
    if (*p == '-') { neg = true; p++; }
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            *o++ = '0'; *o++ = '.';
            for (int i = 0; i < -exp - 1; i++) *o++ = '0';
            for (int i = 0; i < nd; i++) *o++ = digits[i];
        } else {
            for (int i = 0; i <= exp; i++) *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp + 1) for (int i = exp + 1; i < nd; i++) *o++ = digits[i];
            else *o++ = '0';
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            for (int i = 1; i < nd; i++) *o++ = digits[i];
        }
        sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

/* ---- str / repr --------------------------------------------------------------------- */

/* Python's repr of a str: single quotes unless the text has ' and no ",
 * escapes for \\ \n \r \t, other non-printables as \xNN / \uNNNN. */
static void write_str_repr(tpl_render *R, tpl_sb *b, const char *s, size_t n) {
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    sb_putc(&R->A, b, q);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c == (unsigned char)q || c == '\\') { sb_putc(&R->A, b, '\\'); sb_putc(&R->A, b, (char)c); }
            else if (c == '\n') sb_put(&R->A, b, "\\n", 2);
            else if (c == '\r') sb_put(&R->A, b, "\\r", 2);
            else if (c == '\t') sb_put(&R->A, b, "\\t", 2);
            else if (c < 0x20 || c == 0x7f) {
                char e[8];
                snprintf(e, sizeof e, "\\x%02x", c);
                sb_puts(&R->A, b, e);
            } else sb_putc(&R->A, b, (char)c);
            i++;
            continue;
        }
        uint32_t cp;
        int l = u8_decode(s + i, n - i, &cp);
        if (l <= 0) { sb_putc(&R->A, b, (char)c); i++; continue; }
        /* Non-printable (C1 controls, separators other than space, formats)
         * are escaped by Python; the common ones are handled here. */
        if ((cp >= 0x80 && cp < 0xa0) || cp == 0xad || cp == 0x2028 || cp == 0x2029 ||
            (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || cp == 0xfeff ||
            (cp >= 0x2060 && cp <= 0x2064)) {
            char e[16];
            if (cp < 0x100) snprintf(e, sizeof e, "\\x%02x", cp);
            else snprintf(e, sizeof e, "\\u%04x", cp);
            sb_puts(&R->A, b, e);
        } else sb_put(&R->A, b, s + i, (size_t)l);
        i += (size_t)l;
    }
    sb_putc(&R->A, b, q);
}

static void write_repr(tpl_render *R, tpl_sb *b, tv v, int depth) {
    if (depth > 100) tpl_fail(R, NULL, TOK_TEMPLATE_ELIMIT, "value nested too deeply to print");
    switch (v.k) {
    case V_STR: write_str_repr(R, b, v.u.s, v.n); return;
    case V_LIST: {
        tpl_list *l = v.u.l;
        sb_putc(&R->A, b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) sb_put(&R->A, b, ", ", 2);
            write_repr(R, b, l->v[i], depth + 1);
        }
        if (l->tuple && l->n == 1) sb_putc(&R->A, b, ',');
        sb_putc(&R->A, b, l->tuple ? ')' : ']');
        return;
    }
    case V_DICT: {
        tpl_dict *d = v.u.d;
        if (d->ns) {
            sb_puts(&R->A, b, "<Namespace {");
        } else sb_putc(&R->A, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) sb_put(&R->A, b, ", ", 2);
            write_repr(R, b, d->keys[i], depth + 1);
            sb_put(&R->A, b, ": ", 2);
            write_repr(R, b, d->vals[i], depth + 1);
        }
        sb_puts(&R->A, b, d->ns ? "}>" : "}");
        return;
    }
    default: tv_write_str(R, b, v);
    }
}

void tv_write_repr(tpl_render *R, tpl_sb *b, tv v) { write_repr(R, b, v, 0); }

void tv_write_str(tpl_render *R, tpl_sb *b, tv v) {
    char num[40];
    switch (v.k) {
    case V_UNDEF: return;
    case V_NONE: sb_put(&R->A, b, "None", 4); return;
    case V_BOOL: if (v.u.i) sb_put(&R->A, b, "True", 4); else sb_put(&R->A, b, "False", 5); return;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); sb_puts(&R->A, b, num); return;
    case V_FLOAT: tpl_format_float(v.u.f, num); sb_puts(&R->A, b, num); return;
    case V_STR: sb_put(&R->A, b, v.u.s, v.n); return;
    case V_LIST: case V_DICT: write_repr(R, b, v, 0); return;
    case V_FUNC:
        if (v.u.fn->kind == F_MACRO) sb_puts(&R->A, b, "<Macro>");
        else sb_puts(&R->A, b, "<built-in function>");
        return;
    default: sb_puts(&R->A, b, "<LoopContext>"); return;
    }
}

tv tv_to_str(tpl_render *R, tv v) {
    if (v.k == V_STR) return v;
    tpl_sb b = {0};
    tv_write_str(R, &b, v);
    return sb_value(&b);
}

/* ---- json.dumps -------------------------------------------------------------------- */

static void write_json_str(tpl_render *R, tpl_sb *b, const char *s, size_t n, bool ascii) {
    sb_putc(&R->A, b, '"');
    size_t run = 0; /* start of a run of bytes copied as they are */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char e[16];
        int len = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) { snprintf(e, sizeof e, "\\u%04x", c); esc = e; }
        else if (c >= 0x80 && ascii) {
            uint32_t cp;
            len = u8_decode(s + i, n - i, &cp);
            if (len <= 0) { len = 1; cp = 0xfffd; }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else snprintf(e, sizeof e, "\\u%04x", cp);
            esc = e;
        }
        if (esc) {
            sb_put(&R->A, b, s + run, i - run);
            sb_puts(&R->A, b, esc);
            i += (size_t)len;
            run = i;
        } else i++;
    }
    sb_put(&R->A, b, s + run, n - run);
    sb_putc(&R->A, b, '"');
}

static void json_newline(tpl_render *R, tpl_sb *b, const tpl_json_opts *o, int level) {
    sb_putc(&R->A, b, '\n');
    for (int i = 0; i < o->indent * level; i++) sb_putc(&R->A, b, ' ');
}

static int key_cmp(const void *x, const void *y) {
    const tv *a = *(tv *const *)x, *b = *(tv *const *)y;
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->u.s, b->u.s, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

int tv_write_json(tpl_render *R, tpl_sb *b, tv v, const tpl_json_opts *o, int level, const char **why) {
    char num[40];
    if (level > 200) { *why = "value nested too deeply"; return -1; }
    switch (v.k) {
    case V_NONE: sb_puts(&R->A, b, "null"); return 0;
    case V_BOOL: sb_puts(&R->A, b, v.u.i ? "true" : "false"); return 0;
    case V_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); sb_puts(&R->A, b, num); return 0;
    case V_FLOAT:
        if (isnan(v.u.f)) sb_puts(&R->A, b, "NaN");
        else if (isinf(v.u.f)) sb_puts(&R->A, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else { tpl_format_float(v.u.f, num); sb_puts(&R->A, b, num); }
        return 0;
    case V_STR: write_json_str(R, b, v.u.s, v.n, o->ensure_ascii); return 0;
    case V_LIST: {
        tpl_list *l = v.u.l;
        if (!l->n) { sb_puts(&R->A, b, "[]"); return 0; }
        sb_putc(&R->A, b, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) sb_puts(&R->A, b, o->item_sep);
            if (o->indent >= 0) json_newline(R, b, o, level + 1);
            if (tv_write_json(R, b, l->v[i], o, level + 1, why)) return -1;
        }
        if (o->indent >= 0) json_newline(R, b, o, level);
        sb_putc(&R->A, b, ']');
        return 0;
    }
    case V_DICT: {
        tpl_dict *d = v.u.d;
        if (d->ns) { *why = "Object of type Namespace is not JSON serializable"; return -1; }
        if (!d->n) { sb_puts(&R->A, b, "{}"); return 0; }
        size_t *order = tpl_alloc(&R->A, d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++) order[i] = i;
        if (o->sort_keys) {
            const tv **ks = tpl_alloc(&R->A, d->n * sizeof(tv *));
            for (size_t i = 0; i < d->n; i++) {
                if (d->keys[i].k != V_STR) { *why = "sort_keys needs string keys"; return -1; }
                ks[i] = &d->keys[i];
            }
            qsort(ks, d->n, sizeof *ks, key_cmp);
            for (size_t i = 0; i < d->n; i++) order[i] = (size_t)(ks[i] - d->keys);
        }
        sb_putc(&R->A, b, '{');
        for (size_t j = 0; j < d->n; j++) {
            size_t i = order[j];
            if (j) sb_puts(&R->A, b, o->item_sep);
            if (o->indent >= 0) json_newline(R, b, o, level + 1);
            tv k = d->keys[i];
            /* json.dumps turns non-string keys into strings */
            if (k.k == V_STR) write_json_str(R, b, k.u.s, k.n, o->ensure_ascii);
            else if (k.k == V_NONE) sb_puts(&R->A, b, "\"null\"");
            else if (k.k == V_BOOL) sb_puts(&R->A, b, k.u.i ? "\"true\"" : "\"false\"");
            else if (k.k == V_INT || k.k == V_FLOAT) {
                sb_putc(&R->A, b, '"');
                tv_write_json(R, b, k, o, level + 1, why);
                sb_putc(&R->A, b, '"');
            } else { *why = "keys must be str, int, float, bool or None"; return -1; }
            sb_puts(&R->A, b, o->key_sep);
            if (tv_write_json(R, b, d->vals[i], o, level + 1, why)) return -1;
        }
        if (o->indent >= 0) json_newline(R, b, o, level);
        sb_putc(&R->A, b, '}');
        return 0;
    }
    case V_UNDEF: *why = "Object of type Undefined is not JSON serializable"; return -1;
    default: *why = "Object is not JSON serializable"; return -1;
    }
}

/* ---- UTF-8 ------------------------------------------------------------------------- */

int u8_decode(const char *str, size_t n, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    if (!n) return 0;
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    int len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (!len || (size_t)len > n) return -1;
    uint32_t c = s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        c = (c << 6) | (s[i] & 0x3f);
    }
    *cp = c;
    return len;
}

int u8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Code points: continuation bytes are the ones not counted. */
size_t u8_len(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

size_t u8_offset(const char *s, size_t n, size_t i) {
    size_t off = 0;
    while (i && off < n) {
        off++;
        while (off < n && ((unsigned char)s[off] & 0xc0) == 0x80) off++;
        i--;
    }
    return off;
}

/* str.isspace / str.split() / str.strip() whitespace */
bool py_isspace(uint32_t c) {
    return (c >= 9 && c <= 13) || c == ' ' || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}
