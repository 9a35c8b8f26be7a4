#!/usr/bin/env bash
# Long fuzzing runs by hand: builds the libFuzzer targets of fuzz/ in the
# AddressSanitizer tree (build-asan, STRATA_FUZZ=ON: as scripts/test.sh makes
# it) and runs each, one after the other, for $1 seconds (default 60):
#   fuzz/run.sh [seconds] [target]     targets: properties.h's kTargets
# New inputs go to build-asan/fuzz-long/<target>/corpus (keep the good ones
# by copying them to fuzz/corpus/<target>/), crashes to
# build-asan/fuzz-long/<target>/crash-* (copy them to
# fuzz/regressions/<target>/ with the fix). The last lines of each log are
# libFuzzer's final stats (executions, exec/s, coverage).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
only="${2:-}"
dir="$root/${STRATA_FUZZ_BUILD_DIR:-build-asan}"
if ! grep -q '^STRATA_FUZZ:BOOL=ON' "$dir/CMakeCache.txt" 2>/dev/null; then
  echo "run.sh: $dir is not configured with STRATA_FUZZ=ON; make it with" >&2
  echo "  STRATA_TREES=address STRATA_SKIP_PACKAGING=1 bash scripts/test.sh -L fuzz" >&2
  exit 2
fi
targets=(manifest snapshot entries sigv4 xml http wal_open)
[[ -n "$only" ]] && targets=("$only")
for t in "${targets[@]}"; do
  cmake --build "$dir" -j"$(nproc)" --target "fuzz_$t" >/dev/null
done
max_len() { sed -n "s/^set(fuzz_max_len_$1 \([0-9]*\))/\1/p" "$root/fuzz/CMakeLists.txt"; }
for t in "${targets[@]}"; do
  work="$dir/fuzz-long/$t"
  mkdir -p "$work/corpus"
  echo "== $t: $secs s" >&2
  "$dir/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$root/fuzz/corpus/$t" \
    >"$work/log" 2>&1 || echo "run.sh: $t stopped with a failure: see $work/log" >&2
  grep -E '^(stat::|#[0-9]+[[:space:]]+DONE)' "$work/log" | sed "s/^/$t: /" >&2 || true
done
