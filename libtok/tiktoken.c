/*
 * tiktoken encodings: a .tiktoken rank file (one "base64(bytes) rank" line per
 * token) plus the encoding's regex and special tokens, which for the built-in
 * names come from data/encodings.json. Merge priority is the rank of the
 * merged bytes, so the merge table is derived from the tokens themselves
 * (vocab_pairs_from_splits). Loading cl100k takes ~20 ms, o200k ~40.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* base64 digit values; -1 for any other byte */
static const int8_t b64[256] = {
#define R8 -1, -1, -1, -1, -1, -1, -1, -1
    R8, R8, R8, R8, R8, -1, -1, -1, 62, -1, -1, -1, 63,              /* '+' = 43, '/' = 47 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, /* '0'..'9' */
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,            /* 'A'.. */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,  /* 'a'.. */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8,
#undef R8
};

static int b64_value(unsigned char c) { return b64[c]; }

/* Standard base64 with padding; returns the decoded length or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out) {
    if (n == 0 || n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad) return -1;
                if ((v[k] = b64_value(c)) < 0) return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2) out[o++] = (unsigned char)(w >> 8);
        if (pad < 1) out[o++] = (unsigned char)w;
    }
    return (long)o;
}

static int parse_ranks(tok_tokenizer *t, const char *path, const char *data, size_t len, tok_error *err) {
    /* a line is ~17 bytes in the built-in files: more slots than that
     * estimate needs, so the table is not rehashed while it fills (up to a
     * million tokens; beyond, it grows); the decoded bytes are fewer than
     * the file's */
    uint32_t hint = (uint32_t)(len / 12 < (1u << 20) ? len / 12 : 1u << 20);
    int rc = vocab_init(&t->v, hint, err);
    if (!rc) rc = vocab_reserve(&t->v, hint, len + 1, err);
    if (rc) return rc;
    unsigned char buf[2304];
    size_t line = 0, n_tokens = 0;
    for (size_t pos = 0; pos < len;) {
        line++;
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - s) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll && s[ll - 1] == '\r') ll--;
        if (ll == 0) continue;
        const char *sp = memchr(s, ' ', ll);
        if (!sp) return tok_fail(err, TOK_EFORMAT, "%s:%zu: expected \"base64 rank\"", path, line);
        size_t bl = (size_t)(sp - s);
        if (bl > sizeof buf / 3 * 4) return tok_fail(err, TOK_EFORMAT, "%s:%zu: token longer than %zu bytes", path, line, sizeof buf);
        long n = b64_decode(s, bl, buf);
        if (n <= 0) return tok_fail(err, TOK_EFORMAT, "%s:%zu: invalid base64 \"%.*s\"", path, line, (int)(bl > 40 ? 40 : bl), s);
        const char *r = sp + 1, *end = s + ll;
        if (r == end) return tok_fail(err, TOK_EFORMAT, "%s:%zu: missing rank", path, line);
        uint64_t rank = 0;
        for (; r < end; r++) {
            if (*r < '0' || *r > '9') return tok_fail(err, TOK_EFORMAT, "%s:%zu: rank is not a number", path, line);
            rank = rank * 10 + (uint64_t)(*r - '0');
            if (rank > 100000000) return tok_fail(err, TOK_EFORMAT, "%s:%zu: rank %.*s is too large", path, line, (int)(end - sp - 1), sp + 1);
        }
        rc = vocab_set(&t->v, (int32_t)rank, buf, (size_t)n, 1, err);
        if (rc) {
            tok_error_prefix(err, "%s:%zu", path, line);
            return rc;
        }
        n_tokens++;
    }
    if (!n_tokens) return tok_fail(err, TOK_EFORMAT, "%s: no tokens", path);
    t->v.merge_by_bytes = 1;
    return 0;
}

tok_tokenizer *tiktoken_load(const char *path, const char *pattern, const tok_special_token *specials,
                             size_t n_specials, const char *name, tok_error *err) {
    tok_file f;
    if (tok_file_open(&f, path, err)) return NULL;
    tok_tokenizer *t = tokenizer_new(name ? name : path, "tiktoken", err);
    if (!t) {
        tok_file_close(&f);
        return NULL;
    }
    t->whole_lookup = true;
    int rc = parse_ranks(t, path, f.data, f.len, err);
    tok_file_close(&f);
    if (!rc) rc = pretok_add_regex(&t->pt, pattern, SPLIT_ISOLATED, 0, err);
    for (size_t i = 0; !rc && i < n_specials; i++) {
        const char *s = specials[i].text;
        rc = tokenizer_add_special(t, s, strlen(s), specials[i].id, true, err);
        if (!rc && (specials[i].id < 0 || (uint32_t)specials[i].id >= t->v.n || t->v.off[specials[i].id] == VOCAB_NONE))
            rc = vocab_set(&t->v, specials[i].id, s, strlen(s), 0, err);
        else if (!rc)
            rc = tok_fail(err, TOK_EFORMAT, "%s: special token %s has id %d, which is already a rank", path, s, specials[i].id);
    }
    if (!rc) rc = tokenizer_finish(t, err);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    return t;
}

/* ---- built-in encodings ------------------------------------------------------ */

static cJSON *load_encodings_json(char *path_out, size_t path_size, tok_error *err) {
    if (tok_data_path("encodings.json", path_out, path_size)) {
        tok_fail(err, TOK_EIO, "built-in encodings not found: set TOK_DATA_DIR to the data directory");
        return NULL;
    }
    size_t len;
    char *text = tok_read_file(path_out, &len, err);
    if (!text) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) tok_fail(err, TOK_EFORMAT, "%s: invalid JSON", path_out);
    return root;
}

static tok_tokenizer *load_from_entry(const cJSON *enc, const char *name, const char *path_override,
                                      const char *pattern_override, const char *json_path, tok_error *err) {
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(enc, "file");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(enc, "pat_str");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(enc, "special_tokens");
    if (!cJSON_IsString(pat) || !cJSON_IsObject(sp) || (!path_override && !cJSON_IsString(file))) {
        tok_fail(err, TOK_EFORMAT, "%s: encoding %s: needs file, pat_str and special_tokens", json_path, name);
        return NULL;
    }
    char path[4096];
    if (path_override) snprintf(path, sizeof path, "%s", path_override);
    else {
        const char *base = strrchr(file->valuestring, '/');
        char rel[512];
        snprintf(rel, sizeof rel, "tiktoken/%s", base ? base + 1 : file->valuestring);
        if (tok_data_path(rel, path, sizeof path)) {
            tok_fail(err, TOK_EIO, "%s: rank file %s not found in the data directory", name, rel);
            return NULL;
        }
    }
    size_t n = (size_t)cJSON_GetArraySize(sp), i = 0;
    tok_special_token *specials = calloc(n + 1, sizeof *specials);
    if (!specials) {
        tok_fail(err, TOK_ENOMEM, "out of memory");
        return NULL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, sp) {
        if (!cJSON_IsNumber(it)) {
            free(specials);
            tok_fail(err, TOK_EFORMAT, "%s: %s.special_tokens.%s: expected an id", json_path, name, it->string);
            return NULL;
        }
        specials[i].text = it->string;
        specials[i++].id = (int32_t)it->valuedouble;
    }
    tok_tokenizer *t = tiktoken_load(path, pattern_override ? pattern_override : pat->valuestring, specials, n,
                                     path_override ? path_override : name, err);
    free(specials);
    return t;
}

tok_tokenizer *tiktoken_load_builtin(const char *name, tok_error *err) {
    char json_path[4096];
    cJSON *root = load_encodings_json(json_path, sizeof json_path, err);
    if (!root) return NULL;
    const cJSON *encs = cJSON_GetObjectItemCaseSensitive(root, "encodings");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(encs, name);
    tok_tokenizer *t = NULL;
    if (!enc) tok_fail(err, TOK_EINVAL, "unknown encoding '%s'", name);
    else if ((t = load_from_entry(enc, name, NULL, NULL, json_path, err)) && !strcmp(name, "claude_legacy"))
        t->norm = NORM_NFKC; /* the package normalizes with NFKC before encoding */
    cJSON_Delete(root);
    return t;
}

bool tiktoken_is_builtin(const char *name) {
    static const char *names[] = {"r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "gpt2", "claude_legacy"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return true;
    return false;
}

tok_tokenizer *tok_load_tiktoken(const char *path, const char *pattern, const tok_special_token *specials,
                                 size_t n_specials, tok_error *err) {
    if (!path || !pattern) {
        tok_fail(err, TOK_EINVAL, "a rank file and a pattern are required");
        return NULL;
    }
    if (tiktoken_is_builtin(pattern)) {
        /* a named pattern: that encoding's regex (and its specials unless given) */
        char json_path[4096];
        cJSON *root = load_encodings_json(json_path, sizeof json_path, err);
        if (!root) return NULL;
        const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "encodings"), pattern);
        tok_tokenizer *t = NULL;
        if (!enc) tok_fail(err, TOK_EINVAL, "unknown encoding '%s'", pattern);
        else if (specials) {
            const cJSON *pat = cJSON_GetObjectItemCaseSensitive(enc, "pat_str");
            t = tiktoken_load(path, cJSON_IsString(pat) ? pat->valuestring : "", specials, n_specials, path, err);
        } else
            t = load_from_entry(enc, pattern, path, NULL, json_path, err);
        cJSON_Delete(root);
        return t;
    }
    return tiktoken_load(path, pattern, specials, n_specials, path, err);
}
