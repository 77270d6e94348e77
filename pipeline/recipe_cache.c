/*
 * The call cache of `tok run --cache DIR`: a model call whose result is
 * determined by its inputs (greedy, or sampled with a fixed seed) is stored
 * under a key made of everything that decides it: the model file (path,
 * size, modification time), the context size, the exact prompt ids, and the sampling settings
 * (temperature, top-p, top-k, seed, max_tokens, stop strings, attempt). A
 * later run that makes the same call reads the answer back instead of
 * generating: recipe development reruns a chain without paying for the
 * steps that did not change. Entries are files named by a 128-bit hash of
 * the key; each holds the whole key too, so a hash collision is a miss,
 * never a wrong answer. Writes go to a temporary file renamed into place, so
 * concurrent runs sharing a cache see whole entries or none.
 * Cost: one stat of the model, a hash of the prompt ids, one small file read
 * (hit) or write (miss) per call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe_internal.h"

/* The key as text: readable in the entry file, compared whole on a hit. */
static char *make_key(const char *model_path, int n_ctx, const tok_ids *prompt, const rc_sampling *m, int attempt) {
    struct stat st;
    if (!model_path || stat(model_path, &st)) return NULL; /* no file, no identity: not cacheable */
    tok_bytes b = {0};
    char head[4600];
    snprintf(head, sizeof head,
             "v1 model=%s size=%lld mtime=%lld.%09ld n_ctx=%d temp=%.9g top_p=%.9g top_k=%d seed=%lld max=%d attempt=%d stop=",
             model_path, (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, n_ctx,
             (double)m->temperature, (double)m->top_p, m->top_k, (long long)m->seed, m->max_tokens, attempt);
    tok_bytes_append(&b, head, strlen(head));
    for (size_t i = 0; i < m->n_stop; i++) {
        char len[24];
        snprintf(len, sizeof len, "%zu:", strlen(m->stop[i]));
        tok_bytes_append(&b, len, strlen(len));
        tok_bytes_append(&b, m->stop[i], strlen(m->stop[i]));
    }
    tok_bytes_append(&b, " ids=", 5);
    for (size_t i = 0; i < prompt->n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%s%d", i ? "," : "", prompt->ids[i]);
        tok_bytes_append(&b, id, strlen(id));
    }
    if (tok_bytes_append(&b, "", 0)) {
        tok_bytes_free(&b);
        return NULL;
    }
    return b.data;
}

static uint64_t fnv1a(const char *s, uint64_t h) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static void entry_path(const char *dir, const char *key, char *out, size_t cap) {
    snprintf(out, cap, "%s/%016llx%016llx.json", dir, (unsigned long long)fnv1a(key, 0xcbf29ce484222325ULL),
             (unsigned long long)fnv1a(key, 0x84222325cbf29ce4ULL));
}

bool rc_cacheable(const rc_sampling *m) { return m->temperature == 0 || m->seed >= 0; }

int rc_cache_get(const char *dir, const char *model_path, int n_ctx, const tok_ids *prompt, const rc_sampling *m, int attempt,
                 rc_cached *out) {
    memset(out, 0, sizeof *out);
    char *key = make_key(model_path, n_ctx, prompt, m, attempt);
    if (!key) return 0;
    char path[4600];
    entry_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    tok_bytes b = {0};
    if (f) {
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) tok_bytes_append(&b, buf, n);
        fclose(f);
    }
    int hit = 0;
    cJSON *o = b.data ? cJSON_ParseWithLength(b.data, b.n) : NULL;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "key"), *t = cJSON_GetObjectItemCaseSensitive(o, "text"),
                *c = cJSON_GetObjectItemCaseSensitive(o, "completion_tokens"),
                *r = cJSON_GetObjectItemCaseSensitive(o, "stop_reason");
    if (cJSON_IsString(k) && !strcmp(k->valuestring, key) && cJSON_IsString(t) && cJSON_IsNumber(c) &&
        cJSON_IsString(r) && (out->text = strdup(t->valuestring)) && (out->stop_reason = strdup(r->valuestring))) {
        out->completion_tokens = c->valueint;
        hit = 1;
    }
    if (!hit) free(out->text), out->text = NULL;
    cJSON_Delete(o);
    tok_bytes_free(&b);
    free(key);
    return hit;
}

void rc_cache_put(const char *dir, const char *model_path, int n_ctx, const tok_ids *prompt, const rc_sampling *m, int attempt,
                  const char *text, int completion_tokens, const char *stop_reason) {
    char *key = make_key(model_path, n_ctx, prompt, m, attempt);
    if (!key) return;
    char path[4600], tmp[4700];
    entry_path(dir, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddNumberToObject(o, "completion_tokens", completion_tokens);
    cJSON_AddStringToObject(o, "stop_reason", stop_reason ? stop_reason : "");
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(key);
    if (!json) return;
    mkdir(dir, 0777); /* one level; a failure shows as a failed open below */
    FILE *f = fopen(tmp, "wb");
    /* a cache that cannot be written only costs speed: the run goes on */
    if (f) {
        bool ok = fputs(json, f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (!ok || rename(tmp, path)) unlink(tmp);
    }
    free(json);
}
