/*
 * over: (map) runs a step's prompt or template once per item of a list, with
 * `item` and `loop_index` in scope. With `concurrency: N` up to N items run
 * at once, each worker thread on its own session (KV cache) over the one
 * shared, read-only model, with the backend's threads divided among them;
 * otherwise one after another on the caller's session (which keeps the KV
 * prefix that consecutive prompts share). Either way the output list, the
 * trace lines and the error reported (the first failing item by index) are
 * in item order, so a run's result does not depend on the scheduling.
 * Cost: one render + tokenization per item, plus the calls; the context is
 * never copied: each item sees it through a shallow object of references.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_internal.h"

typedef struct map_item {
    tok_recipe_step_result res;
    cJSON *val;    /* the parsed output, or NULL on failure */
    tok_error err; /* the item's failure */
} map_item;

typedef struct map_job {
    const tok_recipe *r;
    const rc_step *s;
    const tok_recipe_backend *b, *bw; /* bw: b with the worker's share of threads */
    const tok_recipe_run_params *p;
    const cJSON *ctx;
    const cJSON **item_at;
    map_item *out;
    int n;
    atomic_int next, failed;
} map_job;

static void run_item(map_job *J, int i, tok_session **sess, const tok_recipe_backend *b, tok_bytes *buf) {
    const tok_recipe *r = J->r;
    const rc_step *s = J->s;
    map_item *it = &J->out[i];
    it->res.id = s->id;
    it->res.choice = -1;
    /* the context as a shallow object: references to every entry, plus the item */
    cJSON *ctx = cJSON_CreateObject();
    for (const cJSON *c = J->ctx->child; ctx && c; c = c->next)
        cJSON_AddItemReferenceToObject(ctx, c->string, (cJSON *)c);
    if (!ctx || !cJSON_AddItemReferenceToObject(ctx, "item", (cJSON *)J->item_at[i]) ||
        !cJSON_AddNumberToObject(ctx, "loop_index", i)) {
        cJSON_Delete(ctx);
        rc_fail(&it->err, TOK_ENOMEM, "out of memory");
        return;
    }
    int rc;
    if (s->kind == RC_STEP_PROMPT) rc = rc_run_prompt(r, s, b, J->p, ctx, sess, &it->res, &it->err);
    else {
        rc = rc_render(r, s, "template", s->tmpl, ctx, buf, &it->err);
        if (!rc && !(it->res.output = strdup(buf->data ? buf->data : "")))
            rc = rc_fail(&it->err, TOK_ENOMEM, "out of memory");
    }
    cJSON_Delete(ctx);
    if (rc) return;
    if (J->p->dry_run && s->kind == RC_STEP_PROMPT) {
        char ph[200];
        snprintf(ph, sizeof ph, "[output of step %s, item %d]", s->id, i);
        it->val = cJSON_CreateString(ph);
    } else
        it->val = rc_parse_output(r, s, it->res.output, &it->err);
}

static void *worker(void *arg) {
    map_job *J = arg;
    tok_session *sess = NULL;
    tok_bytes buf = {0};
    for (;;) {
        int i = atomic_fetch_add(&J->next, 1);
        if (i >= J->n || atomic_load(&J->failed)) break;
        run_item(J, i, &sess, J->bw, &buf);
        if (!J->out[i].val) atomic_store(&J->failed, 1);
    }
    tok_session_free(sess);
    tok_bytes_free(&buf);
    return NULL;
}

cJSON *rc_run_map(const tok_recipe *r, const rc_step *s, const tok_recipe_backend *b, const tok_recipe_run_params *p,
                  cJSON *ctx, tok_session **sess, tok_recipe_step_result *st, tok_bytes *buf, tok_error *err) {
    const cJSON *over = rc_lookup(ctx, s->over);
    cJSON *items = NULL, *out = NULL;
    if (cJSON_IsArray(over)) items = cJSON_Duplicate(over, true);
    else if (cJSON_IsString(over) && st->estimated) { /* a dry-run placeholder: one item */
        if ((items = cJSON_CreateArray())) cJSON_AddItemToArray(items, cJSON_Duplicate(over, true));
    } else {
        rc_fail(err, TOK_EINVAL, "%s: step \"%s\": over: \"%s\" is %s, not a list", r->file, s->id, s->over,
                !over ? "undefined" : cJSON_IsNull(over) ? "none (a skipped step)" : "a single value");
        return NULL;
    }
    int n = items ? cJSON_GetArraySize(items) : 0;
    map_job J = {.r = r, .s = s, .b = b, .bw = b, .p = p, .ctx = ctx, .n = n};
    J.item_at = calloc((size_t)n + 1, sizeof *J.item_at);
    J.out = calloc((size_t)n + 1, sizeof *J.out);
    if (!items || !J.item_at || !J.out) {
        rc_fail(err, TOK_ENOMEM, "out of memory");
        goto done;
    }
    int k = 0;
    for (const cJSON *it = items->child; it; it = it->next) J.item_at[k++] = it;
    int workers = s->concurrency > 1 && s->kind == RC_STEP_PROMPT && !p->dry_run ? s->concurrency : 1;
    if (workers > n) workers = n;
    if (workers <= 1) {
        for (int i = 0; i < n; i++) {
            run_item(&J, i, sess, b, buf);
            if (!J.out[i].val) break;
        }
    } else {
        /* the machine's threads shared among the workers, at least one each */
        tok_recipe_backend bw = *b;
        bw.n_threads = b->n_threads / workers > 0 ? b->n_threads / workers : 1;
        J.bw = &bw;
        pthread_t th[64];
        int started = 0;
        for (; started < workers; started++)
            if (pthread_create(&th[started], NULL, worker, &J)) break;
        if (!started) worker(&J); /* no thread could start: run here */
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    }
    out = cJSON_CreateArray();
    for (int i = 0; out && i < n; i++) {
        map_item *it = &J.out[i];
        if (!it->val && !it->res.output && !it->res.prompt && !it->err.msg[0]) break; /* never ran */
        rc_accumulate(st, &it->res);
        if (!st->prompt) st->prompt = it->res.prompt, it->res.prompt = NULL;
        if (it->res.reasoning && !st->reasoning) st->reasoning = it->res.reasoning, it->res.reasoning = NULL;
        if (it->res.truncated)
            st->truncated = it->res.truncated, st->truncated_from = it->res.truncated_from,
            st->truncated_to = it->res.truncated_to;
        if (!it->val) {
            *err = it->err;
            size_t m = strlen(err->msg);
            snprintf(err->msg + m, sizeof err->msg - m, " (item %d)", i);
            cJSON_Delete(out), out = NULL;
            break;
        }
        cJSON_AddItemToArray(out, it->val);
        it->val = NULL;
    }
    if (!out && !err->msg[0]) rc_fail(err, TOK_ENOMEM, "out of memory");
done:
    for (int i = 0; J.out && i < n; i++) {
        cJSON_Delete(J.out[i].val);
        free(J.out[i].res.prompt), free(J.out[i].res.output), free(J.out[i].res.reasoning);
    }
    free(J.out), free(J.item_at);
    cJSON_Delete(items);
    return out;
}
