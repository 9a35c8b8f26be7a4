#!/usr/bin/env bash
# Durable appends over HTTP next to the same load through the library, in one
# run on this machine (issue 13's closing figures), plus the daemon's idle CPU
# and memory:
#   - HTTP: `strata serve` with WAL_SYNC=always, driven by wrk (Debian's
#     package) with bench/http_post.lua: 32 keep-alive connections, one
#     256-byte entry per POST /v1/entries;
#   - library: `strata bench append --sync always --threads 32 --size 256`;
#   - alternated HTTP, library, HTTP, library (each `seconds` long) so drift
#     of the shared machine hits both;
#   - idle: after the load, CPU time (utime+stime) of the daemon over
#     `idle_seconds` and its resident set.
# Prints one JSON object per measurement and a summary line.
#
#   bench/http_append.sh [build_dir] [data_dir] [seconds] [idle_seconds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
data="${2:-$build/bench-http}"
secs="${3:-10}"
idle="${4:-30}"
command -v wrk >/dev/null || { echo "http_append.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
rm -rf "$data"
mkdir -p "$data"
if [[ "$(stat -f -c %T "$data")" == tmpfs ]]; then
  echo "http_append.sh: $data is on tmpfs; fsync figures would be meaningless" >&2
  exit 1
fi
strata="$build/strata"

DATA_DIR="$data/http" WAL_SYNC=always STRATA_LISTEN=127.0.0.1:0 GIT_SYNC_INTERVAL_MS=86400000 \
  LOG_LEVEL=warn "$strata" serve 2>"$data/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do
  [[ -s "$data/http/serve.json" ]] && break
  sleep 0.1
done
url="$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$data/http/serve.json")"
[[ -n "$url" ]] || { echo "http_append.sh: the daemon did not start" >&2; cat "$data/serve.log" >&2; exit 1; }

http_run() {
  local out
  out="$(wrk -t2 -c32 -d"${secs}s" --latency -s "$root/bench/http_post.lua" "$url/v1/entries")"
  local rps p50 p99 non2xx
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  printf '{"name":"http_append","connections":32,"entry_bytes":256,"sync":"always","seconds":%s,"ops_per_s":%s,"p50":"%s","p99":"%s","non_2xx":%s}\n' \
    "$secs" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
lib_run() {
  "$strata" --data-dir "$data/lib" bench append --sync always --threads 32 --size 256 \
    --seconds "$secs" --no-baseline --json
  rm -rf "$data/lib"
}

results=()
for round in 1 2; do
  results+=("$(http_run)")
  echo "${results[-1]}"
  results+=("$(lib_run)")
  echo "${results[-1]}"
done

# At rest: no client connected, the tiers on their (long) intervals.
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0="$(ticks)"
sleep "$idle"
t1="$(ticks)"
hz="$(getconf CLK_TCK)"
rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
idle_line="$(printf '{"name":"http_idle","seconds":%s,"cpu_percent_of_core":%s,"rss_mib":%s}' "$idle" \
  "$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$idle" 'BEGIN {printf "%.3f", (b - a) * 100 / hz / s}')" \
  "$(awk -v k="$rss_kb" 'BEGIN {printf "%.1f", k / 1024}')")"
echo "$idle_line"

python3 - "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:]]
http = [r["ops_per_s"] for r in rows if r["name"] == "http_append"]
lib = [r["ops_per_s"] for r in rows if r["name"] != "http_append"]
print(json.dumps({"name": "http_vs_library", "http_ops_per_s": http, "library_ops_per_s": lib,
                  "ratio_of_means": round(sum(http) / len(http) / (sum(lib) / len(lib)), 3)}))
PY
