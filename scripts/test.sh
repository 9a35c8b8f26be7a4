#!/usr/bin/env bash
# The whole test suite: set up whatever is missing, check the layer order and
# the formatting, then build and test each tree of STRATA_TREES in its own
# build directory, and the packaging test (a user's Release build with g++,
# installed and used). Any sanitizer report from any process (a test binary
# or a `strata` child it runs, even one whose exit code it ignores) fails the
# run. docs/testing.md has what each tree covers and what it costs.
#
#   address  build-asan/  clang++, AddressSanitizer + LeakSanitizer +
#                         UndefinedBehaviorSanitizer: every test, and each
#                         libFuzzer target of fuzz/ for a few seconds
#   thread   build-tsan/  clang++, ThreadSanitizer: the tests labelled
#                         `concurrency` (tests/CMakeLists.txt)
#   normal   build/       the user's tree (bootstrap's RelWithDebInfo, g++):
#                         every test
#
# Arguments go to every ctest run (e.g. -R Cli). Environment:
#   STRATA_TREES       the trees to build and test, in order (default
#                      "address thread": both sanitized trees, which together
#                      run every test and fit CI's 45 minutes on two cores;
#                      "normal" alone is the quick run while developing)
#   STRATA_BUILD_DIR   the normal tree's directory (default build)
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
trees="${STRATA_TREES-address thread}"
clang_tree=0
for tree in $trees; do
  case "$tree" in
    address | thread) clang_tree=1 ;;
    normal) ;;
    *)
      echo "test.sh: STRATA_TREES: unknown tree '$tree' (address, thread, normal)" >&2
      exit 2
      ;;
  esac
done
bash scripts/bootstrap.sh --no-build
phase "setup"

# --- seam: the layer order (src/layers.txt) and the formatting of every
# tracked .cpp/.h: seconds, so first.
bash scripts/check-layers.sh
bash scripts/check-format.sh
# --- end seam ---------------------------------------------------------------
phase "layer order and formatting"

# Configures and builds a sanitized tree with clang++: every target, or only
# those named in $targets (space-separated). The directory is reused while
# its configuration is the one asked for (written to .strata-configure), and
# made again from scratch when it differs (another compiler, sanitizer or
# optimization level: CMake cannot switch compilers in place).
build_sanitized() {
  local kind="$1" dir="$2" flags="$3"
  shift 3  # the rest: more CMake options for this tree
  local target_args=() t
  for t in ${targets:-}; do target_args+=(--target "$t"); done
  local launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  # Unity batches for the test files (STRATA_UNITY_TESTS): they re-parse the
  # same heavy headers (GoogleTest, nlohmann-json, the strata API).
  local args=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo
    -DSTRATA_SANITIZE="$kind" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags -DNDEBUG"
    -DSTRATA_UNITY_TESTS=ON -DSTRATA_WERROR=ON "${launcher[@]}" "$@")
  if [[ "$(cat "$dir/.strata-configure" 2>/dev/null)" != "${args[*]}" ]]; then
    rm -rf "$dir"
    cmake -S . -B "$dir" "${args[@]}" >/dev/null
    echo "${args[*]}" >"$dir/.strata-configure"
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
    ctest --test-dir "$dir" --output-on-failure -j"${ctest_jobs:-$jobs}" "$@"
  ) || rc=$?
  check_reports "$reports" || rc=1
  return "$rc"
}

# Optimization of the sanitized trees. AddressSanitizer + UBSan at -O0: clang
# compiles the tree at -O0 in about half the CPU time of -O1, and the tests
# spend their time waiting on fsync, servers and child processes more than
# computing. ThreadSanitizer at -O1, as its manual asks (at -O0 the
# instrumented atomics and locks of the concurrency tests run several times
# slower). -g1: line tables for the reports, no full debug info.
asan_flags="-O0 -g1"
tsan_flags="-O1 -g1"

# clang builds both sanitized trees: its sanitizer runtimes are the reference
# ones, it compiles them in less time than g++ (measured in docs/testing.md),
# and with -Wthread-safety and -Werror (CMakeLists.txt) each clang tree checks
# the lock annotations of every source of src/ it compiles.
for tree in $trees; do
  case "$tree" in
    address)
      # With the libFuzzer targets of fuzz/ (STRATA_FUZZ): ctest runs each
      # for STRATA_FUZZ_SECONDS (label fuzz) among the other tests.
      build_sanitized address build-asan "$asan_flags" -DSTRATA_FUZZ=ON
      phase "AddressSanitizer build (build-asan)"
      # One more test than cores: the tests mostly wait (fsync, s3rver, child
      # processes: the load stayed near 1.2 with -j2 on two cores), and they
      # passed with -j2 beside a full build at load 5 to 7.
      ctest_jobs=$((jobs + 1)) run_sanitized build-asan "$@"
      phase "every test under AddressSanitizer + UndefinedBehaviorSanitizer"
      ;;
    thread)
      # Only the program and the test binaries that hold concurrency tests
      # (one concurrency_<folder> list each in tests/CMakeLists.txt): the
      # other binaries would be built for nothing.
      targets="strata_cli $(sed -n 's/^set(concurrency_\([a-z_]*\).*/test_\1/p' tests/CMakeLists.txt | tr '\n' ' ')" \
        build_sanitized thread build-tsan "$tsan_flags"
      phase "ThreadSanitizer build (build-tsan)"
      # The concurrency tests carry this label: tests/CMakeLists.txt says
      # which. The crash harness looks for races in the daemon, not for more
      # kill points (the address tree runs its 200 kills), so fewer kills here.
      STRATA_CRASH_KILLS="${STRATA_CRASH_KILLS:-40}" run_sanitized build-tsan -L concurrency "$@"
      phase "concurrency tests under ThreadSanitizer"
      ;;
    normal)
      bash scripts/bootstrap.sh
      phase "normal build ($root/${STRATA_BUILD_DIR:-build})"
      ctest --test-dir "${STRATA_BUILD_DIR:-build}" --output-on-failure -j"$jobs" "$@"
      phase "every test in the normal build"
      # Without a clang tree in this run, clang's lock analysis runs on the
      # normal tree's compile commands (analysis only, no second build).
      if ((!clang_tree)); then
        bash scripts/check-clang.sh "${STRATA_BUILD_DIR:-build}"
        phase "clang's lock analysis"
      fi
      ;;
  esac
done

# --- seam: packaging: a user's Release build with g++ (STRATA_WERROR=OFF)
# without a warning, installed into a fresh prefix, serving a program built
# with find_package(strata) and one built with pkg-config
# (tests/packaging/run.sh). STRATA_SKIP_PACKAGING=1 skips it.
if [[ -z "${STRATA_SKIP_PACKAGING:-}" ]]; then
  bash tests/packaging/run.sh "${STRATA_PACKAGING_BUILD_DIR:-build-release}"
  phase "packaging"
fi
# --- end seam ---------------------------------------------------------------
