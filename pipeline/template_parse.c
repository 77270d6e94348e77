/*
 * Template parser: recursive descent from the token stream to an AST, with
 * Jinja's grammar and operator precedence (loosest first): conditional
 * expression, or, and, not, comparisons / in / is-tests, + -, ~, * / // %,
 * **, unary minus, then primaries with postfix . [] () and filters |.
 * Filter and test names are resolved here, so an unknown filter is a parse
 * error with its line and column, as in Jinja (which reports it at compile
 * time). Nesting is bounded so a hostile template cannot exhaust the stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "template_internal.h"

#define MAX_PARSE_DEPTH 200

typedef struct parser {
    tok_template *t;
    tpl_token *tk;
    size_t i, n;
    jmp_buf *jb;
    char *errbuf;
    int depth, loops;
} parser;

typedef struct nvec { tpl_node **v; size_t n, cap; } nvec;

_Noreturn static void pfail(parser *P, size_t off, const char *fmt, ...) {
    int line, col;
    tpl_line_col(P->t->src, P->t->len, off, &line, &col);
    int k = snprintf(P->errbuf, 512, "%s:%d:%d: ", P->t->name, line, col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->errbuf + k, 512 - (size_t)k, fmt, ap);
    va_end(ap);
    longjmp(*P->jb, 1);
}

static void nv_push(parser *P, nvec *v, tpl_node *n) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        tpl_node **nn = tpl_alloc(&P->t->arena, cap * sizeof *nn);
        if (v->n) memcpy(nn, v->v, v->n * sizeof *nn);
        v->v = nn;
        v->cap = cap;
    }
    v->v[v->n++] = n;
}

static tpl_node *mk(parser *P, int kind, size_t off) {
    tpl_node *n = tpl_alloc(&P->t->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->off = off;
    return n;
}

static tpl_token *cur(parser *P) { return &P->tk[P->i]; }
static tpl_token *peek(parser *P, size_t k) { return &P->tk[P->i + k < P->n ? P->i + k : P->n - 1]; }
static bool tok_is_op(tpl_token *k, int op) { return k->type == T_OP && k->op == op; }
static bool is_op(parser *P, int op) { return tok_is_op(cur(P), op); }
static bool tok_is_name(tpl_token *k, const char *s) {
    return k->type == T_NAME && k->n == strlen(s) && !memcmp(k->s, s, k->n);
}
static bool is_name(parser *P, const char *s) { return tok_is_name(cur(P), s); }

static const char *describe(tpl_token *k, char *buf, size_t sz) {
    switch (k->type) {
    case T_EOF: return "end of template";
    case T_TEXT: return "template text";
    case T_VAR_BEGIN: return "'{{'";
    case T_VAR_END: return "'}}'";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_BLOCK_END: return "'%}'";
    case T_NAME: snprintf(buf, sz, "'%.*s'", (int)(k->n > 40 ? 40 : k->n), k->s); return buf;
    case T_STRING: return "string literal";
    case T_INT: case T_FLOAT: return "number";
    default:
        if (k->op < 256) snprintf(buf, sz, "'%c'", k->op);
        else snprintf(buf, sz, "operator");
        return buf;
    }
}

_Noreturn static void unexpected(parser *P, const char *expected) {
    char b[64];
    pfail(P, cur(P)->off, "unexpected %s, expected %s", describe(cur(P), b, sizeof b), expected);
}

static void expect_op(parser *P, int op) {
    if (!is_op(P, op)) {
        char e[8];
        snprintf(e, sizeof e, "'%c'", op);
        unexpected(P, e);
    }
    P->i++;
}

static tpl_token *expect_name(parser *P) {
    if (cur(P)->type != T_NAME) unexpected(P, "a name");
    return &P->tk[P->i++];
}

static void expect_block_end(parser *P) {
    if (cur(P)->type != T_BLOCK_END) unexpected(P, "end of tag '%}'");
    P->i++;
}

static tv name_val(tpl_token *k) { return tv_str(k->s, k->n); }

static tpl_node *parse_expression(parser *P, bool with_condexpr);
static tpl_node *parse_or(parser *P);
static tpl_node *parse_unary(parser *P, bool with_filter);
static tpl_node *parse_tuple(parser *P, bool with_condexpr, bool explicit_parens);

static void enter(parser *P) {
    if (++P->depth > MAX_PARSE_DEPTH) pfail(P, cur(P)->off, "template nested too deeply (more than %d levels)", MAX_PARSE_DEPTH);
}

/* ( args ) of a call, filter or test: positional, name=value, *a, **kw */
static void parse_call_args(parser *P, tpl_node *n) {
    expect_op(P, '(');
    nvec args = {0}, kwv = {0};
    tv *names = NULL;
    size_t nnames = 0, capn = 0;
    while (!is_op(P, ')')) {
        if (args.n + kwv.n) {
            expect_op(P, ',');
            if (is_op(P, ')')) break;
        }
        if (is_op(P, '*') || tok_is_op(cur(P), OP_POW)) { /* f(*seq) / f(**mapping) */
            tpl_node *sp = mk(P, N_SPLAT, cur(P)->off);
            sp->op = is_op(P, '*') ? 1 : 2;
            P->i++;
            sp->a = parse_expression(P, true);
            nv_push(P, &args, sp);
            continue;
        }
        if (cur(P)->type == T_NAME && tok_is_op(peek(P, 1), '=')) {
            tpl_token *k = expect_name(P);
            P->i++;
            if (nnames == capn) {
                capn = capn ? capn * 2 : 4;
                tv *nn = tpl_alloc(&P->t->arena, capn * sizeof *nn);
                if (nnames) memcpy(nn, names, nnames * sizeof *nn);
                names = nn;
            }
            names[nnames++] = name_val(k);
            nv_push(P, &kwv, parse_expression(P, true));
        } else {
            if (kwv.n) pfail(P, cur(P)->off, "positional argument follows keyword argument");

            nv_push(P, &args, parse_expression(P, true));
        }
    }
    P->i++;
    n->v = args.v; n->n = args.n;
    n->v2 = kwv.v; n->n2 = kwv.n;
    n->names = names; n->nnames = nnames;
}

static tpl_node *parse_filter(parser *P, tpl_node *operand) {
    tpl_token *k = expect_name(P);
    size_t off = k->off;
    char name[64];
    size_t nl = k->n < 63 ? k->n : 63;
    memcpy(name, k->s, nl);
    name[nl] = 0;
    int id = tpl_filter_id(k->s, k->n);
    if (id < 0) pfail(P, off, "unknown filter '%s'", name);
    tpl_node *n = mk(P, N_FILTER, off);
    n->id = id;
    n->a = operand;
    n->val = name_val(k);
    if (is_op(P, '(')) parse_call_args(P, n);
    return n;
}

static tpl_node *parse_test(parser *P, tpl_node *operand) {
    size_t off = cur(P)->off;
    P->i++; /* is */
    bool neg = false;
    if (is_name(P, "not")) { neg = true; P->i++; }
    tpl_token *k = expect_name(P);
    int id = tpl_test_id(k->s, k->n);
    if (id < 0) pfail(P, k->off, "unknown test '%.*s'", (int)(k->n > 40 ? 40 : k->n), k->s);
    tpl_node *n = mk(P, N_TEST, off);
    n->id = id;
    n->op = neg;
    n->a = operand;
    n->val = name_val(k);
    tpl_token *c = cur(P);
    if (tok_is_op(c, '(')) parse_call_args(P, n);
    else if ((c->type == T_NAME || c->type == T_STRING || c->type == T_INT || c->type == T_FLOAT ||
              tok_is_op(c, '[') || tok_is_op(c, '{')) &&
             !tok_is_name(c, "else") && !tok_is_name(c, "or") && !tok_is_name(c, "and")) {
        if (tok_is_name(c, "is")) pfail(P, c->off, "cannot chain tests with 'is'");
        tpl_node *arg = parse_unary(P, false);
        n->v = tpl_alloc(&P->t->arena, sizeof *n->v);
        n->v[0] = arg;
        n->n = 1;
    }
    return n;
}

static tpl_node *parse_primary(parser *P) {
    tpl_token *k = cur(P);
    tpl_node *n;
    switch (k->type) {
    case T_NAME:
        P->i++;
        n = mk(P, N_CONST, k->off);
        if (tok_is_name(k, "true") || tok_is_name(k, "True")) n->val = tv_bool(true);
        else if (tok_is_name(k, "false") || tok_is_name(k, "False")) n->val = tv_bool(false);
        else if (tok_is_name(k, "none") || tok_is_name(k, "None")) n->val = tv_none();
        else { n->kind = N_NAME; n->val = name_val(k); }
        return n;
    case T_STRING: {
        n = mk(P, N_CONST, k->off);
        P->i++;
        if (cur(P)->type != T_STRING) { n->val = tv_str(k->s, k->n); return n; }
        /* adjacent literals concatenate, as in Python */
        tpl_sb b = {0};
        sb_put(&P->t->arena, &b, k->s, k->n);
        while (cur(P)->type == T_STRING) { sb_put(&P->t->arena, &b, cur(P)->s, cur(P)->n); P->i++; }
        n->val = sb_value(&b);
        return n;
    }
    case T_INT: P->i++; n = mk(P, N_CONST, k->off); n->val = tv_int(k->i); return n;
    case T_FLOAT: P->i++; n = mk(P, N_CONST, k->off); n->val = tv_float(k->f); return n;
    case T_OP:
        if (k->op == '(') {
            P->i++;
            n = parse_tuple(P, true, true);
            expect_op(P, ')');
            return n;
        }
        if (k->op == '[') {
            P->i++;
            nvec items = {0};
            while (!is_op(P, ']')) {
                if (items.n) { expect_op(P, ','); if (is_op(P, ']')) break; }
                nv_push(P, &items, parse_expression(P, true));
            }
            P->i++;
            n = mk(P, N_LIST, k->off);
            n->v = items.v; n->n = items.n;
            return n;
        }
        if (k->op == '{') {
            P->i++;
            nvec items = {0};
            while (!is_op(P, '}')) {
                if (items.n) { expect_op(P, ','); if (is_op(P, '}')) break; }
                nv_push(P, &items, parse_expression(P, true));
                expect_op(P, ':');
                nv_push(P, &items, parse_expression(P, true));
            }
            P->i++;
            n = mk(P, N_DICT, k->off);
            n->v = items.v; n->n = items.n;
            return n;
        }
        /* fallthrough */
    default: unexpected(P, "an expression");
    }
}

static tpl_node *parse_subscript(parser *P, tpl_node *obj, size_t off) {
    tpl_node *parts[3] = {0};
    bool slice = false;
    if (!is_op(P, ':')) parts[0] = parse_expression(P, true);
    if (is_op(P, ':')) {
        slice = true;
        P->i++;
        if (!is_op(P, ']') && !is_op(P, ':')) parts[1] = parse_expression(P, true);
        if (is_op(P, ':')) {
            P->i++;
            if (!is_op(P, ']')) parts[2] = parse_expression(P, true);
        }
    }
    expect_op(P, ']');
    tpl_node *n = mk(P, slice ? N_SLICE : N_GETITEM, off);
    n->a = obj;
    if (slice) {
        n->v = tpl_alloc(&P->t->arena, 3 * sizeof *n->v);
        memcpy(n->v, parts, sizeof parts);
        n->n = 3;
    } else n->b = parts[0];
    return n;
}

static tpl_node *parse_postfix(parser *P, tpl_node *n) {
    for (;;) {
        tpl_token *k = cur(P);
        if (tok_is_op(k, '.')) {
            P->i++;
            tpl_token *a = cur(P);
            if (a->type == T_INT) { /* x.0 is x[0] */
                P->i++;
                tpl_node *g = mk(P, N_GETITEM, k->off);
                g->a = n;
                g->b = mk(P, N_CONST, a->off);
                g->b->val = tv_int(a->i);
                n = g;
                continue;
            }
            a = expect_name(P);
            tpl_node *g = mk(P, N_GETATTR, a->off);
            g->a = n;
            g->val = name_val(a);
            n = g;
        } else if (tok_is_op(k, '[')) {
            P->i++;
            n = parse_subscript(P, n, k->off);
        } else if (tok_is_op(k, '(')) {
            tpl_node *c = mk(P, N_CALL, n->off); /* errors point at the callee */
            c->a = n;
            parse_call_args(P, c);
            n = c;
        } else return n;
    }
}

static tpl_node *parse_filter_expr(parser *P, tpl_node *n) {
    for (;;) {
        if (is_op(P, '|')) { P->i++; n = parse_filter(P, n); }
        else if (is_name(P, "is")) n = parse_test(P, n);
        else if (is_op(P, '(')) {
            tpl_node *c = mk(P, N_CALL, n->off);
            c->a = n;
            parse_call_args(P, c);
            n = c;
        } else return n;
    }
}

static tpl_node *parse_unary(parser *P, bool with_filter) {
    enter(P);
    tpl_token *k = cur(P);
    tpl_node *n;
    if (tok_is_op(k, '-') || tok_is_op(k, '+')) {
        P->i++;
        n = mk(P, k->op == '-' ? N_NEG : N_POS, k->off);
        n->a = parse_unary(P, false);
    } else n = parse_primary(P);
    n = parse_postfix(P, n);
    if (with_filter) n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static tpl_node *binop(parser *P, int op, size_t off, tpl_node *a, tpl_node *b) {
    tpl_node *n = mk(P, N_BINOP, off);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static tpl_node *parse_pow(parser *P) {
    tpl_node *n = parse_unary(P, true);
    while (is_op(P, OP_POW)) { size_t off = cur(P)->off; P->i++; n = binop(P, OP_POW, off, n, parse_unary(P, true)); }
    return n;
}

static tpl_node *parse_math2(parser *P) {
    tpl_node *n = parse_pow(P);
    while (is_op(P, '*') || is_op(P, '/') || is_op(P, OP_FLOORDIV) || is_op(P, '%')) {
        tpl_token *k = &P->tk[P->i++];
        n = binop(P, k->op, k->off, n, parse_pow(P));
    }
    return n;
}

static tpl_node *parse_concat(parser *P) {
    tpl_node *n = parse_math2(P);
    while (is_op(P, '~')) { size_t off = cur(P)->off; P->i++; n = binop(P, '~', off, n, parse_math2(P)); }
    return n;
}

static tpl_node *parse_math1(parser *P) {
    tpl_node *n = parse_concat(P);
    while (is_op(P, '+') || is_op(P, '-')) {
        tpl_token *k = &P->tk[P->i++];
        n = binop(P, k->op, k->off, n, parse_concat(P));
    }
    return n;
}

static tpl_node *parse_compare(parser *P) {
    tpl_node *n = parse_math1(P);
    for (;;) {
        tpl_token *k = cur(P);
        int op = 0;
        if (k->type == T_OP && (k->op == OP_EQ || k->op == OP_NE || k->op == '<' || k->op == '>' ||
                                k->op == OP_LE || k->op == OP_GE)) { op = k->op; P->i++; }
        else if (tok_is_name(k, "in")) { op = OP_IN; P->i++; }
        else if (tok_is_name(k, "not") && tok_is_name(peek(P, 1), "in")) { op = OP_NOTIN; P->i += 2; }
        else return n;
        n = binop(P, op, k->off, n, parse_math1(P));
    }
}

static tpl_node *parse_not(parser *P) {
    if (is_name(P, "not")) {
        enter(P);
        tpl_node *n = mk(P, N_NOT, cur(P)->off);
        P->i++;
        n->a = parse_not(P);
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static tpl_node *parse_and(parser *P) {
    tpl_node *n = parse_not(P);
    while (is_name(P, "and")) {
        tpl_node *a = mk(P, N_AND, cur(P)->off);
        P->i++;
        a->a = n;
        a->b = parse_not(P);
        n = a;
    }
    return n;
}

static tpl_node *parse_or(parser *P) {
    tpl_node *n = parse_and(P);
    while (is_name(P, "or")) {
        tpl_node *o = mk(P, N_OR, cur(P)->off);
        P->i++;
        o->a = n;
        o->b = parse_and(P);
        n = o;
    }
    return n;
}

static tpl_node *parse_expression(parser *P, bool with_condexpr) {
    enter(P);
    tpl_node *n = parse_or(P);
    while (with_condexpr && is_name(P, "if")) {
        tpl_node *c = mk(P, N_COND, cur(P)->off);
        P->i++;
        c->b = n;
        c->a = parse_or(P);
        if (is_name(P, "else")) { P->i++; c->c = parse_expression(P, true); }
        n = c;
    }
    P->depth--;
    return n;
}

static bool tuple_end(parser *P) {
    tpl_token *k = cur(P);
    return k->type == T_VAR_END || k->type == T_BLOCK_END || k->type == T_EOF || tok_is_op(k, ')') ||
           tok_is_name(k, "in");
}

static tpl_node *parse_tuple(parser *P, bool with_condexpr, bool explicit_parens) {
    size_t off = cur(P)->off;
    nvec items = {0};
    bool comma = false;
    for (;;) {
        if (items.n) {
            if (!is_op(P, ',')) break;
            P->i++;
            comma = true;
            if (tuple_end(P)) break;
        }
        if (explicit_parens && !items.n && is_op(P, ')')) break;
        nv_push(P, &items, with_condexpr ? parse_expression(P, true) : parse_or(P));
    }
    if (items.n == 1 && !comma) return items.v[0];
    if (!items.n && !explicit_parens) unexpected(P, "an expression");
    tpl_node *n = mk(P, N_TUPLE, off);
    n->v = items.v;
    n->n = items.n;
    return n;
}

/* for-loop and set targets: name, name.attr (set only), or a tuple of names */
static tpl_node *parse_target(parser *P, bool allow_attr) {
    size_t off = cur(P)->off;
    bool paren = is_op(P, '(');
    if (paren) P->i++;
    nvec names = {0};
    for (;;) {
        tpl_token *k = expect_name(P);
        tpl_node *n = mk(P, N_NAME, k->off);
        n->val = name_val(k);
        if (allow_attr && !paren && !names.n && is_op(P, '.')) {
            P->i++;
            tpl_token *a = expect_name(P);
            tpl_node *g = mk(P, N_GETATTR, a->off);
            g->a = n;
            g->val = name_val(a);
            return g;
        }
        nv_push(P, &names, n);
        if (!is_op(P, ',')) break;
        P->i++;
        if (paren && is_op(P, ')')) break;
    }
    if (paren) expect_op(P, ')');
    if (names.n == 1 && !paren) return names.v[0];
    tpl_node *t = mk(P, N_TUPLE, off);
    t->v = names.v;
    t->n = names.n;
    return t;
}

static nvec parse_body(parser *P, const char *const *ends, size_t nends, const char *opener, size_t open_off);

/* Stops at {% NAME with NAME among ends; leaves cur at NAME. */
static nvec parse_body(parser *P, const char *const *ends, size_t nends, const char *opener, size_t open_off) {
    nvec body = {0};
    enter(P);
    for (;;) {
        tpl_token *k = cur(P);
        if (k->type == T_EOF) {
            if (opener) {
                int line, col;
                tpl_line_col(P->t->src, P->t->len, open_off, &line, &col);
                pfail(P, k->off, "unexpected end of template: '%s' opened at line %d, column %d is never closed (expected '%s')",
                      opener, line, col, ends[0]);
            }
            break;
        }
        if (k->type == T_TEXT) {
            tpl_node *n = mk(P, S_TEXT, k->off);
            n->val = tv_str(k->s, k->n);
            nv_push(P, &body, n);
            P->i++;
            continue;
        }
        if (k->type == T_VAR_BEGIN) {
            P->i++;
            tpl_node *n = mk(P, S_OUTPUT, k->off);
            n->a = parse_tuple(P, true, false);
            if (cur(P)->type != T_VAR_END) unexpected(P, "end of print statement '}}'");
            P->i++;
            nv_push(P, &body, n);
            continue;
        }
        if (k->type != T_BLOCK_BEGIN) unexpected(P, "text or a tag");
        P->i++;
        tpl_token *kw = cur(P);
        if (kw->type != T_NAME) unexpected(P, "a tag name");
        for (size_t e = 0; e < nends; e++)
            if (tok_is_name(kw, ends[e])) { P->depth--; return body; }
        tpl_node *st = NULL;
        size_t off = kw->off;
        P->i++;
        if (tok_is_name(kw, "if")) {
            static const char *const ends_if[] = {"endif", "elif", "else"};
            tpl_node *top = NULL, *last = NULL;
            for (;;) {
                tpl_node *n = mk(P, S_IF, off);
                n->a = parse_tuple(P, false, false);
                expect_block_end(P);
                nvec b = parse_body(P, ends_if, 3, "if", off);
                n->v = b.v; n->n = b.n;
                if (last) {
                    last->v2 = tpl_alloc(&P->t->arena, sizeof(tpl_node *));
                    last->v2[0] = n;
                    last->n2 = 1;
                } else top = n;
                last = n;
                tpl_token *e = &P->tk[P->i++];
                off = e->off;
                if (tok_is_name(e, "elif")) continue;
                if (tok_is_name(e, "else")) {
                    expect_block_end(P);
                    static const char *const ends_else[] = {"endif"};
                    nvec eb = parse_body(P, ends_else, 1, "if", off);
                    n->v2 = eb.v; n->n2 = eb.n;
                    P->i++;
                }
                expect_block_end(P);
                break;
            }
            st = top;
        } else if (tok_is_name(kw, "for")) {
            tpl_node *n = mk(P, S_FOR, off);
            n->a = parse_target(P, false);
            if (!is_name(P, "in")) unexpected(P, "'in'");
            P->i++;
            n->b = parse_tuple(P, false, false);
            if (is_name(P, "if")) { P->i++; n->c = parse_expression(P, true); }
            if (is_name(P, "recursive")) pfail(P, cur(P)->off, "recursive loops are not supported");
            expect_block_end(P);
            static const char *const ends_for[] = {"endfor", "else"};
            P->loops++;
            nvec b = parse_body(P, ends_for, 2, "for", off);
            P->loops--;
            n->v = b.v; n->n = b.n;
            if (is_name(P, "else")) {
                P->i++;
                expect_block_end(P);
                static const char *const ends_fe[] = {"endfor"};
                nvec eb = parse_body(P, ends_fe, 1, "for", off);
                n->v2 = eb.v; n->n2 = eb.n;
            }
            P->i++;
            expect_block_end(P);
            st = n;
        } else if (tok_is_name(kw, "set")) {
            tpl_node *target = parse_target(P, true);
            if (is_op(P, '=')) {
                P->i++;
                tpl_node *n = mk(P, S_SET, off);
                n->a = target;
                n->b = parse_tuple(P, true, false);
                expect_block_end(P);
                st = n;
            } else {
                tpl_node *n = mk(P, S_SETBLOCK, off);
                n->a = target;
                while (is_op(P, '|')) { P->i++; n->c = parse_filter(P, n->c); }
                expect_block_end(P);
                static const char *const ends_set[] = {"endset"};
                nvec b = parse_body(P, ends_set, 1, "set", off);
                n->v = b.v; n->n = b.n;
                P->i++;
                expect_block_end(P);
                st = n;
            }
        } else if (tok_is_name(kw, "macro") || tok_is_name(kw, "call")) {
            bool is_call = tok_is_name(kw, "call");
            tpl_node *n = mk(P, is_call ? S_CALLBLOCK : S_MACRO, off);
            if (!is_call) n->val = name_val(expect_name(P));
            /* parameters: the macro's, or caller's for {% call(args) %} */
            nvec defs = {0};
            tv *params = NULL;
            size_t np = 0, capp = 0;
            if (!is_call || is_op(P, '(')) {
                expect_op(P, '(');
                while (!is_op(P, ')')) {
                    if (np) { expect_op(P, ','); if (is_op(P, ')')) break; }
                    tpl_token *pn = expect_name(P);
                    if (np == capp) {
                        capp = capp ? capp * 2 : 4;
                        tv *nn = tpl_alloc(&P->t->arena, capp * sizeof *nn);
                        if (np) memcpy(nn, params, np * sizeof *nn);
                        params = nn;
                    }
                    params[np++] = name_val(pn);
                    tpl_node *d = NULL;
                    if (is_op(P, '=')) { P->i++; d = parse_expression(P, true); }
                    nv_push(P, &defs, d);
                }
                P->i++;
            }
            n->names = params; n->nnames = np;
            n->v2 = defs.v; n->n2 = defs.n;
            if (is_call) {
                n->a = parse_expression(P, true);
                if (n->a->kind != N_CALL) pfail(P, n->a->off, "{%% call %%} needs a macro call");
            }
            expect_block_end(P);
            static const char *const ends_m[] = {"endmacro"}, *const ends_c[] = {"endcall"};
            int saved = P->loops;
            P->loops = 0;
            nvec b = parse_body(P, is_call ? ends_c : ends_m, 1, is_call ? "call" : "macro", off);
            P->loops = saved;
            n->v = b.v; n->n = b.n;
            P->i++;
            expect_block_end(P);
            st = n;
        } else if (tok_is_name(kw, "filter")) {
            tpl_node *n = mk(P, S_FILTERBLOCK, off);
            n->c = parse_filter(P, NULL);
            while (is_op(P, '|')) { P->i++; n->c = parse_filter(P, n->c); }
            expect_block_end(P);
            static const char *const ends_f[] = {"endfilter"};
            nvec b = parse_body(P, ends_f, 1, "filter", off);
            n->v = b.v; n->n = b.n;
            P->i++;
            expect_block_end(P);
            st = n;
        } else if (tok_is_name(kw, "generation")) {
            /* transformers' AssistantTracker: the body renders unchanged */
            expect_block_end(P);
            static const char *const ends_g[] = {"endgeneration"};
            nvec b = parse_body(P, ends_g, 1, "generation", off);
            st = mk(P, S_BODY, off);
            st->v = b.v; st->n = b.n;
            P->i++;
            expect_block_end(P);
        } else if (tok_is_name(kw, "break") || tok_is_name(kw, "continue")) {
            if (!P->loops) pfail(P, off, "'%.*s' outside of a loop", (int)kw->n, kw->s);
            st = mk(P, tok_is_name(kw, "break") ? S_BREAK : S_CONTINUE, off);
            expect_block_end(P);
        } else {
            char b[64];
            if (kw->n > 3 && !memcmp(kw->s, "end", 3))
                pfail(P, off, "unexpected %s: no open block to close here", describe(kw, b, sizeof b));
            if (tok_is_name(kw, "else") || tok_is_name(kw, "elif"))
                pfail(P, off, "unexpected %s outside of an if or for block", describe(kw, b, sizeof b));
            pfail(P, off, "unknown tag %s", describe(kw, b, sizeof b));
        }
        nv_push(P, &body, st);
    }
    P->depth--;
    return body;
}

void tpl_parse(tok_template *t, tpl_lexed lx, jmp_buf *jb, char *errbuf) {
    parser P = {.t = t, .tk = lx.tok, .n = lx.n, .jb = jb, .errbuf = errbuf};
    nvec body = parse_body(&P, NULL, 0, NULL, 0);
    tpl_node *root = mk(&P, S_BODY, 0);
    root->v = body.v;
    root->n = body.n;
    t->root = root;
}
