/*
 * Byte-pair merging of one pre-tokenized piece.
 *
 * The initial symbols are the piece's bytes; the adjacent pair with the
 * lowest merge rank is merged first, the leftmost on ties. A pair's rank
 * comes from the merge table (Hugging Face) or, for tiktoken, from the rank
 * of the merged bytes themselves (vocab->merge_by_bytes), which needs no
 * table at all.
 *
 * Short pieces (a word, a number) keep the symbols in an array and scan it
 * for the lowest rank, as tiktoken does: O(n^2) in the piece length, cheap
 * for a handful of bytes. From bpe_heap_threshold bytes on (16: measured by
 * instruction counts on English and multilingual text; Cyrillic and CJK
 * pieces are long) the symbols live in a linked list and the candidate pairs
 * in a binary heap ordered by (rank, position), stale entries skipped when
 * popped: O(n log n). Both orders are "lowest rank, then leftmost", the
 * reference's rule, so they give the same ids.
 *
 * tiktoken vocabularies have a third way for long pieces: the backtracking
 * encoder of bpe_backtrack.c (linear, no merging; a 1 MB run of one letter
 * takes milliseconds where the heap takes hundreds). On ordinary text it is
 * no faster than the two paths above (timed on the bench texts from 2 and
 * from 16 bytes on: even), and its tables cost about as much as loading the
 * vocabulary (0.1-0.3 s), so they are built on demand, ski-rental style:
 * pieces of bpe_bt_min (64) bytes and more merge until an encoder has merged
 * bpe_bt_rent (256 KB) of them, about what the build costs; then the tables
 * are built once for the vocabulary, and from then on every such piece
 * backtracks. A single piece that long builds them at once.
 */
#include <stdlib.h>

#include "internal.h"
#include "vocab.h"

size_t bpe_heap_threshold = 16;
int bpe_use_backtrack = 1;
size_t bpe_bt_min = 64, bpe_bt_rent = 256 * 1024;

/* Array path: part i is a[i] (its id, first byte, and the rank and result
 * of merging it with part i+1); see merge_small. */
typedef struct bpe_sym {
    uint32_t rank;
    int32_t id, merged;
    uint32_t pos;
} bpe_sym;

void bpe_scratch_free(bpe_scratch *s) {
    free(s->ids);
    free(s->ranks);
    free(s->pos);
    free(s->heap);
    free(s->bits);
    free(s->syms);
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
    void *syms = realloc(s->syms, cap * sizeof(bpe_sym));
    if (syms) s->syms = syms;
    if (!ids || !ranks || !pos || !syms) return TOK_ENOMEM;
    s->cap = cap;
    return 0;
}

/* Rank and result of merging the part [start, mid) (id left) with
 * [mid, end) (id right); UINT32_MAX if they do not merge. A part ending in
 * a non-ASCII byte skips the hot table (it is rarely among the lowest ids,
 * and the probe was a cache miss: 23% of the L2 misses on o200k
 * multilingual text). */
static inline uint32_t pair_rank(const vocab *v, const unsigned char *p, size_t start, size_t end, int32_t left,
                                 int32_t right, int32_t *merged) {
    if (v->merge_by_bytes) {
        int32_t id = end - start == 2 ? v->id2[p[start] | p[start + 1] << 8] : vocab_find_in(v, p + start, end - start, p[end - 1] < 0x80);
        *merged = id;
        return id < 0 ? UINT32_MAX : (uint32_t)id;
    }
    const pair_slot *s = vocab_pair(v, left, right);
    if (!s) return UINT32_MAX;
    *merged = s->id;
    return s->rank;
}

/* Array path, a[m].pos = n. One array of structs, so a merge moves the
 * tail with one short memmove rather than four. */
static int merge_small(const vocab *v, const unsigned char *p, size_t n, bpe_scratch *s, tok_ids *out) {
    bpe_sym *a = s->syms;
    size_t m = n;
    for (size_t i = 0; i < n; i++) a[i].id = s->ids[i], a[i].pos = (uint32_t)i;
    a[n].pos = (uint32_t)n;
    for (size_t i = 0; i + 1 < m; i++) a[i].rank = pair_rank(v, p, a[i].pos, a[i + 2].pos, a[i].id, a[i + 1].id, &a[i].merged);
    while (m > 1) {
        uint32_t best = UINT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (a[i].rank < best) best = a[i].rank, bi = i;
        if (best == UINT32_MAX) break;
        a[bi].id = a[bi].merged;
        memmove(a + bi + 1, a + bi + 2, (m - bi - 1) * sizeof *a); /* with a[m], the end */
        m--;
        if (bi > 0) a[bi - 1].rank = pair_rank(v, p, a[bi - 1].pos, a[bi + 1].pos, a[bi - 1].id, a[bi].id, &a[bi - 1].merged);
        if (bi + 1 < m) a[bi].rank = pair_rank(v, p, a[bi].pos, a[bi + 2].pos, a[bi].id, a[bi + 1].id, &a[bi].merged);
    }
    if (out->cap - out->n < m && tok_ids_reserve(out, m)) return TOK_ENOMEM;
    for (size_t i = 0; i < m; i++) out->ids[out->n + i] = a[i].id;
    out->n += m;
    return 0;
}

/* ---- heap path for long pieces ---------------------------------------- */

/* 16 bytes, so a node's four children share one cache line; ordered by
 * key = rank << 32 | position. For tiktoken the rank is the merged id;
 * otherwise the merged id is looked up again when an item is used, which
 * is cheaper than carrying it through the heap. */
typedef struct heap_item {
    uint64_t key;
    int32_t left, right;
} heap_item;

static void heap_push(heap_item *h, size_t *n, heap_item it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t q = (i - 1) / 4;
        if (it.key >= h[q].key) break;
        h[i] = h[q];
        i = q;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= *n) break;
        size_t best = c, end = c + 4 < *n ? c + 4 : *n;
        for (size_t k = c + 1; k < end; k++)
            if (h[k].key < h[best].key) best = k;
        if (h[best].key >= last.key) break;
        h[i] = h[best];
        i = best;
    }
    if (*n) h[i] = last;
    return top;
}

#define ITEM(rank, pos, l, r) ((heap_item){(uint64_t)(rank) << 32 | (uint32_t)(pos), (l), (r)})

/* Symbols are a linked list over byte indices (next in s->pos, previous in
 * s->ranks); ids[i] of a merged-away symbol is never read again. */
static int merge_heap(const vocab *v, const unsigned char *p, size_t n, bpe_scratch *s, tok_ids *out) {
    int32_t *ids = s->ids;
    size_t *next = s->pos;
    uint32_t *prev = s->ranks;
    size_t need = 3 * n + 1; /* n initial pairs, two per merge */
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
#define END_OF(j) (next[j] < n ? next[next[j]] > n ? n : next[next[j]] : n)
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t mg;
        uint32_t r = pair_rank(v, p, i, i + 2, ids[i], ids[i + 1], &mg);
        if (r != UINT32_MAX) heap_push(h, &hn, ITEM(r, i, ids[i], ids[i + 1]));
    }
    while (hn) {
        heap_item it = heap_pop(h, &hn);
        size_t i = (uint32_t)it.key, j = next[i];
        if (j >= n || ids[i] != it.left || ids[j] != it.right) continue; /* stale */
        if (i > 0 && next[prev[i]] != i) continue;                      /* i was merged away */
        int32_t merged = -1;
        if (v->merge_by_bytes) merged = (int32_t)(it.key >> 32); /* the rank is the merged token's id */
        else pair_rank(v, p, i, next[j] < n ? next[j] : n, it.left, it.right, &merged);
        ids[i] = merged;
        next[i] = next[j];
        if (next[i] < n) prev[next[i]] = (uint32_t)i;
        if (i > 0) {
            size_t pi = prev[i];
            int32_t mg;
            uint32_t r = pair_rank(v, p, pi, next[i] < n ? next[i] : n, ids[pi], ids[i], &mg);
            if (r != UINT32_MAX) heap_push(h, &hn, ITEM(r, pi, ids[pi], ids[i]));
        }
        if (next[i] < n) {
            size_t ni = next[i];
            int32_t mg;
            uint32_t r = pair_rank(v, p, i, next[ni] < n ? next[ni] : n, ids[i], ids[ni], &mg);
            if (r != UINT32_MAX) heap_push(h, &hn, ITEM(r, i, ids[i], ids[ni]));
        }
    }
#undef END_OF
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
    const bpe_bt *bt = NULL;
    if (v->merge_by_bytes && bpe_use_backtrack && n >= bpe_bt_min && !(bt = vocab_backtrack_built(v))) {
        s->long_bytes += n; /* see the header comment */
        if (s->long_bytes >= bpe_bt_rent) bt = vocab_backtrack(v);
    }
    if (bt) {
        size_t before = out->n;
        int rc = bpe_bt_encode(bt, p, n, s, out);
        if (rc == TOK_ENOMEM) return tok_fail(err, TOK_ENOMEM, "out of memory");
        if (rc == 0) return 0;
        out->n = before; /* gave up: merge instead */
    }
    if (scratch_reserve(s, n + 1)) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int32_t id = v->byte_id[p[i]];
        if (id < 0) return tok_fail(err, TOK_EFORMAT, "byte 0x%02X has no token in this vocabulary", p[i]);
        s->ids[i] = id;
    }
    int rc = n < bpe_heap_threshold ? merge_small(v, p, n, s, out) : merge_heap(v, p, n, s, out);
    if (rc) return tok_fail(err, TOK_ENOMEM, "out of memory");
    return 0;
}
