/*
 * Byte-pair encoding without merging: a backtracking search over the
 * vocabulary that gives exactly the ids of the merge loop (bpe.c), for the
 * tiktoken vocabularies, where a merge's rank is the merged token's id.
 *
 * Why it is exact. Call two tokens a, b "compatible" when BPE run on the
 * bytes of a followed by the bytes of b returns [a, b]. The BPE encoding of a
 * text is the one encoding of it into tokens that BPE can reach in which
 * every neighbouring pair is compatible (a merge that crosses a boundary
 * always involves only the two tokens beside it, so a pair that BPE would
 * have merged shows up as an incompatible pair, and vice versa). So the
 * encoder walks the text left to right taking the longest token that starts
 * there (a trie walk), and when that token is not compatible with the one
 * before it, tries the next shorter token that is a prefix of it; when no
 * candidate fits, it drops the previous token and retries that position with
 * shorter tokens. A bit per text position remembers "no encoding of the rest
 * starts here", so no position is searched twice: O(n * longest token) at
 * worst, and in practice a little over one trie walk per output token (the
 * greedy choice is almost always right). This is the algorithm of the
 * GitHub "bpe" crate (rust-gems), written here from its description.
 *
 * Compatibility of (a, b) is decided without running BPE: undo the merges
 * that built a and b in reverse rank order, always the later of the two
 * boundary tokens first (split[] records each token's last merge), and fail
 * if at any point the two tokens touching the boundary form a token whose
 * merge BPE would have done before that one (pair table). Leftmost-first
 * tie-breaking shows up as the strict/non-strict limit below. Answers are
 * memoized, since the same pairs recur.
 *
 * Tokens that BPE never produces from their own bytes (no compatible split)
 * are left out of the trie: the merge loop cannot produce them inside a
 * longer piece either. (A whole piece equal to such a token is found by the
 * whole-piece lookup before BPE runs.)
 *
 * Tables, built once per tokenizer at load (~30 ms for o200k_base), immutable:
 *   - trie edges: open addressing, one 64-bit slot = (parent << 8 | byte) + 1
 *     and child; a trie node that is a token has the token's id as its node
 *     id, other nodes get ids from vocab->n up, so "is this node a token"
 *     costs no load; the first two bytes come from a direct 65,536-entry
 *     table;
 *   - per token: longest proper prefix that is a token, and its split;
 *   - pair table: (left, right) -> merged id, only for the splits.
 */
#include <stdlib.h>

#include "internal.h"
#include "vocab.h"

#define BT_NONE UINT32_MAX
#define BT_ROOT 0xFFFFFEu /* node ids stay below 2^24 - 2 so parent << 8 | byte fits 32 bits */

struct bpe_bt {
    uint32_t ntok;       /* vocab->n: node ids below this are tokens */
    uint64_t *edges;     /* ((parent << 8 | byte) + 1) << 32 | child; 0 = empty */
    uint32_t emask, ecount, next_node;
    uint32_t *r2node;    /* first two bytes (b0 | b1 << 8) -> node, BT_NONE */
    uint32_t *r2best;    /* ... -> longest token among the first 1-2 bytes */
    uint32_t r1[256];    /* one byte -> its token */
    uint32_t *prefix;    /* id -> longest proper prefix that is a usable token, BT_NONE */
    uint32_t (*split)[2];/* id -> the two tokens of its last merge; (id, id) for bytes */
    uint64_t *pairs;     /* (left, right) -> merged, see pair_get */
    uint32_t pmask;
    uint8_t *usable;     /* bitmap: BPE can produce this token */
    uint64_t *memo;      /* compatible(a, b) answers seen, see below */
    unsigned memo_shift;
    uint8_t *len;        /* id -> byte length (a quarter of vocab->len's cache
                          * footprint; no tables if a token is longer than 255) */
};

static inline uint32_t edge_slot(uint32_t key, uint32_t mask) {
    return (uint32_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static inline uint32_t edge_get(const bpe_bt *b, uint32_t node, unsigned char c) {
    uint32_t key = (node << 8 | c) + 1;
    for (uint32_t i = edge_slot(key, b->emask);; i = (i + 1) & b->emask) {
        uint64_t s = b->edges[i];
        if (!s) return BT_NONE;
        if ((uint32_t)(s >> 32) == key) return (uint32_t)s;
    }
}

static int edge_grow(bpe_bt *b) {
    uint32_t cap = (b->emask + 1) * 2;
    uint64_t *ne = tok_table_alloc(cap * sizeof *ne);
    if (!ne) return -1;
    for (uint32_t i = 0; i <= b->emask; i++) {
        uint64_t s = b->edges[i];
        if (!s) continue;
        uint32_t j = edge_slot((uint32_t)(s >> 32), cap - 1);
        while (ne[j]) j = (j + 1) & (cap - 1);
        ne[j] = s;
    }
    tok_table_free(b->edges, (b->emask + 1) * sizeof *b->edges);
    b->edges = ne;
    b->emask = cap - 1;
    return 0;
}

static int edge_put(bpe_bt *b, uint32_t node, unsigned char c, uint32_t child) {
    if ((uint64_t)(b->ecount + 1) * 3 > (uint64_t)(b->emask + 1) * 2 && edge_grow(b)) return -1; /* load <= 2/3 */
    uint32_t key = (node << 8 | c) + 1, i = edge_slot(key, b->emask);
    while (b->edges[i]) i = (i + 1) & b->emask;
    b->edges[i] = (uint64_t)key << 32 | child;
    b->ecount++;
    return 0;
}

static inline int usable(const bpe_bt *b, uint32_t id) { return b->usable[id >> 3] >> (id & 7) & 1; }

/* The id of bytes p[0, n) if it is an indexed, usable token, else BT_NONE. */
static uint32_t usable_id(const vocab *v, const bpe_bt *b, const unsigned char *p, size_t n) {
    int32_t id = vocab_find(v, p, n);
    return id >= 0 && usable(b, (uint32_t)id) ? (uint32_t)id : BT_NONE;
}

/* The trie of the usable tokens, the one- and two-byte tables and prefix[]. */
static int build_trie(const vocab *v, bpe_bt *b) {
    uint32_t cap = 65536;
    while (cap < 3 * v->n) cap *= 2; /* ~2 nodes per token: starts near its final size */
    b->emask = cap - 1;
    b->ecount = 0;
    b->next_node = v->n;
    if (!(b->edges = tok_table_alloc(cap * sizeof *b->edges))) return -1;
    for (uint32_t id = 0; id < v->n; id++) {
        b->prefix[id] = BT_NONE;
        if (!usable(b, id)) continue;
        const unsigned char *t = (const unsigned char *)v->blob + v->off[id];
        uint32_t node = BT_ROOT;
        for (uint32_t j = 0; j < v->len[id]; j++) {
            if (node < v->n && j) b->prefix[id] = node;
            uint32_t child = edge_get(b, node, t[j]);
            if (child == BT_NONE) {
                child = j + 1 == v->len[id] ? id : usable_id(v, b, t, j + 1);
                if (child == BT_NONE) child = b->next_node++;
                if (b->next_node >= BT_ROOT || edge_put(b, node, t[j], child)) return -1;
            }
            node = child;
        }
    }
    for (int c = 0; c < 256; c++) {
        uint32_t n1 = edge_get(b, BT_ROOT, (unsigned char)c);
        b->r1[c] = n1 < v->n ? n1 : BT_NONE;
    }
    for (uint32_t c = 0; c < 65536; c++) {
        uint32_t n1 = edge_get(b, BT_ROOT, (unsigned char)(c & 255));
        uint32_t n2 = n1 == BT_NONE ? BT_NONE : edge_get(b, n1, (unsigned char)(c >> 8));
        b->r2node[c] = n2;
        b->r2best[c] = n2 < v->n ? n2 : n1 < v->n ? n1 : BT_NONE;
    }
    return 0;
}

/* Pair table slots pack everything in one word, so a probe is one load:
 * (left + 1) << 42 | right << 21 | merged (ids below 2^21 - 1); 0 = empty. */
static inline uint64_t pair_key(uint32_t l, uint32_t r) { return (uint64_t)(l + 1) << 21 | r; }

static inline uint32_t pair_home(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & mask;
}

static inline uint32_t pair_get(const bpe_bt *b, uint32_t l, uint32_t r) {
    uint64_t key = pair_key(l, r);
    for (uint32_t i = pair_home(key, b->pmask);; i = (i + 1) & b->pmask) {
        uint64_t s = b->pairs[i];
        if (s >> 21 == key) return (uint32_t)(s & 0x1FFFFF);
        if (!s) return BT_NONE;
    }
}

static void pair_put(bpe_bt *b, uint32_t l, uint32_t r, uint32_t merged) {
    uint64_t key = pair_key(l, r);
    uint32_t i = pair_home(key, b->pmask);
    while (b->pairs[i] && b->pairs[i] >> 21 != key) i = (i + 1) & b->pmask;
    b->pairs[i] = key << 21 | merged;
}

/* Whether BPE on bytes(a) bytes(b) gives [a, b]. Undo the boundary merges
 * latest first: the later of the two boundary tokens was merged last, so
 * any merge across the boundary whose rank comes before it would have
 * happened instead. `limit` is the first rank that is too late to compete:
 * when undoing a left token, a crossing merge of the same rank lies further
 * right and loses the tie (limit = its rank); when undoing a right token, a
 * crossing merge of the same rank lies further left and wins (limit = rank
 * + 1). Both tokens back at single bytes (their own split): compatible. */
static int compatible_slow(const bpe_bt *b, uint32_t a, uint32_t c) {
    uint32_t limit = BT_NONE;
    for (;;) {
        uint32_t m = pair_get(b, a, c);
        if (m != BT_NONE && m < limit) return 0;
        if (a > c) {
            limit = a;
            a = b->split[a][1];
            if (a == limit) { /* a is a byte: undo c */
                limit = c + 1;
                c = b->split[c][0];
                if (c + 1 == limit) return 1;
            }
        } else {
            limit = c + 1;
            c = b->split[c][0];
            if (c + 1 == limit) { /* c is a byte: undo a */
                limit = a;
                a = b->split[a][1];
                if (a == limit) return 1;
            }
        }
    }
}

/* The memo: a direct-mapped table of answers shared by all threads that
 * encode with this vocabulary (neighbouring token pairs recur across texts,
 * so it stays warm from call to call). Each entry is one 64-bit word,
 * (a + 1) << 32 | c << 1 | answer, 0 = empty (ids < 2^31), read and written
 * with relaxed atomic accesses: a reader sees some complete entry, and any
 * entry whose key matches holds a true answer, so racing threads can only
 * cost each other a recomputation. 2^18 entries (2 MB). */
#define MEMO_BITS 18

static inline int compatible(const bpe_bt *b, uint32_t a, uint32_t c) {
    uint64_t key = (uint64_t)(a + 1) << 32 | (uint64_t)c << 1;
    uint32_t i = (uint32_t)(((key ^ key >> 29) * 0x9E3779B97F4A7C15ull) >> b->memo_shift);
    uint64_t e = __atomic_load_n(&b->memo[i], __ATOMIC_RELAXED);
    if ((e & ~1ull) == key) return (int)(e & 1);
    int ok = compatible_slow(b, a, c);
    __atomic_store_n(&b->memo[i], key | (uint64_t)ok, __ATOMIC_RELAXED);
    return ok;
}

void bpe_bt_free(bpe_bt *b) {
    if (!b) return;
    tok_table_free(b->edges, (b->emask + 1) * sizeof *b->edges);
    free(b->r2node);
    free(b->r2best);
    free(b->prefix);
    free(b->split);
    tok_table_free(b->pairs, (b->pmask + 1) * sizeof *b->pairs);
    free(b->usable);
    tok_table_free(b->memo, ((size_t)1 << MEMO_BITS) * sizeof *b->memo);
    free(b->len);
    free(b);
}

bpe_bt *bpe_bt_build(const vocab *v) {
    if (!v->merge_by_bytes || v->n == 0 || v->n >= (1u << 21) - 1) return NULL; /* see pair_get */
    bpe_bt *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->ntok = v->n;
    if (!(b->len = malloc(v->n))) goto fail;
    for (uint32_t id = 0; id < v->n; id++) {
        if (v->len[id] > 255) goto fail;
        b->len[id] = (uint8_t)v->len[id];
    }
    uint32_t pcap = 1024;
    while (pcap < 2 * v->n) pcap *= 2;
    b->pmask = pcap - 1;
    b->r2node = malloc(65536 * sizeof *b->r2node);
    b->r2best = malloc(65536 * sizeof *b->r2best);
    b->prefix = malloc(v->n * sizeof *b->prefix);
    b->split = malloc(v->n * sizeof *b->split);
    b->pairs = tok_table_alloc(pcap * sizeof *b->pairs);
    b->usable = calloc(v->n / 8 + 1, 1);
    b->memo = tok_table_alloc(((size_t)1 << MEMO_BITS) * sizeof *b->memo);
    b->memo_shift = 64 - MEMO_BITS;
    if (!b->memo || !b->r2node || !b->r2best || !b->prefix || !b->split || !b->pairs || !b->usable) goto fail;
    /* First pass: every indexed token counts as usable. */
    for (uint32_t id = 0; id < v->n; id++)
        if (v->off[id] != VOCAB_NONE && v->len[id] && vocab_find(v, v->blob + v->off[id], v->len[id]) == (int32_t)id)
            b->usable[id >> 3] |= (uint8_t)(1u << (id & 7));
    for (int c = 0; c < 256; c++)
        if (v->byte_id[c] < 0) goto fail; /* byte-level vocabularies only */
    if (build_trie(v, b)) goto fail;
    /* Splits in rank (= id) order: a token's last merge is the one at its
     * longest prefix token whose rest is a token, both earlier, usable and
     * compatible. Tokens without one are never built by BPE: they become
     * unusable, and the trie is built again without them (no tiktoken
     * encoding has such tokens). */
    uint32_t dropped = 0;
    for (uint32_t id = 0; id < v->n; id++) {
        b->split[id][0] = b->split[id][1] = id;
        if (!usable(b, id) || v->len[id] == 1) continue;
        const unsigned char *t = (const unsigned char *)v->blob + v->off[id];
        uint32_t l = b->prefix[id];
        for (; l != BT_NONE; l = b->prefix[l]) {
            if (l >= id || !usable(b, l)) continue;
            uint32_t r = usable_id(v, b, t + v->len[l], v->len[id] - v->len[l]);
            if (r == BT_NONE || r >= id || !compatible_slow(b, l, r)) continue;
            b->split[id][0] = l;
            b->split[id][1] = r;
            pair_put(b, l, r, id);
            break;
        }
        if (l == BT_NONE) {
            b->usable[id >> 3] &= (uint8_t)~(1u << (id & 7));
            dropped++;
        }
    }
    if (dropped) {
        tok_table_free(b->edges, (b->emask + 1) * sizeof *b->edges);
        b->edges = NULL;
        if (build_trie(v, b)) goto fail;
    }
    return b;
fail:
    bpe_bt_free(b);
    return NULL;
}

/* Longest usable token that is a prefix of p[0, n), n >= 1. */
static inline uint32_t longest_match(const bpe_bt *b, const unsigned char *p, size_t n) {
    if (n == 1) return b->r1[p[0]];
    uint32_t node = b->r2node[p[0] | p[1] << 8], best = b->r2best[p[0] | p[1] << 8];
    for (size_t i = 2; node != BT_NONE && i < n; i++) {
        node = edge_get(b, node, p[i]);
        if (node < b->ntok) best = node;
    }
    return best;
}

int bpe_bt_encode(const bpe_bt *b, const unsigned char *p, size_t n, bpe_scratch *s, tok_ids *out) {
    size_t words = (n + 1) / 64 + 1;
    if (s->bits_cap < words) {
        uint64_t *nb = realloc(s->bits, words * sizeof *nb);
        if (!nb) return TOK_ENOMEM;
        s->bits = nb;
        s->bits_cap = words;
    }
    uint64_t *ok = s->bits; /* bit i: an encoding of p[i, n) may start at i */
    memset(ok, 0xFF, words * sizeof *ok);
    size_t start = out->n, pos = 0;
    uint32_t t = longest_match(b, p, n);
    for (;;) {
        size_t end = pos + b->len[t];
        uint32_t last = out->n > start ? (uint32_t)out->ids[out->n - 1] : BT_NONE;
        if ((ok[end >> 6] >> (end & 63) & 1) && (last == BT_NONE || compatible(b, last, t))) {
            if (out->n == out->cap && tok_ids_reserve(out, 1)) return TOK_ENOMEM;
            out->ids[out->n++] = (int32_t)t;
            pos = end;
            if (pos == n) return 0;
            t = longest_match(b, p + pos, n - pos);
            continue;
        }
        uint32_t shorter = b->prefix[t];
        if (shorter != BT_NONE) {
            t = shorter;
            continue;
        }
        /* Nothing fits at pos after `last`: give `last` up and retry its
         * position with shorter tokens (its end is now marked dead). The
         * BPE encoding always exists, so this never runs out of tokens;
         * should it, the caller merges instead. */
        if (last == BT_NONE) return 1;
        ok[pos >> 6] &= ~(1ull << (pos & 63));
        out->n--;
        pos -= b->len[last];
        t = last;
    }
}
