/*
 * One attention head of one query token over n cached positions: scores
 * q·k_p · scale, softmax, o = Σ_p a_p · v_p (attend.c). K and V rows are
 * `stride` floats apart (the KV cache interleaves the KV heads).
 */
#ifndef TOK_ATTEND_H
#define TOK_ATTEND_H
#include <stddef.h>

/* att: scratch of n floats. Plain C. */
void attend_head_ref(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o);
/* The fast version. A call depends only on its arguments, so a prompt batch
 * gives the same outputs as one token at a time. */
void attend_head(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                 float *att, float *o);
#endif
