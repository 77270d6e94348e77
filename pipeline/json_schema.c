/*
 * JSON Schema validation of `format: json` step outputs (docs/recipes.md).
 * The subset that structured-output APIs accept: type (one or a list),
 * properties, required, additionalProperties, items, minItems, maxItems,
 * enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
 * minLength, maxLength (in characters), pattern (PCRE2, unanchored as the
 * standard says), anyOf, allOf, oneOf, not; title, description, default,
 * examples, $schema, $id and $comment are annotations. A keyword outside
 * this subset is rejected when the recipe loads: ignoring it would accept
 * outputs the author meant to refuse, and validation must fail closed.
 * Cost: one walk of the value per schema node that applies to it; patterns
 * are compiled when used (outputs are small).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "recipe_internal.h"

static const char *const KEYWORDS[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "anyOf",
    "allOf", "oneOf", "not", "title", "description", "default", "examples", "$schema", "$id", "$comment"};
#define N_KEYWORDS (sizeof KEYWORDS / sizeof *KEYWORDS)
static const char *const TYPES[] = {"object", "array", "string", "number", "integer", "boolean", "null"};

static int bad(char *msg, size_t cap, const char *path, const char *fmt, const char *a) {
    char m[200];
    snprintf(m, sizeof m, fmt, a);
    snprintf(msg, cap, "schema%s: %s", path, m);
    return -1;
}

static int check_node(const cJSON *s, const char *path, int depth, char *msg, size_t cap);

static int check_list(const cJSON *v, const char *path, const char *key, int depth, char *msg, size_t cap) {
    if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v)) return bad(msg, cap, path, "%s: expected a non-empty list of schemas", key);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s[%d]", path, key, i);
        if (check_node(e, sub, depth + 1, msg, cap)) return -1;
    }
    return 0;
}

static int check_node(const cJSON *s, const char *path, int depth, char *msg, size_t cap) {
    if (depth > 32) return bad(msg, cap, path, "%snested deeper than 32 levels", "");
    if (cJSON_IsBool(s)) return 0; /* true: anything; false: nothing */
    if (!cJSON_IsObject(s)) return bad(msg, cap, path, "%sexpected an object (a schema)", "");
    for (const cJSON *k = s->child; k; k = k->next) {
        const char *key = k->string;
        size_t i = 0;
        while (i < N_KEYWORDS && strcmp(key, KEYWORDS[i])) i++;
        if (i == N_KEYWORDS) {
            const char *sug = rc_suggest(key, KEYWORDS, N_KEYWORDS);
            char m[160];
            snprintf(m, sizeof m, "unsupported keyword \"%s\"%s%s%s (it would not be checked)", key,
                     sug ? "; did you mean \"" : "", sug ? sug : "", sug ? "\"?" : "");
            return bad(msg, cap, path, "%s", m);
        }
        char sub[256];
        if (!strcmp(key, "type")) {
            const cJSON *one = k;
            if (cJSON_IsArray(k) && !(one = k->child)) return bad(msg, cap, path, "%stype: empty list", "");
            for (; one; one = cJSON_IsArray(k) ? one->next : NULL) {
                size_t t = 0;
                while (cJSON_IsString(one) && t < 7 && strcmp(one->valuestring, TYPES[t])) t++;
                if (!cJSON_IsString(one) || t == 7)
                    return bad(msg, cap, path, "type: \"%s\" is not a JSON Schema type",
                               cJSON_IsString(one) ? one->valuestring : "?");
            }
        } else if (!strcmp(key, "properties")) {
            if (!cJSON_IsObject(k)) return bad(msg, cap, path, "%sproperties: expected an object", "");
            for (const cJSON *p = k->child; p; p = p->next) {
                snprintf(sub, sizeof sub, "%s.properties.%s", path, p->string);
                if (check_node(p, sub, depth + 1, msg, cap)) return -1;
            }
        } else if (!strcmp(key, "required")) {
            if (!cJSON_IsArray(k)) return bad(msg, cap, path, "%srequired: expected a list of names", "");
            for (const cJSON *p = k->child; p; p = p->next)
                if (!cJSON_IsString(p)) return bad(msg, cap, path, "%srequired: expected a list of names", "");
        } else if (!strcmp(key, "additionalProperties") || !strcmp(key, "items") || !strcmp(key, "not")) {
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            if (check_node(k, sub, depth + 1, msg, cap)) return -1;
        } else if (!strcmp(key, "anyOf") || !strcmp(key, "allOf") || !strcmp(key, "oneOf")) {
            if (check_list(k, path, key, depth, msg, cap)) return -1;
        } else if (!strcmp(key, "enum")) {
            if (!cJSON_IsArray(k) || !k->child) return bad(msg, cap, path, "%senum: expected a non-empty list", "");
        } else if (!strcmp(key, "pattern")) {
            if (!cJSON_IsString(k)) return bad(msg, cap, path, "%spattern: expected a string", "");
            int ec;
            PCRE2_SIZE off;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)k->valuestring, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
            if (!re) {
                char why[120];
                pcre2_get_error_message(ec, (PCRE2_UCHAR *)why, sizeof why);
                return bad(msg, cap, path, "pattern: %s", why);
            }
            pcre2_code_free(re);
        } else if (strcmp(key, "const") && strcmp(key, "title") && strcmp(key, "description") &&
                   strcmp(key, "default") && strcmp(key, "examples") && key[0] != '$') {
            /* the numeric keywords; counts are whole numbers */
            if (!cJSON_IsNumber(k)) return bad(msg, cap, path, "%s: expected a number", key);
            bool count = strstr(key, "Length") || strstr(key, "Items");
            if (count && (k->valuedouble < 0 || k->valuedouble != floor(k->valuedouble)))
                return bad(msg, cap, path, "%s: expected a whole number >= 0", key);
        }
    }
    return 0;
}

int rc_schema_check(const cJSON *schema, char *msg, size_t cap) { return check_node(schema, "", 0, msg, cap); }

/* ---- validation ---- */

static bool is_type(const cJSON *v, const char *t) {
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "integer")) return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    return cJSON_IsNull(v);
}

static const char *type_of(const cJSON *v) {
    return cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "a list" : cJSON_IsString(v) ? "a string"
         : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean" : "null";
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int fail_v(char *msg, size_t cap, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_v(char *msg, size_t cap, const char *path, const char *fmt, ...) {
    char m[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(msg, cap, "%s: %s", *path ? path : "the output", m);
    return -1;
}

static int validate(const cJSON *s, const cJSON *v, const char *path, char *msg, size_t cap) {
    if (cJSON_IsBool(s)) return cJSON_IsTrue(s) ? 0 : fail_v(msg, cap, path, "no value is allowed here");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (t) {
        bool ok = false;
        char want[120] = "";
        for (const cJSON *one = cJSON_IsArray(t) ? t->child : t; one; one = cJSON_IsArray(t) ? one->next : NULL) {
            ok |= is_type(v, one->valuestring);
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", *want ? " or " : "", one->valuestring);
        }
        if (!ok) return fail_v(msg, cap, path, "expected %s, got %s", want, type_of(v));
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (e) {
        bool ok = false;
        for (const cJSON *x = e->child; x && !ok; x = x->next) ok = cJSON_Compare(x, v, true);
        if (!ok) {
            char *txt = cJSON_PrintUnformatted(v), *opts = cJSON_PrintUnformatted(e);
            fail_v(msg, cap, path, "%.80s is not one of %.120s", txt ? txt : "?", opts ? opts : "?");
            cJSON_free(txt), cJSON_free(opts);
            return -1;
        }
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (c && !cJSON_Compare(c, v, true)) return fail_v(msg, cap, path, "not the required constant value");
    char sub[512];
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
        for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
            if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring))
                return fail_v(msg, cap, path, "missing required property \"%s\"", r->valuestring);
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
        for (const cJSON *p = v->child; p; p = p->next) {
            const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, p->string) : NULL;
            snprintf(sub, sizeof sub, "%s.%s", path, p->string);
            if (ps) {
                if (validate(ps, p, sub, msg, cap)) return -1;
            } else if (add) {
                if (cJSON_IsFalse(add)) return fail_v(msg, cap, path, "property \"%s\" is not allowed", p->string);
                if (validate(add, p, sub, msg, cap)) return -1;
            }
        }
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        const cJSON *mi = cJSON_GetObjectItemCaseSensitive(s, "minItems"), *ma = cJSON_GetObjectItemCaseSensitive(s, "maxItems");
        if (mi && n < mi->valuedouble) return fail_v(msg, cap, path, "%d items, fewer than minItems %g", n, mi->valuedouble);
        if (ma && n > ma->valuedouble) return fail_v(msg, cap, path, "%d items, more than maxItems %g", n, ma->valuedouble);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        int i = 0;
        for (const cJSON *x = v->child; items && x; x = x->next, i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            if (validate(items, x, sub, msg, cap)) return -1;
        }
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        const cJSON *k;
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "minimum")) && d < k->valuedouble)
            return fail_v(msg, cap, path, "%g is less than minimum %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "maximum")) && d > k->valuedouble)
            return fail_v(msg, cap, path, "%g is more than maximum %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum")) && d <= k->valuedouble)
            return fail_v(msg, cap, path, "%g is not more than %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum")) && d >= k->valuedouble)
            return fail_v(msg, cap, path, "%g is not less than %g", d, k->valuedouble);
    }
    if (cJSON_IsString(v)) {
        size_t n = utf8_chars(v->valuestring);
        const cJSON *k;
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "minLength")) && (double)n < k->valuedouble)
            return fail_v(msg, cap, path, "%zu characters, fewer than minLength %g", n, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxLength")) && (double)n > k->valuedouble)
            return fail_v(msg, cap, path, "%zu characters, more than maxLength %g", n, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(s, "pattern"))) {
            int ec;
            PCRE2_SIZE off;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)k->valuestring, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
            pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
            int m = md ? pcre2_match(re, (PCRE2_SPTR)v->valuestring, strlen(v->valuestring), 0, 0, md, NULL) : -1;
            pcre2_match_data_free(md);
            pcre2_code_free(re);
            if (m < 0) return fail_v(msg, cap, path, "\"%.60s\" does not match the pattern %s", v->valuestring, k->valuestring);
        }
    }
    const cJSON *k;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "allOf")))
        for (const cJSON *x = k->child; x; x = x->next)
            if (validate(x, v, path, msg, cap)) return -1;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) {
        bool ok = false;
        for (const cJSON *x = k->child; x && !ok; x = x->next) ok = validate(x, v, path, msg, cap) == 0;
        if (!ok) return fail_v(msg, cap, path, "matches none of anyOf");
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "oneOf"))) {
        int hits = 0;
        for (const cJSON *x = k->child; x; x = x->next) hits += validate(x, v, path, msg, cap) == 0;
        if (hits != 1) return fail_v(msg, cap, path, "matches %d of oneOf's schemas, not exactly one", hits);
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "not")) && validate(k, v, path, msg, cap) == 0)
        return fail_v(msg, cap, path, "matches the schema under \"not\"");
    return 0;
}

int rc_schema_validate(const cJSON *schema, const cJSON *value, char *msg, size_t cap) {
    return validate(schema, value, "", msg, cap);
}
