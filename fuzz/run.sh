#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for
# $1 seconds (default 60). Not part of CI; tests/fuzz runs the same property
# over generated mutations on every build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
out="$root/build-fuzz"
mkdir -p "$out"
srcs=("$root"/src/common/*.cpp "$root"/src/fs/*.cpp "$root"/src/wal/*.cpp
      "$root"/fuzz/wal_open_property.cpp "$root"/fuzz/wal_open_fuzz.cpp)
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$root/include" -I"$root/src" \
  "${srcs[@]}" -o "$out/wal_open_fuzz" $(pkg-config --cflags --libs libisal) -lfmt -lspdlog -lcrypto
mkdir -p "$out/corpus"
# The property is about parsing; tmpfs keeps fsyncs from dominating.
[[ -w /dev/shm ]] && export TMPDIR=/dev/shm
"$out/wal_open_fuzz" -max_total_time="$secs" -max_len=512 "$out/corpus"
