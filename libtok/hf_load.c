/*
 * Loading the non-byte-level parts of a tokenizer.json into an hf_pipeline
 * (see hf.h): normalizers, pre-tokenizers, the Unigram and WordPiece models
 * (BPE vocabulary and merges go through hf_json.c's loader), the unknown and
 * byte-fallback tokens, and decoders. Any component or option not
 * implemented is refused with its JSON path, never ignored.
 * Cost: linear in the JSON size.
 */
#include <cjson/cJSON.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "hf.h"
#include "spm.h"

#define META "\xe2\x96\x81"

void hf_pipeline_free(hf_pipeline *h) {
    if (!h) return;
    for (size_t i = 0; i < h->n_norm; i++) {
        free(h->norm[i].a);
        free(h->norm[i].b);
        spm_free(h->norm[i].charsmap);
        pcre2_code_free(h->norm[i].re);
    }
    free(h->norm);
    for (size_t i = 0; i < h->n_dec; i++) {
        free(h->dec[i].a);
        free(h->dec[i].b);
    }
    free(h->dec);
    free(h->scores);
    free(h->bigram);
    if (h->trie) spm_trie_free(h->trie);
    free(h->trie);
    free(h->wp_prefix);
    free(h);
}

const char *hf_type_of(const void *json) {
    const cJSON *o = json;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static const char *str_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool hf_flag(const void *json, const char *key, bool dflt) {
    const cJSON *o = json;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static char *dup_str(const char *s, size_t *n) {
    *n = strlen(s);
    return strdup(s);
}

static int unsupported(tok_error *err, const char *path, const char *where, const char *kind, const char *type) {
    return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: %s %s is not supported by this build", path, where, kind,
                    type ? type : "(no type)");
}

/* ---- normalizers ----------------------------------------------------------- */

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 (padding optional); NULL on a bad character. */
static unsigned char *b64_decode(const char *s, size_t *out_len) {
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out) return NULL;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') break;
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = k;
    return out;
}

static int add_norm(hf_pipeline *h, hf_norm **st, tok_error *err) {
    hf_norm *nv = realloc(h->norm, (h->n_norm + 1) * sizeof *nv);
    if (!nv) return tok_fail(err, TOK_ENOMEM, "out of memory");
    h->norm = nv;
    *st = &nv[h->n_norm++];
    memset(*st, 0, sizeof **st);
    return 0;
}

static int load_norm(tok_tokenizer *t, const cJSON *n, const char *path, const char *where, tok_error *err) {
    hf_pipeline *h = t->hf;
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = hf_type_of(n);
    if (!type) return tok_fail(err, TOK_EFORMAT, "%s: %s: missing \"type\"", path, where);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers"), *it;
        if (!cJSON_IsArray(list)) return tok_fail(err, TOK_EFORMAT, "%s: %s.normalizers: expected an array", path, where);
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, i++);
            int rc = load_norm(t, it, path, w, err);
            if (rc) return rc;
        }
        return 0;
    }
    static const struct { const char *name; int kind; } simple[] = {
        {"NFC", HFN_NFC}, {"NFKC", HFN_NFKC}, {"NFD", HFN_NFD}, {"NFKD", HFN_NFKD},
        {"Lowercase", HFN_LOWERCASE}, {"StripAccents", HFN_STRIP_ACCENTS}};
    hf_norm *st;
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (!strcmp(type, simple[i].name)) {
            int rc = add_norm(h, &st, err);
            if (!rc) st->kind = simple[i].kind;
            return rc;
        }
    if (!strcmp(type, "Prepend")) {
        const char *p = str_of(n, "prepend");
        if (!p) return tok_fail(err, TOK_EFORMAT, "%s: %s: Prepend needs a \"prepend\" string", path, where);
        int rc = add_norm(h, &st, err);
        if (rc) return rc;
        st->kind = HFN_PREPEND;
        return (st->a = dup_str(p, &st->an)) ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *lit = str_of(pat, "String"), *content = str_of(n, "content");
        const char *re = str_of(pat, "Regex");
        if (re && content) {
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
            if (!code) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(ec, msg, sizeof msg);
                return tok_fail(err, TOK_EFORMAT, "%s: %s.pattern.Regex: offset %zu: %s", path, where, (size_t)eo, (char *)msg);
            }
            int rc = add_norm(h, &st, err);
            if (rc) {
                pcre2_code_free(code);
                return rc;
            }
            st->kind = HFN_REPLACE_REGEX;
            st->re = code;
            st->b = dup_str(content, &st->bn);
            return st->b ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
        }
        if (!lit || !content || !*lit)
            return tok_fail(err, TOK_EFORMAT, "%s: %s: Replace needs pattern.String and content", path, where);
        int rc = add_norm(h, &st, err);
        if (rc) return rc;
        st->kind = HFN_REPLACE;
        st->a = dup_str(lit, &st->an);
        st->b = dup_str(content, &st->bn);
        return st->a && st->b ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!strcmp(type, "Precompiled")) {
        const char *b64 = str_of(n, "precompiled_charsmap");
        if (!b64) return tok_fail(err, TOK_EFORMAT, "%s: %s: Precompiled needs precompiled_charsmap", path, where);
        size_t len;
        unsigned char *blob = b64_decode(b64, &len);
        if (!blob) return tok_fail(err, TOK_EFORMAT, "%s: %s.precompiled_charsmap: invalid base64", path, where);
        if (!len) { /* an empty charsmap is the identity */
            free(blob);
            return 0;
        }
        spm_options o = spm_default_options();
        o.model_type = SPM_UNIGRAM;
        o.add_dummy_prefix = o.remove_extra_whitespaces = o.escape_whitespaces = false;
        o.charsmap = blob;
        o.charsmap_len = len;
        const char *pieces[] = {"<unk>"};
        int32_t types[] = {SPM_UNKNOWN};
        spm_model *m = spm_from_vocab(pieces, NULL, types, 1, &o, err);
        free(blob);
        if (!m) {
            tok_error_prefix(err, "%s: %s.precompiled_charsmap", path, where);
            return err ? err->code : TOK_EFORMAT;
        }
        int rc = add_norm(h, &st, err);
        if (rc) {
            spm_free(m);
            return rc;
        }
        st->kind = HFN_PRECOMPILED;
        st->charsmap = m;
        return 0;
    }
    if (!strcmp(type, "Strip")) {
        int rc = add_norm(h, &st, err);
        if (rc) return rc;
        st->kind = HFN_STRIP;
        st->left = hf_flag(n, "strip_left", false);
        st->right = hf_flag(n, "strip_right", true);
        return 0;
    }
    if (!strcmp(type, "BertNormalizer")) {
        int rc = add_norm(h, &st, err);
        if (rc) return rc;
        st->kind = HFN_BERT;
        st->clean_text = hf_flag(n, "clean_text", true);
        st->chinese = hf_flag(n, "handle_chinese_chars", true);
        st->lowercase = hf_flag(n, "lowercase", true);
        /* strip_accents null follows lowercase */
        st->strip_accents = hf_flag(n, "strip_accents", st->lowercase);
        return 0;
    }
    return unsupported(err, path, where, "normalizer", type);
}

int hf_load_normalizer(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    return load_norm(t, json, path, "normalizer", err);
}

/* ---- pre-tokenizers --------------------------------------------------------- */

int hf_split_behavior(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "Isolated")) return SPLIT_ISOLATED;
    if (!strcmp(s, "Removed")) return SPLIT_REMOVED;
    if (!strcmp(s, "MergedWithPrevious")) return SPLIT_MERGED_PREV;
    if (!strcmp(s, "MergedWithNext")) return SPLIT_MERGED_NEXT;
    if (!strcmp(s, "Contiguous")) return SPLIT_CONTIGUOUS;
    return -1;
}

static int prepend_scheme(const cJSON *p, int *out) {
    const char *s = str_of(p, "prepend_scheme");
    if (!s) { /* older files: add_prefix_space */
        *out = hf_flag(p, "add_prefix_space", true) ? HF_PREPEND_ALWAYS : HF_PREPEND_NEVER;
        return 0;
    }
    if (!strcmp(s, "always")) *out = HF_PREPEND_ALWAYS;
    else if (!strcmp(s, "first")) *out = HF_PREPEND_FIRST;
    else if (!strcmp(s, "never")) *out = HF_PREPEND_NEVER;
    else return -1;
    return 0;
}

static int load_pre(tok_tokenizer *t, const cJSON *p, const char *path, const char *where, tok_error *err) {
    hf_pipeline *h = t->hf;
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = hf_type_of(p);
    if (!type) return tok_fail(err, TOK_EFORMAT, "%s: %s: missing \"type\"", path, where);
    if (h->pre != HFP_NONE && !(h->pre == HFP_SPLIT && !strcmp(type, "Split")))
        return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: pre-tokenizer %s after another is not supported by this build",
                        path, where, type);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *it;
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i++);
            int rc = load_pre(t, it, path, w, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const char *re = str_of(pat, "Regex"), *lit = str_of(pat, "String");
        int b = hf_split_behavior(str_of(p, "behavior"));
        if (b < 0) return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: unknown Split behavior", path, where);
        bool invert = hf_flag(p, "invert", false);
        int rc;
        if (re) rc = pretok_add_regex(&t->pt, re, b, invert, err);
        else if (lit) rc = pretok_add_literal(&t->pt, lit, strlen(lit), b, invert, err);
        else return tok_fail(err, TOK_EFORMAT, "%s: %s: Split needs pattern.Regex or pattern.String", path, where);
        if (rc) tok_error_prefix(err, "%s: %s", path, where);
        h->pre = HFP_SPLIT;
        return rc;
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = str_of(p, "replacement");
        if (!rep || strcmp(rep, META))
            return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: Metaspace replacement other than U+2581 is not supported",
                            path, where);
        if (prepend_scheme(p, &h->meta_prepend))
            return tok_fail(err, TOK_EFORMAT, "%s: %s: unknown prepend_scheme", path, where);
        h->meta_split = hf_flag(p, "split", true);
        h->pre = HFP_METASPACE;
        return 0;
    }
    if (!strcmp(type, "BertPreTokenizer")) {
        h->pre = HFP_BERT;
        return 0;
    }
    if (!strcmp(type, "WhitespaceSplit")) {
        h->pre = HFP_WHITESPACE_SPLIT;
        return 0;
    }
    return unsupported(err, path, where, "pre-tokenizer", type);
}

int hf_load_pretokenizer(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    return load_pre(t, json, path, "pre_tokenizer", err);
}

/* ---- Unigram and WordPiece models -------------------------------------------- */

static int load_unigram(tok_tokenizer *t, const cJSON *model, const char *path, tok_error *err) {
    hf_pipeline *h = t->hf;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *it;
    if (!cJSON_IsArray(vocab)) return tok_fail(err, TOK_EFORMAT, "%s: model.vocab: expected an array", path);
    int n = cJSON_GetArraySize(vocab);
    int rc = vocab_init(&t->v, (uint32_t)n, err);
    if (rc) return rc;
    h->scores = malloc(((size_t)n + 1) * sizeof *h->scores);
    if (!h->scores) return tok_fail(err, TOK_ENOMEM, "out of memory");
    h->min_score = 1e300;
    int32_t id = 0;
    cJSON_ArrayForEach(it, vocab) {
        const cJSON *p = cJSON_GetArrayItem(it, 0), *s = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || !cJSON_IsString(p) || !cJSON_IsNumber(s))
            return tok_fail(err, TOK_EFORMAT, "%s: model.vocab[%d]: expected [piece, score]", path, id);
        size_t len = strlen(p->valuestring);
        bool dup = vocab_find(&t->v, p->valuestring, len) >= 0;
        rc = vocab_set(&t->v, id, p->valuestring, len, !dup, err);
        if (rc) {
            tok_error_prefix(err, "%s: model.vocab[%d]", path, id);
            return rc;
        }
        h->scores[id] = hf_serde_f64(s->valuedouble);
        if (h->scores[id] < h->min_score) h->min_score = h->scores[id];
        id++;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    h->unk_id = -1;
    if (cJSON_IsNumber(unk)) {
        if (unk->valuedouble < 0 || unk->valuedouble >= n)
            return tok_fail(err, TOK_EFORMAT, "%s: model.unk_id: %g is outside the vocabulary", path, unk->valuedouble);
        h->unk_id = (int32_t)unk->valuedouble;
    }
    h->fuse_unk = true; /* HF's Unigram always fuses unknown runs */
    h->byte_fallback = hf_flag(model, "byte_fallback", false);
    h->model = HFM_UNIGRAM;
    return 0;
}

static int load_wordpiece(tok_tokenizer *t, const cJSON *model, const char *path, tok_error *err) {
    hf_pipeline *h = t->hf;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *it;
    if (!cJSON_IsObject(vocab)) return tok_fail(err, TOK_EFORMAT, "%s: model.vocab: expected an object", path);
    int rc = vocab_init(&t->v, (uint32_t)cJSON_GetArraySize(vocab), err);
    if (rc) return rc;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 16777216 ||
            it->valuedouble != (double)(int32_t)it->valuedouble)
            return tok_fail(err, TOK_EFORMAT, "%s: model.vocab[\"%.100s\"]: expected a non-negative integer id", path,
                            it->string);
        rc = vocab_set(&t->v, (int32_t)it->valuedouble, it->string, strlen(it->string), 1, err);
        if (rc) {
            tok_error_prefix(err, "%s: model.vocab[\"%.100s\"]", path, it->string);
            return rc;
        }
    }
    const char *pre = str_of(model, "continuing_subword_prefix");
    h->wp_prefix = dup_str(pre ? pre : "##", &h->wp_prefix_len);
    if (!h->wp_prefix) return tok_fail(err, TOK_ENOMEM, "out of memory");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    h->wp_max_chars = cJSON_IsNumber(mx) && mx->valuedouble >= 0 ? (size_t)mx->valuedouble : 100;
    h->model = HFM_WORDPIECE;
    return 0;
}

int hf_load_model(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    const cJSON *model = json;
    const char *type = hf_type_of(model);
    if (type && !strcmp(type, "Unigram")) return load_unigram(t, model, path, err);
    if (type && !strcmp(type, "WordPiece")) return load_wordpiece(t, model, path, err);
    return unsupported(err, path, "model", "model type", type);
}

int hf_load_finish(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    const cJSON *model = json;
    hf_pipeline *h = t->hf;
    if (h->model == HFM_BPE_CHARS) {
        h->fuse_unk = hf_flag(model, "fuse_unk", false);
        h->byte_fallback = hf_flag(model, "byte_fallback", false);
        h->ignore_merges = hf_flag(model, "ignore_merges", false);
    }
    if (h->model != HFM_UNIGRAM) {
        const char *unk = str_of(model, "unk_token");
        h->unk_id = unk ? tok_token_id(t, unk, strlen(unk)) : -1;
        if (unk && h->unk_id < 0)
            return tok_fail(err, TOK_EFORMAT, "%s: model.unk_token: \"%.100s\" is not in the vocabulary", path, unk);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        h->byte_tok[b] = vocab_find(&t->v, name, 6);
    }
    for (uint32_t i = 0; i < t->v.n; i++)
        if (t->v.off[i] != VOCAB_NONE && t->v.len[i] > h->max_piece_len) h->max_piece_len = t->v.len[i];
    if (h->model == HFM_UNIGRAM) return hf_unigram_build_trie(t, err);
    return h->model == HFM_BPE_CHARS ? hf_bpe_build_bigrams(t, err) : 0;
}

/* ---- decoders ----------------------------------------------------------------- */

static int add_dec(hf_pipeline *h, hf_dec **d, int kind, tok_error *err) {
    hf_dec *nv = realloc(h->dec, (h->n_dec + 1) * sizeof *nv);
    if (!nv) return tok_fail(err, TOK_ENOMEM, "out of memory");
    h->dec = nv;
    *d = &nv[h->n_dec++];
    memset(*d, 0, sizeof **d);
    (*d)->kind = kind;
    return 0;
}

static int load_dec(tok_tokenizer *t, const cJSON *d, const char *path, const char *where, tok_error *err) {
    hf_pipeline *h = t->hf;
    const char *type = hf_type_of(d);
    hf_dec *x;
    int rc;
    if (!type) return tok_fail(err, TOK_EFORMAT, "%s: %s: missing \"type\"", path, where);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders"), *it;
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.decoders[%d]", where, i++);
            rc = load_dec(t, it, path, w, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(d, "pattern");
        const char *lit = str_of(pat, "String"), *content = str_of(d, "content");
        if (!lit || !content || !*lit)
            return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: Replace needs pattern.String (Regex is not supported) and content",
                            path, where);
        if ((rc = add_dec(h, &x, HFD_REPLACE, err))) return rc;
        x->a = dup_str(lit, &x->an);
        x->b = dup_str(content, &x->bn);
        return x->a && x->b ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!strcmp(type, "ByteFallback")) return add_dec(h, &x, HFD_BYTE_FALLBACK, err);
    if (!strcmp(type, "Fuse")) return add_dec(h, &x, HFD_FUSE, err);
    if (!strcmp(type, "Strip")) {
        const char *c = str_of(d, "content");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "start"), *b = cJSON_GetObjectItemCaseSensitive(d, "stop");
        if (!c || !*c || !cJSON_IsNumber(a) || !cJSON_IsNumber(b))
            return tok_fail(err, TOK_EFORMAT, "%s: %s: Strip needs content, start and stop", path, where);
        if ((rc = add_dec(h, &x, HFD_STRIP, err))) return rc;
        x->a = dup_str(c, &x->an);
        x->start = (int)a->valuedouble;
        x->stop = (int)b->valuedouble;
        return x->a ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = str_of(d, "replacement");
        if (!rep || strcmp(rep, META))
            return tok_fail(err, TOK_EUNSUPPORTED, "%s: %s: Metaspace replacement other than U+2581 is not supported",
                            path, where);
        if ((rc = add_dec(h, &x, HFD_METASPACE, err))) return rc;
        if (prepend_scheme(d, &x->prepend)) return tok_fail(err, TOK_EFORMAT, "%s: %s: unknown prepend_scheme", path, where);
        return 0;
    }
    if (!strcmp(type, "WordPiece")) {
        const char *p = str_of(d, "prefix");
        if ((rc = add_dec(h, &x, HFD_WORDPIECE, err))) return rc;
        x->a = dup_str(p ? p : "##", &x->an);
        x->cleanup = hf_flag(d, "cleanup", true);
        return x->a ? 0 : tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    return unsupported(err, path, where, "decoder", type);
}

int hf_load_decoder(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    const cJSON *d = json;
    if (!d || cJSON_IsNull(d)) return 0;
    t->hf->has_decoder = true;
    return load_dec(t, d, path, "decoder", err);
}

/* ---- added tokens matched in normalized text ------------------------------------ */

/* HF looks for an added token with normalized=true (the default for
 * non-special ones) in the normalized text. Added tokens are matched in the
 * raw text here, which is the same thing when the normalizers leave the
 * token's content unchanged (Prepend aside, which only acts at the start);
 * any other such token is refused rather than matched wrongly. */
int hf_check_added(tok_tokenizer *t, const void *json, const char *path, tok_error *err) {
    const hf_pipeline *h = t->hf;
    if (!h->n_norm) return 0;
    hf_pipeline tmp = *h;
    tmp.norm = malloc(h->n_norm * sizeof *tmp.norm);
    if (!tmp.norm) return tok_fail(err, TOK_ENOMEM, "out of memory");
    tmp.n_norm = 0;
    for (size_t i = 0; i < h->n_norm; i++)
        if (h->norm[i].kind != HFN_PREPEND) tmp.norm[tmp.n_norm++] = h->norm[i];
    const cJSON *it;
    int i = 0, rc = 0;
    cJSON_ArrayForEach(it, (const cJSON *)json) {
        const char *content = str_of(it, "content");
        if (content && hf_flag(it, "normalized", !hf_flag(it, "special", false))) {
            size_t n = strlen(content), nn;
            char *norm = hf_normalize(&tmp, content, n, &nn, err);
            if (!norm) {
                rc = err ? err->code : TOK_ENOMEM;
                break;
            }
            bool same = nn == n && !memcmp(norm, content, n);
            free(norm);
            if (!same) {
                rc = tok_fail(err, TOK_EUNSUPPORTED,
                              "%s: added_tokens[%d]: \"%.60s\" has normalized=true and the normalizer changes it; "
                              "such added tokens are not supported by this build",
                              path, i, content);
                break;
            }
        }
        i++;
    }
    free(tmp.norm);
    return rc;
}
