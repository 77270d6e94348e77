#!/usr/bin/env bash
# tok run, step features on the bundled model: reduce (every call within its
# token budget, one token either side of the boundary), map concurrency
# (the same outputs as one at a time), choices (the pick equals the argmax
# of tok generate's log-probabilities for the same prompt), JSON Schema
# (fails closed, names the path; retries make more calls), registry models
# (prices checked by hand, --budget refuses a bound one cent over), per-step
# models, trace lines appended by four processes at once, and --cache.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
model=$PWD/data/models/tiny-kjv-Q8_0.gguf
run() { "$TOK" run "$@" 2> "$tmp/err"; }

# ---- reduce: groups within group_tokens; the boundary to the token
cat > "$tmp/reduce.yaml" <<EOF
model: local:$model
defaults: {temperature: 0, max_tokens: 6, stop: ["\n"]}
inputs:
  verses: {type: list, default: "@verses.txt"}
steps:
  - id: all
    reduce: "{{ inputs.verses }}"
    group_tokens: 70
    prompt: "{{ text }}\nIn short:"
EOF
cp recipes/samples/verses.txt "$tmp/verses.txt"
rm -f "$tmp/r.trace"
run "$tmp/reduce.yaml" --json -q --trace "$tmp/r.trace" > "$tmp/r.json" || fail "reduce: $(cat "$tmp/err")"
$PY - "$tmp/r.json" "$tmp/r.trace" <<'PY' || fail "reduce"
import json, sys
r = json.load(open(sys.argv[1]))["steps"][0]
calls = [json.loads(l) for l in open(sys.argv[2]) if '"call"' in l]
assert r["kind"] == "reduce" and r["calls"] == len(calls) >= 3, (r, len(calls))
assert all(c["prompt_tokens"] <= 70 for c in calls), [c["prompt_tokens"] for c in calls]
rounds = sorted({c["round"] for c in calls})
assert rounds == list(range(len(rounds))) and len(rounds) >= 2, rounds
assert sum(1 for c in calls if c["round"] == rounds[-1]) == 1  # the last round is one call
PY
# one item alone: a prompt of P tokens fits group_tokens P, not P - 1
printf 'model: local:%s\ndefaults: {max_tokens: 4}\ninputs:\n  xs: {type: list, default: "[\\"And God said, Let there be light\\"]"}\nsteps:\n  - {id: one, reduce: "{{ inputs.xs }}", group_tokens: GT, prompt: "{{ text }}"}\n' "$model" > "$tmp/one.tmpl"
sed 's/GT/1000/' "$tmp/one.tmpl" > "$tmp/one.yaml"
p=$("$TOK" run "$tmp/one.yaml" --dry-run --json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["steps"][0]["prompt_tokens"])')
sed "s/GT/$p/" "$tmp/one.tmpl" > "$tmp/one.yaml"
run "$tmp/one.yaml" --dry-run -q > /dev/null || fail "reduce: a $p-token prompt should fit group_tokens $p"
sed "s/GT/$((p - 1))/" "$tmp/one.tmpl" > "$tmp/one.yaml"
run "$tmp/one.yaml" --dry-run -q > /dev/null && fail "reduce: a $p-token prompt should not fit group_tokens $((p - 1))"
grep -q "reduce: item 0 alone makes a prompt of $p tokens, over the budget of $((p - 1))" "$tmp/err" ||
    fail "reduce message: $(cat "$tmp/err")"

# ---- map concurrency: the same list as one at a time, every item traced once
cat > "$tmp/map.yaml" <<EOF
model: local:$model
defaults: {temperature: 0, max_tokens: 8}
inputs:
  verses: {type: list, default: "@verses.txt"}
steps:
  - id: next
    over: "{{ inputs.verses }}"
    concurrency: CONC
    prompt: "{{ item }}\nAnd"
EOF
for c in 1 2 3; do
    sed "s/CONC/$c/" "$tmp/map.yaml" > "$tmp/map$c.yaml"
    rm -f "$tmp/m$c.trace"
    run "$tmp/map$c.yaml" --json -q --trace "$tmp/m$c.trace" > "$tmp/m$c.json" || fail "map concurrency $c: $(cat "$tmp/err")"
done
$PY - "$tmp" <<'PY' || fail "map concurrency"
import json, sys
d = sys.argv[1]
outs = [json.load(open(f"{d}/m{c}.json"))["outputs"]["next"] for c in (1, 2, 3)]
assert len(outs[0]) == 8 and outs[0] == outs[1] == outs[2], outs
for c in (1, 2, 3):
    calls = [json.loads(l) for l in open(f"{d}/m{c}.trace") if '"call"' in l]
    assert sorted(x["item"] for x in calls) == list(range(8)), calls
    assert [x["output"] for x in sorted(calls, key=lambda x: x["item"])] == outs[0]
PY

# ---- choices: the likeliest single-token answer, checked against tok generate
cat > "$tmp/choice.yaml" <<EOF
model: local:$model
inputs:
  v: {type: string, default: "In the beginning God created the heaven and"}
steps:
  - id: pick
    prompt: "{{ v }}"
    choices: [" the", " and", " of", " LORD"]
EOF
run "$tmp/choice.yaml" --json -q > "$tmp/c.json" || fail "choices: $(cat "$tmp/err")"
run "$tmp/choice.yaml" --json -q --dry-run > "$tmp/c.dry" || fail "choices dry run"
$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["prompt"], end="")' "$tmp/c.dry" > "$tmp/c.prompt"
"$TOK" generate -m "$model" -f "$tmp/c.prompt" -n 1 --temp 0 --json --logprobs 100 > "$tmp/c.gen" 2>/dev/null ||
    fail "choices: tok generate"
$PY - "$tmp/c.json" "$tmp/c.gen" "$TOK" "$model" <<'PY' || fail "choices: not the likeliest answer"
import json, subprocess, sys
run, gen = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
choices = [" the", " and", " of", " LORD"]
s = run["steps"][0]
assert run["outputs"]["pick"] in choices and s["choice"] == choices.index(run["outputs"]["pick"]), run
# each choice continues the prompt as one token: its log-probability is in the top list
top = {t["id"]: t["logprob"] for t in gen["logprobs"][0]["top_logprobs"]}
ids = {}
for c in choices:
    # the id the choice adds after the prompt's last token ("...and" + " the")
    out = subprocess.run([sys.argv[3], "encode", "-t", sys.argv[4], "--json", "-p", "and" + c], capture_output=True, text=True)
    ids[c] = json.loads(out.stdout)["ids"][-1]
scored = {c: top.get(ids[c], -1e9) for c in choices}
best = max(choices, key=lambda c: scored[c])
assert run["outputs"]["pick"] == best and sorted(scored.values())[-2] > -1e9, (run["outputs"]["pick"], scored)
PY

# ---- JSON Schema: pass, fail closed naming the path, retries
cat > "$tmp/schema.yaml" <<EOF
model: local:$model
inputs:
  n: {type: number, default: 3}
steps:
  - id: rec
    schema:
      type: object
      required: [name, count]
      properties:
        name: {type: string, minLength: 1}
        count: {type: integer, maximum: 5}
    template: '{"name": "Ruth", "count": {{ inputs.n }}}'
EOF
run "$tmp/schema.yaml" -q > "$tmp/s.out" || fail "schema: a valid object failed: $(cat "$tmp/err")"
run "$tmp/schema.yaml" -q --var n=6 > /dev/null && fail "schema: count 6 should fail maximum 5"
grep -q 'step "rec": the output does not satisfy the schema: .count: 6 is more than maximum 5' "$tmp/err" ||
    fail "schema message: $(cat "$tmp/err")"
run "$tmp/schema.yaml" -q --var n=2.5 > /dev/null && fail "schema: 2.5 is not an integer"
grep -q '.count: expected integer, got a number' "$tmp/err" || fail "schema message: $(cat "$tmp/err")"
cat > "$tmp/retry.yaml" <<EOF
model: local:$model
defaults: {max_tokens: 6, seed: 5}
steps:
  - id: j
    prompt: "Give a JSON object:"
    format: json
    retries: 2
EOF
rm -f "$tmp/j.trace"
run "$tmp/retry.yaml" -q --trace "$tmp/j.trace" > /dev/null && fail "retries: the tiny model should not write JSON"
grep -q 'format json: the output is not valid JSON.*(after 3 attempts)' "$tmp/err" || fail "retries message: $(cat "$tmp/err")"
grep -q '"calls":3' "$tmp/j.trace" || fail "retries: the trace should count 3 calls: $(cat "$tmp/j.trace")"

# ---- registry models: counted, priced by hand, --budget refuses one cent over
cat > "$tmp/remote.yaml" <<EOF
model: openai:gpt-4o-mini
defaults: {max_tokens: 1000}
inputs:
  doc: {type: file, default: verses.txt}
steps:
  - {id: a, prompt: "Summarize: {{ doc }}"}
  - {id: b, prompt: "Title for: {{ doc }}", max_tokens: 50000}
EOF
run "$tmp/remote.yaml" --dry-run --json -q > "$tmp/rm.json" || fail "remote dry run: $(cat "$tmp/err")"
bound=$($PY - "$tmp/rm.json" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
total = 0
for s in steps:
    assert s["approximate"] is True and s["model"] == "openai:gpt-4o-mini", s
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens
    want = s["prompt_tokens"] * 0.15e-6 + s["max_tokens"] * 0.60e-6
    assert abs(s["cost_usd"] - want) < 1e-12, (s, want)
    assert abs(s["cost_min_usd"] - s["prompt_tokens"] * 0.15e-6) < 1e-12, s  # the range's low end
    total += want
print(f"{total:.10f}")
PY
) || fail "remote prices"
under=$($PY -c "print(f'{$bound - 0.01:.10f}')")
over=$($PY -c "print(f'{$bound + 0.01:.10f}')")
run "$tmp/remote.yaml" --budget "$under" > /dev/null && fail "budget: a bound of \$$bound must refuse \$$under"
grep -q "the run may cost up to \\$" "$tmp/err" || fail "budget message: $(cat "$tmp/err")"
run "$tmp/remote.yaml" --budget "$over" > /dev/null && fail "remote: a real call should fail (no HTTP backend)"
grep -q "budget: up to .* at most" "$tmp/err" && grep -q 'served over HTTP' "$tmp/err" ||
    fail "budget within bound then HTTP refusal: $(cat "$tmp/err")"
printf 'model: local:%s\nsteps:\n  - {id: a, prompt: hi, model: "no-such-model-xyz"}\n' "$model" > "$tmp/unk.yaml"
run "$tmp/unk.yaml" --dry-run > /dev/null && fail "unknown model should fail"
grep -q 'step "a": model "no-such-model-xyz"' "$tmp/err" || fail "unknown model message: $(cat "$tmp/err")"

# ---- a step on another local model
other=$PWD/tests/data/models/llama-rand-tiny-Q4_0.gguf
printf 'model: local:%s\ndefaults: {temperature: 0, max_tokens: 3}\nsteps:\n  - {id: a, prompt: "In the beginning"}\n  - {id: b, model: "local:%s", prompt: "x {{ steps.a.output }}"}\n' "$model" "$other" > "$tmp/two.yaml"
run "$tmp/two.yaml" --json -q > "$tmp/two.json" || fail "two models: $(cat "$tmp/err")"
$PY - "$tmp/two.json" "$model" "$other" <<'PY' || fail "two models"
import json, sys
s = json.load(open(sys.argv[1]))["steps"]
assert s[0]["model"].endswith("tiny-kjv-Q8_0.gguf") and s[1]["model"] == sys.argv[3], s
PY

# ---- four processes appending to one trace: every line whole
rm -f "$tmp/shared.trace"
for k in 1 2 3 4; do "$TOK" run "$tmp/map2.yaml" -q --trace "$tmp/shared.trace" > /dev/null 2>&1 & done
wait
$PY - "$tmp/shared.trace" <<'PY' || fail "concurrent trace appends"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "" and len(lines) - 1 == 4 * 9, len(lines)
for l in lines[:-1]:
    json.loads(l)
PY
# ---- input values from a JSON object and from standard input
printf '{"lines": ["In the beginning", "And God said"], "unused": 3}' > "$tmp/vars.json"
run recipes/classify.yaml --vars "$tmp/vars.json" -q > /dev/null && fail "--vars: an unknown input should fail"
grep -q 'the recipe has no input "unused"' "$tmp/err" || fail "--vars message: $(cat "$tmp/err")"
printf '{"lines": ["In the beginning", "And God said"]}' > "$tmp/vars.json"
run recipes/classify.yaml --vars "$tmp/vars.json" -q > "$tmp/v1.out" || fail "--vars: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/v1.out")" = 2 ] && grep -q "	And God said$" "$tmp/v1.out" || fail "--vars output: $(cat "$tmp/v1.out")"
printf 'In the beginning\nAnd God said\n' | "$TOK" run recipes/classify.yaml --var lines=@- -q > "$tmp/v2.out" 2> "$tmp/err" ||
    fail "--var lines=@-: $(cat "$tmp/err")"
cmp -s "$tmp/v1.out" "$tmp/v2.out" || fail "stdin and --vars differ"
printf 'not json' > "$tmp/bad.json"
rc=0
"$TOK" run recipes/classify.yaml --vars "$tmp/bad.json" > /dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "--vars: bad JSON should be a usage error, got $rc"

# ---- files inputs: one record per matching file, sorted; items cut to fit
mkdir -p "$tmp/docs"
printf 'And God said' > "$tmp/docs/b.txt"; printf 'In the beginning' > "$tmp/docs/a.txt"
for i in $(seq 1 400); do printf 'and the LORD spake unto Moses, saying, '; done > "$tmp/docs/c.txt"
cat > "$tmp/files.yaml" <<EOF
model: local:$model
defaults: {temperature: 0, max_tokens: 4}
inputs:
  docs: {type: files, default: "docs/*.txt"}
steps:
  - id: each
    over: "{{ inputs.docs }}"
    on_overflow: truncate
    prompt: "{{ item.name }}: {{ item.text }}"
EOF
run "$tmp/files.yaml" --json -q > "$tmp/f.json" || fail "files: $(cat "$tmp/err")"
$PY - "$tmp/f.json" <<'PY' || fail "files input"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["steps"][0]
assert s["items"] == 3 and len(r["outputs"]["each"]) == 3, r
assert s["truncated_input"] == "item.text" and s["truncated_to"] < s["truncated_from"], s
PY
run "$tmp/files.yaml" -q --var docs="$tmp/none/*.md" > /dev/null && fail "files: no match should fail"
grep -q "input \"docs\": $tmp/none/\*.md: no file matches" "$tmp/err" || fail "files message: $(cat "$tmp/err")"

# ---- chat: false: the prompt as plain text, counted as tok encode counts it
printf 'model: local:%s\ndefaults: {temperature: 0, max_tokens: 4}\nsteps:\n  - {id: a, chat: false, prompt: "In the beginning God"}\n' "$model" > "$tmp/raw.yaml"
run "$tmp/raw.yaml" --dry-run --json -q > "$tmp/raw.json" || fail "chat false: $(cat "$tmp/err")"
want=$("$TOK" encode -t "$model" --json -p "In the beginning God" | $PY -c 'import json,sys; print(json.load(sys.stdin)["count"])')
$PY - "$tmp/raw.json" "$want" <<'PY' || fail "chat: false"
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
assert s["prompt"] == "In the beginning God" and s["prompt_tokens"] == int(sys.argv[2]), (s, sys.argv[2])
PY
printf 'steps:\n  - {id: a, chat: false, system: x, prompt: y}\n' > "$tmp/raw2.yaml"
run "$tmp/raw2.yaml" --dry-run > /dev/null && fail "chat: false with a system message should fail"
grep -q 'chat: false sends the prompt as plain text: no system or messages' "$tmp/err" || fail "chat false message: $(cat "$tmp/err")"

# ---- --cache: the same calls answered from the cache, a changed one is not
run recipes/summarize.yaml --json -q --cache "$tmp/cache" > "$tmp/k1.json" || fail "cache: $(cat "$tmp/err")"
run recipes/summarize.yaml --json -q --cache "$tmp/cache" > "$tmp/k2.json" || fail "cache: second run"
run recipes/summarize.yaml --json -q --cache "$tmp/cache" --var words=7 > "$tmp/k3.json" || fail "cache: third run"
$PY - "$tmp" <<'PY' || fail "cache"
import json, sys
d = sys.argv[1]
k1, k2, k3 = (json.load(open(f"{d}/k{i}.json")) for i in (1, 2, 3))
assert k1["outputs"] == k2["outputs"], (k1["outputs"], k2["outputs"])
assert all("cache_hits" not in s for s in k1["steps"]), k1
assert [s.get("cache_hits") for s in k2["steps"]] == [1, 1], k2["steps"]
assert [s["completion_tokens"] for s in k1["steps"]] == [s["completion_tokens"] for s in k2["steps"]]
# another prompt for the first step: a miss (its output may then change the second's prompt)
assert "cache_hits" not in k3["steps"][0], k3["steps"][0]
PY
# an entry whose stored key differs (a hash collision) is a miss, not an answer
for f in "$tmp"/cache/*.json; do sed -i 's/"key":"v1 /"key":"v0 /' "$f"; done
run recipes/summarize.yaml --json -q --cache "$tmp/cache" > "$tmp/k4.json" || fail "cache: tampered run"
grep -q cache_hits "$tmp/k4.json" && fail "cache: a tampered entry must not answer"

echo "run_features: reduce, concurrency, choices, schema, retries, prices, budget, models, trace, cache: ok"
