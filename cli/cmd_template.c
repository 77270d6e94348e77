/*
 * tok template render: renders a chat or prompt template (Jinja subset, see
 * docs/templates.md) with a JSON context, or a stream of
 * {"template", "context"} lines (--jsonl) to {"output"} / {"error"} lines.
 * Consecutive lines with the same template text reuse one parsed template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tok_pipeline.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: tok template render [--template FILE | -T STRING] [--context FILE.json] [--now TIME]\n"
            "       tok template render --jsonl [FILE] [--now TIME]\n"
            "\n"
            "Renders a Jinja chat or prompt template the way Hugging Face transformers'\n"
            "apply_chat_template does (trim_blocks, lstrip_blocks, tojson, raise_exception,\n"
            "strftime_now). The context is a JSON object: messages, add_generation_prompt,\n"
            "bos_token, tools, ... Without --template or -T the template is read from stdin.\n"
            "\n"
            "  --template, -t FILE   template file\n"
            "  -T STRING             template text\n"
            "  --context, -c FILE    JSON object with the variables (default: none)\n"
            "  --jsonl               read lines {\"template\": \"...\", \"context\": {...}} from FILE\n"
            "                        or stdin; write {\"output\": \"...\"} or {\"error\": \"...\"} per\n"
            "                        line, in order (for raise_exception the error is the\n"
            "                        template's own message)\n"
            "  --now 'YYYY-MM-DD HH:MM:SS'  the clock strftime_now reads (default: local time)\n"
            "\n"
            "Errors name the template, line and column: \"chat_template:3:17: unknown filter 'tojsn'\".\n"
            "Exit status: 0 success, 1 render or I/O failure, 2 usage error.\n");
}

static int parse_now(const char *s, tok_template_params *p) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end) end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end) return -1;
    p->fixed_now = true;
    p->now_unix = (int64_t)timegm(&tm);
    return 0;
}

static void print_json_line(const char *key, const char *value) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, value);
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    cJSON_Delete(o);
}

static int render_jsonl(const char *path, const tok_template_params *p) {
    FILE *f = path && strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("template", "%s: cannot open", path);
        return EXIT_RUNTIME;
    }
    char *line = NULL, *cached_src = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    tok_template *cached = NULL;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        char msg[640];
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)n);
        const char *src = rec ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "template")) : NULL;
        if (!rec || !src) {
            snprintf(msg, sizeof msg, "line %zu: %s", lineno,
                     rec ? "missing \"template\" string" : "not valid JSON");
            print_json_line("error", msg);
            cJSON_Delete(rec);
            continue;
        }
        tok_error err = {0};
        if (!cached || strcmp(cached_src, src)) {
            tok_template_free(cached);
            free(cached_src);
            cached_src = strdup(src);
            cached = tok_template_parse("chat_template", src, strlen(src), p, &err);
        }
        if (!cached) {
            print_json_line("error", err.msg);
            free(cached_src);
            cached_src = NULL;
        } else {
            tok_bytes out = {0};
            tok_template_diag d;
            const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(rec, "context");
            if (tok_template_render_diag(cached, ctx, &out, &err, &d))
                print_json_line("error", d.kind == TOK_TEMPLATE_ERAISE ? d.message : err.msg);
            else print_json_line("output", out.data);
            tok_bytes_free(&out);
        }
        cJSON_Delete(rec);
    }
    tok_template_free(cached);
    free(cached_src);
    free(line);
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (fflush(stdout) || bad) {
        cli_error("template", "I/O error");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

int cmd_template(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "render")) {
        cli_error("template", "unknown subcommand '%s' (see 'tok template --help')", argv[1]);
        return EXIT_USAGE;
    }
    const char *tpl_file = NULL, *tpl_text = NULL, *ctx_file = NULL, *jsonl_file = NULL;
    bool jsonl = false;
    tok_template_params p = tok_template_default_params();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (cli_is_help(a)) { usage(stdout); return EXIT_OK; }
        else if ((!strcmp(a, "--template") || !strcmp(a, "-t")) && has_val) tpl_file = argv[++i];
        else if (!strcmp(a, "-T") && has_val) tpl_text = argv[++i];
        else if ((!strcmp(a, "--context") || !strcmp(a, "-c")) && has_val) ctx_file = argv[++i];
        else if (!strcmp(a, "--jsonl")) jsonl = true;
        else if (!strcmp(a, "--now") && has_val) {
            if (parse_now(argv[++i], &p)) {
                cli_error("template", "--now: expected 'YYYY-MM-DD HH:MM:SS', got '%s'", argv[i]);
                return EXIT_USAGE;
            }
        } else if (jsonl && a[0] != '-' && !jsonl_file) jsonl_file = a;
        else {
            cli_error("template", "unknown or incomplete option '%s' (see 'tok template render --help')", a);
            return EXIT_USAGE;
        }
    }
    if (jsonl) {
        if (tpl_file || tpl_text || ctx_file) {
            cli_error("template", "--jsonl takes templates and contexts from its input lines");
            return EXIT_USAGE;
        }
        return render_jsonl(jsonl_file, &p);
    }
    if (tpl_file && tpl_text) {
        cli_error("template", "give either --template or -T, not both");
        return EXIT_USAGE;
    }
    size_t len = 0;
    char *src = NULL;
    const char *name = "template";
    if (tpl_text) {
        src = strdup(tpl_text);
        len = strlen(tpl_text);
    } else {
        name = tpl_file ? tpl_file : "<stdin>";
        src = cli_read_file(tpl_file ? tpl_file : "-", &len);
        if (!src) {
            cli_error("template", "%s: cannot read", name);
            return EXIT_RUNTIME;
        }
    }
    cJSON *ctx = NULL;
    if (ctx_file) {
        size_t clen;
        char *cj = cli_read_file(ctx_file, &clen);
        if (!cj) {
            cli_error("template", "%s: cannot read", ctx_file);
            free(src);
            return EXIT_RUNTIME;
        }
        ctx = cJSON_ParseWithLength(cj, clen);
        free(cj);
        if (!ctx || !cJSON_IsObject(ctx)) {
            cli_error("template", "%s: not a JSON object", ctx_file);
            cJSON_Delete(ctx);
            free(src);
            return EXIT_RUNTIME;
        }
    }
    tok_error err = {0};
    tok_template *t = tok_template_parse(name, src, len, &p, &err);
    free(src);
    int rc = EXIT_OK;
    if (!t) {
        cli_error("template", "%s", err.msg);
        rc = EXIT_RUNTIME;
    } else {
        tok_bytes out = {0};
        if (tok_template_render(t, ctx, &out, &err)) {
            cli_error("template", "%s", err.msg);
            rc = EXIT_RUNTIME;
        } else if (fwrite(out.data, 1, out.n, stdout) != out.n || fflush(stdout)) {
            cli_error("template", "cannot write the output");
            rc = EXIT_RUNTIME;
        }
        tok_bytes_free(&out);
        tok_template_free(t);
    }
    cJSON_Delete(ctx);
    return rc;
}
