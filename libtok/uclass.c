/*
 * Unicode class table for the hand-written pre-tokenizers: 0x1100 blocks of
 * 256 code points, identical blocks shared (~80 KB), so a lookup is two
 * loads. Built once, on first use, from the generated runs in uclass_data.c
 * (Unicode 15, as the references' regex engines), in about a millisecond.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "uclass.h"

static uint16_t stage1[0x1100];
static uint8_t *stage2;
static uclass_table table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    /* every code point's class (1.1 MB, filled run by run), then identical
     * 256-code-point blocks folded together */
    uint8_t *all = malloc(0x110000);
    uint8_t *blocks = malloc((size_t)0x1100 * 256);
    if (!all || !blocks) abort(); /* 2 MB at start-up; nothing sensible to do without it */
    for (unsigned r = 0; r < uclass_run_count; r++) {
        uint32_t end = r + 1 < uclass_run_count ? uclass_runs[r + 1].first : 0x110000;
        memset(all + uclass_runs[r].first, uclass_runs[r].cls, end - uclass_runs[r].first);
    }
    static uint64_t hashes[0x1100];
    size_t n = 0;
    for (uint32_t b = 0; b < 0x1100; b++) {
        const uint8_t *cur = all + (size_t)b * 256;
        uint64_t h = 1469598103934665603ull;
        for (int i = 0; i < 256; i += 8) {
            uint64_t w;
            memcpy(&w, cur + i, 8);
            h = (h ^ w) * 0x100000001B3ull;
            h ^= h >> 29;
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
    free(all);
    stage2 = realloc(blocks, n * 256);
    if (!stage2) stage2 = blocks;
    table.stage1 = stage1;
    table.stage2 = stage2;
}

const uclass_table *uclass_get(void) {
    pthread_once(&once, build);
    return &table;
}
