#!/usr/bin/env /usr/bin/python3
"""Makes the extra SentencePiece fixtures in this folder: small models that use
what the five main models do not (user-defined and control symbols, UNUSED
pieces, nfkc_cf, whitespace as suffix, no dummy prefix, kept whitespace) and
their reference encodings, produced by Debian's spm_train and
python3-sentencepiece 0.1.97. Usage: make_extra.py CORPUS_DEV_DIR
Training text: the licenses in /usr/share/common-licenses. UNUSED pieces are
made by rewriting the type field of every 5th multi-character NORMAL piece in
the protobuf (no protobuf module needed: the wire format is edited directly)."""
import glob, json, os, subprocess, sys, tempfile
import sentencepiece as spm

corpus = sys.argv[1]
USER = "<mask>,[SEP],@@,ab,\u2581\u2581x"
MODELS = {
    "extra_bpe_user": ["--model_type=bpe", "--user_defined_symbols=" + USER, "--control_symbols=<ctl>,<ctl2>",
                       "--normalization_rule_name=identity"],
    "extra_uni_user": ["--model_type=unigram", "--user_defined_symbols=" + USER, "--byte_fallback=true",
                       "--remove_extra_whitespaces=false", "--normalization_rule_name=nfkc_cf"],
    "extra_uni_suffix": ["--model_type=unigram", "--treat_whitespace_as_suffix=true",
                         "--normalization_rule_name=identity"],
    "extra_bpe_nodummy": ["--model_type=bpe", "--add_dummy_prefix=false", "--byte_fallback=true",
                          "--normalization_rule_name=identity", "--remove_extra_whitespaces=false"],
}

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def read_varint(b, i):
    shift = v = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << shift; shift += 7
        if not c & 0x80:
            return v, i

def mark_unused(data, every=5):
    """Returns the model with every `every`-th NORMAL piece of 2+ characters made UNUSED."""
    out, i, k = bytearray(), 0, 0
    while i < len(data):
        key, j = read_varint(data, i)
        field, wt = key >> 3, key & 7
        if wt == 2:
            n, j = read_varint(data, j)
            body = data[j:j + n]
            if field == 1:
                # piece message: find piece text and type
                p, t, q = b"", 1, 0
                while q < len(body):
                    kk, q2 = read_varint(body, q)
                    f2, w2 = kk >> 3, kk & 7
                    if w2 == 2:
                        m, q2 = read_varint(body, q2); val = body[q2:q2 + m]; q2 += m
                        if f2 == 1: p = val
                    elif w2 == 5: q2 += 4
                    elif w2 == 0:
                        val, q2 = read_varint(body, q2)
                        if f2 == 3: t = val
                    q = q2
                if t == 1 and len(p.decode()) >= 2:
                    k += 1
                    if k % every == 0:
                        body = body + varint(3 << 3) + varint(5)  # last value wins
            out += varint(key) + varint(len(body)) + body
            i = j + n
        else:
            raise SystemExit("unexpected top-level wire type")
    return bytes(out)

texts = json.load(open(os.path.join(corpus, "edge.json"), encoding="utf-8"))
texts = [t for t in texts if len(t.encode()) <= 100]
texts += [l for l in open(os.path.join(corpus, "multi_handwritten.txt"), encoding="utf-8").read().split("\n") if l]
texts += ["<mask>", "a<mask>b", "[SEP][SEP]", "x [SEP] y", "@@@", "abab", "cab", " <ctl> <ctl2>",
          "\u2581\u2581x", "  \u2581\u2581xx", "the <mask> is ab", "trailing  ", "  leading", "mid   dle",
          "Stra\u00dfe \uff21\uff22 \u2160 \ufb01", "tab\there", "new\nline"]

with tempfile.TemporaryDirectory() as tmp:
    train = os.path.join(tmp, "train.txt")
    with open(train, "w", encoding="utf-8") as f:
        for p in sorted(glob.glob("/usr/share/common-licenses/*")):
            if os.path.isfile(p):
                f.write(open(p, encoding="utf-8", errors="ignore").read())
    for name, flags in MODELS.items():
        subprocess.run(["spm_train", "--input=" + train, "--model_prefix=" + os.path.join(tmp, name),
                        "--vocab_size=600", "--num_threads=1", "--character_coverage=1.0",
                        "--minloglevel=2"] + flags, check=True)
        data = open(os.path.join(tmp, name + ".model"), "rb").read()
        variants = {name: data}
        if name in ("extra_bpe_user", "extra_uni_suffix"):
            variants[name + "_unused"] = mark_unused(data)
        for vname, vdata in variants.items():
            open(vname + ".model", "wb").write(vdata)
            sp = spm.SentencePieceProcessor(model_file=vname + ".model")
            with open(vname + ".dev.jsonl", "w", encoding="utf-8", newline="") as f:
                for i, t in enumerate(texts):
                    ids = sp.encode(t)
                    r = {"text": t, "ids": ids, "src": "extra#%d" % i}
                    d = sp.decode(ids)
                    if d != t:
                        r["decoded"] = d
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
