/* The engine's error helper and the portable half-precision conversion. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "engine.h"

int eng_fail(tok_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* Float to IEEE half, round-to-nearest-even, overflow to inf, NaN kept. Used
 * when the CPU has no F16C; tests compare it with the instruction. */
uint16_t fp32_to_fp16_soft(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000) {                                  /* result is subnormal or zero */
        if (ax < 0x33000000) return (uint16_t)sign;         /* < half of the smallest subnormal */
        uint32_t e = ax >> 23, man = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)e; /* bits to drop so the unit is 2^-24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1); /* round mantissa to 10 bits, ties to even */
    return (uint16_t)(sign | ((r - 0x38000000) >> 13));
}
