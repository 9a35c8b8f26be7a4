#!/usr/bin/env bash
# One benchmark run for docs/performance.md: the comparison (strata_compare)
# and every `strata bench` subcommand, all in one go on the same machine,
# then the plots. About three minutes; needs about 1.5 GB free on the disk
# under test.
#
#   bench/run_all.sh [build_dir] [data_dir]
#
# build_dir holds strata and strata_compare (default build/); data_dir must
# be on the disk to measure, not tmpfs (default build_dir/bench-data; it is
# removed afterwards). Results go to docs/performance/compare.jsonl (the
# comparison, which the plots show) and docs/performance/bench.jsonl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
data="${2:-$build/bench-data}"
out="$root/docs/performance"
mkdir -p "$out" "$data"
if [[ "$(stat -f -c %T "$data")" == tmpfs ]]; then
  echo "run_all.sh: $data is on tmpfs; fsync figures would be meaningless" >&2
  exit 1
fi
cmp="$out/compare.jsonl"
res="$out/bench.jsonl"
: > "$res"
strata=("$build/strata" --data-dir "$data")
# Durable appends against the peers first, while the page cache is cold of
# the large generated logs below.
"$build/strata_compare" --dir "$data/compare" --threads 1,8,32 --seconds 2 --json | tee "$cmp"
"${strata[@]}" bench fsync --threads 1,4 --seconds 1 --json | tee -a "$res"
# Group commit with one and with two fdatasyncs in flight (WAL_SYNCS_IN_FLIGHT).
for n in 1 2; do
  "${strata[@]}" bench append --sync always --threads 1,8,32 --seconds 2 --syncs-in-flight "$n" \
    --json | tee -a "$res"
done
"${strata[@]}" bench append --sync none --threads 1 --seconds 2 --no-baseline --json | tee -a "$res"
"${strata[@]}" bench replay --entries 1000000 --json | tee -a "$res"
"${strata[@]}" bench open --log-sizes 128M,1G --json | tee -a "$res"
# The worst case for open: a nearly full unsealed (active) segment of 63 MiB,
# alone and after 15 sealed ones.
"${strata[@]}" bench open --log-sizes 63M,1023M --json | tee -a "$res"
"${strata[@]}" bench read --seconds 1 --json | tee -a "$res"
rm -rf "$data"
bash "$root/bench/plot.sh" "$cmp" "$out"
