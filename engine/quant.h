/*
 * Tensor block layouts (as ggml defines them) and the kernels over them:
 * dequantize a row, quantize activations to the weight type's "dot type"
 * (Q8_0 / Q8_1 / Q8_K / F16 / BF16 / F32, as llama.cpp's CPU matmuls do), and
 * the dot product of one weight row with one quantized activation row.
 * Every dot product has a plain C reference (quant_ref.c) and an AVX2 version
 * (quant_avx2.c); quant_traits() hands out the fastest one the build has.
 */
#ifndef TOK_QUANT_H
#define TOK_QUANT_H
#include <stddef.h>
#include <stdint.h>

#define QK 32    /* values per block of the 32-wide formats */
#define QK_K 256 /* values per super-block of the K-quants */

typedef struct { uint16_t d; int8_t qs[QK]; } blk_q8_0;                      /* 34 B: x = d*q */
typedef struct { uint16_t d, s; int8_t qs[QK]; } blk_q8_1;                   /* 36 B: s = d*sum(q) */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_q4_0;                 /* 18 B: x = d*(nib-8) */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } blk_q4_1;              /* 20 B: x = d*nib + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_0;  /* 22 B: x = d*(q5-16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_1; /* 24 B: x = d*q5 + m */
/* K-quants: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } blk_q4_K; /* 144 B */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } blk_q5_K; /* 176 B */
/* 16 sub-blocks of 16 with int8 scales; 6-bit values as 4 low + 2 high bits */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } blk_q6_K; /* 210 B */
/* activations for the K-quants: float scale, int8 values, sums of 16 */
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } blk_q8_K; /* 292 B */

typedef void (*quant_dot_fn)(int n, const void *w, const void *x, float *out);
typedef void (*quant_row_fn)(const void *src, float *dst, int64_t n);
typedef void (*quant_from_fn)(const float *src, void *dst, int64_t n);
/* One weight row against four activation rows x + c*x_stride bytes (c < 4). */
typedef void (*quant_dot4_fn)(int n, const void *w, const void *x, size_t x_stride, float out[4]);

typedef struct quant_traits {
    int type;            /* enum tok_tensor_type */
    int64_t block;       /* values per block */
    size_t bytes;        /* bytes per block */
    int dot_type;        /* the type activations are converted to */
    quant_row_fn to_float;
    quant_dot_fn dot_ref;  /* plain C */
    quant_dot_fn dot;      /* fastest available (AVX2 when built with it) */
} quant_traits;

/* NULL if the engine cannot compute with the type. */
const quant_traits *quant_traits_of(int type);
/* Bytes of a row of n values (n a multiple of the block). */
size_t quant_row_bytes(int type, int64_t n);
/* Converts n activations to a dot type (Q8_0, Q8_1, Q8_K, F16, BF16, F32). */
void quant_from_float(int dot_type, const float *x, void *out, int64_t n);

/* reference kernels, exposed for tests */
void quantize_row_q8_0_ref(const float *x, void *y, int64_t n);
void quantize_row_q8_1_ref(const float *x, void *y, int64_t n);
void quantize_row_q8_K_ref(const float *x, void *y, int64_t n);
/* the dot product with reference and AVX2 version for each weight type */
quant_dot_fn quant_dot_avx2(int type); /* NULL if no AVX2 version / not built */
/* Where the compiler targets AVX-512 (F, BW, VL) with VNNI (and F16C,
 * FMA), the AVX-512 kernels are built: quant_dot_avx512 here, the
 * sixteen-row kernels of repack.h. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__) && \
    defined(__F16C__) && defined(__FMA__)
#define TOK_HAVE_X16 1
#endif
/* AVX-512 VNNI versions (Q6_K so far), bit for bit the AVX2 one; NULL if
 * none or not built. The traits' dot prefers it. */
quant_dot_fn quant_dot_avx512(int type);
/* four-column kernels (quant_avx2_multi.c): each column bit-identical to
 * quant_dot_avx2's result; NULL where there is none (callers loop over dot) */
quant_dot4_fn quant_dot4_avx2(int type);
void quant_dot4_ref(const quant_traits *t, int n, const void *w, const void *x, size_t x_stride, float out[4]);
#endif
