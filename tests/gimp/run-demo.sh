#!/bin/sh
# run-demo.sh — runs plug-in-segcam-explain in headless GIMP 2.10 on one image.
#
# usage: run-demo.sh BUILD_DIR IMAGE MODEL OUT_PREFIX [CLASSES]
#
#   BUILD_DIR   meson build folder holding plugin/seg-grad-cam
#   IMAGE       any image GIMP opens
#   MODEL       a .safetensors model, or "" for the bundled default (from the source tree's models/)
#   OUT_PREFIX  writes OUT_PREFIX.xcf (the image with the new layer group) and OUT_PREFIX.png
#               (flattened: the top heat map over the image)
#   CLASSES     classes to explain, e.g. "digit 2, 3"; default "" = the class predicted most
#
# The plug-in runs uninstalled, laid out in a scratch folder as GIMP expects it, with a private
# GIMP profile; the whole layer is the ROI, and every output is created (heat map, overlay and
# segmentation). Exit status 0 when both files were written.
set -eu

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: $0 BUILD_DIR IMAGE MODEL OUT_PREFIX [CLASSES]" >&2
  exit 1
fi
build=$(realpath "$1")
image=$(realpath "$2")
model=${3:+$(realpath "$3")}
out=$(realpath -m "$4")
classes=${5:-}
source_dir=$(realpath "$(dirname "$0")/../..")

if [ ! -x "$build/plugin/seg-grad-cam" ]; then
  echo "$0: $build/plugin/seg-grad-cam is not built" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/segcam-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plug-ins/seg-grad-cam/models" "$(dirname "$out")"
# The folders GIMP writes its data to on exit, so that it does not complain.
for folder in brushes dynamics fonts gradients palettes patterns tool-presets cache; do
  mkdir -p "$work/profile/$folder"
done
cp "$build/plugin/seg-grad-cam" "$work/plug-ins/seg-grad-cam/"
if ls "$source_dir"/models/*.safetensors > /dev/null 2>&1; then
  cp "$source_dir"/models/*.safetensors "$work/plug-ins/seg-grad-cam/models/"
fi
echo "(plug-in-path \"$work/plug-ins:\${gimp_plug_in_dir}/plug-ins\")" > "$work/profile/gimprc"

# Scheme strings: escape backslashes and double quotes.
quote () { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

script="
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE $(quote "$image") $(quote "$image"))))
       (layer (car (gimp-image-get-active-layer image)))
       (group (car (plug-in-segcam-explain RUN-NONINTERACTIVE image layer $(quote "$model")
                                           $(quote "$classes") \"\" 0 0 0 60 7)))
       (top (vector-ref (cadr (gimp-item-get-children group)) 0)))
  (gimp-message (string-append \"segcam-demo: \" (car (gimp-item-get-name top))))
  (gimp-xcf-save 0 image layer $(quote "$out.xcf") $(quote "$out.xcf"))
  (let ((flat (car (gimp-image-flatten image))))
    (file-png-save2 RUN-NONINTERACTIVE image flat $(quote "$out.png") $(quote "$out.png")
                    0 9 0 0 0 0 0 0 0))
  (gimp-image-delete image))"

rm -f "$out.xcf" "$out.png"
log=$(env -u DISPLAY GIMP2_DIRECTORY="$work/profile" XDG_CACHE_HOME="$work/profile/cache" \
        timeout 600 gimp-console-2.10 -i -d -f -b "$script" -b '(gimp-quit 0)' 2>&1) || true

# GIMP's exit status says nothing; the files do.
if [ ! -s "$out.xcf" ] || [ ! -s "$out.png" ]; then
  echo "$0: GIMP did not write $out.xcf and $out.png:" >&2
  printf '%s\n' "$log" | grep -v '^$' >&2
  exit 1
fi
printf '%s\n' "$log" | sed -n 's/.*segcam-demo: /top layer: /p'
echo "wrote $out.xcf (with the new layers)"
echo "wrote $out.png (flattened)"
