#!/usr/bin/env bash
# make bench: runs every build/bench/bench_* program (each prints its own
# lines), then compares libtok's tokenizer with the peers that are installed,
# all measured in this one run on the same texts:
#   - MB/s per encoding (cl100k_base, o200k_base) x text kind (English prose,
#     source code, multilingual), single thread, median of $BENCH_RUNS timed
#     passes after a warm-up, for tok and each peer, plus tok / fastest peer;
#     every peer's ids checksum must equal tok's (no speed of wrong answers);
#   - tok_encode_batch scaling on 1 and 2 threads (quicktok's batch beside it);
#   - the worst case: ~1,000,000 bytes of one repeated character ('a', ' ', '7', 'é', '中') as one document;
#   - streaming `tok count` of a ~1 GB file: time and peak RSS.
# Peers live outside the repository (bench/README.md says how to install them):
#   npm tiktoken + tokenizers in $TOKPEERS_DIR/node_modules (default /tmp/tokpeers),
#   quicktok sources in $QUICKTOK_DIR (default /tmp/peers/quicktok).
# Knobs: BENCH_RUNS (5; timed passes of the npm peers, ~1 s each), BENCH_FAST_RUNS
# (15; passes of tok and quicktok, ~0.1 s each, more of them for a steady median
# on a loaded machine), BENCH_ROUNDS (3; tok and quicktok alternate this many
# times, the median round is shown), BENCH_TEXT_MB (2: each text is its files repeated to at
# least this size), BENCH_BIG_MB (1024; 0 skips the streaming test),
# BENCH_ENCODINGS ("cl100k_base o200k_base"), BENCH_TIMEOUT (s per program, 300),
# BENCH_TOKENIZER_ONLY (1: skip the other bench programs and the engine peers),
# BENCH_CLOCK (cpu: single-thread figures by each process's CPU time, which
# other jobs on a shared machine do not stretch; wall: by the wall clock).
# Batch scaling is always by the wall clock: that is what threads buy.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-$PWD/../shared}
RUNS=${BENCH_RUNS:-5}
FAST_RUNS=${BENCH_FAST_RUNS:-15}
ROUNDS=${BENCH_ROUNDS:-3}
TEXT_MB=${BENCH_TEXT_MB:-2}
BIG_MB=${BENCH_BIG_MB:-1024}
ENCODINGS=${BENCH_ENCODINGS:-cl100k_base o200k_base}
TIMEOUT=${BENCH_TIMEOUT:-300}
case ${BENCH_CLOCK:-cpu} in
    wall) MB=mb_s; SECS=median_s; CLOCK_NOTE="wall-clock time" ;;
    *) MB=cpu_mb_s; SECS=cpu_s; CLOCK_NOTE="the process's CPU time (BENCH_CLOCK=wall for wall time)" ;;
esac
# Single-thread runs are pinned to one CPU (BENCH_CPU, default 0; "none"
# leaves them to the scheduler): the vCPUs of a virtual machine can differ a
# lot (measured: tok and quicktok alike ran ~40% slower on vCPU 1 than on
# vCPU 0 for an hour), and a pair of runs that landed on different CPUs
# would compare the CPUs. Runs of 2 threads are not pinned.
PIN=()
if [ "${BENCH_CPU:-0}" != none ] && command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
    PIN=(taskset -c "${BENCH_CPU:-0}")
fi
NM=${TOKPEERS_DIR:-/tmp/tokpeers}/node_modules
QUICKTOK_DIR=${QUICKTOK_DIR:-/tmp/peers/quicktok}
export TOK_DATA_DIR=${TOK_DATA_DIR:-$PWD/data}
BT=$BUILD/bench/bench_tokenize
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokbench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
MISSING="not installed (see bench/README.md)"

# ---- 1. every other bench program ------------------------------------------
# (BENCH_TOKENIZER_ONLY=1 skips them and the engine peers: the tokenizer part only)
[ "${BENCH_TOKENIZER_ONLY:-0}" = 1 ] || for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    [ "$(basename "$b")" = bench_tokenize ] && continue
    echo "== $(basename "$b")"
    timeout "$TIMEOUT" "$b" || echo "$(basename "$b"): exited with status $?"
    echo
done
[ "${BENCH_TOKENIZER_ONLY:-0}" = 1 ] || { BUILD=$BUILD SHARED=$SHARED bash bench/engine_peers.sh auto; echo; }  # engine vs llama.cpp on real shapes: BENCH_ENGINE_PEERS=1

# ---- 2. the texts ---------------------------------------------------------------
# make_text NAME FILE...: the files concatenated, repeated to >= TEXT_MB MB.
make_text() {
    local name=$1; shift
    [ $# -gt 0 ] || return 1
    local out=$WORK/$name.txt size=0 want=$((TEXT_MB * 1000000)) f
    : >"$out"; : >"$WORK/one.tmp"
    for f in "$@"; do [ -f "$f" ] && cat "$f" >>"$WORK/one.tmp"; done  # unmatched globs stay literal
    [ -s "$WORK/one.tmp" ] || return 1
    while [ "$size" -lt "$want" ]; do
        cat "$WORK/one.tmp" >>"$out"
        size=$(stat -c %s "$out")
    done
    rm -f "$WORK/one.tmp"
}
KINDS=()
if [ -d "$SHARED/corpus/dev" ]; then
    C=$SHARED/corpus/dev
    make_text english "$C"/english_*.txt && KINDS+=(english)
    make_text code "$C"/code_*.txt && KINDS+=(code)
    make_text multilingual "$C"/multi_*.txt && KINDS+=(multilingual)
    TEXT_NOTE="texts: the shared dev corpus (english_*, code_*, multi_* files)"
else
    make_text english README.md docs/*.md bench/README.md && KINDS+=(english)
    make_text code libtok/*.[ch] engine/*.[ch] pipeline/*.[ch] cli/*.[ch] && KINDS+=(code)
    TEXT_NOTE="texts: repository docs and sources (no \$SHARED corpus: multilingual skipped)"
fi

# ---- 3. who is present ------------------------------------------------------------
field() { # field LINE KEY: the value of key=value in a result line
    local kv
    for kv in $1; do [ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }; done
}
note=()
have_node=0; command -v node >/dev/null 2>&1 && have_node=1
have_tiktoken=0; have_hf=0; have_quicktok=0; have_tok=0
if [ $have_node = 1 ] && [ -f "$NM/tiktoken/package.json" ]; then have_tiktoken=1
else note+=("tiktoken (npm): $MISSING"); fi
if [ $have_node = 1 ] && [ -f "$NM/tokenizers/package.json" ]; then have_hf=1
else note+=("HF tokenizers (npm): $MISSING"); fi
hf_json() { # tokenizer.json equal to the tiktoken encoding, from the shared fixtures
    case $1 in
        cl100k_base) echo "$SHARED/tokenizers/hf_cl100k/tokenizer.json" ;;
        o200k_base) echo "$SHARED/tokenizers/hf_o200k/tokenizer.json" ;;
        *) echo /nonexistent ;;
    esac
}
QT_BIN=$WORK/quicktok_bench
if [ -f "$QUICKTOK_DIR/include/quicktok.hpp" ]; then
    if [ ! -f "$QUICKTOK_DIR/build/libquicktok.a" ]; then
        make -C "$QUICKTOK_DIR" lib >"$WORK/qt_build.log" 2>&1
    fi
    if ${CXX:-c++} -O2 -std=c++20 -march=native -I"$QUICKTOK_DIR/include" bench/peers/quicktok_bench.cpp \
         "$QUICKTOK_DIR/build/libquicktok.a" -pthread -o "$QT_BIN" >"$WORK/qt_cc.log" 2>&1; then
        have_quicktok=1
        QT_VERSION=$(cat "$QUICKTOK_DIR/VERSION" 2>/dev/null || echo -)
    else
        note+=("quicktok: found in $QUICKTOK_DIR but our driver did not build: $(head -n 1 "$WORK/qt_cc.log")")
    fi
else
    note+=("quicktok: $MISSING")
fi
tok_err=""
if [ -x "$BT" ]; then
    have_tok=1
else
    tok_err="tok: $BT was not built (libtok's public API does not link yet?)"
fi

# ---- 4. measuring ------------------------------------------------------------------
declare -A R   # R["impl enc kind"] = result line
declare -A RL  # every result line of that key, one per round
# pick_median KEY FIELD: R[KEY] becomes the round whose FIELD is the median.
pick_median() {
    local lines=${RL["$1"]:-} n
    [ -n "$lines" ] || return 0
    n=$(printf '%s' "$lines" | grep -c '^result ')
    R["$1"]=$(printf '%s' "$lines" | awk -v f="$2" '{ for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) print substr($i, length(f) + 2), $0 }' \
        | sort -g | awk -v m=$(( (n + 1) / 2 )) 'NR == m { $1 = ""; sub(/^ /, ""); print }')
}
# measure IMPL ENC KIND ARGS...: runs one program, keeps its result line.
measure() {
    local impl=$1 enc=$2 kind=$3; shift 3
    local out pin=("${PIN[@]}")
    [ "${UNPINNED:-0}" = 1 ] && pin=()
    out=$(timeout "$TIMEOUT" "${pin[@]}" "$@" 2>"$WORK/err")
    local rc=$?
    out=$(printf '%s\n' "$out" | grep '^result ' | tail -n 1)
    if [ $rc -eq 0 ] && [ -n "$out" ]; then
        R["$impl $enc $kind"]=$out
        RL["$impl $enc $kind"]+="$out"$'\n'
    else
        local why
        why=$(head -n 1 "$WORK/err")
        [ $rc -eq 124 ] && why="timed out after ${TIMEOUT}s"
        note+=("$impl $enc $kind: failed (status $rc): $why")
    fi
}
run_tok()      { measure tok "$1" "$2" "$BT" --encoding "$1" --file "$WORK/$2.txt" --runs "$FAST_RUNS" "${@:3}"; }
run_tiktoken() { measure tiktoken "$1" "$2" node bench/peers/npm_peer.js --nm "$NM" --peer tiktoken --encoding "$1" --file "$WORK/$2.txt" --runs "$RUNS"; }
run_hf()       { RAYON_NUM_THREADS=1 measure hf "$1" "$2" node bench/peers/npm_peer.js --nm "$NM" --peer hf --tok "$(hf_json "$1")" --encoding "$1" --file "$WORK/$2.txt" --runs "$RUNS"; }
run_quicktok() { measure quicktok "$1" "$2" "$QT_BIN" --data "$QUICKTOK_DIR/data" --encoding "$1" --file "$WORK/$2.txt" --runs "$FAST_RUNS" "${@:3}"; }

echo "== tokenizer throughput ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$TEXT_NOTE; $(for k in "${KINDS[@]}"; do printf '%s %s bytes; ' "$k" "$(stat -c %s "$WORK/$k.txt")"; done)"
echo "documents of at most 65536 bytes cut at line ends; MB/s = 1e6 input bytes per second of encode calls,"
echo "by $CLOCK_NOTE;"
echo "median of timed passes after a warm-up pass over the first ~1 MB: $RUNS for the npm peers, $FAST_RUNS for tok and quicktok;"
echo "tok and quicktok run alternately $ROUNDS times each (BENCH_ROUNDS), the round with the median figure shown"
echo "single-thread runs: $([ ${#PIN[@]} -gt 0 ] && echo "pinned to CPU ${BENCH_CPU:-0} (${PIN[*]}; BENCH_CPU)" || echo "not pinned")"
echo

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
for enc in $ENCODINGS; do
    hf_ok=$have_hf
    if [ $have_hf = 1 ] && [ ! -f "$(hf_json "$enc")" ]; then
        hf_ok=0; note+=("HF tokenizers $enc: no tokenizer.json ($(hf_json "$enc"))")
    fi
    for kind in "${KINDS[@]}"; do
        # tok and quicktok (the close race) alternate, ROUNDS times each,
        # the first of each round swapping: this machine's speed drifts over
        # seconds, and paired rounds let both see the same drift.
        for ((r = 0; r < ROUNDS; r++)); do
            if [ $((r % 2)) = 0 ]; then
                [ $have_tok = 1 ] && run_tok "$enc" "$kind"; [ $have_quicktok = 1 ] && run_quicktok "$enc" "$kind"
            else
                [ $have_quicktok = 1 ] && run_quicktok "$enc" "$kind"; [ $have_tok = 1 ] && run_tok "$enc" "$kind"
            fi
        done
        pick_median "tok $enc $kind" "$MB"; pick_median "quicktok $enc $kind" "$MB"
        [ $have_tiktoken = 1 ] && run_tiktoken "$enc" "$kind"
        [ $hf_ok = 1 ] && run_hf "$enc" "$kind"
    done
    # The table: one column per implementation that produced at least one figure.
    cols=()
    for impl in tok tiktoken hf quicktok; do
        for kind in "${KINDS[@]}"; do [ -n "${R["$impl $enc $kind"]:-}" ] && { cols+=("$impl"); break; }; done
    done
    echo "### $enc: MB/s, single thread ($MB)"
    hdr="| text | MB |"; sep="|---|---:|"
    for impl in "${cols[@]}"; do
        case $impl in
            tok) name="tok" ;;
            tiktoken) name="tiktoken (npm $(field "$(printf '%s\n' "${R[@]}" | grep -m1 'impl=tiktoken')" version))" ;;
            hf) name="HF tokenizers (npm $(field "$(printf '%s\n' "${R[@]}" | grep -m1 'impl=hf')" version))" ;;
            quicktok) name="quicktok $QT_VERSION" ;;
        esac
        hdr+=" $name |"; sep+="---:|"
    done
    hdr+=" tok / fastest peer |"; sep+="---:|"
    echo "$hdr"; echo "$sep"
    for kind in "${KINDS[@]}"; do
        ref=${R["tok $enc $kind"]:-}
        [ -z "$ref" ] && for impl in tiktoken quicktok hf; do ref=${R["$impl $enc $kind"]:-}; [ -n "$ref" ] && break; done
        row="| $kind | $(awk -v b="$(stat -c %s "$WORK/$kind.txt")" 'BEGIN{printf "%.1f", b/1e6}') |"
        best=0; tokmb=0
        for impl in "${cols[@]}"; do
            line=${R["$impl $enc $kind"]:-}
            if [ -z "$line" ]; then row+=" failed |"; continue; fi
            mb=$(field "$line" $MB); cell=$mb
            # Same ids as the reference line (tok's when it ran), or flagged.
            if [ "$(field "$line" idsum) $(field "$line" tokens)" != "$(field "$ref" idsum) $(field "$ref" tokens)" ]; then
                cell="$mb (ids differ!)"
                note+=("IDS DIFFER: $impl $enc $kind: $(field "$line" tokens) tokens, idsum $(field "$line" idsum); reference $(field "$ref" impl): $(field "$ref" tokens) tokens, idsum $(field "$ref" idsum)")
            fi
            row+=" $cell |"
            if [ "$impl" = tok ]; then tokmb=$mb
            elif awk -v a="$mb" -v b="$best" 'BEGIN{exit !(a > b)}'; then best=$mb; fi
        done
        if [ -n "${R["tok $enc $kind"]:-}" ] && [ "$best" != 0 ]; then row+=" $(ratio "$tokmb" "$best") |"; else row+=" - |"; fi
        echo "$row"
    done
    echo
    # The figures above are of repeated passes, where caches that live
    # across calls (tok's piece cache, quicktok's merge memos, HF's word
    # cache) are warm. The checksum pass before them meets every piece for
    # the first time: its CPU MB/s, from the same median rounds.
    if [ $have_tok = 1 ] && [ $have_quicktok = 1 ]; then
        echo "$enc, first pass over each text (cold caches), CPU MB/s:"
        for kind in "${KINDS[@]}"; do
            a=$(field "${R["tok $enc $kind"]:-}" first_cpu_mb_s); b=$(field "${R["quicktok $enc $kind"]:-}" first_cpu_mb_s)
            printf '  %-13s tok %7s  quicktok %7s  %s\n' "$kind" "${a:--}" "${b:--}" "$(ratio "${a:-0}" "${b:-0}")"
        done
        echo
    fi
done

# ---- 5. batch scaling ---------------------------------------------------------------
enc1=${ENCODINGS%% *}
echo "### $enc1: many documents (8192-byte documents), 1 and 2 threads, MB/s by wall-clock time"
if [ $have_tok = 1 ] || [ $have_quicktok = 1 ]; then
    hdr="| text |"; sep="|---|"
    [ $have_tok = 1 ] && { hdr+=" tok 1 thread | tok 2 threads | speedup |"; sep+="---:|---:|---:|"; }
    [ $have_quicktok = 1 ] && { hdr+=" quicktok 1 thread | quicktok 2 threads | speedup |"; sep+="---:|---:|---:|"; }
    echo "$hdr"; echo "$sep"
    for kind in "${KINDS[@]}"; do
        row="| $kind |"
        for impl in tok quicktok; do
            [ $impl = tok ] && [ $have_tok = 0 ] && continue
            [ $impl = quicktok ] && [ $have_quicktok = 0 ] && continue
            for th in 1 2; do
                unset 'RL['"$impl $enc1 $kind"']'
                for ((r = 0; r < ROUNDS; r++)); do
                    UNPINNED=$([ "$th" -gt 1 ] && echo 1 || echo 0) \
                        "run_$impl" "$enc1" "$kind" --chunk 8192 --threads "$th" $([ $impl = tok ] && echo --mode batch)
                done
                pick_median "$impl $enc1 $kind" mb_s
                R["$impl-b$th $enc1 $kind"]=${R["$impl $enc1 $kind"]:-}; unset 'R['"$impl $enc1 $kind"']'
            done
            a=$(field "${R["$impl-b1 $enc1 $kind"]:-}" mb_s); b=$(field "${R["$impl-b2 $enc1 $kind"]:-}" mb_s)
            row+=" ${a:-failed} | ${b:-failed} | $( [ -n "$a" ] && [ -n "$b" ] && ratio "$b" "$a" || echo -) |"
        done
        echo "$row"
    done
else
    echo "(neither tok nor quicktok ran)"
fi
echo

# ---- 6. worst case ---------------------------------------------------------------------
echo "### worst case: one document of ~1,000,000 bytes of one repeated character, ms (median of 3, $SECS)"
head -c 1000000 /dev/zero | tr '\0' 'a' >"$WORK/run_a.txt"
head -c 1000000 /dev/zero | tr '\0' ' ' >"$WORK/run_space.txt"
head -c 1000000 /dev/zero | tr '\0' '7' >"$WORK/run_digit.txt"
yes 'é' | tr -d '\n' | head -c 1000000 >"$WORK/run_e.txt"     # 2-byte UTF-8
yes '中' | tr -d '\n' | head -c 999999 >"$WORK/run_zh.txt"    # 3-byte UTF-8
echo "| encoding | text | tok ms |$([ $have_quicktok = 1 ] && echo " quicktok ms |")"
echo "|---|---|---:|$([ $have_quicktok = 1 ] && echo "---:|")"
for enc in $ENCODINGS; do
    for w in run_a run_space run_digit run_e run_zh; do
        case $w in
            run_a) label="'a' x 1e6" ;; run_space) label="' ' x 1e6" ;; run_digit) label="'7' x 1e6" ;;
            run_e) label="'é' x 5e5" ;; run_zh) label="'中' x 333,333" ;;
        esac
        row="| $enc | $label |"
        for impl in tok quicktok; do
            [ $impl = tok ] && [ $have_tok = 0 ] && { row+=" - |"; continue; }
            [ $impl = quicktok ] && [ $have_quicktok = 0 ] && continue
            saved=$FAST_RUNS; FAST_RUNS=3; "run_$impl" "$enc" "$w" --chunk 0; FAST_RUNS=$saved
            line=${R["$impl $enc $w"]:-}
            row+=" $([ -n "$line" ] && awk -v s="$(field "$line" $SECS)" 'BEGIN{printf "%.1f", s*1000}' || echo failed) |"
        done
        echo "$row"
        if [ $have_tok = 1 ] && [ $have_quicktok = 1 ] && [ -n "${R["tok $enc $w"]:-}" ] && [ -n "${R["quicktok $enc $w"]:-}" ] &&
           [ "$(field "${R["tok $enc $w"]}" idsum)" != "$(field "${R["quicktok $enc $w"]}" idsum)" ]; then
            note+=("IDS DIFFER: worst case $enc $w: tok $(field "${R["tok $enc $w"]}" tokens) tokens, quicktok $(field "${R["quicktok $enc $w"]}" tokens)")
        fi
    done
done
echo

# ---- 7. streaming count of a large file ---------------------------------------------------
if [ "$BIG_MB" -gt 0 ] && [ ${#KINDS[@]} -gt 0 ]; then
    echo "### streaming count of a ${BIG_MB} MB file (${KINDS[0]} text repeated), $enc1"
    big=$WORK/big.txt; want=$((BIG_MB * 1000000)); size=0
    # Doubling keeps generation to a few dozen cat calls.
    cp "$WORK/${KINDS[0]}.txt" "$big"
    while [ "$(stat -c %s "$big")" -lt $((want / 2)) ]; do cat "$big" "$big" >"$big.2" && mv "$big.2" "$big"; done
    while [ "$size" -lt "$want" ]; do cat "$WORK/${KINDS[0]}.txt" >>"$big"; size=$(stat -c %s "$big"); done
    echo "file: $(stat -c %s "$big") bytes"
    # peak_rss CMD...: runs CMD (stdout to $WORK/out), prints
    # "WALL_S PEAK_KIB CPU_S" (CPU_S is "-" when only /proc could be read).
    peak_rss() {
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" timeout "$TIMEOUT" "$@" >"$WORK/out" 2>"$WORK/err" || return 1
            awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$WORK/time"
        else # poll the high-water mark in /proc
            local t0 hwm=0 h pid
            t0=$(date +%s.%N)
            "$@" >"$WORK/out" 2>"$WORK/err" & pid=$!
            while kill -0 $pid 2>/dev/null; do
                h=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null); [ -n "$h" ] && hwm=$h; sleep 0.05
            done
            wait $pid || return 1
            echo "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') $hwm -"
        fi
    }
    cli_ok=0
    if [ -x "$BUILD/tok" ] && "$BUILD/tok" count --help >/dev/null 2>&1; then
        if tr=$(peak_rss "$BUILD/tok" count -t "$enc1" "$big"); then
            set -- $tr
            cli_ok=1
            bytes=$(stat -c %s "$big")
            echo "tok count -t $enc1 FILE: wall $1 s ($(awk -v b="$bytes" -v s="$1" 'BEGIN{printf "%.1f", b/1e6/s}') MB/s), CPU $3 s ($(awk -v b="$bytes" -v s="$3" 'BEGIN{if (s > 0) printf "%.1f", b/1e6/s; else printf "-"}') MB/s), peak RSS $(( $2 / 1024 )) MiB"
            echo "output: $(head -c 300 "$WORK/out" | tr -s ' \n' '  ')"
        else
            echo "tok count: failed: $(head -n 1 "$WORK/err")"
        fi
    else
        echo "tok count: the command is not available in $BUILD/tok yet"
    fi
    if [ $have_tok = 1 ]; then
        # The library's own figure only when the command could not give one
        # (it streams through the same tok_counter, and the file takes minutes).
        if [ $cli_ok = 0 ]; then
            if line=$(timeout "$TIMEOUT" "$BT" --encoding "$enc1" --file "$big" --mode stream 2>"$WORK/err"); then
                echo "tok_counter (library, 1 MiB reads): $(field "$line" median_s) s, $(field "$line" mb_s) MB/s, $(field "$line" tokens) tokens, peak RSS $(( $(field "$line" peak_rss_kib) / 1024 )) MiB"
            else
                echo "tok_counter: failed: $(head -n 1 "$WORK/err")"
            fi
        fi
        # The streamed count must equal a whole-text count: checked on the first
        # text against quicktok (one document), when present.
        if [ $have_quicktok = 1 ] && s=$("$BT" --encoding "$enc1" --file "$WORK/${KINDS[0]}.txt" --mode stream 2>/dev/null) &&
           q=$("$QT_BIN" --data "$QUICKTOK_DIR/data" --encoding "$enc1" --file "$WORK/${KINDS[0]}.txt" --chunk 0 --runs 1 2>/dev/null); then
            if [ "$(field "$s" tokens)" = "$(field "$q" tokens)" ]; then
                echo "check: tok_counter on the ${KINDS[0]} text = quicktok whole-text count ($(field "$q" tokens) tokens)"
            else
                note+=("COUNT DIFFERS: tok_counter $(field "$s" tokens) vs quicktok whole text $(field "$q" tokens) on ${KINDS[0]}")
            fi
        fi
    fi
    rm -f "$big"
    echo
fi

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (figures taken while other work ran are lower and noisier)"
echo

# ---- notes ------------------------------------------------------------------------------------
[ -n "$tok_err" ] && note=("$tok_err" "${note[@]}")
if [ ${#note[@]} -gt 0 ]; then
    echo "notes:"
    for n in "${note[@]}"; do echo "- $n"; done
fi
exit 0
