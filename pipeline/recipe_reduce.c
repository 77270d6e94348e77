/*
 * reduce: combines a list with one prompt, however long the list is. The
 * prompt sees `items` (the group's items), `text` (them joined by
 * `separator`), `round` and `final` (true when this call holds every
 * remaining item: its output is the step's). Each round packs consecutive
 * items greedily into groups whose rendered prompt, chat wrapping included,
 * fits the token budget (group_tokens, else the context minus max_tokens),
 * calls the prompt once per group, and the outputs become the next round's
 * list; when one group holds everything, that call is the last. An item
 * that alone exceeds the budget, a round that cannot shrink the list, or
 * more than 16 rounds stop the step with an error that says which.
 * In a dry run the outputs are placeholders, so after the first round
 * (grouped and counted exactly) one last call over the placeholders stands
 * for the rest: its count is an estimate (marked so).
 * Cost: a group of g items is sized with g renders and tokenizations of
 * growing prompts (O(g^2) tokens for a round); the calls dominate.
 */
#include <stdlib.h>
#include <string.h>

#include "recipe_internal.h"

typedef struct red {
    const tok_recipe *r;
    const rc_step *s, *s1;
    const tok_recipe_backend *b;
    const cJSON *ctx;
    char **items;
    int n;
} red;

/* The context of one call over items [a, e), group g of the round. */
static cJSON *group_ctx(const red *R, int a, int e, int round, int g, bool final) {
    cJSON *ctx = cJSON_CreateObject(), *list = cJSON_CreateArray();
    tok_bytes text = {0};
    const char *sep = R->s->separator ? R->s->separator : "\n\n";
    for (const cJSON *c = R->ctx->child; ctx && c; c = c->next) cJSON_AddItemReferenceToObject(ctx, c->string, (cJSON *)c);
    for (int i = a; list && i < e; i++) {
        cJSON_AddItemToArray(list, cJSON_CreateString(R->items[i]));
        if (i > a) tok_bytes_append(&text, sep, strlen(sep));
        tok_bytes_append(&text, R->items[i], strlen(R->items[i]));
    }
    if (!ctx || !list) {
        cJSON_Delete(ctx), cJSON_Delete(list), tok_bytes_free(&text);
        return NULL;
    }
    cJSON_AddItemToObject(ctx, "items", list);
    cJSON_AddStringToObject(ctx, "text", text.data ? text.data : "");
    cJSON_AddNumberToObject(ctx, "round", round);
    cJSON_AddNumberToObject(ctx, "group", g);
    cJSON_AddBoolToObject(ctx, "final", final);
    tok_bytes_free(&text);
    return ctx;
}

/* The prompt tokens of a call over [a, e) (rendered and counted, no
 * generation), or -1 with err set; over the context's budget counts as
 * 2^40 (above any budget). window, if not NULL, receives what the context
 * leaves for the prompt (context - max_tokens; 2^40 without a limit). */
static long probe(const red *R, const tok_recipe_run_params *dp, int a, int e, int round, long *window,
                  tok_error *err) {
    cJSON *ctx = group_ctx(R, a, e, round, 0, a == 0 && e == R->n);
    if (!ctx) return rc_fail(err, TOK_ENOMEM, "out of memory");
    tok_recipe_step_result one = {.id = R->s->id};
    tok_session *none = NULL;
    tok_error e2 = {0};
    int rc = rc_run_prompt(R->r, R->s1, R->b, dp, ctx, &none, &one, &e2);
    if (window) *window = one.n_ctx > 0 ? (long)one.n_ctx - one.max_tokens : 1L << 40;
    cJSON_Delete(ctx);
    free(one.prompt), free(one.output), free(one.reasoning);
    if (rc && e2.code == TOK_ERANGE) return 1L << 40;
    if (rc) return *err = e2, -1;
    return one.prompt_tokens;
}

static void free_items(char **items, int n) {
    for (int i = 0; i < n; i++) free(items[i]);
    free(items);
}

int rc_run_reduce(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                  const cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_error *err) {
    const cJSON *src = rc_lookup(ctx, s->reduce);
    if (!cJSON_IsArray(src) && !(cJSON_IsString(src) && st->estimated))
        return rc_fail(err, TOK_EINVAL, "%s: step \"%s\": reduce: \"%s\" is %s, not a list", r->file, s->id, s->reduce,
                       !src ? "undefined" : cJSON_IsNull(src) ? "none (a skipped step)" : "a single value");
    rc_step s1 = *s;
    s1.overflow = RC_OVERFLOW_ERROR;
    red R = {.r = r, .s = s, .s1 = &s1, .b = b, .ctx = ctx};
    int n = cJSON_IsArray(src) ? cJSON_GetArraySize(src) : 1;
    R.items = calloc((size_t)n + 1, sizeof *R.items);
    if (!R.items) return rc_fail(err, TOK_ENOMEM, "out of memory");
    if (cJSON_IsArray(src)) {
        for (const cJSON *c = src->child; c; c = c->next)
            R.items[R.n++] = cJSON_IsString(c) ? strdup(c->valuestring) : cJSON_PrintUnformatted(c);
    } else
        R.items[R.n++] = strdup(src->valuestring);
    for (int i = 0; i < R.n; i++)
        if (!R.items[i]) return free_items(R.items, R.n), rc_fail(err, TOK_ENOMEM, "out of memory");
    if (!R.n) { /* nothing to combine: no call */
        free(R.items);
        return (st->output = strdup("")) ? 0 : rc_fail(err, TOK_ENOMEM, "out of memory");
    }
    tok_recipe_run_params dp = *p;
    dp.dry_run = true, dp.trace = NULL;
    st->cost_usd = 0, st->choice = -1;
    int rc = -1, calls = 0;
    /* the budget, the same every round: group_tokens, within what the context leaves */
    long budget;
    if (probe(&R, &dp, 0, 1, 0, &budget, err) < 0) goto out;
    if (s->group_tokens > 0 && s->group_tokens < budget) budget = s->group_tokens;
    for (int round = 0; round < 16; round++) {
        /* pack groups greedily */
        int *ends = calloc((size_t)R.n + 1, sizeof *ends), ng = 0;
        if (!ends) { rc_fail(err, TOK_ENOMEM, "out of memory"); goto out; }
        bool guess = p->dry_run && round > 0; /* placeholders: one estimated last call */
        if (guess) ends[ng++] = R.n;
        for (int a = 0; a < R.n && !guess;) {
            long t = probe(&R, &dp, a, a + 1, round, NULL, err);
            if (t < 0) { free(ends); goto out; }
            if (t > budget) {
                char tokens[64];
                if (t >= (1L << 40)) snprintf(tokens, sizeof tokens, "more tokens than the context leaves");
                else snprintf(tokens, sizeof tokens, "%ld tokens", t);
                rc_fail(err, TOK_ERANGE, "%s: step \"%s\": reduce: item %d alone makes a prompt of %s, over the "
                        "budget of %ld (round %d); shorten the items or raise group_tokens / the context",
                        r->file, s->id, a, tokens, budget, round);
                free(ends);
                goto out;
            }
            int e = a + 1;
            while (e < R.n) {
                long u = probe(&R, &dp, a, e + 1, round, NULL, err);
                if (u < 0) { free(ends); goto out; }
                if (u > budget) break;
                e++;
            }
            ends[ng++] = e;
            a = e;
        }
        bool final = ng == 1;
        if (!final && ng >= R.n) {
            rc_fail(err, TOK_ERANGE, "%s: step \"%s\": reduce: round %d cannot shrink the list (%d items, each "
                    "alone in its group of at most %ld tokens); lower max_tokens or raise group_tokens",
                    r->file, s->id, round, R.n, budget);
            free(ends);
            goto out;
        }
        char **next = calloc((size_t)ng + 1, sizeof *next);
        if (!next) { free(ends); rc_fail(err, TOK_ENOMEM, "out of memory"); goto out; }
        int a = 0, g = 0;
        for (; g < ng; a = ends[g++]) {
            cJSON *c = group_ctx(&R, a, ends[g], round, g, final);
            tok_recipe_step_result one = {.id = s->id, .estimated = st->estimated || round > 0};
            int k = c ? rc_run_prompt(r, &s1, b, p, c, sess, &one, err) : rc_fail(err, TOK_ENOMEM, "out of memory");
            cJSON_Delete(c);
            if (!k) {
                calls++;
                rc_accumulate(st, &one);
                if (round > 0 && p->dry_run) st->estimated = true;
                if (!st->prompt) st->prompt = one.prompt, one.prompt = NULL;
                if (one.reasoning && !st->reasoning) st->reasoning = one.reasoning, one.reasoning = NULL;
                if (p->dry_run) {
                    char ph[200];
                    snprintf(ph, sizeof ph, "[output of step %s, round %d, group %d]", s->id, round, g);
                    next[g] = strdup(ph);
                } else
                    next[g] = one.output, one.output = NULL;
            }
            free(one.prompt), free(one.output), free(one.reasoning);
            if (k || !next[g]) {
                if (!k) rc_fail(err, TOK_ENOMEM, "out of memory");
                size_t m = strlen(err->msg);
                snprintf(err->msg + m, sizeof err->msg - m, " (reduce round %d, group %d: items %d-%d)", round, g, a,
                         ends[g] - 1);
                free_items(next, g + 1);
                free(ends);
                goto out;
            }
        }
        free(ends);
        free_items(R.items, R.n);
        R.items = next, R.n = ng;
        if (final) {
            st->output = R.items[0], R.items[0] = NULL;
            st->n_items = calls;
            rc = 0;
            goto out;
        }
    }
    rc_fail(err, TOK_ERANGE, "%s: step \"%s\": reduce: still %d items after 16 rounds", r->file, s->id, R.n);
out:
    st->n_items = calls;
    free_items(R.items, R.n);
    return rc;
}
