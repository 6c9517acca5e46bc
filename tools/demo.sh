#!/bin/sh
# The main job: build segcam, then run the GIMP plug-in (plug-in-segcam-explain) in headless
# GIMP 2.10 on the bundled sample image with the bundled model. Writes out/explained.xcf (the
# image with the new layer group: heat map, overlay, segmentation) and out/explained.png
# (flattened), plus the same explanation from the command line in out/heatmap.png.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
out=${OUT_DIR:-$top/out}
BUILD_DIR=$build sh "$top/tools/build.sh"
mkdir -p "$out"
model=$top/models/random-unet.safetensors
image=$top/models/samples/shapes.png
sh "$top/tests/gimp/run-demo.sh" "$build" "$image" "$model" "$out/explained" "cell"
"$build/tools/segcam" explain --model "$model" --class cell "$image" -o "$out/heatmap.png" \
  --overlay "$out/overlay.png" --map-npy "$out/map.npy"
echo "segcam: wrote $out/explained.xcf, explained.png, heatmap.png, overlay.png and map.npy"
