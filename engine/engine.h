/*
 * Private declarations shared by the engine's files: error helper, half
 * precision conversions, the thread pool. Not part of the public API.
 */
#ifndef TOK_ENGINE_INTERNAL_H
#define TOK_ENGINE_INTERNAL_H
#include <stdint.h>
#include <string.h>

#include "tok_engine.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

/* Fills err (if any) and returns code. */
int eng_fail(tok_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* IEEE half <-> float. Round-to-nearest-even, as F16C and ggml do. */
static inline float fp16_to_fp32(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: renormalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}
uint16_t fp32_to_fp16_soft(float f);
static inline uint16_t fp32_to_fp16(float f) {
#if defined(__F16C__)
    return _cvtss_sh(f, 0);
#else
    return fp32_to_fp16_soft(f);
#endif
}
static inline float bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
/* Round-to-nearest-even, NaN kept quiet (as ggml_compute_fp32_to_bf16). */
static inline uint16_t fp32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

/* ---- thread pool ----------------------------------------------------------- */

/* n_threads workers including the caller. tok_pool_run calls fn(ctx, chunk,
 * ith) once for every chunk < n_chunks, each on some thread ith < n_threads
 * (ith indexes per-thread scratch), and returns when all have finished;
 * n_chunks == 1 runs inline on the caller. Not reentrant: one caller (the
 * session) at a time. */
typedef struct tok_pool tok_pool;
typedef void (*tok_pool_fn)(void *ctx, int chunk, int ith);
tok_pool *tok_pool_new(int n_threads);
void tok_pool_free(tok_pool *p);
int tok_pool_size(const tok_pool *p);
void tok_pool_run(tok_pool *p, tok_pool_fn fn, void *ctx, int n_chunks);
#endif
