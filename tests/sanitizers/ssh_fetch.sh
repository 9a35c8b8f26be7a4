#!/usr/bin/env bash
# Evidence for the libssh2/libgit2 entries of lsan.supp (not part of the test
# suite): builds ssh_fetch.c with AddressSanitizer, starts a throwaway sshd on
# 127.0.0.1 with a known host key and an authorized user key, and runs one
# clean fetch over ssh:// with the authorized key, then one with a key the
# server refuses. LeakSanitizer then reports the blocks lsan.supp describes,
# though the program frees everything it owns.
#   bash tests/sanitizers/ssh_fetch.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
d="$(mktemp -d)"
trap 'kill "${sshd:-0}" 2>/dev/null || true; rm -rf "$d"' EXIT
gcc -fsanitize=address -g -o "$d/ssh_fetch" "$here/ssh_fetch.c" $(pkg-config --cflags --libs libgit2)
mkdir -p "$d/home/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$d/userkey"
ssh-keygen -q -t ed25519 -N '' -f "$d/wrongkey"
cp "$d/userkey.pub" "$d/authorized_keys"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$d/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $d/hostkey
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
PidFile $d/sshd.pid
CFG
/usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
sshd=$!
git init -q --bare "$d/remote.git"
commit=$(git -C "$d/remote.git" commit-tree -m x "$(git -C "$d/remote.git" mktree </dev/null)")
git -C "$d/remote.git" update-ref refs/heads/main "$commit"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/hostkey.pub")" >"$d/home/.ssh/known_hosts"
sleep 0.5
url="ssh://$(id -un)@127.0.0.1:$port$d/remote.git"
# The slow unwinder: libgit2 and libssh2 have no frame pointers.
export HOME="$d/home" ASAN_OPTIONS=fast_unwind_on_malloc=0
echo "== fetch with the authorized key" >&2
"$d/ssh_fetch" "$d/local.git" "$url" "$d/userkey"
echo "== fetch with a refused key (fails with GIT_EAUTH, -16, by design)" >&2
"$d/ssh_fetch" "$d/local2.git" "$url" "$d/wrongkey" || true
