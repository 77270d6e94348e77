/*
 * A libtok tokenizer from a GGUF file's tokenizer.ggml.* metadata.
 *
 * This file only reads keys and checks their types and lengths; libtok's
 * tok_from_vocab knows the vocabulary kinds, the pre-tokenizers and
 * llama.cpp's defaults. Keys left out of the file keep those defaults (the
 * params say "default", not a value guessed here).
 *
 * Cost: O(vocabulary) pointer arrays; the strings stay in the mmap until
 * tok_from_vocab has copied them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_engine.h"

static int gfail(tok_error *err, int code, const char *path, const char *key, const char *what) {
    if (err) {
        err->code = code;
        snprintf(err->msg, sizeof err->msg, "%s: %s: %s", path, key, what);
    }
    return code;
}

/* A string array as pointer + length arrays (into the mmap). */
static int string_array(const tok_gguf *g, const char *key, bool required, const char ***strs, size_t **lens,
                        size_t *n, tok_error *err) {
    int et;
    uint64_t cnt;
    *strs = NULL;
    *lens = NULL;
    *n = 0;
    if (!tok_gguf_get_array(g, key, &et, &cnt)) {
        if (tok_gguf_find_key(g, key) >= 0) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected an array of strings");
        return required ? gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "missing") : 0;
    }
    if (et != TOK_GGUF_STRING) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected an array of strings");
    int64_t kv = tok_gguf_find_key(g, key);
    *strs = malloc((cnt ? cnt : 1) * sizeof **strs);
    *lens = malloc((cnt ? cnt : 1) * sizeof **lens);
    if (!*strs || !*lens) return gfail(err, TOK_ENOMEM, tok_gguf_path(g), key, "out of memory");
    for (uint64_t i = 0; i < cnt; i++) {
        tok_gguf_str s = tok_gguf_array_string(g, kv, i);
        (*strs)[i] = s.s ? s.s : "";
        (*lens)[i] = (size_t)s.len;
    }
    *n = (size_t)cnt;
    return 0;
}

static bool is_number_type(int t) { return t != TOK_GGUF_STRING && t != TOK_GGUF_ARRAY && t != TOK_GGUF_BOOL; }

/* An optional numeric array of exactly n elements. */
static int numeric_array(const tok_gguf *g, const char *key, size_t n, bool floats, void **out, tok_error *err) {
    int et;
    uint64_t cnt;
    *out = NULL;
    if (!tok_gguf_get_array(g, key, &et, &cnt)) {
        if (tok_gguf_find_key(g, key) >= 0) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected an array");
        return 0;
    }
    if (!is_number_type(et)) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected an array of numbers");
    if (cnt != n) {
        char what[128];
        snprintf(what, sizeof what, "has %llu entries for %zu tokens", (unsigned long long)cnt, n);
        return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, what);
    }
    int64_t kv = tok_gguf_find_key(g, key);
    void *v = malloc((n ? n : 1) * (floats ? sizeof(float) : sizeof(int32_t)));
    if (!v) return gfail(err, TOK_ENOMEM, tok_gguf_path(g), key, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (floats) ((float *)v)[i] = (float)tok_gguf_array_float(g, kv, i);
        else {
            int64_t x = tok_gguf_array_int(g, kv, i);
            ((int32_t *)v)[i] = x < INT32_MIN || x > INT32_MAX ? 0 : (int32_t)x;
        }
    }
    *out = v;
    return 0;
}

/* An optional token id key: keeps *id (the default) when absent. */
static int id_key(const tok_gguf *g, const char *key, size_t n, int32_t *id, tok_error *err) {
    int64_t v;
    if (tok_gguf_find_key(g, key) < 0) return 0;
    if (!tok_gguf_get_int(g, key, &v)) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected an integer");
    if (v < -1 || (v >= 0 && (uint64_t)v >= n)) {
        char what[128];
        snprintf(what, sizeof what, "token id %lld is outside the vocabulary (%zu tokens)", (long long)v, n);
        return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, what);
    }
    *id = (int32_t)v;
    return 0;
}

static int bool_key(const tok_gguf *g, const char *key, int *out, tok_error *err) {
    bool b;
    if (tok_gguf_find_key(g, key) < 0) return 0;
    if (!tok_gguf_get_bool(g, key, &b)) return gfail(err, TOK_EFORMAT, tok_gguf_path(g), key, "expected a bool");
    *out = b;
    return 0;
}

tok_tokenizer *tok_gguf_tokenizer(const tok_gguf *g, tok_error *err) {
    if (!g) {
        gfail(err, TOK_EINVAL, "(null)", "tokenizer", "no GGUF file");
        return NULL;
    }
    const char *path = tok_gguf_path(g);
    tok_vocab_params p = tok_vocab_default_params();
    p.name = path;
    const char *model = tok_gguf_get_string(g, "tokenizer.ggml.model");
    if (!model) {
        gfail(err, TOK_EFORMAT, path, "tokenizer.ggml.model",
              tok_gguf_find_key(g, "tokenizer.ggml.model") >= 0 ? "expected a string" : "missing (the file has no tokenizer)");
        return NULL;
    }
    if (!strcmp(model, "llama")) p.kind = TOK_VOCAB_SPM;
    else if (!strcmp(model, "gpt2")) p.kind = TOK_VOCAB_BPE;
    else {
        char what[256];
        snprintf(what, sizeof what, "tokenizer model '%.100s' is not supported by this build (llama and gpt2 are)", model);
        gfail(err, TOK_EUNSUPPORTED, path, "tokenizer.ggml.model", what);
        return NULL;
    }
    const char **tokens = NULL, **merges = NULL;
    size_t *token_lens = NULL, *merge_lens = NULL, n = 0, n_merges = 0;
    float *scores = NULL;
    int32_t *types = NULL;
    tok_tokenizer *t = NULL;
    int rc = string_array(g, "tokenizer.ggml.tokens", true, &tokens, &token_lens, &n, err);
    if (!rc && !n) rc = gfail(err, TOK_EFORMAT, path, "tokenizer.ggml.tokens", "empty vocabulary");
    if (!rc) rc = numeric_array(g, "tokenizer.ggml.scores", n, true, (void **)&scores, err);
    if (!rc) rc = numeric_array(g, "tokenizer.ggml.token_type", n, false, (void **)&types, err);
    if (!rc && p.kind == TOK_VOCAB_BPE)
        rc = string_array(g, "tokenizer.ggml.merges", true, &merges, &merge_lens, &n_merges, err);
    if (!rc) {
        int64_t kv = tok_gguf_find_key(g, "tokenizer.ggml.pre");
        if (kv >= 0 && !(p.pre = tok_gguf_get_string(g, "tokenizer.ggml.pre")))
            rc = gfail(err, TOK_EFORMAT, path, "tokenizer.ggml.pre", "expected a string");
    }
    if (!rc) rc = id_key(g, "tokenizer.ggml.bos_token_id", n, &p.bos_id, err);
    if (!rc) rc = id_key(g, "tokenizer.ggml.eos_token_id", n, &p.eos_id, err);
    if (!rc) rc = id_key(g, "tokenizer.ggml.unknown_token_id", n, &p.unk_id, err);
    if (!rc) rc = id_key(g, "tokenizer.ggml.padding_token_id", n, &p.pad_id, err);
    if (!rc) rc = bool_key(g, "tokenizer.ggml.add_bos_token", &p.add_bos, err);
    if (!rc) rc = bool_key(g, "tokenizer.ggml.add_eos_token", &p.add_eos, err);
    if (!rc) rc = bool_key(g, "tokenizer.ggml.add_space_prefix", &p.add_space_prefix, err);
    if (!rc) {
        p.n_tokens = n;
        p.tokens = tokens;
        p.token_lens = token_lens;
        p.scores = scores;
        p.types = types;
        p.n_merges = n_merges;
        p.merges = merges;
        p.merge_lens = merge_lens;
        t = tok_from_vocab(&p, err);
    }
    free(tokens);
    free(token_lens);
    free(merges);
    free(merge_lens);
    free(scores);
    free(types);
    return t;
}
