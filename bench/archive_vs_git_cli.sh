#!/usr/bin/env bash
# One snapshot of a 1,000-file, 10 MB state directory, first and incremental
# (10 files changed), made two ways in the same run:
#   strata   `strata archive --no-push` (libgit2, in-process, no worktree)
#   git-cli  the original's way: archive branch created with mktree/commit-tree,
#            then per snapshot `git worktree add`, copy the state in, write the
#            manifest, `git add -A`, `git commit`, `git worktree remove`.
# Times are wall-clock milliseconds including process start-up; each case is
# run REPEAT times on fresh directories and the median is reported.
# Not run by CI. Usage: bench/archive_vs_git_cli.sh [path/to/strata]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
strata="${1:-${STRATA:-$root/build/strata}}"
repeat="${REPEAT:-3}"
files="${FILES:-1000}"
total_bytes="${TOTAL_BYTES:-10485760}"
changed="${CHANGED:-10}"
[[ -x "$strata" ]] || { echo "no strata binary at $strata (pass its path)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-git.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
unset GIT_REMOTE GIT_REPO_DIR GIT_ARCHIVE_BRANCH GIT_ARCHIVE_PATHS || true
mkdir -p "$HOME"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Exactly $1 bytes of base64 text into $2 (no pipe into head: SIGPIPE would
# trip pipefail).
random_text() {
  head -c $(($1 * 3 / 4 + 3)) /dev/urandom | base64 -w 76 >"$2"
  truncate -s "$1" "$2"
}

# Deterministic-size files of base64 text from /dev/urandom (poorly
# compressible, like most real state), spread over 20 directories.
make_state() {
  local dir="$1" each=$((total_bytes / files))
  mkdir -p "$dir"
  for ((i = 0; i < files; i++)); do
    local sub="$dir/d$((i % 20))"
    mkdir -p "$sub"
    random_text "$each" "$sub/f$i.json"
  done
}

# The same $changed rewritten files for both sides: made once per run in
# $1, copied over a state directory by apply_changes.
make_changes() {
  local dir="$1"
  for ((i = 0; i < changed; i++)); do
    mkdir -p "$dir/d$((i % 20))"
    random_text 1000 "$dir/d$((i % 20))/f$((i * 97 % files)).json"
  done
}
apply_changes() { cp -a "$1/." "$2/"; }

# --- the original's git CLI procedure ------------------------------------
git_cli_snapshot() {
  local repo="$1" state="$2" seq="$3" branch="finn/archive"
  if ! git --git-dir="$repo" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
    local tree commit
    tree=$(git --git-dir="$repo" mktree </dev/null)
    commit=$(git --git-dir="$repo" commit-tree "$tree" -m "init archive")
    git --git-dir="$repo" branch "$branch" "$commit"
  fi
  local wt="$work/wt-$$-$seq"
  git --git-dir="$repo" worktree add -q "$wt" "$branch"
  rm -rf "$wt/state"
  cp -a "$state" "$wt/state"
  printf '{"snapshotId":"%s","timestamp":"%s","walCheckpoint":%s}\n' "$(date +%s%N)" \
    "$(date -u +%FT%TZ)" "$seq" >"$wt/snapshot-manifest.json"
  git -C "$wt" add -A
  git -C "$wt" commit -q --allow-empty -m "snapshot seq $seq"
  git --git-dir="$repo" worktree remove --force "$wt"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A results
for ((r = 1; r <= repeat; r++)); do
  run="$work/run$r"
  make_state "$run/data/state"
  cp -a "$run/data/state" "$run/state-copy"
  make_changes "$run/changes"

  # strata: first, incremental, unchanged.
  t0=$(now_ms)
  DATA_DIR="$run/data" "$strata" archive --no-push >/dev/null
  t1=$(now_ms)
  apply_changes "$run/changes" "$run/data/state"
  echo 2 >"$run/data/state.seq"
  t2=$(now_ms)
  DATA_DIR="$run/data" "$strata" archive --no-push >/dev/null
  t3=$(now_ms)
  DATA_DIR="$run/data" "$strata" archive --no-push >/dev/null
  t4=$(now_ms)
  results[strata_first]+="$((t1 - t0)) "
  results[strata_incr]+="$((t3 - t2)) "
  results[strata_same]+="$((t4 - t3)) "

  # git CLI on an identical copy of the same state.
  git init -q --bare "$run/cli.git"
  t0=$(now_ms)
  git_cli_snapshot "$run/cli.git" "$run/state-copy" 1
  t1=$(now_ms)
  apply_changes "$run/changes" "$run/state-copy"
  t2=$(now_ms)
  git_cli_snapshot "$run/cli.git" "$run/state-copy" 2
  t3=$(now_ms)
  git_cli_snapshot "$run/cli.git" "$run/state-copy" 2
  t4=$(now_ms)
  results[cli_first]+="$((t1 - t0)) "
  results[cli_incr]+="$((t3 - t2)) "
  results[cli_same]+="$((t4 - t3)) "

  # Same content archived both ways.
  a=$(git --git-dir="$run/data/archive.git" rev-parse "finn/archive:state")
  b=$(git --git-dir="$run/cli.git" rev-parse "finn/archive:state")
  [[ "$a" == "$b" ]] || { echo "state trees differ: $a vs $b" >&2; exit 1; }
  rm -rf "$run"
done

m() { tr ' ' '\n' <<<"${results[$1]}" | grep -v '^$' | median; }
echo "snapshot of $files files, $((total_bytes / 1048576)) MiB; incremental = $changed files changed;" \
  "median of $repeat runs, ms (all runs: strata ${results[strata_first]}/ ${results[strata_incr]};" \
  "git-cli ${results[cli_first]}/ ${results[cli_incr]})"
printf '%-28s %10s %10s\n' "" "strata" "git CLI"
printf '%-28s %10s %10s\n' "first snapshot" "$(m strata_first)" "$(m cli_first)"
printf '%-28s %10s %10s\n' "incremental (10 changed)" "$(m strata_incr)" "$(m cli_incr)"
printf '%-28s %10s %10s\n' "unchanged" "$(m strata_same)" "$(m cli_same)"
echo "(unchanged: strata makes no commit; the git-cli procedure commits --allow-empty)"
