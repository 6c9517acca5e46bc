#!/bin/sh
# fresh-machine-test.sh — runs the README's two commands, exactly as the README writes them, on a
# bare Debian 12 machine: a root made with `mmdebstrap --variant=apt` holding git, ca-certificates
# and sudo and nothing of segcam's dependencies, as a user who has sudo, from a clone of this
# working tree. It fails if either command fails or if the main job's result files are missing, so
# that an install step that only this machine happens to have done cannot hide behind a green CI.
#
# The bare root is made once and kept outside the clone (SEGCAM_FRESH_ROOT, default
# /var/cache/segcam/bookworm-bare; remade when the stamp below changes); every run works on a fresh
# copy of it, so nothing a run installs survives into the next. Downloaded .deb files are the one
# thing kept between runs (/var/cache/segcam/bookworm-apt-archives, bind-mounted as the copy's
# /var/cache/apt/archives): apt still installs every package, it only need not fetch it again.
#
# The clone is `git clone` of this repository's HEAD with the working tree's uncommitted changes
# laid over it, so a developer tests what they are about to commit and CI, on a clean clone, tests
# exactly main. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE pass through when set (old OpenBLAS builds
# need them on some processors); nothing else of this machine's environment does.
#
# Needs root (mmdebstrap, chroot, mounts in a private namespace: nothing stays mounted however the
# run ends). The copy of a failed run stays in /var/tmp/segcam-fresh until the next run.
#
# usage: tools/fresh-machine-test.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "fresh-machine-test.sh: needs root (mmdebstrap, chroot, mounts)" >&2
  exit 1
fi
base=${SEGCAM_FRESH_ROOT:-/var/cache/segcam/bookworm-bare}
stamp="$base/.segcam-bare-1"        # bump when what the bare root holds changes
archives=/var/cache/segcam/bookworm-apt-archives
run=/var/tmp/segcam-fresh
start=$(date +%s)

if [ ! -f "$stamp" ]; then
  command -v mmdebstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  }
  echo "fresh-machine-test: making the bare Debian 12 root in $base (once)" >&2
  rm -rf "$base"
  mkdir -p "$(dirname "$base")"
  mmdebstrap --quiet --variant=apt --include=git,ca-certificates,sudo bookworm "$base" \
    http://deb.debian.org/debian >&2
  # The new user: an account with sudo, as on a machine someone set up for themselves.
  chroot "$base" useradd --create-home --shell /bin/bash user
  echo 'user ALL=(ALL) NOPASSWD: ALL' >"$base/etc/sudoers.d/user"
  chmod 0440 "$base/etc/sudoers.d/user"
  touch "$stamp"
fi

rm -rf "$run"
mkdir -p "$run" "$archives/partial"
root=$run/root
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own certificate authorities are the one part of its set-up the copy takes: where
# the network passes through a TLS-inspecting proxy, no HTTPS download (npm's) works without them,
# on any new machine there, whatever segcam does.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1
fi
echo "127.0.1.1 $(hostname)" >>"$root/etc/hosts"     # sudo looks its host up

# The clone: HEAD, then what the working tree changes (modified and new files, deletions).
clone=$root/home/user/segcam
git clone --quiet --no-hardlinks "$top" "$clone"
(cd "$top" && git ls-files --modified --others --exclude-standard \
   | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done \
   | tar -cf - -T -) | tar -xf - -C "$clone"
(cd "$top" && git ls-files --deleted) | while IFS= read -r f; do rm -f "$clone/$f"; done
chroot "$root" chown -R user:user /home/user/segcam

# The README's two commands, in the clone, as the user.
inner='
set -eu
cd "$HOME/segcam"
echo "fresh-machine-test: sh tools/demo.sh"
sh tools/demo.sh
echo "fresh-machine-test: sh tools/run-tests.sh"
sh tools/run-tests.sh
'
envs="PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/user USER=user LOGNAME=user SHELL=/bin/bash LANG=C.UTF-8"
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  eval "val=\${$v:-}"
  [ -n "$val" ] && envs="$envs $v=$val"
done
status=0
unshare --mount --fork sh -c '
  set -eu
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  mount --bind "$4" "$1/var/cache/apt/archives"
  exec chroot --userspec=user:user "$1" env -i $3 sh -c "$2"
' sh "$root" "$inner" "$envs" "$archives" || status=$?

elapsed=$(( $(date +%s) - start ))
if [ "$status" -ne 0 ]; then
  echo "fresh-machine-test: FAILED (exit $status) after ${elapsed} s; the machine is kept in $root" >&2
  exit 1
fi
missing=""
for f in explained.xcf explained.png heatmap.png overlay.png map.npy; do
  [ -s "$clone/out/$f" ] || missing="$missing out/$f"
done
if [ -n "$missing" ]; then
  echo "fresh-machine-test: FAILED: the main job did not write$missing; the machine is kept in $root" >&2
  exit 1
fi
rm -rf "$run"
echo "fresh-machine-test: both README commands passed on a bare Debian 12 in ${elapsed} s"
