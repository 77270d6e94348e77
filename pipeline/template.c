/*
 * Template engine public API: parse once, render many times (from any number
 * of threads; a render only reads the parsed template). This is written here
 * rather than taken from a library because no maintained C library renders
 * Jinja the way Python's jinja2 does for Hugging Face chat templates.
 *
 * Parse: newlines are normalized to \n and one trailing newline dropped, as
 * Jinja's lexer does, then lex (template_lex.c) and parse (template_parse.c)
 * into an arena owned by the template. Render: the JSON context is viewed as
 * template values (strings point into the cJSON tree, no copy), the AST is
 * evaluated (template_eval.c) into a per-render arena, and the result is
 * appended to the caller's buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_internal.h"

tok_template_params tok_template_default_params(void) {
    tok_template_params p;
    memset(&p, 0, sizeof p);
    p.max_output_bytes = (size_t)16 << 20;
    p.max_loop_iterations = 1000000;
    p.max_depth = 200;
    p.max_memory_bytes = (size_t)512 << 20;
    p.fixed_now = false;
    p.now_unix = 0;
    p.keep_trailing_newline = false;
    return p;
}

static int set_err(tok_error *err, int code, const char *msg) {
    if (err) {
        err->code = code;
        size_t l = strlen(msg);
        if (l >= sizeof err->msg) l = sizeof err->msg - 1;
        memcpy(err->msg, msg, l);
        err->msg[l] = 0;
    }
    return code;
}

tok_template *tok_template_parse(const char *name, const char *src, size_t len, const tok_template_params *p,
                                 tok_error *err) {
    if (!src && len) { set_err(err, TOK_EINVAL, "template source is NULL"); return NULL; }
    tok_template *volatile t = calloc(1, sizeof *t);
    if (!t) { set_err(err, TOK_ENOMEM, "out of memory"); return NULL; }
    t->params = p ? *p : tok_template_default_params();
    if (t->params.max_depth <= 0) t->params.max_depth = 200;
    char errbuf[512] = "";
    jmp_buf jb;
    t->arena.jb = &jb;
    t->arena.errbuf = errbuf;
    if (setjmp(jb)) {
        set_err(err, TOK_EFORMAT, errbuf);
        tok_template_free(t);
        return NULL;
    }
    const char *nm = name ? name : "template";
    t->name = tpl_strndup(&t->arena, nm, strlen(nm));
    /* \r\n and \r become \n; one trailing newline goes unless kept */
    char *s = tpl_alloc(&t->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else s[n++] = src[i];
    }
    if (!t->params.keep_trailing_newline && n && s[n - 1] == '\n') n--;
    s[n] = 0;
    t->src = s;
    t->len = n;
    tpl_lexed lx = tpl_lex(t, &jb, errbuf);
    tpl_parse(t, lx, &jb, errbuf);
    t->arena.jb = NULL;
    t->arena.errbuf = NULL;
    return t;
}

void tok_template_free(tok_template *t) {
    if (!t) return;
    tpl_arena_free(&t->arena);
    free(t);
}

/* ---- context --------------------------------------------------------------- */

static tv from_json(tpl_render *R, const cJSON *j, int depth) {
    if (depth > 512) tpl_fail(R, NULL, TOK_TEMPLATE_ELIMIT, "context nested too deeply");
    if (cJSON_IsNull(j)) return tv_none();
    if (cJSON_IsTrue(j)) return tv_bool(true);
    if (cJSON_IsFalse(j)) return tv_bool(false);
    if (cJSON_IsNumber(j)) {
        /* cJSON keeps no int/float distinction: integral values within the
         * exact range are ints (so 1.0 in the JSON prints as 1). */
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return tv_int((int64_t)d);
        return tv_float(d);
    }
    if (cJSON_IsString(j)) return tv_str(j->valuestring, strlen(j->valuestring));
    if (cJSON_IsArray(j)) {
        tv l = tv_list(&R->A, (size_t)cJSON_GetArraySize(j), false);
        for (const cJSON *c = j->child; c; c = c->next) tpl_list_push(&R->A, l.u.l, from_json(R, c, depth + 1));
        return l;
    }
    if (cJSON_IsObject(j)) {
        tv d = tv_dict(&R->A, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            tv k = tv_str(c->string ? c->string : "", c->string ? strlen(c->string) : 0);
            tpl_dict_set(&R->A, d.u.d, k, from_json(R, c, depth + 1));
        }
        return d;
    }
    return tv_undef(NULL, 0);
}

/* ---- render ------------------------------------------------------------------ */

static int bytes_append(tok_bytes *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->n, s, n);
    b->n += n;
    b->data[b->n] = 0;
    return 0;
}

int tok_template_render_diag(const tok_template *t, const cJSON *context, tok_bytes *out, tok_error *err,
                             tok_template_diag *diag) {
    if (diag) memset(diag, 0, sizeof *diag);
    if (!t || !out) return set_err(err, TOK_EINVAL, "tok_template_render: NULL template or output");
    if (context && !cJSON_IsObject(context) && !cJSON_IsNull(context))
        return set_err(err, TOK_EINVAL, "template context must be a JSON object");
    tpl_render *R = calloc(1, sizeof *R);
    if (!R) return set_err(err, TOK_ENOMEM, "out of memory");
    R->t = t;
    R->A.limit = t->params.max_memory_bytes;
    R->A.jb = &R->jb;
    R->A.errbuf = R->err_msg;
    int rc = TOK_OK;
    int jr = setjmp(R->jb);
    if (jr == 0) {
        R->root = tpl_frame_new(R, NULL);
        R->cur = R->root;
        if (context && cJSON_IsObject(context)) {
            for (const cJSON *c = context->child; c; c = c->next) {
                if (!c->string) continue;
                tpl_frame_set(R, R->root, tv_str(c->string, strlen(c->string)), from_json(R, c, 0));
            }
        }
        tpl_sb buf = {0};
        R->out = &buf;
        tpl_exec_body(R, t->root->v, t->root->n);
        if (bytes_append(out, buf.p ? buf.p : "", buf.n)) rc = set_err(err, TOK_ENOMEM, "out of memory");
    } else {
        if (jr == 2) { /* arena limit: no node at hand; use the running statement */
            R->err_kind = TOK_TEMPLATE_ELIMIT;
            if (R->stmt) tpl_line_col(t->src, t->len, R->stmt->off, &R->err_line, &R->err_col);
        }
        if (!R->err_line) { R->err_line = 1; R->err_col = 1; }
        char msg[1100];
        snprintf(msg, sizeof msg, "%s:%d:%d: %s", t->name, R->err_line, R->err_col, R->err_msg);
        rc = set_err(err, R->err_kind == TOK_TEMPLATE_ELIMIT ? TOK_ERANGE : TOK_EINVAL, msg);
        if (diag) {
            diag->kind = R->err_kind ? R->err_kind : TOK_TEMPLATE_ETYPE;
            diag->line = R->err_line;
            diag->col = R->err_col;
            memcpy(diag->message, R->err_msg, sizeof diag->message);
        }
    }
    tpl_arena_free(&R->A);
    free(R);
    return rc;
}

int tok_template_render(const tok_template *t, const cJSON *context, tok_bytes *out, tok_error *err) {
    return tok_template_render_diag(t, context, out, err, NULL);
}
