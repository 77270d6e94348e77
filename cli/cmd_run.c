/* tok run: runs a YAML recipe (pipeline/recipe*.c) on its models
 * (run_models.c). Prints the last step's output (or, with --json, every
 * output and per-step usage) on stdout and a usage table on stderr: tokens
 * in/out, latency, tokens/s and cost per step (local models: "local"; a
 * registry model at its prices, "unknown" when it has none, never $0).
 * --dry-run renders and counts every prompt without generating; --budget
 * prices a dry run's upper bound first and refuses to start above it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gen_common.h"
#include "run_models.h"

#define CMD "run"
#define MAX_VARS 256

static const char HELP[] =
    "usage: tok run RECIPE.yaml [--var NAME=VALUE]... [OPTIONS]\n"
    "\n"
    "Runs the steps of a recipe (docs/recipes.md) in dependency order and prints\n"
    "the last step's output. A usage table (tokens in/out, latency, tokens/s,\n"
    "cost) goes to stderr.\n"
    "\n"
    "      --var NAME=VALUE    value of an input (repeatable)\n"
    "      --var NAME=@FILE    the text of FILE as the value (@- : standard input)\n"
    "      --vars FILE.json    values from a JSON object {\"NAME\": value, ...} (- : stdin);\n"
    "                          lists as JSON arrays, numbers as numbers; a later --var wins\n"
    "      --dry-run           render and count every prompt, call no model; prints\n"
    "                          the rendered prompts (outputs of earlier steps are\n"
    "                          placeholders, their counts marked ~)\n"
    "      --json              print {\"outputs\": {...}, \"steps\": [...]} instead\n"
    "      --trace FILE.jsonl  append one JSON line per step and per call of a map,\n"
    "                          reduce or chunked step (prompt, tokens, output,\n"
    "                          latency, cost, cache hits); safe to share between runs\n"
    "      --cache DIR         keep the answers of greedy or seeded calls in DIR and\n"
    "                          reuse them when the same call (model file, prompt,\n"
    "                          sampling) comes again: reruns skip unchanged steps\n"
    "      --budget USD        refuse to start if the run's cost upper bound (prompt\n"
    "                          tokens counted by a dry run + max_tokens per call, at\n"
    "                          the model's prices) exceeds USD; local models cost $0;\n"
    "                          a model without a known price refuses any budget\n"
    "  -m, --model MODEL       instead of the recipe's model: a GGUF file, or a registry\n"
    "                          model (counted and priced; not called in this version)\n"
    "      --chat-template FILE  Jinja chat template instead of the model's\n"
    "  -c, --ctx N             context window (default: the model's)\n"
    "  -t, --threads N         threads (default: 1 for models under 100 MB, else all)\n"
    "      --kv-type T         local models' KV cache: f32 (default) or f16 (half the\n"
    "                          memory; llama.cpp's default)\n"
    "  -q, --quiet             no usage table, no notices\n"
    "%s"
    "  -h, --help              this help\n";

/* Calls a step makes at most: one, or one per item (map), chunk or group
 * (reduce, on_overflow: chunk). */
static long calls_of(const tok_recipe_step_result *s) {
    return s->n_items > 0 && s->kind && strcmp(s->kind, "split") ? s->n_items : 1;
}

/* Adds c into *sum; unknown (-1) stays unknown. */
static void add_usd(double *sum, double c) { *sum = *sum < 0 || c < 0 ? -1 : *sum + c; }

static void print_table(const tok_recipe_result *res, bool dry) {
    fprintf(stderr, "%-16s %-8s %9s %9s %10s %8s  %s\n", "step", "kind", "tokens_in", dry ? "max_out" : "tokens_out",
            dry ? "" : "latency", dry ? "" : "tok/s", dry ? "cost (no output - max_tokens out)" : "cost");
    long tin = 0, tout = 0;
    double tms = 0, usd = 0, usd_min = 0;
    bool all_local = true, approx = false;
    for (size_t i = 0; i < res->n; i++) {
        const tok_recipe_step_result *s = &res->steps[i];
        char in[32], out[32], lat[32] = "", tps[32] = "", cost[32];
        const char *kind = s->kind ? s->kind : s->is_prompt ? "prompt" : "template";
        long max_out = (long)s->max_tokens * calls_of(s);
        if (s->skipped || (!s->ran && !dry)) {
            fprintf(stderr, "%-16s %-8s %9s\n", s->id, kind, s->skipped ? "skipped" : "failed");
            continue;
        }
        if (!s->is_prompt) {
            char items[32] = "-";
            if (s->kind && (!strcmp(s->kind, "split") || !strcmp(s->kind, "map")))
                snprintf(items, sizeof items, "%d items", s->n_items);
            fprintf(stderr, "%-16s %-8s %9s %9s %10s %8s  %s\n", s->id, kind, "-", "-", "", "", items);
            continue;
        }
        snprintf(in, sizeof in, "%s%d", (s->estimated && dry) || s->approximate ? "~" : "", s->prompt_tokens);
        snprintf(out, sizeof out, "%ld", dry ? max_out : (long)s->completion_tokens);
        if (!dry) {
            snprintf(lat, sizeof lat, "%.0f ms", s->latency_ms);
            snprintf(tps, sizeof tps, "%.1f", s->gen_ms > 0 ? s->completion_tokens * 1000.0 / s->gen_ms : 0.0);
        }
        cli_usd(cost, sizeof cost, s->cost_usd, s->local);
        if (dry && !s->local && s->cost_usd >= 0) { /* the range */
            char lo[32], hi[32];
            snprintf(cost, sizeof cost, "%s - %s", cli_usd(lo, sizeof lo, s->cost_min_usd, false),
                     cli_usd(hi, sizeof hi, s->cost_usd, false));
        }
        fprintf(stderr, "%-16s %-8s %9s %9s %10s %8s  %s\n", s->id, kind, in, out, lat, tps, cost);
        tin += s->prompt_tokens, tout += dry ? max_out : s->completion_tokens, tms += s->latency_ms;
        if (!s->local) all_local = false, add_usd(&usd, s->cost_usd), add_usd(&usd_min, s->cost_min_usd);
        approx |= s->approximate;
    }
    char lat[32] = "", cost[48];
    if (!dry) snprintf(lat, sizeof lat, "%.0f ms", tms);
    for (size_t i = 0; i < res->n; i++)
        if (res->steps[i].truncated)
            fprintf(stderr, "note: step \"%s\": input \"%s\" truncated from %d to %d tokens to fit the context\n",
                    res->steps[i].id, res->steps[i].truncated, res->steps[i].truncated_from,
                    res->steps[i].truncated_to);
    if (all_local) snprintf(cost, sizeof cost, "local ($0)");
    else if (dry && usd >= 0) {
        char lo[32], hi[32];
        snprintf(cost, sizeof cost, "%s - %s", cli_usd(lo, sizeof lo, usd_min, false), cli_usd(hi, sizeof hi, usd, false));
    } else
        cli_usd(cost, sizeof cost, usd, false);
    fprintf(stderr, "%-16s %-8s %9ld %9ld %10s %8s  %s\n", "total", "", tin, tout, lat, "", cost);
    int hits = 0, calls = 0;
    for (size_t i = 0; i < res->n; i++) hits += res->steps[i].cache_hits, calls += res->steps[i].attempts;
    if (hits) fprintf(stderr, "cache: %d of %d calls answered from the cache (no tokens generated for them)\n", hits, calls);
    if (approx)
        fprintf(stderr, "~ counted with a stand-in tokenizer or chat framing (a remote model): an estimate\n");
}

static void print_json(const tok_recipe_result *res, bool dry) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "outputs", cJSON_Duplicate(res->outputs, true));
    cJSON *a = cJSON_AddArrayToObject(o, "steps");
    for (size_t i = 0; i < res->n; i++) {
        const tok_recipe_step_result *s = &res->steps[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", s->id);
        cJSON_AddStringToObject(j, "kind", s->kind ? s->kind : s->is_prompt ? "prompt" : "template");
        if (s->kind && (!strcmp(s->kind, "split") || !strcmp(s->kind, "map")))
            cJSON_AddNumberToObject(j, "items", s->n_items);
        else if (s->n_items) /* reduce, on_overflow: chunk */
            cJSON_AddNumberToObject(j, "calls", s->n_items);
        cJSON_AddBoolToObject(j, "skipped", s->skipped);
        cJSON_AddBoolToObject(j, "estimated", s->estimated);
        if (s->is_prompt && !s->skipped) {
            cJSON_AddNumberToObject(j, "prompt_tokens", s->prompt_tokens);
            cJSON_AddNumberToObject(j, "completion_tokens", s->completion_tokens);
            cJSON_AddNumberToObject(j, "max_tokens", s->max_tokens);
            cJSON_AddNumberToObject(j, "n_ctx", s->n_ctx);
            cJSON_AddNumberToObject(j, "latency_ms", s->latency_ms);
            if (s->model) cJSON_AddStringToObject(j, "model", s->model);
            cJSON_AddBoolToObject(j, "approximate", s->approximate);
            if (s->cost_usd >= 0) cJSON_AddNumberToObject(j, "cost_usd", s->local ? 0 : s->cost_usd);
            else cJSON_AddNullToObject(j, "cost_usd");
            if (dry && s->cost_min_usd >= 0) cJSON_AddNumberToObject(j, "cost_min_usd", s->local ? 0 : s->cost_min_usd);
            if (s->choice >= 0) cJSON_AddNumberToObject(j, "choice", s->choice);
            if (s->attempts > calls_of(s)) cJSON_AddNumberToObject(j, "attempts", s->attempts);
            if (s->cache_hits) cJSON_AddNumberToObject(j, "cache_hits", s->cache_hits);
            if (s->stop_reason) cJSON_AddStringToObject(j, "stop_reason", s->stop_reason);
            if (s->reasoning) cJSON_AddStringToObject(j, "reasoning", s->reasoning);
            if (s->truncated) {
                cJSON_AddStringToObject(j, "truncated_input", s->truncated);
                cJSON_AddNumberToObject(j, "truncated_from", s->truncated_from);
                cJSON_AddNumberToObject(j, "truncated_to", s->truncated_to);
            }
            if (dry && s->prompt) cJSON_AddStringToObject(j, "prompt", s->prompt);
        }
        cJSON_AddItemToArray(a, j);
    }
    char *text = cJSON_Print(o);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

/* --vars FILE.json: each member becomes a NAME=VALUE pair (strings as they
 * are, anything else as its JSON text, which list and number inputs parse).
 * The strings live in *keep until the run ends. */
static int load_vars(const char *path, tok_recipe_var *vars, size_t *n, cJSON *keep) {
    size_t len;
    char *text = !strcmp(path, "-") ? cli_read_file("/dev/stdin", &len) : cli_read_file(path, &len);
    if (!text) {
        cli_error(CMD, "--vars %s: cannot read the file", path);
        return -1;
    }
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!cJSON_IsObject(o)) {
        cli_error(CMD, "--vars %s: expected a JSON object of input values (byte %zu)", path,
                  end ? (size_t)(end - text) : 0);
        free(text);
        cJSON_Delete(o);
        return -1;
    }
    free(text);
    for (cJSON *v = o->child; v; v = v->next) {
        if (*n == MAX_VARS) {
            cli_error(CMD, "--vars %s: more than %d values", path, MAX_VARS);
            cJSON_Delete(o);
            return -1;
        }
        if (!cJSON_IsString(v)) { /* keep its JSON text as the string value */
            char *j = cJSON_PrintUnformatted(v);
            cJSON *sv = j ? cJSON_CreateString(j) : NULL;
            cJSON_free(j);
            if (!sv || !cJSON_ReplaceItemInObjectCaseSensitive(o, v->string, sv)) { /* sv takes a copy of the name */
                cJSON_Delete(sv), cJSON_Delete(o);
                cli_error(CMD, "out of memory");
                return -1;
            }
            v = sv;
        }
        vars[(*n)++] = (tok_recipe_var){v->string, v->valuestring};
    }
    cJSON_AddItemToArray(keep, o);
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *recipe_path = NULL, *model_opt = NULL, *tmpl = NULL, *trace_path = NULL, *cache_dir = NULL;
    tok_recipe_var vars[MAX_VARS];
    size_t n_vars = 0;
    bool dry = false, json = false, quiet = false;
    int n_ctx = 0, n_threads = 0;
    bool kv_f16 = false;
    double budget = -1;
    cli_registry_opts ro = {0};
    cJSON *keep = cJSON_CreateArray(); /* --vars documents */
#define USAGE_EXIT (cJSON_Delete(keep), EXIT_USAGE)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) return cJSON_Delete(keep), printf(HELP, CLI_REGISTRY_HELP), EXIT_OK;
        int ropt = cli_registry_opt(&ro, CMD, argc, argv, &i);
        if (ropt < 0) return USAGE_EXIT;
        if (ropt) continue;
        if (!strcmp(a, "--dry-run")) { dry = true; continue; }
        if (!strcmp(a, "--json")) { json = true; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = true; continue; }
        if (a[0] == '-' && a[1]) {
            if (i + 1 >= argc) {
                cli_error(CMD, "%s needs a value (see tok run --help)", a);
                return USAGE_EXIT;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--var")) {
                char *eq = strchr(v, '=');
                if (!eq || eq == v || n_vars == MAX_VARS) {
                    cli_error(CMD, "--var: expected NAME=VALUE or NAME=@FILE, got '%s'", v);
                    return USAGE_EXIT;
                }
                *eq = 0;
                vars[n_vars++] = (tok_recipe_var){v, eq + 1};
            } else if (!strcmp(a, "--vars")) {
                if (load_vars(v, vars, &n_vars, keep)) return USAGE_EXIT;
            } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_opt = v;
            else if (!strcmp(a, "--chat-template")) tmpl = v;
            else if (!strcmp(a, "--trace")) trace_path = v;
            else if (!strcmp(a, "--cache")) cache_dir = v;
            else if (!strcmp(a, "--budget")) {
                char *end;
                budget = strtod(v, &end);
                if (!*v || *end || !(budget >= 0)) {
                    cli_error(CMD, "--budget: expected an amount in USD (a number >= 0), got '%s'", v);
                    return USAGE_EXIT;
                }
            }
            else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) {
                if (gen_parse_int(CMD, a, v, 1, 1 << 20, &n_ctx)) return USAGE_EXIT;
            } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
                if (gen_parse_int(CMD, a, v, 1, 512, &n_threads)) return USAGE_EXIT;
            } else if (!strcmp(a, "--kv-type")) {
                if (gen_parse_kv_type(CMD, a, v, &kv_f16)) return USAGE_EXIT;
            } else {
                cli_error(CMD, "unknown option '%s' (see tok run --help)", a);
                return USAGE_EXIT;
            }
        } else if (!recipe_path) recipe_path = a;
        else {
            cli_error(CMD, "one recipe at a time (got '%s' and '%s')", recipe_path, a);
            return USAGE_EXIT;
        }
    }
    if (!recipe_path) {
        cli_error(CMD, "no recipe given (usage: tok run RECIPE.yaml [--var NAME=VALUE]...)");
        return USAGE_EXIT;
    }
    tok_error err = {0};
    tok_recipe *r = tok_recipe_load(recipe_path, &err);
    if (!r) {
        fprintf(stderr, "tok run: %s\n", err.msg);
        cJSON_Delete(keep);
        return EXIT_RUNTIME;
    }
    int rc = EXIT_RUNTIME;
    FILE *trace = NULL;
    tok_recipe_result res = {0};
    run_models *models = run_models_new(tok_recipe_dir(r), tmpl, n_ctx, n_threads, kv_f16, quiet, &ro);
    const tok_recipe_backend *b = NULL;
    if (!models) goto done;
    const char *want = model_opt ? model_opt : tok_recipe_model(r);
    if (!(b = run_models_get(models, want, &err))) {
        cli_error(CMD, "model \"%s\": %s", want ? want : GEN_DEFAULT_MODEL, err.msg);
        goto done;
    }
    if (trace_path && !(trace = fopen(trace_path, "a"))) {
        cli_error(CMD, "--trace %s: cannot open for appending", trace_path);
        goto done;
    }
    tok_recipe_run_params p = tok_recipe_default_run_params();
    p.vars = vars, p.n_vars = n_vars, p.dry_run = dry, p.trace = trace;
    p.resolve = run_models_get, p.resolve_ud = models;
    p.cache_dir = cache_dir;
    if (budget >= 0 && !dry) {
        /* the upper bound: a dry run counts every prompt (split and map item
         * counts are real in it) and prices each call with max_tokens out */
        tok_recipe_run_params dp = p;
        dp.dry_run = true, dp.trace = NULL;
        if (tok_recipe_run(r, b, &dp, &res, &err)) {
            fprintf(stderr, "tok run: %s\n", err.msg);
            goto done;
        }
        long tin = 0, tout = 0;
        bool est = false;
        double bound = 0;
        for (size_t i = 0; i < res.n; i++) {
            const tok_recipe_step_result *s = &res.steps[i];
            if (!s->is_prompt || s->skipped) continue;
            est |= s->estimated || s->approximate;
            tin += s->prompt_tokens, tout += (long)s->max_tokens * calls_of(s);
            if (!s->local) add_usd(&bound, s->cost_usd);
        }
        tok_recipe_result_free(&res);
        if (bound < 0) {
            cli_error(CMD, "--budget %g: a model of this recipe has no known price, so its cost cannot be bounded; "
                      "not started (add its price in the config file, see docs/registry.md)", budget);
            goto done;
        }
        if (bound > budget) {
            cli_error(CMD, "--budget %g: the run may cost up to $%.6f (%ld tokens in%s, up to %ld out); not started",
                      budget, bound, tin, est ? ", estimated" : "", tout);
            goto done;
        }
        if (!quiet)
            fprintf(stderr, "budget: up to %ld tokens in%s and %ld out: at most $%.6f of $%g\n", tin,
                    est ? " (estimated)" : "", tout, bound, budget);
    }
    int run = tok_recipe_run(r, b, &p, &res, &err);
    if (json) print_json(&res, dry);
    else if (dry) {
        for (size_t i = 0; i < res.n; i++)
            if (res.steps[i].prompt)
                printf("=== step %s: %s%d tokens ===\n%s\n", res.steps[i].id, res.steps[i].estimated ? "~" : "",
                       res.steps[i].prompt_tokens, res.steps[i].prompt);
    } else if (run == 0) {
        for (size_t i = res.n; i-- > 0;)
            if (!res.steps[i].skipped && res.steps[i].output) {
                const char *o = res.steps[i].output;
                fputs(o, stdout);
                if (!*o || o[strlen(o) - 1] != '\n') putchar('\n');
                break;
            }
    }
    if (!quiet && res.n) print_table(&res, dry);
    if (run) {
        fprintf(stderr, "tok run: %s\n", err.msg);
        goto done;
    }
    rc = EXIT_OK;
done:
    if (trace) fclose(trace);
    tok_recipe_result_free(&res);
    run_models_free(models);
    tok_recipe_free(r);
    cJSON_Delete(keep);
    return rc;
}
