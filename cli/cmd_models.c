/* tok models list|show|search: the model registry as a table or JSON. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "registry_cli.h"

static const char MODELS_HELP[] =
    "usage: tok models list [FILTERS] [--json]\n"
    "       tok models search TEXT [FILTERS] [--json]\n"
    "       tok models show MODEL [--json]\n"
    "Lists the model registry: context window, output limit, prices in USD per million\n"
    "tokens, and the tokenizer that counts each model's tokens ('~' = approximate: no\n"
    "public tokenizer, a stand-in counts). Unknown values print as '-' (never $0).\n"
    "show takes a name as an API spells it (gpt-4o-2024-08-06 finds gpt-4o;\n"
    "provider:model picks a provider). Prices change: check before quoting them.\n\n"
    "      --provider P       only this provider (openai, anthropic, google, groq, ...)\n"
    "      --min-context N    context window of at least N tokens\n"
    "      --max-input-price X   input price at most X USD per million tokens\n"
    "      --max-output-price X  output price at most X USD per million tokens\n"
    "      --all              include deprecated models\n"
    "      --json             a JSON array of models (show: one object)\n";

static void add_num(cJSON *o, const char *k, double v) {
    if (v < 0) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}

static void add_str(cJSON *o, const char *k, const char *v) {
    if (v) cJSON_AddStringToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static cJSON *model_json(const tok_registry *r, const tok_model_entry *m) {
    tok_model_counting c;
    tok_model_counting_for(r, m, &c);
    cJSON *o = cJSON_CreateObject();
    add_str(o, "id", m->id);
    add_str(o, "provider", m->provider);
    add_str(o, "creator", m->creator);
    add_str(o, "name", m->name);
    add_num(o, "context_window", (double)m->context_window);
    add_num(o, "max_output_tokens", (double)m->max_output_tokens);
    add_num(o, "input_per_mtok", m->input_per_mtok);
    add_num(o, "output_per_mtok", m->output_per_mtok);
    add_num(o, "cached_input_per_mtok", m->cached_input_per_mtok);
    add_num(o, "cache_write_per_mtok", m->cache_write_per_mtok);
    add_str(o, "tokenizer_family", m->tokenizer);
    add_str(o, "tokenizer", c.spec);
    cJSON_AddBoolToObject(o, "approximate", c.approximate);
    cJSON_AddBoolToObject(o, "first_party", m->first_party);
    cJSON_AddBoolToObject(o, "deprecated", m->deprecated);
    return o;
}

static const char *count_or_dash(char *buf, size_t n, int64_t v) {
    if (v < 0) snprintf(buf, n, "-");
    else snprintf(buf, n, "%lld", (long long)v);
    return buf;
}

static const char *price_or_dash(char *buf, size_t n, double v) {
    if (v < 0) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.4g", v);
    return buf;
}

static void print_table(const tok_registry *r, const tok_model_entry **rows, size_t n) {
    size_t w = 5;
    for (size_t i = 0; i < n; i++)
        if (strlen(rows[i]->id) > w) w = strlen(rows[i]->id);
    if (w > 48) w = 48;
    printf("%-*s %-14s %9s %8s %9s %9s  %s\n", (int)w, "model", "provider", "context", "max out", "in $/M",
           "out $/M", "tokenizer");
    for (size_t i = 0; i < n; i++) {
        const tok_model_entry *m = rows[i];
        tok_model_counting c;
        tok_model_counting_for(r, m, &c);
        char a[32], b[32], p[32], q[32];
        printf("%-*s %-14s %9s %8s %9s %9s  %s%s%s\n", (int)w, m->id, m->provider,
               count_or_dash(a, sizeof a, m->context_window), count_or_dash(b, sizeof b, m->max_output_tokens),
               price_or_dash(p, sizeof p, m->input_per_mtok), price_or_dash(q, sizeof q, m->output_per_mtok),
               c.approximate ? "~" : "", c.spec, m->deprecated ? " (deprecated)" : "");
    }
    printf("%zu model%s; prices in USD per million tokens; '~' approximate count; '-' unknown\n", n,
           n == 1 ? "" : "s");
}

static void print_show(const tok_registry *r, const tok_model_entry *m) {
    tok_model_counting c;
    tok_model_counting_for(r, m, &c);
    char a[64];
    printf("id                %s\n", m->id);
    printf("provider          %s%s\n", m->provider, m->first_party ? " (first party)" : "");
    printf("creator           %s\n", m->creator ? m->creator : "-");
    if (m->name) printf("name              %s\n", m->name);
    printf("context window    %s tokens\n", count_or_dash(a, sizeof a, m->context_window));
    printf("max output        %s tokens\n", count_or_dash(a, sizeof a, m->max_output_tokens));
    printf("input             %s\n", m->input_per_mtok < 0 ? "unknown" : (snprintf(a, sizeof a, "$%g per million tokens", m->input_per_mtok), a));
    printf("output            %s\n", m->output_per_mtok < 0 ? "unknown" : (snprintf(a, sizeof a, "$%g per million tokens", m->output_per_mtok), a));
    if (m->cached_input_per_mtok >= 0) printf("cached input      $%g per million tokens\n", m->cached_input_per_mtok);
    if (m->cache_write_per_mtok >= 0) printf("cache write       $%g per million tokens\n", m->cache_write_per_mtok);
    for (size_t i = 0; i < m->n_input_tiers; i++)
        printf("input tier        $%g above %lld input tokens (whole request)\n", m->input_tiers[i].price,
               (long long)m->input_tiers[i].above_input_tokens);
    for (size_t i = 0; i < m->n_output_tiers; i++)
        printf("output tier       $%g above %lld input tokens (whole request)\n", m->output_tiers[i].price,
               (long long)m->output_tiers[i].above_input_tokens);
    if (m->time_of_day_prices)
        printf("price changes     time-of-day prices in the registry are not applied (base price shown)\n");
    else if (m->n_price_changes)
        printf("price changes     %zu dated price set(s); tok cost applies them from their start date\n",
               m->n_price_changes);
    printf("tokenizer         %s (family %s%s%s)\n", c.spec, m->tokenizer, m->tokenizer_basis ? ", " : "",
           m->tokenizer_basis ? m->tokenizer_basis : "");
    printf("count             %s\n", c.note);
    if (m->deprecated) printf("deprecated        yes\n");
    if (m->price_comments) printf("notes             %s\n", m->price_comments);
    printf("source            %s\n", m->origin ? m->origin : "-");
}

static int parse_num(const char *s, double *out) {
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end && *out >= 0 ? 0 : -1;
}

int cmd_models(int argc, char **argv) {
    cli_registry_opts ro = {0};
    tok_model_filter f = tok_model_default_filter();
    bool json = false;
    const char *sub = NULL, *arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_registry_opt(&ro, "models", argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        double v;
        if (cli_is_help(a)) {
            printf("%s%s", MODELS_HELP, CLI_REGISTRY_HELP);
            return EXIT_OK;
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--all")) f.include_deprecated = true;
        else if (!strcmp(a, "--provider") || !strcmp(a, "--min-context") || !strcmp(a, "--max-input-price") ||
                 !strcmp(a, "--max-output-price")) {
            if (i + 1 >= argc) return cli_error("models", "option %s needs a value", a), EXIT_USAGE;
            const char *val = argv[++i];
            if (!strcmp(a, "--provider")) f.provider = val;
            else if (parse_num(val, &v)) return cli_error("models", "%s: '%s' is not a non-negative number", a, val), EXIT_USAGE;
            else if (!strcmp(a, "--min-context")) f.min_context = (int64_t)v;
            else if (!strcmp(a, "--max-input-price")) f.max_input_price = v;
            else f.max_output_price = v;
        } else if (a[0] == '-' && a[1]) return cli_error("models", "unknown option %s (see --help)", a), EXIT_USAGE;
        else if (!sub) sub = a;
        else if (!arg) arg = a;
        else return cli_error("models", "unexpected argument '%s'", a), EXIT_USAGE;
    }
    if (!sub) sub = "list";
    bool list = !strcmp(sub, "list"), search = !strcmp(sub, "search"), show = !strcmp(sub, "show");
    if (!list && !search && !show) return cli_error("models", "unknown subcommand '%s' (list, search, show)", sub), EXIT_USAGE;
    if ((search || show) && !arg) return cli_error("models", "%s needs an argument", sub), EXIT_USAGE;
    if (list && arg) return cli_error("models", "unexpected argument '%s'", arg), EXIT_USAGE;
    tok_registry *r = cli_registry_open("models", &ro);
    if (!r) return EXIT_RUNTIME;
    int status = EXIT_OK;
    if (show) {
        cli_model cm;
        status = cli_model_resolve("models", r, arg, &cm);
        if (status == EXIT_OK && json) {
            cJSON *o = model_json(r, cm.m);
            char *s = cJSON_PrintUnformatted(o);
            puts(s);
            free(s);
            cJSON_Delete(o);
        } else if (status == EXIT_OK) print_show(r, cm.m);
    } else {
        if (search) f.text = arg;
        size_t cap = tok_registry_count(r);
        const tok_model_entry **rows = calloc(cap + 1, sizeof *rows);
        size_t n = rows ? tok_registry_search(r, &f, rows, cap) : 0;
        if (json) {
            cJSON *arr = cJSON_CreateArray();
            for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, model_json(r, rows[i]));
            char *s = cJSON_PrintUnformatted(arr);
            puts(s);
            free(s);
            cJSON_Delete(arr);
        } else print_table(r, rows, n);
        if (!n && search) {
            cli_error("models", "no model matches '%s'", arg);
            status = EXIT_RUNTIME;
        }
        free(rows);
    }
    tok_registry_free(r);
    return status;
}
