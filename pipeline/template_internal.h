/*
 * Private declarations of the template engine (a Jinja subset, see
 * docs/templates.md). Not installed.
 *
 * Memory: everything a parse or a render creates lives in one arena (a list
 * of malloc'd chunks, bump-allocated, freed at once). Values are therefore
 * plain structs copied by value, never reference-counted, and an error can
 * leave through longjmp without leaking. A parsed template is read-only
 * during a render, so one template renders on many threads at once.
 */
#ifndef TOK_TEMPLATE_INTERNAL_H
#define TOK_TEMPLATE_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tok_pipeline.h"

/* ---- arena ---------------------------------------------------------------- */

typedef struct tpl_chunk tpl_chunk;
typedef struct tpl_arena {
    tpl_chunk *head;
    char *cur, *end;
    size_t total, limit; /* bytes allocated so far; 0 = no limit */
    jmp_buf *jb;         /* where to go when the limit is passed */
    char *errbuf;        /* filled before that jump */
} tpl_arena;

void *tpl_alloc(tpl_arena *a, size_t n);
/* memcpy that accepts NULL pointers when n is 0 (empty lists have no array) */
static inline void tpl_copy(void *dst, const void *src, size_t n) {
    if (n) memcpy(dst, src, n);
}
void tpl_arena_free(tpl_arena *a);
char *tpl_strndup(tpl_arena *a, const char *s, size_t n);

/* ---- values --------------------------------------------------------------- */

enum tpl_kind {
    V_UNDEF, /* s/n hold the name that was missing, for messages */
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_FUNC, V_LOOP
};

typedef struct tpl_list tpl_list;
typedef struct tpl_dict tpl_dict;
typedef struct tpl_func tpl_func;
typedef struct tpl_loop tpl_loop;

typedef struct tv {
    uint8_t k;
    size_t n; /* string length in bytes */
    union {
        int64_t i; /* also bool */
        double f;
        const char *s;
        tpl_list *l;
        tpl_dict *d;
        tpl_func *fn;
        tpl_loop *lp;
    } u;
} tv;

struct tpl_list { size_t n, cap; tv *v; bool tuple; };
struct tpl_dict { size_t n, cap; tv *keys, *vals; bool ns; };
struct tpl_loop {
    tpl_list *items;
    size_t index0;
};

/* ---- lexer ---------------------------------------------------------------- */

enum tpl_tok_type {
    T_EOF, T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP
};

/* operators: one char ones use the char itself; the others these codes */
enum { OP_FLOORDIV = 256, OP_POW, OP_EQ, OP_NE, OP_LE, OP_GE, OP_AND, OP_OR, OP_IN, OP_NOTIN, OP_NOT };

typedef struct tpl_token {
    uint8_t type;
    int op;
    size_t off;        /* byte offset in the normalized source, for line:col */
    const char *s;     /* NAME / STRING (unescaped) / TEXT */
    size_t n;
    int64_t i;
    double f;
} tpl_token;

typedef struct tpl_lexed {
    tpl_token *tok;
    size_t n;
} tpl_lexed;

/* ---- AST ------------------------------------------------------------------ */

enum tpl_node_kind {
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_BINOP, N_AND, N_OR, N_NOT, N_NEG, N_POS,
    N_COND, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_SPLAT,
    /* statements */
    S_TEXT, S_OUTPUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_CALLBLOCK, S_FILTERBLOCK,
    S_BREAK, S_CONTINUE, S_BODY
};

typedef struct tpl_node tpl_node;
struct tpl_node {
    uint8_t kind;
    int op;          /* BINOP operator, TEST negation */
    int id;          /* filter / test id */
    size_t off;      /* source position */
    tpl_node *a, *b, *c;
    tpl_node **v;  size_t n;   /* args / elements / body */
    tpl_node **v2; size_t n2;  /* keyword values / else body / macro defaults */
    tv *names; size_t nnames;  /* keyword names / macro parameters */
    tv val;                    /* constant, variable or attribute name */
};

/* ---- the template --------------------------------------------------------- */

struct tok_template {
    tpl_arena arena;
    char *name;
    char *src; size_t len; /* normalized source (newlines as \n) */
    tpl_node *root;        /* S_BODY */
    tok_template_params params;
};

/* Position of byte offset off as 1-based line and column (in characters). */
void tpl_line_col(const char *src, size_t len, size_t off, int *line, int *col);

/* Lexes t->src; on error formats "name:line:col: msg" into errbuf and
 * longjmps to jb. */
tpl_lexed tpl_lex(tok_template *t, jmp_buf *jb, char *errbuf);
/* Parses the token stream into t->root (same error protocol). */
void tpl_parse(tok_template *t, tpl_lexed lx, jmp_buf *jb, char *errbuf);

/* Filter and test tables: name -> id, -1 if unknown. */
int tpl_filter_id(const char *name, size_t n);
int tpl_test_id(const char *name, size_t n);

/* ---- render state --------------------------------------------------------- */

typedef struct tpl_frame tpl_frame;
struct tpl_frame {
    tpl_frame *parent;
    size_t n, cap;
    tv *names, *vals;
};

typedef struct tpl_sb { /* arena string builder */
    char *p;
    size_t n, cap;
} tpl_sb;

typedef struct tpl_render {
    const tok_template *t;
    tpl_arena A;
    jmp_buf jb;
    char err[512];
    int err_kind;       /* tok_template_error_kind */
    int err_line, err_col;
    char err_msg[512];  /* the cause, without location */
    tpl_sb *out;        /* current output (captures swap it) */
    tpl_frame *root;    /* the context and top-level sets */
    tpl_frame *cur;     /* the frame of the code being run */
    const tpl_node *stmt; /* statement being run, for errors without a node */
    size_t iterations;
    int depth;
    size_t out_total;
} tpl_render;

_Noreturn void tpl_fail(tpl_render *R, const tpl_node *at, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* value helpers (template_value.c) */
tv tv_undef(const char *name, size_t n);
tv tv_none(void);
tv tv_bool(bool b);
tv tv_int(int64_t i);
tv tv_float(double f);
tv tv_str(const char *s, size_t n);
tv tv_list(tpl_arena *A, size_t cap, bool tuple);
tv tv_dict(tpl_arena *A, size_t cap);
void tpl_list_push(tpl_arena *A, tpl_list *l, tv v);
void tpl_dict_set(tpl_arena *A, tpl_dict *d, tv key, tv val);
tv *tpl_dict_get(const tpl_dict *d, const char *key, size_t n);
tv *tpl_dict_find(const tpl_dict *d, tv key);

bool tv_truthy(tv v);
bool tv_equal(tv a, tv b);
bool tv_is_str(tv v, const char *s);
const char *tv_type_name(tv v);

void sb_put(tpl_arena *A, tpl_sb *b, const char *s, size_t n);
void sb_putc(tpl_arena *A, tpl_sb *b, char c);
void sb_puts(tpl_arena *A, tpl_sb *b, const char *s);
tv sb_value(tpl_sb *b);

/* str(v) as Python prints it (undefined gives ""), repr(v), json.dumps(v) */
void tv_write_str(tpl_render *R, tpl_sb *b, tv v);
void tv_write_repr(tpl_render *R, tpl_sb *b, tv v);
tv tv_to_str(tpl_render *R, tv v);
typedef struct tpl_json_opts {
    int indent;         /* -1: none */
    const char *item_sep, *key_sep;
    bool sort_keys, ensure_ascii;
} tpl_json_opts;
/* Returns 0, or -1 with a message in why (not serializable). */
int tv_write_json(tpl_render *R, tpl_sb *b, tv v, const tpl_json_opts *o, int level, const char **why);
void tpl_format_float(double f, char out[40]);

/* UTF-8: number of code points, byte offset of code point i */
size_t u8_len(const char *s, size_t n);
size_t u8_offset(const char *s, size_t n, size_t i);
int u8_decode(const char *s, size_t n, uint32_t *cp);
int u8_encode(uint32_t cp, char *out);
bool py_isspace(uint32_t cp);

/* evaluation (template_eval.c) */
tpl_frame *tpl_frame_new(tpl_render *R, tpl_frame *parent);
void tpl_frame_set(tpl_render *R, tpl_frame *f, tv name, tv val);
tv tpl_eval(tpl_render *R, const tpl_node *n);
void tpl_exec_body(tpl_render *R, tpl_node **v, size_t n);
tv tpl_call_value(tpl_render *R, const tpl_node *at, tv fn, tv *args, size_t nargs, const tv *kwnames,
                  tv *kwvals, size_t nkw);
tv tpl_getattr(tpl_render *R, const tpl_node *at, tv obj, tv name);
tv tpl_getitem(tpl_render *R, const tpl_node *at, tv obj, tv key);
tpl_list *tpl_iterate(tpl_render *R, const tpl_node *at, tv v);
int tv_compare(tpl_render *R, const tpl_node *at, tv a, tv b);

/* builtins (template_builtins.c, template_strings.c) */
tv tpl_apply_filter(tpl_render *R, const tpl_node *at, int id, tv v, tv *args, size_t nargs,
                    const tv *kwnames, tv *kwvals, size_t nkw);
bool tpl_apply_test(tpl_render *R, const tpl_node *at, int id, tv v, tv *args, size_t nargs);
/* A method of a value (s.strip, d.items...) as a bound callable, or undefined. */
tv tpl_method(tpl_render *R, tv obj, const char *name, size_t n);
tv tpl_call_method(tpl_render *R, const tpl_node *at, tpl_func *fn, tv *args, size_t nargs,
                   const tv *kwnames, tv *kwvals, size_t nkw);
tv tpl_global(tpl_render *R, const char *name, size_t n);
tv tpl_call_global(tpl_render *R, const tpl_node *at, tpl_func *fn, tv *args, size_t nargs,
                   const tv *kwnames, tv *kwvals, size_t nkw);

/* string methods (template_strings.c) */
tv str_strip(tpl_render *R, tv s, tv chars, bool left, bool right);
tv str_split(tpl_render *R, tv s, tv sep, int64_t maxsplit, bool from_right);
tv str_replace(tpl_render *R, tv s, tv old, tv rep, int64_t count);
tv str_case(tpl_render *R, tv s, int mode); /* 0 lower 1 upper 2 title(py) 3 capitalize 4 title(jinja) */
tv str_slice(tpl_render *R, tv s, int64_t start, int64_t stop, int64_t step, bool has_start, bool has_stop);
tv str_index(tpl_render *R, tv s, int64_t i);
int64_t str_find(tv s, tv sub, bool count);

enum tpl_func_kind { F_MACRO, F_CALLER, F_METHOD, F_GLOBAL, F_LOOP_CYCLE };
struct tpl_func {
    int kind;
    int id;             /* method / global id */
    tv self;            /* the receiver of a method */
    const tpl_node *node; /* macro or call block */
    tpl_frame *closure;   /* frame a caller() body runs in */
    const char *name; size_t nname;
};

#endif
