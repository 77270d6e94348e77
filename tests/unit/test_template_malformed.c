/*
 * Malformed and hostile templates: each must fail with "name:line:col: cause"
 * at the right place, never crash (run under `make asan`). Also the limits
 * (iterations, macro recursion, output size, memory), raise_exception's
 * message, and rendering one parsed template from several threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_pipeline.h"

struct bad_case {
    const char *src;
    const char *where; /* expected "chat_template:L:C: " prefix */
    const char *cause; /* a substring of the message */
};

/* parse-time failures */
static const struct bad_case parse_bad[] = {
    {"{% if x %}never closed", "chat_template:1:23: ", "'if' opened at line 1, column 4 is never closed"},
    {"{% for m in messages %}\n{{ m }}\n", "chat_template:2:8: ", "'for' opened at line 1"},
    {"ok\n{{ x | tojsn }}", "chat_template:2:8: ", "unknown filter 'tojsn'"},
    {"{{ x is fancy }}", "chat_template:1:9: ", "unknown test 'fancy'"},
    {"{{ x ", "chat_template:1:1: ", "never closed"},
    {"{% endif %}", "chat_template:1:4: ", "no open block"},
    {"{% else %}", "chat_template:1:4: ", "outside of an if or for"},
    {"{% frobnicate %}", "chat_template:1:4: ", "unknown tag 'frobnicate'"},
    {"{{ 'unterminated }}", "chat_template:1:4: ", "unterminated string"},
    {"{{ 1 + }}", "chat_template:1:8: ", "expected an expression"},
    {"{{ (1, 2 }}", "chat_template:1:1: ", "never closed"},
    {"{{ a $ b }}", "chat_template:1:6: ", "unexpected character '$'"},
    {"{# never closed", "chat_template:1:1: ", "unclosed comment"},
    {"{% break %}", "chat_template:1:4: ", "outside of a loop"},
    {"{% raw %}abc", "chat_template:1:3: ", "endraw"},
    {"{% set %}", "chat_template:1:8: ", "expected a name"},
    {"{{ x | }}", "chat_template:1:8: ", "expected a name"},
    {"{% macro m( %}{% endmacro %}", "chat_template:1:1: ", "never closed"},
    {"{{ 99999999999999999999 }}", "chat_template:1:4: ", "too large"},
    {"{{ '\\x4' }}", "chat_template:1:4: ", "truncated"},
    {"{% for in x %}{% endfor %}", "chat_template:1:11: ", "expected 'in'"},
};

/* render-time failures (template, context JSON) */
struct bad_render {
    const char *src, *ctx, *where, *cause;
    int kind;
};
static const struct bad_render render_bad[] = {
    {"a\n  {{ raise_exception('Roles must alternate') }}", "{}", "chat_template:2:6: ", "Roles must alternate",
     TOK_TEMPLATE_ERAISE},
    {"{{ m.content + 'x' }}", "{\"m\": {}}", "chat_template:1:14: ", "'content' is undefined", TOK_TEMPLATE_EUNDEFINED},
    {"{{ nothing.attr }}", "{}", "chat_template:1:12: ", "'nothing' is undefined", TOK_TEMPLATE_EUNDEFINED},
    {"{{ none + 'x' }}", "{}", "chat_template:1:9: ", "unsupported operand type(s) for +: 'NoneType' and 'str'", TOK_TEMPLATE_ETYPE},
    {"{% for x in none %}{% endfor %}", "{}", "chat_template:1:13: ", "not iterable", TOK_TEMPLATE_ETYPE},
    {"{{ 1 // 0 }}", "{}", "chat_template:1:6: ", "by zero", TOK_TEMPLATE_ETYPE},
    {"{% set x = 1 %}{% set x.a = 2 %}", "{}", "chat_template:1:25: ", "non-namespace", TOK_TEMPLATE_ETYPE},
    {"{{ messages.append(1) }}", "{\"messages\": []}", "chat_template:1:13: ", "unsafe", TOK_TEMPLATE_ETYPE},
    {"{% for i in range(100) %}{% for j in range(100) %}{% for k in range(200) %}{% endfor %}{% endfor %}{% endfor %}",
     "{}", "chat_template:1:", "loop iterations", TOK_TEMPLATE_ELIMIT},
    {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "{}", "chat_template:1:", "nested deeper",
     TOK_TEMPLATE_ELIMIT},
    {"{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}", "{}", "chat_template:1:", "output longer",
     TOK_TEMPLATE_ELIMIT},
    {"{{ range(10000000000) }}", "{}", "chat_template:1:", "iteration limit", TOK_TEMPLATE_ELIMIT},
    {"{{ x|tojson }}", "{\"y\": 1}", "chat_template:1:6: ", "not JSON serializable", TOK_TEMPLATE_ETYPE},
};

static void test_parse_errors(void) {
    for (size_t i = 0; i < sizeof parse_bad / sizeof *parse_bad; i++) {
        const struct bad_case *c = &parse_bad[i];
        tok_error err = {0};
        tok_template *t = tok_template_parse("chat_template", c->src, strlen(c->src), NULL, &err);
        CHECK_MSG(t == NULL, "case %zu parsed: %s", i, c->src);
        tok_template_free(t);
        CHECK_MSG(!strncmp(err.msg, c->where, strlen(c->where)) && strstr(err.msg, c->cause),
                  "case %zu: got \"%s\", want \"%s...%s\"", i, err.msg, c->where, c->cause);
    }
}

static void test_render_errors(void) {
    tok_template_params p = tok_template_default_params();
    p.max_loop_iterations = 100000;
    p.max_output_bytes = 1 << 20;
    p.max_depth = 50;
    for (size_t i = 0; i < sizeof render_bad / sizeof *render_bad; i++) {
        const struct bad_render *c = &render_bad[i];
        tok_error err = {0};
        tok_template *t = tok_template_parse("chat_template", c->src, strlen(c->src), &p, &err);
        CHECK_MSG(t != NULL, "case %zu does not parse: %s", i, err.msg);
        if (!t) continue;
        cJSON *ctx = cJSON_Parse(c->ctx);
        tok_bytes out = {0};
        tok_template_diag d;
        int rc = tok_template_render_diag(t, ctx, &out, &err, &d);
        CHECK_MSG(rc != 0, "case %zu rendered: %s", i, c->src);
        CHECK_MSG(!strncmp(err.msg, c->where, strlen(c->where)) && strstr(err.msg, c->cause),
                  "case %zu: got \"%s\", want \"%s...%s\"", i, err.msg, c->where, c->cause);
        CHECK_EQ_INT(d.kind, c->kind);
        if (c->kind == TOK_TEMPLATE_ERAISE) CHECK_EQ_STR(d.message, c->cause);
        tok_bytes_free(&out);
        cJSON_Delete(ctx);
        tok_template_free(t);
    }
}

/* Nesting far past the parser's bound fails cleanly instead of overflowing
 * the stack. */
static void test_deep_nesting(void) {
    size_t depth = 5000;
    char *src = malloc(depth * 20 + 64);
    size_t n = 0;
    n += (size_t)sprintf(src + n, "{{ ");
    for (size_t i = 0; i < depth; i++) src[n++] = '(';
    src[n++] = '1';
    for (size_t i = 0; i < depth; i++) src[n++] = ')';
    n += (size_t)sprintf(src + n, " }}");
    tok_error err = {0};
    tok_template *t = tok_template_parse("chat_template", src, n, NULL, &err);
    CHECK(t == NULL);
    CHECK_MSG(strstr(err.msg, "nested too deeply") != NULL, "%s", err.msg);
    n = 0;
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(src + n, "{%% if x %%}");
    t = tok_template_parse("chat_template", src, n, NULL, &err);
    CHECK(t == NULL);
    CHECK_MSG(strstr(err.msg, "nested too deeply") != NULL, "%s", err.msg);
    free(src);
}

/* Every prefix of a real template is either a valid template or a located
 * error: no crash, no hang. */
static void test_truncations(void) {
    const char *path = "tests/data/templates/qwen2.5.jinja";
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s missing", path);
    if (!f) return;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cJSON *ctx = cJSON_Parse("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": null, "
                             "\"add_generation_prompt\": true}");
    int parsed = 0;
    for (size_t len = 0; len <= n; len += 7) {
        tok_error err = {0};
        tok_template *t = tok_template_parse("chat_template", buf, len, NULL, &err);
        if (!t) {
            CHECK_MSG(!strncmp(err.msg, "chat_template:", 14), "prefix %zu: %s", len, err.msg);
            continue;
        }
        parsed++;
        tok_bytes out = {0};
        tok_template_render(t, ctx, &out, &err);
        tok_bytes_free(&out);
        tok_template_free(t);
    }
    CHECK(parsed > 0);
    cJSON_Delete(ctx);
}

/* One parsed template, four threads, same output as one thread. */
struct job {
    const tok_template *t;
    const cJSON *ctx;
    const char *want;
    int bad;
};

static void *render_many(void *arg) {
    struct job *j = arg;
    for (int i = 0; i < 200; i++) {
        tok_bytes out = {0};
        tok_error err = {0};
        if (tok_template_render(j->t, j->ctx, &out, &err) || strcmp(out.data, j->want)) j->bad++;
        tok_bytes_free(&out);
    }
    return NULL;
}

static void test_threads(void) {
    const char *path = "tests/data/templates/llama3.1.jinja";
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s missing", path);
    if (!f) return;
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    tok_template_params p = tok_template_default_params();
    p.fixed_now = true;
    p.now_unix = 1795867200;
    tok_error err = {0};
    tok_template *t = tok_template_parse("chat_template", buf, n, &p, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t) return;
    cJSON *ctx = cJSON_Parse("{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
                             "\"content\": \"héllo\"}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": "
                             "\"f\", \"parameters\": {\"type\": \"object\"}}}], \"add_generation_prompt\": true, "
                             "\"bos_token\": \"<s>\"}");
    tok_bytes want = {0};
    CHECK(tok_template_render(t, ctx, &want, &err) == 0);
    struct job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){t, ctx, want.data ? want.data : "", 0};
        pthread_create(&th[i], NULL, render_many, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].bad, 0);
    }
    tok_bytes_free(&want);
    cJSON_Delete(ctx);
    tok_template_free(t);
}

/* A small memory budget stops a template that builds a huge string. */
static void test_memory_limit(void) {
    tok_template_params p = tok_template_default_params();
    p.max_memory_bytes = 4 << 20;
    const char *src = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}";
    tok_error err = {0};
    tok_template *t = tok_template_parse("chat_template", src, strlen(src), &p, &err);
    CHECK(t != NULL);
    if (!t) return;
    tok_bytes out = {0};
    tok_template_diag d;
    CHECK(tok_template_render_diag(t, NULL, &out, &err, &d) != 0);
    CHECK_EQ_INT(d.kind, TOK_TEMPLATE_ELIMIT);
    CHECK_MSG(strstr(err.msg, "memory limit") != NULL, "%s", err.msg);
    tok_bytes_free(&out);
    tok_template_free(t);
}

int main(void) {
    test_parse_errors();
    test_render_errors();
    test_deep_nesting();
    test_truncations();
    test_threads();
    test_memory_limit();
    return check_summary("test_template_malformed");
}
