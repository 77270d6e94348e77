/*
 * Encoding and decoding with a loaded tokenizer, whatever its format:
 *   text -> (UTF-8 check) -> special/added tokens split out -> normalizer
 *        -> pre-tokenizer pieces -> BPE per piece -> post-processor ids.
 * The handle is read-only here; per-call state (BPE scratch, the piece
 * cache) lives in an encoder owned by the calling thread, so any number of
 * threads may encode with one handle.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hf.h"
#include "spm.h"
#include "tokenizer.h"

tok_encode_params tok_encode_default_params(void) {
    tok_encode_params p = {0};
    p.special = TOK_SPECIAL_DEFAULT;
    p.utf8 = TOK_UTF8_STRICT;
    return p;
}

static uint64_t last_serial;

tok_tokenizer *tokenizer_new(const char *name, const char *format, tok_error *err) {
    tok_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name ? name : ""))) {
        free(t);
        tok_fail(err, TOK_ENOMEM, "out of memory");
        return NULL;
    }
    t->serial = __atomic_add_fetch(&last_serial, 1, __ATOMIC_RELAXED);
    t->format = format;
    t->bos = t->eos = -1;
    return t;
}

static void thread_encoder_drop(const tok_tokenizer *t);

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    thread_encoder_drop(t);
    vocab_free(&t->v);
    pretok_free(&t->pt);
    spm_free(t->spm);
    hf_pipeline_free(t->hf);
    special_index_free(t->sidx);
    for (size_t i = 0; i < t->n_specials; i++) free(t->specials[i].text);
    free(t->specials);
    free(t->prefix);
    free(t->suffix);
    free(t->special_ids);
    free(t->name);
    free(t);
}

int tokenizer_add_special(tok_tokenizer *t, const char *text, size_t len, int32_t id, bool special,
                          tok_error *err) {
    if (!len) return tok_fail(err, TOK_EFORMAT, "special token %d has empty text", id);
    special_tok *ns = realloc(t->specials, (t->n_specials + 1) * sizeof *ns);
    if (!ns) return tok_fail(err, TOK_ENOMEM, "out of memory");
    t->specials = ns;
    special_tok *s = &t->specials[t->n_specials];
    memset(s, 0, sizeof *s);
    s->text = malloc(len + 1);
    if (!s->text) return tok_fail(err, TOK_ENOMEM, "out of memory");
    memcpy(s->text, text, len);
    s->text[len] = 0;
    s->len = len;
    s->id = id;
    s->special = special;
    t->n_specials++;
    return 0;
}

static int by_length_desc(const void *a, const void *b) {
    const special_tok *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int tokenizer_finish(tok_tokenizer *t, tok_error *err) {
    if (t->n_specials) qsort(t->specials, t->n_specials, sizeof *t->specials, by_length_desc);
    memset(t->special_first, 0, sizeof t->special_first);
    for (size_t i = 0; i < t->n_specials; i++) t->special_first[(unsigned char)t->specials[i].text[0]] = 1;
    int irc = special_index_build(t, err);
    if (irc) return irc;
    free(t->special_ids);
    t->special_ids = calloc(t->v.n / 8 + 1, 1);
    if (!t->special_ids) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n_specials; i++) {
        int32_t id = t->specials[i].id;
        if (t->specials[i].special && id >= 0 && (uint32_t)id < t->v.n) t->special_ids[id / 8] |= (uint8_t)(1u << (id % 8));
    }
    vocab_fill_byte_ids(&t->v);
    if (!t->spm) {
        int rc = vocab_build_adjacent(&t->v, err);
        if (rc) return rc;
    }
    if (t->v.merge_by_bytes) {
        int rc = vocab_build_id2(&t->v, err);
        if (rc) return rc;
    }
    /* The 3,072 lowest ids: a 128 KB table that stays in L2 beside the
     * 128 KB filter. 12,288 ids (512 KB, all of L2) missed the cache more
     * often than it saved misses in the big table: simulated L2 misses per
     * 400 KB of English 87k -> 67k (o200k) and 68k -> 61k (cl100k), fewer on
     * code and multilingual text too, for ~1% more instructions. */
    return vocab_build_hot(&t->v, 3072, err);
}

/* ---- special tokens in the text ----------------------------------------- */

static bool in_list(const char *const *list, const char *s) {
    for (; list && *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

/* Whether special token s is matched (turned into its id) under p. */
static bool special_enabled(const tok_tokenizer *t, const special_tok *s, const tok_encode_params *p) {
    if (!s->special) return t->specials_by_default || t->added_always; /* ordinary added tokens */
    switch (p->special) {
    case TOK_SPECIAL_DEFAULT: return t->specials_by_default;
    case TOK_SPECIAL_NONE: return false;
    case TOK_SPECIAL_ALL: return true;
    case TOK_SPECIAL_LIST:
    case TOK_SPECIAL_ERROR: return in_list(p->allowed, s->text);
    }
    return false;
}

static bool is_space_byte(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Finds the leftmost enabled special token in text[from, len); longest at a
 * position wins. Returns its index or -1; *at = its start. */
static long find_special(const tok_tokenizer *t, const tok_encode_params *p, const char *text, size_t len,
                         size_t from, size_t *at, bool enabled_only) {
    for (size_t i = from; i < len; i++) {
        if (!t->special_first[(unsigned char)text[i]]) continue;
        for (long k = special_next_match(t, text, len, i, -1); k >= 0; k = special_next_match(t, text, len, i, k)) {
            const special_tok *s = &t->specials[k];
            if (enabled_only && !special_enabled(t, s, p)) continue;
            if (s->single_word) {
                bool before = i > 0 && !is_space_byte((unsigned char)text[i - 1]);
                bool after = i + s->len < len && !is_space_byte((unsigned char)text[i + s->len]);
                if (before || after) continue;
            }
            *at = i;
            return (long)k;
        }
    }
    return -1;
}

/* ---- the ordinary-text path --------------------------------------------- */

/*
 * Pieces that are not tokens themselves go through the merge loop, which costs
 * microseconds. Words repeat (in multilingual text 64% of such pieces are
 * repeats), so an encoder keeps a direct-mapped cache of them: pieces of up to
 * 24 bytes that merge into up to 9 ids, one 64-byte cache line per entry.
 * The cache grows with the bytes its encoder has seen (one entry per 64
 * bytes, from 1,024 to 131,072 entries, with the long table below: 96 KB to
 * 12 MB in use, the largest after 8 MB of text). Multilingual text needs
 * the room: the dev corpus's 2 MB has 48,000 distinct pieces to merge, and
 * at 32,768 entries a third of them missed on every pass (o200k: 25 -> 37
 * MB/s with the larger table). Its memory is reserved at the largest size
 * on the first miss and grows in place, so a first pass pays no copies
 * and, with huge pages, a few page faults rather than thousands. Stale
 * entries are simply overwritten: a hit requires the whole key to match.
 */
#define PCACHE_MAX_ENTRIES 131072
#define PCACHE_MIN_TEXT 8192
#define PCACHE_KEY 24
#define PCACHE_IDS 9
typedef struct __attribute__((aligned(64))) pcache_entry {
    uint64_t key[PCACHE_KEY / 8]; /* the piece, zero-padded */
    uint8_t len, nids;
    int32_t ids[PCACHE_IDS];
} pcache_entry;
_Static_assert(sizeof(pcache_entry) == 64, "a cache entry is one cache line");

/* Longer pieces (whole words of most non-Latin scripts: 25 to 80 bytes)
 * in a second table of two-line entries, a quarter as many. */
#define PCACHE_LONG_KEY 80
#define PCACHE_LONG_IDS 11
typedef struct __attribute__((aligned(64))) pcache_long {
    uint64_t key[PCACHE_LONG_KEY / 8];
    uint8_t len, nids;
    int32_t ids[PCACHE_LONG_IDS];
} pcache_long;
_Static_assert(sizeof(pcache_long) == 128, "a long entry is two cache lines");

/* Per-thread state that outlives one call (see tok_encoder_new). */
struct tok_encoder {
    const tok_tokenizer *t;
    uint64_t serial;        /* t->serial */
    pcache_entry *cache;    /* 64-byte aligned inside cache_mem */
    pcache_long *lcache;    /* cache_entries / 4 entries after it */
    void *cache_mem;
    uint32_t cache_entries; /* a power of two */
    uint32_t cache_max;
    size_t bytes_seen;      /* sizes the cache */
    bool busy;              /* a thread encoder in use (see thread_encoder) */
    bpe_scratch scratch;
    tok_ids count_buf;
};

typedef struct enc_ctx {
    const tok_tokenizer *t;
    tok_encoder *enc;
    bool cache_ok;    /* worth a cache: a long text, or a reused encoder */
    tok_ids *out;
    size_t count;     /* counting mode: ids are dropped after each piece */
    bool counting;
    tok_error *err;
    bool at_start;    /* the segment being encoded starts the text */
} enc_ctx;

/* Bytes of an encoder's cache region: room for cache_max entries and the
 * long table behind them, 64-byte aligned. */
static size_t cache_bytes(const tok_encoder *e) {
    return e->cache_max * sizeof *e->cache + e->cache_max / 4 * sizeof *e->lcache + 63;
}

/* The region is reserved at its largest size at once (zeroed, untouched
 * pages cost nothing; huge pages where it is large: tok_table_alloc); the
 * tables in use are its first cache_entries and cache_entries / 4 slots. */
static bool cache_alloc(tok_encoder *e) {
    e->cache_mem = tok_table_alloc(cache_bytes(e));
    if (!e->cache_mem) return false;
    e->cache = (pcache_entry *)(((uintptr_t)e->cache_mem + 63) & ~(uintptr_t)63);
    e->lcache = (pcache_long *)(e->cache + e->cache_max);
    return true;
}

static void cache_free(tok_encoder *e) {
    tok_table_free(e->cache_mem, cache_bytes(e));
    e->cache_mem = NULL;
    e->cache = NULL;
    e->lcache = NULL;
}

/* The hash of a zero-padded key of n bytes; its bits 20 and up index the tables. */
static inline uint64_t cache_hash(const uint64_t *key, size_t n) {
    uint64_t h = n;
    for (size_t i = 0; i < (n + 7) / 8; i++) h = (h ^ key[i]) * 0x9E3779B97F4A7C15ull, h ^= h >> 31;
    return h;
}

/* Grows the cache to `entries` (a power of two up to cache_max) in place,
 * keeping what it holds (a text's first pass fills it while it grows). An
 * entry at slot i moves to i + k * old, its index under the wider mask:
 * slots of the widened part were never used, so nothing is overwritten. */
static void cache_grow(tok_encoder *e, uint32_t entries) {
    uint32_t old = e->cache_entries;
    e->cache_entries = entries;
    if (!e->cache) return; /* allocated on the first miss */
    for (uint32_t i = 0; i < old; i++) {
        if (!e->cache[i].len) continue;
        uint32_t j = (uint32_t)(cache_hash(e->cache[i].key, e->cache[i].len) >> 20) & (entries - 1);
        if (j != i) e->cache[j] = e->cache[i], e->cache[i].len = 0;
    }
    for (uint32_t i = 0; i < old / 4; i++) {
        if (!e->lcache[i].len) continue;
        uint32_t j = (uint32_t)(cache_hash(e->lcache[i].key, e->lcache[i].len) >> 20) & (entries / 4 - 1);
        if (j != i) e->lcache[j] = e->lcache[i], e->lcache[i].len = 0;
    }
}

/* A cache entry's fields, whichever table it is in. */
typedef struct cache_slot {
    uint64_t *key;
    uint8_t *len, *nids;
    int32_t *ids;
    size_t key_bytes, max_ids;
} cache_slot;

/* The slot for p[0, n) (1 < n <= PCACHE_LONG_KEY), its zero-padded key in
 * key[]; false if the encoder has no cache. */
static bool cache_find(tok_encoder *enc, const unsigned char *p, size_t n, uint64_t *key, cache_slot *cs) {
    if (!enc->cache && !cache_alloc(enc)) return false;
    size_t kb = n <= PCACHE_KEY ? PCACHE_KEY : PCACHE_LONG_KEY;
    memset(key, 0, kb);
    memcpy(key, p, n);
    uint64_t h = cache_hash(key, n);
    if (n <= PCACHE_KEY) {
        pcache_entry *e = &enc->cache[(h >> 20) & (enc->cache_entries - 1)];
        *cs = (cache_slot){e->key, &e->len, &e->nids, e->ids, PCACHE_KEY, PCACHE_IDS};
    } else {
        pcache_long *e = &enc->lcache[(h >> 20) & (enc->cache_entries / 4 - 1)];
        *cs = (cache_slot){e->key, &e->len, &e->nids, e->ids, PCACHE_LONG_KEY, PCACHE_LONG_IDS};
    }
    return true;
}

/* Merges p[0, n) (no whole-piece lookup), through the encoder's cache. */
static int merge_cached(enc_ctx *c, const unsigned char *p, size_t n) {
    size_t before = c->out->n;
    uint64_t key[PCACHE_LONG_KEY / 8];
    cache_slot e = {0};
    if (c->cache_ok && n <= PCACHE_LONG_KEY && n > 1) {
        if (!cache_find(c->enc, p, n, key, &e)) c->cache_ok = false;
        else if (*e.len == n && !memcmp(e.key, key, e.key_bytes)) {
            if (c->counting) c->count += *e.nids;
            else {
                /* all the entry's id slots, a fixed-size copy the compiler
                 * inlines (a libc call per hit cost more than the copy) */
                if (c->out->cap - c->out->n < PCACHE_LONG_IDS && tok_ids_reserve(c->out, PCACHE_LONG_IDS))
                    return tok_fail(c->err, TOK_ENOMEM, "out of memory");
                if (e.max_ids == PCACHE_IDS) memcpy(c->out->ids + c->out->n, e.ids, PCACHE_IDS * sizeof *e.ids);
                else memcpy(c->out->ids + c->out->n, e.ids, PCACHE_LONG_IDS * sizeof *e.ids);
                c->out->n += *e.nids;
            }
            return 0;
        }
    }
    int rc = bpe_encode_piece(&c->t->v, p, n, 0, &c->enc->scratch, c->out, c->err);
    if (rc) return rc;
    size_t got = c->out->n - before;
    if (e.key && got <= e.max_ids) {
        memcpy(e.key, key, e.key_bytes);
        *e.len = (uint8_t)n;
        *e.nids = (uint8_t)got;
        memcpy(e.ids, c->out->ids + before, got * sizeof *e.ids);
    }
    if (c->counting) {
        c->count += c->out->n - before;
        c->out->n = before;
    }
    return 0;
}

static int emit_piece(void *c_, const char *text, size_t a, size_t b) {
    enc_ctx *c = c_;
    const unsigned char *p = (const unsigned char *)text + a;
    size_t n = b - a;
    const vocab *v = &c->t->v;
    if (n == 1 || c->t->whole_lookup) {
        /* a piece ending in a non-ASCII byte is rarely among the hot ids */
        int32_t id = n == 1 ? v->byte_id[p[0]] : vocab_find_in(v, p, n, p[n - 1] < 0x80);
        if (id >= 0) {
            if (c->counting) c->count++;
            else if (tok_ids_push(c->out, id)) return tok_fail(c->err, TOK_ENOMEM, "out of memory");
            return 0;
        }
    }
    /* No merge can join two bytes that no token holds side by side: cut the
     * piece there and merge the parts alone (exact; long CJK runs fall apart
     * into short, cacheable parts). */
    if (n > 8 && v->adjacent) {
        size_t s = 0;
        for (size_t i = 1; i < n; i++) {
            unsigned pair = (unsigned)p[i - 1] << 8 | p[i];
            if (v->adjacent[pair >> 6] >> (pair & 63) & 1) continue;
            int rc = merge_cached(c, p + s, i - s);
            if (rc) return rc;
            s = i;
        }
        return merge_cached(c, p + s, n - s);
    }
    return merge_cached(c, p, n);
}

static int encode_ordinary(enc_ctx *c, const char *text, size_t len) {
    if (!len) return 0;
    if (c->t->spm) { /* SentencePiece vocabulary (GGUF "llama") */
        size_t before = c->out->n;
        int rc = tokenizer_spm_encode(c->t, text, len, c->out, c->err);
        if (!rc && c->counting) c->count += c->out->n - before, c->out->n = before;
        return rc;
    }
    if (c->t->hf) { /* non-byte-level tokenizer.json (hf.h) */
        size_t before = c->out->n;
        int rc = hf_encode_segment(c->t, text, len, c->at_start, c->out, c->err);
        if (!rc && c->counting) c->count += c->out->n - before, c->out->n = before;
        return rc;
    }
    if (c->t->norm == NORM_NONE) {
        const pretok *pt = &c->t->pt;
        pretok_next_fn next = pretok_single_fast(pt);
        if (next) { /* one hand-written stage: no callbacks between matcher and BPE */
            const unsigned char *u = (const unsigned char *)text;
            for (size_t s = 0; s < len;) {
                size_t e = next(pt->uc, u, len, s);
                int rc = emit_piece(c, text, s, e);
                if (rc) return rc;
                s = e;
            }
            return 0;
        }
        return pretok_run(pt, text, len, emit_piece, c, c->err);
    }
    size_t nlen;
    char *norm = tok_normalize(c->t->norm, c->t->norm_max_age, text, len, &nlen, c->err);
    if (!norm) return c->err ? c->err->code : TOK_ENOMEM;
    int rc = pretok_run(&c->t->pt, norm, nlen, emit_piece, c, c->err);
    free(norm);
    return rc;
}

static int push_id(enc_ctx *c, int32_t id) {
    if (c->counting) {
        c->count++;
        return 0;
    }
    return tok_ids_push(c->out, id) ? tok_fail(c->err, TOK_ENOMEM, "out of memory") : 0;
}

static int encode_text(enc_ctx *c, const char *text, size_t len, const tok_encode_params *p) {
    const tok_tokenizer *t = c->t;
    if (p->special == TOK_SPECIAL_ERROR) {
        size_t at;
        for (size_t from = 0;; from = at + 1) {
            long k = find_special(t, p, text, len, from, &at, false);
            if (k < 0) break;
            const special_tok *s = &t->specials[k];
            if (s->special && !in_list(p->allowed, s->text))
                return tok_fail(c->err, TOK_ESPECIAL,
                                "byte %zu: the text contains the special token '%s' (allow it, or encode it as text)",
                                at, s->text);
        }
    }
    for (size_t i = 0; i < c->t->n_prefix && p->add_special; i++) {
        int rc = push_id(c, t->prefix[i]);
        if (rc) return rc;
    }
    /* no scan when no special token can be matched (tiktoken's default) */
    bool any = false;
    for (size_t i = 0; i < t->n_specials && !any; i++) any = special_enabled(t, &t->specials[i], p);
    size_t pos = 0;
    while (pos <= len) {
        size_t at = len;
        long k = any ? find_special(t, p, text, len, pos, &at, true) : -1;
        size_t end = k < 0 ? len : at, next = k < 0 ? len : at + t->specials[k].len;
        if (k >= 0) {
            if (t->specials[k].lstrip)
                while (end > pos && is_space_byte((unsigned char)text[end - 1])) end--;
            if (t->specials[k].rstrip)
                while (next < len && is_space_byte((unsigned char)text[next])) next++;
        }
        c->at_start = pos == 0;
        int rc = encode_ordinary(c, text + pos, end - pos);
        if (rc) return rc;
        if (k < 0) break;
        rc = push_id(c, t->specials[k].id);
        if (rc) return rc;
        pos = next;
    }
    for (size_t i = 0; i < c->t->n_suffix && p->add_special; i++) {
        int rc = push_id(c, t->suffix[i]);
        if (rc) return rc;
    }
    return 0;
}

/* Checks (strict) or repairs (replace) UTF-8; *owned is set when a copy was made. */
static int prepare_text(const char **text, size_t *len, const tok_encode_params *p, char **owned, tok_error *err) {
    *owned = NULL;
    size_t bad = tok_utf8_check(*text, *len);
    if (bad == *len) return 0;
    if (p->utf8 == TOK_UTF8_STRICT)
        return tok_fail(err, TOK_EUTF8, "invalid UTF-8 at byte %zu (0x%02X)", bad, (unsigned char)(*text)[bad]);
    *owned = tok_utf8_sanitize(*text, *len, len);
    if (!*owned) return tok_fail(err, TOK_ENOMEM, "out of memory");
    *text = *owned;
    return 0;
}

static tok_encoder *encoder_new(const tok_tokenizer *t, uint32_t entries, uint32_t max) {
    tok_encoder *e = calloc(1, sizeof *e);
    if (e) {
        e->t = t;
        e->serial = t ? t->serial : 0;
        e->cache_entries = entries;
        e->cache_max = max;
    }
    return e;
}

tok_encoder *tok_encoder_new(const tok_tokenizer *t, tok_error *err) {
    tok_encoder *e = encoder_new(t, PCACHE_MAX_ENTRIES, PCACHE_MAX_ENTRIES);
    if (!e) tok_fail(err, TOK_ENOMEM, "out of memory");
    return e;
}

void tok_encoder_free(tok_encoder *e) {
    if (!e) return;
    bpe_scratch_free(&e->scratch);
    cache_free(e);
    tok_ids_free(&e->count_buf);
    free(e);
}

/*
 * tok_encode and tok_count use an encoder owned by the calling thread, so
 * the piece cache and scratch outlive the call: a caller encoding many
 * documents in a row gets the cache's hits without managing a tok_encoder.
 * A thread keeps encoders for its THREAD_ENCODERS most recently used
 * tokenizers (told apart by serial, never by address, which a new handle
 * may reuse); each starts with a small cache that grows with the bytes it
 * has seen. They are freed when the thread exits, or for the calling
 * thread when the tokenizer is freed.
 */
#define THREAD_ENCODERS 4
typedef struct thread_encoders {
    tok_encoder *e[THREAD_ENCODERS]; /* most recently used first */
} thread_encoders;

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static bool thread_key_ok;

static void thread_encoders_free(void *p) {
    thread_encoders *te = p;
    for (int i = 0; i < THREAD_ENCODERS; i++) tok_encoder_free(te->e[i]);
    free(te);
}

static void thread_key_init(void) { thread_key_ok = pthread_key_create(&thread_key, thread_encoders_free) == 0; }

/* A library unloaded while threads live must not leave them a destructor
 * in unmapped code (their encoders leak instead). The batch pool's workers
 * are stopped first, so theirs are freed. */
__attribute__((destructor)) static void thread_key_fini(void) {
    batch_pool_fini();
    if (thread_key_ok) pthread_key_delete(thread_key);
    thread_key_ok = false;
}

/* The calling thread's encoder for t, or NULL (out of memory, or already in
 * use further up this thread's stack): the caller then uses a temporary. */
static tok_encoder *thread_encoder(const tok_tokenizer *t) {
    pthread_once(&thread_once, thread_key_init);
    if (!thread_key_ok) return NULL;
    thread_encoders *te = pthread_getspecific(thread_key);
    if (!te) {
        if (!(te = calloc(1, sizeof *te))) return NULL;
        if (pthread_setspecific(thread_key, te)) {
            free(te);
            return NULL;
        }
    }
    int i = 0;
    while (i < THREAD_ENCODERS - 1 && te->e[i] && te->e[i]->serial != t->serial) i++;
    tok_encoder *e = te->e[i];
    if (!e || e->serial != t->serial) { /* the least recently used one goes */
        tok_encoder_free(e);
        if (!(e = encoder_new(t, 1024, PCACHE_MAX_ENTRIES))) {
            te->e[i] = NULL;
            return NULL;
        }
    }
    memmove(te->e + 1, te->e, (size_t)i * sizeof *te->e);
    te->e[0] = e;
    if (e->busy) return NULL;
    e->t = t;
    return e;
}

static void thread_encoder_drop(const tok_tokenizer *t) {
    if (!thread_key_ok) return;
    thread_encoders *te = pthread_getspecific(thread_key);
    for (int i = 0; te && i < THREAD_ENCODERS; i++)
        if (te->e[i] && te->e[i]->serial == t->serial && !te->e[i]->busy) {
            tok_encoder_free(te->e[i]);
            memmove(te->e + i, te->e + i + 1, (size_t)(THREAD_ENCODERS - 1 - i) * sizeof *te->e);
            te->e[THREAD_ENCODERS - 1] = NULL;
            return;
        }
}

/* With enc NULL, the calling thread's encoder (or a temporary one). */
static int run_encode(tok_encoder *enc, const tok_tokenizer *t, const char *text, size_t len,
                      const tok_encode_params *p, tok_ids *out, bool counting, size_t *count, tok_error *err) {
    tok_encode_params defaults = tok_encode_default_params();
    if (!p) p = &defaults;
    if (!t || (!text && len)) return tok_fail(err, TOK_EINVAL, "tokenizer and text are required");
    char *owned;
    int rc = prepare_text(&text, &len, p, &owned, err);
    if (rc) return rc;
    tok_encoder tmp = {0};
    if (!enc && !(enc = thread_encoder(t))) {
        tmp.t = t;
        tmp.cache_entries = tmp.cache_max = 1024;
        enc = &tmp;
    }
    enc->bytes_seen += len;
    if (enc->cache_entries < enc->cache_max && enc->cache_entries < enc->bytes_seen / 64) {
        uint32_t entries = enc->cache_entries;
        while (entries < enc->cache_max && entries < enc->bytes_seen / 64) entries *= 2;
        cache_grow(enc, entries);
    }
    enc->busy = true;
    enc->count_buf.n = 0;
    /* a cache pays once the encoder has seen a few KB */
    enc_ctx c = {t, enc, enc->bytes_seen >= PCACHE_MIN_TEXT, counting ? &enc->count_buf : out, 0, counting, err, true};
    rc = encode_text(&c, text, len, p);
    enc->busy = false;
    if (enc == &tmp) {
        bpe_scratch_free(&tmp.scratch);
        cache_free(&tmp);
        tok_ids_free(&tmp.count_buf);
    }
    free(owned);
    if (count) *count = c.count;
    return rc;
}

int tok_encoder_encode(tok_encoder *e, const char *text, size_t len, const tok_encode_params *p, tok_ids *out,
                       tok_error *err) {
    if (!e || !out) return tok_fail(err, TOK_EINVAL, "no encoder or output");
    return run_encode(e, e->t, text, len, p, out, false, NULL, err);
}

int tok_encoder_count(tok_encoder *e, const char *text, size_t len, const tok_encode_params *p, size_t *count,
                      tok_error *err) {
    if (!e) return tok_fail(err, TOK_EINVAL, "no encoder");
    return run_encode(e, e->t, text, len, p, NULL, true, count, err);
}

int tok_encode(const tok_tokenizer *t, const char *text, size_t len, const tok_encode_params *p, tok_ids *out,
               tok_error *err) {
    if (!out) return tok_fail(err, TOK_EINVAL, "no output");
    return run_encode(NULL, t, text, len, p, out, false, NULL, err);
}

int tok_count(const tok_tokenizer *t, const char *text, size_t len, const tok_encode_params *p, size_t *count,
              tok_error *err) {
    return run_encode(NULL, t, text, len, p, NULL, true, count, err);
}

/* ---- decoding --------------------------------------------------------------- */

int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, tok_bytes *out,
               tok_error *err) {
    if (t->spm) return tokenizer_spm_decode(t, ids, n, skip_special, out, err);
    if (t->hf) return hf_decode(t, ids, n, skip_special, out, err);
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || (uint32_t)id >= t->v.n || t->v.off[id] == VOCAB_NONE)
            return tok_fail(err, TOK_ERANGE, "id %d at position %zu is not in the vocabulary", id, i);
        if (skip_special && tok_is_special(t, id)) continue;
        if (tok_bytes_append(out, t->v.blob + t->v.off[id], t->v.len[id]))
            return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (t->decode_lossy && tok_utf8_check(out->data ? out->data + start : "", out->n - start) != out->n - start) {
        size_t fixed_len;
        char *fixed = tok_utf8_sanitize(out->data + start, out->n - start, &fixed_len);
        if (!fixed) return tok_fail(err, TOK_ENOMEM, "out of memory");
        out->n = start;
        int rc = tok_bytes_append(out, fixed, fixed_len);
        free(fixed);
        if (rc) return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    if (!out->data && tok_bytes_append(out, "", 0)) return tok_fail(err, TOK_ENOMEM, "out of memory");
    return 0;
}

/* ---- vocabulary queries ---------------------------------------------------- */

size_t tok_vocab_size(const tok_tokenizer *t) { return t->v.n; }

const char *tok_token_bytes(const tok_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || (uint32_t)id >= t->v.n || t->v.off[id] == VOCAB_NONE) return NULL;
    if (len) *len = t->v.len[id];
    return t->v.blob + t->v.off[id];
}

int32_t tok_token_id(const tok_tokenizer *t, const char *bytes, size_t len) {
    for (size_t i = 0; i < t->n_specials; i++)
        if (t->specials[i].len == len && !memcmp(t->specials[i].text, bytes, len)) return t->specials[i].id;
    return vocab_find(&t->v, bytes, len);
}

bool tok_is_special(const tok_tokenizer *t, int32_t id) {
    return id >= 0 && (uint32_t)id < t->v.n && (t->special_ids[id / 8] >> (id % 8) & 1);
}

int32_t tok_bos_id(const tok_tokenizer *t) { return t->bos; }
int32_t tok_eos_id(const tok_tokenizer *t) { return t->eos; }
const char *tok_name(const tok_tokenizer *t) { return t->name; }
const char *tok_format(const tok_tokenizer *t) { return t->format; }
size_t tok_special_count(const tok_tokenizer *t) { return t->n_specials; }

int tok_special_at(const tok_tokenizer *t, size_t i, const char **text, int32_t *id) {
    if (i >= t->n_specials) return TOK_EINVAL;
    if (text) *text = t->specials[i].text;
    if (id) *id = t->specials[i].id;
    return 0;
}
