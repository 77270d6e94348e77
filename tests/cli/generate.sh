#!/usr/bin/env bash
# tok generate: greedy ids equal llama.cpp's on the bundled model (and, with
# ../shared, on every tiny-kjv quantization and the random llama fixtures),
# EOS handling, logprobs, seeds, JSON shape, exit codes and --help.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# greedy MODEL REFERENCE.json: every prompt of the reference at --temp 0.
# From the prompt text with --ignore-eos: llama.cpp's prompt_ids, all
# n_predict greedy ids, its text (--json) and the same text streamed. From
# --prompt-ids: ids up to the first EOS then stop_reason "eos", and top-1 of
# --logprobs with llama.cpp's logprob. The comparison rule of the fixtures'
# README: a continuation may leave llama.cpp's only where the reference's
# top-2 margin is below the tolerance (TOL: the README's 1e-4 for F32, 1e-2
# for F16, 0.15 for quantized files; also the bound on logprobs), and is
# compared up to there; such near-ties are counted and printed.
greedy() {
    local model=$1 ref=$2 tol=${3:-0.15} eos d=$tmp/greedy
    eos=$("$TOK" inspect "$model" | awk '/tokenizer.ggml.eos_token_id/ {print $NF}')
    [ -n "$eos" ] || fail "$model: no eos_token_id"
    rm -rf "$d" && mkdir "$d"
    $PY - "$ref" "$d" > "$d/cases" <<'PY'
import json, sys
for i, p in enumerate(json.load(open(sys.argv[1]))["prompts"]):
    open(f"{sys.argv[2]}/{i}.prompt", "w", encoding="utf-8").write(p["prompt"])
    print(i, p["n_predict"], " ".join(map(str, p["prompt_ids"])))
PY
    while read -r i n ids; do
        "$TOK" generate -m "$model" -f "$d/$i.prompt" -n "$n" --temp 0 --threads 1 --json \
            --ignore-eos > "$d/$i.text.json" || fail "$model prompt $i -f: exit $?"
        "$TOK" generate -m "$model" -f "$d/$i.prompt" -n "$n" --temp 0 --threads 1 \
            --ignore-eos > "$d/$i.stream" || fail "$model prompt $i streamed: exit $?"
        "$TOK" generate -m "$model" --prompt-ids "$ids" -n "$n" --temp 0 --threads 1 --json \
            --logprobs 3 > "$d/$i.eos.json" || fail "$model prompt $i: exit $?"
    done < "$d/cases"
    $PY - "$ref" "$d" "$eos" "$tol" <<'PY' || fail "$model: greedy generation differs from llama.cpp"
import json, sys
ref, d, eos = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
TOL = float(sys.argv[4])
bad = ties = 0
def agreed(got, want, top, what):
    """Length of the common prefix; a difference must be at a near-tie."""
    k = 0
    while k < min(len(got), len(want)) and got[k] == want[k]:
        k += 1
    if k < len(want) and k < len(got):
        margin = top[k][0][2] - top[k][1][2]
        assert margin < TOL, f"{what} differ at step {k} where the reference margin is {margin:.3g}: {got} != {want}"
    else:
        assert len(got) == len(want), f"{what} {got} != {want}"
    return k
for i, p in enumerate(ref["prompts"]):
    try:
        t = json.load(open(f"{d}/{i}.text.json"))
        stream = open(f"{d}/{i}.stream", "rb").read().decode("utf-8", errors="replace")
        want = p["greedy_ids"]
        assert t["prompt_ids"] == p["prompt_ids"], f"prompt_ids {t['prompt_ids']} != {p['prompt_ids']}"
        k = agreed(t["ids"], want, p["top_logprobs"], "--ignore-eos ids")
        assert len(t["ids"]) == len(want), (len(t["ids"]), len(want))
        assert t["stop_reason"] == "length", t["stop_reason"]
        if k == len(want):
            assert t["text"] == p["greedy_text"], f"text {t['text']!r} != {p['greedy_text']!r}"
        else:
            ties += 1
            print(f"prompt {i} ({p['name']}): near-tie at step {k} (reference margin "
                  f"{p['top_logprobs'][k][0][2] - p['top_logprobs'][k][1][2]:.3g}); compared up to there", file=sys.stderr)
        assert stream == t["text"], f"streamed {stream!r} != {t['text']!r}"
        e = json.load(open(f"{d}/{i}.eos.json"))
        cut = want.index(eos) if eos in want else len(want)
        if cut <= k:  # the reference stops at EOS before any near-tie
            assert e["ids"] == want[:cut], f"ids {e['ids']} != {want[:cut]}"
            assert e["stop_reason"] == ("eos" if cut < len(want) else "length"), e["stop_reason"]
        else:
            assert e["ids"][:k] == want[:k], f"ids {e['ids']} != {want[:cut]}"
        lp = e["logprobs"]
        assert len(lp) == len(e["ids"]), (len(lp), len(e["ids"]))
        for j, step in enumerate(lp):
            top = step["top_logprobs"]
            assert len(top) == 3 and top[0]["id"] == step["id"], (j, step)
            assert top[0]["logprob"] >= top[1]["logprob"] >= top[2]["logprob"], top
            if j < min(k, cut):
                r = p["top_logprobs"][j][0]
                assert step["id"] == want[j] and abs(step["logprob"] - r[2]) < TOL, (j, step["logprob"], r)
        for k2 in ("prompt_tokens_per_s", "gen_tokens_per_s", "prompt_ms", "gen_ms"):
            assert isinstance(e[k2], (int, float)) and e[k2] > 0, (k2, e[k2])
    except AssertionError as ex:
        bad += 1
        print(f"prompt {i} ({p['name']}): {ex}"[:400], file=sys.stderr)
print(f"{sys.argv[1].split('/')[-1]}: {len(ref['prompts']) - bad}/{len(ref['prompts'])} prompts agree "
      f"({ties} up to a near-tie)")
sys.exit(1 if bad else 0)
PY
}

greedy data/models/tiny-kjv-Q8_0.gguf tests/data/models/tiny-kjv-reference-Q8_0.json
greedy tests/data/models/llama-rand-tiny-Q4_0.gguf tests/data/models/llama-rand-tiny-Q4_0.json

# --kv-type f16: llama.cpp's default F16 KV cache, whose continuations the
# references also hold (greedy_ids_kv_f16): equal on every bundled prompt
# (tests/unit/test_engine.c applies the near-tie rule to the full suites).
kvf16() {
    local model=$1 ref=$2 d=$tmp/kvf16
    rm -rf "$d" && mkdir "$d"
    $PY - "$ref" > "$d/cases" <<'PY'
import json, sys
for i, p in enumerate(json.load(open(sys.argv[1]))["prompts"]):
    if p.get("greedy_ids_kv_f16"):
        print(i, len(p["greedy_ids_kv_f16"]), " ".join(map(str, p["prompt_ids"])))
PY
    [ -s "$d/cases" ] || fail "$ref: no greedy_ids_kv_f16"
    while read -r i n ids; do
        "$TOK" generate -m "$model" --prompt-ids "$ids" -n "$n" --temp 0 --threads 1 --ignore-eos --json \
            --kv-type f16 > "$d/$i.json" || fail "$model prompt $i --kv-type f16: exit $?"
    done < "$d/cases"
    $PY - "$ref" "$d" <<'PY' || fail "$model: F16-KV greedy generation differs from llama.cpp's"
import json, sys
ref, d = json.load(open(sys.argv[1])), sys.argv[2]
for i, p in enumerate(ref["prompts"]):
    if not p.get("greedy_ids_kv_f16"):
        continue
    got = json.load(open(f"{d}/{i}.json"))
    assert got["kv_type"] == "f16", got["kv_type"]
    assert got["ids"] == p["greedy_ids_kv_f16"], (i, got["ids"], p["greedy_ids_kv_f16"])
PY
}
kvf16 data/models/tiny-kjv-Q8_0.gguf tests/data/models/tiny-kjv-reference-Q8_0.json
kvf16 tests/data/models/llama-rand-tiny-Q4_0.gguf tests/data/models/llama-rand-tiny-Q4_0.json

# The default model is found without -m.
ids="1 1046 261 2048"
"$TOK" generate --prompt-ids "$ids" -n 8 --temp 0 --json > "$tmp/d.json" || fail "default model: exit $?"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ids"] == [271, 261, 345, 4049, 270, 261, 345, 461], d["ids"]' \
    "$tmp/d.json" || fail "default model ids"

# Seeds: the same seed twice gives the same ids, another seed other ids;
# temp 0 ignores the seed.
run_seed() { "$TOK" generate --prompt-ids "$ids" -n 40 --temp 1.2 --top-k 0 --top-p 1 --min-p 0 \
    --ignore-eos --seed "$1" --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["seed"], d["ids"])'; }
a=$(run_seed 1234); b=$(run_seed 1234); c=$(run_seed 4321)
[ "$a" = "$b" ] || fail "same seed differs: $a / $b"
[ "${a#* }" != "${c#* }" ] || fail "different seeds give the same ids: $a"
case "$a" in "1234 "*) ;; *) fail "seed not reported: $a" ;; esac
# top-k 1 is greedy whatever the seed and temperature
"$TOK" generate --prompt-ids "$ids" -n 8 --temp 5 --top-k 1 --seed 9 --json > "$tmp/k1.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ids"] == [271, 261, 345, 4049, 270, 261, 345, 461], d["ids"]' \
    "$tmp/k1.json" || fail "top-k 1 is not greedy"
# a repeat penalty changes the greedy loop of the shepherd prompt
"$TOK" generate --prompt-ids "1 456 345 339 384 2365" -n 16 --temp 0 --repeat-penalty 1.5 --json > "$tmp/rp.json"
$PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["ids"][:16] != [4049, 270, 384, 391, 339, 384, 391, 4049, 270, 384, 391, 461, 885, 372, 292, 384], d["ids"]' \
    "$tmp/rp.json" || fail "--repeat-penalty had no effect"
# logit bias -inf on the greedy first token moves the choice
"$TOK" generate --prompt-ids "$ids" -n 1 --temp 0 --logit-bias 271=-inf --json > "$tmp/lb.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ids"] and d["ids"][0] != 271, d["ids"]' \
    "$tmp/lb.json" || fail "--logit-bias"
# -n 0 generates nothing; the context limit stops generation
"$TOK" generate --prompt-ids "$ids" -n 0 --json > "$tmp/n0.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ids"] == [] and d["stop_reason"] == "length", d' \
    "$tmp/n0.json" || fail "-n 0"
"$TOK" generate --prompt-ids "$ids" -n 50 --ctx 10 --temp 0 --ignore-eos --json > "$tmp/ctx.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["ids"]) == 7 and d["stop_reason"] == "context", d' \
    "$tmp/ctx.json" || fail "--ctx limit"

# Stop strings: the text ends before the first one (also across tokens), it
# is never printed, and streaming prints the same bytes as --json.
p="In the beginning"
for stop in "LORD" "the LO" "hath spoken" ", and I"; do
    "$TOK" generate -p "$p" -n 48 --temp 0 --stop "$stop" --stop "never seen" --json > "$tmp/s.json"
    "$TOK" generate -p "$p" -n 48 --temp 0 --stop "$stop" --stop "never seen" > "$tmp/s.txt"
    $PY - "$stop" "$tmp/s.json" "$tmp/s.txt" tests/data/models/tiny-kjv-reference-Q8_0.json <<'PY' || fail "--stop '$stop'"
import json, sys
stop, d, streamed = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3], encoding="utf-8").read()
full = json.load(open(sys.argv[4]))["prompts"][0]["greedy_text"]
want = full[:full.index(stop)]
assert d["text"] == want and d["stop_reason"] == "stop", (d["text"], d["stop_reason"], want)
assert streamed == want, (streamed, want)
assert d["ids"] == json.load(open(sys.argv[4]))["prompts"][0]["greedy_ids"][:len(d["ids"])]
PY
done
"$TOK" generate -p "$p" -n 5 --temp 0 --stop "zzz" --json > "$tmp/s.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["stop_reason"] == "length" and d["text"] == " of the LORD, and", d' \
    "$tmp/s.json" || fail "--stop that never matches"
printf 'In the beginning' | "$TOK" generate -f - -n 3 --temp 0 > "$tmp/stdin.txt"
[ "$(cat "$tmp/stdin.txt")" = " of the LORD" ] || fail "-f -: $(cat "$tmp/stdin.txt")"

# Usage errors exit 2 with a message; runtime failures exit 1.
expect() { # status, args...
    local want=$1; shift
    set +e; "$TOK" generate "$@" > "$tmp/out" 2> "$tmp/err"; local got=$?; set -e
    [ "$got" = "$want" ] || fail "generate $* exited $got, want $want: $(cat "$tmp/err")"
    [ "$want" = 0 ] || [ -s "$tmp/err" ] || fail "generate $*: no message"
}
expect 2 --prompt-ids "$ids" --temp abc
expect 2 --prompt-ids "$ids" --top-p 1.5
expect 2 --prompt-ids "$ids" -n
expect 2 --prompt-ids "$ids" --frobnicate 3
expect 2 --prompt-ids "1 x 3"
expect 2 --prompt-ids "$ids" --logprobs 3
expect 2 --prompt-ids "$ids" -p "both"
expect 2 --prompt-ids "$ids" --kv-type f8
expect 2 --prompt-ids "1 99999"
expect 2 -n 3
expect 1 -m "$tmp/missing.gguf" --prompt-ids "$ids"
grep -q "missing.gguf" "$tmp/err" || fail "missing model not named: $(cat "$tmp/err")"
printf 'GGUF\3\0\0\0garbage' > "$tmp/bad.gguf"
expect 1 -m "$tmp/bad.gguf" --prompt-ids "$ids"
grep -q "bad.gguf" "$tmp/err" || fail "bad model not named: $(cat "$tmp/err")"
expect 1 --prompt-ids "$ids $ids $ids" --ctx 5
# an unsupported architecture or tensor type names itself (patched copies of the model)
$PY - data/models/tiny-kjv-Q8_0.gguf "$tmp" <<'PY'
import struct, sys
buf = open(sys.argv[1], "rb").read()
key = b"general.architecture"
i = buf.index(key) + len(key)
assert struct.unpack_from("<IQ", buf, i) == (8, 5) and buf[i + 12:i + 17] == b"llama"
open(sys.argv[2] + "/arch.gguf", "wb").write(buf[:i + 12] + b"mamba" + buf[i + 17:])
name = b"blk.0.attn_q.weight"
j = buf.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
(nd,) = struct.unpack_from("<I", buf, j)
t = bytearray(buf)
struct.pack_into("<I", t, j + 4 + 8 * nd, 20)  # ggml type 20 = IQ4_NL
open(sys.argv[2] + "/type.gguf", "wb").write(t)
PY
expect 1 -m "$tmp/arch.gguf" --prompt-ids "$ids"
grep -q "mamba" "$tmp/err" || fail "architecture not named: $(cat "$tmp/err")"
expect 1 -m "$tmp/type.gguf" --prompt-ids "$ids"
grep -q "IQ4_NL" "$tmp/err" || fail "tensor type not named: $(cat "$tmp/err")"
expect 0 --help
grep -q "usage: tok generate" "$tmp/out" || fail "--help text"

# The full suites: every tiny-kjv quantization and the random llama fixtures.
if [ -d "${SHARED:-}/models/tiny-kjv" ]; then
    for q in Q4_0 Q4_K_M Q5_K_M Q6_K; do
        greedy "$SHARED/models/tiny-kjv/tiny-kjv-$q.gguf" "$SHARED/models/tiny-kjv/reference-$q.json"
    done
    for f in llama-rand-tiny-F32:1e-4 llama-rand-tiny-F16:1e-2 llama-rand-tiny-Q8_0:0.15 qwen2-rand-tiny-F32:1e-4 \
             qwen2-rand-tiny-Q8_0:0.15; do
        greedy "$SHARED/models/${f%%:*}.gguf" "$SHARED/models/reference/${f%%:*}.json" "${f#*:}"
    done
else
    echo "skip: ../shared absent, full model suite not run"
fi
echo "generate: ok"
