/*
 * GPT-2 byte-level spelling (bytes_to_unicode): byte-level BPE vocabularies
 * (tokenizer.json, GGUF "gpt2") spell every byte with a printable character;
 * these helpers turn such strings back into bytes. Shared by hf_json.c and
 * vocab_ctor.c. Cost: a 512-entry table, O(length) per string.
 */
#ifndef TOK_BYTELEVEL_H
#define TOK_BYTELEVEL_H

#include <stddef.h>
#include <stdint.h>

/* unbyte[cp] = the byte spelled by code point cp (< 512), or -1. */
void bytelevel_unmap_init(int16_t unbyte[512]);

/* Writes the bytes s[0..n) spells into out (cap bytes). A string holding a
 * character outside the map is copied unchanged (its UTF-8 is its meaning, as
 * Hugging Face and llama.cpp decode it). Returns the length, or (size_t)-1 if
 * it does not fit in cap. */
size_t bytelevel_to_bytes(const int16_t unbyte[512], const char *s, size_t n, unsigned char *out, size_t cap);

#endif
