#!/bin/sh
# gimp3-test.sh — builds segcam with the GIMP 3.0 API and runs the headless GIMP 3 tests, in a
# Debian 13 (trixie) root with GIMP 3.0.4.
#
# Ensures the root (tools/gimp3-root.sh: built once with mmdebstrap, cached outside the clone),
# copies the working tree into it (the files git tracks or would track, with their times, so
# that the build kept in the root stays incremental), builds there with -Dgimp_api=3 and runs
# meson's "gimp" suite: tests/gimp/run-gimp-tests.py --api 3 with tests/gimp3/segcam-tests.scm,
# in gimp-console-3.0 with script-fu. Prints the suite's output (its last line "N passed,
# M failed", then meson's summary); the exit status is the suite's. Needs root: the root's /proc and /dev are mounted in a private
# mount namespace, so nothing stays mounted when the run ends, however it ends.
#
# usage: tools/gimp3-test.sh [--clean]    (--clean: rebuild from scratch)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
clean=no
case "${1:-}" in
  --clean) clean=yes ;;
  "") ;;
  *) echo "usage: $0 [--clean]" >&2; exit 1 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "gimp3-test.sh: needs root (mmdebstrap, chroot, mounts)" >&2
  exit 1
fi
root=$(sh "$top/tools/gimp3-root.sh")
if [ ! -x "$root/usr/bin/gimp-console-3.0" ]; then
  echo "gimp3-test.sh: no GIMP 3 in '$root'" >&2
  exit 1
fi
# Inside the root; GIMP3_WORK chooses another, so that two checkouts can run at once.
work=${GIMP3_WORK:-/var/tmp/segcam-gimp3}
# The previous run's sources and scratch folders (a failing run keeps its scratch folder until
# the next run, in $root$work/tmp).
rm -rf "$root$work/src" "$root$work/tmp"
[ "$clean" = yes ] && rm -rf "$root$work/build"
mkdir -p "$root$work/src"

# The working tree as git sees it: tracked and untracked-but-not-ignored files that exist.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$top" && git ls-files --cached --others --exclude-standard \
     | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done \
     | tar -cf - -T -) | tar -xf - -C "$root$work/src"
else
  (cd "$top" && tar -cf - --exclude='./build*' --exclude=./data .) | tar -xf - -C "$root$work/src"
fi

# Inside the root: configure once, build what the suite needs, run it.
inner='
set -eu
mkdir -p "$1/home" "$1/tmp"
cd "$1/src"
if [ ! -f "$1/build/build.ninja" ]; then
  meson setup "$1/build" -Dgimp_api=3 -Dplugin=enabled -Dtools=enabled >"$1/setup.log" 2>&1 \
    || { cat "$1/setup.log"; exit 1; }
fi
ninja -C "$1/build" plugin/seg-grad-cam tools/segcam plugin/tiny-rgb.safetensors \
  >"$1/build.log" 2>&1 || { tail -n 60 "$1/build.log"; exit 1; }
grep "warning:" "$1/build.log" || true
exec meson test -C "$1/build" --no-rebuild --suite gimp --verbose
'
exec unshare --mount --fork sh -c '
  set -eu
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  exec chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$3/home" \
    TMPDIR="$3/tmp" LANG=C.UTF-8 sh -c "$2" sh "$3"
' sh "$root" "$inner" "$work"
