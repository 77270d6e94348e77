/*
 * SentencePiece encode and decode on top of the normalizer and segmenters.
 *
 * Encode = SentencePieceProcessor::Encode + PopulateSentencePieceText:
 * normalize, segment (BPE or Unigram), then for each piece: an unknown piece
 * becomes one <0xNN> id per byte when byte_fallback is on; otherwise a run of
 * consecutive unknown pieces collapses into one <unk> id. No BOS/EOS.
 *
 * Decode = SentencePieceProcessor::Decode(ids): each id goes to its piece and
 * back through PieceToId (so the type checks see what SentencePiece sees);
 * control pieces vanish, <unk> becomes unk_surface (" \u2047 "), runs of byte
 * pieces are reassembled and each invalid byte becomes U+FFFD, U+2581 becomes
 * ' '. The leading U+2581 of the first piece is dropped when add_dummy_prefix
 * or remove_extra_whitespaces is set; with remove_extra_whitespaces it keeps
 * being dropped from every piece until some text has been produced.
 *
 * Cost: linear after segmentation; scratch buffers are per call.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spm.h"

int spm_segs_push(spm_segs *s, uint32_t off, uint32_t len, int32_t id) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        spm_seg *v = realloc(s->v, cap * sizeof *v);
        if (!v) return TOK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (spm_seg){off, len, id};
    return 0;
}

int spm_encode(const spm_model *m, const char *text, size_t len, tok_ids *out, tok_error *err) {
    tok_bytes norm = {0};
    spm_segs segs = {0};
    int rc = spm_normalize(m, text, len, &norm);
    if (rc == 0 && norm.n > UINT32_MAX - 8) {
        tok_bytes_free(&norm);
        return tok_fail(err, TOK_EINVAL, "sentencepiece: text of %zu bytes is too long (4 GiB limit)", len);
    }
    if (rc == 0 && norm.n)
        rc = m->opts.model_type == SPM_BPE ? spm_bpe_segment(m, norm.data, norm.n, &segs)
                                           : spm_unigram_segment(m, norm.data, norm.n, &segs);
    if (rc == 0) rc = tok_ids_reserve(out, segs.n);
    bool prev_unk = false;
    for (size_t i = 0; rc == 0 && i < segs.n; i++) {
        const spm_seg *sg = &segs.v[i];
        int type = m->pieces[sg->id].type;
        bool unk = type == SPM_UNKNOWN;
        if (unk && m->opts.byte_fallback) {
            for (uint32_t k = 0; rc == 0 && k < sg->len; k++)
                rc = tok_ids_push(out, m->byte_id[(unsigned char)norm.data[sg->off + k]]);
        } else if (!(unk && prev_unk)) {
            rc = tok_ids_push(out, sg->id);
        }
        prev_unk = unk;
    }
    tok_bytes_free(&norm);
    free(segs.v);
    if (rc) return tok_fail(err, TOK_ENOMEM, "sentencepiece: out of memory encoding %zu bytes", len);
    return 0;
}

/* ProcessBytePieces: bytes -> UTF-8 characters, U+FFFD per invalid byte. */
static int flush_bytes(tok_bytes *out, const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = tok_utf8_decode(b + i, n - i, &cp);
        if (l > 0) {
            if (tok_bytes_append(out, b + i, (size_t)l)) return TOK_ENOMEM;
            i += (size_t)l;
        } else {
            if (tok_bytes_append(out, "\xef\xbf\xbd", 3)) return TOK_ENOMEM;
            i++;
        }
    }
    return 0;
}

static int append_unescaped(tok_bytes *out, const char *p, size_t len) {
    size_t run = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
            if (tok_bytes_append(out, p + i - run, run) || tok_bytes_append(out, " ", 1)) return TOK_ENOMEM;
            run = 0;
            i += 3;
        } else {
            run++;
            i++;
        }
    }
    return tok_bytes_append(out, p + len - run, run);
}

int spm_decode(const spm_model *m, const int32_t *ids, size_t n, tok_bytes *out, tok_error *err) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->n)
            return tok_fail(err, TOK_ERANGE, "sentencepiece: ids[%zu] = %d is outside the vocabulary (0..%zu)", i,
                            (int)ids[i], m->n - 1);
    if (tok_bytes_append(out, NULL, 0)) goto oom;
    size_t text_start = out->n;
    unsigned char *bytes = malloc(n ? n : 1);
    size_t nb = 0;
    if (!bytes) goto oom;
    bool is_bos_ws = true, bos_ws_seen = false;
    const spm_options *o = &m->opts;
    for (size_t i = 0; i < n; i++) {
        int32_t id = m->canon[ids[i]];
        const spm_piece_rec *pr = &m->pieces[id];
        const char *p = m->blob + pr->off;
        size_t len = pr->len;
        if (pr->type == SPM_BYTE) {
            int v = 0;
            for (int k = 3; k < 5; k++) v = v * 16 + (p[k] <= '9' ? p[k] - '0' : p[k] - 'A' + 10);
            bytes[nb++] = (unsigned char)v;
            continue;
        }
        if (flush_bytes(out, bytes, nb)) goto oom_free;
        nb = 0;
        if (bos_ws_seen || out->n > text_start) is_bos_ws = false;
        bos_ws_seen = false;
        if (pr->type == SPM_CONTROL) continue;
        if (pr->type == SPM_UNKNOWN) {
            if (tok_bytes_append(out, m->unk_surface, m->unk_surface_len)) goto oom_free;
            continue;
        }
        if (is_bos_ws && (o->add_dummy_prefix || o->remove_extra_whitespaces)) {
            if (len >= 3 && memcmp(p, "\xe2\x96\x81", 3) == 0) {
                p += 3;
                len -= 3;
                bos_ws_seen = !o->remove_extra_whitespaces;
            }
        }
        if (append_unescaped(out, p, len)) goto oom_free;
    }
    if (flush_bytes(out, bytes, nb)) goto oom_free;
    free(bytes);
    return 0;
oom_free:
    free(bytes);
oom:
    return tok_fail(err, TOK_ENOMEM, "sentencepiece: out of memory decoding");
}
