/*
 * Unicode normalizers of tokenizer.json (NFC, NFKC) through utf8proc.
 * Note: utf8proc follows a current Unicode version; Hugging Face's tables are
 * older, so characters assigned since differ (see docs/tokenizers.md).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"

char *tok_normalize(int norm, const char *s, size_t len, size_t *out_len, tok_error *err) {
    /* ASCII is unchanged by NFC and NFKC */
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80) i++;
    if (i == len) {
        char *copy = malloc(len + 1);
        if (!copy) {
            tok_fail(err, TOK_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(copy, s, len);
        copy[len] = 0;
        *out_len = len;
        return copy;
    }
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    if (norm == NORM_NFKC) opt |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out, opt);
    if (n < 0) {
        tok_fail(err, TOK_EINVAL, "normalizer: %s", utf8proc_errmsg(n));
        return NULL;
    }
    *out_len = (size_t)n;
    return (char *)out;
}
