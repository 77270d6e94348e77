/* Writing JSON from the CLI: strings escaped exactly as JSON requires (UTF-8
 * passes through unescaped; the text must be valid UTF-8), integer arrays. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_out.h"

void json_write_string(FILE *f, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    putc('"', f);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        fwrite(s + run, 1, i - run, f);
        run = i + 1;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default: fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
        }
    }
    fwrite(s + run, 1, n - run, f);
    putc('"', f);
}

void json_write_ids(FILE *f, const int32_t *ids, size_t n) {
    char buf[16 * 64];
    size_t o = 0;
    putc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (o > sizeof buf - 16) {
            fwrite(buf, 1, o, f);
            o = 0;
        }
        if (i) buf[o++] = ',';
        uint32_t v = (uint32_t)ids[i];
        if (ids[i] < 0) {
            buf[o++] = '-';
            v = (uint32_t)(-(int64_t)ids[i]);
        }
        char tmp[12];
        int k = 0;
        do tmp[k++] = (char)('0' + v % 10); while ((v /= 10));
        while (k) buf[o++] = tmp[--k];
    }
    fwrite(buf, 1, o, f);
    putc(']', f);
}
