/* Recipes: `split` (token-aware chunking) and `over` (map) steps, run
 * without a model: chunks never exceed max_tokens counted with the same
 * tokenizer (at limit-1, limit and limit+1 tokens exactly, on long text
 * without spaces, on multibyte text), are valid UTF-8, prefer paragraph and
 * sentence breaks, concatenate back to the text without overlap and repeat
 * at most `overlap` tokens with it; map runs a template per item in order;
 * load and run errors. Tokenizer: tests/data/tokenizers/hf_qwen2_5 (byte-
 * level BPE, so a cut can fall inside a character if nothing prevents it). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_pipeline.h"

static const tok_tokenizer *TK;

static size_t ntok(const char *s) {
    tok_encode_params ep = tok_encode_default_params();
    ep.special = TOK_SPECIAL_NONE;
    size_t n = 0;
    tok_error e = {0};
    tok_count(TK, s, strlen(s), &ep, &n, &e);
    return n;
}

static bool valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (!len) return false;
        for (size_t k = 1; k < len; k++)
            if ((p[k] & 0xC0) != 0x80) return false;
        p += len;
    }
    return true;
}

/* Runs src (steps over input "text") with text bound; the output of step id
 * as a new JSON value, or NULL (err set). */
static cJSON *run(const char *src, const char *text, const char *id, tok_error *err) {
    memset(err, 0, sizeof *err);
    tok_recipe *r = tok_recipe_parse("r.yaml", src, strlen(src), err);
    if (!r) return NULL;
    tok_recipe_backend b = {.tk = TK};
    tok_recipe_run_params p = tok_recipe_default_run_params();
    tok_recipe_var v = {"text", text};
    p.vars = &v, p.n_vars = text ? 1 : 0;
    tok_recipe_result res;
    cJSON *out = NULL;
    if (tok_recipe_run(r, &b, &p, &res, err) == 0)
        out = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(res.outputs, id), true);
    tok_recipe_result_free(&res);
    tok_recipe_free(r);
    return out;
}

static cJSON *split(const char *text, int max, int overlap, tok_error *err) {
    char src[400];
    snprintf(src, sizeof src,
             "inputs: {text: {type: string}}\nsteps:\n  - {id: c, split: \"{{ inputs.text }}\", max_tokens: %d, "
             "overlap: %d}\n", max, overlap);
    return run(src, text, "c", err);
}

/* Every chunk: a string, valid UTF-8, at most max tokens. Without overlap
 * they concatenate to the text; with it each starts inside the previous one
 * and the repeated part has at most `overlap` tokens. */
static void check_chunks(const cJSON *a, const char *text, size_t max, size_t overlap, const char *what) {
    CHECK_MSG(cJSON_IsArray(a) && cJSON_GetArraySize(a) > 0, "%s", what);
    if (!cJSON_IsArray(a)) return;
    size_t pos = 0, n = strlen(text);
    const char *prev = NULL;
    for (const cJSON *c = a->child; c; c = c->next) {
        const char *s = c->valuestring;
        CHECK_MSG(s && *s, "%s: empty chunk", what);
        if (!s) return;
        CHECK_MSG(valid_utf8(s), "%s: invalid UTF-8 in a chunk", what);
        CHECK_MSG(ntok(s) <= max, "%s: chunk of %zu tokens > %zu", what, ntok(s), max);
        size_t len = strlen(s);
        if (!overlap || !prev) {
            CHECK_MSG(pos + len <= n && !memcmp(text + pos, s, len), "%s: chunk not at %zu", what, pos);
            pos += len;
        } else {
            /* the chunk starts in prev's tail: the shortest repeat after
             * which the chunk continues the text (in repetitive text a
             * longer one may match too) */
            size_t pl = strlen(prev), shared = 0;
            for (size_t k = 0; k <= (pl < len ? pl : len); k++)
                if (!memcmp(prev + pl - k, s, k) && pos + len - k <= n && !memcmp(text + pos, s + k, len - k)) {
                    shared = k;
                    break;
                }
            char *rep = strndup(s, shared);
            CHECK_MSG(ntok(rep) <= overlap, "%s: %zu overlap tokens > %zu: [%s] in [%s]", what, ntok(rep), overlap, rep, s);
            free(rep);
            CHECK_MSG(pos + len - shared <= n && !memcmp(text + pos, s + shared, len - shared),
                      "%s: chunk does not continue the text at %zu", what, pos);
            pos += len - shared;
        }
        prev = s;
    }
    CHECK_MSG(pos == n, "%s: chunks cover %zu of %zu bytes", what, pos, n);
}

int main(void) {
    tok_error err = {0};
    tok_tokenizer *tk = tok_load("tests/data/tokenizers/hf_qwen2_5/tokenizer.json", &err);
    CHECK_MSG(tk != NULL, "%s", err.msg);
    if (!tk) return check_summary("test_recipe_split");
    TK = tk;

    /* the exact boundary: texts of limit-1, limit and limit+1 tokens */
    const size_t LIM = 20;
    char *at[3] = {0};
    char buf[2000] = "";
    static const char *const words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "slept"};
    for (int k = 0; k < 120; k++) {
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", k ? " " : "", words[k % 10]);
        size_t n = ntok(buf);
        if (n + 1 >= LIM && n <= LIM + 1 && !at[n + 1 - LIM]) at[n + 1 - LIM] = strdup(buf);
    }
    CHECK(at[0] && at[1] && at[2]);
    for (int i = 0; i < 3 && at[i]; i++) {
        cJSON *a = split(at[i], (int)LIM, 0, &err);
        CHECK_MSG(a != NULL, "%s", err.msg);
        CHECK_EQ_INT(cJSON_GetArraySize(a), i < 2 ? 1 : 2);
        check_chunks(a, at[i], LIM, 0, "boundary");
        cJSON_Delete(a);
        free(at[i]);
    }

    /* prose: paragraph breaks first, then sentence ends */
    const char *prose =
        "In the beginning God created the heaven and the earth. And the earth was without form, and void.\n\n"
        "And God said, Let there be light: and there was light. And God saw the light, that it was good. "
        "And God divided the light from the darkness. And God called the light Day, and the darkness he "
        "called Night.\n\nAnd the evening and the morning were the first day.";
    cJSON *a = split(prose, 30, 0, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    check_chunks(a, prose, 30, 0, "prose");
    if (a && a->child) {
        const char *c0 = a->child->valuestring;
        CHECK_MSG(strlen(c0) >= 2 && !strcmp(c0 + strlen(c0) - 2, "\n\n"), "first chunk ends at the paragraph: %s", c0);
        for (cJSON *c = a->child; c && c->next; c = c->next) { /* every cut at a sentence end or break */
            const char *s = c->valuestring;
            size_t l = strlen(s);
            CHECK_MSG(l >= 2 && (s[l - 1] == '\n' || (s[l - 1] == ' ' && strchr(".!?", s[l - 2]))), "cut: [%s]", s);
        }
    }
    cJSON_Delete(a);
    /* overlap: neighbours repeat at most `overlap` tokens, and do repeat */
    a = split(prose, 30, 6, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    check_chunks(a, prose, 30, 6, "overlap");
    if (a && a->child && a->child->next) {
        const char *c1 = a->child->next->valuestring;
        CHECK_MSG(strncmp(c1, "And God said", 12), "the second chunk repeats some of the first: %s", c1);
    }
    cJSON_Delete(a);

    /* no spaces at all: cut between characters; ASCII and multibyte */
    char *nospace = malloc(4001), *cjk = malloc(12001);
    for (int i = 0; i < 4000; i++) nospace[i] = (char)('a' + (i * 7) % 26);
    nospace[4000] = 0;
    cjk[0] = 0;
    static const char *const pieces[] = {"日本語", "の", "テキスト", "😀", "é", "中文", "🎉", "ß"};
    /* pseudo-random order, so that a repeated stretch is found at one place */
    for (unsigned x = 12345; strlen(cjk) < 11000;) x = x * 1103515245u + 12345u, strcat(cjk, pieces[(x >> 16) % 8]);
    for (int max = 3; max <= 50; max += 47) {
        a = split(nospace, max, 0, &err);
        CHECK_MSG(a != NULL, "%s", err.msg);
        check_chunks(a, nospace, (size_t)max, 0, "no spaces");
        cJSON_Delete(a);
        a = split(cjk, max, 0, &err);
        CHECK_MSG(a != NULL, "%s", err.msg);
        check_chunks(a, cjk, (size_t)max, 0, "multibyte");
        CHECK(cJSON_GetArraySize(a) > 1);
        cJSON_Delete(a);
        a = split(cjk, max, max / 3, &err);
        CHECK_MSG(a != NULL, "%s", err.msg);
        check_chunks(a, cjk, (size_t)max, (size_t)(max / 3), "multibyte overlap");
        cJSON_Delete(a);
    }
    /* a character that alone is over the limit: an error naming it */
    static const char *const rare[] = {"𝔘", "𓀀", "🜁", "ꙮ"};
    const char *big = NULL;
    for (int i = 0; i < 4 && !big; i++)
        if (ntok(rare[i]) > 1) big = rare[i];
    CHECK_MSG(big != NULL, "%s", "no character of several tokens found");
    char two[64];
    snprintf(two, sizeof two, "a%s", big ? big : "");
    a = split(two, 1, 0, &err);
    CHECK_MSG(a == NULL && strstr(err.msg, "step \"c\": split: the character at byte 1 is more than max_tokens (1)"),
              "%s", err.msg);
    cJSON_Delete(a);
    free(nospace), free(cjk);

    /* map: a template per item, in order, with item and loop_index */
    a = run("inputs: {text: {type: list}}\nsteps:\n  - id: m\n    over: \"{{ inputs.text }}\"\n"
            "    template: \"{{ loop_index }}={{ item | upper }}\"\n",
            "[\"a\", \"b\", \"c\"]", "m", &err);
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    CHECK_EQ_STR(s ? s : err.msg, "[\"0=A\",\"1=B\",\"2=C\"]");
    free(s), cJSON_Delete(a);
    /* split then map then join; per-item format json */
    a = run("inputs: {text: {type: string}}\nsteps:\n"
            "  - {id: c, split: \"{{ text }}\", max_tokens: 4}\n"
            "  - id: m\n    over: \"{{ steps.c.output }}\"\n    format: json\n"
            "    template: '{\"n\": {{ loop_index }}, \"len\": {{ item | length }}}'\n"
            "  - {id: j, template: \"{% for x in steps.m.output %}{{ x.n }}:{{ x.len }} {% endfor %}\"}\n",
            "one two three four five six seven eight nine ten", "j", &err);
    CHECK_MSG(a && cJSON_IsString(a) && !strncmp(a->valuestring, "0:", 2) && strstr(a->valuestring, "1:"), "%s",
              a ? a->valuestring : err.msg);
    cJSON_Delete(a);
    a = run("inputs: {text: {type: string}}\nsteps:\n  - id: m\n    over: \"{{ inputs.text }}\"\n    template: x\n",
            "abc", "m", &err);
    CHECK(a == NULL && strstr(err.msg, "step \"m\": over: \"{{ inputs.text }}\" is a single value, not a list"));
    cJSON_Delete(a);
    a = run("inputs: {text: {type: list}}\nsteps:\n  - id: m\n    over: \"{{ inputs.text }}\"\n    format: json\n"
            "    template: \"{{ item }}\"\n", "[\"1\", \"{\"]", "m", &err);
    CHECK_MSG(a == NULL && strstr(err.msg, "format json") && strstr(err.msg, "(item 1)"), "%s", err.msg);
    cJSON_Delete(a);

    /* load errors */
    static const struct { const char *src, *msg; } bad[] = {
        {"steps:\n  - {id: c, split: x}\n", "r.yaml:2:5: step \"c\": split: needs max_tokens"},
        {"steps:\n  - {id: c, split: x, max_tokens: 4, overlap: 4}\n",
         "r.yaml:2:47: step \"c\": overlap: must be less than max_tokens (4)"},
        {"steps:\n  - {id: c, template: x, overlap: 1}\n", "r.yaml:2:35: step \"c\": overlap: only with split"},
        {"steps:\n  - {id: c, template: x, over: \"{{ steps.zz.output }}\"}\n", "refers to unknown step \"zz\""},
        {"steps:\n  - {id: c, template: x, over: \"{{ item }}\"}\n", "over: expected a list reference"},
        {"steps:\n  - {id: c, split: x, prompt: y, max_tokens: 3}\n", "needs exactly one of"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        tok_recipe *r = tok_recipe_parse("r.yaml", bad[i].src, strlen(bad[i].src), &err);
        CHECK_MSG(!r && strstr(err.msg, bad[i].msg), "case %zu: %s", i, err.msg);
        tok_recipe_free(r);
    }
    /* over sets the run order too */
    memset(&err, 0, sizeof err);
    const char *ord = "steps:\n  - {id: m, over: \"{{ steps.c.output }}\", template: x}\n"
                      "  - {id: c, split: abc, max_tokens: 2}\n";
    tok_recipe *r = tok_recipe_parse("r.yaml", ord, strlen(ord), &err);
    CHECK_MSG(r && !strcmp(tok_recipe_step_id(r, 0), "c"), "%s", err.msg);
    tok_recipe_free(r);

    tok_free(tk);
    return check_summary("test_recipe_split");
}
