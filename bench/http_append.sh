#!/usr/bin/env bash
# Durable appends over HTTP next to the same load through the library, in one
# run on this machine (issue 13's closing figures), plus the daemon's idle CPU
# and memory:
#   - HTTP: `strata serve` with WAL_SYNC=<mode>, driven by wrk (Debian's
#     package) with bench/http_post.lua: C keep-alive connections, one
#     256-byte entry per POST /v1/entries;
#   - library: `strata bench append --sync <mode> --threads C --size 256`;
#   - for each sync mode (SYNCS, default "always interval") and connection
#     count (CONNS, default "8 32 128"): HTTP then library, ROUNDS times
#     (default 2), so drift of the shared machine hits both;
#   - with BEFORE=<another strata binary> (an older build), each round
#     first drives that binary's daemon the same way ("build":"before"), for
#     before/after ratios measured in the same minutes;
#   - idle: after the load, CPU time (utime+stime) of the daemon over
#     `idle_seconds` and its resident set, then the same with 32 idle
#     keep-alive connections open (each made one request, then waits).
# Prints one JSON object per measurement and one ratio line per (mode, C).
#
#   [SYNCS=...] [CONNS=...] [ROUNDS=N] [BEFORE=old/strata] bench/http_append.sh [build_dir] [data_dir] [seconds] [idle_seconds]
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

syncs="${SYNCS:-always interval}"
conns="${CONNS:-8 32 128}"
rounds="${ROUNDS:-2}"
before="${BEFORE:-}"
pid=""
before_pid=""
stop_all() {
  local p
  for p in $pid $before_pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
trap 'stop_all; rm -rf "$data"' EXIT

launch() {  # launch SYNC_MODE BINARY DIR: starts a daemon, sets launched_pid and launched_url
  rm -rf "$3"
  DATA_DIR="$3" WAL_SYNC="$1" STRATA_LISTEN=127.0.0.1:0 GIT_SYNC_INTERVAL_MS=86400000 \
    SYNC_INTERVAL_MS=86400000 STRATA_MAX_CONNECTIONS=512 STRATA_IDLE_TIMEOUT_MS=600000 LOG_LEVEL=warn \
    "$2" serve 2>"$3.log" &
  launched_pid=$!
  for _ in $(seq 1 300); do
    [[ -s "$3/serve.json" ]] && break
    sleep 0.1
  done
  launched_url="$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$3/serve.json")"
  [[ -n "$launched_url" ]] || { echo "http_append.sh: the daemon did not start" >&2; cat "$3.log" >&2; exit 1; }
}
start_daemon() {  # start_daemon SYNC_MODE
  launch "$1" "$strata" "$data/http"
  pid=$launched_pid
  url=$launched_url
  if [[ -n "$before" ]]; then
    launch "$1" "$before" "$data/http-before"
    before_pid=$launched_pid
    before_url=$launched_url
  fi
}
stop_daemon() {
  local p
  for p in $before_pid $pid; do
    kill -TERM "$p"
    wait "$p" || { echo "http_append.sh: the daemon exited with $?" >&2; cat "$data"/http*.log >&2; exit 1; }
  done
  pid=""
  before_pid=""
}

http_run() {  # http_run SYNC_MODE CONNECTIONS [URL LABEL]
  local out threads=2 target="${3:-$url}" label="${4:-after}"
  (( $2 < threads )) && threads=$2
  out="$(wrk -t"$threads" -c"$2" -d"${secs}s" --latency -s "$root/bench/http_post.lua" "$target/v1/entries")"
  local rps p50 p99 non2xx errors
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  errors="$(awk '/Socket errors/ {print}' <<<"$out")"
  printf '{"name":"http_append","build":"%s","connections":%s,"entry_bytes":256,"sync":"%s","seconds":%s,"ops_per_s":%s,"p50":"%s","p99":"%s","non_2xx":%s,"socket_errors":"%s"}\n' \
    "$label" "$2" "$1" "$secs" "$rps" "$p50" "$p99" "${non2xx:-0}" "$errors"
}
lib_run() {  # lib_run SYNC_MODE THREADS
  "$strata" --data-dir "$data/lib" bench append --sync "$1" --threads "$2" --size 256 \
    --seconds "$secs" --no-baseline --json
  rm -rf "$data/lib"
}

ratio() {  # ratio SYNC C ROWS...: mean HTTP rate over mean library rate
  python3 - "$@" <<'PY'
import json, sys
mode, c, rows = sys.argv[1], int(sys.argv[2]), [json.loads(a) for a in sys.argv[3:]]
http = [r["ops_per_s"] for r in rows if r["name"] == "http_append" and r["build"] == "after"]
old = [r["ops_per_s"] for r in rows if r["name"] == "http_append" and r["build"] == "before"]
lib = [r["ops_per_s"] for r in rows if r["name"] != "http_append"]
mean = lambda xs: sum(xs) / len(xs)
out = {"name": "http_vs_library", "sync": mode, "connections": c,
       "http_ops_per_s": http, "library_ops_per_s": lib,
       "ratio_of_means": round(mean(http) / mean(lib), 3)}
if old:
    out["before_http_ops_per_s"] = old
    out["before_ratio_of_means"] = round(mean(old) / mean(lib), 3)
    out["after_over_before"] = [round(a / b, 3) for a, b in zip(http, old)]
print(json.dumps(out))
PY
}

summary=()
for mode in $syncs; do
  start_daemon "$mode"
  for c in $conns; do
    rows=()
    for _ in $(seq 1 "$rounds"); do
      if [[ -n "$before" ]]; then
        rows+=("$(http_run "$mode" "$c" "$before_url" before)")
        echo "${rows[-1]}"
      fi
      rows+=("$(http_run "$mode" "$c")")
      echo "${rows[-1]}"
      rows+=("$(lib_run "$mode" "$c")")
      echo "${rows[-1]}"
    done
    summary+=("$(ratio "$mode" "$c" "${rows[@]}")")
  done
  # The last mode's daemon stays up for the idle measurement.
  [[ "$mode" == "${syncs##* }" ]] || stop_daemon
done
if [[ -n "$before_pid" ]]; then
  kill -TERM "$before_pid"
  wait "$before_pid" || true
  before_pid=""
fi

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

# At rest with clients attached: 32 keep-alive connections that made one
# request each and stay open (STRATA_IDLE_TIMEOUT_MS is raised above).
port="${url##*:}"
python3 - "$port" "$pid" "$idle" "$hz" <<'PY'
import json, socket, sys, time
port, pid, secs, hz = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
conns = []
for _ in range(32):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    conns.append(s)
time.sleep(1)
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t0 = ticks()
time.sleep(secs)
t1 = ticks()
print(json.dumps({"name": "http_idle_keepalive", "connections": len(conns), "seconds": secs,
                  "cpu_percent_of_core": round((t1 - t0) * 100 / hz / secs, 3)}))
PY

printf '%s\n' "${summary[@]}"
