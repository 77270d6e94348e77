/*
 * Reference kernels: dequantization of every supported tensor type,
 * quantization of activations to Q8_0 / Q8_1 / Q8_K / F16 / BF16, and plain C
 * dot products of a weight row with a quantized activation row.
 *
 * The activation quantizers follow what llama.cpp's x86 CPU backend does
 * (Q8_0/Q8_1: d = amax/127 stored as fp16, q = round-half-even(x*127/amax);
 * Q8_K: d = max/-127 as float, q = round-half-even(x*-127/max), with sums of
 * 16), so that our logits agree with its logits within the fixtures'
 * tolerances: the integer dot products are then exact, and only the order
 * of float additions differs. Cost: O(n) per row, no allocation.
 */
#include <math.h>

#include "engine.h"
#include "quant.h"

static inline int round_even(float v) { return (int)nearbyintf(v); }

/* ---- dequantization --------------------------------------------------------------- */

static void deq_f32(const void *src, float *y, int64_t n) { memcpy(y, src, (size_t)n * 4); }
static void deq_f16(const void *src, float *y, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) y[i] = fp16_to_fp32(h[i]);
}
static void deq_bf16(const void *src, float *y, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) y[i] = bf16_to_fp32(h[i]);
}
static void deq_q8_0(const void *src, float *y, int64_t n) {
    const blk_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++) {
        float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK; j++) y[i * QK + j] = d * b[i].qs[j];
    }
}
static void deq_q4_0(const void *src, float *y, int64_t n) {
    const blk_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++) {
        float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK / 2; j++) {
            y[i * QK + j] = d * ((b[i].qs[j] & 15) - 8);
            y[i * QK + j + 16] = d * ((b[i].qs[j] >> 4) - 8);
        }
    }
}
static void deq_q4_1(const void *src, float *y, int64_t n) {
    const blk_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK; i++) {
        float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        for (int j = 0; j < QK / 2; j++) {
            y[i * QK + j] = d * (b[i].qs[j] & 15) + m;
            y[i * QK + j + 16] = d * (b[i].qs[j] >> 4) + m;
        }
    }
}
/* The fifth bit of value j lives in bit j of the 32-bit qh. */
static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}
static void deq_q5_0(const void *src, float *y, int64_t n) {
    const blk_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK; i++) {
        float d = fp16_to_fp32(b[i].d);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < QK / 2; j++) {
            int lo = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[i * QK + j] = d * (lo - 16);
            y[i * QK + j + 16] = d * (hi - 16);
        }
    }
}
static void deq_q5_1(const void *src, float *y, int64_t n) {
    const blk_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK; i++) {
        float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < QK / 2; j++) {
            int lo = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[i * QK + j] = d * lo + m;
            y[i * QK + j + 16] = d * hi + m;
        }
    }
}
/* Scale and min of sub-block j (0..7) from the 12 packed bytes: 6 bits each;
 * j < 4 in the low 6 bits of bytes j / j+4, j >= 4 split over nibbles of
 * bytes j+4 and the top 2 bits of bytes j-4 / j. */
static inline void k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
static void deq_q4_K(const void *src, float *y, int64_t n) {
    const blk_q4_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            int sc0, m0, sc1, m1;
            k_scale_min(j, b[i].scales, &sc0, &m0);
            k_scale_min(j + 1, b[i].scales, &sc1, &m1);
            float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            for (int l = 0; l < 32; l++) *y++ = d0 * (q[l] & 15) - mm0;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] >> 4) - mm1;
        }
    }
}
static void deq_q5_K(const void *src, float *y, int64_t n) {
    const blk_q5_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
        const uint8_t *q = b[i].qs, *qh = b[i].qh;
        for (int j = 0; j < 8; j += 2, q += 32) {
            int sc0, m0, sc1, m1;
            k_scale_min(j, b[i].scales, &sc0, &m0);
            k_scale_min(j + 1, b[i].scales, &sc1, &m1);
            float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            for (int l = 0; l < 32; l++) *y++ = d0 * ((q[l] & 15) + (((qh[l] >> j) & 1) << 4)) - mm0;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((q[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) - mm1;
        }
    }
}
/* Value l of a 128-chunk quarter k (0..3): low nibble of ql[l] or ql[l+32]
 * (k even/odd picks the byte, k/2 the nibble) and 2 bits of qh[l]. */
static inline int q6_value(const uint8_t *ql, const uint8_t *qh, int l, int k) {
    int lo = k & 1 ? ql[l + 32] : ql[l];
    lo = k & 2 ? lo >> 4 : lo & 15;
    return (lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
}
static void deq_q6_K(const void *src, float *y, int64_t n) {
    const blk_q6_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = fp16_to_fp32(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) y[128 * h + 32 * k + l] = d * sc[2 * k + l / 16] * q6_value(ql, qh, l, k);
        }
        y += QK_K;
    }
}

/* ---- activation quantization ------------------------------------------------------- */

void quantize_row_q8_0_ref(const float *x, void *out, int64_t n) {
    blk_q8_0 *y = out;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float id = amax != 0 ? 127.f / amax : 0;
        y[i].d = fp32_to_fp16(amax / 127.f);
        for (int j = 0; j < QK; j++) y[i].qs[j] = (int8_t)round_even(x[j] * id);
    }
}
void quantize_row_q8_1_ref(const float *x, void *out, int64_t n) {
    blk_q8_1 *y = out;
    for (int64_t i = 0; i < n / QK; i++, x += QK) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0;
        int sum = 0;
        for (int j = 0; j < QK; j++) sum += y[i].qs[j] = (int8_t)round_even(x[j] * id);
        y[i].d = fp32_to_fp16(d);
        y[i].s = fp32_to_fp16(d * (float)sum);
    }
}
void quantize_row_q8_K_ref(const float *x, void *out, int64_t n) {
    blk_q8_K *y = out;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        if (amax == 0) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.f / max; /* the sign makes the largest value -127 exactly */
        for (int j = 0; j < QK_K; j++) {
            int v = round_even(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1 / iscale;
    }
}
static void from_f16(const float *x, void *out, int64_t n) {
    uint16_t *y = out;
    for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
static void from_bf16(const float *x, void *out, int64_t n) {
    uint16_t *y = out;
    for (int64_t i = 0; i < n; i++) y[i] = fp32_to_bf16(x[i]);
}

/* ---- reference dot products -------------------------------------------------------- */

static void dot_f32(int n, const void *w, const void *x, float *out) {
    const float *a = w, *b = x;
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    *out = s;
}
static void dot_f16(int n, const void *w, const void *x, float *out) {
    const uint16_t *a = w, *b = x;
    float s = 0;
    for (int i = 0; i < n; i++) s += fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]);
    *out = s;
}
static void dot_bf16(int n, const void *w, const void *x, float *out) {
    const uint16_t *a = w, *b = x;
    float s = 0;
    for (int i = 0; i < n; i++) s += bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]);
    *out = s;
}
static void dot_q8_0(int n, const void *w, const void *x, float *out) {
    const blk_q8_0 *a = w, *b = x;
    float s = 0;
    for (int i = 0; i < n / QK; i++) {
        int isum = 0;
        for (int j = 0; j < QK; j++) isum += a[i].qs[j] * b[i].qs[j];
        s += fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) * (float)isum;
    }
    *out = s;
}
static void dot_q4_0(int n, const void *w, const void *x, float *out) {
    const blk_q4_0 *a = w;
    const blk_q8_0 *b = x;
    float s = 0;
    for (int i = 0; i < n / QK; i++) {
        int isum = 0;
        for (int j = 0; j < QK / 2; j++)
            isum += ((a[i].qs[j] & 15) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        s += fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) * (float)isum;
    }
    *out = s;
}
static void dot_q4_1(int n, const void *w, const void *x, float *out) {
    const blk_q4_1 *a = w;
    const blk_q8_1 *b = x;
    float s = 0;
    for (int i = 0; i < n / QK; i++) {
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) isum += (a[i].qs[j] & 15) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        s += fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) * (float)isum + fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    *out = s;
}
static void dot_q5_0(int n, const void *w, const void *x, float *out) {
    const blk_q5_0 *a = w;
    const blk_q8_0 *b = x;
    float s = 0;
    for (int i = 0; i < n / QK; i++) {
        uint32_t qh = load_qh(a[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = ((a[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4) - 16;
            int hi = ((a[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16;
            isum += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        s += fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) * (float)isum;
    }
    *out = s;
}
static void dot_q5_1(int n, const void *w, const void *x, float *out) {
    const blk_q5_1 *a = w;
    const blk_q8_1 *b = x;
    float s = 0;
    for (int i = 0; i < n / QK; i++) {
        uint32_t qh = load_qh(a[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = (a[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int hi = (a[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            isum += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        s += fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) * (float)isum + fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
    }
    *out = s;
}
/* K-quants: value = d*sc*q - dmin*m, so the dot is
 * d*dx*sum(sc_j * <q_j, x_j>) - dmin*dx*sum(m_j * sum(x_j)), the second sum
 * from the precomputed bsums. */
static void dot_q4_K(int n, const void *w, const void *x, float *out) {
    const blk_q4_K *a = w;
    const blk_q8_K *b = x;
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int isum = 0, msum = 0;
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
            int sc0, m0, sc1, m1, s0 = 0, s1 = 0;
            k_scale_min(j, a[i].scales, &sc0, &m0);
            k_scale_min(j + 1, a[i].scales, &sc1, &m1);
            for (int l = 0; l < 32; l++) { s0 += (q[l] & 15) * y[l]; s1 += (q[l] >> 4) * y[l + 32]; }
            isum += sc0 * s0 + sc1 * s1;
            msum += m0 * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]) + m1 * (b[i].bsums[2 * j + 2] + b[i].bsums[2 * j + 3]);
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)isum - fp16_to_fp32(a[i].dmin) * b[i].d * (float)msum;
    }
    *out = s;
}
static void dot_q5_K(int n, const void *w, const void *x, float *out) {
    const blk_q5_K *a = w;
    const blk_q8_K *b = x;
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int isum = 0, msum = 0;
        const uint8_t *q = a[i].qs, *qh = a[i].qh;
        const int8_t *y = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32, y += 64) {
            int sc0, m0, sc1, m1, s0 = 0, s1 = 0;
            k_scale_min(j, a[i].scales, &sc0, &m0);
            k_scale_min(j + 1, a[i].scales, &sc1, &m1);
            for (int l = 0; l < 32; l++) {
                s0 += ((q[l] & 15) + (((qh[l] >> j) & 1) << 4)) * y[l];
                s1 += ((q[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) * y[l + 32];
            }
            isum += sc0 * s0 + sc1 * s1;
            msum += m0 * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]) + m1 * (b[i].bsums[2 * j + 2] + b[i].bsums[2 * j + 3]);
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)isum - fp16_to_fp32(a[i].dmin) * b[i].d * (float)msum;
    }
    *out = s;
}
static void dot_q6_K(int n, const void *w, const void *x, float *out) {
    const blk_q6_K *a = w;
    const blk_q8_K *b = x;
    float s = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qh = a[i].qh + 32 * h;
            const int8_t *sc = a[i].scales + 8 * h, *y = b[i].qs + 128 * h;
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) isum += sc[2 * k + l / 16] * q6_value(ql, qh, l, k) * y[32 * k + l];
        }
        s += fp16_to_fp32(a[i].d) * b[i].d * (float)isum;
    }
    *out = s;
}

/* ---- the traits table ---------------------------------------------------------------- */

static quant_traits table[] = {
    {TOK_TYPE_F32, 1, 4, TOK_TYPE_F32, deq_f32, dot_f32, NULL},
    {TOK_TYPE_F16, 1, 2, TOK_TYPE_F16, deq_f16, dot_f16, NULL},
    {TOK_TYPE_BF16, 1, 2, TOK_TYPE_BF16, deq_bf16, dot_bf16, NULL},
    {TOK_TYPE_Q8_0, QK, sizeof(blk_q8_0), TOK_TYPE_Q8_0, deq_q8_0, dot_q8_0, NULL},
    {TOK_TYPE_Q4_0, QK, sizeof(blk_q4_0), TOK_TYPE_Q8_0, deq_q4_0, dot_q4_0, NULL},
    {TOK_TYPE_Q4_1, QK, sizeof(blk_q4_1), TOK_TYPE_Q8_1, deq_q4_1, dot_q4_1, NULL},
    {TOK_TYPE_Q5_0, QK, sizeof(blk_q5_0), TOK_TYPE_Q8_0, deq_q5_0, dot_q5_0, NULL},
    {TOK_TYPE_Q5_1, QK, sizeof(blk_q5_1), TOK_TYPE_Q8_1, deq_q5_1, dot_q5_1, NULL},
    {TOK_TYPE_Q4_K, QK_K, sizeof(blk_q4_K), TOK_TYPE_Q8_K, deq_q4_K, dot_q4_K, NULL},
    {TOK_TYPE_Q5_K, QK_K, sizeof(blk_q5_K), TOK_TYPE_Q8_K, deq_q5_K, dot_q5_K, NULL},
    {TOK_TYPE_Q6_K, QK_K, sizeof(blk_q6_K), TOK_TYPE_Q8_K, deq_q6_K, dot_q6_K, NULL},
};

_Static_assert(sizeof(blk_q4_K) == 144 && sizeof(blk_q5_K) == 176 && sizeof(blk_q6_K) == 210 &&
                   sizeof(blk_q8_K) == 292 && sizeof(blk_q5_0) == 22 && sizeof(blk_q8_0) == 34,
               "block layouts must match ggml's");

/* The fast pointers are filled on first use; each write stores the same
 * value, so concurrent first calls are harmless. */
const quant_traits *quant_traits_of(int type) {
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].type == type) {
            if (!table[i].dot) {
                quant_dot_fn f = quant_dot_avx512(type);
                if (!f) f = quant_dot_avx2(type);
                table[i].dot = f ? f : table[i].dot_ref;
            }
            return &table[i];
        }
    return NULL;
}

size_t quant_row_bytes(int type, int64_t n) {
    if (type == TOK_TYPE_Q8_K) return (size_t)(n / QK_K) * sizeof(blk_q8_K);
    if (type == TOK_TYPE_Q8_1) return (size_t)(n / QK) * sizeof(blk_q8_1);
    const quant_traits *t = quant_traits_of(type);
    return t ? (size_t)(n / t->block) * t->bytes : 0;
}

void quant_from_float(int dot_type, const float *x, void *out, int64_t n) {
    switch (dot_type) {
    case TOK_TYPE_Q8_0: quantize_row_q8_0_ref(x, out, n); break;
    case TOK_TYPE_Q8_1: quantize_row_q8_1_ref(x, out, n); break;
    case TOK_TYPE_Q8_K: quantize_row_q8_K_ref(x, out, n); break;
    case TOK_TYPE_F16: from_f16(x, out, n); break;
    case TOK_TYPE_BF16: from_bf16(x, out, n); break;
    default: memcpy(out, x, (size_t)n * sizeof(float)); break;
    }
}
