/* Sampler contracts: each sampler alone on hand-built candidate arrays, the
 * chain, seeds, and the log-probability helper. Random rows come from a fixed
 * LCG, and draws from fixed seeds, so every run checks the same numbers. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "tok_engine.h"

#define V 64

static uint64_t lcg = 12345;
static float frand(void) { /* uniform [0, 1) */
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(lcg >> 40) / (float)(1ull << 24);
}
static void random_row(float *l, int n, float scale) {
    for (int i = 0; i < n; i++) l[i] = (frand() * 2 - 1) * scale;
}

static tok_token_data buf[V];
static tok_token_array make_array(const float *l, int n) {
    for (int i = 0; i < n; i++) buf[i] = (tok_token_data){i, l[i], 0};
    return (tok_token_array){buf, (size_t)n, -1, false};
}

static int rank_of(const float *l, int n, int id) { /* 0 = best; ties to lower id */
    int r = 0;
    for (int i = 0; i < n; i++) r += l[i] > l[id] || (l[i] == l[id] && i < id);
    return r;
}
static int argmax(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void softmax_d(const float *l, int n, double *p) {
    double m = l[0], s = 0;
    for (int i = 1; i < n; i++) m = l[i] > m ? l[i] : m;
    for (int i = 0; i < n; i++) s += p[i] = exp(l[i] - m);
    for (int i = 0; i < n; i++) p[i] /= s;
}

static void test_top_k(void) {
    float l[V];
    for (int round = 0; round < 20; round++) {
        random_row(l, V, 5);
        int k = 1 + round % 9;
        tok_sampler *s = tok_sampler_top_k_new(k);
        tok_token_array a = make_array(l, V);
        tok_sampler_apply(s, &a);
        CHECK_EQ_INT(a.size, k);
        CHECK(a.sorted);
        for (size_t i = 0; i < a.size; i++) CHECK_EQ_INT(rank_of(l, V, a.data[i].id), i);
        tok_sampler_free(s);
        /* Through a chain with a draw at high temperature: never outside the k best. */
        tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
        tok_sampler_chain_add(c, tok_sampler_top_k_new(k));
        tok_sampler_chain_add(c, tok_sampler_temp_new(5.0f));
        tok_sampler_chain_add(c, tok_sampler_dist_new(1000 + round));
        int outside = 0, distinct = 0, seen[V] = {0};
        for (int d = 0; d < 200; d++) {
            int id = tok_sampler_sample(c, l, V);
            outside += rank_of(l, V, id) >= k;
            distinct += !seen[id]++;
        }
        CHECK_EQ_INT(outside, 0);
        CHECK(k == 1 || distinct > 1); /* the draw is not greedy in disguise */
        tok_sampler_free(c);
    }
    /* k <= 0 and k >= size leave every candidate. */
    random_row(l, V, 5);
    tok_sampler *s = tok_sampler_top_k_new(0);
    tok_token_array a = make_array(l, V);
    tok_sampler_apply(s, &a);
    CHECK_EQ_INT(a.size, V);
    tok_sampler_free(s);
}

static void test_top_p(void) {
    /* probabilities 0.4 0.3 0.2 0.1 in shuffled id order */
    float l[4] = {logf(0.2f), logf(0.4f), logf(0.1f), logf(0.3f)};
    struct { float p; size_t keep; } cases[] = {{0.35f, 1}, {0.65f, 2}, {0.75f, 3}, {0.95f, 4},
                                                {1.0f, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tok_sampler *s = tok_sampler_top_p_new(cases[c].p, 1);
        tok_token_array a = make_array(l, 4);
        tok_sampler_apply(s, &a);
        CHECK_MSG(a.size == cases[c].keep, "p=%g kept %zu", cases[c].p, a.size);
        if (cases[c].p < 1.0f) CHECK(a.data[0].id == 1 && a.data[1].id == 3);
        tok_sampler_free(s);
    }
    /* min_keep wins over p */
    tok_sampler *s = tok_sampler_top_p_new(0.1f, 3);
    tok_token_array a = make_array(l, 4);
    tok_sampler_apply(s, &a);
    CHECK_EQ_INT(a.size, 3);
    tok_sampler_free(s);
    /* random rows: the kept prefix is the best-ranked, reaches p, and is minimal */
    float r[V];
    double p[V];
    for (int round = 0; round < 30; round++) {
        random_row(r, V, 3);
        softmax_d(r, V, p);
        float top_p = 0.05f + 0.03f * (float)round;
        s = tok_sampler_top_p_new(top_p, 1);
        a = make_array(r, V);
        tok_sampler_apply(s, &a);
        double mass = 0, without_last = 0;
        for (size_t i = 0; i < a.size; i++) {
            CHECK_EQ_INT(rank_of(r, V, a.data[i].id), i);
            without_last = mass;
            mass += p[a.data[i].id];
        }
        CHECK_MSG(mass >= top_p - 1e-6, "p=%g mass %g", top_p, mass);
        CHECK_MSG(without_last < top_p + 1e-6, "p=%g mass without last %g", top_p, without_last);
        tok_sampler_free(s);
    }
}

static int cmp_rank_test(const void *pa, const void *pb) {
    const tok_token_data *a = pa, *b = pb;
    if (a->logit != b->logit) return a->logit > b->logit ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* A large unsorted row (top-k off): top-p ranks only part of it, and must
 * keep exactly the minimal best-first prefix, for flat and peaked rows. */
static void test_top_p_large(void) {
    enum { N = 6000 };
    static float l[N];
    static double p[N];
    static tok_token_data big[N];
    static int rank[N];
    const float scales[] = {0.5f, 3.0f, 12.0f};
    for (int si = 0; si < 3; si++)
        for (int round = 0; round < 4; round++) {
            random_row(l, N, scales[si]);
            softmax_d(l, N, p);
            float top_p = 0.3f + 0.2f * (float)round;
            for (int i = 0; i < N; i++) big[i] = (tok_token_data){i, l[i], 0};
            /* ranks once: the test's own sort of the whole row */
            qsort(big, N, sizeof *big, cmp_rank_test);
            for (int i = 0; i < N; i++) rank[big[i].id] = i;
            for (int i = 0; i < N; i++) big[i] = (tok_token_data){i, l[i], 0};
            tok_token_array a = {big, N, -1, false};
            tok_sampler *s = tok_sampler_top_p_new(top_p, 1);
            tok_sampler_apply(s, &a);
            double mass = 0, without_last = 0;
            int misranked = 0;
            for (size_t i = 0; i < a.size; i++) {
                misranked += rank[a.data[i].id] != (int)i;
                without_last = mass;
                mass += p[a.data[i].id];
            }
            CHECK_MSG(misranked == 0 && a.sorted, "scale %g p %g: %d misranked", scales[si], top_p,
                      misranked);
            CHECK_MSG(mass >= top_p - 1e-5, "scale %g p %g: mass %g", scales[si], top_p, mass);
            CHECK_MSG(without_last < top_p + 1e-5, "scale %g p %g: mass without last %g (kept %zu)",
                      scales[si], top_p, without_last, a.size);
            tok_sampler_free(s);
        }
    /* banned tokens (-inf) in a large row, and a row where one token is left */
    for (int round = 0; round < 2; round++) {
        random_row(l, N, 4);
        for (int i = 0; i < N; i++)
            if (round ? i != 1234 : i % 2) l[i] = -INFINITY;
        for (int i = 0; i < N; i++) big[i] = (tok_token_data){i, l[i], 0};
        tok_token_array a = {big, N, -1, false};
        tok_sampler *s = tok_sampler_top_p_new(0.9f, 1);
        tok_sampler_apply(s, &a);
        int banned = 0;
        for (size_t i = 0; i < a.size; i++) banned += a.data[i].logit == -INFINITY;
        CHECK_EQ_INT(banned, 0);
        CHECK(a.size >= 1 && a.data[0].id == argmax(l, N));
        if (round) CHECK_EQ_INT(a.size, 1);
        tok_sampler_free(s);
    }
}

static void test_min_p(void) {
    float l[V];
    double p[V];
    for (int round = 0; round < 30; round++) {
        random_row(l, V, 4);
        softmax_d(l, V, p);
        double pmax = 0;
        for (int i = 0; i < V; i++) pmax = p[i] > pmax ? p[i] : pmax;
        float min_p = 0.02f + 0.03f * (float)round;
        tok_sampler *s = tok_sampler_min_p_new(min_p, 1);
        tok_token_array a = make_array(l, V);
        tok_sampler_apply(s, &a);
        bool kept[V] = {false};
        for (size_t i = 0; i < a.size; i++) kept[a.data[i].id] = true;
        int wrong = 0;
        for (int i = 0; i < V; i++) {
            double ratio = p[i] / pmax;
            if (fabs(ratio - min_p) < 1e-5) continue; /* on the edge either is right */
            wrong += kept[i] != (ratio >= min_p);
        }
        CHECK_MSG(wrong == 0, "min_p=%g: %d tokens on the wrong side", min_p, wrong);
        tok_sampler_free(s);
    }
    /* min_keep is honoured when the cut would drop all but one */
    float two[3] = {10, 0, -1};
    tok_sampler *s = tok_sampler_min_p_new(0.5f, 2);
    tok_token_array a = make_array(two, 3);
    tok_sampler_apply(s, &a);
    CHECK_EQ_INT(a.size, 2);
    tok_sampler_free(s);
}

static void test_temperature(void) {
    float l[V];
    for (int round = 0; round < 50; round++) {
        random_row(l, V, 2);
        int want = argmax(l, V);
        /* temp 0 in front of a draw = greedy, whatever the seed */
        tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
        tok_sampler_chain_add(c, tok_sampler_temp_new(0.0f));
        tok_sampler_chain_add(c, tok_sampler_dist_new((uint32_t)round));
        CHECK_EQ_INT(tok_sampler_sample(c, l, V), want);
        tok_sampler_free(c);
        tok_sampling_params sp = tok_sampling_default_params();
        sp.temp = 0;
        sp.seed = (uint32_t)round;
        c = tok_sampler_chain_from_params(&sp);
        CHECK_EQ_INT(tok_sampler_sample(c, l, V), want);
        tok_sampler_free(c);
        tok_sampler *g = tok_sampler_greedy_new();
        CHECK_EQ_INT(tok_sampler_sample(g, l, V), want);
        tok_sampler_free(g);
    }
    float t2[3] = {1, -2, 4};
    tok_sampler *s = tok_sampler_temp_new(2.0f);
    tok_token_array a = make_array(t2, 3);
    tok_sampler_apply(s, &a);
    CHECK(a.data[0].logit == 0.5f && a.data[1].logit == -1.0f && a.data[2].logit == 2.0f);
    tok_sampler_free(s);
}

static void test_penalties(void) {
    float l[8] = {2.0f, -1.5f, 0.5f, -0.25f, 3.0f, 0.0f, 1.0f, -2.0f};
    const float rep = 1.3f, freq = 0.2f, pres = 0.7f;
    tok_sampler *s = tok_sampler_penalties_new(4, rep, freq, pres);
    /* accepted 0 0 1 | 2 2 1 3: with a window of 4 only "2 2 1 3" count */
    int32_t hist[] = {0, 0, 1, 2, 2, 1, 3};
    for (size_t i = 0; i < sizeof hist / sizeof *hist; i++) tok_sampler_accept(s, hist[i]);
    int count[8] = {0, 1, 2, 1, 0, 0, 0, 0};
    tok_token_array a = make_array(l, 8);
    tok_sampler_apply(s, &a);
    for (int i = 0; i < 8; i++) {
        float want = l[i];
        if (count[i]) {
            want = want > 0 ? want / rep : want * rep;
            want -= (float)count[i] * freq + pres;
        }
        CHECK_MSG(fabsf(a.data[i].logit - want) < 1e-6f, "token %d: %g, want %g", i,
                  a.data[i].logit, want);
    }
    /* reset forgets the window */
    tok_sampler_reset(s);
    a = make_array(l, 8);
    tok_sampler_apply(s, &a);
    for (int i = 0; i < 8; i++) CHECK(a.data[i].logit == l[i]);
    tok_sampler_free(s);
    /* last_n 0 disables; -1 counts everything */
    s = tok_sampler_penalties_new(0, 2.0f, 1.0f, 1.0f);
    tok_sampler_accept(s, 4);
    a = make_array(l, 8);
    tok_sampler_apply(s, &a);
    CHECK(a.data[4].logit == l[4]);
    tok_sampler_free(s);
    s = tok_sampler_penalties_new(-1, 1.0f, 0.5f, 0.0f);
    for (int i = 0; i < 100; i++) tok_sampler_accept(s, i % 2 ? 4 : 7);
    a = make_array(l, 8);
    tok_sampler_apply(s, &a);
    CHECK(a.data[4].logit == l[4] - 25.0f && a.data[7].logit == l[7] - 25.0f);
    tok_sampler_free(s);
    /* a repeat penalty breaks a greedy loop */
    tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
    tok_sampler_chain_add(c, tok_sampler_penalties_new(64, 2.0f, 0, 0));
    tok_sampler_chain_add(c, tok_sampler_greedy_new());
    CHECK_EQ_INT(tok_sampler_sample(c, l, 8), 4);
    tok_sampler_accept(c, 4);
    CHECK_EQ_INT(tok_sampler_sample(c, l, 8), 0); /* 3.0/2 < 2.0 */
    tok_sampler_free(c);
}

static void test_logit_bias(void) {
    float l[V];
    random_row(l, V, 2);
    int best = argmax(l, V), low = rank_of(l, V, 0) == V - 1 ? 0 : 1;
    tok_logit_bias b[2] = {{best, -INFINITY}, {low, 0.0f}};
    tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
    tok_sampler_chain_add(c, tok_sampler_logit_bias_new(b, 1));
    tok_sampler_chain_add(c, tok_sampler_greedy_new());
    int second = -1;
    for (int i = 0; i < V; i++)
        if (rank_of(l, V, i) == 1) second = i;
    CHECK_EQ_INT(tok_sampler_sample(c, l, V), second);
    tok_sampler_free(c);
    /* +100 on any token makes it the choice; bias applies on a reordered array too */
    for (int id = 0; id < V; id += 7) {
        tok_logit_bias up = {id, 100.0f};
        tok_sampler *s = tok_sampler_logit_bias_new(&up, 1);
        tok_token_array a = make_array(l, V);
        tok_sampler_apply(s, &a);
        CHECK(a.data[id].logit == l[id] + 100.0f);
        tok_sampler_free(s);
        c = tok_sampler_chain_new(tok_sampler_chain_default_params());
        tok_sampler_chain_add(c, tok_sampler_top_k_new(V));
        tok_sampler_chain_add(c, tok_sampler_logit_bias_new(&up, 1));
        tok_sampler_chain_add(c, tok_sampler_greedy_new());
        CHECK_EQ_INT(tok_sampler_sample(c, l, V), id);
        tok_sampler_free(c);
    }
    /* through the params */
    tok_sampling_params sp = tok_sampling_default_params();
    sp.temp = 0;
    sp.logit_bias = b;
    sp.n_logit_bias = 1;
    c = tok_sampler_chain_from_params(&sp);
    CHECK_EQ_INT(tok_sampler_sample(c, l, V), second);
    tok_sampler_free(c);
}

static void sequence(uint32_t seed, int32_t *out, int n) {
    tok_sampling_params sp = tok_sampling_default_params();
    sp.seed = seed;
    sp.temp = 1.0f;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    tok_sampler *c = tok_sampler_chain_from_params(&sp);
    CHECK_EQ_INT(tok_sampler_get_seed(c), seed);
    uint64_t saved = lcg;
    lcg = 99; /* same rows for every call */
    float l[V];
    for (int i = 0; i < n; i++) {
        random_row(l, V, 1);
        out[i] = tok_sampler_sample(c, l, V);
        tok_sampler_accept(c, out[i]);
    }
    lcg = saved;
    tok_sampler_free(c);
}

static void test_seeds(void) {
    int32_t a[100], b[100], d[100];
    sequence(42, a, 100);
    sequence(42, b, 100);
    sequence(43, d, 100);
    CHECK(memcmp(a, b, sizeof a) == 0);
    int differ = 0;
    for (int i = 0; i < 100; i++) differ += a[i] != d[i];
    CHECK_MSG(differ > 50, "seeds 42 and 43 differ at only %d of 100 draws", differ);
    /* reset restarts the generator */
    float l[V];
    random_row(l, V, 1);
    tok_sampler *s = tok_sampler_dist_new(7);
    int first[20];
    for (int i = 0; i < 20; i++) first[i] = tok_sampler_sample(s, l, V);
    tok_sampler_reset(s);
    int same = 0;
    for (int i = 0; i < 20; i++) same += tok_sampler_sample(s, l, V) == first[i];
    CHECK_EQ_INT(same, 20);
    tok_sampler_free(s);
    /* a random seed is reported and is not the sentinel */
    s = tok_sampler_dist_new(TOK_SEED_RANDOM);
    CHECK(tok_sampler_get_seed(s) != TOK_SEED_RANDOM);
    tok_sampler_free(s);
}

/* Frequencies of 20000 draws (fixed seed) follow the softmax. */
static void test_dist_frequencies(void) {
    float l[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    const double want[4] = {0.5, 0.3, 0.15, 0.05};
    tok_sampler *s = tok_sampler_dist_new(2024);
    int n[4] = {0};
    for (int i = 0; i < 20000; i++) n[tok_sampler_sample(s, l, 4)]++;
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(n[i] / 20000.0 - want[i]) < 0.015, "token %d: %d of 20000", i, n[i]);
    tok_sampler_free(s);
    /* temperature 2 flattens: p ~ sqrt(p) renormalised */
    tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
    tok_sampler_chain_add(c, tok_sampler_temp_new(2.0f));
    tok_sampler_chain_add(c, tok_sampler_dist_new(77));
    int m[4] = {0};
    for (int i = 0; i < 20000; i++) m[tok_sampler_sample(c, l, 4)]++;
    double z = 0;
    for (int i = 0; i < 4; i++) z += sqrt(want[i]);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(m[i] / 20000.0 - sqrt(want[i]) / z) < 0.015, "t=2 token %d: %d", i, m[i]);
    tok_sampler_free(c);
}

static void test_logprobs(void) {
    float l[V];
    random_row(l, V, 6);
    l[10] = l[20] = 50.0f; /* a tie at the top: lower id first */
    double p[V];
    softmax_d(l, V, p);
    int32_t ids[8];
    float lp[8];
    CHECK_EQ_INT(tok_logprobs_top(l, V, 8, ids, lp), 8);
    CHECK(ids[0] == 10 && ids[1] == 20);
    for (int j = 0; j < 8; j++) {
        CHECK_EQ_INT(rank_of(l, V, ids[j]), j);
        CHECK_MSG(fabs(lp[j] - log(p[ids[j]])) < 1e-5, "logprob %d: %g vs %g", j, lp[j],
                  log(p[ids[j]]));
    }
    CHECK_EQ_INT(tok_logprobs_top(l, 3, 8, ids, lp), 3);
    CHECK_EQ_INT(tok_logprobs_top(l, V, 0, ids, lp), 0);
}

static void test_chain(void) {
    tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
    CHECK_EQ_INT(tok_sampler_chain_add(c, NULL), TOK_EINVAL);
    tok_sampler *g = tok_sampler_greedy_new();
    CHECK_EQ_INT(tok_sampler_chain_add(g, tok_sampler_temp_new(1.0f)), TOK_EINVAL); /* freed */
    tok_sampler_free(g);
    tok_sampler_free(c);
    tok_sampling_params sp = tok_sampling_default_params();
    sp.seed = 5;
    c = tok_sampler_chain_from_params(&sp);
    const char *want[] = {"penalties", "top-k", "top-p", "min-p", "temp", "dist"};
    CHECK_EQ_INT(tok_sampler_chain_n(c), 6);
    for (int i = 0; i < 6; i++) CHECK_EQ_STR(tok_sampler_name(tok_sampler_chain_get(c, i)), want[i]);
    float l[V];
    random_row(l, V, 3);
    for (int i = 0; i < 10; i++) {
        int id = tok_sampler_sample(c, l, V);
        CHECK(rank_of(l, V, id) < 40); /* top-k 40 */
    }
    double ms;
    int64_t n;
    tok_sampler_chain_perf(c, &ms, &n);
    CHECK_EQ_INT(n, 10);
    CHECK(ms >= 0);
    tok_sampler_free(c);
    CHECK_EQ_INT(tok_sampler_sample(NULL, l, V), -1);
}

int main(void) {
    test_top_k();
    test_top_p();
    test_top_p_large();
    test_min_p();
    test_temperature();
    test_penalties();
    test_logit_bias();
    test_seeds();
    test_dist_frequencies();
    test_logprobs();
    test_chain();
    return check_summary("test_sampler");
}
