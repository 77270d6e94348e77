/*
 * SentencePiece's normalizer (normalizer.cc, Normalizer::Normalize), rewritten.
 *
 * The text is consumed one "prefix" at a time; each prefix is, in order of
 * preference:
 *   1. the longest user-defined piece that starts here (copied unchanged, so
 *      user-defined symbols escape normalization);
 *   2. the longest key of the precompiled charsmap that starts here, replaced
 *      by its NUL-terminated string;
 *   3. one UTF-8 character, or U+FFFD for one invalid byte.
 * Around that loop: leading spaces are dropped and runs of spaces collapse
 * (remove_extra_whitespaces), U+2581 is put in front (add_dummy_prefix),
 * every ' ' becomes U+2581 (escape_whitespaces), trailing spaces are dropped.
 * Only ' ' (0x20) counts as a space; tabs and newlines reach it only if the
 * charsmap maps them to ' ' (nmt_nfkc does, identity does not).
 *
 * The charsmap blob is: uint32 little-endian size of the trie, the trie (a
 * Darts-clone double array of 32-bit units), then the replacement strings.
 * A double-array unit packs: bits 0-7 the label, bit 8 "has a leaf", bit 9
 * selects a shift of the offset in bits 10-31; a leaf unit holds the value
 * (here: the offset of the replacement string) in bits 0-30. Walking one key
 * byte is two array reads; every index is checked against the array size so a
 * corrupt charsmap gives wrong text, never a read out of bounds.
 *
 * Cost: O(input length x longest charsmap key); one output buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spm.h"

#define SPACE_SYMBOL "\xe2\x96\x81"

int spm_charsmap_init(spm_model *m, const void *data, size_t len, tok_error *err) {
    const unsigned char *b = data;
    if (len <= 4) return tok_fail(err, TOK_EFORMAT, "blob of %zu bytes is too short", len);
    uint32_t trie_size = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (trie_size > len - 4 || trie_size % 4)
        return tok_fail(err, TOK_EFORMAT, "trie size %u does not fit the %zu-byte blob", trie_size, len);
    size_t n_units = trie_size / 4;
    /* own, aligned copy: units converted from little-endian, then the strings */
    m->charsmap_copy = malloc(2 * len + 4);
    if (!m->charsmap_copy) return tok_fail(err, TOK_ENOMEM, "out of memory");
    uint32_t *units = (uint32_t *)(void *)m->charsmap_copy;
    for (size_t i = 0; i < n_units; i++) {
        const unsigned char *u = b + 4 + 4 * i;
        units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    char *strings = m->charsmap_copy + trie_size;
    memcpy(strings, b + 4 + trie_size, len - 4 - trie_size);
    m->darts.units = units;
    m->darts.n = n_units;
    m->norm_strings = strings;
    m->norm_strings_len = len - 4 - trie_size;
    memcpy(m->charsmap_copy + len, data, len);
    m->opts.charsmap = m->charsmap_copy + len;
    m->opts.charsmap_len = len;
    return 0;
}

/* Longest charsmap key that is a prefix of s: its length (0 = none) and the
 * offset of its replacement. Same walk as Darts-clone's commonPrefixSearch. */
static size_t darts_longest(const spm_darts *d, const unsigned char *s, size_t len, uint32_t *value) {
    if (d->n == 0) return 0;
    const uint32_t *a = d->units;
#define OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    size_t best = 0;
    uint32_t node = OFFSET(a[0]);
    for (size_t i = 0; i < len; i++) {
        node ^= s[i];
        if (node >= d->n) break;
        uint32_t u = a[node];
        if ((u & ((1u << 31) | 0xff)) != s[i]) break;
        node ^= OFFSET(u);
        if ((u >> 8) & 1) {
            if (node >= d->n) break;
            best = i + 1;
            *value = a[node] & ((1u << 31) - 1);
        }
    }
#undef OFFSET
    return best;
}

/* Hugging Face's Precompiled normalizer (spm_precompiled's transform): the
 * replacement of the SHORTEST charsmap key that is a prefix of s, or NULL. */
const char *spm_charsmap_shortest(const spm_model *m, const char *text, size_t len, size_t *rep_len) {
    const spm_darts *d = &m->darts;
    const unsigned char *s = (const unsigned char *)text;
    if (d->n == 0) return NULL;
    const uint32_t *a = d->units;
#define OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    uint32_t node = OFFSET(a[0]);
    for (size_t i = 0; i < len; i++) {
        node ^= s[i];
        if (node >= d->n) break;
        uint32_t u = a[node];
        if ((u & ((1u << 31) | 0xff)) != s[i]) break;
        node ^= OFFSET(u);
        if ((u >> 8) & 1) {
            if (node >= d->n) break;
            uint32_t value = a[node] & ((1u << 31) - 1);
            if (value >= m->norm_strings_len) return NULL;
            *rep_len = strnlen(m->norm_strings + value, m->norm_strings_len - value);
            return m->norm_strings + value;
        }
    }
#undef OFFSET
    return NULL;
}

/* SentencePiece's DecodeUTF8 validity: 1..4 bytes, no overlongs, no
 * surrogates, <= U+10FFFF. Sets *n to the length (1 when invalid). */
static bool utf8_valid(const unsigned char *s, size_t len, size_t *n) {
    unsigned c = s[0];
    *n = 1;
    if (c < 0x80) return true;
    if (len >= 2 && (c & 0xe0) == 0xc0) {
        uint32_t cp = ((c & 0x1f) << 6) | (s[1] & 0x3f);
        if ((s[1] & 0xc0) == 0x80 && cp >= 0x80) return *n = 2, true;
    } else if (len >= 3 && (c & 0xf0) == 0xe0) {
        uint32_t cp = ((c & 0x0f) << 12) | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        if ((s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 && cp >= 0x800 && (cp < 0xd800 || cp >= 0xe000))
            return *n = 3, true;
    } else if (len >= 4 && (c & 0xf8) == 0xf0) {
        uint32_t cp = ((c & 0x07) << 18) | ((s[1] & 0x3f) << 12) | ((s[2] & 0x3f) << 6) | (s[3] & 0x3f);
        if ((s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 && cp >= 0x10000 &&
            cp <= 0x10ffff)
            return *n = 4, true;
    }
    return false;
}

/* Normalizer::NormalizePrefix: sets the replacement (*rep, *rep_len) and
 * returns how many input bytes it consumes (>= 1 for non-empty input). */
static size_t normalize_prefix(const spm_model *m, const unsigned char *s, size_t len, const char **rep,
                               size_t *rep_len) {
    if (m->has_user_defined) {
        /* longest user-defined piece starting here */
        size_t best = 0;
        uint32_t node = 0;
        for (size_t i = 0; i < len; i++) {
            node = spm_trie_step(&m->trie, node, s[i]);
            if (!node) break;
            int32_t id = m->trie.value[node];
            if (id >= 0 && m->pieces[id].type == SPM_USER_DEFINED) best = i + 1;
        }
        if (best) {
            *rep = (const char *)s;
            *rep_len = best;
            return best;
        }
    }
    uint32_t value = 0;
    size_t n = darts_longest(&m->darts, s, len, &value);
    if (n && value < m->norm_strings_len) {
        *rep = m->norm_strings + value;
        *rep_len = strnlen(*rep, m->norm_strings_len - value);
        return n;
    }
    if (!utf8_valid(s, len, &n)) {
        *rep = "\xef\xbf\xbd";
        *rep_len = 3;
        return 1;
    }
    *rep = (const char *)s;
    *rep_len = n;
    return n;
}

int spm_normalize(const spm_model *m, const char *text, size_t len, tok_bytes *out) {
    const spm_options *o = &m->opts;
    const unsigned char *s = (const unsigned char *)text;
    const char *rep;
    size_t rep_len;
    if (len == 0) return 0;
    if (o->remove_extra_whitespaces) {
        while (len) {
            size_t n = normalize_prefix(m, s, len, &rep, &rep_len);
            if (rep_len != 1 || rep[0] != ' ') break;
            s += n;
            len -= n;
        }
    }
    if (len == 0) return 0;
    const char *ws = o->escape_whitespaces ? SPACE_SYMBOL : " ";
    size_t ws_len = o->escape_whitespaces ? 3 : 1;
    size_t start = out->n;
    /* reserve generously: one append per run, not per byte */
    if (tok_bytes_append(out, NULL, 0)) return TOK_ENOMEM;
    if (!o->treat_whitespace_as_suffix && o->add_dummy_prefix && tok_bytes_append(out, ws, ws_len))
        return TOK_ENOMEM;
    bool is_prev_space = o->remove_extra_whitespaces;
    while (len) {
        size_t n = normalize_prefix(m, s, len, &rep, &rep_len);
        if (is_prev_space)
            while (rep_len && rep[0] == ' ') rep++, rep_len--;
        if (rep_len) {
            size_t run = 0; /* bytes copied verbatim since the last space */
            for (size_t i = 0; i < rep_len; i++) {
                if (o->escape_whitespaces && rep[i] == ' ') {
                    if (tok_bytes_append(out, rep + i - run, run) || tok_bytes_append(out, SPACE_SYMBOL, 3))
                        return TOK_ENOMEM;
                    run = 0;
                } else {
                    run++;
                }
            }
            if (tok_bytes_append(out, rep + rep_len - run, run)) return TOK_ENOMEM;
            is_prev_space = rep[rep_len - 1] == ' ';
        }
        s += n;
        len -= n;
        if (!o->remove_extra_whitespaces) is_prev_space = false;
    }
    if (o->remove_extra_whitespaces) {
        while (out->n - start >= ws_len && memcmp(out->data + out->n - ws_len, ws, ws_len) == 0) out->n -= ws_len;
        out->data[out->n] = 0;
    }
    if (o->treat_whitespace_as_suffix && o->add_dummy_prefix && tok_bytes_append(out, ws, ws_len))
        return TOK_ENOMEM;
    return 0;
}
