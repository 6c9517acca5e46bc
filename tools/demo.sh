#!/bin/sh
# The main job: build segcam, then run the GIMP plug-in (plug-in-segcam-explain) in headless
# GIMP 2.10 on the bundled sample (a biased TextureMNIST image of digit 2) with the bundled model
# trained on biased TextureMNIST, explaining "digit 2". Writes out/explained.xcf (the image with
# the new layer group: heat map, overlay, segmentation) and out/explained.png (flattened), plus
# the same explanation from the command line (ROI: the pixels predicted as digit 2).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
out=${OUT_DIR:-$top/out}
BUILD_DIR=$build sh "$top/tools/build.sh"
mkdir -p "$out"
model=$top/models/texture-mnist-biased.safetensors
image=$top/models/samples/digit2.png
sh "$top/tests/gimp/run-demo.sh" "$build" "$image" "$model" "$out/explained" "digit 2"
"$build/tools/segcam" explain --model "$model" --class "digit 2" --roi-class "$image" \
  -o "$out/heatmap.png" --overlay "$out/overlay.png" --map-npy "$out/map.npy"
echo "segcam: wrote $out/explained.xcf, explained.png, heatmap.png, overlay.png and map.npy"
