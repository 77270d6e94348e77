/*
 * One model call of a prompt step: the messages rendered and formatted with
 * the chat template (or sent as plain text), counted against the context
 * window minus the output reserve, cut or chunked by `on_overflow`, then
 * answered: by the choices' likelihoods, from the cache, or by generating
 * (again, with the next seed, while a json output fails and retries are
 * left). The ids counted are the ids sent, so count and call never
 * disagree. Costs are priced per call from the registry row.
 * Cost: one render and one tokenization per call (a few more when
 * truncating), plus the model's work.
 */
#include <stdlib.h>
#include <string.h>

#include "recipe_internal.h"

static void merge(rc_sampling *m, const rc_sampling *s) {
    if (s->set & RC_S_TEMP) m->temperature = s->temperature;
    if (s->set & RC_S_TOP_P) m->top_p = s->top_p;
    if (s->set & RC_S_TOP_K) m->top_k = s->top_k;
    if (s->set & RC_S_MAX) m->max_tokens = s->max_tokens;
    if (s->set & RC_S_SEED) m->seed = s->seed;
    if (s->set & RC_S_STOP) m->stop = s->stop, m->n_stop = s->n_stop;
    m->set |= s->set;
}

/* The text truncation and chunking cut: the biggest string input the
 * step's templates mention (by token count), or, in a map, the item itself
 * (a string, or the text of a `files` record) when it is bigger. */
typedef struct big_input {
    const char *name; /* for messages: the input's name, "item" or "item.text" */
    const char *text;
    int where;        /* 0 an input, 1 the item, 2 the item's text */
} big_input;

static bool uses(const rc_step *s, const char *name) {
    bool used = (s->prompt_src && strstr(s->prompt_src, name)) || (s->system_src && strstr(s->system_src, name));
    for (size_t k = 0; k < s->n_msgs && !used; k++) used = strstr(s->msgs[k].src, name) != NULL;
    return used;
}

static bool biggest_input(const tok_recipe *r, const rc_step *s, const tok_tokenizer *tk, const cJSON *ctx,
                          big_input *out, size_t *ntok) {
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(ctx, "inputs");
    bool found = false;
    *ntok = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        const char *name = r->inputs[i].name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(inputs, name);
        if (!uses(s, name) || !cJSON_IsString(v)) continue;
        size_t n = rc_count_tokens(tk, v->valuestring);
        if (!found || n > *ntok) *out = (big_input){name, v->valuestring, 0}, *ntok = n, found = true;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(ctx, "item");
    const cJSON *text = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "text") : NULL;
    const cJSON *v = cJSON_IsString(it) ? it : text;
    if (cJSON_IsString(v) && uses(s, "item")) {
        size_t n = rc_count_tokens(tk, v->valuestring);
        if (!found || n > *ntok)
            *out = (big_input){v == it ? "item" : "item.text", v->valuestring, v == it ? 1 : 2}, *ntok = n, found = true;
    }
    return found;
}

/* ctx (a copy) with the cut text in place of bi's. */
static void put_input(cJSON *ctx, const big_input *bi, const char *value) {
    if (bi->where == 0) {
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ctx, "inputs"), bi->name,
                                               cJSON_CreateString(value));
        if (cJSON_GetObjectItemCaseSensitive(ctx, bi->name))
            cJSON_ReplaceItemInObjectCaseSensitive(ctx, bi->name, cJSON_CreateString(value));
    } else if (bi->where == 1)
        cJSON_ReplaceItemInObjectCaseSensitive(ctx, "item", cJSON_CreateString(value));
    else
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ctx, "item"), "text",
                                               cJSON_CreateString(value));
}

/* Drops bytes that do not form valid UTF-8 (a cut between the tokens of one
 * character in byte-level vocabularies). */
static void utf8_clean(tok_bytes *b) {
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)b->data;
    for (size_t i = 0; i < b->n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len && i + len <= b->n;
        for (size_t k = 1; ok && k < len; k++) ok = (p[i + k] & 0xC0) == 0x80;
        if (ok) {
            memmove(b->data + w, b->data + i, len);
            w += len, i += len;
        } else
            i++;
    }
    b->n = w;
    if (b->data) b->data[w] = 0;
}

/* text keeping `keep` of its tokens, cut at token boundaries: TAIL drops
 * the end, HEAD the beginning, MIDDLE the middle. */
static char *cut_tokens(const tok_tokenizer *tk, const char *text, size_t keep, int side) {
    tok_ids ids = {0};
    tok_bytes out = {0};
    tok_error e = {0};
    tok_encode_params ep = tok_encode_default_params();
    ep.utf8 = TOK_UTF8_REPLACE;
    char *res = NULL;
    if (tok_encode(tk, text, strlen(text), &ep, &ids, &e)) goto done;
    if (ids.n <= keep) {
        res = strdup(text);
        goto done;
    }
    size_t front = side == RC_TRUNC_TAIL ? keep : side == RC_TRUNC_HEAD ? 0 : keep / 2;
    if (front && tok_decode(tk, ids.ids, front, false, &out, &e)) goto done;
    if (keep > front && tok_decode(tk, ids.ids + ids.n - (keep - front), keep - front, false, &out, &e)) goto done;
    utf8_clean(&out);
    res = strdup(out.data ? out.data : "");
done:
    tok_ids_free(&ids);
    tok_bytes_free(&out);
    return res;
}

/* The step's messages rendered with ctx, chat-formatted and tokenized: the
 * ids counted are the ids generated from. */
static int build_prompt(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const cJSON *ctx,
                        tok_ids *ids, tok_bytes *text, tok_error *err) {
    /* parts[0] system, then the prompt or each message */
    size_t np = 1 + (s->n_msgs ? s->n_msgs : 1), nm = 0;
    tok_bytes *parts = calloc(np, sizeof *parts);
    tok_chat_message *msgs = calloc(np, sizeof *msgs);
    int rc = -1;
    ids->n = 0, text->n = 0;
    if (!parts || !msgs) {
        rc_fail(err, TOK_ENOMEM, "out of memory");
        goto out;
    }
    if (!b->chat || !b->tk) {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": no model to format the prompt with", r->file, s->id);
        goto out;
    }
    if (s->system) {
        if (rc_render(r, s, "system", s->system, ctx, &parts[0], err)) goto out;
        msgs[nm++] = (tok_chat_message){"system", parts[0].data ? parts[0].data : ""};
    }
    if (!s->n_msgs) {
        if (rc_render(r, s, "prompt", s->prompt, ctx, &parts[1], err)) goto out;
        msgs[nm++] = (tok_chat_message){"user", parts[1].data ? parts[1].data : ""};
    }
    for (size_t k = 0; k < s->n_msgs; k++) {
        char what[48];
        snprintf(what, sizeof what, "messages[%zu].content", k);
        if (rc_render(r, s, what, s->msgs[k].t, ctx, &parts[1 + k], err)) goto out;
        msgs[nm++] = (tok_chat_message){s->msgs[k].role, parts[1 + k].data ? parts[1 + k].data : ""};
    }
    tok_error e = {0};
    if (s->raw) { /* chat: false: the text as it is (BOS and special tokens as the chat template would) */
        const char *t = parts[1].data ? parts[1].data : "";
        if (tok_bytes_append(text, t, strlen(t)) || tok_chat_tokenize(b->chat, t, strlen(t), ids, &e)) {
            rc_fail(err, e.code ? e.code : TOK_ENOMEM, "%s: step \"%s\": %s", r->file, s->id, e.code ? e.msg : "out of memory");
            goto out;
        }
    } else if (tok_chat_format(b->chat, msgs, nm, true, ids, text, &e)) {
        rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
        goto out;
    }
    rc = 0;
out:
    for (size_t k = 0; parts && k < np; k++) tok_bytes_free(&parts[k]);
    free(parts), free(msgs);
    return rc;
}

/* on_overflow: truncate. Cuts the step's biggest input until the prompt fits:
 * first by the excess, then (tokenization at the joins may differ by a few
 * tokens) by whatever is still over, at most 8 times. 1 if it fits. */
static int truncate_to_fit(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const cJSON *ctx,
                           int budget, tok_ids *ids, tok_bytes *text, tok_recipe_step_result *st, tok_error *err) {
    size_t total;
    big_input in;
    if (!biggest_input(r, s, b->tk, ctx, &in, &total) || !total) return 0;
    const char *orig = in.text;
    cJSON *c2 = cJSON_Duplicate(ctx, true);
    long keep = (long)total - ((long)ids->n - budget);
    int fits = 0;
    for (int iter = 0; c2 && iter < 8 && !fits; iter++) {
        if (keep < 0) keep = 0;
        char *cut = cut_tokens(b->tk, orig, (size_t)keep, s->truncate);
        if (!cut) break;
        put_input(c2, &in, cut);
        free(cut);
        if (build_prompt(r, s, b, c2, ids, text, err)) {
            cJSON_Delete(c2);
            return -1;
        }
        fits = (long)ids->n <= budget;
        if (!fits) {
            if (!keep) break;
            keep -= (long)ids->n - budget;
        }
    }
    cJSON_Delete(c2);
    if (fits) st->truncated = in.name, st->truncated_from = (int)total, st->truncated_to = (int)keep;
    return fits;
}

double rc_call_cost(const tok_recipe_backend *b, size_t in, size_t out) {
    if (!b->entry || b->entry->local) return 0;
    return tok_model_cost(b->registry, b->entry, (int64_t)in, (int64_t)out, NULL).total_usd;
}

/* Adds c into *sum; an unknown price (-1) makes the sum unknown. */
static void add_usd(double *sum, double c) { *sum = *sum < 0 || c < 0 ? -1 : *sum + c; }

void rc_accumulate(tok_recipe_step_result *st, const tok_recipe_step_result *one) {
    st->prompt_tokens += one->prompt_tokens, st->completion_tokens += one->completion_tokens;
    st->latency_ms += one->latency_ms, st->gen_ms += one->gen_ms;
    add_usd(&st->cost_usd, one->cost_usd);
    add_usd(&st->cost_min_usd, one->cost_min_usd);
    st->attempts += one->attempts;
    st->cache_hits += one->cache_hits;
    if (one->stop_reason) st->stop_reason = one->stop_reason;
    st->approximate |= one->approximate;
    st->local = one->local;
    if (one->model) st->model = one->model;
    st->max_tokens = one->max_tokens, st->n_ctx = one->n_ctx;
}

/* The sampling of attempt k (0 first): a retry samples with the next seed,
 * and greedy decoding (which would repeat itself) turns into temperature 0.7. */
static void sampling_for(const rc_sampling *m, int k, tok_generate_params *gp) {
    *gp = tok_generate_default_params();
    if (m->temperature >= 0) gp->sampling.temp = m->temperature;
    if (m->top_p >= 0) gp->sampling.top_p = m->top_p;
    if (m->top_k >= 0) gp->sampling.top_k = m->top_k;
    if (m->seed >= 0) gp->sampling.seed = (uint32_t)m->seed;
    if (k > 0) {
        gp->sampling.seed += (uint32_t)k;
        if (gp->sampling.temp <= 0) gp->sampling.temp = 0.7f;
    }
    gp->max_tokens = m->max_tokens;
    gp->stop = (const char *const *)m->stop;
    gp->n_stop = m->n_stop;
}

static int run_call(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                    const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                    tok_recipe_step_result *st, tok_error *err) {
    tok_bytes text = {0};
    tok_ids ids = {0};
    tok_generation gen = {0};
    tok_error e = {0};
    int rc = -1;
    st->model = b->model_name, st->approximate = b->approximate;
    st->local = !b->entry || b->entry->local;
    st->choice = -1;
    if (build_prompt(r, s, b, ctx, &ids, &text, err)) goto out;
    rc_sampling m = {.temperature = -1, .top_p = -1, .top_k = -1, .max_tokens = 128, .seed = -1};
    merge(&m, &r->defaults);
    merge(&m, &s->s);
    int n_ctx = b->n_ctx;
    if (n_ctx <= 0 && b->model) n_ctx = tok_model_get_info(b->model)->ctx_train;
    int budget = n_ctx - m.max_tokens;
    size_t counted = ids.n;
    if (n_ctx > 0 && (long)ids.n > budget && s->overflow == RC_OVERFLOW_TRUNCATE) {
        int t = truncate_to_fit(r, s, b, ctx, budget, &ids, &text, st, err);
        if (t < 0) goto out;
    }
    st->prompt = strdup(text.data ? text.data : "");
    st->prompt_tokens = (int)ids.n;
    st->max_tokens = m.max_tokens;
    st->n_ctx = n_ctx;
    if (n_ctx > 0 && (long)ids.n > budget) {
        char big[160] = "";
        size_t ntok;
        big_input in;
        if (biggest_input(r, s, b->tk, ctx, &in, &ntok))
            snprintf(big, sizeof big, "; %s \"%s\" is %zu tokens%s", in.where ? "the" : "input", in.name, ntok,
                     s->overflow == RC_OVERFLOW_TRUNCATE ? " and truncating it did not make the prompt fit" : "");
        rc_fail(err, TOK_ERANGE,
             "%s: step \"%s\": the prompt is %zu%s tokens, over the budget of %d (context %d - %d reserved "
             "for output, max_tokens)%s",
             r->file, s->id, counted, b->approximate ? " (approximately)" : "", budget, n_ctx, m.max_tokens, big);
        goto out;
    }
    if (p->dry_run) { /* the most this call may cost */
        st->cost_usd = rc_call_cost(b, ids.n, s->n_choices ? 0 : (size_t)m.max_tokens);
        st->cost_min_usd = rc_call_cost(b, ids.n, 0);
        rc = 0;
        goto out;
    }
    if (!b->model) {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": model \"%s\": %s", r->file, s->id, b->model_name,
                b->cannot_run ? b->cannot_run : "no model loaded");
        goto out;
    }
    if (!*sess) {
        tok_session_params sp = tok_session_default_params();
        sp.n_ctx = n_ctx;
        sp.n_threads = b->n_threads;
        sp.kv_f16 = b->kv_f16;
        if (!(*sess = tok_session_new(b->model, &sp, &e))) {
            rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
            goto out;
        }
    }
    double t0 = rc_now_ms();
    if (s->n_choices) { /* classification: the likeliest answer, no sampling */
        int ntok = 0;
        st->choice = rc_choose(b, *sess, &ids, text.data ? text.data : "", s->choices, s->n_choices, &ntok, &e);
        if (st->choice < 0) {
            rc_fail(err, e.code, "%s: step \"%s\": choices: %s", r->file, s->id, e.msg);
            goto out;
        }
        st->latency_ms = rc_now_ms() - t0;
        st->completion_tokens = ntok, st->attempts = 1;
        st->stop_reason = "choice";
        st->cost_usd = rc_call_cost(b, ids.n, (size_t)ntok);
        rc = (st->output = strdup(s->choices[st->choice])) ? 0 : rc_fail(err, TOK_ENOMEM, "out of memory");
        goto out;
    }
    st->cost_usd = 0;
    const char *reason = NULL;
    for (int k = 0; k <= s->retries; k++) {
        tok_generate_params gp;
        sampling_for(&m, k, &gp);
        tok_generation_free(&gen);
        memset(&gen, 0, sizeof gen);
        /* a retry of an unseeded call is random: never cached */
        bool cacheable = p->cache_dir && rc_cacheable(&m) && (k == 0 || m.seed >= 0);
        rc_cached hit = {0};
        if (cacheable && rc_cache_get(p->cache_dir, b->model_name, n_ctx, &ids, &m, k, &hit)) {
            /* a stored answer: nothing generated, nothing paid */
            tok_bytes_append(&gen.text, hit.text, strlen(hit.text));
            gen.completion_tokens = hit.completion_tokens;
            reason = "length";
            for (int sr = TOK_STOP_LENGTH; sr <= TOK_STOP_CANCELLED; sr++)
                if (!strcmp(tok_stop_reason_name(sr), hit.stop_reason)) reason = tok_stop_reason_name(sr);
            free(hit.text), free(hit.stop_reason);
            st->cache_hits++, st->attempts++;
            st->completion_tokens += gen.completion_tokens;
        } else {
            if (tok_generate(*sess, b->tk, ids.ids, ids.n, &gp, &gen, &e)) {
                rc_fail(err, e.code, "%s: step \"%s\": %s", r->file, s->id, e.msg);
                goto out;
            }
            reason = tok_stop_reason_name(gen.stop_reason);
            if (cacheable)
                rc_cache_put(p->cache_dir, b->model_name, n_ctx, &ids, &m, k, gen.text.data ? gen.text.data : "",
                             gen.completion_tokens, reason);
            st->attempts++;
            st->gen_ms += gen.gen_ms;
            st->completion_tokens += gen.completion_tokens;
            double c = rc_call_cost(b, ids.n, (size_t)gen.completion_tokens);
            add_usd(&st->cost_usd, c);
        }
        free(st->output), free(st->reasoning);
        st->output = st->reasoning = NULL;
        /* reasoning (<think>) is not the answer: kept for the trace; its tokens
         * stay in completion_tokens (they were generated and paid for) */
        char *answer = NULL, *reasoning = NULL;
        int th = tok_recipe_split_reasoning(gen.text.data ? gen.text.data : "", &answer, &reasoning);
        if (th > 0) st->output = answer, st->reasoning = reasoning;
        else st->output = th < 0 ? NULL : strdup(gen.text.data ? gen.text.data : "");
        if (!st->output) {
            rc_fail(err, TOK_ENOMEM, "out of memory");
            goto out;
        }
        if (k == s->retries) break;
        tok_error pe = {0}; /* retry only what would fail the step */
        cJSON *v = rc_parse_output(r, s, st->output, &pe);
        cJSON_Delete(v);
        if (v) break;
    }
    st->latency_ms = rc_now_ms() - t0;
    st->stop_reason = reason;
    rc = 0;
out:
    tok_generation_free(&gen);
    tok_bytes_free(&text);
    tok_ids_free(&ids);
    return rc;
}

int rc_run_prompt(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                  const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                  tok_recipe_step_result *st, tok_error *err) {
    int rc = run_call(r, s, b, p, ctx, sess, st, err);
    /* a call of a step that makes several gets its own trace line */
    static const char *const keys[][2] = {{"loop_index", "item"}, {"round", "round"}, {"group", "group"},
                                          {"chunk_index", "chunk"}};
    if (!p->trace || p->dry_run) return rc;
    cJSON *where = NULL;
    for (size_t k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, keys[k][0]);
        if (!cJSON_IsNumber(v)) continue;
        if (!where && !(where = cJSON_CreateObject())) return rc;
        cJSON_AddNumberToObject(where, keys[k][1], v->valuedouble);
    }
    if (where) rc_trace(p->trace, st, where, false, rc ? err->msg : NULL);
    cJSON_Delete(where);
    return rc;
}

/* on_overflow: chunk. The prompt did not fit (st holds its count): the
 * biggest string input is split into chunks that leave room for the rest of
 * the prompt (its tokens minus the input's, and a small margin for the
 * joins), the prompt runs once per chunk with the chunk in the input's place
 * (each call checked against the budget as usual), and the output is the
 * calls' outputs joined by newlines: a map and a join-reduce. */
int rc_run_chunked(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b,
                       const tok_recipe_run_params *p, const cJSON *ctx, tok_session **sess,
                       tok_recipe_step_result *st, tok_error *err) {
    size_t ntok;
    big_input in;
    bool found = biggest_input(r, s, b->tk, ctx, &in, &ntok);
    long room = (long)(st->n_ctx - st->max_tokens) - ((long)st->prompt_tokens - (long)ntok) - 4;
    if (!found || room < 1) return -1; /* err still holds the budget message */
    tok_error e = {0};
    cJSON *chunks = rc_split(b->tk, in.text, (size_t)room, 0, &e);
    if (!chunks) return rc_fail(err, e.code, "%s: step \"%s\": on_overflow chunk: %s", r->file, s->id, e.msg);
    rc_step s1 = *s;
    s1.overflow = RC_OVERFLOW_ERROR;
    free(st->prompt);
    st->prompt = NULL, st->prompt_tokens = 0, st->cost_usd = 0;
    tok_bytes joined = {0};
    int rc = 0, k = 0;
    for (cJSON *c = chunks->child; c && !rc; c = c->next, k++) {
        cJSON *c2 = cJSON_Duplicate(ctx, true);
        if (c2) put_input(c2, &in, c->valuestring);
        cJSON_AddNumberToObject(c2, "chunk_index", k);
        tok_recipe_step_result one = {.id = s->id};
        rc = rc_run_prompt(r, &s1, b, p, c2, sess, &one, err);
        cJSON_Delete(c2);
        if (rc) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n, " (chunk %d of %s \"%s\")", k, in.where ? "the" : "input", in.name);
        } else {
            const char *o = p->dry_run ? "" : one.output ? one.output : "";
            if (joined.n) tok_bytes_append(&joined, "\n", 1);
            tok_bytes_append(&joined, o, strlen(o));
            rc_accumulate(st, &one);
            if (!st->prompt) st->prompt = one.prompt, one.prompt = NULL;
        }
        free(one.prompt), free(one.output), free(one.reasoning);
    }
    st->n_items = k;
    st->truncated = NULL;
    if (!rc && !(st->output = strdup(joined.data ? joined.data : ""))) rc = rc_fail(err, TOK_ENOMEM, "out of memory");
    tok_bytes_free(&joined);
    cJSON_Delete(chunks);
    return rc;
}

