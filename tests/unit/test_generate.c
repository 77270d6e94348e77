/*
 * The engine's generation loop (tok_generate, engine/generate.c) on the
 * bundled tiny-kjv model: greedy ids and text equal llama.cpp's
 * (tests/data/models/tiny-kjv-reference-Q8_0.json), the streamed pieces are
 * complete UTF-8 and add up to the text, stop strings cut the text and never
 * reach the stream, the callback can cancel, a reused KV cache prefix gives
 * the same ids as a fresh session, logprobs follow the ids, and bad requests
 * fail with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_engine.h"
#include <cjson/cJSON.h>

typedef struct sink {
    tok_bytes all;
    int pieces, bad_utf8, cancel_after;
} sink;

static int collect(const char *text, size_t len, void *user) {
    sink *s = user;
    tok_bytes_append(&s->all, text, len);
    s->pieces++;
    if (tok_utf8_check(text, len) != len) s->bad_utf8++;
    return s->cancel_after && s->pieces >= s->cancel_after;
}

static tok_session *new_session(const tok_model *m, int n_ctx) {
    tok_session_params sp = tok_session_default_params();
    sp.n_ctx = n_ctx;
    tok_error err = {0};
    tok_session *s = tok_session_new(m, &sp, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    return s;
}

static int32_t *json_ids(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    int32_t *ids = malloc(*n * sizeof *ids);
    for (size_t i = 0; i < *n; i++) ids[i] = (int32_t)cJSON_GetArrayItem(a, (int)i)->valueint;
    return ids;
}

int main(void) {
    tok_error err = {0};
    tok_model *m = tok_model_load("data/models/tiny-kjv-Q8_0.gguf", NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    char *ref_src = check_read_file("tests/data/models/tiny-kjv-reference-Q8_0.json", NULL);
    CHECK(ref_src != NULL);
    if (!m || !ref_src) return check_summary("generate");
    tok_tokenizer *tk = tok_gguf_tokenizer(tok_model_gguf(m), &err);
    CHECK_MSG(tk != NULL, "%s", err.msg);
    cJSON *ref = cJSON_Parse(ref_src);
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "prompts"), 0);
    size_t n_prompt, n_want;
    int32_t *prompt = json_ids(cJSON_GetObjectItem(p0, "prompt_ids"), &n_prompt);
    int32_t *want = json_ids(cJSON_GetObjectItem(p0, "greedy_ids"), &n_want);
    const char *want_text = cJSON_GetObjectItem(p0, "greedy_text")->valuestring;
    tok_session *s = new_session(m, 256);

    /* greedy = llama.cpp, streamed in complete UTF-8 pieces */
    tok_generate_params gp = tok_generate_default_params();
    gp.sampling.temp = 0;
    gp.max_tokens = (int)n_want;
    gp.ignore_eos = true;
    gp.n_logprobs = 2;
    sink sk = {0};
    gp.on_text = collect;
    gp.user = &sk;
    tok_generation g;
    CHECK_MSG(!tok_generate(s, tk, prompt, n_prompt, &gp, &g, &err), "%s", err.msg);
    CHECK_EQ_INT(g.ids.n, n_want);
    CHECK(g.ids.n == n_want && !memcmp(g.ids.ids, want, n_want * sizeof *want));
    CHECK_EQ_STR(g.text.data, want_text);
    CHECK_EQ_STR(sk.all.data, want_text);
    CHECK_EQ_INT(sk.bad_utf8, 0);
    CHECK(sk.pieces > 1);
    CHECK_EQ_STR(tok_stop_reason_name(g.stop_reason), "length");
    CHECK_EQ_INT(g.prompt_tokens, n_prompt);
    CHECK_EQ_INT(g.completion_tokens, n_want);
    CHECK_EQ_INT(g.prompt_evaluated, n_prompt);
    CHECK_EQ_INT(tok_session_n_past(s), n_prompt + n_want - 1); /* all but the last id */
    CHECK(g.prompt_ms > 0 && g.gen_ms > 0 && g.n_eval == (int)n_want - 1);
    CHECK(g.seed == TOK_SEED_RANDOM); /* greedy */
    for (size_t j = 0; g.logprobs && j < g.ids.n; j++)
        CHECK(g.logprobs[j].n == 2 && g.logprobs[j].ids[0] == g.ids.ids[j] &&
              g.logprobs[j].logprob == g.logprobs[j].logprobs[0]);

    /* turn 2: prompt = turn 1 + reply + more; reusing the cache = a fresh session */
    tok_ids p2 = {0};
    p2.cap = n_prompt + g.ids.n + 3;
    p2.ids = malloc(p2.cap * sizeof *p2.ids);
    memcpy(p2.ids, prompt, n_prompt * sizeof *prompt);
    memcpy(p2.ids + n_prompt, g.ids.ids, g.ids.n * sizeof *p2.ids);
    p2.n = n_prompt + g.ids.n;
    int32_t more[3] = {1046, 261, 2048};
    memcpy(p2.ids + p2.n, more, sizeof more);
    p2.n += 3;
    tok_generate_params gp2 = tok_generate_default_params();
    gp2.sampling.temp = 0;
    gp2.max_tokens = 12;
    gp2.ignore_eos = true;
    gp2.n_reuse = tok_session_n_past(s);
    tok_generation a, b;
    CHECK_MSG(!tok_generate(s, tk, p2.ids, p2.n, &gp2, &a, &err), "%s", err.msg);
    CHECK_EQ_INT(a.prompt_evaluated, 4); /* the last reply id + the 3 new ones */
    tok_session *fresh = new_session(m, 256);
    gp2.n_reuse = 0;
    CHECK_MSG(!tok_generate(fresh, tk, p2.ids, p2.n, &gp2, &b, &err), "%s", err.msg);
    CHECK_EQ_INT(b.prompt_evaluated, p2.n);
    CHECK(a.ids.n == b.ids.n && !memcmp(a.ids.ids, b.ids.ids, a.ids.n * sizeof *a.ids.ids));
    CHECK_EQ_STR(a.text.data, b.text.data);
    tok_generation_free(&a);
    tok_generation_free(&b);

    /* stop strings: cut before, never streamed; across tokens too */
    const char *stops[] = {"hath spo", "never"};
    gp.stop = stops;
    gp.n_stop = 2;
    gp.n_logprobs = 0;
    tok_bytes_free(&sk.all);
    memset(&sk, 0, sizeof sk);
    tok_generation_free(&g);
    CHECK(!tok_generate(s, tk, prompt, n_prompt, &gp, &g, &err));
    size_t cut = (size_t)(strstr(want_text, "hath spo") - want_text);
    CHECK_EQ_INT(g.text.n, cut);
    CHECK(!strncmp(g.text.data, want_text, cut));
    CHECK_EQ_STR(sk.all.data, g.text.data);
    CHECK_EQ_STR(tok_stop_reason_name(g.stop_reason), "stop");

    /* the callback cancels */
    tok_bytes_free(&sk.all);
    memset(&sk, 0, sizeof sk);
    sk.cancel_after = 2;
    gp.stop = NULL;
    gp.n_stop = 0;
    tok_generation_free(&g);
    CHECK(!tok_generate(s, tk, prompt, n_prompt, &gp, &g, &err));
    CHECK_EQ_STR(tok_stop_reason_name(g.stop_reason), "cancelled");
    CHECK(g.ids.n < n_want);
    CHECK_EQ_INT(sk.pieces, 2);

    /* max_tokens 0; a full context; errors */
    gp.on_text = NULL;
    gp.max_tokens = 0;
    tok_generation_free(&g);
    CHECK(!tok_generate(s, tk, prompt, n_prompt, &gp, &g, &err));
    CHECK(g.ids.n == 0 && g.stop_reason == TOK_STOP_LENGTH && g.text.data && !*g.text.data);
    tok_generation_free(&g);
    tok_session *small = new_session(m, 10);
    gp.max_tokens = 50;
    CHECK(!tok_generate(small, tk, prompt, n_prompt, &gp, &g, &err));
    CHECK_EQ_STR(tok_stop_reason_name(g.stop_reason), "context");
    CHECK_EQ_INT(g.ids.n, 10 - n_prompt + 1);
    tok_generation_free(&g);
    int32_t big[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    CHECK(tok_generate(small, tk, big, 11, &gp, &g, &err) == TOK_ERANGE && strstr(err.msg, "context"));
    int32_t bad[2] = {1, 999999};
    CHECK(tok_generate(small, tk, bad, 2, &gp, &g, &err) == TOK_ERANGE && strstr(err.msg, "999999"));
    CHECK(tok_generate(small, tk, bad, 0, &gp, &g, &err) != 0);
    /* no tokenizer: ids without text */
    gp.max_tokens = 4;
    CHECK(!tok_generate(small, NULL, prompt, n_prompt, &gp, &g, &err));
    CHECK(g.ids.n == 4 && g.text.n == 0);
    tok_generation_free(&g);

    tok_session_free(small);
    tok_session_free(fresh);
    tok_session_free(s);
    tok_bytes_free(&sk.all);
    tok_ids_free(&p2);
    free(prompt);
    free(want);
    cJSON_Delete(ref);
    free(ref_src);
    tok_free(tk);
    tok_model_free(m);
    return check_summary("generate");
}
