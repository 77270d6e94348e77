/*
 * The models of non-byte-level tokenizer.json files, one pre-tokenized word
 * at a time, each following Hugging Face tokenizers' own algorithm:
 *
 *  - BPE over characters (SentencePiece-converted Llama/Mistral/Gemma): the
 *    initial symbols are the word's characters; a character not in the
 *    vocabulary becomes its <0xNN> byte tokens (byte_fallback) or the unknown
 *    token (consecutive unknowns fused with fuse_unk). Merges then run from
 *    a binary heap ordered by (rank, position) over a linked list of symbols,
 *    stale entries skipped when popped: O(n log n), so a whole segment with
 *    no pre-tokenizer (a 100,000-character line) costs no more than words.
 *    The word is first cut between characters that never occur side by side
 *    in any token (no merge can cross there), so the heaps stay small; in a
 *    word of 2 KB or more (no pre-tokenizer) each run's ids are cached for
 *    the rest of the word (hf.h), so repeated runs cost one hash lookup.
 *  - Unigram: Viterbi over byte positions with the scores as doubles; at each
 *    character boundary every vocabulary string starting there is tried from
 *    the shortest to the longest (the order of HF's trie), a later candidate
 *    replacing the best only if strictly better; a character no token covers
 *    gets the unknown token at min_score - 10. Unknown runs fuse. O(n x the
 *    longest piece) trie steps, each a hash probe (the SentencePiece trie).
 *  - WordPiece: greedy longest match first, "##" on non-initial pieces; a
 *    word with an unmatched rest, or longer than max_input_chars_per_word
 *    characters, is the unknown token. O(word length^2) lookups, words are
 *    at most 100 characters.
 */
#include <stdlib.h>
#include <string.h>

#include "hf.h"
#include "spm.h" /* spm_hash */

static size_t char_len(const unsigned char *s, size_t n) {
    size_t k = (size_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[s[0] >> 4];
    return k > n ? n : k;
}

/* ---- per-call cache (hf.h) ---------------------------------------------------- */

int hf_cache_get(hf_cache_ent *c, const char *p, size_t len, tok_ids *out, hf_cache_ent **slot) {
    *slot = NULL;
    if (!c || len > HF_CACHE_MAX_LEN || len == 0) return 0;
    uint64_t h = spm_hash(p, len);
    hf_cache_ent *e = &c[h & (HF_CACHE_SLOTS - 1)];
    if (e->p && e->h == h && e->len == len && memcmp(e->p, p, len) == 0) {
        if (tok_ids_reserve(out, e->n)) return -1;
        memcpy(out->ids + out->n, out->ids + e->start, e->n * sizeof *out->ids);
        out->n += e->n;
        return 1;
    }
    e->h = h;
    e->p = NULL; /* filled by hf_cache_put once the ids exist */
    *slot = e;
    return 0;
}

void hf_cache_put(hf_cache_ent *slot, const char *p, size_t len, size_t start, const tok_ids *out) {
    if (!slot || out->n - start > 0xFFFF || start > UINT32_MAX) return;
    slot->p = p;
    slot->len = (uint16_t)len;
    slot->start = (uint32_t)start;
    slot->n = (uint16_t)(out->n - start);
}

/* ---- BPE ------------------------------------------------------------------ */

typedef struct sym {
    int32_t id;
    int32_t prev, next; /* indices; -1 / n at the ends */
    bool unk, dead;
} sym;

typedef struct merge_item {
    uint32_t rank, pos;
    int32_t new_id;
} merge_item;

static inline bool item_before(const merge_item *a, const merge_item *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(merge_item *h, size_t *n, merge_item it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t q = (i - 1) / 2;
        if (!item_before(&it, &h[q])) break;
        h[i] = h[q];
        i = q;
    }
    h[i] = it;
}

static merge_item heap_pop(merge_item *h, size_t *n) {
    merge_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && item_before(&h[c + 1], &h[c])) c++;
        if (!item_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int bpe_push_sym(sym **v, size_t *n, size_t *cap, int32_t id, bool unk) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        sym *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return TOK_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = (sym){id, 0, 0, unk, false};
    return 0;
}

/* A character's bytes as one number (chars are at most 4 bytes). */
static inline uint32_t char_key(const unsigned char *s, size_t k) {
    uint32_t c = 0;
    for (size_t i = 0; i < k; i++) c = c << 8 | s[i];
    return c;
}

static inline uint64_t pair_hash(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 17; }

/* Whether the characters a, b occur next to each other in some token. */
static bool bigram_seen(const hf_pipeline *h, uint32_t a, uint32_t b) {
    uint64_t key = ((uint64_t)a << 32 | b) + 1;
    for (size_t i = pair_hash(key) & h->bigram_mask;; i = (i + 1) & h->bigram_mask) {
        if (h->bigram[i] == key) return true;
        if (!h->bigram[i]) return false;
    }
}

static int bigram_insert(hf_pipeline *h, uint64_t key) {
    if (2 * (h->bigram_n + 1) > h->bigram_mask + 1) {
        size_t cap = h->bigram ? 2 * (h->bigram_mask + 1) : 1 << 16;
        uint64_t *nt = calloc(cap, sizeof *nt);
        if (!nt) return TOK_ENOMEM;
        for (size_t i = 0; h->bigram && i <= h->bigram_mask; i++)
            if (h->bigram[i])
                for (size_t j = pair_hash(h->bigram[i]) & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!nt[j]) {
                        nt[j] = h->bigram[i];
                        break;
                    }
        free(h->bigram);
        h->bigram = nt;
        h->bigram_mask = cap - 1;
    }
    for (size_t i = pair_hash(key) & h->bigram_mask;; i = (i + 1) & h->bigram_mask) {
        if (h->bigram[i] == key) return 0;
        if (!h->bigram[i]) {
            h->bigram[i] = key;
            h->bigram_n++;
            return 0;
        }
    }
}

/* 0..127 for an ASCII character, 128 for U+2581, -1 otherwise. */
static inline int small_code(const unsigned char *c, size_t k) {
    if (k == 1) return c[0] < 0x80 ? c[0] : -1;
    return k == 3 && c[0] == 0xE2 && c[1] == 0x96 && c[2] == 0x81 ? 128 : -1;
}

int hf_bpe_build_bigrams(tok_tokenizer *t, tok_error *err) {
    hf_pipeline *h = t->hf;
    for (int c = 0; c < 128; c++) {
        char b = (char)c;
        h->small_id[c] = vocab_find(&t->v, &b, 1);
    }
    h->small_id[128] = vocab_find(&t->v, "\xe2\x96\x81", 3);
    for (uint32_t id = 0; id < t->v.n; id++) {
        if (t->v.off[id] == VOCAB_NONE) continue;
        const unsigned char *p = (const unsigned char *)t->v.blob + t->v.off[id];
        size_t n = t->v.len[id], i = 0, k = char_len(p, n);
        while (i + k < n) {
            size_t k2 = char_len(p + i + k, n - i - k);
            uint64_t key = ((uint64_t)char_key(p + i, k) << 32 | char_key(p + i + k, k2)) + 1;
            if (bigram_insert(h, key)) return tok_fail(err, TOK_ENOMEM, "out of memory");
            int x = small_code(p + i, k), y = small_code(p + i + k, k2);
            if (x >= 0 && y >= 0) h->small_bigram[(x * 129 + y) >> 6] |= 1ull << ((x * 129 + y) & 63);
            i += k;
            k = k2;
        }
    }
    return 0;
}

/* Merges the symbols v[0, m) and appends the survivors to out. */
static int merge_run(const vocab *V, sym *v, size_t m, merge_item **heap, size_t *heap_cap, tok_ids *out) {
    if (m > 1) {
        if (3 * m > *heap_cap) {
            merge_item *nh = realloc(*heap, 3 * m * sizeof *nh);
            if (!nh) return TOK_ENOMEM;
            *heap = nh;
            *heap_cap = 3 * m;
        }
        merge_item *hp = *heap;
        size_t hn = 0;
        for (size_t i = 0; i < m; i++) v[i].prev = (int32_t)i - 1, v[i].next = (int32_t)i + 1;
        for (size_t i = 0; i + 1 < m; i++) {
            const pair_slot *p = vocab_pair(V, v[i].id, v[i + 1].id);
            if (p) heap_push(hp, &hn, (merge_item){p->rank, (uint32_t)i, p->id});
        }
        /* each merge pushes at most two items and kills one symbol: 3m bounds the heap */
        while (hn) {
            merge_item it = heap_pop(hp, &hn);
            sym *a = &v[it.pos];
            if (a->dead || a->next >= (int32_t)m) continue;
            sym *b = &v[a->next];
            const pair_slot *p = vocab_pair(V, a->id, b->id);
            if (!p || p->id != it.new_id) continue; /* stale */
            a->id = it.new_id;
            a->unk = false;
            b->dead = true;
            a->next = b->next;
            if (a->next < (int32_t)m) v[a->next].prev = (int32_t)it.pos;
            if (a->prev >= 0) {
                const pair_slot *q = vocab_pair(V, v[a->prev].id, a->id);
                if (q) heap_push(hp, &hn, (merge_item){q->rank, (uint32_t)a->prev, q->id});
            }
            if (a->next < (int32_t)m) {
                const pair_slot *q = vocab_pair(V, a->id, v[a->next].id);
                if (q) heap_push(hp, &hn, (merge_item){q->rank, it.pos, q->id});
            }
        }
    }
    for (size_t i = 0; i < m; i++)
        if (!v[i].dead && tok_ids_push(out, v[i].id)) return TOK_ENOMEM;
    return 0;
}

/* merge_run through the cache: s[0, len) are the run's bytes. */
static int cached_run(const tok_tokenizer *t, const char *s, size_t len, sym *v, size_t m, merge_item **heap,
                      size_t *heap_cap, hf_cache_ent *cache, tok_ids *out) {
    hf_cache_ent *slot = NULL;
    if (m >= 2) {
        int hit = hf_cache_get(cache, s, len, out, &slot);
        if (hit) return hit < 0 ? TOK_ENOMEM : 0;
    }
    size_t start = out->n;
    int rc = merge_run(&t->v, v, m, heap, heap_cap, out);
    if (!rc) hf_cache_put(slot, s, len, start, out);
    return rc;
}

/*
 * A merge result's string is the concatenation of its parts, so no merge can
 * span two adjacent characters that are each tokens but never occur next to
 * each other inside any token (h->bigram). The word is cut there and each run
 * merged alone: the same ids, with heaps that stay in cache (a 1,500-byte
 * paragraph with no pre-tokenizer becomes word-sized runs).
 */
int hf_bpe_word(const tok_tokenizer *t, const char *s_, size_t n, tok_ids *out, tok_error *err) {
    const hf_pipeline *h = t->hf;
    const unsigned char *s = (const unsigned char *)s_;
    if (!n) return 0;
    if (h->ignore_merges) {
        int32_t id = vocab_find(&t->v, s, n);
        if (id >= 0) return tok_ids_push(out, id) ? tok_fail(err, TOK_ENOMEM, "out of memory") : 0;
    }
    sym *v = NULL;
    merge_item *heap = NULL;
    size_t m = 0, cap = 0, heap_cap = 0, run_lo = 0;
    int rc = 0;
    uint32_t prev_key = 0; /* the previous character, when it was a token itself */
    int prev_small = -1;   /* its small code */
    bool prev_tok = false;
    /* a long word (no pre-tokenizer: a whole line or document) repeats its runs */
    hf_cache_ent *cache = n >= HF_CACHE_MIN_INPUT ? calloc(HF_CACHE_SLOTS, sizeof *cache) : NULL;
    for (size_t i = 0; i < n && !rc;) {
        size_t k = char_len(s + i, n - i);
        int sc = small_code(s + i, k);
        int32_t id = sc >= 0 ? h->small_id[sc] : vocab_find(&t->v, s + i, k);
        if (id >= 0) {
            uint32_t key = char_key(s + i, k);
            bool seen = !prev_tok || !h->bigram || !m ||
                        (sc >= 0 && prev_small >= 0
                             ? (h->small_bigram[(prev_small * 129 + sc) >> 6] >> ((prev_small * 129 + sc) & 63)) & 1
                             : bigram_seen(h, prev_key, key));
            if (!seen) {
                rc = cached_run(t, s_ + run_lo, i - run_lo, v, m, &heap, &heap_cap, cache, out);
                m = 0;
            }
            if (m == 0) run_lo = i;
            if (!rc) rc = bpe_push_sym(&v, &m, &cap, id, false);
            prev_key = key;
            prev_small = sc;
            prev_tok = true;
        } else {
            prev_tok = false;
            if (m == 0) run_lo = i;
            bool bytes_ok = h->byte_fallback;
            for (size_t j = 0; j < k && bytes_ok; j++) bytes_ok = h->byte_tok[s[i + j]] >= 0;
            if (bytes_ok)
                for (size_t j = 0; j < k && !rc; j++) rc = bpe_push_sym(&v, &m, &cap, h->byte_tok[s[i + j]], false);
            else if (h->unk_id >= 0) {
                /* HF drops the character when there is no unknown token */
                if (!(h->fuse_unk && m && v[m - 1].unk)) rc = bpe_push_sym(&v, &m, &cap, h->unk_id, true);
            }
        }
        i += k;
    }
    if (!rc) rc = cached_run(t, s_ + run_lo, n - run_lo, v, m, &heap, &heap_cap, cache, out);
    free(cache);
    free(heap);
    free(v);
    return rc ? tok_fail(err, TOK_ENOMEM, "out of memory") : 0;
}

/* ---- Unigram ---------------------------------------------------------------- */

int hf_unigram_build_trie(tok_tokenizer *t, tok_error *err) {
    hf_pipeline *h = t->hf;
    size_t total = 0;
    for (uint32_t id = 0; id < t->v.n; id++)
        if (t->v.off[id] != VOCAB_NONE) total += t->v.len[id];
    h->trie = calloc(1, sizeof *h->trie);
    if (!h->trie || spm_trie_init(h->trie, total)) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (uint32_t id = 0; id < t->v.n; id++) {
        if (t->v.off[id] == VOCAB_NONE || t->v.len[id] == 0) continue;
        const unsigned char *p = (const unsigned char *)t->v.blob + t->v.off[id];
        uint32_t node = 0;
        for (size_t k = 0; k < t->v.len[id]; k++) node = spm_trie_add_edge(h->trie, node, p[k]);
        h->trie->value[node] = vocab_find(&t->v, p, t->v.len[id]); /* the id a lookup gives */
    }
    spm_trie_compact(h->trie);
    return 0;
}

typedef struct lattice_node {
    double score;
    int64_t start; /* -1: not reached */
    int32_t id;
} lattice_node;

#define UNK_PENALTY 10.0

int hf_unigram_word(const tok_tokenizer *t, const char *s_, size_t n, tok_ids *out, tok_error *err) {
    const hf_pipeline *h = t->hf;
    const unsigned char *s = (const unsigned char *)s_;
    if (!n) return 0;
    lattice_node *best = malloc((n + 1) * sizeof *best);
    if (!best) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i <= n; i++) best[i] = (lattice_node){0.0, -1, -1};
    double unk_score = h->min_score - UNK_PENALTY;
    for (size_t i = 0; i < n;) {
        double here = best[i].score;
        size_t mb = char_len(s + i, n - i);
        bool single = false;
        /* the strings starting here, shortest first (a trie walk, as HF's
         * common_prefix_search), stopping where no string continues */
        uint32_t node = 0;
        for (size_t k = 1; i + k <= n; k++) {
            node = spm_trie_step(h->trie, node, s[i + k - 1]);
            if (!node) break;
            int32_t id = h->trie->value[node];
            if (id < 0 || (uint32_t)id >= t->v.n) continue;
            double cand = h->scores[id] + here;
            lattice_node *tn = &best[i + k];
            if (tn->start < 0 || cand > tn->score) *tn = (lattice_node){cand, (int64_t)i, id};
            if (k == mb) single = true;
        }
        if (!single) {
            lattice_node *tn = &best[i + mb];
            double cand = unk_score + here;
            if (tn->start < 0 || cand > tn->score) *tn = (lattice_node){cand, (int64_t)i, h->unk_id};
        }
        i += mb;
    }
    /* backtrack into (start, end, id) triples, collected in reverse */
    size_t cnt = 0;
    for (size_t e = n; e > 0; e = (size_t)best[e].start) cnt++;
    int32_t *ids = malloc(cnt * sizeof *ids);
    size_t *ends = malloc((cnt + 1) * sizeof *ends);
    if (!ids || !ends) {
        free(ids), free(ends), free(best);
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    size_t k = cnt;
    for (size_t e = n; e > 0; e = (size_t)best[e].start) ids[--k] = best[e].id, ends[k + 1] = e;
    ends[0] = 0;
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc;) {
        if (ids[i] == h->unk_id && h->unk_id >= 0 && h->fuse_unk) {
            size_t j = i;
            while (j < cnt && ids[j] == h->unk_id) j++;
            /* the fused text is looked up again, as HF does with its string */
            size_t a = ends[i], b = ends[j];
            int32_t id = vocab_find(&t->v, s + a, b - a);
            bool bytes_ok = id < 0 && h->byte_fallback;
            for (size_t q = a; q < b && bytes_ok; q++) bytes_ok = h->byte_tok[s[q]] >= 0;
            if (bytes_ok)
                for (size_t q = a; q < b && !rc; q++) rc = tok_ids_push(out, h->byte_tok[s[q]]);
            else rc = tok_ids_push(out, id >= 0 ? id : h->unk_id);
            i = j;
        } else {
            int32_t id = ids[i];
            if (id < 0) {
                rc = tok_fail(err, TOK_EFORMAT, "Unigram: the text has a character no token covers and there is no unk_id");
                break;
            }
            rc = tok_ids_push(out, id);
            i++;
        }
    }
    free(ids), free(ends), free(best);
    return rc == TOK_ENOMEM ? tok_fail(err, TOK_ENOMEM, "out of memory") : rc;
}

/* ---- WordPiece ---------------------------------------------------------------- */

int hf_wordpiece_word(const tok_tokenizer *t, const char *s_, size_t n, tok_ids *out, tok_error *err) {
    const hf_pipeline *h = t->hf;
    const unsigned char *s = (const unsigned char *)s_;
    if (!n) return 0;
    size_t chars = 0;
    for (size_t i = 0; i < n; i += char_len(s + i, n - i)) chars++;
    size_t before = out->n;
    bool bad = chars > h->wp_max_chars;
    char *buf = malloc(h->wp_prefix_len + n + 1);
    if (!buf) return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (size_t start = 0; start < n && !bad;) {
        size_t end = n;
        int32_t found = -1;
        while (start < end) {
            size_t k = 0;
            if (start > 0) memcpy(buf, h->wp_prefix, k = h->wp_prefix_len);
            memcpy(buf + k, s + start, end - start);
            found = vocab_find(&t->v, buf, k + end - start);
            if (found >= 0) break;
            /* drop the last character */
            size_t e = end - 1;
            while (e > start && (s[e] & 0xC0) == 0x80) e--;
            end = e;
        }
        if (found < 0) bad = true;
        else if (tok_ids_push(out, found)) {
            free(buf);
            return tok_fail(err, TOK_ENOMEM, "out of memory");
        }
        start = end;
    }
    free(buf);
    if (bad) {
        out->n = before;
        if (h->unk_id < 0) return tok_fail(err, TOK_EFORMAT, "WordPiece: a word has no tokens and there is no unk_token");
        if (tok_ids_push(out, h->unk_id)) return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    return 0;
}
