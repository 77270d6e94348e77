/*
 * choices: a prompt step answered by the likeliest of a fixed list of
 * answers (classification). The prompt is evaluated once; each choice is
 * tokenized as it would continue the prompt (the prompt text + the choice,
 * tokenized together, minus the prompt's ids; on its own if the join
 * changes the prompt's last tokens), appended, and scored as the sum of
 * its tokens' log-probabilities (log-softmax of the logits before each
 * token), then the session is rewound to the prompt for the next one. The
 * answer is always exactly one of the choices: no sampling, no parsing, and
 * a tiny model classifies as well as its probabilities allow. Ties go to
 * the earlier choice.
 * Cost: the prompt once, plus one batch per choice of its tokens.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_internal.h"

/* log-softmax of logits at id, in double */
static double logprob_of(const float *logits, int n_vocab, int32_t id) {
    float mx = logits[0];
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    return (double)logits[id] - mx - log(sum);
}

/* The ids choice adds after the prompt (see above), in out. */
static int continuation(const tok_recipe_backend *b, const tok_ids *prompt, const char *text, const char *choice,
                        tok_ids *out, tok_error *err) {
    size_t lt = strlen(text), lc = strlen(choice);
    char *joined = malloc(lt + lc + 1);
    if (!joined) return rc_fail(err, TOK_ENOMEM, "out of memory");
    memcpy(joined, text, lt);
    memcpy(joined + lt, choice, lc + 1);
    tok_ids all = {0};
    out->n = 0;
    int rc = tok_chat_tokenize(b->chat, joined, lt + lc, &all, err);
    free(joined);
    if (!rc && all.n > prompt->n && !memcmp(all.ids, prompt->ids, prompt->n * sizeof *all.ids))
        rc = tok_ids_append(out, all.ids + prompt->n, all.n - prompt->n);
    else if (!rc) {
        tok_encode_params ep = tok_encode_default_params();
        rc = tok_encode(b->tk, choice, lc, &ep, out, err);
    }
    tok_ids_free(&all);
    return rc;
}

int rc_choose(const tok_recipe_backend *b, tok_session *sess, const tok_ids *prompt, const char *prompt_text,
              char *const *choices, size_t n, int *n_tok, tok_error *err) {
    int n_vocab = tok_model_get_info(b->model)->vocab_size;
    float *last = malloc((size_t)n_vocab * sizeof *last), *all = NULL;
    tok_ids ids = {0};
    int best = -1;
    bool done = false;
    double best_lp = -INFINITY;
    if (!last) return rc_fail(err, TOK_ENOMEM, "out of memory");
    tok_session_rewind(sess, 0);
    if (tok_session_eval(sess, prompt->ids, (int)prompt->n, last, false, err)) goto out;
    for (size_t c = 0; c < n; c++) {
        if (continuation(b, prompt, prompt_text, choices[c], &ids, err)) goto out;
        if (!ids.n) {
            rc_fail(err, TOK_EINVAL, "choice \"%s\" has no tokens", choices[c]);
            goto out;
        }
        float *grown = realloc(all, ids.n * (size_t)n_vocab * sizeof *all);
        if (!grown) {
            rc_fail(err, TOK_ENOMEM, "out of memory");
            goto out;
        }
        all = grown;
        tok_session_rewind(sess, (int)prompt->n);
        if (tok_session_eval(sess, ids.ids, (int)ids.n, all, true, err)) goto out;
        /* token j is predicted by the logits after token j-1 (the prompt's for j = 0) */
        double lp = logprob_of(last, n_vocab, ids.ids[0]);
        for (size_t j = 1; j < ids.n; j++) lp += logprob_of(all + (j - 1) * (size_t)n_vocab, n_vocab, ids.ids[j]);
        if (lp > best_lp) best_lp = lp, best = (int)c, *n_tok = (int)ids.n;
    }
    tok_session_rewind(sess, (int)prompt->n);
    done = true;
out:
    tok_ids_free(&ids);
    free(last), free(all);
    return done ? best : -1;
}
