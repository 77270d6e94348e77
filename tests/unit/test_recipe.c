/* Recipes: loading and validation (messages with line:column, unknown-key
 * suggestions, references, cycles, run order) and running template steps
 * without a model (inputs, defaults, --var values, when, json and lines
 * formats, missing inputs). Model calls are tested in tests/cli/run.sh. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tok_pipeline.h"

static tok_recipe *parse(const char *src, tok_error *err) {
    memset(err, 0, sizeof *err);
    return tok_recipe_parse("r.yaml", src, strlen(src), err);
}

/* The load error of src, or "" if it loads. */
static const char *load_error(const char *src) {
    static tok_error err;
    tok_recipe *r = parse(src, &err);
    if (r) {
        tok_recipe_free(r);
        return "";
    }
    return err.msg;
}

/* Runs a model-less recipe; returns the run status, output of step `id`
 * (as compact JSON) into out. */
static int run(const char *src, const tok_recipe_var *vars, size_t n, const char *id, char *out, size_t cap,
               tok_error *err) {
    *out = 0;
    tok_recipe *r = parse(src, err);
    if (!r) return -2;
    tok_recipe_backend b = {0};
    tok_recipe_run_params p = tok_recipe_default_run_params();
    p.vars = vars, p.n_vars = n;
    tok_recipe_result res;
    int rc = tok_recipe_run(r, &b, &p, &res, err);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(res.outputs, id);
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    if (s) snprintf(out, cap, "%s", s);
    free(s);
    tok_recipe_result_free(&res);
    tok_recipe_free(r);
    return rc;
}

int main(void) {
    tok_error err;

    /* a valid recipe loads; steps come out in dependency order */
    const char *ok =
        "name: demo\n"
        "model: local:x.gguf\n"
        "defaults: {temperature: 0, max_tokens: 16, stop: [\"\\n\"]}\n"
        "inputs:\n"
        "  doc: {type: string, default: hello, description: the text}\n"
        "steps:\n"
        "  - id: title\n"
        "    prompt: \"Title: {{ steps.summary.output }}\"\n"
        "  - id: summary\n"
        "    system: be brief\n"
        "    prompt: \"{{ inputs.doc }}\"\n"
        "    temperature: 0.5\n";
    tok_recipe *r = parse(ok, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (r) {
        CHECK_EQ_STR(tok_recipe_name(r), "demo");
        CHECK_EQ_STR(tok_recipe_model(r), "local:x.gguf");
        CHECK_EQ_INT(tok_recipe_n_steps(r), 2);
        CHECK_EQ_STR(tok_recipe_step_id(r, 0), "summary");
        CHECK_EQ_STR(tok_recipe_step_id(r, 1), "title");
        tok_recipe_free(r);
    }

    /* unknown keys, with suggestions, at their line:column */
    CHECK_EQ_STR(load_error("name: x\nsteps:\n  - id: summarize\n    promt: hi\n"),
                 "r.yaml:4:5: step \"summarize\": unknown key \"promt\" (did you mean \"prompt\"?)");
    CHECK_EQ_STR(load_error("nmae: x\nsteps:\n  - {id: a, prompt: hi}\n"),
                 "r.yaml:1:1: recipe: unknown key \"nmae\" (did you mean \"name\"?)");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: hi, zzzzzz: 1}\n"),
                 "r.yaml:2:25: step \"a\": unknown key \"zzzzzz\"");
    CHECK_EQ_STR(load_error("defaults:\n  temprature: 0\nsteps:\n  - {id: a, prompt: hi}\n"),
                 "r.yaml:2:3: defaults: unknown key \"temprature\" (did you mean \"temperature\"?)");
    CHECK_EQ_STR(load_error("inputs:\n  doc: {tpye: string}\nsteps:\n  - {id: a, prompt: hi}\n"),
                 "r.yaml:2:9: input \"doc\": unknown key \"tpye\" (did you mean \"type\"?)");
    CHECK_EQ_STR(load_error("inputs:\n  doc: {type: strng}\nsteps:\n  - {id: a, prompt: hi}\n"),
                 "r.yaml:2:15: input \"doc\": unknown type \"strng\" (string, file, number, list or files); "
                 "did you mean \"string\"?");

    /* YAML syntax errors name the place libyaml found */
    CHECK(strncmp(load_error("steps:\n  - id: a\n    prompt: \"x\"\n   bad: indent\n"), "r.yaml:4:4: ", 12) == 0);
    CHECK(strncmp(load_error("steps: [a, b\n"), "r.yaml:2:1: ", 12) == 0);
    CHECK_EQ_STR(load_error(""), "r.yaml: empty recipe (expected name, model, inputs, steps)");

    /* ids, references, cycles */
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n"),
                 "r.yaml:3:10: step \"a\": duplicate id (first at line 2)");
    CHECK_EQ_STR(load_error("steps:\n  - {prompt: x}\n"), "r.yaml:2:5: steps[0]: missing \"id\"");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    prompt: \"{{ steps.sumary.output }}\"\n"
                            "  - {id: summary, template: x}\n"),
                 "r.yaml:3:17: step \"a\": refers to unknown step \"sumary\" (did you mean \"summary\"?)");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    prompt: \"{{ steps.b.output }}\"\n"
                            "  - id: b\n    prompt: \"{{ steps['c'].output }}\"\n"
                            "  - id: c\n    template: \"{{ steps.a.output }}\"\n"),
                 "r.yaml:2:5: step \"a\": cycle in step references: a -> b -> c -> a");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: \"{{ steps.a.output }}\"}\n"),
                 "r.yaml:2:25: step \"a\": refers to its own output");
    CHECK_EQ_STR(load_error("inputs: {document: {type: string}}\nsteps:\n  - {id: a, prompt: \"{{ inputs.documnt }}\"}\n"),
                 "r.yaml:3:25: step \"a\": refers to undeclared input \"documnt\" (did you mean \"document\"?)");
    /* inside a block scalar: the reference's own line and column */
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    prompt: |\n      one\n      two {{ steps.zz.output }}\n"),
                 "r.yaml:5:14: step \"a\": refers to unknown step \"zz\"");
    /* a prompt or a template, not both or neither; unimplemented kinds say so */
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, template: y}\n"),
                 "r.yaml:2:5: step \"a\": needs exactly one of \"prompt\" or \"messages\" (a model call), \"template\" (a "
                 "transform) or \"split\" (chunking)");
    /* messages: roles and content templates, references inside them count */
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    messages:\n      - {role: user, contnt: hi}\n"),
                 "r.yaml:4:22: step \"a\": messages[0]: unknown key \"contnt\" (did you mean \"content\"?)");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    messages:\n      - {role: user}\n"),
                 "r.yaml:4:9: step \"a\": messages[0]: needs both \"role\" and \"content\"");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    messages: []\n"),
                 "r.yaml:3:15: step \"a\": messages: expected a non-empty list of {role, content}");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, messages: [{role: user, content: y}]}\n"),
                 "r.yaml:2:5: step \"a\": needs exactly one of \"prompt\" or \"messages\" (a model call), \"template\" (a "
                 "transform) or \"split\" (chunking)");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    messages:\n      - {role: user, content: \"{{ steps.x.output }}\"}\n"),
                 "r.yaml:4:35: step \"a\": refers to unknown step \"x\"");
    r = parse("steps:\n  - id: a\n    messages:\n      - {role: user, content: \"{{ steps.b.output }}\"}\n"
              "  - {id: b, template: x}\n", &err);
    CHECK_MSG(r && !strcmp(tok_recipe_step_id(r, 0), "b"), "%s", err.msg);
    tok_recipe_free(r);
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, reduce: x}\n"),
                 "r.yaml:2:21: step \"a\": reduce: expected a list reference such as \"{{ steps.ID.output }}\" or "
                 "\"{{ inputs.NAME }}\"");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, reduce: \"{{ steps.b.output }}\"}\n  - {id: b, template: x}\n"),
                 "r.yaml:2:21: step \"a\": reduce: needs a prompt (using {{ items }} or {{ text }}) and no over");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, concurrency: 2}\n"),
                 "r.yaml:2:37: step \"a\": concurrency: only with over (a map)");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, over: \"{{ inputs.x }}\", prompt: x, concurrency: 0}\n"
                            "inputs: {x: {type: list}}\n"),
                 "r.yaml:2:61: step \"a\": concurrency: expected an integer in [1, 64], got \"0\"");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, choices: [yes]}\n"),
                 "r.yaml:2:33: step \"a\": choices: expected a list of at least two answers");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, choices: [yes, yes]}\n"),
                 "r.yaml:2:33: step \"a\": choices: \"yes\" appears twice");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, retries: 2}\n"),
                 "r.yaml:2:33: step \"a\": retries: only with format: json (an output that does not parse or fails "
                 "its schema is generated again)");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, format: text, schema: {type: object}}\n"),
                 "r.yaml:2:46: step \"a\": schema: only with format: json");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, schema: {type: object, propertys: {}}}\n"),
                 "r.yaml:2:32: step \"a\": schema: unsupported keyword \"propertys\"; did you mean \"properties\"? "
                 "(it would not be checked)");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, schema: {type: obj}}\n"),
                 "r.yaml:2:32: step \"a\": schema: type: \"obj\" is not a JSON Schema type");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, schema: {properties: {n: {pattern: \"(\"}}}}\n"),
                 "r.yaml:2:32: step \"a\": schema.properties.n: pattern: missing closing parenthesis");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, separator: \", \"}\n"),
                 "r.yaml:2:35: step \"a\": separator: only with reduce");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, format: yaml}\n"),
                 "r.yaml:2:32: step \"a\": format: expected one of text, json, lines");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, truncate: head}\n"),
                 "r.yaml:2:34: step \"a\": truncate: only with on_overflow: truncate");
    CHECK_EQ_STR(load_error("steps:\n  - {id: a, prompt: x, on_overflow: chunks}\n"),
                 "r.yaml:2:37: step \"a\": on_overflow: expected one of error, truncate, chunk");
    CHECK_EQ_STR(load_error("defaults: {max_tokens: 0}\nsteps:\n  - {id: a, prompt: x}\n"),
                 "r.yaml:1:24: defaults: max_tokens: expected an integer in [1, 1e+09], got \"0\"");

    /* template syntax errors: position in the file, through block scalars */
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    prompt: |\n      line one\n      and {{ x | nosuchfilter }}\n"),
                 "r.yaml:5:18: step \"a\": prompt: unknown filter 'nosuchfilter'");
    CHECK_EQ_STR(load_error("steps:\n  - id: a\n    prompt: \"ab {{ x | nosuch }}\"\n"),
                 "r.yaml:3:24: step \"a\": prompt: unknown filter 'nosuch'");

    /* running template steps: inputs, defaults, when, formats */
    char out[512];
    const char *t =
        "inputs:\n"
        "  who: {type: string, description: a name}\n"
        "  n: {type: number, default: 2}\n"
        "  items: {type: list, default: [a, b]}\n"
        "steps:\n"
        "  - id: greet\n"
        "    template: \"hi {{ who }} x{{ inputs.n * 2 }} {{ items | join(',') }}\"\n"
        "  - id: lines\n"
        "    format: lines\n"
        "    template: \"{% for i in items %}{{ i }}\\n\\n{% endfor %}\"\n"
        "  - id: js\n"
        "    format: json\n"
        "    template: '{\"who\": {{ who | tojson }}, \"k\": {{ steps.lines.output | length }}}'\n"
        "  - id: never\n"
        "    when: steps.js.output.k > 5\n"
        "    template: no\n";
    tok_recipe_var v1[] = {{"who", "Ann"}};
    CHECK_EQ_INT(run(t, v1, 1, "greet", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "\"hi Ann x4 a,b\"");
    CHECK_EQ_INT(run(t, v1, 1, "lines", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "[\"a\",\"b\"]");
    CHECK_EQ_INT(run(t, v1, 1, "js", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "{\"who\":\"Ann\",\"k\":2}");
    CHECK_EQ_INT(run(t, v1, 1, "never", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "null");
    tok_recipe_var v2[] = {{"who", "B"}, {"n", "5"}, {"items", "x\ny\nz"}};
    CHECK_EQ_INT(run(t, v2, 3, "greet", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "\"hi B x10 x,y,z\"");
    CHECK_EQ_INT(run(t, v2, 3, "never", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "null");
    tok_recipe_var v3[] = {{"who", "B"}, {"items", "[\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]"}};
    CHECK_EQ_INT(run(t, v3, 2, "never", out, sizeof out, &err), 0);
    CHECK_EQ_STR(out, "\"no\"");

    /* missing and unknown inputs are named */
    CHECK(run(t, NULL, 0, "greet", out, sizeof out, &err) == -1);
    CHECK_EQ_STR(err.msg, "r.yaml: missing input \"who\" (give --var NAME=VALUE or --var NAME=@FILE)");
    tok_recipe_var v4[] = {{"woh", "x"}};
    CHECK(run(t, v4, 1, "greet", out, sizeof out, &err) == -1);
    CHECK_EQ_STR(err.msg, "r.yaml: --var woh: the recipe has no input \"woh\" (did you mean \"who\"?)");
    tok_recipe_var v5[] = {{"who", "x"}, {"n", "two"}};
    CHECK(run(t, v5, 2, "greet", out, sizeof out, &err) == -1);
    CHECK_EQ_STR(err.msg, "input \"n\": expected a number, got \"two\"");
    tok_recipe_var v6[] = {{"who", "@/nonexistent/file.txt"}};
    CHECK(run(t, v6, 1, "greet", out, sizeof out, &err) == -1);
    CHECK_EQ_STR(err.msg, "input \"who\": /nonexistent/file.txt: No such file or directory");

    /* json output fails closed, naming the step */
    const char *bad = "steps:\n  - {id: j, format: json, template: \"{not json\"}\n  - {id: k, template: \"{{ steps.j.output }}\"}\n";
    CHECK(run(bad, NULL, 0, "k", out, sizeof out, &err) == -1);
    CHECK_MSG(strncmp(err.msg, "r.yaml: step \"j\": format json: the output is not valid JSON (byte ", 65) == 0 &&
                  strstr(err.msg, "): \"{not json\""), "%s", err.msg);
    /* a render error names the step and the template position */
    CHECK(run("steps:\n  - {id: a, template: \"{{ 1 + [] }}\"}\n", NULL, 0, "a", out, sizeof out, &err) == -1);
    CHECK_MSG(strncmp(err.msg, "r.yaml: step \"a\": template: 1:", 30) == 0, "%s", err.msg);
    /* a prompt step without a model fails cleanly */
    CHECK(run("steps:\n  - {id: a, prompt: hi}\n", NULL, 0, "a", out, sizeof out, &err) == -1);
    CHECK_EQ_STR(err.msg, "r.yaml: step \"a\": no model to format the prompt with");
    /* mutated recipes load or fail with a located message; never crash
     * (run under make asan). Deterministic: a fixed LCG. */
    {
        const char *seeds[] = {ok, t, bad};
        unsigned long long rng = 12345;
        int odd = 0, loaded = 0;
        for (int it = 0; it < 3000; it++) {
            const char *base = seeds[it % 3];
            size_t n = strlen(base);
            char buf[2048];
            memcpy(buf, base, n);
            for (int k = 0; k < 1 + it % 6; k++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                size_t at = (size_t)(rng >> 33) % n;
                int op = (int)((rng >> 20) % 4);
                const char pool[] = "{}[]:-'\"|>#&*!%@ \n\tab{{}}%";
                if (op == 0) buf[at] = pool[(rng >> 8) % (sizeof pool - 1)];
                else if (op == 1) n = at;                                   /* cut */
                else if (op == 2 && n + 1 < sizeof buf) {                  /* insert */
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = pool[(rng >> 8) % (sizeof pool - 1)], n++;
                } else if (n > 1) memmove(buf + at, buf + at + 1, n - at - 1), n--; /* delete */
                if (!n) break;
            }
            tok_error e = {0};
            tok_recipe *m = tok_recipe_parse("r.yaml", buf, n, &e);
            if (m) loaded++, tok_recipe_free(m);
            else if (strncmp(e.msg, "r.yaml", 6) || !e.code) odd++, fprintf(stderr, "unlocated: %s\n", e.msg);
        }
        CHECK_EQ_INT(odd, 0);
        CHECK(loaded > 0);
    }
    return check_summary("test_recipe");
}
