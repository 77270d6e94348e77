/* The models of a `tok run`: the recipe's and every step's own `model:`,
 * each loaded once and kept until the run ends. A local GGUF file ("local:
 * FILE", a path, or the bundled model by its file name) runs on the engine.
 * A registry model ("gpt-4o-mini", "openai:gpt-4o-mini") is counted with its
 * tokenizer family and priced from the registry, but served over HTTP, which
 * this version does not call: dry runs and --budget work on it, a real call
 * fails with a message that says so. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"
#include "run_models.h"

#define MAX_MODELS 16

/* Remote chat APIs wrap each message in a few tokens (role, delimiters) and
 * prime the reply; a plain rendering of the same shape counts them close
 * enough: the count is marked approximate. */
static const char REMOTE_CHAT_TEMPLATE[] =
    "{% for m in messages %}{{ m.role }}\n{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant\n"
    "{% endif %}";

typedef struct run_model {
    char *name; /* as the recipe wrote it */
    char path[4096];
    tok_model *m;
    tok_tokenizer *tk;
    tok_chat *chat;
    cli_model cm;
    tok_recipe_backend b;
} run_model;

struct run_models {
    const char *dir, *tmpl;
    int n_ctx, n_threads;
    bool kv_f16, quiet;
    cli_registry_opts ro;
    tok_registry *reg;
    run_model *ms[MAX_MODELS];
    int n;
};

run_models *run_models_new(const char *recipe_dir, const char *tmpl, int n_ctx, int n_threads, bool kv_f16, bool quiet,
                           const cli_registry_opts *ro) {
    run_models *R = calloc(1, sizeof *R);
    if (R) *R = (run_models){.dir = recipe_dir, .tmpl = tmpl, .n_ctx = n_ctx, .n_threads = n_threads, .kv_f16 = kv_f16,
                            .quiet = quiet, .ro = *ro};
    return R;
}

void run_models_free(run_models *R) {
    if (!R) return;
    for (int i = 0; i < R->n; i++) {
        run_model *x = R->ms[i];
        tok_chat_free(x->chat);
        tok_free(x->tk);
        tok_model_free(x->m);
        free(x->name);
        free(x);
    }
    tok_registry_free(R->reg);
    free(R);
}

static int fail(tok_error *err, const char *fmt, const char *a, const char *b) {
    err->code = TOK_EINVAL;
    snprintf(err->msg, sizeof err->msg, fmt, a, b);
    return -1;
}

/* The file a local model name means, in buf; -1 if it is not local. */
static int local_path(const run_models *R, const char *name, char *buf, size_t cap, tok_error *err) {
    const char *path = name;
    if (!tok_model_is_local(name, &path) && !strchr(name, '/')) return -1;
    if (access(path, R_OK) == 0) return snprintf(buf, cap, "%s", path), 0;
    if (path[0] != '/') {
        snprintf(buf, cap, "%s/%s", R->dir, path);
        if (access(buf, R_OK) == 0) return 0;
    }
    const char *base = strrchr(path, '/');
    if (!strcmp(base ? base + 1 : path, GEN_DEFAULT_MODEL)) {
        gen_default_model(buf, cap);
        return 0;
    }
    return fail(err, "file not found (also looked in %.400s/)%s", R->dir, "") - 1; /* -2: local but missing */
}

static int load_local(run_models *R, run_model *x, tok_error *err) {
    if (!(x->m = tok_model_load(x->path, NULL, err)) || !(x->tk = tok_gguf_tokenizer(tok_model_gguf(x->m), err)))
        return -1;
    if (!(x->chat = gen_load_chat("run", x->m, x->tk, R->tmpl, R->quiet)))
        return fail(err, "%.400s: cannot set up the chat template (see above)%s", x->path, "");
    x->b = (tok_recipe_backend){.model_name = x->path, .model = x->m, .tk = x->tk, .chat = x->chat,
                                .n_ctx = R->n_ctx, .n_threads = R->n_threads ? R->n_threads : gen_default_threads(x->m),
                                .kv_f16 = R->kv_f16};
    return 0;
}

static int load_remote(run_models *R, run_model *x, tok_error *err) {
    if (!R->reg && !(R->reg = cli_registry_open("run", &R->ro)))
        return fail(err, "no model registry to look \"%s\" up in%s", x->name, "");
    const tok_model_entry *e = tok_registry_find(R->reg, x->name, err);
    if (!e) return -1;
    x->cm.m = e;
    tok_model_counting_for(R->reg, e, &x->cm.counting);
    if (!(x->tk = tok_model_counting_load(&x->cm.counting, err))) return -1;
    if (!(x->chat = tok_chat_new("remote chat framing", REMOTE_CHAT_TEMPLATE, sizeof REMOTE_CHAT_TEMPLATE - 1, x->tk,
                                 err)))
        return -1;
    snprintf(x->path, sizeof x->path, "%s", x->name);
    x->b = (tok_recipe_backend){
        .model_name = x->path, .tk = x->tk, .chat = x->chat,
        .n_ctx = R->n_ctx ? R->n_ctx : e->context_window > 0 ? (int)(e->context_window > (1 << 30) ? 1 << 30 : e->context_window) : 0,
        .approximate = true, /* the provider's message framing is not public token for token */
        .registry = R->reg, .entry = e,
        .cannot_run = "served over HTTP, which this version does not call yet; its prompts are counted and "
                      "priced (--dry-run, --budget), or run the recipe on a local GGUF model (-m FILE.gguf)"};
    return 0;
}

const tok_recipe_backend *run_models_get(void *ud, const char *name, tok_error *err) {
    run_models *R = ud;
    if (!name) name = GEN_DEFAULT_MODEL;
    for (int i = 0; i < R->n; i++)
        if (!strcmp(R->ms[i]->name, name)) return &R->ms[i]->b;
    if (R->n == MAX_MODELS) {
        fail(err, "more than 16 different models in one run%s%s", "", "");
        return NULL;
    }
    run_model *x = calloc(1, sizeof *x);
    if (!x || !(x->name = strdup(name))) {
        free(x);
        fail(err, "out of memory%s%s", "", "");
        return NULL;
    }
    tok_error e = {0};
    int lp = local_path(R, name, x->path, sizeof x->path, &e);
    int rc = lp == 0 ? load_local(R, x, err) : lp == -1 ? load_remote(R, x, err) : (*err = e, -1);
    /* kept even on failure: freed with the others */
    R->ms[R->n++] = x;
    return rc ? NULL : &x->b;
}

bool run_models_any_priced(const run_models *R) {
    for (int i = 0; i < R->n; i++)
        if (R->ms[i]->b.entry) return true;
    return false;
}
