/*
 * Samplers: from a row of logits to the next token, composed as a chain in
 * the style of llama.cpp. Each sampler works on a candidate array
 * (tok_token_array): penalties and logit bias reshape logits, top-k / top-p /
 * min-p cut the array, temperature rescales, and greedy or dist selects.
 *
 * Cost per token, V = vocabulary size: building the candidates O(V); top-k
 * with a k-sized heap built in place O(V log k), then sorting the k survivors;
 * top-p after top-k works on the k survivors, and alone sorts only the
 * candidates a logit histogram says can be kept (O(V + m log m));
 * min-p, temperature, softmax and the draw are O(size). Penalties keep a count
 * per token id (4 bytes a token, grown to the largest id seen) and a ring of
 * the last N ids, so accept is O(1) and apply is O(size). Nothing allocates
 * per token once the chain's candidate buffer has reached V entries.
 *
 * Ties are broken towards the lower id everywhere, so results do not depend on
 * the sort algorithm. The random generator is xoshiro256** seeded through
 * splitmix64 (both public-domain algorithms by Vigna and Blackman, written
 * here from their definitions): the same seed gives the same tokens on every
 * machine and C library.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tok_engine.h"

/* ---- the sampler interface ------------------------------------------------- */

typedef struct sampler_iface {
    const char *name;
    void (*apply)(tok_sampler *s, tok_token_array *cur);
    void (*accept)(tok_sampler *s, int32_t id);   /* may be NULL */
    void (*reset)(tok_sampler *s);                /* may be NULL */
    void (*free_ctx)(tok_sampler *s);             /* may be NULL */
} sampler_iface;

struct tok_sampler {
    const sampler_iface *iface;
    void *ctx;
};

static tok_sampler *sampler_new(const sampler_iface *iface, void *ctx) {
    tok_sampler *s = malloc(sizeof *s);
    if (!s) {
        free(ctx);
        return NULL;
    }
    s->iface = iface;
    s->ctx = ctx;
    return s;
}

/* ---- candidate helpers ------------------------------------------------------- */

/* a ranks before b: higher logit, then lower id. */
static inline bool ranks_before(const tok_token_data *a, const tok_token_data *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_rank(const void *pa, const void *pb) {
    const tok_token_data *a = pa, *b = pb;
    if (ranks_before(a, b)) return -1;
    if (ranks_before(b, a)) return 1;
    return 0;
}

static void sort_all(tok_token_array *cur) {
    if (!cur->sorted) qsort(cur->data, cur->size, sizeof *cur->data, cmp_rank);
    cur->sorted = true;
}

/* Sift-down in a heap whose root is the candidate that ranks last. */
static void heap_sift(tok_token_data *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < n && ranks_before(&h[w], &h[l])) w = l;
        if (l + 1 < n && ranks_before(&h[w], &h[l + 1])) w = l + 1;
        if (w == i) return;
        tok_token_data t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Moves the k best candidates, in rank order, to the front and keeps only
 * them: data[0..k) is the heap, so nothing is allocated. */
static void keep_top_k(tok_token_array *cur, size_t k) {
    if (k >= cur->size) {
        sort_all(cur);
        return;
    }
    if (!cur->sorted) {
        tok_token_data *h = cur->data;
        for (size_t i = k / 2; i-- > 0;) heap_sift(h, k, i);
        for (size_t i = k; i < cur->size; i++)
            if (ranks_before(&h[i], &h[0])) {
                h[0] = h[i];
                heap_sift(h, k, 0);
            }
        qsort(h, k, sizeof *h, cmp_rank);
    }
    cur->size = k;
    cur->sorted = true;
}

static size_t index_of_best(const tok_token_array *cur) {
    size_t best = 0;
    for (size_t i = 1; i < cur->size; i++)
        if (ranks_before(&cur->data[i], &cur->data[best])) best = i;
    return best;
}

/* p = softmax(logit) over the candidates; sums in double. A row whose best
 * logit is -inf (everything banned) gets p = 1 on its first candidate. */
static void softmax(tok_token_array *cur) {
    if (cur->size == 0) return;
    float max = cur->sorted ? cur->data[0].logit : cur->data[index_of_best(cur)].logit;
    if (max == -INFINITY) {
        for (size_t i = 0; i < cur->size; i++) cur->data[i].p = i == 0;
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < cur->size; i++) {
        float e = expf(cur->data[i].logit - max);
        cur->data[i].p = e;
        sum += e;
    }
    for (size_t i = 0; i < cur->size; i++) cur->data[i].p = (float)(cur->data[i].p / sum);
}

/* ---- greedy ------------------------------------------------------------------ */

static void greedy_apply(tok_sampler *s, tok_token_array *cur) {
    (void)s;
    cur->selected = cur->size ? (int64_t)(cur->sorted ? 0 : index_of_best(cur)) : -1;
}

static const sampler_iface greedy_iface = {"greedy", greedy_apply, NULL, NULL, NULL};

tok_sampler *tok_sampler_greedy_new(void) { return sampler_new(&greedy_iface, NULL); }

/* ---- dist: a seeded draw ------------------------------------------------------- */

typedef struct dist_ctx {
    uint32_t seed;     /* as given, or as drawn from the clock */
    uint64_t state[4]; /* xoshiro256** */
} dist_ctx;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void dist_reset(tok_sampler *s) {
    dist_ctx *d = s->ctx;
    uint64_t x = d->seed;
    for (int i = 0; i < 4; i++) d->state[i] = splitmix64(&x);
}

static void dist_apply(tok_sampler *s, tok_token_array *cur) {
    dist_ctx *d = s->ctx;
    if (cur->size == 0) {
        cur->selected = -1;
        return;
    }
    softmax(cur);
    /* 53 random bits -> uniform double in [0, 1). */
    double u = (double)(xoshiro_next(d->state) >> 11) * 0x1.0p-53, cum = 0;
    size_t last = 0;
    for (size_t i = 0; i < cur->size; i++) {
        if (cur->data[i].p <= 0) continue;
        last = i;
        cum += cur->data[i].p;
        if (u < cum) {
            cur->selected = (int64_t)i;
            return;
        }
    }
    cur->selected = (int64_t)last; /* rounding left u above the total */
}

static const sampler_iface dist_iface = {"dist", dist_apply, NULL, dist_reset, NULL};

tok_sampler *tok_sampler_dist_new(uint32_t seed) {
    dist_ctx *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    if (seed == TOK_SEED_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
        seed = (uint32_t)splitmix64(&x);
        if (seed == TOK_SEED_RANDOM) seed = 0;
    }
    d->seed = seed;
    tok_sampler *s = sampler_new(&dist_iface, d);
    if (s) dist_reset(s);
    return s;
}

/* ---- top-k, top-p, min-p, temperature ----------------------------------------- */

typedef struct cut_ctx {
    int k;
    float p, t;
    size_t min_keep;
} cut_ctx;

static tok_sampler *cut_new(const sampler_iface *iface, cut_ctx c) {
    cut_ctx *x = malloc(sizeof *x);
    if (!x) return NULL;
    *x = c;
    return sampler_new(iface, x);
}

static void top_k_apply(tok_sampler *s, tok_token_array *cur) {
    const cut_ctx *c = s->ctx;
    if (c->k > 0) keep_top_k(cur, (size_t)c->k);
}

#define TOP_P_BUCKETS 256

/* Bucket of a logit by its distance below the best: monotone in the logit,
 * so a bucket holds a contiguous range of ranks; -inf and NaN go last. */
static inline int top_p_bucket(float logit, float max, float inv_width) {
    float f = (max - logit) * inv_width;
    return f < TOP_P_BUCKETS - 1 ? (int)f : TOP_P_BUCKETS - 1;
}

/* On a large unsorted row (top-k off), rank only the candidates that can be
 * in the prefix: a histogram of probability mass over logit buckets finds
 * the bucket where the mass reaches p, and only the buckets above it are
 * moved to the front and sorted. O(V + m log m) for m survivors instead of
 * O(V log V): a 150k vocabulary costs ~30 ms a token to sort. Returns false
 * (nothing cut; the row is merely permuted) if float rounding left the mass
 * short, and the caller sorts everything. */
static bool top_p_partial(const cut_ctx *c, tok_token_array *cur) {
    float max = -INFINITY, min = INFINITY;
    for (size_t i = 0; i < cur->size; i++) {
        float l = cur->data[i].logit;
        if (l > max) max = l;
        if (l < min && l != -INFINITY) min = l;
    }
    if (max == -INFINITY || !(max > min)) return false;
    float inv_width = TOP_P_BUCKETS / (max - min);
    if (!isfinite(inv_width)) return false;
    double mass[TOP_P_BUCKETS] = {0}, sum = 0;
    for (size_t i = 0; i < cur->size; i++) {
        float l = cur->data[i].logit, e = expf(l - max);
        mass[top_p_bucket(l, max, inv_width)] += e;
        sum += e;
    }
    int last = TOP_P_BUCKETS - 1;
    double cum = 0;
    for (int b = 0; b < TOP_P_BUCKETS; b++) {
        cum += mass[b];
        if (cum >= c->p * sum) {
            last = b;
            break;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < cur->size; i++)
        if (top_p_bucket(cur->data[i].logit, max, inv_width) <= last) {
            tok_token_data t = cur->data[m];
            cur->data[m++] = cur->data[i];
            cur->data[i] = t;
        }
    if (m < c->min_keep) return false;
    qsort(cur->data, m, sizeof *cur->data, cmp_rank);
    cum = 0;
    for (size_t i = 0; i < m; i++) {
        cur->data[i].p = (float)(expf(cur->data[i].logit - max) / sum);
        cum += cur->data[i].p;
        if (cum >= c->p && i + 1 >= c->min_keep) {
            cur->size = i + 1;
            cur->sorted = true;
            return true;
        }
    }
    return false;
}

/* The smallest prefix (by rank) whose probability mass reaches p. */
static void top_p_apply(tok_sampler *s, tok_token_array *cur) {
    const cut_ctx *c = s->ctx;
    if (c->p >= 1.0f || cur->size == 0) return;
    if (!cur->sorted && cur->size > 4 * TOP_P_BUCKETS && top_p_partial(c, cur)) return;
    sort_all(cur);
    softmax(cur);
    double cum = 0;
    for (size_t i = 0; i < cur->size; i++) {
        cum += cur->data[i].p;
        if (cum >= c->p && i + 1 >= c->min_keep) {
            cur->size = i + 1;
            return;
        }
    }
}

/* Keeps p_i >= min_p * p_max, i.e. logit_i >= logit_max + log(min_p), in
 * logits so no softmax is needed; order is preserved. */
static void min_p_apply(tok_sampler *s, tok_token_array *cur) {
    const cut_ctx *c = s->ctx;
    if (c->p <= 0.0f || cur->size == 0) return;
    float max = cur->sorted ? cur->data[0].logit : cur->data[index_of_best(cur)].logit;
    float min_logit = max + logf(c->p);
    size_t kept = 0;
    for (size_t i = 0; i < cur->size; i++) kept += cur->data[i].logit >= min_logit;
    if (kept < c->min_keep) { /* keep the min_keep best instead */
        keep_top_k(cur, c->min_keep);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < cur->size; i++)
        if (cur->data[i].logit >= min_logit) cur->data[n++] = cur->data[i];
    cur->size = n;
}

/* t <= 0 means greedy: every candidate but the best gets -inf, so a dist
 * sampler after it can only pick the best (as llama.cpp does). */
static void temp_apply(tok_sampler *s, tok_token_array *cur) {
    const cut_ctx *c = s->ctx;
    if (cur->size == 0) return;
    if (c->t <= 0.0f) {
        size_t best = cur->sorted ? 0 : index_of_best(cur);
        for (size_t i = 0; i < cur->size; i++)
            if (i != best) cur->data[i].logit = -INFINITY;
        return;
    }
    if (c->t == 1.0f) return;
    for (size_t i = 0; i < cur->size; i++) cur->data[i].logit /= c->t;
}

static const sampler_iface top_k_iface = {"top-k", top_k_apply, NULL, NULL, NULL};
static const sampler_iface top_p_iface = {"top-p", top_p_apply, NULL, NULL, NULL};
static const sampler_iface min_p_iface = {"min-p", min_p_apply, NULL, NULL, NULL};
static const sampler_iface temp_iface = {"temp", temp_apply, NULL, NULL, NULL};

tok_sampler *tok_sampler_top_k_new(int k) { return cut_new(&top_k_iface, (cut_ctx){.k = k}); }
tok_sampler *tok_sampler_top_p_new(float p, size_t min_keep) {
    return cut_new(&top_p_iface, (cut_ctx){.p = p, .min_keep = min_keep ? min_keep : 1});
}
tok_sampler *tok_sampler_min_p_new(float p, size_t min_keep) {
    return cut_new(&min_p_iface, (cut_ctx){.p = p, .min_keep = min_keep ? min_keep : 1});
}
tok_sampler *tok_sampler_temp_new(float t) { return cut_new(&temp_iface, (cut_ctx){.t = t}); }

/* ---- repetition, frequency and presence penalties --------------------------------- */

typedef struct penalties_ctx {
    int last_n; /* window; -1 = everything accepted */
    float repeat, freq, present;
    int32_t *ring; /* (last_n) the window, oldest at head once full */
    int ring_len, ring_head;
    int32_t *count; /* (count_cap) occurrences of each id in the window */
    size_t count_cap;
} penalties_ctx;

static void penalties_accept(tok_sampler *s, int32_t id) {
    penalties_ctx *c = s->ctx;
    if (c->last_n == 0 || id < 0) return;
    if ((size_t)id >= c->count_cap) {
        size_t cap = c->count_cap ? c->count_cap : 1024;
        while (cap <= (size_t)id) cap *= 2;
        int32_t *nc = realloc(c->count, cap * sizeof *nc);
        if (!nc) return; /* out of memory: this token goes unpenalized */
        memset(nc + c->count_cap, 0, (cap - c->count_cap) * sizeof *nc);
        c->count = nc;
        c->count_cap = cap;
    }
    if (c->last_n > 0) {
        if (c->ring_len == c->last_n) {
            c->count[c->ring[c->ring_head]]--;
            c->ring[c->ring_head] = id;
            c->ring_head = (c->ring_head + 1) % c->last_n;
        } else {
            c->ring[c->ring_len++] = id;
        }
    }
    c->count[id]++;
}

static void penalties_apply(tok_sampler *s, tok_token_array *cur) {
    const penalties_ctx *c = s->ctx;
    if (c->last_n == 0 || (c->repeat == 1.0f && c->freq == 0.0f && c->present == 0.0f)) return;
    bool changed = false;
    for (size_t i = 0; i < cur->size; i++) {
        tok_token_data *t = &cur->data[i];
        if (t->id < 0 || (size_t)t->id >= c->count_cap || c->count[t->id] == 0) continue;
        int n = c->count[t->id];
        /* Dividing a negative logit would raise it; multiply it instead. */
        if (t->logit <= 0) t->logit *= c->repeat;
        else t->logit /= c->repeat;
        t->logit -= (float)n * c->freq + c->present;
        changed = true;
    }
    if (changed) cur->sorted = false;
}

static void penalties_reset(tok_sampler *s) {
    penalties_ctx *c = s->ctx;
    c->ring_len = c->ring_head = 0;
    if (c->count) memset(c->count, 0, c->count_cap * sizeof *c->count);
}

static void penalties_free(tok_sampler *s) {
    penalties_ctx *c = s->ctx;
    free(c->ring);
    free(c->count);
}

static const sampler_iface penalties_iface = {"penalties", penalties_apply, penalties_accept,
                                              penalties_reset, penalties_free};

tok_sampler *tok_sampler_penalties_new(int last_n, float repeat, float freq, float present) {
    penalties_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->last_n = last_n < -1 ? -1 : last_n;
    c->repeat = repeat;
    c->freq = freq;
    c->present = present;
    if (c->last_n > 0 && !(c->ring = malloc((size_t)c->last_n * sizeof *c->ring))) {
        free(c);
        return NULL;
    }
    int32_t *ring = c->ring; /* sampler_new frees c on failure */
    tok_sampler *s = sampler_new(&penalties_iface, c);
    if (!s) free(ring);
    return s;
}

/* ---- logit bias ---------------------------------------------------------------- */

typedef struct bias_ctx {
    size_t n;
    tok_logit_bias b[];
} bias_ctx;

static void bias_apply(tok_sampler *s, tok_token_array *cur) {
    const bias_ctx *c = s->ctx;
    for (size_t j = 0; j < c->n; j++) {
        int32_t id = c->b[j].id;
        if (id < 0) continue;
        /* Fast path: the array still holds the whole row in id order. */
        if ((size_t)id < cur->size && cur->data[id].id == id) {
            cur->data[id].logit += c->b[j].bias;
            continue;
        }
        for (size_t i = 0; i < cur->size; i++)
            if (cur->data[i].id == id) {
                cur->data[i].logit += c->b[j].bias;
                break;
            }
    }
    if (c->n) cur->sorted = false;
}

static const sampler_iface bias_iface = {"logit-bias", bias_apply, NULL, NULL, NULL};

tok_sampler *tok_sampler_logit_bias_new(const tok_logit_bias *biases, size_t n) {
    bias_ctx *c = malloc(sizeof *c + n * sizeof *biases);
    if (!c) return NULL;
    c->n = n;
    if (n) memcpy(c->b, biases, n * sizeof *biases);
    return sampler_new(&bias_iface, c);
}

/* ---- the chain ----------------------------------------------------------------- */

typedef struct chain_ctx {
    tok_sampler_chain_params params;
    tok_sampler **items;
    int n, cap;
    tok_token_data *buf; /* (buf_cap) candidates of the current row */
    size_t buf_cap;
    double t_sample_ms;
    int64_t n_sample;
} chain_ctx;

static void chain_apply(tok_sampler *s, tok_token_array *cur) {
    chain_ctx *c = s->ctx;
    for (int i = 0; i < c->n; i++) tok_sampler_apply(c->items[i], cur);
}

static void chain_accept(tok_sampler *s, int32_t id) {
    chain_ctx *c = s->ctx;
    for (int i = 0; i < c->n; i++) tok_sampler_accept(c->items[i], id);
}

static void chain_reset(tok_sampler *s) {
    chain_ctx *c = s->ctx;
    for (int i = 0; i < c->n; i++) tok_sampler_reset(c->items[i]);
    c->t_sample_ms = 0;
    c->n_sample = 0;
}

static void chain_free(tok_sampler *s) {
    chain_ctx *c = s->ctx;
    for (int i = 0; i < c->n; i++) tok_sampler_free(c->items[i]);
    free(c->items);
    free(c->buf);
}

static const sampler_iface chain_iface = {"chain", chain_apply, chain_accept, chain_reset,
                                          chain_free};

tok_sampler_chain_params tok_sampler_chain_default_params(void) {
    return (tok_sampler_chain_params){.no_perf = false};
}

tok_sampler *tok_sampler_chain_new(tok_sampler_chain_params p) {
    chain_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->params = p;
    return sampler_new(&chain_iface, c);
}

int tok_sampler_chain_add(tok_sampler *chain, tok_sampler *s) {
    if (!s) return TOK_EINVAL;
    if (!chain || chain->iface != &chain_iface) {
        tok_sampler_free(s);
        return TOK_EINVAL;
    }
    chain_ctx *c = chain->ctx;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        tok_sampler **ni = realloc(c->items, (size_t)cap * sizeof *ni);
        if (!ni) {
            tok_sampler_free(s);
            return TOK_ENOMEM;
        }
        c->items = ni;
        c->cap = cap;
    }
    c->items[c->n++] = s;
    return 0;
}

int tok_sampler_chain_n(const tok_sampler *chain) {
    return chain && chain->iface == &chain_iface ? ((const chain_ctx *)chain->ctx)->n : 0;
}

tok_sampler *tok_sampler_chain_get(const tok_sampler *chain, int i) {
    if (!chain || chain->iface != &chain_iface) return NULL;
    const chain_ctx *c = chain->ctx;
    return i >= 0 && i < c->n ? c->items[i] : NULL;
}

void tok_sampler_chain_perf(const tok_sampler *chain, double *ms, int64_t *n_samples) {
    const chain_ctx *c = chain && chain->iface == &chain_iface ? chain->ctx : NULL;
    if (ms) *ms = c ? c->t_sample_ms : 0;
    if (n_samples) *n_samples = c ? c->n_sample : 0;
}

/* ---- generic entry points --------------------------------------------------------- */

void tok_sampler_apply(tok_sampler *s, tok_token_array *cur) {
    if (s) s->iface->apply(s, cur);
}

void tok_sampler_accept(tok_sampler *s, int32_t id) {
    if (s && s->iface->accept) s->iface->accept(s, id);
}

void tok_sampler_reset(tok_sampler *s) {
    if (s && s->iface->reset) s->iface->reset(s);
}

void tok_sampler_free(tok_sampler *s) {
    if (!s) return;
    if (s->iface->free_ctx) s->iface->free_ctx(s);
    free(s->ctx);
    free(s);
}

const char *tok_sampler_name(const tok_sampler *s) { return s ? s->iface->name : NULL; }

uint32_t tok_sampler_get_seed(const tok_sampler *s) {
    if (!s) return TOK_SEED_RANDOM;
    if (s->iface == &dist_iface) return ((const dist_ctx *)s->ctx)->seed;
    if (s->iface == &chain_iface) {
        const chain_ctx *c = s->ctx;
        for (int i = 0; i < c->n; i++) {
            uint32_t seed = tok_sampler_get_seed(c->items[i]);
            if (seed != TOK_SEED_RANDOM) return seed;
        }
    }
    return TOK_SEED_RANDOM;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int32_t tok_sampler_sample(tok_sampler *s, const float *logits, int n_vocab) {
    if (!s || !logits || n_vocab <= 0) return -1;
    chain_ctx *c = s->iface == &chain_iface ? s->ctx : NULL;
    double t0 = c && !c->params.no_perf ? now_ms() : 0;
    tok_token_data *buf, *own = NULL;
    if (c) { /* a chain keeps its buffer between tokens */
        if (c->buf_cap < (size_t)n_vocab) {
            tok_token_data *nb = realloc(c->buf, (size_t)n_vocab * sizeof *nb);
            if (!nb) return -1;
            c->buf = nb;
            c->buf_cap = (size_t)n_vocab;
        }
        buf = c->buf;
    } else if (!(buf = own = malloc((size_t)n_vocab * sizeof *buf))) {
        return -1;
    }
    for (int i = 0; i < n_vocab; i++) buf[i] = (tok_token_data){i, logits[i], 0.0f};
    tok_token_array cur = {buf, (size_t)n_vocab, -1, false};
    tok_sampler_apply(s, &cur);
    int32_t id;
    if (cur.size == 0) id = -1;
    else if (cur.selected >= 0 && (size_t)cur.selected < cur.size) id = cur.data[cur.selected].id;
    else id = cur.data[cur.sorted ? 0 : index_of_best(&cur)].id;
    free(own);
    if (c && !c->params.no_perf) {
        c->t_sample_ms += now_ms() - t0;
        c->n_sample++;
    }
    return id;
}

/* ---- llama.cpp's default chain --------------------------------------------------- */

tok_sampling_params tok_sampling_default_params(void) {
    return (tok_sampling_params){
        .seed = TOK_SEED_RANDOM, .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .penalty_last_n = 64, .penalty_repeat = 1.0f, .penalty_freq = 0.0f,
        .penalty_present = 0.0f, .logit_bias = NULL, .n_logit_bias = 0};
}

tok_sampler *tok_sampler_chain_from_params(const tok_sampling_params *p) {
    tok_sampling_params d = tok_sampling_default_params();
    if (!p) p = &d;
    tok_sampler *c = tok_sampler_chain_new(tok_sampler_chain_default_params());
    if (!c) return NULL;
    int rc = 0;
    if (p->n_logit_bias)
        rc |= tok_sampler_chain_add(c, tok_sampler_logit_bias_new(p->logit_bias, p->n_logit_bias));
    rc |= tok_sampler_chain_add(c, tok_sampler_penalties_new(p->penalty_last_n, p->penalty_repeat,
                                                             p->penalty_freq, p->penalty_present));
    if (p->temp <= 0.0f) { /* greedy: the cuts cannot change the argmax */
        rc |= tok_sampler_chain_add(c, tok_sampler_greedy_new());
    } else {
        rc |= tok_sampler_chain_add(c, tok_sampler_top_k_new(p->top_k));
        rc |= tok_sampler_chain_add(c, tok_sampler_top_p_new(p->top_p, 1));
        rc |= tok_sampler_chain_add(c, tok_sampler_min_p_new(p->min_p, 1));
        rc |= tok_sampler_chain_add(c, tok_sampler_temp_new(p->temp));
        rc |= tok_sampler_chain_add(c, tok_sampler_dist_new(p->seed));
    }
    if (rc) {
        tok_sampler_free(c);
        return NULL;
    }
    return c;
}

/* ---- log-probabilities ---------------------------------------------------------- */

int tok_logprobs_top(const float *logits, int n_vocab, int k, int32_t *ids, float *logprobs) {
    if (!logits || n_vocab <= 0 || k <= 0) return 0;
    if (k > n_vocab) k = n_vocab;
    float max = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    double lse = max + log(sum);
    /* Insertion into a k-long list, best first: k is small (a handful), and
     * most logits fail the first comparison with the current k-th. */
    int n = 0;
    for (int i = 0; i < n_vocab; i++) {
        float l = logits[i];
        if (n == k && !(l > logprobs[n - 1])) continue; /* equal: the lower id stays */
        int j = n < k ? n++ : k - 1;
        while (j > 0 && l > logprobs[j - 1]) {
            logprobs[j] = logprobs[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        logprobs[j] = l;
        ids[j] = i;
    }
    for (int j = 0; j < n; j++) logprobs[j] = (float)((double)logprobs[j] - lse);
    return n;
}
