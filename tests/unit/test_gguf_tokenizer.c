/*
 * Tokenizers built from GGUF vocabularies must give llama.cpp's ids:
 *  - every prompt of the model references (prompt_ids, recorded by
 *    llama.cpp's llama_tokenize with add_special=true: BOS when the file says
 *    add_bos_token), for the compact fixtures in tests/data/ always and for
 *    every model under $SHARED/models/ when present;
 *  - the 30 tokenizer edge cases of tokenize-*.json (llama-tokenize
 *    --no-parse-special) for the SentencePiece ("llama") and byte-level BPE
 *    ("gpt2", pre "gpt-2") vocabularies; without BOS the SPM ids also equal
 *    SentencePiece's own encode(text) recorded there;
 *  - decode(encode(text)) gives the text back, as llama.cpp's detokenize does.
 * Plus: the Hugging Face byte-level vocabularies of tests/data/tokenizers laid
 * out as GGUF arrays (pre llama-bpe, qwen2, gpt-2; with $SHARED also gpt-4o,
 * deepseek-v3) give Hugging Face's ids;
 * the streaming count; special-token parsing on request; the errors for
 * unsupported vocabularies and pre-tokenizers; the pre-tokenizer choice.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "check.h"
#include "tok.h"
#include "tok_engine.h"

/* cJSON strings end at a NUL, so an escaped NUL (one reference text has
 * one) is read as U+10FFFE, a noncharacter no reference text uses, and
 * turned back by text_of. Returns a new buffer. */
static char *escape_nul(const char *src) {
    size_t n = strlen(src), o = 0;
    char *out = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t bs = 0;
        while (bs < i && src[i - 1 - bs] == '\\') bs++;
        if (src[i] == 'u' && bs % 2 == 1 && !strncmp(src + i + 1, "0000", 4)) {
            memcpy(out + o, "uDBFF\\uDFFE", 11);
            o += 11;
            i += 4;
        } else
            out[o++] = src[i];
    }
    out[o] = 0;
    return out;
}

static cJSON *load_json(const char *path) {
    char *s = check_read_file(path, NULL);
    char *e = s ? escape_nul(s) : NULL;
    cJSON *j = e ? cJSON_Parse(e) : NULL;
    free(e);
    free(s);
    return j;
}

/* The text of a JSON string (a fresh buffer) and its length. */
static char *text_of(const char *s, size_t *len) {
    size_t n = strlen(s), o = 0;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (i + 4 <= n && !memcmp(s + i, "\xF4\x8F\xBF\xBE", 4)) {
            out[o++] = 0;
            i += 3;
        } else
            out[o++] = s[i];
    }
    out[o] = 0;
    *len = o;
    return out;
}

static tok_tokenizer *load_gguf(const char *path) {
    tok_error err = {0};
    tok_gguf *g = tok_gguf_open(path, &err);
    tok_tokenizer *t = g ? tok_gguf_tokenizer(g, &err) : NULL;
    tok_gguf_close(g);
    CHECK_MSG(t != NULL, "%s: %s", path, err.msg);
    return t;
}

static bool ids_equal(const tok_ids *got, const cJSON *want, size_t skip_first) {
    size_t n = (size_t)cJSON_GetArraySize(want);
    if (n < skip_first || got->n != n - skip_first) return false;
    for (size_t i = skip_first; i < n; i++)
        if (got->ids[i - skip_first] != (int32_t)cJSON_GetArrayItem(want, (int)i)->valuedouble) return false;
    return true;
}

static void show_mismatch(const char *path, const char *text, const tok_ids *got, const cJSON *want) {
    fprintf(stderr, "%s: \"%.60s\"\n    want:", path, text);
    const cJSON *it;
    cJSON_ArrayForEach(it, want) fprintf(stderr, " %d", (int)it->valuedouble);
    fprintf(stderr, "\n    got: ");
    for (size_t i = 0; i < got->n; i++) fprintf(stderr, " %d", got->ids[i]);
    fputc('\n', stderr);
}

static int n_texts, n_matched, n_roundtrip;

/* Every record of a reference file: {"prompts": [{"prompt", "prompt_ids"}]}
 * or {"cases": [{"text", "ids", "sentencepiece_ids"?}]}. */
static void check_reference(const char *gguf, const char *ref) {
    cJSON *j = load_json(ref);
    CHECK_MSG(j != NULL, "cannot read %s", ref);
    if (!j) return;
    tok_tokenizer *t = load_gguf(gguf);
    if (!t) {
        cJSON_Delete(j);
        return;
    }
    const cJSON *list = cJSON_GetObjectItem(j, "prompts");
    bool cases = !list;
    if (cases) list = cJSON_GetObjectItem(j, "cases");
    CHECK_MSG(cJSON_GetArraySize(list) > 0, "%s: no prompts or cases", ref);
    tok_encode_params with = tok_encode_default_params(), without = with;
    with.add_special = true;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, list) {
        const cJSON *text = cJSON_GetObjectItem(rec, cases ? "text" : "prompt");
        const cJSON *want = cJSON_GetObjectItem(rec, cases ? "ids" : "prompt_ids");
        if (!cJSON_IsString(text) || !cJSON_IsArray(want)) continue;
        size_t len;
        char *s = text_of(text->valuestring, &len);
        tok_ids ids = {0};
        tok_error err = {0};
        n_texts++;
        int rc = tok_encode(t, s, len, &with, &ids, &err);
        CHECK_MSG(rc == 0, "%s: %s", ref, err.msg);
        bool ok = rc == 0 && ids_equal(&ids, want, 0);
        CHECK_MSG(ok, "%s: ids differ from llama.cpp's", ref);
        if (!ok) show_mismatch(ref, s, &ids, want);
        n_matched += ok;

        /* the count agrees; without BOS the ids are the same minus BOS */
        size_t count = 0;
        CHECK(tok_count(t, s, len, &with, &count, &err) == 0 && count == ids.n);
        tok_ids bare = {0};
        CHECK(tok_encode(t, s, len, &without, &bare, &err) == 0);
        size_t nbos = ids.n > 0 && ids.ids[0] == tok_bos_id(t) && bare.n < ids.n ? 1 : 0;
        CHECK(ids_equal(&bare, want, nbos));
        const cJSON *spm_ids = cJSON_GetObjectItem(rec, "sentencepiece_ids");
        if (cJSON_IsArray(spm_ids)) CHECK_MSG(ids_equal(&bare, spm_ids, 0), "%s: \"%.40s\" vs SentencePiece", ref, s);

        /* decode gives the text back (special tokens such as BOS skipped) */
        tok_bytes back = {0};
        rc = tok_decode(t, ids.ids, ids.n, true, &back, &err);
        bool same = rc == 0 && back.n == len && !memcmp(back.data, s, len);
        CHECK_MSG(same, "%s: decode(\"%.40s\") = \"%.40s\"", ref, s, back.data ? back.data : "");
        n_roundtrip += same;
        tok_bytes_free(&back);
        tok_ids_free(&bare);
        tok_ids_free(&ids);
        free(s);
    }
    tok_free(t);
    cJSON_Delete(j);
}

/* Reference files of a folder whose name starts with `prefix`; the GGUF is
 * the file named by the reference's "model" field, in the same folder. */
static void check_folder(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) || n < 5 || strcmp(e->d_name + n - 5, ".json")) continue;
        char ref[4096], gguf[4096];
        snprintf(ref, sizeof ref, "%.1000s/%.1000s", dir, e->d_name);
        cJSON *j = load_json(ref);
        const cJSON *model = cJSON_GetObjectItem(j, "model");
        if (cJSON_IsString(model)) {
            snprintf(gguf, sizeof gguf, "%.1000s/%.1000s", dir, model->valuestring);
            FILE *f = fopen(gguf, "rb");
            if (f) {
                fclose(f);
                check_reference(gguf, ref);
            }
        }
        cJSON_Delete(j);
    }
    closedir(d);
}

/* ---- special tokens ------------------------------------------------------------ */

static void check_specials(const char *gguf, const char *special_text) {
    tok_tokenizer *t = load_gguf(gguf);
    if (!t) return;
    int32_t id = tok_token_id(t, special_text, strlen(special_text));
    CHECK_MSG(id >= 0 && tok_is_special(t, id), "%s: %s is a control token", gguf, special_text);
    char text[128];
    snprintf(text, sizeof text, "a%sb", special_text);
    tok_encode_params p = tok_encode_default_params();
    tok_ids plain = {0}, parsed = {0};
    tok_error err = {0};
    CHECK(tok_encode(t, text, strlen(text), &p, &plain, &err) == 0);
    p.special = TOK_SPECIAL_ALL;
    CHECK(tok_encode(t, text, strlen(text), &p, &parsed, &err) == 0);
    bool in_plain = false, in_parsed = false;
    for (size_t i = 0; i < plain.n; i++) in_plain |= plain.ids[i] == id;
    for (size_t i = 0; i < parsed.n; i++) in_parsed |= parsed.ids[i] == id;
    CHECK_MSG(!in_plain && in_parsed, "%s: %s is text by default, a token with --special all", gguf, special_text);
    /* skip_special drops it again on decode */
    tok_bytes out = {0};
    CHECK(tok_decode(t, parsed.ids, parsed.n, true, &out, &err) == 0);
    CHECK_MSG(out.data && !strstr(out.data, special_text), "%s: decode skipped %s", gguf, special_text);
    tok_bytes_free(&out);
    tok_ids_free(&plain);
    tok_ids_free(&parsed);
    tok_free(t);
}

/* ---- streaming count --------------------------------------------------------------- */

/* A text past the counter's 1 MB window, fed in small pieces, counts as
 * tok_count of the whole (SentencePiece must not be cut at spaces). */
static void check_counter(const char *gguf) {
    tok_tokenizer *t = load_gguf(gguf);
    if (!t) return;
    static const char *words[] = {"In", "the", "beginning", "God", "created", "heaven", "and", "earth", "1234", "\n"};
    size_t cap = 1300000, n = 0;
    char *text = malloc(cap + 16);
    for (unsigned x = 1; n < cap; x = x * 1103515245u + 12345u) {
        const char *w = words[(x >> 16) % 10];
        size_t k = strlen(w);
        memcpy(text + n, w, k);
        n += k;
        text[n++] = ' ';
    }
    tok_encode_params p = tok_encode_default_params();
    p.add_special = true;
    tok_error err = {0};
    size_t whole = 0, streamed = 0;
    CHECK(tok_count(t, text, n, &p, &whole, &err) == 0);
    tok_counter *c = tok_counter_new(t, &p, &err);
    for (size_t i = 0; c && i < n; i += 65536) CHECK(tok_counter_feed(c, text + i, n - i < 65536 ? n - i : 65536, &err) == 0);
    CHECK(c && tok_counter_finish(c, &streamed, &err) == 0);
    CHECK_MSG(whole > 0 && streamed == whole, "%s: streamed count %zu, whole %zu", gguf, streamed, whole);
    tok_counter_free(c);
    free(text);
    tok_free(t);
}

/* ---- Hugging Face vocabularies laid out as GGUF carries them ---------------------------- */

/* The arrays convert_hf_to_gguf.py writes for a byte-level tokenizer.json:
 * tokens by id (holes as unused placeholders), added tokens as control
 * (special) or user-defined, merges as "a b". */
static tok_tokenizer *from_tokenizer_json(const char *path, const char *pre) {
    cJSON *root = load_json(path);
    const cJSON *model = cJSON_GetObjectItem(root, "model");
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab"), *merges = cJSON_GetObjectItem(model, "merges");
    const cJSON *added = cJSON_GetObjectItem(root, "added_tokens"), *it;
    CHECK_MSG(cJSON_IsObject(vocab) && cJSON_IsArray(merges), "%s: model.vocab/merges", path);
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        cJSON_Delete(root);
        return NULL;
    }
    size_t n = 0;
    cJSON_ArrayForEach(it, vocab) if ((size_t)it->valuedouble + 1 > n) n = (size_t)it->valuedouble + 1;
    cJSON_ArrayForEach(it, added) {
        size_t id = (size_t)cJSON_GetObjectItem(it, "id")->valuedouble;
        if (id + 1 > n) n = id + 1;
    }
    const char **tokens = calloc(n, sizeof *tokens);
    int32_t *types = malloc(n * sizeof *types);
    char (*holes)[40] = calloc(n, sizeof *holes);
    for (size_t i = 0; i < n; i++) types[i] = 1;
    cJSON_ArrayForEach(it, vocab) tokens[(size_t)it->valuedouble] = it->string;
    cJSON_ArrayForEach(it, added) {
        size_t id = (size_t)cJSON_GetObjectItem(it, "id")->valuedouble;
        tokens[id] = cJSON_GetObjectItem(it, "content")->valuestring;
        types[id] = cJSON_IsTrue(cJSON_GetObjectItem(it, "special")) ? 3 : 4;
    }
    for (size_t i = 0; i < n; i++)
        if (!tokens[i]) {
            snprintf(holes[i], sizeof holes[i], "[PAD%zu]", i);
            tokens[i] = holes[i];
            types[i] = 5;
        }
    size_t nm = (size_t)cJSON_GetArraySize(merges), k = 0;
    char **m = calloc(nm ? nm : 1, sizeof *m);
    cJSON_ArrayForEach(it, merges) {
        if (cJSON_IsString(it)) m[k] = strdup(it->valuestring);
        else {
            const char *a = cJSON_GetArrayItem(it, 0)->valuestring, *b = cJSON_GetArrayItem(it, 1)->valuestring;
            m[k] = malloc(strlen(a) + strlen(b) + 2);
            sprintf(m[k], "%s %s", a, b);
        }
        k++;
    }
    tok_vocab_params p = tok_vocab_default_params();
    p.kind = TOK_VOCAB_BPE;
    p.name = path;
    p.n_tokens = n;
    p.tokens = tokens;
    p.types = types;
    p.n_merges = nm;
    p.merges = (const char *const *)m;
    p.pre = pre;
    p.add_bos = 0;
    tok_error err = {0};
    tok_tokenizer *t = tok_from_vocab(&p, &err);
    CHECK_MSG(t != NULL, "%s as GGUF arrays: %s", path, err.msg);
    for (size_t i = 0; i < nm; i++) free(m[i]);
    free(m);
    free(holes);
    free(types);
    free(tokens);
    cJSON_Delete(root);
    return t;
}

/* Hugging Face's ids for dev.jsonl, with added tokens matched as Hugging Face
 * does (parse_special). llama.cpp's regexes for these `pre` names are the
 * tokenizer.json ones; only Qwen2.5's NFC normalizer, which llama.cpp does not
 * run, can make a difference, so for it the texts that NFC changes are skipped. */
static void check_hf_as_gguf(const char *root, const char *name, const char *pre, bool nfc_normalizer) {
    char path[1200], ref[1200];
    snprintf(path, sizeof path, "%.1000s/tokenizers/%s/tokenizer.json", root, name);
    snprintf(ref, sizeof ref, "%.1000s/reference/%s/dev.jsonl", root, name);
    size_t len;
    char *data = check_read_file(ref, &len);
    tok_tokenizer *t = data ? from_tokenizer_json(path, pre) : NULL;
    if (!t) {
        CHECK_MSG(0, "cannot load %s / %s", path, ref);
        free(data);
        return;
    }
    tok_encode_params p = tok_encode_default_params();
    p.special = TOK_SPECIAL_ALL;
    int total = 0, matched = 0, skipped = 0;
    for (char *line = data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *escaped = escape_nul(line);
        cJSON *rec = cJSON_Parse(escaped);
        free(escaped);
        const cJSON *text = cJSON_GetObjectItem(rec, "text"), *want = cJSON_GetObjectItem(rec, "ids");
        if (cJSON_IsString(text) && cJSON_IsArray(want)) {
            size_t n;
            char *s = text_of(text->valuestring, &n);
            utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)s);
            if (nfc_normalizer && (!nfc || strlen((char *)nfc) != n || memcmp(nfc, s, n))) skipped++;
            else {
                tok_ids ids = {0};
                tok_error err = {0};
                total++;
                bool ok = tok_encode(t, s, n, &p, &ids, &err) == 0 && ids_equal(&ids, want, 0);
                if (!ok && total - matched <= 3) show_mismatch(ref, s, &ids, want);
                matched += ok;
                tok_ids_free(&ids);
            }
            free(nfc);
            free(s);
        }
        cJSON_Delete(rec);
    }
    printf("%s as GGUF (pre %s): %d/%d texts as Hugging Face (%d not NFC, skipped)\n", name, pre, matched, total,
           skipped);
    CHECK_MSG(total > 400 && matched == total, "%s: %d/%d", name, matched, total);
    free(data);
    tok_free(t);
}

/* ---- tok_from_vocab directly -------------------------------------------------------- */

/* A byte-level vocabulary: the 256 bytes (spelled as GPT-2 does) plus the
 * merges "1 2" -> "12" and "12 3" -> "123" and a control token; how "12345"
 * is split shows the pre-tokenizer. */
static tok_tokenizer *digit_vocab(const char *pre, tok_error *err) {
    static char spelled[258][8];
    const char *tokens[259];
    int32_t types[259];
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        unsigned cp = printable ? (unsigned)b : 256u + (unsigned)extra++;
        if (cp < 0x80) spelled[b][0] = (char)cp, spelled[b][1] = 0;
        else spelled[b][0] = (char)(0xC0 | (cp >> 6)), spelled[b][1] = (char)(0x80 | (cp & 63)), spelled[b][2] = 0;
        tokens[b] = spelled[b];
    }
    tokens[256] = "12";
    tokens[257] = "123";
    tokens[258] = "<|endoftext|>";
    for (int i = 0; i < 259; i++) types[i] = i == 258 ? 3 : 1;
    const char *merges[] = {"1 2", "12 3"};
    tok_vocab_params p = tok_vocab_default_params();
    p.kind = TOK_VOCAB_BPE;
    p.n_tokens = 259;
    p.tokens = tokens;
    p.types = types;
    p.n_merges = 2;
    p.merges = merges;
    p.pre = pre;
    return tok_from_vocab(&p, err);
}

static void check_pre(const char *pre, const int32_t *want, size_t n_want) {
    tok_error err = {0};
    tok_tokenizer *t = digit_vocab(pre, &err);
    CHECK_MSG(t != NULL, "pre %s: %s", pre ? pre : "(null)", err.msg);
    if (!t) return;
    tok_ids ids = {0};
    CHECK(tok_encode(t, "12345", 5, NULL, &ids, &err) == 0);
    bool same = ids.n == n_want && !memcmp(ids.ids, want, n_want * sizeof *want);
    CHECK_MSG(same, "pre %s: 12345 split as expected", pre ? pre : "(null)");
    tok_ids_free(&ids);
    tok_free(t);
}

static void check_from_vocab(void) {
    /* "12345": llama3 cuts digits in threes, qwen2/starcoder one by one, gpt-2 keeps the run */
    const int32_t threes[] = {257, '4', '5'}, ones[] = {'1', '2', '3', '4', '5'};
    check_pre("llama-bpe", threes, 3);
    check_pre("llama3", threes, 3);
    check_pre("gpt-2", threes, 3);
    check_pre("qwen2", ones, 5);
    check_pre("smollm", ones, 5);
    check_pre("default", threes, 3);
    check_pre(NULL, threes, 3);

    tok_error err = {0};
    CHECK(digit_vocab("no-such-pre", &err) == NULL && err.code == TOK_EUNSUPPORTED &&
          strstr(err.msg, "'no-such-pre'") != NULL);

    tok_vocab_params p = tok_vocab_default_params();
    CHECK(tok_from_vocab(&p, &err) == NULL && err.code == TOK_EINVAL);
    const char *toks[] = {"a", "b"}, *bad_merges[] = {"ab"}, *missing[] = {"a c"};
    p.kind = TOK_VOCAB_BPE;
    p.n_tokens = 2;
    p.tokens = toks;
    p.n_merges = 1;
    p.merges = bad_merges;
    CHECK(tok_from_vocab(&p, &err) == NULL && err.code == TOK_EFORMAT && strstr(err.msg, "merges[0]"));
    p.merges = missing;
    CHECK(tok_from_vocab(&p, &err) == NULL && err.code == TOK_EFORMAT && strstr(err.msg, "merges[0]"));
    p.n_merges = 0;
    p.bos_id = 7;
    CHECK(tok_from_vocab(&p, &err) == NULL && err.code == TOK_EFORMAT && strstr(err.msg, "bos_token_id"));
}

/* ---- GGUF files without a usable tokenizer ---------------------------------------------- */

typedef struct gbuf {
    unsigned char d[1024];
    size_t n;
} gbuf;

static void put(gbuf *b, const void *p, size_t n) {
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void gguf_begin(gbuf *b, uint64_t n_kv) {
    b->n = 0;
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 0);
    put_u64(b, n_kv);
}
static void kv_str(gbuf *b, const char *key, const char *v) {
    put_str(b, key);
    put_u32(b, TOK_GGUF_STRING);
    put_str(b, v);
}
static void kv_u32(gbuf *b, const char *key, uint32_t v) {
    put_str(b, key);
    put_u32(b, TOK_GGUF_U32);
    put_u32(b, v);
}
static void kv_strs(gbuf *b, const char *key, const char *const *v, uint64_t n) {
    put_str(b, key);
    put_u32(b, TOK_GGUF_ARRAY);
    put_u32(b, TOK_GGUF_STRING);
    put_u64(b, n);
    for (uint64_t i = 0; i < n; i++) put_str(b, v[i]);
}
static void kv_i32s(gbuf *b, const char *key, int elem_type, const int32_t *v, uint64_t n) {
    put_str(b, key);
    put_u32(b, TOK_GGUF_ARRAY);
    put_u32(b, (uint32_t)elem_type);
    put_u64(b, n);
    for (uint64_t i = 0; i < n; i++) put(b, &v[i], 4);
}

/* The tokenizer of an in-memory GGUF, or NULL with err filled. */
static tok_tokenizer *gguf_tokenizer(gbuf *b, const char *name, tok_error *err) {
    while (b->n % 32) b->d[b->n++] = 0;
    tok_gguf *g = tok_gguf_open_memory(b->d, b->n, name, err);
    CHECK_MSG(g != NULL, "%s: %s", name, err->msg);
    tok_tokenizer *t = g ? tok_gguf_tokenizer(g, err) : NULL;
    tok_gguf_close(g);
    return t;
}

static void expect_error(gbuf *b, int code, const char *needle) {
    tok_error err = {0};
    tok_tokenizer *t = gguf_tokenizer(b, "bad.gguf", &err);
    CHECK_MSG(!t && err.code == code && strstr(err.msg, needle) && strstr(err.msg, "bad.gguf"),
              "want error %d naming %s, got %d: %s", code, needle, err.code, err.msg);
    tok_free(t);
}

static void check_gguf_errors(void) {
    static const char *const ab[] = {"a", "b"};
    static const char *const spm[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a"};
    static const int32_t spm_types[] = {2, 3, 3, 1}, zeros[] = {0, 0, 0};
    gbuf b;
    gguf_begin(&b, 2); /* an unsupported tokenizer model is named */
    kv_str(&b, "tokenizer.ggml.model", "bert");
    kv_strs(&b, "tokenizer.ggml.tokens", ab, 2);
    expect_error(&b, TOK_EUNSUPPORTED, "'bert'");
    gguf_begin(&b, 0); /* no tokenizer at all */
    expect_error(&b, TOK_EFORMAT, "tokenizer.ggml.model");
    gguf_begin(&b, 1);
    kv_str(&b, "tokenizer.ggml.model", "llama");
    expect_error(&b, TOK_EFORMAT, "tokenizer.ggml.tokens");
    gguf_begin(&b, 2); /* tokens of the wrong type */
    kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_i32s(&b, "tokenizer.ggml.tokens", TOK_GGUF_I32, zeros, 2);
    expect_error(&b, TOK_EFORMAT, "tokenizer.ggml.tokens");
    gguf_begin(&b, 3); /* scores for another number of tokens */
    kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_strs(&b, "tokenizer.ggml.tokens", ab, 2);
    kv_i32s(&b, "tokenizer.ggml.scores", TOK_GGUF_F32, zeros, 3);
    expect_error(&b, TOK_EFORMAT, "tokenizer.ggml.scores");
    gguf_begin(&b, 3); /* a special id outside the vocabulary */
    kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_strs(&b, "tokenizer.ggml.tokens", ab, 2);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", 5);
    expect_error(&b, TOK_EFORMAT, "bos_token_id");
    gguf_begin(&b, 2); /* BPE without merges */
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_strs(&b, "tokenizer.ggml.tokens", ab, 2);
    expect_error(&b, TOK_EFORMAT, "tokenizer.ggml.merges");
    gguf_begin(&b, 4); /* an unknown pre-tokenizer is named */
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_strs(&b, "tokenizer.ggml.tokens", ab, 2);
    kv_strs(&b, "tokenizer.ggml.merges", ab, 0);
    kv_str(&b, "tokenizer.ggml.pre", "no-such-pre");
    expect_error(&b, TOK_EUNSUPPORTED, "'no-such-pre'");

    /* a minimal SentencePiece vocabulary: llama.cpp's defaults (BOS 1, space prefix) */
    gguf_begin(&b, 3);
    kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_strs(&b, "tokenizer.ggml.tokens", spm, 4);
    kv_i32s(&b, "tokenizer.ggml.token_type", TOK_GGUF_I32, spm_types, 4);
    tok_error err = {0};
    tok_tokenizer *t = gguf_tokenizer(&b, "small.gguf", &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    tok_ids ids = {0};
    tok_encode_params p = tok_encode_default_params();
    p.add_special = true;
    CHECK(t && tok_encode(t, "a", 1, &p, &ids, &err) == 0 && ids.n == 2 && ids.ids[0] == 1 && ids.ids[1] == 3);
    CHECK(t && tok_bos_id(t) == 1 && tok_eos_id(t) == 2 && tok_is_special(t, 2) && !tok_is_special(t, 3));
    size_t len = 0;
    const char *bytes = t ? tok_token_bytes(t, 3, &len) : NULL;
    CHECK(bytes && len == 2 && !memcmp(bytes, " a", 2)); /* U+2581 shown as a space */
    tok_ids_free(&ids);
    tok_free(t);
}

int main(void) {
    int before = n_texts;
    check_reference("tests/data/models/llama-rand-tiny-Q4_0.gguf", "tests/data/models/llama-rand-tiny-Q4_0.json");
    check_reference("data/models/tiny-kjv-Q8_0.gguf", "tests/data/models/tiny-kjv-reference-Q8_0.json");
    check_reference("tests/data/models/llama-rand-tiny-Q4_0.gguf", "tests/data/models/tokenize-spm_bpe8k_llamastyle.json");
    check_reference("tests/data/models/bpe8k-vim-vocab.gguf", "tests/data/models/tokenize-bpe8k-vim.json");
    CHECK_EQ_INT(n_texts - before, 7 + 5 + 30 + 30);
    printf("compact fixtures: %d/%d texts match llama.cpp, %d decode back\n", n_matched, n_texts, n_roundtrip);

    const char *shared = getenv("SHARED");
    if (shared) {
        char dir[1024];
        int t0 = n_texts, m0 = n_matched, r0 = n_roundtrip;
        snprintf(dir, sizeof dir, "%.900s/models/reference", shared);
        char gguf[4096], ref[4096];
        snprintf(gguf, sizeof gguf, "%.900s/models/llama-rand-tiny-F32.gguf", shared);
        snprintf(ref, sizeof ref, "%s/tokenize-spm_bpe8k_llamastyle.json", dir);
        FILE *f = fopen(gguf, "rb");
        if (f) {
            fclose(f);
            check_reference(gguf, ref);
            snprintf(gguf, sizeof gguf, "%.900s/models/qwen2-rand-tiny-F32.gguf", shared);
            snprintf(ref, sizeof ref, "%s/tokenize-bpe8k-vim.json", dir);
            check_reference(gguf, ref);
            /* model references name their file relative to models/ */
            snprintf(dir, sizeof dir, "%.900s/models", shared);
            DIR *d = opendir(dir);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                size_t n = strlen(e->d_name);
                if (n < 6 || strcmp(e->d_name + n - 5, ".gguf")) continue;
                snprintf(gguf, sizeof gguf, "%s/%s", dir, e->d_name);
                snprintf(ref, sizeof ref, "%s/reference/%.*s.json", dir, (int)(n - 5), e->d_name);
                FILE *rf = fopen(ref, "rb");
                if (rf) {
                    fclose(rf);
                    check_reference(gguf, ref);
                }
            }
            if (d) closedir(d);
            snprintf(dir, sizeof dir, "%.900s/models/tiny-kjv", shared);
            check_folder(dir, "reference-");
            printf("$SHARED: %d/%d texts match llama.cpp, %d decode back\n", n_matched - m0, n_texts - t0,
                   n_roundtrip - r0);
        }
    }

    check_specials("tests/data/models/llama-rand-tiny-Q4_0.gguf", "</s>");
    check_specials("tests/data/models/bpe8k-vim-vocab.gguf", "<|im_start|>");
    check_counter("data/models/tiny-kjv-Q8_0.gguf");
    check_counter("tests/data/models/bpe8k-vim-vocab.gguf");
    check_hf_as_gguf("tests/data", "hf_llama3", "llama-bpe", false);
    check_hf_as_gguf("tests/data", "hf_qwen2_5", "qwen2", true);
    check_hf_as_gguf("tests/data", "hf_gpt2", "gpt-2", false);
    if (shared) { /* the larger vocabularies live in $SHARED only */
        char tokenizers[1024];
        snprintf(tokenizers, sizeof tokenizers, "%.900s/tokenizers/hf_o200k/tokenizer.json", shared);
        FILE *f = fopen(tokenizers, "rb");
        if (f) {
            fclose(f);
            check_hf_as_gguf(shared, "hf_o200k", "gpt-4o", false);
            check_hf_as_gguf(shared, "hf_deepseek_v3", "deepseek-v3", false);
            check_hf_as_gguf(shared, "hf_cl100k", "llama-bpe", false);
        }
    }
    check_from_vocab();
    check_gguf_errors();
    return check_summary("test_gguf_tokenizer");
}
