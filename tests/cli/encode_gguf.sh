#!/usr/bin/env bash
# tok encode/decode/count -t FILE.gguf: the ids of llama.cpp's llama-tokenize
# (BOS as the file asks, special-token text as plain text) on the 30 edge
# cases of each embedded vocabulary; --no-add-special drops BOS; decode gives
# the texts back; count agrees with encode. Compact fixtures always, the
# shared models too when present.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
fail=0
check() { # gguf reference.json
    "$PY" - "$TOK" "$1" "$2" <<'PYEOF' || fail=1
import json, subprocess, sys
tok, gguf, ref = sys.argv[1:4]
cases = json.load(open(ref))["cases"]
texts = [c["text"] for c in cases]
def run(*args, inp):
    r = subprocess.run([tok, *args], input=inp.encode(), capture_output=True)
    if r.returncode:
        sys.exit(f"{gguf}: tok {' '.join(args)} failed: {r.stderr.decode()}")
    return [json.loads(l) for l in r.stdout.decode().splitlines()]
lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
got = [o["ids"] for o in run("encode", "-t", gguf, "--jsonl", inp=lines)]
bare = [o["ids"] for o in run("encode", "-t", gguf, "--jsonl", "--no-add-special", inp=lines)]
back = [o["text"] for o in run("decode", "-t", gguf, "--jsonl", "--skip-special",
                               inp="".join(json.dumps({"ids": g}) + "\n" for g in got))]
bad = 0
for c, g, b, d in zip(cases, got, bare, back):
    want = c["ids"]
    nbos = 1 if len(b) < len(want) else 0
    if g != want or b != want[nbos:] or d != c["text"]:
        bad += 1
        print(f"{gguf}: {c['text']!r}: want {want} got {g}, without BOS {b}, decoded {d!r}")
if len(got) != len(cases):
    bad += 1
    print(f"{gguf}: {len(got)} outputs for {len(cases)} inputs")
print(f"{gguf}: {len(cases) - bad}/{len(cases)} cases as llama.cpp")
sys.exit(1 if bad else 0)
PYEOF
}
check tests/data/models/llama-rand-tiny-Q4_0.gguf tests/data/models/tokenize-spm_bpe8k_llamastyle.json
check tests/data/models/bpe8k-vim-vocab.gguf tests/data/models/tokenize-bpe8k-vim.json
if [ -f "${SHARED:-}/models/qwen2-rand-tiny-F32.gguf" ]; then
    check "$SHARED/models/llama-rand-tiny-F32.gguf" "$SHARED/models/reference/tokenize-spm_bpe8k_llamastyle.json"
    check "$SHARED/models/qwen2-rand-tiny-F32.gguf" "$SHARED/models/reference/tokenize-bpe8k-vim.json"
fi
# count: the same number as encode (BOS included)
n_enc=$(printf 'In the beginning God created the heaven and the earth.' | "$TOK" encode -t data/models/tiny-kjv-Q8_0.gguf | wc -w)
n_cnt=$(printf 'In the beginning God created the heaven and the earth.' | "$TOK" count -t data/models/tiny-kjv-Q8_0.gguf | awk 'NR==2 {print $1}')
[ "$n_enc" -gt 1 ] && [ "$n_enc" = "$n_cnt" ] || { echo "count $n_cnt != encode $n_enc"; fail=1; }
# an unsupported tokenizer model is named, exit 1
out=$("$TOK" encode -t tests/data/models/no-such.gguf -p x 2>&1); rc=$?
[ $rc = 1 ] && [[ "$out" == *no-such.gguf* ]] || { echo "missing file: rc $rc: $out"; fail=1; }
exit $fail
