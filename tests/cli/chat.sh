#!/usr/bin/env bash
# tok chat and tok generate --chat on the bundled model with a ChatML template
# (set in a GGUF copy, or given with --chat-template). The expected prompts are
# built independently by `tok template render` + `tok encode --special all`,
# and the expected replies by `tok generate --prompt-ids` on those ids (greedy),
# so the test checks the template, the history, the KV cache reuse between
# turns, /reset, /system, dropping old turns to fit --ctx, and usage lines.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
PY=/usr/bin/python3
MODEL=data/models/tiny-kjv-Q8_0.gguf
CHATML=tests/data/templates/chatml.jinja
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

$PY tests/data/models/gguf_set_template.py "$MODEL" "$tmp/chat.gguf" "$CHATML"
"$TOK" inspect "$tmp/chat.gguf" | grep -q "tokenizer.chat_template" || fail "template not in the GGUF copy"

# expect_ids MESSAGES_JSON -> the prompt ids of the reference path
ref_ids() {
    $PY - "$1" "$CHATML" > "$tmp/ctx.jsonl" <<'PY'
import json, sys
msgs = json.loads(sys.argv[1])
print(json.dumps({"template": open(sys.argv[2]).read(),
                  "context": {"messages": msgs, "add_generation_prompt": True,
                              "bos_token": "<s>", "eos_token": "</s>"}}))
PY
    "$TOK" template render --jsonl "$tmp/ctx.jsonl" |
        $PY -c 'import json,sys; sys.stdout.write(json.loads(sys.stdin.readline())["output"])' > "$tmp/rendered.txt"
    "$TOK" encode -t "$tmp/chat.gguf" --special all "$tmp/rendered.txt"
}
# ref_reply IDS N -> the greedy reply text to those prompt ids
ref_reply() { "$TOK" generate -m "$tmp/chat.gguf" --prompt-ids "$1" -n "$2" --temp 0; }

# ---- tok generate --chat -------------------------------------------------------
m1="Who made the heaven and the earth?"
ids1=$(ref_ids "[{\"role\": \"user\", \"content\": \"$m1\"}]")
"$TOK" generate --chat -m "$tmp/chat.gguf" -p "$m1" -n 12 --temp 0 --json > "$tmp/g.json" ||
    fail "generate --chat: exit $?"
"$TOK" generate -m "$tmp/chat.gguf" --prompt-ids "$ids1" -n 12 --temp 0 --json > "$tmp/r.json"
$PY - "$tmp/g.json" "$tmp/r.json" "$ids1" <<'PY' || fail "generate --chat differs from the reference path"
import json, sys
g, r, ids = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), list(map(int, sys.argv[3].split()))
assert g["prompt_ids"] == ids, (g["prompt_ids"], ids)
assert ids[0] == 1 and ids[1] != 1, ids  # one BOS, added by the vocabulary
assert g["ids"] == r["ids"] and g["text"] == r["text"], (g["ids"], r["ids"])
PY
# --chat-template FILE on the model without a template gives the same prompt
"$TOK" generate --chat -m "$MODEL" --chat-template "$CHATML" -p "$m1" -n 12 --temp 0 --json > "$tmp/f.json"
$PY -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); assert a["prompt_ids"]==b["prompt_ids"] and a["ids"]==b["ids"]' \
    "$tmp/f.json" "$tmp/g.json" || fail "--chat-template differs from the GGUF's template"
# --system adds a system message
sys_text="Thou art a scribe."
ids_s=$(ref_ids "[{\"role\": \"system\", \"content\": \"$sys_text\"}, {\"role\": \"user\", \"content\": \"$m1\"}]")
"$TOK" generate --chat -m "$tmp/chat.gguf" --system "$sys_text" -p "$m1" -n 4 --temp 0 --json > "$tmp/s.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["prompt_ids"]==list(map(int,sys.argv[2].split())), d["prompt_ids"]' \
    "$tmp/s.json" "$ids_s" || fail "--system"
# a template that writes {{ bos_token }} itself gets no second BOS
{ printf '{{ bos_token }}'; cat "$CHATML"; } > "$tmp/bos.jinja"
"$TOK" generate --chat -m "$MODEL" --chat-template "$tmp/bos.jinja" -p "$m1" -n 1 --temp 0 --json > "$tmp/b.json"
$PY -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); assert a["prompt_ids"]==b["prompt_ids"], (a["prompt_ids"][:4], b["prompt_ids"][:4])' \
    "$tmp/b.json" "$tmp/g.json" || fail "double BOS"
# streamed text equals the --json text
"$TOK" generate --chat -m "$tmp/chat.gguf" -p "$m1" -n 12 --temp 0 > "$tmp/g.txt"
$PY -c 'import json,sys; assert open(sys.argv[2]).read()==json.load(open(sys.argv[1]))["text"]' "$tmp/g.json" "$tmp/g.txt" ||
    fail "generate --chat streamed text"

# ---- tok chat with piped input ---------------------------------------------------
N=10
m2="And what of the light?"
m3="In the beginning"
printf '%s\n%s\n/reset\n%s\n/system %s\n%s\n/exit\nnever read\n' "$m1" "$m2" "$m3" "$sys_text" "$m3" |
    "$TOK" chat -m "$tmp/chat.gguf" --temp 0 -n $N > "$tmp/chat.out" 2> "$tmp/chat.err" || fail "chat: exit $?"
mapfile -t replies < "$tmp/chat.out"
[ ${#replies[@]} = 4 ] || fail "chat: ${#replies[@]} replies, want 4: $(cat "$tmp/chat.out")"
[ "$(grep -c '^\[usage: ' "$tmp/chat.err")" = 4 ] || fail "chat: usage lines: $(cat "$tmp/chat.err")"
grep -q '^\[conversation reset' "$tmp/chat.err" || fail "chat: no /reset notice"
grep -q '^\[system message set' "$tmp/chat.err" || fail "chat: no /system notice"
# turn 1 = generate --chat; turn 2 = the reply to the whole history
r1=$(ref_reply "$ids1" $N)
[ "${replies[0]}" = "$r1" ] || fail "turn 1: '${replies[0]}' != '$r1'"
$PY - "$m1" "$r1" "$m2" > "$tmp/h2.json" <<'PY'
import json, sys
print(json.dumps([{"role": "user", "content": sys.argv[1]}, {"role": "assistant", "content": sys.argv[2]},
                  {"role": "user", "content": sys.argv[3]}]))
PY
ids2=$(ref_ids "$(cat "$tmp/h2.json")")
r2=$(ref_reply "$ids2" $N)
[ "${replies[1]}" = "$r2" ] || fail "turn 2 (with history): '${replies[1]}' != '$r2'"
# after /reset the history is gone; /system puts a system message before the kept turns
ids3=$(ref_ids "[{\"role\": \"user\", \"content\": \"$m3\"}]")
r3=$(ref_reply "$ids3" $N)
[ "${replies[2]}" = "$r3" ] || fail "after /reset: '${replies[2]}' != '$r3'"
$PY - "$sys_text" "$m3" "$r3" > "$tmp/h4.json" <<'PY'
import json, sys
s, m, r = sys.argv[1:]
print(json.dumps([{"role": "system", "content": s}, {"role": "user", "content": m},
                  {"role": "assistant", "content": r}, {"role": "user", "content": m}]))
PY
ids4=$(ref_ids "$(cat "$tmp/h4.json")")
r4=$(ref_reply "$ids4" $N)
[ "${replies[3]}" = "$r4" ] || fail "after /system: '${replies[3]}' != '$r4'"
# usage: prompt tokens as the reference prompts, context = prompt + reply, cache reused in turn 2
$PY - "$tmp/chat.err" "$ids1" "$ids2" "$ids3" "$ids4" <<'PY' || fail "usage lines: $(cat "$tmp/chat.err")"
import re, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("[usage: ")]
for line, ids in zip(lines, sys.argv[2:]):
    m = re.match(r"\[usage: prompt (\d+) tokens \((\d+) evaluated, (\d+) reused\), reply (\d+) tokens \((\w+)\), context (\d+)/(\d+), ", line)
    assert m, line
    p, ev, reuse, reply, why, used, limit = m.groups()
    assert int(p) == len(ids.split()), (line, len(ids.split()))
    assert int(ev) + int(reuse) == int(p) and int(used) == int(p) + int(reply) <= int(limit), line
reuse2 = int(re.search(r"(\d+) reused", lines[1]).group(1))
assert reuse2 >= len(sys.argv[2].split()), f"turn 2 reused only {reuse2} cached tokens"
PY

# a tiny context drops the oldest turn (with a notice) and the chat goes on
printf 'Who made the heaven?\nAnd the earth?\nAnd the sea?\n' |
    "$TOK" chat -m "$tmp/chat.gguf" --temp 0 -n 16 --ctx 80 > "$tmp/t.out" 2> "$tmp/t.err" || fail "tiny ctx: exit $?"
[ "$(wc -l < "$tmp/t.out")" = 3 ] || fail "tiny ctx: replies: $(cat "$tmp/t.out")"
grep -q '^\[context: dropped the oldest turn' "$tmp/t.err" || fail "tiny ctx: no notice: $(cat "$tmp/t.err")"
$PY - "$tmp/t.err" <<'PY' || fail "tiny ctx: usage over the limit: $(cat "$tmp/t.err")"
import re, sys
for l in open(sys.argv[1]):
    m = re.search(r"context (\d+)/(\d+)", l)
    if m: assert int(m.group(1)) <= int(m.group(2)) == 80, l
PY
# a line ending in a backslash continues the message on the next line
printf 'Who made\\\nthe heaven?\n' | "$TOK" chat -m "$tmp/chat.gguf" --temp 0 -n 6 > "$tmp/ml.out" 2> "$tmp/ml.err" ||
    fail "multi-line: exit $?"
ids_ml=$(ref_ids '[{"role": "user", "content": "Who made\nthe heaven?"}]')
[ "$(cat "$tmp/ml.out")" = "$(ref_reply "$ids_ml" 6)" ] || fail "multi-line reply: $(cat "$tmp/ml.out")"
grep -q "prompt $(echo $ids_ml | wc -w) tokens" "$tmp/ml.err" || fail "multi-line prompt: $(cat "$tmp/ml.err")"

# a message that cannot fit is not sent; the chat goes on
long=$(printf 'and the LORD spake %.0s' $(seq 40))
printf '%s\nIn the beginning\n' "$long" |
    "$TOK" chat -m "$tmp/chat.gguf" --temp 0 -n 16 --ctx 64 -q > "$tmp/l.out" 2> "$tmp/l.err" || fail "long: exit $?"
grep -q 'not sent' "$tmp/l.err" || fail "long message: $(cat "$tmp/l.err")"
[ "$(wc -l < "$tmp/l.out")" = 1 ] || fail "long message: replies: $(cat "$tmp/l.out")"
grep -q '^\[usage' "$tmp/l.err" && fail "-q printed usage"

# ---- errors and help -------------------------------------------------------------
expect() { # status, command args...
    local want=$1; shift
    set +e; "$TOK" "$@" < /dev/null > "$tmp/out" 2> "$tmp/err"; local got=$?; set -e
    [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat "$tmp/err")"
    [ "$want" = 0 ] || [ -s "$tmp/err" ] || fail "$*: no message"
}
# a model without a template chats with plain User:/Assistant: turns, and says so
expect 0 chat -m "$MODEL" -n 4 --temp 0
grep -q -- "--chat-template" "$tmp/err" || fail "no-template notice: $(cat "$tmp/err")"
expect 0 generate --chat -m "$MODEL" -p hi -n 4 --temp 0 --json
grep -q "no chat template" "$tmp/err" || fail "generate --chat no-template notice: $(cat "$tmp/err")"
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); ids=d['prompt_ids']; sys.exit(0 if ids else 1)" "$tmp/out" \
    || fail "generate --chat with the plain template: no prompt ids"
expect 1 chat -m "$MODEL" --chat-template "$tmp/missing.jinja"
printf '{%% for m in messages %%}{{ m.content | nosuch }}{%% endfor %%}' > "$tmp/bad.jinja"
expect 1 chat -m "$MODEL" --chat-template "$tmp/bad.jinja"
grep -q "bad.jinja" "$tmp/err" || fail "template error not named: $(cat "$tmp/err")"
expect 2 chat -m "$tmp/chat.gguf" --ctx 32 -n 32
expect 2 chat --frobnicate
expect 2 chat --temp x
expect 2 generate --chat --prompt-ids "1 2"
expect 2 generate -p hi --system S
expect 0 chat --help
grep -q "usage: tok chat" "$tmp/out" || fail "chat --help"
grep -q "/reset" "$tmp/out" || fail "chat --help lists no commands"
expect 0 generate --help
grep -q -- "--chat" "$tmp/out" || fail "generate --help has no --chat"
# end of input with no message at all is a clean exit
expect 0 chat -m "$tmp/chat.gguf"

# With ../shared: a byte-level BPE model whose vocabulary has the ChatML
# control tokens, with the Qwen2.5 template: <|im_start|>/<|im_end|> are
# single ids, no BOS (add_bos_token false), and the prompt equals the
# reference rendering tokenized with special tokens.
QWEN=${SHARED:-/nonexistent}/models/qwen2-rand-tiny-Q8_0.gguf
if [ -f "$QWEN" ]; then
    "$TOK" generate --chat -m "$QWEN" --chat-template tests/data/templates/qwen2.5.jinja \
        --system "Be brief." -p "$m1" -n 4 --temp 0 --json > "$tmp/q.json" || fail "qwen2 --chat: exit $?"
    $PY - tests/data/templates/qwen2.5.jinja "$m1" > "$tmp/qctx.jsonl" <<'PY'
import json, sys
print(json.dumps({"template": open(sys.argv[1]).read(),
                  "context": {"messages": [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": sys.argv[2]}],
                              "add_generation_prompt": True, "eos_token": "<|im_end|>"}}))
PY
    "$TOK" template render --jsonl "$tmp/qctx.jsonl" |
        $PY -c 'import json,sys; sys.stdout.write(json.loads(sys.stdin.readline())["output"])' > "$tmp/q.txt"
    "$TOK" encode -t "$QWEN" --special all "$tmp/q.txt" > "$tmp/q.ids"
    start=$("$TOK" encode -t "$QWEN" --special all -p "<|im_start|>")
    $PY - "$tmp/q.json" "$tmp/q.ids" "$tmp/q.txt" "$start" <<'PY' || fail "qwen2 chat prompt"
import json, sys
d, ids, text, start = json.load(open(sys.argv[1])), list(map(int, open(sys.argv[2]).read().split())), open(sys.argv[3]).read(), int(sys.argv[4])
assert d["prompt_ids"] == ids, (d["prompt_ids"], ids)
assert ids.count(start) == text.count("<|im_start|>") == 3, (ids.count(start), text.count("<|im_start|>"))
assert ids[0] == start, ids[:3]  # no BOS
PY
else
    echo "skip: ../shared absent, Qwen2 chat-template check not run"
fi
echo "chat: ok"
