/*
 * GPT-2's bytes_to_unicode, inverted: the printable bytes ('!'..'~',
 * 0xA1..0xAC, 0xAE..0xFF) stand for themselves, the 68 others for U+0100
 * upwards in byte order. See bytelevel.h.
 */
#include <string.h>

#include "bytelevel.h"
#include "internal.h"

void bytelevel_unmap_init(int16_t unbyte[512]) {
    for (int i = 0; i < 512; i++) unbyte[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        int cp = printable ? b : 256 + extra++;
        unbyte[cp] = (int16_t)b;
    }
}

size_t bytelevel_to_bytes(const int16_t unbyte[512], const char *s, size_t n, unsigned char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = tok_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k || cp >= 512 || unbyte[cp] < 0) {
            /* not a byte-level string: its text is its bytes */
            if (n > cap) return (size_t)-1;
            memcpy(out, s, n);
            return n;
        }
        if (o >= cap) return (size_t)-1;
        out[o++] = (unsigned char)unbyte[cp];
        i += (size_t)k;
    }
    return o;
}
