#!/usr/bin/env bash
# Turns the --json output of strata_compare (and of `strata bench`) into the
# PNG plots of docs/performance.md, with gnuplot (Debian's gnuplot-nox).
#
#   bench/plot.sh results.jsonl [outdir]     (default outdir: docs/performance)
#
# Writes throughput.png (durable appends/s against threads, one line per
# system, the disk's single-thread fdatasync rate as a reference line) and
# latency.png (p50/p99/p99.9 per system and thread count). Reads one JSON
# object per line; the fields are flat except params, whose keys do not
# clash with the top-level ones, so awk can pick them out without jq.
set -euo pipefail
in="${1:?usage: bench/plot.sh results.jsonl [outdir]}"
out="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/performance}"
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# name threads ops_per_s p50 p99 p999, durable runs only (sync=always, and
# the fsync baseline, which has no sync field).
awk '
  function field(line, key,   re, m) {
    re = "\"" key "\":(\"[^\"]*\"|[-+0-9.eE]+)"
    if (match(line, re)) { m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3); gsub(/"/, "", m); return m }
    return ""
  }
  {
    name = field($0, "name"); sync = field($0, "sync"); file = field($0, "file")
    if (name == "fsync") { if (file != "growing") next; name = "fsync" }
    else if (sync != "always") next
    print name, field($0, "threads"), field($0, "ops_per_s"), field($0, "p50_us"), field($0, "p99_us"), field($0, "p999_us")
  }' "$in" > "$tmp/rows"

[[ -s "$tmp/rows" ]] || { echo "plot.sh: no durable results in $in" >&2; exit 1; }

systems=()
for s in strata rocksdb leveldb sqlite; do
  if awk -v s="$s" '$1 == s { f = 1 } END { exit !f }' "$tmp/rows"; then
    awk -v s="$s" '$1 == s { print $2, $3 }' "$tmp/rows" | sort -n > "$tmp/$s.dat"
    systems+=("$s")
  fi
done
fsync1="$(awk '$1 == "fsync" && $2 == 1 { print $3; exit }' "$tmp/rows")"

plot=""
for s in "${systems[@]}"; do
  plot+="${plot:+, }'$tmp/$s.dat' using 1:2 with linespoints lw 2 pt 7 title '$s'"
done
if [[ -n "$fsync1" ]]; then
  plot+=", $fsync1 with lines dt 2 lc rgb 'gray30' title 'write+fdatasync, 1 thread'"
fi
gnuplot <<GP
set terminal pngcairo size 900,560 font 'sans,11'
set output '$out/throughput.png'
set title 'Durable appends per second (256-byte entries, every write synced)'
set xlabel 'writer threads'
set ylabel 'operations / s'
set logscale xy
set xrange [0.8:45]
set xtics (1, 2, 4, 8, 16, 32)
set grid
set key top left
plot $plot
GP

# Latency: one cluster per system and thread count, bars p50/p99/p99.9.
awk '$1 != "fsync" { printf "%s/%s %s %s %s\n", $1, $2, $4, $5, $6 }' "$tmp/rows" > "$tmp/lat.dat"
awk '$1 == "fsync" && !seen[$2]++ { printf "fsync/%s %s %s %s\n", $2, $4, $5, $6 }' "$tmp/rows" >> "$tmp/lat.dat"
gnuplot <<GP
set terminal pngcairo size 1100,560 font 'sans,10'
set output '$out/latency.png'
set title 'Latency of one durable append (system/threads)'
set ylabel 'microseconds'
set logscale y
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -40
set grid ytics
set key top left
plot '$tmp/lat.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
GP
echo "plot.sh: wrote $out/throughput.png and $out/latency.png"
