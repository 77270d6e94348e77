/*
 * Interleaved ("repacked") weight layouts for the matmul kernels, built
 * once at model load (repack.c) from the file's row-major blocks.
 *
 * Why: a row-major dot product ends every row with a horizontal sum of
 * vector lanes, and unpacks each weight block once per (row, token). With
 * eight rows interleaved four values at a time, one 32-byte vector holds
 * four consecutive values of each of the eight rows, so a broadcast of
 * four activation bytes meets all eight rows in one maddubs and lane r of
 * the int32 sum *is* row r's dot: no horizontal sums, and the eight outputs
 * leave as one store. The same idea as llama.cpp's Q4_0x8 repacking, in our
 * own layout (documented at blk_q4_0x8).
 *
 * Activations for these kernels are Q8_0 values (exactly the numbers
 * quantize_row_q8_0_ref gives, so results stay comparable with llama.cpp)
 * stored with a float scale and 8·sum(q): the kernels multiply unsigned
 * nibbles by signed activations and subtract 8·sum(q) once per block
 * instead of recentring every nibble.
 */
#ifndef TOK_REPACK_H
#define TOK_REPACK_H
#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* One activation block: x ≈ d·qs, s8 = 8·Σqs. 40 bytes. */
typedef struct { float d; int32_t s8; int8_t qs[QK]; } blk_q8s;

/* Eight Q4_0 blocks (the same 32 columns of eight consecutive rows).
 * d[r] is row r's fp16 scale. qs: four chunks of 32 bytes; in chunk c,
 * byte 4r+j holds row r's value 8c+j in its low nibble and value 8c+4+j in
 * its high nibble (values 0..15, weight = d·(v-8) as in Q4_0). 144 bytes,
 * the size of the eight blocks it replaces. */
#define Q4X8 8
typedef struct { uint16_t d[Q4X8]; uint8_t qs[QK * Q4X8 / 2]; } blk_q4_0x8;

/* Packing nibbles four bytes at a time: with lo and hi the bytes of values
 * m..m+3 and m+4..m+7 (one value per nibble), nibble_lo gives the bytes
 * (low nibble of lo) | (low nibble of hi) << 4, nibble_hi the same of their
 * high nibbles; the masks keep every nibble inside its byte, so the word
 * operations are byte operations (packing nibble by nibble took ~45% of a
 * first forward pass). Each source row is read as one forward stream (row
 * by row within a group of eight; the group's packed blocks stay in
 * cache): with eight rows interleaved, cold memory made the pack ~20x
 * slower than warm. */
static inline uint32_t nibble_lo(uint32_t lo, uint32_t hi) { return (lo & 0x0f0f0f0fu) | (hi & 0x0f0f0f0fu) << 4; }
static inline uint32_t nibble_hi(uint32_t lo, uint32_t hi) { return (lo >> 4 & 0x0f0f0f0fu) | (hi & 0xf0f0f0f0u); }

/* Repacks n_out rows (a multiple of 8) of n_in Q4_0 values. */
void q4_0x8_pack(const void *src, blk_q4_0x8 *dst, int n_in, int n_out);
/* Row r (< n_out) of a packed matrix back as Q4_0 blocks (tests). */
void q4_0x8_unpack_row(const blk_q4_0x8 *src, void *dst, int n_in, int r);

/* n activations (a multiple of 32) to blk_q8s; fast and plain C give
 * identical bytes. */
void q8s_quantize_ref(const float *x, blk_q8s *y, int n);
void q8s_quantize(const float *x, blk_q8s *y, int n);

/* out[t*8 + r] = row r of the group w (n_in values) · activation row t,
 * t < n_tok, activation row t starting x_stride bytes after row t-1.
 * gemm4 handles n_tok = 4, gemv n_tok = 1. Each AVX2 kernel does the float
 * operations of its plain C one in the same order (bit-identical). For
 * Q4_0 and Q8_0 both sum each block exactly first (gemv = gemm4 bit for
 * bit, within rounding of the row-major kernel); for Q4_K all of them
 * follow the row-major kernel's order. */
void q4_0x8_gemv_ref(int n_in, const void *w, const void *x, float out[8]);
void q4_0x8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);
void q4_0x8_gemv(int n_in, const void *w, const void *x, float out[8]);
void q4_0x8_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);

/* ---- Q4_K, eight rows interleaved (quant_q4kx8.c) ---- */

/* Activations for it: Q8_K values and scale (exactly quantize_row_q8_K_ref's)
 * with the sums of each 32 values (a sub-block of the weights). 276 bytes. */
typedef struct { float d; int16_t bs[8]; int8_t qs[QK_K]; } blk_q8Ks;

/* Eight Q4_K super-blocks (the same 256 columns of eight rows). sc[j][r],
 * mn[j/2][2r + j%2]: row r's 6-bit scale and min of sub-block j (the mins
 * paired for madd); qs: per sub-block j, 128 bytes laid out as in
 * blk_q4_0x8. 1184 bytes for the 1152 of the eight blocks it replaces. */
typedef struct {
    uint16_t d[Q4X8], dmin[Q4X8];
    uint8_t sc[8][Q4X8];
    uint8_t mn[4][2 * Q4X8];
    uint8_t qs[8][QK * Q4X8 / 2];
} blk_q4_Kx8;

void q4_Kx8_pack(const void *src, blk_q4_Kx8 *dst, int n_in, int n_out);
/* fast and plain C give identical bytes */
void q8Ks_quantize_ref(const float *x, blk_q8Ks *y, int n);
void q8Ks_quantize(const float *x, blk_q8Ks *y, int n);
void q4_Kx8_gemv_ref(int n_in, const void *w, const void *x, float out[8]);
void q4_Kx8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);
void q4_Kx8_gemv(int n_in, const void *w, const void *x, float out[8]);
void q4_Kx8_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);

/* ---- Q8_0, eight rows interleaved (quant_q8x8.c), against blk_q8s ---- */

/* Eight Q8_0 blocks: d[r] row r's fp16 scale; qs in eight chunks of 32
 * bytes, chunk c holding values 4c..4c+3 of row 0, then of row 1, ... 272
 * bytes, the size of the eight blocks. */
typedef struct { uint16_t d[Q4X8]; int8_t qs[QK * Q4X8]; } blk_q8_0x8;

void q8_0x8_pack(const void *src, blk_q8_0x8 *dst, int n_in, int n_out);
void q8_0x8_gemv_ref(int n_in, const void *w, const void *x, float out[8]);
void q8_0x8_gemm4_ref(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);
void q8_0x8_gemv(int n_in, const void *w, const void *x, float out[8]);
void q8_0x8_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);

/* ---- AVX-512, two groups (sixteen rows) per call ----
 * Where the compiler targets AVX-512 (F, BW, VL) with VNNI, each kernel
 * above has a sixteen-row form over a pair of groups in the pair layout:
 * block i of the pair holds block i of both groups, each field (scales,
 * each 32-byte chunk of values, ...) of the first group followed by the
 * same field of the second (packed_interleave_pairs makes it), so a pair is
 * read as one forward stream and one 64-byte load gives a chunk of sixteen
 * rows. One vpdpbusd (unsigned bytes times signed bytes,
 * four products summed straight into int32) does the work of AVX2's
 * maddubs + madd on twice the rows. The integer sums are exact in any
 * order and every float step per lane is the 8-row plain C kernel's, so
 * each result equals that kernel on its group bit for bit. out[16t + r]:
 * token t, row r (r < 8: the first group). Built where TOK_HAVE_X16 (quant.h). */
void q4_0x16_gemv(int n_in, const void *w, const void *x, float out[16]);
void q4_0x16_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[64]);
void q8_0x16_gemv(int n_in, const void *w, const void *x, float out[16]);
void q8_0x16_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[64]);
void q4_Kx16_gemv(int n_in, const void *w, const void *x, float out[16]);
void q4_Kx16_gemm4(int n_in, const void *w, const void *x, size_t x_stride, float out[64]);
/* The same over a range of columns, the float accumulators carried in and
 * out, so that a row cut into consecutive column ranges and run range by
 * range gives the bit-identical result of one run (packed_make_panels).
 * gemm4_acc: each token's sixteen sums start from acc + t·acc_stride
 * (NULL: zero). gemv_acc: the sixteen sums start from acc (NULL: zero). */
void q4_0x16_gemv_acc(int n_in, const void *w, const void *x, const float *acc, float out[16]);
void q4_0x16_gemm4_acc(int n_in, const void *w, const void *x, size_t x_stride, const float *acc, size_t acc_stride,
                       float out[64]);
/* Q4_0's one-token kernels prefetching every line as well, for matmuls
 * that run on several threads (packed_kernels_threaded); the same results
 * bit for bit. */
void q4_0x16_gemv_pf(int n_in, const void *w, const void *x, float out[16]);
void q4_0x16_gemv_acc_pf(int n_in, const void *w, const void *x, const float *acc, float out[16]);
void q8_0x16_gemv_acc(int n_in, const void *w, const void *x, const float *acc, float out[16]);
void q8_0x16_gemm4_acc(int n_in, const void *w, const void *x, size_t x_stride, const float *acc, size_t acc_stride,
                       float out[64]);

/* One software prefetch for each ~2 KB of a one-token kernel's weights,
 * 16 KB ahead (the AVX2 and AVX-512 kernels). Alone on 600 MB of weights,
 * one thread, the Q4_0 sixteen-row kernel read 26-29 GB/s with no
 * prefetch and 36-38 with this one (a plain read loop: 28-30); one per
 * 4.6 KB did as well, one per 9 KB or per 1.2 KB less, and a prefetch of
 * every line 4 KB ahead cost 5-10%. That fits hardware stream prefetchers
 * that stop at 4 KB page boundaries: one touch of each page well before
 * the stream reaches it starts the next stream early, for the cost of one
 * instruction per page. */
#define PAGE_AHEAD 16384
static inline void prefetch_page_ahead(const void *w) { __builtin_prefetch((const char *)w + PAGE_AHEAD, 0, 3); }

/* ---- the table matmul uses ---- */
/* A run of count fields of one size in an 8-row block, in block order (the
 * pair layout puts each field of the first group just before the same
 * field of the second). */
typedef struct { uint16_t bytes, count; } pair_field;
typedef struct packed_kernels {
    int type;             /* the weight type this repacks */
    int block;            /* values per weight block (32 or 256) */
    size_t group_bytes;   /* bytes of one packed block of eight rows */
    size_t act_bytes;     /* bytes of one activation block */
    void (*pack)(const void *src, void *dst, int n_in, int n_out);
    void (*quantize)(const float *x, void *y, int n);
    void (*gemv)(int n_in, const void *w, const void *x, float out[8]);
    void (*gemm4)(int n_in, const void *w, const void *x, size_t x_stride, float out[32]);
    /* the sixteen-row forms, or NULL where not built (TOK_HAVE_X16) */
    void (*gemv2)(int n_in, const void *w, const void *x, float out[16]);
    void (*gemm4x2)(int n_in, const void *w, const void *x, size_t x_stride, float out[64]);
    const pair_field *fields; /* the block's fields, ending with {0, 0} */
    /* panels (packed_make_panels): their width in blocks and the kernels
     * that carry accumulators across them, or 0 and NULL */
    int panel_blocks;
    void (*gemv2_acc)(int n_in, const void *w, const void *x, const float *acc, float out[16]);
    void (*gemm4x2_acc)(int n_in, const void *w, const void *x, size_t x_stride, const float *acc, size_t acc_stride,
                        float out[64]);
    /* the form for matmuls that run on several threads (kernels that differ
     * only in prefetching), or NULL: this one */
    const struct packed_kernels *threaded;
} packed_kernels;
/* NULL when the type has no packed layout. */
const packed_kernels *packed_kernels_of(int type);
/* k's kernels for a matmul that runs on several threads: k->threaded, or k
 * itself where it has none (equal results either way). */
const packed_kernels *packed_kernels_threaded(const packed_kernels *k);
/* Rewrites a packed matrix (n_out rows of n_in values in k's 8-row layout)
 * so that groups 2p and 2p+1 are in the pair layout, for every whole pair;
 * an odd last group stays as it is. tmp: scratch of two groups' bytes.
 * Nothing is done where k has no sixteen-row kernels. */
void packed_interleave_pairs(const packed_kernels *k, void *packed, int n_in, int n_out, void *tmp);

/* Panels: long rows in column ranges of k->panel_blocks blocks.
 * Why: a one-token kernel meets each activation block once per group of
 * rows, so between two uses of an activation cache line a whole group of
 * weights streams through L1. A sixteen-row Q4_0 group of 5632 inputs is
 * 50 KB, more than the 48 KB L1 of the test machine: the activations are
 * evicted and fetched again for every group, and the kernel alone read
 * 0.71-0.81 of a plain read loop's bandwidth at 5632-8192 inputs against
 * 0.87-1.05 at 2048 (one and two threads alike; a compact activation
 * layout did not help, a 3-5 KB window of activations did). In the panel
 * layout the matrix is stored panel after panel (the last one narrower),
 * and within a panel pair after pair, each pair's blocks of that panel in
 * the pair layout; a matmul runs a run of pairs panel by panel (ops.c),
 * each row's accumulators carried from one panel to the next (the _acc
 * kernels), so each activation slice stays in L1 for every pair of the
 * run and results are bit for bit those of the plain pair layout; each
 * panel's slice of the run is one forward stream (at 5632-8192 inputs
 * the Q4_0 kernel then read 0.91-1.01 of the read loop). Q4_0 and Q8_0
 * (repack.c has the widths).
 * packed_panels: the number of panels for such a matrix, or 0 where the
 * layout does not apply (no _acc kernels, n_out not a multiple of 16, rows
 * of at most one panel). packed_make_panels rewrites a pair-layout matrix
 * (packed_interleave_pairs) into panels; tmp: scratch of the matrix's
 * size. */
int packed_panels(const packed_kernels *k, int n_in, int n_out);
void packed_make_panels(const packed_kernels *k, void *packed, int n_in, int n_out, void *tmp);

/* out[t·out_stride + r] = row r · activation row t (+ bias[r]) for the
 * rows of groups [g0, g1) (whole pairs where k has sixteen-row kernels),
 * t < n_tok, of a packed matrix in the pair layout (panels = 0) or in
 * panels (panels = packed_panels(...)); xq holds n_tok activation rows of
 * k's format, xq_row bytes apart. The matmul's per-chunk work (ops.c). */
void packed_matmul(const packed_kernels *k, const void *packed, int n_in, int n_out, int panels, int g0, int g1,
                   const void *xq, size_t xq_row, int n_tok, const float *bias, float *out, size_t out_stride);
#endif
