/*
 * Conformance with Python's jinja2 as transformers configures it: every case
 * of the oracle (templates.json + cases.jsonl, produced by the reference
 * implementation) must render byte-identical to `expected`, or fail where
 * the case has `error` (with the template's own text for raise_exception).
 * Runs the compact copy in tests/data/templates/ always, and the full dev
 * split under $SHARED/templates/ when it is present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_pipeline.h"

/* Cases that still differ, with the reason (template_id, case). */
static const char *const known_failures[][3] = {
    {NULL, NULL, NULL},
};

static bool is_known_failure(const char *tid, const char *cname) {
    for (size_t i = 0; known_failures[i][0]; i++)
        if (!strcmp(known_failures[i][0], tid) && !strcmp(known_failures[i][1], cname)) return true;
    return false;
}

static size_t first_diff(const char *a, const char *b) {
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    return i;
}

/* Returns the number of cases run; adds to *passed. */
static int run_suite(const char *dir, int *passed, bool verbose) {
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/templates.json", dir);
    char *tjson = check_read_file(path, &len);
    if (!tjson) return -1;
    cJSON *templates = cJSON_Parse(tjson);
    free(tjson);
    CHECK_MSG(templates != NULL, "%s: does not parse", path);
    if (!templates) return -1;
    snprintf(path, sizeof path, "%s/cases.jsonl", dir);
    char *cases = check_read_file(path, &len);
    CHECK_MSG(cases != NULL, "%s: cannot read", path);
    if (!cases) { cJSON_Delete(templates); return -1; }

    tok_template_params p = tok_template_default_params();
    p.fixed_now = true;
    p.now_unix = 1795867200; /* 2026-11-28 12:00:00, the oracle's frozen clock */

    int total = 0;
    char *line = cases, *next;
    for (; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (!*line) continue;
        cJSON *c = cJSON_Parse(line);
        CHECK_MSG(c != NULL, "%s: line %d does not parse", path, total + 1);
        if (!c) continue;
        total++;
        const char *tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "template_id"));
        const char *cname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "case"));
        const cJSON *tentry = cJSON_GetObjectItemCaseSensitive(templates, tid ? tid : "");
        const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tentry, "template"));
        const char *expected = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "expected"));
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "error"));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "error_kind"));
        bool known = is_known_failure(tid ? tid : "", cname ? cname : "");
        bool ok = false;
        char why[700] = "";
        tok_error err = {0};
        tok_template *t = src ? tok_template_parse("chat_template", src, strlen(src), &p, &err) : NULL;
        if (!t) snprintf(why, sizeof why, "parse failed: %s", src ? err.msg : "template missing");
        else {
            tok_bytes out = {0};
            tok_template_diag d;
            int rc = tok_template_render_diag(t, cJSON_GetObjectItemCaseSensitive(c, "context"), &out, &err, &d);
            if (expected) {
                if (rc) snprintf(why, sizeof why, "render failed: %s", err.msg);
                else if (strcmp(out.data, expected)) {
                    size_t at = first_diff(out.data, expected);
                    snprintf(why, sizeof why, "output differs at byte %zu: got \"%.60s\" want \"%.60s\"", at,
                             out.data + at, expected + at);
                } else ok = true;
            } else {
                if (!rc) snprintf(why, sizeof why, "rendered but the reference fails (%s: %.200s)", kind ? kind : "?",
                                  error ? error : "");
                else if (kind && !strcmp(kind, "raise_exception") &&
                         (d.kind != TOK_TEMPLATE_ERAISE || strcmp(d.message, error ? error : "")))
                    snprintf(why, sizeof why, "wrong error: %s (want raise_exception: %.200s)", err.msg, error ? error : "");
                else ok = true;
            }
            tok_bytes_free(&out);
            tok_template_free(t);
        }
        if (ok) (*passed)++;
        else if (!known || verbose) fprintf(stderr, "%s / %s: %s\n", tid, cname, why);
        if (!known) CHECK_MSG(ok, "%s / %s", tid, cname);
        cJSON_Delete(c);
    }
    free(cases);
    cJSON_Delete(templates);
    return total;
}

int main(void) {
    int passed = 0;
    int n = run_suite("tests/data/templates", &passed, false);
    CHECK_MSG(n > 0, "compact fixture tests/data/templates missing");
    printf("template conformance (compact): %d/%d cases pass\n", passed, n);
    const char *shared = getenv("SHARED");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/templates", shared ? shared : "../shared");
    passed = 0;
    n = run_suite(dir, &passed, getenv("TEMPLATE_VERBOSE") != NULL);
    if (n > 0) printf("template conformance (%s): %d/%d cases pass\n", dir, passed, n);
    else printf("template conformance: full suite not present, skipped\n");
    return check_summary("test_template_conformance");
}
