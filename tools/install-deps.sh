#!/bin/sh
# Installs the Debian 12 packages segcam needs to build, test and run its demo (as root, or
# through sudo). Quiet and quick when everything is already there.
set -eu

packages="gcc clang meson ninja-build pkg-config
  libopenblas-dev libglib2.0-dev libjson-glib-dev libgegl-dev
  gimp libgimp2.0-dev xvfb xauth
  imagemagick
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev
  python3 python3-numpy python3-pil python3-torch python3-torchvision python3-onnx python3-matplotlib
  python3-skimage
  valgrind"

missing=""
for p in $packages; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm fetch ONNX Runtime, the tests' second oracle (tools/fetch-onnxruntime.sh). A node
# from elsewhere (one that bundles its own npm) serves as well, and Debian's npm would conflict
# with it, so these two are looked for as commands.
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "segcam: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
