#!/usr/bin/env python3
"""SentencePiece (python3-sentencepiece, the official C++ library) on the same
texts and models as bench_spm.c: MB/s encoding line by line (median of 5),
and the 1 MB-without-spaces worst cases. Run by bench_spm with Debian's
/usr/bin/python3; prints a Markdown table. Usage: bench_spm_peer.py SHARED [MB]"""
import os, statistics, sys, time

try:
    import sentencepiece as spm
except ImportError:
    print("python3-sentencepiece: not installed (apt-get install python3-sentencepiece)")
    sys.exit(0)

shared = sys.argv[1]
mb = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
MODELS = ["spm_llama2", "spm_bpe8k_bytefallback", "spm_bpe8k_llamastyle",
          "spm_unigram8k_nfkc", "spm_unigram8k_identity_digits"]
ENGLISH = ["english_man.txt", "english_licenses_docs.txt", "english_fortunes.txt"]
MULTI = ["multi_cjk.txt", "multi_cyrillic_greek.txt", "multi_european.txt", "multi_indic.txt",
         "multi_rtl.txt", "multi_sea.txt", "multi_other_scripts.txt"]

def load(files):  # same construction as bench_spm.c: files repeated to >= mb
    out = b""
    while len(out) < mb * 1e6:
        before = len(out)
        for f in files:
            p = os.path.join(shared, "corpus/dev", f)
            if os.path.exists(p):
                d = open(p, "rb").read()
                out += d if d.endswith(b"\n") else d + b"\n"
        if len(out) == before:
            break
    return out

def lines_of(b):
    return [l.decode("utf-8", "replace") for l in b.split(b"\n")]

en, mu = load(ENGLISH), load(MULTI)
en_lines, mu_lines = lines_of(en), lines_of(mu)
nospace = bytes(c for c in en if c not in b" \n")
while len(nospace) < 1_000_000:
    nospace += nospace
nospace = nospace[:1_000_000].decode("utf-8", "ignore")

def timed(sp, lines, runs=5):
    t = []
    for _ in range(runs):
        t0 = time.process_time()
        for l in lines:
            sp.encode(l)
        t.append(time.process_time() - t0)
    return statistics.median(t)

print("## SentencePiece %s (python3-sentencepiece, 1 thread, line by line, median of 5, CPU time)\n" % spm.__version__)
print("| model | English MB/s | multilingual MB/s | 1 MB 'a' (s) | 1 MB English without spaces (s) |")
print("|---|---|---|---|---|")
for m in MODELS:
    path = os.path.join(shared, "tokenizers", m, m + ".model")
    if not os.path.exists(path):
        path = os.path.join("tests/data/spm", m + ".model")
    sp = spm.SentencePieceProcessor(model_file=path)
    timed(sp, en_lines[: len(en_lines) // 8], 1)
    te, tm = timed(sp, en_lines), timed(sp, mu_lines)
    t0 = time.process_time(); sp.encode("a" * 1_000_000); ta = time.process_time() - t0
    t0 = time.process_time(); sp.encode(nospace); tn = time.process_time() - t0
    print("| %s | %.1f | %.1f | %.3f | %.3f |" % (m, len(en) / te / 1e6, len(mu) / tm / 1e6, ta, tn))
print("\n(The Python call overhead per line is included: SentencePiece has no C API.)")
