#!/usr/bin/env bash
# Checks that no source or header of a layer includes a header of a layer
# above it, by the table in src/layers.txt (the one CMake links by). Includes
# are what the compiler cannot stop: every public header is in include/strata/.
#   "strata/X.h"  belongs to the layer whose row lists X.h
#   "L/X.h"       (L a layer's folder) belongs to layer L
# Checked: src/<layer>/, the public headers, and tests/<folder>/ (by the
# table's test rows). Prints each violation as file:line and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
table=src/layers.txt

declare -A uses=() header_layer=() test_layer=() closure=()
order=()
while IFS='|' read -r name deps headers; do
  name="$(echo "$name" | xargs)"
  [[ -z "$name" || "$name" == \#* ]] && continue
  if [[ "$name" == tests/* ]]; then
    test_layer[${name#tests/}]="$(echo "$deps" | xargs)"
    continue
  fi
  order+=("$name")
  uses[$name]="$(echo "$deps" | xargs)"
  for h in $headers; do header_layer[$h]="$name"; done
done < <(sed 's/#.*//' "$table")

fail=0
problem() {
  echo "check-layers: $*" >&2
  fail=1
}

# Everything a layer may use: its row's layers and, transitively, theirs.
for name in "${order[@]}"; do
  all=""
  for dep in ${uses[$name]}; do
    if [[ -z "${closure[$dep]+x}" ]]; then
      problem "$table: $name uses '$dep', which is not a layer listed above it"
      continue
    fi
    all="$all $dep ${closure[$dep]}"
  done
  closure[$name]="$(echo "$all" | tr ' ' '\n' | sort -u | xargs)"
done

may_use() {  # may_use LAYER TARGET
  [[ "$1" == "$2" ]] && return 0
  [[ " ${closure[$1]:-} " == *" $2 "* ]]
}

check_file() {  # check_file FILE LAYER
  local file="$1" layer="$2" line inc target
  while IFS=: read -r line inc; do
    inc="${inc#*\"}"
    inc="${inc%%\"*}"
    target=""
    if [[ "$inc" == strata/* ]]; then
      target="${header_layer[${inc#strata/}]:-}"
      if [[ -z "$target" ]]; then
        [[ -e "include/$inc" ]] && problem "$file:$line: include/$inc is in no row of $table"
        continue
      fi
    elif [[ "$inc" == */* && -n "${uses[${inc%%/*}]+x}" ]]; then
      target="${inc%%/*}"
    else
      continue  # a file of its own folder or a test helper
    fi
    if ! may_use "$layer" "$target"; then
      problem "$file:$line: layer $layer includes $inc of layer $target, which is not below it" \
        "($table: $layer uses: ${uses[$layer]:-nothing})"
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
}

# Every folder of src/ is a layer, every public header belongs to one.
for dir in src/*/; do
  name="$(basename "$dir")"
  [[ -n "${uses[$name]+x}" ]] || problem "$dir is not a layer: add its row to $table"
done
while IFS= read -r h; do
  rel="${h#include/strata/}"
  [[ -n "${header_layer[$rel]+x}" ]] || problem "$h is in no row of $table"
done < <(git ls-files 'include/strata/*.h' 2>/dev/null || find include/strata -name '*.h')

files=0
for name in "${order[@]}"; do
  [[ -d "src/$name" ]] || continue
  while IFS= read -r f; do
    check_file "$f" "$name"
    files=$((files + 1))
  done < <(find "src/$name" -name '*.h' -o -name '*.cpp' | sort)
done
for h in "${!header_layer[@]}"; do
  [[ -f "include/strata/$h" ]] || continue
  check_file "include/strata/$h" "${header_layer[$h]}"
  files=$((files + 1))
done
for dir in tests/*/; do
  area="$(basename "$dir")"
  layer="${test_layer[$area]:-$area}"
  [[ -n "${uses[$layer]+x}" ]] || continue  # support, js, packaging: not a layer's tests
  while IFS= read -r f; do
    check_file "$f" "$layer"
    files=$((files + 1))
  done < <(find "$dir" -maxdepth 1 -name '*.h' -o -maxdepth 1 -name '*.cpp' | sort)
done

if ((fail)); then
  echo "check-layers: FAILED (the layer order is in $table)" >&2
  exit 1
fi
echo "check-layers: $files files, no include points up a layer"
