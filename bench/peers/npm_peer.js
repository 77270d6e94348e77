#!/usr/bin/env node
// Times one npm tokenizer (a "peer" of libtok) on one text file, the same way
// build/bench/bench_tokenize times libtok, and prints one line that
// bench/run.sh parses:
//
//   result impl=tiktoken version=1.0.22 encoding=cl100k_base file=english.txt
//          bytes=N docs=N tokens=N idsum=XXXXXXXX runs=5 threads=1 median_s=S mb_s=M
//          cpu_s=S cpu_mb_s=M
//
// Method (identical in bench_tokenize.c and quicktok_bench.cpp, so all three
// see the very same documents and their id checksums must agree):
// - the file is cut into documents of at most --chunk bytes, each ending
//   after the last '\n' inside the window (or at a UTF-8 boundary if the
//   window has no newline); --chunk 0 means the whole file is one document;
// - the ids of all documents, in order, are folded into a 32-bit FNV-1a
//   style checksum (h ^= id; h *= 16777619) in one untimed pass;
// - one warm-up pass over the first ~1 MB of documents, then --runs timed
//   passes over all documents; only the encode calls are inside the clock;
//   the median pass gives MB/s (bytes are UTF-8 input bytes, 1 MB = 1e6), by
//   the wall clock (mb_s) and by the process's CPU time (cpu_mb_s, all of
//   its threads: for HF that includes the worker thread that encodes).
//
// Peers: "tiktoken" (npm tiktoken, OpenAI's core compiled to WASM,
// encode_ordinary) and "hf" (npm tokenizers, Hugging Face's native binding,
// encode(text, null, {addSpecialTokens: false}) with a tokenizer.json).
//
// usage: node npm_peer.js --nm DIR/node_modules --peer tiktoken|hf
//          --encoding NAME [--tok tokenizer.json] --file F [--runs 5] [--chunk 65536]
"use strict";
const fs = require("fs");
const path = require("path");

function opt(name, dflt) {
  const i = process.argv.indexOf("--" + name);
  if (i < 0) return dflt;
  if (i + 1 >= process.argv.length) usage("--" + name + " needs a value");
  return process.argv[i + 1];
}
function usage(msg) {
  process.stderr.write("npm_peer.js: " + msg + "\n");
  process.exit(2);
}

const nm = path.resolve(opt("nm", "/tmp/tokpeers/node_modules"));
const peer = opt("peer");
const encoding = opt("encoding");
const tokJson = opt("tok");
const file = opt("file");
const runs = parseInt(opt("runs", "5"), 10);
const chunk = parseInt(opt("chunk", "65536"), 10);
if (!peer || !encoding || !file) usage("--peer, --encoding and --file are required");
if (!(runs >= 1) || !(chunk >= 0)) usage("bad --runs or --chunk");
if (peer === "hf" && !tokJson) usage("--peer hf needs --tok PATH/tokenizer.json");

// Resolve packages from the peers' own folder, outside the repository.
const load = require("module").createRequire(path.join(nm, "noop.js"));
function version(pkg) {
  return JSON.parse(fs.readFileSync(path.join(nm, pkg, "package.json"), "utf8")).version;
}

// ---- documents: the byte-level cutting rule shared by every driver ----
const buf = fs.readFileSync(file);
// TextDecoder keeps a leading BOM only with ignoreBOM (the corpus has one).
const dec = new TextDecoder("utf-8", { ignoreBOM: true });
const docs = [];
for (let start = 0; start < buf.length;) {
  let end = chunk === 0 ? buf.length : Math.min(buf.length, start + chunk);
  if (end < buf.length) {
    const nl = buf.lastIndexOf(10, end - 1);
    if (nl >= start) end = nl + 1;
    else while (end > start + 1 && (buf[end] & 0xc0) === 0x80) end--;
  }
  docs.push(dec.decode(buf.subarray(start, end)));
  start = end;
}

function fold(h, ids) {
  for (let i = 0; i < ids.length; i++) h = Math.imul((h ^ ids[i]) >>> 0, 16777619) >>> 0;
  return h;
}

// Each peer gives: count(docs) -> total tokens (timed), ids(doc) -> id array.
function makePeer() {
  if (peer === "tiktoken") {
    const enc = load("tiktoken").get_encoding(encoding);
    return {
      version: version("tiktoken"),
      count: async (ds) => { let n = 0; for (const d of ds) n += enc.encode_ordinary(d).length; return n; },
      ids: async (d) => enc.encode_ordinary(d),
    };
  }
  if (peer === "hf") {
    const tk = load("tokenizers").Tokenizer.fromFile(tokJson);
    const o = { addSpecialTokens: false };
    return {
      version: version("tokenizers"),
      count: async (ds) => { let n = 0; for (const d of ds) n += (await tk.encode(d, null, o)).getLength(); return n; },
      ids: async (d) => (await tk.encode(d, null, o)).getIds(),
    };
  }
  usage("unknown peer " + peer);
}

(async () => {
  const p = makePeer();
  let idsum = 2166136261, tokens = 0;
  for (const d of docs) { const ids = await p.ids(d); idsum = fold(idsum, ids); tokens += ids.length; }
  const warm = [];
  for (let i = 0, b = 0; i < docs.length && b < 1e6; i++) { warm.push(docs[i]); b += docs[i].length; }
  await p.count(warm);
  const times = [], cpu = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    const n = await p.count(docs);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    if (n !== tokens) usage(`run ${r} gave ${n} tokens, the checked pass ${tokens}`);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)], cmed = cpu[Math.floor(cpu.length / 2)];
  console.log(`result impl=${peer} version=${p.version} encoding=${encoding} file=${path.basename(file)} ` +
    `bytes=${buf.length} docs=${docs.length} tokens=${tokens} idsum=${idsum.toString(16).padStart(8, "0")} ` +
    `runs=${runs} threads=1 median_s=${med.toFixed(6)} mb_s=${(buf.length / 1e6 / med).toFixed(2)} ` +
    `cpu_s=${cmed.toFixed(6)} cpu_mb_s=${(buf.length / 1e6 / cmed).toFixed(2)}`);
})().catch((e) => { process.stderr.write("npm_peer.js: " + (e && e.message ? e.message : e) + "\n"); process.exit(1); });
