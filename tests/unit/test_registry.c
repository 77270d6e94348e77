/*
 * Model registry: loading the shipped data file, lookup by id and by the
 * rows' match rules, search filters, tokenizer families, cost arithmetic,
 * user overrides, and malformed files (each error names file and field).
 * Fixture files are written to a temporary directory by the test itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tok_pipeline.h"

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

static tok_registry *open_with(const char *registry, const char *config, tok_error *err) {
    tok_registry_params p = tok_registry_default_params();
    p.path = registry;
    p.config_path = config;
    p.no_config = config == NULL;
    return tok_registry_open(&p, err);
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-12 * (fabs(b) + 1e-9); }

static const char *SHIPPED = "data/registry/models.json";

static void test_lookup(tok_registry *r) {
    tok_error err = {0};
    const tok_model_entry *m = tok_registry_find(r, "gpt-4o", &err);
    CHECK(m && !strcmp(m->id, "gpt-4o") && !strcmp(m->provider, "openai"));
    CHECK(m && m->context_window == 128000 && m->max_output_tokens == 16384);
    CHECK(m && m->input_per_mtok == 2.5 && m->output_per_mtok == 10);
    /* the match rule of gpt-4o lists its dated ids */
    const tok_model_entry *d = tok_registry_find(r, "gpt-4o-2024-08-06", &err);
    CHECK(d == m);
    /* case and surrounding spaces are ignored */
    CHECK(tok_registry_find(r, "  GPT-4o \n", &err) == m);
    /* an exact id of its own beats the match rule of a shorter id */
    d = tok_registry_find(r, "gpt-4o-2024-05-13", &err);
    CHECK(d && !strcmp(d->id, "gpt-4o-2024-05-13") && d->input_per_mtok == 5);
    /* starts_with rules: claude dated ids find the anthropic row */
    d = tok_registry_find(r, "claude-sonnet-4-5-20250929", &err);
    CHECK(d && !strcmp(d->id, "claude-sonnet-4-5") && !strcmp(d->provider, "anthropic"));
    /* a provider prefix restricts the search */
    d = tok_registry_find(r, "azure:o3-mini", &err);
    CHECK(d && !strcmp(d->provider, "azure") && !strcmp(d->id, "o3-mini"));
    CHECK(tok_registry_find(r, "o3-mini", &err) != d); /* the first-party row */
    d = tok_registry_find(r, "google:claude-sonnet-4-5", &err);
    CHECK(d && !strcmp(d->provider, "google"));
    /* "gpt-4o:extended" is an id, not provider "gpt-4o" */
    d = tok_registry_find(r, "gpt-4o:extended", &err);
    CHECK(d && !strcmp(d->id, "gpt-4o:extended"));
    /* and + regex with lookahead: gemini-2.5-pro's rule rejects -tts names */
    d = tok_registry_find(r, "gemini-2.5-pro-preview-06-05", &err);
    CHECK(d && !strcmp(d->id, "gemini-2.5-pro"));
    d = tok_registry_find(r, "gemini-2.5-pro-preview-tts", &err);
    CHECK(d && !strcmp(d->id, "gemini-2.5-pro-tts"));
    /* first-party rows first: gpt-oss-120b is sold by several providers */
    d = tok_registry_find(r, "gpt-oss-120b", &err);
    CHECK(d && !strcmp(d->provider, "openai"));
    /* unknown names fail with the name in the message */
    memset(&err, 0, sizeof err);
    CHECK(tok_registry_find(r, "no-such-model-xyz", &err) == NULL);
    CHECK(strstr(err.msg, "no-such-model-xyz") != NULL);
    CHECK(tok_registry_find(r, "", &err) == NULL);
}

/* Every row of the shipped file is reachable as provider:id. */
static void test_every_row(tok_registry *r) {
    size_t bad = 0;
    for (size_t i = 0; i < tok_registry_count(r); i++) {
        const tok_model_entry *m = tok_registry_at(r, i);
        char name[600];
        snprintf(name, sizeof name, "%s:%s", m->provider, m->id);
        const tok_model_entry *f = tok_registry_find(r, name, NULL);
        if (f != m) {
            if (bad++ < 5) fprintf(stderr, "%s finds %s:%s\n", name, f ? f->provider : "-", f ? f->id : "-");
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_search(tok_registry *r) {
    size_t cap = tok_registry_count(r);
    const tok_model_entry **rows = calloc(cap, sizeof *rows);
    tok_model_filter f = tok_model_default_filter();
    size_t all = tok_registry_search(r, &f, rows, cap);
    f.include_deprecated = true;
    CHECK_EQ_INT(tok_registry_search(r, &f, rows, cap), cap);
    CHECK(all < cap); /* some rows are deprecated */
    f = tok_model_default_filter();
    f.provider = "openai";
    f.min_context = 1000000;
    size_t n = tok_registry_search(r, &f, rows, cap);
    CHECK(n > 0);
    bool ok = true, saw41 = false;
    for (size_t i = 0; i < n; i++) {
        ok &= !strcmp(rows[i]->provider, "openai") && rows[i]->context_window >= 1000000;
        saw41 |= !strcmp(rows[i]->id, "gpt-4.1");
    }
    CHECK(ok && saw41);
    f = tok_model_default_filter();
    f.max_input_price = 0.1;
    f.max_output_price = 0.4;
    n = tok_registry_search(r, &f, rows, cap);
    ok = n > 0;
    for (size_t i = 0; i < n; i++)
        ok &= rows[i]->input_per_mtok >= 0 && rows[i]->input_per_mtok <= 0.1 && rows[i]->output_per_mtok >= 0 &&
              rows[i]->output_per_mtok <= 0.4;
    CHECK(ok);
    /* an unknown output price never passes a price limit */
    bool embed = false;
    for (size_t i = 0; i < n; i++) embed |= !strcmp(rows[i]->id, "text-embedding-3-small");
    CHECK(!embed);
    f = tok_model_default_filter();
    f.text = "SONNET";
    f.provider = "anthropic";
    n = tok_registry_search(r, &f, rows, cap);
    ok = n > 0;
    for (size_t i = 0; i < n; i++) ok &= strcasestr(rows[i]->id, "sonnet") || (rows[i]->name && strcasestr(rows[i]->name, "sonnet"));
    CHECK(ok);
    /* cap smaller than the result: the count is still the total */
    f = tok_model_default_filter();
    f.provider = "openai";
    CHECK(tok_registry_search(r, &f, rows, 2) > 2);
    free(rows);
}

static void check_counting(tok_registry *r, const char *name, const char *spec, bool approx) {
    tok_error err = {0};
    const tok_model_entry *m = tok_registry_find(r, name, &err);
    CHECK_MSG(m != NULL, "%s: %s", name, err.msg);
    if (!m) return;
    tok_model_counting c;
    tok_model_counting_for(r, m, &c);
    CHECK_MSG(!strcmp(c.spec, spec) && c.approximate == approx, "%s: %s approximate=%d", name, c.spec, c.approximate);
    if (approx) CHECK(strstr(c.note, "approximate") != NULL);
}

static void test_tokenizers(tok_registry *r) {
    check_counting(r, "gpt-4o", "o200k_base", false);
    check_counting(r, "gpt-oss-120b", "o200k_base", false); /* o200k_harmony: same text counts */
    check_counting(r, "gpt-3.5-turbo", "cl100k_base", false);
    check_counting(r, "claude-sonnet-4-5", "claude_legacy", true);
    check_counting(r, "gemini-2.5-pro", "o200k_base", true);
    check_counting(r, "groq:llama-3.3-70b-versatile", "cl100k_base", true);
    /* the counting tokenizer loads */
    tok_model_counting c;
    tok_model_counting_for(r, tok_registry_find(r, "gpt-4o", NULL), &c);
    tok_error err = {0};
    tok_tokenizer *t = tok_model_counting_load(&c, &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    size_t n = 0;
    if (t) tok_count(t, "hello world", 11, NULL, &n, &err);
    CHECK_EQ_INT(n, 2);
    tok_free(t);
}

static void test_cost(tok_registry *r) {
    const tok_model_entry *m = tok_registry_find(r, "gpt-4o", NULL);
    tok_cost c = tok_model_cost(r, m, 1000, 500, "2026-10-01");
    /* gpt-4o: $2.50 in, $10 out per million */
    CHECK(near(c.input_usd, 1000 * 2.5 / 1e6) && near(c.output_usd, 500 * 10.0 / 1e6));
    CHECK(near(c.total_usd, 1000 * 2.5 / 1e6 + 500 * 10.0 / 1e6) && !c.tiered);
    /* unknown output length: output and total unknown, input known */
    c = tok_model_cost(r, m, 1000, -1, "2026-10-01");
    CHECK(near(c.input_usd, 0.0025) && c.output_usd < 0 && c.total_usd < 0);
    /* embedding model: no output price -> unknown, never 0 */
    m = tok_registry_find(r, "openai:text-embedding-3-small", NULL);
    c = tok_model_cost(r, m, 1000, 10, "2026-10-01");
    CHECK(near(c.input_usd, 1000 * 0.02 / 1e6) && c.output_usd < 0 && c.total_usd < 0);
    /* long-context tier: above 200,000 input tokens the whole request is
       billed at $6 in / $22.5 out (claude-sonnet-4-5) */
    m = tok_registry_find(r, "claude-sonnet-4-5", NULL);
    c = tok_model_cost(r, m, 200000, 100, "2026-10-01");
    CHECK(!c.tiered && near(c.input_usd, 200000 * 3.0 / 1e6) && near(c.output_usd, 100 * 15.0 / 1e6));
    c = tok_model_cost(r, m, 200001, 100, "2026-10-01");
    CHECK(c.tiered && near(c.input_usd, 200001 * 6.0 / 1e6) && near(c.output_usd, 100 * 22.5 / 1e6));
    /* a dated change (gemini-3.6-flash: $0.75 -> $1.50 input from 2027-01-01) */
    m = tok_registry_find(r, "google:gemini-3.6-flash", NULL);
    CHECK(m && m->n_price_changes == 1);
    c = tok_model_cost(r, m, 1000000, 0, "2026-12-31");
    CHECK(near(c.input_price, 0.75) && near(c.input_usd, 0.75));
    c = tok_model_cost(r, m, 1000000, 0, "2027-01-01");
    CHECK(near(c.input_price, 1.5) && near(c.output_price, 7.5));
}

static void test_overrides(void) {
    const char *cfg = write_tmp("over.json",
        "{\"models\": [\n"
        " {\"id\": \"gpt-4o\", \"provider\": \"openai\", \"input_per_mtok\": 1.25},\n"
        " {\"id\": \"o3-mini\", \"provider\": \"openai\", \"input_per_mtok\": 0.5},\n"
        " {\"id\": \"gpt-4.1\", \"context_window\": 2000000},\n"
        " {\"id\": \"my-llama\", \"provider\": \"lab\", \"context_window\": 8192, \"input_per_mtok\": 0,\n"
        "  \"output_per_mtok\": 0.5, \"tokenizer\": \"llama3\", \"match\": {\"starts_with\": \"my-llama-\"}},\n"
        " {\"id\": \"gpt-4o-mini\"}\n"
        "], \"tokenizer_files\": {\"llama3\": \"tok/llama3.json\"}}\n");
    tok_error err = {0};
    tok_registry *r = open_with(SHIPPED, cfg, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (!r) return;
    const tok_model_entry *m = tok_registry_find(r, "gpt-4o", &err);
    CHECK(m && m->input_per_mtok == 1.25 && m->output_per_mtok == 10 && !strcmp(m->origin, cfg));
    /* no provider: the row the id names (first party) */
    m = tok_registry_find(r, "gpt-4.1", &err);
    CHECK(m && !strcmp(m->provider, "openai") && m->context_window == 2000000);
    /* other providers' rows are untouched */
    m = tok_registry_find(r, "o3-mini", &err);
    CHECK(m && m->input_per_mtok == 0.5);
    m = tok_registry_find(r, "azure:o3-mini", &err);
    CHECK(m && m->input_per_mtok == 1.1);
    /* an added model, found by id and by its match rule; a price of 0 is a
       real price, kept as 0 */
    m = tok_registry_find(r, "my-llama-8b-q4", &err);
    CHECK(m && !strcmp(m->id, "my-llama") && m->input_per_mtok == 0 && m->output_per_mtok == 0.5);
    CHECK(tok_registry_find(r, "lab:my-llama", &err) == m);
    /* its family's tokenizer file comes from the config, relative to it */
    tok_model_counting c;
    tok_model_counting_for(r, m, &c);
    char want[600];
    snprintf(want, sizeof want, "%s/tok/llama3.json", tmpdir);
    CHECK_EQ_STR(c.spec, want);
    CHECK(!c.approximate);
    /* an override that changes nothing leaves the row as it was */
    m = tok_registry_find(r, "gpt-4o-mini", &err);
    CHECK(m && m->input_per_mtok == 0.15);
    CHECK(strstr(tok_registry_sources(r), cfg) != NULL);
    tok_registry_free(r);
    /* $TOK_CONFIG is read when no path is given */
    setenv("TOK_CONFIG", cfg, 1);
    tok_registry_params p = tok_registry_default_params();
    p.path = SHIPPED;
    r = tok_registry_open(&p, &err);
    CHECK(r && tok_registry_find(r, "my-llama", NULL) != NULL);
    tok_registry_free(r);
    p.no_config = true;
    r = tok_registry_open(&p, &err);
    CHECK(r && tok_registry_find(r, "my-llama", NULL) == NULL);
    tok_registry_free(r);
    unsetenv("TOK_CONFIG");
}

/* A malformed file fails with a message naming the file and the field. */
static void check_bad(const char *name, const char *text, bool as_config, const char *want) {
    const char *p = write_tmp(name, text);
    tok_error err = {0};
    tok_registry *r = as_config ? open_with(SHIPPED, p, &err) : open_with(p, NULL, &err);
    CHECK_MSG(r == NULL, "%s loaded", name);
    tok_registry_free(r);
    CHECK_MSG(strstr(err.msg, p) && strstr(err.msg, want), "%s: got \"%s\", want \"%s\"", name, err.msg, want);
}

static void test_malformed(void) {
    check_bad("bad1.json", "{\"models\": [{\"id\": \"x\", \"provider\": \"p\", \"context_window\": \"big\"}]}", true,
              "models[0].context_window: expected a non-negative integer");
    check_bad("bad2.json", "{\"models\": [{\"id\": \"x\", \"input_per_mtok\": -1}]}", true,
              "models[0].input_per_mtok: expected a non-negative number");
    check_bad("bad3.json", "{\"models\": [{}, {\"id\": \"x\", \"match\": {\"or\": [{\"equals\": \"a\"}, {\"startswith\": \"b\"}]}}]}",
              true, "models[0].id");
    check_bad("bad4.json", "{\"models\": [{\"id\": \"x\", \"match\": {\"or\": [{\"equals\": \"a\"}, {\"startswith\": \"b\"}]}}]}",
              true, "models[0].match.or[1]: unknown test 'startswith'");
    check_bad("bad5.json", "{\"models\": [{\"id\": \"x\", \"match\": {\"regex\": \"(unclosed\"}}]}", true,
              "models[0].match.regex: at offset");
    check_bad("bad6.json", "{\"models\": [{\"id\": \"x\", \"contxt_window\": 5}]}", true,
              "models[0]: unknown field 'contxt_window'");
    check_bad("bad7.json", "{\"models\": [\n{\"id\": \"x\",,}]}", true, ":2: invalid JSON");
    check_bad("bad8.json", "{\"modles\": []}", true, "unknown key 'modles'");
    check_bad("bad9.json", "{\"models\": {}}", true, "models: expected an array");
    check_bad("bad10.json", "{\"models\": [{\"id\": \"x\", \"price_tiers\": {\"input\": [{\"price\": 2}]}}]}", true,
              "models[0].price_tiers.input[0]");
    check_bad("bad11.json", "{\"models\": [], \"tokenizer_files\": {\"llama3\": 5}}", true, "tokenizer_files.llama3");
    check_bad("bad12.json", "[1, 2]", true, "expected a JSON object");
    /* the registry itself: rows need a provider; the schema version is checked */
    check_bad("base1.json", "{\"models\": [{\"id\": \"x\"}]}", false, "models[0].provider: missing");
    check_bad("base2.json", "{\"schema_version\": 2, \"models\": []}", false, "schema_version");
    tok_error err = {0};
    CHECK(open_with("/nonexistent/models.json", NULL, &err) == NULL && strstr(err.msg, "/nonexistent/models.json"));
    /* a small valid registry with every test kind */
    const char *p = write_tmp("mini.json",
        "{\"schema_version\": 1, \"models\": [\n"
        " {\"id\": \"a\", \"provider\": \"p\", \"match\": {\"ends_with\": \"-A\"}},\n"
        " {\"id\": \"b\", \"provider\": \"p\", \"match\": {\"and\": [{\"contains\": \"bee\"}, {\"regex\": \"^x\"}]}},\n"
        " {\"id\": \"c\", \"provider\": \"q\", \"first_party\": true, \"match\": {\"contains\": \"bee\"}}]}");
    tok_registry *r = open_with(p, NULL, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (!r) return;
    CHECK_EQ_INT(tok_registry_count(r), 3);
    const tok_model_entry *m = tok_registry_find(r, "thing-a", NULL);
    CHECK(m && !strcmp(m->id, "a"));
    m = tok_registry_find(r, "xbee", NULL); /* first party c before b */
    CHECK(m && !strcmp(m->id, "c"));
    m = tok_registry_find(r, "p:xbee", NULL);
    CHECK(m && !strcmp(m->id, "b"));
    CHECK(tok_registry_find(r, "p:ybee", NULL) == NULL);
    /* unknown values stay unknown (-1) */
    CHECK(m && m->context_window == -1 && m->input_per_mtok < 0 && m->max_output_tokens == -1);
    tok_registry_free(r);
}

/* Malformed input never crashes: deterministic byte mutations of a valid
 * registry and of a valid override file either load or fail with a message
 * that names the file (ASan builds check the memory side). */
static void test_mutations(void) {
    static const char base[] =
        "{\"schema_version\": 1, \"source\": {\"prices_effective_as_of\": \"2026-09-23\"}, \"models\": [\n"
        " {\"id\": \"a\", \"provider\": \"p\", \"context_window\": 1000, \"input_per_mtok\": 1.5,\n"
        "  \"price_tiers\": {\"input\": [{\"above_input_tokens\": 10, \"price\": 3}]},\n"
        "  \"price_changes\": [{\"constraint\": {\"type\": \"start_date\", \"start_date\": \"2027-01-01\"},\n"
        "                     \"input_per_mtok\": 2, \"output_per_mtok\": null}],\n"
        "  \"match\": {\"or\": [{\"regex\": \"^a(?!b)\"}, {\"and\": [{\"contains\": \"x\"}, {\"ends_with\": \"y\"}]}]}}]}\n";
    static const char over[] =
        "{\"models\": [{\"id\": \"a\", \"provider\": \"p\", \"output_per_mtok\": 2},\n"
        " {\"id\": \"n\", \"match\": {\"starts_with\": \"n-\"}, \"tokenizer\": \"llama3\"}],\n"
        " \"tokenizer_files\": {\"llama3\": \"t.json\"}}\n";
    const char *chars = "{}[]\",:0-9.ae \\/nulltrue";
    unsigned seed = 12345;
    int loaded = 0, failed = 0, unnamed = 0;
    for (int it = 0; it < 400; it++) {
        bool mut_base = it % 2 == 0;
        char b[sizeof base], o[sizeof over];
        memcpy(b, base, sizeof base);
        memcpy(o, over, sizeof over);
        char *t = mut_base ? b : o;
        size_t n = strlen(t);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            t[at] = chars[(seed >> 8) % strlen(chars)];
        }
        const char *bp = write_tmp("mut_base.json", b), *op = write_tmp("mut_over.json", o);
        tok_error err = {0};
        tok_registry *r = open_with(bp, op, &err);
        if (r) {
            loaded++;
            tok_registry_find(r, "a", NULL);
            tok_registry_find(r, "n-1", NULL);
            const tok_model_entry *m = tok_registry_at(r, 0);
            if (m) tok_model_cost(r, m, 100, 10, "2027-02-01");
            tok_registry_free(r);
        } else {
            failed++;
            if (!strstr(err.msg, mut_base ? bp : op)) unnamed++, fprintf(stderr, "unnamed: %s\n", err.msg);
        }
    }
    CHECK(loaded > 0 && failed > 0);
    CHECK_EQ_INT(unnamed, 0);
}

int main(void) {
    tok_set_data_dir("data"); /* built-in encodings when $TOK_DATA_DIR is unset */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tok_registry_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    tok_error err = {0};
    tok_registry *r = open_with(SHIPPED, NULL, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (r) {
        CHECK_EQ_INT(tok_registry_count(r), 1517);
        test_lookup(r);
        test_every_row(r);
        test_search(r);
        test_tokenizers(r);
        test_cost(r);
        tok_registry_free(r);
    }
    test_overrides();
    test_malformed();
    test_mutations();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) return 1;
    return check_summary("test_registry");
}
