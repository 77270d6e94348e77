#!/usr/bin/env bash
# tok run: every recipe in recipes/ runs end to end on the bundled model with
# no arguments, greedily (the same output twice); --dry-run counts equal the
# real run's; every counted prompt has as many ids as tok generate makes of
# the same text; the context budget fails at exactly one token over; --var
# values, --trace, --json; load errors name file:line:column; exit codes.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
model=data/models/tiny-kjv-Q8_0.gguf

n=0
for recipe in recipes/*.yaml; do
    name=$(basename "$recipe" .yaml)
    "$TOK" run "$recipe" > "$tmp/$name.out" 2> "$tmp/$name.err" || fail "$recipe: exit $?: $(cat "$tmp/$name.err")"
    [ -s "$tmp/$name.out" ] || fail "$recipe: no output"
    grep -q '^total ' "$tmp/$name.err" || fail "$recipe: no usage table on stderr"
    "$TOK" run "$recipe" -q > "$tmp/$name.out2" 2> /dev/null || fail "$recipe: second run failed"
    cmp -s "$tmp/$name.out" "$tmp/$name.out2" || fail "$recipe: temperature 0 but two runs differ"
    rm -f "$tmp/$name.trace"
    : > "$tmp/$name.counts"
    "$TOK" run "$recipe" --json --trace "$tmp/$name.trace" > "$tmp/$name.json" 2> /dev/null || fail "$recipe --json"
    "$TOK" run "$recipe" --json --dry-run > "$tmp/$name.dry" 2> /dev/null || fail "$recipe --dry-run"
    $PY - "$tmp/$name.json" "$tmp/$name.dry" "$tmp/$name.trace" "$tmp/$name.out" "$tmp/$name" <<'PY' || fail "$recipe: JSON, dry run or trace disagree"
import json, sys
run, dry = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
lines = [json.loads(l) for l in open(sys.argv[3])]
# steps that make several calls (map, reduce, chunk) trace each call too
calls = [t for t in lines if t["kind"] == "call"]
trace = [t for t in lines if t["kind"] != "call"]
out = open(sys.argv[4], encoding="utf-8").read()
assert [s["id"] for s in run["steps"]] == [s["id"] for s in dry["steps"]]
assert [t["step"] for t in trace] == [s["id"] for s in run["steps"]], trace
last = [s for s in run["steps"] if not s["skipped"]][-1]["id"]
o = run["outputs"][last]
assert out.rstrip("\n") == (o if isinstance(o, str) else json.dumps(o)).rstrip("\n"), (out, o)
exact = 0
for i, (r, d, t) in enumerate(zip(run["steps"], dry["steps"], trace)):
    mine = [c for c in calls if c["step"] == r["id"]]
    for c in mine:
        assert c["prompt_tokens"] <= c["n_ctx"] - c["max_tokens"] and c["completion_tokens"] <= c["max_tokens"], c
    if r["kind"] == "reduce":
        assert r["calls"] == len(mine) >= 1 and t["calls"] == r["calls"], (r, t)
        assert sum(c["prompt_tokens"] for c in mine) == r["prompt_tokens"], r
        assert mine[-1]["output"] == run["outputs"][r["id"]], mine[-1]
        continue
    if r["kind"] == "map" and not r["skipped"]:
        if r.get("model"):
            assert sorted(c["item"] for c in mine) == list(range(r["items"])), mine
        # one call per item: tokens are sums, and the dry run counts the
        # same items (a split runs for real in a dry run)
        assert r["items"] == d["items"] and r["completion_tokens"] <= r["max_tokens"] * r["items"], r
        assert len(run["outputs"][r["id"]]) == r["items"]
        if not d["estimated"]:
            assert d["prompt_tokens"] == r["prompt_tokens"], (d, r)
            exact += 1
        continue
    if r["kind"] != "prompt" or r["skipped"]:
        continue
    assert r["completion_tokens"] > 0 and r["completion_tokens"] <= r["max_tokens"], r
    o = run["outputs"][r["id"]]  # text, or the lines of a `format: lines` step
    if isinstance(o, list):
        o = "\n".join(o)
        t["output"] = "\n".join(x.strip() for x in t["output"].splitlines() if x.strip())
    assert t["prompt_tokens"] == r["prompt_tokens"] and t["output"] == o, (t, r)
    # one prompt file per step, for the cross-check with tok generate
    open(f"{sys.argv[5]}.p{i}", "w", encoding="utf-8").write(t["prompt"])
    print(i, r["prompt_tokens"], file=open(f"{sys.argv[5]}.counts", "a"))
    if not d["estimated"]:
        assert d["prompt_tokens"] == r["prompt_tokens"], (d, r)
        assert d["prompt"] == t["prompt"]
        exact += 1
    else:
        assert "[output of step" in d["prompt"], d
assert exact >= 1
PY
    while read -r i count; do
        got=$("$TOK" generate -m "$model" -f "$tmp/$name.p$i" -n 1 --temp 0 --json 2>/dev/null |
              $PY -c 'import json,sys; print(len(json.load(sys.stdin)["prompt_ids"]))')
        [ "$got" = "$count" ] || fail "$recipe step $i: counted $count tokens, tok generate makes $got"
    done < "$tmp/$name.counts"
    n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "expected at least two recipes in recipes/, found $n"

# the budget: prompt + max_tokens must fit the context, to the token
r=recipes/summarize.yaml
read -r p m < <("$TOK" run "$r" --dry-run --json 2>/dev/null |
    $PY -c 'import json,sys; s=json.load(sys.stdin)["steps"][0]; print(s["prompt_tokens"], s["max_tokens"])')
"$TOK" run "$r" --dry-run -q --ctx $((p + m + 1)) > /dev/null 2>&1 || fail "budget: $p + $m tokens should fit a context of $((p + m + 1))"
"$TOK" run "$r" --dry-run -q --ctx $((p + m)) > /dev/null 2>&1 || fail "budget: $p + $m tokens should fit a context of $((p + m))"
set +e
"$TOK" run "$r" --dry-run -q --ctx $((p + m - 1)) > /dev/null 2> "$tmp/budget.err"
rc=$?
set -e
[ $rc = 1 ] || fail "budget: one token over should exit 1, got $rc"
grep -q "step \"summarize\": the prompt is $p tokens, over the budget of $((p - 1)) (context $((p + m - 1)) - $m reserved for output, max_tokens); input \"document\" is [0-9]* tokens" "$tmp/budget.err" ||
    fail "budget message: $(cat "$tmp/budget.err")"
# the real run refuses before generating too
"$TOK" run "$r" -q --ctx $((p + m - 1)) > /dev/null 2>&1 && fail "budget: the real run should refuse"

# on_overflow: truncate cuts the biggest input at token boundaries until the
# prompt fits: tail keeps the beginning, head the end, middle both ends
cp recipes/samples/genesis.txt "$tmp/genesis.txt"
for side in tail head middle; do
    printf 'defaults: {temperature: 0, max_tokens: 8}\ninputs:\n  doc: {type: file, default: genesis.txt}\nsteps:\n  - id: s\n    on_overflow: truncate\n    truncate: %s\n    prompt: "Summarize: {{ doc }}"\n' "$side" > "$tmp/trunc.yaml"
    "$TOK" run "$tmp/trunc.yaml" --ctx 60 --dry-run --json 2>/dev/null > "$tmp/trunc.json" || fail "truncate $side: exit $?"
    "$TOK" run "$tmp/trunc.yaml" --ctx 60 --json 2>/dev/null > "$tmp/trunc.run" || fail "truncate $side: real run exit $?"
    $PY - "$tmp/trunc.json" "$tmp/trunc.run" "$side" <<'PY' || fail "truncate $side"
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
r = json.load(open(sys.argv[2]))["steps"][0]
side, p = sys.argv[3], s["prompt"]
assert s["prompt_tokens"] <= 60 - 8 and s["truncated_input"] == "doc", s
assert s["truncated_to"] < s["truncated_from"], s
assert r["prompt_tokens"] == s["prompt_tokens"] and r["truncated_to"] == s["truncated_to"], (r, s)
begin, end, mid = "In the beginning", "there was light", "Spirit of God"
want = {"tail": (True, False), "head": (False, True), "middle": (True, True)}[side]
assert (begin in p, end in p) == want, (side, p)
assert side != "middle" or mid not in p, p
PY
done
set +e
"$TOK" run "$tmp/trunc.yaml" --ctx 20 --dry-run -q > /dev/null 2> "$tmp/trunc.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'truncating it did not make the prompt fit' "$tmp/trunc.err" || fail "truncate: no room at all: $(cat "$tmp/trunc.err")"

# truncate and chunk at the exact boundary: a prompt of P tokens with M
# reserved is left whole in a context of P + M and P + M + 1, and cut (or
# chunked) in P + M - 1, to a prompt that fits
for policy in truncate chunk; do
    sed "s/on_overflow: truncate/on_overflow: $policy/; /truncate: /d" "$tmp/trunc.yaml" > "$tmp/edge.yaml"
    read -r p m < <("$TOK" run "$tmp/edge.yaml" --dry-run --json 2>/dev/null |
        $PY -c 'import json,sys; s=json.load(sys.stdin)["steps"][0]; print(s["prompt_tokens"], s["max_tokens"])')
    for c in $((p + m - 1)) $((p + m)) $((p + m + 1)); do
        "$TOK" run "$tmp/edge.yaml" --ctx $c --json 2>/dev/null > "$tmp/edge.json" || fail "$policy at context $c: exit $?"
        $PY - "$tmp/edge.json" "$policy" "$c" "$p" "$m" <<'PY' || fail "$policy at context $c (prompt $p + $m)"
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
policy, c, p, m = sys.argv[2], *map(int, sys.argv[3:])
cut = c < p + m
if policy == "truncate":
    assert ("truncated_input" in s) == cut, s
    assert s["prompt_tokens"] == p if not cut else s["prompt_tokens"] <= c - m, s
else:
    assert ("calls" in s) == cut and (not cut or s["calls"] >= 2), s
    assert cut or s["prompt_tokens"] == p, s
PY
    done
done

# messages: every turn, in order, through the chat template; the dry-run
# count equals the real run's
printf 'defaults: {temperature: 0, max_tokens: 4}\nsteps:\n  - id: a\n    system: Be brief.\n    messages:\n      - {role: user, content: Who made the earth?}\n      - {role: assistant, content: God.}\n      - {role: user, content: "And the sea?"}\n' > "$tmp/msgs.yaml"
"$TOK" run "$tmp/msgs.yaml" --dry-run --json 2>/dev/null > "$tmp/msgs.dry" || fail "messages: dry run"
"$TOK" run "$tmp/msgs.yaml" --json 2>/dev/null > "$tmp/msgs.run" || fail "messages: run"
$PY - "$tmp/msgs.dry" "$tmp/msgs.run" <<'PY' || fail "messages"
import json, sys
d, r = json.load(open(sys.argv[1]))["steps"][0], json.load(open(sys.argv[2]))["steps"][0]
assert d["prompt"] == "Be brief.\n\nUser: Who made the earth?\nAssistant: God.\nUser: And the sea?\nAssistant:", d["prompt"]
assert d["prompt_tokens"] == r["prompt_tokens"] and r["completion_tokens"] > 0, (d, r)
PY

# --var: a value and a file replace the defaults, and reach the prompt
printf 'Blessed are the meek: for they shall inherit the earth.\n' > "$tmp/doc.txt"
"$TOK" run "$r" --dry-run --var document="$tmp/doc.txt" --var words=7 2>/dev/null > "$tmp/var.out"
grep -q "at most 7 words" "$tmp/var.out" && grep -q "Blessed are the meek" "$tmp/var.out" || fail "--var values not in the prompt"
"$TOK" run recipes/draft-critique-revise.yaml --dry-run --var topic=@"$tmp/doc.txt" 2>/dev/null | grep -q "about Blessed are the meek" ||
    fail "--var NAME=@FILE"

# errors: file:line:column and exit codes
expect() { # expect CODE MESSAGE-REGEX ARGS...
    local want=$1 re=$2 rc
    shift 2
    set +e
    "$TOK" run "$@" > /dev/null 2> "$tmp/err"
    rc=$?
    set -e
    [ $rc = "$want" ] || fail "tok run $*: exit $rc, expected $want ($(cat "$tmp/err"))"
    grep -q -- "$re" "$tmp/err" || fail "tok run $*: message $(cat "$tmp/err") does not match $re"
}
printf 'name: x\nsteps:\n  - id: summarize\n    promt: hi\n' > "$tmp/bad.yaml"
expect 1 "bad.yaml:4:5: step \"summarize\": unknown key \"promt\" (did you mean \"prompt\"?)" "$tmp/bad.yaml"
printf 'steps:\n  - id: a\n    prompt: "{{ steps.b.output }}"\n  - id: b\n    prompt: "{{ steps.a.output }}"\n' > "$tmp/cycle.yaml"
expect 1 "cycle.yaml:2:5: step \"a\": cycle in step references: a -> b -> a" "$tmp/cycle.yaml"
printf 'inputs:\n  doc: {type: string}\nsteps:\n  - {id: a, prompt: "{{ doc }}"}\n' > "$tmp/need.yaml"
expect 1 "missing input \"doc\"" "$tmp/need.yaml"
expect 1 "the recipe has no input \"documnt\" (did you mean \"document\"?)" "$r" --var documnt=x
printf 'model: openai:gpt-4o\nsteps:\n  - {id: a, prompt: hi}\n' > "$tmp/http.yaml"
expect 1 "served over HTTP, which this version does not call yet" "$tmp/http.yaml"
expect 1 "no-such.yaml: No such file" "$tmp/no-such.yaml"
expect 2 "no recipe given" --dry-run
expect 2 "expected NAME=VALUE" "$r" --var novalue
expect 2 "expected f16 or f32" "$r" --kv-type f8
# an F16 KV cache for the local model (tok_session_params.kv_f16): the run completes
"$TOK" run "$r" --kv-type f16 --json 2> "$tmp/kv.err" > "$tmp/kv.json" || fail "--kv-type f16: $(cat "$tmp/kv.err")"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(s["completion_tokens"] > 0 for s in d["steps"]), d' \
    "$tmp/kv.json" || fail "--kv-type f16: no completion" 
"$TOK" run --help | grep -q "usage: tok run" || fail "--help"
echo "run: $n recipes end to end, dry-run counts, budget boundary, errors: ok"
