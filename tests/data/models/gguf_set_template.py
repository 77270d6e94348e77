#!/usr/bin/env python3
"""Copies a GGUF file, setting tokenizer.chat_template to the text of a file
(replacing the key if present), or removing the key with --remove. Tensor
data is copied unchanged; the data section is re-aligned after the longer
header. For tests of chat templates read from GGUF metadata.

usage: gguf_set_template.py IN.gguf OUT.gguf (TEMPLATE.jinja | --remove)
"""
import struct
import sys

KEY = b"tokenizer.chat_template"
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def skip_value(buf, pos, t):
    if t in SCALARS:
        return pos + struct.calcsize("<" + SCALARS[t])
    if t == 8:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    if t == 9:
        et, n = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        for _ in range(n):
            pos = skip_value(buf, pos, et)
        return pos
    raise ValueError(f"unknown GGUF type {t} at offset {pos}")


def main():
    src, dst, tmpl = sys.argv[1:4]
    buf = open(src, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    if magic != b"GGUF" or version not in (2, 3):
        sys.exit(f"{src}: not a GGUF v2/v3 file")
    pos, kvs, alignment = 24, [], 32
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", buf, pos)
        key = buf[pos + 8:pos + 8 + klen]
        (t,) = struct.unpack_from("<I", buf, pos + 8 + klen)
        end = skip_value(buf, pos + 12 + klen, t)
        if key == b"general.alignment":
            (alignment,) = struct.unpack_from("<I", buf, pos + 12 + klen)
        if key != KEY:
            kvs.append(buf[pos:end])
        pos = end
    tensors_start = pos
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + nlen
        (nd,) = struct.unpack_from("<I", buf, pos)
        pos += 4 + 8 * nd + 4 + 8
    tensor_infos = buf[tensors_start:pos]
    data_start = (pos + alignment - 1) // alignment * alignment
    if tmpl != "--remove":
        text = open(tmpl, "rb").read()
        kvs.append(struct.pack("<Q", len(KEY)) + KEY + struct.pack("<IQ", 8, len(text)) + text)
    head = struct.pack("<4sIQQ", b"GGUF", version, n_tensors, len(kvs)) + b"".join(kvs) + tensor_infos
    head += b"\0" * (-len(head) % alignment)
    open(dst, "wb").write(head + buf[data_start:])


if __name__ == "__main__":
    main()
