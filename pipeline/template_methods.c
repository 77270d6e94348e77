/*
 * Python methods that templates call on values (s.strip('\n'), d.items(),
 * d.get(k, default), ...) and the globals transformers provides:
 * raise_exception, strftime_now (clock injectable through the params),
 * range, namespace, dict. List mutators (append, pop...) exist but fail when
 * called, as in transformers' ImmutableSandboxedEnvironment.
 *
 * Cost: a method access allocates one small bound-method record.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template_internal.h"

enum {
    M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_STARTSWITH, M_ENDSWITH, M_UPPER, M_LOWER, M_TITLE,
    M_CAPITALIZE, M_REPLACE, M_FIND, M_COUNT, M_JOIN, M_FORMAT, M_ISDIGIT, M_ISALPHA, M_ISSPACE,
    M_SPLITLINES, M_STR_END_,
    M_ITEMS = M_STR_END_, M_KEYS, M_VALUES, M_GET, M_DICT_END_,
    M_LIST_INDEX = M_DICT_END_, M_LIST_COUNT, M_UNSAFE, M_END_
};
static const char *const str_methods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "title",
    "capitalize", "replace", "find", "count", "join", "format", "isdigit", "isalpha", "isspace", "splitlines"};
static const char *const dict_methods[] = {"items", "keys", "values", "get"};
static const char *const unsafe_list_methods[] = {"append", "pop", "extend", "insert", "remove", "clear",
                                                  "sort", "reverse"};

enum { G_RAISE, G_STRFTIME, G_RANGE, G_NAMESPACE, G_DICT, G_END_ };
static const char *const global_names[G_END_] = {"raise_exception", "strftime_now", "range", "namespace", "dict"};

static bool name_is(const char *a, const char *s, size_t n) { return strlen(a) == n && !memcmp(a, s, n); }

static tv bound(tpl_render *R, int kind, int id, tv self, const char *name, size_t n) {
    tpl_func *fn = tpl_alloc(&R->A, sizeof *fn);
    memset(fn, 0, sizeof *fn);
    fn->kind = kind;
    fn->id = id;
    fn->self = self;
    fn->name = name;
    fn->nname = n;
    tv v = {.k = V_FUNC};
    v.u.fn = fn;
    return v;
}

tv tpl_method(tpl_render *R, tv obj, const char *name, size_t n) {
    if (obj.k == V_STR) {
        for (int i = 0; i < M_STR_END_; i++)
            if (name_is(str_methods[i], name, n)) return bound(R, F_METHOD, i, obj, name, n);
    } else if (obj.k == V_DICT && !obj.u.d->ns) {
        for (int i = M_ITEMS; i < M_DICT_END_; i++)
            if (name_is(dict_methods[i - M_ITEMS], name, n)) return bound(R, F_METHOD, i, obj, name, n);
    } else if (obj.k == V_LIST) {
        if (name_is("index", name, n)) return bound(R, F_METHOD, M_LIST_INDEX, obj, name, n);
        if (name_is("count", name, n)) return bound(R, F_METHOD, M_LIST_COUNT, obj, name, n);
        for (size_t i = 0; i < sizeof unsafe_list_methods / sizeof *unsafe_list_methods; i++)
            if (name_is(unsafe_list_methods[i], name, n)) return bound(R, F_METHOD, M_UNSAFE, obj, name, n);
    }
    return tv_undef(name, n);
}

static tv a_or(tv *args, size_t nargs, size_t i, tv def) { return i < nargs ? args[i] : def; }

static void need_str(tpl_render *R, const tpl_node *at, tv v, const char *m) {
    if (v.k != V_STR && v.k != V_NONE)
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "%s arg must be None or str, not %s", m, tv_type_name(v));
}

static bool affix(tpl_render *R, const tpl_node *at, tv s, tv x, bool end) {
    if (x.k == V_LIST && x.u.l->tuple) {
        for (size_t i = 0; i < x.u.l->n; i++)
            if (affix(R, at, s, x.u.l->v[i], end)) return true;
        return false;
    }
    if (x.k != V_STR)
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "%s first arg must be str or a tuple of str, not %s",
                 end ? "endswith" : "startswith", tv_type_name(x));
    if (x.n > s.n) return false;
    return !memcmp(end ? s.u.s + s.n - x.n : s.u.s, x.u.s, x.n);
}

/* str.format with {} / {0} / {name} fields and {{ }} escapes; no format specs */
static tv str_format(tpl_render *R, const tpl_node *at, tv fmt, tv *args, size_t nargs, const tv *kwn, tv *kwv,
                     size_t nkw) {
    tpl_sb b = {0};
    size_t auto_i = 0;
    for (size_t i = 0; i < fmt.n; i++) {
        char c = fmt.u.s[i];
        if ((c == '{' || c == '}') && i + 1 < fmt.n && fmt.u.s[i + 1] == c) { sb_putc(&R->A, &b, c); i++; continue; }
        if (c == '}') tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "Single '}' encountered in format string");
        if (c != '{') { sb_putc(&R->A, &b, c); continue; }
        size_t e = i + 1;
        while (e < fmt.n && fmt.u.s[e] != '}') e++;
        if (e >= fmt.n) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "Single '{' encountered in format string");
        const char *f = fmt.u.s + i + 1;
        size_t fl = e - i - 1;
        if (memchr(f, ':', fl) || memchr(f, '!', fl)) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "format specs are not supported");
        tv v;
        if (!fl) {
            if (auto_i >= nargs) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "Replacement index %zu out of range", auto_i);
            v = args[auto_i++];
        } else if (f[0] >= '0' && f[0] <= '9') {
            size_t k = 0;
            for (size_t j = 0; j < fl; j++) k = k * 10 + (size_t)(f[j] - '0');
            if (k >= nargs) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "Replacement index %zu out of range", k);
            v = args[k];
        } else {
            size_t k;
            for (k = 0; k < nkw; k++)
                if (kwn[k].n == fl && !memcmp(kwn[k].u.s, f, fl)) break;
            if (k == nkw) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "KeyError: '%.*s'", (int)fl, f);
            v = kwv[k];
        }
        tv_write_str(R, &b, v);
        i = e;
    }
    return sb_value(&b);
}

tv tpl_call_method(tpl_render *R, const tpl_node *at, tpl_func *fn, tv *args, size_t nargs, const tv *kwnames,
                   tv *kwvals, size_t nkw) {
    tv s = fn->self;
    tv a0 = a_or(args, nargs, 0, tv_none()), a1 = a_or(args, nargs, 1, tv_none());
    if (nkw && fn->id != M_FORMAT) {
        /* the keyword forms templates use: split(sep=..., maxsplit=...) */
        for (size_t k = 0; k < nkw; k++) {
            if (tv_is_str(kwnames[k], "sep") || tv_is_str(kwnames[k], "chars")) a0 = kwvals[k];
            else if (tv_is_str(kwnames[k], "maxsplit") || tv_is_str(kwnames[k], "default")) a1 = kwvals[k];
            else tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "%.*s() got an unexpected keyword argument '%.*s'",
                          (int)fn->nname, fn->name, (int)kwnames[k].n, kwnames[k].u.s);
        }
    }
    switch (fn->id) {
    case M_STRIP: case M_LSTRIP: case M_RSTRIP:
        need_str(R, at, a0, fn->name);
        return str_strip(R, s, a0, fn->id != M_RSTRIP, fn->id != M_LSTRIP);
    case M_SPLIT: case M_RSPLIT: {
        need_str(R, at, a0, "split");
        int64_t max = a1.k == V_INT ? a1.u.i : -1;
        if (a0.k == V_STR && !a0.n) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "empty separator");
        return str_split(R, s, a0, max, fn->id == M_RSPLIT);
    }
    case M_STARTSWITH: case M_ENDSWITH: return tv_bool(affix(R, at, s, a0, fn->id == M_ENDSWITH));
    case M_UPPER: return str_case(R, s, 1);
    case M_LOWER: return str_case(R, s, 0);
    case M_TITLE: return str_case(R, s, 2);
    case M_CAPITALIZE: return str_case(R, s, 3);
    case M_REPLACE: {
        if (a0.k != V_STR || a1.k != V_STR) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "replace() arguments must be str");
        tv c = a_or(args, nargs, 2, tv_int(-1));
        return str_replace(R, s, a0, a1, c.k == V_INT ? c.u.i : -1);
    }
    case M_FIND: case M_COUNT:
        if (a0.k != V_STR) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "must be str, not %s", tv_type_name(a0));
        return tv_int(str_find(s, a0, fn->id == M_COUNT));
    case M_JOIN: {
        tpl_list *items = tpl_iterate(R, at, a0);
        tpl_sb b = {0};
        for (size_t i = 0; i < items->n; i++) {
            if (items->v[i].k != V_STR)
                tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "sequence item %zu: expected str instance, %s found", i,
                         tv_type_name(items->v[i]));
            if (i) sb_put(&R->A, &b, s.u.s, s.n);
            sb_put(&R->A, &b, items->v[i].u.s, items->v[i].n);
        }
        return sb_value(&b);
    }
    case M_FORMAT: return str_format(R, at, s, args, nargs, kwnames, kwvals, nkw);
    case M_ISDIGIT: case M_ISALPHA: case M_ISSPACE: {
        if (!s.n) return tv_bool(false);
        for (size_t i = 0; i < s.n;) {
            uint32_t cp;
            int l = u8_decode(s.u.s + i, s.n - i, &cp);
            if (l <= 0) return tv_bool(false);
            bool ok = fn->id == M_ISDIGIT ? (cp >= '0' && cp <= '9')
                    : fn->id == M_ISSPACE ? py_isspace(cp)
                    : ((cp | 32) >= 'a' && (cp | 32) <= 'z') || cp >= 0x80;
            if (!ok) return tv_bool(false);
            i += (size_t)l;
        }
        return tv_bool(true);
    }
    case M_SPLITLINES: {
        tv out = tv_list(&R->A, 0, false);
        size_t b = 0, i = 0;
        while (i < s.n) {
            char c = s.u.s[i];
            if (c == '\n' || c == '\r') {
                tpl_list_push(&R->A, out.u.l, tv_str(s.u.s + b, i - b));
                i += (c == '\r' && i + 1 < s.n && s.u.s[i + 1] == '\n') ? 2 : 1;
                b = i;
            } else i++;
        }
        if (b < s.n) tpl_list_push(&R->A, out.u.l, tv_str(s.u.s + b, s.n - b));
        return out;
    }
    case M_ITEMS: return tpl_apply_filter(R, at, tpl_filter_id("items", 5), s, NULL, 0, NULL, NULL, 0);
    case M_KEYS: case M_VALUES: {
        tpl_dict *d = s.u.d;
        tv out = tv_list(&R->A, d->n, false);
        tpl_copy(out.u.l->v, fn->id == M_KEYS ? d->keys : d->vals, d->n * sizeof(tv));
        out.u.l->n = d->n;
        return out;
    }
    case M_GET: {
        tv *v = tpl_dict_find(s.u.d, a0);
        return v ? *v : a1;
    }
    case M_LIST_INDEX:
        for (size_t i = 0; i < s.u.l->n; i++)
            if (tv_equal(s.u.l->v[i], a0)) return tv_int((int64_t)i);
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "value is not in list");
    case M_LIST_COUNT: {
        int64_t c = 0;
        for (size_t i = 0; i < s.u.l->n; i++) c += tv_equal(s.u.l->v[i], a0);
        return tv_int(c);
    }
    default:
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "access to attribute '%.*s' of '%s' object is unsafe.", (int)fn->nname,
                 fn->name, tv_type_name(s));
    }
}

/* ---- globals ------------------------------------------------------------------ */

tv tpl_global(tpl_render *R, const char *name, size_t n) {
    for (int i = 0; i < G_END_; i++)
        if (name_is(global_names[i], name, n)) return bound(R, F_GLOBAL, i, tv_none(), global_names[i], n);
    return tv_undef(name, n);
}

static void kw_into(tpl_render *R, tpl_dict *d, tv *args, size_t nargs, const tv *kwn, tv *kwv, size_t nkw,
                    const tpl_node *at) {
    if (nargs > 1) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "expected at most 1 positional argument, got %zu", nargs);
    if (nargs) {
        tv src = args[0];
        if (src.k == V_DICT && !src.u.d->ns) {
            for (size_t i = 0; i < src.u.d->n; i++) tpl_dict_set(&R->A, d, src.u.d->keys[i], src.u.d->vals[i]);
        } else {
            tpl_list *pairs = tpl_iterate(R, at, src);
            for (size_t i = 0; i < pairs->n; i++) {
                tv p = pairs->v[i];
                if (p.k != V_LIST || p.u.l->n != 2)
                    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "dictionary update sequence element #%zu has the wrong length", i);
                tpl_dict_set(&R->A, d, p.u.l->v[0], p.u.l->v[1]);
            }
        }
    }
    for (size_t i = 0; i < nkw; i++) tpl_dict_set(&R->A, d, kwn[i], kwv[i]);
}

tv tpl_call_global(tpl_render *R, const tpl_node *at, tpl_func *fn, tv *args, size_t nargs, const tv *kwnames,
                   tv *kwvals, size_t nkw) {
    switch (fn->id) {
    case G_RAISE: {
        tv msg = tv_to_str(R, nargs ? args[0] : tv_str("", 0));
        tpl_fail(R, at, TOK_TEMPLATE_ERAISE, "%.*s", (int)msg.n, msg.u.s);
    }
    case G_STRFTIME: {
        if (!nargs || args[0].k != V_STR) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "strftime_now needs a format string");
        struct tm tm;
        time_t now;
        if (R->t->params.fixed_now) {
            now = (time_t)R->t->params.now_unix;
            gmtime_r(&now, &tm);
        } else {
            now = time(NULL);
            localtime_r(&now, &tm);
        }
        char *f = tpl_strndup(&R->A, args[0].u.s, args[0].n);
        size_t cap = 256 + args[0].n * 8;
        char *out = tpl_alloc(&R->A, cap);
        size_t len = f[0] ? strftime(out, cap, f, &tm) : 0;
        return tv_str(out, len);
    }
    case G_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (nargs < 1 || nargs > 3) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "range expected 1 to 3 arguments, got %zu", nargs);
        for (size_t i = 0; i < nargs; i++) {
            if (args[i].k != V_INT && args[i].k != V_BOOL)
                tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "'%s' object cannot be interpreted as an integer", tv_type_name(args[i]));
        }
        if (nargs == 1) v[1] = args[0].u.i;
        else { v[0] = args[0].u.i; v[1] = args[1].u.i; if (nargs == 3) v[2] = args[2].u.i; }
        if (!v[2]) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "range() arg 3 must not be zero");
        int64_t count = v[2] > 0 ? (v[1] > v[0] ? (v[1] - v[0] + v[2] - 1) / v[2] : 0)
                                 : (v[0] > v[1] ? (v[0] - v[1] - v[2] - 1) / -v[2] : 0);
        if ((uint64_t)count > R->t->params.max_loop_iterations)
            tpl_fail(R, at, TOK_TEMPLATE_ELIMIT, "range of %lld items exceeds the iteration limit", (long long)count);
        tv out = tv_list(&R->A, (size_t)count, false);
        for (int64_t i = 0; i < count; i++) out.u.l->v[i] = tv_int(v[0] + i * v[2]);
        out.u.l->n = (size_t)count;
        return out;
    }
    case G_NAMESPACE: case G_DICT: {
        tv d = tv_dict(&R->A, nkw);
        kw_into(R, d.u.d, args, nargs, kwnames, kwvals, nkw, at);
        d.u.d->ns = fn->id == G_NAMESPACE;
        return d;
    }
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "unknown global");
}
