/* Vocabulary tables: see vocab.h for the design and costs. */
#include <stdlib.h>

#include "internal.h"
#include "vocab.h"

int vocab_init(vocab *v, uint32_t n_hint, tok_error *err) {
    memset(v, 0, sizeof *v);
    pthread_mutex_init(&v->bt_lock, NULL);
    uint32_t cap = 1024;
    while (cap < n_hint + n_hint / 3) cap *= 2;
    v->slots = tok_table_alloc(cap * sizeof *v->slots);
    if (!v->slots) {
        vocab_free(v);
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < cap; i++) v->slots[i].id = -1;
    v->mask = cap - 1;
    /* the pair table is made by the first vocab_add_pair, as large */
    for (int i = 0; i < 256; i++) v->byte_id[i] = -1;
    return 0;
}

int vocab_build_hot(vocab *v, uint32_t limit, tok_error *err) {
    free(v->hot);
    v->hot = NULL;
    if (limit > v->n) limit = v->n;
    uint32_t cap = 256;
    while (cap < 2 * limit) cap *= 2; /* load <= 1/2: short probes, also for misses */
    vocab_slot *hot = malloc(cap * sizeof *hot);
    if (!hot) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < cap; i++) hot[i].id = -1;
    for (uint32_t i = 0; i <= v->mask; i++) {
        const vocab_slot *s = &v->slots[i];
        if (s->id < 0 || (uint32_t)s->id >= limit) continue;
        uint32_t j = (s->hash_len >> 8) & (cap - 1);
        while (hot[j].id >= 0) j = (j + 1) & (cap - 1);
        hot[j] = *s;
    }
    v->hot = hot;
    v->hot_mask = cap - 1;
    free(v->filter);
    v->filter = calloc(1u << 14, sizeof *v->filter);
    if (!v->filter) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i <= v->mask; i++)
        if (v->slots[i].id >= 0) {
            uint32_t h = v->slots[i].hash_len >> 8; /* the hash's low 24 bits */
            v->filter[(h >> 6) & 0x3FFF] |= 1ull << (h & 63);
        }
    return 0;
}

int vocab_build_adjacent(vocab *v, tok_error *err) {
    free(v->adjacent);
    v->adjacent = calloc(65536 / 64, sizeof *v->adjacent);
    if (!v->adjacent) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t id = 0; id < v->n; id++) {
        if (v->off[id] == VOCAB_NONE) continue;
        const unsigned char *b = (const unsigned char *)v->blob + v->off[id];
        for (uint32_t i = 1; i < v->len[id]; i++) {
            unsigned pair = (unsigned)b[i - 1] << 8 | b[i];
            v->adjacent[pair >> 6] |= 1ull << (pair & 63);
        }
    }
    return 0;
}

int vocab_build_id2(vocab *v, tok_error *err) {
    free(v->id2);
    v->id2 = malloc(65536 * sizeof *v->id2);
    if (!v->id2) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < 65536; i++) v->id2[i] = -1;
    for (uint32_t id = 0; id < v->n; id++)
        if (v->off[id] != VOCAB_NONE && v->len[id] == 2) {
            const unsigned char *b = (const unsigned char *)v->blob + v->off[id];
            int32_t *slot = &v->id2[b[0] | b[1] << 8];
            if (*slot < 0) *slot = (int32_t)id;
        }
    return 0;
}

const bpe_bt *vocab_backtrack(const vocab *cv) {
    vocab *v = (vocab *)cv; /* a cache filled once under the lock, see vocab.h */
    bpe_bt *b = __atomic_load_n(&v->bt, __ATOMIC_ACQUIRE);
    if (b || __atomic_load_n(&v->bt_tried, __ATOMIC_ACQUIRE)) return b;
    pthread_mutex_lock(&v->bt_lock);
    if (!v->bt_tried) {
        __atomic_store_n(&v->bt, bpe_bt_build(v), __ATOMIC_RELEASE);
        __atomic_store_n(&v->bt_tried, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&v->bt_lock);
    return __atomic_load_n(&v->bt, __ATOMIC_ACQUIRE);
}

void vocab_free(vocab *v) {
    bpe_bt_free(v->bt);
    pthread_mutex_destroy(&v->bt_lock);
    free(v->adjacent);
    free(v->filter);
    free(v->id2);
    free(v->hot);
    free(v->off);
    free(v->len);
    free(v->blob);
    tok_table_free(v->slots, (v->mask + 1) * sizeof *v->slots);
    tok_table_free(v->pairs, (v->pmask + 1) * sizeof *v->pairs);
    memset(v, 0, sizeof *v);
}

static int grow_ids(vocab *v, uint32_t want, tok_error *err) {
    if (want <= v->id_cap) return 0;
    uint32_t cap = v->id_cap < 256 ? 256 : v->id_cap;
    while (cap < want) cap *= 2;
    uint32_t *off = realloc(v->off, cap * sizeof *off);
    if (off) v->off = off;
    uint32_t *len = realloc(v->len, cap * sizeof *len);
    if (len) v->len = len;
    if (!off || !len) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = v->id_cap; i < cap; i++) v->off[i] = VOCAB_NONE, v->len[i] = 0;
    v->id_cap = cap;
    return 0;
}

static int rehash(vocab *v, tok_error *err) {
    uint32_t cap = (v->mask + 1) * 2;
    vocab_slot *ns = tok_table_alloc(cap * sizeof *ns);
    if (!ns) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < cap; i++) ns[i].id = -1;
    for (uint32_t i = 0; i <= v->mask; i++) {
        if (v->slots[i].id < 0) continue;
        uint32_t j = (v->slots[i].hash_len >> 8) & (cap - 1);
        while (ns[j].id >= 0) j = (j + 1) & (cap - 1);
        ns[j] = v->slots[i];
    }
    tok_table_free(v->slots, (v->mask + 1) * sizeof *v->slots);
    v->slots = ns;
    v->mask = cap - 1;
    return 0;
}

/* Room for cap bytes of token bytes in the blob (no-op if it has it). */
static int blob_reserve(vocab *v, size_t cap, tok_error *err) {
    if (cap <= v->blob_cap) return 0;
    char *nb = realloc(v->blob, cap);
    if (!nb) return tok_fail(err, TOK_ENOMEM, "out of memory");
    v->blob = nb;
    v->blob_cap = cap;
    return 0;
}

int vocab_reserve(vocab *v, uint32_t n_ids, size_t blob_bytes, tok_error *err) {
    int rc = grow_ids(v, n_ids, err);
    return rc ? rc : blob_reserve(v, blob_bytes, err);
}

int vocab_set(vocab *v, int32_t id, const void *bytes, size_t len, int index, tok_error *err) {
    if (v->hot) { /* a late addition: the hot table and filter are rebuilt by the caller */
        free(v->hot);
        free(v->filter);
        v->hot = NULL;
        v->filter = NULL;
    }
    if (id < 0 || (uint64_t)id >= (uint64_t)INT32_MAX) return tok_fail(err, TOK_EFORMAT, "id %d out of range", id);
    if (len > UINT32_MAX / 2) return tok_fail(err, TOK_EFORMAT, "token %d is too long", id);
    /* ids arrive mostly in order: grow the arrays geometrically */
    if ((uint32_t)id >= v->n) {
        int rc = grow_ids(v, (uint32_t)id + 1, err);
        if (rc) return rc;
        v->n = (uint32_t)id + 1;
    }
    if (v->off[id] != VOCAB_NONE) return tok_fail(err, TOK_EFORMAT, "id %d is defined twice", id);
    if (v->blob_cap - v->blob_len < len + 1) {
        size_t cap = v->blob_cap ? v->blob_cap : 1 << 16;
        while (cap - v->blob_len < len + 1) cap *= 2;
        int rc = blob_reserve(v, cap, err);
        if (rc) return rc;
    }
    if (v->blob_len > UINT32_MAX - len - 1) return tok_fail(err, TOK_EFORMAT, "vocabulary too large");
    memcpy(v->blob + v->blob_len, bytes, len);
    v->off[id] = (uint32_t)v->blob_len;
    v->len[id] = (uint32_t)len;
    v->blob_len += len;
    v->blob[v->blob_len++] = 0;
    if (!index) return 0;
    int32_t prev = vocab_find(v, bytes, len);
    if (prev >= 0) return tok_fail(err, TOK_EFORMAT, "ids %d and %d have the same bytes", prev, id);
    if ((uint64_t)(v->count + 1) * 2 > (uint64_t)(v->mask + 1)) { /* load <= 1/2 */
        int rc = rehash(v, err);
        if (rc) return rc;
    }
    uint32_t h = vocab_hash(bytes, len), i = h & v->mask;
    while (v->slots[i].id >= 0) i = (i + 1) & v->mask;
    v->slots[i].hash_len = vocab_hash_len(h, len);
    v->slots[i].head = vocab_head(bytes, len);
    v->slots[i].id = id;
    v->count++;
    return 0;
}

static int pair_rehash(vocab *v, tok_error *err) {
    uint32_t cap = v->pairs ? (v->pmask + 1) * 2 : v->mask + 1;
    pair_slot *ns = tok_table_alloc(cap * sizeof *ns);
    if (!ns) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < cap; i++) ns[i].key = UINT64_MAX;
    for (uint32_t i = 0; v->pairs && i <= v->pmask; i++) {
        if (v->pairs[i].key == UINT64_MAX) continue;
        uint64_t h = v->pairs[i].key * 0x9E3779B97F4A7C15ull;
        uint32_t j = (uint32_t)(h >> 40) & (cap - 1);
        while (ns[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        ns[j] = v->pairs[i];
    }
    tok_table_free(v->pairs, (v->pmask + 1) * sizeof *v->pairs);
    v->pairs = ns;
    v->pmask = cap - 1;
    return 0;
}

int vocab_add_pair(vocab *v, int32_t left, int32_t right, uint32_t rank, int32_t merged, tok_error *err) {
    if (!v->pairs || (v->pcount + 1) * 2 > (v->pmask + 1)) {
        int rc = pair_rehash(v, err);
        if (rc) return rc;
    }
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 40) & v->pmask;
    while (v->pairs[i].key != UINT64_MAX) {
        if (v->pairs[i].key == key) return 0; /* first (lowest-rank) definition wins */
        i = (i + 1) & v->pmask;
    }
    v->pairs[i].key = key;
    v->pairs[i].rank = rank;
    v->pairs[i].id = merged;
    v->pcount++;
    return 0;
}

int vocab_pairs_from_splits(vocab *v, tok_error *err) {
    for (uint32_t id = 0; id < v->n; id++) {
        if (v->off[id] == VOCAB_NONE || v->len[id] < 2) continue;
        const char *b = v->blob + v->off[id];
        uint32_t n = v->len[id];
        for (uint32_t k = 1; k < n; k++) {
            int32_t l = vocab_find(v, b, k);
            if (l < 0) continue;
            int32_t r = vocab_find(v, b + k, n - k);
            if (r < 0) continue;
            int rc = vocab_add_pair(v, l, r, id, (int32_t)id, err);
            if (rc) return rc;
        }
    }
    return 0;
}

void vocab_fill_byte_ids(vocab *v) {
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        v->byte_id[b] = vocab_find(v, &c, 1);
    }
}
