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
 * Both kernels sum each block exactly in integers and then accumulate
 * acc = fma(d_w·d_x, isum, acc), as the Q4_0 ones do: gemv (generation)
 * equals gemm4 (prompts) bit for bit, and both are within float rounding of
 * the row-major kernel, which keeps a float per group of four values. (gemv
 * used to keep that order too, bit for bit the row-major kernel, at eight
 * conversions and multiply-adds per block where one does: at 2 threads
 * the one-token kernel, not the memory, bounded generation.) Each AVX2
 * kernel equals its plain C reference bit for bit. Cost: ~28 vector
 * instructions per 256 multiply-adds (gemm4), ~32 (gemv).
 */
#include <math.h>

#include "engine.h"
#include "repack.h"

void q8_0x8_pack(const void *src, blk_q8_0x8 *dst, int n_in, int n_out) {
    const blk_q8_0 *s = src;
    int nb = n_in / QK;
    /* row by row within a group (see nibble_lo in repack.h) */
    for (int g = 0; g < n_out / Q4X8; g++)
        for (int r = 0; r < Q4X8; r++)
            for (int i = 0; i < nb; i++) {
                blk_q8_0x8 *o = dst + (size_t)g * nb + i;
                const blk_q8_0 *b = s + (size_t)(g * Q4X8 + r) * nb + i;
                o->d[r] = b->d;
                for (int c = 0; c < 8; c++) memcpy(&o->qs[32 * c + 4 * r], &b->qs[4 * c], 4);
            }
}

/* One token: per block and row one exact integer sum, acc += d_w·d_x·isum. */
void q8_0x8_gemv_ref(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q8_0x8 *w = wv;
    const blk_q8s *x = xv;
    for (int r = 0; r < Q4X8; r++) {
        float acc = 0;
        for (int i = 0; i < n_in / QK; i++) {
            int s = 0;
            for (int k = 0; k < QK; k++) s += w[i].qs[32 * (k / 4) + 4 * r + k % 4] * x[i].qs[k];
            acc = fmaf(fp16_to_fp32(w[i].d[r]) * x[i].d, (float)s, acc);
        }
        out[r] = acc;
    }
}

/* Four tokens: the one-token order per token. */
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
        if (i % 8 == 0) prefetch_page_ahead(w + i); /* every 2176 bytes */
        __m256i s = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(bcast4(y + 4 * c), v));
            s = _mm256_add_epi32(s, _mm256_madd_epi16(p, ones));
        }
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d)), _mm256_set1_ps(x[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);
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

/* ---- AVX-512 VNNI, sixteen rows (repack.h) ----
 * A pair block: both groups' scales (16 + 16 bytes), then chunk c of the
 * first group followed by chunk c of the second, so one 64-byte load holds
 * rows 0-7 (low lanes) and 8-15. vpdpbusd multiplies unsigned by signed
 * bytes. gemv (one token) offsets the weights instead: w ^ 0x80 is w + 128
 * as an unsigned byte, and the block's sum starts from -128 times its
 * activation sum (the block's s8, 8x that sum, times -16), so it is exactly
 * the signed one with a third of the instructions of moving the sign onto
 * the activation. gemm4 does that (AVX-512 has no sign_epi8:
 * bytes of negative weights select 0 - x, |x| <= 127 so the negation is
 * exact, times |w|, -128 reading as 128), once per weight for four tokens.
 * Both sum each block exactly first (the 8-row kernels' order); gemv in
 * two integer chains (even and odd chunks), whose sum is the same integer.
 * gemv prefetches one line per four blocks 16 KB ahead
 * (prefetch_page_ahead), not every line: on 400 MB of weights, one
 * thread, every line 4 KB ahead cost ~15% against none (paired runs in
 * the model: without it TinyLlama Q8_0 generation +8% at 1 thread, +0-10%
 * at 2), and the sparse one gave +10% at one thread and +30% at two over
 * none (TinyLlama), stories110M +13% / +8%. */
#if defined(TOK_HAVE_X16)
#include "quant_x16.h"
#define PAIR_BYTES (2 * sizeof(blk_q8_0x8))
static inline __m512i chunk2(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 32 + 64 * c); }
/* four activation bytes broadcast, negated where the weight byte is negative */
static inline __m512i signed_x(const int8_t *p, __mmask64 neg) {
    __m512i x = bcast4z(p);
    return _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
}

void q8_0x16_gemv_acc(int n_in, const void *wv, const void *xv, const float *in, float out[16]) {
    const uint8_t *w = wv;
    const blk_q8s *x = xv;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512 acc = in ? _mm512_loadu_ps(in) : _mm512_setzero_ps();
    for (int i = 0; i < n_in / QK; i++, w += PAIR_BYTES) {
        const int8_t *y = x[i].qs;
        if (i % 4 == 0) prefetch_page_ahead(w); /* every 2176 bytes */
        /* -128·Σy (s8 = 8·Σy) undoes the +128 of the flipped weights */
        __m512i a = _mm512_set1_epi32(-16 * x[i].s8), b = _mm512_setzero_si512();
        a = dpbusd_b4(a, _mm512_xor_si512(chunk2(w, 0), flip), y);
        b = dpbusd_b4(b, _mm512_xor_si512(chunk2(w, 1), flip), y + 4);
        a = dpbusd_b4(a, _mm512_xor_si512(chunk2(w, 2), flip), y + 8);
        b = dpbusd_b4(b, _mm512_xor_si512(chunk2(w, 3), flip), y + 12);
        a = dpbusd_b4(a, _mm512_xor_si512(chunk2(w, 4), flip), y + 16);
        b = dpbusd_b4(b, _mm512_xor_si512(chunk2(w, 5), flip), y + 20);
        a = dpbusd_b4(a, _mm512_xor_si512(chunk2(w, 6), flip), y + 24);
        b = dpbusd_b4(b, _mm512_xor_si512(chunk2(w, 7), flip), y + 28);
        __m512 d = _mm512_mul_ps(halves16(w), _mm512_set1_ps(x[i].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(a, b)), acc);
    }
    _mm512_storeu_ps(out, acc);
}
void q8_0x16_gemv(int n_in, const void *w, const void *x, float out[16]) { q8_0x16_gemv_acc(n_in, w, x, NULL, out); }

void q8_0x16_gemm4_acc(int n_in, const void *wv, const void *xv, size_t xs, const float *a, size_t as,
                       float out[64]) {
    const uint8_t *w = wv;
    const blk_q8s *x0 = xv, *x1 = (const void *)((const char *)xv + xs), *x2 = (const void *)((const char *)xv + 2 * xs),
                  *x3 = (const void *)((const char *)xv + 3 * xs);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    if (a) {
        acc0 = _mm512_loadu_ps(a); acc1 = _mm512_loadu_ps(a + as);
        acc2 = _mm512_loadu_ps(a + 2 * as); acc3 = _mm512_loadu_ps(a + 3 * as);
    }
    for (int i = 0; i < n_in / QK; i++, w += PAIR_BYTES) {
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < 8; c++) {
            __m512i v = chunk2(w, c), av = _mm512_abs_epi8(v);
            __mmask64 neg = _mm512_movepi8_mask(v);
            s0 = _mm512_dpbusd_epi32(s0, av, signed_x(x0[i].qs + 4 * c, neg));
            s1 = _mm512_dpbusd_epi32(s1, av, signed_x(x1[i].qs + 4 * c, neg));
            s2 = _mm512_dpbusd_epi32(s2, av, signed_x(x2[i].qs + 4 * c, neg));
            s3 = _mm512_dpbusd_epi32(s3, av, signed_x(x3[i].qs + 4 * c, neg));
        }
        __m512 dw = halves16(w);
        acc0 = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x0[i].d)), _mm512_cvtepi32_ps(s0), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x1[i].d)), _mm512_cvtepi32_ps(s1), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x2[i].d)), _mm512_cvtepi32_ps(s2), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x3[i].d)), _mm512_cvtepi32_ps(s3), acc3);
    }
    _mm512_storeu_ps(out, acc0); _mm512_storeu_ps(out + 16, acc1);
    _mm512_storeu_ps(out + 32, acc2); _mm512_storeu_ps(out + 48, acc3);
}
void q8_0x16_gemm4(int n_in, const void *w, const void *x, size_t xs, float out[64]) {
    q8_0x16_gemm4_acc(n_in, w, x, xs, NULL, 0, out);
}
#endif
