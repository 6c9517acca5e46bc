#!/bin/sh
# Prints the path of a Debian 13 (trixie) root holding GIMP 3.0 and segcam's build dependencies,
# building it first with mmdebstrap when it is missing (about 4 minutes and 1.5 GB, once). It
# lives outside the clone (SEGCAM_GIMP3_ROOT, default /var/cache/segcam/trixie-gimp3) so that
# every build and CI run on the machine reuses it. Needs root.
set -eu
root=${SEGCAM_GIMP3_ROOT:-/var/cache/segcam/trixie-gimp3}
stamp="$root/.segcam-root-1"   # bump when the package list changes

if [ -f "$stamp" ]; then
  echo "$root"
  exit 0
fi

packages="gimp libgimp-3.0-dev gcc meson ninja-build pkg-config libopenblas-dev libglib2.0-dev
  libjson-glib-dev libgegl-dev protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3
  python3-numpy xvfb xauth"

command -v mmdebstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}
rm -rf "$root"
mkdir -p "$(dirname "$root")"
echo "segcam: building the GIMP 3 root in $root (once)" >&2
mmdebstrap --quiet --variant=apt --include="$(echo $packages | tr ' ' ,)" trixie "$root" \
  http://deb.debian.org/debian >&2
touch "$stamp"
echo "$root"
