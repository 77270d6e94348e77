/* tok chat: an interactive conversation with a local GGUF model.
 *
 * Each line read from stdin (a terminal or a pipe) is a user message, or a
 * command (/reset, /system TEXT, /exit). The whole conversation is formatted
 * with the model's chat template (tok_chat, pipeline/chat.c) every turn and
 * generated from with tok_generate (engine/generate.c); the KV cache keeps
 * the ids of the previous turn, and only the part of the new prompt after
 * their common prefix is evaluated, so a turn costs its new tokens, not the
 * whole history. When the prompt would leave less than -n tokens for the
 * reply, the oldest turns after the system message are dropped (with a
 * notice) until it fits. Usage per turn goes to stderr (dim on a terminal),
 * so stdout carries only the replies. */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"

#define CMD "chat"
#define MAX_STOPS 16

static const char HELP[] =
    "usage: tok chat [-m MODEL.gguf] [OPTIONS]\n"
    "\n"
    "Talks with a local GGUF model: each line on stdin is a message, the reply is\n"
    "streamed to stdout, the conversation is kept and formatted with the model's\n"
    "chat template. Works in a terminal and with piped input.\n"
    "\n"
    "A line ending in a backslash continues the message on the next line.\n"
    "\n"
    "Commands (on a line of their own):\n"
    "  /reset                  forget the conversation (keeps the system message)\n"
    "  /system TEXT            set the system message (/system alone removes it)\n"
    "  /exit                   quit (so does end of input)\n"
    "\n"
    "  -m, --model PATH        GGUF file (default: models/" GEN_DEFAULT_MODEL " in the data dir)\n"
    "      --system TEXT       system message\n"
    "      --chat-template FILE  Jinja chat template instead of the model's\n"
    "                          (GGUF tokenizer.chat_template)\n"
    "  -c, --ctx N             context size (default: the model's training context,\n"
    "                          at most 4096); oldest turns are dropped to fit\n"
    "      --kv-type T         KV cache values: f32 (default) or f16 (half the memory;\n"
    "                          llama.cpp's default, and its numerics)\n"
    "  -n, --n-predict N       most tokens in a reply (default 256, at most half\n"
    "                          the context unless given)\n"
    "      --temp T, --top-k K, --top-p P, --min-p P, --repeat-penalty R,\n"
    "      --repeat-last-n N, --frequency-penalty F, --presence-penalty P,\n"
    "      --logit-bias ID=B   sampling, as in tok generate (defaults: llama.cpp's)\n"
    "  -s, --seed S            random seed (default: from the clock)\n"
    "  -t, --threads N         threads (default: 1 for models under 100 MB, else all)\n"
    "      --stop STR          end a reply before STR (repeatable)\n"
    "  -q, --quiet             no usage lines\n"
    "  -h, --help              this help\n"
    "\n"
    "Usage after each reply, on stderr: prompt tokens (evaluated anew), reply\n"
    "tokens, context used/limit, speed.\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (model, template), 2 usage error.\n";

typedef struct chat_opts {
    const char *model, *system, *chat_template;
    int n_predict, n_threads, n_ctx;
    bool quiet, kv_f16;
    tok_sampling_params sp;
    tok_logit_bias bias[GEN_MAX_BIAS];
    const char *stops[MAX_STOPS];
    int n_stops;
} chat_opts;

static int parse_args(chat_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(HELP, stdout);
            return 1;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { o->quiet = true; continue; }
        if (i + 1 >= argc || a[0] != '-') {
            cli_error(CMD, a[0] == '-' ? "%s needs a value" : "unexpected argument '%s'", a);
            return -1;
        }
        const char *v = argv[++i];
        int rc = 0, s = gen_sampling_option(CMD, a, v, &o->sp, o->bias);
        if (s < 0) return -1;
        if (s > 0) continue;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--chat-template")) o->chat_template = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            rc = gen_parse_int(CMD, a, v, 1, INT_MAX, &o->n_predict);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            rc = gen_parse_int(CMD, a, v, 1, 512, &o->n_threads);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx"))
            rc = gen_parse_int(CMD, a, v, 2, INT_MAX, &o->n_ctx);
        else if (!strcmp(a, "--kv-type")) rc = gen_parse_kv_type(CMD, a, v, &o->kv_f16);
        else if (!strcmp(a, "--stop")) {
            if (o->n_stops == MAX_STOPS || !*v) {
                cli_error(CMD, "--stop: %s", *v ? "at most 16 stop strings" : "empty string");
                return -1;
            }
            o->stops[o->n_stops++] = v;
        } else {
            cli_error(CMD, "unknown option '%s' (see 'tok chat --help')", a);
            return -1;
        }
        if (rc) return -1;
    }
    return 0;
}

/* ---- the conversation ----------------------------------------------------------- */

/* Messages in order; the system message, if any, is kept apart so that
 * dropping old turns never touches it. Strings are owned. */
typedef struct conversation {
    char *system;
    tok_chat_message *msgs; /* user/assistant, alternating, oldest first */
    size_t n, cap;
} conversation;

static int conv_push(conversation *c, const char *role, const char *text, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        tok_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return -1;
        c->msgs = m;
        c->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return -1;
    memcpy(s, text, len);
    s[len] = 0;
    c->msgs[c->n++] = (tok_chat_message){role, s};
    return 0;
}

/* Drops the first k messages. */
static void conv_drop(conversation *c, size_t k) {
    if (!k) return; /* msgs may still be NULL */
    for (size_t i = 0; i < k; i++) free((char *)c->msgs[i].content);
    memmove(c->msgs, c->msgs + k, (c->n - k) * sizeof *c->msgs);
    c->n -= k;
}

static void conv_drop_last(conversation *c) {
    free((char *)c->msgs[--c->n].content);
}

static void conv_free(conversation *c) {
    conv_drop(c, c->n);
    free(c->msgs);
    free(c->system);
}

/* [system] + the turns, formatted for the model's reply. */
static int conv_format(const conversation *c, const tok_chat *chat, tok_ids *ids, tok_error *err) {
    tok_chat_message *all = malloc((c->n + 1) * sizeof *all);
    if (!all) return TOK_ENOMEM;
    size_t n = 0;
    if (c->system) all[n++] = (tok_chat_message){"system", c->system};
    memcpy(all + n, c->msgs, c->n * sizeof *all);
    ids->n = 0;
    int rc = tok_chat_format(chat, all, n + c->n, true, ids, NULL, err);
    free(all);
    return rc;
}

typedef struct chat_state {
    const chat_opts *o;
    tok_session *sess;
    const tok_tokenizer *tk;
    const tok_chat *chat;
    conversation conv;
    tok_ids cached; /* the ids in the KV cache, position by position */
    bool dim;       /* stderr is a terminal */
} chat_state;

static void notice(const chat_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(const chat_state *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (st->dim) fputs("\033[2m", stderr);
    fputc('[', stderr);
    vfprintf(stderr, fmt, ap);
    fputc(']', stderr);
    if (st->dim) fputs("\033[0m", stderr);
    fputc('\n', stderr);
    va_end(ap);
}

/* Ctrl-C while a reply streams ends the reply (the generation loop is
 * asked to stop at its next piece of text); at the prompt it quits. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int write_text(const char *text, size_t len, void *user) {
    fwrite(text, 1, len, (FILE *)user);
    fflush((FILE *)user);
    return interrupted;
}

/* One user message: fit the prompt, generate, keep the reply. 0 or
 * EXIT_RUNTIME (the conversation goes on after a turn that did not fit). */
static int chat_turn(chat_state *st, const char *line, size_t len) {
    const chat_opts *o = st->o;
    tok_error err = {0};
    tok_ids prompt = {0};
    tok_generation gen = {0};
    int n_ctx = tok_session_n_ctx(st->sess), budget = n_ctx - o->n_predict, rc = 0;
    if (conv_push(&st->conv, "user", line, len)) return EXIT_RUNTIME;
    for (;;) {
        if (conv_format(&st->conv, st->chat, &prompt, &err)) {
            cli_error(CMD, "chat template: %s", err.msg);
            rc = EXIT_RUNTIME;
            goto undo;
        }
        if ((int)prompt.n <= budget) break;
        if (st->conv.n <= 1) {
            notice(st, "the message needs %zu tokens; with %d kept for the reply the context "
                       "holds %d (--ctx %d, -n %d): not sent",
                   prompt.n, o->n_predict, budget, n_ctx, o->n_predict);
            goto undo;
        }
        /* the oldest user turn and the reply to it */
        size_t k = st->conv.n >= 3 ? 2 : 1;
        int before = (int)prompt.n;
        conv_drop(&st->conv, k);
        if (conv_format(&st->conv, st->chat, &prompt, &err)) continue; /* reported next round */
        notice(st, "context: dropped the oldest turn (%d -> %zu prompt tokens, limit %d = "
                   "context %d - reply %d)",
               before, prompt.n, budget, n_ctx, o->n_predict);
    }
    /* Reuse the KV cache up to the first id that differs. */
    size_t reuse = 0;
    while (reuse < st->cached.n && reuse < prompt.n && st->cached.ids[reuse] == prompt.ids[reuse])
        reuse++;
    tok_generate_params gp = tok_generate_default_params();
    gp.sampling = o->sp;
    gp.max_tokens = o->n_predict;
    gp.stop = o->stops;
    gp.n_stop = (size_t)o->n_stops;
    gp.n_reuse = (int)reuse;
    gp.on_text = write_text;
    gp.user = stdout;
    struct sigaction sa = {.sa_handler = on_sigint}, old_sa;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_sa);
    int grc = tok_generate(st->sess, st->tk, prompt.ids, prompt.n, &gp, &gen, &err);
    sigaction(SIGINT, &old_sa, NULL);
    if (grc) {
        cli_error(CMD, "%s", err.msg);
        st->cached.n = 0;
        rc = EXIT_RUNTIME;
        goto undo;
    }
    fputc('\n', stdout);
    fflush(stdout);
    /* The session now holds the prompt and all generated ids but the last. */
    st->cached.n = 0;
    size_t n_past = (size_t)tok_session_n_past(st->sess);
    size_t from_prompt = n_past < prompt.n ? n_past : prompt.n;
    size_t from_gen = n_past - from_prompt < gen.ids.n ? n_past - from_prompt : gen.ids.n;
    if (tok_ids_append(&st->cached, prompt.ids, from_prompt) ||
        tok_ids_append(&st->cached, gen.ids.ids, from_gen))
        st->cached.n = 0; /* only costs a full re-evaluation next turn */
    if (conv_push(&st->conv, "assistant", gen.text.data, gen.text.n)) rc = EXIT_RUNTIME;
    if (!o->quiet) {
        double tps = gen.gen_ms > 0 ? gen.completion_tokens * 1e3 / gen.gen_ms : 0;
        notice(st, "usage: prompt %d tokens (%d evaluated, %d reused), reply %d tokens (%s), "
                   "context %d/%d, %.1f tokens/s",
               gen.prompt_tokens, gen.prompt_evaluated, gen.prompt_tokens - gen.prompt_evaluated,
               gen.completion_tokens, tok_stop_reason_name(gen.stop_reason),
               gen.prompt_tokens + gen.completion_tokens, n_ctx, tps);
    }
    tok_generation_free(&gen);
    tok_ids_free(&prompt);
    return rc;
undo: /* the message was not answered: forget it */
    if (st->conv.n && !strcmp(st->conv.msgs[st->conv.n - 1].role, "user")) conv_drop_last(&st->conv);
    tok_ids_free(&prompt);
    return rc;
}

/* One message: a line, or several when each but the last ends with a
 * backslash (the backslash becomes a newline). Line ends are stripped.
 * Returns its length, -1 at end of input. */
static ssize_t read_message(char **buf, size_t *cap, bool tty) {
    tok_bytes msg = {0};
    ssize_t got = -1;
    for (;;) {
        ssize_t n = getline(buf, cap, stdin);
        if (n < 0) break;
        while (n && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) n--;
        bool more = n && (*buf)[n - 1] == '\\';
        if (more) n--;
        if (tok_bytes_append(&msg, *buf, (size_t)n) || (more && tok_bytes_append(&msg, "\n", 1))) break;
        got = (ssize_t)msg.n;
        if (!more) break;
        if (tty) {
            fputs(". ", stdout);
            fflush(stdout);
        }
    }
    if (got >= 0) {
        if (*cap < msg.n + 1) {
            char *nb = realloc(*buf, msg.n + 1);
            if (!nb) got = -1;
            else *buf = nb, *cap = msg.n + 1;
        }
        if (got >= 0) memcpy(*buf, msg.data ? msg.data : "", msg.n + 1);
    }
    tok_bytes_free(&msg);
    return got;
}

/* A command line: 1 handled, 0 not a command, -1 /exit. */
static int chat_command(chat_state *st, const char *line) {
    if (line[0] != '/') return 0;
    if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) return -1;
    if (!strcmp(line, "/reset")) {
        conv_drop(&st->conv, st->conv.n);
        notice(st, "conversation reset%s", st->conv.system ? " (system message kept)" : "");
        return 1;
    }
    if (!strncmp(line, "/system", 7) && (!line[7] || line[7] == ' ')) {
        const char *text = line[7] ? line + 8 : "";
        free(st->conv.system);
        st->conv.system = *text ? strdup(text) : NULL;
        notice(st, st->conv.system ? "system message set" : "system message removed");
        return 1;
    }
    notice(st, "unknown command '%s' (commands: /reset, /system TEXT, /exit)", line);
    return 1;
}

int cmd_chat(int argc, char **argv) {
    chat_opts o = {.sp = tok_sampling_default_params()};
    int prc = parse_args(&o, argc, argv);
    if (prc) return prc > 0 ? EXIT_OK : EXIT_USAGE;

    char path_buf[PATH_MAX + 64];
    const char *path = o.model ? o.model : gen_default_model(path_buf, sizeof path_buf);
    tok_error err = {0};
    int status = EXIT_RUNTIME;
    tok_model *m = NULL;
    tok_tokenizer *tk = NULL;
    tok_chat *chat = NULL;
    chat_state st = {.o = &o, .dim = isatty(STDERR_FILENO)};
    char *line = NULL;
    size_t line_cap = 0;

    if (!(m = tok_model_load(path, NULL, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if (!(tk = tok_gguf_tokenizer(tok_model_gguf(m), &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if (!(chat = gen_load_chat(CMD, m, tk, o.chat_template, false))) goto done;
    const tok_model_info *info = tok_model_get_info(m);
    int n_ctx = o.n_ctx;
    if (!n_ctx) n_ctx = info->ctx_train > 0 && info->ctx_train < 4096 ? info->ctx_train : 4096;
    if (!o.n_predict) o.n_predict = n_ctx / 2 < 256 ? n_ctx / 2 : 256;
    if (o.n_predict >= n_ctx) {
        cli_error(CMD, "-n %d leaves no room for a prompt in a context of %d (--ctx)", o.n_predict,
                  n_ctx);
        status = EXIT_USAGE;
        goto done;
    }
    tok_session_params spar = tok_session_default_params();
    spar.n_ctx = n_ctx;
    spar.kv_f16 = o.kv_f16;
    spar.n_threads = o.n_threads ? o.n_threads : gen_default_threads(m);
    if (!(st.sess = tok_session_new(m, &spar, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    st.tk = tk;
    st.chat = chat;
    if (o.system && !(st.conv.system = strdup(o.system))) goto done;
    bool tty = isatty(STDIN_FILENO);
    if (tty)
        fprintf(stderr, "tok chat: %s (context %d, replies up to %d tokens); /reset, /system TEXT, "
                        "/exit\n",
                path, n_ctx, o.n_predict);
    status = EXIT_OK;
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t n = read_message(&line, &line_cap, tty);
        if (n < 0) {
            if (tty) fputc('\n', stdout);
            break;
        }
        if (!n) continue;
        int c = chat_command(&st, line);
        if (c < 0) break;
        if (c > 0) continue; /* the KV cache stays: the next prompt reuses its prefix */
        if (chat_turn(&st, line, (size_t)n)) status = EXIT_RUNTIME;
    }
done:
    free(line);
    conv_free(&st.conv);
    tok_ids_free(&st.cached);
    tok_session_free(st.sess);
    tok_chat_free(chat);
    tok_free(tk);
    tok_model_free(m);
    return status;
}
