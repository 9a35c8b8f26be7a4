#!/usr/bin/env bash
# The main job: set up whatever is missing, build, then run strata.
# With no arguments it runs a short end-to-end demo of the WAL in ./data;
# with arguments it runs `strata ARGS...`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
bin="$root/${STRATA_BUILD_DIR:-build}/strata"
if (($#)); then
  exec "$bin" "$@"
fi
exec bash scripts/demo.sh "$bin"
