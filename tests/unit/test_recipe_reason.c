/* Recipes: <think>...</think> (or <thinking>, <reasoning>) reasoning is separated from the answer (the
 * answer is the step's output; the reasoning goes to the trace). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_pipeline.h"

static void one(const char *text, int want_rc, const char *want_answer, const char *want_reasoning) {
    char *a = (char *)1, *r = (char *)1;
    int rc = tok_recipe_split_reasoning(text, &a, &r);
    CHECK_EQ_INT(rc, want_rc);
    if (want_rc > 0) {
        CHECK_EQ_STR(a, want_answer);
        CHECK_EQ_STR(r, want_reasoning);
    } else
        CHECK(a == NULL && r == NULL);
    if (rc > 0) free(a), free(r);
}

int main(void) {
    one("no reasoning here", 0, NULL, NULL);
    one("<think>two and two</think>\n\nFour.", 1, "Four.", "two and two");
    one("Sure. <think>hmm</think> 4", 1, "Sure. 4", "hmm");
    one("<think>cut off by max_tokens", 1, "", "cut off by max_tokens");  /* unclosed */
    one("opened in the prompt</think>Answer", 1, "Answer", "opened in the prompt");
    one("<think></think>x", 1, "x", "");
    one("<think>a</think>b<think>c</think>d", 1, "b<think>c</think>d", "a"); /* the first block only */
    one("é<think>ü</think>ñ", 1, "éñ", "ü");
    /* the other tag pairs; the pair seen first wins */
    one("<thinking>plan</thinking>\nDone.", 1, "Done.", "plan");
    one("<reasoning>r</reasoning>ok", 1, "ok", "r");
    one("x</thinking>y", 1, "y", "x");
    one("<thinking>a <think>b</think> c</thinking>d", 1, "d", "a <think>b</think> c");
    one("<think>a</think><thinking>b</thinking>", 1, "<thinking>b</thinking>", "a");
    one("<thinker>no</thinker>", 0, NULL, NULL);
    return check_summary("test_recipe_reason");
}
