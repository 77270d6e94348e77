/*
 * Model registry: loading the JSON data file and the user's override files.
 *
 * The whole file is parsed with cJSON (the shipped registry is ~800 KB and
 * ~1,500 rows: about 10 ms), every field is checked and copied into a flat
 * array of rows, and the cJSON tree is dropped. Match rules are compiled once
 * here (PCRE2 for `regex` tests), so a lookup only walks small trees. Every
 * error names the file and the field path ("models[12].match.or[1]").
 * Lookups and searches live in registry_find.c, tokenizers and cost in
 * model_cost.c.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "registry_internal.h"

static int fail(tok_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(tok_error *err, int code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *lower_dup(const char *s) {
    char *d = strdup(s);
    for (char *p = d; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

tok_registry_params tok_registry_default_params(void) {
    tok_registry_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- match rules ----------------------------------------------------------- */

static void match_free(match_node *m) {
    if (!m) return;
    free(m->str);
    if (m->re) pcre2_code_free(m->re);
    for (size_t i = 0; i < m->n_kids; i++) match_free(&m->kids[i]);
    free(m->kids);
}

/* Parses {"or":[...]}, {"equals":s}, ... into *m; `where` is the field path. */
static int match_parse(match_node *m, const cJSON *j, const char *file, const char *where, int depth,
                       tok_error *err) {
    memset(m, 0, sizeof *m);
    if (depth > 32) return fail(err, TOK_EFORMAT, "%s: %s: rule nested too deeply", file, where);
    if (!cJSON_IsObject(j) || !j->child || j->child->next)
        return fail(err, TOK_EFORMAT, "%s: %s: expected an object with one test", file, where);
    const cJSON *v = j->child;
    static const char *names[] = {"equals", "starts_with", "ends_with", "contains", "regex", "or", "and"};
    int kind = -1;
    for (int k = 0; k < 7; k++)
        if (!strcmp(v->string, names[k])) kind = k;
    if (kind < 0)
        return fail(err, TOK_EFORMAT,
                    "%s: %s: unknown test '%s' (equals, starts_with, ends_with, contains, regex, or, and)", file,
                    where, v->string);
    m->kind = kind;
    char sub[400];
    if (kind == M_OR || kind == M_AND) {
        int n = cJSON_GetArraySize(v);
        if (!cJSON_IsArray(v) || n == 0)
            return fail(err, TOK_EFORMAT, "%s: %s.%s: expected a non-empty array", file, where, v->string);
        m->kids = calloc((size_t)n, sizeof *m->kids);
        if (!m->kids) return fail(err, TOK_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++) {
            snprintf(sub, sizeof sub, "%s.%s[%d]", where, v->string, i);
            m->n_kids++;
            if (match_parse(&m->kids[i], cJSON_GetArrayItem(v, i), file, sub, depth + 1, err)) return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v)) return fail(err, TOK_EFORMAT, "%s: %s.%s: expected a string", file, where, v->string);
    if (kind == M_REGEX) {
        int ec;
        PCRE2_SIZE off;
        m->re = pcre2_compile((PCRE2_SPTR)v->valuestring, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF, &ec,
                              &off, NULL);
        if (!m->re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return fail(err, TOK_EFORMAT, "%s: %s.regex: at offset %zu: %s", file, where, (size_t)off, (char *)msg);
        }
        return 0;
    }
    if (!(m->str = lower_dup(v->valuestring))) return fail(err, TOK_ENOMEM, "out of memory");
    return 0;
}

/* ---- rows ------------------------------------------------------------------ */

static void row_free(reg_model *m) {
    tok_model_entry *i = &m->info;
    free((char *)i->id), free((char *)i->provider), free((char *)i->creator), free((char *)i->name);
    free((char *)i->tokenizer), free((char *)i->tokenizer_basis), free((char *)i->price_comments);
    match_free(m->match);
    free(m->match);
    for (size_t k = 0; k < m->n_changes; k++) free(m->changes[k].in_tiers), free(m->changes[k].out_tiers);
    free(m->changes);
    free(m->in_tiers), free(m->out_tiers);
}

void tok_registry_free(tok_registry *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) row_free(&r->rows[i]);
    free(r->rows);
    for (size_t i = 0; i < r->n_tokfiles; i++) free(r->tokfiles[i].family), free(r->tokfiles[i].path);
    free(r->tokfiles);
    for (size_t i = 0; i < r->n_origins; i++) free(r->origins[i]);
    free(r->origins);
    free(r->sources);
    free(r);
}

/* Field readers: each checks the JSON type and names file and field on error. */
typedef struct ctx {
    const char *file;
    char where[64]; /* "models[12]" */
    tok_error *err;
} ctx;

static int set_string(ctx *c, const cJSON *v, const char **dst, bool nullable) {
    if (nullable && cJSON_IsNull(v)) {
        free((char *)*dst);
        *dst = NULL;
        return 0;
    }
    if (!cJSON_IsString(v) || (!nullable && !v->valuestring[0]))
        return fail(c->err, TOK_EFORMAT, "%s: %s.%s: expected a %sstring%s", c->file, c->where, v->string,
                    nullable ? "" : "non-empty ", nullable ? " or null" : "");
    char *s = strdup(v->valuestring);
    if (!s) return fail(c->err, TOK_ENOMEM, "out of memory");
    free((char *)*dst);
    *dst = s;
    return 0;
}

static int set_count(ctx *c, const cJSON *v, int64_t *dst) {
    if (cJSON_IsNull(v)) return *dst = -1, 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 || v->valuedouble != floor(v->valuedouble))
        return fail(c->err, TOK_EFORMAT, "%s: %s.%s: expected a non-negative integer or null", c->file, c->where,
                    v->string);
    *dst = (int64_t)v->valuedouble;
    return 0;
}

static int set_price(ctx *c, const cJSON *v, const char *name, double *dst) {
    if (cJSON_IsNull(v)) return *dst = -1, 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !isfinite(v->valuedouble))
        return fail(c->err, TOK_EFORMAT, "%s: %s.%s: expected a non-negative number (USD per million tokens) or null",
                    c->file, c->where, name);
    *dst = v->valuedouble;
    return 0;
}

static int set_bool(ctx *c, const cJSON *v, bool *dst) {
    if (!cJSON_IsBool(v)) return fail(c->err, TOK_EFORMAT, "%s: %s.%s: expected true or false", c->file, c->where, v->string);
    *dst = cJSON_IsTrue(v);
    return 0;
}

/* "price_tiers": {"input": [{"above_input_tokens": N, "price": P}], "output": [...], ...}
 * Only input and output tiers are used for cost; the others are checked. */
static int parse_tiers(ctx *c, const cJSON *v, const char *path, tok_price_tier **in, size_t *n_in,
                       tok_price_tier **out, size_t *n_out) {
    if (!cJSON_IsObject(v)) return fail(c->err, TOK_EFORMAT, "%s: %s.%s: expected an object", c->file, c->where, path);
    for (const cJSON *k = v->child; k; k = k->next) {
        int n = cJSON_GetArraySize(k);
        if (!cJSON_IsArray(k))
            return fail(c->err, TOK_EFORMAT, "%s: %s.%s.%s: expected an array", c->file, c->where, path, k->string);
        tok_price_tier *t = calloc((size_t)n + 1, sizeof *t);
        if (!t) return fail(c->err, TOK_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(k, i);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "above_input_tokens");
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "price");
            if (!cJSON_IsNumber(a) || a->valuedouble < 0 || !cJSON_IsNumber(p) || p->valuedouble < 0) {
                free(t);
                return fail(c->err, TOK_EFORMAT,
                            "%s: %s.%s.%s[%d]: expected {\"above_input_tokens\": N, \"price\": P}", c->file,
                            c->where, path, k->string, i);
            }
            t[i].above_input_tokens = (int64_t)a->valuedouble;
            t[i].price = p->valuedouble;
        }
        if (!strcmp(k->string, "input") && !*in) *in = t, *n_in = (size_t)n;
        else if (!strcmp(k->string, "output") && !*out) *out = t, *n_out = (size_t)n;
        else free(t);
    }
    return 0;
}

static int parse_changes(ctx *c, const cJSON *v, reg_model *m) {
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v)) return fail(c->err, TOK_EFORMAT, "%s: %s.price_changes: expected an array", c->file, c->where);
    for (size_t k = 0; k < m->n_changes; k++) free(m->changes[k].in_tiers), free(m->changes[k].out_tiers);
    free(m->changes);
    m->n_changes = 0;
    m->info.time_of_day_prices = false;
    m->changes = calloc((size_t)n + 1, sizeof *m->changes);
    if (!m->changes) return fail(c->err, TOK_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        price_set *ps = &m->changes[m->n_changes++];
        ps->input = ps->output = -1;
        const cJSON *con = cJSON_GetObjectItemCaseSensitive(e, "constraint");
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(con, "type"));
        char path[48];
        snprintf(path, sizeof path, "price_changes[%d]", i);
        if (!type) return fail(c->err, TOK_EFORMAT, "%s: %s.%s.constraint.type: expected a string", c->file, c->where, path);
        if (!strcmp(type, "start_date")) {
            const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(con, "start_date"));
            if (!d || strlen(d) != 10)
                return fail(c->err, TOK_EFORMAT, "%s: %s.%s.constraint.start_date: expected YYYY-MM-DD", c->file,
                            c->where, path);
            ps->kind = PS_START_DATE;
            memcpy(ps->start_date, d, 11);
        } else if (!strcmp(type, "time_of_date")) {
            ps->kind = PS_TIME_OF_DAY;
            m->info.time_of_day_prices = true;
        } else if (!strcmp(type, "default_before_start_dates")) {
            ps->kind = PS_DEFAULT_BEFORE;
        } else
            return fail(c->err, TOK_EFORMAT, "%s: %s.%s.constraint.type: unknown type '%s'", c->file, c->where, path, type);
        const cJSON *f;
        if ((f = cJSON_GetObjectItemCaseSensitive(e, "input_per_mtok")) && set_price(c, f, "price_changes.input_per_mtok", &ps->input)) return -1;
        if ((f = cJSON_GetObjectItemCaseSensitive(e, "output_per_mtok")) && set_price(c, f, "price_changes.output_per_mtok", &ps->output)) return -1;
        if ((f = cJSON_GetObjectItemCaseSensitive(e, "price_tiers")) &&
            parse_tiers(c, f, "price_changes.price_tiers", &ps->in_tiers, &ps->n_in_tiers, &ps->out_tiers, &ps->n_out_tiers))
            return -1;
    }
    m->info.n_price_changes = m->n_changes;
    return 0;
}

/* Fields that carry facts we keep; others listed here are known and checked
 * only for being present (sources, extra prices shown by nobody yet). */
static const char *const PASSIVE_KEYS[] = {
    "context_window_source", "max_output_tokens_source", "cache_write_1h_per_mtok", "reasoning_output_per_mtok",
    "other_prices", NULL};

/* Applies every field of object j to row m (a new row or an override). */
static int parse_fields(ctx *c, const cJSON *j, reg_model *m) {
    tok_model_entry *i = &m->info;
    for (const cJSON *v = j->child; v; v = v->next) {
        const char *k = v->string;
        int rc = 0;
        if (!strcmp(k, "id")) rc = set_string(c, v, &i->id, false);
        else if (!strcmp(k, "provider")) rc = set_string(c, v, &i->provider, false);
        else if (!strcmp(k, "creator")) rc = set_string(c, v, &i->creator, false);
        else if (!strcmp(k, "name")) rc = set_string(c, v, &i->name, true);
        else if (!strcmp(k, "tokenizer")) rc = set_string(c, v, &i->tokenizer, false);
        else if (!strcmp(k, "tokenizer_basis")) rc = set_string(c, v, &i->tokenizer_basis, true);
        else if (!strcmp(k, "price_comments")) rc = set_string(c, v, &i->price_comments, true);
        else if (!strcmp(k, "context_window")) rc = set_count(c, v, &i->context_window);
        else if (!strcmp(k, "max_output_tokens")) rc = set_count(c, v, &i->max_output_tokens);
        else if (!strcmp(k, "input_per_mtok")) rc = set_price(c, v, k, &i->input_per_mtok);
        else if (!strcmp(k, "output_per_mtok")) rc = set_price(c, v, k, &i->output_per_mtok);
        else if (!strcmp(k, "cached_input_per_mtok")) rc = set_price(c, v, k, &i->cached_input_per_mtok);
        else if (!strcmp(k, "cache_write_per_mtok")) rc = set_price(c, v, k, &i->cache_write_per_mtok);
        else if (!strcmp(k, "first_party")) rc = set_bool(c, v, &i->first_party);
        else if (!strcmp(k, "deprecated")) rc = set_bool(c, v, &i->deprecated);
        else if (!strcmp(k, "price_tiers")) {
            free(m->in_tiers), free(m->out_tiers);
            m->in_tiers = m->out_tiers = NULL;
            i->n_input_tiers = i->n_output_tiers = 0;
            rc = parse_tiers(c, v, k, &m->in_tiers, &i->n_input_tiers, &m->out_tiers, &i->n_output_tiers);
            i->input_tiers = m->in_tiers, i->output_tiers = m->out_tiers;
        } else if (!strcmp(k, "price_changes")) rc = parse_changes(c, v, m);
        else if (!strcmp(k, "match")) {
            match_node *mn = calloc(1, sizeof *mn);
            if (!mn) return fail(c->err, TOK_ENOMEM, "out of memory");
            char where[96];
            snprintf(where, sizeof where, "%s.match", c->where);
            if (match_parse(mn, v, c->file, where, 0, c->err)) {
                match_free(mn), free(mn);
                return -1;
            }
            match_free(m->match), free(m->match);
            m->match = mn;
        } else {
            bool known = false;
            for (size_t p = 0; PASSIVE_KEYS[p]; p++) known |= !strcmp(k, PASSIVE_KEYS[p]);
            if (!known) return fail(c->err, TOK_EFORMAT, "%s: %s: unknown field '%s'", c->file, c->where, k);
        }
        if (rc) return -1;
    }
    return 0;
}

static void row_init(reg_model *m) {
    memset(m, 0, sizeof *m);
    tok_model_entry *i = &m->info;
    i->context_window = i->max_output_tokens = -1;
    i->input_per_mtok = i->output_per_mtok = i->cached_input_per_mtok = i->cache_write_per_mtok = -1;
}

static int grow(tok_registry *r, tok_error *err) {
    if (r->n < r->cap) return 0;
    size_t cap = r->cap ? r->cap * 2 : 64;
    reg_model *rows = realloc(r->rows, cap * sizeof *rows);
    if (!rows) return fail(err, TOK_ENOMEM, "out of memory");
    r->rows = rows, r->cap = cap;
    /* info.*_tiers point at the rows' own heap arrays, so moving rows is safe */
    return 0;
}

static int add_source(tok_registry *r, const char *path) {
    size_t n = r->sources ? strlen(r->sources) : 0;
    char *s = realloc(r->sources, n + strlen(path) + 3);
    if (!s) return -1;
    snprintf(s + n, strlen(path) + 3, "%s%s", n ? ", " : "", path);
    r->sources = s;
    return 0;
}

/* Reads and parses a JSON object file. */
static cJSON *read_json(const char *path, tok_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, TOK_EIO, "%s: cannot open", path), NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) return free(buf), fail(err, bad ? TOK_EIO : TOK_ENOMEM, "%s: read error", path), NULL;
    buf[n] = 0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
    if (!j) {
        size_t off = end && end >= buf ? (size_t)(end - buf) : 0, line = 1;
        for (size_t i = 0; i < off && i < n; i++) line += buf[i] == '\n';
        fail(err, TOK_EFORMAT, "%s:%zu: invalid JSON (byte %zu)", path, line, off);
    } else if (!cJSON_IsObject(j)) {
        cJSON_Delete(j), j = NULL;
        fail(err, TOK_EFORMAT, "%s: expected a JSON object with a \"models\" array", path);
    }
    free(buf);
    return j;
}

/* One interned copy of each file name, kept until the registry is freed
 * (rows point at it). */
static const char *intern_origin(tok_registry *r, const char *path) {
    for (size_t i = 0; i < r->n_origins; i++)
        if (!strcmp(r->origins[i], path)) return r->origins[i];
    char **o = realloc(r->origins, (r->n_origins + 1) * sizeof *o);
    if (!o) return NULL;
    r->origins = o;
    return (o[r->n_origins] = strdup(path)) ? o[r->n_origins++] : NULL;
}

static reg_model *find_row_exact(tok_registry *r, const char *id, const char *provider) {
    reg_model *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        tok_model_entry *m = &r->rows[i].info;
        if (strcasecmp(m->id, id)) continue;
        if (provider) {
            if (!strcasecmp(m->provider, provider)) return &r->rows[i];
        } else if (m->first_party) return &r->rows[i];
        else if (!best) best = &r->rows[i];
    }
    return best;
}

/* Parses the "models" array of file `path`; base: the registry itself (every
 * row is new and must have id and provider), else an override file. */
static int load_models(tok_registry *r, const cJSON *j, const char *path, bool base, tok_error *err) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(j, "models");
    if ((models || base) && !cJSON_IsArray(models))
        return fail(err, TOK_EFORMAT, "%s: models: expected an array", path);
    const char *origin = intern_origin(r, path);
    if (!origin) return fail(err, TOK_ENOMEM, "out of memory");
    int idx = 0;
    for (const cJSON *e = models ? models->child : NULL; e; e = e->next, idx++) {
        ctx c = {path, "", err};
        snprintf(c.where, sizeof c.where, "models[%d]", idx);
        if (!cJSON_IsObject(e)) return fail(err, TOK_EFORMAT, "%s: %s: expected an object", path, c.where);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(e, "provider");
        const char *provider = cJSON_GetStringValue(pv);
        if (!id || !id[0]) return fail(err, TOK_EFORMAT, "%s: %s.id: expected a non-empty string", path, c.where);
        if (pv && !provider) return fail(err, TOK_EFORMAT, "%s: %s.provider: expected a string", path, c.where);
        if (base && !provider) return fail(err, TOK_EFORMAT, "%s: %s.provider: missing", path, c.where);
        reg_model *m = base ? NULL : find_row_exact(r, id, provider);
        if (!m) {
            if (grow(r, err)) return -1;
            m = &r->rows[r->n];
            row_init(m);
            r->n++;
            m->user = !base;
            tok_model_entry *i = &m->info;
            if (!(i->provider = strdup(provider ? provider : "custom")) || !(i->creator = strdup("other")) ||
                !(i->tokenizer = strdup("unknown/approximate")))
                return fail(err, TOK_ENOMEM, "out of memory");
        }
        m->info.origin = origin;
        if (parse_fields(&c, e, m)) return -1;
    }
    return 0;
}

static int load_tokfiles(tok_registry *r, const cJSON *j, const char *path, tok_error *err) {
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(j, "tokenizer_files");
    if (!tf) return 0;
    if (!cJSON_IsObject(tf))
        return fail(err, TOK_EFORMAT, "%s: tokenizer_files: expected an object {\"family\": \"path\"}", path);
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    for (const cJSON *e = tf->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0])
            return fail(err, TOK_EFORMAT, "%s: tokenizer_files.%s: expected a file path", path, e->string);
        char full[4096];
        /* relative paths are relative to the config file */
        snprintf(full, sizeof full, "%s%s", e->valuestring[0] == '/' ? "" : dir, e->valuestring);
        tokfile *t = realloc(r->tokfiles, (r->n_tokfiles + 1) * sizeof *t);
        if (!t) return fail(err, TOK_ENOMEM, "out of memory");
        r->tokfiles = t;
        t[r->n_tokfiles].family = strdup(e->string);
        t[r->n_tokfiles].path = strdup(full);
        r->n_tokfiles++;
        if (!t[r->n_tokfiles - 1].family || !t[r->n_tokfiles - 1].path) return fail(err, TOK_ENOMEM, "out of memory");
    }
    return 0;
}

int tok_registry_merge_file(tok_registry *r, const char *path, tok_error *err) {
    cJSON *j = read_json(path, err);
    if (!j) return -1;
    for (const cJSON *k = j->child; k; k = k->next)
        if (strcmp(k->string, "models") && strcmp(k->string, "tokenizer_files") && k->string[0] != '_' &&
            strcmp(k->string, "schema_version")) {
            fail(err, TOK_EFORMAT, "%s: unknown key '%s' (expected \"models\" and \"tokenizer_files\")", path, k->string);
            cJSON_Delete(j);
            return -1;
        }
    int rc = load_models(r, j, path, false, err) || load_tokfiles(r, j, path, err) || add_source(r, path) ? -1 : 0;
    cJSON_Delete(j);
    return rc;
}

static int load_base(tok_registry *r, const char *path, tok_error *err) {
    cJSON *j = read_json(path, err);
    if (!j) return -1;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "schema_version");
    int rc = 0;
    if (ver && (!cJSON_IsNumber(ver) || ver->valuedouble != 1))
        rc = fail(err, TOK_EUNSUPPORTED, "%s: schema_version: this build reads version 1", path);
    const char *eff = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "source"), "prices_effective_as_of"));
    if (eff && strlen(eff) == 10) memcpy(r->effective_as_of, eff, 11);
    if (!rc) rc = load_models(r, j, path, true, err) || add_source(r, path) ? -1 : 0;
    cJSON_Delete(j);
    return rc;
}

static bool readable(const char *p) { return p && access(p, R_OK) == 0; }

tok_registry *tok_registry_open(const tok_registry_params *p, tok_error *err) {
    tok_registry_params d = tok_registry_default_params();
    if (!p) p = &d;
    tok_registry *r = calloc(1, sizeof *r);
    if (!r) return fail(err, TOK_ENOMEM, "out of memory"), NULL;
    const char *dirs[3] = {getenv("TOK_DATA_DIR"), p->data_dir, TOK_DATADIR};
    for (int i = 0; i < 3; i++) snprintf(r->data_dirs[i], sizeof r->data_dirs[i], "%s", dirs[i] ? dirs[i] : "");
    char path[4096] = "";
    if (p->path) snprintf(path, sizeof path, "%s", p->path);
    else {
        for (int i = 0; i < 3 && !path[0]; i++) {
            if (!dirs[i] || !dirs[i][0]) continue;
            snprintf(path, sizeof path, "%s/registry/models.json", dirs[i]);
            if (!readable(path)) path[0] = 0;
        }
        if (!path[0]) {
            fail(err, TOK_EIO, "registry/models.json not found (set TOK_DATA_DIR to the data directory)");
            return tok_registry_free(r), NULL;
        }
    }
    if (load_base(r, path, err)) return tok_registry_free(r), NULL;
    if (p->no_config) return r;
    char cfg[4096] = "";
    const char *env = getenv("TOK_CONFIG");
    if (p->config_path) snprintf(cfg, sizeof cfg, "%s", p->config_path);
    else if (env && env[0]) snprintf(cfg, sizeof cfg, "%s", env);
    else {
        /* the default location is optional: no file, no overrides */
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0]) snprintf(cfg, sizeof cfg, "%s/tok/models.json", xdg);
        else if (home && home[0]) snprintf(cfg, sizeof cfg, "%s/.config/tok/models.json", home);
        if (!readable(cfg)) cfg[0] = 0;
    }
    if (cfg[0] && tok_registry_merge_file(r, cfg, err)) return tok_registry_free(r), NULL;
    return r;
}

size_t tok_registry_count(const tok_registry *r) { return r->n; }
const tok_model_entry *tok_registry_at(const tok_registry *r, size_t i) { return i < r->n ? &r->rows[i].info : NULL; }
const char *tok_registry_sources(const tok_registry *r) { return r->sources ? r->sources : ""; }
