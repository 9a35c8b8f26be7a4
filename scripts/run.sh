#!/usr/bin/env bash
# The main job: set up whatever is missing, build, then run strata.
# With no arguments it starts the daemon, `strata serve`, in the foreground on
# the embedded defaults (DATA_DIR=./data, HTTP on 127.0.0.1:7480, the object
# store and Git archive as local stand-ins under ./data) until Ctrl-C; the
# log says where it listens. With arguments it runs `strata ARGS...`
# (`bash scripts/demo.sh` is the short WAL tour without a daemon).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
bin="$root/${STRATA_BUILD_DIR:-build}/strata"
if (($#)); then
  exec "$bin" "$@"
fi
exec "$bin" serve
