/*
 * Malformed and unsupported non-byte-level tokenizer.json files (character
 * BPE with byte fallback, Unigram, WordPiece; normalizer, pre-tokenizer and
 * decoder chains). Each hand-made file must fail with the right code and a
 * message naming the component or JSON path - never load silently, never
 * crash. The real fixtures are then damaged (charsmap cut, vocabulary entries
 * replaced) and must load or fail cleanly; whatever loads is exercised on
 * awkward texts and every id is decoded (run under `make asan`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "tokenizer.h"

typedef struct bad_case {
    const char *json;
    int code;
    const char *needle; /* must appear in the message */
} bad_case;

#define UNI_HEAD "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1],[\"b\",-2]]}"
#define WP_MODEL "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"##b\":2}}"
#define BPE_MODEL                                                                                                 \
    "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"fuse_unk\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0," \
    "\"a\":1,\"b\":2,\"ab\":3},\"merges\":[\"a b\"]}"

static const bad_case bad[] = {
    /* models */
    {"{\"model\":{\"type\":\"Unigram\",\"vocab\":{}}}", TOK_EFORMAT, "model.vocab"},
    {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0],[\"b\"]]}}", TOK_EFORMAT, "model.vocab[1]"},
    {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0],[7,1]]}}", TOK_EFORMAT, "model.vocab[1]"},
    {"{\"model\":{\"type\":\"Unigram\",\"unk_id\":5,\"vocab\":[[\"a\",0]]}}", TOK_EFORMAT, "model.unk_id"},
    {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0],[\"a\",1]]}}", 0, NULL},
    {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":[]}}", TOK_EFORMAT, "model.vocab"},
    {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":-3}}}", TOK_EFORMAT, "model.vocab[\"a\"]"},
    {"{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0}}}", TOK_EFORMAT, "unk_token"},
    {"{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}}}", TOK_EUNSUPPORTED, "WordLevel"},
    {"{\"model\":{\"vocab\":{}}}", TOK_EFORMAT, "type"},
    {"{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<nope>\",\"vocab\":{\"a\":0},\"merges\":[]}}", TOK_EFORMAT,
     "unk_token"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", TOK_EFORMAT, "model.merges[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\"]]}}", TOK_EFORMAT, "model.merges[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"dropout\":0.1}}", TOK_EUNSUPPORTED, "dropout"},
    /* normalizers */
    {"{\"normalizer\":{\"type\":\"Nmt\"}," WP_MODEL "}", TOK_EUNSUPPORTED, "normalizer Nmt"},
    {"{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Foo\"}]}," WP_MODEL "}",
     TOK_EUNSUPPORTED, "normalizer.normalizers[1]"},
    {"{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":7}," WP_MODEL "}", TOK_EFORMAT, "normalizers"},
    {"{\"normalizer\":{\"normalizers\":[]}," WP_MODEL "}", TOK_EFORMAT, "type"},
    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"@@@\"}," WP_MODEL "}", TOK_EFORMAT,
     "base64"},
    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAA\"}," WP_MODEL "}", TOK_EFORMAT,
     "precompiled_charsmap"},
    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"/////wAAAAA=\"}," WP_MODEL "}",
     TOK_EFORMAT, "precompiled_charsmap"},
    {"{\"normalizer\":{\"type\":\"Precompiled\"}," WP_MODEL "}", TOK_EFORMAT, "precompiled_charsmap"},
    {"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(a\"},\"content\":\"b\"}," WP_MODEL "}",
     TOK_EFORMAT, "pattern.Regex"},
    {"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\"b\"}," WP_MODEL "}",
     TOK_EFORMAT, "Replace"},
    {"{\"normalizer\":{\"type\":\"Prepend\"}," WP_MODEL "}", TOK_EFORMAT, "Prepend"},
    /* pre-tokenizers */
    {"{\"pre_tokenizer\":{\"type\":\"Digits\"}," WP_MODEL "}", TOK_EUNSUPPORTED, "pre-tokenizer Digits"},
    {"{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"_\"}," WP_MODEL "}", TOK_EUNSUPPORTED,
     "replacement"},
    {"{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"sometimes\"}," WP_MODEL
     "}",
     TOK_EFORMAT, "prepend_scheme"},
    {"{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"BertPreTokenizer\"},{\"type\":"
     "\"WhitespaceSplit\"}]}," WP_MODEL "}",
     TOK_EUNSUPPORTED, "pretokenizers[1]"},
    {"{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{},\"behavior\":\"Isolated\"}," WP_MODEL "}", TOK_EFORMAT,
     "Split"},
    {"{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"x\"},\"behavior\":\"Sideways\"}," WP_MODEL "}",
     TOK_EUNSUPPORTED, "behavior"},
    /* decoders */
    {"{\"decoder\":{\"type\":\"CTC\"}," WP_MODEL "}", TOK_EUNSUPPORTED, "decoder CTC"},
    {"{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \"}]},"
     BPE_MODEL "}",
     TOK_EFORMAT, "decoder.decoders[1]"},
    {"{\"decoder\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"x\"},\"content\":\"y\"}," BPE_MODEL "}",
     TOK_EUNSUPPORTED, "Replace"},
    {"{\"decoder\":{\"decoders\":[]}," BPE_MODEL "}", TOK_EFORMAT, "type"},
    /* an added token the normalizer would change, matched in normalized text by HF */
    {"{\"normalizer\":{\"type\":\"Lowercase\"},\"added_tokens\":[{\"id\":3,\"content\":\"[X]\",\"special\":true},"
     "{\"id\":4,\"content\":\"AB\",\"normalized\":true}]," WP_MODEL "}",
     TOK_EUNSUPPORTED, "added_tokens[1]"},
    /* well-formed small files load */
    {UNI_HEAD "}", 0, NULL},
    {"{\"normalizer\":{\"type\":\"Lowercase\"},\"added_tokens\":[{\"id\":3,\"content\":\"ab\",\"normalized\":true}],"
     WP_MODEL "}",
     0, NULL},
    {"{" WP_MODEL ",\"normalizer\":{\"type\":\"BertNormalizer\"},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
     "\"decoder\":{\"type\":\"WordPiece\"}}",
     0, NULL},
    {"{" BPE_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"x\"},"
     "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"y\"}]},\"decoder\":{\"type\":\"Sequence\","
     "\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,"
     "\"stop\":1}]}}",
     0, NULL},
};

static const char *texts[] = {
    "", "a", "ab ab", "b a b", "  leading and   inner  spaces  ", "tab\tnew\nline\r\n",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\xbf\xd1\x80\xd0\xb8", "\xef\xbc\xa1 \xe2\x85\xa0 \xef\xac\x81",
    "bad utf8 \xff\xfe \xc0\xaf end", "\xe2\x96\x81\xe2\x96\x81 x", "<s> </s> <unk> [UNK] [CLS] <0x41>",
    "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "a\xcc\x81\xcc\x82\xcc\x83 \xc3\xa9 \xc4\xb0",
    "Hello, world! It's 3.14 -- ok?",
};

/* A loaded tokenizer must work: encode the texts, decode the ids, every id. */
static void exercise(const tok_tokenizer *t) {
    tok_error err = {0};
    tok_encode_params p = tok_encode_default_params();
    p.utf8 = TOK_UTF8_REPLACE;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        for (int add = 0; add < 2; add++) {
            tok_ids ids = {0};
            tok_bytes out = {0};
            p.add_special = add;
            int rc = tok_encode(t, texts[i], strlen(texts[i]), &p, &ids, &err);
            CHECK_MSG(rc == 0 || err.msg[0], "text %zu: failed without a message", i);
            for (size_t k = 0; k < ids.n; k++) CHECK(ids.ids[k] >= 0 && (size_t)ids.ids[k] < tok_vocab_size(t));
            if (!rc) CHECK(tok_decode(t, ids.ids, ids.n, add, &out, &err) == 0);
            tok_ids_free(&ids);
            tok_bytes_free(&out);
        }
    }
    size_t n = tok_vocab_size(t);
    int32_t *all = malloc(n * sizeof *all);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (tok_token_bytes(t, (int32_t)i, NULL)) all[m++] = (int32_t)i;
    tok_bytes out = {0};
    CHECK(tok_decode(t, all, m, false, &out, &err) == 0);
    tok_bytes_free(&out);
    free(all);
}

static int loaded, failed_clean;

static void try_load(const char *what, const char *data, size_t len) {
    tok_error err = {0};
    tok_tokenizer *t = hf_json_load(what, data, len, &err);
    if (t) {
        loaded++;
        exercise(t);
        tok_free(t);
    } else {
        failed_clean++;
        CHECK_MSG(err.code != 0 && strstr(err.msg, what), "%s: no clear message: %s", what, err.msg);
    }
}

/* Damages a real fixture in memory: cut the charsmap, rename tokens. */
static void damage(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/tokenizers/%s/tokenizer.json", name);
    tok_error err = {0};
    size_t len;
    char *d = tok_read_file(path, &len, &err);
    CHECK_MSG(d != NULL, "%s: %s", path, err.msg);
    if (!d) return;
    try_load(name, d, len);
    char *cm = strstr(d, "\"precompiled_charsmap\": \"");
    if (!cm) cm = strstr(d, "\"precompiled_charsmap\":\"");
    if (cm) {
        char *start = strchr(cm + 22, '"') + 1;
        static const size_t cuts[] = {4, 8, 100, 1000, 5000};
        for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
            char *c = strdup(d);
            size_t off = (size_t)(start - d) + cuts[k];
            char *end = strchr(c + off, '"');
            memmove(c + off, end, strlen(end) + 1);
            try_load(name, c, strlen(c));
            free(c);
        }
    }
    /* the unknown token and byte tokens renamed: loads or fails, never crashes */
    const char *renames[][2] = {{"\"<unk>\"", "\"<unq>\""}, {"\"[UNK]\"", "\"[UNQ]\""}, {"\"<0x41>\"", "\"<0y41>\""}};
    for (size_t k = 0; k < 3; k++) {
        char *c = strdup(d);
        for (char *p = strstr(c, renames[k][0]); p; p = strstr(p + 1, renames[k][0]))
            memcpy(p, renames[k][1], strlen(renames[k][1]));
        try_load(name, c, strlen(c));
        free(c);
    }
    free(d);
}

int main(void) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tok_error err = {0};
        char name[32];
        snprintf(name, sizeof name, "case%zu.json", i);
        tok_tokenizer *t = hf_json_load(name, bad[i].json, strlen(bad[i].json), &err);
        if (bad[i].code == 0) {
            CHECK_MSG(t != NULL, "%s should load: %s", name, err.msg);
            if (t) exercise(t);
        } else {
            CHECK_MSG(t == NULL, "%s should fail", name);
            CHECK_MSG(err.code == bad[i].code, "%s: code %d, want %d (%s)", name, err.code, bad[i].code, err.msg);
            CHECK_MSG(strstr(err.msg, name) && strstr(err.msg, bad[i].needle), "%s: message lacks '%s': %s", name,
                      bad[i].needle, err.msg);
        }
        tok_free(t);
    }
    damage("hf_spm_unigram8k_nfkc");
    damage("hf_bert_wordpiece");
    damage("hf_llama2");
    CHECK(loaded > 0);
    printf("damaged fixtures: %d loaded, %d failed cleanly\n", loaded, failed_clean);
    return check_summary("test_hf_pipeline");
}
