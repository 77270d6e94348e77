/*
 * Token-aware chunking for `split` steps, and the path lookup behind `over:`.
 *
 * Each chunk is an exact substring of the text (with overlap 0 the chunks
 * concatenate back to the text), cut only at UTF-8 character starts, and
 * counted with the model's tokenizer on its own: a chunk's count is that of
 * the substring, not of a slice of the whole text's ids (tokenization at the
 * cut may differ), so max_tokens is a hard maximum by construction - every
 * chunk is counted before it is emitted.
 *
 * Algorithm, per chunk from `start`: grow a window exponentially until it is
 * over max_tokens (or reaches the end), bisect for the longest prefix that
 * fits, then step back to the last paragraph break ("\n\n"), else sentence
 * end (". " "! " "? " or a newline), else word break (space) in the second
 * half of that prefix, else cut at the character. The next chunk starts so
 * that about `overlap` tokens of this one repeat (the shortest suffix with at
 * most `overlap` tokens, moved forward to a word start), always past the
 * previous start so the loop ends. Cost: O(log(chunk bytes)) tokenizations
 * of at most twice a chunk per chunk: linear in the text times a log.
 */
#include <stdlib.h>
#include <string.h>

#include "recipe_internal.h"

static size_t count(const tok_tokenizer *tk, const char *s, size_t a, size_t b) {
    tok_encode_params ep = tok_encode_default_params();
    ep.utf8 = TOK_UTF8_REPLACE;
    ep.special = TOK_SPECIAL_NONE;
    size_t n = 0;
    tok_error e = {0};
    if (tok_count(tk, s + a, b - a, &ep, &n, &e)) return (size_t)-1;
    return n;
}

static bool cont(const char *s, size_t i) { return ((unsigned char)s[i] & 0xC0) == 0x80; }

/* i moved back to a character start (never below lo). */
static size_t snap(const char *s, size_t i, size_t lo) {
    while (i > lo && cont(s, i)) i--;
    return i;
}

static size_t next_char(const char *s, size_t i, size_t n) {
    if (i < n) i++;
    while (i < n && cont(s, i)) i++;
    return i;
}

/* The best cut in (floor, hi]: paragraph, sentence, word, else hi. */
static size_t best_cut(const char *s, size_t floor, size_t hi) {
    for (int level = 0; level < 3; level++)
        for (size_t i = hi; i > floor && i >= 2; i--) {
            char a = s[i - 2], b = s[i - 1];
            bool ok = level == 0   ? a == '\n' && b == '\n'
                      : level == 1 ? b == '\n' || ((b == ' ' || b == '\t') && (a == '.' || a == '!' || a == '?'))
                                   : b == ' ' || b == '\t' || b == '\n';
            if (ok) return i;
        }
    return hi;
}

static int push(cJSON *a, const char *s, size_t from, size_t to) {
    char *c = malloc(to - from + 1);
    if (!c) return -1;
    memcpy(c, s + from, to - from);
    c[to - from] = 0;
    cJSON *it = cJSON_CreateString(c);
    free(c);
    if (!it) return -1;
    cJSON_AddItemToArray(a, it);
    return 0;
}

cJSON *rc_split(const tok_tokenizer *tk, const char *s, size_t max, size_t overlap, tok_error *err) {
    size_t n = strlen(s), start = 0;
    cJSON *out = cJSON_CreateArray();
    if (!out) goto oom;
    if (overlap >= max) overlap = max - 1;
    while (start < n) {
        size_t total = count(tk, s, start, n);
        if (total == (size_t)-1) goto bad;
        if (total <= max) {
            if (push(out, s, start, n)) goto oom;
            break;
        }
        /* a window that is over: exponential growth from ~4 bytes a token */
        size_t good = start, over = start + 4 * max;
        for (;;) { /* count(start, n) > max is known: n may end the growth */
            if (over >= n) break;
            over = snap(s, over, start);
            if (over <= good) over = next_char(s, good, n);
            if (over >= n || count(tk, s, start, over) > max) break;
            good = over;
            over = start + 2 * (over - start);
        }
        if (over > n) over = n;
        /* bisect: good fits (or is start), over does not */
        for (;;) {
            size_t mid = snap(s, good + (over - good) / 2, good);
            if (mid <= good) mid = next_char(s, good, n);
            if (mid >= over) break;
            if (count(tk, s, start, mid) <= max) good = mid;
            else over = mid;
        }
        if (good == start) {
            err->code = TOK_ERANGE;
            snprintf(err->msg, sizeof err->msg,
                     "the character at byte %zu is more than max_tokens (%zu) tokens on its own", start, max);
            goto fail;
        }
        size_t end = best_cut(s, start + (good - start) / 2, good);
        /* counts need not grow with length: check what is emitted */
        while (end > start && count(tk, s, start, end) > max) end = snap(s, end - 1, start);
        if (end == start) end = good;
        if (push(out, s, start, end)) goto oom;
        size_t next = end;
        if (overlap && end < n) {
            size_t lo = start, hi = end; /* count(hi..end)=0 fits; find the smallest fitting */
            while (lo < hi) {
                size_t mid = snap(s, lo + (hi - lo) / 2, lo);
                if (mid <= lo) mid = next_char(s, lo, hi);
                if (mid >= hi) break;
                if (count(tk, s, mid, end) <= overlap) hi = mid;
                else lo = mid;
            }
            next = hi;
            /* forward to a word start when there is one */
            for (size_t i = next; i < end; i++)
                if (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\n')) {
                    next = i;
                    break;
                }
            if (next <= start) next = end;
        }
        start = next;
    }
    return out;
bad:
    err->code = TOK_EINVAL;
    snprintf(err->msg, sizeof err->msg, "the text could not be tokenized");
    goto fail;
oom:
    err->code = TOK_ENOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
fail:
    cJSON_Delete(out);
    return NULL;
}

const cJSON *rc_lookup(const cJSON *ctx, const char *path) {
    const char *p = path;
    char key[256];
    while (*p == ' ' || *p == '{') p++;
    const cJSON *v = ctx;
    while (v && *p && *p != ' ' && *p != '}') {
        size_t k = 0;
        while (*p && *p != '.' && *p != ' ' && *p != '}' && k < sizeof key - 1) key[k++] = *p++;
        key[k] = 0;
        v = cJSON_GetObjectItemCaseSensitive(v, key);
        if (*p == '.') p++;
    }
    while (*p == ' ' || *p == '}') p++;
    return *p ? NULL : v;
}
