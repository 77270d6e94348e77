/*
 * Byte-pair merging of one pre-tokenized piece.
 *
 * Pieces are short (a word, a number, a run of spaces), so the common path
 * keeps the symbols in an array and scans it for the lowest-rank adjacent
 * pair, as tiktoken does: O(n^2) in the piece length, but n is ~5 and the
 * scan is a few cache lines. Long pieces (a 100,000-character run of one
 * letter, an unbroken CJK or Thai line) would make that quadratic, so from
 * bpe_heap_threshold bytes on the symbols live in a linked list and the
 * candidate pairs in a binary heap ordered by (rank, position), with stale
 * entries skipped when popped: O(n log n). Both orders are "lowest rank,
 * then leftmost", which is the reference's rule, so they give the same ids.
 */
#include <stdlib.h>

#include "internal.h"
#include "vocab.h"

size_t bpe_heap_threshold = 256;

void bpe_scratch_free(bpe_scratch *s) {
    free(s->ids);
    free(s->ranks);
    free(s->pos);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

static int scratch_reserve(bpe_scratch *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *ids = realloc(s->ids, cap * sizeof *ids);
    if (ids) s->ids = ids;
    uint32_t *ranks = realloc(s->ranks, cap * sizeof *ranks);
    if (ranks) s->ranks = ranks;
    size_t *pos = realloc(s->pos, cap * sizeof *pos);
    if (pos) s->pos = pos;
    if (!ids || !ranks || !pos) return TOK_ENOMEM;
    s->cap = cap;
    return 0;
}

static inline uint32_t pair_rank(const vocab *v, int32_t a, int32_t b) {
    const pair_slot *p = vocab_pair(v, a, b);
    return p ? p->rank : UINT32_MAX;
}

static int merge_small(const vocab *v, int32_t *ids, uint32_t *ranks, size_t n, tok_ids *out) {
    for (size_t i = 0; i + 1 < n; i++) ranks[i] = pair_rank(v, ids[i], ids[i + 1]);
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (ranks[i] < best) best = ranks[i], bi = i;
        if (best == UINT32_MAX) break;
        ids[bi] = vocab_pair(v, ids[bi], ids[bi + 1])->id;
        memmove(ids + bi + 1, ids + bi + 2, (n - bi - 2) * sizeof *ids);
        memmove(ranks + bi + 1, ranks + bi + 2, (n - bi - 2) * sizeof *ranks);
        n--;
        if (bi > 0) ranks[bi - 1] = pair_rank(v, ids[bi - 1], ids[bi]);
        if (bi + 1 < n) ranks[bi] = pair_rank(v, ids[bi], ids[bi + 1]);
    }
    if (tok_ids_reserve(out, n)) return TOK_ENOMEM;
    memcpy(out->ids + out->n, ids, n * sizeof *ids);
    out->n += n;
    return 0;
}

/* ---- heap path for long pieces ---------------------------------------- */

typedef struct heap_item {
    uint32_t rank;
    uint32_t pos;   /* index of the left symbol (its original position) */
    int32_t left, right;
} heap_item;

static inline int item_less(const heap_item *a, const heap_item *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&it, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && item_less(&h[c + 1], &h[c])) c++;
        if (!item_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int merge_heap(const vocab *v, bpe_scratch *s, int32_t *ids, size_t n, tok_ids *out) {
    /* linked list over indices: prev/next in s->pos (packed), ids[i] < 0 = dead */
    size_t *next = s->pos;
    uint32_t *prev = s->ranks;
    /* every merge pushes at most two items: n initial + 2n */
    size_t need = 3 * n + 1;
    if (s->heap_cap < need) {
        heap_item *h = realloc(s->heap, need * sizeof *h);
        if (!h) return TOK_ENOMEM;
        s->heap = h;
        s->heap_cap = need;
    }
    heap_item *h = s->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1;
        prev[i] = (uint32_t)(i - 1); /* wraps for i = 0; never read then */
    }
    for (size_t i = 0; i + 1 < n; i++) {
        const pair_slot *p = vocab_pair(v, ids[i], ids[i + 1]);
        if (p) heap_push(h, &hn, (heap_item){p->rank, (uint32_t)i, ids[i], ids[i + 1]});
    }
    while (hn) {
        heap_item it = heap_pop(h, &hn);
        size_t i = it.pos, j = next[i];
        if (ids[i] != it.left || j >= n || ids[j] != it.right) continue; /* stale */
        ids[i] = vocab_pair(v, it.left, it.right)->id;
        ids[j] = -1;
        next[i] = next[j];
        if (next[i] < n) prev[next[i]] = (uint32_t)i;
        if (i > 0) {
            size_t pi = prev[i];
            const pair_slot *p = vocab_pair(v, ids[pi], ids[i]);
            if (p) heap_push(h, &hn, (heap_item){p->rank, (uint32_t)pi, ids[pi], ids[i]});
        }
        if (next[i] < n) {
            size_t ni = next[i];
            const pair_slot *p = vocab_pair(v, ids[i], ids[ni]);
            if (p) heap_push(h, &hn, (heap_item){p->rank, (uint32_t)i, ids[i], ids[ni]});
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < n; i = next[i]) live++;
    if (tok_ids_reserve(out, live)) return TOK_ENOMEM;
    for (size_t i = 0; i < n; i = next[i]) out->ids[out->n++] = ids[i];
    return 0;
}

int bpe_encode_piece(const vocab *v, const unsigned char *p, size_t n, int whole_lookup,
                     bpe_scratch *s, tok_ids *out, tok_error *err) {
    if (n == 0) return 0;
    if (n == 1 || whole_lookup) {
        int32_t id = n == 1 ? v->byte_id[p[0]] : vocab_find(v, p, n);
        if (id >= 0) {
            if (tok_ids_push(out, id)) return tok_fail(err, TOK_ENOMEM, "out of memory");
            return 0;
        }
    }
    if (scratch_reserve(s, n)) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int32_t id = v->byte_id[p[i]];
        if (id < 0) return tok_fail(err, TOK_EFORMAT, "byte 0x%02X has no token in this vocabulary", p[i]);
        s->ids[i] = id;
    }
    int rc = n < bpe_heap_threshold ? merge_small(v, s->ids, s->ranks, n, out) : merge_heap(v, s, s->ids, n, out);
    if (rc) return tok_fail(err, TOK_ENOMEM, "out of memory");
    return 0;
}
