#!/bin/sh
# Installs what is missing, then configures and builds segcam in BUILD_DIR (default: build).
# Extra arguments go to meson setup (e.g. -Db_sanitize=address,undefined).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
sh "$top/tools/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" "$@" >/dev/null
elif [ $# -gt 0 ]; then
  meson configure "$build" "$@" >/dev/null
fi
ninja -C "$build" >/dev/null
