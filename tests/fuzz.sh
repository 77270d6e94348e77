#!/usr/bin/env bash
# Mutation fuzzing of every parser of outside input through the CLI:
# tokenizer.json, .tiktoken, SentencePiece .model, GGUF, templates.
# Each mutated file must give exit 0, 1 or 2 within the time limit: a signal
# (crash, sanitizer abort) or a hang fails. ITER mutations per seed file
# (default 300); run it on the ASan build with TOK=build-asan/tok.
set -u
cd "$(dirname "$0")/.."
TOK=${TOK:-$PWD/${BUILD:-build}/tok}
export TOK_DATA_DIR=${TOK_DATA_DIR:-$PWD/data}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
exec $PY - "$TOK" "${ITER:-300}" <<'PYEOF'
import os, random, subprocess, sys, tempfile
tok, iters = sys.argv[1], int(sys.argv[2])
seeds = [
    ("tests/data/tokenizers/hf_gpt2/tokenizer.json", ["encode", "-t", "{f}", "-p", "hello world"]),
    ("data/tiktoken/r50k_base.tiktoken", ["encode", "-t", "{f}", "--pattern", "r50k_base", "-p", "hello world"]),
    ("tests/data/spm/spm_bpe8k_llamastyle.model", ["encode", "-t", "{f}", "-p", "hello world"]),
    ("tests/data/models/llama-rand-tiny-Q4_0.gguf", ["inspect", "{f}"]),
    ("recipes/summarize.yaml", ["run", "{f}", "--dry-run"]),
    ("tests/data/recipes/fuzz_all.yaml", ["run", "{f}", "--dry-run"]),
    ("tests/data/templates/qwen2.5.jinja", ["template", "render", "--template", "{f}", "--context", "tests/data/templates/fuzz_context.json"]),
]
rng = random.Random(int(os.environ.get("SEED", "1")))
def mutate(b):
    b = bytearray(b)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if op < 0.4 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.6 and b:
            del b[rng.randrange(len(b)):][: rng.randint(1, 64)]
        elif op < 0.8:
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif b:
            b = b[: rng.randrange(len(b))]
    return bytes(b)
bad = runs = 0
with tempfile.TemporaryDirectory() as d:
    for path, argv in seeds:
        if not os.path.exists(path):
            print("skip (missing):", path); continue
        data = open(path, "rb").read()
        # big files: mutate a prefix-heavy region too, where headers live
        for i in range(iters):
            m = mutate(data if len(data) < 4 << 20 else data[: 1 << 16] + data[1 << 16:])
            f = os.path.join(d, "in" + os.path.splitext(path)[1])
            open(f, "wb").write(m)
            cmd = [tok] + [a.replace("{f}", f) for a in argv]
            runs += 1
            try:
                p = subprocess.run(cmd, capture_output=True, timeout=30, input=b'{"messages": []}')
                if p.returncode not in (0, 1, 2):
                    bad += 1
                    keep = os.path.join(tempfile.gettempdir(), "tok-fuzz-crash-%d%s" % (runs, os.path.splitext(path)[1]))
                    open(keep, "wb").write(m)
                    print("CRASH exit %d: %s (input kept in %s)\n%s" % (p.returncode, " ".join(argv), keep, p.stderr.decode(errors="replace")[-800:]))
            except subprocess.TimeoutExpired:
                bad += 1
                print("HANG: %s" % " ".join(argv))
print("fuzz: %d runs, %d failed" % (runs, bad))
sys.exit(1 if bad else 0)
PYEOF
