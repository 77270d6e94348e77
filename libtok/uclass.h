/* Per-code-point classes the pre-tokenizers need (general category groups and
 * the White_Space property), in a two-stage table built once from utf8proc. */
#ifndef TOK_UCLASS_H
#define TOK_UCLASS_H
#include <stdint.h>

enum uclass {
    UC_OTHER = 0, /* punctuation, symbols, controls, unassigned... */
    UC_LU, UC_LT, UC_LL, UC_LM, UC_LO,
    UC_M,  /* Mn, Mc, Me */
    UC_N,  /* Nd, Nl, No */
    UC_WS, /* White_Space property (\s of Rust regex / Python regex) */
};

/* Bit sets over uclass, for testing membership of a class in a group. */
#define UC_BIT(c) (1u << (c))
#define UCS_L (UC_BIT(UC_LU) | UC_BIT(UC_LT) | UC_BIT(UC_LL) | UC_BIT(UC_LM) | UC_BIT(UC_LO))
#define UCS_N UC_BIT(UC_N)
#define UCS_WS UC_BIT(UC_WS)
#define UCS_M UC_BIT(UC_M)
/* o200k's "upper-ish" [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and "lower-ish"
 * [\p{Ll}\p{Lm}\p{Lo}\p{M}] letter classes */
#define UCS_UPPERISH (UC_BIT(UC_LU) | UC_BIT(UC_LT) | UC_BIT(UC_LM) | UC_BIT(UC_LO) | UCS_M)
#define UCS_LOWERISH (UC_BIT(UC_LL) | UC_BIT(UC_LM) | UC_BIT(UC_LO) | UCS_M)

/* The table, built on first use (thread-safe, immutable afterwards). */
typedef struct uclass_table {
    const uint16_t *stage1;  /* cp >> 8 -> block index */
    const uint8_t *stage2;   /* block * 256 + (cp & 255) -> uclass */
} uclass_table;

const uclass_table *uclass_get(void);

static inline int uclass_of(const uclass_table *t, uint32_t cp) {
    if (cp > 0x10FFFF) return UC_OTHER;
    return t->stage2[(uint32_t)t->stage1[cp >> 8] * 256 + (cp & 255)];
}
#endif
