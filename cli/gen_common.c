/* Option parsing and set-up shared by tok generate and tok chat (see
 * gen_common.h). No state: every helper works on what it is given. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"

int gen_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        cli_error(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int gen_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    float v = strtof(s, &end);
    if (!*s || *end || isnan(v) || v < lo || v > hi) {
        cli_error(cmd, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int gen_parse_kv_type(const char *cmd, const char *opt, const char *s, bool *f16) {
    if (!strcmp(s, "f16") || !strcmp(s, "f32")) {
        *f16 = !strcmp(s, "f16");
        return 0;
    }
    cli_error(cmd, "%s: expected f16 or f32, got '%s'", opt, s);
    return -1;
}

int gen_sampling_option(const char *cmd, const char *a, const char *v, tok_sampling_params *sp,
                        tok_logit_bias *bias) {
    int rc = 0;
    if (!strcmp(a, "--temp")) rc = gen_parse_float(cmd, a, v, 0, 1e6f, &sp->temp);
    else if (!strcmp(a, "--top-k")) rc = gen_parse_int(cmd, a, v, 0, INT_MAX, &sp->top_k);
    else if (!strcmp(a, "--top-p")) rc = gen_parse_float(cmd, a, v, 0, 1, &sp->top_p);
    else if (!strcmp(a, "--min-p")) rc = gen_parse_float(cmd, a, v, 0, 1, &sp->min_p);
    else if (!strcmp(a, "--repeat-penalty"))
        rc = gen_parse_float(cmd, a, v, 0, 1e6f, &sp->penalty_repeat);
    else if (!strcmp(a, "--repeat-last-n"))
        rc = gen_parse_int(cmd, a, v, -1, INT_MAX, &sp->penalty_last_n);
    else if (!strcmp(a, "--frequency-penalty"))
        rc = gen_parse_float(cmd, a, v, -1e6f, 1e6f, &sp->penalty_freq);
    else if (!strcmp(a, "--presence-penalty"))
        rc = gen_parse_float(cmd, a, v, -1e6f, 1e6f, &sp->penalty_present);
    else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
        /* llama.cpp: -1 (or 0xFFFFFFFF) means a random seed */
        char *end;
        long long s = strtoll(v, &end, 10);
        if (!*v || *end || s < -1 || s > 0xFFFFFFFFll) {
            cli_error(cmd, "%s: expected an integer in [-1, 4294967295], got '%s'", a, v);
            return -1;
        }
        sp->seed = s < 0 ? TOK_SEED_RANDOM : (uint32_t)s;
    } else if (!strcmp(a, "--logit-bias")) {
        char *end;
        long id = strtol(v, &end, 10);
        float b;
        if (end == v || *end != '=' || id < 0 || id > INT32_MAX || sp->n_logit_bias == GEN_MAX_BIAS) {
            cli_error(cmd, "--logit-bias: expected ID=BIAS (at most %d), got '%s'", GEN_MAX_BIAS, v);
            return -1;
        }
        if (!strcmp(end + 1, "-inf")) b = -INFINITY;
        else if (gen_parse_float(cmd, a, end + 1, -1e6f, 1e6f, &b)) return -1;
        bias[sp->n_logit_bias++] = (tok_logit_bias){(int32_t)id, b};
        sp->logit_bias = bias;
    } else
        return 0;
    return rc ? -1 : 1;
}

const char *gen_default_model(char *buf, size_t cap) {
    const char *env = getenv("TOK_DATA_DIR");
    if (env && *env) {
        snprintf(buf, cap, "%s/models/%s", env, GEN_DEFAULT_MODEL);
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
            snprintf(buf, cap, "%s%s/models/%s", exe, rel[i], GEN_DEFAULT_MODEL);
            if (access(buf, R_OK) == 0) {
                char real[PATH_MAX]; /* messages show build/../data as data */
                if (realpath(buf, real) && strlen(real) < cap) memcpy(buf, real, strlen(real) + 1);
                return buf;
            }
        }
    }
    snprintf(buf, cap, "%s/models/%s", TOK_DATADIR, GEN_DEFAULT_MODEL);
    return buf; /* may not exist: loading then names it */
}

int gen_default_threads(const tok_model *m) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return tok_model_get_info(m)->weight_bytes < 100u << 20 || cores < 1 ? 1 : (int)cores;
}

double gen_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* For models without a chat template (base models such as the bundled one):
 * plain "User:" / "Assistant:" turns, which any vocabulary can spell, rather
 * than special tokens the model does not have. */
static const char PLAIN_CHAT_TEMPLATE[] =
    "{% for m in messages %}"
    "{% if m.role == 'system' %}{{ m.content + '\\n\\n' }}"
    "{% elif m.role == 'user' %}{{ 'User: ' + m.content + '\\n' }}"
    "{% else %}{{ 'Assistant: ' + m.content + '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

tok_chat *gen_load_chat(const char *cmd, const tok_model *m, const tok_tokenizer *tk,
                        const char *template_file, bool quiet) {
    tok_error err = {0};
    tok_chat *c;
    if (template_file) {
        size_t len;
        char *src = cli_read_file(template_file, &len);
        if (!src) {
            cli_error(cmd, "%s: cannot read the chat template", template_file);
            return NULL;
        }
        c = tok_chat_new(template_file, src, len, tk, &err);
        free(src);
    } else if (!tok_gguf_get_string(tok_model_gguf(m), "tokenizer.chat_template")) {
        if (!quiet)
            fprintf(stderr,
                "tok %s: %s has no chat template (tokenizer.chat_template); using plain 'User:'/'Assistant:' "
                "turns (give a template with --chat-template FILE)\n",
                cmd, tok_gguf_path(tok_model_gguf(m)));
        c = tok_chat_new("plain chat template", PLAIN_CHAT_TEMPLATE, sizeof PLAIN_CHAT_TEMPLATE - 1, tk, &err);
    } else {
        c = tok_chat_from_gguf(tok_model_gguf(m), tk, &err);
    }
    if (!c) cli_error(cmd, "%s", err.msg);
    return c;
}
