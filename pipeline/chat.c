/* Chat formatting: messages -> the model's chat template -> prompt ids.
 *
 * What transformers' apply_chat_template passes, we pass: `messages` (a list
 * of {role, content}), `add_generation_prompt`, and the vocabulary's
 * `bos_token`/`eos_token` as strings (left undefined when the vocabulary has
 * none, as a None would render empty). The rendered text is then tokenized as
 * llama.cpp tokenizes a chat prompt: special tokens parsed, so the template's
 * control-token text (<|im_start|>, <|eot_id|>) becomes single ids, and BOS
 * added as the vocabulary says unless the text already begins with the BOS
 * token's text (many templates write {{ bos_token }} themselves).
 *
 * Cost: one template render (linear in the output for the templates people
 * ship) plus one encode of the rendered text per call; nothing is cached, so
 * a conversation of n turns re-renders O(n) messages per turn, which is small
 * next to evaluating the prompt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_engine.h"
#include "tok_pipeline.h"

struct tok_chat {
    tok_template *tmpl;
    const tok_tokenizer *tk; /* borrowed */
    char *bos, *eos;         /* token texts, NULL if the vocabulary has none */
};

static int chat_fail(tok_error *err, int code, const char *fmt, const char *a, const char *b) {
    if (err) {
        snprintf(err->msg, sizeof err->msg, fmt, a, b ? b : "");
        err->code = code;
    }
    return code;
}

/* The text of special token id, or NULL. */
static char *token_text(const tok_tokenizer *tk, int32_t id) {
    if (!tk || id < 0) return NULL;
    size_t len;
    const char *b = tok_token_bytes(tk, id, &len);
    if (!b) return NULL;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, b, len);
        s[len] = 0;
    }
    return s;
}

tok_chat *tok_chat_new(const char *name, const char *src, size_t len, const tok_tokenizer *tk,
                       tok_error *err) {
    tok_chat *c = calloc(1, sizeof *c);
    if (!c) {
        chat_fail(err, TOK_ENOMEM, "%s: out of memory", name, NULL);
        return NULL;
    }
    c->tk = tk;
    if (!(c->tmpl = tok_template_parse(name, src, len, NULL, err))) {
        free(c);
        return NULL;
    }
    c->bos = token_text(tk, tk ? tok_bos_id(tk) : -1);
    c->eos = token_text(tk, tk ? tok_eos_id(tk) : -1);
    return c;
}

tok_chat *tok_chat_from_gguf(const tok_gguf *g, const tok_tokenizer *tk, tok_error *err) {
    const char *src = tok_gguf_get_string(g, "tokenizer.chat_template");
    if (!src) {
        chat_fail(err, TOK_EUNSUPPORTED,
                  "%s: the model has no chat template (GGUF key tokenizer.chat_template); "
                  "give one with --chat-template FILE%s",
                  tok_gguf_path(g), NULL);
        return NULL;
    }
    char name[512];
    snprintf(name, sizeof name, "%s: tokenizer.chat_template", tok_gguf_path(g));
    return tok_chat_new(name, src, strlen(src), tk, err);
}

int tok_chat_set_tokens(tok_chat *c, const char *bos_token, const char *eos_token, tok_error *err) {
    char *b = bos_token ? strdup(bos_token) : NULL, *e = eos_token ? strdup(eos_token) : NULL;
    if ((bos_token && !b) || (eos_token && !e)) {
        free(b);
        free(e);
        return chat_fail(err, TOK_ENOMEM, "chat: out of memory%s%s", "", NULL);
    }
    free(c->bos);
    free(c->eos);
    c->bos = b;
    c->eos = e;
    return 0;
}

void tok_chat_free(tok_chat *c) {
    if (!c) return;
    tok_template_free(c->tmpl);
    free(c->bos);
    free(c->eos);
    free(c);
}

int tok_chat_render(const tok_chat *c, const tok_chat_message *msgs, size_t n,
                    bool add_generation_prompt, tok_bytes *out, tok_error *err) {
    cJSON *ctx = cJSON_CreateObject(), *list = cJSON_CreateArray();
    bool ok = ctx && list;
    if (ok) cJSON_AddItemToObject(ctx, "messages", list);
    else cJSON_Delete(list);
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        ok = m && cJSON_AddStringToObject(m, "role", msgs[i].role ? msgs[i].role : "user") &&
             cJSON_AddStringToObject(m, "content", msgs[i].content ? msgs[i].content : "");
        if (m) cJSON_AddItemToArray(list, m);
    }
    ok = ok && cJSON_AddBoolToObject(ctx, "add_generation_prompt", add_generation_prompt);
    if (ok && c->bos) ok = cJSON_AddStringToObject(ctx, "bos_token", c->bos) != NULL;
    if (ok && c->eos) ok = cJSON_AddStringToObject(ctx, "eos_token", c->eos) != NULL;
    int rc = ok ? tok_template_render(c->tmpl, ctx, out, err)
                : chat_fail(err, TOK_ENOMEM, "chat: out of memory%s%s", "", NULL);
    cJSON_Delete(ctx);
    return rc;
}

int tok_chat_tokenize(const tok_chat *c, const char *text, size_t len, tok_ids *out,
                      tok_error *err) {
    if (!c->tk) return chat_fail(err, TOK_EINVAL, "chat: no tokenizer%s%s", "", NULL);
    tok_encode_params ep = tok_encode_default_params();
    ep.special = TOK_SPECIAL_ALL;
    ep.utf8 = TOK_UTF8_REPLACE;
    size_t bl = c->bos ? strlen(c->bos) : 0;
    /* llama.cpp: a template that writes the BOS text itself gets no second BOS */
    ep.add_special = !(bl && len >= bl && !memcmp(text, c->bos, bl));
    return tok_encode(c->tk, text, len, &ep, out, err);
}

int tok_chat_format(const tok_chat *c, const tok_chat_message *msgs, size_t n,
                    bool add_generation_prompt, tok_ids *out, tok_bytes *text, tok_error *err) {
    tok_bytes own = {0}, *t = text ? text : &own;
    size_t start = t->n;
    int rc = tok_chat_render(c, msgs, n, add_generation_prompt, t, err);
    if (!rc) rc = tok_chat_tokenize(c, t->data ? t->data + start : "", t->n - start, out, err);
    tok_bytes_free(&own);
    return rc;
}
