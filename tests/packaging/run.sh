#!/usr/bin/env bash
# The packaging test (part of scripts/test.sh):
#   1. a user's build: Release, STRATA_WERROR=OFF, no tests or benchmarks,
#      which must compile without a single warning;
#   2. `cmake --install` of it into a fresh prefix;
#   3. a program built against that prefix with find_package(strata), and
#      one built with pkg-config; both run, append an entry and read it back.
# Usage: tests/packaging/run.sh [BUILD_DIR]   (default build-release; reused)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="${1:-build-release}"
work="$(mktemp -d "${TMPDIR:-/tmp}/strata-packaging.XXXXXX")"
trap 'rm -rf "$work"' EXIT
jobs="$(nproc)"
phase() { echo "packaging: $*" >&2; }
elapsed() { echo "$(($(date +%s) - $1))s"; }

start=$(date +%s)
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATA_WERROR=OFF -DSTRATA_BUILD_TESTS=OFF \
  -DSTRATA_BUILD_BENCH=OFF "${launcher[@]}" >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; exit 1; }
# A warning-free build is the point: rebuild from clean so every file is
# compiled (and seen) again.
cmake --build "$build" --target clean >/dev/null
if ! cmake --build "$build" -j"$jobs" >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  phase "FAILED: the Release build (STRATA_WERROR=OFF) does not build"
  exit 1
fi
if grep -n "warning:" "$work/build.log" >&2; then
  phase "FAILED: the Release build prints warnings (above)"
  exit 1
fi
phase "Release build without warnings ($(elapsed "$start"))"

start=$(date +%s)
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/strata include/strata/wal.h include/strata/version.h lib/libstrata_wal.a \
  lib/cmake/strata/strataConfig.cmake lib/pkgconfig/strata.pc; do
  [[ -e "$prefix/$f" ]] || { phase "FAILED: $f was not installed"; exit 1; }
done
version="$("$prefix/bin/strata" --version)"
want="$(sed -n 's/^project(strata VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
if ! [[ "$version" =~ ^strata\ ${want//./\\.}\ \((git\ [0-9a-f]{12}|revision\ unknown) ]]; then
  phase "FAILED: strata --version printed '$version' (want: strata $want (git <revision>...))"
  exit 1
fi
phase "$version"
phase "installed into a fresh prefix ($(elapsed "$start"))"

start=$(date +%s)
cmake -S tests/packaging/consumer -B "$work/consumer-build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >"$work/consumer.log" ||
  { cat "$work/consumer.log" >&2; exit 1; }
cmake --build "$work/consumer-build" >>"$work/consumer.log" 2>&1 ||
  { cat "$work/consumer.log" >&2; phase "FAILED: find_package(strata) consumer"; exit 1; }
"$work/consumer-build/consumer" "$work/data-cmake"
phase "find_package(strata) consumer built and ran ($(elapsed "$start"))"

start=$(date +%s)
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
read -r -a flags <<<"$(pkg-config --cflags --libs strata)"
"${CXX:-c++}" -O1 tests/packaging/consumer/main.cpp -o "$work/consumer-pc" "${flags[@]}" ||
  { phase "FAILED: pkg-config consumer (flags: ${flags[*]})"; exit 1; }
"$work/consumer-pc" "$work/data-pc"
phase "pkg-config consumer built and ran ($(elapsed "$start"))"
