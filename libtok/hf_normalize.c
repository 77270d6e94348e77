/*
 * Hugging Face normalizers of non-byte-level tokenizer.json files, run in
 * their Sequence order on one segment of text: NFC/NFKC (with the tables of
 * Unicode 9, see tok_normalize), NFD/NFKD, Lowercase, StripAccents, Prepend,
 * Replace (literal pattern), Precompiled (SentencePiece's charsmap, through
 * spm_normalize with every whitespace option off, so only the charsmap acts)
 * and BertNormalizer (clean_text, Chinese characters padded with spaces,
 * accents stripped, lowercase). BertNormalizer's control and nonspacing-mark
 * tests use the Unicode 8 lists HF itself uses (hf_categories.c), not
 * utf8proc's: newer marks survive strip_accents there, so they must here.
 *
 * Each step reads one buffer and writes the next: O(steps x length).
 * Lowercasing is per character as HF does (no final-sigma rule), with
 * utf8proc's simple mapping plus the one multi-character lowercase (U+0130).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hf.h"
#include "spm.h"
#include "unicode_age.h"

static bool is_white(uint32_t c) {
    /* Rust's char::is_whitespace (the White_Space property) */
    return c == ' ' || (c >= 9 && c <= 13) || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Next code point of a valid UTF-8 string; invalid bytes count as U+FFFD. */
static size_t next_cp(const char *s, size_t len, size_t i, uint32_t *cp) {
    int k = tok_utf8_decode((const unsigned char *)s + i, len - i, cp);
    if (k <= 0) {
        *cp = 0xFFFD;
        return 1;
    }
    return (size_t)k;
}

static int put_cp(tok_bytes *o, uint32_t cp) {
    char b[4];
    int k = tok_utf8_encode(cp, b);
    return tok_bytes_append(o, b, (size_t)k);
}

static int lower_into(tok_bytes *o, uint32_t c) {
    if (c == 0x130) return put_cp(o, 'i') || put_cp(o, 0x307);
    return put_cp(o, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

static int decompose(tok_bytes *o, const char *s, size_t len, bool compat) {
    if (!len) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
    if (n < 0) return tok_bytes_append(o, s, len); /* invalid input: left alone */
    int rc = tok_bytes_append(o, dst, (size_t)n);
    free(dst);
    return rc;
}

/* BertNormalizer's strip_accents drops what the unicode_categories crate
 * calls Mn (Unicode 8); the StripAccents normalizer drops every combining
 * mark (Mn | Mc | Me) of unicode-normalization-alignments' Unicode 9 tables. */
static bool combining_mark(uint32_t c) {
    if (unicode_age(c) > HF_UNICODE_AGE) return false;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

static int strip_marks(tok_bytes *o, const char *s, size_t len, bool (*is_mark)(uint32_t)) {
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = next_cp(s, len, i, &c);
        if (!is_mark(c) && tok_bytes_append(o, s + i, k))
            return TOK_ENOMEM;
        i += k;
    }
    return 0;
}

static int bert(const hf_norm *st, tok_bytes *o, const char *s, size_t len) {
    tok_bytes a = {0}, b = {0};
    int rc = tok_bytes_append(&a, "", 0);
    for (size_t i = 0; i < len && !rc;) {
        uint32_t c;
        size_t k = next_cp(s, len, i, &c);
        i += k;
        if (st->clean_text) {
            if (c == 0 || c == 0xFFFD || (c != '\t' && c != '\n' && c != '\r' && hf_is_other(c))) continue;
            if (is_white(c)) c = ' ';
        }
        if (st->chinese && is_chinese(c)) rc = put_cp(&a, ' ') || put_cp(&a, c) || put_cp(&a, ' ');
        else rc = put_cp(&a, c);
    }
    const char *cur = a.data;
    size_t cn = a.n;
    if (!rc && st->strip_accents) {
        rc = decompose(&b, cur, cn, false);
        tok_bytes c2 = {0};
        if (!rc) rc = tok_bytes_append(&c2, "", 0) || strip_marks(&c2, b.data, b.n, hf_is_mark_nonspacing);
        tok_bytes_free(&b);
        b = c2;
        cur = b.data;
        cn = b.n;
    }
    if (!rc && st->lowercase)
        for (size_t i = 0; i < cn && !rc;) {
            uint32_t c;
            i += next_cp(cur, cn, i, &c);
            rc = lower_into(o, c);
        }
    else if (!rc) rc = tok_bytes_append(o, cur, cn);
    tok_bytes_free(&a);
    tok_bytes_free(&b);
    return rc;
}

static int replace(const hf_norm *st, tok_bytes *o, const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        const char *hit = st->an && st->an <= len - i ? memmem(s + i, len - i, st->a, st->an) : NULL;
        if (!hit) break;
        size_t at = (size_t)(hit - s);
        if (tok_bytes_append(o, s + i, at - i) || tok_bytes_append(o, st->b, st->bn)) return TOK_ENOMEM;
        i = at + st->an;
    }
    return tok_bytes_append(o, s + i, len - i);
}

static int replace_regex(const hf_norm *st, tok_bytes *o, const char *s, size_t len, tok_error *err) {
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return TOK_ENOMEM;
    size_t i = 0, copied = 0;
    int rc = 0;
    while (i <= len) {
        int r = pcre2_match(st->re, (PCRE2_SPTR)s, len, i, PCRE2_NO_UTF_CHECK, md, NULL);
        if (r == PCRE2_ERROR_NOMATCH) break;
        if (r < 0) {
            rc = tok_fail(err, TOK_EINVAL, "Replace normalizer: regex match failed (%d)", r);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (tok_bytes_append(o, s + copied, ov[0] - copied) || tok_bytes_append(o, st->b, st->bn)) {
            rc = TOK_ENOMEM;
            break;
        }
        copied = ov[1];
        if (ov[1] > ov[0]) i = ov[1];
        else { /* empty match: step over one character */
            if (ov[1] >= len) break;
            i = ov[1] + 1;
            while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        }
    }
    pcre2_match_data_free(md);
    if (!rc && tok_bytes_append(o, s + copied, len - copied)) rc = TOK_ENOMEM;
    return rc;
}

/* Strip: Rust's trim_start/trim_end (White_Space characters). */
static int strip(const hf_norm *st, tok_bytes *o, const char *s, size_t len) {
    size_t a = 0, b = len;
    uint32_t c;
    while (st->left && a < b) {
        size_t k = next_cp(s, len, a, &c);
        if (!is_white(c)) break;
        a += k;
    }
    while (st->right && b > a) {
        size_t p = b - 1;
        while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
        next_cp(s, len, p, &c);
        if (!is_white(c)) break;
        b = p;
    }
    return tok_bytes_append(o, s + a, b - a);
}

/* Precompiled, as HF does it: per extended grapheme cluster, a cluster of
 * fewer than 6 bytes is replaced whole when a charsmap key is a prefix of it
 * (the shortest key decides); otherwise each character is looked up alone. */
static int precompiled(const hf_norm *st, tok_bytes *o, const char *s, size_t len) {
    utf8proc_int32_t state = 0;
    size_t g = 0; /* start of the current cluster */
    uint32_t prev = 0;
    for (size_t i = 0; i <= len;) {
        uint32_t c = 0;
        size_t k = i < len ? next_cp(s, len, i, &c) : 0;
        if (i == len || (i > g && utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state))) {
            size_t n = i - g, rl;
            const char *r = n < 6 ? spm_charsmap_shortest(st->charsmap, s + g, n, &rl) : NULL;
            if (r) {
                if (tok_bytes_append(o, r, rl)) return TOK_ENOMEM;
            } else
                for (size_t j = g; j < i;) {
                    uint32_t cj;
                    size_t kj = next_cp(s, len, j, &cj);
                    const char *rj = spm_charsmap_shortest(st->charsmap, s + j, kj, &rl);
                    if (rj ? tok_bytes_append(o, rj, rl) : tok_bytes_append(o, s + j, kj)) return TOK_ENOMEM;
                    j += kj;
                }
            g = i;
            if (i == len) break;
        }
        prev = c;
        i += k;
    }
    return 0;
}

static int step(const hf_norm *st, tok_bytes *o, const char *s, size_t len, tok_error *err) {
    switch (st->kind) {
    case HFN_NFC:
    case HFN_NFKC: {
        size_t n;
        char *r = tok_normalize(st->kind == HFN_NFC ? NORM_NFC : NORM_NFKC, HF_UNICODE_AGE, s, len, &n, err);
        if (!r) return err ? err->code : TOK_ENOMEM;
        int rc = tok_bytes_append(o, r, n);
        free(r);
        return rc;
    }
    case HFN_NFD: return decompose(o, s, len, false);
    case HFN_NFKD: return decompose(o, s, len, true);
    case HFN_STRIP_ACCENTS: return strip_marks(o, s, len, combining_mark);
    case HFN_LOWERCASE:
        for (size_t i = 0; i < len;) {
            uint32_t c;
            i += next_cp(s, len, i, &c);
            if (lower_into(o, c)) return TOK_ENOMEM;
        }
        return 0;
    case HFN_PREPEND:
        if (len && tok_bytes_append(o, st->a, st->an)) return TOK_ENOMEM;
        return tok_bytes_append(o, s, len);
    case HFN_REPLACE: return replace(st, o, s, len);
    case HFN_REPLACE_REGEX: return replace_regex(st, o, s, len, err);
    case HFN_STRIP: return strip(st, o, s, len);
    case HFN_PRECOMPILED: return precompiled(st, o, s, len);
    case HFN_BERT: return bert(st, o, s, len);
    }
    return tok_fail(err, TOK_EINVAL, "unknown normalizer step %d", st->kind);
}

char *hf_normalize(const hf_pipeline *h, const char *s, size_t len, size_t *out_len, tok_error *err) {
    tok_bytes cur = {0};
    if (tok_bytes_append(&cur, s, len)) {
        tok_fail(err, TOK_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < h->n_norm; i++) {
        tok_bytes next = {0};
        int rc = tok_bytes_append(&next, "", 0);
        if (!rc) rc = step(&h->norm[i], &next, cur.data, cur.n, err);
        tok_bytes_free(&cur);
        if (rc) {
            tok_bytes_free(&next);
            if (rc == TOK_ENOMEM) tok_fail(err, TOK_ENOMEM, "out of memory");
            return NULL;
        }
        cur = next;
    }
    *out_len = cur.n;
    return cur.data;
}
