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
/* sixteen fp16 values (a pair block's scales: eight of each group) as floats */
static inline __m512 halves16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
#endif
