#!/usr/bin/env bash
# tok run, split and over (map) steps on the bundled model: every chunk of
# recipes/map-reduce-summary.yaml is at most its max_tokens when counted by
# `tok count` with the model's own vocabulary (an independent count of the
# same text), the chunks cover the document, the map has one output per
# chunk, and the dry run shows the same chunks and items without a model call.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
model=data/models/tiny-kjv-Q8_0.gguf
r=recipes/map-reduce-summary.yaml
[ -f "$model" ] || { echo "run_split: no bundled model, skipped"; exit 0; }

"$TOK" run "$r" --json > "$tmp/run.json" 2> "$tmp/run.err" || fail "$r: $(cat "$tmp/run.err")"
"$TOK" run "$r" --json --dry-run > "$tmp/dry.json" 2> "$tmp/dry.err" || fail "$r --dry-run: $(cat "$tmp/dry.err")"
grep -q '^chunks  *split .* [0-9]* items$' "$tmp/dry.err" || fail "dry-run table: $(cat "$tmp/dry.err")"
$PY - "$tmp/run.json" "$tmp/dry.json" "$tmp" recipes/samples/psalms.txt <<'PY' || fail "split/map outputs"
import json, sys
run, dry = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
chunks = run["outputs"]["chunks"]
assert chunks == dry["outputs"]["chunks"], "the dry run splits the same way"
assert len(chunks) > 2, chunks
doc = open(sys.argv[4], encoding="utf-8").read()
assert chunks[0] == doc[:len(chunks[0])] and doc.endswith(chunks[-1])
for i, c in enumerate(chunks):
    assert c in doc, i
    open(f"{sys.argv[3]}/chunk{i}.txt", "w", encoding="utf-8").write(c)
partial = run["outputs"]["partial"]
assert isinstance(partial, list) and len(partial) == len(chunks), partial
steps = {s["id"]: s for s in run["steps"]}
assert steps["partial"]["kind"] == "map" and steps["partial"]["items"] == len(chunks)
assert steps["chunks"]["kind"] == "split" and steps["chunks"]["items"] == len(chunks)
assert {s["id"]: s for s in dry["steps"]}["partial"]["prompt_tokens"] == steps["partial"]["prompt_tokens"]
print(len(chunks), file=open(f"{sys.argv[3]}/n", "w"))
PY
n=$(cat "$tmp/n")
for ((i = 0; i < n; i++)); do
    t=$("$TOK" count -t "$model" --no-add-special --special none --json "$tmp/chunk$i.txt" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["total"]["tokens"])')
    [ "$t" -le 96 ] || fail "chunk $i has $t tokens, over max_tokens 96"
done
# over a single value: a clear error
printf 'inputs: {x: {type: string, default: abc}}\nsteps:\n  - {id: m, over: "{{ inputs.x }}", template: y}\n' > "$tmp/over.yaml"
set +e
"$TOK" run "$tmp/over.yaml" > /dev/null 2> "$tmp/over.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'step "m": over: "{{ inputs.x }}" is a single value, not a list' "$tmp/over.err" ||
    fail "over a string: exit $rc: $(cat "$tmp/over.err")"
# --budget: the bound comes from a dry run (9 calls x 16 + 24 tokens out);
# the bundled model is local, so $0 fits any budget; a bad amount is a usage error
"$TOK" run "$r" --budget 0 > /dev/null 2> "$tmp/budget.err" || fail "--budget 0: $(cat "$tmp/budget.err")"
grep -Eq "^budget: up to [0-9]+ tokens in( \(estimated\))? and $((16 * n + 24)) out: at most \\\$0.000000 of \\\$0$" "$tmp/budget.err" ||
    fail "budget line: $(cat "$tmp/budget.err")"
set +e
"$TOK" run "$r" --budget -1 > /dev/null 2> "$tmp/budget2.err"
rc=$?
set -e
[ $rc = 2 ] || fail "--budget -1: exit $rc"
# on_overflow: chunk: a document over the context is split so that every
# call fits, the prompt runs per chunk, the outputs are joined by newlines
printf 'defaults: {temperature: 0, max_tokens: 8, stop: ["\\n"]}\ninputs:\n  document: {type: file}\nsteps:\n  - id: s\n    prompt: "Summarize: {{ inputs.document }}"\n    on_overflow: chunk\n' > "$tmp/chunk.yaml"
sed 's/on_overflow: chunk/on_overflow: error/' "$tmp/chunk.yaml" > "$tmp/nochunk.yaml"
if "$TOK" run "$tmp/nochunk.yaml" --var document=recipes/samples/psalms.txt --ctx 128 > /dev/null 2>&1; then
    fail "the whole document should not fit a context of 128"
fi
"$TOK" run "$tmp/chunk.yaml" --var document=recipes/samples/psalms.txt --ctx 128 --json > "$tmp/chunk.json" 2> "$tmp/chunk.err" ||
    fail "on_overflow chunk: $(cat "$tmp/chunk.err")"
$PY - "$tmp/chunk.json" <<'PY' || fail "on_overflow chunk output"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["steps"][0]
assert s["calls"] >= 5 and s["completion_tokens"] <= 8 * s["calls"], s
assert s["prompt_tokens"] > 128, s
assert len(d["outputs"]["s"].split("\n")) == s["calls"], d
PY
echo "run_split: $n chunks each <= 96 tokens, map of $n items, dry run equal: ok"
