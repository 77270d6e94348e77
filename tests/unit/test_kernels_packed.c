/*
 * The repacked Q4_0, Q8_0 and Q4_K kernels (engine/quant_q4x8.c,
 * quant_q8x8.c, quant_q4kx8.c). For every type: each AVX2 kernel equals its
 * plain C kernel bit for bit. Q4_K: the one-token kernel (gemv) and the
 * four-token kernel (gemm4) equal the row-major AVX2 kernel
 * (quant_dot_avx2) on the original row bit for bit. Q4_0 and Q8_0: gemv
 * and gemm4 sum each block in integers and equal each other bit for bit (a
 * batch = token at a time), within float rounding of the row-major kernel.
 * All agree with the plain C row-major reference. Q8_0 weights include
 * -128, which the sign/abs trick must get right.
 * Q4_0: packing is lossless (each
 * row unpacks to its original blocks), the AVX2 activation quantizer writes
 * exactly the bytes of the plain C one (which are quantize_row_q8_0_ref's
 * values), the AVX2 one-token and four-token kernels equal the plain C
 * kernel bit for bit, and the plain C kernel agrees with the row-major
 * Q4_0 reference dot within float rounding. Extreme blocks (all nibbles 15
 * or 0 against activations of ±127) check that the int16 sums cannot
 * overflow. Q4_K: the AVX2 kernels equal the plain C kernel bit for bit
 * (one token and four), the plain C kernel on the packed layout agrees with
 * the row-major Q4_K reference dot of every original row (which checks the
 * packing of values, scales and mins), including extreme blocks (all
 * nibbles 15, 6-bit scales and mins 63, activations ±127). Panels (long
 * Q4_0 and Q8_0 rows in column ranges, accumulators carried): the same
 * results as the pair layout and the plain C kernels, bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"
#include "quant.h"
#include "repack.h"

/* The row-major AVX2 dot of one row, or NAN where the build has no AVX2
 * kernels (then the bit-for-bit comparisons with it are skipped; those
 * with the plain C kernels and the reference dot still run). */
static float avx2_row_dot(int type, int n, const void *w, const void *x) {
    quant_dot_fn f = quant_dot_avx2(type);
    float r = NAN;
    if (f) f(n, w, x, &r);
    return r;
}

static uint32_t rng = 88172645u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }
static float uniform(void) { return (float)(next() >> 8) / 16777216.0f * 2.0f - 1.0f; }

enum { N_IN = 512, N_OUT = 24, NB = N_IN / QK };

/* ---- the AVX-512 sixteen-row kernels (repack.h), where built ---- */

typedef void (*gemv_fn)(int, const void *, const void *, float *);
typedef void (*gemm4_fn)(int, const void *, const void *, size_t, float *);
static int x16_checked;

/* Every ordered pair of distinct groups (a, b), put into the pair layout,
 * through the type's sixteen-row kernels against the 8-row plain C kernels
 * on a and on b: bit for bit, four tokens and one. Also checks
 * packed_interleave_pairs on the whole matrix (each pair must come out as
 * the pair layout of its two groups). Returns the outputs that differ. */
static int check_x16(int type, int n_in, const void *packed, int n_groups, const void *xs, size_t x_stride,
                     gemv_fn gemv_ref, gemm4_fn gemm4_ref) {
    const packed_kernels *k = packed_kernels_of(type), *kt = packed_kernels_threaded(k);
    if (!k->gemv2 || !k->gemm4x2) return 0;
    size_t blk = k->group_bytes, nb = (size_t)(n_in / k->block), gb = nb * blk;
    char *pair = malloc(2 * gb), *whole = malloc((size_t)n_groups * gb), *tmp = malloc(2 * gb);
    int differ = 0;
    for (int a = 0; a < n_groups; a++)
        for (int b = 0; b < n_groups; b++) {
            if (a == b) continue;
            const char *wa = (const char *)packed + (size_t)a * gb, *wb = (const char *)packed + (size_t)b * gb;
            /* the pair layout, written out field by field from repack.h's description */
            size_t fsum = 0;
            for (const pair_field *f = k->fields; f->bytes; f++) fsum += (size_t)f->bytes * f->count;
            differ += fsum != blk;
            for (size_t i = 0; i < nb; i++) {
                size_t off = 0;
                char *o = pair + 2 * i * blk;
                for (const pair_field *f = k->fields; f->bytes; f++)
                    for (int n = 0; n < f->count; n++, off += f->bytes, o += 2 * f->bytes) {
                        memcpy(o, wa + i * blk + off, f->bytes);
                        memcpy(o + f->bytes, wb + i * blk + off, f->bytes);
                    }
            }
            if (b == a + 1 && a % 2 == 0) { /* the library's interleave gives the same bytes */
                memcpy(whole, packed, (size_t)n_groups * gb);
                packed_interleave_pairs(k, whole, n_in, n_groups * Q4X8, tmp);
                differ += memcmp(whole + (size_t)a * gb, pair, 2 * gb) != 0;
                if (n_groups % 2) differ += memcmp(whole + (size_t)(n_groups - 1) * gb, (const char *)packed + (size_t)(n_groups - 1) * gb, gb) != 0;
            }
            float f4[64], ra[32], rb[32];
            k->gemm4x2(n_in, pair, xs, x_stride, f4);
            gemm4_ref(n_in, wa, xs, x_stride, ra);
            gemm4_ref(n_in, wb, xs, x_stride, rb);
            for (int t = 0; t < 4; t++) {
                const char *xt = (const char *)xs + (size_t)t * x_stride;
                float fv[16], fp[16], va[8], vb[8];
                k->gemv2(n_in, pair, xt, fv);
                kt->gemv2(n_in, pair, xt, fp); /* the threaded form (prefetching) */
                gemv_ref(n_in, wa, xt, va);
                gemv_ref(n_in, wb, xt, vb);
                for (int r = 0; r < Q4X8; r++) {
                    differ += memcmp(&f4[16 * t + r], &ra[8 * t + r], 4) != 0;
                    differ += memcmp(&f4[16 * t + 8 + r], &rb[8 * t + r], 4) != 0;
                    differ += memcmp(&fv[r], &va[r], 4) != 0;
                    differ += memcmp(&fv[8 + r], &vb[r], 4) != 0;
                    differ += memcmp(&fp[r], &va[r], 4) != 0;
                    differ += memcmp(&fp[8 + r], &vb[r], 4) != 0;
                    x16_checked += 6;
                }
            }
        }
    free(pair); free(whole); free(tmp);
    return differ;
}

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
    int differ = 0, far = 0, n = 0, x16 = 0;
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
        x16 += check_x16(TOK_TYPE_Q4_0, N_IN, p, N_OUT / Q4X8, xs, NB * sizeof(blk_q8s), q4_0x8_gemv_ref, q4_0x8_gemm4_ref);
        for (int g = 0; g < N_OUT / Q4X8; g++) {
            const blk_q4_0x8 *pg = p + (size_t)g * NB;
            float f4[32], r4[32];
            q4_0x8_gemm4(N_IN, pg, xs, NB * sizeof(blk_q8s), f4);
            q4_0x8_gemm4_ref(N_IN, pg, xs, NB * sizeof(blk_q8s), r4);
            for (int c = 0; c < 4; c++) {
                float fv[8], rv[8];
                q4_0x8_gemv(N_IN, pg, xs + (size_t)c * NB, fv);
                q4_0x8_gemv_ref(N_IN, pg, xs + (size_t)c * NB, rv);
                for (int r = 0; r < Q4X8; r++) {
                    /* AVX2 = plain C per kernel; gemv = gemm4; both within
                     * rounding of the row-major AVX2 kernel */
                    float rm = avx2_row_dot(TOK_TYPE_Q4_0, N_IN, w + (size_t)(g * Q4X8 + r) * NB, x0 + (size_t)c * NB);
                    if (memcmp(&fv[r], &rv[r], 4) || memcmp(&f4[8 * c + r], &r4[8 * c + r], 4) ||
                        memcmp(&fv[r], &f4[8 * c + r], 4))
                        differ++;
                    /* against the row-major reference dot on the original row */
                    float o;
                    t->dot_ref(N_IN, w + (size_t)(g * Q4X8 + r) * NB, x0 + (size_t)c * NB, &o);
                    double mag = 0;
                    for (int i = 0; i < NB; i++) mag += fabs(fp16_to_fp32(w[(g * Q4X8 + r) * NB + i].d)) * 8 * 127 * QK *
                                                        fp16_to_fp32(x0[c * NB + i].d);
                    double d = fabs((double)o - rv[r]);
                    if (d > 1e-6 * mag + 1e-6 || (!isnan(rm) && fabs((double)rm - fv[r]) > 1e-6 * mag + 1e-6)) far++;
                    if (mag > 0 && d / mag > worst) worst = d / mag;
                    n++;
                }
            }
        }
    }
    CHECK_MSG(differ == 0, "q4_0x8: %d outputs differ from the plain C kernels or gemv from gemm4", differ);
    CHECK_MSG(x16 == 0, "q4_0x16: %d outputs differ from the plain C 8-row kernels", x16);
    CHECK_MSG(far == 0, "q4_0x8: %d outputs far from the row-major Q4_0 reference or kernel", far);
    printf("q4_0x8: %d outputs, AVX2 = plain C and gemv = gemm4 bit for bit, row-major within rounding, vs row-major reference %.1e\n", n,
           worst);
    free(w); free(p); free(xs); free(x0);
}

/* ---- Q4_K ---- */

enum { K_IN = 768, K_OUT = 16, KB = K_IN / QK_K };

static void random_q4_K(blk_q4_K *w, int nblocks, int extreme) {
    for (int b = 0; b < nblocks; b++) {
        unsigned char *p = (unsigned char *)&w[b];
        for (size_t i = 0; i < sizeof *w; i++) p[i] = extreme ? 0xff : (unsigned char)next();
        w[b].d = fp32_to_fp16(0.001f + 0.005f * fabsf(uniform()));
        w[b].dmin = fp32_to_fp16(0.002f * fabsf(uniform()));
    }
}

static void test_q4_K(void) {
    blk_q4_K *w = malloc(sizeof(blk_q4_K) * K_OUT * KB);
    blk_q4_Kx8 *p = malloc(sizeof(blk_q4_Kx8) * K_OUT / Q4X8 * KB);
    blk_q8Ks *xs = malloc(sizeof(blk_q8Ks) * 4 * KB);
    blk_q8_K *xk = malloc(sizeof(blk_q8_K) * 4 * KB);
    float x[K_IN];
    const quant_traits *t = quant_traits_of(TOK_TYPE_Q4_K);
    int differ = 0, far = 0, bad_act = 0, n = 0, x16 = 0;
    double worst = 0;
    for (int trial = 0; trial < 20; trial++) {
        random_q4_K(w, K_OUT * KB, trial == 0);
        q4_Kx8_pack(w, p, K_IN, K_OUT);
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < K_IN; i++) x[i] = trial == 0 ? (c & 1 ? -1.0f : 1.0f) : uniform() * (c == trial % 4 ? 30.0f : 1.0f);
            if (trial == 3 && c == 2) for (int i = 0; i < K_IN; i++) x[i] = 0;
            if (trial == 5) for (int i = 0; i < K_IN; i++) x[i] = (float)(i % 9) - 4.0f; /* ties, both signs at amax */
            q8Ks_quantize(x, xs + (size_t)c * KB, K_IN);
            quantize_row_q8_K_ref(x, xk + (size_t)c * KB, K_IN);
            blk_q8Ks plain[KB];
            q8Ks_quantize_ref(x, plain, K_IN);
            if (memcmp(plain, xs + (size_t)c * KB, sizeof plain)) bad_act++;
            for (int i = 0; i < KB; i++) {
                const blk_q8Ks *a = &xs[c * KB + i];
                const blk_q8_K *b = &xk[c * KB + i];
                if (a->d != b->d || memcmp(a->qs, b->qs, QK_K)) bad_act++;
                for (int j = 0; j < 8; j++) if (a->bs[j] != b->bsums[2 * j] + b->bsums[2 * j + 1]) bad_act++;
            }
        }
        x16 += check_x16(TOK_TYPE_Q4_K, K_IN, p, K_OUT / Q4X8, xs, KB * sizeof(blk_q8Ks), q4_Kx8_gemv_ref, q4_Kx8_gemm4_ref);
        for (int g = 0; g < K_OUT / Q4X8; g++) {
            const blk_q4_Kx8 *pg = p + (size_t)g * KB;
            float f4[32], r4[32];
            q4_Kx8_gemm4(K_IN, pg, xs, KB * sizeof(blk_q8Ks), f4);
            q4_Kx8_gemm4_ref(K_IN, pg, xs, KB * sizeof(blk_q8Ks), r4);
            for (int c = 0; c < 4; c++) {
                float fv[8], rv[8];
                q4_Kx8_gemv(K_IN, pg, xs + (size_t)c * KB, fv);
                q4_Kx8_gemv_ref(K_IN, pg, xs + (size_t)c * KB, rv);
                for (int r = 0; r < Q4X8; r++) {
                    float rm = avx2_row_dot(TOK_TYPE_Q4_K, K_IN, w + (size_t)(g * Q4X8 + r) * KB, xk + (size_t)c * KB);
                    if (memcmp(&fv[r], &rv[r], 4) || memcmp(&f4[8 * c + r], &rv[r], 4) || memcmp(&r4[8 * c + r], &rv[r], 4) ||
                        (!isnan(rm) && memcmp(&fv[r], &rm, 4)))
                        differ++;
                    float o;
                    t->dot_ref(K_IN, w + (size_t)(g * Q4X8 + r) * KB, xk + (size_t)c * KB, &o);
                    /* bound of sum |w·x| from the block scales */
                    double mag = 0;
                    for (int i = 0; i < KB; i++) {
                        const blk_q4_K *b = &w[(g * Q4X8 + r) * KB + i];
                        mag += (fp16_to_fp32(b->d) * 63 * 15 + fp16_to_fp32(b->dmin) * 63) * QK_K * 127 * fabsf(xk[c * KB + i].d);
                    }
                    double d = fabs((double)o - rv[r]);
                    if (d > 1e-6 * mag + 1e-6) far++;
                    if (mag > 0 && d / mag > worst) worst = d / mag;
                    n++;
                }
            }
        }
    }
    CHECK_EQ_INT(bad_act, 0);
    CHECK_MSG(differ == 0, "q4_Kx8: %d outputs differ from the plain C kernels or the row-major AVX2 kernel", differ);
    CHECK_MSG(x16 == 0, "q4_Kx16: %d outputs differ from the plain C 8-row kernels", x16);
    CHECK_MSG(far == 0, "q4_Kx8: %d outputs far from the row-major Q4_K reference", far);
    printf("q4_Kx8: %d outputs, gemv/gemm4 AVX2 = plain C = row-major AVX2 bit for bit, vs row-major reference %.1e\n", n,
           worst);
    free(w); free(p); free(xs); free(xk);
}

/* ---- Q8_0 ---- */

static void test_q8_0(void) {
    blk_q8_0 *w = malloc(sizeof(blk_q8_0) * N_OUT * NB);
    blk_q8_0x8 *p = malloc(sizeof(blk_q8_0x8) * N_OUT / Q4X8 * NB);
    blk_q8s *xs = malloc(sizeof(blk_q8s) * 4 * NB);
    blk_q8_0 *x0 = malloc(sizeof(blk_q8_0) * 4 * NB);
    float x[N_IN];
    const quant_traits *t = quant_traits_of(TOK_TYPE_Q8_0);
    int differ = 0, far = 0, n = 0, x16 = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (int b = 0; b < N_OUT * NB; b++) {
            w[b].d = fp32_to_fp16(0.001f + 0.01f * fabsf(uniform()));
            for (int j = 0; j < QK; j++) w[b].qs[j] = trial == 0 ? (j & 1 ? -128 : 127) : (int8_t)next();
        }
        q8_0x8_pack(w, p, N_IN, N_OUT);
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < N_IN; i++) x[i] = trial == 0 ? (c & 1 ? -1.0f : 1.0f) : uniform() * (c == trial % 4 ? 30.0f : 1.0f);
            q8s_quantize(x, xs + (size_t)c * NB, N_IN);
            quantize_row_q8_0_ref(x, x0 + (size_t)c * NB, N_IN);
        }
        x16 += check_x16(TOK_TYPE_Q8_0, N_IN, p, N_OUT / Q4X8, xs, NB * sizeof(blk_q8s), q8_0x8_gemv_ref, q8_0x8_gemm4_ref);
        for (int g = 0; g < N_OUT / Q4X8; g++) {
            const blk_q8_0x8 *pg = p + (size_t)g * NB;
            float f4[32], r4[32];
            q8_0x8_gemm4(N_IN, pg, xs, NB * sizeof(blk_q8s), f4);
            q8_0x8_gemm4_ref(N_IN, pg, xs, NB * sizeof(blk_q8s), r4);
            for (int c = 0; c < 4; c++) {
                float fv[8], rv[8];
                q8_0x8_gemv(N_IN, pg, xs + (size_t)c * NB, fv);
                q8_0x8_gemv_ref(N_IN, pg, xs + (size_t)c * NB, rv);
                for (int r = 0; r < Q4X8; r++) {
                    /* AVX2 = plain C per kernel; gemv = gemm4; both within
                     * rounding of the row-major AVX2 kernel */
                    float rm = avx2_row_dot(TOK_TYPE_Q8_0, N_IN, w + (size_t)(g * Q4X8 + r) * NB, x0 + (size_t)c * NB);
                    if (memcmp(&fv[r], &rv[r], 4) || memcmp(&f4[8 * c + r], &r4[8 * c + r], 4) ||
                        memcmp(&fv[r], &f4[8 * c + r], 4))
                        differ++;
                    float o;
                    t->dot_ref(N_IN, w + (size_t)(g * Q4X8 + r) * NB, x0 + (size_t)c * NB, &o);
                    double mag = 0;
                    for (int i = 0; i < NB; i++)
                        mag += fp16_to_fp32(w[(g * Q4X8 + r) * NB + i].d) * 128 * 127 * QK * fp16_to_fp32(x0[c * NB + i].d);
                    if (fabs((double)o - rv[r]) > 1e-6 * mag + 1e-6 || (!isnan(rm) && fabs((double)rm - fv[r]) > 1e-6 * mag + 1e-6))
                        far++;
                    n++;
                }
            }
        }
    }
    CHECK_MSG(differ == 0, "q8_0x8: %d outputs differ from the plain C kernels or gemv from gemm4", differ);
    CHECK_MSG(x16 == 0, "q8_0x16: %d outputs differ from the plain C 8-row kernels", x16);
    CHECK_MSG(far == 0, "q8_0x8: %d outputs far from the row-major Q8_0 reference or kernel", far);
    printf("q8_0x8: %d outputs, AVX2 = plain C and gemv = gemm4 bit for bit, row-major within rounding\n", n);
    free(w); free(p); free(xs); free(x0);
}

/* Panels (repack.h): a matrix of 150 blocks per row (Q4_0: panels of 64,
 * 64 and 22 blocks; Q8_0: 32 x 4 and 22) and 40 pairs of row groups (more
 * than one run of pairs) through packed_matmul in the panel layout equals
 * the same matrix in the plain pair layout bit for bit, for 7 tokens (a
 * four-token tile and three single tokens) and for one token alone, with
 * a bias, whole and in two row ranges; and both equal the plain C 8-row
 * kernels plus the bias. */
static void panels_of(int type) {
    const packed_kernels *k = packed_kernels_of(type);
    enum { PN_IN = 150 * QK, PN_OUT = 640, PNB = PN_IN / QK, PT = 7 };
    const char *name = type == TOK_TYPE_Q4_0 ? "Q4_0" : "Q8_0";
    CHECK(packed_panels(k, k->panel_blocks * QK, PN_OUT) == 0); /* one panel's width: plain layout */
    CHECK(packed_panels(k, PN_IN, PN_OUT - 8) == 0);             /* not whole pairs */
    if (!k->gemv2_acc) {
        CHECK(packed_panels(k, PN_IN, PN_OUT) == 0);
        printf("panels %s: not built here (no AVX-512 VNNI kernels)\n", name);
        return;
    }
    int panels = packed_panels(k, PN_IN, PN_OUT);
    CHECK(panels == (PNB + k->panel_blocks - 1) / k->panel_blocks && panels > 2);
    size_t bytes = (size_t)PN_OUT / Q4X8 * PNB * k->group_bytes;
    size_t rowb = type == TOK_TYPE_Q4_0 ? sizeof(blk_q4_0) : sizeof(blk_q8_0);
    char *w = malloc((size_t)PN_OUT * PNB * rowb), *groups = malloc(bytes);
    char *plain = malloc(bytes), *pan = malloc(bytes), *tmp = malloc(bytes);
    blk_q8s *xs = malloc((size_t)PT * PNB * sizeof *xs);
    float x[PN_IN], bias[PN_OUT];
    float *a = malloc(sizeof(float) * PT * PN_OUT), *b = malloc(sizeof(float) * PT * PN_OUT),
          *c = malloc(sizeof(float) * PT * PN_OUT);
    if (type == TOK_TYPE_Q4_0) {
        random_q4_0((blk_q4_0 *)w, PN_OUT * PNB, 0);
        q4_0x8_pack(w, (blk_q4_0x8 *)groups, PN_IN, PN_OUT);
    } else {
        blk_q8_0 *q = (blk_q8_0 *)w;
        for (int i = 0; i < PN_OUT * PNB; i++) {
            q[i].d = fp32_to_fp16(0.001f + 0.01f * fabsf(uniform()));
            for (int j = 0; j < QK; j++) q[i].qs[j] = (int8_t)next();
        }
        q8_0x8_pack(w, (blk_q8_0x8 *)groups, PN_IN, PN_OUT);
    }
    memcpy(plain, groups, bytes);
    packed_interleave_pairs(k, plain, PN_IN, PN_OUT, tmp);
    memcpy(pan, plain, bytes);
    packed_make_panels(k, pan, PN_IN, PN_OUT, tmp);
    CHECK(memcmp(pan, plain, bytes) != 0);
    for (int t = 0; t < PT; t++) {
        for (int i = 0; i < PN_IN; i++) x[i] = uniform() * (t == 2 ? 30.0f : 1.0f);
        q8s_quantize(x, xs + (size_t)t * PNB, PN_IN);
    }
    for (int r = 0; r < PN_OUT; r++) bias[r] = uniform();
    size_t xrow = PNB * sizeof(blk_q8s);
    int ng = PN_OUT / Q4X8;
    packed_matmul(k, plain, PN_IN, PN_OUT, 0, 0, ng, xs, xrow, PT, bias, a, PN_OUT);
    packed_matmul(k, pan, PN_IN, PN_OUT, panels, 0, ng, xs, xrow, PT, bias, b, PN_OUT);
    packed_matmul(k, pan, PN_IN, PN_OUT, panels, 0, 2, xs, xrow, PT, bias, c, PN_OUT);
    packed_matmul(k, pan, PN_IN, PN_OUT, panels, 2, ng, xs, xrow, PT, bias, c, PN_OUT);
    /* one token alone (generation: Q4_0 runs all pairs per panel then) */
    float *a1 = malloc(sizeof(float) * PN_OUT), *b1 = malloc(sizeof(float) * PN_OUT);
    packed_matmul(k, plain, PN_IN, PN_OUT, 0, 0, ng, xs + 4 * PNB, xrow, 1, bias, a1, PN_OUT);
    packed_matmul(k, pan, PN_IN, PN_OUT, panels, 0, ng, xs + 4 * PNB, xrow, 1, bias, b1, PN_OUT);
    CHECK_MSG(memcmp(a1, b1, sizeof(float) * PN_OUT) == 0 && memcmp(a1, a + 4 * PN_OUT, sizeof(float) * PN_OUT) == 0,
              "panels %s: one token differs from the pair layout or from the same token in a batch", name);
    /* the threaded kernels (prefetching) give the same, panels and plain */
    const packed_kernels *kt = packed_kernels_threaded(k);
    packed_matmul(kt, pan, PN_IN, PN_OUT, panels, 0, ng, xs + 4 * PNB, xrow, 1, bias, b1, PN_OUT);
    CHECK_MSG(memcmp(a1, b1, sizeof(float) * PN_OUT) == 0, "panels %s: the threaded kernels differ", name);
    packed_matmul(kt, plain, PN_IN, PN_OUT, 0, 0, ng, xs + 4 * PNB, xrow, 1, bias, b1, PN_OUT);
    CHECK_MSG(memcmp(a1, b1, sizeof(float) * PN_OUT) == 0, "pairs %s: the threaded kernels differ", name);
    free(a1); free(b1);
    size_t n = sizeof(float) * PT * PN_OUT;
    CHECK_MSG(memcmp(a, b, n) == 0, "panels %s: the panel layout's results differ from the pair layout's", name);
    CHECK_MSG(memcmp(a, c, n) == 0, "panels %s: results differ when the rows are run in two ranges", name);
    int differ = 0;
    for (int g = 0; g < ng; g++) {
        float r4[32], r1[8];
        const char *pg = groups + (size_t)g * PNB * k->group_bytes;
        if (type == TOK_TYPE_Q4_0) q4_0x8_gemm4_ref(PN_IN, pg, xs, xrow, r4);
        else q8_0x8_gemm4_ref(PN_IN, pg, xs, xrow, r4);
        for (int t = 0; t < PT; t++) {
            if (t >= 4 && type == TOK_TYPE_Q4_0) q4_0x8_gemv_ref(PN_IN, pg, xs + (size_t)t * PNB, r1);
            else if (t >= 4) q8_0x8_gemv_ref(PN_IN, pg, xs + (size_t)t * PNB, r1);
            for (int r = 0; r < Q4X8; r++) {
                float want = (t < 4 ? r4[8 * t + r] : r1[r]) + bias[g * Q4X8 + r];
                differ += memcmp(&want, &b[t * PN_OUT + g * Q4X8 + r], 4) != 0;
            }
        }
    }
    CHECK_MSG(differ == 0, "panels %s: %d outputs differ from the plain C 8-row kernels", name, differ);
    printf("panels %s: %d rows x %d inputs in %d panels, %d tokens: = pair layout = plain C, bit for bit\n", name, PN_OUT,
           PN_IN, panels, PT);
    free(w); free(groups); free(plain); free(pan); free(tmp); free(xs); free(a); free(b); free(c);
}

static void test_panels(void) {
    panels_of(TOK_TYPE_Q4_0);
    panels_of(TOK_TYPE_Q8_0);
}

int main(void) {
    test_pack_roundtrip();
    test_panels();
    test_quantizer();
    test_kernels();
    test_q4_K();
    test_q8_0();
#if defined(TOK_HAVE_X16)
    CHECK_MSG(x16_checked > 0, "the AVX-512 kernels are built but were not checked");
    printf("AVX-512 sixteen-row kernels: %d outputs, each equal to the plain C 8-row kernel bit for bit\n", x16_checked);
#else
    printf("AVX-512 sixteen-row kernels: not built for this target\n");
#endif
    if (!quant_dot_avx2(TOK_TYPE_Q8_0))
        printf("no AVX2 kernels in this build: the 'AVX2' kernels above are the plain C ones, and the comparisons "
               "with the row-major AVX2 kernel were skipped\n");
    CHECK(packed_kernels_of(TOK_TYPE_Q4_0) && packed_kernels_of(TOK_TYPE_Q4_K) && packed_kernels_of(TOK_TYPE_Q8_0) && !packed_kernels_of(TOK_TYPE_F32));
    return check_summary("test_kernels_packed");
}
