/*
 * Inline AVX2 helpers shared by the one-column (quant_avx2.c) and the
 * four-column (quant_avx2_multi.c) dot kernels. Both files must compute a
 * column with the same instructions in the same order, so that evaluating a
 * prompt in a batch gives bit-identical results to one token at a time.
 * Include only under the AVX2/FMA/F16C guard.
 */
#ifndef TOK_QUANT_AVX2_H
#define TOK_QUANT_AVX2_H
#include <immintrin.h>

#include "engine.h"
#include "quant.h"

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
/* 32 signed bytes · 32 signed bytes -> 8 int32 partial sums. */
static inline __m256i dot_i8(__m256i a, __m256i b) {
    __m256i ua = _mm256_sign_epi8(a, a), sb = _mm256_sign_epi8(b, a);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ua, sb), _mm256_set1_epi16(1));
}
/* 16 bytes of packed nibbles -> 32 bytes: low nibbles, then high nibbles. */
static inline __m256i unpack_nibbles(const uint8_t *p) {
    __m128i t = _mm_loadu_si128((const __m128i *)p);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* The 8 scales and 8 mins of a Q4_K/Q5_K super-block (see k_scale_min). */
static inline void k_scales(const uint8_t *q, int16_t sc[8], int16_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 15) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}
static inline int k_min_sum(const int16_t m[8], const int16_t *bsums) {
    int s = 0;
    for (int j = 0; j < 8; j++) s += m[j] * (bsums[2 * j] + bsums[2 * j + 1]);
    return s;
}
#endif
