/*
 * One attention head (engine/attend.c): the fast version against the plain
 * C one for the register-resident head sizes (32, 64, 128) and a generic
 * one (48), over context lengths that leave every possible tail of the
 * eight-position blocks, with K/V rows interleaved as in the cache, and
 * repeated calls agree bit for bit. A call depends only on (q, K, V, n), so
 * a prompt batch gives the same outputs as one token at a time.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attend.h"
#include "check.h"

static uint32_t rng = 777u;
static float uniform(void) {
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

int main(void) {
    static const int hds[] = {32, 64, 128, 48};
    enum { MAXN = 83, HEADS = 2 };
    int far = 0, unstable = 0, cases = 0;
    double worst = 0;
    for (size_t hi = 0; hi < sizeof hds / sizeof *hds; hi++) {
        int hd = hds[hi];
        size_t stride = (size_t)HEADS * hd;
        float *k = malloc(sizeof(float) * MAXN * stride), *v = malloc(sizeof(float) * MAXN * stride);
        float q[128], att[MAXN], att2[MAXN], o1[128], o2[128], o3[128];
        for (size_t i = 0; i < MAXN * stride; i++) { k[i] = uniform() * 2; v[i] = uniform(); }
        for (int i = 0; i < hd; i++) q[i] = uniform() * 2;
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
            cases++;
        }
        free(k);
        free(v);
    }
    CHECK_MSG(far == 0, "attend_head differs from the plain C version in %d values", far);
    CHECK_MSG(unstable == 0, "attend_head is not deterministic in %d cases", unstable);
    printf("attend_head: %d cases (head sizes 32/64/128/48, 1..%d positions), worst |fast - plain C| %.1e\n", cases,
           MAXN, worst);
    return check_summary("test_attend");
}
