/*
 * The recipe runner: binds the inputs (command-line values, files, globs,
 * JSON, defaults), then runs the steps in the order the loader fixed, each
 * on its model (the recipe's, or the step's own through the caller's
 * resolver; one session per model). Prompt steps go to recipe_call.c (one
 * call), recipe_map.c (over), recipe_reduce.c (reduce); a template step only
 * renders; a split step cuts a rendered text into token-bounded chunks
 * (recipe_split.c). Outputs are parsed per `format` (json fails closed and
 * meets its schema, lines splits) and visible to later steps as
 * steps.ID.output. In a dry run prompt outputs are placeholders, and what is
 * rendered from them is marked estimated. The trace gets one line per step
 * (and per call of a multi-call step), each one write() under a lock.
 * Cost: the steps' own; the context is built once and grows by one entry
 * per step.
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

/* One JSON line per step, written with one write() under an exclusive
 * lock: lines from several processes appending to one file never mix. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER; /* flock does not order threads */

/* where: for one call of a step that makes several ({"item": 3}, {"round":
 * 0, "group": 1}, {"chunk": 2}), or NULL for the step's own line. */
void rc_trace(FILE *f, const tok_recipe_step_result *st, const cJSON *where, bool dry, const char *error) {
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
                rc_trace(p->trace, st, NULL, p->dry_run, NULL);
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
                 rc_run_chunked(r, s, sb, p, ctx, &sess[si], st, err)))
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
        rc_trace(p->trace, st, NULL, p->dry_run, NULL);
        continue;
    fail_step:
        rc_trace(p->trace, st, NULL, p->dry_run, err->msg);
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
