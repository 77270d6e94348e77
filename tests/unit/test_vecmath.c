/*
 * The vectorized element-wise math of the forward pass (engine/vecmath.h)
 * against its plain C versions: exp8 within 2 ulp of libm's expf over the
 * whole range it is used on (and finite, positive, below it), SwiGLU and
 * the softmax's shifted exp-and-sum within a few ulp of the scalar loops,
 * including lengths that leave a scalar tail.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vecmath.h"

static int ulps(float a, float b) {
    int32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return abs(x - y);
}

int main(void) {
#if defined(__AVX2__) && defined(__FMA__)
    int worst = 0, bad = 0;
    for (float x = -86.5f; x < 88.7f; x += 0.00071f) {
        float v[8], o[8];
        for (int i = 0; i < 8; i++) v[i] = x + (float)i * 0.0001f;
        _mm256_storeu_ps(o, exp8(_mm256_loadu_ps(v)));
        for (int i = 0; i < 8; i++) {
            int u = ulps(o[i], expf(v[i]));
            if (u > worst) worst = u;
        }
    }
    float big[8] = {-1000, -200, -100, -87, 89, 100, 1000, 0}, o[8];
    _mm256_storeu_ps(o, exp8(_mm256_loadu_ps(big)));
    for (int i = 0; i < 8; i++) if (!(o[i] > 0) || !isfinite(o[i])) bad++;
    CHECK_MSG(worst <= 2, "exp8 is %d ulp from expf", worst);
    CHECK_EQ_INT(bad, 0);
    printf("exp8: worst %d ulp from expf on [-86.5, 88.7]\n", worst);
#endif
    uint32_t rng = 12345;
    int far = 0;
    for (int n = 1; n < 300; n += 37) {
        float a[300], b[300], up[300], s1[300], s2[300];
        for (int i = 0; i < n; i++) {
            rng = rng * 1664525u + 1013904223u;
            a[i] = b[i] = ((float)(rng >> 8) / 16777216.0f - 0.5f) * 40.0f;
            up[i] = (float)i * 0.01f - 1.0f;
            s1[i] = s2[i] = a[i] - 30.0f;
        }
        swiglu(a, up, (size_t)n);
        swiglu_ref(b, up, (size_t)n);
        for (int i = 0; i < n; i++) if (ulps(a[i], b[i]) > 4 && fabsf(a[i] - b[i]) > 1e-30f) far++;
        double e1 = exp_shift_sum(s1, n, 5.0f), e2 = exp_shift_sum_ref(s2, n, 5.0f);
        for (int i = 0; i < n; i++) if (ulps(s1[i], s2[i]) > 2 && fabsf(s1[i] - s2[i]) > 1e-30f) far++;
        if (fabs(e1 - e2) > 1e-6 * e2) far++;
    }
    CHECK_EQ_INT(far, 0);
    return check_summary("test_vecmath");
}
