/*
 * Attention for one head of one query token (attend.h), plain C, AVX2 and
 * (where built for it) AVX-512 with the AVX2 kernels' float steps.
 *
 * The fast path holds the query and the output row in registers for head
 * sizes 32, 64 and 128 (llama2.c shapes, TinyLlama and Llama 2 use 64,
 * Llama 3 128) and computes scores for eight positions at a time, their
 * eight partial vectors reduced together. Every float step is the one of
 * the engine's earlier per-position loop (two 8-lane FMA chains, the
 * horizontal sum ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), expf, a sequential
 * double sum, o += a·v lane by lane), so the results are unchanged, only
 * faster; other head sizes run that loop itself. The plain C version is the
 * scalar textbook loop; tests/unit/test_attend.c compares them.
 * Over an F16 KV cache (kv_f16) the same code reads each K and V vector
 * through one vcvtph2ps, and, as llama.cpp's CPU attention does when K and
 * V are F16 (its matmuls convert the other operand to F16), rounds the
 * query and each softmax weight to F16 first: with that, greedy decoding
 * of the fixtures repeats llama.cpp's F16-KV continuations (75 of 77
 * prompts, the other two parting at near-ties; without the rounding, 1 of
 * 7 on the Q4_0 fixture).
 * Cost: O(n · hd) per head, no memory beyond the caller's scratch.
 */
#include <math.h>

#include "attend.h"
#include "engine.h"

/* a[p] = exp(a[p] - max), summed in double in order (as ggml's softmax) */
static inline double exp_shift_sum(float *a, int n, float max) {
    double sum = 0;
    for (int p = 0; p < n; p++) {
        a[p] = expf(a[p] - max);
        sum += a[p];
    }
    return sum;
}

void attend_head_ref(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o) {
    float max = -INFINITY;
    for (int p = 0; p < n; p++) {
        float d = 0;
        for (int i = 0; i < hd; i++) d += q[i] * k[(size_t)p * stride + i];
        att[p] = d * scale;
        if (att[p] > max) max = att[p];
    }
    double sum = exp_shift_sum(att, n, max);
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < hd; i++) o[i] = 0;
    for (int p = 0; p < n; p++)
        for (int i = 0; i < hd; i++) o[i] += att[p] * inv * v[(size_t)p * stride + i];
}

static inline float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

void attend_head_f16_ref(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd,
                         float scale, float *att, float *o) {
    float max = -INFINITY;
    for (int p = 0; p < n; p++) {
        float d = 0;
        for (int i = 0; i < hd; i++) d += round_f16(q[i]) * fp16_to_fp32(k[(size_t)p * stride + i]);
        att[p] = d * scale;
        if (att[p] > max) max = att[p];
    }
    double sum = exp_shift_sum(att, n, max);
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < hd; i++) o[i] = 0;
    for (int p = 0; p < n; p++) {
        float a = round_f16(att[p] * inv);
        for (int i = 0; i < hd; i++) o[i] += a * fp16_to_fp32(v[(size_t)p * stride + i]);
    }
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

/* The row-major kernels' horizontal sum: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). */
static inline float lane_sum(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
/* lane_sum of eight vectors at once, the same additions in the same order:
 * fold the halves (l_i + l_{i+4}), reorder to (0, 2, 1, 3) so that a
 * horizontal add gives (e0+e2), (e1+e3), and a second one their sum. */
static inline __m256 lane_sum8(const __m256 d[8]) {
    __m256 f04 = _mm256_add_ps(_mm256_permute2f128_ps(d[0], d[4], 0x20), _mm256_permute2f128_ps(d[0], d[4], 0x31));
    __m256 f15 = _mm256_add_ps(_mm256_permute2f128_ps(d[1], d[5], 0x20), _mm256_permute2f128_ps(d[1], d[5], 0x31));
    __m256 f26 = _mm256_add_ps(_mm256_permute2f128_ps(d[2], d[6], 0x20), _mm256_permute2f128_ps(d[2], d[6], 0x31));
    __m256 f37 = _mm256_add_ps(_mm256_permute2f128_ps(d[3], d[7], 0x20), _mm256_permute2f128_ps(d[3], d[7], 0x31));
    __m256 h1 = _mm256_hadd_ps(_mm256_permute_ps(f04, 0xd8), _mm256_permute_ps(f15, 0xd8));
    __m256 h2 = _mm256_hadd_ps(_mm256_permute_ps(f26, 0xd8), _mm256_permute_ps(f37, 0xd8));
    return _mm256_hadd_ps(h1, h2);
}

/* One function per head size (NV = hd/8 vectors) so that the query and
 * output arrays have constant indices after unrolling and live in
 * registers. q·k: even vectors accumulate in s0, odd in s1. */
#define ATTEND_REGS(NV, SUF, T, LOAD, RND)                                                                            \
    static inline __m256 dot_lanes_##NV##SUF(const __m256 *q, const T *k) {                                        \
        __m256 s0 = _mm256_mul_ps(q[0], LOAD(k)), s1 = _mm256_mul_ps(q[1], LOAD(k + 8));                           \
        _Pragma("GCC unroll 16") for (int i = 2; i < NV; i += 2) {                                                 \
            s0 = _mm256_fmadd_ps(q[i], LOAD(k + 8 * i), s0);                                                       \
            s1 = _mm256_fmadd_ps(q[i + 1], LOAD(k + 8 * i + 8), s1);                                               \
        }                                                                                                          \
        return _mm256_add_ps(s0, s1);                                                                              \
    }                                                                                                              \
    static void attend_regs_##NV##SUF(const float *qp, const T *k, const T *v, size_t stride, int n,               \
                                      float scale, float *att, float *o) {                                         \
        __m256 q[NV], acc[NV];                                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < NV; i++) q[i] = RND(_mm256_loadu_ps(qp + 8 * i));             \
        int p = 0;                                                                                                 \
        for (; p + 8 <= n; p += 8) {                                                                               \
            __m256 d[8];                                                                                           \
            _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) d[i] = dot_lanes_##NV##SUF(q, k + (size_t)(p + i) * stride); \
            _mm256_storeu_ps(att + p, _mm256_mul_ps(lane_sum8(d), _mm256_set1_ps(scale)));                         \
        }                                                                                                          \
        for (; p < n; p++) att[p] = lane_sum(dot_lanes_##NV##SUF(q, k + (size_t)p * stride)) * scale;              \
        float max = -INFINITY;                                                                                     \
        for (p = 0; p < n; p++) if (att[p] > max) max = att[p];                                                    \
        float inv = (float)(1.0 / exp_shift_sum(att, n, max));                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < NV; i++) acc[i] = _mm256_setzero_ps();                        \
        for (p = 0; p < n; p++) {                                                                                  \
            __m256 a = RND(_mm256_set1_ps(att[p] * inv));                                                          \
            const T *vp = v + (size_t)p * stride;                                                                  \
            _Pragma("GCC unroll 16") for (int i = 0; i < NV; i++)                                                  \
                acc[i] = _mm256_fmadd_ps(a, LOAD(vp + 8 * i), acc[i]);                                             \
        }                                                                                                          \
        _Pragma("GCC unroll 16") for (int i = 0; i < NV; i++) _mm256_storeu_ps(o + 8 * i, acc[i]);                 \
    }
#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define KEEP(x) (x)
/* to the nearest F16 value and back */
#define ROUND_F16(x) _mm256_cvtph_ps(_mm256_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
ATTEND_REGS(4, , float, LOAD_F32, KEEP)
ATTEND_REGS(8, , float, LOAD_F32, KEEP)
ATTEND_REGS(16, , float, LOAD_F32, KEEP)
ATTEND_REGS(4, _f16, uint16_t, LOAD_F16, ROUND_F16)
ATTEND_REGS(8, _f16, uint16_t, LOAD_F16, ROUND_F16)
ATTEND_REGS(16, _f16, uint16_t, LOAD_F16, ROUND_F16)

#if defined(__AVX512F__)
/* The same kernels with sixteen lanes: vector pair (2j, 2j+1) of the query,
 * K and V rows in one register, so the even chain of the q·k dot runs in
 * lanes 0-7 and the odd one in lanes 8-15, their sum is the two halves
 * added, and o's lanes are independent anyway: every float step is the
 * eight-lane kernel's, in half the instructions (prompts of a few hundred
 * tokens spent more time here than in the matmuls). */
#define ATTEND_REGSZ(NV, SUF, T, LOADZ, RNDZ, RND)                                                                   \
    static inline __m256 dot_lanesz_##NV##SUF(const __m512 *q, const T *k) {                                       \
        __m512 s = _mm512_mul_ps(q[0], LOADZ(k));                                                                  \
        _Pragma("GCC unroll 8") for (int j = 1; j < NV / 2; j++) s = _mm512_fmadd_ps(q[j], LOADZ(k + 16 * j), s); \
        return _mm256_add_ps(_mm512_castps512_ps256(s), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))); \
    }                                                                                                              \
    /* att = exp(scores - max); returns 1 / their sum */                                                           \
    static inline float scoresz_##NV##SUF(const float *qp, const T *k, size_t stride, int n, float scale,          \
                                          float *att) {                                                            \
        __m512 q[NV / 2];                                                                                          \
        _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) q[j] = RNDZ(_mm512_loadu_ps(qp + 16 * j));        \
        int p = 0;                                                                                                 \
        for (; p + 8 <= n; p += 8) {                                                                               \
            __m256 d[8];                                                                                           \
            _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) d[i] = dot_lanesz_##NV##SUF(q, k + (size_t)(p + i) * stride); \
            _mm256_storeu_ps(att + p, _mm256_mul_ps(lane_sum8(d), _mm256_set1_ps(scale)));                         \
        }                                                                                                          \
        for (; p < n; p++) att[p] = lane_sum(dot_lanesz_##NV##SUF(q, k + (size_t)p * stride)) * scale;             \
        float max = -INFINITY;                                                                                     \
        for (p = 0; p < n; p++) if (att[p] > max) max = att[p];                                                    \
        return (float)(1.0 / exp_shift_sum(att, n, max));                                                          \
    }                                                                                                              \
    static inline __m512 weightz_##NV##SUF(float a) {                                                              \
        return _mm512_broadcastss_ps(_mm256_castps256_ps128(RND(_mm256_set1_ps(a))));                             \
    }                                                                                                              \
    /* acc += a_p · v_p over positions [p0, p1), in order */                                                       \
    static inline void vaccz_##NV##SUF(__m512 *acc, const T *v, size_t stride, int p0, int p1, const float *att,   \
                                       float inv) {                                                                \
        for (int p = p0; p < p1; p++) {                                                                            \
            __m512 a = weightz_##NV##SUF(att[p] * inv);                                                            \
            const T *vp = v + (size_t)p * stride;                                                                  \
            _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++)                                               \
                acc[j] = _mm512_fmadd_ps(a, LOADZ(vp + 16 * j), acc[j]);                                           \
        }                                                                                                          \
    }                                                                                                              \
    static void attend_regsz_##NV##SUF(const float *qp, const T *k, const T *v, size_t stride, int n,              \
                                       float scale, float *att, float *o) {                                        \
        float inv = scoresz_##NV##SUF(qp, k, stride, n, scale, att);                                               \
        __m512 acc[NV / 2];                                                                                        \
        _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) acc[j] = _mm512_setzero_ps();                     \
        vaccz_##NV##SUF(acc, v, stride, 0, n, att, inv);                                                           \
        _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) _mm512_storeu_ps(o + 16 * j, acc[j]);             \
    }                                                                                                              \
    /* NQ queries, query i over n + i·step positions (step 1: consecutive                                          \
     * tokens of a head; 0: query heads sharing a KV head): each query's                                           \
     * float steps are attend_regsz's, but the positions all of them see                                           \
     * are walked once, every V row loaded once for all, and the queries'                                          \
     * NQ x NV/2 accumulation chains are independent: one query's chains                                           \
     * are bound by the FMA latency, position after position */                                                    \
    static void attend_multiz_##NV##SUF(const float *const *qp, const T *k, const T *v, size_t stride, int n,      \
                                        int step, float scale, float *att, size_t att_stride, float *const *o) {   \
        enum { NQ = NV >= 16 ? 2 : 4 };                                                                            \
        float inv[NQ];                                                                                             \
        for (int i = 0; i < NQ; i++)                                                                               \
            inv[i] = scoresz_##NV##SUF(qp[i], k, stride, n + i * step, scale, att + i * att_stride);              \
        __m512 acc[NQ][NV / 2];                                                                                    \
        _Pragma("GCC unroll 4") for (int i = 0; i < NQ; i++)                                                       \
            _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) acc[i][j] = _mm512_setzero_ps();              \
        for (int p = 0; p < n; p++) {                                                                              \
            const T *vp = v + (size_t)p * stride;                                                                  \
            __m512 vv[NV / 2];                                                                                     \
            _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) vv[j] = LOADZ(vp + 16 * j);                   \
            _Pragma("GCC unroll 4") for (int i = 0; i < NQ; i++) {                                                 \
                __m512 a = weightz_##NV##SUF(att[i * att_stride + p] * inv[i]);                                    \
                _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) acc[i][j] = _mm512_fmadd_ps(a, vv[j], acc[i][j]); \
            }                                                                                                      \
        }                                                                                                          \
        for (int i = 0; i < NQ; i++) {                                                                             \
            vaccz_##NV##SUF(acc[i], v, stride, n, n + i * step, att + i * att_stride, inv[i]);                     \
            _Pragma("GCC unroll 8") for (int j = 0; j < NV / 2; j++) _mm512_storeu_ps(o[i] + 16 * j, acc[i][j]);   \
        }                                                                                                          \
    }
#define LOADZ_F32(p) _mm512_loadu_ps(p)
#define LOADZ_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define ROUNDZ_F16(x) _mm512_cvtph_ps(_mm512_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
ATTEND_REGSZ(4, , float, LOADZ_F32, KEEP, KEEP)
ATTEND_REGSZ(8, , float, LOADZ_F32, KEEP, KEEP)
ATTEND_REGSZ(16, , float, LOADZ_F32, KEEP, KEEP)
ATTEND_REGSZ(4, _f16, uint16_t, LOADZ_F16, ROUNDZ_F16, ROUND_F16)
ATTEND_REGSZ(8, _f16, uint16_t, LOADZ_F16, ROUNDZ_F16, ROUND_F16)
ATTEND_REGSZ(16, _f16, uint16_t, LOADZ_F16, ROUNDZ_F16, ROUND_F16)
#define REGS(NV, SUF) attend_regsz_##NV##SUF
/* up to NQ queries at a time where the head size has a kernel for them */
#define MULTI(NV, SUF, NQ)                                                                                            \
    for (; i + NQ <= nq; i += NQ)                                                                                      \
    attend_multiz_##NV##SUF(q + i, k, v, stride, n + i * step, step, scale, att, att_stride, o + i)
#define MULTI_BY_HEAD_SIZE(SUF)                                                                                       \
    switch (hd) {                                                                                                      \
    case 32: MULTI(4, SUF, 4); break;                                                                                  \
    case 64: MULTI(8, SUF, 4); break;                                                                                  \
    case 128: MULTI(16, SUF, 2); break;                                                                                \
    default: break;                                                                                                    \
    }
#else
#define REGS(NV, SUF) attend_regs_##NV##SUF
#endif
#define REGS8(NV, SUF) attend_regs_##NV##SUF
/* the register kernel F of head size hd, or OTHER */
#define BY_HEAD_SIZE(F, SUF, OTHER)                                                                                   \
    switch (hd) {                                                                                                      \
    case 32: F(4, SUF)(q, k, v, stride, n, scale, att, o); break;                                                      \
    case 64: F(8, SUF)(q, k, v, stride, n, scale, att, o); break;                                                      \
    case 128: F(16, SUF)(q, k, v, stride, n, scale, att, o); break;                                                    \
    default: OTHER; break;                                                                                             \
    }

/* any head size: 8 lanes at a time through memory, scalar tails */
static void attend_any(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                       float *att, float *o) {
    float max = -INFINITY;
    for (int p = 0; p < n; p++) {
        const float *kp = k + (size_t)p * stride;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        int i = 0;
        for (; i + 16 <= hd; i += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kp + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(kp + i + 8), s1);
        }
        for (; i + 8 <= hd; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kp + i), s0);
        float d = lane_sum(_mm256_add_ps(s0, s1));
        for (; i < hd; i++) d += q[i] * kp[i];
        att[p] = d * scale;
        if (att[p] > max) max = att[p];
    }
    float inv = (float)(1.0 / exp_shift_sum(att, n, max));
    for (int i = 0; i < hd; i++) o[i] = 0;
    for (int p = 0; p < n; p++) {
        float a = att[p] * inv;
        const float *vp = v + (size_t)p * stride;
        __m256 av = _mm256_set1_ps(a);
        int i = 0;
        for (; i + 8 <= hd; i += 8)
            _mm256_storeu_ps(o + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(vp + i), _mm256_loadu_ps(o + i)));
        for (; i < hd; i++) o[i] += a * vp[i];
    }
}

void attend_head8(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                  float *att, float *o) {
    BY_HEAD_SIZE(REGS8, , attend_any(q, k, v, stride, n, hd, scale, att, o))
}

void attend_head(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                 float *att, float *o) {
    BY_HEAD_SIZE(REGS, , attend_any(q, k, v, stride, n, hd, scale, att, o))
}

/* other head sizes over F16 run the plain C loop */
void attend_head8_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd,
                      float scale, float *att, float *o) {
    BY_HEAD_SIZE(REGS8, _f16, attend_head_f16_ref(q, k, v, stride, n, hd, scale, att, o))
}

void attend_head_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o) {
    BY_HEAD_SIZE(REGS, _f16, attend_head_f16_ref(q, k, v, stride, n, hd, scale, att, o))
}
#else
void attend_head(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                 float *att, float *o) {
    attend_head_ref(q, k, v, stride, n, hd, scale, att, o);
}
void attend_head_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd, float scale,
                     float *att, float *o) {
    attend_head_f16_ref(q, k, v, stride, n, hd, scale, att, o);
}
void attend_head8(const float *q, const float *k, const float *v, size_t stride, int n, int hd, float scale,
                  float *att, float *o) {
    attend_head_ref(q, k, v, stride, n, hd, scale, att, o);
}
void attend_head8_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int hd,
                      float scale, float *att, float *o) {
    attend_head_f16_ref(q, k, v, stride, n, hd, scale, att, o);
}
#endif

/* Where no multi-query kernel is built (or the head size has none), one
 * query after another. */
#if !defined(MULTI_BY_HEAD_SIZE)
#define MULTI_BY_HEAD_SIZE(SUF) (void)att_stride
#endif
/* query i over n + i·step positions */
static void queries(const float *const *q, const float *k, const float *v, size_t stride, int n, int step, int nq,
                    int hd, float scale, float *att, size_t att_stride, float *const *o) {
    int i = 0;
    MULTI_BY_HEAD_SIZE();
    for (; i < nq; i++) attend_head(q[i], k, v, stride, n + i * step, hd, scale, att, o[i]);
}
static void queries_f16(const float *const *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int step,
                        int nq, int hd, float scale, float *att, size_t att_stride, float *const *o) {
    int i = 0;
    MULTI_BY_HEAD_SIZE(_f16);
    for (; i < nq; i++) attend_head_f16(q[i], k, v, stride, n + i * step, hd, scale, att, o[i]);
}
void attend_heads(const float *const *q, const float *k, const float *v, size_t stride, int n, int nq, int hd,
                  float scale, float *att, size_t att_stride, float *const *o) {
    queries(q, k, v, stride, n, 1, nq, hd, scale, att, att_stride, o);
}
void attend_heads_f16(const float *const *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int nq,
                      int hd, float scale, float *att, size_t att_stride, float *const *o) {
    queries_f16(q, k, v, stride, n, 1, nq, hd, scale, att, att_stride, o);
}
void attend_group(const float *const *q, const float *k, const float *v, size_t stride, int n, int nq, int hd,
                  float scale, float *att, size_t att_stride, float *const *o) {
    queries(q, k, v, stride, n, 0, nq, hd, scale, att, att_stride, o);
}
void attend_group_f16(const float *const *q, const uint16_t *k, const uint16_t *v, size_t stride, int n, int nq,
                      int hd, float scale, float *att, size_t att_stride, float *const *o) {
    queries_f16(q, k, v, stride, n, 0, nq, hd, scale, att, att_stride, o);
}
