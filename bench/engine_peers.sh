#!/usr/bin/env bash
# The engine beside llama.cpp on real model shapes, same files, same run:
# pp (prompt processing, one batch of BENCH_PP tokens) and tg (BENCH_TG
# decode steps) tokens/s at 1 and 2 threads, plus the memory-bandwidth
# ceiling of generation (measured by bench_engine).
#
# Models: random-weight GGUF files with real shapes (llama2.c stories110M:
# dim 768, 12 layers, 12 heads, ffn 2048, vocab 32000, tied; TinyLlama-1.1B:
# dim 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000) made by
# the shared fixture tool make_gguf.py into $ENGINE_BENCH_DIR (default
# /tmp/engbench; never inside the repository). `bench/engine_peers.sh gen`
# makes them (~2.6 GB, a few minutes; needs python3 with numpy); without them
# this script only says how. make_gguf.py cannot write Q4_K: the *-Q4_K
# files are made from the *-Q8_0 ones by llama.cpp's own llama-quantize
# (--allow-requantize --pure Q4_K: every 2-D tensor Q4_K, embedding and
# output included) when $LLAMA_CPP_DIR has it built (cmake --build build
# --target llama-quantize), outside the repository like the rest.
# llama.cpp: $LLAMA_CPP_DIR (default /tmp/peers/llama.cpp) with a built
# build/bin/llama-bench (cmake -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON
# -DLLAMA_CURL=OFF; cmake --build build --target llama-bench); absent: our
# figures only.
# bench/run.sh calls it as `engine_peers.sh auto`, which does nothing unless
# BENCH_ENGINE_PEERS=1 (the four models take ~30 min on 2 busy cores).
# Knobs: ENGINE_BENCH_MODELS (names without .gguf, default "s110m-Q8_0
# s110m-Q4_0 s110m-Q4_K tl11b-Q8_0 tl11b-Q4_0 tl11b-Q4_K"), BENCH_ENGINE_RUNS (3), LLAMA_REPS (3),
# BENCH_PP (128), BENCH_TG (64), BENCH_TIMEOUT (s per program, 1800).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-$PWD/../shared}
DIR=${ENGINE_BENCH_DIR:-/tmp/engbench}
MODELS=${ENGINE_BENCH_MODELS:-s110m-Q8_0 s110m-Q4_0 s110m-Q4_K tl11b-Q8_0 tl11b-Q4_0 tl11b-Q4_K}
LLAMA_CPP_DIR=${LLAMA_CPP_DIR:-/tmp/peers/llama.cpp}
LB=$LLAMA_CPP_DIR/build/bin/llama-bench
LQ=$LLAMA_CPP_DIR/build/bin/llama-quantize
RUNS=${BENCH_ENGINE_RUNS:-3}
REPS=${LLAMA_REPS:-3}
PP=${BENCH_PP:-128}
TG=${BENCH_TG:-64}
TIMEOUT=${BENCH_TIMEOUT:-1800}
TOOL=$SHARED/models/tools/make_gguf.py
PY=${PYTHON:-/usr/bin/python3}

gen() {
    mkdir -p "$DIR"
    local spm=$SHARED/models/tiny-kjv/tokenizer.model m type shape
    for m in $MODELS; do
        [ -s "$DIR/$m.gguf" ] && continue
        type=${m#*-}
        if [ "$type" = Q4_K ]; then
            local src=$DIR/${m%-*}-Q8_0.gguf
            if [ ! -x "$LQ" ]; then echo "engine_peers: $m needs $LQ (see the header)" >&2; continue; fi
            if [ ! -s "$src" ]; then echo "engine_peers: $m is made from $src: add ${m%-*}-Q8_0 to the models" >&2; continue; fi
            "$LQ" --allow-requantize --pure "$src" "$DIR/$m.gguf.part" Q4_K >"$DIR/$m.log" 2>&1 &&
                mv "$DIR/$m.gguf.part" "$DIR/$m.gguf" || echo "engine_peers: llama-quantize failed, see $DIR/$m.log" >&2
            continue
        fi
        case $m in
            s110m-*) shape="--dim 768 --n-layers 12 --n-heads 12 --n-kv-heads 12 --ffn-dim 2048 --ctx 1024 --tied" ;;
            tl11b-*) shape="--dim 2048 --n-layers 22 --n-heads 32 --n-kv-heads 4 --ffn-dim 5632 --ctx 2048" ;;
            *) echo "engine_peers: unknown model shape $m" >&2; continue ;;
        esac
        # shellcheck disable=SC2086
        "$PY" "$TOOL" --out "$DIR/$m.gguf.part" --type "$type" $shape --vocab 32000 --rope-theta 10000 \
            --norm-eps 1e-5 --seed 1234 --spm "$spm" && mv "$DIR/$m.gguf.part" "$DIR/$m.gguf"
    done
}
if [ "${1:-}" = gen ]; then gen; exit 0; fi
# Measure the current sources: make only rebuilds the bench programs under
# `make bench`, so a bench_engine left from an older build would be timed.
make -s BUILD="$BUILD" "$BUILD/bench/bench_engine" >/dev/null || { echo "engine_peers: cannot build $BUILD/bench/bench_engine" >&2; exit 1; }
# From bench/run.sh ("auto"): minutes of work on large models, so only on request.
if [ "${1:-}" = auto ] && [ "${BENCH_ENGINE_PEERS:-0}" != 1 ]; then
    echo "== engine vs llama.cpp on real shapes: skipped (BENCH_ENGINE_PEERS=1 make bench, or bench/engine_peers.sh, runs it; ~30 min)"
    exit 0
fi

files=()
for m in $MODELS; do [ -s "$DIR/$m.gguf" ] && files+=("$DIR/$m.gguf"); done
echo "== engine vs llama.cpp on real shapes ($(date -u '+%Y-%m-%d %H:%M UTC'))"
if [ ${#files[@]} -eq 0 ]; then
    echo "no model files in $DIR (make them with: bench/engine_peers.sh gen)"
    exit 0
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/engpeers.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Model by model, ours then llama.cpp's, so that both see about the same
# load from other jobs. The read bandwidth is measured first and again after
# every model; the ceilings use the highest figure of the run (this machine's
# bandwidth drifts by a third over minutes, and a ceiling from a slow moment
# would flatter everyone).
# 1-thread runs (ours, llama.cpp's, the 1-thread bandwidth) are pinned to
# one CPU (BENCH_CPU, default 0; "none": not pinned): a virtual machine's
# vCPUs can differ by 40% (seen here for an hour on vCPU 1), and otherwise
# the two programs could be timed on different CPUs. 2-thread runs are not
# pinned.
PIN=()
if [ "${BENCH_CPU:-0}" != none ] && command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
    PIN=(taskset -c "${BENCH_CPU:-0}")
fi
bw_of() { # bw_of THREADS [pin...]: the read bandwidth at 1 or 2 threads, from bench_engine
    local t=$1; shift
    BENCH_BW_MB=512 BENCH_ENGINE_RUNS=1 BENCH_PP=1 BENCH_TG=1 BENCH_THREADS=$t timeout "$TIMEOUT" "$@" \
        "$BUILD/bench/bench_engine" "${files[0]}" | awk -v f="bw${t}_gb_s" '/^result membw/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v[f] }'
}
measure_bw() {
    local b1 b2
    b1=$(bw_of 1 "${PIN[@]}"); b2=$(bw_of 2)
    [ -n "$b1" ] && [ -n "$b2" ] && echo "$b1 $b2"
}
echo "1-thread runs: $([ ${#PIN[@]} -gt 0 ] && echo "pinned to CPU ${BENCH_CPU:-0} (${PIN[*]}; BENCH_CPU)" || echo "not pinned"); 2-thread runs: not pinned"
BW=$(measure_bw)
BWALL=$BW
echo "memory read bandwidth (GB/s, 1 and 2 threads): ${BW:-not measured}"
have_lb=0
[ -x "$LB" ] && have_lb=1
[ $have_lb = 1 ] || echo "llama.cpp: no $LB (see the header of this script); our figures only"
: >"$WORK/ours.txt"
for f in "${files[@]}"; do
    for t in 1 2; do
        pin=("${PIN[@]}"); [ "$t" = 1 ] || pin=()
        BENCH_BW="$BW" BENCH_THREADS=$t BENCH_ENGINE_RUNS=$RUNS BENCH_PP=$PP BENCH_TG=$TG timeout "$TIMEOUT" "${pin[@]}" \
            "$BUILD/bench/bench_engine" "$f" | tee -a "$WORK/ours.txt" | grep -v '^result'
    done
    if [ $have_lb = 1 ]; then
        : >"$WORK/lb-$(basename "$f" .gguf).jsonl"
        for t in 1 2; do
            pin=("${PIN[@]}"); [ "$t" = 1 ] || pin=()
            echo "${pin[*]}${pin[*]:+ }llama-bench -m $f -p $PP -n $TG -t $t -r $REPS (load $(cut -d' ' -f1 /proc/loadavg))"
            timeout "$TIMEOUT" "${pin[@]}" "$LB" -m "$f" -p "$PP" -n "$TG" -t "$t" -r "$REPS" -o jsonl \
                >>"$WORK/lb-$(basename "$f" .gguf).jsonl" 2>"$WORK/lb.err" || echo "llama-bench failed on $f: $(tail -n 1 "$WORK/lb.err")"
        done
    fi
    b=$(measure_bw)
    [ -n "$b" ] && { echo "memory read bandwidth again (GB/s, 1 and 2 threads): $b"; BWALL+=$'\n'$b; }
done
# the highest 1- and 2-thread figures of the run
BWMAX=$(printf '%s\n' "$BWALL" | awk 'NF == 2 { if ($1 > a) a = $1; if ($2 > b) b = $2 } END { if (a > 0) print a, b }')
field() { local kv; for kv in $1; do [ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }; done; }
lb_value() { # lb_value MODEL THREADS pp|tg: median tok/s of that llama-bench test
    local j=$WORK/lb-$1.jsonl
    [ -s "$j" ] || { echo "-"; return; }
    local sel
    if [ "$3" = pp ]; then sel="select(.n_prompt == $PP and .n_gen == 0)"; else sel="select(.n_gen == $TG and .n_prompt == 0)"; fi
    jq -r "$sel | select(.n_threads == $2) | .samples_ts | sort | .[length/2|floor]" "$j" 2>/dev/null | head -n 1 | grep . || echo "-"
}

echo
echo "### tokens/s, median (tok: $RUNS runs; llama.cpp: $REPS reps), pp$PP and tg$TG"
echo "tg ceiling = the run's highest read bandwidth (${BWMAX:-not measured} GB/s at 1 / 2 threads) / MB of weights per token"
echo "tok % paired = median over tok's runs of (run's tg x MB per token) / (bandwidth measured right after that run, same thread count)"
echo "| model | threads | tok pp | llama.cpp pp | tok/llama.cpp | tok tg | llama.cpp tg | tok/llama.cpp | tg ceiling | tok % of ceiling | llama.cpp % | tok % paired |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r line; do
    case $line in "result engine "*) ;; *) continue ;; esac
    m=$(field "$line" model); m=${m%.gguf}; t=$(field "$line" threads)
    pp=$(field "$line" pp_tok_s); tg=$(field "$line" tg_tok_s); ceil=$(field "$line" ceiling_tok_s)
    if [ -n "${BWMAX:-}" ]; then
        ceil=$(awk -v b="$BWMAX" -v t="$t" -v mb="$(field "$line" mb_per_tok)" 'BEGIN { split(b, x, " "); printf "%.1f", (t == 1 ? x[1] : x[2]) * 1000 / mb }')
    fi
    lpp=$(lb_value "$m" "$t" pp); ltg=$(lb_value "$m" "$t" tg)
    r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
    pc() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.0f%%", 100 * a / b; else printf "-" }'; }
    paired=$(field "$line" paired_pct)
    printf '| %s | %s | %.1f | %s | %s | %.1f | %s | %s | %.1f | %s | %s | %s |\n' "$m" "$t" "$pp" \
        "$( [ "$lpp" = - ] && echo - || printf '%.1f' "$lpp")" "$(r "$pp" "$lpp")" "$tg" \
        "$( [ "$ltg" = - ] && echo - || printf '%.1f' "$ltg")" "$(r "$tg" "$ltg")" "$ceil" "$(pc "$tg" "$ceil")" "$(pc "$ltg" "$ceil")" \
        "$(awk -v p="${paired:-0}" 'BEGIN { if (p + 0 > 0) printf "%.0f%%", p; else printf "-" }')"
done <"$WORK/ours.txt"
if [ $have_lb = 1 ]; then
    j=$(ls "$WORK"/lb-*.jsonl 2>/dev/null | head -n 1)
    echo "llama.cpp: $LB (build_commit $( [ -n "$j" ] && jq -r .build_commit "$j" | head -n 1), $( [ -n "$j" ] && jq -r .cpu_info "$j" | head -n 1)), default settings (mmap, --poll 50)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the same cores depress and scatter every figure, 2 threads most)"
exit 0
