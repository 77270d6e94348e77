/*
 * Q4_0 weights interleaved eight rows at a time (blk_q4_0x8, see repack.h)
 * against Q8_0 activations (blk_q8s): packing, activation quantization, and
 * the matrix-vector (one token) and matrix-matrix (four tokens) kernels,
 * each as plain C and AVX2.
 *
 * Per 32-value block of eight rows the AVX2 kernel does four 32-byte loads,
 * splits each into low and high nibbles (two vectors of "four values of
 * each of eight rows"), multiplies each with a broadcast of the matching
 * four activation bytes (maddubs: unsigned nibble × signed int8, adjacent
 * pairs summed in int16), adds the eight products in int16 (no overflow:
 * 8 · 2 · 15 · 127 = 30480), widens with madd, subtracts 8·Σx (the nibbles
 * are v, the weights v-8), and scales: acc[r] += d_w[r]·d_x · isum[r].
 * gemm4 (prompts) does this for four tokens, unpacking each weight vector
 * once; gemv (generation) for one, with software prefetch. Both sum each
 * block exactly in integers before the one float step per block, the order
 * of llama.cpp's interleaved Q4_0 kernels; the row-major kernel (and
 * llama.cpp's vec_dot) keeps one float per group of four values instead,
 * which costs eight conversions and eight FMAs per block of eight rows and
 * made generation compute-bound on one core (measured 10-19% slower on the
 * bench shapes). So generation agrees with the row-major kernel within float
 * rounding; of the fixtures' greedy continuations one (llama-rand-tiny-Q4_0,
 * "license") now leaves llama.cpp's at a near-tie (top-2 margin 0.022),
 * which the fixtures' comparison rule accepts. The integer sums are exact
 * in any order; each AVX2 kernel does the float steps of its plain C
 * reference (fmaf), bit for bit, and a batch and token-at-a-time
 * evaluation agree bit for bit. Cost: ~34 vector instructions per 256
 * multiply-adds (gemm4), ~40 (gemv); no memory beyond the caller's buffers.
 */
#include <math.h>
#include <stdbool.h>

#include "engine.h"
#include "repack.h"

/* ---- packing ---- */

/* Row r of a group: the block's 16 bytes as four words a, b, c, d (values
 * 0-3 / 16-19 in a's bytes' low / high nibbles, 4-7 / 20-23 in b's, 8-11 /
 * 24-27 in c's, 12-15 / 28-31 in d's) give chunk 0 = a's and b's low
 * nibbles, chunk 1 = c's and d's, chunk 2 and 3 their high nibbles
 * (nibble_lo / nibble_hi, repack.h). */
void q4_0x8_pack(const void *src, blk_q4_0x8 *dst, int n_in, int n_out) {
    const blk_q4_0 *s = src;
    int nb = n_in / QK;
    for (int g = 0; g < n_out / Q4X8; g++) /* row by row (repack.h) */
        for (int r = 0; r < Q4X8; r++)
            for (int i = 0; i < nb; i++) {
                blk_q4_0x8 *o = dst + (size_t)g * nb + i;
                const blk_q4_0 *b = s + (size_t)(g * Q4X8 + r) * nb + i;
                uint32_t w[4], c[4];
                memcpy(w, b->qs, sizeof w);
                c[0] = nibble_lo(w[0], w[1]);
                c[1] = nibble_lo(w[2], w[3]);
                c[2] = nibble_hi(w[0], w[1]);
                c[3] = nibble_hi(w[2], w[3]);
                o->d[r] = b->d;
                for (int k = 0; k < 4; k++) memcpy(&o->qs[32 * k + 4 * r], &c[k], 4);
            }
}

void q4_0x8_unpack_row(const blk_q4_0x8 *src, void *dst, int n_in, int r) {
    blk_q4_0 *o = dst;
    int nb = n_in / QK, g = r / Q4X8;
    r %= Q4X8;
    for (int i = 0; i < nb; i++) {
        const blk_q4_0x8 *b = src + (size_t)g * nb + i;
        uint8_t v[QK];
        for (int c = 0; c < 4; c++)
            for (int j = 0; j < 4; j++) {
                uint8_t q = b->qs[32 * c + 4 * r + j];
                v[8 * c + j] = q & 15;
                v[8 * c + 4 + j] = q >> 4;
            }
        o[i].d = b->d[r];
        for (int l = 0; l < 16; l++) o[i].qs[l] = (uint8_t)(v[l] | v[l + 16] << 4);
    }
}

/* ---- activations ---- */

void q8s_quantize_ref(const float *x, blk_q8s *y, int n) {
    for (int i = 0; i < n / QK; i++) {
        blk_q8_0 b;
        quantize_row_q8_0_ref(x + (size_t)i * QK, &b, QK);
        int s = 0;
        for (int j = 0; j < QK; j++) s += y[i].qs[j] = b.qs[j];
        y[i].d = fp16_to_fp32(b.d);
        y[i].s8 = 8 * s;
    }
}

/* ---- plain C kernels ---- */

/* Row r's integer dot with one activation block, nibbles recentred. */
static inline int isum_ref(const blk_q4_0x8 *b, const blk_q8s *x, int r) {
    int s = 0;
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 4; j++) {
            uint8_t q = b->qs[32 * c + 4 * r + j];
            s += ((q & 15) - 8) * x->qs[8 * c + j] + ((q >> 4) - 8) * x->qs[8 * c + 4 + j];
        }
    return s;
}

/* One token: per block and row one exact integer sum, acc += d_w·d_x·isum
 * (the order of llama.cpp's interleaved Q4_0 kernels; the row-major kernel
 * of quant_avx2.c keeps a float per group of four values instead, so the
 * two agree within float rounding, not bit for bit). */
void q4_0x8_gemv_ref(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q4_0x8 *w = wv;
    const blk_q8s *x = xv;
    for (int r = 0; r < Q4X8; r++) {
        float acc = 0;
        for (int i = 0; i < n_in / QK; i++)
            acc = fmaf(fp16_to_fp32(w[i].d[r]) * x[i].d, (float)isum_ref(&w[i], &x[i], r), acc);
        out[r] = acc;
    }
}

/* Four tokens (prompts, compute-bound): the one-token order per token. */
void q4_0x8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]) {
    for (int t = 0; t < 4; t++) q4_0x8_gemv_ref(n_in, w, (const char *)x + (size_t)t * x_stride, out + 8 * t);
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
static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

void q8s_quantize(const float *x, blk_q8s *y, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n / QK; i++, x += QK) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
               v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h);
        /* the reference's exact steps: id = 127/amax, d = fp16(amax/127) */
        float id = amax != 0 ? 127.f / amax : 0;
        y[i].d = fp16_to_fp32(fp32_to_fp16(amax / 127.f));
        __m256 mul = _mm256_set1_ps(id);
        const int rnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), rnd));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), rnd));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), rnd));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), rnd));
        y[i].s8 = 8 * hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
        /* packs work within 128-bit lanes; the permute restores the order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, p);
    }
}

void q4_0x8_gemv(int n_in, const void *wv, const void *xv, float out[8]) {
    const blk_q4_0x8 *w = wv;
    const blk_q8s *x = xv;
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n_in / QK; i++) {
        const uint8_t *q = w[i].qs;
        const int8_t *y = x[i].qs;
        _mm_prefetch((const char *)(w + i) + PREFETCH_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)(w + i) + PREFETCH_AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)(w + i) + PREFETCH_AHEAD + 128, _MM_HINT_T0);
        if (i % 16 == 0) prefetch_page_ahead(w + i); /* every 2304 bytes */
        __m256i p = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(y + 8 * c)),
                                                     _mm256_maddubs_epi16(hi, bcast4(y + 8 * c + 4))));
        }
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d)), _mm256_set1_ps(x[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(p, ones), _mm256_set1_epi32(x[i].s8))), acc);
    }
    _mm256_storeu_ps(out, acc);
}

void q4_0x8_gemm4(int n_in, const void *wv, const void *x, size_t xs, float out[32]) {
    const blk_q4_0x8 *w = wv;
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const blk_q8s *x0 = x, *x1 = (const void *)((const char *)x + xs), *x2 = (const void *)((const char *)x + 2 * xs),
                  *x3 = (const void *)((const char *)x + 3 * xs);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int i = 0; i < n_in / QK; i++) {
        const uint8_t *q = w[i].qs;
        __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#define STEP(p, xt)                                                                              \
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(xt[i].qs + 8 * c)), \
                                             _mm256_maddubs_epi16(hi, bcast4(xt[i].qs + 8 * c + 4))))
            STEP(p0, x0); STEP(p1, x1); STEP(p2, x2); STEP(p3, x3);
#undef STEP
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[i].d));
#define FIN(p, xt, acc)                                                                                  \
    acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xt[i].d)),                                   \
                          _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(p, ones),               \
                                                              _mm256_set1_epi32(xt[i].s8))), acc)
        FIN(p0, x0, acc0); FIN(p1, x1, acc1); FIN(p2, x2, acc2); FIN(p3, x3, acc3);
#undef FIN
    }
    _mm256_storeu_ps(out, acc0); _mm256_storeu_ps(out + 8, acc1);
    _mm256_storeu_ps(out + 16, acc2); _mm256_storeu_ps(out + 24, acc3);
}
#else
void q8s_quantize(const float *x, blk_q8s *y, int n) { q8s_quantize_ref(x, y, n); }
void q4_0x8_gemv(int n_in, const void *w, const void *x, float out[8]) { q4_0x8_gemv_ref(n_in, w, x, out); }
void q4_0x8_gemm4(int n_in, const void *w, const void *x, size_t xs, float out[32]) {
    q4_0x8_gemm4_ref(n_in, w, x, xs, out);
}
#endif

/* ---- AVX-512 VNNI, sixteen rows (repack.h) ----
 * The 8-row kernels widened to a pair of groups: in the pair layout a
 * block is both groups' scales (16 + 16 bytes), then each 32-byte chunk of
 * the first group followed by the same chunk of the second, so one 64-byte
 * load gives rows 0-7 in the low lanes and rows 8-15 in the high ones, and
 * one broadcast of four activation bytes still meets every row. vpdpbusd
 * replaces maddubs + add + madd. The one-token kernel sums a block with
 * nib32_dot16 (quant_x16.h: written out for the four chunks, where the
 * compiler had kept a loop with register copies, ~70 instructions per
 * block; high nibbles masked in place), its low chain started from -8·Σx:
 * per block of sixteen rows 4 loads, 8 masks, 8 vpdpbusd on two chains,
 * 1 shift, and the float steps of q4_0x8_gemv_ref per lane (~35
 * instructions; on cached weights 1.14-1.6x the former speed, from memory
 * level to +3%). Prefetch: one line per eight blocks 16 KB ahead
 * (prefetch_page_ahead; TinyLlama Q4_0 generation, paired rounds: +30% at
 * one thread, +25% at two); where a matmul runs on several threads (the
 * _pf forms, packed_kernels_threaded) also every line of the block 4 KB
 * ahead, which at two threads, sharing the memory, gave another +8-15%,
 * and at one cost 8-12%. */
#if defined(TOK_HAVE_X16)
#include "quant_x16.h"
#ifndef PREFETCH_X16
#define PREFETCH_X16 4096
#endif
#define PAIR_BYTES (2 * sizeof(blk_q4_0x8))
static inline __m512i chunk2(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 32 + 64 * c); }

static inline void gemv16(int n_in, const uint8_t *w, const blk_q8s *x, const float *acc0, float out[16],
                          bool prefetch) {
    __m512 acc = acc0 ? _mm512_loadu_ps(acc0) : _mm512_setzero_ps();
    for (int i = 0; i < n_in / QK; i++, w += PAIR_BYTES) {
        const int8_t *y = x[i].qs;
        if (i % 8 == 0) prefetch_page_ahead(w); /* every 2304 bytes */
        if (prefetch)
            for (int k = 0; k < 5; k++) _mm_prefetch((const char *)w + PREFETCH_X16 + 64 * k, _MM_HINT_T0);
        __m512i s = nib32_dot16(w + 32, y, _mm512_set1_epi32(-x[i].s8));
        __m512 d = _mm512_mul_ps(halves16(w), _mm512_set1_ps(x[i].d));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc);
    }
    _mm512_storeu_ps(out, acc);
}
void q4_0x16_gemv_acc(int n_in, const void *w, const void *x, const float *acc, float out[16]) {
    gemv16(n_in, w, x, acc, out, false);
}
void q4_0x16_gemv(int n_in, const void *w, const void *x, float out[16]) { gemv16(n_in, w, x, NULL, out, false); }
void q4_0x16_gemv_acc_pf(int n_in, const void *w, const void *x, const float *acc, float out[16]) {
    gemv16(n_in, w, x, acc, out, true);
}
void q4_0x16_gemv_pf(int n_in, const void *w, const void *x, float out[16]) { gemv16(n_in, w, x, NULL, out, true); }

void q4_0x16_gemm4_acc(int n_in, const void *wv, const void *xv, size_t xs, const float *a, size_t as,
                       float out[64]) {
    const uint8_t *w = wv;
    const blk_q8s *x0 = xv, *x1 = (const void *)((const char *)xv + xs), *x2 = (const void *)((const char *)xv + 2 * xs),
                  *x3 = (const void *)((const char *)xv + 3 * xs);
    const __m512i m4 = _mm512_set1_epi8(15);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    if (a) {
        acc0 = _mm512_loadu_ps(a); acc1 = _mm512_loadu_ps(a + as);
        acc2 = _mm512_loadu_ps(a + 2 * as); acc3 = _mm512_loadu_ps(a + 3 * as);
    }
    for (int i = 0; i < n_in / QK; i++, w += PAIR_BYTES) {
        __m512i p0 = _mm512_setzero_si512(), p1 = p0, p2 = p0, p3 = p0;
        for (int c = 0; c < 4; c++) {
            __m512i v = chunk2(w, c);
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
#define STEP(p, xt) \
    p = dpbusd_b4(dpbusd_b4(p, lo, xt[i].qs + 8 * c), hi, xt[i].qs + 8 * c + 4)
            STEP(p0, x0); STEP(p1, x1); STEP(p2, x2); STEP(p3, x3);
#undef STEP
        }
        __m512 dw = halves16(w);
#define FIN(p, xt, acc) \
    acc = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(xt[i].d)), \
                          _mm512_cvtepi32_ps(_mm512_sub_epi32(p, _mm512_set1_epi32(xt[i].s8))), acc)
        FIN(p0, x0, acc0); FIN(p1, x1, acc1); FIN(p2, x2, acc2); FIN(p3, x3, acc3);
#undef FIN
    }
    _mm512_storeu_ps(out, acc0); _mm512_storeu_ps(out + 16, acc1);
    _mm512_storeu_ps(out + 32, acc2); _mm512_storeu_ps(out + 48, acc3);
}
void q4_0x16_gemm4(int n_in, const void *w, const void *x, size_t xs, float out[64]) {
    q4_0x16_gemm4_acc(n_in, w, x, xs, NULL, 0, out);
}
#endif
