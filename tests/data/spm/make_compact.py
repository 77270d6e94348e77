#!/usr/bin/env python3
"""Cuts the compact reference subsets in this folder from the full SentencePiece
references (../shared/reference/spm_*/). The same records are kept for every
model: every edge case of at most 200 bytes (the longer ones are repetitions
the full suite covers) and every hand-written line, then from each corpus file
paragraphs of at most 800 bytes in file order while that file's text budget
lasts; dev_special records of at most 150 bytes. Usage: make_compact.py SHARED_DIR"""
import json, sys

MODELS = ["spm_bpe8k_bytefallback", "spm_bpe8k_llamastyle", "spm_llama2",
          "spm_unigram8k_nfkc", "spm_unigram8k_identity_digits"]
PER_SOURCE_BUDGET = 900

def lines(path):  # split on \n only: texts may hold U+2028 etc.
    with open(path, encoding="utf-8", newline="") as f:
        return [l for l in f.read().split("\n") if l]

shared = sys.argv[1]
first = lines(f"{shared}/reference/{MODELS[0]}/dev.jsonl")
keep, used = set(), {}
for i, l in enumerate(first):
    r = json.loads(l)
    n = len(r["text"].encode())
    source = r["src"].split("#")[0]
    if source == "multi_handwritten.txt" or (source == "edge.json" and n <= 200):
        keep.add(i)
    elif source != "edge.json" and n <= 800 and used.get(source, 0) + n <= PER_SOURCE_BUDGET:
        keep.add(i)
        used[source] = used.get(source, 0) + n
for m in MODELS:
    dev = lines(f"{shared}/reference/{m}/dev.jsonl")
    with open(f"{m}.dev.jsonl", "w", encoding="utf-8", newline="") as f:
        f.writelines(l + "\n" for i, l in enumerate(dev) if i in keep)
    spec = lines(f"{shared}/reference/{m}/dev_special.jsonl")
    with open(f"{m}.dev_special.jsonl", "w", encoding="utf-8", newline="") as f:
        f.writelines(l + "\n" for l in spec if len(json.loads(l)["text"].encode()) <= 150)
