/*
 * Recipe loading: YAML (libyaml's document API, which keeps every node's
 * line and column) into the structure in recipe_internal.h, then validation
 * of everything that can be checked before a model runs: known keys only
 * (with an edit-distance suggestion), unique step ids, `steps.ID` and
 * `inputs.NAME` references found in the templates' source, no cycles, and
 * templates that parse. Steps are then stored in run order: a depth-first
 * walk that puts each step after the steps it refers to, else in file order.
 * Cost: one pass over the YAML tree and one scan of each template; all of it
 * is linear in the file except the dependency walk (steps x references).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_load.h"


int rc_fail_at(ld *L, const yaml_node_t *n, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->err->code = TOK_EINVAL;
    if (n)
        snprintf(L->err->msg, sizeof L->err->msg, "%s:%zu:%zu: %s", L->name, n->start_mark.line + 1,
                 n->start_mark.column + 1, msg);
    else
        snprintf(L->err->msg, sizeof L->err->msg, "%s: %s", L->name, msg);
    return -1;
}

char *rc_xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ---- suggestions ---- */

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *rc_suggest(const char *w, const char *const *known, size_t n) {
    const char *best = NULL;
    size_t bd = 99, lim = strlen(w) / 3;
    if (lim < 2) lim = 2;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(w, known[i]), lw = strlen(w), lk = strlen(known[i]);
        /* replacing every character is no suggestion ("zz" is not "a") */
        if (d < bd && d < (lw > lk ? lw : lk)) bd = d, best = known[i];
    }
    return bd <= lim ? best : NULL;
}

/* ---- node helpers ---- */

yaml_node_t *rc_node(ld *L, int i) { return yaml_document_get_node(&L->doc, i); }

const char *rc_scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int rc_want_scalar(ld *L, const yaml_node_t *n, const char *what, char **out) {
    const char *s = rc_scalar(n);
    if (!s) return rc_fail_at(L, n, "%s: expected a string", what);
    free(*out);
    *out = rc_xstrndup(s, n->data.scalar.length);
    return *out ? 0 : rc_fail_at(L, n, "out of memory");
}

int rc_want_number(ld *L, const yaml_node_t *n, const char *what, double lo, double hi,
                       bool integer, double *out) {
    const char *s = rc_scalar(n);
    char *end;
    if (!s || !*s) return rc_fail_at(L, n, "%s: expected a number", what);
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || v < lo || v > hi || (integer && v != (double)(int64_t)v))
        return rc_fail_at(L, n, "%s: expected %s in [%g, %g], got \"%s\"", what,
                       integer ? "an integer" : "a number", lo, hi, s);
    *out = v;
    return 0;
}

/* Checks that key k (node n) is one of known[]; message names the owner. */
int rc_check_key(ld *L, const yaml_node_t *k, const char *owner, const char *const *known,
                     size_t n) {
    const char *s = rc_scalar(k);
    if (!s) return rc_fail_at(L, k, "%s: keys must be strings", owner);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, known[i])) return 0;
    const char *sug = rc_suggest(s, known, n);
    if (sug) return rc_fail_at(L, k, "%s: unknown key \"%s\" (did you mean \"%s\"?)", owner, s, sug);
    return rc_fail_at(L, k, "%s: unknown key \"%s\"", owner, s);
}

/* Duplicate keys in one mapping are an error, not "last one wins". */
int rc_check_dup_keys(ld *L, const yaml_node_t *m, const char *owner) {
    for (yaml_node_pair_t *a = m->data.mapping.pairs.start; a < m->data.mapping.pairs.top; a++)
        for (yaml_node_pair_t *b = m->data.mapping.pairs.start; b < a; b++) {
            const char *x = rc_scalar(rc_node(L, a->key)), *y = rc_scalar(rc_node(L, b->key));
            if (x && y && !strcmp(x, y))
                return rc_fail_at(L, rc_node(L, a->key), "%s: duplicate key \"%s\"", owner, x);
        }
    return 0;
}

/* A YAML value as JSON: plain scalars that read as numbers/booleans/null
 * become those; everything else a string. */
cJSON *rc_to_json(ld *L, yaml_node_t *n, int depth) {
    if (!n || depth > 64) return NULL;
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && *s) {
            char *end;
            double v = strtod(s, &end);
            if (!*end) return cJSON_CreateNumber(v);
            if (!strcmp(s, "true")) return cJSON_CreateTrue();
            if (!strcmp(s, "false")) return cJSON_CreateFalse();
            if (!strcmp(s, "null") || !strcmp(s, "~")) return cJSON_CreateNull();
        }
        return cJSON_CreateString(s);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        cJSON *a = cJSON_CreateArray();
        for (yaml_node_item_t *i = n->data.sequence.items.start; a && i < n->data.sequence.items.top; i++) {
            cJSON *v = rc_to_json(L, rc_node(L, *i), depth + 1);
            if (!v) { cJSON_Delete(a); return NULL; }
            cJSON_AddItemToArray(a, v);
        }
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top; p++) {
        const char *k = rc_scalar(rc_node(L, p->key));
        cJSON *v = k ? rc_to_json(L, rc_node(L, p->value), depth + 1) : NULL;
        if (!v) { cJSON_Delete(o); return NULL; }
        cJSON_AddItemToObject(o, k, v);
    }
    return o;
}

/* ---- sampling ---- */

static const char *const SAMPLING_KEYS[] = {"temperature", "top_p", "top_k", "max_tokens", "seed", "stop"};

/* 1 if key was a sampling key (parsed), 0 if not, -1 on error. */
int rc_parse_sampling(ld *L, const char *key, yaml_node_t *v, const char *owner, rc_sampling *s) {
    char what[160];
    double d;
    snprintf(what, sizeof what, "%s: %s", owner, key);
    if (!strcmp(key, "temperature")) {
        if (rc_want_number(L, v, what, 0, 100, false, &d)) return -1;
        s->temperature = (float)d, s->set |= RC_S_TEMP;
    } else if (!strcmp(key, "top_p")) {
        if (rc_want_number(L, v, what, 0, 1, false, &d)) return -1;
        s->top_p = (float)d, s->set |= RC_S_TOP_P;
    } else if (!strcmp(key, "top_k")) {
        if (rc_want_number(L, v, what, 0, 1e9, true, &d)) return -1;
        s->top_k = (int)d, s->set |= RC_S_TOP_K;
    } else if (!strcmp(key, "max_tokens")) {
        if (rc_want_number(L, v, what, 1, 1e9, true, &d)) return -1;
        s->max_tokens = (int)d, s->set |= RC_S_MAX;
    } else if (!strcmp(key, "seed")) {
        if (rc_want_number(L, v, what, 0, 4294967294.0, true, &d)) return -1;
        s->seed = (int64_t)d, s->set |= RC_S_SEED;
    } else if (!strcmp(key, "stop")) {
        for (size_t i = 0; i < s->n_stop; i++) free(s->stop[i]);
        free(s->stop);
        s->stop = NULL, s->n_stop = 0;
        if (rc_scalar(v)) {
            s->stop = calloc(1, sizeof *s->stop);
            if (!s->stop || rc_want_scalar(L, v, what, &s->stop[0])) return -1;
            s->n_stop = 1;
        } else if (v->type == YAML_SEQUENCE_NODE) {
            size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            s->stop = calloc(n ? n : 1, sizeof *s->stop);
            if (!s->stop) return rc_fail_at(L, v, "out of memory");
            for (size_t i = 0; i < n; i++) {
                if (rc_want_scalar(L, rc_node(L, v->data.sequence.items.start[i]), what, &s->stop[i])) return -1;
                s->n_stop++;
                if (!*s->stop[i]) return rc_fail_at(L, v, "%s: stop strings must not be empty", what);
            }
        } else
            return rc_fail_at(L, v, "%s: expected a string or a list of strings", what);
        s->set |= RC_S_STOP;
    } else
        return 0;
    return 1;
}

static void sampling_free(rc_sampling *s) {
    for (size_t i = 0; i < s->n_stop; i++) free(s->stop[i]);
    free(s->stop);
}

/* ---- templates ---- */

/* The file position of line tl, column tc (1-based) of scalar v's value:
 * block scalars start on the line after the indicator, at the indent of
 * that line; quoted ones one column after the quote. Exact for block and
 * single-line scalars (escapes aside); folded plain lines are approximate. */
static void map_pos(ld *L, const yaml_node_t *v, int tl, int tc, size_t *line, size_t *col) {
    *line = v->start_mark.line + 1, *col = v->start_mark.column + 1;
    yaml_scalar_style_t st = v->data.scalar.style;
    if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE) {
        const char *p = L->src + v->start_mark.index;
        while (p < L->src + L->len && *p != '\n') p++;
        size_t ind = 0;
        if (p < L->src + L->len) for (p++; p + ind < L->src + L->len && p[ind] == ' '; ind++) {}
        *line += (size_t)tl, *col = ind + (size_t)tc;
    } else {
        int q = st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        *line += (size_t)tl - 1;
        *col = tl == 1 ? *col + (size_t)q + (size_t)tc - 1 : (size_t)tc;
    }
}

/* Parses a step's template, reporting errors at their place in the YAML file:
 * the template's line:col are mapped through the scalar's position (block
 * scalars start on the next line, indented). */
int rc_parse_tmpl(ld *L, yaml_node_t *v, const char *step, const char *key, char **src,
                      tok_template **out) {
    char what[160];
    snprintf(what, sizeof what, "step \"%s\": %s", step, key);
    if (rc_want_scalar(L, v, what, src)) return -1;
    tok_error e = {0};
    tok_template_params tp = tok_template_default_params();
    tp.keep_trailing_newline = true;
    *out = tok_template_parse("\x01", *src, strlen(*src), &tp, &e);
    if (*out) return 0;
    int tl = 0, tc = 0, off = 0;
    if (sscanf(e.msg, "\x01:%d:%d: %n", &tl, &tc, &off) < 2 || !off)
        return rc_fail_at(L, v, "%s: %s", what, e.msg);
    size_t line, col;
    map_pos(L, v, tl, tc, &line, &col);
    L->err->code = TOK_EINVAL;
    snprintf(L->err->msg, sizeof L->err->msg, "%s:%zu:%zu: %s: %s", L->name, line, col, what, e.msg + off);
    return -1;
}

/* An error at byte off of scalar at's value. */
static int fail_ref(ld *L, const yaml_node_t *at, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_ref(ld *L, const yaml_node_t *at, size_t off, const char *fmt, ...) {
    const char *v = (const char *)at->data.scalar.value;
    int tl = 1;
    size_t bol = 0;
    for (size_t k = 0; k < off; k++)
        if (v[k] == '\n') tl++, bol = k + 1;
    size_t line, col;
    map_pos(L, at, tl, (int)(off - bol) + 1, &line, &col);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->err->code = TOK_EINVAL;
    snprintf(L->err->msg, sizeof L->err->msg, "%s:%zu:%zu: %s", L->name, line, col, msg);
    return -1;
}

/* Calls fn for each `PREFIX.NAME` (or PREFIX["NAME"]) in src. */
typedef int (*ref_fn)(ld *L, size_t si, yaml_node_t *at, size_t off, const char *name, size_t len);
static int scan_refs(ld *L, const char *src, const char *prefix, size_t si, yaml_node_t *at, ref_fn fn) {
    size_t pl = strlen(prefix);
    if (!src) return 0;
    for (const char *p = src; (p = strstr(p, prefix)); p += pl) {
        if (p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.')) continue;
        const char *q = p + pl, *s;
        if (*q == '.') s = ++q;
        else if (*q == '[' && (q[1] == '"' || q[1] == '\'')) s = q += 2;
        else continue;
        while (isalnum((unsigned char)*q) || *q == '_' || *q == '-') q++;
        if (q > s && fn(L, si, at, (size_t)(p - src), s, (size_t)(q - s))) return -1;
    }
    return 0;
}

static rc_step *find_step(tok_recipe *r, const char *name, size_t len) {
    for (size_t i = 0; i < r->n_steps; i++)
        if (strlen(r->steps[i].id) == len && !memcmp(r->steps[i].id, name, len)) return &r->steps[i];
    return NULL;
}

static int add_dep(ld *L, size_t si, yaml_node_t *at, size_t off, const char *name, size_t len) {
    tok_recipe *r = L->r;
    rc_step *s = &r->steps[si], *d = find_step(r, name, len);
    if (!d) {
        char w[64];
        snprintf(w, sizeof w, "%.*s", (int)(len < 63 ? len : 63), name);
        const char *known[256];
        size_t n = 0;
        for (size_t i = 0; i < r->n_steps && n < 256; i++) known[n++] = r->steps[i].id;
        const char *sug = rc_suggest(w, known, n);
        return fail_ref(L, at, off, "step \"%s\": refers to unknown step \"%s\"%s%s%s", s->id, w,
                       sug ? " (did you mean \"" : "", sug ? sug : "", sug ? "\"?)" : "");
    }
    size_t di = (size_t)(d - r->steps);
    if (di == si) return fail_ref(L, at, off, "step \"%s\": refers to its own output", s->id);
    for (size_t i = 0; i < s->n_deps; i++)
        if (s->deps[i] == di) return 0;
    size_t *nd = realloc(s->deps, (s->n_deps + 1) * sizeof *nd);
    if (!nd) return rc_fail_at(L, at, "out of memory");
    s->deps = nd;
    s->deps[s->n_deps++] = di;
    return 0;
}

static int check_input_ref(ld *L, size_t si, yaml_node_t *at, size_t off, const char *name, size_t len) {
    tok_recipe *r = L->r;
    for (size_t i = 0; i < r->n_inputs; i++)
        if (strlen(r->inputs[i].name) == len && !memcmp(r->inputs[i].name, name, len)) return 0;
    char w[64];
    snprintf(w, sizeof w, "%.*s", (int)(len < 63 ? len : 63), name);
    const char *known[256];
    size_t n = 0;
    for (size_t i = 0; i < r->n_inputs && n < 256; i++) known[n++] = r->inputs[i].name;
    const char *sug = rc_suggest(w, known, n);
    return fail_ref(L, at, off, "step \"%s\": refers to undeclared input \"%s\"%s%s%s", r->steps[si].id, w,
                   sug ? " (did you mean \"" : "", sug ? sug : "", sug ? "\"?)" : "");
}

/* ---- inputs and steps ---- */

static int parse_inputs(ld *L, yaml_node_t *m) {
    tok_recipe *r = L->r;
    if (m->type != YAML_MAPPING_NODE)
        return rc_fail_at(L, m, "inputs: expected a mapping of input names");
    if (rc_check_dup_keys(L, m, "inputs")) return -1;
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    r->inputs = calloc(n ? n : 1, sizeof *r->inputs);
    if (!r->inputs) return rc_fail_at(L, m, "out of memory");
    static const char *const keys[] = {"type", "default", "description"};
    static const char *const types[] = {"string", "file", "number", "list", "files"};
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &m->data.mapping.pairs.start[i];
        yaml_node_t *k = rc_node(L, p->key), *v = rc_node(L, p->value);
        rc_input *in = &r->inputs[r->n_inputs++];
        if (rc_want_scalar(L, k, "inputs", &in->name)) return -1;
        in->line = (int)k->start_mark.line + 1, in->col = (int)k->start_mark.column + 1;
        char owner[96];
        snprintf(owner, sizeof owner, "input \"%s\"", in->name);
        if (rc_scalar(v)) { /* shorthand: `name: default value` */
            in->def = cJSON_CreateString(rc_scalar(v));
            continue;
        }
        if (v->type != YAML_MAPPING_NODE)
            return rc_fail_at(L, v, "%s: expected a mapping (type, default, description)", owner);
        if (rc_check_dup_keys(L, v, owner)) return -1;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
            yaml_node_t *qk = rc_node(L, q->key), *qv = rc_node(L, q->value);
            if (rc_check_key(L, qk, owner, keys, 3)) return -1;
            const char *key = rc_scalar(qk);
            if (!strcmp(key, "description")) {
                if (rc_want_scalar(L, qv, owner, &in->description)) return -1;
            } else if (!strcmp(key, "type")) {
                const char *t = rc_scalar(qv);
                size_t j = 0;
                while (t && j < 5 && strcmp(t, types[j])) j++;
                if (!t || j == 5) {
                    const char *sug = t ? rc_suggest(t, types, 5) : NULL;
                    return rc_fail_at(L, qv, "%s: unknown type \"%s\" (string, file, number, list or files)%s%s%s",
                                   owner, t ? t : "?", sug ? "; did you mean \"" : "", sug ? sug : "",
                                   sug ? "\"?" : "");
                }
                in->type = (int)j;
            } else {
                cJSON_Delete(in->def);
                if (!(in->def = rc_to_json(L, qv, 0))) return rc_fail_at(L, qv, "out of memory");
            }
        }
        if (in->def && in->type == RC_IN_NUMBER && !cJSON_IsNumber(in->def))
            return rc_fail_at(L, v, "%s: the default is not a number", owner);
    }
    return 0;
}

/* Depth-first: each step after the steps it refers to. state: 0 new,
 * 1 on the stack, 2 placed. */
static int place(ld *L, size_t i, int *state, size_t *stack, size_t depth, size_t *order, size_t *n) {
    tok_recipe *r = L->r;
    if (state[i] == 2) return 0;
    stack[depth] = i;
    if (state[i] == 1) {
        char cyc[300] = "";
        size_t from = 0;
        while (stack[from] != i) from++;
        for (size_t k = from; k <= depth; k++)
            snprintf(cyc + strlen(cyc), sizeof cyc - strlen(cyc), "%s%s", k > from ? " -> " : "",
                     r->steps[stack[k]].id);
        L->err->code = TOK_EINVAL;
        snprintf(L->err->msg, sizeof L->err->msg, "%s:%d:%d: step \"%s\": cycle in step references: %s",
                 L->name, r->steps[i].line, r->steps[i].col, r->steps[i].id, cyc);
        return -1;
    }
    state[i] = 1;
    for (size_t k = 0; k < r->steps[i].n_deps; k++)
        if (place(L, r->steps[i].deps[k], state, stack, depth + 1, order, n)) return -1;
    state[i] = 2;
    order[(*n)++] = i;
    return 0;
}

static int order_steps(ld *L) {
    tok_recipe *r = L->r;
    size_t n = r->n_steps, k = 0;
    int *state = calloc(n, sizeof *state);
    size_t *stack = calloc(n + 1, sizeof *stack), *order = calloc(n, sizeof *order),
           *pos = calloc(n, sizeof *pos);
    rc_step *sorted = calloc(n, sizeof *sorted);
    int rc = -1;
    if (!state || !stack || !order || !pos || !sorted) {
        rc_fail_at(L, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (place(L, i, state, stack, 0, order, &k)) goto out;
    for (size_t i = 0; i < n; i++) pos[order[i]] = i;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = r->steps[order[i]];
        for (size_t d = 0; d < sorted[i].n_deps; d++) sorted[i].deps[d] = pos[sorted[i].deps[d]];
    }
    free(r->steps);
    r->steps = sorted, sorted = NULL;
    rc = 0;
out:
    free(state), free(stack), free(order), free(pos), free(sorted);
    return rc;
}

static const char *const TOP_KEYS[] = {"name", "description", "model", "defaults", "inputs", "steps"};

static int load_root(ld *L, yaml_node_t *root) {
    tok_recipe *r = L->r;
    if (!root) return rc_fail_at(L, NULL, "empty recipe (expected name, model, inputs, steps)");
    if (root->type != YAML_MAPPING_NODE) return rc_fail_at(L, root, "expected a mapping at the top");
    if (rc_check_dup_keys(L, root, "recipe")) return -1;
    yaml_node_t *steps = NULL, *inputs = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = rc_node(L, p->key), *v = rc_node(L, p->value);
        if (rc_check_key(L, k, "recipe", TOP_KEYS, 6)) return -1;
        const char *key = rc_scalar(k);
        if (!strcmp(key, "name")) { if (rc_want_scalar(L, v, key, &r->name)) return -1; }
        else if (!strcmp(key, "description")) { if (rc_want_scalar(L, v, key, &r->description)) return -1; }
        else if (!strcmp(key, "model")) { if (rc_want_scalar(L, v, key, &r->model)) return -1; }
        else if (!strcmp(key, "inputs")) inputs = v;
        else if (!strcmp(key, "steps")) steps = v;
        else {
            if (v->type != YAML_MAPPING_NODE) return rc_fail_at(L, v, "defaults: expected a mapping");
            if (rc_check_dup_keys(L, v, "defaults")) return -1;
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *qk = rc_node(L, q->key);
                if (rc_check_key(L, qk, "defaults", SAMPLING_KEYS, 6)) return -1;
                if (rc_parse_sampling(L, rc_scalar(qk), rc_node(L, q->value), "defaults", &r->defaults) < 0) return -1;
            }
        }
    }
    if (inputs && parse_inputs(L, inputs)) return -1;
    if (!steps) return rc_fail_at(L, root, "recipe: missing \"steps\"");
    if (steps->type != YAML_SEQUENCE_NODE || steps->data.sequence.items.top == steps->data.sequence.items.start)
        return rc_fail_at(L, steps, "steps: expected a non-empty list of steps");
    size_t n = (size_t)(steps->data.sequence.items.top - steps->data.sequence.items.start);
    if (!(r->steps = calloc(n, sizeof *r->steps))) return rc_fail_at(L, steps, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r->n_steps++;
        if (rc_parse_step(L, i, rc_node(L, steps->data.sequence.items.start[i]))) return -1;
    }
    /* references: both kinds, in every template of the step */
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *sn = rc_node(L, steps->data.sequence.items.start[i]);
        for (yaml_node_pair_t *p = sn->data.mapping.pairs.start; p < sn->data.mapping.pairs.top; p++) {
            const char *key = rc_scalar(rc_node(L, p->key));
            yaml_node_t *v = rc_node(L, p->value);
            if (!strcmp(key, "messages")) { /* each message's content */
                for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                    yaml_node_t *mm = rc_node(L, *it);
                    for (yaml_node_pair_t *q = mm->data.mapping.pairs.start; q < mm->data.mapping.pairs.top; q++) {
                        yaml_node_t *c = rc_node(L, q->value);
                        if (strcmp(rc_scalar(rc_node(L, q->key)), "content")) continue;
                        if (scan_refs(L, rc_scalar(c), "steps", i, c, add_dep) ||
                            scan_refs(L, rc_scalar(c), "inputs", i, c, check_input_ref))
                            return -1;
                    }
                }
                continue;
            }
            if (strcmp(key, "prompt") && strcmp(key, "system") && strcmp(key, "template") && strcmp(key, "when") &&
                strcmp(key, "split") && strcmp(key, "over") && strcmp(key, "map") && strcmp(key, "reduce"))
                continue;
            if (scan_refs(L, rc_scalar(v), "steps", i, v, add_dep) ||
                scan_refs(L, rc_scalar(v), "inputs", i, v, check_input_ref))
                return -1;
        }
    }
    return order_steps(L);
}

tok_recipe *tok_recipe_parse(const char *name, const char *src, size_t len, tok_error *err) {
    ld L = {.name = name ? name : "recipe", .src = src, .len = len, .err = err};
    tok_recipe *r = calloc(1, sizeof *r);
    if (!r) {
        err->code = TOK_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "%s: out of memory", L.name);
        return NULL;
    }
    L.r = r;
    r->file = strdup(L.name);
    r->dir = strdup(".");
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        tok_recipe_free(r);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)src, len);
    if (!yaml_parser_load(&p, &L.doc)) {
        err->code = TOK_EINVAL;
        snprintf(err->msg, sizeof err->msg, "%s:%zu:%zu: %s%s%s", L.name, p.problem_mark.line + 1,
                 p.problem_mark.column + 1, p.problem ? p.problem : "YAML error",
                 p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        tok_recipe_free(r);
        return NULL;
    }
    int rc = load_root(&L, yaml_document_get_root_node(&L.doc));
    yaml_document_delete(&L.doc);
    yaml_parser_delete(&p);
    if (rc) {
        tok_recipe_free(r);
        return NULL;
    }
    return r;
}

tok_recipe *tok_recipe_load(const char *path, tok_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        err->code = TOK_EIO;
        snprintf(err->msg, sizeof err->msg, "%s: %s", path, strerror(errno));
        return NULL;
    }
    tok_bytes b = {0};
    char buf[65536];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        char *nd = realloc(b.data, b.n + n + 1);
        if (!nd) bad = 1;
        else memcpy(nd + b.n, buf, n), b.data = nd, b.n += n;
    }
    fclose(f);
    if (bad) {
        free(b.data);
        err->code = TOK_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "%s: out of memory", path);
        return NULL;
    }
    tok_recipe *r = tok_recipe_parse(path, b.data ? b.data : "", b.n, err);
    free(b.data);
    if (r) {
        const char *slash = strrchr(path, '/');
        free(r->dir);
        r->dir = slash ? rc_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    }
    return r;
}

void tok_recipe_free(tok_recipe *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].name), free(r->inputs[i].description);
        cJSON_Delete(r->inputs[i].def);
    }
    for (size_t i = 0; i < r->n_steps; i++) {
        rc_step *s = &r->steps[i];
        for (size_t k = 0; k < s->n_choices; k++) free(s->choices[k]);
        free(s->choices), free(s->reduce), free(s->separator);
        cJSON_Delete(s->schema);
        free(s->id), free(s->model), free(s->over), free(s->prompt_src), free(s->system_src), free(s->tmpl_src);
        tok_template_free(s->prompt), tok_template_free(s->system), tok_template_free(s->tmpl);
        tok_template_free(s->when);
        for (size_t k = 0; k < s->n_msgs; k++)
            free(s->msgs[k].role), free(s->msgs[k].src), tok_template_free(s->msgs[k].t);
        free(s->msgs);
        sampling_free(&s->s);
        free(s->deps);
    }
    sampling_free(&r->defaults);
    free(r->inputs), free(r->steps), free(r->file), free(r->dir), free(r->name), free(r->description),
        free(r->model);
    free(r);
}

const char *tok_recipe_name(const tok_recipe *r) { return r->name; }
const char *tok_recipe_model(const tok_recipe *r) { return r->model; }
const char *tok_recipe_dir(const tok_recipe *r) { return r->dir; }
size_t tok_recipe_n_steps(const tok_recipe *r) { return r->n_steps; }
const char *tok_recipe_step_id(const tok_recipe *r, size_t i) { return i < r->n_steps ? r->steps[i].id : NULL; }
const char *tok_recipe_step_model(const tok_recipe *r, size_t i) {
    return i < r->n_steps ? r->steps[i].model : NULL;
}
