/*
 * Load-time repacking of weight matrices into the interleaved layouts of
 * repack.h, for the matrices the forward pass multiplies by (not the token
 * embedding, which is only read a row at a time).
 *
 * Memory and start-up: the packed copies live in one private anonymous
 * mapping as large as the repacked tensors (the layout has the same size as
 * the file's blocks). After a tensor is packed its pages of the file
 * mapping are released (madvise DONTNEED: the mapping is read-only and
 * private, so a later read, e.g. a tied embedding row, simply faults the
 * file page in again), so resident memory stays about one copy of the
 * weights. The price is that loading reads every repacked tensor once
 * (about 0.1 s per 300 MB), so start-up is no longer independent of the
 * file size for such models. Q4_0, Q8_0 and Q4_K matrices with a multiple
 * of 8 rows are repacked; everything else is multiplied in the file's layout.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "repack.h"

static void pack_q4_0(const void *src, void *dst, int n_in, int n_out) { q4_0x8_pack(src, dst, n_in, n_out); }
static void pack_q4_K(const void *src, void *dst, int n_in, int n_out) { q4_Kx8_pack(src, dst, n_in, n_out); }
static void pack_q8_0(const void *src, void *dst, int n_in, int n_out) { q8_0x8_pack(src, dst, n_in, n_out); }
static void quant_q8s(const float *x, void *y, int n) { q8s_quantize(x, y, n); }
static void quant_q8Ks(const float *x, void *y, int n) { q8Ks_quantize(x, y, n); }

static const packed_kernels kernels[] = {
    {TOK_TYPE_Q4_0, QK, sizeof(blk_q4_0x8), sizeof(blk_q8s), pack_q4_0, quant_q8s, q4_0x8_gemv, q4_0x8_gemm4},
    {TOK_TYPE_Q8_0, QK, sizeof(blk_q8_0x8), sizeof(blk_q8s), pack_q8_0, quant_q8s, q8_0x8_gemv, q8_0x8_gemm4},
    {TOK_TYPE_Q4_K, QK_K, sizeof(blk_q4_Kx8), sizeof(blk_q8Ks), pack_q4_K, quant_q8Ks, q4_Kx8_gemv, q4_Kx8_gemm4},
};

const packed_kernels *packed_kernels_of(int type) {
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        if (kernels[i].type == type) return &kernels[i];
    return NULL;
}

static size_t packed_bytes(const weight *w) {
    const packed_kernels *k = packed_kernels_of(w->type);
    if (!k || w->n_out % Q4X8 || w->n_in % k->block) return 0;
    return (size_t)w->n_out / Q4X8 * (size_t)(w->n_in / k->block) * k->group_bytes;
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
    size_t total = 0;
    for (int i = 0; i < n; i++) total += packed_bytes(ws[i]);
    if (total == 0) { free(ws); return 0; }
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        free(ws);
        return eng_fail(err, TOK_ENOMEM, "%s: out of memory for %zu bytes of repacked weights",
                        tok_gguf_path(m->gguf), total);
    }
    m->packed_mem = mem;
    m->packed_size = total;
    char *at = mem;
    for (int i = 0; i < n; i++) {
        weight *w = ws[i];
        size_t bytes = packed_bytes(w);
        if (!bytes) continue;
        packed_kernels_of(w->type)->pack(w->data, at, w->n_in, w->n_out);
        w->packed = at;
        release_pages(w->data, (size_t)w->n_out * w->row_bytes);
        at += bytes;
    }
    free(ws);
    /* nothing writes the packed weights again */
    mprotect(mem, total, PROT_READ);
    return 0;
}

void model_repack_free(tok_model *m) {
    if (m->packed_mem) munmap(m->packed_mem, m->packed_size);
    m->packed_mem = NULL;
}
