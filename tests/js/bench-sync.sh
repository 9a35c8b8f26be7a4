#!/usr/bin/env bash
# Measures the object-store sync tier against s3rver on this machine, in one
# run (docs/performance.md, "Sync"):
#  1. bytes stored per byte appended, SYNC_COMPRESSION=none and zstd, on
#     JSON-like session data (payload = path + data of each entry);
#  2. wall and CPU time of one `strata sync` of MB megabytes of new log, next
#     to the official JavaScript SDK uploading the very same stored objects
#     to the same s3rver (SYNC_PARALLELISM at a time);
#  3. the requests of a sync with nothing new, counted by the test proxy.
# Usage: tests/js/bench-sync.sh [MB] (default 100). Needs build/strata and
# tests/js/node_modules (scripts/bootstrap.sh). Not part of the test suite.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
strata="${STRATA:-$root/build/strata}"
mb="${1:-100}"
work="$(mktemp -d)"
pids=()
fds=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a node server that prints "LISTENING <port>" and runs until its
# stdin closes (a FIFO this script holds open); sets $port.
start() {
  local name="$1"
  shift
  local out="$work/$name.out" in="$work/$name.in" fd
  mkfifo "$in"
  node "$@" <"$in" >"$out" 2>&1 &
  pids+=("$!")
  exec {fd}>"$in"
  fds+=("$fd")
  for _ in $(seq 100); do
    if grep -q '^LISTENING ' "$out" 2>/dev/null; then
      port="$(sed -n 's/^LISTENING //p' "$out" | head -1)"
      return
    fi
    sleep 0.1
  done
  echo "bench-sync: $name did not start: $(cat "$out")" >&2
  exit 1
}

export R2_ACCESS_KEY_ID=BENCHKEY R2_SECRET_ACCESS_KEY=benchsecret R2_BUCKET=strata-bench
start s3rver --openssl-legacy-provider "$here/s3rver.js" --dir "$work/s3rver" --bucket strata-bench \
  --access-key "$R2_ACCESS_KEY_ID" --secret "$R2_SECRET_ACCESS_KEY"
s3port="$port"
start proxy "$here/proxy.js" --upstream "127.0.0.1:$s3port" --verify "$R2_ACCESS_KEY_ID:$R2_SECRET_ACCESS_KEY"
proxyport="$port"

# JSON-like session data: MB megabytes of entry payload over 500 session files.
python3 - "$mb" >"$work/entries.jsonl" <<'PY'
import json, random, sys
random.seed(7)
words = "the state of agent memory task bead tool result called with file error retry plan next step done".split()
target = int(sys.argv[1]) * 1000 * 1000
total = 0
i = 0
while total < target:
    text = " ".join(random.choice(words) for _ in range(random.randint(60, 140)))
    data = json.dumps({"session": f"s-{i % 500:06}", "turn": i, "role": "assistant" if i % 2 else "user",
                       "model": "m-2", "tokens": 100 + (i * 37) % 900, "ts": 1764500000000 + i * 1000,
                       "text": text})
    path = f"sessions/s-{i % 500:04}.json"
    print(json.dumps({"type": "session", "op": "update", "path": path, "data": data}))
    total += len(path) + len(data)
    i += 1
print(total, i, file=sys.stderr)
PY
read -r payload entries < <(python3 -c "
import json,sys
t=n=0
for l in open(sys.argv[1]):
    e=json.loads(l); t+=len(e['path'])+len(e['data']); n+=1
print(t,n)" "$work/entries.jsonl")
echo "appended: $entries entries, $payload payload bytes"

timed() {  # timed NAME CMD...: runs CMD, stdout to $work/NAME.json, times to $work/NAME.time
  local name="$1"
  shift
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" "$@" >"$work/$name.json"
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

for comp in none zstd; do
  dir="$work/data-$comp"
  WAL_SYNC=none "$strata" --data-dir "$dir" append --jsonl <"$work/entries.jsonl" >/dev/null
  R2_ENDPOINT="http://127.0.0.1:$s3port" R2_PREFIX="$comp" SYNC_COMPRESSION="$comp" \
    timed "sync-$comp" "$strata" --data-dir "$dir" sync --json
  raw="$(field "$work/sync-$comp.json" raw_bytes)"
  stored="$(field "$work/sync-$comp.json" stored_bytes)"
  read -r wall user sys <"$work/sync-$comp.time"
  python3 -c "
import sys
p,raw,st,w,u,s=map(float,sys.argv[1:7])
print(f'sync {sys.argv[7]}: records {raw:.0f} B ({raw/p:.3f} per payload byte), stored {st:.0f} B ({st/p:.3f} per payload byte); wall {w:.2f} s, cpu {u+s:.2f} s (user {u:.2f}, sys {s:.2f})')
" "$payload" "$raw" "$stored" "$wall" "$user" "$sys" "$comp"
done

# The SDK uploads exactly the objects the uncompressed sync stored.
mapfile -t objs < <(find "$work/s3rver/strata-bench/none" -name '*._S3rver_object' -path '*log*' | sort)
if [[ ${#objs[@]} -eq 0 ]]; then
  echo "bench-sync: found no stored log objects under s3rver's directory" >&2
  exit 1
fi
mkdir -p "$work/sdk"
for i in "${!objs[@]}"; do cp "${objs[$i]}" "$work/sdk/obj-$i"; done
/usr/bin/time -f '%e %U %S' -o "$work/sdk.time" node "$here/sdk-upload.js" "http://127.0.0.1:$s3port" \
  strata-bench sdk/ "${SYNC_PARALLELISM:-4}" "$work"/sdk/obj-* >"$work/sdk.json"
sdk_ms="$(field "$work/sdk.json" ms)"
sdk_bytes="$(field "$work/sdk.json" bytes)"
strata_ms="$(field "$work/sync-none.json" duration_ms)"
read -r sdk_wall _ _ <"$work/sdk.time"
read -r strata_wall _ _ <"$work/sync-none.time"
python3 -c "
import sys
sm,sb,tm,sw,tw=map(float,sys.argv[1:6])
print(f'sdk: {sb:.0f} B in {sm/1000:.2f} s of PutObject calls ({sw:.2f} s for the node process); '
      f'strata sync (none): {tm/1000:.2f} s inside sync() ({tw:.2f} s for the process); '
      f'ratio {tm/sm:.2f} (calls), {tw/sw:.2f} (processes)')
" "$sdk_ms" "$sdk_bytes" "$strata_ms" "$sdk_wall" "$strata_wall"
echo "sdk objects: ${#objs[@]}"

# A sync with nothing new, through the counting proxy.
stats() { curl -s "http://127.0.0.1:$proxyport/__proxy/stats"; }
R2_ENDPOINT="http://127.0.0.1:$proxyport" R2_PREFIX=none SYNC_COMPRESSION=none \
  "$strata" --data-dir "$work/data-none" sync --json >/dev/null  # settles anything pending
before="$(stats)"
R2_ENDPOINT="http://127.0.0.1:$proxyport" R2_PREFIX=none SYNC_COMPRESSION=none \
  timed idle "$strata" --data-dir "$work/data-none" sync --json
after="$(stats)"
python3 -c "
import json,sys
b,a=json.loads(sys.argv[1]),json.loads(sys.argv[2])
d={k:a['methods'].get(k,0)-b['methods'].get(k,0) for k in a['methods']}
print('nothing new: requests', {k:v for k,v in d.items() if v}, 'wall', open(sys.argv[3]).read().split()[0], 's')
" "$before" "$after" "$work/idle.time"
