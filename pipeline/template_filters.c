/*
 * Jinja filters and tests, with jinja2 3.1's behaviour (and transformers'
 * tojson: json.dumps with ensure_ascii=False, indent, separators, sort_keys).
 * Names are resolved to ids at parse time, so an unknown filter or test is a
 * parse error; filters named at run time (map('upper'), select('odd')) are
 * resolved when called.
 *
 * Cost: each filter is linear in its input; sort is a stable merge sort.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "template_internal.h"

enum {
    FL_ABS, FL_ATTR, FL_BATCH, FL_CAPITALIZE, FL_CENTER, FL_COUNT, FL_D, FL_DEFAULT, FL_E, FL_ESCAPE,
    FL_FIRST, FL_FLOAT, FL_INDENT, FL_INT, FL_ITEMS, FL_JOIN, FL_LAST, FL_LENGTH, FL_LIST, FL_LOWER,
    FL_MAP, FL_MAX, FL_MIN, FL_REJECT, FL_REJECTATTR, FL_REPLACE, FL_REVERSE, FL_ROUND, FL_SAFE,
    FL_SELECT, FL_SELECTATTR, FL_SORT, FL_STRING, FL_SUM, FL_TITLE, FL_TOJSON, FL_TRIM, FL_UNIQUE,
    FL_UPPER, FL_WORDCOUNT, FL_COUNT_
};
static const char *const filter_names[FL_COUNT_] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "e", "escape",
    "first", "float", "indent", "int", "items", "join", "last", "length", "list", "lower",
    "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe",
    "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique",
    "upper", "wordcount"};

enum {
    TS_DEFINED, TS_UNDEFINED, TS_NONE, TS_STRING, TS_NUMBER, TS_INTEGER, TS_FLOAT, TS_MAPPING,
    TS_ITERABLE, TS_SEQUENCE, TS_BOOLEAN, TS_TRUE, TS_FALSE, TS_ODD, TS_EVEN, TS_DIVISIBLEBY,
    TS_EQ, TS_EQUALTO, TS_NE, TS_LT, TS_LESSTHAN, TS_LE, TS_GT, TS_GREATERTHAN, TS_GE, TS_IN,
    TS_CALLABLE, TS_SAMEAS, TS_LOWER, TS_UPPER, TS_ESCAPED, TS_COUNT_
};
static const char *const test_names[TS_COUNT_] = {
    "defined", "undefined", "none", "string", "number", "integer", "float", "mapping",
    "iterable", "sequence", "boolean", "true", "false", "odd", "even", "divisibleby",
    "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in",
    "callable", "sameas", "lower", "upper", "escaped"};

static int find_name(const char *const *names, int count, const char *s, size_t n) {
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], s, n)) return i;
    return -1;
}
int tpl_filter_id(const char *name, size_t n) { return find_name(filter_names, FL_COUNT_, name, n); }
int tpl_test_id(const char *name, size_t n) { return find_name(test_names, TS_COUNT_, name, n); }

/* ---- argument access ------------------------------------------------------------ */

typedef struct args {
    tv *v; size_t n;
    const tv *kwn; tv *kwv; size_t nkw;
} args;

static bool arg_get(const args *a, size_t pos, const char *name, tv *out) {
    if (pos < a->n) { *out = a->v[pos]; return true; }
    for (size_t i = 0; i < a->nkw; i++)
        if (tv_is_str(a->kwn[i], name)) { *out = a->kwv[i]; return true; }
    return false;
}
static tv arg(const args *a, size_t pos, const char *name, tv def) {
    tv v;
    return arg_get(a, pos, name, &v) ? v : def;
}

static int64_t want_int(tpl_render *R, const tpl_node *at, tv v, const char *what) {
    if (v.k == V_INT || v.k == V_BOOL) return v.u.i;
    if (v.k == V_FLOAT) return (int64_t)v.u.f;
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "%s must be an integer, not %s", what, tv_type_name(v));
}

static tv want_str(tpl_render *R, const tpl_node *at, tv v, const char *what) {
    if (v.k == V_STR) return v;
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "%s must be a string, not %s", what, tv_type_name(v));
}

/* ---- helpers ------------------------------------------------------------------------ */

static int64_t length_of(tpl_render *R, const tpl_node *at, tv v) {
    switch (v.k) {
    case V_UNDEF: return 0;
    case V_STR: return (int64_t)u8_len(v.u.s, v.n);
    case V_LIST: return (int64_t)v.u.l->n;
    case V_DICT: return (int64_t)v.u.d->n;
    default: tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "object of type '%s' has no len()", tv_type_name(v));
    }
}

/* attribute path "a.b.0" as jinja's make_attrgetter reads it */
static tv get_path(tpl_render *R, const tpl_node *at, tv v, tv path) {
    if (path.k == V_INT) return tpl_getitem(R, at, v, path);
    const char *s = path.u.s;
    size_t n = path.n, b = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') continue;
        const char *part = s + b;
        size_t pl = i - b;
        bool digits = pl > 0;
        for (size_t k = 0; k < pl; k++) digits = digits && part[k] >= '0' && part[k] <= '9';
        v = digits ? tpl_getitem(R, at, v, tv_int(strtoll(part, NULL, 10))) : tpl_getitem(R, at, v, tv_str(part, pl));
        b = i + 1;
    }
    return v;
}

static tv list_of(tpl_render *R, const tpl_node *at, tv v) {
    tv out = {.k = V_LIST};
    out.u.l = tpl_iterate(R, at, v);
    return out;
}

/* case-insensitive ordering for sort/unique unless case_sensitive */
static tv sort_key(tpl_render *R, tv v, bool cs) { return (!cs && v.k == V_STR) ? str_case(R, v, 0) : v; }

typedef struct { tpl_render *R; const tpl_node *at; bool rev; } sort_ctx;

static void merge_sort(sort_ctx *c, tv *keys, tv *vals, tv *tk, tv *tvv, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(c, keys, vals, tk, tvv, h);
    merge_sort(c, keys + h, vals + h, tk, tvv, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int cmp = tv_compare(c->R, c->at, keys[j], keys[i]);
        bool take_right = c->rev ? cmp > 0 : cmp < 0;
        if (take_right) { tk[k] = keys[j]; tvv[k++] = vals[j++]; }
        else { tk[k] = keys[i]; tvv[k++] = vals[i++]; }
    }
    while (i < h) { tk[k] = keys[i]; tvv[k++] = vals[i++]; }
    while (j < n) { tk[k] = keys[j]; tvv[k++] = vals[j++]; }
    memcpy(keys, tk, n * sizeof(tv));
    memcpy(vals, tvv, n * sizeof(tv));
}

static tv do_tojson(tpl_render *R, const tpl_node *at, tv v, const args *a) {
    tpl_json_opts o = {.indent = -1, .item_sep = ", ", .key_sep = ": "};
    o.ensure_ascii = tv_truthy(arg(a, 0, "ensure_ascii", tv_bool(false)));
    tv ind = arg(a, 1, "indent", tv_none());
    if (ind.k != V_NONE) {
        o.indent = (int)want_int(R, at, ind, "tojson indent");
        if (o.indent < 0) o.indent = 0;
        o.item_sep = ",";
    }
    tv seps = arg(a, 2, "separators", tv_none());
    if (seps.k == V_LIST && seps.u.l->n == 2 && seps.u.l->v[0].k == V_STR && seps.u.l->v[1].k == V_STR) {
        o.item_sep = tpl_strndup(&R->A, seps.u.l->v[0].u.s, seps.u.l->v[0].n);
        o.key_sep = tpl_strndup(&R->A, seps.u.l->v[1].u.s, seps.u.l->v[1].n);
    } else if (seps.k != V_NONE) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "tojson separators must be a pair of strings");
    o.sort_keys = tv_truthy(arg(a, 3, "sort_keys", tv_bool(false)));
    tpl_sb b = {0};
    const char *why = NULL;
    if (tv_write_json(R, &b, v, &o, 0, &why)) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "tojson: %s", why);
    return sb_value(&b);
}

/* str.splitlines() boundaries */
static size_t line_break(const char *s, size_t n, size_t i, size_t *len) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') { *len = (i + 1 < n && s[i + 1] == '\n') ? 2 : 1; return 1; }
    if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) { *len = 1; return 1; }
    uint32_t cp;
    int l = u8_decode(s + i, n - i, &cp);
    if (l > 1 && (cp == 0x85 || cp == 0x2028 || cp == 0x2029)) { *len = (size_t)l; return 1; }
    return 0;
}

static tv do_indent(tpl_render *R, const tpl_node *at, tv s, const args *a) {
    tv w = arg(a, 0, "width", tv_int(4));
    tpl_sb ind = {0};
    if (w.k == V_STR) sb_put(&R->A, &ind, w.u.s, w.n);
    else for (int64_t i = want_int(R, at, w, "indent width"); i > 0; i--) sb_putc(&R->A, &ind, ' ');
    bool first = tv_truthy(arg(a, 1, "first", tv_bool(false))), blank = tv_truthy(arg(a, 2, "blank", tv_bool(false)));
    /* s + "\n", split into lines, as jinja2 does */
    tpl_sb src = {0};
    sb_put(&R->A, &src, s.u.s, s.n);
    sb_putc(&R->A, &src, '\n');
    tpl_sb out = {0};
    if (first) sb_put(&R->A, &out, ind.p, ind.n);
    size_t b = 0, line = 0, bl;
    for (size_t i = 0; i < src.n;) {
        if (!line_break(src.p, src.n, i, &bl)) { i++; continue; }
        if (line) {
            sb_putc(&R->A, &out, '\n');
            if (blank || i > b) sb_put(&R->A, &out, ind.p, ind.n);
        }
        sb_put(&R->A, &out, src.p + b, i - b);
        line++;
        i += bl;
        b = i;
    }
    return sb_value(&out);
}

static tv do_escape(tpl_render *R, tv s) {
    tpl_sb b = {0};
    for (size_t i = 0; i < s.n; i++) {
        switch (s.u.s[i]) {
        case '&': sb_puts(&R->A, &b, "&amp;"); break;
        case '<': sb_puts(&R->A, &b, "&lt;"); break;
        case '>': sb_puts(&R->A, &b, "&gt;"); break;
        case '"': sb_puts(&R->A, &b, "&#34;"); break;
        case '\'': sb_puts(&R->A, &b, "&#39;"); break;
        default: sb_putc(&R->A, &b, s.u.s[i]);
        }
    }
    return sb_value(&b);
}

/* select/reject/selectattr/rejectattr: keep items whose test result == want */
static tv do_select(tpl_render *R, const tpl_node *at, tv seq, const args *a, bool attr, bool want) {
    /* jinja2 iterates only a truthy value: None gives an empty result */
    tpl_list *items = tv_truthy(seq) ? tpl_iterate(R, at, seq) : tv_list(&R->A, 0, false).u.l;
    size_t pos = 0;
    tv path = tv_undef(NULL, 0);
    if (attr) {
        if (!arg_get(a, 0, "attribute", &path)) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "missing attribute argument");
        pos = 1;
    }
    int test = -1;
    if (pos < a->n) {
        tv name = want_str(R, at, a->v[pos], "test name");
        test = tpl_test_id(name.u.s, name.n);
        if (test < 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "no test named '%.*s'", (int)name.n, name.u.s);
        pos++;
    }
    tv out = tv_list(&R->A, items->n, false);
    for (size_t i = 0; i < items->n; i++) {
        tv x = items->v[i];
        tv probe = attr ? get_path(R, at, x, path) : x;
        bool r = test < 0 ? tv_truthy(probe) : tpl_apply_test(R, at, test, probe, a->v + pos, a->n - pos);
        if (r == want) tpl_list_push(&R->A, out.u.l, x);
    }
    return out;
}

static tv do_round(tv v, int64_t prec, const char *method) {
    double x = v.k == V_FLOAT ? v.u.f : (double)v.u.i, m = pow(10, (double)prec), y = x * m;
    if (!strcmp(method, "ceil")) y = ceil(y);
    else if (!strcmp(method, "floor")) y = floor(y);
    else {
        /* Python's round: half to even on the scaled value */
        double r = nearbyint(y);
        if (fabs(y - trunc(y)) != 0.5) r = round(y);
        y = r;
    }
    return tv_float(y / m);
}

tv tpl_apply_filter(tpl_render *R, const tpl_node *at, int id, tv v, tv *av, size_t nargs, const tv *kwnames,
                    tv *kwvals, size_t nkw) {
    args a = {av, nargs, kwnames, kwvals, nkw};
    switch (id) {
    case FL_ABS:
        if (v.k == V_INT || v.k == V_BOOL) return tv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        if (v.k == V_FLOAT) return tv_float(fabs(v.u.f));
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "bad operand type for abs(): '%s'", tv_type_name(v));
    case FL_ATTR: return tpl_getattr(R, at, v, want_str(R, at, arg(&a, 0, "name", tv_none()), "attr name"));
    case FL_BATCH: {
        int64_t size = want_int(R, at, arg(&a, 0, "linecount", tv_none()), "batch size");
        if (size <= 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "batch size must be positive");
        tv fill;
        bool has_fill = arg_get(&a, 1, "fill_with", &fill) && fill.k != V_NONE;
        tpl_list *items = tpl_iterate(R, at, v);
        tv out = tv_list(&R->A, 0, false), cur = tv_list(&R->A, 0, false);
        for (size_t i = 0; i < items->n; i++) {
            tpl_list_push(&R->A, cur.u.l, items->v[i]);
            if ((int64_t)cur.u.l->n == size) { tpl_list_push(&R->A, out.u.l, cur); cur = tv_list(&R->A, 0, false); }
        }
        if (cur.u.l->n) {
            while (has_fill && (int64_t)cur.u.l->n < size) tpl_list_push(&R->A, cur.u.l, fill);
            tpl_list_push(&R->A, out.u.l, cur);
        }
        return out;
    }
    case FL_CAPITALIZE: return str_case(R, tv_to_str(R, v), 3);
    case FL_CENTER: {
        tv s = tv_to_str(R, v);
        int64_t w = want_int(R, at, arg(&a, 0, "width", tv_int(80)), "width"), len = (int64_t)u8_len(s.u.s, s.n);
        if (w <= len) return s;
        int64_t pad = w - len, left = pad / 2 + (pad & w & 1);
        tpl_sb b = {0};
        for (int64_t i = 0; i < left; i++) sb_putc(&R->A, &b, ' ');
        sb_put(&R->A, &b, s.u.s, s.n);
        for (int64_t i = 0; i < pad - left; i++) sb_putc(&R->A, &b, ' ');
        return sb_value(&b);
    }
    case FL_COUNT: case FL_LENGTH: return tv_int(length_of(R, at, v));
    case FL_D: case FL_DEFAULT: {
        tv def = arg(&a, 0, "default_value", tv_str("", 0));
        bool boolean = tv_truthy(arg(&a, 1, "boolean", tv_bool(false)));
        if (v.k == V_UNDEF || (boolean && !tv_truthy(v))) return def;
        return v;
    }
    case FL_E: case FL_ESCAPE: return do_escape(R, tv_to_str(R, v));
    case FL_FIRST: {
        if (v.k == V_UNDEF) return v;
        tpl_list *l = tpl_iterate(R, at, v);
        return l->n ? l->v[0] : tv_undef("first", 5);
    }
    case FL_LAST: {
        if (v.k == V_UNDEF) tpl_fail(R, at, TOK_TEMPLATE_EUNDEFINED, "value is undefined");
        tpl_list *l = tpl_iterate(R, at, v);
        return l->n ? l->v[l->n - 1] : tv_undef("last", 4);
    }
    case FL_FLOAT: {
        tv def = arg(&a, 0, "default", tv_float(0.0));
        if (v.k == V_FLOAT) return v;
        if (v.k == V_INT || v.k == V_BOOL) return tv_float((double)v.u.i);
        if (v.k == V_STR) {
            tv t = str_strip(R, v, tv_none(), true, true);
            char *s = tpl_strndup(&R->A, t.u.s, t.n), *end;
            double f = strtod(s, &end);
            if (t.n && !*end) return tv_float(f);
        }
        return def;
    }
    case FL_INDENT: return do_indent(R, at, tv_to_str(R, v), &a);
    case FL_INT: {
        tv def = arg(&a, 0, "default", tv_int(0));
        if (v.k == V_INT) return v;
        if (v.k == V_BOOL) return tv_int(v.u.i);
        if (v.k == V_FLOAT) return isfinite(v.u.f) ? tv_int((int64_t)v.u.f) : def;
        if (v.k == V_STR) {
            int64_t base = want_int(R, at, arg(&a, 1, "base", tv_int(10)), "base");
            tv t = str_strip(R, v, tv_none(), true, true);
            char *s = tpl_strndup(&R->A, t.u.s, t.n), *end;
            long long i = strtoll(s, &end, (int)base);
            if (t.n && !*end) return tv_int(i);
            double f = strtod(s, &end);
            if (t.n && !*end && isfinite(f)) return tv_int((int64_t)f);
        }
        return def;
    }
    case FL_ITEMS: {
        if (v.k == V_UNDEF) return tv_list(&R->A, 0, false);
        if (v.k != V_DICT) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "Can only get item pairs from a mapping.");
        tv out = tv_list(&R->A, v.u.d->n, false);
        for (size_t i = 0; i < v.u.d->n; i++) {
            tv p = tv_list(&R->A, 2, true);
            p.u.l->v[0] = v.u.d->keys[i];
            p.u.l->v[1] = v.u.d->vals[i];
            p.u.l->n = 2;
            out.u.l->v[i] = p;
        }
        out.u.l->n = v.u.d->n;
        return out;
    }
    case FL_JOIN: {
        tv sep = tv_to_str(R, arg(&a, 0, "d", tv_str("", 0)));
        tv attr;
        bool has_attr = arg_get(&a, 1, "attribute", &attr) && attr.k != V_NONE;
        tpl_list *items = tpl_iterate(R, at, v);
        tpl_sb b = {0};
        for (size_t i = 0; i < items->n; i++) {
            if (i) sb_put(&R->A, &b, sep.u.s, sep.n);
            tv_write_str(R, &b, has_attr ? get_path(R, at, items->v[i], attr) : items->v[i]);
        }
        return sb_value(&b);
    }
    case FL_LIST: return v.k == V_LIST && !v.u.l->tuple ? v : list_of(R, at, v);
    case FL_LOWER: return str_case(R, tv_to_str(R, v), 0);
    case FL_UPPER: return str_case(R, tv_to_str(R, v), 1);
    case FL_TITLE: return str_case(R, tv_to_str(R, v), 4);
    case FL_MAP: {
        tpl_list *items = tv_truthy(v) ? tpl_iterate(R, at, v) : tv_list(&R->A, 0, false).u.l;
        tv out = tv_list(&R->A, items->n, false);
        tv attr;
        if (!a.n && arg_get(&a, 99, "attribute", &attr)) {
            tv def;
            bool has_def = arg_get(&a, 99, "default", &def);
            for (size_t i = 0; i < items->n; i++) {
                tv x = get_path(R, at, items->v[i], attr);
                out.u.l->v[i] = (x.k == V_UNDEF && has_def) ? def : x;
            }
        } else {
            if (!a.n) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "map needs a filter name or attribute=");
            tv name = want_str(R, at, a.v[0], "filter name");
            int f = tpl_filter_id(name.u.s, name.n);
            if (f < 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "no filter named '%.*s'", (int)name.n, name.u.s);
            for (size_t i = 0; i < items->n; i++)
                out.u.l->v[i] = tpl_apply_filter(R, at, f, items->v[i], a.v + 1, a.n - 1, a.kwn, a.kwv, a.nkw);
        }
        out.u.l->n = items->n;
        return out;
    }
    case FL_MAX: case FL_MIN: {
        tpl_list *items = tpl_iterate(R, at, v);
        if (!items->n) return tv_undef("max", 3);
        bool cs = tv_truthy(arg(&a, 0, "case_sensitive", tv_bool(false)));
        tv best = items->v[0];
        for (size_t i = 1; i < items->n; i++) {
            int c = tv_compare(R, at, sort_key(R, items->v[i], cs), sort_key(R, best, cs));
            if (id == FL_MAX ? c > 0 : c < 0) best = items->v[i];
        }
        return best;
    }
    case FL_REJECT: return do_select(R, at, v, &a, false, false);
    case FL_REJECTATTR: return do_select(R, at, v, &a, true, false);
    case FL_SELECT: return do_select(R, at, v, &a, false, true);
    case FL_SELECTATTR: return do_select(R, at, v, &a, true, true);
    case FL_REPLACE: {
        tv s = tv_to_str(R, v);
        tv old = tv_to_str(R, arg(&a, 0, "old", tv_str("", 0))), rep = tv_to_str(R, arg(&a, 1, "new", tv_str("", 0)));
        tv cnt = arg(&a, 2, "count", tv_none());
        return str_replace(R, s, old, rep, cnt.k == V_NONE ? -1 : want_int(R, at, cnt, "count"));
    }
    case FL_REVERSE: {
        if (v.k == V_STR) return str_slice(R, v, 0, 0, -1, false, false);
        tpl_list *items = tpl_iterate(R, at, v);
        tv out = tv_list(&R->A, items->n, false);
        for (size_t i = 0; i < items->n; i++) out.u.l->v[i] = items->v[items->n - 1 - i];
        out.u.l->n = items->n;
        return out;
    }
    case FL_ROUND: {
        if (!(v.k == V_INT || v.k == V_FLOAT || v.k == V_BOOL))
            tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "round needs a number, not %s", tv_type_name(v));
        tv m = arg(&a, 1, "method", tv_str("common", 6));
        char meth[16];
        snprintf(meth, sizeof meth, "%.*s", (int)m.n, m.k == V_STR ? m.u.s : "");
        return do_round(v, want_int(R, at, arg(&a, 0, "precision", tv_int(0)), "precision"), meth);
    }
    case FL_SAFE: case FL_STRING: return tv_to_str(R, v);
    case FL_SORT: case FL_UNIQUE: {
        bool rev = id == FL_SORT && tv_truthy(arg(&a, 0, "reverse", tv_bool(false)));
        bool cs = tv_truthy(arg(&a, id == FL_SORT ? 1 : 0, "case_sensitive", tv_bool(false)));
        tv attr;
        bool has_attr = arg_get(&a, id == FL_SORT ? 2 : 1, "attribute", &attr) && attr.k != V_NONE;
        tpl_list *items = tpl_iterate(R, at, v);
        size_t n = items->n;
        tv *keys = tpl_alloc(&R->A, (n + 1) * sizeof(tv)), *vals = tpl_alloc(&R->A, (n + 1) * sizeof(tv));
        for (size_t i = 0; i < n; i++) {
            vals[i] = items->v[i];
            keys[i] = sort_key(R, has_attr ? get_path(R, at, items->v[i], attr) : items->v[i], cs);
        }
        tv out = tv_list(&R->A, n, false);
        if (id == FL_UNIQUE) {
            for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++) seen = tv_equal(keys[j], keys[i]);
                if (!seen) tpl_list_push(&R->A, out.u.l, vals[i]);
            }
            return out;
        }
        sort_ctx c = {R, at, rev};
        merge_sort(&c, keys, vals, tpl_alloc(&R->A, (n + 1) * sizeof(tv)), tpl_alloc(&R->A, (n + 1) * sizeof(tv)), n);
        tpl_copy(out.u.l->v, vals, n * sizeof(tv));
        out.u.l->n = n;
        return out;
    }
    case FL_SUM: {
        tv attr;
        bool has_attr = arg_get(&a, 0, "attribute", &attr) && attr.k != V_NONE;
        tv total = arg(&a, 1, "start", tv_int(0));
        tpl_list *items = tpl_iterate(R, at, v);
        for (size_t i = 0; i < items->n; i++) {
            tv x = has_attr ? get_path(R, at, items->v[i], attr) : items->v[i];
            bool fl = total.k == V_FLOAT || x.k == V_FLOAT;
            if (!(x.k == V_INT || x.k == V_FLOAT || x.k == V_BOOL))
                tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "unsupported operand type(s) for +: '%s' and '%s'",
                         tv_type_name(total), tv_type_name(x));
            if (fl) total = tv_float((total.k == V_FLOAT ? total.u.f : (double)total.u.i) + (x.k == V_FLOAT ? x.u.f : (double)x.u.i));
            else total = tv_int(total.u.i + x.u.i);
        }
        return total;
    }
    case FL_TOJSON: return do_tojson(R, at, v, &a);
    case FL_TRIM: {
        tv chars = arg(&a, 0, "chars", tv_none());
        return str_strip(R, tv_to_str(R, v), chars, true, true);
    }
    case FL_WORDCOUNT: {
        tv s = tv_to_str(R, v);
        int64_t words = 0;
        bool in_word = false;
        for (size_t i = 0; i < s.n;) {
            uint32_t cp;
            int l = u8_decode(s.u.s + i, s.n - i, &cp);
            if (l <= 0) { l = 1; cp = 0; }
            utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
            bool w = cp == '_' || (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
                     (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
            if (w && !in_word) words++;
            in_word = w;
            i += (size_t)l;
        }
        return tv_int(words);
    }
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "filter not implemented");
}

/* ---- tests ---------------------------------------------------------------------------- */

bool tpl_apply_test(tpl_render *R, const tpl_node *at, int id, tv v, tv *av, size_t nargs) {
    tv x = nargs ? av[0] : tv_undef(NULL, 0);
    switch (id) {
    case TS_DEFINED: return v.k != V_UNDEF;
    case TS_UNDEFINED: return v.k == V_UNDEF;
    case TS_NONE: return v.k == V_NONE;
    case TS_STRING: return v.k == V_STR;
    case TS_NUMBER: return v.k == V_INT || v.k == V_FLOAT || v.k == V_BOOL;
    case TS_INTEGER: return v.k == V_INT;
    case TS_FLOAT: return v.k == V_FLOAT;
    case TS_MAPPING: return v.k == V_DICT && !v.u.d->ns;
    case TS_ITERABLE: return v.k == V_UNDEF || v.k == V_STR || v.k == V_LIST || (v.k == V_DICT && !v.u.d->ns);
    case TS_SEQUENCE: return v.k == V_UNDEF || v.k == V_STR || v.k == V_LIST || (v.k == V_DICT && !v.u.d->ns);
    case TS_BOOLEAN: return v.k == V_BOOL;
    case TS_TRUE: return v.k == V_BOOL && v.u.i;
    case TS_FALSE: return v.k == V_BOOL && !v.u.i;
    case TS_ODD: case TS_EVEN: {
        if (v.k == V_UNDEF) tpl_fail(R, at, TOK_TEMPLATE_EUNDEFINED, "value is undefined");
        int64_t i = want_int(R, at, v, "odd/even operand");
        bool odd = (i % 2) != 0;
        return id == TS_ODD ? odd : !odd;
    }
    case TS_DIVISIBLEBY: {
        int64_t d = want_int(R, at, x, "divisibleby argument");
        if (!d) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "integer division or modulo by zero");
        return want_int(R, at, v, "divisibleby operand") % d == 0;
    }
    case TS_EQ: case TS_EQUALTO: return tv_equal(v, x);
    case TS_NE: return !tv_equal(v, x);
    case TS_LT: case TS_LESSTHAN: return tv_compare(R, at, v, x) < 0;
    case TS_LE: return tv_compare(R, at, v, x) <= 0;
    case TS_GT: case TS_GREATERTHAN: return tv_compare(R, at, v, x) > 0;
    case TS_GE: return tv_compare(R, at, v, x) >= 0;
    case TS_IN: {
        if (x.k == V_STR) {
            if (v.k != V_STR) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "'in <string>' requires string as left operand");
            return !v.n || memmem(x.u.s, x.n, v.u.s, v.n) != NULL;
        }
        if (x.k == V_DICT) return tpl_dict_find(x.u.d, v) != NULL;
        tpl_list *l = tpl_iterate(R, at, x);
        for (size_t i = 0; i < l->n; i++)
            if (tv_equal(l->v[i], v)) return true;
        return false;
    }
    case TS_CALLABLE: return v.k == V_FUNC;
    case TS_SAMEAS:
        if (v.k != x.k) return false;
        if (v.k == V_LIST) return v.u.l == x.u.l;
        if (v.k == V_DICT) return v.u.d == x.u.d;
        if (v.k == V_STR) return v.u.s == x.u.s && v.n == x.n;
        return tv_equal(v, x);
    case TS_LOWER: case TS_UPPER: {
        if (v.k != V_STR) return false;
        bool cased = false;
        for (size_t i = 0; i < v.n;) {
            uint32_t cp;
            int l = u8_decode(v.u.s + i, v.n - i, &cp);
            if (l <= 0) { i++; continue; }
            utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
            if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) { if (id == TS_LOWER) return false; cased = true; }
            if (c == UTF8PROC_CATEGORY_LL) { if (id == TS_UPPER) return false; cased = true; }
            i += (size_t)l;
        }
        return cased;
    }
    case TS_ESCAPED: return false;
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "test not implemented");
}
