/*
 * Q8_0 weights interleaved eight rows at a time (blk_q8_0x8, see repack.h)
 * against Q8_0 activations (blk_q8s): packing and the one-token and
 * four-token kernels, as plain C and AVX2.
 *
 * The layout is the Q4_0 one without nibbles: in chunk c of a block, bytes
 * 4r..4r+3 are row r's values 4c..4c+3, so a broadcast of four activation
 * bytes meets eight rows at once and lane r of the sum is row r's dot. Both
 * operands are signed, and maddubs wants one unsigned: the weight's sign
 * moves onto the activation (sign_epi8) and its magnitude stays (abs_epi8;
 * -128 reads as 128, still exact). Two such products can reach 2·128·127,
 * so every maddubs is widened by madd at once instead of summing in int16.
 * Float steps per lane, acc = fma(d_w·d_x, isum, acc), are the same in every
 * kernel here: AVX2 equals plain C and four tokens equal one, bit for bit.
 * Cost: ~45 vector instructions per 256 multiply-adds (gemv), ~28 (gemm4).
 */
#include <math.h>

#include "engine.h"
#include "repack.h"

void q8_0x8_pack(const void *src, blk_q8_0x8 *dst, int n_in, int n_out) {
    const blk_q8_0 *s = src;
    int nb = n_in / QK;
    for (int g = 0; g < n_out / Q4X8; g++)
        for (int i = 0; i < nb; i++) {
            blk_q8_0x8 *o = dst + (size_t)g * nb + i;
            for (int r = 0; r < Q4X8; r++) {
                const blk_q8_0 *b = s + (size_t)(g * Q4X8 + r) * nb + i;
                o->d[r] = b->d;
                for (int c = 0; c < 8; c++) memcpy(&o->qs[32 * c + 4 * r], &b->qs[4 * c], 4);
            }
        }
}

void q8_0x8_gemv_ref(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q8_0x8 *w = wv;
    const blk_q8s *x = xv;
    for (int r = 0; r < Q4X8; r++) {
        float acc = 0;
        for (int i = 0; i < n_in / QK; i++) {
            int s = 0;
            for (int c = 0; c < 8; c++)
                for (int j = 0; j < 4; j++) s += w[i].qs[32 * c + 4 * r + j] * x[i].qs[4 * c + j];
            acc = fmaf(fp16_to_fp32(w[i].d[r]) * x[i].d, (float)s, acc);
        }
        out[r] = acc;
    }
}

void q8_0x8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]) {
    for (int t = 0; t < 4; t++) q8_0x8_gemv_ref(n_in, w, (const char *)x + (size_t)t * x_stride, out + 8 * t);
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define PREFETCH_AHEAD 1024

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

void q8_0x8_gemv(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q8_0x8 *w = wv;
    const blk_q8s *x = xv;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n_in / QK; i++) {
        const int8_t *q = w[i].qs, *y = x[i].qs;
        for (int k = 0; k < 5; k++) _mm_prefetch((const char *)(w + i) + PREFETCH_AHEAD + 64 * k, _MM_HINT_T0);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(bcast4(y + 4 * c), v));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones));
        }
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d)), _mm256_set1_ps(x[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc);
    }
    _mm256_storeu_ps(out, acc);
}

void q8_0x8_gemm4(int n_in, const void *wv, const void *xv, size_t xs, float out[32]) {
    const blk_q8_0x8 *w = wv;
    const blk_q8s *x0 = xv, *x1 = (const void *)((const char *)xv + xs), *x2 = (const void *)((const char *)xv + 2 * xs),
                  *x3 = (const void *)((const char *)xv + 3 * xs);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int i = 0; i < n_in / QK; i++) {
        const int8_t *q = w[i].qs;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < 8; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c)), a = _mm256_abs_epi8(v);
#define STEP(s, xt) \
    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(a, _mm256_sign_epi8(bcast4(xt[i].qs + 4 * c), v)), ones))
            STEP(s0, x0); STEP(s1, x1); STEP(s2, x2); STEP(s3, x3);
#undef STEP
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d));
        acc0 = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x0[i].d)), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x1[i].d)), _mm256_cvtepi32_ps(s1), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x2[i].d)), _mm256_cvtepi32_ps(s2), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x3[i].d)), _mm256_cvtepi32_ps(s3), acc3);
    }
    _mm256_storeu_ps(out, acc0); _mm256_storeu_ps(out + 8, acc1);
    _mm256_storeu_ps(out + 16, acc2); _mm256_storeu_ps(out + 24, acc3);
}
#else
void q8_0x8_gemv(int n_in, const void *w, const void *x, float out[8]) { q8_0x8_gemv_ref(n_in, w, x, out); }
void q8_0x8_gemm4(int n_in, const void *w, const void *x, size_t xs, float out[32]) {
    q8_0x8_gemm4_ref(n_in, w, x, xs, out);
}
#endif
