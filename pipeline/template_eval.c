/*
 * Template evaluator: walks the AST with Jinja's semantics as Python's jinja2
 * runs them under transformers: Python truthiness and arithmetic, default
 * Undefined (prints '', is false, fails when added to or read through),
 * attribute syntax that finds a dict's methods (items, keys, get...) before
 * its keys while subscripts find keys first, scopes where a for loop or a
 * macro gets its own frame (so `set` in a loop does not leak, which is why
 * templates use namespace()).
 *
 * Cost: a tree walk; variables are found by a linear scan of small frames.
 * Limits (iterations, macro depth, output size, memory) come from the
 * template's params and fail with a located message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "template_internal.h"

enum { FLOW_NEXT = 0, FLOW_BREAK, FLOW_CONTINUE };

_Noreturn void tpl_fail(tpl_render *R, const tpl_node *at, int kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->err_msg, sizeof R->err_msg, fmt, ap);
    va_end(ap);
    R->err_kind = kind;
    if (!at) at = R->stmt;
    if (at) tpl_line_col(R->t->src, R->t->len, at->off, &R->err_line, &R->err_col);
    longjmp(R->jb, 1);
}

/* ---- frames ------------------------------------------------------------------ */

tpl_frame *tpl_frame_new(tpl_render *R, tpl_frame *parent) {
    tpl_frame *f = tpl_alloc(&R->A, sizeof *f);
    memset(f, 0, sizeof *f);
    f->parent = parent;
    return f;
}

static tv *frame_find(tpl_frame *f, const char *s, size_t n) {
    for (size_t i = f->n; i-- > 0;)
        if (f->names[i].n == n && !memcmp(f->names[i].u.s, s, n)) return &f->vals[i];
    return NULL;
}

void tpl_frame_set(tpl_render *R, tpl_frame *f, tv name, tv val) {
    tv *slot = frame_find(f, name.u.s, name.n);
    if (slot) { *slot = val; return; }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        tv *nn = tpl_alloc(&R->A, cap * sizeof(tv)), *nv = tpl_alloc(&R->A, cap * sizeof(tv));
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof(tv));
            memcpy(nv, f->vals, f->n * sizeof(tv));
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = val;
}

static tv lookup(tpl_render *R, tpl_frame *f, tv name) {
    for (; f; f = f->parent) {
        tv *v = frame_find(f, name.u.s, name.n);
        if (v) return *v;
    }
    tv g = tpl_global(R, name.u.s, name.n);
    if (g.k != V_UNDEF) return g;
    return tv_undef(name.u.s, name.n);
}

_Noreturn static void fail_undefined(tpl_render *R, const tpl_node *at, tv u) {
    if (u.u.s) tpl_fail(R, at, TOK_TEMPLATE_EUNDEFINED, "'%.*s' is undefined", (int)(u.n > 60 ? 60 : u.n), u.u.s);
    tpl_fail(R, at, TOK_TEMPLATE_EUNDEFINED, "value is undefined");
}

/* ---- attribute and item access --------------------------------------------------- */

static tv loop_attr(tpl_render *R, tpl_loop *lp, const char *s, size_t n) {
    size_t len = lp->items->n, i = lp->index0;
#define IS(x) (n == sizeof(x) - 1 && !memcmp(s, x, n))
    if (IS("index")) return tv_int((int64_t)i + 1);
    if (IS("index0")) return tv_int((int64_t)i);
    if (IS("first")) return tv_bool(i == 0);
    if (IS("last")) return tv_bool(i + 1 == len);
    if (IS("length")) return tv_int((int64_t)len);
    if (IS("revindex")) return tv_int((int64_t)(len - i));
    if (IS("revindex0")) return tv_int((int64_t)(len - i - 1));
    if (IS("previtem")) return i > 0 ? lp->items->v[i - 1] : tv_undef("previtem", 8);
    if (IS("nextitem")) return i + 1 < len ? lp->items->v[i + 1] : tv_undef("nextitem", 8);
    if (IS("depth")) return tv_int(1);
    if (IS("depth0")) return tv_int(0);
    if (IS("cycle")) {
        tpl_func *fn = tpl_alloc(&R->A, sizeof *fn);
        memset(fn, 0, sizeof *fn);
        fn->kind = F_LOOP_CYCLE;
        fn->self.k = V_LOOP;
        fn->self.u.lp = lp;
        tv v = {.k = V_FUNC};
        v.u.fn = fn;
        return v;
    }
#undef IS
    return tv_undef(s, n);
}

tv tpl_getattr(tpl_render *R, const tpl_node *at, tv obj, tv name) {
    switch (obj.k) {
    case V_UNDEF: fail_undefined(R, at, obj);
    case V_DICT: {
        if (!obj.u.d->ns) {
            tv m = tpl_method(R, obj, name.u.s, name.n);
            if (m.k != V_UNDEF) return m;
        }
        tv *v = tpl_dict_get(obj.u.d, name.u.s, name.n);
        return v ? *v : tv_undef(name.u.s, name.n);
    }
    case V_LOOP: return loop_attr(R, obj.u.lp, name.u.s, name.n);
    case V_STR: case V_LIST: return tpl_method(R, obj, name.u.s, name.n);
    default: return tv_undef(name.u.s, name.n);
    }
}

static bool as_index(tv k, int64_t *i) {
    if (k.k == V_INT || k.k == V_BOOL) { *i = k.u.i; return true; }
    return false;
}

tv tpl_getitem(tpl_render *R, const tpl_node *at, tv obj, tv key) {
    int64_t i;
    switch (obj.k) {
    case V_UNDEF: fail_undefined(R, at, obj);
    case V_DICT: {
        tv *v = tpl_dict_find(obj.u.d, key);
        if (v) return *v;
        break;
    }
    case V_LIST:
        if (as_index(key, &i)) {
            int64_t n = (int64_t)obj.u.l->n;
            if (i < 0) i += n;
            if (i < 0 || i >= n) return tv_undef("index", 5);
            return obj.u.l->v[i];
        }
        break;
    case V_STR:
        if (as_index(key, &i)) return str_index(R, obj, i);
        break;
    case V_LOOP:
        if (key.k == V_STR) return loop_attr(R, obj.u.lp, key.u.s, key.n);
        break;
    default: break;
    }
    /* jinja2 falls back to the attribute of that name */
    if (key.k == V_STR && obj.k != V_DICT) return tpl_getattr(R, at, obj, key);
    if (key.k == V_STR && !obj.u.d->ns) {
        tv m = tpl_method(R, obj, key.u.s, key.n);
        if (m.k != V_UNDEF) return m;
        return tv_undef(key.u.s, key.n);
    }
    return tv_undef(NULL, 0);
}

/* Python's slice.indices + the selected positions count */
static void slice_bounds(int64_t len, int64_t *start, int64_t *stop, int64_t step, bool has_start, bool has_stop) {
    if (step > 0) {
        if (!has_start) *start = 0;
        else if (*start < 0) { *start += len; if (*start < 0) *start = 0; }
        else if (*start > len) *start = len;
        if (!has_stop) *stop = len;
        else if (*stop < 0) { *stop += len; if (*stop < 0) *stop = 0; }
        else if (*stop > len) *stop = len;
    } else {
        if (!has_start) *start = len - 1;
        else if (*start < 0) { *start += len; if (*start < 0) *start = -1; }
        else if (*start >= len) *start = len - 1;
        if (!has_stop) *stop = -1;
        else if (*stop < 0) { *stop += len; if (*stop < 0) *stop = -1; }
        else if (*stop >= len) *stop = len - 1;
    }
}

static tv eval_slice(tpl_render *R, const tpl_node *n) {
    tv obj = tpl_eval(R, n->a);
    int64_t idx[3] = {0, 0, 1};
    bool has[3] = {false, false, false};
    for (int k = 0; k < 3; k++) {
        if (!n->v[k]) continue;
        tv x = tpl_eval(R, n->v[k]);
        if (x.k == V_NONE) continue;
        if (!as_index(x, &idx[k]))
            tpl_fail(R, n->v[k], TOK_TEMPLATE_ETYPE, "slice indices must be integers or None");
        has[k] = true;
    }
    if (idx[2] == 0) tpl_fail(R, n, TOK_TEMPLATE_ETYPE, "slice step cannot be zero");
    if (obj.k == V_UNDEF) fail_undefined(R, n, obj);
    if (obj.k == V_STR) return str_slice(R, obj, idx[0], idx[1], idx[2], has[0], has[1]);
    if (obj.k != V_LIST) tpl_fail(R, n, TOK_TEMPLATE_ETYPE, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t len = (int64_t)obj.u.l->n, start = idx[0], stop = idx[1], step = idx[2];
    slice_bounds(len, &start, &stop, step, has[0], has[1]);
    tv out = tv_list(&R->A, 0, obj.u.l->tuple);
    if (step > 0)
        for (int64_t i = start; i < stop; i += step) tpl_list_push(&R->A, out.u.l, obj.u.l->v[i]);
    else
        for (int64_t i = start; i > stop; i += step) tpl_list_push(&R->A, out.u.l, obj.u.l->v[i]);
    return out;
}

/* ---- operators -------------------------------------------------------------------- */

static bool numeric(tv v) { return v.k == V_INT || v.k == V_FLOAT || v.k == V_BOOL; }
static double as_f(tv v) { return v.k == V_FLOAT ? v.u.f : (double)v.u.i; }

static const char *op_name(int op) {
    switch (op) {
    case OP_FLOORDIV: return "//";
    case OP_POW: return "**";
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case '/': return "/";
    case '%': return "%";
    case '<': return "<";
    case '>': return ">";
    case OP_LE: return "<=";
    case OP_GE: return ">=";
    default: return "?";
    }
}

int tv_compare(tpl_render *R, const tpl_node *at, tv a, tv b) {
    if (a.k == V_UNDEF) fail_undefined(R, at, a);
    if (b.k == V_UNDEF) fail_undefined(R, at, b);
    if (numeric(a) && numeric(b)) {
        if (a.k != V_FLOAT && b.k != V_FLOAT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
        double x = as_f(a), y = as_f(b);
        return (x > y) - (x < y);
    }
    if (a.k == V_STR && b.k == V_STR) {
        size_t n = a.n < b.n ? a.n : b.n;
        int c = memcmp(a.u.s, b.u.s, n);
        if (c) return c < 0 ? -1 : 1;
        return (a.n > b.n) - (a.n < b.n);
    }
    if (a.k == V_LIST && b.k == V_LIST && a.u.l->tuple == b.u.l->tuple) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (tv_equal(a.u.l->v[i], b.u.l->v[i])) continue;
            return tv_compare(R, at, a.u.l->v[i], b.u.l->v[i]);
        }
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "comparison not supported between instances of '%s' and '%s'",
             tv_type_name(a), tv_type_name(b));
}

static bool contains(tpl_render *R, const tpl_node *at, tv item, tv c) {
    switch (c.k) {
    case V_UNDEF: return false; /* Undefined iterates as empty */
    case V_STR:
        if (item.k != V_STR)
            tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "'in <string>' requires string as left operand, not %s", tv_type_name(item));
        if (!item.n) return true;
        return item.n <= c.n && memmem(c.u.s, c.n, item.u.s, item.n) != NULL;
    case V_LIST:
        for (size_t i = 0; i < c.u.l->n; i++)
            if (tv_equal(c.u.l->v[i], item)) return true;
        return false;
    case V_DICT:
        if (c.u.d->ns) break;
        return tpl_dict_find(c.u.d, item) != NULL;
    default: break;
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "argument of type '%s' is not iterable", tv_type_name(c));
}

static int64_t py_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static tv concat_seq(tpl_render *R, tv a, tv b) {
    if (a.k == V_STR) {
        char *p = tpl_alloc(&R->A, a.n + b.n + 1);
        tpl_copy(p, a.u.s, a.n);
        tpl_copy(p + a.n, b.u.s, b.n);
        return tv_str(p, a.n + b.n);
    }
    tv out = tv_list(&R->A, a.u.l->n + b.u.l->n, a.u.l->tuple);
    tpl_copy(out.u.l->v, a.u.l->v, a.u.l->n * sizeof(tv));
    tpl_copy(out.u.l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(tv));
    out.u.l->n = a.u.l->n + b.u.l->n;
    return out;
}

static tv repeat_seq(tpl_render *R, const tpl_node *at, tv s, int64_t times) {
    if (times < 0) times = 0;
    size_t unit = s.k == V_STR ? s.n : s.u.l->n;
    if (unit && (uint64_t)times > (R->t->params.max_output_bytes + 1) / unit)
        tpl_fail(R, at, TOK_TEMPLATE_ELIMIT, "repetition result too large");
    if (s.k == V_STR) {
        char *p = tpl_alloc(&R->A, unit * (size_t)times + 1);
        for (int64_t i = 0; i < times; i++) memcpy(p + (size_t)i * unit, s.u.s, unit);
        return tv_str(p, unit * (size_t)times);
    }
    tv out = tv_list(&R->A, unit * (size_t)times, s.u.l->tuple);
    for (int64_t i = 0; i < times; i++) tpl_copy(out.u.l->v + (size_t)i * unit, s.u.l->v, unit * sizeof(tv));
    out.u.l->n = unit * (size_t)times;
    return out;
}

static tv arith(tpl_render *R, const tpl_node *at, int op, tv a, tv b) {
    if (op == '~') {
        tpl_sb sb = {0};
        tv_write_str(R, &sb, a);
        tv_write_str(R, &sb, b);
        return sb_value(&sb);
    }
    if (a.k == V_UNDEF) fail_undefined(R, at, a);
    if (b.k == V_UNDEF) fail_undefined(R, at, b);
    if (numeric(a) && numeric(b)) {
        if (a.k != V_FLOAT && b.k != V_FLOAT && op != '/') {
            int64_t x = a.u.i, y = b.u.i, r;
            switch (op) {
            case '+': if (__builtin_add_overflow(x, y, &r)) goto overflow; return tv_int(r);
            case '-': if (__builtin_sub_overflow(x, y, &r)) goto overflow; return tv_int(r);
            case '*': if (__builtin_mul_overflow(x, y, &r)) goto overflow; return tv_int(r);
            case OP_FLOORDIV:
                if (!y) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "integer division or modulo by zero");
                return tv_int(py_floordiv(x, y));
            case '%':
                if (!y) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "integer division or modulo by zero");
                return tv_int(x - py_floordiv(x, y) * y);
            case OP_POW:
                if (y < 0) return tv_float(pow((double)x, (double)y));
                r = 1;
                for (int64_t i = 0; i < y; i++)
                    if (__builtin_mul_overflow(r, x, &r)) goto overflow;
                return tv_int(r);
            }
        }
        double x = as_f(a), y = as_f(b);
        switch (op) {
        case '+': return tv_float(x + y);
        case '-': return tv_float(x - y);
        case '*': return tv_float(x * y);
        case '/':
            if (y == 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "division by zero");
            return tv_float(x / y);
        case OP_FLOORDIV:
            if (y == 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "float floor division by zero");
            return tv_float(floor(x / y));
        case '%': {
            if (y == 0) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "float modulo");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return tv_float(m);
        }
        case OP_POW: return tv_float(pow(x, y));
        }
    }
    if (op == '+' && a.k == V_STR && b.k == V_STR) return concat_seq(R, a, b);
    if (op == '+' && a.k == V_LIST && b.k == V_LIST && a.u.l->tuple == b.u.l->tuple) return concat_seq(R, a, b);
    if (op == '*' && (a.k == V_STR || a.k == V_LIST) && (b.k == V_INT || b.k == V_BOOL)) return repeat_seq(R, at, a, b.u.i);
    if (op == '*' && (b.k == V_STR || b.k == V_LIST) && (a.k == V_INT || a.k == V_BOOL)) return repeat_seq(R, at, b, a.u.i);
    if (op == '+' && a.k == V_STR)
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "can only concatenate str (not \"%s\") to str", tv_type_name(b));
    if (op == '+' && a.k == V_LIST)
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "can only concatenate %s (not \"%s\") to %s", tv_type_name(a),
                 tv_type_name(b), tv_type_name(a));
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "unsupported operand type(s) for %s: '%s' and '%s'", op_name(op),
             tv_type_name(a), tv_type_name(b));
overflow:
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "integer overflow");
}

static tv binop(tpl_render *R, const tpl_node *n) {
    tv a = tpl_eval(R, n->a), b = tpl_eval(R, n->b);
    switch (n->op) {
    case OP_EQ: return tv_bool(tv_equal(a, b));
    case OP_NE: return tv_bool(!tv_equal(a, b));
    case '<': return tv_bool(tv_compare(R, n, a, b) < 0);
    case '>': return tv_bool(tv_compare(R, n, a, b) > 0);
    case OP_LE: return tv_bool(tv_compare(R, n, a, b) <= 0);
    case OP_GE: return tv_bool(tv_compare(R, n, a, b) >= 0);
    case OP_IN: return tv_bool(contains(R, n, a, b));
    case OP_NOTIN: return tv_bool(!contains(R, n, a, b));
    default: return arith(R, n, n->op, a, b);
    }
}

/* ---- calls ------------------------------------------------------------------------- */

typedef struct {
    tv *args; size_t nargs;
    const tv *kwnames; tv *kwvals; size_t nkw;
} argpack;

static argpack eval_args(tpl_render *R, const tpl_node *n) {
    argpack p = {0};
    p.nargs = n->n;
    p.nkw = n->n2;
    p.kwnames = n->names;
    bool splat = false;
    for (size_t i = 0; i < n->n; i++) splat |= n->v[i]->kind == N_SPLAT;
    if (n->n2) p.kwvals = tpl_alloc(&R->A, n->n2 * sizeof(tv));
    for (size_t i = 0; i < n->n2; i++) p.kwvals[i] = tpl_eval(R, n->v2[i]);
    if (!splat) {
        if (n->n) p.args = tpl_alloc(&R->A, n->n * sizeof(tv));
        for (size_t i = 0; i < n->n; i++) p.args[i] = tpl_eval(R, n->v[i]);
        return p;
    }
    /* f(*seq, **mapping): expand into fresh argument arrays */
    tv args = tv_list(&R->A, n->n, false), names = tv_list(&R->A, n->n2, false), vals = tv_list(&R->A, n->n2, false);
    for (size_t i = 0; i < n->n2; i++) {
        tpl_list_push(&R->A, names.u.l, n->names[i]);
        tpl_list_push(&R->A, vals.u.l, p.kwvals[i]);
    }
    for (size_t i = 0; i < n->n; i++) {
        const tpl_node *a = n->v[i];
        if (a->kind != N_SPLAT) { tpl_list_push(&R->A, args.u.l, tpl_eval(R, a)); continue; }
        tv v = tpl_eval(R, a->a);
        if (a->op == 1) {
            tpl_list *items = tpl_iterate(R, a, v);
            for (size_t k = 0; k < items->n; k++) tpl_list_push(&R->A, args.u.l, items->v[k]);
        } else {
            if (v.k != V_DICT) tpl_fail(R, a, TOK_TEMPLATE_ETYPE, "argument after ** must be a mapping, not %s", tv_type_name(v));
            for (size_t k = 0; k < v.u.d->n; k++) {
                tpl_list_push(&R->A, names.u.l, v.u.d->keys[k]);
                tpl_list_push(&R->A, vals.u.l, v.u.d->vals[k]);
            }
        }
    }
    p.args = args.u.l->v;
    p.nargs = args.u.l->n;
    p.kwnames = names.u.l->v;
    p.kwvals = vals.u.l->v;
    p.nkw = names.u.l->n;
    return p;
}

static int exec_body(tpl_render *R, tpl_node **v, size_t n);

/* Runs a macro (or a call block's body as caller()) and returns its output. */
static tv call_macro(tpl_render *R, const tpl_node *at, tpl_func *fn, tv *args, size_t nargs,
                     const tv *kwnames, tv *kwvals, size_t nkw, tv caller) {
    const tpl_node *m = fn->node;
    if (++R->depth > R->t->params.max_depth)
        tpl_fail(R, at, TOK_TEMPLATE_ELIMIT, "macro calls nested deeper than %d", R->t->params.max_depth);
    tpl_frame *f = tpl_frame_new(R, fn->kind == F_CALLER ? fn->closure : R->root);
    if (nargs > m->nnames)
        tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "macro '%.*s' takes not more than %zu argument(s)", (int)m->val.n,
                 m->val.u.s ? m->val.u.s : "caller", m->nnames);
    bool *set = tpl_alloc(&R->A, m->nnames + 1);
    memset(set, 0, m->nnames + 1);
    for (size_t i = 0; i < nargs; i++) { tpl_frame_set(R, f, m->names[i], args[i]); set[i] = true; }
    for (size_t k = 0; k < nkw; k++) {
        if (tv_is_str(kwnames[k], "caller")) { caller = kwvals[k]; continue; }
        size_t i;
        for (i = 0; i < m->nnames; i++)
            if (tv_equal(m->names[i], kwnames[k])) break;
        if (i == m->nnames)
            tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "macro '%.*s' takes no keyword argument '%.*s'", (int)m->val.n,
                     m->val.u.s ? m->val.u.s : "", (int)kwnames[k].n, kwnames[k].u.s);
        tpl_frame_set(R, f, m->names[i], kwvals[k]);
        set[i] = true;
    }
    tpl_frame *saved_frame = R->cur;
    R->cur = f;
    for (size_t i = 0; i < m->nnames; i++) {
        if (set[i]) continue;
        tv d = m->v2[i] ? tpl_eval(R, m->v2[i]) : tv_undef(m->names[i].u.s, m->names[i].n);
        tpl_frame_set(R, f, m->names[i], d);
    }
    if (caller.k != V_UNDEF) tpl_frame_set(R, f, tv_str("caller", 6), caller);
    tpl_sb *saved_out = R->out, buf = {0};
    R->out = &buf;
    exec_body(R, m->v, m->n);
    R->out = saved_out;
    R->cur = saved_frame;
    R->depth--;
    return sb_value(&buf);
}

tv tpl_call_value(tpl_render *R, const tpl_node *at, tv fn, tv *args, size_t nargs, const tv *kwnames,
                  tv *kwvals, size_t nkw) {
    if (fn.k == V_UNDEF) fail_undefined(R, at, fn);
    if (fn.k != V_FUNC) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "'%s' object is not callable", tv_type_name(fn));
    tpl_func *f = fn.u.fn;
    switch (f->kind) {
    case F_MACRO: case F_CALLER: return call_macro(R, at, f, args, nargs, kwnames, kwvals, nkw, tv_undef(NULL, 0));
    case F_METHOD: return tpl_call_method(R, at, f, args, nargs, kwnames, kwvals, nkw);
    case F_GLOBAL: return tpl_call_global(R, at, f, args, nargs, kwnames, kwvals, nkw);
    default:
        if (!nargs) tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "no items for cycling given");
        return args[f->self.u.lp->index0 % nargs];
    }
}

/* ---- expressions ------------------------------------------------------------------- */

/* Applies a filter chain whose innermost operand is NULL to v (filter blocks). */
static tv apply_chain(tpl_render *R, const tpl_node *f, tv v) {
    if (f->a) v = apply_chain(R, f->a, v);
    argpack p = eval_args(R, f);
    return tpl_apply_filter(R, f, f->id, v, p.args, p.nargs, p.kwnames, p.kwvals, p.nkw);
}

tv tpl_eval(tpl_render *R, const tpl_node *n) {
    switch (n->kind) {
    case N_CONST: return n->val;
    case N_NAME: return lookup(R, R->cur, n->val);
    case N_LIST: case N_TUPLE: {
        tv l = tv_list(&R->A, n->n, n->kind == N_TUPLE);
        for (size_t i = 0; i < n->n; i++) l.u.l->v[i] = tpl_eval(R, n->v[i]);
        l.u.l->n = n->n;
        return l;
    }
    case N_DICT: {
        tv d = tv_dict(&R->A, n->n / 2);
        for (size_t i = 0; i + 1 < n->n; i += 2) {
            tv k = tpl_eval(R, n->v[i]);
            if (k.k == V_LIST && !k.u.l->tuple) tpl_fail(R, n->v[i], TOK_TEMPLATE_ETYPE, "unhashable type: 'list'");
            if (k.k == V_DICT) tpl_fail(R, n->v[i], TOK_TEMPLATE_ETYPE, "unhashable type: 'dict'");
            tpl_dict_set(&R->A, d.u.d, k, tpl_eval(R, n->v[i + 1]));
        }
        return d;
    }
    case N_BINOP: return binop(R, n);
    case N_AND: {
        tv a = tpl_eval(R, n->a);
        return tv_truthy(a) ? tpl_eval(R, n->b) : a;
    }
    case N_OR: {
        tv a = tpl_eval(R, n->a);
        return tv_truthy(a) ? a : tpl_eval(R, n->b);
    }
    case N_NOT: return tv_bool(!tv_truthy(tpl_eval(R, n->a)));
    case N_NEG: case N_POS: {
        tv a = tpl_eval(R, n->a);
        if (a.k == V_UNDEF) fail_undefined(R, n, a);
        if (n->kind == N_POS && numeric(a)) return a.k == V_BOOL ? tv_int(a.u.i) : a;
        if (a.k == V_INT || a.k == V_BOOL) return tv_int(-a.u.i);
        if (a.k == V_FLOAT) return tv_float(-a.u.f);
        tpl_fail(R, n, TOK_TEMPLATE_ETYPE, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+',
                 tv_type_name(a));
    }
    case N_COND:
        if (tv_truthy(tpl_eval(R, n->a))) return tpl_eval(R, n->b);
        return n->c ? tpl_eval(R, n->c) : tv_undef(NULL, 0);
    case N_GETATTR: return tpl_getattr(R, n, tpl_eval(R, n->a), n->val);
    case N_GETITEM: {
        tv obj = tpl_eval(R, n->a);
        return tpl_getitem(R, n, obj, tpl_eval(R, n->b));
    }
    case N_SLICE: return eval_slice(R, n);
    case N_CALL: {
        tv fn = tpl_eval(R, n->a);
        argpack p = eval_args(R, n);
        return tpl_call_value(R, n, fn, p.args, p.nargs, p.kwnames, p.kwvals, p.nkw);
    }
    case N_FILTER: {
        tv v = tpl_eval(R, n->a);
        argpack p = eval_args(R, n);
        return tpl_apply_filter(R, n, n->id, v, p.args, p.nargs, p.kwnames, p.kwvals, p.nkw);
    }
    case N_TEST: {
        tv v = tpl_eval(R, n->a);
        argpack p = eval_args(R, n);
        bool r = tpl_apply_test(R, n, n->id, v, p.args, p.nargs);
        return tv_bool(n->op ? !r : r);
    }
    default: tpl_fail(R, n, TOK_TEMPLATE_ETYPE, "statement used as an expression");
    }
}

/* ---- statements ---------------------------------------------------------------------- */

tpl_list *tpl_iterate(tpl_render *R, const tpl_node *at, tv v) {
    switch (v.k) {
    case V_UNDEF: return tv_list(&R->A, 0, false).u.l;
    case V_LIST: return v.u.l;
    case V_DICT: {
        if (v.u.d->ns) break;
        tv l = tv_list(&R->A, v.u.d->n, false);
        tpl_copy(l.u.l->v, v.u.d->keys, v.u.d->n * sizeof(tv));
        l.u.l->n = v.u.d->n;
        return l.u.l;
    }
    case V_STR: {
        tv l = tv_list(&R->A, u8_len(v.u.s, v.n), false);
        for (size_t i = 0; i < v.n;) {
            size_t j = i + 1;
            while (j < v.n && ((unsigned char)v.u.s[j] & 0xc0) == 0x80) j++;
            l.u.l->v[l.u.l->n++] = tv_str(v.u.s + i, j - i);
            i = j;
        }
        return l.u.l;
    }
    default: break;
    }
    tpl_fail(R, at, TOK_TEMPLATE_ETYPE, "'%s' object is not iterable", tv_type_name(v));
}

static void assign(tpl_render *R, const tpl_node *target, tv v) {
    if (target->kind == N_NAME) { tpl_frame_set(R, R->cur, target->val, v); return; }
    if (target->kind == N_GETATTR) {
        tv ns = lookup(R, R->cur, target->a->val);
        if (ns.k != V_DICT || !ns.u.d->ns)
            tpl_fail(R, target, TOK_TEMPLATE_ETYPE, "cannot assign attribute on non-namespace object");
        tpl_dict_set(&R->A, ns.u.d, target->val, v);
        return;
    }
    /* tuple unpacking */
    tpl_list *items = tpl_iterate(R, target, v);
    if (items->n != target->n)
        tpl_fail(R, target, TOK_TEMPLATE_ETYPE, "%s values to unpack (expected %zu, got %zu)",
                 items->n > target->n ? "too many" : "not enough", target->n, items->n);
    for (size_t i = 0; i < target->n; i++) assign(R, target->v[i], items->v[i]);
}

static void out_put(tpl_render *R, const tpl_node *at, const char *s, size_t n) {
    R->out_total += n;
    if (R->out_total > R->t->params.max_output_bytes)
        tpl_fail(R, at, TOK_TEMPLATE_ELIMIT, "output longer than %zu bytes", R->t->params.max_output_bytes);
    sb_put(&R->A, R->out, s, n);
}

static tv capture(tpl_render *R, tpl_node **v, size_t n) {
    tpl_sb *saved = R->out, buf = {0};
    R->out = &buf;
    exec_body(R, v, n);
    R->out = saved;
    return sb_value(&buf);
}

static void count_iteration(tpl_render *R, const tpl_node *at) {
    if (++R->iterations > R->t->params.max_loop_iterations)
        tpl_fail(R, at, TOK_TEMPLATE_ELIMIT, "more than %zu loop iterations", R->t->params.max_loop_iterations);
}

static int exec_for(tpl_render *R, const tpl_node *n) {
    tpl_list *items = tpl_iterate(R, n->b, tpl_eval(R, n->b));
    tpl_frame *outer = R->cur, *f = tpl_frame_new(R, outer);
    R->cur = f;
    if (n->c) { /* {% for x in xs if cond %}: filtered before loop.* is computed */
        tv kept = tv_list(&R->A, items->n, false);
        for (size_t i = 0; i < items->n; i++) {
            count_iteration(R, n);
            assign(R, n->a, items->v[i]);
            if (tv_truthy(tpl_eval(R, n->c))) tpl_list_push(&R->A, kept.u.l, items->v[i]);
        }
        items = kept.u.l;
    }
    tpl_loop *lp = tpl_alloc(&R->A, sizeof *lp);
    lp->items = items;
    tv loopv = {.k = V_LOOP};
    loopv.u.lp = lp;
    for (size_t i = 0; i < items->n; i++) {
        count_iteration(R, n);
        lp->index0 = i;
        assign(R, n->a, items->v[i]);
        tpl_frame_set(R, f, tv_str("loop", 4), loopv);
        if (exec_body(R, n->v, n->n) == FLOW_BREAK) break;
    }
    R->cur = outer;
    if (!items->n && n->n2) return exec_body(R, n->v2, n->n2);
    return FLOW_NEXT;
}

static int exec_stmt(tpl_render *R, const tpl_node *n) {
    R->stmt = n;
    switch (n->kind) {
    case S_TEXT: out_put(R, n, n->val.u.s, n->val.n); return FLOW_NEXT;
    case S_OUTPUT: {
        tv v = tpl_eval(R, n->a);
        if (v.k == V_STR) out_put(R, n, v.u.s, v.n);
        else {
            tpl_sb b = {0};
            tv_write_str(R, &b, v);
            out_put(R, n, b.p, b.n);
        }
        return FLOW_NEXT;
    }
    case S_IF:
        if (tv_truthy(tpl_eval(R, n->a))) return exec_body(R, n->v, n->n);
        return exec_body(R, n->v2, n->n2);
    case S_FOR: return exec_for(R, n);
    case S_SET: assign(R, n->a, tpl_eval(R, n->b)); return FLOW_NEXT;
    case S_SETBLOCK: {
        tv v = capture(R, n->v, n->n);
        if (n->c) v = apply_chain(R, n->c, v);
        assign(R, n->a, v);
        return FLOW_NEXT;
    }
    case S_MACRO: {
        tpl_func *fn = tpl_alloc(&R->A, sizeof *fn);
        memset(fn, 0, sizeof *fn);
        fn->kind = F_MACRO;
        fn->node = n;
        tv v = {.k = V_FUNC};
        v.u.fn = fn;
        tpl_frame_set(R, R->cur, n->val, v);
        return FLOW_NEXT;
    }
    case S_CALLBLOCK: {
        tpl_func *cf = tpl_alloc(&R->A, sizeof *cf);
        memset(cf, 0, sizeof *cf);
        cf->kind = F_CALLER;
        cf->node = n;
        cf->closure = R->cur;
        tv caller = {.k = V_FUNC};
        caller.u.fn = cf;
        const tpl_node *call = n->a;
        tv fn = tpl_eval(R, call->a);
        argpack p = eval_args(R, call);
        if (fn.k != V_FUNC || fn.u.fn->kind != F_MACRO)
            tpl_fail(R, call, TOK_TEMPLATE_ETYPE, "{%% call %%} needs a macro");
        tv v = call_macro(R, call, fn.u.fn, p.args, p.nargs, p.kwnames, p.kwvals, p.nkw, caller);
        out_put(R, n, v.u.s, v.n);
        return FLOW_NEXT;
    }
    case S_FILTERBLOCK: {
        tv v = tv_to_str(R, apply_chain(R, n->c, capture(R, n->v, n->n)));
        out_put(R, n, v.u.s, v.n);
        return FLOW_NEXT;
    }
    case S_BREAK: return FLOW_BREAK;
    case S_CONTINUE: return FLOW_CONTINUE;
    case S_BODY: return exec_body(R, n->v, n->n);
    default: tpl_eval(R, n); return FLOW_NEXT;
    }
}

static int exec_body(tpl_render *R, tpl_node **v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int flow = exec_stmt(R, v[i]);
        if (flow != FLOW_NEXT) return flow;
    }
    return FLOW_NEXT;
}

void tpl_exec_body(tpl_render *R, tpl_node **v, size_t n) { exec_body(R, v, n); }
