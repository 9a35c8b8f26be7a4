#!/usr/bin/env bash
# clang's lock-discipline analysis (-Wthread-safety and -Wthread-safety-beta:
# the GUARDED_BY / REQUIRES / ACQUIRED_BEFORE annotations of
# src/common/thread_annotations.h) with -Wall -Wextra -Werror, by clang++
# -fsyntax-only (analysis only, no code generation) on the normal build's
# compile commands. So a lock taken in the wrong order or a guarded member
# touched without its lock fails the test command, without a second build.
# Checked: every source of src/ whose compilation includes
# thread_annotations.h (by the build's dependency files; those are the only
# ones that can touch an annotated member: the annotated classes are
# internal), or every source of src/ with --all.
#   scripts/check-clang.sh [--all] [BUILD_DIR]   (default build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
all=0
if [[ "${1:-}" == --all ]]; then
  all=1
  shift
fi
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

# The chosen sources of src/ (tests and benchmarks are the normal build's),
# each compile command with the compiler, the outputs and gcc-only flags
# replaced, run nproc at a time; each failure prints clang's diagnostics.
exec python3 - "$db" "$root/src/" "$clang" "$(nproc)" "$all" <<'EOF'
import concurrent.futures, json, os, shlex, subprocess, sys
db, src, clang, jobs, check_all = sys.argv[1:6]
jobs, check_all = int(jobs), check_all == "1"
gcc_only = {"-Wno-maybe-uninitialized"}
extra = ["-fsyntax-only", "-Wall", "-Wextra", "-Wthread-safety", "-Wthread-safety-beta", "-Werror"]

def command(entry):
    args = entry["args"]
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

def uses_annotations(entry):
    # The compiler's dependency file beside the object (-MD); a source not
    # built yet, or without one, is checked rather than skipped.
    try:
        args = entry["args"]
        obj = os.path.join(entry["directory"], args[args.index("-o") + 1])
        with open(obj + ".d") as deps:
            return "thread_annotations.h" in deps.read()
    except (OSError, ValueError, IndexError):
        return True

entries = [e for e in json.load(open(db)) if e["file"].startswith(src)]
for e in entries:
    e["args"] = shlex.split(e["command"])
if not entries:
    sys.exit(f"check-clang: {db} lists no source under {src}")
total = len(entries)
if not check_all:
    entries = [e for e in entries if uses_annotations(e)]

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
which = "all" if check_all else "those using the lock annotations"
print(f"check-clang: {len(entries)} of {total} sources of src/ ({which}) clean under clang++ "
      "-Wall -Wextra -Wthread-safety -Werror", file=sys.stderr)
EOF
