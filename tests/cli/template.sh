#!/usr/bin/env bash
# tok template render: --jsonl against the jinja2 oracle fixture (outputs
# byte-identical, errors where the reference fails, raise_exception text
# exact), text mode, error locations, exit codes and --help.
set -eu
cd "$(dirname "$0")/../.."
TOK=${TOK:-build/tok}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

check_suite() { # dir
    python3 - "$1" "$tmp/in.jsonl" "$tmp/want.jsonl" <<'PY'
import json, sys
d, inp, want = sys.argv[1:]
t = json.load(open(d + "/templates.json"))
with open(inp, "w") as fi, open(want, "w") as fw:
    for line in open(d + "/cases.jsonl"):
        c = json.loads(line)
        fi.write(json.dumps({"template": t[c["template_id"]]["template"], "context": c["context"]}, ensure_ascii=False) + "\n")
        fw.write(json.dumps(c, ensure_ascii=False) + "\n")
PY
    "$TOK" template render --jsonl --now '2026-11-28 12:00:00' < "$tmp/in.jsonl" > "$tmp/out.jsonl" \
        || fail "--jsonl exited $?"
    python3 - "$tmp/want.jsonl" "$tmp/out.jsonl" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(want) == len(got), f"{len(got)} output lines for {len(want)} inputs"
bad = 0
for w, g in zip(want, got):
    if "expected" in w:
        ok = g.get("output") == w["expected"]
    elif w["error_kind"] == "raise_exception":
        ok = g.get("error") == w["error"]
    else:
        ok = "error" in g
    if not ok:
        bad += 1
        print("mismatch:", w["template_id"], w["case"], str(g)[:200], file=sys.stderr)
print(f"tok template render --jsonl: {len(want) - bad}/{len(want)} cases match")
sys.exit(1 if bad else 0)
PY
}

check_suite tests/data/templates
if [ -f "${SHARED:-/nonexistent}/templates/cases.jsonl" ]; then check_suite "$SHARED/templates"; fi

# text mode: template file + context file
printf '{%% for m in messages %%}<{{ m.role }}>{{ m.content }}\n{%% endfor %%}' > "$tmp/t.jinja"
printf '{"messages": [{"role": "user", "content": "héllo \\"q\\""}]}' > "$tmp/ctx.json"
out=$("$TOK" template render --template "$tmp/t.jinja" --context "$tmp/ctx.json")
[ "$out" = '<user>héllo "q"' ] || fail "text mode gave '$out'"

# errors: located message on stderr, exit 1
set +e
"$TOK" template render -T $'line one\n{{ x | tojsn }}' 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad filter exited $rc"
grep -q "template:2:8: unknown filter 'tojsn'" "$tmp/err" || fail "error message: $(cat "$tmp/err")"
set +e
"$TOK" template render -T '{% if x %}open' 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "unclosed if exited $rc"
grep -q "template:1:15: unexpected end of template" "$tmp/err" || fail "unclosed if: $(cat "$tmp/err")"

# usage errors and help
set +e
"$TOK" template render --bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown option should exit 2"
"$TOK" template 2>/dev/null; [ $? -eq 2 ] || fail "missing subcommand should exit 2"
set -e
"$TOK" template render --help | grep -q -- "--jsonl" || fail "--help lacks --jsonl"
"$TOK" template --help >/dev/null || fail "template --help failed"
echo "template CLI ok"
