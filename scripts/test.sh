#!/usr/bin/env bash
# The whole test suite: set up whatever is missing, build, run every test;
# then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/), and the concurrency tests under ThreadSanitizer (build-tsan/).
# Any sanitizer report from any process (a test binary or a `strata` child
# it runs, even one whose exit code it ignores) fails the run.
#
# Arguments go to every ctest run (e.g. -R Cli). Environment:
#   STRATA_BUILD_DIR   the normal build directory (default build)
#   STRATA_SANITIZERS  which sanitized runs to do ("address thread" for both;
#                      default empty: none, see below)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc)"

# Each phase reports its wall time and the CPU time of the processes it ran
# (bash's `times`, children's user + system): on a shared machine the wall
# time says how loaded it was, the CPU time what the phase costs.
times_file="$(mktemp "${TMPDIR:-/tmp}/strata-test-times.XXXXXX")"
trap 'rm -f "$times_file"' EXIT
# Sets cpu_now. Not in a pipe or $( ): a subshell's `times` reports its own
# (empty) children.
children_cpu() {
  times >"$times_file"
  # second line "XmY.YYYs XmY.YYYs" (user, system) -> whole seconds
  cpu_now=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] }
                 printf "%d", s }' "$times_file")
}
phase_start=$SECONDS
children_cpu
phase_cpu=$cpu_now
phase() {
  children_cpu
  echo "test.sh: $1 took $((SECONDS - phase_start)) s (CPU $((cpu_now - phase_cpu)) s)" >&2
  phase_start=$SECONDS
  phase_cpu=$cpu_now
}

export STRATA_WERROR=ON  # seam: the test command (and so CI) builds with -Werror
bash scripts/bootstrap.sh
phase "setup and build ($root/${STRATA_BUILD_DIR:-build})"
ctest --test-dir "${STRATA_BUILD_DIR:-build}" --output-on-failure -j"$jobs" "$@"
phase "tests"

# --- seam: the layer order (src/layers.txt), the formatting of every
# tracked .cpp/.h, clang's lock analysis; then packaging: a user's Release
# build (STRATA_WERROR=OFF) without a warning, installed into a fresh prefix,
# serving a program built with find_package(strata) and one built with pkg-config
# (tests/packaging/run.sh). STRATA_SKIP_PACKAGING=1 skips that part.
bash scripts/check-layers.sh
bash scripts/check-format.sh
# clang's analysis of the lock annotations over the sources that use them,
# from the normal build's compile commands: a minute, not a second build.
bash scripts/check-clang.sh "${STRATA_BUILD_DIR:-build}"
if [[ -z "${STRATA_SKIP_PACKAGING:-}" ]]; then
  bash tests/packaging/run.sh "${STRATA_PACKAGING_BUILD_DIR:-build-release}"
fi
# --- end seam ---------------------------------------------------------------
phase "layers, format, clang analysis and packaging"

# Configures (once: the directory is reused) and builds a sanitized tree:
# every target, or only those named in $targets (space-separated).
build_sanitized() {
  local kind="$1" dir="$2"
  shift 2
  local target_args=()
  local t
  for t in ${targets:-}; do target_args+=(--target "$t"); done
  # -Werror like the normal build (STRATA_WERROR above), also applied to a
  # reused directory configured without it.
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then
    local launcher=()
    if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    # -O1 -g1: what the sanitizers' manuals suggest for usable reports (line
    # tables, no full debug info), and the two sanitized trees compile in
    # less time than at -O2 -g on CI's two cores.
    # Unity batches for the test files (STRATA_UNITY_TESTS): they re-parse the
    # same heavy headers, and batching them cut test_wal's compile time by 40%.
    # The normal tree (build/) compiles them one by one, so a test file that
    # misses an include still fails there.
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_SANITIZE="$kind" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DSTRATA_UNITY_TESTS=ON \
      -DSTRATA_WERROR=ON "${launcher[@]}" "$@" >/dev/null
  elif ! grep -qx "STRATA_WERROR:BOOL=ON" "$dir/CMakeCache.txt" ||
    ! grep -qx "STRATA_UNITY_TESTS:BOOL=ON" "$dir/CMakeCache.txt"; then
    cmake -S . -B "$dir" -DSTRATA_WERROR=ON -DSTRATA_UNITY_TESTS=ON >/dev/null
  fi
  # The progress lines are dropped; grep finding nothing left is no failure
  # (hence the braces), so with pipefail the pipeline fails exactly when the
  # build does.
  if ! cmake --build "$dir" -j"$jobs" "${target_args[@]}" -- --quiet 2>&1 |
    { grep -v '^\[' >&2 || true; }; then
    echo "test.sh: the $kind build in $dir failed" >&2
    return 1
  fi
}

# Fails (after printing them) when any process left a sanitizer report in dir.
check_reports() {
  local dir="$1" found=0 f
  for f in "$dir"/*; do
    [[ -s "$f" ]] || continue
    found=1
    echo "===== sanitizer report: $f" >&2
    cat "$f" >&2
  done
  if ((found)); then
    echo "test.sh: sanitizer reports above (files in $dir)" >&2
    return 1
  fi
}

# Every process of a run logs its reports to files named after its pid in
# reports/ instead of stderr, so a report from a child whose stderr a test
# discards or whose exit code it ignores still fails the run. A process
# killed with SIGKILL writes nothing, so killed children cannot leave false
# reports. LeakSanitizer runs at exit(), not at _exit() (forked test children
# end with _exit).
sanitizer_env() {
  local reports="$1" supp="$root/tests/sanitizers"
  local symbolizer=""
  if [[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
    symbolizer=":external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer"
  fi
  export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:check_initialization_order=1:strict_init_order=1$symbolizer"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1$symbolizer"
  export TSAN_OPTIONS="log_path=$reports/tsan:suppressions=$supp/tsan.supp:second_deadlock_stack=1:print_suppressions=0$symbolizer"
}

# Runs ctest in a sanitized tree; fails on a failed test or on any report.
run_sanitized() {
  local dir="$1"
  shift
  local reports="$root/$dir/sanitizer-reports" rc=0
  rm -rf "$reports"
  mkdir -p "$reports"
  (
    sanitizer_env "$reports"
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@"
  ) || rc=$?
  check_reports "$reports" || rc=1
  return "$rc"
}

# Not in the default run (and so not in CI's .ci/run) yet: on CI's two
# cores the sanitized phases do not fit its 45 minutes next to the normal
# phase (docs/testing.md has the measured times).
for kind in ${STRATA_SANITIZERS-}; do
  case "$kind" in
    address)
      build_sanitized address build-asan
      phase "AddressSanitizer build (build-asan)"
      run_sanitized build-asan "$@"
      phase "every test under AddressSanitizer + UndefinedBehaviorSanitizer"
      ;;
    thread)
      # clang: its ThreadSanitizer runtime is the reference one, and the
      # clang build also checks the -Wthread-safety annotations.
      # Only the program and the test binaries that hold concurrency tests
      # (one concurrency_<folder> list each in tests/CMakeLists.txt): the
      # other binaries would be built for nothing, on CI's two cores.
      targets="strata_cli $(sed -n 's/^set(concurrency_\([a-z_]*\).*/test_\1/p' tests/CMakeLists.txt | tr '\n' ' ')" \
        build_sanitized thread build-tsan -DCMAKE_CXX_COMPILER=clang++
      phase "ThreadSanitizer build (build-tsan)"
      # The concurrency tests carry this label: tests/CMakeLists.txt says which.
      run_sanitized build-tsan -L concurrency "$@"
      phase "concurrency tests under ThreadSanitizer"
      ;;
    *)
      echo "test.sh: STRATA_SANITIZERS: unknown sanitizer '$kind' (address, thread)" >&2
      exit 2
      ;;
  esac
done
