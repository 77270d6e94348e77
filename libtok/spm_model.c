/*
 * SentencePiece model construction: from a parsed .model (spm_load) or from
 * GGUF-style parallel arrays (spm_from_vocab), into one immutable spm_model.
 *
 * What is built, mirroring SentencePiece's ModelInterface::InitializePieces:
 *   - the pieces, copied into one blob (each NUL-terminated);
 *   - a string hash (open addressing, FNV-1a) giving for each distinct string
 *     its "normal" id (NORMAL, USER_DEFINED, UNUSED pieces - the ones the
 *     segmenters may produce) and its "reserved" id (CONTROL, UNKNOWN, BYTE),
 *     so PieceToId can prefer reserved ids as SentencePiece does;
 *   - a byte trie of the normal pieces (prefix search for Unigram and for
 *     user-defined symbols), stored as a hash of edges;
 *   - the ids the processor reports (bos/eos/unk/pad looked up by piece name,
 *     kept only if their type fits), byte-fallback ids, min/max scores.
 * Loading is O(total piece bytes); afterwards nothing is written, so any number
 * of threads can encode at once.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spm.h"

/* Word-at-a-time multiplicative hash: pieces are short (1-3 words), and the
 * final mix spreads every input bit over the low bits used as the index. */
uint64_t spm_hash(const char *s, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, s, len);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    }
    h ^= h >> 32;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

static struct spm_hent *hfind(const spm_model *m, const char *s, size_t len, uint64_t h) {
    size_t i = (size_t)h & m->hmask;
    for (;;) {
        uint32_t e = m->hslot[i];
        if (!e) return NULL;
        struct spm_hent *he = &m->hent[e - 1];
        if (he->h == h && he->len == len && memcmp(m->blob + he->off, s, len) == 0) return he;
        i = (i + 1) & m->hmask;
    }
}

int32_t spm_lookup_normal(const spm_model *m, const char *s, size_t len, uint64_t h) {
    struct spm_hent *he = hfind(m, s, len, h);
    return he ? he->normal : -1;
}

int32_t spm_piece_to_id(const spm_model *m, const char *s, size_t len) {
    struct spm_hent *he = hfind(m, s, len, spm_hash(s, len));
    if (!he) return m->unk_id;
    return he->reserved >= 0 ? he->reserved : he->normal;
}

int32_t spm_piece_id(const spm_model *m, const char *bytes, size_t len) {
    struct spm_hent *he = hfind(m, bytes, len, spm_hash(bytes, len));
    if (!he) return -1;
    return he->reserved >= 0 ? he->reserved : he->normal;
}

/* ---- vocabulary trie ------------------------------------------------------ */

int spm_trie_init(spm_trie *t, size_t max_edges) {
    size_t slots = 1024;
    while (slots < max_edges * 2) slots *= 2;
    t->keys = calloc(slots, sizeof *t->keys);
    t->child = calloc(slots, sizeof *t->child);
    t->mask = slots - 1;
    t->cap_nodes = max_edges + 1;
    t->value = malloc(t->cap_nodes * sizeof *t->value);
    if (!t->keys || !t->child || !t->value) return TOK_ENOMEM;
    t->value[0] = -1;
    t->n_nodes = 1;
    return 0;
}

uint32_t spm_trie_add_edge(spm_trie *t, uint32_t node, unsigned char b) {
    uint32_t c = spm_trie_step(t, node, b);
    if (c) return c;
    c = (uint32_t)t->n_nodes++;
    t->value[c] = -1;
    if (node == 0) {
        t->root_child[b] = c;
        return c;
    }
    uint64_t key = (((uint64_t)node << 8) | b) + 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & t->mask;
    while (t->keys[i]) i = (i + 1) & t->mask;
    t->keys[i] = key;
    t->child[i] = c;
    return c;
}

void spm_trie_compact(spm_trie *t) {
    if (!t->keys || t->n_nodes >= (1u << 24) - 1) return;
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++) n += t->keys[i] != 0;
    unsigned bits = 4;
    while (((size_t)1 << bits) * 7 < n * 10) bits++;
    uint64_t *e = calloc((size_t)1 << bits, sizeof *e);
    if (!e) return;
    size_t mask = ((size_t)1 << bits) - 1;
    for (size_t i = 0; i <= t->mask; i++) {
        if (!t->keys[i]) continue;
        uint32_t key = (uint32_t)t->keys[i]; /* (parent << 8 | b) + 1 < 2^32 */
        size_t j = (size_t)((key * 0x9E3779B1u) >> (32 - bits));
        while (e[j]) j = (j + 1) & mask;
        e[j] = (uint64_t)key << 32 | t->child[i];
    }
    free(t->keys);
    free(t->child);
    t->keys = NULL;
    t->child = NULL;
    t->edges = e;
    t->edge_mask = mask;
    t->edge_bits = bits;
}

void spm_trie_free(spm_trie *t) {
    free(t->edges);
    free(t->keys);
    free(t->child);
    free(t->value);
}

/* ---- character bigrams (BPE chunking) --------------------------------------- */

static uint64_t bigram_key(const char *a, size_t la, const char *b, size_t lb) {
    uint32_t pa = 0, pb = 0;
    memcpy(&pa, a, la);
    memcpy(&pb, b, lb);
    return (uint64_t)pa | (uint64_t)pb << 32;
}

static size_t bigram_slot(uint64_t k, size_t mask) {
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & mask;
}

bool spm_bigram_in_vocab_slow(const spm_model *m, const char *a, size_t la, const char *b, size_t lb) {
    uint64_t k = bigram_key(a, la, b, lb);
    for (size_t i = bigram_slot(k, m->bigram_mask);; i = (i + 1) & m->bigram_mask) {
        if (!m->bigram_used[i]) return false;
        if (m->bigram[i] == k) return true;
    }
}

/* Collects the adjacent character pairs of every normal piece. A piece whose
 * last character is cut short (invalid UTF-8) turns the filter off. */
static int bigrams_build(spm_model *m) {
    size_t total = 0;
    for (size_t i = 0; i < m->n; i++) total += m->pieces[i].len;
    size_t slots = 1024;
    while (slots < total * 2) slots *= 2;
    m->bigram = malloc(slots * sizeof *m->bigram);
    m->bigram_used = calloc(slots, 1);
    if (!m->bigram || !m->bigram_used) return TOK_ENOMEM;
    m->bigram_mask = slots - 1;
    m->bigram_ok = true;
    for (size_t i = 0; i < m->n; i++) {
        const spm_piece_rec *p = &m->pieces[i];
        if (p->type != SPM_NORMAL && p->type != SPM_USER_DEFINED && p->type != SPM_UNUSED) continue;
        const char *s = m->blob + p->off;
        size_t prev = 0, prev_len = 0;
        for (size_t pos = 0; pos < p->len;) {
            size_t l = spm_one_char_len((unsigned char)s[pos]);
            if (l > p->len - pos) {
                m->bigram_ok = false;
                return 0;
            }
            if (pos) {
                uint64_t k = bigram_key(s + prev, prev_len, s + pos, l);
                size_t j = bigram_slot(k, m->bigram_mask);
                while (m->bigram_used[j] && m->bigram[j] != k) j = (j + 1) & m->bigram_mask;
                m->bigram_used[j] = 1;
                m->bigram[j] = k;
                int x = spm_small_char(s + prev, prev_len), y = spm_small_char(s + pos, l);
                if ((x | y) >= 0) {
                    unsigned bit = (unsigned)x * 129u + (unsigned)y;
                    m->ascii_bigram[bit >> 6] |= 1ull << (bit & 63);
                }
            }
            prev = pos;
            prev_len = l;
            pos += l;
        }
    }
    return 0;
}

/* The merge-candidate table of spm_merge_find (BPE only; vocabularies of
 * fewer than 2^24 pieces). Load factor <= 1/2. */
static int merges_build(spm_model *m) {
    if (m->n >= (1u << 24)) return 0;
    size_t slots = 1024;
    while (slots < m->n * 2) slots *= 2;
    m->merge = calloc(slots, sizeof *m->merge);
    if (!m->merge) return TOK_ENOMEM;
    m->merge_mask = slots - 1;
    for (size_t i = 0; i < m->n; i++) {
        const spm_piece_rec *p = &m->pieces[i];
        if (p->type != SPM_NORMAL && p->type != SPM_USER_DEFINED && p->type != SPM_UNUSED) continue;
        if (p->len > 255 || spm_lookup_normal(m, m->blob + p->off, p->len, spm_hash(m->blob + p->off, p->len)) != (int32_t)i)
            continue;
        uint64_t w = 0;
        memcpy(&w, m->blob + p->off, p->len < 8 ? p->len : 8);
        size_t j = (size_t)spm_merge_hash(m->blob + p->off, p->len, w) & m->merge_mask;
        while (m->merge[j].id_len) j = (j + 1) & m->merge_mask;
        m->merge[j] = (struct spm_merge_slot){w, spm_score_key(p->score), (uint32_t)i << 8 | p->len};
    }
    return 0;
}

/* ---- building --------------------------------------------------------------- */

spm_options spm_default_options(void) {
    spm_options o;
    memset(&o, 0, sizeof o);
    o.model_type = SPM_BPE;
    o.add_dummy_prefix = true;
    o.remove_extra_whitespaces = false;
    o.escape_whitespaces = true;
    o.byte_fallback = false; /* spm_from_vocab turns it on when <0xNN> pieces exist */
    o.unk_id = o.bos_id = o.eos_id = o.pad_id = SPM_ID_AUTO;
    return o;
}

static int parse_byte_piece(const char *s, size_t len) {
    /* exactly "<0x%02X>" with upper-case hex, as SentencePiece's ByteToPiece */
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Special piece names and defaults shared by both constructors. */
typedef struct special_names {
    const char *unk, *bos, *eos, *pad, *surface;
    size_t unk_len, bos_len, eos_len, pad_len, surface_len;
} special_names;

static int32_t special_id(const spm_model *m, const char *name, size_t len, int want_type) {
    int32_t id = spm_piece_to_id(m, name, len);
    return id >= 0 && m->pieces[id].type == want_type ? id : -1;
}

static spm_model *build(const spm_proto_piece *pp, size_t n, const spm_options *opts,
                        const special_names *sn, const char *name, tok_error *err) {
    spm_model *m = calloc(1, sizeof *m);
    if (!m) {
        tok_fail(err, TOK_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    m->opts = *opts;
    m->opts.charsmap = NULL;
    m->opts.charsmap_len = 0;
    m->n = n;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += (size_t)pp[i].len + 1;
    m->pieces = calloc(n ? n : 1, sizeof *m->pieces);
    m->blob = malloc(total ? total : 1);
    m->canon = malloc((n ? n : 1) * sizeof *m->canon);
    size_t slots = 16;
    while (slots < n * 2) slots *= 2;
    m->hslot = calloc(slots, sizeof *m->hslot);
    m->hmask = slots - 1;
    m->hent = malloc((n ? n : 1) * sizeof *m->hent);
    if (!m->pieces || !m->blob || !m->canon || !m->hslot || !m->hent || spm_trie_init(&m->trie, total)) {
        tok_fail(err, TOK_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    m->unk_id = -1;
    m->min_score = 3.402823466e+38f; /* FLT_MAX, as unigram_model.cc */
    m->max_score = 1.175494351e-38f; /* FLT_MIN (sic: the smallest positive float) */
    size_t off = 0;
    bool byte_found[256] = {false};
    for (size_t i = 0; i < n; i++) {
        const spm_proto_piece *p = &pp[i];
        if (p->len == 0) {
            tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: piece must not be empty", name, i);
            goto fail;
        }
        if (p->type < SPM_NORMAL || p->type > SPM_BYTE) {
            tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: invalid piece type %d", name, i, (int)p->type);
            goto fail;
        }
        memcpy(m->blob + off, p->piece, p->len);
        m->blob[off + p->len] = 0;
        m->pieces[i] = (spm_piece_rec){(uint32_t)off, p->len, p->score, p->type};
        const char *s = m->blob + off;
        off += (size_t)p->len + 1;
        bool normal = p->type == SPM_NORMAL || p->type == SPM_USER_DEFINED || p->type == SPM_UNUSED;
        uint64_t h = spm_hash(s, p->len);
        struct spm_hent *he = hfind(m, s, p->len, h);
        if (!he) {
            he = &m->hent[m->n_hent];
            *he = (struct spm_hent){m->pieces[i].off, p->len, -1, -1, h};
            size_t k = (size_t)h & m->hmask;
            while (m->hslot[k]) k = (k + 1) & m->hmask;
            m->hslot[k] = (uint32_t)++m->n_hent;
        }
        int32_t *slot = normal ? &he->normal : &he->reserved;
        if (*slot >= 0) {
            tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: \"%.*s\" is already defined", name, i,
                     (int)(p->len > 64 ? 64 : p->len), s);
            goto fail;
        }
        *slot = (int32_t)i;
        if (normal) {
            if (p->len > m->max_normal_len) m->max_normal_len = p->len;
            uint32_t node = 0;
            for (uint32_t k = 0; k < p->len; k++) node = spm_trie_add_edge(&m->trie, node, (unsigned char)s[k]);
            m->trie.value[node] = (int32_t)i;
        }
        if (p->type == SPM_USER_DEFINED) m->has_user_defined = true;
        if (p->type == SPM_UNUSED) m->has_unused = true;
        if (p->type == SPM_NORMAL) {
            if (p->score < m->min_score) m->min_score = p->score;
            if (p->score > m->max_score) m->max_score = p->score;
        }
        if (p->type == SPM_UNKNOWN) {
            if (m->unk_id >= 0) {
                tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: unk is already defined (pieces[%d])", name,
                         i, (int)m->unk_id);
                goto fail;
            }
            m->unk_id = (int32_t)i;
        }
        if (p->type == SPM_BYTE) {
            int b = parse_byte_piece(s, p->len);
            if (!opts->byte_fallback) {
                tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: byte piece %.*s is found although byte_fallback is false",
                         name, i, (int)p->len, s);
                goto fail;
            }
            if (b < 0) {
                tok_fail(err, TOK_EFORMAT, "%s: pieces[%zu]: byte piece \"%.*s\" is invalid", name, i,
                         (int)(p->len > 64 ? 64 : p->len), s);
                goto fail;
            }
            byte_found[b] = true;
        }
    }
    if (m->unk_id < 0) {
        if (opts->unk_id >= 0 && (size_t)opts->unk_id < n) {
            m->unk_id = opts->unk_id; /* GGUF vocabularies without an UNKNOWN-typed piece */
        } else {
            tok_fail(err, TOK_EFORMAT, "%s: unk is not defined (no piece of type UNKNOWN)", name);
            goto fail;
        }
    }
    if (opts->byte_fallback) {
        for (int b = 0; b < 256; b++)
            if (!byte_found[b]) {
                tok_fail(err, TOK_EFORMAT, "%s: byte_fallback is true but piece <0x%02X> is missing", name, b);
                goto fail;
            }
    }
    if (opts->model_type != SPM_BPE && opts->model_type != SPM_UNIGRAM) {
        tok_fail(err, TOK_EUNSUPPORTED, "%s: model_type %d (%s) is not supported (only UNIGRAM and BPE)", name,
                 opts->model_type, opts->model_type == SPM_WORD ? "WORD" : opts->model_type == SPM_CHAR ? "CHAR" : "unknown");
        goto fail;
    }
    spm_trie_compact(&m->trie);
    if (opts->model_type == SPM_BPE && (bigrams_build(m) || merges_build(m))) {
        tok_fail(err, TOK_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        m->byte_id[b] = spm_piece_to_id(m, buf, 6);
    }
    for (size_t i = 0; i < n; i++) m->canon[i] = spm_piece_to_id(m, m->blob + m->pieces[i].off, m->pieces[i].len);
    for (int b = 0; b < 128; b++) {
        char c = (char)b;
        m->ascii_id[b] = spm_piece_to_id(m, &c, 1);
    }
    m->unk_out_id = opts->unk_id == SPM_ID_AUTO ? special_id(m, sn->unk, sn->unk_len, SPM_UNKNOWN) : opts->unk_id;
    m->bos_id = opts->bos_id == SPM_ID_AUTO ? special_id(m, sn->bos, sn->bos_len, SPM_CONTROL) : opts->bos_id;
    m->eos_id = opts->eos_id == SPM_ID_AUTO ? special_id(m, sn->eos, sn->eos_len, SPM_CONTROL) : opts->eos_id;
    m->pad_id = opts->pad_id == SPM_ID_AUTO ? special_id(m, sn->pad, sn->pad_len, SPM_CONTROL) : opts->pad_id;
    m->opts.unk_id = m->unk_out_id;
    m->opts.bos_id = m->bos_id;
    m->opts.eos_id = m->eos_id;
    m->opts.pad_id = m->pad_id;
    m->unk_surface = malloc(sn->surface_len + 1);
    if (!m->unk_surface) {
        tok_fail(err, TOK_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    memcpy(m->unk_surface, sn->surface, sn->surface_len);
    m->unk_surface[sn->surface_len] = 0;
    m->unk_surface_len = sn->surface_len;
    if (opts->charsmap && opts->charsmap_len) {
        if (spm_charsmap_init(m, opts->charsmap, opts->charsmap_len, err)) {
            tok_error_prefix(err, "%s: normalizer_spec.precompiled_charsmap", name);
            goto fail;
        }
    }
    return m;
fail:
    spm_free(m);
    return NULL;
}

spm_model *spm_load(const char *data, size_t len, const char *name, tok_error *err) {
    spm_proto p;
    if (!name) name = "model";
    if (spm_proto_parse((const unsigned char *)data, len, name, &p, err)) return NULL;
    spm_options o = spm_default_options();
    o.model_type = p.model_type;
    o.add_dummy_prefix = p.add_dummy_prefix;
    o.remove_extra_whitespaces = p.remove_extra_whitespaces;
    o.escape_whitespaces = p.escape_whitespaces;
    o.treat_whitespace_as_suffix = p.treat_whitespace_as_suffix;
    o.byte_fallback = p.byte_fallback;
    o.split_digits = p.split_digits;
    o.charsmap = p.charsmap;
    o.charsmap_len = p.charsmap_len;
    special_names sn = {p.unk_piece, p.bos_piece, p.eos_piece, p.pad_piece, p.unk_surface,
                        p.unk_piece_len, p.bos_piece_len, p.eos_piece_len, p.pad_piece_len,
                        p.unk_surface_len};
    spm_model *m = NULL;
    if (p.denorm_charsmap_len) {
        /* SentencePiece runs a denormalizer over decoded text; no known model uses one. */
        tok_fail(err, TOK_EUNSUPPORTED, "%s: denormalizer_spec with a charsmap is not supported", name);
    } else {
        m = build(p.pieces, p.n_pieces, &o, &sn, name, err);
    }
    spm_proto_free(&p);
    return m;
}

spm_model *spm_load_file(const char *path, tok_error *err) {
    size_t len;
    char *data = tok_read_file(path, &len, err);
    if (!data) return NULL;
    const char *base = strrchr(path, '/');
    spm_model *m = spm_load(data, len, base ? base + 1 : path, err);
    free(data);
    return m;
}

spm_model *spm_from_vocab(const char *const *pieces, const float *scores, const int32_t *types,
                          size_t n, const spm_options *opts, tok_error *err) {
    spm_options o = opts ? *opts : spm_default_options();
    const char *name = "vocabulary";
    spm_proto_piece *pp = malloc((n ? n : 1) * sizeof *pp);
    if (!pp) {
        tok_fail(err, TOK_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    bool has_bytes = false;
    for (size_t i = 0; i < n; i++) {
        if (!pieces[i]) {
            free(pp);
            tok_fail(err, TOK_EINVAL, "%s: pieces[%zu] is NULL", name, i);
            return NULL;
        }
        size_t len = strlen(pieces[i]);
        if (len > UINT32_MAX) len = UINT32_MAX;
        pp[i] = (spm_proto_piece){pieces[i], (uint32_t)len, scores ? scores[i] : 0.0f,
                                  types ? types[i] : SPM_NORMAL};
        if (pp[i].type == SPM_BYTE) has_bytes = true;
    }
    if (!opts) o.byte_fallback = has_bytes;
    else if (has_bytes) o.byte_fallback = true; /* BYTE pieces are only legal with fallback on */
    special_names sn = {"<unk>", "<s>", "</s>", "<pad>", " \xE2\x81\x87 ", 5, 3, 4, 5, 5};
    spm_model *m = build(pp, n, &o, &sn, name, err);
    free(pp);
    return m;
}

void spm_free(spm_model *m) {
    if (!m) return;
    free(m->pieces);
    free(m->blob);
    free(m->canon);
    free(m->hslot);
    free(m->hent);
    spm_trie_free(&m->trie);
    free(m->charsmap_copy);
    free(m->unk_surface);
    free(m->bigram);
    free(m->bigram_used);
    free(m->merge);
    free(m);
}

size_t spm_vocab_size(const spm_model *m) { return m->n; }

const char *spm_piece(const spm_model *m, int32_t id, size_t *len) {
    if (id < 0 || (size_t)id >= m->n) return NULL;
    if (len) *len = m->pieces[id].len;
    return m->blob + m->pieces[id].off;
}

float spm_score(const spm_model *m, int32_t id) {
    return id < 0 || (size_t)id >= m->n ? 0.0f : m->pieces[id].score;
}

int spm_piece_type(const spm_model *m, int32_t id) {
    return id < 0 || (size_t)id >= m->n ? 0 : m->pieces[id].type;
}

int32_t spm_bos_id(const spm_model *m) { return m->bos_id; }
int32_t spm_eos_id(const spm_model *m) { return m->eos_id; }
int32_t spm_unk_id(const spm_model *m) { return m->unk_out_id; }
int32_t spm_pad_id(const spm_model *m) { return m->pad_id; }
int spm_model_type(const spm_model *m) { return m->opts.model_type; }
const spm_options *spm_model_options(const spm_model *m) { return &m->opts; }
