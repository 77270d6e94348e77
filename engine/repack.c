/*
 * Repacking of weight matrices into the interleaved layouts of repack.h,
 * for the matrices the forward pass multiplies by (not the token embedding,
 * which is only read a row at a time), on first use.
 *
 * Start-up and memory: loading only reserves one private anonymous mapping
 * as large as the repackable tensors (address space: no page is touched),
 * so loading stays an mmap whose cost does not grow with the file. The
 * first matmul by a weight packs it (its file pages are read once, as the
 * first use of any mmapped weight reads them) and then releases its pages
 * of the file mapping (madvise DONTNEED: the mapping is read-only and
 * private, so a later read, e.g. a tied embedding row, faults the file page
 * in again): resident memory stays about one copy of the weights touched.
 * The first forward pass therefore carries the packing (1.5-1.7 s for a
 * 600 MB Q4_0 model on the 2-vCPU test machine, 2.2-2.5 s before the
 * mapping asked for huge pages); every later one runs on the packed copies.
 * Sessions on several threads may meet an unpacked weight at once: a mutex
 * lets one pack while the others wait, and the pointer is published with
 * release/acquire order. Q4_0, Q8_0 and Q4_K matrices with a multiple of 8
 * rows are repacked; everything else is multiplied in the file's layout.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "repack.h"

static void pack_q4_0(const void *src, void *dst, int n_in, int n_out) { q4_0x8_pack(src, dst, n_in, n_out); }
static void pack_q4_K(const void *src, void *dst, int n_in, int n_out) { q4_Kx8_pack(src, dst, n_in, n_out); }
static void pack_q8_0(const void *src, void *dst, int n_in, int n_out) { q8_0x8_pack(src, dst, n_in, n_out); }
static void quant_q8s(const float *x, void *y, int n) { q8s_quantize(x, y, n); }
static void quant_q8Ks(const float *x, void *y, int n) { q8Ks_quantize(x, y, n); }

#if defined(TOK_HAVE_X16)
#define X16(a, b) a, b
#define PANELS(n, a, b) n, a, b
#else
#define X16(a, b) NULL, NULL
#define PANELS(n, a, b) 0, NULL, NULL
#endif
/* Panels (repack.h): Q4_0 64 blocks (2048 inputs: a pair's slice is 18 KB
 * and its activations 4.6 KB, well inside L1), Q8_0 32 (1024 inputs: 17 KB
 * and 2.3 KB). Q4_K's activations are half as large per weight byte (its
 * kernel lost ~3% at 5632 inputs): no panels. */
#define Q4_0_PANEL 64
#define Q8_0_PANEL 32
/* the blocks' fields (repack.h), for the pair layout */
static const pair_field q4_0_fields[] = {{16, 1}, {32, 4}, {0, 0}};
static const pair_field q8_0_fields[] = {{16, 1}, {32, 8}, {0, 0}};
static const pair_field q4_K_fields[] = {{16, 2}, {8, 8}, {16, 4}, {32, 32}, {0, 0}};
#define Q4_0_KERNELS(gemv2, gemv2_acc, threaded)                                                               \
    {TOK_TYPE_Q4_0, QK, sizeof(blk_q4_0x8), sizeof(blk_q8s), pack_q4_0, quant_q8s, q4_0x8_gemv, q4_0x8_gemm4, \
     X16(gemv2, q4_0x16_gemm4), q4_0_fields, PANELS(Q4_0_PANEL, gemv2_acc, q4_0x16_gemm4_acc), threaded}
/* Q4_0's one-token kernels prefetch every line only on several threads
 * (quant_q4x8.c). */
#if defined(TOK_HAVE_X16)
static const packed_kernels q4_0_threaded = Q4_0_KERNELS(q4_0x16_gemv_pf, q4_0x16_gemv_acc_pf, NULL);
#define Q4_0_THREADED (&q4_0_threaded)
#else
#define Q4_0_THREADED NULL
#endif
static const packed_kernels kernels[] = {
    Q4_0_KERNELS(q4_0x16_gemv, q4_0x16_gemv_acc, Q4_0_THREADED),
    {TOK_TYPE_Q8_0, QK, sizeof(blk_q8_0x8), sizeof(blk_q8s), pack_q8_0, quant_q8s, q8_0x8_gemv, q8_0x8_gemm4,
     X16(q8_0x16_gemv, q8_0x16_gemm4), q8_0_fields, PANELS(Q8_0_PANEL, q8_0x16_gemv_acc, q8_0x16_gemm4_acc), NULL},
    {TOK_TYPE_Q4_K, QK_K, sizeof(blk_q4_Kx8), sizeof(blk_q8Ks), pack_q4_K, quant_q8Ks, q4_Kx8_gemv, q4_Kx8_gemm4,
     X16(q4_Kx16_gemv, q4_Kx16_gemm4), q4_K_fields, 0, NULL, NULL, NULL},
};

const packed_kernels *packed_kernels_of(int type) {
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        if (kernels[i].type == type) return &kernels[i];
    return NULL;
}

const packed_kernels *packed_kernels_threaded(const packed_kernels *k) { return k->threaded ? k->threaded : k; }

/* Bytes of one packed group of eight rows of w. */
static size_t group_bytes(const weight *w, const packed_kernels *k) { return (size_t)(w->n_in / k->block) * k->group_bytes; }

static size_t packed_bytes(const weight *w) {
    const packed_kernels *k = packed_kernels_of(w->type);
    if (!k || w->n_out % Q4X8 || w->n_in % k->block) return 0;
    return (size_t)w->n_out / Q4X8 * group_bytes(w, k);
}

void packed_interleave_pairs(const packed_kernels *k, void *packed, int n_in, int n_out, void *tmp) {
    if (!k->gemv2) return;
    size_t blk = k->group_bytes, nb = (size_t)(n_in / k->block), gbytes = nb * blk;
    int ng = n_out / Q4X8;
    for (int g = 0; g + 1 < ng; g += 2) {
        char *pair = (char *)packed + (size_t)g * gbytes;
        memcpy(tmp, pair, 2 * gbytes);
        for (size_t i = 0; i < nb; i++) {
            const char *a = (const char *)tmp + i * blk, *b = a + gbytes;
            char *o = pair + 2 * i * blk;
            for (const pair_field *f = k->fields; f->bytes; f++)
                for (int n = 0; n < f->count; n++, a += f->bytes, b += f->bytes) {
                    memcpy(o, a, f->bytes);
                    memcpy(o + f->bytes, b, f->bytes);
                    o += 2 * f->bytes;
                }
        }
    }
}

int packed_panels(const packed_kernels *k, int n_in, int n_out) {
    if (!k->panel_blocks || !k->gemv2_acc || n_out % (2 * Q4X8) || n_in % k->block) return 0;
    int nb = n_in / k->block;
    return nb > k->panel_blocks ? (nb + k->panel_blocks - 1) / k->panel_blocks : 0;
}

void packed_make_panels(const packed_kernels *k, void *packed, int n_in, int n_out, void *tmp) {
    int panels = packed_panels(k, n_in, n_out);
    if (!panels) return;
    size_t blk2 = 2 * k->group_bytes, nb = (size_t)(n_in / k->block), pb = (size_t)k->panel_blocks;
    int pairs = n_out / (2 * Q4X8);
    memcpy(tmp, packed, (size_t)pairs * nb * blk2);
    char *o = packed;
    for (int p = 0; p < panels; p++) {
        size_t i0 = (size_t)p * pb, w = nb - i0 < pb ? nb - i0 : pb;
        for (int q = 0; q < pairs; q++, o += w * blk2) memcpy(o, (const char *)tmp + ((size_t)q * nb + i0) * blk2, w * blk2);
    }
}

/* The weights matmul multiplies by, once each (a tied output is its own
 * weight struct, distinct from tok_embd). */
static int matmul_weights(tok_model *m, weight **out) {
    int n = 0;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        layer_weights *L = &m->layers[l];
        weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) if (out) out[n++] = ws[i]; else n++;
    }
    if (out) out[n] = &m->output;
    return n + 1;
}

#define HUGE_PAGE ((size_t)2 << 20)

/* Gives the file pages under [p, p+n) back to the kernel (whole pages only). */
static void release_pages(const void *p, size_t n) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + pg - 1) / pg * pg, b = ((uintptr_t)p + n) / pg * pg;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

int model_repack(tok_model *m, tok_error *err) {
    int n = matmul_weights(m, NULL);
    weight **ws = malloc((size_t)n * sizeof *ws);
    if (!ws) return eng_fail(err, TOK_ENOMEM, "out of memory");
    matmul_weights(m, ws);
    pthread_mutex_init(&m->pack_lock, NULL);
    size_t total = 0, pair_tmp = 0; /* scratch of two groups for the pair layout */
    for (int i = 0; i < n; i++) {
        size_t b = packed_bytes(ws[i]);
        const packed_kernels *k = packed_kernels_of(ws[i]->type);
        total += b;
        if (b && k->gemv2 && 2 * group_bytes(ws[i], k) > pair_tmp) pair_tmp = 2 * group_bytes(ws[i], k);
    }
    if (total == 0) { free(ws); return 0; }
    if (pair_tmp && !(m->pack_tmp = malloc(pair_tmp))) { /* used under pack_lock */
        free(ws);
        return eng_fail(err, TOK_ENOMEM, "out of memory");
    }
    /* 2 MB aligned, asking for transparent huge pages: packing writes every
     * byte once, and one fault per 2 MB instead of per 4 KB makes the first
     * forward pass of a 600 MB model ~2x faster where faults are dear */
    size_t span = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    char *map = mmap(NULL, span + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        free(ws);
        return eng_fail(err, TOK_ENOMEM, "%s: out of memory for %zu bytes of repacked weights",
                        tok_gguf_path(m->gguf), total);
    }
    char *mem = (char *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (mem > map) munmap(map, (size_t)(mem - map));
    if (mem + span < map + span + HUGE_PAGE) munmap(mem + span, (size_t)(map + span + HUGE_PAGE - (mem + span)));
    madvise(mem, span, MADV_HUGEPAGE);
    m->packed_mem = mem;
    m->packed_size = span;
    char *at = mem;
    for (int i = 0; i < n; i++) {
        size_t bytes = packed_bytes(ws[i]);
        if (!bytes) continue;
        ws[i]->pack_dst = at;
        ws[i]->panels = 0;
        atomic_init(&ws[i]->packed, NULL);
        at += bytes;
    }
    free(ws);
    return 0;
}

const void *model_packed(const tok_model *m, const weight *w) {
    if (!w->pack_dst) return NULL;
    const void *p = atomic_load_explicit(&w->packed, memory_order_acquire);
    if (p) return p;
    /* first use: the model is shared read-only, except for this one-time fill */
    weight *mw = (weight *)w;
    pthread_mutex_t *lock = (pthread_mutex_t *)&m->pack_lock;
    pthread_mutex_lock(lock);
    p = atomic_load_explicit(&mw->packed, memory_order_relaxed);
    if (!p) {
        const packed_kernels *k = packed_kernels_of(w->type);
        k->pack(w->data, w->pack_dst, w->n_in, w->n_out);
        packed_interleave_pairs(k, w->pack_dst, w->n_in, w->n_out, m->pack_tmp);
        /* panels need a copy of the matrix for a moment; without the
         * memory the pair layout serves, only slower */
        int panels = packed_panels(k, w->n_in, w->n_out);
        void *tmp = panels ? malloc((size_t)w->n_out / Q4X8 * group_bytes(w, k)) : NULL;
        if (tmp) packed_make_panels(k, w->pack_dst, w->n_in, w->n_out, tmp);
        mw->panels = tmp ? panels : 0;
        free(tmp);
        release_pages(w->data, (size_t)w->n_out * w->row_bytes);
        p = w->pack_dst;
        atomic_store_explicit(&mw->packed, p, memory_order_release);
    }
    pthread_mutex_unlock(lock);
    return p;
}

void model_repack_free(tok_model *m) {
    if (m->packed_mem) {
        munmap(m->packed_mem, m->packed_size);
        pthread_mutex_destroy(&m->pack_lock);
    }
    m->packed_mem = NULL;
    free(m->pack_tmp);
    m->pack_tmp = NULL;
}
