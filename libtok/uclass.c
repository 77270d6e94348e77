/*
 * Unicode class table for the hand-written pre-tokenizers. Built once from
 * utf8proc's category data: 0x1100 blocks of 256 code points, identical
 * blocks shared, so the table is ~100 KB and a lookup is two loads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "uclass.h"

static uint16_t stage1[0x1100];
static uint8_t *stage2;
static uclass_table table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The White_Space property: stable since Unicode 6.3 (U+180E left it). */
static int is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static uint8_t classify(uint32_t cp) {
    if (is_white_space(cp)) return UC_WS;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: return UC_LU;
    case UTF8PROC_CATEGORY_LT: return UC_LT;
    case UTF8PROC_CATEGORY_LL: return UC_LL;
    case UTF8PROC_CATEGORY_LM: return UC_LM;
    case UTF8PROC_CATEGORY_LO: return UC_LO;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: return UC_M;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return UC_N;
    default: return UC_OTHER;
    }
}

static void build(void) {
    uint8_t *blocks = malloc((size_t)0x1100 * 256);
    if (!blocks) abort(); /* 1 MB at start-up; nothing sensible to do without it */
    static uint64_t hashes[0x1100];
    size_t n = 0;
    uint8_t cur[256];
    for (uint32_t b = 0; b < 0x1100; b++) {
        uint64_t h = 1469598103934665603ull;
        for (uint32_t i = 0; i < 256; i++) {
            cur[i] = classify(b * 256 + i);
            h = (h ^ cur[i]) * 1099511628211ull;
        }
        size_t k = 0;
        for (; k < n; k++)
            if (hashes[k] == h && !memcmp(blocks + k * 256, cur, 256)) break;
        if (k == n) {
            hashes[n] = h;
            memcpy(blocks + n++ * 256, cur, 256);
        }
        stage1[b] = (uint16_t)k;
    }
    stage2 = realloc(blocks, n * 256);
    if (!stage2) stage2 = blocks;
    table.stage1 = stage1;
    table.stage2 = stage2;
}

const uclass_table *uclass_get(void) {
    pthread_once(&once, build);
    return &table;
}
