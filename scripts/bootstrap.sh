#!/usr/bin/env bash
# Brings a fresh Debian machine to a built tree: installs missing Debian
# packages, the pinned npm test tools, then configures and builds into build/.
# Idempotent and quiet when there is nothing to do.
#   scripts/bootstrap.sh [--no-build]   (--no-build: set up only; the test
#                                        command builds its own trees)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=1
case "${1:-}" in
  "") ;;
  --no-build) build=0 ;;
  *)
    echo "bootstrap: unknown argument '$1' (the only one is --no-build)" >&2
    exit 2
    ;;
esac

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  # nodejs/npm may come from outside Debian (e.g. a preinstalled Node); accept the command.
  if [[ "$pkg" == nodejs || "$pkg" == npm ]] && command -v "${pkg/nodejs/node}" >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done < scripts/debian-packages.txt

if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# sshd refuses to start without its privilege-separation directory, which
# exists only once the system service has run; the Git SSH tests start their
# own sshd and skip without it.
if [[ -x /usr/sbin/sshd && ! -d /run/sshd ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo -n"; fi
  $sudo mkdir -p /run/sshd 2>/dev/null ||
    echo "bootstrap: cannot create /run/sshd; the Git SSH tests will skip" >&2
fi

# npm tools the tests use (s3rver, the AWS SDK), pinned by the lock file.
if [[ -f tests/js/package-lock.json ]]; then
  stamp=tests/js/node_modules/.strata-lock-sha
  want="$(sha256sum tests/js/package-lock.json | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "bootstrap: installing npm test tools (tests/js)" >&2
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$stamp"
  fi
fi

if ((!build)); then
  exit 0
fi

build_dir="${STRATA_BUILD_DIR:-build}"
# STRATA_WERROR=ON|OFF (the test command sets ON) is applied to a new build
# directory and to an existing one whose cache says otherwise.
werror=()
if [[ -n "${STRATA_WERROR:-}" ]]; then werror=(-DSTRATA_WERROR="$STRATA_WERROR"); fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${werror[@]}" >/dev/null
elif [[ -n "${STRATA_WERROR:-}" ]] &&
  ! grep -qx "STRATA_WERROR:BOOL=${STRATA_WERROR}" "$build_dir/CMakeCache.txt"; then
  cmake -S . -B "$build_dir" "${werror[@]}" >/dev/null
fi
cmake --build "$build_dir" -j"$(nproc)" -- --quiet 2>&1 | grep -v '^\[' >&2 || true
test "${PIPESTATUS[0]}" -eq 0
