#!/bin/sh
# The main job: build segcam, then explain the bundled sample image with the bundled model.
# Writes out/heatmap.png, out/overlay.png, out/map.npy and out/segmentation.png.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
out=${OUT_DIR:-$top/out}
BUILD_DIR=$build sh "$top/tools/build.sh"
mkdir -p "$out"
model=$top/models/random-unet.safetensors
image=$top/models/samples/shapes.png
"$build/tools/segcam" predict --model "$model" "$image" -o "$out/segmentation.png"
"$build/tools/segcam" explain --model "$model" --class cell --roi-class "$image" \
  -o "$out/heatmap.png" --overlay "$out/overlay.png" --map-npy "$out/map.npy"
echo "segcam: wrote $out/segmentation.png, heatmap.png, overlay.png and map.npy"
