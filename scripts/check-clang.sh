#!/usr/bin/env bash
# Compiles every library and CLI source under clang++ (syntax and semantic
# analysis only: -fsyntax-only, no code generation) with the flags the build
# uses, -Wall -Wextra, clang's lock-discipline analysis (-Wthread-safety and
# -Wthread-safety-beta: the GUARDED_BY / REQUIRES / ACQUIRED_BEFORE
# annotations of src/common/thread_annotations.h) and -Werror. So a lock
# taken in the wrong order, a guarded member touched without its lock, or a
# warning only clang gives fails the test command, without a second full build.
#   scripts/check-clang.sh [BUILD_DIR]   (default build: its compile_commands.json)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${1:-build}"
db="$build/compile_commands.json"
if [[ ! -f "$db" ]]; then
  echo "check-clang: no $db (configure $build first)" >&2
  exit 2
fi
clang="$(command -v clang++ || true)"
if [[ -z "$clang" ]]; then
  echo "check-clang: clang++ is missing (scripts/debian-packages.txt lists clang)" >&2
  exit 2
fi

# Every source of src/ (tests and benchmarks are the normal build's), its
# compile command with the compiler, the outputs and gcc-only flags
# replaced, run nproc at a time; each failure prints clang's diagnostics.
exec python3 - "$db" "$root/src/" "$clang" "$(nproc)" <<'EOF'
import concurrent.futures, json, shlex, subprocess, sys
db, src, clang, jobs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
gcc_only = {"-Wno-maybe-uninitialized"}
extra = ["-fsyntax-only", "-Wall", "-Wextra", "-Wthread-safety", "-Wthread-safety-beta", "-Werror"]

def command(entry):
    args = shlex.split(entry["command"])
    # the compiler, after a launcher such as ccache if there is one, becomes clang++
    first = 2 if args[0].endswith("ccache") else 1
    out, skip = [clang], False
    for a in args[first:]:
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MT"):
            skip = True
        elif a not in ("-c", "-MD") and a not in gcc_only and a != entry["file"]:
            out.append(a)
    return out + extra + [entry["file"]]

entries = [e for e in json.load(open(db)) if e["file"].startswith(src)]
if not entries:
    sys.exit(f"check-clang: {db} lists no source under {src}")

def run(entry):
    r = subprocess.run(command(entry), cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"], r.returncode, r.stderr

failed = 0
with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    for path, rc, err in pool.map(run, entries):
        if rc != 0:
            failed += 1
            sys.stderr.write(err)
if failed:
    sys.exit(f"check-clang: clang++ refused {failed} of {len(entries)} sources of src/ (above)")
print(f"check-clang: {len(entries)} sources of src/ clean under clang++ -Wall -Wextra "
      "-Wthread-safety -Werror", file=sys.stderr)
EOF
