/*
 * Hugging Face tokenizer.json, BPE models (byte-level family): model.vocab and
 * model.merges (both the "a b" string and the ["a", "b"] pair form),
 * ignore_merges, added_tokens, the NFC/NFKC normalizers, Split and ByteLevel
 * pre-tokenizers in any Sequence, TemplateProcessing/ByteLevel/Roberta/Bert
 * post-processors (for add_special) and the ByteLevel decoder.
 *
 * Byte-level vocabularies spell bytes with printable characters (GPT-2's
 * bytes_to_unicode); they are turned back into bytes here, so BPE and decode
 * work on bytes as for tiktoken. Anything this loader does not implement is
 * refused with the component's name and JSON path, never ignored.
 *
 * A file that is not byte-level (no ByteLevel pre-tokenizer or decoder) or
 * whose model is Unigram/WordPiece gets an hf_pipeline instead (hf.h): its
 * BPE vocabulary and merges still load here (strings kept as written, with
 * byte_fallback allowed), added tokens and the post-processor too; the
 * normalizers, pre-tokenizer, other models and decoders load in hf_load.c.
 * Cost: linear in the file (Gemma 3's 14 MB: ~1 s of CPU, mostly cJSON and
 * the hash lookups/inserts of 262,144 tokens and 514,906 merges).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bytelevel.h"
#include "hf.h"
#include "tokenizer.h"

const char *pretok_gpt2_pattern(void);

typedef struct hf_ctx {
    const char *path;
    tok_tokenizer *t;
    tok_error *err;
    bool byte_level;
    int16_t unbyte[512]; /* byte-level character -> byte, -1 if none */
} hf_ctx;

static void build_byte_map(hf_ctx *c) { bytelevel_unmap_init(c->unbyte); }

/* A vocabulary string as bytes: byte-level strings are mapped back to bytes;
 * a string with a character outside the map keeps its UTF-8 (as HF decodes it). */
static size_t token_bytes_n(const hf_ctx *c, const char *s, size_t n, unsigned char *out, size_t cap) {
    if (!c->byte_level) {
        if (n > cap) return (size_t)-1;
        memcpy(out, s, n);
        return n;
    }
    return bytelevel_to_bytes(c->unbyte, s, n, out, cap);
}

static size_t token_bytes(const hf_ctx *c, const char *s, unsigned char *out, size_t cap) {
    return token_bytes_n(c, s, strlen(s), out, cap);
}

static int fail_at(hf_ctx *c, int code, const char *where, const char *what) {
    return tok_fail(c->err, code, "%s: %s: %s", c->path, where, what);
}

static bool empty_or_null_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]);
}

/* ---- model ---------------------------------------------------------------- */

static int load_model(hf_ctx *c, const cJSON *model) {
    const char *type = hf_type_of(model);
    if (!type) {
        /* very old files have no "type": a BPE model is recognised by merges */
        if (!cJSON_GetObjectItemCaseSensitive(model, "merges")) return fail_at(c, TOK_EFORMAT, "model", "missing \"type\"");
        type = "BPE";
    }
    if (strcmp(type, "BPE"))
        return tok_fail(c->err, TOK_EUNSUPPORTED, "%s: model type %s is not supported by this build", c->path, type);
    if (c->byte_level && hf_flag(model, "byte_fallback", false))
        return fail_at(c, TOK_EUNSUPPORTED, "model.byte_fallback", "byte fallback BPE is not supported by this build");
    if (!empty_or_null_string(model, "continuing_subword_prefix") || !empty_or_null_string(model, "end_of_word_suffix"))
        return fail_at(c, TOK_EUNSUPPORTED, "model", "continuing_subword_prefix/end_of_word_suffix are not supported");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout)) return fail_at(c, TOK_EUNSUPPORTED, "model.dropout", "BPE dropout is not supported");
    c->t->whole_lookup = hf_flag(model, "ignore_merges", false);

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return fail_at(c, TOK_EFORMAT, "model.vocab", "expected an object");
    int rc = vocab_init(&c->t->v, (uint32_t)cJSON_GetArraySize(vocab), c->err);
    if (rc) return rc;
    unsigned char buf[4096];
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 16777216 ||
            it->valuedouble != (double)(int32_t)it->valuedouble) {
            char where[160];
            snprintf(where, sizeof where, "model.vocab[\"%.100s\"]", it->string);
            return fail_at(c, TOK_EFORMAT, where, "expected a non-negative integer id");
        }
        size_t n = token_bytes(c, it->string, buf, sizeof buf);
        if (n == (size_t)-1) return fail_at(c, TOK_EFORMAT, "model.vocab", "token longer than 4096 bytes");
        bool dup = vocab_find(&c->t->v, buf, n) >= 0;
        rc = vocab_set(&c->t->v, (int32_t)it->valuedouble, buf, n, !dup, c->err);
        if (rc) {
            tok_error_prefix(c->err, "%s: model.vocab[\"%.100s\"]", c->path, it->string);
            return rc;
        }
    }

    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) return fail_at(c, TOK_EFORMAT, "model.merges", "expected an array");
    uint32_t rank = 0;
    unsigned char lb[4096], rb[4096];
    cJSON_ArrayForEach(it, merges) {
        const char *l = NULL, *r = NULL;
        size_t lsz = 0, rsz = 0;
        char where[64]; /* formatted only on an error: 500,000 merges load faster */
#define WHERE (snprintf(where, sizeof where, "model.merges[%u]", rank), where)
        const cJSON *a0 = cJSON_IsArray(it) ? it->child : NULL, *a1 = a0 ? a0->next : NULL;
        if (cJSON_IsString(it)) {
            const char *sp = strchr(it->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' '))
                return fail_at(c, TOK_EFORMAT, WHERE, "expected two symbols separated by one space");
            l = it->valuestring;
            lsz = (size_t)(sp - l);
            r = sp + 1;
            rsz = strlen(r);
        } else if (cJSON_IsString(a0) && cJSON_IsString(a1) && !a1->next) {
            l = a0->valuestring;
            lsz = strlen(l);
            r = a1->valuestring;
            rsz = strlen(r);
        } else
            return fail_at(c, TOK_EFORMAT, WHERE, "expected \"a b\" or [\"a\", \"b\"]");
        size_t ln = token_bytes_n(c, l, lsz, lb, sizeof lb), rn = token_bytes_n(c, r, rsz, rb, sizeof rb);
        int32_t li = ln == (size_t)-1 ? -1 : vocab_find(&c->t->v, lb, ln);
        int32_t ri = rn == (size_t)-1 ? -1 : vocab_find(&c->t->v, rb, rn);
        int32_t mi = -1;
        if (li >= 0 && ri >= 0 && ln + rn <= sizeof buf) {
            memcpy(buf, lb, ln);
            memcpy(buf + ln, rb, rn);
            mi = vocab_find(&c->t->v, buf, ln + rn);
        }
        if (li < 0 || ri < 0 || mi < 0) return fail_at(c, TOK_EFORMAT, WHERE, "a symbol or the merged token is not in model.vocab");
        rc = vocab_add_pair(&c->t->v, li, ri, rank, mi, c->err);
        if (rc) return rc;
        rank++;
#undef WHERE
    }
    return 0;
}

/* ---- normalizer, pre-tokenizer ------------------------------------------------ */

static int load_normalizer(hf_ctx *c, const cJSON *n, const char *where) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = hf_type_of(n);
    if (!type) return fail_at(c, TOK_EFORMAT, where, "missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers"), *it;
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, i++);
            int rc = load_normalizer(c, it, w);
            if (rc) return rc;
        }
        return 0;
    }
    int norm = !strcmp(type, "NFC") ? NORM_NFC : !strcmp(type, "NFKC") ? NORM_NFKC : -1;
    if (norm < 0 || c->t->norm) {
        char msg[160];
        snprintf(msg, sizeof msg, "normalizer %s is not supported by this build%s", type, c->t->norm ? " after another" : "");
        return fail_at(c, TOK_EUNSUPPORTED, where, msg);
    }
    c->t->norm = norm;
    c->t->norm_max_age = HF_UNICODE_AGE;
    return 0;
}

static int load_pretokenizer(hf_ctx *c, const cJSON *p, const char *where) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = hf_type_of(p);
    if (!type) return fail_at(c, TOK_EFORMAT, where, "missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *it;
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i++);
            int rc = load_pretokenizer(c, it, w);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        c->byte_level = true;
        if (hf_flag(p, "add_prefix_space", false))
            return fail_at(c, TOK_EUNSUPPORTED, where, "ByteLevel add_prefix_space=true is not supported by this build");
        if (hf_flag(p, "use_regex", true)) return pretok_add_regex(&c->t->pt, pretok_gpt2_pattern(), SPLIT_ISOLATED, 0, c->err);
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        int b = hf_split_behavior(cJSON_IsString(beh) ? beh->valuestring : NULL);
        if (b < 0) return fail_at(c, TOK_EUNSUPPORTED, where, "unknown Split behavior");
        bool invert = hf_flag(p, "invert", false);
        int rc;
        if (cJSON_IsString(re)) rc = pretok_add_regex(&c->t->pt, re->valuestring, b, invert, c->err);
        else if (cJSON_IsString(str)) rc = pretok_add_literal(&c->t->pt, str->valuestring, strlen(str->valuestring), b, invert, c->err);
        else return fail_at(c, TOK_EFORMAT, where, "Split needs pattern.Regex or pattern.String");
        if (rc) tok_error_prefix(c->err, "%s: %s", c->path, where);
        return rc;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "pre-tokenizer %s is not supported by this build", type);
    return fail_at(c, TOK_EUNSUPPORTED, where, msg);
}

/* ---- post-processor ------------------------------------------------------------ */

static int push(int32_t **v, size_t *n, int32_t id, tok_error *err) {
    int32_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return tok_fail(err, TOK_ENOMEM, "out of memory");
    *v = nv;
    nv[(*n)++] = id;
    return 0;
}

static int load_post(hf_ctx *c, const cJSON *p, const char *where) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = hf_type_of(p);
    if (!type) return fail_at(c, TOK_EFORMAT, where, "missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "processors"), *it;
        int i = 0;
        cJSON_ArrayForEach(it, list) {
            char w[128];
            snprintf(w, sizeof w, "%s.processors[%d]", where, i++);
            int rc = load_post(c, it, w);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) return 0; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(p, "single");
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(p, "special_tokens"), *it;
        bool after = false;
        cJSON_ArrayForEach(it, single) {
            if (cJSON_GetObjectItemCaseSensitive(it, "Sequence")) {
                after = true;
                continue;
            }
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
            const cJSON *def = cJSON_IsString(name) ? cJSON_GetObjectItemCaseSensitive(specials, name->valuestring) : NULL;
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids"), *id;
            if (!cJSON_IsArray(ids)) return fail_at(c, TOK_EFORMAT, where, "single: a SpecialToken without ids in special_tokens");
            cJSON_ArrayForEach(id, ids) {
                if (!cJSON_IsNumber(id)) return fail_at(c, TOK_EFORMAT, where, "special_tokens: ids must be numbers");
                int rc = after ? push(&c->t->suffix, &c->t->n_suffix, (int32_t)id->valuedouble, c->err)
                               : push(&c->t->prefix, &c->t->n_prefix, (int32_t)id->valuedouble, c->err);
                if (rc) return rc;
            }
        }
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(p, "cls"), *sep = cJSON_GetObjectItemCaseSensitive(p, "sep");
        const cJSON *cid = cJSON_GetArrayItem(cls, 1), *sid = cJSON_GetArrayItem(sep, 1);
        if (!cJSON_IsNumber(cid) || !cJSON_IsNumber(sid)) return fail_at(c, TOK_EFORMAT, where, "cls/sep must be [token, id]");
        int rc = push(&c->t->prefix, &c->t->n_prefix, (int32_t)cid->valuedouble, c->err);
        return rc ? rc : push(&c->t->suffix, &c->t->n_suffix, (int32_t)sid->valuedouble, c->err);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "post-processor %s is not supported by this build", type);
    return fail_at(c, TOK_EUNSUPPORTED, where, msg);
}

static int check_decoder(hf_ctx *c, const cJSON *d) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *type = hf_type_of(d);
    if (type && !strcmp(type, "ByteLevel")) return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "decoder %s is not supported by this build", type ? type : "(no type)");
    return fail_at(c, TOK_EUNSUPPORTED, "decoder", msg);
}

/* ---- added tokens ---------------------------------------------------------------- */

static int load_added(hf_ctx *c, const cJSON *added) {
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, added) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%d]", i++);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 16777216 || !cJSON_IsString(content) ||
            !content->valuestring[0])
            return fail_at(c, TOK_EFORMAT, where, "expected an id and a non-empty content");
        int32_t tid = (int32_t)id->valuedouble;
        const char *s = content->valuestring;
        size_t n = strlen(s);
        int rc = tokenizer_add_special(c->t, s, n, tid, hf_flag(it, "special", false), c->err);
        if (rc) return rc;
        special_tok *st = &c->t->specials[c->t->n_specials - 1];
        st->lstrip = hf_flag(it, "lstrip", false);
        st->rstrip = hf_flag(it, "rstrip", false);
        st->single_word = hf_flag(it, "single_word", false);
        if ((uint32_t)tid >= c->t->v.n || c->t->v.off[tid] == VOCAB_NONE) {
            rc = vocab_set(&c->t->v, tid, s, n, 0, c->err);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ---- non-byte-level files (hf.h) ------------------------------------------------ */

static bool has_bytelevel(const cJSON *p) {
    const char *type = hf_type_of(p);
    if (type && !strcmp(type, "ByteLevel")) return true;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *it;
    cJSON_ArrayForEach(it, list) if (has_bytelevel(it)) return true;
    return false;
}

static int load_pipeline(hf_ctx *c, const cJSON *root, const cJSON *model, const char *mt) {
    tok_tokenizer *t = c->t;
    if (!(t->hf = calloc(1, sizeof *t->hf))) return tok_fail(c->err, TOK_ENOMEM, "out of memory");
    int rc = hf_load_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), c->path, c->err);
    if (!rc) rc = hf_load_pretokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), c->path, c->err);
    if (!rc && !strcmp(mt, "BPE")) {
        t->hf->model = HFM_BPE_CHARS;
        rc = load_model(c, model);
    } else if (!rc)
        rc = hf_load_model(t, model, c->path, c->err);
    if (!rc) rc = load_added(c, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"));
    if (!rc) rc = hf_check_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), c->path, c->err);
    if (!rc) rc = hf_load_finish(t, model, c->path, c->err);
    if (!rc) rc = load_post(c, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor");
    if (!rc) rc = hf_load_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), c->path, c->err);
    return rc;
}

tok_tokenizer *hf_json_load(const char *path, const char *data, size_t len, tok_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        size_t off = end ? (size_t)(end - data) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (data[i] == '\n') line++, col = 1;
            else col++;
        }
        tok_fail(err, TOK_EFORMAT, "%s:%zu:%zu: invalid JSON", path, line, col);
        return NULL;
    }
    hf_ctx c = {path, NULL, err, false, {0}};
    build_byte_map(&c);
    c.t = tokenizer_new(path, "tokenizer.json", err);
    int rc = c.t ? 0 : TOK_ENOMEM;
    if (!rc && !cJSON_IsObject(root)) rc = fail_at(&c, TOK_EFORMAT, "(top level)", "expected an object");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!rc && !cJSON_IsObject(model)) rc = fail_at(&c, TOK_EFORMAT, "model", "missing or not an object");
    /* Byte-level files (a ByteLevel pre-tokenizer or decoder) take the fast
     * path below; every other file gets an hf_pipeline. */
    const char *mt = rc ? NULL : hf_type_of(model);
    if (!rc && !mt && cJSON_GetObjectItemCaseSensitive(model, "merges")) mt = "BPE"; /* very old files */
    if (!rc && !mt) rc = fail_at(&c, TOK_EFORMAT, "model", "missing \"type\"");
    bool pipeline = false;
    if (!rc) {
        const char *dt = hf_type_of(cJSON_GetObjectItemCaseSensitive(root, "decoder"));
        pipeline = strcmp(mt, "BPE") ||
                   (!has_bytelevel(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) && !(dt && !strcmp(dt, "ByteLevel")));
    }
    if (!rc && pipeline) {
        rc = load_pipeline(&c, root, model, mt);
        goto done;
    }
    /* the pre-tokenizer decides whether vocabulary strings are byte-level */
    if (!rc) rc = load_pretokenizer(&c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer");
    if (!rc && !c.byte_level) {
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
        const char *dt = hf_type_of(dec);
        if (!dt || strcmp(dt, "ByteLevel"))
            rc = fail_at(&c, TOK_EUNSUPPORTED, "pre_tokenizer", "only byte-level BPE tokenizer.json files are supported by this build");
        else
            c.byte_level = true;
    }
    if (!rc) rc = load_normalizer(&c, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer");
    if (!rc) rc = load_model(&c, model);
    if (!rc) rc = load_added(&c, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"));
    if (!rc) rc = load_post(&c, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor");
    if (!rc) rc = check_decoder(&c, cJSON_GetObjectItemCaseSensitive(root, "decoder"));
done:
    cJSON_Delete(root);
    if (!rc) {
        c.t->specials_by_default = true;
        c.t->decode_lossy = true;
        if (c.t->n_prefix) c.t->bos = c.t->prefix[0];
        if (c.t->n_suffix) c.t->eos = c.t->suffix[c.t->n_suffix - 1];
        rc = tokenizer_finish(c.t, err);
    }
    if (rc) {
        tok_free(c.t);
        return NULL;
    }
    return c.t;
}

/*
 * serde_json (without its float_roundtrip feature, as tokenizers builds it)
 * reads a decimal number by collecting its digits into a u64 significand,
 * converting that to f64, then multiplying or dividing once by a power of
 * ten: two roundings once the significand passes 2^53, so the result can be
 * 1 ulp off the correctly rounded value that cJSON (strtod) gives. Unigram
 * scores then tie or not differently: "_" x 33 with hf_spm_unigram8k_nfkc
 * is ["\u2581", "_" x 16, "_" x 16, "_"] in HF only because of it. cJSON keeps
 * no number text, so the text is rebuilt as the shortest digits that read back
 * as d (what Python's and serde_json's writers emit) and read serde's way.
 */
static double pow10_exact(int k) {
    char b[16];
    snprintf(b, sizeof b, "1e%d", k);
    return strtod(b, NULL); /* correctly rounded, like Rust's literal table */
}

double hf_serde_f64(double d) {
    if (d == 0 || d != d || d - d != 0) return d; /* zero, NaN, infinity */
    char buf[48];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) break;
    }
    snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    const char *p = buf;
    bool neg = *p == '-';
    if (neg) p++;
    uint64_t sig = 0;
    int frac = 0;
    bool after = false;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            after = true;
            continue;
        }
        sig = sig * 10 + (uint64_t)(*p - '0');
        frac += after;
    }
    int exp10 = (*p == 'e' ? atoi(p + 1) : 0) - frac;
    double f = (double)sig;
    while (exp10 < -308 && f != 0) {
        f /= 1e308;
        exp10 += 308;
    }
    if (exp10 >= 0) f *= pow10_exact(exp10);
    else f /= pow10_exact(-exp10);
    return neg ? -f : f;
}
