/*
 * tok cost: what sending these files to each model would cost, and whether
 * they fit. Each distinct tokenizer counts the input once (files streamed
 * with tok_counter, standard input read once into memory), so comparing ten
 * models that share o200k_base costs one count, not ten.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "registry_cli.h"

static const char COST_HELP[] =
    "usage: tok cost -m MODEL[,MODEL...] [--output-tokens N | --max-output] [--json] [FILE...|-]\n"
    "For each model: the input's tokens (counted with the model's tokenizer; '~' marks an\n"
    "approximate count where no public tokenizer exists), whether input plus output fits\n"
    "the context window, and the input, output and total cost in USD from the registry's\n"
    "prices. The table is sorted by total cost, cheapest first; an unknown price prints as\n"
    "'unknown' (never $0), a local .gguf model as 'local'. Input is standard input if no\n"
    "file is given.\n\n"
    "  -m, --model LIST       registry names (gpt-4o, claude-sonnet-4-5, anthropic:claude-3-5-haiku),\n"
    "                         local:FILE.gguf or FILE.gguf; repeat or separate with commas\n"
    "      --output-tokens N  price N output tokens [0]\n"
    "      --max-output       price each model's maximum output (unknown if the registry lacks it)\n"
    "      --date YYYY-MM-DD  prices in force on that day (dated price changes) [today]\n"
    "      --json             a JSON array in the order of -m: model, provider, tokenizer,\n"
    "                         approximate, input_tokens, context_window, fits, input_cost_usd,\n"
    "                         output_tokens, output_cost_usd, total_cost_usd (null = unknown)\n";

typedef struct row {
    cli_model cm;
    const char *name;
    int64_t in, out; /* out -1 unknown */
    tok_cost cost;
    int fits; /* 1, 0, -1 unknown */
    size_t order;
} row;

/* The input: file paths, with standard input read into memory once. */
#define MODEL(r) ((r)->cm.m ? (r)->cm.m : &(r)->cm.local)

typedef struct input {
    char **files;
    int n;
    char *stdin_buf;
    size_t stdin_len;
} input;

static int count_all(tok_tokenizer *t, const tok_encode_params *p, input *in, int64_t *total) {
    tok_error err = {0};
    *total = 0;
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf) return cli_error("cost", "out of memory"), EXIT_RUNTIME;
    int status = EXIT_OK;
    for (int f = 0; f < in->n && status == EXIT_OK; f++) {
        const char *path = in->files[f];
        tok_counter *c = tok_counter_new(t, p, &err);
        if (!c) {
            cli_error("cost", "%s", err.msg);
            status = EXIT_RUNTIME;
            break;
        }
        if (!strcmp(path, "-")) {
            if (tok_counter_feed(c, in->stdin_buf, in->stdin_len, &err)) status = EXIT_RUNTIME;
        } else {
            FILE *fp = fopen(path, "rb");
            if (!fp) {
                tok_counter_free(c);
                free(buf);
                cli_error("cost", "%s: cannot open", path);
                return EXIT_RUNTIME;
            }
            size_t got;
            while (status == EXIT_OK && (got = fread(buf, 1, CHUNK, fp)) > 0)
                if (tok_counter_feed(c, buf, got, &err)) status = EXIT_RUNTIME;
            if (ferror(fp)) status = EXIT_RUNTIME, snprintf(err.msg, sizeof err.msg, "read error");
            fclose(fp);
        }
        size_t n = 0;
        if (status == EXIT_OK && tok_counter_finish(c, &n, &err)) status = EXIT_RUNTIME;
        tok_counter_free(c);
        if (status != EXIT_OK) cli_error("cost", "%s: %s", strcmp(path, "-") ? path : "(stdin)", err.msg);
        *total += (int64_t)n;
    }
    free(buf);
    return status;
}

static int by_total(const void *a, const void *b) {
    const row *x = a, *y = b;
    /* unknown totals last, then cheapest first, then the order given */
    bool ux = x->cost.total_usd < 0, uy = y->cost.total_usd < 0;
    if (ux != uy) return ux ? 1 : -1;
    if (!ux && x->cost.total_usd != y->cost.total_usd) return x->cost.total_usd < y->cost.total_usd ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void json_num(double v) {
    if (v < 0) fputs("null", stdout);
    else printf("%.12g", v);
}

static void print_json(row *rows, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        const tok_model_entry *m = MODEL(r);
        fputs(i ? ",{\"model\":" : "{\"model\":", stdout);
        json_write_string(stdout, m->id, strlen(m->id));
        fputs(",\"provider\":", stdout);
        json_write_string(stdout, m->provider, strlen(m->provider));
        fputs(",\"tokenizer\":", stdout);
        json_write_string(stdout, r->cm.counting.spec, strlen(r->cm.counting.spec));
        printf(",\"approximate\":%s,\"input_tokens\":%lld,\"context_window\":", r->cm.counting.approximate ? "true" : "false",
               (long long)r->in);
        if (m->context_window < 0) fputs("null", stdout);
        else printf("%lld", (long long)m->context_window);
        printf(",\"fits\":%s,\"input_cost_usd\":", r->fits < 0 ? "null" : r->fits ? "true" : "false");
        json_num(r->cost.input_usd);
        fputs(",\"output_tokens\":", stdout);
        if (r->out < 0) fputs("null", stdout);
        else printf("%lld", (long long)r->out);
        fputs(",\"output_cost_usd\":", stdout);
        json_num(r->cost.output_usd);
        fputs(",\"total_cost_usd\":", stdout);
        json_num(r->cost.total_usd);
        putchar('}');
    }
    puts("]");
}

static void print_table(row *rows, size_t n) {
    qsort(rows, n, sizeof *rows, by_total);
    size_t w = 5;
    for (size_t i = 0; i < n; i++)
        if (strlen(MODEL(&rows[i])->id) > w) w = strlen(MODEL(&rows[i])->id);
    if (w > 48) w = 48;
    printf("%-*s %-12s %12s %10s %-5s %12s %10s %12s %12s\n", (int)w, "model", "provider", "input tok", "context",
           "fits", "input $", "output tok", "output $", "total $");
    bool any_approx = false;
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        const tok_model_entry *m = MODEL(r);
        char tk[32], cw[32], ot[32], a[32], b[32], c[32];
        snprintf(tk, sizeof tk, "%s%lld", r->cm.counting.approximate ? "~" : "", (long long)r->in);
        any_approx |= r->cm.counting.approximate;
        if (m->context_window < 0) snprintf(cw, sizeof cw, "-");
        else snprintf(cw, sizeof cw, "%lld", (long long)m->context_window);
        if (r->out < 0) snprintf(ot, sizeof ot, "unknown");
        else snprintf(ot, sizeof ot, "%lld", (long long)r->out);
        printf("%-*s %-12s %12s %10s %-5s %12s %10s %12s %12s\n", (int)w, m->id, m->provider, tk, cw,
               r->fits < 0 ? "?" : r->fits ? "yes" : "NO", cli_usd(a, sizeof a, r->cost.input_usd, m->local), ot,
               cli_usd(b, sizeof b, r->cost.output_usd, m->local), cli_usd(c, sizeof c, r->cost.total_usd, m->local));
    }
    for (size_t i = 0; i < n; i++)
        if (rows[i].cm.counting.approximate) printf("~ %s: %s\n", MODEL(&rows[i])->id, rows[i].cm.counting.note);
    for (size_t i = 0; i < n; i++) { /* the API would refuse such a completion */
        const tok_model_entry *m = MODEL(&rows[i]);
        if (m->max_output_tokens >= 0 && rows[i].out > m->max_output_tokens)
            printf("! %s: %lld output tokens exceed its output limit of %lld\n", m->id, (long long)rows[i].out,
                   (long long)m->max_output_tokens);
    }
    for (size_t i = 0; i < n; i++)
        if (rows[i].cost.tiered) printf("  %s: long-context price tier applied to the whole request\n", MODEL(&rows[i])->id);
    (void)any_approx;
    puts("Prices come from the registry (USD per million tokens); check them before quoting.");
}

int cmd_cost(int argc, char **argv) {
    cli_registry_opts ro = {0};
    bool json = false, max_output = false;
    long long out_tokens = 0;
    bool out_given = false;
    const char *date = NULL;
    char **models = calloc((size_t)argc + 1, sizeof *models);
    input in = {calloc((size_t)argc + 1, sizeof(char *)), 0, NULL, 0};
    size_t nm = 0;
    int status = EXIT_OK;
    row *rows = NULL;
    tok_registry *reg = NULL;
    for (int i = 1; i < argc && status == EXIT_OK; i++) {
        const char *a = argv[i];
        int r = cli_registry_opt(&ro, "cost", argc, argv, &i);
        if (r < 0) status = EXIT_USAGE;
        if (r) continue;
        if (cli_is_help(a)) {
            printf("%s%s", COST_HELP, CLI_REGISTRY_HELP);
            free(models), free(in.files);
            return EXIT_OK;
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--max-output")) max_output = true;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--output-tokens") || !strcmp(a, "--date")) {
            if (i + 1 >= argc) {
                cli_error("cost", "option %s needs a value", a);
                status = EXIT_USAGE;
                break;
            }
            char *v = argv[++i];
            if (!strcmp(a, "--date")) {
                date = v;
                if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
                    cli_error("cost", "--date: expected YYYY-MM-DD, got '%s'", v), status = EXIT_USAGE;
            } else if (!strcmp(a, "--output-tokens")) {
                char *end;
                out_tokens = strtoll(v, &end, 10);
                out_given = true;
                if (end == v || *end || out_tokens < 0)
                    cli_error("cost", "--output-tokens: '%s' is not a non-negative integer", v), status = EXIT_USAGE;
            } else
                for (char *save, *tk = strtok_r(v, ",", &save); tk; tk = strtok_r(NULL, ",", &save)) {
                    char **more = realloc(models, (nm + 2) * sizeof *models);
                    if (!more) {
                        cli_error("cost", "out of memory");
                        status = EXIT_RUNTIME;
                        break;
                    }
                    models = more;
                    models[nm++] = tk;
                }
        } else if (a[0] == '-' && a[1]) cli_error("cost", "unknown option %s (see --help)", a), status = EXIT_USAGE;
        else in.files[in.n++] = argv[i];
    }
    if (status == EXIT_OK && !nm) cli_error("cost", "no model given (-m MODEL[,MODEL...])"), status = EXIT_USAGE;
    if (status == EXIT_OK && max_output && out_given)
        cli_error("cost", "--output-tokens and --max-output exclude each other"), status = EXIT_USAGE;
    if (status != EXIT_OK) goto done;
    if (!in.n) in.files[in.n++] = "-";
    for (int f = 0; f < in.n; f++)
        if (!strcmp(in.files[f], "-") && !in.stdin_buf && !(in.stdin_buf = cli_read_file("-", &in.stdin_len))) {
            cli_error("cost", "cannot read standard input");
            status = EXIT_RUNTIME;
            goto done;
        }
    bool need_registry = false;
    for (size_t i = 0; i < nm; i++) {
        const char *p;
        need_registry |= !tok_model_is_local(models[i], &p);
    }
    if (need_registry && !(reg = cli_registry_open("cost", &ro))) {
        status = EXIT_RUNTIME;
        goto done;
    }
    rows = calloc(nm, sizeof *rows);
    for (size_t i = 0; i < nm && status == EXIT_OK; i++) {
        rows[i].order = i;
        rows[i].name = models[i];
        status = cli_model_resolve("cost", reg, models[i], &rows[i].cm);
        /* rows move when sorted: a local row is reached through MODEL() */
        if (status == EXIT_OK && rows[i].cm.m == &rows[i].cm.local) rows[i].cm.m = NULL;
    }
    /* count once per distinct tokenizer */
    for (size_t i = 0; i < nm && status == EXIT_OK; i++) {
        size_t j = 0;
        while (j < i && strcmp(rows[j].cm.counting.spec, rows[i].cm.counting.spec)) j++;
        if (j < i) {
            rows[i].in = rows[j].in;
            continue;
        }
        tok_error err = {0};
        tok_tokenizer *t = tok_model_counting_load(&rows[i].cm.counting, &err);
        if (!t) {
            cli_error("cost", "%s: %s", rows[i].name, err.msg);
            status = EXIT_RUNTIME;
            break;
        }
        tok_encode_params p = tok_encode_default_params();
        /* a GGUF model's prompt starts with its BOS, as llama.cpp counts it */
        p.add_special = rows[i].cm.m == NULL;
        status = count_all(t, &p, &in, &rows[i].in);
        tok_free(t);
    }
    for (size_t i = 0; i < nm && status == EXIT_OK; i++) {
        row *r = &rows[i];
        const tok_model_entry *m = MODEL(r);
        r->out = max_output ? m->max_output_tokens : out_tokens;
        if (max_output && m->local && m->max_output_tokens < 0 && m->context_window >= 0)
            r->out = m->context_window > r->in ? m->context_window - r->in : 0; /* a local model may fill its context */
        r->cost = tok_model_cost(reg, m, r->in, r->out, date);
        if (m->context_window < 0) r->fits = -1;
        else r->fits = r->in + (r->out > 0 ? r->out : 0) <= m->context_window;
    }
    if (status == EXIT_OK) {
        if (json) print_json(rows, nm);
        else print_table(rows, nm);
    }
done:
    free(rows);
    tok_registry_free(reg);
    free(in.stdin_buf);
    free(in.files);
    free(models);
    return status;
}
