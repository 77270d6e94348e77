/*
 * Template lexer: splits the (newline-normalized) source into text and tags,
 * applying the whitespace rules of transformers' environment as Jinja's own
 * lexer does: `{%-`/`-%}` strip all whitespace on that side, trim_blocks
 * drops the first newline after a block or comment tag, lstrip_blocks drops
 * the spaces before a block or comment tag that starts a line, `+` turns
 * either off for one tag. Inside tags it produces names, numbers, string
 * literals (Python escapes) and operators.
 *
 * Cost: one pass over the source; tokens go into the template's arena.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_internal.h"

typedef struct lexer {
    tok_template *t;
    const char *s;
    size_t n;
    tpl_token *tok;
    size_t ntok, cap;
    jmp_buf *jb;
    char *errbuf;
} lexer;

void tpl_line_col(const char *src, size_t len, size_t off, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (src[i] == '\n') { l++; c = 1; }
        else if (((unsigned char)src[i] & 0xc0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

_Noreturn static void lex_fail(lexer *L, size_t off, const char *fmt, ...) {
    int line, col;
    tpl_line_col(L->s, L->n, off, &line, &col);
    int k = snprintf(L->errbuf, 512, "%s:%d:%d: ", L->t->name, line, col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->errbuf + k, 512 - (size_t)k, fmt, ap);
    va_end(ap);
    longjmp(*L->jb, 1);
}

static tpl_token *emit(lexer *L, int type, size_t off) {
    if (L->ntok == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tpl_token *nt = tpl_alloc(&L->t->arena, cap * sizeof *nt);
        if (L->ntok) memcpy(nt, L->tok, L->ntok * sizeof *nt);
        L->tok = nt;
        L->cap = cap;
    }
    tpl_token *k = &L->tok[L->ntok++];
    memset(k, 0, sizeof *k);
    k->type = (uint8_t)type;
    k->off = off;
    return k;
}

/* Length of the Python whitespace character at s[i], 0 if none. */
static int space_at(const char *s, size_t n, size_t i) {
    uint32_t cp;
    int l = u8_decode(s + i, n - i, &cp);
    return l > 0 && py_isspace(cp) ? l : 0;
}

static size_t skip_space(const char *s, size_t n, size_t i) {
    int l;
    while (i < n && (l = space_at(s, n, i)) > 0) i += (size_t)l;
    return i;
}

/* End of text[b..e) once trailing whitespace is removed. */
static size_t rstrip_end(const char *s, size_t b, size_t e) {
    while (e > b) {
        size_t k = e - 1;
        while (k > b && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
        if (!space_at(s, e, k)) break;
        e = k;
    }
    return e;
}

static void emit_text(lexer *L, size_t b, size_t e) {
    if (e <= b) return;
    tpl_token *k = emit(L, T_TEXT, b);
    k->s = L->s + b;
    k->n = e - b;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal at s[i] (the quote); returns the index after it. */
static size_t lex_string(lexer *L, size_t i) {
    char q = L->s[i];
    size_t start = i++;
    char *out;
    size_t n = 0;
    /* worst case the literal only shrinks, so its raw length bounds the output */
    size_t j = i;
    while (j < L->n && L->s[j] != q) j += L->s[j] == '\\' ? 2 : 1;
    if (j >= L->n) lex_fail(L, start, "unterminated string literal");
    out = tpl_alloc(&L->t->arena, j - i + 1);
    while (i < j) {
        char c = L->s[i];
        if (c != '\\') { out[n++] = c; i++; continue; }
        char e = L->s[i + 1];
        i += 2;
        switch (e) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'a': out[n++] = '\a'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'v': out[n++] = '\v'; break;
        case '\\': case '\'': case '"': out[n++] = e; break;
        case '\n': break; /* line continuation */
        case 'x': case 'u': case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = i < j ? hexval(L->s[i]) : -1;
                if (h < 0) lex_fail(L, start, "truncated \\%c escape in string literal", e);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10ffff) lex_fail(L, start, "illegal Unicode character in string literal");
            n += (size_t)u8_encode(cp, out + n); /* never longer than the escape */
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int d = 0; d < 2 && i < j && L->s[i] >= '0' && L->s[i] <= '7'; d++) cp = cp * 8 + (uint32_t)(L->s[i++] - '0');
                n += (size_t)u8_encode(cp, out + n);
            } else { out[n++] = '\\'; out[n++] = e; }
        }
    }
    out[n] = 0;
    tpl_token *k = emit(L, T_STRING, start);
    k->s = out;
    k->n = n;
    return j + 1;
}

static bool isdig(char c) { return c >= '0' && c <= '9'; }
static bool isname0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static size_t lex_number(lexer *L, size_t i) {
    size_t start = i;
    char buf[128];
    size_t bn = 0;
    bool is_float = false;
    while (i < L->n && (isdig(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n && isdig(L->s[i + 1])))) {
        if (L->s[i] != '_' && bn < 120) buf[bn++] = L->s[i];
        i++;
    }
    if (i + 1 < L->n && L->s[i] == '.' && isdig(L->s[i + 1])) {
        is_float = true;
        buf[bn++] = '.';
        i++;
        while (i < L->n && (isdig(L->s[i]) || L->s[i] == '_')) {
            if (L->s[i] != '_' && bn < 120) buf[bn++] = L->s[i];
            i++;
        }
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t k = i + 1;
        if (k < L->n && (L->s[k] == '+' || L->s[k] == '-')) k++;
        if (k < L->n && isdig(L->s[k])) {
            is_float = true;
            while (i < k) buf[bn++] = L->s[i++];
            while (i < L->n && isdig(L->s[i]) && bn < 126) buf[bn++] = L->s[i++];
        }
    }
    buf[bn] = 0;
    tpl_token *k = emit(L, is_float ? T_FLOAT : T_INT, start);
    if (is_float) k->f = strtod(buf, NULL);
    else {
        char *end;
        k->i = strtoll(buf, &end, 10);
        if (bn > 18) lex_fail(L, start, "integer literal too large");
    }
    return i;
}

/* Tokens of one {{ }} or {% %} tag from s[i]; returns the index after the
 * closing delimiter (and the whitespace it removes). */
static size_t lex_tag(lexer *L, size_t i, bool block, size_t tag_off, bool *line_start) {
    int depth = 0;
    for (;;) {
        while (i < L->n && (L->s[i] == ' ' || L->s[i] == '\t' || L->s[i] == '\n' || L->s[i] == '\r' ||
                            L->s[i] == '\f' || L->s[i] == '\v'))
            i++;
        if (i >= L->n) lex_fail(L, tag_off, "unexpected end of template: tag opened here is never closed (missing '%s')",
                                block ? "%}" : "}}");
        const char *p = L->s + i;
        size_t rest = L->n - i;
        if (depth == 0) {
            const char *close = block ? "%}" : "}}";
            bool minus = rest >= 3 && p[0] == '-' && !memcmp(p + 1, close, 2);
            bool plus = block && rest >= 3 && p[0] == '+' && !memcmp(p + 1, close, 2);
            if (minus || plus || (rest >= 2 && !memcmp(p, close, 2))) {
                emit(L, block ? T_BLOCK_END : T_VAR_END, i);
                i += (minus || plus) ? 3 : 2;
                if (minus) i = skip_space(L->s, L->n, i);
                else if (block && !plus && i < L->n && L->s[i] == '\n') i++; /* trim_blocks */
                *line_start = L->s[i - 1] == '\n';
                return i;
            }
        }
        char c = *p;
        if (isname0(c) || (unsigned char)c >= 0x80) {
            size_t b = i;
            while (i < L->n && (isname0(L->s[i]) || isdig(L->s[i]))) i++;
            if (i == b) lex_fail(L, b, "unexpected character in tag");
            tpl_token *k = emit(L, T_NAME, b);
            k->s = L->s + b;
            k->n = i - b;
            continue;
        }
        if (isdig(c)) { i = lex_number(L, i); continue; }
        if (c == '\'' || c == '"') { i = lex_string(L, i); continue; }
        int op = 0, len = 1;
        if (rest >= 2) {
            if (p[0] == '/' && p[1] == '/') op = OP_FLOORDIV;
            else if (p[0] == '*' && p[1] == '*') op = OP_POW;
            else if (p[0] == '=' && p[1] == '=') op = OP_EQ;
            else if (p[0] == '!' && p[1] == '=') op = OP_NE;
            else if (p[0] == '<' && p[1] == '=') op = OP_LE;
            else if (p[0] == '>' && p[1] == '=') op = OP_GE;
            if (op) len = 2;
        }
        if (!op) {
            if (!strchr("+-/*%~()[]{},.:|=<>;", c) || !c) {
                if (c == '}' || c == '%') lex_fail(L, i, "unexpected '%c' (unbalanced brackets in tag?)", c);
                lex_fail(L, i, "unexpected character '%c' in tag", c);
            }
            op = (unsigned char)c;
            if (c == '(' || c == '[' || c == '{') depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
        }
        tpl_token *k = emit(L, T_OP, i);
        k->op = op;
        i += (size_t)len;
    }
}

/* {% raw %}...{% endraw %}: if the block at i (just after "{%" and its sign)
 * is a raw tag, emits its body as text and returns the index after endraw. */
static size_t lex_raw(lexer *L, size_t i, bool *line_start) {
    size_t j = skip_space(L->s, L->n, i);
    if (L->n - j < 3 || memcmp(L->s + j, "raw", 3)) return 0;
    j = skip_space(L->s, L->n, j + 3);
    bool minus = j < L->n && L->s[j] == '-';
    if (minus || (j < L->n && L->s[j] == '+')) j++;
    if (L->n - j < 2 || memcmp(L->s + j, "%}", 2)) return 0;
    j += 2;
    if (minus) j = skip_space(L->s, L->n, j);
    size_t body = j;
    for (size_t k = body; k + 1 < L->n; k++) {
        if (L->s[k] != '{' || L->s[k + 1] != '%') continue;
        size_t m = k + 2;
        bool strip_before = m < L->n && L->s[m] == '-';
        if (m < L->n && (L->s[m] == '-' || L->s[m] == '+')) m++;
        m = skip_space(L->s, L->n, m);
        if (L->n - m < 6 || memcmp(L->s + m, "endraw", 6)) continue;
        m = skip_space(L->s, L->n, m + 6);
        bool strip_after = m < L->n && L->s[m] == '-';
        if (m < L->n && (L->s[m] == '-' || L->s[m] == '+')) m++;
        if (L->n - m < 2 || memcmp(L->s + m, "%}", 2)) continue;
        emit_text(L, body, strip_before ? rstrip_end(L->s, body, k) : k);
        m += 2;
        if (strip_after) m = skip_space(L->s, L->n, m);
        else if (m < L->n && L->s[m] == '\n') m++;
        *line_start = L->s[m - 1] == '\n';
        return m;
    }
    lex_fail(L, i, "missing {%% endraw %%} for this raw block");
}

tpl_lexed tpl_lex(tok_template *t, jmp_buf *jb, char *errbuf) {
    lexer L = {.t = t, .s = t->src, .n = t->len, .jb = jb, .errbuf = errbuf};
    size_t pos = 0;
    bool line_start = true;
    while (pos < L.n) {
        size_t start = pos;
        const char *hit = NULL;
        for (const char *p = L.s + pos; (p = memchr(p, '{', (size_t)(L.s + L.n - p))) != NULL; p++) {
            if (p + 1 < L.s + L.n && (p[1] == '{' || p[1] == '%' || p[1] == '#')) { hit = p; break; }
        }
        if (!hit) { emit_text(&L, pos, L.n); break; }
        start = (size_t)(hit - L.s);
        char kind = hit[1];
        char sign = start + 2 < L.n && (hit[2] == '-' || hit[2] == '+') ? hit[2] : 0;
        size_t text_end = start;
        if (sign == '-') text_end = rstrip_end(L.s, pos, start);
        else if (sign != '+' && kind != '{') {
            /* lstrip_blocks: whitespace alone on the line before the tag goes */
            size_t lpos = start;
            while (lpos > pos && L.s[lpos - 1] != '\n') lpos--;
            if ((lpos > pos || line_start) && lpos < start) {
                bool all_space = true;
                for (size_t k = lpos; k < start && all_space;) {
                    int l = space_at(L.s, start, k);
                    if (!l) all_space = false;
                    else k += (size_t)l;
                }
                if (all_space) text_end = lpos;
            }
        }
        emit_text(&L, pos, text_end);
        size_t i = start + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            const char *e = NULL;
            for (size_t k = i; k + 1 < L.n; k++)
                if (L.s[k] == '#' && L.s[k + 1] == '}') { e = L.s + k; break; }
            if (!e) lex_fail(&L, start, "unclosed comment: missing '#}'");
            size_t k = (size_t)(e - L.s);
            size_t q = k + 2;
            if (k > i && L.s[k - 1] == '-') q = skip_space(L.s, L.n, q);
            else if (!(k > i && L.s[k - 1] == '+') && q < L.n && L.s[q] == '\n') q++;
            line_start = L.s[q - 1] == '\n';
            pos = q;
            continue;
        }
        if (kind == '%') {
            size_t r = lex_raw(&L, i, &line_start);
            if (r) { pos = r; continue; }
        }
        emit(&L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, start);
        pos = lex_tag(&L, i, kind == '%', start, &line_start);
    }
    emit(&L, T_EOF, L.n);
    tpl_lexed lx = {L.tok, L.ntok};
    return lx;
}
