/* tok inspect: a GGUF file's header, metadata (arrays abbreviated) and
 * tensor table, as text (like gguf-dump) or --json. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tok_engine.h"

#define ARRAY_PREVIEW 8

static void print_escaped(FILE *f, const char *s, uint64_t len, uint64_t max) {
    fputc('"', f);
    for (uint64_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fputc('"', f);
    if (len > max) fprintf(f, "...(%llu bytes)", (unsigned long long)len);
}

static void print_scalar(FILE *f, const tok_gguf *g, int64_t i) {
    int t = tok_gguf_kv_type(g, i);
    int64_t iv;
    double fv;
    if (t == TOK_GGUF_STRING) {
        const char *s = tok_gguf_kv_string(g, i);
        print_escaped(f, s, strlen(s), 200);
    } else if (t == TOK_GGUF_BOOL) {
        tok_gguf_kv_int(g, i, &iv);
        fputs(iv ? "true" : "false", f);
    } else if (t == TOK_GGUF_F32 || t == TOK_GGUF_F64) {
        tok_gguf_kv_float(g, i, &fv);
        fprintf(f, "%.9g", fv);
    } else if (t == TOK_GGUF_U64) {
        uint64_t u;
        tok_gguf_kv_uint(g, i, &u);
        fprintf(f, "%llu", (unsigned long long)u);
    } else {
        tok_gguf_kv_int(g, i, &iv);
        fprintf(f, "%lld", (long long)iv);
    }
}

static void print_array(FILE *f, const tok_gguf *g, int64_t i) {
    int et;
    uint64_t n;
    tok_gguf_kv_array(g, i, &et, &n);
    fputc('[', f);
    for (uint64_t j = 0; j < n && j < ARRAY_PREVIEW && et != TOK_GGUF_ARRAY; j++) {
        if (j) fputs(", ", f);
        if (et == TOK_GGUF_STRING) {
            tok_gguf_str s = tok_gguf_array_string(g, i, j);
            print_escaped(f, s.s, s.len, 40);
        } else if (et == TOK_GGUF_F32 || et == TOK_GGUF_F64) {
            fprintf(f, "%.6g", tok_gguf_array_float(g, i, j));
        } else if (et == TOK_GGUF_U64) {
            fprintf(f, "%llu", (unsigned long long)tok_gguf_array_int(g, i, j));
        } else {
            fprintf(f, "%lld", (long long)tok_gguf_array_int(g, i, j));
        }
    }
    if (n > ARRAY_PREVIEW || (et == TOK_GGUF_ARRAY && n)) fputs(", ...", f);
    fputc(']', f);
}

static void shape_str(const tok_gguf_tensor *t, char *buf, size_t cap) {
    size_t o = 0;
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", d ? " x " : "", (long long)t->ne[d]);
}

static void print_text(const tok_gguf *g) {
    printf("* File: %s\n* GGUF v%u, %lld key/value pairs, %lld tensors, alignment %u, data at byte %llu\n",
           tok_gguf_path(g), tok_gguf_version(g), (long long)tok_gguf_n_kv(g),
           (long long)tok_gguf_n_tensors(g), tok_gguf_alignment(g),
           (unsigned long long)tok_gguf_data_offset(g));
    printf("\n* Metadata:\n");
    for (int64_t i = 0; i < tok_gguf_n_kv(g); i++) {
        int t = tok_gguf_kv_type(g, i);
        printf("%5lld: %-40s ", (long long)i + 1, tok_gguf_key(g, i));
        if (t == TOK_GGUF_ARRAY) {
            int et;
            uint64_t n;
            tok_gguf_kv_array(g, i, &et, &n);
            printf("%s[%llu] = ", tok_gguf_type_name(et), (unsigned long long)n);
            print_array(stdout, g, i);
        } else {
            printf("%-10s = ", tok_gguf_type_name(t));
            print_scalar(stdout, g, i);
        }
        putchar('\n');
    }
    printf("\n* Tensors:\n%5s  %-32s %-6s %-22s %12s\n", "#", "name", "type", "shape (ne)", "bytes");
    uint64_t total = 0;
    for (int64_t i = 0; i < tok_gguf_n_tensors(g); i++) {
        const tok_gguf_tensor *t = tok_gguf_tensor_at(g, i);
        char shape[96];
        shape_str(t, shape, sizeof shape);
        printf("%5lld  %-32s %-6s %-22s %12llu\n", (long long)i + 1, t->name, tok_tensor_type_name(t->type),
               shape, (unsigned long long)t->nbytes);
        total += t->nbytes;
    }
    printf("\n* Total tensor bytes: %llu\n", (unsigned long long)total);
}

static cJSON *json_value(const tok_gguf *g, int64_t i) {
    int t = tok_gguf_kv_type(g, i);
    int64_t iv;
    double fv;
    if (t == TOK_GGUF_STRING) return cJSON_CreateString(tok_gguf_kv_string(g, i));
    if (t == TOK_GGUF_BOOL) { tok_gguf_kv_int(g, i, &iv); return cJSON_CreateBool(iv != 0); }
    if (t == TOK_GGUF_F32 || t == TOK_GGUF_F64) { tok_gguf_kv_float(g, i, &fv); return cJSON_CreateNumber(fv); }
    if (t != TOK_GGUF_ARRAY) {
        if (t == TOK_GGUF_U64) { uint64_t u; tok_gguf_kv_uint(g, i, &u); return cJSON_CreateNumber((double)u); }
        tok_gguf_kv_int(g, i, &iv);
        return cJSON_CreateNumber((double)iv);
    }
    int et;
    uint64_t n;
    tok_gguf_kv_array(g, i, &et, &n);
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "type", tok_gguf_type_name(et));
    cJSON_AddNumberToObject(o, "count", (double)n);
    for (uint64_t j = 0; j < n && j < ARRAY_PREVIEW && et != TOK_GGUF_ARRAY; j++) {
        if (et == TOK_GGUF_STRING) {
            tok_gguf_str s = tok_gguf_array_string(g, i, j);
            char *c = strndup(s.s, s.len);
            cJSON_AddItemToArray(items, cJSON_CreateString(c ? c : ""));
            free(c);
        } else if (et == TOK_GGUF_F32 || et == TOK_GGUF_F64) {
            cJSON_AddItemToArray(items, cJSON_CreateNumber(tok_gguf_array_float(g, i, j)));
        } else {
            cJSON_AddItemToArray(items, cJSON_CreateNumber((double)tok_gguf_array_int(g, i, j)));
        }
    }
    cJSON_AddItemToObject(o, "first", items);
    return o;
}

static void print_json(const tok_gguf *g) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", tok_gguf_path(g));
    cJSON_AddNumberToObject(root, "version", tok_gguf_version(g));
    cJSON_AddNumberToObject(root, "alignment", tok_gguf_alignment(g));
    cJSON_AddNumberToObject(root, "data_offset", (double)tok_gguf_data_offset(g));
    cJSON *md = cJSON_AddObjectToObject(root, "metadata");
    for (int64_t i = 0; i < tok_gguf_n_kv(g); i++) cJSON_AddItemToObject(md, tok_gguf_key(g, i), json_value(g, i));
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    for (int64_t i = 0; i < tok_gguf_n_tensors(g); i++) {
        const tok_gguf_tensor *t = tok_gguf_tensor_at(g, i);
        cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", tok_tensor_type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddItemToArray(ts, o);
    }
    char *s = cJSON_Print(root);
    if (s) puts(s);
    free(s);
    cJSON_Delete(root);
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: tok inspect [--json] FILE.gguf\n\n"
                   "Prints a GGUF file's header, metadata (arrays abbreviated to their first %d\n"
                   "elements) and tensor table (name, type, shape with ne[0] first, bytes).\n",
                   ARRAY_PREVIEW);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("inspect", "unknown option '%s' (see 'tok inspect --help')", argv[i]);
            return EXIT_USAGE;
        } else if (path) {
            cli_error("inspect", "only one file can be inspected at a time");
            return EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        cli_error("inspect", "missing FILE.gguf (see 'tok inspect --help')");
        return EXIT_USAGE;
    }
    tok_error err = {0};
    tok_gguf *g = tok_gguf_open(path, &err);
    if (!g) {
        cli_error("inspect", "%s", err.msg);
        return EXIT_RUNTIME;
    }
    if (json) print_json(g);
    else print_text(g);
    tok_gguf_close(g);
    return EXIT_OK;
}
