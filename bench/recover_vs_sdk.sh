#!/usr/bin/env bash
# Recovering 100 MB of log plus a 10 MB state snapshot from s3rver, three
# ways in the same run:
#   strata-r2    `strata recover --target` from s3rver (download, SHA-256 and
#                record checks, WAL import, replay into state/, verification)
#   js-sdk       the official AWS SDK for JavaScript v3 downloading the same
#                objects from the same server, 8 at a time (bench/sdk_download.js)
#   strata-local `strata recover` of the same data from the local WAL alone
#                (state/ deleted: the whole log replayed into it in place);
#                local_mb_per_s is payload bytes (all entries) / that time
# The data: ENTRIES_SNAP creates of ENTRY_BYTES (the snapshot), synced with
# --snapshot, then updates of the same paths until LOG_BYTES more (the log
# after it), synced. Wall-clock milliseconds, process start-up included; each
# case runs REPEAT times, interleaved, and the median is reported.
# Not run by CI. Usage: bench/recover_vs_sdk.sh [path/to/strata]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
strata="${1:-${STRATA:-$root/build/strata}}"
repeat="${REPEAT:-3}"
entry_bytes="${ENTRY_BYTES:-4096}"
snap_bytes="${SNAP_BYTES:-10485760}"
log_bytes="${LOG_BYTES:-104857600}"
[[ -x "$strata" ]] || { echo "no strata binary at $strata (pass its path)" >&2; exit 2; }
[[ -d "$root/tests/js/node_modules/s3rver" ]] || { echo "run scripts/bootstrap.sh first (npm ci)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-recover.XXXXXX")"
s3pid=""
cleanup() { [[ -n "$s3pid" ]] && kill "$s3pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

bucket=bench key=BENCHKEY01 secret=bench-secret-0123456789
# s3rver.js stops when its stdin ends: give it a FIFO this shell holds open.
mkfifo "$work/s3rver.in"
exec 9<>"$work/s3rver.in"
node --openssl-legacy-provider "$root/tests/js/s3rver.js" --dir "$work/s3" --bucket "$bucket" \
  --access-key "$key" --secret "$secret" <"$work/s3rver.in" >"$work/s3rver.out" 2>"$work/s3rver.err" &
s3pid=$!
for _ in $(seq 100); do grep -q LISTENING "$work/s3rver.out" 2>/dev/null && break; sleep 0.1; done
port="$(sed -n 's/^LISTENING //p' "$work/s3rver.out")"
[[ -n "$port" ]] || { echo "s3rver did not start: $(cat "$work/s3rver.err")" >&2; exit 1; }
endpoint="http://127.0.0.1:$port"
export R2_ENDPOINT="$endpoint" R2_BUCKET="$bucket" R2_ACCESS_KEY_ID="$key" R2_SECRET_ACCESS_KEY="$secret"
unset R2_PREFIX GIT_REMOTE GIT_REPO_DIR RECOVERY_MODE || true

# JSON lines: n entries of entry_bytes of base64 text (poorly compressible,
# like most real state) over `paths` distinct paths.
entries() { # n paths op
  python3 - "$1" "$2" "$3" "$entry_bytes" <<'PY'
import base64, json, os, sys
n, paths, op, size = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
out = sys.stdout
for i in range(n):
    data = base64.b64encode(os.urandom(size * 3 // 4 + 3)).decode()[:size]
    out.write(json.dumps({"type": "memory", "op": op, "path": f"mem/d{i % 20}/f{i % paths}", "data": data}) + "\n")
PY
}
data="$work/data"
n_snap=$((snap_bytes / entry_bytes))
n_log=$((log_bytes / entry_bytes))
entries "$n_snap" "$n_snap" create | "$strata" --data-dir "$data" append --jsonl >/dev/null
"$strata" --data-dir "$data" materialize >/dev/null
"$strata" --data-dir "$data" sync --snapshot >/dev/null
entries "$n_log" "$n_snap" update | "$strata" --data-dir "$data" append --jsonl >/dev/null
"$strata" --data-dir "$data" sync >/dev/null
"$strata" --data-dir "$data" materialize >/dev/null
echo "data: $n_snap entries in the snapshot, $n_log after it ($entry_bytes-byte payloads); s3rver holds $(du -sm "$work/s3" | cut -f1) MB" >&2

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
for r in $(seq "$repeat"); do
  rm -rf "$work/target"
  t0=$(now_ms)
  "$strata" --data-dir "$data" recover --target "$work/target" --json >"$work/r2.json"
  times[r2]+="$(($(now_ms) - t0)) "
  t0=$(now_ms)
  node "$root/bench/sdk_download.js" "$endpoint" "$bucket" "$key" "$secret" 8 >"$work/sdk.json"
  times[sdk]+="$(($(now_ms) - t0)) "
  rm -rf "$work/local"
  cp -a "$data" "$work/local"
  rm -rf "$work/local/state" "$work/local/state.seq"
  unset R2_ENDPOINT
  t0=$(now_ms)
  "$strata" --data-dir "$work/local" recover --json >"$work/local.json"
  times[local]+="$(($(now_ms) - t0)) "
  export R2_ENDPOINT="$endpoint"
done
r2_ms=$(tr ' ' '\n' <<<"${times[r2]}" | grep . | median)
sdk_ms=$(tr ' ' '\n' <<<"${times[sdk]}" | grep . | median)
local_ms=$(tr ' ' '\n' <<<"${times[local]}" | grep . | median)
payload_bytes=$(( (n_snap + n_log) * entry_bytes ))
python3 - "$work" "$r2_ms" "$sdk_ms" "$local_ms" "${times[r2]}" "${times[sdk]}" "${times[local]}" "$payload_bytes" <<'PY'
import json, sys
w, r2, sdk, loc = sys.argv[1], *map(int, sys.argv[2:5])
a = json.load(open(f"{w}/r2.json")); s = json.loads(open(f"{w}/sdk.json").read()); l = json.load(open(f"{w}/local.json"))
assert a["source"] == "r2" and a["verified"], a
assert l["source"] == "local", l
print(json.dumps({"name": "recover_vs_sdk", "strata_r2_ms": r2, "sdk_ms": sdk, "ratio_to_sdk": round(r2 / sdk, 3),
                  "r2_objects": a["objects_downloaded"], "r2_bytes": a["bytes_downloaded"],
                  "sdk_objects": s["objects"], "sdk_bytes": s["bytes"], "entries_restored": a["entries_restored"],
                  "local_ms": loc, "local_entries_replayed": l["entries_replayed"], "payload_bytes": int(sys.argv[8]),
                  "local_mb_per_s": round(int(sys.argv[8]) / 1e6 / (loc / 1000), 1),
                  "runs_ms": {"r2": sys.argv[5].split(), "sdk": sys.argv[6].split(), "local": sys.argv[7].split()}}))
PY
