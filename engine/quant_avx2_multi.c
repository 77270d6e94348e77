/*
 * Four-column AVX2 dot kernels: one weight row against four activation rows
 * (out[c] = row · x_c, x_c = x + c·x_stride bytes), for prompt processing.
 *
 * Why: in a batch every weight row meets every token. Loading and unpacking
 * a weight block (nibbles to bytes, K-quant scales) once and feeding it to
 * four accumulators divides that work by four and keeps the row in
 * registers/L1, the register-blocking idea of llama.cpp's GEMM paths.
 *
 * Each column is computed with exactly the instructions, in exactly the
 * order, of the one-column kernel in quant_avx2.c (shared helpers in
 * quant_avx2.h), so a batch gives bit-identical logits to one token at a
 * time; tests/unit/test_kernels.c checks that equality and the agreement
 * with the plain C reference. Cost: the same integer work per column as the
 * one-column kernel minus the weight unpacking; no memory beyond registers.
 */
#include "engine.h"
#include "quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "quant_avx2.h"

#define COL(x, xs, c) ((const void *)((const char *)(x) + (size_t)(c) * (xs)))

static void dot4_q8_0_avx2(int n, const void *w, const void *x, size_t xs, float out[4]) {
    const blk_q8_0 *a = w;
    const blk_q8_0 *b0 = COL(x, xs, 0), *b1 = COL(x, xs, 1), *b2 = COL(x, xs, 2), *b3 = COL(x, xs, 3);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int i = 0; i < n / QK; i++) {
        __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        float da = fp16_to_fp32(a[i].d);
#define STEP(b, acc)                                                                                  \
    acc = _mm256_fmadd_ps(_mm256_set1_ps(da * fp16_to_fp32(b[i].d)),                                  \
                          _mm256_cvtepi32_ps(dot_i8(qa, _mm256_loadu_si256((const __m256i *)b[i].qs))), acc)
        STEP(b0, acc0); STEP(b1, acc1); STEP(b2, acc2); STEP(b3, acc3);
    }
    out[0] = hsum_ps(acc0); out[1] = hsum_ps(acc1); out[2] = hsum_ps(acc2); out[3] = hsum_ps(acc3);
}

static void dot4_q4_0_avx2(int n, const void *w, const void *x, size_t xs, float out[4]) {
    const blk_q4_0 *a = w;
    const blk_q8_0 *b0 = COL(x, xs, 0), *b1 = COL(x, xs, 1), *b2 = COL(x, xs, 2), *b3 = COL(x, xs, 3);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int i = 0; i < n / QK; i++) {
        __m256i qa = _mm256_sub_epi8(unpack_nibbles(a[i].qs), _mm256_set1_epi8(8));
        float da = fp16_to_fp32(a[i].d);
        STEP(b0, acc0); STEP(b1, acc1); STEP(b2, acc2); STEP(b3, acc3);
#undef STEP
    }
    out[0] = hsum_ps(acc0); out[1] = hsum_ps(acc1); out[2] = hsum_ps(acc2); out[3] = hsum_ps(acc3);
}

static void dot4_q4_K_avx2(int n, const void *w, const void *x, size_t xs, float out[4]) {
    const blk_q4_K *a = w;
    const blk_q8_K *b[4] = {COL(x, xs, 0), COL(x, xs, 1), COL(x, xs, 2), COL(x, xs, 3)};
    const __m256i m4 = _mm256_set1_epi8(15);
    float s[4] = {0, 0, 0, 0};
    for (int i = 0; i < n / QK_K; i++) {
        int16_t sc[8], m[8];
        k_scales(a[i].scales, sc, m);
        __m256i sum0 = _mm256_setzero_si256(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
        const uint8_t *q = a[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(q4, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            __m256i s0 = _mm256_set1_epi16(sc[j]), s1 = _mm256_set1_epi16(sc[j + 1]);
#define STEP(c, sum)                                                                                       \
    do {                                                                                                   \
        const int8_t *y = b[c][i].qs + 32 * j;                                                             \
        __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));                    \
        __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));             \
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p0, s0));                                            \
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p1, s1));                                            \
    } while (0)
            STEP(0, sum0); STEP(1, sum1); STEP(2, sum2); STEP(3, sum3);
#undef STEP
        }
        float d = fp16_to_fp32(a[i].d), dmin = fp16_to_fp32(a[i].dmin);
        __m256i sums[4] = {sum0, sum1, sum2, sum3};
        for (int c = 0; c < 4; c++)
            s[c] += d * b[c][i].d * (float)hsum_i32(sums[c]) - dmin * b[c][i].d * (float)k_min_sum(m, b[c][i].bsums);
    }
    for (int c = 0; c < 4; c++) out[c] = s[c];
}

static void dot4_q6_K_avx2(int n, const void *w, const void *x, size_t xs, float out[4]) {
    const blk_q6_K *a = w;
    const blk_q8_K *b[4] = {COL(x, xs, 0), COL(x, xs, 1), COL(x, xs, 2), COL(x, xs, 3)};
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    float s[4] = {0, 0, 0, 0};
    for (int i = 0; i < n / QK_K; i++) {
        __m256i sum0 = _mm256_setzero_si256(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qhp = a[i].qh + 32 * h;
            const int8_t *sc = a[i].scales + 8 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            for (int k = 0; k < 4; k++) {
                __m256i lo = k & 1 ? l1 : l0;
                lo = k & 2 ? _mm256_and_si256(_mm256_srli_epi16(lo, 4), m4) : _mm256_and_si256(lo, m4);
                __m256i hb = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2), 4);
                __m256i q = _mm256_or_si256(lo, hb);
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
#define STEP(c, sum)                                                                                       \
    do {                                                                                                   \
        __m256i yy = _mm256_loadu_si256((const __m256i *)(b[c][i].qs + 128 * h + 32 * k));                 \
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yy), _mm256_maddubs_epi16(k32, yy));          \
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, scv));                                            \
    } while (0)
                STEP(0, sum0); STEP(1, sum1); STEP(2, sum2); STEP(3, sum3);
#undef STEP
            }
        }
        float d = fp16_to_fp32(a[i].d);
        __m256i sums[4] = {sum0, sum1, sum2, sum3};
        for (int c = 0; c < 4; c++) s[c] += d * b[c][i].d * (float)hsum_i32(sums[c]);
    }
    for (int c = 0; c < 4; c++) out[c] = s[c];
}

quant_dot4_fn quant_dot4_avx2(int type) {
    switch (type) {
    case TOK_TYPE_Q8_0: return dot4_q8_0_avx2;
    case TOK_TYPE_Q4_0: return dot4_q4_0_avx2;
    case TOK_TYPE_Q4_K: return dot4_q4_K_avx2;
    case TOK_TYPE_Q6_K: return dot4_q6_K_avx2;
    default: return NULL;
    }
}
#else
quant_dot4_fn quant_dot4_avx2(int type) {
    (void)type;
    return NULL;
}
#endif

/* The reference four-column product: four one-column reference dots. */
void quant_dot4_ref(const quant_traits *t, int n, const void *w, const void *x, size_t xs, float out[4]) {
    for (int c = 0; c < 4; c++) t->dot_ref(n, w, (const char *)x + (size_t)c * xs, &out[c]);
}
