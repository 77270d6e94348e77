#ifndef TOK_JSON_OUT_H
#define TOK_JSON_OUT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
void json_write_string(FILE *f, const char *s, size_t n);
void json_write_ids(FILE *f, const int32_t *ids, size_t n);

/* The string member `key` of a one-line JSON object (embedded NULs kept).
 * Returns 0 and a malloc'd *out, or -1 if absent or malformed. */
int json_line_string(const char *line, size_t n, const char *key, char **out, size_t *len);
#endif
