/*
 * SentencePiece models inside libtok (private header).
 *
 * Two ways in:
 *   spm_load()       parses a SentencePiece `.model` file (ModelProto protobuf);
 *   spm_from_vocab() builds the same model from parallel arrays of pieces,
 *                    scores and types plus options, which is what a GGUF
 *                    `tokenizer.ggml.*` vocabulary carries.
 * Both give an immutable spm_model: any number of threads may call
 * spm_encode/spm_decode on it at once (all scratch memory is per call).
 *
 * spm_encode reproduces SentencePieceProcessor::Encode(text) of SentencePiece
 * 0.1.97 id for id (normalizer, BPE or Unigram, byte fallback, merging of
 * unknown runs) and never adds BOS/EOS; spm_decode reproduces
 * DecodeIds(ids).
 *
 * The part below "implementation" is shared by the spm_*.c files only.
 */
#ifndef TOK_SPM_H
#define TOK_SPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tok.h"

typedef struct spm_model spm_model;

/* Piece types, numbered as in sentencepiece_model.proto (and GGUF token_type). */
enum spm_piece_type {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6
};

enum spm_model_type { SPM_UNIGRAM = 1, SPM_BPE = 2, SPM_WORD = 3, SPM_CHAR = 4 };

/* "derive it the way SentencePiece does" (look the piece name up) */
#define SPM_ID_AUTO (-2)

typedef struct spm_options {
    int model_type;                  /* SPM_BPE or SPM_UNIGRAM */
    bool add_dummy_prefix;           /* default true */
    bool remove_extra_whitespaces;   /* default false for GGUF llama vocabularies */
    bool escape_whitespaces;         /* ' ' -> U+2581; default true */
    bool treat_whitespace_as_suffix; /* default false */
    bool byte_fallback;              /* default: true iff the vocab has <0xNN> BYTE pieces */
    bool split_digits;               /* recorded only: it shapes training, not encoding */
    /* Optional precompiled charsmap (NULL = identity normalization). */
    const void *charsmap;
    size_t charsmap_len;
    /* Special ids; SPM_ID_AUTO looks up "<unk>", "<s>", "</s>", "<pad>" as
     * SentencePieceProcessor::bos_id() etc. do. -1 = none. */
    int32_t unk_id, bos_id, eos_id, pad_id;
} spm_options;

/* Defaults for a GGUF llama vocabulary: BPE, dummy prefix, identity
 * normalization, whitespace kept, escape on, byte_fallback auto-detected. */
spm_options spm_default_options(void);

/* Parses a .model file held in memory. name_for_errors prefixes every message
 * ("x.model: offset 1234: field 1: length 99999999 exceeds the message"). */
spm_model *spm_load(const char *data, size_t len, const char *name_for_errors, tok_error *err);
spm_model *spm_load_file(const char *path, tok_error *err);

/* Builds a model from n pieces (NUL-terminated UTF-8), their scores and types
 * (enum spm_piece_type; NULL types = all NORMAL; NULL scores = all 0). The
 * arrays are copied. opts NULL = spm_default_options(). */
spm_model *spm_from_vocab(const char *const *pieces, const float *scores, const int32_t *types,
                          size_t n, const spm_options *opts, tok_error *err);

void spm_free(spm_model *m);

/* Appends the ids of text[0..len) to out: SentencePiece's encode(text), no
 * BOS/EOS. Invalid UTF-8 bytes become U+FFFD, as in SentencePiece. */
int spm_encode(const spm_model *m, const char *text, size_t len, tok_ids *out, tok_error *err);

/* Appends DecodeIds(ids) to out (NUL-terminated). Ids outside the vocabulary
 * fail with TOK_ERANGE. Control pieces decode to nothing, <unk> to
 * unk_surface (" \u2047 " by default). */
int spm_decode(const spm_model *m, const int32_t *ids, size_t n, tok_bytes *out, tok_error *err);

size_t spm_vocab_size(const spm_model *m);
/* The piece's bytes (NUL-terminated too) or NULL for an id out of range. */
const char *spm_piece(const spm_model *m, int32_t id, size_t *len);
float spm_score(const spm_model *m, int32_t id);
int spm_piece_type(const spm_model *m, int32_t id); /* 0 if out of range */
/* SentencePieceProcessor::PieceToId: -1 when the piece is not in the vocabulary
 * (SentencePiece itself would answer unk_id). */
int32_t spm_piece_id(const spm_model *m, const char *bytes, size_t len);
int32_t spm_bos_id(const spm_model *m); /* -1 when the model has none */
int32_t spm_eos_id(const spm_model *m);
int32_t spm_unk_id(const spm_model *m);
int32_t spm_pad_id(const spm_model *m);
int spm_model_type(const spm_model *m);
/* The options in effect (as parsed from the .model or given). charsmap points
 * into the model. */
const spm_options *spm_model_options(const spm_model *m);

/* ===================== implementation (spm_*.c only) ===================== */

/* Raw contents of a ModelProto, as read by spm_proto.c. Strings point into
 * the file buffer (not NUL-terminated). */
typedef struct spm_proto_piece {
    const char *piece;
    uint32_t len;
    float score;
    int32_t type;
} spm_proto_piece;

typedef struct spm_proto {
    spm_proto_piece *pieces;
    size_t n_pieces, cap_pieces;
    /* trainer_spec */
    int32_t model_type, vocab_size, max_sentencepiece_length;
    bool byte_fallback, split_digits, split_by_whitespace, split_by_unicode_script,
        split_by_number, treat_whitespace_as_suffix, allow_whitespace_only_pieces;
    int32_t unk_id, bos_id, eos_id, pad_id;
    const char *unk_piece, *bos_piece, *eos_piece, *pad_piece, *unk_surface;
    uint32_t unk_piece_len, bos_piece_len, eos_piece_len, pad_piece_len, unk_surface_len;
    bool has_unk_surface;
    /* normalizer_spec */
    const char *norm_name;
    uint32_t norm_name_len;
    const char *charsmap;
    uint32_t charsmap_len;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    /* denormalizer_spec */
    uint32_t denorm_charsmap_len;
} spm_proto;

/* Fills p (freed with spm_proto_free) or fails with a message naming the
 * byte offset and field. */
int spm_proto_parse(const unsigned char *data, size_t len, const char *name, spm_proto *p,
                    tok_error *err);
void spm_proto_free(spm_proto *p);

/* Darts-clone double array (the layout SentencePiece stores charsmaps in). */
typedef struct spm_darts {
    const uint32_t *units;
    size_t n;
} spm_darts;

/* Byte trie of the vocabulary (NORMAL, USER_DEFINED, UNUSED pieces): an
 * open-addressing hash of edges (node, byte) -> child. */
typedef struct spm_trie {
    uint64_t *keys;  /* (parent << 8 | byte) + 1; 0 = empty slot */
    uint32_t *child; /* node id of the edge's target */
    size_t mask;     /* slots - 1 */
    /* After spm_trie_compact (tries of < 2^24 nodes): one 8-byte slot per
     * edge, key << 32 | child with key = (parent << 8 | byte) + 1, at a load
     * of at most 0.7: half the memory and one load per step. keys/child are
     * then freed. */
    uint64_t *edges;
    size_t edge_mask;
    unsigned edge_bits;
    int32_t *value;  /* per node: piece id or -1 */
    size_t n_nodes, cap_nodes;
    uint32_t root_child[256]; /* fast path for the first byte; 0 = none */
} spm_trie;

typedef struct spm_piece_rec {
    uint32_t off, len; /* into spm_model.blob */
    float score;
    int32_t type;
} spm_piece_rec;

struct spm_model {
    spm_options opts;
    size_t n;
    spm_piece_rec *pieces;
    char *blob; /* piece bytes, each NUL-terminated */
    /* string -> ids: normal (NORMAL/USER_DEFINED/UNUSED) and reserved (others) */
    uint32_t *hslot; /* entry index + 1, 0 = empty */
    size_t hmask;
    struct spm_hent { uint32_t off, len; int32_t normal, reserved; uint64_t h; } *hent;
    size_t n_hent;
    spm_trie trie;
    int32_t unk_id;      /* the UNKNOWN piece used while encoding */
    int32_t bos_id, eos_id, unk_out_id, pad_id; /* as the processor reports them */
    int32_t byte_id[256]; /* <0xNN> pieces, or unk */
    int32_t *canon;      /* decode: PieceToId(IdToPiece(id)) */
    bool has_user_defined, has_unused;
    uint32_t max_normal_len; /* longest NORMAL/USER_DEFINED/UNUSED piece, bytes */
    /* Adjacent character pairs occurring inside normal pieces (BPE only). A
     * boundary between two characters that form no such pair can never be
     * merged across, so BPE runs on the pieces of text between such
     * boundaries independently (same result, cache-sized heaps). */
    uint64_t *bigram;
    unsigned char *bigram_used;
    size_t bigram_mask;
    bool bigram_ok; /* false: some piece is not whole characters; no splitting */
    uint64_t ascii_bigram[(129 * 129 + 63) / 64]; /* the same for ASCII and U+2581 (code 128): bit a*129+b */
    /* BPE merge candidates: the normal pieces of at most 255 bytes with their
     * score order, in slots that hold the first 8 bytes, so a lookup of a
     * short string touches one slot and nothing else (spm_merge_find). */
    struct spm_merge_slot { uint64_t w; uint32_t score_key; uint32_t id_len; } *merge; /* id << 8 | len; 0 = empty */
    size_t merge_mask;
    int32_t ascii_id[128]; /* PieceToId of each one-byte string */
    float min_score, max_score; /* over NORMAL pieces, as unigram_model.cc */
    char *charsmap_copy; /* owned: units (host order), strings, then the raw blob */
    spm_darts darts;
    const char *norm_strings; /* NUL-separated replacement strings */
    size_t norm_strings_len;
    char *unk_surface;
    size_t unk_surface_len;
};

/* spm_model.c */
uint64_t spm_hash(const char *s, size_t len);
/* Id of the NORMAL/USER_DEFINED/UNUSED piece equal to s, or -1. */
int32_t spm_lookup_normal(const spm_model *m, const char *s, size_t len, uint64_t h);
/* PieceToId with SentencePiece's fallback to unk_id. */
int32_t spm_piece_to_id(const spm_model *m, const char *s, size_t len);
/* Child of node by byte b in the vocabulary trie, 0 if none (0 is the root,
 * never a child). */
static inline uint32_t spm_trie_step(const spm_trie *t, uint32_t node, unsigned char b) {
    if (node == 0) return t->root_child[b];
    if (t->edges) {
        uint32_t key = (node << 8 | b) + 1;
        for (size_t i = (size_t)((key * 0x9E3779B1u) >> (32 - t->edge_bits));; i = (i + 1) & t->edge_mask) {
            uint64_t e = t->edges[i];
            if ((uint32_t)(e >> 32) == key) return (uint32_t)e;
            if (!e) return 0;
        }
    }
    uint64_t key = (((uint64_t)node << 8) | b) + 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & t->mask;
    for (;;) {
        if (t->keys[i] == key) return t->child[i];
        if (t->keys[i] == 0) return 0;
        i = (i + 1) & t->mask;
    }
}

/* Building a trie (also used for tokenizer.json Unigram vocabularies):
 * init for at most max_edges edges (the total bytes of the strings to add
 * bounds it), then add each string byte by byte from node 0 and set
 * value[last node]. Adding never allocates. */
int spm_trie_init(spm_trie *t, size_t max_edges);
uint32_t spm_trie_add_edge(spm_trie *t, uint32_t node, unsigned char b);
/* Repacks the edges into t->edges once every string is added (no more
 * spm_trie_add_edge after it). Out of memory or too many nodes: the trie
 * simply stays as built. */
void spm_trie_compact(spm_trie *t);
void spm_trie_free(spm_trie *t);

/* Whether the characters a (la bytes) and b (lb bytes) occur next to each
 * other inside some normal piece. */
bool spm_bigram_in_vocab_slow(const spm_model *m, const char *a, size_t la, const char *b, size_t lb);
/* 0..127 for an ASCII character, 128 for U+2581, -1 for any other. */
static inline int spm_small_char(const char *c, size_t len) {
    if (len == 1) return (unsigned char)c[0] < 0x80 ? (unsigned char)c[0] : -1;
    return len == 3 && memcmp(c, "\xe2\x96\x81", 3) == 0 ? 128 : -1;
}
static inline bool spm_bigram_in_vocab(const spm_model *m, const char *a, size_t la, const char *b, size_t lb) {
    int x = spm_small_char(a, la), y = spm_small_char(b, lb);
    if ((x | y) >= 0) {
        unsigned k = (unsigned)x * 129u + (unsigned)y;
        return (m->ascii_bigram[k >> 6] >> (k & 63)) & 1;
    }
    return spm_bigram_in_vocab_slow(m, a, la, b, lb);
}

/* A float's rank in descending score order (-0 == +0): smaller = better. */
static inline uint32_t spm_score_key(float f) {
    uint32_t u;
    if (f == 0.0f) f = 0.0f;
    memcpy(&u, &f, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending in f */
    return ~u;
}

/* Slot hash of a merge candidate (w: its first min(len, 8) bytes). */
static inline uint64_t spm_merge_hash(const char *s, size_t len, uint64_t w) {
    if (len > 8) return spm_hash(s, len);
    uint64_t h = (w ^ len) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* The normal piece equal to s[0..len) with its score key, or -1. */
static inline int32_t spm_merge_find(const spm_model *m, const char *s, size_t len, uint32_t *score_key) {
    if (len > 255 || !m->merge) {
        int32_t id = spm_lookup_normal(m, s, len, spm_hash(s, len));
        if (id >= 0) *score_key = spm_score_key(m->pieces[id].score);
        return id;
    }
    uint64_t w = 0;
    memcpy(&w, s, len < 8 ? len : 8);
    for (size_t i = (size_t)spm_merge_hash(s, len, w) & m->merge_mask;; i = (i + 1) & m->merge_mask) {
        const struct spm_merge_slot *e = &m->merge[i];
        if (!e->id_len) return -1;
        if (e->w != w || (e->id_len & 255) != len) continue;
        int32_t id = (int32_t)(e->id_len >> 8);
        if (len > 8 && memcmp(m->blob + m->pieces[id].off + 8, s + 8, len - 8) != 0) continue;
        *score_key = e->score_key;
        return id;
    }
}

/* spm_normalize.c */
int spm_charsmap_init(spm_model *m, const void *data, size_t len, tok_error *err);
/* SentencePiece's Normalizer::Normalize; appends to out. */
int spm_normalize(const spm_model *m, const char *text, size_t len, tok_bytes *out);
/* The replacement of the shortest charsmap key that is a prefix of text
 * (Hugging Face's Precompiled normalizer looks keys up this way), or NULL. */
const char *spm_charsmap_shortest(const spm_model *m, const char *text, size_t len, size_t *rep_len);

/* spm_bpe.c / spm_unigram.c: raw segmentation of normalized text into
 * (offset, length, id) triples, before byte fallback and unknown merging. */
typedef struct spm_seg {
    uint32_t off, len;
    int32_t id;
} spm_seg;
typedef struct spm_segs {
    spm_seg *v;
    size_t n, cap;
} spm_segs;
int spm_segs_push(spm_segs *s, uint32_t off, uint32_t len, int32_t id);
int spm_bpe_segment(const spm_model *m, const char *s, size_t len, spm_segs *out);
int spm_unigram_segment(const spm_model *m, const char *s, size_t len, spm_segs *out);

/* SentencePiece's OneCharLen: length from the lead byte only. */
static inline size_t spm_one_char_len(unsigned char c) {
    return (size_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4];
}

#endif
