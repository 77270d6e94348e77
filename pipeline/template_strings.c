/*
 * Python string operations on template strings: strip with or without a set
 * of characters, split / rsplit, replace, case mapping (utf8proc's simple
 * mappings), slicing and indexing by code point, find and count.
 *
 * Cost: results that are substrings are views (no copy); indexing by code
 * point is O(n) for non-ASCII text, O(1) when the text is ASCII.
 */
#include <string.h>
#include <utf8proc.h>

#include "template_internal.h"

static bool in_set(tv chars, uint32_t cp) {
    for (size_t i = 0; i < chars.n;) {
        uint32_t c;
        int l = u8_decode(chars.u.s + i, chars.n - i, &c);
        if (l <= 0) { l = 1; c = (unsigned char)chars.u.s[i]; }
        if (c == cp) return true;
        i += (size_t)l;
    }
    return false;
}

static bool strip_match(tv chars, uint32_t cp) { return chars.k == V_STR ? in_set(chars, cp) : py_isspace(cp); }

tv str_strip(tpl_render *R, tv s, tv chars, bool left, bool right) {
    (void)R;
    size_t b = 0, e = s.n;
    while (left && b < e) {
        uint32_t cp;
        int l = u8_decode(s.u.s + b, e - b, &cp);
        if (l <= 0 || !strip_match(chars, cp)) break;
        b += (size_t)l;
    }
    while (right && e > b) {
        size_t k = e - 1;
        while (k > b && ((unsigned char)s.u.s[k] & 0xc0) == 0x80) k--;
        uint32_t cp;
        int l = u8_decode(s.u.s + k, e - k, &cp);
        if (l <= 0 || !strip_match(chars, cp)) break;
        e = k;
    }
    return tv_str(s.u.s + b, e - b);
}

static int space_len(const char *s, size_t n) {
    uint32_t cp;
    int l = u8_decode(s, n, &cp);
    return l > 0 && py_isspace(cp) ? l : 0;
}

tv str_split(tpl_render *R, tv s, tv sep, int64_t maxsplit, bool from_right) {
    tv out = tv_list(&R->A, 0, false);
    tpl_list *l = out.u.l;
    const char *p = s.u.s;
    size_t n = s.n;
    if (sep.k != V_STR) { /* runs of whitespace, empty pieces dropped */
        if (from_right) {
            /* collect from the right, then reverse */
            size_t e = n;
            while (e > 0) {
                size_t k = e;
                while (k > 0) {
                    size_t j = k - 1;
                    while (j > 0 && ((unsigned char)p[j] & 0xc0) == 0x80) j--;
                    if (!space_len(p + j, k - j)) break;
                    k = j;
                }
                e = k;
                if (!e) break;
                if (maxsplit >= 0 && (int64_t)l->n == maxsplit) { tpl_list_push(&R->A, l, tv_str(p, e)); e = 0; break; }
                size_t b = e;
                while (b > 0) {
                    size_t j = b - 1;
                    while (j > 0 && ((unsigned char)p[j] & 0xc0) == 0x80) j--;
                    if (space_len(p + j, b - j)) break;
                    b = j;
                }
                tpl_list_push(&R->A, l, tv_str(p + b, e - b));
                e = b;
            }
            for (size_t i = 0; i < l->n / 2; i++) { tv t = l->v[i]; l->v[i] = l->v[l->n - 1 - i]; l->v[l->n - 1 - i] = t; }
            return out;
        }
        size_t i = 0;
        for (;;) {
            int sl;
            while (i < n && (sl = space_len(p + i, n - i)) > 0) i += (size_t)sl;
            if (i >= n) break;
            if (maxsplit >= 0 && (int64_t)l->n == maxsplit) {
                /* the rest, with trailing whitespace removed */
                tv rest = str_strip(R, tv_str(p + i, n - i), tv_none(), false, true);
                tpl_list_push(&R->A, l, rest);
                break;
            }
            size_t b = i;
            while (i < n && !space_len(p + i, n - i)) i++;
            tpl_list_push(&R->A, l, tv_str(p + b, i - b));
        }
        return out;
    }
    if (!sep.n) tpl_fail(R, NULL, TOK_TEMPLATE_ETYPE, "empty separator");
    if (from_right) {
        size_t e = n;
        int64_t splits = 0;
        for (;;) {
            const char *hit = NULL;
            if (maxsplit < 0 || splits < maxsplit)
                for (size_t k = e >= sep.n ? e - sep.n + 1 : 0; k-- > 0;)
                    if (!memcmp(p + k, sep.u.s, sep.n)) { hit = p + k; break; }
            if (!hit) { tpl_list_push(&R->A, l, tv_str(p, e)); break; }
            tpl_list_push(&R->A, l, tv_str(hit + sep.n, (size_t)(p + e - hit) - sep.n));
            e = (size_t)(hit - p);
            splits++;
        }
        for (size_t i = 0; i < l->n / 2; i++) { tv t = l->v[i]; l->v[i] = l->v[l->n - 1 - i]; l->v[l->n - 1 - i] = t; }
        return out;
    }
    size_t b = 0;
    int64_t splits = 0;
    for (;;) {
        const char *hit = (maxsplit < 0 || splits < maxsplit) ? memmem(p + b, n - b, sep.u.s, sep.n) : NULL;
        if (!hit) { tpl_list_push(&R->A, l, tv_str(p + b, n - b)); break; }
        tpl_list_push(&R->A, l, tv_str(p + b, (size_t)(hit - (p + b))));
        b = (size_t)(hit - p) + sep.n;
        splits++;
    }
    return out;
}

tv str_replace(tpl_render *R, tv s, tv old, tv rep, int64_t count) {
    tpl_sb b = {0};
    if (!old.n) { /* Python inserts rep before every character and at the end */
        int64_t done = 0;
        for (size_t i = 0; i < s.n;) {
            if (count < 0 || done < count) { sb_put(&R->A, &b, rep.u.s, rep.n); done++; }
            size_t j = i + 1;
            while (j < s.n && ((unsigned char)s.u.s[j] & 0xc0) == 0x80) j++;
            sb_put(&R->A, &b, s.u.s + i, j - i);
            i = j;
        }
        if (count < 0 || done < count) sb_put(&R->A, &b, rep.u.s, rep.n);
        return sb_value(&b);
    }
    const char *p = s.u.s, *hit;
    size_t n = s.n, i = 0;
    int64_t done = 0;
    if (!memmem(p, n, old.u.s, old.n)) return s;
    while ((count < 0 || done < count) && (hit = memmem(p + i, n - i, old.u.s, old.n)) != NULL) {
        sb_put(&R->A, &b, p + i, (size_t)(hit - (p + i)));
        sb_put(&R->A, &b, rep.u.s, rep.n);
        i = (size_t)(hit - p) + old.n;
        done++;
    }
    sb_put(&R->A, &b, p + i, n - i);
    return sb_value(&b);
}

static bool is_cased(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

static void put_cp(tpl_render *R, tpl_sb *b, uint32_t cp) {
    char buf[4];
    sb_put(&R->A, b, buf, (size_t)u8_encode(cp, buf));
}

/* mode: 0 lower, 1 upper, 2 str.title, 3 capitalize, 4 jinja's title filter */
tv str_case(tpl_render *R, tv s, int mode) {
    tpl_sb b = {0};
    bool prev_cased = false, word_start = true;
    size_t idx = 0;
    for (size_t i = 0; i < s.n; idx++) {
        uint32_t cp;
        int l = u8_decode(s.u.s + i, s.n - i, &cp);
        if (l <= 0) { sb_putc(&R->A, &b, s.u.s[i]); i++; continue; }
        i += (size_t)l;
        uint32_t o = cp;
        switch (mode) {
        case 0: o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp); break;
        case 1: o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp); break;
        case 2:
            o = prev_cased ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp) : (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp);
            prev_cased = is_cased(cp);
            break;
        case 3:
            o = idx == 0 ? (uint32_t)utf8proc_totitle((utf8proc_int32_t)cp) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            break;
        case 4: {
            /* pieces split at runs of [-\s({[<]; each piece: first char upper, rest lower */
            bool delim = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_isspace(cp);
            if (delim) { word_start = true; o = cp; }
            else if (word_start) { o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp); word_start = false; }
            else o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            break;
        }
        }
        put_cp(R, &b, o);
    }
    return sb_value(&b);
}

static bool is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

tv str_index(tpl_render *R, tv s, int64_t i) {
    (void)R;
    int64_t len = is_ascii(s.u.s, s.n) ? (int64_t)s.n : (int64_t)u8_len(s.u.s, s.n);
    if (i < 0) i += len;
    if (i < 0 || i >= len) return tv_undef("index", 5);
    size_t b = u8_offset(s.u.s, s.n, (size_t)i), e = u8_offset(s.u.s, s.n, (size_t)i + 1);
    return tv_str(s.u.s + b, e - b);
}

tv str_slice(tpl_render *R, tv s, int64_t start, int64_t stop, int64_t step, bool has_start, bool has_stop) {
    bool ascii = is_ascii(s.u.s, s.n);
    int64_t len = ascii ? (int64_t)s.n : (int64_t)u8_len(s.u.s, s.n);
    if (step > 0) {
        if (!has_start) start = 0;
        else if (start < 0) { start += len; if (start < 0) start = 0; }
        else if (start > len) start = len;
        if (!has_stop) stop = len;
        else if (stop < 0) { stop += len; if (stop < 0) stop = 0; }
        else if (stop > len) stop = len;
        if (stop <= start) return tv_str("", 0);
        if (step == 1) {
            size_t b = ascii ? (size_t)start : u8_offset(s.u.s, s.n, (size_t)start);
            size_t e = ascii ? (size_t)stop : u8_offset(s.u.s, s.n, (size_t)stop);
            return tv_str(s.u.s + b, e - b);
        }
    } else {
        if (!has_start) start = len - 1;
        else if (start < 0) { start += len; if (start < 0) start = -1; }
        else if (start >= len) start = len - 1;
        if (!has_stop) stop = -1;
        else if (stop < 0) { stop += len; if (stop < 0) stop = -1; }
        else if (stop >= len) stop = len - 1;
    }
    /* general step: gather code points by index */
    size_t *offs = tpl_alloc(&R->A, ((size_t)len + 1) * sizeof(size_t));
    for (size_t i = 0, k = 0; k <= (size_t)len; k++) {
        offs[k] = i;
        if (i < s.n) {
            i++;
            while (i < s.n && ((unsigned char)s.u.s[i] & 0xc0) == 0x80) i++;
        }
    }
    tpl_sb b = {0};
    if (step > 0)
        for (int64_t i = start; i < stop; i += step) sb_put(&R->A, &b, s.u.s + offs[i], offs[i + 1] - offs[i]);
    else
        for (int64_t i = start; i > stop; i += step) sb_put(&R->A, &b, s.u.s + offs[i], offs[i + 1] - offs[i]);
    return sb_value(&b);
}

/* count=false: index of the first occurrence in code points, -1 if none;
 * count=true: number of non-overlapping occurrences. */
int64_t str_find(tv s, tv sub, bool count) {
    if (!count) {
        if (!sub.n) return 0;
        const char *hit = memmem(s.u.s, s.n, sub.u.s, sub.n);
        return hit ? (int64_t)u8_len(s.u.s, (size_t)(hit - s.u.s)) : -1;
    }
    if (!sub.n) return (int64_t)u8_len(s.u.s, s.n) + 1;
    int64_t c = 0;
    size_t i = 0;
    const char *hit;
    while ((hit = memmem(s.u.s + i, s.n - i, sub.u.s, sub.n)) != NULL) {
        c++;
        i = (size_t)(hit - s.u.s) + sub.n;
    }
    return c;
}
