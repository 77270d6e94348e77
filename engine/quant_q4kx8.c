/*
 * Q4_K weights interleaved eight rows at a time (blk_q4_Kx8, see repack.h)
 * against Q8_K activations (blk_q8Ks): packing, activation conversion, and
 * the one-token and four-token kernels, each as plain C and AVX2.
 *
 * A Q4_K row is d·sc[j]·q - dmin·m[j] over sub-blocks j of 32 values, so
 * row · x = dx·(d·Σ_j sc[j]·Σ q·x  -  dmin·Σ_j m[j]·Σx_j). The layout
 * stores the 6-bit scales and mins already unpacked, row-interleaved, so
 * the kernel needs no scalar work per row: per sub-block, the nibbles of
 * eight rows meet broadcast activation bytes exactly as in the Q4_0 kernel
 * (int16 sums, at most 8·2·15·127 = 30480), one madd with the eight scales
 * (each doubled into both halves of a 32-bit lane) weights and widens them,
 * and four madds of the paired mins with the paired activation sums give
 * the min term. Integer parts are exact; the float steps per lane are those
 * of the row-major kernel (quant_avx2.c), acc += d·dx·isum - dmin·dx·msum,
 * in every kernel here, so the AVX2 and plain C kernels, one token or four,
 * and the row-major kernel all agree bit for bit. Cost: ~24 vector instructions per 256 multiply-adds (gemv).
 */
#include <math.h>

#include "engine.h"
#include "repack.h"

/* ---- packing ---- */

static void scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
void q4_Kx8_pack(const void *src, blk_q4_Kx8 *dst, int n_in, int n_out) {
    const blk_q4_K *s = src;
    int nb = n_in / QK_K;
    for (int g = 0; g < n_out / Q4X8; g++)
        for (int r = 0; r < Q4X8; r++)
            for (int i = 0; i < nb; i++) {
                blk_q4_Kx8 *o = dst + (size_t)g * nb + i;
                const blk_q4_K *b = s + (size_t)(g * Q4X8 + r) * nb + i;
                o->d[r] = b->d;
                o->dmin[r] = b->dmin;
                for (int j = 0; j < 8; j++) {
                    int sc, m;
                    scale_min(j, b->scales, &sc, &m);
                    o->sc[j][r] = (uint8_t)sc;
                    o->mn[j / 2][2 * r + j % 2] = (uint8_t)m;
                }
                /* sub-blocks 2k and 2k+1 are the low and high nibbles of
                 * the same 32 bytes; chunk c of each holds their values
                 * 8c..8c+3 and 8c+4..8c+7 (repack.h) */
                for (int k = 0; k < 4; k++)
                    for (int c = 0; c < 4; c++) {
                        uint32_t lo, hi, v;
                        memcpy(&lo, b->qs + 32 * k + 8 * c, 4);
                        memcpy(&hi, b->qs + 32 * k + 8 * c + 4, 4);
                        v = nibble_lo(lo, hi);
                        memcpy(&o->qs[2 * k][32 * c + 4 * r], &v, 4);
                        v = nibble_hi(lo, hi);
                        memcpy(&o->qs[2 * k + 1][32 * c + 4 * r], &v, 4);
                    }
            }
}

void q8Ks_quantize_ref(const float *x, blk_q8Ks *y, int n) {
    for (int i = 0; i < n / QK_K; i++) {
        blk_q8_K b;
        quantize_row_q8_K_ref(x + (size_t)i * QK_K, &b, QK_K);
        y[i].d = b.d;
        memcpy(y[i].qs, b.qs, QK_K);
        for (int j = 0; j < 8; j++) y[i].bs[j] = (int16_t)(b.bsums[2 * j] + b.bsums[2 * j + 1]);
    }
}

/* ---- plain C kernels ---- */

void q4_Kx8_gemv_ref(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q4_Kx8 *w = wv;
    const blk_q8Ks *x = xv;
    for (int r = 0; r < Q4X8; r++) {
        float acc = 0;
        for (int i = 0; i < n_in / QK_K; i++) {
            int isum = 0, msum = 0;
            for (int j = 0; j < 8; j++) {
                int s = 0;
                for (int c = 0; c < 4; c++)
                    for (int k = 0; k < 4; k++) {
                        uint8_t q = w[i].qs[j][32 * c + 4 * r + k];
                        s += (q & 15) * x[i].qs[32 * j + 8 * c + k] + (q >> 4) * x[i].qs[32 * j + 8 * c + 4 + k];
                    }
                isum += w[i].sc[j][r] * s;
                msum += w[i].mn[j / 2][2 * r + j % 2] * x[i].bs[j];
            }
            /* the row-major kernel's float steps exactly (no contraction
             * under -std=c11): acc += d·dx·isum - dmin·dx·msum */
            acc += fp16_to_fp32(w[i].d[r]) * x[i].d * (float)isum - fp16_to_fp32(w[i].dmin[r]) * x[i].d * (float)msum;
        }
        out[r] = acc;
    }
}

void q4_Kx8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]) {
    for (int t = 0; t < 4; t++) q4_Kx8_gemv_ref(n_in, w, (const char *)x + (size_t)t * x_stride, out + 8 * t);
}

/* ---- AVX2 ---- */

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define PREFETCH_AHEAD 1024

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}
/* the eight rows' scales of sub-block j, each in both int16 halves of its lane */
static inline __m256i scales_of(const blk_q4_Kx8 *b, int j) {
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b->sc[j]));
    return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}
static inline __m256i mins_dot(const blk_q4_Kx8 *b, const blk_q8Ks *x) {
    __m256i s = _mm256_setzero_si256();
    for (int jp = 0; jp < 4; jp++) {
        int32_t pair;
        memcpy(&pair, &x->bs[2 * jp], 4);
        __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->mn[jp]));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(m, _mm256_set1_epi32(pair)));
    }
    return s;
}

/* quantize_row_q8_K_ref's numbers, eight at a time: the scale comes from
 * the first value of largest magnitude (its sign included), every value is
 * x·(-127/max) rounded to nearest even and capped at 127, d = 1/iscale. */
void q8Ks_quantize(const float *x, blk_q8Ks *y, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h);
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0;
        for (int k = 0; k < QK_K; k++)
            if (fabsf(x[k]) == amax) { max = x[k]; break; }
        float iscale = -127.f / max;
        __m256 mul = _mm256_set1_ps(iscale);
        const __m256i cap = _mm256_set1_epi32(127);
        for (int j = 0; j < 8; j++) { /* one sub-block of 32 */
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_min_epi32(cap, _mm256_cvtps_epi32(_mm256_round_ps(
                                                 _mm256_mul_ps(_mm256_loadu_ps(x + 32 * j + 8 * k), mul),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
            __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            y[i].bs[j] = (int16_t)_mm_cvtsi128_si32(s4);
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * j), p);
        }
        y[i].d = 1 / iscale;
    }
}

void q4_Kx8_gemv(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q4_Kx8 *w = wv;
    const blk_q8Ks *x = xv;
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n_in / QK_K; i++) {
        __m256i isum = _mm256_setzero_si256();
        if (i % 2 == 0) prefetch_page_ahead(w + i); /* every 2368 bytes */
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w[i].qs[j];
            const int8_t *y = x[i].qs + 32 * j;
            for (int k = 0; k < 1024 / 64 / 8; k++)
                _mm_prefetch((const char *)q + PREFETCH_AHEAD + 64 * k, _MM_HINT_T0);
            __m256i p = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                p = _mm256_add_epi16(p, _mm256_maddubs_epi16(lo, bcast4(y + 8 * c)));
                p = _mm256_add_epi16(p, _mm256_maddubs_epi16(hi, bcast4(y + 8 * c + 4)));
            }
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scales_of(&w[i], j)));
        }
        __m256i msum = mins_dot(&w[i], &x[i]);
        __m256 dx = _mm256_set1_ps(x[i].d);
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d)), dx);
        __m256 dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].dmin)), dx);
        acc = _mm256_add_ps(acc, _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(isum)),
                                               _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum))));
    }
    _mm256_storeu_ps(out, acc);
}

void q4_Kx8_gemm4(int n_in, const void *wv, const void *xv, size_t xs, float out[32]) {
    const blk_q4_Kx8 *w = wv;
    const blk_q8Ks *xt[4];
    for (int t = 0; t < 4; t++) xt[t] = (const blk_q8Ks *)((const char *)xv + (size_t)t * xs);
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int i = 0; i < n_in / QK_K; i++) {
        __m256i is0 = _mm256_setzero_si256(), is1 = is0, is2 = is0, is3 = is0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w[i].qs[j];
            __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
            for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                int o = 32 * j + 8 * c;
#define STEP(p, t)                                                                                \
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(xt[t][i].qs + o)),   \
                                             _mm256_maddubs_epi16(hi, bcast4(xt[t][i].qs + o + 4))))
                STEP(p0, 0); STEP(p1, 1); STEP(p2, 2); STEP(p3, 3);
#undef STEP
            }
            __m256i sc = scales_of(&w[i], j);
            is0 = _mm256_add_epi32(is0, _mm256_madd_epi16(p0, sc));
            is1 = _mm256_add_epi32(is1, _mm256_madd_epi16(p1, sc));
            is2 = _mm256_add_epi32(is2, _mm256_madd_epi16(p2, sc));
            is3 = _mm256_add_epi32(is3, _mm256_madd_epi16(p3, sc));
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d));
        __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].dmin));
        __m256i is[4] = {is0, is1, is2, is3};
        for (int t = 0; t < 4; t++) {
            __m256 dx = _mm256_set1_ps(xt[t][i].d);
            __m256 t1 = _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(is[t]));
            __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(dmw, dx), _mm256_cvtepi32_ps(mins_dot(&w[i], xt[t] + i)));
            acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(t1, t2));
        }
    }
    for (int t = 0; t < 4; t++) _mm256_storeu_ps(out + 8 * t, acc[t]);
}
#else
void q8Ks_quantize(const float *x, blk_q8Ks *y, int n) { q8Ks_quantize_ref(x, y, n); }
void q4_Kx8_gemv(int n_in, const void *w, const void *x, float out[8]) { q4_Kx8_gemv_ref(n_in, w, x, out); }
void q4_Kx8_gemm4(int n_in, const void *w, const void *x, size_t xs, float out[32]) {
    q4_Kx8_gemm4_ref(n_in, w, x, xs, out);
}
#endif

/* ---- AVX-512 VNNI, sixteen rows (repack.h) ----
 * A pair block holds each field of blk_q4_Kx8 for the first group, then
 * for the second: d (16 + 16 bytes), dmin (16 + 16), sc[j] (8 + 8 each),
 * mn[jp] (16 + 16 each), then every 32-byte chunk of qs likewise, so each
 * load meets sixteen rows. Per sub-block the Q4_0 sixteen-row step
 * (vpdpbusd straight into int32), then one vpmulld by the sixteen rows'
 * scales (the int32 sub-block sum can pass int16, so the AVX2 kernel's madd
 * trick does not apply), and the mins as in the AVX2 kernel on 32 int16
 * lanes. The float steps per lane are q4_Kx8_gemv_ref's, so each lane
 * equals it bit for bit. gemv prefetches every line 4 KB ahead (without
 * it -7-9% at two threads) and one line per pair block 16 KB ahead
 * (prefetch_page_ahead; TinyLlama Q4_K generation +5-10% in paired runs). */
#if defined(TOK_HAVE_X16)
#include "quant_x16.h"
#ifndef PREFETCH_X16
#define PREFETCH_X16 4096
#endif
#define PAIR_BYTES (2 * sizeof(blk_q4_Kx8))
enum { P_D = 0, P_DMIN = 32, P_SC = 64, P_MN = 192, P_QS = 320 };
static inline __m512i chunk2(const uint8_t *blk, int j, int c) { return _mm512_loadu_si512(blk + P_QS + 256 * j + 64 * c); }
/* the sixteen rows' scales of sub-block j as int32 */
static inline __m512i scales16(const uint8_t *blk, int j) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + P_SC + 16 * j)));
}
static inline __m512i mins_dot16(const uint8_t *blk, const blk_q8Ks *x) {
    __m512i s = _mm512_setzero_si512();
    for (int jp = 0; jp < 4; jp++) {
        int32_t pair;
        memcpy(&pair, &x->bs[2 * jp], 4);
        __m512i m = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(blk + P_MN + 32 * jp)));
        s = _mm512_add_epi32(s, _mm512_madd_epi16(m, _mm512_set1_epi32(pair)));
    }
    return s;
}

void q4_Kx16_gemv(int n_in, const void *wv, const void *xv, float out[16]) {
    const uint8_t *w = wv;
    const blk_q8Ks *x = xv;
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n_in / QK_K; i++, w += PAIR_BYTES) {
        __m512i isum = _mm512_setzero_si512();
        prefetch_page_ahead(w); /* every 2368 bytes */
#if PREFETCH_X16
        for (int k = 0; k < 5; k++) _mm_prefetch((const char *)w + PREFETCH_X16 + 64 * k, _MM_HINT_T0);
#endif
        for (int j = 0; j < 8; j++) {
            const int8_t *y = x[i].qs + 32 * j;
#if PREFETCH_X16
            for (int k = 0; k < 4; k++) _mm_prefetch((const char *)w + P_QS + 256 * j + PREFETCH_X16 + 64 * k, _MM_HINT_T0);
#endif
            __m512i sum = nib32_dot16(w + P_QS + 256 * j, y, _mm512_setzero_si512());
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(sum, scales16(w, j)));
        }
        __m512i msum = mins_dot16(w, &x[i]);
        __m512 dx = _mm512_set1_ps(x[i].d);
        __m512 d = _mm512_mul_ps(halves16(w + P_D), dx);
        __m512 dm = _mm512_mul_ps(halves16(w + P_DMIN), dx);
        acc = _mm512_add_ps(acc, _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum)),
                                               _mm512_mul_ps(dm, _mm512_cvtepi32_ps(msum))));
    }
    _mm512_storeu_ps(out, acc);
}

void q4_Kx16_gemm4(int n_in, const void *wv, const void *xv, size_t xs, float out[64]) {
    const uint8_t *w = wv;
    const blk_q8Ks *x0 = xv, *x1 = (const void *)((const char *)xv + xs), *x2 = (const void *)((const char *)xv + 2 * xs),
                   *x3 = (const void *)((const char *)xv + 3 * xs);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int i = 0; i < n_in / QK_K; i++, w += PAIR_BYTES) {
        __m512i is0 = _mm512_setzero_si512(), is1 = is0, is2 = is0, is3 = is0;
        for (int j = 0; j < 8; j++) {
            __m512i p0 = _mm512_setzero_si512(), p1 = p0, p2 = p0, p3 = p0;
            for (int c = 0; c < 4; c++) {
                __m512i v = chunk2(w, j, c);
                __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                int o = 32 * j + 8 * c;
#define STEP(p, xt) p = dpbusd_b4(dpbusd_b4(p, lo, xt[i].qs + o), hi, xt[i].qs + o + 4)
                STEP(p0, x0); STEP(p1, x1); STEP(p2, x2); STEP(p3, x3);
#undef STEP
            }
            __m512i sc = scales16(w, j);
            is0 = _mm512_add_epi32(is0, _mm512_mullo_epi32(p0, sc));
            is1 = _mm512_add_epi32(is1, _mm512_mullo_epi32(p1, sc));
            is2 = _mm512_add_epi32(is2, _mm512_mullo_epi32(p2, sc));
            is3 = _mm512_add_epi32(is3, _mm512_mullo_epi32(p3, sc));
        }
        __m512 dw = halves16(w + P_D), dmw = halves16(w + P_DMIN);
#define FIN(is, xt, acc)                                                                                      \
    do {                                                                                                      \
        __m512 dx = _mm512_set1_ps(xt[i].d);                                                                  \
        __m512 t1 = _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(is));                             \
        __m512 t2 = _mm512_mul_ps(_mm512_mul_ps(dmw, dx), _mm512_cvtepi32_ps(mins_dot16(w, &xt[i])));         \
        acc = _mm512_add_ps(acc, _mm512_sub_ps(t1, t2));                                                      \
    } while (0)
        FIN(is0, x0, acc0); FIN(is1, x1, acc1); FIN(is2, x2, acc2); FIN(is3, x3, acc3);
#undef FIN
    }
    _mm512_storeu_ps(out, acc0); _mm512_storeu_ps(out + 16, acc1);
    _mm512_storeu_ps(out + 32, acc2); _mm512_storeu_ps(out + 48, acc3);
}
#endif
