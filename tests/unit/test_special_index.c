/*
 * The special-token index (libtok/special_index.c) against the plain scan it
 * replaces: for random sets of special tokens (shared prefixes, one token a
 * prefix of another, duplicates of one text with different ids, thousands of
 * '<'-tokens like Gemma 3's) and random texts built from their pieces, the
 * candidates at every position must come out exactly as a scan of the sorted
 * list yields them (longest first, then lowest id), so leftmost-longest
 * matching is unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenizer.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

static const char *parts[] = {"<", ">", "a", "ab", "|", "\n", "un", "used", "1", "\xe2\x96\x81", "<|", "|>"};
#define NPARTS (sizeof parts / sizeof *parts)

static void random_string(char *out, size_t cap, int max_parts) {
    out[0] = 0;
    int k = 1 + (int)rnd((uint32_t)max_parts);
    for (int i = 0; i < k; i++) {
        const char *p = parts[rnd(NPARTS)];
        if (strlen(out) + strlen(p) + 1 < cap) strcat(out, p);
    }
}

/* The candidates at text[i], as the linear scan visits them. */
static size_t scan(const tok_tokenizer *t, const char *text, size_t len, size_t i, long *out) {
    size_t n = 0;
    for (size_t k = 0; k < t->n_specials; k++) {
        const special_tok *s = &t->specials[k];
        if (s->len <= len - i && !memcmp(s->text, text + i, s->len)) out[n++] = (long)k;
    }
    return n;
}

int main(void) {
    for (int round = 0; round < 40; round++) {
        tok_error err = {0};
        tok_tokenizer *t = tokenizer_new("test", "test", &err);
        CHECK(t != NULL);
        if (!t) break;
        CHECK(vocab_init(&t->v, 64, &err) == 0);
        int n = round < 30 ? 1 + (int)rnd(60) : 3000; /* the last rounds: Gemma-sized */
        for (int k = 0; k < n; k++) {
            char s[64];
            if (round >= 30 && k % 3) snprintf(s, sizeof s, "<unused%d>", k);
            else random_string(s, sizeof s, 4);
            CHECK(tokenizer_add_special(t, s, strlen(s), (int32_t)rnd(100000), rnd(2), &err) == 0);
            if (rnd(8) == 0) /* the same text again with another id */
                CHECK(tokenizer_add_special(t, s, strlen(s), (int32_t)rnd(100000), true, &err) == 0);
        }
        CHECK(tokenizer_finish(t, &err) == 0);
        for (int q = 0; q < 20; q++) {
            char text[512];
            random_string(text, sizeof text, 40);
            size_t len = strlen(text);
            for (size_t i = 0; i < len; i++) {
                long want[8192], got[8192];
                size_t nw = scan(t, text, len, i, want), ng = 0;
                for (long k = special_next_match(t, text, len, i, -1); k >= 0 && ng < 8192;
                     k = special_next_match(t, text, len, i, k))
                    got[ng++] = k;
                CHECK_EQ_INT(ng, nw);
                if (ng == nw) CHECK(!memcmp(got, want, ng * sizeof *got));
            }
        }
        tok_free(t);
    }
    return check_summary("test_special_index");
}
