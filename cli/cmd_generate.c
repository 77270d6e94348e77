/* tok generate: text continuation with a local GGUF model. Tokenize the
 * prompt (or take --prompt-ids), evaluate it in one batch, then sample one
 * token at a time through the llama.cpp-style sampler chain, streaming text
 * as it is produced. --json prints one object instead (ids, text, timings,
 * optional top-K logprobs per token).
 *
 * Text is the concatenation of the tokens' pieces (as llama.cpp's
 * token_to_piece with special=false: control tokens print nothing). Output
 * is held back while it ends inside a UTF-8 sequence (byte tokens) or inside
 * a possible stop string, so what is printed never has to be taken back.
 * Cost per token beyond the forward pass: O(vocab) for sampling, O(|stop|)
 * per stop string for the checks. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "tok_engine.h"

#define CMD "generate"
#define DEFAULT_MODEL "tiny-kjv-Q8_0.gguf"

static const char HELP[] =
    "usage: tok generate [-m MODEL.gguf] (-p PROMPT | --prompt-ids \"1 2 3\") [OPTIONS]\n"
    "\n"
    "Continues a prompt with a local GGUF model (llama, qwen2), streaming the text.\n"
    "\n"
    "  -m, --model PATH        GGUF file (default: models/" DEFAULT_MODEL " in the data dir)\n"
    "  -p, --prompt TEXT       prompt, tokenized with the model's own tokenizer (BOS as\n"
    "                          the GGUF says)\n"
    "  -f, --file PATH         read the prompt from a file ('-' = stdin)\n"
    "      --prompt-ids IDS    prompt as token ids, separated by spaces or commas\n"
    "  -n, --n-predict N       tokens to generate (default 128; -1 = until EOS or full\n"
    "                          context)\n"
    "      --temp T            temperature (default 0.8; 0 = greedy)\n"
    "      --top-k K           keep the K most likely tokens (default 40; 0 = off)\n"
    "      --top-p P           keep the smallest set with probability >= P (default\n"
    "                          0.95; 1 = off)\n"
    "      --min-p P           drop tokens below P x the best probability (default\n"
    "                          0.05; 0 = off)\n"
    "      --repeat-penalty R  divide (positive) or multiply (negative) the logits of\n"
    "                          recent tokens by R (default 1.0 = off)\n"
    "      --repeat-last-n N   window of recent tokens for the penalties (default 64;\n"
    "                          0 = off, -1 = the whole context)\n"
    "      --frequency-penalty F  minus F x occurrences (default 0)\n"
    "      --presence-penalty P   minus P once a token occurred (default 0)\n"
    "      --logit-bias ID=B   add B to the logit of token ID (repeatable; B may be\n"
    "                          -inf)\n"
    "  -s, --seed S            random seed (default: from the clock, printed by --json)\n"
    "  -t, --threads N         threads (default: 1 for models under 100 MB, else all\n"
    "                          cores)\n"
    "  -c, --ctx N             context size (default: prompt + n, at most the\n"
    "                          model's training context)\n"
    "      --stop STR          stop before STR appears (repeatable; STR not printed)\n"
    "      --ignore-eos        keep generating after the end-of-sequence token\n"
    "      --logprobs K        with --json: the K most likely tokens at each step\n"
    "      --json              print one JSON object instead of streaming text\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (model, context), 2 usage error.\n";

#define MAX_STOPS 16
#define MAX_BIAS 64

typedef struct gen_opts {
    const char *model, *prompt, *prompt_file, *prompt_ids;
    int n_predict, n_threads, n_ctx, logprobs;
    bool json, ignore_eos;
    tok_sampling_params sp;
    const char *stops[MAX_STOPS];
    int n_stops;
    tok_logit_bias bias[MAX_BIAS];
} gen_opts;

/* ---- argument parsing ---------------------------------------------------------- */

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        cli_error(CMD, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_float(const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    float v = strtof(s, &end);
    if (!*s || *end || isnan(v) || v < lo || v > hi) {
        cli_error(CMD, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(gen_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(HELP, stdout);
            return 1;
        }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--ignore-eos")) { o->ignore_eos = true; continue; }
        if (i + 1 >= argc || a[0] != '-') {
            cli_error(CMD, a[0] == '-' ? "%s needs a value" : "unexpected argument '%s'", a);
            return -1;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->prompt_file = v;
        else if (!strcmp(a, "--prompt-ids")) o->prompt_ids = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            rc = parse_int(a, v, -1, INT_MAX, &o->n_predict);
        else if (!strcmp(a, "--temp")) rc = parse_float(a, v, 0, 1e6f, &o->sp.temp);
        else if (!strcmp(a, "--top-k")) rc = parse_int(a, v, 0, INT_MAX, &o->sp.top_k);
        else if (!strcmp(a, "--top-p")) rc = parse_float(a, v, 0, 1, &o->sp.top_p);
        else if (!strcmp(a, "--min-p")) rc = parse_float(a, v, 0, 1, &o->sp.min_p);
        else if (!strcmp(a, "--repeat-penalty"))
            rc = parse_float(a, v, 0, 1e6f, &o->sp.penalty_repeat);
        else if (!strcmp(a, "--repeat-last-n"))
            rc = parse_int(a, v, -1, INT_MAX, &o->sp.penalty_last_n);
        else if (!strcmp(a, "--frequency-penalty"))
            rc = parse_float(a, v, -1e6f, 1e6f, &o->sp.penalty_freq);
        else if (!strcmp(a, "--presence-penalty"))
            rc = parse_float(a, v, -1e6f, 1e6f, &o->sp.penalty_present);
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            /* llama.cpp: -1 (or 0xFFFFFFFF) means a random seed */
            char *end;
            long long s = strtoll(v, &end, 10);
            if (!*v || *end || s < -1 || s > 0xFFFFFFFFll) {
                cli_error(CMD, "%s: expected an integer in [-1, 4294967295], got '%s'", a, v);
                return -1;
            }
            o->sp.seed = s < 0 ? TOK_SEED_RANDOM : (uint32_t)s;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            rc = parse_int(a, v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) rc = parse_int(a, v, 1, INT_MAX, &o->n_ctx);
        else if (!strcmp(a, "--logprobs")) rc = parse_int(a, v, 1, 100, &o->logprobs);
        else if (!strcmp(a, "--stop")) {
            if (o->n_stops == MAX_STOPS || !*v) {
                cli_error(CMD, "--stop: %s", *v ? "at most 16 stop strings" : "empty string");
                return -1;
            }
            o->stops[o->n_stops++] = v;
        } else if (!strcmp(a, "--logit-bias")) {
            char *end;
            long id = strtol(v, &end, 10);
            float b;
            if (end == v || *end != '=' || id < 0 || id > INT32_MAX ||
                o->sp.n_logit_bias == MAX_BIAS) {
                cli_error(CMD, "--logit-bias: expected ID=BIAS (at most %d), got '%s'", MAX_BIAS, v);
                return -1;
            }
            if (!strcmp(end + 1, "-inf")) b = -INFINITY;
            else if (parse_float(a, end + 1, -1e6f, 1e6f, &b)) return -1;
            o->bias[o->sp.n_logit_bias++] = (tok_logit_bias){(int32_t)id, b};
        } else {
            cli_error(CMD, "unknown option '%s' (see 'tok generate --help')", a);
            return -1;
        }
        if (rc) return -1;
    }
    int sources = !!o->prompt + !!o->prompt_file + !!o->prompt_ids;
    if (sources != 1) {
        cli_error(CMD, sources ? "give only one of -p, -f and --prompt-ids"
                               : "no prompt (use -p TEXT, -f FILE or --prompt-ids IDS)");
        return -1;
    }
    if (o->logprobs && !o->json) {
        cli_error(CMD, "--logprobs needs --json");
        return -1;
    }
    o->sp.logit_bias = o->bias;
    return 0;
}

/* "1 2, 3" -> ids; -1 with a message on anything else. */
static int parse_ids(const char *s, tok_ids *out) {
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX) {
            cli_error(CMD, "--prompt-ids: bad id at offset %zu of '%s'", (size_t)(p - s), s);
            return -1;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 64;
            int32_t *n = realloc(out->ids, cap * sizeof *n);
            if (!n) return -1;
            out->ids = n;
            out->cap = cap;
        }
        out->ids[out->n++] = (int32_t)v;
        p = end;
    }
    if (!out->n) {
        cli_error(CMD, "--prompt-ids: no ids in '%s'", s);
        return -1;
    }
    return 0;
}

/* The default model lives beside the built-in encodings: $TOK_DATA_DIR, then
 * next to the executable (data/ in the source tree, share/tok installed). */
static const char *default_model(char *buf, size_t cap) {
    const char *env = getenv("TOK_DATA_DIR");
    if (env && *env) {
        snprintf(buf, cap, "%s/models/%s", env, DEFAULT_MODEL);
        if (access(buf, R_OK) == 0) return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[] = {"/../data", "/../share/tok", "/data"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(buf, cap, "%s%s/models/%s", exe, rel[i], DEFAULT_MODEL);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    snprintf(buf, cap, "%s/models/%s", TOK_DATADIR, DEFAULT_MODEL);
    return buf; /* may not exist: loading then names it */
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the model's tokenizer -------------------------------------------------------- */

/* The model's own tokenizer, built from its GGUF metadata; NULL if the file
 * has none this build reads (then only --prompt-ids works, and text is empty). */
static tok_tokenizer *model_tokenizer(const tok_model *m, tok_error *err) {
    return tok_gguf_tokenizer(tok_model_gguf(m), err);
}

/* A token's text as llama.cpp's token_to_piece(special=false) gives it:
 * control tokens print nothing. */
static const char *token_piece(const tok_tokenizer *t, int32_t id, size_t *len) {
    *len = 0;
    if (!t || tok_is_special(t, id)) return "";
    const char *b = tok_token_bytes(t, id, len);
    if (!b) *len = 0;
    return b ? b : "";
}

/* End-of-generation ids: EOS, and EOT/EOM where the GGUF names them. */
static bool is_end_token(const tok_gguf *g, int32_t id) {
    static const char *keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                 "tokenizer.ggml.eom_token_id"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        int64_t v;
        if (tok_gguf_get_int(g, keys[i], &v) && v == id) return true;
    }
    return false;
}

/* ---- streamed text and stop strings ------------------------------------------------ */

typedef struct gen_text {
    tok_bytes text; /* pieces of the generated tokens, cut at a stop string */
    size_t emitted; /* bytes of text already written to the stream */
} gen_text;

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8
 * sequence (a byte token may carry only part of a character). */
static size_t utf8_complete(const char *s, size_t n) {
    for (size_t k = 1; k <= 4 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF8 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? n - k : n;
    }
    return n;
}

/* Appends a piece; returns true if a stop string now occurs (text is cut
 * before it). Writes what can no longer change to `stream` if non-NULL. */
static bool text_add(gen_text *g, const char *piece, size_t len, const gen_opts *o, FILE *stream) {
    size_t old = g->text.n;
    if (len && tok_bytes_append(&g->text, piece, len)) return false;
    const char *t = g->text.data;
    size_t n = g->text.n, cut = SIZE_MAX, safe = n;
    for (int i = 0; i < o->n_stops; i++) {
        size_t sl = strlen(o->stops[i]);
        size_t from = old >= sl - 1 ? old - (sl - 1) : 0; /* a match must end in the piece */
        if (from < n) {
            const char *hit = memmem(t + from, n - from, o->stops[i], sl);
            if (hit && (size_t)(hit - t) < cut) cut = (size_t)(hit - t);
        }
        /* hold back a tail that could still grow into this stop string */
        for (size_t k = sl - 1 < n ? sl - 1 : n; k > 0; k--)
            if (!memcmp(t + n - k, o->stops[i], k)) {
                if (n - k < safe) safe = n - k;
                break;
            }
    }
    if (cut != SIZE_MAX) {
        g->text.n = cut;
        g->text.data[cut] = 0;
        safe = cut;
    } else {
        safe = utf8_complete(t, safe);
    }
    if (stream && safe > g->emitted) {
        fwrite(t + g->emitted, 1, safe - g->emitted, stream);
        fflush(stream);
        g->emitted = safe;
    }
    return cut != SIZE_MAX;
}

/* Length of the maximal invalid subpart at s (Unicode's U+FFFD practice, as
 * Python's errors="replace"): a truncated sequence counts once. */
static size_t invalid_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0xC2 || c > 0xF4) return 1;
    size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, k = 1;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    for (; k < need && k < n && s[k] >= lo && s[k] <= hi; k++) lo = 0x80, hi = 0xBF;
    return k;
}

/* JSON string of bytes that may not be valid UTF-8 (a lone byte token):
 * each maximal invalid subpart becomes U+FFFD. */
static void json_bytes(FILE *f, const char *s, size_t n) {
    tok_bytes b = {0};
    while (n) {
        size_t ok = tok_utf8_check(s, n);
        tok_bytes_append(&b, s, ok);
        if (ok == n) break;
        tok_bytes_append(&b, "\xEF\xBF\xBD", 3);
        size_t bad = invalid_len((const unsigned char *)s + ok, n - ok);
        s += ok + bad;
        n -= ok + bad;
    }
    json_write_string(f, b.data ? b.data : "", b.n);
    tok_bytes_free(&b);
}

/* ---- log-probabilities -------------------------------------------------------------- */

typedef struct step_logprobs {
    float logprob;   /* of the chosen token */
    int n;           /* top entries */
    int32_t *ids;    /* (K) best first */
    float *logprobs; /* (K) */
} step_logprobs;

static float logprob_of(const float *logits, int n_vocab, int32_t id) {
    float max = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    return (float)((double)logits[id] - max - log(sum));
}

static void json_token(FILE *f, const tok_tokenizer *t, int32_t id, float logprob) {
    size_t len;
    const char *p = token_piece(t, id, &len);
    fprintf(f, "{\"id\": %d, \"token\": ", id);
    json_bytes(f, p, len);
    fprintf(f, ", \"logprob\": %.6g}", logprob);
}

/* ---- the command ------------------------------------------------------------------ */

static void json_rate(FILE *f, const char *key, double n, double ms) {
    if (n > 0 && ms > 0) fprintf(f, "  \"%s\": %.2f,\n", key, n * 1e3 / ms);
    else fprintf(f, "  \"%s\": null,\n", key);
}

int cmd_generate(int argc, char **argv) {
    gen_opts o = {.n_predict = 128, .sp = tok_sampling_default_params()};
    int prc = parse_args(&o, argc, argv);
    if (prc) return prc > 0 ? EXIT_OK : EXIT_USAGE;

    char path_buf[PATH_MAX + 64];
    const char *path = o.model ? o.model : default_model(path_buf, sizeof path_buf);
    tok_error err = {0};
    int status = EXIT_RUNTIME;
    tok_model *m = NULL;
    tok_tokenizer *tk = NULL;
    tok_session *sess = NULL;
    tok_sampler *chain = NULL;
    float *logits = NULL;
    char *prompt_text = NULL;
    tok_ids prompt = {0}, out = {0};
    gen_text gt = {0};
    step_logprobs *steps = NULL;
    size_t prompt_len = 0;

    if (o.prompt_ids && parse_ids(o.prompt_ids, &prompt)) {
        status = EXIT_USAGE;
        goto done;
    }
    if (o.prompt_file && !(prompt_text = cli_read_file(o.prompt_file, &prompt_len))) {
        cli_error(CMD, "%s: cannot read the prompt file", o.prompt_file);
        goto done;
    }
    double t_start = now_ms();
    if (!(m = tok_model_load(path, NULL, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    double load_ms = now_ms() - t_start;
    const tok_model_info *info = tok_model_get_info(m);
    const tok_gguf *gguf = tok_model_gguf(m);
    int n_vocab = info->vocab_size;
    tk = model_tokenizer(m, &err);
    if (!tk && o.prompt_ids)
        cli_error(CMD, "warning: %s; ids only, the text will be empty", err.msg);
    if (!o.prompt_ids) {
        if (!tk) {
            cli_error(CMD, "%s (give the prompt as --prompt-ids)", err.msg);
            goto done;
        }
        const char *text = o.prompt ? o.prompt : prompt_text;
        size_t len = o.prompt ? strlen(o.prompt) : prompt_len;
        tok_encode_params ep = tok_encode_default_params();
        ep.add_special = true; /* BOS as the GGUF's add_bos_token says */
        ep.utf8 = TOK_UTF8_REPLACE;
        if (tok_encode(tk, text, len, &ep, &prompt, &err)) {
            cli_error(CMD, "prompt: %s", err.msg);
            goto done;
        }
        if (!prompt.n) {
            cli_error(CMD, "prompt: no tokens (empty prompt and no BOS)");
            status = EXIT_USAGE;
            goto done;
        }
    }
    for (size_t i = 0; i < prompt.n; i++)
        if (prompt.ids[i] >= n_vocab) {
            cli_error(CMD, "--prompt-ids: id %d is outside the vocabulary (%d tokens)",
                      prompt.ids[i], n_vocab);
            status = EXIT_USAGE;
            goto done;
        }

    /* The smallest context that holds the request, within what the model saw. */
    int n_prompt = (int)prompt.n;
    int n_ctx = o.n_ctx;
    if (!n_ctx) {
        long want = (long)n_prompt + (o.n_predict < 0 ? (long)info->ctx_train : o.n_predict);
        n_ctx = info->ctx_train > 0 && want > info->ctx_train ? info->ctx_train : (int)want;
        if (n_ctx < n_prompt) n_ctx = n_prompt;
    }
    if (n_prompt > n_ctx) {
        cli_error(CMD, "prompt has %d tokens; the context holds %d (--ctx)", n_prompt, n_ctx);
        goto done;
    }
    int n_threads = o.n_threads;
    if (!n_threads) { /* tiny models: fork-join costs more than the work */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = info->weight_bytes < 100u << 20 || cores < 1 ? 1 : (int)cores;
    }
    tok_session_params spar = tok_session_default_params();
    spar.n_ctx = n_ctx;
    spar.n_threads = n_threads;
    if (!(sess = tok_session_new(m, &spar, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if (!(chain = tok_sampler_chain_from_params(&o.sp)) ||
        !(logits = malloc((size_t)n_vocab * sizeof *logits))) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_prompt; i++) tok_sampler_accept(chain, prompt.ids[i]);

    double t0 = now_ms();
    if (tok_session_eval(sess, prompt.ids, n_prompt, logits, false, &err)) {
        cli_error(CMD, "prompt: %s", err.msg);
        goto done;
    }
    double prompt_ms = now_ms() - t0, eval_ms = 0;
    int n_eval = 0;
    const char *stop_reason = "length";
    FILE *stream = o.json ? NULL : stdout;
    size_t steps_cap = 0, n_steps = 0;
    double t_gen = now_ms();
    for (int i = 0; o.n_predict < 0 || i < o.n_predict; i++) {
        int32_t id = tok_sampler_sample(chain, logits, n_vocab);
        if (id < 0) {
            cli_error(CMD, "out of memory while sampling");
            goto done;
        }
        tok_sampler_accept(chain, id);
        if (!o.ignore_eos && is_end_token(gguf, id)) {
            stop_reason = "eos";
            break;
        }
        if (o.logprobs) { /* of the raw logits, before any sampler */
            if (n_steps == steps_cap) {
                steps_cap = steps_cap ? 2 * steps_cap : 64;
                step_logprobs *ns = realloc(steps, steps_cap * sizeof *ns);
                if (!ns) goto oom;
                steps = ns;
            }
            step_logprobs *st = &steps[n_steps];
            st->ids = malloc((size_t)o.logprobs * sizeof *st->ids);
            st->logprobs = malloc((size_t)o.logprobs * sizeof *st->logprobs);
            if (!st->ids || !st->logprobs) {
                free(st->ids);
                free(st->logprobs);
                goto oom;
            }
            st->n = tok_logprobs_top(logits, n_vocab, o.logprobs, st->ids, st->logprobs);
            st->logprob = logprob_of(logits, n_vocab, id);
            n_steps++;
        }
        if (out.n == out.cap) {
            size_t cap = out.cap ? 2 * out.cap : 64;
            int32_t *ni = realloc(out.ids, cap * sizeof *ni);
            if (!ni) goto oom;
            out.ids = ni;
            out.cap = cap;
        }
        out.ids[out.n++] = id;
        size_t plen;
        const char *piece = token_piece(tk, id, &plen);
        if (text_add(&gt, piece, plen, &o, stream)) {
            stop_reason = "stop";
            break;
        }
        if (o.n_predict >= 0 && i + 1 >= o.n_predict) break;
        if (tok_session_n_past(sess) >= n_ctx) {
            stop_reason = "context";
            break;
        }
        double te = now_ms();
        if (tok_session_eval(sess, &id, 1, logits, false, &err)) {
            cli_error(CMD, "token %zu: %s", out.n, err.msg);
            goto done;
        }
        eval_ms += now_ms() - te;
        n_eval++;
    }
    double gen_ms = now_ms() - t_gen, sample_ms;
    int64_t n_sampled;
    tok_sampler_chain_perf(chain, &sample_ms, &n_sampled);

    if (!o.json) {
        if (gt.text.n > gt.emitted) fwrite(gt.text.data + gt.emitted, 1, gt.text.n - gt.emitted, stdout);
        if (isatty(STDOUT_FILENO)) putchar('\n');
        fflush(stdout);
        status = EXIT_OK;
        goto done;
    }
    FILE *f = stdout;
    fputs("{\n  \"model\": ", f);
    json_bytes(f, path, strlen(path));
    uint32_t seed = tok_sampler_get_seed(chain); /* none when greedy */
    if (seed == TOK_SEED_RANDOM) fputs(",\n  \"seed\": null", f);
    else fprintf(f, ",\n  \"seed\": %u", seed);
    fprintf(f, ",\n  \"n_ctx\": %d,\n  \"n_threads\": %d,\n  \"prompt_ids\": ", n_ctx, n_threads);
    json_write_ids(f, prompt.ids, prompt.n);
    fputs(",\n  \"ids\": ", f);
    json_write_ids(f, out.ids, out.n);
    fputs(",\n  \"text\": ", f);
    json_bytes(f, gt.text.data ? gt.text.data : "", gt.text.n);
    fprintf(f, ",\n  \"stop_reason\": \"%s\",\n  \"n_prompt_tokens\": %d,\n  \"n_gen_tokens\": %zu,\n",
            stop_reason, n_prompt, out.n);
    fprintf(f, "  \"load_ms\": %.3f,\n  \"prompt_ms\": %.3f,\n  \"gen_ms\": %.3f,\n"
               "  \"eval_ms\": %.3f,\n  \"sample_ms\": %.3f,\n",
            load_ms, prompt_ms, gen_ms, eval_ms, sample_ms);
    json_rate(f, "prompt_tokens_per_s", n_prompt, prompt_ms);
    json_rate(f, "eval_tokens_per_s", n_eval, eval_ms);
    fprintf(f, "  \"gen_tokens_per_s\": ");
    if (out.n && gen_ms > 0) fprintf(f, "%.2f", (double)out.n * 1e3 / gen_ms);
    else fputs("null", f);
    if (o.logprobs) {
        fputs(",\n  \"logprobs\": [", f);
        for (size_t j = 0; j < out.n; j++) {
            const step_logprobs *st = &steps[j];
            fputs(j ? ",\n    " : "\n    ", f);
            size_t len;
            const char *p = token_piece(tk, out.ids[j], &len);
            fprintf(f, "{\"id\": %d, \"token\": ", out.ids[j]);
            json_bytes(f, p, len);
            fprintf(f, ", \"logprob\": %.6g, \"top_logprobs\": [", st->logprob);
            for (int k = 0; k < st->n; k++) {
                if (k) fputs(", ", f);
                json_token(f, tk, st->ids[k], st->logprobs[k]);
            }
            fputs("]}", f);
        }
        fputs("\n  ]", f);
    }
    fputs("\n}\n", f);
    fflush(f);
    status = EXIT_OK;
    goto done;
oom:
    cli_error(CMD, "out of memory");
done:
    if (steps)
        for (size_t j = 0; j < n_steps; j++) {
            free(steps[j].ids);
            free(steps[j].logprobs);
        }
    free(steps);
    tok_bytes_free(&gt.text);
    tok_ids_free(&prompt);
    tok_ids_free(&out);
    free(logits);
    free(prompt_text);
    tok_sampler_free(chain);
    tok_session_free(sess);
    tok_free(tk);
    tok_model_free(m);
    return status;
}
