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
# The data is what `strata bench recover` builds and uploads (ENTRY_BYTES
# payloads: SNAP_BYTES of creates in a snapshot, then LOG_BYTES of updates of
# the same paths after it); the command's own timings (in process) are kept
# in the output as "bench". Then each case runs REPEAT times, interleaved, as
# whole processes (wall-clock milliseconds, start-up included), and the
# median is reported. With STRATA_BEFORE=path/to/an/older/strata, each
# restore also runs with that binary next to the new one (first in odd
# repeats, second in even ones), on the same data, and the pairwise ratios
# new/old are reported.
# Each r2 restore goes into a new directory (about 125 MB each, all removed
# at the end); the local restore deletes state/ just before, as its case
# says, and pays for that on a file system without a journal.
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

# The data: built and uploaded once by the new binary, kept for the runs below.
"$strata" --data-dir "$work/home" bench recover --keep --json --dir "$work/b" --repeat 1 \
  --entry-bytes "$entry_bytes" --snapshot-kib $((snap_bytes / 1024)) --log-kib $((log_bytes / 1024)) \
  >"$work/bench.json" 2>"$work/bench.err" || { cat "$work/bench.err" >&2; exit 1; }
data="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["data_dir"])' "$work/bench.json")"
prefix="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["key_prefix"])' "$work/bench.json")"
export R2_PREFIX="$prefix"
n_snap=$((snap_bytes / entry_bytes))
n_log=$((log_bytes / entry_bytes))
echo "data: $n_snap entries in the snapshot, $n_log after it ($entry_bytes-byte payloads) under $prefix; s3rver holds $(du -sm "$work/s3" | cut -f1) MB" >&2

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
binaries=(new)
[[ -n "${STRATA_BEFORE:-}" ]] && binaries=(old new)
bin_of() { if [[ "$1" == old ]]; then echo "$STRATA_BEFORE"; else echo "$strata"; fi; }
for r in $(seq "$repeat"); do
  # The order within a pair alternates: the second restore of a pair starts
  # right after the first one's files were deleted, which makes creates
  # slower on this machine's ext4.
  order=("${binaries[@]}")
  ((r % 2 == 0 && ${#binaries[@]} == 2)) && order=(new old)
  for b in "${order[@]}"; do
    # A new directory each time, all removed at the end: deleting the
    # previous target here would make this restore's creates pay for it
    # (ext4 without a journal passes over inodes freed in the last minute,
    # docs/performance.md), which a restore onto a new host does not.
    t0=$(now_ms)
    "$(bin_of "$b")" --data-dir "$data" recover --target "$work/target-$r-$b" --json >"$work/r2-$b.json"
    times[r2-$b]+="$(($(now_ms) - t0)) "
  done
  t0=$(now_ms)
  node "$root/bench/sdk_download.js" "$endpoint" "$bucket" "$key" "$secret" 8 "$prefix" >"$work/sdk.json"
  times[sdk]+="$(($(now_ms) - t0)) "
  for b in "${order[@]}"; do
    rm -rf "$work/local"
    cp -a "$data" "$work/local"
    rm -rf "$work/local/state" "$work/local/state.seq"
    unset R2_ENDPOINT
    t0=$(now_ms)
    "$(bin_of "$b")" --data-dir "$work/local" recover --json >"$work/local-$b.json"
    times[local-$b]+="$(($(now_ms) - t0)) "
    export R2_ENDPOINT="$endpoint"
  done
done
payload_bytes=$(( (n_snap + n_log) * entry_bytes ))
python3 - "$work" "$payload_bytes" "${times[r2-new]}" "${times[sdk]}" "${times[local-new]}" \
  "${times[r2-old]:-}" "${times[local-old]:-}" <<'PY'
import json, statistics, sys
w, payload = sys.argv[1], int(sys.argv[2])
runs = lambda s: [int(x) for x in s.split()]
r2, sdk, loc, r2_old, loc_old = (runs(a) for a in sys.argv[3:8])
med = lambda v: int(statistics.median_low(v)) if v else None
a = json.load(open(f"{w}/r2-new.json")); s = json.loads(open(f"{w}/sdk.json").read())
l = json.load(open(f"{w}/local-new.json"))
assert a["source"] == "r2" and a["verified"], a
assert l["source"] == "local", l
out = {"name": "recover_vs_sdk", "strata_r2_ms": med(r2), "sdk_ms": med(sdk),
       "ratio_to_sdk": round(med(r2) / med(sdk), 3),
       "ratio_to_sdk_pairs": [round(x / y, 3) for x, y in zip(r2, sdk)],
       "r2_objects": a["objects_downloaded"], "r2_bytes": a["bytes_downloaded"],
       "sdk_objects": s["objects"], "sdk_bytes": s["bytes"], "entries_restored": a["entries_restored"],
       "local_ms": med(loc), "local_entries_replayed": l["entries_replayed"], "payload_bytes": payload,
       "local_mb_per_s": round(payload / 1e6 / (med(loc) / 1000), 1),
       "runs_ms": {"r2": r2, "sdk": sdk, "local": loc},
       "bench": [json.loads(x) for x in open(f"{w}/bench.json") if x.strip()]}
if r2_old:
    ao = json.load(open(f"{w}/r2-old.json")); lo = json.load(open(f"{w}/local-old.json"))
    assert ao["source"] == "r2" and ao["verified"], ao
    assert lo["source"] == "local", lo
    out["before"] = {"runs_ms": {"r2": r2_old, "local": loc_old},
                     "r2_new_over_old": [round(x / y, 3) for x, y in zip(r2, r2_old)],
                     "local_new_over_old": [round(x / y, 3) for x, y in zip(loc, loc_old)]}
for b in out["bench"]:
    for k in ("data_dir", "key_prefix"):
        b.pop(k, None)
print(json.dumps(out))
PY
