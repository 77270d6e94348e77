#!/usr/bin/env python3
"""Checks `tok encode --jsonl` / `tok decode --jsonl` against reference encodings.

usage: conformance.py TOK TOKENIZER REFERENCE_DIR [--max-bytes N] [--tiktoken]

REFERENCE is a directory holding dev.jsonl ({"text", "ids"[, "decoded"]}) and
optionally dev_special.jsonl, or a prefix P of P.dev.jsonl and P.dev_special.jsonl.
Every record must match; mismatches are listed.
"""
import json, os, subprocess, sys

def ref_file(ref, kind):
    """REF/dev.jsonl for a reference directory, REF.dev.jsonl for a prefix."""
    return os.path.join(ref, kind + ".jsonl") if os.path.isdir(ref) else "%s.%s.jsonl" % (ref, kind)

def run(cmd, lines):
    p = subprocess.run(cmd, input="".join(lines).encode(), capture_output=True)
    if p.returncode != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    return [json.loads(l) for l in p.stdout.decode().split("\n") if l]

def read(path, max_bytes):
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            r = json.loads(line)
            if max_bytes and len(r["text"].encode()) > max_bytes:
                continue
            out.append(r)
    return out

def main():
    args = sys.argv[1:]
    max_bytes = 0
    if "--max-bytes" in args:
        i = args.index("--max-bytes"); max_bytes = int(args[i + 1]); del args[i:i + 2]
    known = set()
    if "--known" in args:
        i = args.index("--known")
        for line in open(args[i + 1], encoding="utf-8"):
            line = [] if line.startswith("#") else line.split()
            if len(line) == 2:
                known.add((line[0], line[1]))
        del args[i:i + 2]
    tiktoken = "--tiktoken" in args
    if tiktoken:
        args.remove("--tiktoken")
    tok, tokenizer, ref = args
    bad = 0
    total = 0
    recs = read(ref_file(ref, "dev"), max_bytes)
    # claude_legacy's references encode the NFKC text (the package normalizes
    # first); tok normalizes itself, so the original text goes in.
    lines = [json.dumps({"text": r["text"]}) + "\n" for r in recs]
    got = run([tok, "encode", "-t", tokenizer, "--jsonl"], lines)
    name = tokenizer.rstrip("/").split("/")[-2] if tokenizer.endswith(".json") else tokenizer
    skipped = 0
    for r, g in zip(recs, got):
        total += 1
        if (name, r.get("src")) in known:
            skipped += 1
            if g["ids"] == r["ids"]:
                bad += 1
                print("KNOWN FAILURE NOW PASSES %s: remove it from the list" % r.get("src"))
            continue
        if g["ids"] != r["ids"]:
            bad += 1
            if bad <= 5:
                print("MISMATCH %s: %r\n  want %s\n  got  %s" % (r.get("src"), r["text"][:80], r["ids"][:20], g["ids"][:20]))
    dec = run([tok, "decode", "-t", tokenizer, "--jsonl"], [json.dumps({"ids": r["ids"]}) + "\n" for r in recs])
    for r, d in zip(recs, dec):
        total += 1
        if (name, r.get("src")) in known:
            continue
        want = r.get("decoded", r.get("encoded_text", r["text"]))
        if d["text"] != want:
            bad += 1
            if bad <= 10:
                print("DECODE MISMATCH %s: want %r got %r" % (r.get("src"), want[:60], d["text"][:60]))
    try:
        special = read(ref_file(ref, "dev_special"), max_bytes)
    except FileNotFoundError:
        special = []
    if special:
        lines = [json.dumps({"text": r["text"]}) + "\n" for r in special]
        if tiktoken:
            got = run([tok, "encode", "-t", tokenizer, "--jsonl", "--special", "all"], lines)
            plain = run([tok, "encode", "-t", tokenizer, "--jsonl"], lines)
            for r, g, o in zip(special, got, plain):
                total += 2
                if g["ids"] != r["ids"]:
                    bad += 1; print("SPECIAL MISMATCH %r want %s got %s" % (r["text"][:60], r["ids"], g["ids"]))
                if o["ids"] != r["ordinary_ids"]:
                    bad += 1; print("ORDINARY MISMATCH %r want %s got %s" % (r["text"][:60], r["ordinary_ids"], o["ids"]))
                # --strict-special must fail exactly where tiktoken's encode() raises
                p = subprocess.run([tok, "encode", "-t", tokenizer, "--strict-special", "-p", r["text"]], capture_output=True)
                total += 1
                if (p.returncode != 0) != r["default_encode_raises"]:
                    bad += 1; print("STRICT MISMATCH %r: exit %d" % (r["text"][:60], p.returncode))
        else:
            got = run([tok, "encode", "-t", tokenizer, "--jsonl", "--add-special"], lines)
            for r, g in zip(special, got):
                total += 1
                if g["ids"] != r["ids"]:
                    bad += 1; print("SPECIAL MISMATCH %r want %s got %s" % (r["text"][:60], r["ids"], g["ids"]))
            if "decoded_skip_special" in special[0]:
                dec = run([tok, "decode", "-t", tokenizer, "--jsonl", "--skip-special"], [json.dumps({"ids": r["ids"]}) + "\n" for r in special])
                for r, d in zip(special, dec):
                    total += 1
                    if d["text"] != r["decoded_skip_special"]:
                        bad += 1; print("SKIP-SPECIAL DECODE MISMATCH %r want %r got %r" % (r["text"][:40], r["decoded_skip_special"][:40], d["text"][:40]))
    print("%s: %d checks, %d failed, %d known failures (%d records)" % (tokenizer, total, bad, skipped, len(recs)))
    sys.exit(1 if bad else 0)

main()
