/* When code points were assigned (Unicode 6.1 and later), for emulating
 * reference implementations built with older Unicode tables. */
#ifndef TOK_UNICODE_AGE_H
#define TOK_UNICODE_AGE_H
#include <stdint.h>

typedef struct unicode_age_range {
    uint32_t lo, hi;
    uint8_t age; /* version * 10: 61 = 6.1, 150 = 15.0 */
} unicode_age_range;

extern const unicode_age_range unicode_age_ranges[];
extern const unsigned unicode_age_count;

/* Version*10 in which cp was assigned, or 0 for earlier / unassigned. */
static inline int unicode_age(uint32_t cp) {
    unsigned lo = 0, hi = unicode_age_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cp < unicode_age_ranges[mid].lo) hi = mid;
        else if (cp > unicode_age_ranges[mid].hi) lo = mid + 1;
        else return unicode_age_ranges[mid].age;
    }
    return 0;
}
#endif
