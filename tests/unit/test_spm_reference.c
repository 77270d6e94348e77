/*
 * SentencePiece exactness: every reference record made by SentencePiece 0.1.97
 * must match - ids of encode(text), decode(ids) (the `decoded` field, or the
 * text itself), and for dev_special.jsonl [bos] + ids + [eos], the pieces and
 * the decoded text. Runs the compact copies in tests/data/spm/ always and the
 * full references in $SHARED/reference/ when present. Each model is also
 * rebuilt with spm_from_vocab (the GGUF path) from its own pieces and options
 * and must encode every record the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "spm.h"
#include "test_spm_jsonl.h"

static const char *models[] = {"spm_bpe8k_bytefallback", "spm_bpe8k_llamastyle", "spm_llama2",
                               "spm_unigram8k_nfkc", "spm_unigram8k_identity_digits",
                               /* small models made by tests/data/spm/make_extra.py: user-defined
                                  and control symbols, UNUSED pieces, nfkc_cf, whitespace as
                                  suffix, no dummy prefix; dev.jsonl only */
                               "extra_bpe_user", "extra_bpe_user_unused", "extra_uni_user",
                               "extra_uni_suffix", "extra_uni_suffix_unused", "extra_bpe_nodummy"};

static int verbose_left = 12; /* print the first few mismatches in full */

static void show_ids(const char *what, const int32_t *v, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", v[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static spm_model *rebuild(const spm_model *m) {
    size_t n = spm_vocab_size(m);
    const char **pieces = malloc(n * sizeof *pieces);
    float *scores = malloc(n * sizeof *scores);
    int32_t *types = malloc(n * sizeof *types);
    for (size_t i = 0; i < n; i++) {
        pieces[i] = spm_piece(m, (int32_t)i, NULL);
        scores[i] = spm_score(m, (int32_t)i);
        types[i] = spm_piece_type(m, (int32_t)i);
    }
    spm_options o = *spm_model_options(m);
    o.unk_id = o.bos_id = o.eos_id = o.pad_id = SPM_ID_AUTO;
    tok_error err = {0};
    spm_model *r = spm_from_vocab(pieces, scores, types, n, &o, &err);
    if (!r) fprintf(stderr, "spm_from_vocab: %s\n", err.msg);
    free(pieces);
    free(scores);
    free(types);
    return r;
}

/* Returns the number of records that passed; *total gets the count. */
static size_t run_file(const spm_model *m, const spm_model *rebuilt, const char *path, int special,
                       size_t *total) {
    size_t len;
    tok_error err = {0};
    char *data = tok_read_file(path, &len, &err);
    *total = 0;
    if (!data) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    size_t passed = 0;
    for (char *p = data, *end = data + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        jrec r;
        if (le > p && jrec_parse(p, le, &r) == 0) {
            ++*total;
            int ok = 1;
            tok_ids ids = {0}, ids2 = {0};
            tok_bytes dec = {0};
            if (spm_encode(m, r.text.s, r.text.n, &ids, &err)) ok = 0;
            const int32_t *want = r.ids;
            size_t want_n = r.n_ids;
            if (special) {
                /* [bos] + ids + [eos] */
                tok_ids full = {0};
                tok_ids_push(&full, spm_bos_id(m));
                for (size_t i = 0; i < ids.n; i++) tok_ids_push(&full, ids.ids[i]);
                tok_ids_push(&full, spm_eos_id(m));
                tok_ids_free(&ids);
                ids = full;
            }
            if (ok && !same_ids(ids.ids, ids.n, want, want_n)) ok = 0;
            if (ok && special) {
                for (size_t i = 0; ok && i < r.n_pieces && i < ids.n; i++) {
                    size_t pl;
                    const char *pc = spm_piece(m, ids.ids[i], &pl);
                    if (!pc || pl != r.pieces[i].n || (pl && memcmp(pc, r.pieces[i].s, pl))) ok = 0;
                }
                if (r.n_pieces != ids.n) ok = 0;
            }
            const jstr *wd = r.has_decoded ? &r.decoded : &r.text;
            if (spm_decode(m, want, want_n, &dec, &err) || dec.n != wd->n || (wd->n && memcmp(dec.data, wd->s, wd->n))) {
                if (ok && verbose_left-- > 0)
                    fprintf(stderr, "  %s [%s]: decode differs: got \"%.*s\" want \"%.*s\"\n", path, r.src.s,
                            (int)(dec.n > 200 ? 200 : dec.n), dec.data ? dec.data : "", (int)(wd->n > 200 ? 200 : wd->n), wd->s);
                ok = 0;
            } else if (!ok && verbose_left-- > 0) {
                fprintf(stderr, "  %s [%s]: ids differ for \"%.*s\"\n", path, r.src.s,
                        (int)(r.text.n > 200 ? 200 : r.text.n), r.text.s);
                show_ids("got ", ids.ids, ids.n);
                show_ids("want", want, want_n);
            }
            if (rebuilt && !special) {
                spm_encode(rebuilt, r.text.s, r.text.n, &ids2, &err);
                if (!same_ids(ids2.ids, ids2.n, r.ids, r.n_ids)) {
                    if (ok && verbose_left-- > 0) fprintf(stderr, "  %s [%s]: spm_from_vocab model differs\n", path, r.src.s);
                    ok = 0;
                }
            }
            passed += ok;
            tok_ids_free(&ids);
            tok_ids_free(&ids2);
            tok_bytes_free(&dec);
            jrec_free(&r);
        }
        p = le + 1;
    }
    free(data);
    return passed;
}

static void run_model(const char *name, const char *shared) {
    char path[1024];
    tok_error err = {0};
    int full = 0;
    snprintf(path, sizeof path, "%s/tokenizers/%s/%s.model", shared ? shared : "", name, name);
    spm_model *m = NULL;
    if (shared && access(path, R_OK) == 0) {
        m = spm_load_file(path, &err);
        full = 1;
    } else {
        snprintf(path, sizeof path, "tests/data/spm/%s.model", name);
        m = spm_load_file(path, &err);
    }
    CHECK_MSG(m != NULL, "%s: %s", path, err.msg);
    if (!m) return;
    spm_model *rb = rebuild(m);
    CHECK(rb != NULL);
    static const char *files[] = {"dev.jsonl", "dev_special.jsonl"};
    for (int sp = 0; sp < 2; sp++) {
        size_t total, passed;
        snprintf(path, sizeof path, "tests/data/spm/%s.%s", name, files[sp]);
        if (sp == 1 && access(path, R_OK) != 0 && !strncmp(name, "extra_", 6)) continue;
        passed = run_file(m, rb, path, sp, &total);
        printf("%-32s compact %-18s %4zu/%zu\n", name, files[sp], passed, total);
        CHECK_MSG(total > 0 && passed == total, "%s: %zu of %zu records differ", path, total - passed, total);
        if (full) {
            snprintf(path, sizeof path, "%s/reference/%s/%s", shared, name, files[sp]);
            if (access(path, R_OK) == 0) {
                passed = run_file(m, rb, path, sp, &total);
                printf("%-32s full    %-18s %4zu/%zu\n", name, files[sp], passed, total);
                CHECK_MSG(passed == total, "%s: %zu of %zu records differ", path, total - passed, total);
            }
        }
    }
    spm_free(rb);
    spm_free(m);
}

int main(void) {
    const char *shared = getenv("SHARED");
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) run_model(models[i], shared);
    return check_summary("test_spm_reference");
}
