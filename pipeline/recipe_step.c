/*
 * One recipe step from YAML: its keys (with suggestions for unknown ones),
 * templates parsed with positions mapped into the file, and the checks that
 * need only the step itself (exactly one kind; options that go with that
 * kind). References between steps are resolved by recipe.c afterwards.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_load.h"

/* messages: a list of {role, content}; content is a template, role is
 * plain text (system, user, assistant, or whatever the chat template knows). */
static int parse_messages(ld *L, yaml_node_t *v, rc_step *s, const char *owner) {
    if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
        return rc_fail_at(L, v, "%s: messages: expected a non-empty list of {role, content}", owner);
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!(s->msgs = calloc(n, sizeof *s->msgs))) return rc_fail_at(L, v, "out of memory");
    static const char *const keys[] = {"role", "content"};
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *m = rc_node(L, v->data.sequence.items.start[i]);
        rc_msg *msg = &s->msgs[s->n_msgs++];
        char what[128];
        snprintf(what, sizeof what, "%s: messages[%zu]", owner, i);
        if (m->type != YAML_MAPPING_NODE) return rc_fail_at(L, m, "%s: expected {role, content}", what);
        if (rc_check_dup_keys(L, m, what)) return -1;
        yaml_node_t *content = NULL;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
            yaml_node_t *k = rc_node(L, p->key), *val = rc_node(L, p->value);
            if (rc_check_key(L, k, what, keys, 2)) return -1;
            if (!strcmp(rc_scalar(k), "role")) {
                if (rc_want_scalar(L, val, what, &msg->role)) return -1;
            } else
                content = val;
        }
        if (!msg->role || !content) return rc_fail_at(L, m, "%s: needs both \"role\" and \"content\"", what);
        char key[48];
        snprintf(key, sizeof key, "messages[%zu].content", i);
        if (rc_parse_tmpl(L, content, s->id, key, &msg->src, &msg->t)) return -1;
    }
    return 0;
}

static const char *const STEP_KEYS[] = {
    "id", "prompt", "system", "template", "when", "format", "model", "on_overflow", "truncate",
    "temperature", "top_p", "top_k", "max_tokens", "seed", "stop", "messages", "split", "overlap", "over",
    "map", "concurrency", "reduce", "group_tokens", "separator", "schema", "choices", "retries", "chat"};
#define N_STEP_KEYS (sizeof STEP_KEYS / sizeof *STEP_KEYS)

static int pick(ld *L, yaml_node_t *v, const char *owner, const char *key, const char *const *opts,
                int n, int *out) {
    const char *s = rc_scalar(v);
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, opts[i])) return *out = i, 0;
    char list[160] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", opts[i]);
    return rc_fail_at(L, v, "%s: %s: expected one of %s", owner, key, list);
}

int rc_parse_step(ld *L, size_t si, yaml_node_t *m) {
    rc_step *s = &L->r->steps[si];
    s->line = (int)m->start_mark.line + 1, s->col = (int)m->start_mark.column + 1;
    if (m->type != YAML_MAPPING_NODE) return rc_fail_at(L, m, "steps[%zu]: expected a mapping", si);
    yaml_node_t *idn = NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
        if (rc_scalar(rc_node(L, p->key)) && !strcmp(rc_scalar(rc_node(L, p->key)), "id")) idn = rc_node(L, p->value);
    if (!idn) return rc_fail_at(L, m, "steps[%zu]: missing \"id\"", si);
    if (rc_want_scalar(L, idn, "id", &s->id)) return -1;
    if (!*s->id) return rc_fail_at(L, idn, "steps[%zu]: empty id", si);
    for (const char *c = s->id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
            return rc_fail_at(L, idn, "steps[%zu]: id \"%s\": use letters, digits, _ and -", si, s->id);
    for (size_t j = 0; j < si; j++)
        if (!strcmp(L->r->steps[j].id, s->id))
            return rc_fail_at(L, idn, "step \"%s\": duplicate id (first at line %d)", s->id, L->r->steps[j].line);
    char owner[96];
    snprintf(owner, sizeof owner, "step \"%s\"", s->id);
    if (rc_check_dup_keys(L, m, owner)) return -1;
    bool has_prompt = false, has_tmpl = false, has_msgs = false, has_split = false;
    yaml_node_t *trunc_node = NULL, *overlap_node = NULL, *over_node = NULL, *reduce_node = NULL, *conc_node = NULL,
                *group_node = NULL, *retries_node = NULL, *sep_node = NULL, *schema_node = NULL, *choices_node = NULL,
                *format_node = NULL, *chat_node = NULL;
    s->truncate = RC_TRUNC_TAIL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = rc_node(L, p->key), *v = rc_node(L, p->value);
        if (rc_check_key(L, k, owner, STEP_KEYS, N_STEP_KEYS)) return -1;
        const char *key = rc_scalar(k);
        int rc = rc_parse_sampling(L, key, v, owner, &s->s);
        if (rc < 0) return -1;
        if (rc || !strcmp(key, "id")) continue;
        if (!strcmp(key, "prompt")) {
            has_prompt = true;
            if (rc_parse_tmpl(L, v, s->id, key, &s->prompt_src, &s->prompt)) return -1;
        } else if (!strcmp(key, "messages")) {
            has_prompt = true, has_msgs = true;
            if (parse_messages(L, v, s, owner)) return -1;
        } else if (!strcmp(key, "system")) {
            if (rc_parse_tmpl(L, v, s->id, key, &s->system_src, &s->system)) return -1;
        } else if (!strcmp(key, "template")) {
            has_tmpl = true;
            if (rc_parse_tmpl(L, v, s->id, key, &s->tmpl_src, &s->tmpl)) return -1;
        } else if (!strcmp(key, "split")) {
            has_split = true;
            if (rc_parse_tmpl(L, v, s->id, key, &s->tmpl_src, &s->tmpl)) return -1;
        } else if (!strcmp(key, "overlap")) {
            double d;
            overlap_node = v;
            if (rc_want_number(L, v, "overlap", 0, 1e9, true, &d)) return -1;
            s->overlap = (size_t)d;
        } else if (!strcmp(key, "over") || !strcmp(key, "map") || !strcmp(key, "reduce")) {
            bool red = key[0] == 'r';
            if (red) reduce_node = v;
            else if (over_node) return rc_fail_at(L, v, "%s: \"over\" and \"map\" say the same: give one", owner);
            else over_node = v;
            char **dst = red ? &s->reduce : &s->over;
            if (rc_want_scalar(L, v, owner, dst)) return -1;
            const char *q = *dst;
            while (*q == '{' || *q == ' ') q++;
            if (strncmp(q, "steps.", 6) && strncmp(q, "inputs.", 7))
                return rc_fail_at(L, v, "%s: %s: expected a list reference such as \"{{ steps.ID.output }}\" or "
                               "\"{{ inputs.NAME }}\"", owner, key);
        } else if (!strcmp(key, "concurrency") || !strcmp(key, "group_tokens") || !strcmp(key, "retries")) {
            double d;
            char what[160];
            snprintf(what, sizeof what, "%s: %s", owner, key);
            int c = key[0];
            if (rc_want_number(L, v, what, c == 'r' ? 0 : 1, c == 'c' ? 64 : c == 'r' ? 10 : 1e9, true, &d)) return -1;
            if (c == 'c') s->concurrency = (int)d, conc_node = v;
            else if (c == 'g') s->group_tokens = (int)d, group_node = v;
            else s->retries = (int)d, retries_node = v;
        } else if (!strcmp(key, "chat")) {
            const char *b = rc_scalar(v);
            chat_node = v;
            if (!b || (strcmp(b, "true") && strcmp(b, "false")))
                return rc_fail_at(L, v, "%s: chat: expected true or false", owner);
            s->raw = !strcmp(b, "false");
        } else if (!strcmp(key, "separator")) {
            sep_node = v;
            if (rc_want_scalar(L, v, owner, &s->separator)) return -1;
        } else if (!strcmp(key, "schema")) {
            /* a YAML mapping, or a string holding JSON */
            schema_node = v;
            s->schema = rc_scalar(v) ? cJSON_Parse(rc_scalar(v)) : rc_to_json(L, v, 0);
            if (!s->schema) return rc_fail_at(L, v, "%s: schema: expected a JSON Schema (a mapping, or JSON text)", owner);
            char why[300];
            if (rc_schema_check(s->schema, why, sizeof why)) return rc_fail_at(L, v, "%s: %s", owner, why);
        } else if (!strcmp(key, "choices")) {
            choices_node = v;
            size_t n = v->type == YAML_SEQUENCE_NODE ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 0;
            if (n < 2) return rc_fail_at(L, v, "%s: choices: expected a list of at least two answers", owner);
            if (!(s->choices = calloc(n, sizeof *s->choices))) return rc_fail_at(L, v, "out of memory");
            for (size_t i = 0; i < n; i++) {
                if (rc_want_scalar(L, rc_node(L, v->data.sequence.items.start[i]), owner, &s->choices[i])) return -1;
                s->n_choices++;
                if (!*s->choices[i]) return rc_fail_at(L, v, "%s: choices: an answer must not be empty", owner);
                for (size_t j = 0; j < i; j++)
                    if (!strcmp(s->choices[j], s->choices[i]))
                        return rc_fail_at(L, v, "%s: choices: \"%s\" appears twice", owner, s->choices[i]);
            }
        } else if (!strcmp(key, "when")) {
            /* an expression: evaluated as {% if EXPR %} */
            const char *e = rc_scalar(v);
            if (!e) return rc_fail_at(L, v, "%s: when: expected an expression", owner);
            size_t n = strlen(e) + 32;
            char *src = malloc(n);
            if (!src) return rc_fail_at(L, v, "out of memory");
            snprintf(src, n, "{%% if %s %%}1{%% endif %%}", e);
            tok_error e2 = {0};
            s->when = tok_template_parse("when", src, strlen(src), NULL, &e2);
            if (!s->when) {
                free(src);
                const char *c = strstr(e2.msg, ": ");
                const char *cause = c ? strstr(c + 2, ": ") : NULL;
                return rc_fail_at(L, v, "%s: when: %s", owner, cause ? cause + 2 : e2.msg);
            }
            free(src);
        } else if (!strcmp(key, "format")) {
            static const char *const f[] = {"text", "json", "lines"};
            format_node = v;
            if (pick(L, v, owner, key, f, 3, &s->format)) return -1;
        } else if (!strcmp(key, "on_overflow")) {
            static const char *const f[] = {"error", "truncate", "chunk"};
            if (pick(L, v, owner, key, f, 3, &s->overflow)) return -1;
        } else if (!strcmp(key, "truncate")) {
            static const char *const f[] = {"head", "tail", "middle"};
            trunc_node = v;
            if (pick(L, v, owner, key, f, 3, &s->truncate)) return -1;
        } else if (!strcmp(key, "model")) {
            if (rc_want_scalar(L, v, owner, &s->model)) return -1;
        }
    }
    if (reduce_node && (!has_prompt || over_node))
        return rc_fail_at(L, reduce_node, "%s: reduce: needs a prompt (using {{ items }} or {{ text }}) and no over",
                          owner);
    if ((int)has_prompt + (int)has_tmpl + (int)has_split != 1 || (has_msgs && s->prompt))
        return rc_fail_at(L, m,
                       "%s: needs exactly one of \"prompt\" or \"messages\" (a model call), \"template\" (a "
                       "transform) or \"split\" (chunking)", owner);
    if (has_split && !(s->s.set & RC_S_MAX))
        return rc_fail_at(L, m, "%s: split: needs max_tokens (the most tokens a chunk may have)", owner);
    if (overlap_node && !has_split) return rc_fail_at(L, overlap_node, "%s: overlap: only with split", owner);
    if (has_split && s->overlap >= (size_t)s->s.max_tokens)
        return rc_fail_at(L, overlap_node, "%s: overlap: must be less than max_tokens (%d)", owner, s->s.max_tokens);
    if (over_node && has_split) return rc_fail_at(L, over_node, "%s: over: not with split", owner);
    if (trunc_node && s->overflow != RC_OVERFLOW_TRUNCATE)
        return rc_fail_at(L, trunc_node, "%s: truncate: only with on_overflow: truncate", owner);
    if (!has_prompt && s->system)
        return rc_fail_at(L, m, "%s: \"system\" only goes with \"prompt\" or \"messages\"", owner);
    if (conc_node && !over_node) return rc_fail_at(L, conc_node, "%s: concurrency: only with over (a map)", owner);
    if ((group_node || sep_node) && !reduce_node)
        return rc_fail_at(L, group_node ? group_node : sep_node, "%s: %s: only with reduce", owner,
                          group_node ? "group_tokens" : "separator");
    if (schema_node && format_node && s->format != RC_FMT_JSON)
        return rc_fail_at(L, schema_node, "%s: schema: only with format: json", owner);
    if (schema_node) s->format = RC_FMT_JSON; /* a schema implies json */
    if (chat_node && !has_prompt) return rc_fail_at(L, chat_node, "%s: chat: only with a prompt", owner);
    if (s->raw && (has_msgs || s->system))
        return rc_fail_at(L, chat_node, "%s: chat: false sends the prompt as plain text: no system or messages", owner);
    if (choices_node && (!has_prompt || reduce_node))
        return rc_fail_at(L, choices_node, "%s: choices: only with a prompt (not reduce)", owner);
    if (choices_node && s->format == RC_FMT_JSON)
        return rc_fail_at(L, choices_node, "%s: choices: the answer is one of the choices, not JSON", owner);
    if (retries_node && s->format != RC_FMT_JSON)
        return rc_fail_at(L, retries_node, "%s: retries: only with format: json (an output that does not parse or "
                          "fails its schema is generated again)", owner);
    s->kind = has_prompt ? RC_STEP_PROMPT : has_split ? RC_STEP_SPLIT : RC_STEP_TEMPLATE;
    return 0;
}

