#!/bin/sh
# dialog-screenshot.sh — opens the Explain dialog of the built plug-in in GIMP 2.10 under Xvfb
# and saves a screenshot of it (the README's). Needs xvfb-run and ImageMagick's import.
#
# usage: dialog-screenshot.sh BUILD_DIR IMAGE MODEL LAYER OUT.png [WAIT]
#
#   MODEL   a model file, which the dialog shows as the bundled default, or "" for the source
#           tree's models/
#   LAYER   the node the dialog starts on ("" = the model's default)
#   WAIT    seconds the dialog stays up before the screenshot (default 8: the preview computes)
set -eu

if [ $# -lt 5 ] || [ $# -gt 6 ]; then
  echo "usage: $0 BUILD_DIR IMAGE MODEL LAYER OUT.png [WAIT]" >&2
  exit 1
fi
build=$(realpath "$1")
image=$(realpath "$2")
model=${3:+$(realpath "$3")}
layer=$4
out=$(realpath -m "$5")
wait=${6:-8}
source_dir=$(realpath "$(dirname "$0")/../..")

work=$(mktemp -d "${TMPDIR:-/tmp}/segcam-shot-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plug-ins/seg-grad-cam/models"
for folder in brushes dynamics fonts gradients palettes patterns tool-presets cache; do
  mkdir -p "$work/profile/$folder"
done
cp "$build/plugin/seg-grad-cam" "$work/plug-ins/seg-grad-cam/"
if [ -n "$model" ]; then
  cp "$model" "$work/plug-ins/seg-grad-cam/models/"
else
  cp "$source_dir"/models/*.safetensors "$work/plug-ins/seg-grad-cam/models/"
fi
# No tooltips: Xvfb's pointer rests in the middle of the screen, over the dialog.
printf '(plug-in-path "%s")\n(show-tooltips no)\n' "$work/plug-ins:\${gimp_plug_in_dir}/plug-ins" \
  > "$work/profile/gimprc"

quote () { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
script="
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE $(quote "$image") $(quote "$image"))))
       (layer (car (gimp-image-get-active-layer image))))
  (catch #f (plug-in-segcam-explain RUN-INTERACTIVE image layer \"\" \"\"
                                    $(quote "$layer") 0 0 0 60 1)))"

# The dialog answers itself (Cancel) after $wait seconds; the screenshot is taken just before.
cat > "$work/run.sh" <<INNER
env GIMP2_DIRECTORY="$work/profile" XDG_CACHE_HOME="$work/profile/cache" \
  SEGCAM_TEST_DIALOG=cancel SEGCAM_TEST_DIALOG_WAIT=$wait \
  timeout 300 gimp-console-2.10 -i -d -f -b '$(printf '%s' "$script" | sed "s/'/'\\\\''/g")' \
  -b '(gimp-quit 0)' > "$work/gimp.log" 2>&1 &
sleep \$(( $wait - 1 ))
import -window root "$work/root.png"
wait
INNER
xvfb-run -a -s "-screen 0 1280x1024x24" sh "$work/run.sh"
convert "$work/root.png" -trim +repage "$out"
grep "segcam-dialog" "$work/gimp.log" || { cat "$work/gimp.log" >&2; exit 1; }
echo "wrote $out ($(identify -format '%w x %h' "$out"))"
