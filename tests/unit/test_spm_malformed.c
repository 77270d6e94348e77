/*
 * Malformed SentencePiece models: real .model files truncated and mutated in
 * memory, a corrupted precompiled charsmap, and hand-made protobuf snippets.
 * Each must load into a working model or fail with a message - never crash
 * (run under `make asan` to catch any out-of-bounds read). Models that load
 * are exercised: encode of awkward texts, decode of every id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "spm.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static const char *texts[] = {
    "Hello world", "  leading and   inner  spaces  ", "tab\tnew\nline\r\n", "1234567890 3.14159",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
    "\xef\xbc\xa1\xef\xbc\xa2 \xe2\x85\xa0 \xef\xac\x81", /* fullwidth, roman numeral, ligature */
    "bad utf8 \xff\xfe \xc0\xaf \xed\xa0\x80 end", "\xe2\x96\x81\xe2\x96\x81 x", "<s> </s> <unk> <0x41>",
    "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
};

/* Loaded models must work: encode the texts, decode the ids and every id. */
static void exercise(const spm_model *m) {
    tok_error err = {0};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        tok_ids ids = {0};
        tok_bytes out = {0};
        int rc = spm_encode(m, texts[i], strlen(texts[i]), &ids, &err);
        CHECK(rc == 0);
        for (size_t k = 0; k < ids.n; k++) CHECK(ids.ids[k] >= 0 && (size_t)ids.ids[k] < spm_vocab_size(m));
        CHECK(spm_decode(m, ids.ids, ids.n, &out, &err) == 0);
        tok_ids_free(&ids);
        tok_bytes_free(&out);
    }
    size_t n = spm_vocab_size(m);
    int32_t *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = (int32_t)i;
    tok_bytes out = {0};
    CHECK(spm_decode(m, all, n, &out, &err) == 0);
    tok_bytes_free(&out);
    free(all);
}

static int loaded, failed_clean;

static void try_load(const char *data, size_t len, const char *what) {
    tok_error err = {0};
    spm_model *m = spm_load(data, len, what, &err);
    if (m) {
        loaded++;
        exercise(m);
        spm_free(m);
    } else {
        failed_clean++;
        CHECK_MSG(err.code != 0 && err.msg[0] != 0 && strncmp(err.msg, what, strlen(what)) == 0,
                  "error without a proper message: code %d \"%s\"", err.code, err.msg);
    }
}

static char *read_model(const char *name, size_t *len) {
    char path[512];
    tok_error err = {0};
    snprintf(path, sizeof path, "tests/data/spm/%s.model", name);
    char *d = tok_read_file(path, len, &err);
    CHECK_MSG(d != NULL, "%s", err.msg);
    return d;
}

static void truncations_and_flips(const char *name, int n_flips) {
    size_t len;
    char *orig = read_model(name, &len);
    if (!orig) return;
    char *buf = malloc(len);
    /* truncated: the first bytes one by one, then spread over the file */
    for (size_t cut = 0; cut < 64; cut++) try_load(orig, cut, "truncated.model");
    for (int k = 1; k < 40; k++) try_load(orig, len * (size_t)k / 40, "truncated.model");
    /* random byte mutations (1-4 bytes), some of them over length/varint bytes */
    for (int it = 0; it < n_flips; it++) {
        memcpy(buf, orig, len);
        int nb = 1 + (int)(next_rand() % 4);
        for (int b = 0; b < nb; b++) {
            size_t pos = next_rand() % len;
            uint32_t r = next_rand();
            if (r & 1) buf[pos] = (char)(r >> 8);                   /* any byte */
            else if (r & 2) buf[pos] = (char)0xff;                  /* long varints, big lengths */
            else buf[pos] = (char)(buf[pos] ^ (1 << ((r >> 3) & 7))); /* one bit */
        }
        try_load(buf, len, "mutated.model");
    }
    free(buf);
    free(orig);
}

/* Mutates the trie part of the precompiled charsmap only, so the model still
 * parses and the normalizer walks a corrupt double array. */
static void corrupt_charsmap(const char *name, int iterations) {
    size_t len;
    char *orig = read_model(name, &len);
    if (!orig) return;
    spm_proto p;
    tok_error err = {0};
    CHECK(spm_proto_parse((const unsigned char *)orig, len, name, &p, &err) == 0);
    CHECK(p.charsmap_len > 1000);
    size_t off = (size_t)(p.charsmap - orig), cl = p.charsmap_len;
    spm_proto_free(&p);
    char *buf = malloc(len);
    for (int it = 0; it < iterations; it++) {
        memcpy(buf, orig, len);
        for (int b = 0; b < 16; b++) buf[off + 4 + next_rand() % (cl - 4)] = (char)next_rand();
        if (it % 7 == 0) buf[off + 1] = (char)next_rand(); /* trie size field */
        try_load(buf, len, "charsmap.model");
    }
    free(buf);
    free(orig);
}

static void expect_error(const char *bytes, size_t len, const char *want) {
    tok_error err = {0};
    spm_model *m = spm_load(bytes, len, "bad.model", &err);
    CHECK_MSG(m == NULL && strstr(err.msg, want) != NULL, "want \"%s\", got \"%s\"", want, err.msg);
    spm_free(m);
}

static void crafted(void) {
    /* field 1, length 99999999 */
    expect_error("\x0a\xff\xc1\xd7\x2f", 5, "offset 1: field 1: length 99999999 exceeds the message");
    expect_error("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12, "field 1: varint");
    expect_error("\x0a\xff\xff", 3, "truncated varint");
    expect_error("\x08\x01", 2, "field 1: wire type varint, expected length-delimited");
    expect_error("\x23", 1, "field 4: groups are not supported");
    expect_error("\x07", 1, "invalid field number");
    expect_error("\x0e", 1, "invalid wire type");
    expect_error("", 0, "no pieces");
    /* pieces { piece: "" } */
    expect_error("\x0a\x02\x0a\x00", 4, "piece must not be empty");
    /* pieces { piece: "a" type: NORMAL } only: no unk */
    expect_error("\x0a\x05\x0a\x01\x61\x18\x01", 7, "unk is not defined");
    /* two identical normal pieces (second one after an unk) */
    expect_error("\x0a\x05\x0a\x01\x61\x18\x02\x0a\x03\x0a\x01\x62\x0a\x03\x0a\x01\x62", 17, "already defined");
    /* pieces { piece: "a" score: (4 bytes missing) } */
    expect_error("\x0a\x04\x0a\x01\x61\x15", 6, "pieces: field 2: truncated float");
    /* trainer_spec { model_type: WORD } with an unk piece */
    expect_error("\x0a\x05\x0a\x01\x61\x18\x02\x12\x02\x18\x03", 11, "not supported");
    /* normalizer_spec { precompiled_charsmap: 4 bytes } */
    expect_error("\x0a\x05\x0a\x01\x61\x18\x02\x1a\x06\x12\x04\x01\x00\x00\x00", 15, "precompiled_charsmap");
    /* a minimal valid model: <unk>, "a", "b", "ab" */
    static const char ok[] = "\x0a\x09\x0a\x05<unk>\x18\x02"
                             "\x0a\x08\x0a\x01\x61\x15\x00\x00\x80\xbf"  /* a, -1 */
                             "\x0a\x08\x0a\x01\x62\x15\x00\x00\x80\xbf"  /* b, -1 */
                             "\x0a\x09\x0a\x02\x61\x62\x15\x00\x00\x00\xc0"; /* ab, -2 */
    tok_error err = {0};
    spm_model *m = spm_load(ok, sizeof ok - 1, "tiny.model", &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (m) {
        exercise(m);
        CHECK_EQ_INT(spm_vocab_size(m), 4);
        CHECK_EQ_INT(spm_piece_id(m, "ab", 2), 3);
        CHECK_EQ_INT(spm_bos_id(m), -1);
        CHECK_EQ_INT(spm_unk_id(m), 0);
        int32_t bad = 4;
        tok_bytes out = {0};
        CHECK_EQ_INT(spm_decode(m, &bad, 1, &out, &err), TOK_ERANGE);
        tok_bytes_free(&out);
        spm_free(m);
    }
    /* spm_from_vocab argument errors */
    const char *pieces[] = {"<unk>", "a", NULL};
    int32_t types[] = {SPM_UNKNOWN, 9};
    CHECK(spm_from_vocab(pieces, NULL, types, 2, NULL, &err) == NULL && strstr(err.msg, "invalid piece type"));
    CHECK(spm_from_vocab(pieces, NULL, NULL, 3, NULL, &err) == NULL && strstr(err.msg, "NULL"));
}

int main(void) {
    crafted();
    truncations_and_flips("spm_bpe8k_llamastyle", 150);
    truncations_and_flips("spm_unigram8k_identity_digits", 150);
    truncations_and_flips("extra_uni_user", 60);
    corrupt_charsmap("spm_unigram8k_nfkc", 60);
    printf("malformed models: %d loaded and worked, %d rejected with a message\n", loaded, failed_clean);
    CHECK(loaded > 0 && failed_clean > 0);
    return check_summary("test_spm_malformed");
}
