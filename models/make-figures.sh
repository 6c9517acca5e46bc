#!/bin/sh
# Pictures for models/README.md (needs ImageMagick), made by segcam itself: biased-test-split images of digit 2, the
# segmentation and the Seg-Grad-CAM heat map (class "digit 2", ROI = pixels predicted as digit 2,
# default layer) of each bundled TextureMNIST model, side by side, enlarged 3x.
# Usage: models/make-figures.sh BUILD_DIR MNIST_FILE   (writes models/figures/digit2-*.png)
set -eu
build=$1 mnist=$2
top=$(cd "$(dirname "$0")/.." && pwd)
segcam=$build/tools/segcam
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$top/models/figures"
"$segcam" dataset texture-mnist --config biased --split test --count 60 --seed 7 --mnist "$mnist" \
  --out "$tmp/data" >/dev/null
shown=0
for image in "$tmp"/data/[0-9][0-9][0-9][0-9].png; do
  id=$(basename "$image" .png)
  # Digit 2 is class 3; its images are the ones with bias pixels.
  [ "$(convert "$tmp/data/$id-bias.png" -format '%[fx:maxima]' info:)" = 1 ] || continue
  row=""
  for config in biased unbiased; do
    model=$top/models/texture-mnist-$config.safetensors
    "$segcam" predict --model "$model" "$image" -o "$tmp/$id-$config-seg.png"
    "$segcam" explain --model "$model" --class "digit 2" --roi-class "$image" \
      -o "$tmp/$id-$config-heat.png" >/dev/null || cp "$image" "$tmp/$id-$config-heat.png"
    row="$row $tmp/$id-$config-seg.png $tmp/$id-$config-heat.png"
  done
  convert "$image" "$tmp/data/$id-bias.png" $row -scale 300% +append "$top/models/figures/digit2-$id.png"
  shown=$((shown + 1))
  [ "$shown" -lt 3 ] || break
done
echo "wrote $shown figures to models/figures (image | bias tile | biased: segmentation, heat map | unbiased: segmentation, heat map)"
