/* JSON Schema checks of `format: json` outputs (pipeline/json_schema.c):
 * each supported keyword accepts what it should and refuses the rest with a
 * message naming the path; unsupported keywords and malformed schemas are
 * refused when the recipe loads (fail closed). */
#include <string.h>

#include "check.h"
#include "recipe_internal.h"

static char msg[400];

/* 0 valid, -1 invalid (message in msg); -2 if the schema itself is refused */
static int val(const char *schema, const char *value) {
    cJSON *s = cJSON_Parse(schema), *v = cJSON_Parse(value);
    int rc = -3;
    msg[0] = 0;
    if (s && v) rc = rc_schema_check(s, msg, sizeof msg) ? -2 : rc_schema_validate(s, v, msg, sizeof msg);
    cJSON_Delete(s), cJSON_Delete(v);
    return rc;
}

#define OK(s, v) CHECK_MSG(val(s, v) == 0, "%s on %s: %s", s, v, msg)
#define BAD(s, v, m)                                                                                 \
    do {                                                                                             \
        int rc_ = val(s, v);                                                                         \
        CHECK_MSG(rc_ == -1 && strstr(msg, m), "%s on %s: rc %d, msg \"%s\" (want \"%s\")", s, v, rc_, msg, m); \
    } while (0)
#define REFUSED(s, m)                                                                                \
    do {                                                                                             \
        int rc_ = val(s, "null");                                                                    \
        CHECK_MSG(rc_ == -2 && strstr(msg, m), "%s: rc %d, msg \"%s\" (want \"%s\")", s, rc_, msg, m); \
    } while (0)

int main(void) {
    /* type, one or several; integer is a number without a fraction */
    OK("{\"type\": \"object\"}", "{}");
    BAD("{\"type\": \"object\"}", "[]", "the output: expected object, got a list");
    OK("{\"type\": [\"string\", \"null\"]}", "null");
    BAD("{\"type\": [\"string\", \"null\"]}", "1", "expected string or null, got a number");
    OK("{\"type\": \"integer\"}", "3");
    BAD("{\"type\": \"integer\"}", "3.5", "expected integer");
    OK("{\"type\": \"boolean\"}", "false");
    OK(" true", "{\"anything\": 1}");
    BAD("false", "1", "no value is allowed here");

    /* objects */
    const char *person = "{\"type\": \"object\", \"required\": [\"name\"], \"additionalProperties\": false,"
                         " \"properties\": {\"name\": {\"type\": \"string\", \"minLength\": 1},"
                         " \"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150}}}";
    OK(person, "{\"name\": \"Ruth\", \"age\": 30}");
    BAD(person, "{\"age\": 30}", "missing required property \"name\"");
    BAD(person, "{\"name\": \"\"}", ".name: 0 characters, fewer than minLength 1");
    BAD(person, "{\"name\": \"x\", \"age\": 151}", ".age: 151 is more than maximum 150");
    BAD(person, "{\"name\": \"x\", \"age\": -1}", ".age: -1 is less than minimum 0");
    BAD(person, "{\"name\": \"x\", \"city\": \"Moab\"}", "property \"city\" is not allowed");
    OK("{\"additionalProperties\": {\"type\": \"number\"}}", "{\"a\": 1, \"b\": 2}");
    BAD("{\"additionalProperties\": {\"type\": \"number\"}}", "{\"a\": 1, \"b\": \"2\"}", ".b: expected number");

    /* arrays */
    const char *list = "{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 2, \"items\": {\"enum\": [\"a\", \"b\"]}}";
    OK(list, "[\"a\", \"b\"]");
    BAD(list, "[]", "0 items, fewer than minItems 1");
    BAD(list, "[\"a\", \"a\", \"b\"]", "3 items, more than maxItems 2");
    BAD(list, "[\"a\", \"c\"]", "[1]: \"c\" is not one of [\"a\",\"b\"]");

    /* strings: lengths in characters, patterns unanchored */
    OK("{\"maxLength\": 2}", "\"\xc3\xa9\xc3\xa9\""); /* two characters, four bytes */
    BAD("{\"maxLength\": 1}", "\"\xc3\xa9\xc3\xa9\"", "2 characters, more than maxLength 1");
    OK("{\"pattern\": \"[0-9]{4}\"}", "\"in 1611\"");
    BAD("{\"pattern\": \"^[0-9]+$\"}", "\"12a\"", "does not match the pattern");

    /* numbers: exclusive bounds */
    OK("{\"exclusiveMinimum\": 0}", "0.5");
    BAD("{\"exclusiveMinimum\": 0}", "0", "0 is not more than 0");
    BAD("{\"exclusiveMaximum\": 10}", "10", "10 is not less than 10");

    /* const, enum of mixed values */
    OK("{\"const\": {\"a\": [1]}}", "{\"a\": [1]}");
    BAD("{\"const\": 1}", "2", "not the required constant value");
    OK("{\"enum\": [1, \"x\", null]}", "null");

    /* combinators */
    const char *any = "{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}";
    OK(any, "\"x\"");
    OK(any, "4");
    BAD(any, "4.5", "matches none of anyOf");
    const char *one = "{\"oneOf\": [{\"type\": \"number\"}, {\"type\": \"integer\"}]}";
    OK(one, "4.5");
    BAD(one, "4", "matches 2 of oneOf's schemas, not exactly one");
    BAD("{\"allOf\": [{\"minimum\": 1}, {\"maximum\": 3}]}", "4", "4 is more than maximum 3");
    BAD("{\"not\": {\"type\": \"null\"}}", "null", "matches the schema under \"not\"");
    OK("{\"not\": {\"type\": \"null\"}}", "0");
    /* nesting: the path names every level */
    BAD("{\"properties\": {\"a\": {\"items\": {\"properties\": {\"b\": {\"type\": \"string\"}}}}}}",
        "{\"a\": [{\"b\": \"x\"}, {\"b\": 1}]}", ".a[1].b: expected string, got a number");
    /* annotations are accepted and ignored */
    OK("{\"title\": \"t\", \"description\": \"d\", \"default\": 1, \"examples\": [1], \"$schema\": \"x\", "
       "\"$comment\": \"c\"}", "5");

    /* schemas refused when the recipe loads */
    REFUSED("{\"propertys\": {}}", "unsupported keyword \"propertys\"; did you mean \"properties\"?");
    REFUSED("{\"$ref\": \"#/defs/x\"}", "unsupported keyword \"$ref\""); /* references are not followed */
    REFUSED("{\"format\": \"email\"}", "unsupported keyword \"format\"");
    REFUSED("{\"type\": \"str\"}", "type: \"str\" is not a JSON Schema type");
    REFUSED("{\"type\": []}", "type: empty list");
    REFUSED("{\"required\": \"name\"}", "required: expected a list of names");
    REFUSED("{\"minLength\": -1}", "minLength: expected a whole number >= 0");
    REFUSED("{\"maxItems\": 1.5}", "maxItems: expected a whole number >= 0");
    REFUSED("{\"minimum\": \"3\"}", "minimum: expected a number");
    REFUSED("{\"pattern\": \"(\"}", "pattern: missing closing parenthesis");
    REFUSED("{\"anyOf\": []}", "anyOf: expected a non-empty list of schemas");
    REFUSED("{\"properties\": {\"a\": {\"items\": 3}}}", "schema.properties.a.items: expected an object");
    REFUSED("[1]", "expected an object (a schema)");
    /* nesting depth is bounded */
    char deep[2000] = "";
    for (int i = 0; i < 40; i++) strcat(deep, "{\"not\": ");
    strcat(deep, "true");
    for (int i = 0; i < 40; i++) strcat(deep, "}");
    REFUSED(deep, "nested deeper than 32 levels");
    return check_summary("test_json_schema");
}
