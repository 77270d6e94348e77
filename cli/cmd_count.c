/* tok count: tokens, characters, words and bytes per file, streaming. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "registry_cli.h"
#include "tok_opts.h"

static const char COUNT_HELP[] =
    "usage: tok count [-t TOKENIZER | -m MODEL] [OPTIONS] [FILE...]\n"
    "Counts tokens, characters (code points), words (whitespace-separated) and bytes of\n"
    "each file (standard input if none) and prints a total. Files are streamed: memory\n"
    "does not grow with the file (cl100k_base: ~35 MB, the vocabulary and its caches).\n\n"
    "      --json             {\"files\": [{\"path\",\"tokens\",\"chars\",\"words\",\"bytes\"}], \"total\": {...}}\n"
    "                         (with -m also \"model\", \"tokenizer\", \"approximate\")\n"
    "  -m, --model MODEL      count with a registry model's tokenizer (see 'tok models'); models\n"
    "                         without a public tokenizer are counted with a stand-in, reported\n"
    "                         as approximate; local:FILE.gguf uses the file's vocabulary\n";

typedef struct counts {
    size_t tokens, chars, words, bytes;
} counts;

static int count_file(tok_tokenizer *t, tok_opts *o, const char *path, counts *c) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("count", "%s: cannot open", path);
        return EXIT_RUNTIME;
    }
    tok_error err = {0};
    tok_counter *ctr = tok_counter_new(t, &o->params, &err);
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    int status = ctr && buf ? EXIT_OK : EXIT_RUNTIME;
    bool in_word = false;
    memset(c, 0, sizeof *c);
    size_t got;
    while (status == EXIT_OK && (got = fread(buf, 1, CHUNK, f)) > 0) {
        c->bytes += got;
        for (size_t i = 0; i < got; i++) {
            unsigned char b = (unsigned char)buf[i];
            c->chars += (b & 0xC0) != 0x80;
            bool space = b == ' ' || (b >= 9 && b <= 13);
            if (!space && !in_word) c->words++;
            in_word = !space;
        }
        if (tok_counter_feed(ctr, buf, got, &err)) status = EXIT_RUNTIME;
    }
    if (status == EXIT_OK && ferror(f)) {
        cli_error("count", "%s: read error", path);
        status = EXIT_RUNTIME;
    } else if (status == EXIT_OK && tok_counter_finish(ctr, &c->tokens, &err))
        status = EXIT_RUNTIME;
    if (status != EXIT_OK && err.msg[0]) cli_error("count", "%s: %s", path, err.msg);
    tok_counter_free(ctr);
    free(buf);
    if (f != stdin) fclose(f);
    return status;
}

static void json_counts(const counts *c) {
    printf("\"tokens\":%zu,\"chars\":%zu,\"words\":%zu,\"bytes\":%zu", c->tokens, c->chars, c->words, c->bytes);
}

int cmd_count(int argc, char **argv) {
    tok_opts o = {0};
    bool json = false;
    int nfiles = 0;
    const char *model = NULL;
    cli_registry_opts ro = {0};
    cli_model cm = {0};
    char **files = calloc((size_t)argc + 1, sizeof *files);
    for (int i = 1; i < argc; i++) {
        int r = tok_opts_parse(&o, "count", argc, argv, &i);
        if (r < 0) return free(files), EXIT_USAGE;
        if (r) continue;
        if ((r = cli_registry_opt(&ro, "count", argc, argv, &i)) < 0) return free(files), EXIT_USAGE;
        if (r) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (i + 1 >= argc) return cli_error("count", "option %s needs a value", a), free(files), EXIT_USAGE;
            model = argv[++i];
            continue;
        }
        if (cli_is_help(a)) {
            printf("%s%s%s", COUNT_HELP, TOK_OPTS_HELP, CLI_REGISTRY_HELP);
            free(files);
            return EXIT_OK;
        } else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-' && a[1]) return cli_error("count", "unknown option %s (see --help)", a), free(files), EXIT_USAGE;
        else files[nfiles++] = argv[i];
    }
    if (!nfiles) files[nfiles++] = "-";
    if (model && o.tokenizer) return cli_error("count", "-m and -t exclude each other"), free(files), EXIT_USAGE;
    if (model) { /* the registry names the tokenizer; tok_opts loads it */
        const char *local;
        tok_registry *reg = tok_model_is_local(model, &local) ? NULL : cli_registry_open("count", &ro);
        int rs = reg || tok_model_is_local(model, &local) ? cli_model_resolve("count", reg, model, &cm) : EXIT_RUNTIME;
        tok_registry_free(reg);
        if (rs != EXIT_OK) return free(files), rs;
        o.tokenizer = cm.counting.spec;
        if (cm.counting.approximate) fprintf(stderr, "tok count: %s: %s\n", model, cm.counting.note);
    }
    tok_tokenizer *t = tok_opts_load(&o, "count");
    int status = t ? EXIT_OK : EXIT_RUNTIME;
    counts total = {0};
    counts *each = calloc((size_t)nfiles, sizeof *each);
    for (int f = 0; t && f < nfiles && status == EXIT_OK; f++) {
        status = count_file(t, &o, files[f], &each[f]);
        total.tokens += each[f].tokens;
        total.chars += each[f].chars;
        total.words += each[f].words;
        total.bytes += each[f].bytes;
    }
    if (status == EXIT_OK && json) {
        fputs("{\"files\":[", stdout);
        for (int f = 0; f < nfiles; f++) {
            fputs(f ? ",{\"path\":" : "{\"path\":", stdout);
            json_write_string(stdout, files[f], strlen(files[f]));
            putchar(',');
            json_counts(&each[f]);
            putchar('}');
        }
        fputs("],\"total\":{", stdout);
        json_counts(&total);
        putchar('}');
        if (model) {
            fputs(",\"model\":", stdout);
            json_write_string(stdout, model, strlen(model));
            fputs(",\"tokenizer\":", stdout);
            json_write_string(stdout, cm.counting.spec, strlen(cm.counting.spec));
            printf(",\"approximate\":%s", cm.counting.approximate ? "true" : "false");
        }
        fputs("}\n", stdout);
    } else if (status == EXIT_OK) {
        printf("%12s %12s %12s %12s  %s\n", "tokens", "chars", "words", "bytes", "file");
        for (int f = 0; f < nfiles; f++)
            printf("%12zu %12zu %12zu %12zu  %s\n", each[f].tokens, each[f].chars, each[f].words, each[f].bytes,
                   strcmp(files[f], "-") ? files[f] : "(stdin)");
        if (nfiles > 1)
            printf("%12zu %12zu %12zu %12zu  total\n", total.tokens, total.chars, total.words, total.bytes);
    }
    free(each);
    tok_free(t);
    tok_opts_free(&o);
    free(files);
    return status;
}
