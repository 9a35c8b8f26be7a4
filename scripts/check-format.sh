#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted by the repository's
# .clang-format (clang-format 14, as CI has it). Prints the files that are
# not and how to fix them; exits 1 if any.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cf="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$cf" >/dev/null; then
  echo "check-format: $cf not found (Debian package clang-format-14)" >&2
  exit 1
fi
bad=()
while IFS= read -r -d '' f; do
  "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -z -- '*.cpp' '*.h')
if ((${#bad[@]})); then
  printf 'check-format: not formatted: %s\n' "${bad[@]}" >&2
  echo "check-format: fix with: $cf -i ${bad[*]}" >&2
  exit 1
fi
echo "check-format: $(git ls-files -- '*.cpp' '*.h' | wc -l) files formatted"
