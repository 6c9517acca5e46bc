#!/bin/sh
# fetch-onnxruntime.sh — prints the path of a node_modules folder holding ONNX Runtime for Node.js
# (npm packages onnxruntime-node and onnxruntime-common 1.30.0, MIT, Microsoft), fetching it first
# when it is missing. The tests use it as an independent oracle for the logits segcam computes from
# an .onnx file (tests/onnx/ort-logits.js); segcam itself never runs it.
#
# The two tarballs are fetched with `npm pack` (the npm registry is the only network access),
# checked against the SHA-256 sums below and unpacked by hand: the CPU build of the runtime ships
# inside onnxruntime-node, and its install script (which only fetches GPU builds, and pulls in more
# packages) is not run. The folder is kept outside the clone (SEGCAM_ORT_DIR, default
# /var/cache/segcam/onnxruntime-node-1.30.0-6e3390d6 for root, whose runs the whole machine
# shares, else the same name in ~/.cache/segcam) so that every later run reuses it.
#
# Needs node and npm. Exit status 77 when they are missing, as for a skipped test.
set -eu
version=1.30.0
node_sum=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
common_sum=7906c439e0d3e0f4048caa23b64cdfadc0f455c377f579ce1ab2a4b778f07d5f
cache=/var/cache/segcam
[ "$(id -u)" -eq 0 ] || cache=${XDG_CACHE_HOME:-$HOME/.cache}/segcam
dir=${SEGCAM_ORT_DIR:-$cache/onnxruntime-node-$version-$(echo $node_sum | cut -c1-8)}
modules=$dir/node_modules

if [ -f "$modules/.segcam-complete" ]; then
  echo "$modules"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "fetch-onnxruntime.sh: needs node and npm (Debian: nodejs, npm)" >&2
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --loglevel=error "onnxruntime-node@$version" "onnxruntime-common@$version" >/dev/null)
check () {
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "fetch-onnxruntime.sh: $(basename "$1") has SHA-256 $got, not $2" >&2
    exit 1
  fi
}
check "$tmp/onnxruntime-node-$version.tgz" $node_sum
check "$tmp/onnxruntime-common-$version.tgz" $common_sum

# Unpacked next to the final folder and renamed into place, so that an interrupted fetch never
# leaves a half-filled folder that looks complete.
mkdir -p "$dir"
staging=$(mktemp -d "$dir/.staging.XXXXXX")
for pkg in node common; do
  mkdir -p "$staging/onnxruntime-$pkg"
  tar -xzf "$tmp/onnxruntime-$pkg-$version.tgz" -C "$staging/onnxruntime-$pkg" --strip-components=1
done
# Only this machine's platform is kept: the other platforms' builds are most of the 113 MB.
arch=$(node -p process.arch)
find "$staging/onnxruntime-node/bin"/napi-v* -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
find "$staging/onnxruntime-node/bin"/napi-v*/linux -mindepth 1 -maxdepth 1 ! -name "$arch" \
  -exec rm -rf {} +
touch "$staging/.segcam-complete"
rm -rf "$modules"
mv "$staging" "$modules"
echo "$modules"
