/*
 * One attention head of one query token over n cached positions: scores
 * q·k_p · scale, softmax, o = Σ_p a_p · v_p (attend.c). K and V rows are
 * `stride` floats apart (the KV cache interleaves the KV heads).
 */
#ifndef TOK_ATTEND_H
#define TOK_ATTEND_H
#include <stddef.h>
#include <stdint.h>

/* att: scratch of n floats. Plain C. */
void attend_head_ref(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o);
/* The fast version. A call depends only on its arguments, so a prompt batch
 * gives the same outputs as one token at a time. */
void attend_head(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                 float *att, float *o);
/* The same over an F16 cache, with the query and each softmax weight
 * rounded to F16 before they meet K and V (as llama.cpp's F16 KV path):
 * otherwise the F32 versions' float steps. */
void attend_head_f16_ref(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd,
                         float scale, float *att, float *o);
void attend_head_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o);
/* The queries of nq consecutive tokens of one head, query i over n + i
 * positions: o[i] is attend_head's (attend_head_f16's) result bit for bit,
 * but with AVX-512 the positions all of them see are walked once for up
 * to four queries together (prompt batches). att: scratch of nq rows of
 * att_stride >= n + nq floats. */
void attend_heads(const float *const *q, const float *k, const float *v, size_t stride, int n, int nq, int hd,
                  float scale, float *att, size_t att_stride, float *const *o);
void attend_heads_f16(const float *const *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int nq,
                      int hd, float scale, float *att, size_t att_stride, float *const *o);
/* The query heads of one token that share a KV head (GQA), all over the
 * same n positions: o[i] is attend_head's (attend_head_f16's) result bit
 * for bit, the positions walked once for up to four queries together
 * with AVX-512, as attend_heads. att: nq rows of att_stride >= n floats. */
void attend_group(const float *const *q, const float *k, const float *v, size_t stride, int n, int nq, int hd,
                  float scale, float *att, size_t att_stride, float *const *o);
void attend_group_f16(const float *const *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int nq,
                      int hd, float scale, float *att, size_t att_stride, float *const *o);
/* The eight-lane (AVX2) kernels: where the build has AVX-512, attend_head
 * and attend_head_f16 run sixteen-lane ones, which must equal these bit
 * for bit (tests); elsewhere these are the ones they run. */
void attend_head8(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                  float *att, float *o);
void attend_head8_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd,
                      float scale, float *att, float *o);
#endif
