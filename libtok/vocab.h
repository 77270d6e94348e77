/*
 * The vocabulary of a BPE tokenizer, as bytes:
 *  - id -> bytes: offsets into one blob (O(1), used by decode);
 *  - bytes -> id: open-addressing hash with the 32-bit hash kept in the slot,
 *    so a miss rarely touches the blob (O(1) expected);
 *  - (left id, right id) -> (merge rank, merged id): the merge table BPE runs
 *    on, from a merges list or, for tiktoken, from every way a token splits
 *    into two tokens (the rank of a merge is the rank of the merged bytes).
 * Built once at load time, immutable afterwards.
 */
#ifndef TOK_VOCAB_H
#define TOK_VOCAB_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tok.h"

#define VOCAB_NONE UINT32_MAX

/* A hash slot keeps the token's first 8 bytes and its length, so a lookup
 * of a token of up to 8 bytes (most pieces) touches only the slot. */
typedef struct vocab_slot {
    uint64_t head;     /* first 8 bytes, zero-padded */
    uint32_t hash_len; /* hash << 8 | min(length, 255) */
    int32_t id;        /* -1: empty */
} vocab_slot;

typedef struct pair_slot {
    uint64_t key; /* UINT64_MAX: empty */
    uint32_t rank;
    int32_t id;
} pair_slot;

typedef struct vocab {
    uint32_t n;        /* one past the largest id */
    uint32_t id_cap;
    uint32_t *off;     /* id -> blob offset, VOCAB_NONE if the id is unused */
    uint32_t *len;     /* id -> byte length */
    char *blob;
    size_t blob_len, blob_cap;
    vocab_slot *slots; /* bytes -> id */
    uint32_t mask, count;
    /* The lowest ids again in a small table that stays in L2: BPE ids follow
     * merge order, so they are the frequent tokens. Probed first. */
    vocab_slot *hot;
    uint32_t hot_mask;
    /* One bit per value of the hash's low 20 bits: most lookups made while
     * merging are for strings that are not tokens, and this 128 KB filter
     * answers most of them (83% for o200k, 91% for cl100k: the share of
     * unset bits) without touching the big table. Half the size of the
     * 256 KB it was: it stays in L2 with the hot table, which saved more
     * misses than its false positives cost (simulated L2 misses on the
     * bench texts, o200k: -12% multilingual, -10% code and English). */
    uint64_t *filter;
    pair_slot *pairs;  /* (left, right) -> (rank, merged); NULL until the first pair */
    uint32_t pmask, pcount;
    int32_t byte_id[256]; /* the token of each single byte, or -1 */
    /* tiktoken: a merge's rank is the rank (= id) of the merged bytes, looked
     * up directly; no pair table is built */
    int merge_by_bytes;
    int32_t *id2; /* the token of each 2-byte string, or -1 (with merge_by_bytes) */
    /* Bit (a << 8 | b): some token holds bytes a, b side by side. Where a
     * text's neighbouring bytes are not such a pair, no merge crosses. */
    uint64_t *adjacent;
    /* The backtracking encoder's tables (bpe_backtrack.c), tiktoken only.
     * Built on first use (vocab_backtrack), not at load: they cost as much
     * as the load itself and only long texts and long pieces use them. The
     * build is serialized by bt_lock and published once; the vocabulary
     * stays logically immutable. */
    struct bpe_bt *bt;
    int bt_tried;
    pthread_mutex_t bt_lock;
} vocab;

int vocab_init(vocab *v, uint32_t n_hint, tok_error *err);
void vocab_free(vocab *v);
/* Room for ids below n_ids and blob_bytes of token bytes (a hint: the
 * arrays still grow past it). */
int vocab_reserve(vocab *v, uint32_t n_ids, size_t blob_bytes, tok_error *err);
/* Sets id's bytes. If `index` is set and the bytes are not in the hash yet,
 * they are added; duplicates of indexed bytes fail with TOK_EFORMAT. */
int vocab_set(vocab *v, int32_t id, const void *bytes, size_t len, int index, tok_error *err);
int vocab_add_pair(vocab *v, int32_t left, int32_t right, uint32_t rank, int32_t merged, tok_error *err);
/* For tiktoken: the merge table from every split of every token. */
int vocab_pairs_from_splits(vocab *v, tok_error *err);
void vocab_fill_byte_ids(vocab *v);
/* Fills adjacent (call after the last vocab_set). */
int vocab_build_adjacent(vocab *v, tok_error *err);
/* Fills id2 (call after the last vocab_set). */
int vocab_build_id2(vocab *v, tok_error *err);
/* Builds the hot table of the ids below `limit` (call after the last vocab_set). */
int vocab_build_hot(vocab *v, uint32_t limit, tok_error *err);

/* The first min(n, 8) bytes of p as a zero-padded word. Reads a whole word
 * when that cannot cross a page (the extra bytes are masked off), which keeps
 * the hot lookup free of variable-length copies. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
__attribute__((no_sanitize_address)) static inline uint64_t vocab_head(const void *bytes, size_t n) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t w = 0;
    if (n >= 8) {
        memcpy(&w, p, 8);
        return w;
    }
    if (n == 0) return 0;
    if (((uintptr_t)p & 4095) <= 4088) {
        __builtin_memcpy(&w, p, 8);
        return w & ((1ull << (8 * n)) - 1);
    }
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    return w;
}
#pragma GCC diagnostic pop

static inline uint32_t vocab_hash_from(uint64_t head, const unsigned char *p, size_t n) {
    uint64_t h = (head ^ (n * 0xff51afd7ed558ccdull)) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    for (size_t i = 8; i < n; i += 8) {
        uint64_t w = vocab_head(p + i, n - i);
        h = (h ^ w) * 0x94d049bb133111ebull;
        h ^= h >> 32;
    }
    h *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

static inline uint32_t vocab_hash(const unsigned char *p, size_t n) { return vocab_hash_from(vocab_head(p, n), p, n); }

static inline uint32_t vocab_hash_len(uint32_t h, size_t n) { return h << 8 | (uint32_t)(n < 255 ? n : 255); }

/* With use_hot false, the hot table is skipped: for strings unlikely to be
 * among the lowest ids (non-ASCII pieces), whose probe would be one more
 * cache miss for nothing. */
static inline int32_t vocab_find_in(const vocab *v, const void *bytes, size_t n, int use_hot) {
    uint64_t head = vocab_head(bytes, n);
    uint32_t h = vocab_hash_from(head, (const unsigned char *)bytes, n);
    uint32_t hl = vocab_hash_len(h, n);
    if (v->filter && !(v->filter[(h >> 6) & 0x3FFF] >> (h & 63) & 1)) return -1;
    if (v->hot && use_hot)
        for (uint32_t i = h & v->hot_mask;; i = (i + 1) & v->hot_mask) {
            const vocab_slot *s = &v->hot[i];
            if (s->id < 0) break;
            if (s->hash_len == hl && s->head == head &&
                (n <= 8 || (v->len[s->id] == n && !memcmp(v->blob + v->off[s->id] + 8, (const char *)bytes + 8, n - 8))))
                return s->id;
        }
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const vocab_slot *s = &v->slots[i];
        if (s->id < 0) return -1;
        if (s->hash_len == hl && s->head == head &&
            (n <= 8 || (v->len[s->id] == n && !memcmp(v->blob + v->off[s->id] + 8, (const char *)bytes + 8, n - 8))))
            return s->id;
    }
}

static inline int32_t vocab_find(const vocab *v, const void *bytes, size_t n) { return vocab_find_in(v, bytes, n, 1); }

static inline const pair_slot *vocab_pair(const vocab *v, int32_t left, int32_t right) {
    if (!v->pairs) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 40) & v->pmask;; i = (i + 1) & v->pmask) {
        const pair_slot *s = &v->pairs[i];
        if (s->key == key) return s;
        if (s->key == UINT64_MAX) return NULL;
    }
}

/* ---- BPE ------------------------------------------------------------- */

typedef struct bpe_scratch {
    int32_t *ids;
    uint32_t *ranks;
    size_t *pos;
    size_t cap;
    void *heap; /* long pieces */
    size_t heap_cap;
    void *syms;     /* the array path's parts (bpe.c) */
    uint64_t *bits; /* bpe_backtrack.c: live positions */
    size_t bits_cap;
    size_t long_bytes; /* bytes of long pieces merged while the backtracking
                        * tables were not built (bpe.c) */
} bpe_scratch;

void bpe_scratch_free(bpe_scratch *s);

/* Byte-pair encodes one piece: initial symbols are the piece's bytes
 * (byte_id), merged by the lowest rank first, leftmost on ties. With
 * whole_lookup, a piece that is itself a token is emitted at once (tiktoken;
 * Hugging Face's ignore_merges). */
int bpe_encode_piece(const vocab *v, const unsigned char *p, size_t n, int whole_lookup,
                     bpe_scratch *s, tok_ids *out, tok_error *err);
/* Tests: pieces of at least this many bytes take the heap path (or the
 * backtracking encoder, where the vocabulary has one). */
extern size_t bpe_heap_threshold;
/* Tests: 0 turns the backtracking encoder off (the heap path instead). */
extern int bpe_use_backtrack;
/* Pieces of at least bpe_bt_min bytes backtrack once the tables exist;
 * an encoder builds them after merging bpe_bt_rent bytes of such pieces. */
extern size_t bpe_bt_min, bpe_bt_rent;

/* bpe_backtrack.c: exact BPE by backtracking over a token trie, for
 * merge_by_bytes vocabularies. Build returns NULL where it does not apply
 * (or out of memory); encode appends the ids of p[0, n) (n >= 1) and
 * returns 0, TOK_ENOMEM, or 1 if it gave up (the caller merges instead). */
typedef struct bpe_bt bpe_bt;
bpe_bt *bpe_bt_build(const vocab *v);
/* The vocabulary's tables, built by the first caller; NULL if none. */
const bpe_bt *vocab_backtrack(const vocab *v);
/* The tables if some caller has built them, else NULL (never builds). */
static inline const bpe_bt *vocab_backtrack_built(const vocab *v) {
    return __atomic_load_n(&v->bt, __ATOMIC_ACQUIRE);
}
void bpe_bt_free(bpe_bt *b);
int bpe_bt_encode(const bpe_bt *b, const unsigned char *p, size_t n, bpe_scratch *s, tok_ids *out);
#endif
