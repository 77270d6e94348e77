/*
 * The category table BertNormalizer sees (hf_categories.c, generated from
 * the unicode_categories crate's Unicode 8 lists) against utf8proc's current
 * one: every current Mn / Cc / Cf / Co character assigned by Unicode 8.0 is
 * in it, and nothing else is, except characters whose category changed
 * since: U+1734 (Mn until Unicode 14, then Mc), U+1885 and U+1886 (Lo until
 * Unicode 9), U+A9BD (Mc until Unicode 12), U+111C9 (Po until Unicode 11). The marks
 * that made the BERT references differ (Unicode 9: U+1DFB, U+1E00E, U+1E014,
 * U+1E947) are outside it, the old marks (U+0300, U+0363, U+2DEA, U+FE2C)
 * inside.
 */
#include <utf8proc.h>

#include "check.h"
#include "hf.h"
#include "unicode_age.h"

static bool changed_since_8(uint32_t c) {
    return c == 0x1734 || c == 0x1885 || c == 0x1886 || c == 0xA9BD || c == 0x111C9;
}

static bool assigned_by_8(uint32_t c) {
    int age = unicode_age(c);
    return age == 0 ? utf8proc_category((utf8proc_int32_t)c) != UTF8PROC_CATEGORY_CN : age <= 80;
}

int main(void) {
    int mn_extra = 0, mn_missing = 0, other_extra = 0, other_missing = 0;
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue; /* not chars in Rust */
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
        bool old = assigned_by_8(c);
        bool mn = old && k == UTF8PROC_CATEGORY_MN;
        bool other = old && (k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO);
        if (changed_since_8(c)) continue;
        if (hf_is_mark_nonspacing(c) && !mn) mn_extra++;
        if (!hf_is_mark_nonspacing(c) && mn) mn_missing++;
        if (hf_is_other(c) && !other) other_extra++;
        if (!hf_is_other(c) && other) other_missing++;
    }
    CHECK_EQ_INT(mn_extra, 0);
    CHECK_EQ_INT(mn_missing, 0);
    CHECK_EQ_INT(other_extra, 0);
    CHECK_EQ_INT(other_missing, 0);
    CHECK(hf_is_mark_nonspacing(0x1734));
    CHECK(!hf_is_mark_nonspacing(0x1885));
    CHECK(!hf_is_mark_nonspacing(0x111C9));
    static const uint32_t kept[] = {0x1DFB, 0x1E00E, 0x1E014, 0x1E947, 0x1DFA};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) CHECK(!hf_is_mark_nonspacing(kept[i]));
    static const uint32_t marks[] = {0x0300, 0x0363, 0x2DEA, 0xFE2C, 0x05AE, 0x0315};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) CHECK(hf_is_mark_nonspacing(marks[i]));
    CHECK(hf_is_other(0x00AD));   /* soft hyphen, Cf */
    CHECK(hf_is_other(0x10FFFD)); /* plane 16 private use */
    CHECK(!hf_is_other(0x08E2));  /* Cf since Unicode 9 */
    CHECK(hf_is_other(9));        /* Cc; clean_text exempts it by hand */
    return check_summary("hf_categories");
}
