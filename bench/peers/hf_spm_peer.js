#!/usr/bin/env node
// Hugging Face tokenizers (npm `tokenizers`, the Rust library through its
// native binding) on a SentencePiece-style tokenizer.json (Llama 2, Mistral,
// Gemma, Unigram), timed the way bench/bench_spm.c times libtok on the same
// files. The tokenizer is loaded once for all files (Gemma's takes seconds).
//
// usage: node hf_spm_peer.js --nm DIR/node_modules --tok tokenizer.json
//          [--runs 5] [--chunk 65536] [--whole-runs 3] FILE... [--whole FILE...]
//
// For each FILE (cut into documents of at most --chunk bytes, each ending
// after the last newline in the window, else at a UTF-8 boundary: the rule
// of every driver) and each --whole FILE (one document) it prints
//
//   result impl=hf version=V file=NAME bytes=N docs=N tokens=N idsum=XXXXXXXX
//          runs=N cpu_s=S cpu_mb_s=M median_s=S
//
// idsum folds every id in order, h = (h ^ id) * 16777619 (32 bits) from
// 2166136261, in one untimed pass. Timing: a warm-up pass over ~1 MB, then
// --runs passes of encode(doc, null, {addSpecialTokens: false}) per
// document; the median by the process's CPU time (process.cpuUsage(), all
// threads: the binding encodes on a worker thread; run with
// RAYON_NUM_THREADS=1) and by the wall clock (median_s).
"use strict";
const fs = require("fs");
const path = require("path");

function usage(msg) {
  process.stderr.write("hf_spm_peer.js: " + msg + "\n");
  process.exit(2);
}
const opts = { nm: "/tmp/tokpeers/node_modules", tok: null, runs: "5", chunk: "65536", "whole-runs": "3" };
const files = [], whole = [];
let target = files;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--whole") { target = whole; continue; }
  if (a.startsWith("--")) {
    const k = a.slice(2);
    if (!(k in opts) || i + 1 >= process.argv.length) usage("bad option " + a);
    opts[k] = process.argv[++i];
    continue;
  }
  target.push(a);
}
if (!opts.tok) usage("--tok PATH/tokenizer.json is required");
const nm = path.resolve(opts.nm);
const load = require("module").createRequire(path.join(nm, "noop.js"));
const version = JSON.parse(fs.readFileSync(path.join(nm, "tokenizers", "package.json"), "utf8")).version;

function docsOf(buf, chunk) {
  const dec = new TextDecoder("utf-8", { ignoreBOM: true }); // keep a leading BOM as text
  const out = [];
  for (let start = 0; start < buf.length;) {
    let end = buf.length;
    if (chunk && buf.length - start > chunk) {
      end = start + chunk;
      const nl = buf.lastIndexOf(10, end - 1);
      if (nl >= start) end = nl + 1;
      else while (end > start + 1 && (buf[end] & 0xc0) === 0x80) end--;
    }
    out.push(dec.decode(buf.subarray(start, end)));
    start = end;
  }
  return out;
}

function fold(h, ids) {
  for (let i = 0; i < ids.length; i++) h = Math.imul((h ^ ids[i]) >>> 0, 16777619) >>> 0;
  return h;
}

(async () => {
  const tk = load("tokenizers").Tokenizer.fromFile(opts.tok);
  const o = { addSpecialTokens: false };
  const jobs = files.map((f) => [f, +opts.runs, +opts.chunk]).concat(whole.map((f) => [f, +opts["whole-runs"], 0]));
  for (const [file, runs, chunk] of jobs) {
    const buf = fs.readFileSync(file);
    const docs = docsOf(buf, chunk);
    let idsum = 2166136261, tokens = 0;
    for (const d of docs) {
      const ids = (await tk.encode(d, null, o)).getIds();
      idsum = fold(idsum, ids);
      tokens += ids.length;
    }
    if (chunk) {
      for (let i = 0, b = 0; i < docs.length && b < 1e6; i++) { await tk.encode(docs[i], null, o); b += docs[i].length; }
    }
    const cpu = [], wall = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
      for (const d of docs) await tk.encode(d, null, o);
      const c = process.cpuUsage(c0);
      wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
      cpu.push((c.user + c.system) / 1e6);
    }
    cpu.sort((a, b) => a - b);
    wall.sort((a, b) => a - b);
    const t = cpu[Math.floor(runs / 2)], w = wall[Math.floor(runs / 2)];
    console.log(`result impl=hf version=${version} file=${path.basename(file)} bytes=${buf.length} ` +
      `docs=${docs.length} tokens=${tokens} idsum=${idsum.toString(16).padStart(8, "0")} runs=${runs} ` +
      `cpu_s=${t.toFixed(6)} cpu_mb_s=${(buf.length / 1e6 / t).toFixed(2)} median_s=${w.toFixed(6)}`);
  }
})().catch((e) => { process.stderr.write("hf_spm_peer.js: " + (e && e.message ? e.message : e) + "\n"); process.exit(1); });
