#!/usr/bin/env bash
# One libFuzzer target for a few seconds, as ctest runs it (fuzz/CMakeLists.txt):
#   ctest_run.sh <binary> <repository corpus> <work dir> <seconds> <max_len>
# New inputs go to <work dir>/corpus, the first corpus directory (libFuzzer
# writes only there); the repository's corpus is the second, read-only. A
# crash leaves its input in <work dir>/ (crash-<sha1>, -artifact_prefix) and
# fails the test; copy it to fuzz/regressions/<target>/ once understood.
set -euo pipefail
bin="$1" seeds="$2" work="$3" secs="$4" max_len="$5"
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
# The properties write their scratch files on tmpfs where there is one.
exec "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=30 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"
