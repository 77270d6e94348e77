#!/usr/bin/env bash
# tok cost / tok models / tok count -m against the shipped registry
# (data/registry/models.json): costs worked out by hand from the file's
# prices, the --json contract, unknown prices as null/"unknown" (never 0),
# the context-window boundary (a text of exactly N tokens, built with
# tok decode, fits; N+1 does not), approximate counts for models without a
# public tokenizer, local GGUF models, overrides and error messages.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
REG=data/registry/models.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset TOK_CONFIG # HOME below has no ~/.config/tok: no user overrides are read
unset XDG_CONFIG_HOME
export HOME=$tmp

# The prices this test relies on, checked against the file so a data update
# that changes them shows up here rather than as a wrong sum below.
python3 - "$REG" <<'PY' || fail "registry prices differ from the ones the arithmetic below uses"
import json, sys
rows = {(m["provider"], m["id"]): m for m in json.load(open(sys.argv[1]))["models"]}
want = {("openai", "gpt-4o"): (2.5, 10, 128000, 16384),
        ("openai", "gpt-3.5-turbo"): (0.5, 1.5, 16385, 4096),
        ("anthropic", "claude-sonnet-4-5"): (3, 15, 200000, 64000),
        ("openai", "text-embedding-3-small"): (0.02, None, 8192, None)}
for k, (i, o, cw, mo) in want.items():
    m = rows[k]
    got = (m["input_per_mtok"], m["output_per_mtok"], m["context_window"], m["max_output_tokens"])
    assert got == (i, o, cw, mo), (k, got)
PY

# A text of exactly N tokens for cl100k_base: N copies of " hello" (id 24748).
make_text() { # n file
    python3 -c "import json,sys; print(json.dumps({'ids': [24748] * int(sys.argv[1])}))" "$1" |
        "$TOK" decode -t cl100k_base --jsonl | python3 -c "import json,sys; sys.stdout.write(json.loads(sys.stdin.read())['text'])" > "$2"
    got=$("$TOK" count -t cl100k_base --json "$2" | python3 -c "import json,sys; print(json.load(sys.stdin)['total']['tokens'])")
    [ "$got" = "$1" ] || fail "built a text of $got tokens, wanted $1"
}
make_text 16385 "$tmp/eq.txt"   # gpt-3.5-turbo's context window exactly
make_text 16386 "$tmp/over.txt" # one token more
make_text 1000 "$tmp/k.txt"

# ---- the JSON contract and the arithmetic --------------------------------------
"$TOK" cost -m gpt-4o,gpt-3.5-turbo,claude-sonnet-4-5,text-embedding-3-small --output-tokens 500 --json \
    --date 2026-10-01 "$tmp/k.txt" > "$tmp/cost.json" || fail "tok cost --json exited $?"
o200k=$("$TOK" count -t o200k_base --json "$tmp/k.txt" | python3 -c "import json,sys; print(json.load(sys.stdin)['total']['tokens'])")
legacy=$("$TOK" count -t claude_legacy --json "$tmp/k.txt" | python3 -c "import json,sys; print(json.load(sys.stdin)['total']['tokens'])")
python3 - "$tmp/cost.json" "$o200k" "$legacy" <<'PY' || fail "tok cost --json"
import json, sys
rows = json.load(open(sys.argv[1]))
o200k, legacy = int(sys.argv[2]), int(sys.argv[3])
keys = ["model", "provider", "tokenizer", "approximate", "input_tokens", "context_window", "fits",
        "input_cost_usd", "output_tokens", "output_cost_usd", "total_cost_usd"]
assert isinstance(rows, list) and len(rows) == 4, rows
for r in rows:
    assert sorted(r) == sorted(keys), sorted(r)
    assert isinstance(r["approximate"], bool) and isinstance(r["fits"], bool)
    assert isinstance(r["input_tokens"], int) and r["output_tokens"] == 500
by = {r["model"]: r for r in rows}
assert [r["model"] for r in rows] == ["gpt-4o", "gpt-3.5-turbo", "claude-sonnet-4-5", "text-embedding-3-small"]
def close(a, b): return abs(a - b) <= 1e-9 * max(1.0, abs(b))
# gpt-4o: o200k_base, exact; 2.50 $/M in, 10 $/M out
g = by["gpt-4o"]
assert (g["provider"], g["tokenizer"], g["approximate"]) == ("openai", "o200k_base", False), g
assert g["input_tokens"] == o200k and g["context_window"] == 128000 and g["fits"] is True
assert close(g["input_cost_usd"], o200k * 2.5 / 1e6), g
assert close(g["output_cost_usd"], 500 * 10 / 1e6), g
assert close(g["total_cost_usd"], o200k * 2.5 / 1e6 + 500 * 10 / 1e6), g
# gpt-3.5-turbo: cl100k_base, the text is 1000 tokens; 0.50 in, 1.50 out
t = by["gpt-3.5-turbo"]
assert (t["tokenizer"], t["approximate"], t["input_tokens"]) == ("cl100k_base", False, 1000), t
assert close(t["input_cost_usd"], 1000 * 0.5 / 1e6) and close(t["output_cost_usd"], 500 * 1.5 / 1e6), t
assert close(t["total_cost_usd"], 0.0005 + 0.00075), t
# claude-sonnet-4-5: no public tokenizer -> approximate, counted with claude_legacy; 3 in, 15 out
c = by["claude-sonnet-4-5"]
assert (c["provider"], c["tokenizer"], c["approximate"]) == ("anthropic", "claude_legacy", True), c
assert c["input_tokens"] == legacy
assert close(c["total_cost_usd"], legacy * 3 / 1e6 + 500 * 15 / 1e6), c
# text-embedding-3-small: no output price -> null output and total, never 0
e = by["text-embedding-3-small"]
assert close(e["input_cost_usd"], 1000 * 0.02 / 1e6), e
assert e["output_cost_usd"] is None and e["total_cost_usd"] is None, e
PY

# ---- context window boundary (gpt-3.5-turbo: 16385 tokens) ------------------------
fits() { # file extra-args...
    local f=$1; shift
    "$TOK" cost -m gpt-3.5-turbo --json "$@" "$f" | python3 -c "import json,sys; r=json.load(sys.stdin)[0]; print(r['input_tokens'], str(r['fits']).lower())"
}
[ "$(fits "$tmp/eq.txt")" = "16385 true" ] || fail "16385 tokens should fit 16385: $(fits "$tmp/eq.txt")"
[ "$(fits "$tmp/over.txt")" = "16386 false" ] || fail "16386 tokens should not fit: $(fits "$tmp/over.txt")"
# the output counts against the window too
[ "$(fits "$tmp/eq.txt" --output-tokens 1)" = "16385 false" ] || fail "16385 + 1 output should not fit"
# standard input and several files add up
n=$("$TOK" cost -m gpt-3.5-turbo --json - "$tmp/k.txt" < "$tmp/k.txt" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['input_tokens'])")
[ "$n" = 2000 ] || fail "stdin + file: $n tokens, want 2000"

# ---- --max-output ---------------------------------------------------------------------
"$TOK" cost -m gpt-4o,text-embedding-3-small,google:gemini-2.5-flash-lite --max-output --json --date 2026-10-01 "$tmp/k.txt" > "$tmp/max.json"
python3 - "$tmp/max.json" "$REG" <<'PY' || fail "--max-output"
import json, sys
rows = json.load(open(sys.argv[1]))
reg = {(m["provider"], m["id"]): m for m in json.load(open(sys.argv[2]))["models"]}
g = rows[0]
assert g["output_tokens"] == 16384 and abs(g["output_cost_usd"] - 16384 * 10 / 1e6) < 1e-12, g
# max_output_tokens unknown in the registry -> output tokens and costs null
e = rows[1]
assert e["output_tokens"] is None and e["output_cost_usd"] is None and e["total_cost_usd"] is None, e
f = rows[2]
m = reg[("google", "gemini-2.5-flash-lite")]
want = None if m["max_output_tokens"] is None else m["max_output_tokens"]
assert f["output_tokens"] == want and f["approximate"] is True, f
PY

# ---- the table: sorted by total cost, unknown last, labelled -------------------------
"$TOK" cost -m gpt-4o,text-embedding-3-small,gpt-3.5-turbo,claude-sonnet-4-5 --output-tokens 100 "$tmp/k.txt" > "$tmp/table.txt"
order=$(awk 'NR>1 && NF>=9 {print $1}' "$tmp/table.txt" | head -4 | tr '\n' ' ')
[ "$order" = "gpt-3.5-turbo gpt-4o claude-sonnet-4-5 text-embedding-3-small " ] || fail "table order: $order"
grep -q '^text-embedding-3-small .* unknown *unknown$' "$tmp/table.txt" || fail "unknown price not shown as unknown"
grep -q '~' "$tmp/table.txt" && grep -q 'claude-sonnet-4-5: approximate' "$tmp/table.txt" || fail "approximate not labelled"
! grep -q '^text-embedding-3-small .*\$0\.000000 *$' "$tmp/table.txt" || fail "unknown total printed as \$0"

# an output longer than the model's limit (gpt-3.5-turbo: 4096) is flagged
"$TOK" cost -m gpt-3.5-turbo,gpt-4o --output-tokens 4097 "$tmp/k.txt" > "$tmp/lim.txt"
grep -q '^! gpt-3.5-turbo: 4097 output tokens exceed its output limit of 4096$' "$tmp/lim.txt" || fail "output limit note"
! grep -q '^! gpt-4o' "$tmp/lim.txt" || fail "gpt-4o allows 16384 output tokens"

# ---- local GGUF models: their own vocabulary, cost 0, "local" -------------------------
GGUF=tests/data/models/llama-rand-tiny-Q4_0.gguf
if [ -f "$GGUF" ]; then
    "$TOK" cost -m "local:$GGUF" --json "$tmp/k.txt" > "$tmp/local.json"
    want=$("$TOK" count -t "$GGUF" --json "$tmp/k.txt" | python3 -c "import json,sys; print(json.load(sys.stdin)['total']['tokens'])")
    python3 - "$tmp/local.json" "$want" <<'PY' || fail "local model"
import json, sys
r = json.load(open(sys.argv[1]))[0]
assert r["provider"] == "local" and r["approximate"] is False, r
assert r["input_tokens"] == int(sys.argv[2]), r
assert r["input_cost_usd"] == 0 and r["total_cost_usd"] == 0, r
PY
    "$TOK" cost -m "$GGUF" "$tmp/k.txt" | awk -v m="$GGUF" '$1 == m && $2 == "local" && $6 == "local" && $8 == "local" && $9 == "local" {ok=1} END {exit !ok}' ||
        fail "local model table"
fi

# ---- tok count -m ---------------------------------------------------------------------------
a=$("$TOK" count -m gpt-4o-2024-08-06 --json "$tmp/k.txt")
echo "$a" | python3 -c "
import json,sys; d=json.load(sys.stdin)
assert d['total']['tokens'] == $o200k and d['tokenizer'] == 'o200k_base' and d['approximate'] is False, d" || fail "count -m gpt-4o"
"$TOK" count -m claude-sonnet-4-5 --json "$tmp/k.txt" 2> "$tmp/err" | python3 -c "
import json,sys; d=json.load(sys.stdin)
assert d['total']['tokens'] == $legacy and d['approximate'] is True, d" || fail "count -m claude"
grep -q approximate "$tmp/err" || fail "count -m: no approximate note on stderr"
set +e
"$TOK" count -m gpt-4o -t cl100k_base "$tmp/k.txt" 2>/dev/null; [ $? = 2 ] || fail "-m with -t should be a usage error"
"$TOK" count -m no-such-model "$tmp/k.txt" 2> "$tmp/err"; [ $? = 1 ] || fail "unknown model should exit 1"
set -e
grep -q "unknown model 'no-such-model'" "$tmp/err" || fail "unknown model message: $(cat "$tmp/err")"

# ---- tok models -------------------------------------------------------------------------------
"$TOK" models list --provider openai --min-context 1000000 --max-input-price 2 --json > "$tmp/list.json"
python3 - "$tmp/list.json" <<'PY' || fail "models list filters"
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows and all(r["provider"] == "openai" and r["context_window"] >= 1000000 and r["input_per_mtok"] <= 2 for r in rows), rows
assert "gpt-4.1" in [r["id"] for r in rows]
PY
# every row of the file comes through the loader with its facts intact
"$TOK" models list --all --json > "$tmp/all.json"
python3 - "$tmp/all.json" "$REG" <<'PY' || fail "models list --all --json differs from the registry file"
import json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))["models"]
assert len(got) == len(want), (len(got), len(want))
keys = ["id", "provider", "creator", "name", "context_window", "max_output_tokens", "input_per_mtok",
        "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "first_party", "deprecated"]
for g, w in zip(got, want):
    for k in keys:  # prices to 1e-12 (the JSON printer may shorten 0.18000000000000002)
        same = g[k] == w[k] or (isinstance(w[k], float) and abs(g[k] - w[k]) <= 1e-12 * abs(w[k]))
        assert same, (w["provider"], w["id"], k, g[k], w[k])
    assert g["tokenizer_family"] == w["tokenizer"]
    # exact only for the encodings tok ships; the registry's own "approximate" rows never exact
    if w["tokenizer_basis"] == "approximate":
        assert g["approximate"] is True, w["id"]
    if w["tokenizer"] in ("o200k_base", "o200k_harmony", "cl100k_base", "p50k_base", "r50k_base"):
        assert g["approximate"] is False and g["tokenizer"] == w["tokenizer"].replace("o200k_harmony", "o200k_base"), w["id"]
PY
"$TOK" models search sonnet --provider anthropic | grep -q '^claude-sonnet-4-5 ' || fail "models search"
"$TOK" models show gpt-4o-2024-08-06 | grep -q '^id  *gpt-4o$' || fail "models show by a dated id"
"$TOK" models show claude-sonnet-4-5 | grep -q 'approximate' || fail "models show: approximate"
"$TOK" models show openai:text-embedding-3-small | grep -q '^output  *unknown$' || fail "models show: unknown price"
"$TOK" models show --json gpt-4o | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['id']=='gpt-4o' and d['tokenizer']=='o200k_base'" || fail "models show --json"
for c in "models --help" "cost --help" "count --help"; do $TOK $c > /dev/null || fail "$c"; done

# ---- overrides -----------------------------------------------------------------------------------
cat > "$tmp/over.json" <<'EOF'
{"models": [{"id": "gpt-4o", "provider": "openai", "input_per_mtok": 1},
            {"id": "house-model", "provider": "lab", "context_window": 2000, "input_per_mtok": 4,
             "output_per_mtok": 8, "tokenizer": "cl100k_base", "match": {"starts_with": "house-"}}]}
EOF
TOK_CONFIG=$tmp/over.json "$TOK" cost -m gpt-4o,house-model-v2 --output-tokens 10 --json "$tmp/k.txt" > "$tmp/over.out"
python3 - "$tmp/over.out" "$o200k" <<'PY' || fail "overrides"
import json, sys
g, h = json.load(open(sys.argv[1]))
assert abs(g["input_cost_usd"] - int(sys.argv[2]) * 1 / 1e6) < 1e-12, g
assert h["model"] == "house-model" and h["provider"] == "lab" and h["input_tokens"] == 1000, h
assert abs(h["total_cost_usd"] - (1000 * 4 + 10 * 8) / 1e6) < 1e-12 and h["fits"] is True, h
PY
# a family's tokenizer file makes its models exact: in the config (relative to
# it) or as tokenizers/FAMILY/tokenizer.json in the data directory
LLAMA3=tests/data/tokenizers/hf_llama3/tokenizer.json
if [ -f "$LLAMA3" ]; then
    want=$("$TOK" count -t "$LLAMA3" --json "$tmp/k.txt" docs/registry.md | python3 -c "import json,sys; print(json.load(sys.stdin)['total']['tokens'])")
    mkdir -p "$tmp/cfg/tk"
    cp "$LLAMA3" "$tmp/cfg/tk/llama3.json"
    echo '{"tokenizer_files": {"llama3": "tk/llama3.json"}}' > "$tmp/cfg/models.json"
    approx() { python3 -c "import json,sys; r=json.load(sys.stdin)[0]; print(r['input_tokens'], str(r['approximate']).lower())"; }
    got=$("$TOK" cost -m groq:llama-3.3-70b-versatile --json "$tmp/k.txt" docs/registry.md | approx)
    [ "${got#* }" = true ] || fail "llama3 without its tokenizer should be approximate: $got"
    got=$("$TOK" cost -m groq:llama-3.3-70b-versatile --config "$tmp/cfg/models.json" --json "$tmp/k.txt" docs/registry.md | approx)
    [ "$got" = "$want false" ] || fail "llama3 with tokenizer_files: $got, want $want false"
    mkdir -p "$tmp/data/tokenizers/llama3"
    cp -r data/. "$tmp/data/"
    cp "$LLAMA3" "$tmp/data/tokenizers/llama3/tokenizer.json"
    got=$(TOK_DATA_DIR=$tmp/data "$TOK" cost -m groq:llama-3.3-70b-versatile --json "$tmp/k.txt" docs/registry.md | approx)
    [ "$got" = "$want false" ] || fail "llama3 from the data directory: $got, want $want false"
fi

echo '{"models": [{"id": "x", "context_window": "big"}]}' > "$tmp/bad.json"
set +e
"$TOK" cost -m gpt-4o --config "$tmp/bad.json" "$tmp/k.txt" 2> "$tmp/err" > /dev/null; rc=$?
"$TOK" cost "$tmp/k.txt" 2>/dev/null; rc2=$?
"$TOK" cost -m gpt-4o --output-tokens -3 "$tmp/k.txt" 2>/dev/null; rc3=$?
set -e
[ $rc = 1 ] || fail "malformed config should exit 1, got $rc"
grep -q "bad.json: models\[0\].context_window" "$tmp/err" || fail "malformed config message: $(cat "$tmp/err")"
[ $rc2 = 2 ] && [ $rc3 = 2 ] || fail "usage errors should exit 2 ($rc2, $rc3)"
echo "cost: ok"
