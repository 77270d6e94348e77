/* The backtracking BPE encoder (libtok/bpe_backtrack.c) against the merge
 * loop (libtok/bpe.c) and the reference ids, for cl100k_base and o200k_base:
 *  - every token's own bytes (BPE without the whole-piece lookup);
 *  - random strings over small alphabets (long merge chains), random
 *    multi-script UTF-8, random concatenations of tokens;
 *  - adversarial runs: one character repeated (ASCII, space, digit, 2-, 3-
 *    and 4-byte UTF-8), repeated 2-3 character patterns, up to 20,000 bytes;
 *  - the reference records (compact fixtures, and $SHARED's full suites when
 *    present) through the public API with every piece that needs merging
 *    sent to the backtracking encoder (bpe_bt_min = 2);
 *  - the switch-over: a fresh tokenizer merges long pieces until it has
 *    merged bpe_bt_rent bytes of them, then builds the tables; the ids of a
 *    text that crosses that point equal the merge loop's. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
/* One scratch per path; the memo in a scratch belongs to one vocabulary. */
static bpe_scratch s1, s2;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Encodes p[0, n) both ways; returns 1 when they agree. */
static int same_both_ways(const tok_tokenizer *t, const unsigned char *p, size_t n, const char *what) {
    const bpe_bt *bt = vocab_backtrack(&t->v);
    tok_ids a = {0}, b = {0};
    tok_error err = {0};
    bpe_use_backtrack = 0;
    int rc1 = bpe_encode_piece(&t->v, p, n, 0, &s1, &a, &err);
    bpe_use_backtrack = 1;
    int rc2 = bt ? bpe_bt_encode(bt, p, n, &s2, &b) : -1;
    int ok = rc1 == 0 && rc2 == 0 && a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids);
    if (!ok) {
        fprintf(stderr, "%s: %s: %zu bytes: merge %zu ids, backtrack %zu ids (rc %d %d); first bytes:", t->name, what,
                n, a.n, b.n, rc1, rc2);
        for (size_t i = 0; i < n && i < 24; i++) fprintf(stderr, " %02x", p[i]);
        fputc('\n', stderr);
    }
    tok_ids_free(&a);
    tok_ids_free(&b);
    return ok;
}

static void check_tokens(const tok_tokenizer *t) {
    size_t bad = 0, n = 0;
    for (uint32_t id = 0; id < t->v.n && bad < 5; id++) {
        if (t->v.off[id] == VOCAB_NONE || vocab_find(&t->v, t->v.blob + t->v.off[id], t->v.len[id]) != (int32_t)id)
            continue;
        n++;
        if (!same_both_ways(t, (const unsigned char *)t->v.blob + t->v.off[id], t->v.len[id], "token")) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %zu tokens differ", t->name, bad);
    CHECK(n > 50000);
}

static const char *const alphabets[] = {
    "ab", "a ", "aab", "01", " \n", "e\xcc\x81", /* e + combining acute */
    "\xc3\xa9" "a", "\xe4\xb8\xad\xe6\x96\x87", "\xd0\xbf\xd1\x80\xd0\xb8", "\xf0\x9f\x98\x80 ", "=-*", "abcdefgh",
};

static void check_random(const tok_tokenizer *t) {
    unsigned char buf[512];
    size_t bad = 0;
    for (int round = 0; round < 3000 && bad < 5; round++) {
        size_t n = 1 + rnd(300);
        int kind = round % 4;
        if (kind == 0) { /* bytes of a small alphabet (may split UTF-8: BPE works on bytes) */
            const char *a = alphabets[rnd(sizeof alphabets / sizeof *alphabets)];
            size_t an = strlen(a);
            for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)a[rnd((uint32_t)an)];
        } else if (kind == 1) { /* whole characters of the alphabets */
            size_t i = 0;
            while (i < n) {
                const char *a = alphabets[rnd(sizeof alphabets / sizeof *alphabets)];
                size_t k = strlen(a) >= 4 && (unsigned char)a[0] >= 0xC0 ? (unsigned char)a[0] >= 0xF0 ? 4 : (unsigned char)a[0] >= 0xE0 ? 3 : 2 : 1;
                if (i + k > n) break;
                memcpy(buf + i, a, k);
                i += k;
            }
            n = i ? i : 1;
            if (!i) buf[0] = 'x';
        } else if (kind == 2) { /* concatenated tokens */
            size_t i = 0;
            while (i < n) {
                uint32_t id = rnd(t->v.n);
                if (t->v.off[id] == VOCAB_NONE) continue;
                size_t k = t->v.len[id];
                if (i + k > sizeof buf) break;
                memcpy(buf + i, t->v.blob + t->v.off[id], k);
                i += k;
            }
            n = i;
        } else { /* any bytes */
            for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)rnd(256);
        }
        if (!same_both_ways(t, buf, n, "random")) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %zu random strings differ", t->name, bad);
}

static void check_runs(const tok_tokenizer *t) {
    static const char *const units[] = {"a", " ", "7", "\n", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
                                        "ab", "abc", " a", "\xc3\xa9" "a", "\xe4\xb8\xad\xe6\x96\x87", "<|", "=="};
    static const size_t lens[] = {2, 3, 17, 64, 255, 256, 1000, 4097, 20000};
    size_t cap = 20000 + 8;
    unsigned char *buf = malloc(cap);
    for (size_t u = 0; u < sizeof units / sizeof *units; u++)
        for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
            size_t k = strlen(units[u]), n = 0;
            while (n + k <= lens[l]) memcpy(buf + n, units[u], k), n += k;
            if (!n) continue;
            CHECK_MSG(same_both_ways(t, buf, n, "run"), "%s: unit %zu x %zu", t->name, u, n / k);
        }
    free(buf);
}

/* Reference records through a reused encoder (main sets bpe_bt_min = 2:
 * every piece that needs merging backtracks). Returns the records run. */
static size_t check_reference(const tok_tokenizer *t, const char *path) {
    size_t len, n = 0, bad = 0;
    char *data = check_read_file(path, &len);
    if (!data) return 0;
    tok_error err = {0};
    tok_encoder *enc = tok_encoder_new(t, &err);
    tok_ids ids = {0};
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
        cJSON *want = cJSON_GetObjectItemCaseSensitive(o, "ordinary_ids");
        if (!want) want = cJSON_GetObjectItemCaseSensitive(o, "ids");
        /* (cJSON ends a string at an escaped NUL: such records are skipped) */
        if (cJSON_IsString(text) && cJSON_IsArray(want) && (text->valuestring[0] || !cJSON_GetArraySize(want))) {
            ids.n = 0;
            int ok = tok_encoder_encode(enc, text->valuestring, strlen(text->valuestring), NULL, &ids, &err) == 0 &&
                     ids.n == (size_t)cJSON_GetArraySize(want);
            for (size_t i = 0; ok && i < ids.n; i++) ok = ids.ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
            if (!ok && bad++ < 3) fprintf(stderr, "%s: %s: record %zu differs\n", t->name, path, n);
            n++;
        }
        cJSON_Delete(o);
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu records differ", path, bad, n);
    tok_ids_free(&ids);
    tok_encoder_free(enc);
    free(data);
    return n;
}

/* Words of 64-199 bytes from a small alphabet, ~600 KB: crosses the
 * default bpe_bt_rent (256 KB) of long pieces. */
static void check_switch_over(const char *enc) {
    size_t n = 0, cap = 700000;
    char *text = malloc(cap);
    while (n + 201 < cap) {
        size_t w = 64 + rnd(136);
        for (size_t i = 0; i < w; i++) text[n++] = "abcab"[rnd(5)];
        text[n++] = ' ';
    }
    tok_error err = {0};
    tok_tokenizer *t = tok_load(enc, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) return;
    tok_ids a = {0}, b = {0};
    bpe_use_backtrack = 0;
    CHECK_EQ_INT(tok_encode(t, text, n, NULL, &a, &err), 0);
    CHECK(vocab_backtrack_built(&t->v) == NULL);
    bpe_use_backtrack = 1;
    CHECK_EQ_INT(tok_encode(t, text, n, NULL, &b, &err), 0);
    CHECK_MSG(vocab_backtrack_built(&t->v) != NULL, "%s: the tables were not built", enc);
    CHECK_MSG(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids), "%s: %zu ids vs %zu", enc, a.n, b.n);
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_free(t);
    free(text);
}

int main(void) {
    static const char *const encs[] = {"cl100k_base", "o200k_base"};
    check_switch_over("cl100k_base"); /* with the default thresholds */
    size_t min = bpe_bt_min;
    bpe_bt_min = 2;
    const char *shared = getenv("SHARED");
    for (size_t e = 0; e < 2; e++) {
        tok_error err = {0};
        tok_tokenizer *t = tok_load(encs[e], &err);
        CHECK_MSG(t != NULL, "%s", err.msg);
        if (!t) continue;
        CHECK(vocab_backtrack(&t->v) != NULL);
        check_tokens(t);
        check_random(t);
        check_runs(t);
        char path[4096];
        snprintf(path, sizeof path, "tests/data/reference/%s/dev.jsonl", encs[e]);
        CHECK(check_reference(t, path) > 0);
        snprintf(path, sizeof path, "tests/data/reference/%s/dev_special.jsonl", encs[e]);
        check_reference(t, path);
        if (shared) {
            snprintf(path, sizeof path, "%s/reference/%s/dev.jsonl", shared, encs[e]);
            if (!check_reference(t, path)) printf("%s: not present, skipped\n", path);
        }
        bpe_scratch_free(&s1);
        bpe_scratch_free(&s2);
        tok_free(t);
    }
    bpe_bt_min = min;
    return check_summary("test_bpe_backtrack");
}
