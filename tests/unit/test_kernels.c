/*
 * Quantization kernels: for every weight type, random blocks (any bit
 * pattern is a valid block once its fp16 scales are finite) are dotted with
 * random activations three ways: the plain C reference, the AVX2 kernel, and
 * a double-precision dot of the dequantized weight row with the dequantized
 * activation row. All three must agree. Also checks the activation
 * quantizers' error bounds and the software fp16 conversion against F16C.
 * The four-column kernels (one weight row against four activation rows)
 * must give, per column, exactly the one-column fast kernel's float (a batch
 * then equals token-at-a-time evaluation bit for bit) and agree with the
 * reference four-column product.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "engine.h"
#include "quant.h"

static uint32_t rng = 2463534242u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }
static float uniform(void) { return (float)(next() >> 8) / 16777216.0f * 2.0f - 1.0f; }

/* Random weight row of n values of a type, with sane fp16 scales. */
static void random_row(int type, void *row, int n) {
    const quant_traits *t = quant_traits_of(type);
    size_t bytes = quant_row_bytes(type, n);
    unsigned char *p = row;
    for (size_t i = 0; i < bytes; i++) p[i] = (unsigned char)next();
    int nb = (int)(n / t->block);
    for (int b = 0; b < nb; b++) {
        unsigned char *blk = p + (size_t)b * t->bytes;
        uint16_t d = fp32_to_fp16(0.01f + 0.05f * fabsf(uniform())), m = fp32_to_fp16(0.02f * uniform());
        switch (type) {
        case TOK_TYPE_F32: { float f = uniform(); memcpy(blk, &f, 4); break; }
        case TOK_TYPE_F16: { uint16_t h = fp32_to_fp16(uniform()); memcpy(blk, &h, 2); break; }
        case TOK_TYPE_BF16: { uint16_t h = fp32_to_bf16(uniform()); memcpy(blk, &h, 2); break; }
        case TOK_TYPE_Q4_1: case TOK_TYPE_Q5_1: case TOK_TYPE_Q4_K: case TOK_TYPE_Q5_K:
            memcpy(blk, &d, 2); memcpy(blk + 2, &m, 2); break;
        case TOK_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        default: memcpy(blk, &d, 2); break;
        }
    }
}

static void test_type(int type, const char *name) {
    const quant_traits *t = quant_traits_of(type);
    CHECK_MSG(t != NULL, "%s", name);
    if (!t) return;
    int n = 1024;
    void *w = malloc(quant_row_bytes(type, n));
    void *xq = malloc((size_t)n * 4 + 4096);
    float *x = malloc((size_t)n * 4), *wf = malloc((size_t)n * 4), *xf = malloc((size_t)n * 4);
    const quant_traits *dt = quant_traits_of(t->dot_type);
    quant_dot_fn fast = quant_dot_avx2(type);
    double worst_fast = 0, worst_deq = 0;
    for (int trial = 0; trial < 50; trial++) {
        random_row(type, w, n);
        for (int i = 0; i < n; i++) x[i] = uniform() * (trial % 5 == 0 ? 100.0f : 1.0f);
        if (trial == 7) for (int i = 0; i < 256; i++) x[i] = 0; /* an all-zero block */
        quant_from_float(t->dot_type, x, xq, n);
        float r, f = 0;
        t->dot_ref(n, w, xq, &r);
        if (fast) fast(n, w, xq, &f);
        t->to_float(w, wf, n);
        /* the activation row as the kernel sees it */
        if (t->dot_type == TOK_TYPE_Q8_1) {
            const blk_q8_1 *b = xq;
            for (int i = 0; i < n; i++) xf[i] = fp16_to_fp32(b[i / QK].d) * b[i / QK].qs[i % QK];
        } else if (t->dot_type == TOK_TYPE_Q8_K) {
            const blk_q8_K *b = xq;
            for (int i = 0; i < n; i++) xf[i] = b[i / QK_K].d * b[i / QK_K].qs[i % QK_K];
        } else {
            dt->to_float(xq, xf, n);
        }
        double exact = 0, mag = 0;
        for (int i = 0; i < n; i++) { exact += (double)wf[i] * xf[i]; mag += fabs((double)wf[i] * xf[i]); }
        /* Q4_1/Q5_1: the min term uses s = fp16(d*sum q), rounded */
        double tol = (type == TOK_TYPE_Q4_1 || type == TOK_TYPE_Q5_1 ? 2e-3 : 1e-5) * mag + 1e-6;
        double dd = fabs(r - exact), df = fabs(f - r);
        CHECK_MSG(dd <= tol, "%s: reference dot %.9g vs dequantized %.9g", name, r, exact);
        if (fast) CHECK_MSG(df <= 1e-5 * mag + 1e-6, "%s: AVX2 dot %.9g vs reference %.9g", name, f, r);
        if (mag > 0 && dd / mag > worst_deq) worst_deq = dd / mag;
        if (fast && mag > 0 && df / mag > worst_fast) worst_fast = df / mag;
    }
    printf("%-5s dot type %-5s  ref vs dequantized %.1e, %s %.1e (relative to sum |w·x|)\n", name,
           tok_tensor_type_name(t->dot_type), worst_deq, fast ? "AVX2 vs ref" : "no AVX2 kernel", worst_fast);
    /* an AVX-512 kernel, where built, is bit for bit the AVX2 one; trial 0
     * is all-ones bytes (6-bit values 63, scales -1) and trial 1 all
     * scales -128, against activations of +-127 */
    quant_dot_fn wide = quant_dot_avx512(type);
    if (wide && fast) {
        int differ = 0, trials = 300;
        for (int trial = 0; trial < trials; trial++) {
            random_row(type, w, n);
            if (trial < 2 && type == TOK_TYPE_Q6_K)
                for (int b = 0; b < n / QK_K; b++) {
                    blk_q6_K *k = (blk_q6_K *)w + b;
                    memset(k->ql, 0xff, sizeof k->ql);
                    memset(k->qh, 0xff, sizeof k->qh);
                    memset(k->scales, trial ? 0x80 : 0xff, sizeof k->scales);
                }
            for (int i = 0; i < n; i++) x[i] = trial < 2 ? (i & 1 ? -1.0f : 1.0f) : uniform() * (trial % 3 ? 1.0f : 50.0f);
            quant_from_float(t->dot_type, x, xq, n);
            float a = 0, b = 0;
            fast(n, w, xq, &a);
            wide(n, w, xq, &b);
            differ += memcmp(&a, &b, sizeof a) != 0;
        }
        CHECK_MSG(differ == 0, "%s: the AVX-512 dot differs from the AVX2 dot in %d of %d rows", name, differ, trials);
        if (!differ) printf("%-5s AVX-512 dot = AVX2 dot bit for bit on %d rows\n", name, trials);
    }
    free(w); free(xq); free(x); free(wf); free(xf);
}

/* Four-column kernels: bit-identical to the one-column kernel per column,
 * and within rounding of the plain C reference. */
static void test_dot4(int type, const char *name) {
    const quant_traits *t = quant_traits_of(type);
    quant_dot4_fn f4 = quant_dot4_avx2(type);
    if (!t || !f4) return;
    int n = 768; /* 3 Q8_K super-blocks, 24 Q8_0 blocks */
    size_t xrow = quant_row_bytes(t->dot_type, n);
    void *w = malloc(quant_row_bytes(type, n));
    char *xq = malloc(4 * xrow);
    float x[768];
    int differ = 0, far = 0;
    for (int trial = 0; trial < 40; trial++) {
        random_row(type, w, n);
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < n; i++) x[i] = uniform() * (c == trial % 4 ? 50.0f : 1.0f);
            if (trial == 3 && c == 2) for (int i = 0; i < n; i++) x[i] = 0;
            quant_from_float(t->dot_type, x, xq + c * xrow, n);
        }
        float got[4], ref[4];
        f4(n, w, xq, xrow, got);
        quant_dot4_ref(t, n, w, xq, xrow, ref);
        for (int c = 0; c < 4; c++) {
            float one;
            t->dot(n, w, xq + c * xrow, &one);
            if (memcmp(&one, &got[c], sizeof one) != 0) differ++;
            if (fabsf(got[c] - ref[c]) > 1e-5f * (fabsf(ref[c]) + 1.0f) * 100) far++;
        }
    }
    CHECK_MSG(differ == 0, "%s: four-column kernel differs from the one-column kernel in %d columns", name, differ);
    CHECK_MSG(far == 0, "%s: four-column kernel far from the reference in %d columns", name, far);
    printf("%-5s four-column kernel: 160 columns bit-identical to one-column, within rounding of reference\n", name);
    free(w);
    free(xq);
}

/* Quantized activations reproduce x within half a step. */
static void test_activation_quantizers(void) {
    float x[512], y[512];
    for (int i = 0; i < 512; i++) x[i] = uniform() * 3;
    blk_q8_0 q0[16];
    quantize_row_q8_0_ref(x, q0, 512);
    quant_traits_of(TOK_TYPE_Q8_0)->to_float(q0, y, 512);
    int bad = 0;
    for (int i = 0; i < 512; i++) {
        float d = fp16_to_fp32(q0[i / QK].d);
        if (fabsf(x[i] - y[i]) > 0.5f * d + 1e-3f * fabsf(x[i])) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    blk_q8_K qk[2];
    quantize_row_q8_K_ref(x, qk, 512);
    bad = 0;
    for (int b = 0; b < 2; b++) {
        int amax_hit = 0;
        for (int i = 0; i < QK_K; i++) {
            if (fabsf(x[b * QK_K + i] - qk[b].d * qk[b].qs[i]) > 0.5f * fabsf(qk[b].d) * 1.001f) bad++;
            if (abs(qk[b].qs[i]) == 127) amax_hit = 1;
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += qk[b].qs[16 * j + l];
            if (s != qk[b].bsums[j]) bad++;
        }
        CHECK(amax_hit);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_fp16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaNs */
        float f = fp16_to_fp32((uint16_t)h);
        if (fp32_to_fp16_soft(f) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = next();
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        if (fp32_to_fp16_soft(f) != fp32_to_fp16(f)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void) {
    test_fp16();
    test_activation_quantizers();
    static const struct { int type; const char *name; } types[] = {
        {TOK_TYPE_F32, "F32"},   {TOK_TYPE_F16, "F16"},   {TOK_TYPE_BF16, "BF16"}, {TOK_TYPE_Q8_0, "Q8_0"},
        {TOK_TYPE_Q4_0, "Q4_0"}, {TOK_TYPE_Q4_1, "Q4_1"}, {TOK_TYPE_Q5_0, "Q5_0"}, {TOK_TYPE_Q5_1, "Q5_1"},
        {TOK_TYPE_Q4_K, "Q4_K"}, {TOK_TYPE_Q5_K, "Q5_K"}, {TOK_TYPE_Q6_K, "Q6_K"},
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) test_type(types[i].type, types[i].name);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) test_dot4(types[i].type, types[i].name);
#if defined(__AVX2__)
    static const int must_have_avx2[] = {TOK_TYPE_F32, TOK_TYPE_F16, TOK_TYPE_BF16, TOK_TYPE_Q8_0,
                                         TOK_TYPE_Q4_0, TOK_TYPE_Q4_K, TOK_TYPE_Q5_K, TOK_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof must_have_avx2 / sizeof *must_have_avx2; i++)
        CHECK(quant_dot_avx2(must_have_avx2[i]) != NULL);
    static const int must_have_dot4[] = {TOK_TYPE_Q8_0, TOK_TYPE_Q4_0, TOK_TYPE_Q4_K, TOK_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof must_have_dot4 / sizeof *must_have_dot4; i++)
        CHECK(quant_dot4_avx2(must_have_dot4[i]) != NULL);
#endif
    return check_summary("test_kernels");
}
