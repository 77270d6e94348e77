/*
 * The repacked Q4_0 kernels (engine/quant_q4x8.c): packing is lossless (each
 * row unpacks to its original blocks), the AVX2 activation quantizer writes
 * exactly the bytes of the plain C one (which are quantize_row_q8_0_ref's
 * values), the AVX2 one-token and four-token kernels equal the plain C
 * kernel bit for bit, and the plain C kernel agrees with the row-major
 * Q4_0 reference dot within float rounding. Extreme blocks (all nibbles 15
 * or 0 against activations of ±127) check that the int16 sums cannot
 * overflow.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "engine.h"
#include "quant.h"
#include "repack.h"

static uint32_t rng = 88172645u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }
static float uniform(void) { return (float)(next() >> 8) / 16777216.0f * 2.0f - 1.0f; }

enum { N_IN = 512, N_OUT = 24, NB = N_IN / QK };

static void random_q4_0(blk_q4_0 *w, int nblocks, int mode) {
    for (int b = 0; b < nblocks; b++) {
        w[b].d = fp32_to_fp16(0.01f + 0.05f * fabsf(uniform()));
        for (int l = 0; l < 16; l++)
            w[b].qs[l] = mode == 1 ? 0xff : mode == 2 ? 0x00 : (uint8_t)next();
    }
}

static void test_pack_roundtrip(void) {
    blk_q4_0 *w = malloc(sizeof(blk_q4_0) * N_OUT * NB), row[NB];
    blk_q4_0x8 *p = malloc(sizeof(blk_q4_0x8) * N_OUT / Q4X8 * NB);
    random_q4_0(w, N_OUT * NB, 0);
    q4_0x8_pack(w, p, N_IN, N_OUT);
    int bad = 0;
    for (int r = 0; r < N_OUT; r++) {
        q4_0x8_unpack_row(p, row, N_IN, r);
        if (memcmp(row, w + (size_t)r * NB, sizeof row)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    free(w);
    free(p);
}

static void test_quantizer(void) {
    float x[N_IN];
    blk_q8s a[NB], b[NB];
    blk_q8_0 ref[NB];
    int bad = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < N_IN; i++) x[i] = uniform() * (trial % 3 ? 1.0f : 300.0f);
        if (trial == 1) for (int i = 0; i < 64; i++) x[i] = 0; /* zero blocks */
        if (trial == 2) for (int i = 0; i < N_IN; i++) x[i] = (float)(i % 7) - 3.0f; /* exact ties */
        q8s_quantize_ref(x, a, N_IN);
        q8s_quantize(x, b, N_IN);
        quantize_row_q8_0_ref(x, ref, N_IN);
        if (memcmp(a, b, sizeof a)) bad++;
        for (int i = 0; i < NB; i++) {
            int s = 0;
            for (int j = 0; j < QK; j++) s += ref[i].qs[j];
            if (memcmp(a[i].qs, ref[i].qs, QK) || a[i].d != fp16_to_fp32(ref[i].d) || a[i].s8 != 8 * s) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_kernels(void) {
    blk_q4_0 *w = malloc(sizeof(blk_q4_0) * N_OUT * NB);
    blk_q4_0x8 *p = malloc(sizeof(blk_q4_0x8) * N_OUT / Q4X8 * NB);
    blk_q8s *xs = malloc(sizeof(blk_q8s) * 4 * NB);
    blk_q8_0 *x0 = malloc(sizeof(blk_q8_0) * 4 * NB);
    float x[4][N_IN];
    const quant_traits *t = quant_traits_of(TOK_TYPE_Q4_0);
    int differ = 0, far = 0, n = 0;
    double worst = 0;
    for (int trial = 0; trial < 30; trial++) {
        int mode = trial == 0 ? 1 : trial == 1 ? 2 : 0;
        random_q4_0(w, N_OUT * NB, mode);
        q4_0x8_pack(w, p, N_IN, N_OUT);
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < N_IN; i++)
                x[c][i] = mode ? (c & 1 ? -1.0f : 1.0f) : uniform() * (c == trial % 4 ? 40.0f : 1.0f);
            if (trial == 5 && c == 1) for (int i = 0; i < N_IN; i++) x[c][i] = 0;
            q8s_quantize(x[c], xs + (size_t)c * NB, N_IN);
            quantize_row_q8_0_ref(x[c], x0 + (size_t)c * NB, N_IN);
        }
        for (int g = 0; g < N_OUT / Q4X8; g++) {
            const blk_q4_0x8 *pg = p + (size_t)g * NB;
            float f4[32], r4[32];
            q4_0x8_gemm4(N_IN, pg, xs, NB, f4);
            q4_0x8_gemm4_ref(N_IN, pg, xs, NB, r4);
            for (int c = 0; c < 4; c++) {
                float fv[8], rv[8];
                q4_0x8_gemv(N_IN, pg, xs + (size_t)c * NB, fv);
                q4_0x8_gemv_ref(N_IN, pg, xs + (size_t)c * NB, rv);
                for (int r = 0; r < Q4X8; r++) {
                    if (memcmp(&fv[r], &rv[r], 4) || memcmp(&f4[8 * c + r], &rv[r], 4) ||
                        memcmp(&r4[8 * c + r], &rv[r], 4))
                        differ++;
                    /* against the row-major reference dot on the original row */
                    float o;
                    t->dot_ref(N_IN, w + (size_t)(g * Q4X8 + r) * NB, x0 + (size_t)c * NB, &o);
                    double mag = 0;
                    for (int i = 0; i < NB; i++) mag += fabs(fp16_to_fp32(w[(g * Q4X8 + r) * NB + i].d)) * 8 * 127 * QK *
                                                        fp16_to_fp32(x0[c * NB + i].d);
                    double d = fabs((double)o - rv[r]);
                    if (d > 1e-6 * mag + 1e-6) far++;
                    if (mag > 0 && d / mag > worst) worst = d / mag;
                    n++;
                }
            }
        }
    }
    CHECK_MSG(differ == 0, "q4_0x8: %d outputs of the AVX2 kernels differ from the plain C kernel", differ);
    CHECK_MSG(far == 0, "q4_0x8: %d outputs far from the row-major Q4_0 reference", far);
    printf("q4_0x8: %d outputs, gemv/gemm4 AVX2 = plain C bit for bit, vs row-major reference %.1e (relative)\n", n,
           worst);
    free(w); free(p); free(xs); free(x0);
}

int main(void) {
    test_pack_roundtrip();
    test_quantizer();
    test_kernels();
    return check_summary("test_kernels_q4x8");
}
