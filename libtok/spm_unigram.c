/*
 * SentencePiece Unigram segmentation: Viterbi over the piece lattice, as
 * unigram_model.cc's EncodeOptimized (the default encoder of 0.1.97).
 *
 * best[i] is the best path covering the first i bytes of the normalized text
 * (its score, the start of its last piece and that piece's id). For each
 * character start, walk the vocabulary trie along the text; every piece found
 * (UNUSED ones skipped) proposes best[start] + score to best[end]. If no piece
 * covers exactly the first character, an <unk> node of score
 * min_score - 10 covers it. Backtracking from the end gives the pieces.
 * User-defined pieces score length * max_score - 0.1 so they always win.
 *
 * Exactness: SentencePiece computes a candidate as a *double* (its ternary
 * mixes the double 0.1 in, so even plain scores are promoted), compares it
 * with the *float* stored in best[], and stores it rounded to float; the unk
 * candidate is pure float arithmetic. Ties keep the first proposal, i.e. the
 * longest last piece. All of this is reproduced, since ties and near-ties do
 * occur (runs of one character, equal-score pieces).
 *
 * Cost: O(n x longest piece) trie steps, O(n) memory (12 bytes per byte).
 */
#include <stdlib.h>

#include "internal.h"
#include "spm.h"

typedef struct best {
    float score;
    int32_t start; /* -1: not reached yet */
    int32_t id;
} best;

int spm_unigram_segment(const spm_model *m, const char *s, size_t len, spm_segs *out) {
    if (len == 0) return 0;
    if (len > INT32_MAX - 1) return TOK_ENOMEM;
    best *b = malloc((len + 1) * sizeof *b);
    if (!b) return TOK_ENOMEM;
    for (size_t i = 0; i <= len; i++) b[i] = (best){0.0f, -1, -1};
    const unsigned char *u = (const unsigned char *)s;
    const float unk_score = m->min_score - 10.0f;
    const float max_score = m->max_score;
    const spm_trie *t = &m->trie;
    for (size_t start = 0; start < len;) {
        const float here = b[start].score;
        size_t mblen = spm_one_char_len(u[start]);
        if (mblen > len - start) mblen = len - start;
        bool has_single = false;
        uint32_t node = 0;
        for (size_t k = start; k < len;) {
            node = spm_trie_step(t, node, u[k++]);
            if (!node) break;
            int32_t id = t->value[node];
            if (id < 0) continue;
            int type = m->pieces[id].type;
            if (type == SPM_UNUSED) continue;
            size_t length = k - start;
            double score = type == SPM_USER_DEFINED ? (double)((float)length * max_score) - 0.1
                                                    : (double)m->pieces[id].score;
            double cand = score + (double)here;
            best *tg = &b[k];
            if (tg->start == -1 || cand > (double)tg->score) {
                tg->score = (float)cand;
                tg->start = (int32_t)start;
                tg->id = id;
            }
            if (length == mblen) has_single = true;
        }
        if (!has_single) {
            best *tg = &b[start + mblen];
            float cand = unk_score + here;
            if (tg->start == -1 || cand > tg->score) {
                tg->score = cand;
                tg->start = (int32_t)start;
                tg->id = m->unk_id;
            }
        }
        start += mblen;
    }
    /* backtrack, then reverse the appended run in place */
    size_t first = out->n;
    int rc = 0;
    for (size_t end = len; end > 0;) {
        if (b[end].start < 0 || (size_t)b[end].start >= end) break; /* cannot happen: every char is covered */
        size_t st = (size_t)b[end].start;
        if (spm_segs_push(out, (uint32_t)st, (uint32_t)(end - st), b[end].id)) {
            rc = TOK_ENOMEM;
            break;
        }
        end = st;
    }
    for (size_t i = first, j = out->n ? out->n - 1 : 0; i < j; i++, j--) {
        spm_seg tmp = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = tmp;
    }
    free(b);
    return rc;
}
