#!/usr/bin/env bash
# Runs every unit test program and every CLI test script; prints one line per
# test and closes with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export TOK="$PWD/$BUILD/tok" TOK_DATA_DIR="$PWD/data" BUILD
export SHARED=${SHARED:-$PWD/../shared}
passed=0; failed=0; failed_names=()
log=$(mktemp -d)
run() { # name, command...
    local name=$1; shift
    local t0=$(date +%s.%N)
    if "$@" >"$log/out" 2>&1; then
        passed=$((passed+1)); printf 'ok    %-40s %6.2fs\n' "$name" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
    else
        failed=$((failed+1)); failed_names+=("$name"); printf 'FAIL  %s\n' "$name"; tail -n 40 "$log/out" | sed 's/^/      /'
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run "$(basename "$t")" "$t"
done
for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    run "cli/$(basename "$s" .sh)" bash "$s"
done
rm -rf "$log"
[ ${#failed_names[@]} -gt 0 ] && printf 'failed: %s\n' "${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
