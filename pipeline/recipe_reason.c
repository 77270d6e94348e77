/*
 * Reasoning output: models that think aloud wrap it in <think>...</think>
 * before the answer. The answer (what later steps see) is the text outside
 * the first such block, with the whitespace that followed the block dropped;
 * the reasoning is the text inside, kept for the trace. An unclosed <think>
 * (max_tokens ran out mid-thought) makes everything after it reasoning and
 * the answer what came before it. A lone </think> with no opening tag (chat
 * templates that open the block in the prompt) ends reasoning that started
 * at the beginning of the output. Cost: two substring searches and a copy.
 */
#include <stdlib.h>
#include <string.h>

#include "tok_pipeline.h"

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

int tok_recipe_split_reasoning(const char *text, char **answer, char **reasoning) {
    static const char OPEN[] = "<think>", CLOSE[] = "</think>";
    *answer = *reasoning = NULL;
    const char *o = strstr(text, OPEN), *c = strstr(text, CLOSE);
    if (c && (!o || c < o)) o = NULL; /* </think> first: reasoning from the start */
    else if (!o) return 0;
    else c = strstr(o + sizeof OPEN - 1, CLOSE);
    const char *rs = o ? o + sizeof OPEN - 1 : text, *re = c ? c : text + strlen(text);
    const char *after = c ? c + sizeof CLOSE - 1 : re;
    while (*after == ' ' || *after == '\n' || *after == '\r' || *after == '\t') after++;
    size_t before = o ? (size_t)(o - text) : 0;
    *reasoning = dup_n(rs, (size_t)(re - rs));
    *answer = malloc(before + strlen(after) + 1);
    if (!*answer || !*reasoning) {
        free(*answer), free(*reasoning);
        *answer = *reasoning = NULL;
        return -1;
    }
    memcpy(*answer, text, before);
    strcpy(*answer + before, after);
    return 1;
}
