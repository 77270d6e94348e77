/*
 * Model registry: finding a row by the name an API uses, and searching.
 *
 * Lookup follows the registry's own rules (docs/registry.md): the name is
 * trimmed and lower-cased; rows added by the user come first, then an exact
 * id (first-party rows before resellers), then each row's `match` rule
 * (first-party first, file order), then the same again with a -YYYYMMDD
 * suffix rewritten as -YYYY-MM-DD. Each pass is a linear scan over ~1,500
 * rows with short string tests: microseconds, no index needed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry_internal.h"

bool reg_match(const match_node *m, const char *name) {
    size_t n = strlen(name), k = m->str ? strlen(m->str) : 0;
    switch (m->kind) {
    case M_EQUALS: return !strcmp(name, m->str);
    case M_STARTS: return n >= k && !memcmp(name, m->str, k);
    case M_ENDS: return n >= k && !memcmp(name + n - k, m->str, k);
    case M_CONTAINS: return strstr(name, m->str) != NULL;
    case M_REGEX: {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
        if (!md) return false;
        int rc = pcre2_match(m->re, (PCRE2_SPTR)name, n, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        return rc >= 0;
    }
    case M_OR:
        for (size_t i = 0; i < m->n_kids; i++)
            if (reg_match(&m->kids[i], name)) return true;
        return false;
    case M_AND:
        for (size_t i = 0; i < m->n_kids; i++)
            if (!reg_match(&m->kids[i], name)) return false;
        return true;
    }
    return false;
}

enum pass { P_USER, P_EXACT_FIRST, P_EXACT, P_MATCH_FIRST, P_MATCH, N_PASSES };

static const reg_model *find_pass(const tok_registry *r, const char *name, const char *provider, int pass) {
    for (size_t i = 0; i < r->n; i++) {
        const reg_model *m = &r->rows[i];
        if (provider && strcasecmp(m->info.provider, provider)) continue;
        bool exact = !strcasecmp(m->info.id, name);
        bool rule = m->match && reg_match(m->match, name);
        switch (pass) {
        case P_USER: if (m->user && (exact || rule)) return m; break;
        case P_EXACT_FIRST: if (exact && m->info.first_party) return m; break;
        case P_EXACT: if (exact) return m; break;
        case P_MATCH_FIRST: if (rule && m->info.first_party) return m; break;
        case P_MATCH: if (rule) return m; break;
        }
    }
    return NULL;
}

/* "name-20241022" -> "name-2024-10-22" in place (buffer has room); false if
 * the name has no such suffix. */
static bool rewrite_date(char *s) {
    size_t n = strlen(s);
    if (n < 10 || s[n - 9] != '-') return false;
    for (size_t i = n - 8; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    char d[9];
    memcpy(d, s + n - 8, 9);
    snprintf(s + n - 8, 12, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
    return true;
}

const tok_model_entry *tok_registry_find(const tok_registry *r, const char *name, tok_error *err) {
    if (!name) name = "";
    while (isspace((unsigned char)*name)) name++;
    size_t n = strlen(name);
    while (n && isspace((unsigned char)name[n - 1])) n--;
    char *buf = malloc(n + 8), *provider = NULL;
    if (!buf) {
        if (err) err->code = TOK_ENOMEM, snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) buf[i] = (char)tolower((unsigned char)name[i]);
    buf[n] = 0;
    char *q = buf;
    /* "provider:model" when the prefix names a provider ("gpt-4o:extended" is an id) */
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = 0;
        bool known = false;
        for (size_t i = 0; i < r->n && !known; i++) known = !strcasecmp(r->rows[i].info.provider, buf);
        if (known) provider = buf, q = colon + 1;
        else *colon = ':';
    }
    const reg_model *hit = NULL;
    for (int attempt = 0; attempt < 2 && !hit && q[0]; attempt++) {
        if (attempt == 1 && !rewrite_date(q)) break;
        for (int pass = 0; pass < N_PASSES && !hit; pass++) hit = find_pass(r, q, provider, pass);
    }
    if (!hit && err) {
        err->code = TOK_EINVAL;
        snprintf(err->msg, sizeof err->msg, "unknown model '%.*s'%s%s (not in %s; try 'tok models search')", (int)n,
                 name, provider ? " for provider " : "", provider ? provider : "", tok_registry_sources(r));
    }
    free(buf);
    return hit ? &hit->info : NULL;
}

tok_model_filter tok_model_default_filter(void) {
    tok_model_filter f;
    memset(&f, 0, sizeof f);
    f.max_input_price = f.max_output_price = -1;
    return f;
}

static bool has_text(const char *s, const char *needle) { return s && strcasestr(s, needle); }

size_t tok_registry_search(const tok_registry *r, const tok_model_filter *f, const tok_model_entry **out, size_t cap) {
    tok_model_filter d = tok_model_default_filter();
    if (!f) f = &d;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const tok_model_entry *m = &r->rows[i].info;
        if (m->deprecated && !f->include_deprecated) continue;
        if (f->provider && f->provider[0] && strcasecmp(m->provider, f->provider)) continue;
        if (f->min_context > 0 && m->context_window < f->min_context) continue;
        /* an unknown price never passes a price limit */
        if (f->max_input_price >= 0 && (m->input_per_mtok < 0 || m->input_per_mtok > f->max_input_price)) continue;
        if (f->max_output_price >= 0 && (m->output_per_mtok < 0 || m->output_per_mtok > f->max_output_price)) continue;
        if (f->text && f->text[0] && !has_text(m->id, f->text) && !has_text(m->name, f->text) &&
            !has_text(m->provider, f->text) && !has_text(m->creator, f->text))
            continue;
        if (n < cap) out[n] = m;
        n++;
    }
    return n;
}
