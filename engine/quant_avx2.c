/*
 * AVX2 + FMA dot products of a weight row with an activation row, one per
 * weight type, computing the same sums as the references in quant_ref.c
 * (integer parts exactly; float parts up to the order of additions).
 *
 * The int8 trick throughout: _mm256_maddubs_epi16 multiplies unsigned bytes
 * by signed bytes and adds neighbours into int16 (no overflow for our
 * ranges: |q| <= 63 times |y| <= 127, twice), then _mm256_madd_epi16 with
 * the block's scales widens to int32. Signed×signed (Q8_0) moves the sign of
 * one operand onto the other first. Built only when the compiler targets
 * AVX2 (-march=native here); otherwise quant_dot_avx2 returns NULL and the
 * reference kernels run.
 */
#include "engine.h"
#include "quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "quant_avx2.h"

static void dot_f32_avx2(int n, const void *w, const void *x, float *out) {
    const float *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    *out = s;
}
static void dot_f16_avx2(int n, const void *w, const void *x, float *out) {
    const uint16_t *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int i = 0;
#define LD16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(LD16(a + i), LD16(b + i), s0);
        s1 = _mm256_fmadd_ps(LD16(a + i + 8), LD16(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LD16(a + i), LD16(b + i), s0);
#undef LD16
    float s = hsum_ps(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]);
    *out = s;
}
static void dot_bf16_avx2(int n, const void *w, const void *x, float *out) {
    const uint16_t *a = w, *b = x;
    __m256 s0 = _mm256_setzero_ps();
    int i = 0;
#define LDB(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LDB(a + i), LDB(b + i), s0);
#undef LDB
    float s = hsum_ps(s0);
    for (; i < n; i++) s += bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]);
    *out = s;
}
static void dot_q8_0_avx2(int n, const void *w, const void *x, float *out) {
    const blk_q8_0 *a = w, *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK; i++) {
        __m256i qa = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qa, qb)), acc);
    }
    *out = hsum_ps(acc);
}
static void dot_q4_0_avx2(int n, const void *w, const void *x, float *out) {
    const blk_q4_0 *a = w;
    const blk_q8_0 *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK; i++) {
        __m256i qa = _mm256_sub_epi8(unpack_nibbles(a[i].qs), _mm256_set1_epi8(8));
        __m256i qb = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(qa, qb)), acc);
    }
    *out = hsum_ps(acc);
}

static void dot_q4_K_avx2(int n, const void *w, const void *x, float *out) {
    const blk_q4_K *a = w;
    const blk_q8_K *b = x;
    const __m256i m4 = _mm256_set1_epi8(15);
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int16_t sc[8], m[8];
        k_scales(a[i].scales, sc, m);
        __m256i sumi = _mm256_setzero_si256();
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
            __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(q4, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[j])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[j + 1])));
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)hsum_i32(sumi) -
             fp16_to_fp32(a[i].dmin) * b[i].d * (float)k_min_sum(m, b[i].bsums);
    }
    *out = s;
}
static void dot_q5_K_avx2(int n, const void *w, const void *x, float *out) {
    const blk_q5_K *a = w;
    const blk_q8_K *b = x;
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int16_t sc[8], m[8];
        k_scales(a[i].scales, sc, m);
        __m256i sumi = _mm256_setzero_si256();
        __m256i qh = _mm256_loadu_si256((const __m256i *)a[i].qh);
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
            __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            /* bit j / j+1 of each qh byte becomes bit 4 of the value */
            __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), one), 4);
            __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j + 1), one), 4);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4), h0);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), h1);
            __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));
            __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[j])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[j + 1])));
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)hsum_i32(sumi) -
             fp16_to_fp32(a[i].dmin) * b[i].d * (float)k_min_sum(m, b[i].bsums);
    }
    *out = s;
}
/* Q6_K: values q-32 with q in 0..63, so sum((q-32)*y) = sum(q*y) - 32*sum(y),
 * both through maddubs; one int16 scale per 16 values (one 128-bit lane). */
static void dot_q6_K_avx2(int n, const void *w, const void *x, float *out) {
    const blk_q6_K *a = w;
    const blk_q8_K *b = x;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qhp = a[i].qh + 32 * h;
            const int8_t *sc = a[i].scales + 8 * h, *y = b[i].qs + 128 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            for (int k = 0; k < 4; k++) {
                __m256i lo = k & 1 ? l1 : l0;
                lo = k & 2 ? _mm256_and_si256(_mm256_srli_epi16(lo, 4), m4) : _mm256_and_si256(lo, m4);
                __m256i hb = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2), 4);
                __m256i q = _mm256_or_si256(lo, hb);
                __m256i yy = _mm256_loadu_si256((const __m256i *)(y + 32 * k));
                __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, yy), _mm256_maddubs_epi16(k32, yy));
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv));
            }
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)hsum_i32(sumi);
    }
    *out = s;
}

/* ---- AVX-512 VNNI (where the compiler targets it) ----
 * Q6_K: 64 values per 512-bit vector. Per half-block the 64 bytes of ql
 * are the low nibbles of values 0-31 and 32-63 (and, shifted, of 64-127);
 * qh broadcast to both halves and shifted by 0/2 (4/6) bits per half gives
 * their top two bits, so one vpdpbusd meets 64 activations, and each group
 * of four int32 lanes (16 values) is multiplied by its int8 scale. The -32
 * offset comes off once per block as 32·Σ scale·bsum (Q8_K keeps the sums
 * of each 16 activations). The integer sum is the AVX2 kernel's exactly
 * and the float step is the same, so the result is bit for bit
 * dot_q6_K_avx2's (test_kernels). */
#if defined(TOK_HAVE_X16)
static void dot_q6_K_avx512(int n, const void *w, const void *x, float *out) {
    const blk_q6_K *a = w;
    const blk_q8_K *b = x;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    /* per 16-bit lane: shift qh by 0 (values 0-31) or 2 (32-63) */
    const __m512i sh01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_add_epi16(sh01, _mm512_set1_epi16(4));
    /* lanes 4g..4g+3 take scale byte g (of four) */
    const __m128i spread = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        __m512i acc = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h;
            const int8_t *sc = a[i].scales + 8 * h, *y = b[i].qs + 128 * h;
            __m512i l = _mm512_loadu_si512(ql);
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h)));
            __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, m4),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh01), m2), 4));
            __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh23), m2), 4));
            __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, _mm512_loadu_si512(y));
            __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, _mm512_loadu_si512(y + 64));
            int32_t s01, s23;
            memcpy(&s01, sc, 4);
            memcpy(&s23, sc + 4, 4);
            __m512i c01 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(_mm_cvtsi32_si128(s01), spread));
            __m512i c23 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(_mm_cvtsi32_si128(s23), spread));
            acc = _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_mullo_epi32(p01, c01), _mm512_mullo_epi32(p23, c23)));
        }
        int off = 0;
        for (int j = 0; j < QK_K / 16; j++) off += a[i].scales[j] * b[i].bsums[j];
        int isum = _mm512_reduce_add_epi32(acc) - 32 * off;
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)isum;
    }
    *out = s;
}
quant_dot_fn quant_dot_avx512(int type) { return type == TOK_TYPE_Q6_K ? dot_q6_K_avx512 : NULL; }
#else
quant_dot_fn quant_dot_avx512(int type) {
    (void)type;
    return NULL;
}
#endif

quant_dot_fn quant_dot_avx2(int type) {
    switch (type) {
    case TOK_TYPE_F32: return dot_f32_avx2;
    case TOK_TYPE_F16: return dot_f16_avx2;
    case TOK_TYPE_BF16: return dot_bf16_avx2;
    case TOK_TYPE_Q8_0: return dot_q8_0_avx2;
    case TOK_TYPE_Q4_0: return dot_q4_0_avx2;
    case TOK_TYPE_Q4_K: return dot_q4_K_avx2;
    case TOK_TYPE_Q5_K: return dot_q5_K_avx2;
    case TOK_TYPE_Q6_K: return dot_q6_K_avx2;
    default: return NULL;
    }
}
#else
quant_dot_fn quant_dot_avx2(int type) {
    (void)type;
    return NULL;
}
quant_dot_fn quant_dot_avx512(int type) {
    (void)type;
    return NULL;
}
#endif
