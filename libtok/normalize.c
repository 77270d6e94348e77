/*
 * Unicode normalizers (NFC, NFKC) through utf8proc.
 *
 * utf8proc follows Unicode 15. A reference built with older tables treats
 * later characters as unassigned: no decomposition, combining class 0, so
 * they never reorder or compose with their neighbours. With max_age set, the
 * text is cut at every such character, each part normalized alone, and the
 * character kept as is, which is exactly that behaviour. Hugging Face's
 * normalizers use Unicode 9-era tables (HF_UNICODE_AGE).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"
#include "unicode_age.h"

static int append_normalized(tok_bytes *out, int norm, const char *s, size_t len, tok_error *err) {
    if (!len) return 0;
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80) i++;
    if (i == len) return tok_bytes_append(out, s, len) ? tok_fail(err, TOK_ENOMEM, "out of memory") : 0;
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (norm == NORM_NFKC) opt |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *buf = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &buf, opt);
    if (n < 0) return tok_fail(err, TOK_EINVAL, "normalizer: %s", utf8proc_errmsg(n));
    int rc = tok_bytes_append(out, buf, (size_t)n) ? tok_fail(err, TOK_ENOMEM, "out of memory") : 0;
    free(buf);
    return rc;
}

char *tok_normalize(int norm, int max_age, const char *s, size_t len, size_t *out_len, tok_error *err) {
    tok_bytes out = {0};
    int rc = tok_bytes_append(&out, "", 0) ? TOK_ENOMEM : 0;
    size_t start = 0;
    for (size_t i = 0; !rc && i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 || !max_age) {
            i++;
            continue;
        }
        uint32_t cp = 0;
        int k = tok_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!k) k = 1; /* the caller validated the text; be safe anyway */
        if (unicode_age(cp) > max_age) {
            rc = append_normalized(&out, norm, s + start, i - start, err);
            if (!rc && tok_bytes_append(&out, s + i, (size_t)k)) rc = tok_fail(err, TOK_ENOMEM, "out of memory");
            start = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (!rc) rc = append_normalized(&out, norm, s + start, len - start, err);
    if (rc) {
        if (rc == TOK_ENOMEM) tok_fail(err, TOK_ENOMEM, "out of memory");
        tok_bytes_free(&out);
        return NULL;
    }
    *out_len = out.n;
    return out.data;
}
