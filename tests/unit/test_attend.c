/*
 * One attention head (engine/attend.c): the fast version against the plain
 * C one for the register-resident head sizes (32, 64, 128) and a generic
 * one (48), over context lengths that leave every possible tail of the
 * eight-position blocks, with K/V rows interleaved as in the cache, and
 * repeated calls agree bit for bit. A call depends only on (q, K, V, n), so
 * a prompt batch gives the same outputs as one token at a time. Over an F16
 * cache (kv_f16) the fast version agrees with the plain C one as closely,
 * and with one position (softmax weight 1, exact in F16) each gives bit for
 * bit its F32 version's result on the widened K, V and the F16-rounded
 * query: the F16 path rounds nothing else. Where the build has AVX-512,
 * the sixteen-lane kernels equal the eight-lane ones bit for bit. The
 * queries of up to five consecutive tokens together (attend_heads, F32 and
 * F16), and up to five query heads sharing a KV head (attend_group), give
 * each its attend_head result bit for bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attend.h"
#include "check.h"
#include "engine.h"

static uint32_t rng = 777u;
static float uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

int main(void) {
    static const int hds[] = {32, 64, 128, 48};
    enum { MAXN = 83, HEADS = 2 };
    int far = 0, unstable = 0, cases = 0, f16_differ = 0, lanes_differ = 0, multi_differ = 0;
    double worst = 0;
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++) {
        int hd = hds[hi];
        size_t stride = (size_t)HEADS * hd;
        float *k = malloc(sizeof(float) * MAXN * stride), *v = malloc(sizeof(float) * MAXN * stride);
        float q[128], att[MAXN], att2[MAXN], o1[128], o2[128], o3[128];
        for (size_t i = 0; i < MAXN * stride; i++) { k[i] = uniform() * 2; v[i] = uniform(); }
        /* the same cache as F16, and its values widened back */
        uint16_t *k16 = malloc(sizeof(uint16_t) * MAXN * stride), *v16 = malloc(sizeof(uint16_t) * MAXN * stride);
        float *kw = malloc(sizeof(float) * MAXN * stride), *vw = malloc(sizeof(float) * MAXN * stride);
        for (size_t i = 0; i < MAXN * stride; i++) {
            k16[i] = fp32_to_fp16(k[i]); v16[i] = fp32_to_fp16(v[i]);
            kw[i] = fp16_to_fp32(k16[i]); vw[i] = fp16_to_fp32(v16[i]);
        }
        for (int i = 0; i < hd; i++) q[i] = uniform() * 2;
        float qr[128]; /* the query rounded to F16 */
        for (int i = 0; i < hd; i++) qr[i] = fp16_to_fp32(fp32_to_fp16(q[i]));
        float scale = 1.0f / sqrtf((float)hd);
        for (int n = 1; n <= MAXN; n += (n < 20 ? 1 : 7)) {
            const float *kh = k + hd, *vh = v + hd; /* the second KV head */
            attend_head(q, kh, vh, stride, n, hd, scale, att, o1);
            attend_head_ref(q, kh, vh, stride, n, hd, scale, att2, o2);
            for (int i = 0; i < hd; i++) {
                double d = fabs((double)o1[i] - o2[i]);
                if (d > 1e-5) far++;
                if (d > worst) worst = d;
            }
            attend_head(q, kh, vh, stride, n, hd, scale, att2, o3);
            if (memcmp(o1, o3, sizeof(float) * (size_t)hd)) unstable++;
            attend_head8(q, kh, vh, stride, n, hd, scale, att2, o3);
            if (memcmp(o1, o3, sizeof(float) * (size_t)hd)) lanes_differ++;
            /* F16: fast against plain C; with one position, each against
             * its F32 self on the widened values and the rounded query */
            float f1[128], f2[128];
            attend_head_f16(q, k16 + hd, v16 + hd, stride, n, hd, scale, att, f1);
            attend_head_f16_ref(q, k16 + hd, v16 + hd, stride, n, hd, scale, att2, f2);
            float f8[128];
            attend_head8_f16(q, k16 + hd, v16 + hd, stride, n, hd, scale, att2, f8);
            if (memcmp(f1, f8, sizeof(float) * (size_t)hd)) lanes_differ++;
            for (int i = 0; i < hd; i++) {
                double d = fabs((double)f1[i] - f2[i]);
                if (d > 1e-5) far++;
                if (d > worst) worst = d;
            }
            if (n == 1) {
                float f3[128];
                if (hd == 48) /* no register kernel: the F16 path runs the plain C loop */
                    attend_head_ref(qr, kw + hd, vw + hd, stride, n, hd, scale, att2, f3);
                else
                    attend_head(qr, kw + hd, vw + hd, stride, n, hd, scale, att2, f3);
                if (memcmp(f1, f3, sizeof(float) * (size_t)hd)) f16_differ++;
                attend_head_ref(qr, kw + hd, vw + hd, stride, n, hd, scale, att2, f3);
                if (memcmp(f2, f3, sizeof(float) * (size_t)hd)) f16_differ++;
            }
            /* consecutive tokens: query i over n + i positions */
            if (n + 5 <= MAXN)
                for (int nq = 1; nq <= 5; nq++) {
                    float qs[5][128], om[5][128], *op[5];
                    const float *qv[5];
                    static float atts[5 * (MAXN + 8)];
                    for (int i = 0; i < nq; i++) {
                        for (int d = 0; d < hd; d++) qs[i][d] = uniform() * 2;
                        qv[i] = qs[i];
                        op[i] = om[i];
                    }
                    for (int half = 0; half < 2; half++)
                        for (int step = 0; step < 2; step++) { /* 0: heads sharing a KV head (attend_group) */
                            if (half && step)
                                attend_heads_f16(qv, k16 + hd, v16 + hd, stride, n, nq, hd, scale, atts, MAXN + 8, op);
                            else if (half)
                                attend_group_f16(qv, k16 + hd, v16 + hd, stride, n, nq, hd, scale, atts, MAXN + 8, op);
                            else if (step)
                                attend_heads(qv, kh, vh, stride, n, nq, hd, scale, atts, MAXN + 8, op);
                            else
                                attend_group(qv, kh, vh, stride, n, nq, hd, scale, atts, MAXN + 8, op);
                            for (int i = 0; i < nq; i++) {
                                float one[128];
                                int len = n + i * step;
                                if (half) attend_head_f16(qs[i], k16 + hd, v16 + hd, stride, len, hd, scale, att2, one);
                                else attend_head(qs[i], kh, vh, stride, len, hd, scale, att2, one);
                                if (memcmp(one, om[i], sizeof(float) * (size_t)hd)) multi_differ++;
                            }
                        }
                }
            cases++;
        }
        free(k);
        free(v);
        free(k16);
        free(v16);
        free(kw);
        free(vw);
    }
    CHECK_MSG(far == 0, "attend_head differs from the plain C version in %d values", far);
    CHECK_MSG(unstable == 0, "attend_head is not deterministic in %d cases", unstable);
    CHECK_MSG(multi_differ == 0, "attend_heads or attend_group differs from attend_head one query at a time in %d results",
              multi_differ);
    CHECK_MSG(lanes_differ == 0, "the sixteen-lane kernels differ from the eight-lane ones in %d cases", lanes_differ);
    CHECK_MSG(f16_differ == 0, "over F16 with one position, %d results differ from the F32 version on the widened values", f16_differ);
    printf("attend_head: %d cases (head sizes 32/64/128/48, 1..%d positions), worst |fast - plain C| %.1e\n", cases,
           MAXN, worst);
    return check_summary("test_attend");
}
