/*
 * Inline helpers shared by the AVX-512 sixteen-row kernels of the repacked
 * types (quant_q4x8.c, quant_q8x8.c, quant_q4kx8.c; the pair layout is in
 * repack.h). Include only where TOK_HAVE_X16 is defined.
 */
#ifndef TOK_QUANT_X16_H
#define TOK_QUANT_X16_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* four activation bytes broadcast to every 32-bit lane */
static inline __m512i bcast4z(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}
/* acc + the sixteen 4-byte dot products of w's unsigned bytes with the four
 * signed bytes at p, broadcast (vpdpbusd with a broadcast memory operand:
 * GCC 12 loads the broadcast with an instruction of its own when written
 * with _mm512_set1_epi32, one more per four products) */
typedef int32_t __attribute__((may_alias, aligned(1))) unaligned_i32;
static inline __m512i dpbusd_b4(__m512i acc, __m512i w, const int8_t *p) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const unaligned_i32 *)p));
    return acc;
}
/* start + the dot products of 32 values of sixteen rows, as 4-bit values
 * v (0..15) in four 64-byte chunks from q (chunk c: values 8c..8c+3 of
 * each row in its bytes' low nibbles, 8c+4..8c+7 in the high ones), with
 * the 32 activation bytes at y: Σ v·y exactly, in int32 per row. The
 * high nibbles are masked in place, not shifted (16·v; at most 240·128·4
 * per product sum), in a chain of their own whose sum one arithmetic
 * shift divides by 16. Q4_0 starts from -8·Σy (its recentring), Q4_K
 * from zero. */
static inline __m512i nib32_dot16(const uint8_t *q, const int8_t *y, __m512i start) {
    const __m512i m4 = _mm512_set1_epi8(15), mhi = _mm512_set1_epi8((char)0xf0);
    __m512i v0 = _mm512_loadu_si512(q), v1 = _mm512_loadu_si512(q + 64), v2 = _mm512_loadu_si512(q + 128),
            v3 = _mm512_loadu_si512(q + 192);
    __m512i lo = start, hi = _mm512_setzero_si512();
    lo = dpbusd_b4(lo, _mm512_and_si512(v0, m4), y);
    hi = dpbusd_b4(hi, _mm512_and_si512(v0, mhi), y + 4);
    lo = dpbusd_b4(lo, _mm512_and_si512(v1, m4), y + 8);
    hi = dpbusd_b4(hi, _mm512_and_si512(v1, mhi), y + 12);
    lo = dpbusd_b4(lo, _mm512_and_si512(v2, m4), y + 16);
    hi = dpbusd_b4(hi, _mm512_and_si512(v2, mhi), y + 20);
    lo = dpbusd_b4(lo, _mm512_and_si512(v3, m4), y + 24);
    hi = dpbusd_b4(hi, _mm512_and_si512(v3, mhi), y + 28);
    return _mm512_add_epi32(lo, _mm512_srai_epi32(hi, 4));
}
/* sixteen fp16 values (a pair block's scales: eight of each group) as floats */
static inline __m512 halves16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
#endif
