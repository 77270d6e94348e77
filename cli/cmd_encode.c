/* tok encode / tok decode: text to ids and back, one text or JSONL streams. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "tok_opts.h"

static const char ENCODE_HELP[] =
    "usage: tok encode [-t TOKENIZER] [OPTIONS] [FILE... | -p TEXT]\n"
    "Prints the token ids of each file (or standard input, or TEXT), space-separated.\n\n"
    "  -p, --text TEXT        encode TEXT instead of files\n"
    "      --json             print {\"ids\": [...], \"count\": N} per input\n"
    "      --jsonl            read {\"text\": ...} lines, write {\"ids\": [...]} lines in order\n"
    "      --threads N        threads for --jsonl (default: all cores)\n";

static const char DECODE_HELP[] =
    "usage: tok decode [-t TOKENIZER] [OPTIONS] [ID...]\n"
    "Prints the text of the ids given as arguments or read from standard input\n"
    "(separated by spaces, commas or newlines; a JSON array works too).\n\n"
    "      --jsonl            read {\"ids\": [...]} lines, write {\"text\": ...} lines\n"
    "      --skip-special     leave special tokens out\n"
    "  -t, --tokenizer SPEC   as for tok encode\n";

/* Reads JSONL lines in blocks, encodes each block with the batch API. */
static int encode_jsonl(tok_tokenizer *t, tok_opts *o, FILE *in, int threads) {
    enum { BLOCK = 4096 };
    char **texts = calloc(BLOCK, sizeof *texts);
    size_t *linenos = calloc(BLOCK, sizeof *linenos);
    size_t *lens = calloc(BLOCK, sizeof *lens);
    tok_ids *outs = calloc(BLOCK, sizeof *outs);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int status = EXIT_OK;
    if (!texts || !lens || !outs || !linenos) {
        cli_error("encode", "out of memory");
        status = EXIT_RUNTIME;
    }
    for (bool eof = false; !eof && status == EXIT_OK;) {
        size_t n = 0;
        while (n < BLOCK) {
            ssize_t k = getline(&line, &cap, in);
            if (k < 0) {
                eof = true;
                break;
            }
            lineno++;
            if (k <= 1 && (k == 0 || line[0] == '\n')) continue;
            if (json_line_string(line, (size_t)k, "text", &texts[n], &lens[n])) {
                cli_error("encode", "stdin:%zu: expected {\"text\": \"...\"}", lineno);
                status = EXIT_RUNTIME;
                break;
            }
            linenos[n++] = lineno;
        }
        if (status != EXIT_OK) {
            for (size_t i = 0; i < n; i++) free(texts[i]);
            break;
        }
        tok_error err = {0};
        if (n && tok_encode_batch(t, (const char *const *)texts, lens, n, &o->params, threads, outs, &err)) {
            /* find the first failing record again to name its line */
            for (size_t i = 0; i < n; i++) {
                tok_ids tmp = {0};
                int rc = tok_encode(t, texts[i], lens[i], &o->params, &tmp, &err);
                tok_ids_free(&tmp);
                if (rc) {
                    cli_error("encode", "line %zu: %s", linenos[i], err.msg);
                    break;
                }
            }
            status = EXIT_RUNTIME;
        }
        for (size_t i = 0; i < n; i++) {
            if (status == EXIT_OK) {
                fputs("{\"ids\":", stdout);
                json_write_ids(stdout, outs[i].ids, outs[i].n);
                fputs("}\n", stdout);
            }
            outs[i].n = 0;
            free(texts[i]);
        }
    }
    for (size_t i = 0; outs && i < BLOCK; i++) tok_ids_free(&outs[i]);
    free(outs);
    free(lens);
    free(linenos);
    free(texts);
    free(line);
    return status;
}

static int encode_one(tok_tokenizer *t, tok_opts *o, const char *name, const char *text, size_t len, bool json) {
    tok_ids ids = {0};
    tok_error err = {0};
    if (tok_encode(t, text, len, &o->params, &ids, &err)) {
        cli_error("encode", "%s: %s", name, err.msg);
        tok_ids_free(&ids);
        return EXIT_RUNTIME;
    }
    if (json) {
        fputs("{\"ids\":", stdout);
        json_write_ids(stdout, ids.ids, ids.n);
        printf(",\"count\":%zu}\n", ids.n);
    } else {
        for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.ids[i]);
        putchar('\n');
    }
    tok_ids_free(&ids);
    return EXIT_OK;
}

int cmd_encode(int argc, char **argv) {
    tok_opts o = {0};
    const char *text = NULL;
    bool json = false, jsonl = false;
    int threads = 0, nfiles = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    for (int i = 1; i < argc; i++) {
        int r = tok_opts_parse(&o, "encode", argc, argv, &i);
        if (r < 0) return free(files), EXIT_USAGE;
        if (r) continue;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf("%s%s", ENCODE_HELP, TOK_OPTS_HELP);
            free(files);
            return EXIT_OK;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--text")) {
            if (++i >= argc) return cli_error("encode", "%s needs a value", a), free(files), EXIT_USAGE;
            text = argv[i];
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--jsonl")) jsonl = true;
        else if (!strcmp(a, "--threads")) {
            if (++i >= argc || (threads = atoi(argv[i])) < 0) return cli_error("encode", "--threads needs a number"), free(files), EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) return cli_error("encode", "unknown option %s (see --help)", a), free(files), EXIT_USAGE;
        else files[nfiles++] = argv[i];
    }
    tok_tokenizer *t = tok_opts_load(&o, "encode");
    int status = t ? EXIT_OK : EXIT_RUNTIME;
    if (t && jsonl) {
        FILE *in = nfiles ? fopen(files[0], "rb") : stdin;
        if (!in) cli_error("encode", "%s: cannot open", files[0]), status = EXIT_RUNTIME;
        else status = encode_jsonl(t, &o, in, threads);
        if (in && in != stdin) fclose(in);
    } else if (t && text) status = encode_one(t, &o, "text", text, strlen(text), json);
    else if (t) {
        if (!nfiles) files[nfiles++] = "-";
        for (int f = 0; f < nfiles && status == EXIT_OK; f++) {
            size_t len;
            char *data = cli_read_file(files[f], &len);
            if (!data) {
                cli_error("encode", "%s: cannot read", files[f]);
                status = EXIT_RUNTIME;
                break;
            }
            status = encode_one(t, &o, strcmp(files[f], "-") ? files[f] : "stdin", data, len, json);
            free(data);
        }
    }
    tok_free(t);
    tok_opts_free(&o);
    free(files);
    return status;
}

/* ---- decode ----------------------------------------------------------------- */

static int decode_ids(tok_tokenizer *t, const int32_t *ids, size_t n, bool skip, tok_bytes *out, const char *where) {
    tok_error err = {0};
    out->n = 0;
    if (tok_decode(t, ids, n, skip, out, &err)) {
        cli_error("decode", "%s: %s", where, err.msg);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

static int decode_jsonl(tok_tokenizer *t, bool skip) {
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    tok_ids ids = {0};
    tok_bytes out = {0};
    int status = EXIT_OK;
    ssize_t k;
    while (status == EXIT_OK && (k = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (k <= 1 && (k == 0 || line[0] == '\n')) continue;
        cJSON *obj = cJSON_ParseWithLength(line, (size_t)k);
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "ids"), *it;
        char where[64];
        snprintf(where, sizeof where, "stdin:%zu", lineno);
        if (!cJSON_IsArray(arr)) {
            cli_error("decode", "%s: expected {\"ids\": [...]}", where);
            status = EXIT_RUNTIME;
        }
        ids.n = 0;
        cJSON_ArrayForEach(it, arr) {
            if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int32_t)it->valuedouble) {
                cli_error("decode", "%s: ids must be integers", where);
                status = EXIT_RUNTIME;
                break;
            }
            int32_t id = (int32_t)it->valuedouble;
            if (tok_ids_append(&ids, &id, 1)) { status = EXIT_RUNTIME; break; }
        }
        cJSON_Delete(obj);
        if (status == EXIT_OK) status = decode_ids(t, ids.ids, ids.n, skip, &out, where);
        if (status == EXIT_OK) {
            /* JSON needs valid UTF-8: byte tokens that split a character show as U+FFFD */
            size_t bad = tok_utf8_check(out.data, out.n);
            fputs("{\"text\":", stdout);
            if (bad == out.n) json_write_string(stdout, out.data, out.n);
            else {
                /* re-decode lossily by replacing invalid bytes */
                tok_bytes fixed = {0};
                for (size_t i = 0; i < out.n;) {
                    size_t good = tok_utf8_check(out.data + i, out.n - i);
                    tok_bytes_append(&fixed, out.data + i, good);
                    i += good;
                    if (i < out.n) {
                        tok_bytes_append(&fixed, "\xEF\xBF\xBD", 3);
                        i++;
                    }
                }
                json_write_string(stdout, fixed.data, fixed.n);
                tok_bytes_free(&fixed);
            }
            fputs("}\n", stdout);
        }
    }
    free(line);
    tok_ids_free(&ids);
    tok_bytes_free(&out);
    return status;
}

int cmd_decode(int argc, char **argv) {
    tok_opts o = {0};
    bool jsonl = false, skip = false;
    tok_ids ids = {0};
    int status = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int r = tok_opts_parse(&o, "decode", argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r) continue;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            printf("%s", DECODE_HELP);
            return EXIT_OK;
        } else if (!strcmp(a, "--jsonl")) jsonl = true;
        else if (!strcmp(a, "--skip-special")) skip = true;
        else {
            char *end;
            long v = strtol(a, &end, 10);
            if (*end || end == a) {
                cli_error("decode", "not an id: '%s' (see --help)", a);
                tok_ids_free(&ids);
                return EXIT_USAGE;
            }
            int32_t id = (int32_t)v;
            if (tok_ids_append(&ids, &id, 1)) return EXIT_RUNTIME;
        }
    }
    tok_tokenizer *t = tok_opts_load(&o, "decode");
    if (!t) status = EXIT_RUNTIME;
    else if (jsonl) status = decode_jsonl(t, skip);
    else {
        if (!ids.n) {
            size_t len;
            char *data = cli_read_file("-", &len);
            for (char *s = data; s && *s;) {
                while (*s && !(*s == '-' || (*s >= '0' && *s <= '9'))) s++;
                if (!*s) break;
                char *end;
                long v = strtol(s, &end, 10);
                if (end == s) break;
                int32_t id = (int32_t)v;
                if (tok_ids_append(&ids, &id, 1)) break;
                s = end;
            }
            free(data);
        }
        tok_bytes out = {0};
        status = decode_ids(t, ids.ids, ids.n, skip, &out, "ids");
        if (status == EXIT_OK) fwrite(out.data, 1, out.n, stdout);
        tok_bytes_free(&out);
    }
    tok_free(t);
    tok_opts_free(&o);
    tok_ids_free(&ids);
    return status;
}
