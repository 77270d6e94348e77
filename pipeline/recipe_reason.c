/*
 * Reasoning output: models that think aloud wrap it in <think>...</think>
 * (DeepSeek-R1, Qwen3, QwQ), <thinking>...</thinking> or
 * <reasoning>...</reasoning> before the answer; the tag pair whose tag
 * appears first in the output is the one used. The answer (what later steps see) is the text outside
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
    static const char *const TAGS[][2] = {{"<think>", "</think>"}, {"<thinking>", "</thinking>"},
                                          {"<reasoning>", "</reasoning>"}};
    *answer = *reasoning = NULL;
    const char *o = NULL, *c = NULL, *first = NULL, *close = NULL;
    size_t lo = 0;
    for (size_t t = 0; t < sizeof TAGS / sizeof *TAGS; t++) {
        const char *to = strstr(text, TAGS[t][0]), *tc = strstr(text, TAGS[t][1]);
        const char *at = to && (!tc || to < tc) ? to : tc;
        if (at && (!first || at < first)) first = at, o = to, c = tc, lo = strlen(TAGS[t][0]), close = TAGS[t][1];
    }
    if (!first) return 0;
    if (c && (!o || c < o)) o = NULL; /* the closing tag first: reasoning from the start */
    else c = strstr(o + lo, close);
    const char *rs = o ? o + lo : text, *re = c ? c : text + strlen(text);
    const char *after = c ? c + strlen(close) : re;
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
