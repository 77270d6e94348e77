/*
 * The recipe runner: binds the inputs (command-line values, files, defaults),
 * then runs the steps in the order the loader fixed. A prompt step renders its
 * system and user templates with the inputs and the earlier outputs, formats
 * them with the backend's chat template, and counts that exact token sequence
 * against the context window minus the output reserve (max_tokens) before
 * generating: the ids counted are the ids sent, so count and call never
 * disagree. A template step only renders. Outputs are parsed per `format`
 * (json fails closed, lines splits) and visible to later steps as
 * steps.ID.output. A split step cuts a rendered text into token-bounded
 * chunks (recipe_split.c); a step with `over:` runs its prompt or template
 * once per list item, sequentially, and outputs the list of results.
 * Cost: one template render and one tokenization per step (per item for
 * `over`), plus the generation; one session (KV cache) reused by every step.
 */
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "recipe_internal.h"
#include "tok_engine.h"

int rc_fail(tok_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

double rc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

tok_recipe_run_params tok_recipe_default_run_params(void) {
    tok_recipe_run_params p = {0};
    return p;
}

/* The text of a file; "-" is standard input. */
static char *read_all(const char *path, size_t *len) {
    bool in = !strcmp(path, "-");
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    char *d = NULL;
    size_t n = 0, got;
    char buf[65536];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        char *nd = realloc(d, n + got + 1);
        if (!nd) { free(d); if (!in) fclose(f); errno = ENOMEM; return NULL; }
        d = nd;
        memcpy(d + n, buf, got);
        n += got;
    }
    if (!in) fclose(f);
    if (!d && !(d = calloc(1, 1))) return NULL;
    d[n] = 0;
    if (len) *len = n;
    return d;
}

/* Lines of text as a JSON array (empty lines and surrounding spaces dropped). */
cJSON *rc_split_lines(const char *s) {
    cJSON *a = cJSON_CreateArray();
    while (a && *s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const char *b = s, *z = s + n;
        while (b < z && (*b == ' ' || *b == '\t' || *b == '\r')) b++;
        while (z > b && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r')) z--;
        if (z > b) {
            char *line = strndup(b, (size_t)(z - b));
            if (!line) { cJSON_Delete(a); return NULL; }
            cJSON_AddItemToArray(a, cJSON_CreateString(line));
            free(line);
        }
        s += n + (e != NULL);
    }
    return a;
}

/* A `files` input: every file the patterns match (glob, sorted), as
 * {"path", "name", "text"} objects. Patterns: one per line, or a JSON list;
 * relative ones from the recipe's folder for defaults. */
static cJSON *bind_files(const tok_recipe *r, const rc_input *in, const char *value, bool from_cli, tok_error *err) {
    cJSON *pats = value[0] == '[' ? cJSON_Parse(value) : rc_split_lines(value), *out = cJSON_CreateArray();
    if (!cJSON_IsArray(pats) || !out) {
        cJSON_Delete(pats), cJSON_Delete(out);
        rc_fail(err, TOK_EINVAL, "input \"%s\": expected glob patterns, one per line or a JSON list", in->name);
        return NULL;
    }
    for (const cJSON *p = pats->child; p; p = p->next) {
        if (!cJSON_IsString(p)) continue;
        char pat[4096];
        if (p->valuestring[0] != '/' && p->valuestring[0] != '~' && !from_cli)
            snprintf(pat, sizeof pat, "%s/%s", r->dir, p->valuestring);
        else
            snprintf(pat, sizeof pat, "%s", p->valuestring);
        glob_t g;
        int rc = glob(pat, GLOB_BRACE | GLOB_TILDE, NULL, &g);
        if (rc) {
            rc_fail(err, TOK_EIO, "input \"%s\": %s: %s", in->name, pat,
                    rc == GLOB_NOMATCH ? "no file matches" : "cannot read the folder");
            cJSON_Delete(pats), cJSON_Delete(out);
            return NULL;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *text = read_all(g.gl_pathv[i], NULL);
            if (!text) {
                rc_fail(err, TOK_EIO, "input \"%s\": %s: %s", in->name, g.gl_pathv[i], strerror(errno));
                globfree(&g), cJSON_Delete(pats), cJSON_Delete(out);
                return NULL;
            }
            const char *base = strrchr(g.gl_pathv[i], '/');
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "path", g.gl_pathv[i]);
            cJSON_AddStringToObject(f, "name", base ? base + 1 : g.gl_pathv[i]);
            cJSON_AddStringToObject(f, "text", text);
            cJSON_AddItemToArray(out, f);
            free(text);
        }
        globfree(&g);
    }
    cJSON_Delete(pats);
    return out;
}

/* The value of one input, typed. from_cli: relative paths are the user's;
 * defaults are relative to the recipe's folder. */
static cJSON *bind_input(const tok_recipe *r, const rc_input *in, const char *value, bool from_cli,
                         tok_error *err) {
    char *owned = NULL;
    if (value[0] == '@' && in->type != RC_IN_FILE) { /* --var k=@FILE, or a default "@FILE": the file's text */
        char path[4096];
        if (value[1] != '/' && strcmp(value, "@-") && !from_cli) snprintf(path, sizeof path, "%s/%s", r->dir, value + 1);
        else snprintf(path, sizeof path, "%s", value + 1);
        if (!(owned = read_all(path, NULL))) {
            rc_fail(err, TOK_EIO, "input \"%s\": %s: %s", in->name, path, strerror(errno));
            return NULL;
        }
        value = owned;
    }
    cJSON *v = NULL;
    if (in->type == RC_IN_FILE) {
        char path[4096];
        if (value[0] == '@') value++; /* a file input is a path already: @ is optional */
        if (value[0] != '/' && !from_cli) snprintf(path, sizeof path, "%s/%s", r->dir, value);
        else snprintf(path, sizeof path, "%s", value);
        char *text = read_all(path, NULL);
        if (!text) rc_fail(err, TOK_EIO, "input \"%s\": %s: %s", in->name, path, strerror(errno));
        else v = cJSON_CreateString(text);
        free(text);
    } else if (in->type == RC_IN_NUMBER) {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        if (!*value || *end || errno) rc_fail(err, TOK_EINVAL, "input \"%s\": expected a number, got \"%s\"", in->name, value);
        else v = cJSON_CreateNumber(d);
    } else if (in->type == RC_IN_FILES) {
        v = bind_files(r, in, value, from_cli, err);
    } else if (in->type == RC_IN_LIST) {
        if (value[0] == '[') {
            v = cJSON_Parse(value);
            if (!cJSON_IsArray(v)) {
                cJSON_Delete(v), v = NULL;
                rc_fail(err, TOK_EINVAL, "input \"%s\": expected a JSON array or one item per line", in->name);
            }
        } else
            v = rc_split_lines(value);
    } else
        v = cJSON_CreateString(value);
    free(owned);
    return v;
}

static int bind_inputs(const tok_recipe *r, const tok_recipe_run_params *p, cJSON *inputs, tok_error *err) {
    const char *names[256];
    size_t nn = 0;
    for (size_t i = 0; i < r->n_inputs && nn < 256; i++) names[nn++] = r->inputs[i].name;
    for (size_t k = 0; k < p->n_vars; k++) {
        size_t i = 0;
        while (i < r->n_inputs && strcmp(r->inputs[i].name, p->vars[k].key)) i++;
        if (i == r->n_inputs) {
            const char *sug = rc_suggest(p->vars[k].key, names, nn);
            return rc_fail(err, TOK_EINVAL, "%s: --var %s: the recipe has no input \"%s\"%s%s%s", r->file,
                        p->vars[k].key, p->vars[k].key, sug ? " (did you mean \"" : "", sug ? sug : "",
                        sug ? "\"?)" : "");
        }
    }
    char missing[300] = "";
    for (size_t i = 0; i < r->n_inputs; i++) {
        const rc_input *in = &r->inputs[i];
        const char *val = NULL;
        for (size_t k = 0; k < p->n_vars; k++)
            if (!strcmp(p->vars[k].key, in->name)) val = p->vars[k].value; /* the last one wins */
        cJSON *v = NULL;
        if (val) v = bind_input(r, in, val, true, err);
        else if (in->def && cJSON_IsString(in->def)) v = bind_input(r, in, in->def->valuestring, false, err);
        else if (in->def && in->type == RC_IN_FILES && cJSON_IsArray(in->def)) { /* a YAML list of patterns */
            char *pats = cJSON_PrintUnformatted(in->def);
            v = pats ? bind_input(r, in, pats, false, err) : NULL;
            cJSON_free(pats);
        } else if (in->def && in->type == RC_IN_FILE)
            return rc_fail(err, TOK_EINVAL, "%s: input \"%s\": a file default must be a path", r->file, in->name);
        else if (in->def) v = cJSON_Duplicate(in->def, true);
        else {
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s\"%s\"",
                     *missing ? ", " : "", in->name);
            continue;
        }
        if (!v) return -1;
        cJSON_AddItemToObject(inputs, in->name, v);
    }
    if (*missing)
        return rc_fail(err, TOK_EINVAL, "%s: missing input%s %s (give --var NAME=VALUE or --var NAME=@FILE)",
                    r->file, strchr(missing, ',') ? "s" : "", missing);
    return 0;
}

static void merge(rc_sampling *m, const rc_sampling *s) {
    if (s->set & RC_S_TEMP) m->temperature = s->temperature;
    if (s->set & RC_S_TOP_P) m->top_p = s->top_p;
    if (s->set & RC_S_TOP_K) m->top_k = s->top_k;
    if (s->set & RC_S_MAX) m->max_tokens = s->max_tokens;
    if (s->set & RC_S_SEED) m->seed = s->seed;
    if (s->set & RC_S_STOP) m->stop = s->stop, m->n_stop = s->n_stop;
    m->set |= s->set;
}

int rc_render(const tok_recipe *r, const rc_step *s, const char *what, const tok_template *t,
                  const cJSON *ctx, tok_bytes *out, tok_error *err) {
    tok_error e = {0};
    out->n = 0;
    if (tok_template_render(t, ctx, out, &e) == 0) return 0;
    /* the template was named \x01 at parse time: drop that prefix */
    const char *m = e.msg[0] == '\x01' && e.msg[1] == ':' ? e.msg + 2 : e.msg;
    return rc_fail(err, TOK_EINVAL, "%s: step \"%s\": %s: %s", r->file, s->id, what, m);
}

size_t rc_count_tokens(const tok_tokenizer *tk, const char *t) {
    tok_ids ids = {0};
    tok_error e = {0};
    tok_encode_params ep = tok_encode_default_params();
    ep.utf8 = TOK_UTF8_REPLACE;
    size_t n = tok_encode(tk, t, strlen(t), &ep, &ids, &e) == 0 ? ids.n : 0;
    tok_ids_free(&ids);
    return n;
}

/* The text truncation and chunking cut: the biggest string input the
 * step's templates mention (by token count), or, in a map, the item itself
 * (a string, or the text of a `files` record) when it is bigger. */
typedef struct big_input {
    const char *name; /* for messages: the input's name, "item" or "item.text" */
    const char *text;
    int where;        /* 0 an input, 1 the item, 2 the item's text */
} big_input;

static bool uses(const rc_step *s, const char *name) {
    bool used = (s->prompt_src && strstr(s->prompt_src, name)) || (s->system_src && strstr(s->system_src, name));
    for (size_t k = 0; k < s->n_msgs && !used; k++) used = strstr(s->msgs[k].src, name) != NULL;
    return used;
}

static bool biggest_input(const tok_recipe *r, const rc_step *s, const tok_tokenizer *tk, const cJSON *ctx,
                          big_input *out, size_t *ntok) {
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(ctx, "inputs");
    bool found = false;
    *ntok = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        const char *name = r->inputs[i].name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(inputs, name);
        if (!uses(s, name) || !cJSON_IsString(v)) continue;
        size_t n = rc_count_tokens(tk, v->valuestring);
        if (!found || n > *ntok) *out = (big_input){name, v->valuestring, 0}, *ntok = n, found = true;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(ctx, "item");
    const cJSON *text = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "text") : NULL;
    const cJSON *v = cJSON_IsString(it) ? it : text;
    if (cJSON_IsString(v) && uses(s, "item")) {
        size_t n = rc_count_tokens(tk, v->valuestring);
        if (!found || n > *ntok)
            *out = (big_input){v == it ? "item" : "item.text", v->valuestring, v == it ? 1 : 2}, *ntok = n, found = true;
    }
    return found;
}

/* ctx (a copy) with the cut text in place of bi's. */
static void put_input(cJSON *ctx, const big_input *bi, const char *value) {
    if (bi->where == 0) {
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ctx, "inputs"), bi->name,
                                               cJSON_CreateString(value));
        if (cJSON_GetObjectItemCaseSensitive(ctx, bi->name))
            cJSON_ReplaceItemInObjectCaseSensitive(ctx, bi->name, cJSON_CreateString(value));
    } else if (bi->where == 1)
        cJSON_ReplaceItemInObjectCaseSensitive(ctx, "item", cJSON_CreateString(value));
    else
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ctx, "item"), "text",
                                               cJSON_CreateString(value));
}

/* Drops bytes that do not form valid UTF-8 (a cut between the tokens of one
 * character in byte-level vocabularies). */
static void utf8_clean(tok_bytes *b) {
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)b->data;
    for (size_t i = 0; i < b->n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len && i + len <= b->n;
        for (size_t k = 1; ok && k < len; k++) ok = (p[i + k] & 0xC0) == 0x80;
        if (ok) {
            memmove(b->data + w, b->data + i, len);
            w += len, i += len;
        } else
            i++;
    }
    b->n = w;
    if (b->data) b->data[w] = 0;
}

/* text keeping `keep` of its tokens, cut at token boundaries: TAIL drops
 * the end, HEAD the beginning, MIDDLE the middle. */
static char *cut_tokens(const tok_tokenizer *tk, const char *text, size_t keep, int side) {
    tok_ids ids = {0};
    tok_bytes out = {0};
    tok_error e = {0};
    tok_encode_params ep = tok_encode_default_params();
    ep.utf8 = TOK_UTF8_REPLACE;
    char *res = NULL;
    if (tok_encode(tk, text, strlen(text), &ep, &ids, &e)) goto done;
    if (ids.n <= keep) {
        res = strdup(text);
        goto done;
    }
    size_t front = side == RC_TRUNC_TAIL ? keep : side == RC_TRUNC_HEAD ? 0 : keep / 2;
    if (front && tok_decode(tk, ids.ids, front, false, &out, &e)) goto done;
    if (keep > front && tok_decode(tk, ids.ids + ids.n - (keep - front), keep - front, false, &out, &e)) goto done;
    utf8_clean(&out);
    res = strdup(out.data ? out.data : "");
done:
    tok_ids_free(&ids);
    tok_bytes_free(&out);
    return res;
}

/* One JSON line per step, written with one write() under an exclusive
 * lock: lines from several processes appending to one file never mix. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER; /* flock does not order threads */

/* where: for one call of a step that makes several ({"item": 3}, {"round":
 * 0, "group": 1}, {"chunk": 2}), or NULL for the step's own line. */
static void trace(FILE *f, const tok_recipe_step_result *st, const cJSON *where, bool dry, const char *error) {
    if (!f) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "step", st->id);
    cJSON_AddStringToObject(o, "kind", where ? "call" : st->kind ? st->kind : "prompt");
    for (const cJSON *w = where ? where->child : NULL; w; w = w->next)
        cJSON_AddItemToObject(o, w->string, cJSON_Duplicate(w, true));
    cJSON_AddStringToObject(o, "model", st->model ? st->model : "");
    cJSON_AddBoolToObject(o, "dry_run", dry);
    cJSON_AddBoolToObject(o, "skipped", st->skipped);
    if (st->prompt) cJSON_AddStringToObject(o, "prompt", st->prompt);
    if (st->is_prompt || where) {
        cJSON_AddNumberToObject(o, "prompt_tokens", st->prompt_tokens);
        cJSON_AddNumberToObject(o, "completion_tokens", st->completion_tokens);
        cJSON_AddBoolToObject(o, "approximate", st->approximate);
        cJSON_AddNumberToObject(o, "n_ctx", st->n_ctx);
        cJSON_AddNumberToObject(o, "max_tokens", st->max_tokens);
        cJSON_AddNumberToObject(o, "latency_ms", st->latency_ms);
        if (st->cost_usd >= 0) cJSON_AddNumberToObject(o, "cost_usd", st->local ? 0 : st->cost_usd);
        else cJSON_AddNullToObject(o, "cost_usd"); /* unknown price */
        cJSON_AddNumberToObject(o, "calls", st->attempts);
        cJSON_AddNumberToObject(o, "cache_hits", st->cache_hits);
    }
    if (st->n_items) cJSON_AddNumberToObject(o, "items", st->n_items);
    if (st->stop_reason) cJSON_AddStringToObject(o, "stop_reason", st->stop_reason);
    if (st->truncated) {
        cJSON_AddStringToObject(o, "truncated_input", st->truncated);
        cJSON_AddNumberToObject(o, "truncated_from", st->truncated_from);
        cJSON_AddNumberToObject(o, "truncated_to", st->truncated_to);
    }
    if (st->output) cJSON_AddStringToObject(o, "output", st->output);
    if (st->reasoning) cJSON_AddStringToObject(o, "reasoning", st->reasoning);
    if (error) cJSON_AddStringToObject(o, "error", error);
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n'; /* cJSON's buffer: replace the NUL, write n + 1 bytes */
    int fd = fileno(f);
    pthread_mutex_lock(&trace_lock);
    fflush(f);
    flock(fd, LOCK_EX);
    for (size_t done = 0; done <= n;) {
        ssize_t w = write(fd, line + done, n + 1 - done);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) done += (size_t)w;
    }
    flock(fd, LOCK_UN);
    pthread_mutex_unlock(&trace_lock);
    free(line);
}

/* The step's messages rendered with ctx, chat-formatted and tokenized: the
 * ids counted are the ids generated from. */
static int build_prompt(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const cJSON *ctx,
                        tok_ids *ids, tok_bytes *text, tok_error *err) {
    /* parts[0] system, then the prompt or each message */
    size_t np = 1 + (s->n_msgs ? s->n_msgs : 1), nm = 0;
    tok_bytes *parts = calloc(np, sizeof *parts);
    tok_chat_message *msgs = calloc(np, sizeof *msgs);
    int rc = -1;
    ids->n = 0, text->n = 0;
    if (!parts || !msgs) {
        rc_fail(err, TOK_ENOMEM, "out of memory");
        goto out;
    }
    if (!b->chat || !b->tk) {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": no model to format the prompt with", r->file, s->id);
        goto out;
    }
    if (s->system) {
        if (rc_render(r, s, "system", s->system, ctx, &parts[0], err)) goto out;
        msgs[nm++] = (tok_chat_message){"system", parts[0].data ? parts[0].data : ""};
    }
    if (!s->n_msgs) {
        if (rc_render(r, s, "prompt", s->prompt, ctx, &parts[1], err)) goto out;
        msgs[nm++] = (tok_chat_message){"user", parts[1].data ? parts[1].data : ""};
    }
    for (size_t k = 0; k < s->n_msgs; k++) {
        char what[48];
        snprintf(what, sizeof what, "messages[%zu].content", k);
        if (rc_render(r, s, what, s->msgs[k].t, ctx, &parts[1 + k], err)) goto out;
        msgs[nm++] = (tok_chat_message){s->msgs[k].role, parts[1 + k].data ? parts[1 + k].data : ""};
    }
    tok_error e = {0};
    if (s->raw) { /* chat: false: the text as it is (BOS and special tokens as the chat template would) */
        const char *t = parts[1].data ? parts[1].data : "";
        if (tok_bytes_append(text, t, strlen(t)) || tok_chat_tokenize(b->chat, t, strlen(t), ids, &e)) {
            rc_fail(err, e.code ? e.code : TOK_ENOMEM, "%s: step \"%s\": %s", r->file, s->id, e.code ? e.msg : "out of memory");
            goto out;
        }
    } else if (tok_chat_format(b->chat, msgs, nm, true, ids, text, &e)) {
        rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
        goto out;
    }
    rc = 0;
out:
    for (size_t k = 0; parts && k < np; k++) tok_bytes_free(&parts[k]);
    free(parts), free(msgs);
    return rc;
}

/* on_overflow: truncate. Cuts the step's biggest input until the prompt fits:
 * first by the excess, then (tokenization at the joins may differ by a few
 * tokens) by whatever is still over, at most 8 times. 1 if it fits. */
static int truncate_to_fit(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const cJSON *ctx,
                           int budget, tok_ids *ids, tok_bytes *text, tok_recipe_step_result *st, tok_error *err) {
    size_t total;
    big_input in;
    if (!biggest_input(r, s, b->tk, ctx, &in, &total) || !total) return 0;
    const char *orig = in.text;
    cJSON *c2 = cJSON_Duplicate(ctx, true);
    long keep = (long)total - ((long)ids->n - budget);
    int fits = 0;
    for (int iter = 0; c2 && iter < 8 && !fits; iter++) {
        if (keep < 0) keep = 0;
        char *cut = cut_tokens(b->tk, orig, (size_t)keep, s->truncate);
        if (!cut) break;
        put_input(c2, &in, cut);
        free(cut);
        if (build_prompt(r, s, b, c2, ids, text, err)) {
            cJSON_Delete(c2);
            return -1;
        }
        fits = (long)ids->n <= budget;
        if (!fits) {
            if (!keep) break;
            keep -= (long)ids->n - budget;
        }
    }
    cJSON_Delete(c2);
    if (fits) st->truncated = in.name, st->truncated_from = (int)total, st->truncated_to = (int)keep;
    return fits;
}

double rc_call_cost(const tok_recipe_backend *b, size_t in, size_t out) {
    if (!b->entry || b->entry->local) return 0;
    return tok_model_cost(b->registry, b->entry, (int64_t)in, (int64_t)out, NULL).total_usd;
}

void rc_accumulate(tok_recipe_step_result *st, const tok_recipe_step_result *one) {
    st->prompt_tokens += one->prompt_tokens, st->completion_tokens += one->completion_tokens;
    st->latency_ms += one->latency_ms, st->gen_ms += one->gen_ms;
    st->cost_usd = st->cost_usd < 0 || one->cost_usd < 0 ? -1 : st->cost_usd + one->cost_usd;
    st->cost_min_usd = st->cost_min_usd < 0 || one->cost_min_usd < 0 ? -1 : st->cost_min_usd + one->cost_min_usd;
    st->attempts += one->attempts;
    st->cache_hits += one->cache_hits;
    if (one->stop_reason) st->stop_reason = one->stop_reason;
    st->approximate |= one->approximate;
    st->local = one->local;
    if (one->model) st->model = one->model;
    st->max_tokens = one->max_tokens, st->n_ctx = one->n_ctx;
}

/* The sampling of attempt k (0 first): a retry samples with the next seed,
 * and greedy decoding (which would repeat itself) turns into temperature 0.7. */
static void sampling_for(const rc_sampling *m, int k, tok_generate_params *gp) {
    *gp = tok_generate_default_params();
    if (m->temperature >= 0) gp->sampling.temp = m->temperature;
    if (m->top_p >= 0) gp->sampling.top_p = m->top_p;
    if (m->top_k >= 0) gp->sampling.top_k = m->top_k;
    if (m->seed >= 0) gp->sampling.seed = (uint32_t)m->seed;
    if (k > 0) {
        gp->sampling.seed += (uint32_t)k;
        if (gp->sampling.temp <= 0) gp->sampling.temp = 0.7f;
    }
    gp->max_tokens = m->max_tokens;
    gp->stop = (const char *const *)m->stop;
    gp->n_stop = m->n_stop;
}

static int run_call(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                    const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                    tok_recipe_step_result *st, tok_error *err) {
    tok_bytes text = {0};
    tok_ids ids = {0};
    tok_generation gen = {0};
    tok_error e = {0};
    int rc = -1;
    st->model = b->model_name, st->approximate = b->approximate;
    st->local = !b->entry || b->entry->local;
    st->choice = -1;
    if (build_prompt(r, s, b, ctx, &ids, &text, err)) goto out;
    rc_sampling m = {.temperature = -1, .top_p = -1, .top_k = -1, .max_tokens = 128, .seed = -1};
    merge(&m, &r->defaults);
    merge(&m, &s->s);
    int n_ctx = b->n_ctx;
    if (n_ctx <= 0 && b->model) n_ctx = tok_model_get_info(b->model)->ctx_train;
    int budget = n_ctx - m.max_tokens;
    size_t counted = ids.n;
    if (n_ctx > 0 && (long)ids.n > budget && s->overflow == RC_OVERFLOW_TRUNCATE) {
        int t = truncate_to_fit(r, s, b, ctx, budget, &ids, &text, st, err);
        if (t < 0) goto out;
    }
    st->prompt = strdup(text.data ? text.data : "");
    st->prompt_tokens = (int)ids.n;
    st->max_tokens = m.max_tokens;
    st->n_ctx = n_ctx;
    if (n_ctx > 0 && (long)ids.n > budget) {
        char big[160] = "";
        size_t ntok;
        big_input in;
        if (biggest_input(r, s, b->tk, ctx, &in, &ntok))
            snprintf(big, sizeof big, "; %s \"%s\" is %zu tokens%s", in.where ? "the" : "input", in.name, ntok,
                     s->overflow == RC_OVERFLOW_TRUNCATE ? " and truncating it did not make the prompt fit" : "");
        rc_fail(err, TOK_ERANGE,
             "%s: step \"%s\": the prompt is %zu%s tokens, over the budget of %d (context %d - %d reserved "
             "for output, max_tokens)%s",
             r->file, s->id, counted, b->approximate ? " (approximately)" : "", budget, n_ctx, m.max_tokens, big);
        goto out;
    }
    if (p->dry_run) { /* the most this call may cost */
        st->cost_usd = rc_call_cost(b, ids.n, s->n_choices ? 0 : (size_t)m.max_tokens);
        st->cost_min_usd = rc_call_cost(b, ids.n, 0);
        rc = 0;
        goto out;
    }
    if (!b->model) {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": model \"%s\": %s", r->file, s->id, b->model_name,
                b->cannot_run ? b->cannot_run : "no model loaded");
        goto out;
    }
    if (!*sess) {
        tok_session_params sp = tok_session_default_params();
        sp.n_ctx = n_ctx;
        sp.n_threads = b->n_threads;
        if (!(*sess = tok_session_new(b->model, &sp, &e))) {
            rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
            goto out;
        }
    }
    double t0 = rc_now_ms();
    if (s->n_choices) { /* classification: the likeliest answer, no sampling */
        int ntok = 0;
        st->choice = rc_choose(b, *sess, &ids, text.data ? text.data : "", s->choices, s->n_choices, &ntok, &e);
        if (st->choice < 0) {
            rc_fail(err, e.code, "%s: step \"%s\": choices: %s", r->file, s->id, e.msg);
            goto out;
        }
        st->latency_ms = rc_now_ms() - t0;
        st->completion_tokens = ntok, st->attempts = 1;
        st->stop_reason = "choice";
        st->cost_usd = rc_call_cost(b, ids.n, (size_t)ntok);
        rc = (st->output = strdup(s->choices[st->choice])) ? 0 : rc_fail(err, TOK_ENOMEM, "out of memory");
        goto out;
    }
    st->cost_usd = 0;
    const char *reason = NULL;
    for (int k = 0; k <= s->retries; k++) {
        tok_generate_params gp;
        sampling_for(&m, k, &gp);
        tok_generation_free(&gen);
        memset(&gen, 0, sizeof gen);
        /* a retry of an unseeded call is random: never cached */
        bool cacheable = p->cache_dir && rc_cacheable(&m) && (k == 0 || m.seed >= 0);
        rc_cached hit = {0};
        if (cacheable && rc_cache_get(p->cache_dir, b->model_name, n_ctx, &ids, &m, k, &hit)) {
            /* a stored answer: nothing generated, nothing paid */
            tok_bytes_append(&gen.text, hit.text, strlen(hit.text));
            gen.completion_tokens = hit.completion_tokens;
            reason = "length";
            for (int sr = TOK_STOP_LENGTH; sr <= TOK_STOP_CANCELLED; sr++)
                if (!strcmp(tok_stop_reason_name(sr), hit.stop_reason)) reason = tok_stop_reason_name(sr);
            free(hit.text), free(hit.stop_reason);
            st->cache_hits++, st->attempts++;
            st->completion_tokens += gen.completion_tokens;
        } else {
            if (tok_generate(*sess, b->tk, ids.ids, ids.n, &gp, &gen, &e)) {
                rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
                goto out;
            }
            reason = tok_stop_reason_name(gen.stop_reason);
            if (cacheable)
                rc_cache_put(p->cache_dir, b->model_name, n_ctx, &ids, &m, k, gen.text.data ? gen.text.data : "",
                             gen.completion_tokens, reason);
            st->attempts++;
            st->gen_ms += gen.gen_ms;
            st->completion_tokens += gen.completion_tokens;
            double c = rc_call_cost(b, ids.n, (size_t)gen.completion_tokens);
            st->cost_usd = st->cost_usd < 0 || c < 0 ? -1 : st->cost_usd + c;
        }
        free(st->output), free(st->reasoning);
        st->output = st->reasoning = NULL;
        /* reasoning (<think>) is not the answer: kept for the trace; its tokens
         * stay in completion_tokens (they were generated and paid for) */
        char *answer = NULL, *reasoning = NULL;
        int th = tok_recipe_split_reasoning(gen.text.data ? gen.text.data : "", &answer, &reasoning);
        if (th > 0) st->output = answer, st->reasoning = reasoning;
        else st->output = th < 0 ? NULL : strdup(gen.text.data ? gen.text.data : "");
        if (!st->output) {
            rc_fail(err, TOK_ENOMEM, "out of memory");
            goto out;
        }
        if (k == s->retries) break;
        tok_error pe = {0}; /* retry only what would fail the step */
        cJSON *v = rc_parse_output(r, s, st->output, &pe);
        cJSON_Delete(v);
        if (v) break;
    }
    st->latency_ms = rc_now_ms() - t0;
    st->stop_reason = reason;
    rc = 0;
out:
    tok_generation_free(&gen);
    tok_bytes_free(&text);
    tok_ids_free(&ids);
    return rc;
}

int rc_run_prompt(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                  const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                  tok_recipe_step_result *st, tok_error *err) {
    int rc = run_call(r, s, b, p, ctx, sess, st, err);
    /* a call of a step that makes several gets its own trace line */
    static const char *const keys[][2] = {{"loop_index", "item"}, {"round", "round"}, {"group", "group"},
                                          {"chunk_index", "chunk"}};
    if (!p->trace || p->dry_run) return rc;
    cJSON *where = NULL;
    for (size_t k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, keys[k][0]);
        if (!cJSON_IsNumber(v)) continue;
        if (!where && !(where = cJSON_CreateObject())) return rc;
        cJSON_AddNumberToObject(where, keys[k][1], v->valuedouble);
    }
    if (where) trace(p->trace, st, where, false, rc ? err->msg : NULL);
    cJSON_Delete(where);
    return rc;
}

/* A step's output text as the value later steps see, per its format; NULL
 * with err set if format json does not parse (fail closed). */
cJSON *rc_parse_output(const tok_recipe *r, const rc_step *s, const char *text, tok_error *err) {
    if (s->format == RC_FMT_LINES) return rc_split_lines(text);
    if (s->format != RC_FMT_JSON) return cJSON_CreateString(text);
    /* a Markdown code fence around the JSON (```json ... ```) is not part of it */
    const char *b = text;
    while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t') b++;
    size_t n = strlen(b);
    char *inner = NULL;
    if (!strncmp(b, "```", 3)) {
        const char *nl = strchr(b, '\n');
        const char *close = nl ? strstr(nl, "```") : NULL;
        if (close && (inner = strndup(nl + 1, (size_t)(close - nl - 1)))) b = inner, n = strlen(b);
    }
    const char *end = NULL;
    cJSON *val = cJSON_ParseWithLengthOpts(b, n, &end, false);
    while (val && end && end < b + n && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if (val && end && end < b + n) cJSON_Delete(val), val = NULL; /* text after the value */
    if (!val) {
        size_t at = end ? (size_t)(end - b) : 0;
        rc_fail(err, TOK_EFORMAT, "%s: step \"%s\": format json: the output is not valid JSON (byte %zu): \"%.60s\"",
                r->file, s->id, at, text);
    } else if (s->schema) {
        char why[400];
        if (rc_schema_validate(s->schema, val, why, sizeof why)) {
            rc_fail(err, TOK_EFORMAT, "%s: step \"%s\": the output does not satisfy the schema: %s", r->file, s->id, why);
            cJSON_Delete(val), val = NULL;
        }
    }
    if (!val && s->retries) {
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k, " (after %d attempts)", s->retries + 1);
    }
    free(inner);
    return val;
}

/* on_overflow: chunk. The prompt did not fit (st holds its count): the
 * biggest string input is split into chunks that leave room for the rest of
 * the prompt (its tokens minus the input's, and a small margin for the
 * joins), the prompt runs once per chunk with the chunk in the input's place
 * (each call checked against the budget as usual), and the output is the
 * calls' outputs joined by newlines: a map and a join-reduce. */
static int run_chunked(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                       const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                       tok_recipe_step_result *st, tok_error *err) {
    size_t ntok;
    big_input in;
    bool found = biggest_input(r, s, b->tk, ctx, &in, &ntok);
    long room = (long)(st->n_ctx - st->max_tokens) - ((long)st->prompt_tokens - (long)ntok) - 4;
    if (!found || room < 1) return -1; /* err still holds the budget message */
    tok_error e = {0};
    cJSON *chunks = rc_split(b->tk, in.text, (size_t)room, 0, &e);
    if (!chunks) return rc_fail(err, e.code, "%s: step \"%s\": on_overflow chunk: %s", r->file, s->id, e.msg);
    rc_step s1 = *s;
    s1.overflow = RC_OVERFLOW_ERROR;
    free(st->prompt);
    st->prompt = NULL, st->prompt_tokens = 0, st->cost_usd = 0;
    tok_bytes joined = {0};
    int rc = 0, k = 0;
    for (cJSON *c = chunks->child; c && !rc; c = c->next, k++) {
        cJSON *c2 = cJSON_Duplicate(ctx, true);
        if (c2) put_input(c2, &in, c->valuestring);
        cJSON_AddNumberToObject(c2, "chunk_index", k);
        tok_recipe_step_result one = {.id = s->id};
        rc = rc_run_prompt(r, &s1, b, p, c2, sess, &one, err);
        cJSON_Delete(c2);
        if (rc) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " (chunk %d of %s \"%s\")", k, in.where ? "the" : "input", in.name);
        } else {
            const char *o = p->dry_run ? "" : one.output ? one.output : "";
            if (joined.n) tok_bytes_append(&joined, "\n", 1);
            tok_bytes_append(&joined, o, strlen(o));
            rc_accumulate(st, &one);
            if (!st->prompt) st->prompt = one.prompt, one.prompt = NULL;
        }
        free(one.prompt), free(one.output), free(one.reasoning);
    }
    st->n_items = k;
    st->truncated = NULL;
    if (!rc && !(st->output = strdup(joined.data ? joined.data : ""))) rc = rc_fail(err, TOK_ENOMEM, "out of memory");
    tok_bytes_free(&joined);
    cJSON_Delete(chunks);
    return rc;
}

/* split: the rendered text cut into chunks (recipe_split.c); needs only the
 * tokenizer, so it runs for real in dry runs too. */
static cJSON *run_split(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const cJSON *ctx,
                        tok_bytes *buf, tok_error *err) {
    if (rc_render(r, s, "split", s->tmpl, ctx, buf, err)) return NULL;
    if (!b->tk) {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": split needs the model's tokenizer", r->file, s->id);
        return NULL;
    }
    tok_error e = {0};
    cJSON *list = rc_split(b->tk, buf->data ? buf->data : "", (size_t)s->s.max_tokens, s->overlap, &e);
    if (!list) rc_fail(err, e.code, "%s: step \"%s\": split: %s", r->file, s->id, e.msg);
    return list;
}

int tok_recipe_run(const tok_recipe *r, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                   tok_recipe_result *out, tok_error *err) {
    memset(out, 0, sizeof *out);
    out->outputs = cJSON_CreateObject();
    out->steps = calloc(r->n_steps, sizeof *out->steps);
    cJSON *ctx = cJSON_CreateObject(), *inputs = cJSON_CreateObject(), *steps = cJSON_CreateObject();
    /* one session per model the steps use */
    const tok_recipe_backend *sess_b[16] = {0};
    tok_session *sess[16] = {0};
    size_t n_sess = 0;
    tok_bytes buf = {0};
    bool *placeholder = calloc(r->n_steps, sizeof *placeholder);
    int rc = -1;
    if (!out->outputs || !out->steps || !ctx || !inputs || !steps || !placeholder) {
        rc_fail(err, TOK_ENOMEM, "out of memory");
        cJSON_Delete(inputs), cJSON_Delete(steps);
        goto done;
    }
    cJSON_AddItemToObject(ctx, "inputs", inputs);
    cJSON_AddItemToObject(ctx, "steps", steps);
    if (bind_inputs(r, p, inputs, err)) goto done;
    /* inputs are also visible by their bare names: {{ document }} */
    for (cJSON *v = inputs->child; v; v = v->next)
        if (strcmp(v->string, "inputs") && strcmp(v->string, "steps"))
            cJSON_AddItemToObject(ctx, v->string, cJSON_Duplicate(v, true));
    for (size_t i = 0; i < r->n_steps; i++) {
        const rc_step *s = &r->steps[i];
        tok_recipe_step_result *st = &out->steps[out->n++];
        st->id = s->id;
        st->is_prompt = s->kind == RC_STEP_PROMPT;
        st->kind = s->over ? "map" : s->reduce ? "reduce" : s->kind == RC_STEP_PROMPT ? "prompt"
                 : s->kind == RC_STEP_SPLIT ? "split" : "template";
        st->choice = -1;
        const tok_recipe_backend *sb = b;
        if (s->model && (!r->model || strcmp(s->model, r->model))) {
            tok_error e = {0};
            if (!p->resolve) e.code = TOK_EINVAL, snprintf(e.msg, sizeof e.msg, "no way to load other models here");
            if (!p->resolve || !(sb = p->resolve(p->resolve_ud, s->model, &e))) {
                rc_fail(err, e.code, "%s: step \"%s\": model \"%s\": %s", r->file, s->id, s->model, e.msg);
                goto fail_step;
            }
        }
        size_t si = 0;
        while (si < n_sess && sess_b[si] != sb) si++;
        if (si == n_sess && n_sess < 16) sess_b[n_sess++] = sb;
        if (si == 16) { /* more models than slots: the last slot is reused */
            si = 15;
            tok_session_free(sess[si]);
            sess[si] = NULL, sess_b[si] = sb;
        }
        /* in a dry run a prompt step's output is a placeholder, and so is
         * anything rendered from one */
        for (size_t d = 0; d < s->n_deps; d++)
            if (placeholder[s->deps[d]]) st->estimated = true;
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddItemToObject(steps, s->id, entry);
        if (s->when) {
            if (rc_render(r, s, "when", s->when, ctx, &buf, err)) goto fail_step;
            if (!buf.n && !st->estimated) {
                st->skipped = true;
                cJSON_AddNullToObject(entry, "output");
                cJSON_AddNullToObject(out->outputs, s->id);
                trace(p->trace, st, NULL, p->dry_run, NULL);
                continue;
            }
        }
        cJSON *list = NULL; /* split and map steps: the output list */
        if (s->over || s->kind == RC_STEP_SPLIT) {
            list = s->over ? rc_run_map(r, s, sb, p, ctx, &sess[si], st, &buf, err) : run_split(r, s, sb, ctx, &buf, err);
            if (!list) goto fail_step;
            st->output = cJSON_PrintUnformatted(list);
            st->n_items = cJSON_GetArraySize(list);
        } else if (s->reduce) {
            if (rc_run_reduce(r, s, sb, p, ctx, &sess[si], st, err)) goto fail_step;
        } else if (s->kind == RC_STEP_PROMPT) {
            if (rc_run_prompt(r, s, sb, p, ctx, &sess[si], st, err) &&
                (s->overflow != RC_OVERFLOW_CHUNK || err->code != TOK_ERANGE ||
                 run_chunked(r, s, sb, p, ctx, &sess[si], st, err)))
                goto fail_step;
        } else {
            if (rc_render(r, s, "template", s->tmpl, ctx, &buf, err)) goto fail_step;
            st->output = strdup(buf.data ? buf.data : "");
        }
        if (p->dry_run && st->is_prompt && !list) {
            char ph[160];
            snprintf(ph, sizeof ph, "[output of step %s]", s->id);
            free(st->output);
            st->output = strdup(ph);
        }
        placeholder[i] = p->dry_run && (st->is_prompt || st->estimated);
        st->ran = true;
        cJSON *val;
        if (!st->output) {
            cJSON_Delete(list);
            rc_fail(err, TOK_ENOMEM, "out of memory");
            goto fail_step;
        }
        if (list) val = list;
        else if (placeholder[i] && !st->is_prompt && s->format != RC_FMT_TEXT) {
            /* a transform of placeholders still has its shape (a list of
             * lines, JSON) when it parses; else the text stands in */
            tok_error pe = {0};
            if (!(val = rc_parse_output(r, s, st->output, &pe))) val = cJSON_CreateString(st->output);
        } else if (placeholder[i]) val = cJSON_CreateString(st->output);
        else if (!(val = rc_parse_output(r, s, st->output, err))) goto fail_step;
        cJSON_AddItemToObject(entry, "output", val);
        cJSON_AddItemToObject(out->outputs, s->id, cJSON_Duplicate(val, true));
        trace(p->trace, st, NULL, p->dry_run, NULL);
        continue;
    fail_step:
        trace(p->trace, st, NULL, p->dry_run, err->msg);
        goto done;
    }
    rc = 0;
done:
    free(placeholder);
    tok_bytes_free(&buf);
    for (size_t k = 0; k < n_sess; k++) tok_session_free(sess[k]);
    cJSON_Delete(ctx);
    return rc;
}

void tok_recipe_result_free(tok_recipe_result *out) {
    if (!out) return;
    for (size_t i = 0; i < out->n; i++)
        free(out->steps[i].prompt), free(out->steps[i].output), free(out->steps[i].reasoning);
    free(out->steps);
    cJSON_Delete(out->outputs);
    memset(out, 0, sizeof *out);
}
