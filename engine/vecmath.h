/*
 * Vectorized exp for the element-wise parts of the forward pass (SwiGLU's
 * sigmoid, the attention softmax), beside the plain C versions they replace.
 *
 * exp8(x): x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two parts so that
 * n·ln2 is exact), e^r by a degree-6 polynomial (the classic Cephes expf
 * coefficients, accurate to about 1 ulp), times 2^n built in the exponent
 * bits. Inputs are clamped to [-86.6, 88.7], so the result is never
 * infinite or subnormal: exp of a very negative number is ~2e-38 instead of
 * 0, which no caller here can tell apart (they add 1 to it, or sum it with
 * exp(0) = 1). tests/unit/test_vecmath.c holds it to 2 ulp of libm's expf.
 */
#ifndef TOK_VECMATH_H
#define TOK_VECMATH_H
#include <math.h>
#include <stddef.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-86.6f)), _mm256_set1_ps(88.72f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n: n + 127 in the exponent field (n in [-126, 128]; 128 only at the clamp, where p < 1) */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
    return _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(2.0f));
}
#endif

/* hb[i] = silu(hb[i]) * up[i]: SwiGLU's gate times its up projection. */
static inline void swiglu_ref(float *hb, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) hb[i] = hb[i] / (1.0f + expf(-hb[i])) * up[i];
}
static inline void swiglu(float *hb, const float *up, size_t n) {
    size_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(hb + i);
        __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, g))));
        _mm256_storeu_ps(hb + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
    }
#endif
    swiglu_ref(hb + i, up + i, n - i);
}

/* a[i] = exp(a[i] - max) for i < n; returns the sum (in double, as ggml's
 * softmax sums). */
static inline double exp_shift_sum_ref(float *a, int n, float max) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        a[i] = expf(a[i] - max);
        sum += a[i];
    }
    return sum;
}
static inline double exp_shift_sum(float *a, int n, float max) {
    int i = 0;
    double sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 m = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(a + i), m));
        _mm256_storeu_ps(a + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    sum = t[0] + t[1] + t[2] + t[3];
#endif
    return sum + exp_shift_sum_ref(a + i, n - i, max);
}
#endif
