#!/usr/bin/env bash
# `strata materialize` of a log of ENTRIES small entries (about 200-byte JSON
# payloads) over PATHS paths in 20 directories (updates, every 50th entry a
# delete), into an empty state/ (a rebuild, as after a restore). With a second
# binary (e.g. one built from an older commit) the two run in turn on the same
# log, REPEAT times each, and the ratio of the medians is printed. Wall-clock
# milliseconds, process start-up included. Both results are checked to be the
# same tree of files.
# Not run by CI. Usage: bench/materialize.sh [path/to/strata [path/to/other-strata]]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
a="${1:-${STRATA:-$root/build/strata}}"
b="${2:-}"
repeat="${REPEAT:-5}"
entries="${ENTRIES:-20000}"
paths="${PATHS:-2000}"
[[ -x "$a" ]] || { echo "no strata binary at $a (pass its path)" >&2; exit 2; }
[[ -z "$b" || -x "$b" ]] || { echo "no strata binary at $b" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-materialize.XXXXXX")"
trap 'rm -rf "$work"' EXIT

python3 - "$entries" "$paths" <<'PY' | "$a" --data-dir "$work/data" append --jsonl >/dev/null
import json, random, sys
n, paths = int(sys.argv[1]), int(sys.argv[2])
random.seed(1)
words = ["alpha", "beta", "gamma", "delta", "epsilon"]
for i in range(n):
    if i % 50 == 49:
        prev = i - 1
        print(json.dumps({"type": "session", "op": "delete", "path": f"sessions/d{prev % 20}/f{prev % paths}.json"}))
    else:
        data = json.dumps({"i": i, "text": " ".join(random.choice(words) for _ in range(30))})
        print(json.dumps({"type": "session", "op": "update", "path": f"sessions/d{i % 20}/f{i % paths}.json", "data": data}))
PY

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tree_digest() { (cd "$1/state" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16); }
# One rebuild into a fresh data directory sharing the log; prints its ms.
one() { # binary name
  local d="$work/run-$2"
  rm -rf "$d" && mkdir "$d" && ln -s "$work/data/wal" "$d/wal"
  local t0
  t0=$(now_ms)
  "$1" --data-dir "$d" materialize >/dev/null
  echo $(($(now_ms) - t0))
}
ta="" tb=""
for _ in $(seq "$repeat"); do
  ta+="$(one "$a" a) "
  [[ -n "$b" ]] && tb+="$(one "$b" b) "
done
ma=$(tr ' ' '\n' <<<"$ta" | grep . | median)
line="{\"name\": \"materialize\", \"entries\": $entries, \"paths\": $paths, \"ms\": $ma, \"runs_ms\": \"${ta% }\""
if [[ -n "$b" ]]; then
  [[ "$(tree_digest "$work/run-a")" == "$(tree_digest "$work/run-b")" ]] ||
    { echo "the two binaries materialized different trees" >&2; exit 1; }
  mb=$(tr ' ' '\n' <<<"$tb" | grep . | median)
  line+=", \"other_ms\": $mb, \"other_runs_ms\": \"${tb% }\", \"ratio_to_other\": $(python3 -c "print(round($ma / $mb, 4))")"
fi
echo "$line}"
