/*
 * Template rendering speed: the Qwen2.5 chat template (as shipped in the
 * model's GGUF; tests/data/templates/qwen2.5.jinja) on a 20-message
 * conversation with tools, rendered many times from one parsed template.
 * Prints "template render (20 messages): N us/render" (median of 7 runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tok_pipeline.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/templates/qwen2.5.jinja";
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "bench_template: %s: cannot open\n", path); return 1; }
    static char src[65536];
    size_t n = fread(src, 1, sizeof src - 1, f);
    fclose(f);

    cJSON *ctx = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(ctx, "messages");
    for (int i = 0; i < 20; i++) {
        cJSON *m = cJSON_CreateObject();
        const char *role = i == 0 ? "system" : (i % 2 ? "user" : "assistant");
        char content[512];
        snprintf(content, sizeof content,
                 "Message %d: Please summarise the quarterly report, focusing on revenue, costs and the "
                 "outlook for the next two quarters; keep it under 200 words. \"Quotes\" and ünïcödé too.", i);
        cJSON_AddStringToObject(m, "role", role);
        cJSON_AddStringToObject(m, "content", content);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON *tools = cJSON_Parse("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
                               "\"Current weather\", \"parameters\": {\"type\": \"object\", \"properties\": "
                               "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}]");
    cJSON_AddItemToObject(ctx, "tools", tools);
    cJSON_AddBoolToObject(ctx, "add_generation_prompt", 1);

    tok_error err = {0};
    tok_template *t = tok_template_parse("chat_template", src, n, NULL, &err);
    if (!t) { fprintf(stderr, "bench_template: %s\n", err.msg); return 1; }
    tok_bytes out = {0};
    if (tok_template_render(t, ctx, &out, &err)) { fprintf(stderr, "bench_template: %s\n", err.msg); return 1; }
    size_t out_len = out.n;

    const int iters = 2000;
    double runs[7];
    for (int r = 0; r < 7; r++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++) {
            out.n = 0;
            tok_template_render(t, ctx, &out, &err);
        }
        runs[r] = (now_us() - t0) / iters;
    }
    qsort(runs, 7, sizeof *runs, cmp_double);
    printf("template render (20 messages): %.1f us/render (%zu bytes out)\n", runs[3], out_len);

    double t0 = now_us();
    for (int i = 0; i < 200; i++) tok_template_free(tok_template_parse("chat_template", src, n, NULL, &err));
    printf("template parse (qwen2.5, %zu bytes): %.1f us/parse\n", n, (now_us() - t0) / 200);
    tok_bytes_free(&out);
    tok_template_free(t);
    cJSON_Delete(ctx);
    return 0;
}
