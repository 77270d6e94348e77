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
#include <stdint.h>
#include <string.h>

#include "tok.h"

#define VOCAB_NONE UINT32_MAX

typedef struct vocab_slot {
    uint32_t hash;
    int32_t id; /* -1: empty */
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
    pair_slot *pairs;  /* (left, right) -> (rank, merged) */
    uint32_t pmask, pcount;
    int32_t byte_id[256]; /* the token of each single byte, or -1 */
} vocab;

int vocab_init(vocab *v, uint32_t n_hint, tok_error *err);
void vocab_free(vocab *v);
/* Sets id's bytes. If `index` is set and the bytes are not in the hash yet,
 * they are added; duplicates of indexed bytes fail with TOK_EFORMAT. */
int vocab_set(vocab *v, int32_t id, const void *bytes, size_t len, int index, tok_error *err);
int vocab_add_pair(vocab *v, int32_t left, int32_t right, uint32_t rank, int32_t merged, tok_error *err);
/* For tiktoken: the merge table from every split of every token. */
int vocab_pairs_from_splits(vocab *v, tok_error *err);
void vocab_fill_byte_ids(vocab *v);

static inline uint32_t vocab_hash(const unsigned char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
        h ^= h >> 32;
    }
    h *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

static inline int32_t vocab_find(const vocab *v, const void *bytes, size_t n) {
    uint32_t h = vocab_hash((const unsigned char *)bytes, n);
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const vocab_slot *s = &v->slots[i];
        if (s->id < 0) return -1;
        if (s->hash == h && v->len[s->id] == n && !memcmp(v->blob + v->off[s->id], bytes, n)) return s->id;
    }
}

static inline const pair_slot *vocab_pair(const vocab *v, int32_t left, int32_t right) {
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
} bpe_scratch;

void bpe_scratch_free(bpe_scratch *s);

/* Byte-pair encodes one piece: initial symbols are the piece's bytes
 * (byte_id), merged by the lowest rank first, leftmost on ties. With
 * whole_lookup, a piece that is itself a token is emitted at once (tiktoken;
 * Hugging Face's ignore_merges). */
int bpe_encode_piece(const vocab *v, const unsigned char *p, size_t n, int whole_lookup,
                     bpe_scratch *s, tok_ids *out, tok_error *err);
/* Tests: pieces of at least this many bytes take the heap path. */
extern size_t bpe_heap_threshold;
#endif
