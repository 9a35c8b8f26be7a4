#!/usr/bin/env bash
# The power-loss tests of a built tree, run through ctest (so each runs with
# the tree's sanitizer settings), with what the fault-injecting file system
# dealt summed over all of them: the "power-loss points tested" figure of
# docs/reliability.md. Not part of the test command (which runs the same tests
# at their default size).
#
#   scripts/power-loss-figures.sh [BUILD_DIR] [SCALE]
#
# BUILD_DIR defaults to build-asan; SCALE (default 1) multiplies the rounds of
# the tests that take seeds per cut point (STRATA_POWER_LOSS_SCALE).
# Environment: POWER_LOSS_REGEX, the ctest -R of the tests to run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-asan}"
scale="${2:-1}"
regex="${POWER_LOSS_REGEX:-PowerLoss|PowerCut|WalTiers\.|Syncfs|OpenSyncsTheTail|FailedSyncAmongOverlapping}"
[[ -f "$build/CTestTestfile.cmake" ]] || { echo "power-loss-figures: no built tree in $build" >&2; exit 2; }
tally="$(mktemp "${TMPDIR:-/tmp}/strata-power-loss.XXXXXX")"
trap 'rm -f "$tally"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
start=$(date +%s)
STRATA_POWER_LOSS_TALLY="$tally" STRATA_POWER_LOSS_SCALE="$scale" \
  ctest --test-dir "$build" -R "$regex" --output-on-failure -j "$(nproc)" | tail -n 3
python3 - "$tally" "$(($(date +%s) - start))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
tot = {k: sum(r[k] for r in rows) for k in ("cuts", "blocks_reverted", "changes_undone")}
print(f"power loss: {tot['cuts']} cuts simulated in {len(rows)} test processes, "
      f"{tot['blocks_reverted']} unsynced blocks reverted, "
      f"{tot['changes_undone']} unsynced directory changes undone, {sys.argv[2]} s")
PY
