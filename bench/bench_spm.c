/*
 * SentencePiece throughput of libtok's spm_* encoder (single thread):
 *   - MB/s per model x text kind (English, multilingual from $SHARED/corpus/dev),
 *     encoding line by line, median of several passes;
 *   - the worst case: 1 MB without spaces (one repeated letter, and English
 *     with its spaces removed) as one document, for BPE and Unigram models.
 * Then, if Debian's python3-sentencepiece is installed, runs
 * bench/bench_spm_peer.py on the same texts for the comparison (same line
 * splitting, same models; it also checks that the ids agree).
 * Usage: bench_spm [MB]   (each text is its files repeated to >= MB, default 2)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "spm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: steadier on a shared machine */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *models[] = {"spm_llama2", "spm_bpe8k_bytefallback", "spm_bpe8k_llamastyle",
                               "spm_unigram8k_nfkc", "spm_unigram8k_identity_digits"};
static const char *english[] = {"english_man.txt", "english_licenses_docs.txt", "english_fortunes.txt"};
static const char *multi[] = {"multi_cjk.txt", "multi_cyrillic_greek.txt", "multi_european.txt", "multi_indic.txt",
                              "multi_rtl.txt", "multi_sea.txt", "multi_other_scripts.txt"};

static char *load_text(const char *shared, const char **files, size_t nf, size_t min_bytes, size_t *len) {
    tok_bytes b = {0};
    while (b.n < min_bytes) {
        size_t before = b.n;
        for (size_t i = 0; i < nf; i++) {
            char path[1024];
            size_t l;
            tok_error err;
            snprintf(path, sizeof path, "%s/corpus/dev/%s", shared, files[i]);
            char *d = tok_read_file(path, &l, &err);
            if (!d) continue;
            tok_bytes_append(&b, d, l);
            if (l && d[l - 1] != '\n') tok_bytes_append(&b, "\n", 1);
            free(d);
        }
        if (b.n == before) break;
    }
    *len = b.n;
    return b.data;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Encodes text line by line; returns seconds (median of runs) and the id count. */
static double encode_lines(const spm_model *m, const char *text, size_t len, int runs, size_t *n_ids) {
    double t[32];
    tok_ids ids = {0};
    tok_error err;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        *n_ids = 0;
        for (size_t p = 0; p < len;) {
            const char *nl = memchr(text + p, '\n', len - p);
            size_t e = nl ? (size_t)(nl - text) : len;
            ids.n = 0;
            spm_encode(m, text + p, e - p, &ids, &err);
            *n_ids += ids.n;
            p = e + 1;
        }
        t[r] = now() - t0;
    }
    tok_ids_free(&ids);
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    return t[runs / 2];
}

int main(int argc, char **argv) {
    const char *shared = getenv("SHARED");
    if (!shared) shared = "../shared";
    double mb = argc > 1 ? atof(argv[1]) : 2.0;
    size_t min_bytes = (size_t)(mb * 1e6);
    size_t en_len, mu_len;
    char *en = load_text(shared, english, 3, min_bytes, &en_len);
    char *mu = load_text(shared, multi, 7, min_bytes, &mu_len);
    if (!en_len || !mu_len) {
        printf("bench_spm: no corpus under %s/corpus/dev; skipped\n", shared);
        return 0;
    }
    printf("## SentencePiece (libtok spm_encode, 1 thread, line by line, median of 5, CPU time)\n\n");
    printf("| model | English MB/s | multilingual MB/s | 1 MB 'a' (s) | 1 MB English without spaces (s) |\n");
    printf("|---|---|---|---|---|\n");
    /* 1 MB without spaces */
    size_t big = 1000000;
    char *aaa = malloc(big);
    memset(aaa, 'a', big);
    char *nospace = malloc(big);
    size_t k = 0;
    for (size_t i = 0; k < big; i = (i + 1) % en_len)
        if (en[i] != ' ' && en[i] != '\n') nospace[k++] = en[i];
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char path[1024];
        tok_error err;
        snprintf(path, sizeof path, "%s/tokenizers/%s/%s.model", shared, models[i], models[i]);
        spm_model *m = spm_load_file(path, &err);
        if (!m) {
            snprintf(path, sizeof path, "tests/data/spm/%s.model", models[i]);
            m = spm_load_file(path, &err);
        }
        if (!m) {
            printf("| %s | %s | | | |\n", models[i], err.msg);
            continue;
        }
        size_t n1, n2;
        encode_lines(m, en, en_len / 8, 1, &n1); /* warm-up */
        double te = encode_lines(m, en, en_len, 5, &n1);
        double tm = encode_lines(m, mu, mu_len, 5, &n2);
        tok_ids ids = {0};
        double t0 = now();
        spm_encode(m, aaa, big, &ids, &err);
        double ta = now() - t0;
        ids.n = 0;
        t0 = now();
        spm_encode(m, nospace, big, &ids, &err);
        double tn = now() - t0;
        tok_ids_free(&ids);
        printf("| %s | %.1f | %.1f | %.3f | %.3f |\n", models[i], en_len / te / 1e6, mu_len / tm / 1e6, ta, tn);
        spm_free(m);
    }
    printf("\nEnglish text %.1f MB, multilingual %.1f MB.\n\n", en_len / 1e6, mu_len / 1e6);
    fflush(stdout);
    free(aaa);
    free(nospace);
    free(en);
    free(mu);
    if (access("/usr/bin/python3", X_OK) == 0 && access("bench/bench_spm_peer.py", R_OK) == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/bench_spm_peer.py '%s' %g", shared, mb);
        int rc = system(cmd);
        (void)rc;
    }
    return 0;
}
