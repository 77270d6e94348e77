/*
 * Unicode class table for the hand-written pre-tokenizers: 0x1100 blocks of
 * 256 code points, identical blocks shared (~80 KB), so a lookup is two
 * loads. Built once, on first use, from the generated runs in uclass_data.c
 * (Unicode 15, as the references' regex engines), in 0.5-0.7 ms: each
 * block is filled from the runs and kept only if no earlier block equals
 * it, so only the distinct blocks' memory is touched.
 */
#include <pthread.h>
#include <string.h>

#include "uclass.h"

static uint16_t stage1[0x1100];
/* room for every block to be distinct; untouched pages of it cost nothing */
static uint8_t stage2[(size_t)0x1100 * 256];
static uclass_table table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    static uint64_t hashes[0x1100];
    size_t n = 0;
    unsigned r = 0;
    for (uint32_t b = 0; b < 0x1100; b++) {
        /* the block's code points, a run at a time (r: the run holding the next one) */
        uint8_t cur[256];
        uint32_t base = b * 256;
        for (uint32_t i = 0; i < 256;) {
            while (r + 1 < uclass_run_count && uclass_runs[r + 1].first <= base + i) r++;
            uint32_t end = r + 1 < uclass_run_count ? uclass_runs[r + 1].first - base : 256;
            if (end > 256) end = 256;
            memset(cur + i, uclass_runs[r].cls, end - i);
            i = end;
        }
        uint64_t h = 1469598103934665603ull;
        for (int i = 0; i < 256; i += 8) {
            uint64_t w;
            memcpy(&w, cur + i, 8);
            h = (h ^ w) * 0x100000001B3ull;
            h ^= h >> 29;
        }
        size_t k = 0;
        for (; k < n; k++)
            if (hashes[k] == h && !memcmp(stage2 + k * 256, cur, 256)) break;
        if (k == n) {
            hashes[n] = h;
            memcpy(stage2 + n++ * 256, cur, 256);
        }
        stage1[b] = (uint16_t)k;
    }
    table.stage1 = stage1;
    table.stage2 = stage2;
}

const uclass_table *uclass_get(void) {
    pthread_once(&once, build);
    return &table;
}
