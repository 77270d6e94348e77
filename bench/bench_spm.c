/*
 * bench_spm: SentencePiece-style tokenizers, libtok beside SentencePiece and
 * Hugging Face tokenizers, in one run on the same models and texts.
 *
 * Models (from $SHARED/tokenizers, else the compact copies in tests/data):
 * Llama 2 as .model and as tokenizer.json, Mistral 7B and Gemma 3 as
 * tokenizer.json (no .model is shipped), the trained bpe8k and unigram8k
 * .model files, and unigram8k_nfkc's tokenizer.json conversion. Each .model
 * is run by libtok and by SentencePiece (Debian python3-sentencepiece,
 * bench/bench_spm_peer.py); each tokenizer.json by libtok and by npm
 * `tokenizers` (bench/peers/hf_spm_peer.js, RAYON_NUM_THREADS=1).
 *
 * Texts: English prose, source code and multilingual text from
 * $SHARED/corpus/dev, about BENCH_SPM_MB MB of each (0.6: the same share of
 * every file; 0 = the files whole, 1.6-2.0 MB) written to
 * a temporary directory that every driver reads, cut into documents of at most
 * 64 KB that end after a newline (the rule of bench_tokenize and the peers).
 * Worst cases: 1,000,000 'a' and 1 MB of English with its spaces and newlines
 * removed, each as one document.
 *
 * Same answers first: every driver folds all ids into a 32-bit checksum
 * (h = (h ^ id) * 16777619 from 2166136261); a peer whose checksum or token
 * count differs from libtok's on the same file is flagged "(ids differ!)"
 * and its speed is not compared. Then one warm-up pass and BENCH_SPM_RUNS (3)
 * timed passes; the median by each process's CPU time (the machine is shared
 * with builds: wall time swings, CPU time does not). libtok runs through the
 * public API (tok_load, tok_encoder_encode), single thread.
 *
 * Knobs: SHARED, BENCH_SPM_MB, BENCH_SPM_RUNS, BENCH_SPM_MODELS (substring
 * filter on model names), BENCH_SPM_BUDGET (seconds after which no further
 * model starts, 200), TOKPEERS_DIR (npm folder, default /tmp/tokpeers).
 * The peers are slow (about 1 MB/s on 64 KB documents), hence the small
 * defaults: bench/run.sh gives each bench program 5 minutes (BENCH_TIMEOUT),
 * and the defaults take about 3 on a loaded machine.
 * Cost: each text is held once in memory; peers run as child processes.
 */
#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tok.h"

#define CHUNK 65536
#define WHOLE_RUNS 3

enum { IMPL_TOK_SPM, IMPL_SPM, IMPL_TOK_HF, IMPL_HF, N_IMPL };
static const char *impl_name[N_IMPL] = {"tok .model", "SentencePiece", "tok tokenizer.json", "HF tokenizers"};

typedef struct model_row {
    const char *label;
    const char *spm; /* folder/name of a .model, or NULL */
    const char *hf;  /* folder of a tokenizer.json, or NULL */
} model_row;

static const model_row models[] = {
    {"Llama 2 (BPE 32k)", "spm_llama2", "hf_llama2"},
    {"Mistral 7B (BPE 32k)", NULL, "hf_mistral7b"},
    {"Gemma 3 (BPE 262k)", NULL, "hf_gemma3"},
    {"bpe8k byte fallback (BPE)", "spm_bpe8k_bytefallback", NULL},
    {"bpe8k llama-style (BPE)", "spm_bpe8k_llamastyle", NULL},
    {"unigram8k nfkc (Unigram)", "spm_unigram8k_nfkc", "hf_spm_unigram8k_nfkc"},
    {"unigram8k identity, digits (Unigram)", "spm_unigram8k_identity_digits", NULL},
};
#define N_MODELS (sizeof models / sizeof *models)

enum { TEXT_ENGLISH, TEXT_CODE, TEXT_MULTI, TEXT_AAA, TEXT_NOSPACE, N_TEXT };
static const char *text_file[N_TEXT] = {"english.txt", "code.txt", "multilingual.txt", "a_1mb.txt",
                                        "nospace_1mb.txt"};
static const char *text_label[N_TEXT] = {"English", "code", "multilingual", "1 MB 'a'",
                                         "1 MB English, no spaces"};
#define N_CHUNKED 3 /* the first three are cut into documents; the rest are one document */

typedef struct result {
    int ok;        /* 0: not run; 1: measured */
    size_t tokens; /* over all documents */
    uint32_t idsum;
    double cpu_s; /* median pass */
    size_t bytes;
} result;

static result res[N_MODELS][N_IMPL][N_TEXT];
static char workdir[256];
static size_t text_bytes[N_TEXT];

/* ---- helpers ---------------------------------------------------------------- */

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0, *len = (size_t)n;
    return b;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The files matching the patterns, concatenated (each ending in a newline),
 * written to workdir/name. With want > 0 each of the n files gives its first
 * want/n bytes (cut after a newline), or, when they are all shorter, the
 * whole lot is repeated to at least want bytes; want == 0: whole, once. */
static size_t make_text(const char *name, const char *const *patterns, size_t np, size_t want) {
    char *one = NULL;
    size_t n1 = 0, nfiles = 0;
    bool cut = false; /* some file gave only its share: no repeating */
    glob_t g[4];
    int ok[4] = {0};
    for (size_t p = 0; p < np && p < 4; p++)
        if ((ok[p] = glob(patterns[p], 0, NULL, &g[p]) == 0)) nfiles += g[p].gl_pathc;
    size_t share = want && nfiles ? want / nfiles : (size_t)-1;
    for (size_t p = 0; p < np && p < 4; p++) {
        if (!ok[p]) continue;
        for (size_t i = 0; i < g[p].gl_pathc; i++) {
            size_t l;
            char *d = read_all(g[p].gl_pathv[i], &l);
            if (!d) continue;
            if (l > share) {
                cut = true;
                const char *nl = memrchr(d, '\n', share);
                l = nl ? (size_t)(nl - d) + 1 : share;
                while (l > 1 && ((unsigned char)d[l] & 0xC0) == 0x80) l--;
            }
            one = realloc(one, n1 + l + 1);
            memcpy(one + n1, d, l);
            n1 += l;
            if (l && d[l - 1] != '\n') one[n1++] = '\n';
            free(d);
        }
        globfree(&g[p]);
    }
    if (!n1) return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    FILE *f = fopen(path, "wb");
    size_t total = 0;
    do
        total += f ? fwrite(one, 1, n1, f) : n1;
    while (f && !cut && total < want);
    if (f) fclose(f);
    free(one);
    return f ? total : 0;
}

/* End of the document starting at `start`: at most chunk bytes, cut after the
 * last newline in the window, else at a UTF-8 boundary (chunk 0: the rest). */
static size_t doc_end(const char *b, size_t len, size_t start, size_t chunk) {
    if (chunk == 0 || len - start <= chunk) return len;
    size_t end = start + chunk;
    const char *nl = memrchr(b + start, '\n', end - start);
    if (nl) return (size_t)(nl - b) + 1;
    while (end > start + 1 && ((unsigned char)b[end] & 0xC0) == 0x80) end--;
    return end;
}

/* ---- libtok ----------------------------------------------------------------- */

static double tok_pass(tok_encoder *e, const char *b, size_t len, size_t chunk, size_t limit, tok_ids *ids,
                       size_t *tokens, uint32_t *idsum) {
    tok_encode_params p = tok_encode_default_params();
    tok_error err;
    double t0 = cpu_now();
    for (size_t s = 0, e2; s < len && s < limit; s = e2) {
        e2 = doc_end(b, len, s, chunk);
        ids->n = 0;
        if (tok_encoder_encode(e, b + s, e2 - s, &p, ids, &err)) {
            fprintf(stderr, "bench_spm: %s\n", err.msg);
            return -1;
        }
        if (tokens) {
            *tokens += ids->n;
            for (size_t i = 0; i < ids->n; i++) *idsum = (*idsum ^ (uint32_t)ids->ids[i]) * 16777619u;
        }
    }
    return cpu_now() - t0;
}

static void run_tok(size_t mi, int impl, const char *spec, int runs) {
    tok_error err;
    tok_tokenizer *t = tok_load(spec, &err);
    if (!t) {
        fprintf(stderr, "bench_spm: %s: %s\n", spec, err.msg);
        return;
    }
    tok_encoder *e = tok_encoder_new(t, &err);
    tok_ids ids = {0};
    for (int k = 0; e && k < N_TEXT; k++) {
        if (!text_bytes[k]) continue;
        char path[512];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", workdir, text_file[k]);
        char *b = read_all(path, &len);
        if (!b) continue;
        size_t chunk = k < N_CHUNKED ? CHUNK : 0;
        int n = k < N_CHUNKED ? runs : WHOLE_RUNS;
        result *r = &res[mi][impl][k];
        r->idsum = 2166136261u;
        r->bytes = len;
        if (tok_pass(e, b, len, chunk, len, &ids, &r->tokens, &r->idsum) >= 0) {
            if (chunk) tok_pass(e, b, len, chunk, 1000000, &ids, NULL, NULL); /* warm-up */
            double ts[64];
            for (int i = 0; i < n; i++) ts[i] = tok_pass(e, b, len, chunk, len, &ids, NULL, NULL);
            qsort(ts, (size_t)n, sizeof *ts, cmp_double);
            r->cpu_s = ts[n / 2];
            r->ok = 1;
        }
        free(b);
    }
    tok_ids_free(&ids);
    tok_encoder_free(e);
    tok_free(t);
}

/* ---- peers -------------------------------------------------------------------- */

static const char *field(const char *line, const char *key, char *buf, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p) return NULL;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != ' ' && p[i] != '\n' && i + 1 < n) buf[i] = p[i], i++;
    buf[i] = 0;
    return buf;
}

/* Runs a driver that prints "result ... file=NAME tokens= idsum= cpu_s=" lines. */
static void run_peer(size_t mi, int impl, const char *cmd_head, int runs) {
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "%s --runs %d --whole-runs %d", cmd_head, runs, WHOLE_RUNS);
    for (int k = 0; k < N_TEXT; k++)
        if (text_bytes[k] && k < N_CHUNKED) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/%s", workdir, text_file[k]);
    n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --whole");
    for (int k = N_CHUNKED; k < N_TEXT; k++)
        if (text_bytes[k]) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/%s", workdir, text_file[k]);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[2048], v[128];
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "result ", 7) != 0) {
            fputs(line, stdout);
            continue;
        }
        if (!field(line, "file", v, sizeof v)) continue;
        for (int k = 0; k < N_TEXT; k++) {
            if (strcmp(v, text_file[k]) != 0) continue;
            result *r = &res[mi][impl][k];
            r->tokens = (size_t)atoll(field(line, "tokens", v, sizeof v) ? v : "0");
            r->idsum = (uint32_t)strtoul(field(line, "idsum", v, sizeof v) ? v : "0", NULL, 16);
            r->cpu_s = atof(field(line, "cpu_s", v, sizeof v) ? v : "0");
            r->bytes = (size_t)atoll(field(line, "bytes", v, sizeof v) ? v : "0");
            r->ok = r->cpu_s > 0;
        }
    }
    int rc = pclose(p);
    if (rc != 0) printf("note: `%.120s...` exited with status %d\n", cmd, rc);
}

/* ---- tables ------------------------------------------------------------------ */

static int differs(const result *a, const result *b) {
    return a->ok && b->ok && (a->tokens != b->tokens || a->idsum != b->idsum);
}

/* The tok implementation a peer is checked against. */
static int tok_of(int impl) { return impl == IMPL_SPM ? IMPL_TOK_SPM : IMPL_TOK_HF; }

static void cell(size_t mi, int impl, int k, int as_ms) {
    const result *r = &res[mi][impl][k];
    if (!r->ok) {
        printf(" - |");
        return;
    }
    if (as_ms) printf(" %.0f", r->cpu_s * 1e3);
    else printf(" %.1f", (double)r->bytes / 1e6 / r->cpu_s);
    if ((impl == IMPL_SPM || impl == IMPL_HF) && differs(r, &res[mi][tok_of(impl)][k])) printf(" (ids differ!)");
    printf(" |");
}

static void ratio(size_t mi, int impl, int k) {
    const result *t = &res[mi][tok_of(impl)][k], *p = &res[mi][impl][k];
    if (!t->ok || !p->ok || differs(t, p)) printf(" - |");
    else printf(" %.2fx |", p->cpu_s / t->cpu_s);
}

static void print_tables(int runs) {
    printf("\n### Throughput (MB/s, 1 thread, CPU time, median of %d passes; documents <= 64 KB)\n\n", runs);
    printf("| model | text | %s | %s | %s | %s | tok/SP | tok/HF |\n", impl_name[0], impl_name[1], impl_name[2],
           impl_name[3]);
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t mi = 0; mi < N_MODELS; mi++)
        for (int k = 0; k < N_CHUNKED; k++) {
            int any = 0;
            for (int i = 0; i < N_IMPL; i++) any |= res[mi][i][k].ok;
            if (!any) continue;
            printf("| %s | %s |", models[mi].label, text_label[k]);
            for (int i = 0; i < N_IMPL; i++) cell(mi, i, k, 0);
            ratio(mi, IMPL_SPM, k);
            ratio(mi, IMPL_HF, k);
            printf("\n");
        }
    printf("\n### Worst case: one document without spaces (ms of CPU, median of %d)\n\n", WHOLE_RUNS);
    printf("| model | text | %s | %s | %s | %s |\n", impl_name[0], impl_name[1], impl_name[2], impl_name[3]);
    printf("|---|---|---:|---:|---:|---:|\n");
    for (size_t mi = 0; mi < N_MODELS; mi++)
        for (int k = N_CHUNKED; k < N_TEXT; k++) {
            int any = 0;
            for (int i = 0; i < N_IMPL; i++) any |= res[mi][i][k].ok;
            if (!any) continue;
            printf("| %s | %s |", models[mi].label, text_label[k]);
            for (int i = 0; i < N_IMPL; i++) cell(mi, i, k, 1);
            printf("\n");
        }
    int bad = 0;
    for (size_t mi = 0; mi < N_MODELS; mi++)
        for (int k = 0; k < N_TEXT; k++)
            for (int i = IMPL_SPM; i < N_IMPL; i += 2)
                if (differs(&res[mi][i][k], &res[mi][tok_of(i)][k])) {
                    printf("%snote: %s, %s: %s ids differ from libtok's (%zu vs %zu tokens)\n", bad++ ? "" : "\n",
                           models[mi].label, text_label[k], impl_name[i], res[mi][i][k].tokens,
                           res[mi][tok_of(i)][k].tokens);
                }
    if (!bad) printf("\nids: every peer's checksum equals libtok's on every text it ran.\n");
}

static void loadavg(const char *when) {
    char s[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(s, sizeof s, f)) printf("load average %s: %.*s\n", when, (int)strcspn(s, "\n"), s);
    if (f) fclose(f);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    const char *shared = getenv("SHARED") ? getenv("SHARED") : "../shared";
    double mb = getenv("BENCH_SPM_MB") ? atof(getenv("BENCH_SPM_MB")) : 0.6;
    int runs = getenv("BENCH_SPM_RUNS") ? atoi(getenv("BENCH_SPM_RUNS")) : 3;
    if (runs < 1 || runs > 63) runs = 3;
    const char *filter = getenv("BENCH_SPM_MODELS");
    const char *nm_dir = getenv("TOKPEERS_DIR") ? getenv("TOKPEERS_DIR") : "/tmp/tokpeers";
    snprintf(workdir, sizeof workdir, "%s/tokbench_spm.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(workdir)) {
        printf("bench_spm: cannot create a temporary directory\n");
        return 0;
    }
    size_t min_bytes = (size_t)(mb * 1e6);
    char pat[3][512];
    const char *kinds[3] = {"english_*.txt", "code_*.txt", "multi_*.txt"};
    for (int k = 0; k < 3; k++) {
        snprintf(pat[k], sizeof pat[k], "%s/corpus/dev/%s", shared, kinds[k]);
        const char *p[1] = {pat[k]};
        text_bytes[k] = make_text(text_file[k], p, 1, min_bytes);
    }
    int own_texts = !text_bytes[TEXT_ENGLISH];
    if (own_texts) { /* no shared corpus: the repository's docs and sources */
        const char *en[] = {"README.md", "docs/*.md"}, *code[] = {"libtok/*.c", "libtok/*.h"};
        text_bytes[TEXT_ENGLISH] = make_text(text_file[TEXT_ENGLISH], en, 2, min_bytes);
        text_bytes[TEXT_CODE] = make_text(text_file[TEXT_CODE], code, 2, min_bytes);
    }
    /* worst cases */
    {
        char path[512];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s", workdir, text_file[TEXT_ENGLISH]);
        char *en = read_all(path, &n);
        char *big = malloc(1000000);
        memset(big, 'a', 1000000);
        snprintf(path, sizeof path, "%s/%s", workdir, text_file[TEXT_AAA]);
        FILE *f = fopen(path, "wb");
        if (f) text_bytes[TEXT_AAA] = fwrite(big, 1, 1000000, f), fclose(f);
        size_t k = 0;
        for (size_t i = 0; en && n && k < 1000000; i = (i + 1) % n)
            if (en[i] != ' ' && en[i] != '\n' && en[i] != '\r') big[k++] = en[i];
        while (k && ((unsigned char)big[k - 1] & 0xC0) == 0x80) k--; /* whole characters only */
        if (k && (unsigned char)big[k - 1] >= 0xC0) k--;
        snprintf(path, sizeof path, "%s/%s", workdir, text_file[TEXT_NOSPACE]);
        f = fopen(path, "wb");
        if (f && k) text_bytes[TEXT_NOSPACE] = fwrite(big, 1, k, f);
        if (f) fclose(f);
        free(big);
        free(en);
    }
    printf("## SentencePiece-style tokenizers: libtok, SentencePiece, Hugging Face tokenizers\n\n");
    loadavg("at start");
    printf("texts: %s; English %.1f MB, code %.1f MB, multilingual %.1f MB\n",
           own_texts ? "repository docs and sources (no $SHARED corpus)" : "$SHARED/corpus/dev",
           text_bytes[0] / 1e6, text_bytes[1] / 1e6, text_bytes[2] / 1e6);
    int have_spm = system("/usr/bin/python3 -c 'import sentencepiece' 2>/dev/null") == 0;
    char hf_js[512];
    snprintf(hf_js, sizeof hf_js, "%s/node_modules/tokenizers/package.json", nm_dir);
    int have_hf = exists(hf_js) && system("node --version >/dev/null 2>&1") == 0;
    if (!have_spm) printf("SentencePiece: not installed (apt-get install python3-sentencepiece)\n");
    if (!have_hf) printf("HF tokenizers: not installed (see bench/README.md)\n");
    fflush(stdout);
    /* bench/run.sh kills a program after BENCH_TIMEOUT (300 s): stop starting
     * models after BENCH_SPM_BUDGET seconds so the tables still print */
    double budget = getenv("BENCH_SPM_BUDGET") ? atof(getenv("BENCH_SPM_BUDGET")) : 200.0;
    struct timespec t_start, t_now;
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    for (size_t mi = 0; mi < N_MODELS; mi++) {
        const model_row *m = &models[mi];
        clock_gettime(CLOCK_MONOTONIC, &t_now);
        if ((double)(t_now.tv_sec - t_start.tv_sec) > budget) {
            printf("note: %s and later models skipped: over the %.0f s budget (BENCH_SPM_BUDGET)\n", m->label, budget);
            break;
        }
        if (filter && !strstr(m->label, filter) && !(m->spm && strstr(m->spm, filter)) &&
            !(m->hf && strstr(m->hf, filter)))
            continue;
        char spm_path[512] = "", hf_path[512] = "", cmd[2048];
        if (m->spm) {
            snprintf(spm_path, sizeof spm_path, "%s/tokenizers/%s/%s.model", shared, m->spm, m->spm);
            if (!exists(spm_path)) snprintf(spm_path, sizeof spm_path, "tests/data/spm/%s.model", m->spm);
            if (!exists(spm_path)) spm_path[0] = 0;
        }
        if (m->hf) {
            snprintf(hf_path, sizeof hf_path, "%s/tokenizers/%s/tokenizer.json", shared, m->hf);
            if (!exists(hf_path)) snprintf(hf_path, sizeof hf_path, "tests/data/tokenizers/%s/tokenizer.json", m->hf);
            if (!exists(hf_path)) hf_path[0] = 0;
        }
        if (spm_path[0]) {
            run_tok(mi, IMPL_TOK_SPM, spm_path, runs);
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/bench_spm_peer.py --model '%s'", spm_path);
            if (have_spm) run_peer(mi, IMPL_SPM, cmd, runs);
        }
        if (hf_path[0]) {
            run_tok(mi, IMPL_TOK_HF, hf_path, runs);
            snprintf(cmd, sizeof cmd, "RAYON_NUM_THREADS=1 node bench/peers/hf_spm_peer.js --nm '%s/node_modules' --tok '%s'",
                     nm_dir, hf_path);
            if (have_hf) run_peer(mi, IMPL_HF, cmd, runs);
        }
        fprintf(stderr, "bench_spm: %s done\n", m->label);
    }
    print_tables(runs);
    loadavg("at end");
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", workdir);
    if (system(rm) != 0) printf("bench_spm: could not remove %s\n", workdir);
    return 0;
}
