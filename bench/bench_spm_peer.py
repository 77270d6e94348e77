#!/usr/bin/env python3
"""SentencePiece (Debian python3-sentencepiece: the official C++ library behind
a thin binding) timed the way bench_spm.c times libtok, on the same files.

usage: /usr/bin/python3 bench_spm_peer.py --model M.model [--runs 5]
           [--chunk 65536] [--whole-runs 3] FILE... [--whole FILE...]

For each FILE (cut into documents of at most --chunk bytes, each ending after
the last newline in the window, else at a UTF-8 boundary: the rule of every
driver) and each --whole FILE (one document), prints one line

  result impl=sentencepiece version=V file=NAME bytes=N docs=N tokens=N
         idsum=XXXXXXXX runs=N cpu_s=S cpu_mb_s=M

idsum folds every id in order as h = (h ^ id) * 16777619 (32 bits) from
2166136261, in one untimed pass; bench_spm compares it with libtok's. Timing:
one warm-up pass over ~1 MB, then --runs passes of encode(doc) per document
(out_type=int, no BOS/EOS), the median by this process's CPU time.
"""
import os, statistics, sys, time

try:
    import sentencepiece as spm
except ImportError:
    print("skip impl=sentencepiece reason=python3-sentencepiece_not_installed")
    sys.exit(0)


def docs_of(buf, chunk):
    out, start = [], 0
    while start < len(buf):
        end = len(buf)
        if chunk and len(buf) - start > chunk:
            end = start + chunk
            nl = buf.rfind(b"\n", start, end)
            if nl >= 0:
                end = nl + 1
            else:
                while end > start + 1 and (buf[end] & 0xC0) == 0x80:
                    end -= 1
        out.append(buf[start:end].decode("utf-8"))  # keeps a BOM as U+FEFF
        start = end
    return out


def fold(h, ids):
    for i in ids:
        h = ((h ^ i) * 16777619) & 0xFFFFFFFF
    return h


def main():
    args = sys.argv[1:]
    opts = {"--model": None, "--runs": "5", "--chunk": "65536", "--whole-runs": "3"}
    files, whole, target = [], [], None
    i = 0
    while i < len(args):
        a = args[i]
        if a in opts:
            opts[a] = args[i + 1]
            i += 2
            continue
        if a == "--whole":
            target = whole
        else:
            (files if target is None else target).append(a)
        i += 1
    if not opts["--model"]:
        sys.exit("bench_spm_peer.py: --model is required")
    sp = spm.SentencePieceProcessor(model_file=opts["--model"])
    chunk = int(opts["--chunk"])
    for path, runs, ch in [(f, int(opts["--runs"]), chunk) for f in files] + \
                          [(f, int(opts["--whole-runs"]), 0) for f in whole]:
        buf = open(path, "rb").read()
        docs = docs_of(buf, ch)
        h, tokens = 2166136261, 0
        for d in docs:
            ids = sp.encode(d)
            h = fold(h, ids)
            tokens += len(ids)
        warm, b = [], 0
        for d in docs:
            if b >= 1_000_000:
                break
            warm.append(d)
            b += len(d)
        if ch:  # a whole-document run is its own warm-up
            for d in warm:
                sp.encode(d)
        times = []
        for _ in range(runs):
            t0 = time.process_time()
            for d in docs:
                sp.encode(d)
            times.append(time.process_time() - t0)
        t = statistics.median(times)
        print("result impl=sentencepiece version=%s file=%s bytes=%d docs=%d tokens=%d idsum=%08x runs=%d "
              "cpu_s=%.6f cpu_mb_s=%.2f" % (spm.__version__, os.path.basename(path), len(buf), len(docs), tokens,
                                            h, runs, t, len(buf) / 1e6 / t if t > 0 else 0.0), flush=True)


main()
