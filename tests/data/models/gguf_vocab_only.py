#!/usr/bin/env python3
"""Copies a GGUF file's general.* and tokenizer.* metadata into a new GGUF v3
file without tensors: a compact fixture of an embedded vocabulary.

usage: gguf_vocab_only.py IN.gguf OUT.gguf
"""
import struct
import sys

SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_value(buf, pos, t):
    """Returns (raw bytes of the value, new position)."""
    start = pos
    if t in SCALARS:
        pos += struct.calcsize("<" + SCALARS[t])
    elif t == 8:
        (n,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + n
    elif t == 9:
        et, n = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        for _ in range(n):
            _, pos = read_value(buf, pos, et)
    else:
        raise ValueError(f"unknown GGUF type {t} at offset {pos}")
    return buf[start:pos], pos


def main():
    src, dst = sys.argv[1], sys.argv[2]
    buf = open(src, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    if magic != b"GGUF" or version not in (2, 3):
        sys.exit(f"{src}: not a GGUF v2/v3 file")
    pos = 24
    kept = []
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", buf, pos)
        key = buf[pos + 8:pos + 8 + klen].decode()
        pos += 8 + klen
        (t,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        raw, pos = read_value(buf, pos, t)
        if key.startswith("tokenizer.") or key in ("general.architecture", "general.name"):
            kept.append((key, t, raw))
    out = bytearray(struct.pack("<4sIQQ", b"GGUF", 3, 0, len(kept)))
    for key, t, raw in kept:
        k = key.encode()
        out += struct.pack("<Q", len(k)) + k + struct.pack("<I", t) + raw
    out += b"\0" * (-len(out) % 32)
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
