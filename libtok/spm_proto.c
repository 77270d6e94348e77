/*
 * A hand-written reader for SentencePiece's ModelProto (sentencepiece_model.proto).
 *
 * Why hand-written: there is no well-kept C protobuf library in Debian that we
 * could depend on for this (protobuf-c needs generated code and a runtime for a
 * schema we read a dozen fields of), and the wire format is small: varints,
 * fixed32/fixed64 and length-delimited fields. We read only what encoding and
 * decoding need and skip every other field, as protobuf parsers do.
 *
 * Safety: every read is checked against the end of the enclosing message, so
 * truncated files, absurd lengths, wrong wire types, overlong varints and
 * groups give an error naming the byte offset and the field, never a read
 * outside the buffer. Strings are not copied: they point into the caller's
 * buffer. Cost: one pass over the file, O(size); the only allocation is the
 * growing pieces array.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "spm.h"

typedef struct cursor {
    const unsigned char *buf; /* whole file */
    size_t pos;
    const char *name;
    tok_error *err;
} cursor;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

/* "name: offset N: [what ]field F: message" (the field part only when known). */
__attribute__((format(printf, 5, 6)))
static int fail_at(cursor *c, size_t pos, const char *what, unsigned field, const char *fmt, ...) {
    char tail[200], fld[96] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    if (field) snprintf(fld, sizeof fld, "%s%sfield %u: ", what ? what : "", what && *what ? " " : "", field);
    else if (what && *what) snprintf(fld, sizeof fld, "%s ", what);
    return tok_fail(c->err, TOK_EFORMAT, "%s: offset %zu: %s%s", c->name, pos, fld, tail);
}

static int read_varint(cursor *c, size_t end, uint64_t *out, const char *what, unsigned field) {
    uint64_t v = 0;
    size_t start = c->pos;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->pos >= end)
            return fail_at(c, start, what, field, "truncated varint");
        unsigned char b = c->buf[c->pos++];
        if (shift == 63 && (b & 0x7e))
            return fail_at(c, start, what, field, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail_at(c, start, what, field, "varint longer than 10 bytes");
}

/* Reads a key; field 0 and wire types 6/7 are invalid. */
static int read_key(cursor *c, size_t end, unsigned *field, int *wt, const char *what) {
    size_t start = c->pos;
    uint64_t k;
    if (read_varint(c, end, &k, what, 0)) return TOK_EFORMAT;
    *wt = (int)(k & 7);
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff)
        return fail_at(c, start, what, 0, "invalid field number %llu", (unsigned long long)(k >> 3));
    *field = (unsigned)(k >> 3);
    if (*wt > 5) return fail_at(c, start, what, *field, "invalid wire type %llu", (unsigned long long)(*wt));
    return 0;
}

static const char *wt_name(int wt) {
    static const char *names[] = {"varint", "fixed64", "length-delimited",
                                  "group start", "group end", "fixed32"};
    return wt >= 0 && wt <= 5 ? names[wt] : "?";
}

static int expect_wt(cursor *c, size_t key_pos, unsigned field, int wt, int want, const char *what) {
    if (wt == want) return 0;
    return fail_at(c, key_pos, what, field, "wire type %s, expected %s", wt_name(wt), wt_name(want));
}

/* Length-delimited payload: returns its bounds after checking they fit. */
static int read_len(cursor *c, size_t end, unsigned field, const char *what, size_t *b, size_t *e) {
    size_t start = c->pos;
    uint64_t n;
    if (read_varint(c, end, &n, what, field)) return TOK_EFORMAT;
    if (n > end - c->pos)
        return fail_at(c, start, what, field, "length %llu exceeds the message (%llu bytes left)",
                       (unsigned long long)n, (unsigned long long)(end - c->pos));
    *b = c->pos;
    *e = c->pos + (size_t)n;
    c->pos = *e;
    return 0;
}

static int skip_field(cursor *c, size_t end, unsigned field, int wt, const char *what) {
    size_t start = c->pos, b, e;
    uint64_t v;
    switch (wt) {
    case WT_VARINT: return read_varint(c, end, &v, what, field);
    case WT_I64:
    case WT_I32: {
        size_t n = wt == WT_I64 ? 8 : 4;
        if (end - c->pos < n) return fail_at(c, start, what, field, "truncated fixed%llu value", (unsigned long long)(n * 8));
        c->pos += n;
        return 0;
    }
    case WT_LEN: return read_len(c, end, field, what, &b, &e);
    default: return fail_at(c, start, what, field, "groups are not supported (wire type %llu)", (unsigned long long)(wt));
    }
}

/* Typed readers: check the wire type, then read. */
static int get_varint(cursor *c, size_t end, size_t kp, unsigned f, int wt, const char *what, uint64_t *v) {
    if (expect_wt(c, kp, f, wt, WT_VARINT, what)) return TOK_EFORMAT;
    return read_varint(c, end, v, what, f);
}

static int get_bool(cursor *c, size_t end, size_t kp, unsigned f, int wt, const char *what, bool *out) {
    uint64_t v;
    if (get_varint(c, end, kp, f, wt, what, &v)) return TOK_EFORMAT;
    *out = v != 0;
    return 0;
}

static int get_int32(cursor *c, size_t end, size_t kp, unsigned f, int wt, const char *what, int32_t *out) {
    uint64_t v;
    if (get_varint(c, end, kp, f, wt, what, &v)) return TOK_EFORMAT;
    *out = (int32_t)(uint32_t)v; /* protobuf int32: negative values are sign-extended 64-bit */
    return 0;
}

static int get_bytes(cursor *c, size_t end, size_t kp, unsigned f, int wt, const char *what,
                     const char **s, uint32_t *len) {
    size_t b, e;
    if (expect_wt(c, kp, f, wt, WT_LEN, what)) return TOK_EFORMAT;
    if (read_len(c, end, f, what, &b, &e)) return TOK_EFORMAT;
    if (e - b > UINT32_MAX) return fail_at(c, kp, what, f, "string too long");
    *s = (const char *)c->buf + b;
    *len = (uint32_t)(e - b);
    return 0;
}

static int parse_piece(cursor *c, size_t end, spm_proto_piece *pc) {
    const char *what = "pieces:";
    while (c->pos < end) {
        size_t kp = c->pos;
        unsigned f;
        int wt;
        if (read_key(c, end, &f, &wt, what)) return TOK_EFORMAT;
        if (f == 1) {
            if (get_bytes(c, end, kp, f, wt, what, &pc->piece, &pc->len)) return TOK_EFORMAT;
        } else if (f == 2) {
            if (expect_wt(c, kp, f, wt, WT_I32, what)) return TOK_EFORMAT;
            if (end - c->pos < 4) return fail_at(c, kp, what, f, "truncated float");
            uint32_t u = (uint32_t)c->buf[c->pos] | (uint32_t)c->buf[c->pos + 1] << 8 |
                         (uint32_t)c->buf[c->pos + 2] << 16 | (uint32_t)c->buf[c->pos + 3] << 24;
            memcpy(&pc->score, &u, 4);
            c->pos += 4;
        } else if (f == 3) {
            if (get_int32(c, end, kp, f, wt, what, &pc->type)) return TOK_EFORMAT;
        } else if (skip_field(c, end, f, wt, what)) {
            return TOK_EFORMAT;
        }
    }
    return 0;
}

static int parse_trainer(cursor *c, size_t end, spm_proto *p) {
    const char *what = "trainer_spec:";
    while (c->pos < end) {
        size_t kp = c->pos;
        unsigned f;
        int wt, rc = 0;
        if (read_key(c, end, &f, &wt, what)) return TOK_EFORMAT;
        switch (f) {
        case 3: rc = get_int32(c, end, kp, f, wt, what, &p->model_type); break;
        case 4: rc = get_int32(c, end, kp, f, wt, what, &p->vocab_size); break;
        case 20: rc = get_int32(c, end, kp, f, wt, what, &p->max_sentencepiece_length); break;
        case 21: rc = get_bool(c, end, kp, f, wt, what, &p->split_by_unicode_script); break;
        case 22: rc = get_bool(c, end, kp, f, wt, what, &p->split_by_whitespace); break;
        case 23: rc = get_bool(c, end, kp, f, wt, what, &p->split_by_number); break;
        case 24: rc = get_bool(c, end, kp, f, wt, what, &p->treat_whitespace_as_suffix); break;
        case 25: rc = get_bool(c, end, kp, f, wt, what, &p->split_digits); break;
        case 26: rc = get_bool(c, end, kp, f, wt, what, &p->allow_whitespace_only_pieces); break;
        case 35: rc = get_bool(c, end, kp, f, wt, what, &p->byte_fallback); break;
        case 40: rc = get_int32(c, end, kp, f, wt, what, &p->unk_id); break;
        case 41: rc = get_int32(c, end, kp, f, wt, what, &p->bos_id); break;
        case 42: rc = get_int32(c, end, kp, f, wt, what, &p->eos_id); break;
        case 43: rc = get_int32(c, end, kp, f, wt, what, &p->pad_id); break;
        case 44:
            rc = get_bytes(c, end, kp, f, wt, what, &p->unk_surface, &p->unk_surface_len);
            p->has_unk_surface = true;
            break;
        case 45: rc = get_bytes(c, end, kp, f, wt, what, &p->unk_piece, &p->unk_piece_len); break;
        case 46: rc = get_bytes(c, end, kp, f, wt, what, &p->bos_piece, &p->bos_piece_len); break;
        case 47: rc = get_bytes(c, end, kp, f, wt, what, &p->eos_piece, &p->eos_piece_len); break;
        case 48: rc = get_bytes(c, end, kp, f, wt, what, &p->pad_piece, &p->pad_piece_len); break;
        default: rc = skip_field(c, end, f, wt, what);
        }
        if (rc) return TOK_EFORMAT;
    }
    return 0;
}

static int parse_normalizer(cursor *c, size_t end, spm_proto *p, bool denorm) {
    const char *what = denorm ? "denormalizer_spec:" : "normalizer_spec:";
    while (c->pos < end) {
        size_t kp = c->pos;
        unsigned f;
        int wt, rc = 0;
        if (read_key(c, end, &f, &wt, what)) return TOK_EFORMAT;
        if (denorm) {
            const char *s;
            if (f == 2) rc = get_bytes(c, end, kp, f, wt, what, &s, &p->denorm_charsmap_len);
            else rc = skip_field(c, end, f, wt, what);
            if (rc) return TOK_EFORMAT;
            continue;
        }
        switch (f) {
        case 1: rc = get_bytes(c, end, kp, f, wt, what, &p->norm_name, &p->norm_name_len); break;
        case 2: rc = get_bytes(c, end, kp, f, wt, what, &p->charsmap, &p->charsmap_len); break;
        case 3: rc = get_bool(c, end, kp, f, wt, what, &p->add_dummy_prefix); break;
        case 4: rc = get_bool(c, end, kp, f, wt, what, &p->remove_extra_whitespaces); break;
        case 5: rc = get_bool(c, end, kp, f, wt, what, &p->escape_whitespaces); break;
        default: rc = skip_field(c, end, f, wt, what);
        }
        if (rc) return TOK_EFORMAT;
    }
    return 0;
}

static void set_defaults(spm_proto *p) {
    memset(p, 0, sizeof *p);
    /* proto2 defaults from sentencepiece_model.proto */
    p->model_type = SPM_UNIGRAM;
    p->vocab_size = 8000;
    p->max_sentencepiece_length = 16;
    p->split_by_unicode_script = p->split_by_number = p->split_by_whitespace = true;
    p->unk_id = 0;
    p->bos_id = 1;
    p->eos_id = 2;
    p->pad_id = -1;
    p->unk_piece = "<unk>";
    p->unk_piece_len = 5;
    p->bos_piece = "<s>";
    p->bos_piece_len = 3;
    p->eos_piece = "</s>";
    p->eos_piece_len = 4;
    p->pad_piece = "<pad>";
    p->pad_piece_len = 5;
    p->unk_surface = " \xE2\x81\x87 ";
    p->unk_surface_len = 5;
    p->add_dummy_prefix = p->remove_extra_whitespaces = p->escape_whitespaces = true;
}

int spm_proto_parse(const unsigned char *data, size_t len, const char *name, spm_proto *p,
                    tok_error *err) {
    set_defaults(p);
    cursor c = {data, 0, name ? name : "model", err};
    while (c.pos < len) {
        size_t kp = c.pos, b, e;
        unsigned f;
        int wt;
        if (read_key(&c, len, &f, &wt, "")) goto fail;
        if (f >= 1 && f <= 3) {
            if (expect_wt(&c, kp, f, wt, WT_LEN, "")) goto fail;
            if (read_len(&c, len, f, NULL, &b, &e)) goto fail;
            cursor sub = c;
            sub.pos = b;
            if (f == 1) {
                if (p->n_pieces == p->cap_pieces) {
                    size_t cap = p->cap_pieces ? p->cap_pieces * 2 : 1024;
                    spm_proto_piece *np = realloc(p->pieces, cap * sizeof *np);
                    if (!np) {
                        tok_fail(err, TOK_ENOMEM, "%s: out of memory", c.name);
                        goto fail;
                    }
                    p->pieces = np;
                    p->cap_pieces = cap;
                }
                spm_proto_piece *pc = &p->pieces[p->n_pieces++];
                pc->piece = "";
                pc->len = 0;
                pc->score = 0;
                pc->type = SPM_NORMAL;
                if (parse_piece(&sub, e, pc)) goto fail;
            } else if (f == 2) {
                if (parse_trainer(&sub, e, p)) goto fail;
            } else {
                if (parse_normalizer(&sub, e, p, false)) goto fail;
            }
        } else if (f == 5 && wt == WT_LEN) {
            if (read_len(&c, len, f, NULL, &b, &e)) goto fail;
            cursor sub = c;
            sub.pos = b;
            if (parse_normalizer(&sub, e, p, true)) goto fail;
        } else if (skip_field(&c, len, f, wt, NULL)) {
            goto fail;
        }
    }
    if (p->n_pieces == 0) {
        tok_fail(err, TOK_EFORMAT, "%s: no pieces (not a SentencePiece model?)", c.name);
        goto fail;
    }
    return 0;
fail:
    spm_proto_free(p);
    return TOK_EFORMAT;
}

void spm_proto_free(spm_proto *p) {
    free(p->pieces);
    p->pieces = NULL;
    p->n_pieces = p->cap_pieces = 0;
}
