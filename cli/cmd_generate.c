/* tok generate: text continuation with a local GGUF model. Tokenize the
 * prompt (or take --prompt-ids; with --chat, format it as one user message
 * through the model's chat template), then run the engine's generation loop
 * (tok_generate, engine/generate.c), streaming text as it becomes final.
 * --json prints one object instead (ids, text, timings, optional top-K
 * logprobs per token). This file is argument parsing and output only. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"
#include "json_out.h"

#define CMD "generate"

static const char HELP[] =
    "usage: tok generate [-m MODEL.gguf] (-p PROMPT | --prompt-ids \"1 2 3\") [OPTIONS]\n"
    "\n"
    "Continues a prompt with a local GGUF model (llama, qwen2), streaming the text.\n"
    "\n"
    "  -m, --model PATH        GGUF file (default: models/" GEN_DEFAULT_MODEL " in the data dir)\n"
    "  -p, --prompt TEXT       prompt, tokenized with the model's own tokenizer (BOS as\n"
    "                          the GGUF says)\n"
    "  -f, --file PATH         read the prompt from a file ('-' = stdin)\n"
    "      --prompt-ids IDS    prompt as token ids, separated by spaces or commas\n"
    "      --chat              the prompt is a user message: apply the model's chat\n"
    "                          template (GGUF tokenizer.chat_template) and answer it\n"
    "      --system TEXT       with --chat: a system message before it\n"
    "      --chat-template FILE  with --chat: this Jinja chat template instead\n"
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
    "      --kv-type T         KV cache values: f32 (default) or f16 (half the memory;\n"
    "                          llama.cpp's default, and its numerics)\n"
    "      --stop STR          stop before STR appears (repeatable; STR not printed)\n"
    "      --ignore-eos        keep generating after the end-of-sequence token\n"
    "      --logprobs K        with --json: the K most likely tokens at each step\n"
    "      --json              print one JSON object instead of streaming text\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (model, context), 2 usage error.\n";

#define MAX_STOPS 16

typedef struct gen_opts {
    const char *model, *prompt, *prompt_file, *prompt_ids, *system, *chat_template;
    int n_predict, n_threads, n_ctx, logprobs;
    bool json, ignore_eos, chat, kv_f16;
    tok_sampling_params sp;
    const char *stops[MAX_STOPS];
    int n_stops;
    tok_logit_bias bias[GEN_MAX_BIAS];
} gen_opts;

/* ---- argument parsing ---------------------------------------------------------- */

static int parse_args(gen_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(HELP, stdout);
            return 1;
        }
        if (!strcmp(a, "--json")) { o->json = true; continue; }
        if (!strcmp(a, "--ignore-eos")) { o->ignore_eos = true; continue; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (i + 1 >= argc || a[0] != '-') {
            cli_error(CMD, a[0] == '-' ? "%s needs a value" : "unexpected argument '%s'", a);
            return -1;
        }
        const char *v = argv[++i];
        int rc = 0, s = gen_sampling_option(CMD, a, v, &o->sp, o->bias);
        if (s < 0) return -1;
        if (s > 0) continue;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->prompt_file = v;
        else if (!strcmp(a, "--prompt-ids")) o->prompt_ids = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--chat-template")) o->chat_template = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            rc = gen_parse_int(CMD, a, v, -1, INT_MAX, &o->n_predict);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            rc = gen_parse_int(CMD, a, v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx"))
            rc = gen_parse_int(CMD, a, v, 1, INT_MAX, &o->n_ctx);
        else if (!strcmp(a, "--logprobs")) rc = gen_parse_int(CMD, a, v, 1, 100, &o->logprobs);
        else if (!strcmp(a, "--kv-type")) rc = gen_parse_kv_type(CMD, a, v, &o->kv_f16);
        else if (!strcmp(a, "--stop")) {
            if (o->n_stops == MAX_STOPS || !*v) {
                cli_error(CMD, "--stop: %s", *v ? "at most 16 stop strings" : "empty string");
                return -1;
            }
            o->stops[o->n_stops++] = v;
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
    if (o->chat && o->prompt_ids) {
        cli_error(CMD, "--chat takes a message (-p or -f), not --prompt-ids");
        return -1;
    }
    if (!o->chat && (o->system || o->chat_template)) {
        cli_error(CMD, "%s needs --chat", o->system ? "--system" : "--chat-template");
        return -1;
    }
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

/* ---- output ---------------------------------------------------------------------- */

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

static void json_token(FILE *f, const tok_tokenizer *t, int32_t id, float logprob) {
    size_t len;
    const char *p = tok_token_piece(t, id, &len);
    fprintf(f, "{\"id\": %d, \"token\": ", id);
    json_bytes(f, p, len);
    fprintf(f, ", \"logprob\": %.6g}", logprob);
}

static void json_rate(FILE *f, const char *key, double n, double ms) {
    if (n > 0 && ms > 0) fprintf(f, "  \"%s\": %.2f,\n", key, n * 1e3 / ms);
    else fprintf(f, "  \"%s\": null,\n", key);
}

static void print_json(FILE *f, const char *path, int n_ctx, int n_threads, bool kv_f16, const tok_ids *prompt,
                       const tok_generation *g, const tok_tokenizer *tk, double load_ms) {
    fputs("{\n  \"model\": ", f);
    json_bytes(f, path, strlen(path));
    if (g->seed == TOK_SEED_RANDOM) fputs(",\n  \"seed\": null", f); /* greedy */
    else fprintf(f, ",\n  \"seed\": %u", g->seed);
    fprintf(f, ",\n  \"n_ctx\": %d,\n  \"n_threads\": %d,\n  \"kv_type\": \"%s\",\n  \"prompt_ids\": ", n_ctx, n_threads,
            kv_f16 ? "f16" : "f32");
    json_write_ids(f, prompt->ids, prompt->n);
    fputs(",\n  \"ids\": ", f);
    json_write_ids(f, g->ids.ids, g->ids.n);
    fputs(",\n  \"text\": ", f);
    json_bytes(f, g->text.data ? g->text.data : "", g->text.n);
    fprintf(f, ",\n  \"stop_reason\": \"%s\",\n  \"n_prompt_tokens\": %d,\n  \"n_gen_tokens\": %zu,\n",
            tok_stop_reason_name(g->stop_reason), g->prompt_tokens, g->ids.n);
    fprintf(f, "  \"load_ms\": %.3f,\n  \"prompt_ms\": %.3f,\n  \"gen_ms\": %.3f,\n"
               "  \"eval_ms\": %.3f,\n  \"sample_ms\": %.3f,\n",
            load_ms, g->prompt_ms, g->gen_ms, g->eval_ms, g->sample_ms);
    json_rate(f, "prompt_tokens_per_s", g->prompt_evaluated, g->prompt_ms);
    json_rate(f, "eval_tokens_per_s", g->n_eval, g->eval_ms);
    fprintf(f, "  \"gen_tokens_per_s\": ");
    if (g->ids.n && g->gen_ms > 0) fprintf(f, "%.2f", (double)g->ids.n * 1e3 / g->gen_ms);
    else fputs("null", f);
    if (g->logprobs) {
        fputs(",\n  \"logprobs\": [", f);
        for (size_t j = 0; j < g->ids.n; j++) {
            const tok_step_logprobs *st = &g->logprobs[j];
            fputs(j ? ",\n    " : "\n    ", f);
            size_t len;
            const char *p = tok_token_piece(tk, g->ids.ids[j], &len);
            fprintf(f, "{\"id\": %d, \"token\": ", g->ids.ids[j]);
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
}

/* Streaming callback: text pieces straight to stdout. */
static int write_text(const char *text, size_t len, void *user) {
    fwrite(text, 1, len, (FILE *)user);
    fflush((FILE *)user);
    return 0;
}

/* ---- the command ------------------------------------------------------------------ */

/* The prompt ids: --prompt-ids, the text as is, or the text as a chat message. */
static int prompt_ids(const gen_opts *o, const tok_model *m, const tok_tokenizer *tk,
                      const char *text, size_t len, tok_ids *prompt) {
    tok_error err = {0};
    if (o->chat) {
        tok_chat *c = gen_load_chat(CMD, m, tk, o->chat_template, false);
        if (!c) return EXIT_RUNTIME;
        tok_chat_message msgs[2];
        size_t n = 0;
        if (o->system) msgs[n++] = (tok_chat_message){"system", o->system};
        msgs[n++] = (tok_chat_message){"user", text};
        int rc = tok_chat_format(c, msgs, n, true, prompt, NULL, &err);
        tok_chat_free(c);
        if (rc) {
            cli_error(CMD, "chat template: %s", err.msg);
            return EXIT_RUNTIME;
        }
        return 0;
    }
    tok_encode_params ep = tok_encode_default_params();
    ep.add_special = true; /* BOS as the GGUF's add_bos_token says */
    ep.utf8 = TOK_UTF8_REPLACE;
    if (tok_encode(tk, text, len, &ep, prompt, &err)) {
        cli_error(CMD, "prompt: %s", err.msg);
        return EXIT_RUNTIME;
    }
    return 0;
}

int cmd_generate(int argc, char **argv) {
    gen_opts o = {.n_predict = 128, .sp = tok_sampling_default_params()};
    int prc = parse_args(&o, argc, argv);
    if (prc) return prc > 0 ? EXIT_OK : EXIT_USAGE;

    char path_buf[PATH_MAX + 64];
    const char *path = o.model ? o.model : gen_default_model(path_buf, sizeof path_buf);
    tok_error err = {0};
    int status = EXIT_RUNTIME;
    tok_model *m = NULL;
    tok_tokenizer *tk = NULL;
    tok_session *sess = NULL;
    char *prompt_text = NULL;
    tok_ids prompt = {0};
    tok_generation gen = {0};
    size_t prompt_len = 0;

    if (o.prompt_ids && parse_ids(o.prompt_ids, &prompt)) {
        status = EXIT_USAGE;
        goto done;
    }
    if (o.prompt_file && !(prompt_text = cli_read_file(o.prompt_file, &prompt_len))) {
        cli_error(CMD, "%s: cannot read the prompt file", o.prompt_file);
        goto done;
    }
    double t_start = gen_now_ms();
    if (!(m = tok_model_load(path, NULL, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    double load_ms = gen_now_ms() - t_start;
    const tok_model_info *info = tok_model_get_info(m);
    int n_vocab = info->vocab_size;
    tk = tok_gguf_tokenizer(tok_model_gguf(m), &err);
    if (!tk && o.prompt_ids)
        cli_error(CMD, "warning: %s; ids only, the text will be empty", err.msg);
    if (!o.prompt_ids) {
        if (!tk) {
            cli_error(CMD, "%s (give the prompt as --prompt-ids)", err.msg);
            goto done;
        }
        const char *text = o.prompt ? o.prompt : prompt_text;
        size_t len = o.prompt ? strlen(o.prompt) : prompt_len;
        if ((status = prompt_ids(&o, m, tk, text, len, &prompt))) goto done;
        status = EXIT_RUNTIME;
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
    int n_threads = o.n_threads ? o.n_threads : gen_default_threads(m);
    tok_session_params spar = tok_session_default_params();
    spar.n_ctx = n_ctx;
    spar.kv_f16 = o.kv_f16;
    spar.n_threads = n_threads;
    if (!(sess = tok_session_new(m, &spar, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    tok_generate_params gp = tok_generate_default_params();
    gp.sampling = o.sp;
    gp.max_tokens = o.n_predict;
    gp.stop = o.stops;
    gp.n_stop = (size_t)o.n_stops;
    gp.ignore_eos = o.ignore_eos;
    gp.n_logprobs = o.logprobs;
    if (!o.json) {
        gp.on_text = write_text;
        gp.user = stdout;
    }
    if (tok_generate(sess, tk, prompt.ids, prompt.n, &gp, &gen, &err)) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if (o.json) {
        print_json(stdout, path, n_ctx, n_threads, o.kv_f16, &prompt, &gen, tk, load_ms);
    } else {
        if (isatty(STDOUT_FILENO)) putchar('\n');
        fflush(stdout);
    }
    status = EXIT_OK;
done:
    tok_generation_free(&gen);
    tok_ids_free(&prompt);
    free(prompt_text);
    tok_session_free(sess);
    tok_free(tk);
    tok_model_free(m);
    return status;
}
