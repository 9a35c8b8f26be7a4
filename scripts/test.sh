#!/usr/bin/env bash
# The whole test suite: set up whatever is missing, build, run every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export STRATA_WERROR=ON  # seam: the test command (and so CI) builds with -Werror
bash scripts/bootstrap.sh
build_dir="${STRATA_BUILD_DIR:-build}"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"

# --- seam: the layer order (src/layers.txt) and the formatting of every
# tracked .cpp/.h; then packaging: a user's Release build (STRATA_WERROR=OFF)
# without a warning, installed into a fresh prefix, serving a program built
# with find_package(strata) and one built with pkg-config
# (tests/packaging/run.sh). STRATA_SKIP_PACKAGING=1 skips that part.
bash scripts/check-layers.sh
bash scripts/check-format.sh
if [[ -z "${STRATA_SKIP_PACKAGING:-}" ]]; then
  bash tests/packaging/run.sh "${STRATA_PACKAGING_BUILD_DIR:-build-release}"
fi
# --- end seam ---------------------------------------------------------------
