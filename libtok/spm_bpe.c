/*
 * SentencePiece BPE segmentation (bpe_model.cc, Model::Encode), rewritten.
 *
 * The normalized text starts as one symbol per UTF-8 character (a user-defined
 * piece starting here is one frozen symbol instead). A max-heap holds every
 * adjacent pair whose concatenation is a piece, keyed by that piece's score;
 * ties go to the leftmost pair. Pop the best pair, skip it if stale (one side
 * was merged away or grew since: the stored size no longer matches), merge,
 * and push the two new neighbour pairs. SentencePiece BPE has no merge list:
 * the priority is the score of the merged piece, and there is no
 * pre-tokenization at encode time - pieces simply never span what training
 * did not join.
 *
 * Cost: O(n log n) for n characters (a 4-ary heap) - each merge pushes at most two pairs, so
 * the heap sees at most 3n entries - with one hash lookup per candidate pair
 * (skipped outright when the pair is longer than the longest piece). No
 * quadratic case: a megabyte without spaces is one heap run.
 *
 * Text is cut into chunks no merge can cross (below); a long input caches
 * the result of each short chunk, so a repeated word costs one hash lookup.
 *
 * UNUSED pieces: a merge may produce one; at the end such symbols are split
 * back into the two halves they were last proposed from (SentencePiece's
 * rev_merge map keeps the last proposal per piece), recursively.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spm.h"

typedef struct sym {
    uint32_t off, len;
    int32_t prev, next;
    int32_t id; /* the normal piece it was merged into; -1: one character (or frozen) */
    bool freeze;
} sym;

/* A candidate merge of symbol `left` with its right neighbour. It is stale
 * once either side changed: then the two lengths no longer add up to size
 * (symbols only grow or vanish). */
typedef struct pair {
    uint64_t key; /* score key << 32 | left: smaller pops first */
    int32_t id;   /* the merged piece */
    uint32_t size;
} pair;

/* A 4-ary min-heap: half the depth of a binary heap, and the four children
 * of a node share one 64-byte cache line (the array is offset so they are
 * aligned), which matters once a long run of text makes the heap outgrow
 * the caches. */
typedef struct heap {
    pair *base; /* allocation, 64-byte aligned */
    pair *v;    /* base + 3: children 4i+1..4i+4 start on a cache line */
    size_t n, cap;
} heap;

/* a outranks b: higher score, then smaller left index (bpe_model.cc's comparator) */
static inline bool outranks(const pair *a, const pair *b) { return a->key < b->key; }

static int heap_push(heap *h, pair p) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 252;
        pair *nb = aligned_alloc(64, ((cap + 3) * sizeof *nb + 63) / 64 * 64);
        if (!nb) return TOK_ENOMEM;
        if (h->n) memcpy(nb + 3, h->v, h->n * sizeof *nb);
        free(h->base);
        h->base = nb;
        h->v = nb + 3;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!outranks(&p, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = p;
    return 0;
}

static pair heap_pop(heap *h) {
    pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t best = c, e = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < e; k++)
            if (outranks(&h->v[k], &h->v[best])) best = k;
        if (!outranks(&h->v[best], &last)) break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (n) h->v[i] = last;
    return top;
}

/* last proposed split of an UNUSED piece: id -> length of the left half */
typedef struct revmap {
    int32_t *id;
    uint32_t *left_len;
    size_t n, cap;
} revmap;

static int rev_set(revmap *r, int32_t id, uint32_t left_len) {
    for (size_t i = 0; i < r->n; i++)
        if (r->id[i] == id) return r->left_len[i] = left_len, 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        int32_t *a = realloc(r->id, cap * sizeof *a);
        if (!a) return TOK_ENOMEM;
        r->id = a;
        uint32_t *b = realloc(r->left_len, cap * sizeof *b);
        if (!b) return TOK_ENOMEM;
        r->left_len = b;
        r->cap = cap;
    }
    r->id[r->n] = id;
    r->left_len[r->n++] = left_len;
    return 0;
}

typedef struct ctx {
    const spm_model *m;
    const char *s;
    sym *syms;
    heap h;
    revmap rev;
} ctx;

static int maybe_add_pair(ctx *c, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || c->syms[l].freeze || c->syms[r].freeze) return 0;
    uint32_t size = c->syms[l].len + c->syms[r].len;
    if (size > c->m->max_normal_len) return 0;
    uint32_t score_key;
    int32_t id = spm_merge_find(c->m, c->s + c->syms[l].off, size, &score_key);
    if (id < 0) return 0;
    if (heap_push(&c->h, (pair){(uint64_t)score_key << 32 | (uint32_t)l, id, size})) return TOK_ENOMEM;
    if (c->m->has_unused && c->m->pieces[id].type == SPM_UNUSED) return rev_set(&c->rev, id, c->syms[l].len);
    return 0;
}

/* PieceToId of a final symbol: a merged piece's canonical id, else a lookup. */
static int32_t final_id(const spm_model *m, const char *s, const sym *y) {
    if (y->id >= 0) return m->canon[y->id];
    if (y->len == 1 && (unsigned char)s[y->off] < 0x80) return m->ascii_id[(unsigned char)s[y->off]];
    return spm_piece_to_id(m, s + y->off, y->len);
}

static int resegment(ctx *c, uint32_t off, uint32_t len, spm_segs *out, int depth) {
    int32_t id = spm_piece_to_id(c->m, c->s + off, len);
    if (id >= 0 && c->m->pieces[id].type == SPM_UNUSED && depth < 64) {
        for (size_t i = 0; i < c->rev.n; i++) {
            if (c->rev.id[i] != id) continue;
            uint32_t ll = c->rev.left_len[i];
            if (resegment(c, off, ll, out, depth + 1)) return TOK_ENOMEM;
            return resegment(c, off + ll, len - ll, out, depth + 1);
        }
    }
    return spm_segs_push(out, off, len, id);
}

/* Chunk cache: a chunk's segmentation depends on its bytes only, and text
 * repeats its words, so a long input remembers each short chunk's result as
 * a run of `out` (direct-mapped: a collision just overwrites). Short inputs
 * skip it: clearing the table would cost more than it saves. */
#define CACHE_SLOTS 4096
#define CACHE_MIN_INPUT 2048
#define CACHE_MAX_CHUNK 128

typedef struct cache_ent {
    uint64_t h;
    uint32_t off, len; /* the chunk's bytes in the input */
    uint32_t seg, nseg; /* its run in out->v */
} cache_ent;

/* Length of the user-defined piece starting at s (longest), 0 if none. */
static size_t user_defined_prefix(const spm_model *m, const unsigned char *s, size_t len) {
    size_t best = 0;
    uint32_t node = 0;
    for (size_t i = 0; i < len && i < m->max_normal_len; i++) {
        node = spm_trie_step(&m->trie, node, s[i]);
        if (!node) break;
        int32_t id = m->trie.value[node];
        if (id >= 0 && m->pieces[id].type == SPM_USER_DEFINED) best = i + 1;
    }
    return best;
}

int spm_bpe_segment(const spm_model *m, const char *s, size_t len, spm_segs *out) {
    if (len == 0) return 0;
    if (len > INT32_MAX) return TOK_ENOMEM;
    ctx c = {m, s, malloc(len * sizeof(sym)), {0}, {0}};
    int rc = TOK_ENOMEM;
    if (!c.syms) return TOK_ENOMEM;
    /* UNUSED pieces make a result depend on earlier chunks (the rev map) */
    cache_ent *cache = len >= CACHE_MIN_INPUT && !m->has_unused ? calloc(CACHE_SLOTS, sizeof *cache) : NULL;
    const unsigned char *u = (const unsigned char *)s;
    int32_t n = 0;
    for (size_t pos = 0; pos < len;) {
        size_t ml = m->has_user_defined ? user_defined_prefix(m, u + pos, len - pos) : 0;
        bool freeze = ml > 0;
        if (!ml) {
            ml = spm_one_char_len(u[pos]);
            if (ml > len - pos) ml = len - pos;
        }
        c.syms[n] = (sym){(uint32_t)pos, (uint32_t)ml, n - 1, pos + ml < len ? n + 1 : -1, -1, freeze};
        n++;
        pos += ml;
    }
    /* Independent chunks: cut where no merge can ever cross (a frozen symbol,
     * or two characters that are adjacent in no piece), then run the merge
     * loop on one chunk at a time. Merges in different chunks never interact
     * and keep their relative order inside a chunk, so the result is the
     * same as one global run. */
    for (int32_t a = 0; a < n;) {
        int32_t b = a + 1;
        while (b < n) {
            const sym *x = &c.syms[b - 1], *y = &c.syms[b];
            if (x->freeze || y->freeze) break;
            if (m->bigram_ok && !spm_bigram_in_vocab(m, s + x->off, x->len, s + y->off, y->len)) break;
            b++;
        }
        uint32_t lo = c.syms[a].off, clen = c.syms[b - 1].off + c.syms[b - 1].len - lo;
        cache_ent *ce = NULL;
        if (cache && b - a >= 2 && clen <= CACHE_MAX_CHUNK) {
            uint64_t h = spm_hash(s + lo, clen);
            ce = &cache[h & (CACHE_SLOTS - 1)];
            if (ce->h == h && ce->len == clen && memcmp(s + ce->off, s + lo, clen) == 0) {
                for (uint32_t k = 0; k < ce->nseg; k++) {
                    spm_seg g = out->v[ce->seg + k];
                    if (spm_segs_push(out, g.off - ce->off + lo, g.len, g.id)) goto done;
                }
                a = b;
                continue;
            }
            *ce = (cache_ent){h, lo, clen, (uint32_t)out->n, 0};
        }
        c.syms[a].prev = -1;
        c.syms[b - 1].next = -1;
        for (int32_t i = a + 1; i < b; i++)
            if (maybe_add_pair(&c, i - 1, i)) goto done;
        while (c.h.n) {
            pair top = heap_pop(&c.h);
            int32_t left = (int32_t)(uint32_t)top.key;
            sym *l = &c.syms[left];
            if (l->len == 0 || l->next < 0) continue; /* stale */
            sym *r = &c.syms[l->next];
            if (l->len + r->len != top.size) continue; /* stale */
            l->len += r->len;
            l->id = top.id;
            l->next = r->next;
            if (r->next >= 0) c.syms[r->next].prev = left;
            r->len = 0;
            if (maybe_add_pair(&c, l->prev, left) || maybe_add_pair(&c, left, l->next)) goto done;
        }
        for (int32_t i = a; i != -1; i = c.syms[i].next) {
            if (m->has_unused) {
                if (resegment(&c, c.syms[i].off, c.syms[i].len, out, 0)) goto done;
            } else if (spm_segs_push(out, c.syms[i].off, c.syms[i].len, final_id(m, s, &c.syms[i]))) {
                goto done;
            }
        }
        if (ce) ce->nseg = (uint32_t)(out->n - ce->seg);
        a = b;
    }
    rc = 0;
done:
    free(cache);
    free(c.syms);
    free(c.h.base);
    free(c.rev.id);
    free(c.rev.left_len);
    return rc;
}
