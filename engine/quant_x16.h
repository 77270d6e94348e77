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
/* sixteen fp16 values (a pair block's scales: eight of each group) as floats */
static inline __m512 halves16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
#endif
