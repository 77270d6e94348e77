/*
 * GGUF reader (v2 and v3; v1 used 32-bit counts and is rejected).
 *
 * Layout: "GGUF", u32 version, u64 n_tensors, u64 n_kv, n_kv × {string key,
 * u32 type, value}, n_tensors × {string name, u32 n_dims, u64 ne[n_dims],
 * u32 type, u64 offset}, padding to general.alignment (default 32), data.
 *
 * Design: the file is mmap'd and parsed once at open into an index (keys,
 * scalar values, array positions, tensor infos); nothing of the file is
 * copied except key/tensor names and scalar strings (NUL-terminated copies).
 * String arrays get an index of {pointer, length} into the map so the
 * tokenizer's 100k-entry vocabularies cost one pass. Every read goes through
 * a cursor that checks the remaining length first, and every size product is
 * overflow-checked, so a hostile file produces an error naming the key or
 * tensor, never an out-of-bounds read. Cost: O(file metadata) time and
 * memory; tensor data is never touched at open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

typedef struct gguf_kv {
    char *key;
    int type;            /* enum tok_gguf_type */
    union { uint64_t u; int64_t i; double f; } v; /* scalars */
    char *str;           /* STRING: NUL-terminated copy */
    int arr_type;        /* ARRAY: element type */
    uint64_t arr_n;
    const uint8_t *arr_data;   /* numeric arrays: packed little-endian elements */
    tok_gguf_str *arr_strs;    /* string arrays */
} gguf_kv;

struct tok_gguf {
    char *path;
    const uint8_t *base;
    size_t size;
    bool mapped;
    uint32_t version, alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;
    gguf_kv *kv;
    tok_gguf_tensor *tensors;
};

/* ---- type tables ---------------------------------------------------------- */

static const struct { int id; const char *name; int64_t block, size; } tensor_types[] = {
    {TOK_TYPE_F32, "F32", 1, 4},      {TOK_TYPE_F16, "F16", 1, 2},
    {TOK_TYPE_Q4_0, "Q4_0", 32, 18},  {TOK_TYPE_Q4_1, "Q4_1", 32, 20},
    {4, "Q4_2", 0, 0},                {5, "Q4_3", 0, 0},
    {TOK_TYPE_Q5_0, "Q5_0", 32, 22},  {TOK_TYPE_Q5_1, "Q5_1", 32, 24},
    {TOK_TYPE_Q8_0, "Q8_0", 32, 34},  {TOK_TYPE_Q8_1, "Q8_1", 32, 36},
    {TOK_TYPE_Q2_K, "Q2_K", 256, 84}, {TOK_TYPE_Q3_K, "Q3_K", 256, 110},
    {TOK_TYPE_Q4_K, "Q4_K", 256, 144}, {TOK_TYPE_Q5_K, "Q5_K", 256, 176},
    {TOK_TYPE_Q6_K, "Q6_K", 256, 210}, {TOK_TYPE_Q8_K, "Q8_K", 256, 292},
    {16, "IQ2_XXS", 256, 66},         {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98},         {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},           {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},           {23, "IQ4_XS", 256, 136},
    {24, "I8", 1, 1},                 {25, "I16", 1, 2},
    {26, "I32", 1, 4},                {27, "I64", 1, 8},
    {28, "F64", 1, 8},                {29, "IQ1_M", 256, 56},
    {TOK_TYPE_BF16, "BF16", 1, 2},    {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},
};

static int type_index(int type) {
    for (size_t i = 0; i < sizeof tensor_types / sizeof *tensor_types; i++)
        if (tensor_types[i].id == type) return (int)i;
    return -1;
}
const char *tok_tensor_type_name(int type) {
    int i = type_index(type);
    return i < 0 ? "?" : tensor_types[i].name;
}
/* The sizes are known for every ggml type so a file can be listed and
 * validated even when the engine cannot compute with some of its tensors. */
int64_t tok_tensor_type_block(int type) {
    int i = type_index(type);
    return i < 0 ? 0 : tensor_types[i].block;
}
int64_t tok_tensor_type_size(int type) {
    int i = type_index(type);
    return i < 0 ? 0 : tensor_types[i].size;
}

static const char *const gguf_type_names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                              "bool", "string", "array", "u64", "i64", "f64"};
const char *tok_gguf_type_name(int type) {
    return type >= 0 && type <= 12 ? gguf_type_names[type] : "?";
}
/* Bytes of one scalar of a type; 0 for string/array/unknown. */
static size_t scalar_size(int type) {
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type >= 0 && type <= 12 ? sz[type] : 0;
}

/* ---- bounds-checked cursor ------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, size;
    const char *path;
    tok_error *err;
} cursor;

static bool need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos) {
        eng_fail(c->err, TOK_EFORMAT, "%s: truncated at byte %zu: %s needs %llu bytes, %zu left",
                 c->path, c->pos, what, (unsigned long long)n, c->size - c->pos);
        return false;
    }
    return true;
}
static uint64_t rd_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static bool rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (!need(c, 4, what)) return false;
    *v = (uint32_t)rd_le(c->p + c->pos, 4);
    c->pos += 4;
    return true;
}
static bool rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (!need(c, 8, what)) return false;
    *v = rd_le(c->p + c->pos, 8);
    c->pos += 8;
    return true;
}
/* A string in place: length, then bytes. */
static bool rd_str(cursor *c, tok_gguf_str *s, const char *what) {
    uint64_t len;
    if (!rd_u64(c, &len, what)) return false;
    if (len > c->size - c->pos) {
        eng_fail(c->err, TOK_EFORMAT, "%s: %s at byte %zu: string length %llu exceeds the file (%zu bytes left)",
                 c->path, what, c->pos - 8, (unsigned long long)len, c->size - c->pos);
        return false;
    }
    s->s = (const char *)c->p + c->pos;
    s->len = len;
    c->pos += len;
    return true;
}
static char *dup_str(tok_gguf_str s, tok_error *err, const char *path) {
    char *d = malloc(s.len + 1);
    if (!d) { eng_fail(err, TOK_ENOMEM, "%s: out of memory", path); return NULL; }
    memcpy(d, s.s, s.len);
    d[s.len] = 0;
    return d;
}

static double scalar_as_float(int type, const uint8_t *p) {
    uint64_t u = rd_le(p, scalar_size(type));
    switch (type) {
    case TOK_GGUF_F32: { float f; uint32_t b = (uint32_t)u; memcpy(&f, &b, 4); return f; }
    case TOK_GGUF_F64: { double d; memcpy(&d, &u, 8); return d; }
    case TOK_GGUF_I8: return (int8_t)u;
    case TOK_GGUF_I16: return (int16_t)u;
    case TOK_GGUF_I32: return (int32_t)u;
    case TOK_GGUF_I64: return (double)(int64_t)u;
    default: return (double)u;
    }
}
static int64_t scalar_as_int(int type, const uint8_t *p) {
    uint64_t u = rd_le(p, scalar_size(type));
    switch (type) {
    case TOK_GGUF_I8: return (int8_t)u;
    case TOK_GGUF_I16: return (int16_t)u;
    case TOK_GGUF_I32: return (int32_t)u;
    case TOK_GGUF_F32: case TOK_GGUF_F64: return (int64_t)scalar_as_float(type, p);
    default: return (int64_t)u;
    }
}
static bool is_int_type(int t) {
    return t == TOK_GGUF_U8 || t == TOK_GGUF_I8 || t == TOK_GGUF_U16 || t == TOK_GGUF_I16 ||
           t == TOK_GGUF_U32 || t == TOK_GGUF_I32 || t == TOK_GGUF_U64 || t == TOK_GGUF_I64 ||
           t == TOK_GGUF_BOOL;
}

/* Skips an array value of any type (nested arrays recurse, bounded depth). */
static bool skip_array(cursor *c, int depth, const char *key) {
    uint32_t et;
    uint64_t n;
    if (!rd_u32(c, &et, key) || !rd_u64(c, &n, key)) return false;
    if (depth > 4) return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': arrays nested too deeply", c->path, key), false;
    size_t es = scalar_size((int)et);
    if (es) {
        if (n > (c->size - c->pos) / es)
            return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': array of %llu %s exceeds the file",
                            c->path, key, (unsigned long long)n, tok_gguf_type_name((int)et)), false;
        c->pos += n * es;
        return true;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (et == TOK_GGUF_STRING) {
            tok_gguf_str s;
            if (!rd_str(c, &s, key)) return false;
        } else if (et == TOK_GGUF_ARRAY) {
            if (!skip_array(c, depth + 1, key)) return false;
        } else {
            return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': unknown array element type %u",
                            c->path, key, et), false;
        }
    }
    return true;
}

static bool read_kv(tok_gguf *g, cursor *c, int64_t idx) {
    gguf_kv *kv = &g->kv[idx];
    tok_gguf_str k;
    char what[48];
    snprintf(what, sizeof what, "metadata key #%lld", (long long)idx);
    if (!rd_str(c, &k, what)) return false;
    if (!(kv->key = dup_str(k, c->err, c->path))) return false;
    uint32_t type;
    if (!rd_u32(c, &type, kv->key)) return false;
    kv->type = (int)type;
    size_t es = scalar_size(kv->type);
    if (es) {
        if (!need(c, es, kv->key)) return false;
        const uint8_t *p = c->p + c->pos;
        if (kv->type == TOK_GGUF_F32 || kv->type == TOK_GGUF_F64) kv->v.f = scalar_as_float(kv->type, p);
        else kv->v.i = scalar_as_int(kv->type, p);
        c->pos += es;
        return true;
    }
    if (kv->type == TOK_GGUF_STRING) {
        tok_gguf_str s;
        if (!rd_str(c, &s, kv->key)) return false;
        return (kv->str = dup_str(s, c->err, c->path)) != NULL;
    }
    if (kv->type != TOK_GGUF_ARRAY)
        return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': unknown value type %u", c->path, kv->key, type), false;
    size_t start = c->pos;
    uint32_t et;
    uint64_t n;
    if (!rd_u32(c, &et, kv->key) || !rd_u64(c, &n, kv->key)) return false;
    kv->arr_type = (int)et;
    kv->arr_n = n;
    es = scalar_size((int)et);
    if (es) {
        if (n > (c->size - c->pos) / es)
            return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': array of %llu %s exceeds the file",
                            c->path, kv->key, (unsigned long long)n, tok_gguf_type_name((int)et)), false;
        kv->arr_data = c->p + c->pos;
        c->pos += n * es;
        return true;
    }
    if (et == TOK_GGUF_STRING) {
        /* each element takes at least its 8-byte length: bound before allocating */
        if (n > (c->size - c->pos) / 8)
            return eng_fail(c->err, TOK_EFORMAT, "%s: key '%s': array of %llu strings exceeds the file",
                            c->path, kv->key, (unsigned long long)n), false;
        kv->arr_strs = malloc((n ? n : 1) * sizeof *kv->arr_strs);
        if (!kv->arr_strs) return eng_fail(c->err, TOK_ENOMEM, "%s: out of memory", c->path), false;
        for (uint64_t i = 0; i < n; i++) {
            char w[320];
            snprintf(w, sizeof w, "key '%.200s' element %llu", kv->key, (unsigned long long)i);
            if (!rd_str(c, &kv->arr_strs[i], w)) return false;
        }
        return true;
    }
    c->pos = start;
    return skip_array(c, 0, kv->key);
}

static bool read_tensor_info(tok_gguf *g, cursor *c, int64_t idx) {
    tok_gguf_tensor *t = &g->tensors[idx];
    char what[48];
    snprintf(what, sizeof what, "tensor info #%lld", (long long)idx);
    tok_gguf_str name;
    if (!rd_str(c, &name, what)) return false;
    if (name.len >= 256)
        return eng_fail(c->err, TOK_EFORMAT, "%s: tensor #%lld: name of %llu bytes is too long",
                        c->path, (long long)idx, (unsigned long long)name.len), false;
    if (!(t->name = dup_str(name, c->err, c->path))) return false;
    if (!rd_u32(c, &t->n_dims, t->name)) return false;
    if (t->n_dims < 1 || t->n_dims > 4)
        return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': %u dimensions (1 to 4 allowed)",
                        c->path, t->name, t->n_dims), false;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t v;
        if (!rd_u64(c, &v, t->name)) return false;
        if (v > (uint64_t)INT64_MAX)
            return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': dimension %u is negative", c->path, t->name, d), false;
        t->ne[d] = (int64_t)v;
    }
    uint32_t type;
    if (!rd_u32(c, &type, t->name)) return false;
    t->type = (int)type;
    if (!rd_u64(c, &t->offset, t->name)) return false;
    int64_t blk = tok_tensor_type_block(t->type), tsz = tok_tensor_type_size(t->type);
    if (blk <= 0)
        return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': unknown tensor type %u", c->path, t->name, type), false;
    /* element count, overflow-checked */
    uint64_t nel = 1;
    for (int d = 0; d < 4; d++) {
        uint64_t ne = (uint64_t)t->ne[d];
        if (ne && nel > (uint64_t)INT64_MAX / ne)
            return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': element count overflows", c->path, t->name), false;
        nel *= ne;
    }
    if (t->ne[0] % blk)
        return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': row length %lld is not a multiple of the %s block size %lld",
                        c->path, t->name, (long long)t->ne[0], tok_tensor_type_name(t->type), (long long)blk), false;
    uint64_t nblocks = nel / (uint64_t)blk;
    if (nblocks > UINT64_MAX / (uint64_t)tsz)
        return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s': byte size overflows", c->path, t->name), false;
    t->nbytes = nblocks * (uint64_t)tsz;
    for (int64_t j = 0; j < idx; j++)
        if (!strcmp(g->tensors[j].name, t->name))
            return eng_fail(c->err, TOK_EFORMAT, "%s: tensor '%s' appears twice", c->path, t->name), false;
    return true;
}

static void gguf_free_index(tok_gguf *g) {
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str);
            free(g->kv[i].arr_strs);
        }
    if (g->tensors)
        for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
}

void tok_gguf_close(tok_gguf *g) {
    if (!g) return;
    gguf_free_index(g);
    if (g->mapped && g->size) munmap((void *)g->base, g->size);
    free(g->path);
    free(g);
}

static bool gguf_parse(tok_gguf *g, tok_error *err) {
    cursor c = {g->base, 0, g->size, g->path, err};
    if (!need(&c, 4, "magic")) return false;
    if (memcmp(g->base, "GGUF", 4))
        return eng_fail(err, TOK_EFORMAT, "%s: not a GGUF file (bad magic)", g->path), false;
    c.pos = 4;
    uint64_t nt, nkv;
    if (!rd_u32(&c, &g->version, "version")) return false;
    if (g->version != 2 && g->version != 3)
        return eng_fail(err, TOK_EUNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)",
                        g->path, g->version), false;
    if (!rd_u64(&c, &nt, "tensor count") || !rd_u64(&c, &nkv, "metadata count")) return false;
    /* each key takes >= 12 bytes and each tensor info >= 28: bound the
     * counts by the file before allocating anything */
    if (nkv > (g->size - c.pos) / 12)
        return eng_fail(err, TOK_EFORMAT, "%s: metadata count %llu exceeds the file", g->path,
                        (unsigned long long)nkv), false;
    if (nt > (g->size - c.pos) / 28)
        return eng_fail(err, TOK_EFORMAT, "%s: tensor count %llu exceeds the file", g->path,
                        (unsigned long long)nt), false;
    g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
    g->tensors = calloc(nt ? nt : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return eng_fail(err, TOK_ENOMEM, "%s: out of memory", g->path), false;
    for (uint64_t i = 0; i < nkv; i++) {
        g->n_kv = (int64_t)i + 1;
        if (!read_kv(g, &c, (int64_t)i)) return false;
    }
    g->alignment = 32;
    int64_t ai = tok_gguf_find_key(g, "general.alignment");
    if (ai >= 0) {
        const gguf_kv *kv = &g->kv[ai];
        if (kv->type != TOK_GGUF_U32)
            return eng_fail(err, TOK_EFORMAT, "%s: key 'general.alignment' has type %s (u32 expected)",
                            g->path, tok_gguf_type_name(kv->type)), false;
        uint64_t a = kv->v.u;
        if (a == 0 || (a & (a - 1)))
            return eng_fail(err, TOK_EFORMAT, "%s: key 'general.alignment' = %llu is not a power of two",
                            g->path, (unsigned long long)a), false;
        g->alignment = (uint32_t)a;
    }
    for (uint64_t i = 0; i < nt; i++) {
        g->n_tensors = (int64_t)i + 1;
        if (!read_tensor_info(g, &c, (int64_t)i)) return false;
    }
    uint64_t a = g->alignment;
    uint64_t data = ((uint64_t)c.pos + a - 1) / a * a;
    if (nt && data > g->size)
        return eng_fail(err, TOK_EFORMAT, "%s: truncated: the data section would start at byte %llu, past the end (%zu bytes)",
                        g->path, (unsigned long long)data, g->size), false;
    g->data_offset = data;
    uint64_t room = data <= g->size ? g->size - data : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        tok_gguf_tensor *t = &g->tensors[i];
        if (t->offset % a)
            return eng_fail(err, TOK_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                            g->path, t->name, (unsigned long long)t->offset, g->alignment), false;
        if (t->offset > room || t->nbytes > room - t->offset)
            return eng_fail(err, TOK_EFORMAT, "%s: tensor '%s': data [%llu, +%llu) lies outside the data section (%llu bytes)",
                            g->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                            (unsigned long long)room), false;
        t->data = g->base + data + t->offset;
    }
    return true;
}

static tok_gguf *gguf_new(const char *name, tok_error *err) {
    tok_gguf *g = calloc(1, sizeof *g);
    if (g) g->path = strdup(name ? name : "(memory)");
    if (!g || !g->path) {
        free(g);
        eng_fail(err, TOK_ENOMEM, "out of memory");
        return NULL;
    }
    return g;
}

tok_gguf *tok_gguf_open_memory(const void *data, size_t size, const char *name, tok_error *err) {
    tok_gguf *g = gguf_new(name, err);
    if (!g) return NULL;
    g->base = data;
    g->size = size;
    if (!gguf_parse(g, err)) { tok_gguf_close(g); return NULL; }
    return g;
}

tok_gguf *tok_gguf_open(const char *path, tok_error *err) {
    tok_gguf *g = gguf_new(path, err);
    if (!g) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        eng_fail(err, TOK_EIO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        tok_gguf_close(g);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        eng_fail(err, TOK_EIO, "%s: not a regular file", path);
        close(fd);
        tok_gguf_close(g);
        return NULL;
    }
    g->size = (size_t)st.st_size;
    if (g->size) {
        void *p = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            eng_fail(err, TOK_EIO, "%s: mmap: %s", path, strerror(errno));
            close(fd);
            g->size = 0;
            tok_gguf_close(g);
            return NULL;
        }
        g->base = p;
        g->mapped = true;
    }
    close(fd);
    if (!gguf_parse(g, err)) { tok_gguf_close(g); return NULL; }
    return g;
}

/* ---- accessors ---------------------------------------------------------------- */

uint32_t tok_gguf_version(const tok_gguf *g) { return g->version; }
uint32_t tok_gguf_alignment(const tok_gguf *g) { return g->alignment; }
uint64_t tok_gguf_data_offset(const tok_gguf *g) { return g->data_offset; }
const char *tok_gguf_path(const tok_gguf *g) { return g->path; }
int64_t tok_gguf_n_kv(const tok_gguf *g) { return g->n_kv; }
const char *tok_gguf_key(const tok_gguf *g, int64_t i) { return g->kv[i].key; }
int tok_gguf_kv_type(const tok_gguf *g, int64_t i) { return g->kv[i].type; }

int64_t tok_gguf_find_key(const tok_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return i;
    return -1;
}

bool tok_gguf_kv_int(const tok_gguf *g, int64_t i, int64_t *out) {
    if (i < 0 || !is_int_type(g->kv[i].type)) return false;
    *out = g->kv[i].v.i;
    return true;
}
bool tok_gguf_kv_uint(const tok_gguf *g, int64_t i, uint64_t *out) {
    int64_t v;
    if (!tok_gguf_kv_int(g, i, &v)) return false;
    if (v < 0 && g->kv[i].type != TOK_GGUF_U64) return false;
    *out = (uint64_t)v;
    return true;
}
bool tok_gguf_kv_float(const tok_gguf *g, int64_t i, double *out) {
    if (i < 0) return false;
    int t = g->kv[i].type;
    if (t == TOK_GGUF_F32 || t == TOK_GGUF_F64) *out = g->kv[i].v.f;
    else if (is_int_type(t)) *out = (double)g->kv[i].v.i;
    else return false;
    return true;
}
const char *tok_gguf_kv_string(const tok_gguf *g, int64_t i) {
    return i >= 0 && g->kv[i].type == TOK_GGUF_STRING ? g->kv[i].str : NULL;
}
bool tok_gguf_get_int(const tok_gguf *g, const char *key, int64_t *out) {
    return tok_gguf_kv_int(g, tok_gguf_find_key(g, key), out);
}
bool tok_gguf_get_uint(const tok_gguf *g, const char *key, uint64_t *out) {
    return tok_gguf_kv_uint(g, tok_gguf_find_key(g, key), out);
}
bool tok_gguf_get_float(const tok_gguf *g, const char *key, double *out) {
    return tok_gguf_kv_float(g, tok_gguf_find_key(g, key), out);
}
bool tok_gguf_get_bool(const tok_gguf *g, const char *key, bool *out) {
    int64_t i = tok_gguf_find_key(g, key);
    if (i < 0 || g->kv[i].type != TOK_GGUF_BOOL) return false;
    *out = g->kv[i].v.i != 0;
    return true;
}
const char *tok_gguf_get_string(const tok_gguf *g, const char *key) {
    return tok_gguf_kv_string(g, tok_gguf_find_key(g, key));
}
bool tok_gguf_kv_array(const tok_gguf *g, int64_t i, int *elem_type, uint64_t *n) {
    if (i < 0 || g->kv[i].type != TOK_GGUF_ARRAY) return false;
    if (elem_type) *elem_type = g->kv[i].arr_type;
    if (n) *n = g->kv[i].arr_n;
    return true;
}
bool tok_gguf_get_array(const tok_gguf *g, const char *key, int *elem_type, uint64_t *n) {
    return tok_gguf_kv_array(g, tok_gguf_find_key(g, key), elem_type, n);
}
int64_t tok_gguf_array_int(const tok_gguf *g, int64_t kv, uint64_t i) {
    const gguf_kv *k = &g->kv[kv];
    if (!k->arr_data || i >= k->arr_n) return 0;
    return scalar_as_int(k->arr_type, k->arr_data + i * scalar_size(k->arr_type));
}
double tok_gguf_array_float(const tok_gguf *g, int64_t kv, uint64_t i) {
    const gguf_kv *k = &g->kv[kv];
    if (!k->arr_data || i >= k->arr_n) return 0;
    return scalar_as_float(k->arr_type, k->arr_data + i * scalar_size(k->arr_type));
}
tok_gguf_str tok_gguf_array_string(const tok_gguf *g, int64_t kv, uint64_t i) {
    const gguf_kv *k = &g->kv[kv];
    tok_gguf_str none = {"", 0};
    return k->arr_strs && i < k->arr_n ? k->arr_strs[i] : none;
}

int64_t tok_gguf_n_tensors(const tok_gguf *g) { return g->n_tensors; }
const tok_gguf_tensor *tok_gguf_tensor_at(const tok_gguf *g, int64_t i) { return &g->tensors[i]; }
const tok_gguf_tensor *tok_gguf_find_tensor(const tok_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}
