#!/bin/sh
# The segcam command line on real files: every command's success path, and each bad input giving
# its exit status (1 usage, 2 bad input) and a one-line message that names the problem.
# Usage: test-cli.sh SEGCAM MODEL IMAGE
set -u
segcam=$1 model=$2 image=$3
. "$(dirname "$0")/cli-expect.sh"

# file_is KIND PATH: the file exists and its first bytes say KIND: "png-rgb8" (the PNG signature,
# then an IHDR of bit depth 8 and colour type 2) or "npy" (the NumPy magic). Read with od, which
# every Debian has, rather than file(1), which a minimal one does not.
file_is () {
  head=$(od -An -tx1 -N26 "$2" 2>/dev/null | tr -d ' \n')
  case "$1" in
    png-rgb8) want='^89504e470d0a1a0a0000000d49484452.{16}0802' ;;
    npy) want='^934e554d5059' ;;
  esac
  if [ -s "$2" ] && printf '%s\n' "$head" | grep -Eq "$want"; then
    pass
  else
    fail "FAIL: $2 is not $1 (starts $head)"
  fi
}

expect 0 "" "$segcam" --help
expect 1 "unknown command" "$segcam" frobnicate
expect 0 "" "$segcam" info "$model"
grep -q "default layer" "$tmp/out" && pass || fail "FAIL: info output"
expect 0 "" "$segcam" info --size 37x29 "$model"
expect 1 "size" "$segcam" info --size huge "$model"
for cmd in info predict explain dataset bench; do
  expect 0 "" "$segcam" $cmd --help
done

expect 0 "" "$segcam" predict --model "$model" "$image" -o "$tmp/seg.png" --probabilities "$tmp/p.npy"
file_is png-rgb8 "$tmp/seg.png"
file_is npy "$tmp/p.npy"
expect 0 "" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.png" \
  --overlay "$tmp/o.png" --map-npy "$tmp/m.npy" --colormap viridis
file_is png-rgb8 "$tmp/h.png"
file_is png-rgb8 "$tmp/o.png"
file_is npy "$tmp/m.npy"
expect 0 "" "$segcam" explain --model "$model" --class 1 --roi-rect 0,0,10,10 --score probabilities \
  --weights relu --no-normalize "$image" -o "$tmp/h.png"
for method in seg-grad-cam hires xres gradcam++ xgrad layer eigen; do
  expect 0 "" "$segcam" explain --model "$model" --class 1 --method "$method" "$image" -o "$tmp/h.png" \
    --map-npy "$tmp/m.npy"
  file_is npy "$tmp/m.npy"
done
grep -q "eigen is class-agnostic" "$tmp/err" && pass || fail "FAIL: eigen does not say it is class-agnostic"
expect 0 "" "$segcam" explain --model "$model" --class 1 --method xres --pool 3 --pool-mode mean \
  "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" bench --model "$model" --size 64x48 --runs 1 --method xres --pool 4
grep -q "method xres" "$tmp/out" && pass || fail "FAIL: bench --method does not say which method it ran"
expect 0 "" "$segcam" bench --model "$model" --size 64x48 --runs 1
grep -q "fast path" "$tmp/out" && pass || fail "FAIL: bench does not say it ran the fast path"
expect 0 "" "$segcam" bench --model "$model" --size 64x48 --runs 1 --exact
grep -q "exact path" "$tmp/out" && pass || fail "FAIL: bench --exact does not say it ran the exact path"
expect 0 "" "$segcam" explain --exact --model "$model" --class 1 "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" predict --exact --model "$model" "$image" -o "$tmp/seg.png"

# Usage errors: status 1.
expect 1 "missing --model MODEL \(see" "$segcam" explain --class 1 "$image" -o "$tmp/h.png"
expect 1 "score" "$segcam" explain --model "$model" --class 1 --score odds "$image" -o "$tmp/h.png"
expect 1 "weights" "$segcam" explain --model "$model" --class 1 --weights max "$image" -o "$tmp/h.png"
expect 1 "--method must be" "$segcam" explain --model "$model" --class 1 --method grad "$image" -o "$tmp/h.png"
expect 1 "--method must be" "$segcam" bench --model "$model" --method score-cam
expect 1 "xres only" "$segcam" explain --model "$model" --class 1 --method hires --pool 2 "$image" -o "$tmp/h.png"
expect 1 "xres only" "$segcam" explain --model "$model" --class 1 --pool-mode max "$image" -o "$tmp/h.png"
expect 1 "--pool must be" "$segcam" explain --model "$model" --class 1 --method xres --pool 0 "$image" -o "$tmp/h.png"
expect 1 "--pool must be" "$segcam" explain --model "$model" --class 1 --method xres --pool 2x "$image" -o "$tmp/h.png"
expect 1 "--pool-mode must be" "$segcam" explain --model "$model" --class 1 --method xres --pool-mode sum "$image" -o "$tmp/h.png"
expect 1 "seg-grad-cam only" "$segcam" explain --model "$model" --class 1 --method layer --weights abs "$image" -o "$tmp/h.png"
expect 1 "colormap" "$segcam" explain --model "$model" --class 1 --colormap rainbow "$image" -o "$tmp/h.png"
expect 1 "at most one" "$segcam" explain --model "$model" --class 1 --roi-rect 0,0,1,1 --roi-pixel 0,0 "$image" -o "$tmp/h.png"
expect 1 "roi-rect" "$segcam" explain --model "$model" --class 1 --roi-rect 1,2 "$image" -o "$tmp/h.png"
expect 1 "Unknown option" "$segcam" predict --model "$model" --bogus "$image" -o "$tmp/s.png"

# Bad input: status 2.
printf 'not a model' >"$tmp/bad.safetensors"
expect 2 "bad.safetensors" "$segcam" info "$tmp/bad.safetensors"
expect 2 "cannot read model" "$segcam" predict --model "$tmp/missing.safetensors" "$image" -o "$tmp/s.png"
expect 2 "no such file" "$segcam" predict --model "$model" "$tmp/missing.png" -o "$tmp/s.png"
printf 'not an image' >"$tmp/bad.png"
expect 2 "not an image" "$segcam" explain --model "$model" --class 1 "$tmp/bad.png" -o "$tmp/h.png"
expect 2 "unknown class 'zebra'" "$segcam" explain --model "$model" --class zebra "$image" -o "$tmp/h.png"
expect 2 "unknown class '99'" "$segcam" explain --model "$model" --class 99 "$image" -o "$tmp/h.png"
expect 2 "unknown class 'zebra'" "$segcam" explain --model "$model" --class zebra --method eigen "$image" -o "$tmp/h.png"
expect 2 "unknown layer" "$segcam" explain --model "$model" --class 1 --method xres --layer no.such "$image" -o "$tmp/h.png"
expect 2 "unknown layer 'nope'" "$segcam" explain --model "$model" --class 1 --layer nope "$image" -o "$tmp/h.png"
expect 2 "outside" "$segcam" explain --model "$model" --class 1 --roi-rect 5000,0,4,4 "$image" -o "$tmp/h.png"
expect 2 "outside" "$segcam" explain --model "$model" --class 1 --roi-pixel -1,0 "$image" -o "$tmp/h.png"
# A 1x1 gray PNG: a mask of the wrong size.
echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==' \
  | base64 -d >"$tmp/tiny.png"
expect 2 "ROI mask is 1x1" "$segcam" explain --model "$model" --class 1 --roi-mask "$tmp/tiny.png" "$image" -o "$tmp/h.png"
expect 2 "cannot write" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/no/such/dir/h.png"

# ---- A command line for real work (issue 15) ------------------------------------------------------
# model_edit OUT MODE: a copy of the model, edited by python3 in its safetensors header: "onnx"
# renames the nodes as torch.onnx.export names them ("/net/enc1/conv1/Conv_output_0"; enc2's
# second convolution and batch norm in a branch "side" nested inside enc2, as a ResNet block's
# downsample), "zero-head" zeroes the head's weights and bias (every gradient, so every map, is 0).
model_edit () {
  python3 - "$model" "$1" "$2" <<'PY'
import json, struct, sys
src, dst, mode = sys.argv[1:]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
body = bytearray(data[8 + n:])
if mode.startswith("training-size="):
    header["__metadata__"]["segcam.training_size"] = mode.split("=", 1)[1]
elif mode == "zero-head":
    for t in ("head.weight", "head.bias"):
        a, b = header[t]["data_offsets"]
        body[a:b] = bytes(b - a)
else:
    meta = header["__metadata__"]
    graph = json.loads(meta["segcam.graph"])
    def onnx(name, op):
        if name == "input":
            return name
        if name == "enc2.conv2":
            return "/net/enc2/side/conv/Conv_output_0"
        if name == "enc2.bn2":
            return "/net/enc2/side/bn/BatchNormalization_output_0"
        parts = name.split(".")
        return "/" + "/".join(["net"] + parts if len(parts) > 1 else parts) + "/" + op.capitalize() + "_output_0"
    names = {nd["name"]: onnx(nd["name"], nd["op"]) for nd in graph["nodes"]}
    for nd in graph["nodes"]:
        nd["name"] = names[nd["name"]]
        nd["inputs"] = [names[i] for i in nd.get("inputs", [])]
    graph["output"] = names[graph["output"]]
    graph["default_layer"] = names[graph["default_layer"]]
    meta["segcam.graph"] = json.dumps(graph)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + bytes(body))
PY
}
gray_model=$(dirname "$model")/texture-mnist-biased.safetensors
gray_image=$(dirname "$image")/digit2.png
mkdir -p "$tmp/t" "$tmp/u"
cp "$image" "$tmp/a.png"
cp "$image" "$tmp/b.png"
cp "$image" "$tmp/u/a.png"

# Classes: a name in any case, an index, always printed with its name; the closest name offered.
expect 0 "" "$segcam" explain --model "$model" --class CELL "$image" -o "$tmp/h.png"
grep -q "class 1 'cell' at 'bottleneck.relu2'" "$tmp/out" && pass || fail "FAIL: --class CELL: $(cat "$tmp/out")"
expect 0 "" "$segcam" explain --model "$model" --class 2 "$image" -o "$tmp/h.png"
grep -q "class 2 'cell membrane'" "$tmp/out" && pass || fail "FAIL: --class 2 is not printed with its name"
expect 2 "unknown class 'celll' \(did you mean 'cell'\? the model has: background, cell, cell membrane\)$" \
  "$segcam" explain --model "$model" --class celll "$image" -o "$tmp/h.png"
expect 2 "unknown class 'zebra' \(the model has" "$segcam" explain --model "$model" --class cell,zebra \
  "$image" -o "$tmp/h.png"
# Several classes (a comma list, --class repeated) and several images: one file each through the
# template; each map is the one a run of its own gives (the forward is shared, not the results).
expect 0 "" "$segcam" explain --model "$model" --class background,cell --class "Cell Membrane" \
  "$tmp/a.png" "$tmp/b.png" -o "$tmp/t/{stem}-{class}.png" --map-npy "$tmp/t/{stem}-{class}.npy"
[ "$(grep -c "ROI weight" "$tmp/out")" -eq 6 ] && pass || fail "FAIL: 6 maps expected: $(cat "$tmp/out")"
for f in a-background b-background a-cell b-cell "a-cell membrane" "b-cell membrane"; do
  file_is png-rgb8 "$tmp/t/$f.png"
done
expect 0 "" "$segcam" explain --model "$model" --class "cell membrane" "$tmp/b.png" -o "$tmp/h.png" --map-npy "$tmp/m.npy"
cmp -s "$tmp/m.npy" "$tmp/t/b-cell membrane.npy" && pass || fail "FAIL: the map of a multi-class run differs"
# A template that would write two maps to one file is refused before any work.
expect 1 "-o '.*h2.png' would write the maps of 'background' and 'cell' to one file .*: put \{class\} in it" \
  "$segcam" explain --model "$model" --class background,cell "$image" -o "$tmp/h2.png"
[ -e "$tmp/h2.png" ] && fail "FAIL: a refused template wrote a file" || pass
expect 1 "would write the maps of '.*a.png' and '.*b.png' to one file .*: put \{stem\} in it" \
  "$segcam" explain --model "$model" --class cell "$tmp/a.png" "$tmp/b.png" -o "$tmp/t/{class}.png"
expect 1 "would write the maps of '.*/a.png' and '.*u/a.png' .*: their \{stem\} is the same" \
  "$segcam" explain --model "$model" --class cell "$tmp/a.png" "$tmp/u/a.png" -o "$tmp/t/{stem}.png"
expect 1 "--map-npy '.*\{size\}.npy' has '\{size\}', which is none of \{stem\}, \{class\}, \{layer\} and \{method\}" \
  "$segcam" explain --model "$model" --class cell "$image" -o "$tmp/h.png" --map-npy "$tmp/{size}.npy"
expect 2 "--map-npy .* is the same file as -o" "$segcam" explain --model "$model" --class cell,background \
  "$image" -o "$tmp/t/{class}.png" --map-npy "$tmp/t/{class}.png"
expect 2 "--overlay '.*/a.png' is the same file as the image '.*/a.png'" "$segcam" explain --model "$model" \
  --class cell "$tmp/a.png" "$tmp/b.png" -o "$tmp/t/{stem}.png" --overlay "$tmp/{stem}.png"
[ -e "$tmp/t/a.png" ] && fail "FAIL: an output was written before the outputs were checked" || pass
# The format follows the extension; a name that says no format segcam writes is refused first.
expect 1 "-o cannot write '.*h.bmp': '.bmp' is not the extension" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.bmp"
rm -f "$tmp/h.png"
expect 1 "--overlay cannot write '.*o.xyz'" \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.png" --overlay "$tmp/o.xyz"
[ -e "$tmp/h.png" ] && fail "FAIL: -o was written although --overlay was refused" || pass
expect 0 "" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.jpg"
[ "$(od -An -tx1 -N3 "$tmp/h.jpg" | tr -d ' ')" = ffd8ff ] && pass || fail "FAIL: -o h.jpg is not a JPEG"
expect 0 "" "$segcam" predict --model "$model" "$image" -o "$tmp/s.tif"
case "$(od -An -tx1 -N2 "$tmp/s.tif" | tr -d ' ')" in 4949|4d4d) pass ;; *) fail "FAIL: -o s.tif is not a TIFF" ;; esac
expect 0 "" "$segcam" predict --model "$model" "$image" -o "$tmp/S.PNG"
# Missing arguments are named.
expect 1 "missing --class NAME\|INDEX and -o HEATMAP.png \(see" "$segcam" explain --model "$model" "$image"
expect 1 "missing --model MODEL, -o SEGMENTATION.png and the IMAGE \(see" "$segcam" predict
expect 1 "expected one IMAGE, not 2" "$segcam" predict --model "$model" "$image" "$image" -o "$tmp/s.png"
expect 1 "missing the MODEL \(see" "$segcam" info
expect 1 "missing an IMAGE \(see" "$segcam" explain --model "$model" --class 1 -o "$tmp/h.png"

# Layers: the closest name, or where to look; a sweep over several layers or every block output.
expect 2 "unknown layer 'enc1.relu' \(did you mean 'enc1.relu1'\? segcam info lists the nodes\)" \
  "$segcam" explain --model "$model" --class 1 --layer enc1.relu "$image" -o "$tmp/h.png"
expect 2 "unknown layer 'enc' \(12 node names contain it: segcam info --grep 'enc' lists them\)" \
  "$segcam" explain --model "$model" --class 1 --layer enc "$image" -o "$tmp/h.png"
expect 2 "did you mean 'head'" "$segcam" bench --model "$model" --layer hed --size 16x16 --runs 1
expect 0 "" "$segcam" info --grep RELU2 "$model"
[ "$(grep -c '^  [a-z0-9]*\.relu2 ' "$tmp/out")" -eq 5 ] && grep -q "(5 of 38;" "$tmp/out" && pass \
  || fail "FAIL: info --grep RELU2: $(cat "$tmp/out")"
expect 0 "" "$segcam" info --grep 'ENC?.conv*' "$model"
[ "$(grep -c '^  enc[12]\.conv[12] ' "$tmp/out")" -eq 4 ] && pass || fail "FAIL: info --grep glob: $(cat "$tmp/out")"
expect 0 "" "$segcam" info "$model"
[ "$(grep -c 'block output)$' "$tmp/out")" -eq 5 ] && pass || fail "FAIL: info marks 5 block outputs"
expect 0 "" "$segcam" explain --model "$model" --class cell --layer blocks --layer head "$image" \
  -o "$tmp/t/L-{layer}-{method}.png" --map-npy "$tmp/t/L-{layer}.npy"
for l in enc1.relu2 enc2.relu2 bottleneck.relu2 dec2.relu2 dec1.relu2 head; do
  file_is png-rgb8 "$tmp/t/L-$l-seg-grad-cam.png"
done
expect 0 "" "$segcam" explain --model "$model" --class cell --layer enc2.relu2 "$image" -o "$tmp/h.png" --map-npy "$tmp/m.npy"
cmp -s "$tmp/m.npy" "$tmp/t/L-enc2.relu2.npy" && pass || fail "FAIL: a sweep's map differs from its layer's own run"
# ONNX-style names: long ones on their own line in info, a nested branch that is no block, and
# '/' made '_' in file names.
model_edit "$tmp/onnx-names.safetensors" onnx
expect 0 "" "$segcam" info "$tmp/onnx-names.safetensors"
if grep -A1 -x '  /net/bottleneck/relu2/Relu_output_0' "$tmp/out" | tail -1 \
   | grep -Eq '^ {35}relu +32 x +64 x +64  \(default layer, block output\)$'; then pass; else
  fail "FAIL: info breaks the columns of a long name: $(grep -A1 bottleneck/relu2 "$tmp/out")"; fi
expect 0 "" "$segcam" explain --model "$tmp/onnx-names.safetensors" --class cell --layer blocks "$image" \
  -o "$tmp/t/{layer}.png"
for l in enc1/relu2/Relu enc2/relu2/Relu bottleneck/relu2/Relu dec2/relu2/Relu dec1/relu2/Relu; do
  file_is png-rgb8 "$tmp/t/_net_$(echo "$l" | tr / _)_output_0.png"
done
[ "$(grep -c "ROI weight" "$tmp/out")" -eq 5 ] && pass || fail "FAIL: the side branch counts as a block: $(cat "$tmp/out")"

# Warnings on stderr, exit status unchanged; --quiet silences them.
expect 0 "warning: '.*shapes.png': a colour image into a grayscale model" \
  "$segcam" explain --model "$gray_model" --class "digit 2" "$image" -o "$tmp/h.png"
expect 0 "warning: '.*digit2.png': a gray image into a colour model" \
  "$segcam" explain --model "$model" --class cell "$gray_image" -o "$tmp/h.png"
expect 0 "" "$segcam" explain --quiet --model "$model" --class cell "$gray_image" -o "$tmp/h.png"
[ -s "$tmp/err" ] && fail "FAIL: --quiet prints: $(cat "$tmp/err")" || pass
# The training size (segcam.training_size): a warning when a side is more than 4 times off it,
# either way; none within; a malformed value refused at load.
image_size=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' "$image")
image_w=${image_size%x*} image_h=${image_size#*x}
model_edit "$tmp/small-train.safetensors" "training-size=$((image_w / 5))x$image_h"
expect 0 "warning: '.*shapes.png': the network sees ${image_w} x ${image_h}, more than 4 times larger than the $((image_w / 5)) x ${image_h} it was trained at" \
  "$segcam" explain --model "$tmp/small-train.safetensors" --class cell "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" info "$tmp/small-train.safetensors"
grep -Eq "^trained at: +$((image_w / 5))x${image_h} " "$tmp/out" && pass \
  || fail "FAIL: info does not show the training size: $(cat "$tmp/out")"
model_edit "$tmp/large-train.safetensors" "training-size=${image_w}x$((image_h * 5))"
expect 0 "more than 4 times smaller than the ${image_w} x $((image_h * 5)) it was trained at" \
  "$segcam" predict --model "$tmp/large-train.safetensors" "$image" -o "$tmp/p.png"
model_edit "$tmp/near-train.safetensors" "training-size=$((image_w / 4))x$((image_h * 4))"
expect 0 "" "$segcam" explain --model "$tmp/near-train.safetensors" --class cell "$image" -o "$tmp/h.png"
grep -q "trained at" "$tmp/err" && fail "FAIL: a size 4 times off warns: $(cat "$tmp/err")" || pass
model_edit "$tmp/bad-train.safetensors" "training-size=64x"
expect 2 "segcam.training_size must be WIDTHxHEIGHT, each in \[1, 65536\]" \
  "$segcam" info "$tmp/bad-train.safetensors"
model_edit "$tmp/zero.safetensors" zero-head
expect 0 "warning: .*: the map of class 'cell' at 'bottleneck.relu2' is zero everywhere: .*; try --weights abs, another --layer or another --method$" \
  "$segcam" explain --model "$tmp/zero.safetensors" --class cell "$image" -o "$tmp/h.png"
grep -q "map maximum 0$" "$tmp/out" && pass || fail "FAIL: the zeroed head gives a map: $(cat "$tmp/out")"
expect 0 "is zero everywhere: .*; try another --layer or another --method$" \
  "$segcam" explain --model "$tmp/zero.safetensors" --class cell --method hires "$image" -o "$tmp/h.png"
# Progress on a terminal (script gives the command one), never when --quiet or not a terminal.
if script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "'$segcam' explain --model '$model' --class cell,background '$image' -o '$tmp/t/p-{class}.png'" \
    /dev/null >"$tmp/tty" 2>&1
  grep -q "image 1/1 shapes.png, layer 'bottleneck.relu2': class 'background'" "$tmp/tty" && pass \
    || fail "FAIL: no progress line on a terminal: $(cat "$tmp/tty")"
  script -qec "'$segcam' explain --quiet --model '$model' --class cell '$image' -o '$tmp/h.png'" \
    /dev/null >"$tmp/tty" 2>&1
  grep -q "image 1/1" "$tmp/tty" && fail "FAIL: --quiet shows progress" || pass
fi
expect 0 "" "$segcam" explain --model "$model" --class cell "$image" -o "$tmp/h.png"
[ -s "$tmp/err" ] && fail "FAIL: progress or chatter on a stderr that is no terminal: $(cat "$tmp/err")" || pass

# ---- Corrupt or absurd images are refused (issue 12) --------------------------------------------
# A truncated PNG or JPEG decodes in part: an input error naming the file, with the decoder's
# words folded into the one line (libpng printed its own lines before).
head -c 3000 "$image" >"$tmp/cut.png"
expect 2 "cannot read image '.*cut.png': the file is damaged or truncated \(IDAT: CRC error\)" \
  "$segcam" explain --model "$model" --class 1 "$tmp/cut.png" -o "$tmp/h.png"
echo '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4
UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj
Y2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAwT/xAAmEAACAgAEBAcA
AAAAAAAAAAABAgMREiEiMQATUaEEMkFCYnHw/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EAB0RAAEDBQEAAAAAAAAAAAAAAAEA
EfACEjFBkfH/2gAMAwEAAhEDEQA/ACklknUR4hTVG8ZKmOvgPvYdO6x+ITEYwEdo4hgKrqZSSDuD' | base64 -d >"$tmp/cut.jpg"
expect 2 "cannot read image '.*cut.jpg': the file is damaged or truncated \(.*premature end" \
  "$segcam" predict --model "$model" "$tmp/cut.jpg" -o "$tmp/s.png"
# A damaged JPEG header: libjpeg calls exit (1) from inside GEGL.
head -c 250 "$tmp/cut.jpg" >"$tmp/head.jpg"
expect 2 "cannot read image '.*head.jpg'" "$segcam" predict --model "$model" "$tmp/head.jpg" -o "$tmp/s.png"
# A 0x0 PNG (libpng and GEGL printed 7 lines).
echo 'iVBORw0KGgoAAAANSUhEUgAAAAAAAAAACAIAAAC06etFAAAACElEQVR4nAMAAAAAAUgGidIAAAAASUVORK5CYII=' \
  | base64 -d >"$tmp/zero.png"
expect 2 "cannot read image '.*zero.png': not an image GEGL can load \(.*zero" \
  "$segcam" predict --model "$model" "$tmp/zero.png" -o "$tmp/s.png"
# What is not a file is named for what it is.
mkdir -p "$tmp/empty-in"
expect 2 "cannot read image '.*empty-in': it is a directory" \
  "$segcam" predict --model "$model" "$tmp/empty-in" -o "$tmp/s.png"
mkfifo "$tmp/in-fifo"
expect 2 "cannot read image '.*in-fifo': it is a FIFO" "$segcam" predict --model "$model" "$tmp/in-fifo" -o "$tmp/s.png"
expect 2 "cannot read image '/dev/null': it is a device" "$segcam" predict --model "$model" /dev/null -o "$tmp/s.png"
# The size comes from the header and is checked before decoding: a 69-byte PNG that says
# 20000x20000 (GEGL decoded 5 GB of it before) is refused with the remedy.
echo 'iVBORw0KGgoAAAANSUhEUgAATiAAAE4gCAIAAABsEtFuAAAADElEQVR4nGNgoD0AAABkAAGGZDw1AAAAAElFTkSuQmCC' \
  | base64 -d >"$tmp/huge.png"
expect 2 "image '.*huge.png' is 20000x20000, larger than 16384 pixels on its longer side: scale it down" \
  "$segcam" explain --model "$model" --class 1 --max-size 1024 "$tmp/huge.png" -o "$tmp/h.png"
# --max-size is a working size: the network sees the image scaled down to fit, the results come
# back at the image's size. A 2x2-block image at half its size is the small image exactly
# (working-size.py), so its map and probabilities are the small image's, upscaled bilinearly.
working=$(dirname "$0")/working-size.py
python3 "$working" images "$tmp/small.png" "$tmp/large.png"
expect 0 "" "$segcam" explain --model "$model" --class cell --max-size 32 "$tmp/large.png" \
  -o "$tmp/wl.png" --map-npy "$tmp/wl.npy"
[ "$(od -An -tu1 -j16 -N8 "$tmp/wl.png" | tr -s ' ')" = " 0 0 0 64 0 0 0 48" ] && pass \
  || fail "FAIL: the heat map is not at the image's 64x48"
expect 0 "" "$segcam" explain --model "$model" --class cell "$tmp/small.png" -o "$tmp/ws.png" \
  --map-npy "$tmp/ws.npy"
python3 "$working" compare "$tmp/wl.npy" "$tmp/ws.npy" && pass \
  || fail "FAIL: the map at --max-size 32 is not the small image's map, upscaled"
expect 0 "" "$segcam" predict --model "$model" --max-size 32 "$tmp/large.png" -o "$tmp/wl.png" \
  --probabilities "$tmp/wl.npy"
expect 0 "" "$segcam" predict --model "$model" "$tmp/small.png" -o "$tmp/ws.png" --probabilities "$tmp/ws.npy"
python3 "$working" compare "$tmp/wl.npy" "$tmp/ws.npy" && pass \
  || fail "FAIL: the probabilities at --max-size 32 are not the small image's, upscaled"
# A rectangle in image pixels is scaled to the working size: 10,10,20,20 of 64x48 is 5,5,10,10.
expect 0 "" "$segcam" explain --model "$model" --class cell --max-size 32 --roi-rect 10,10,20,20 \
  "$tmp/large.png" -o "$tmp/wl.png"
grep -q "ROI weight 100.0," "$tmp/out" && pass || fail "FAIL: the ROI is not scaled: $(cat "$tmp/out")"
expect 0 "" "$segcam" evaluate --model "$model" --class cell --max-size 32 "$tmp/large.png"
# --tile: tiles with halos give the untiled map and probabilities (docs/seg-grad-cam.md, "Large
# images: tiles"): a 160x120 picture in 20 tiles of 32 pixels, each run in a 96x96 crop.
# picture OUT W H: a smooth W x H RGB test picture.
picture () {
  python3 - "$@" <<'PY'
import math, struct, sys, zlib
w, h = int(sys.argv[2]), int(sys.argv[3])
rows = b"".join(b"\0" + bytes(int(127 + 120 * math.sin(x / 7 + c) * math.cos(y / 9 - c))
                               for x in range(w) for c in range(3)) for y in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
}
picture "$tmp/tile.png" 160 120
# npy_close A B TOL: two float32 .npy files of one length within TOL of A's largest magnitude.
npy_close () {
  python3 - "$@" <<'PY'
import struct, sys
def load(path):
    d = open(path, "rb").read()
    body = d[10 + struct.unpack("<H", d[8:10])[0]:]
    return struct.unpack("<%df" % (len(body) // 4), body)
a, b = load(sys.argv[1]), load(sys.argv[2])
scale = max(abs(v) for v in a)
sys.exit(0 if len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) <= float(sys.argv[3]) * scale else 1)
PY
}
# (--roi-class needs the labels, which the tiles' forward pass gives before explaining)
for args in "--method seg-grad-cam" "--method hires" "--method eigen" "--roi-class"; do
  expect 0 "" "$segcam" explain --model "$model" --class cell $args "$tmp/tile.png" \
    -o "$tmp/h.png" --map-npy "$tmp/untiled.npy" --no-normalize --tile 0
  grep -q tiles "$tmp/err" && fail "FAIL: --tile 0 ran tiles: $(cat "$tmp/err")" || pass
  expect 0 "^segcam explain: 20 tiles of 32x32 pixels with a halo of 32 \(crops of 96x96" \
    "$segcam" explain --model "$model" --class cell $args "$tmp/tile.png" \
    -o "$tmp/h.png" --map-npy "$tmp/tiled.npy" --no-normalize --tile 32
  npy_close "$tmp/untiled.npy" "$tmp/tiled.npy" 1e-5 && pass \
    || fail "FAIL: the map of $args on tiles differs from the untiled one"
done
expect 0 "" "$segcam" predict --model "$model" "$tmp/tile.png" -o "$tmp/s0.png" --probabilities "$tmp/untiled.npy"
expect 0 "20 tiles of 32x32" "$segcam" predict --model "$model" "$tmp/tile.png" -o "$tmp/s1.png" \
  --probabilities "$tmp/tiled.npy" --tile 32
npy_close "$tmp/untiled.npy" "$tmp/tiled.npy" 1e-5 && pass \
  || fail "FAIL: the probabilities on tiles differ from the untiled ones"
cmp -s "$tmp/s0.png" "$tmp/s1.png" && pass || fail "FAIL: the labels on tiles differ"
# Without --tile, an image whose session does not fit runs on tiles by itself. The room is set
# by an address-space limit (ulimit -v), lowered until the untiled session no longer fits.
picture "$tmp/big.png" 1024 768
expect 0 "" "$segcam" explain --model "$model" --class cell "$tmp/big.png" -o "$tmp/h.png" \
  --map-npy "$tmp/untiled.npy" --no-normalize --tile 0
limit=4194304
[ "${SANITIZED:-0}" = 1 ] && limit=0
while [ $limit -gt 65536 ] && (ulimit -v $limit; "$segcam" explain --model "$model" --class cell \
        "$tmp/big.png" -o "$tmp/h.png" --tile 0 >/dev/null 2>"$tmp/err"); do
  limit=$((limit * 7 / 8))
done
if [ $limit = 0 ]; then
  :
elif grep -q "not enough memory for a 1024x768 image .*under the address-space limit" "$tmp/err"; then
  pass
  if (ulimit -v $limit; "$segcam" explain --model "$model" --class cell "$tmp/big.png" \
        -o "$tmp/h.png" --map-npy "$tmp/tiled.npy" --no-normalize >/dev/null 2>"$tmp/err") \
     && grep -Eq "does not fit in memory at once: [0-9]+ tiles" "$tmp/err"; then
    pass
  else
    fail "FAIL: no automatic tiles under ulimit -v $limit: $(cat "$tmp/err")"
  fi
  npy_close "$tmp/untiled.npy" "$tmp/tiled.npy" 1e-5 && pass \
    || fail "FAIL: the map on automatic tiles differs from the untiled one"
else
  fail "FAIL: ulimit -v $limit: $(cat "$tmp/err")"
fi
expect 1 "--tile: score reruns the whole image once per channel, which tiles cannot" \
  "$segcam" explain --model "$model" --class cell --method score "$tmp/tile.png" -o "$tmp/h.png" --tile 32
expect 1 "--tile must be 0 or more, not -2" \
  "$segcam" predict --model "$model" "$image" -o "$tmp/s.png" --tile -2
for bad in -1 16385 99999999; do
  expect 1 "--max-size must be from 1 to 16384 pixels, not $bad" \
    "$segcam" predict --max-size "$bad" --model "$model" "$image" -o "$tmp/s.png"
done
expect 0 "" "$segcam" predict --max-size 64 --model "$model" "$image" -o "$tmp/s.png"
expect 2 "cannot read image '.*cut.png'" \
  "$segcam" explain --model "$model" --class 1 --roi-mask "$tmp/cut.png" "$image" -o "$tmp/h.png"

# ---- Clear messages (issue 12) -------------------------------------------------------------------
# Names from a model are escaped wherever they are printed: here class 2 is "m", a newline and
# ESC [2J (clear the screen), put into the file's metadata in place of "cell membrane".
LC_ALL=C sed 's/\\"cell membrane\\", \\"color\\": \\"#00ff00\\"/\\"m\\\\u000a\\\\u001b[2J\\"                   /' \
  "$model" >"$tmp/evil.safetensors"
expect 2 "the model has: background, cell, m\\\\x0a\\\\x1b\[2J\)$" \
  "$segcam" explain --model "$tmp/evil.safetensors" --class 9 "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" info "$tmp/evil.safetensors"
if grep -qF '  m\x0a\x1b[2J' "$tmp/out" && ! grep -q "$(printf '\033')" "$tmp/out"; then pass; else
  fail "FAIL: info prints the class name raw"; fi
expect 2 "unknown class 'a\\\\x0ab\\\\x1b\[31m'" \
  "$segcam" explain --model "$model" --class "$(printf 'a\nb\033[31m')" "$image" -o "$tmp/h.png"
# Non-ASCII option values under a UTF-8 locale ("Invalid byte sequence" before).
if locale -a 2>/dev/null | grep -qix 'c.utf-\{0,1\}8'; then
  expect 2 "unknown layer 'é'" env LC_ALL=C.UTF-8 \
    "$segcam" explain --model "$model" --class 1 --layer 'é' "$image" -o "$tmp/h.png"
fi
# Numbers: one strict parser; nothing wraps, nothing trails.
expect 1 "--size must look like 512x384 .*not '99999999999x1'" "$segcam" info --size 99999999999x1 "$model"
expect 1 "--size" "$segcam" bench --model "$model" --size 64x48junk --runs 1
expect 1 "--roi-rect must be X,Y,W,H.*not '0,0,99999999999,5'" \
  "$segcam" explain --model "$model" --class 1 --roi-rect 0,0,99999999999,5 "$image" -o "$tmp/h.png"
expect 1 "--roi-rect must be X,Y,W,H.*not '1,2,3,4junk'" \
  "$segcam" explain --model "$model" --class 1 --roi-rect 1,2,3,4junk "$image" -o "$tmp/h.png"
expect 1 "--roi-pixel must be X,Y" "$segcam" explain --model "$model" --class 1 --roi-pixel 1,2,3 "$image" -o "$tmp/h.png"
expect 1 "rates must be positive" "$segcam" train --data texture-mnist --config biased --lr inf -o "$tmp/t.safetensors"
# An ROI mask's alpha weighs its gray: white on the left half, transparent white on the right.
echo 'iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAQAAAALQrSUAAAAOElEQVR42u3OsQ0AAAjDMOD/n8sRDCzOHsmd1K2+7VPPAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAs6M0CX/G1iSQAAAAASUVORK5CYII=' \
  | base64 -d >"$tmp/half.png"
expect 0 "" "$segcam" explain --model "$model" --class 1 --roi-mask "$tmp/half.png" "$image" -o "$tmp/h.png"
grep -q "ROI weight 1536.0," "$tmp/out" && pass || fail "FAIL: the mask's alpha is ignored: $(cat "$tmp/out")"

# ---- Nothing the user had is lost (issue 12) ----------------------------------------------------
# Outputs that would destroy something are refused before any work, and leave it as it was.
cp "$image" "$tmp/in.png"
cp "$tmp/in.png" "$tmp/in-copy.png"
same () {
  cmp -s "$1" "$2" && pass || fail "FAIL: $1 was changed"
}
expect 2 "-o '.*in.png' is the same file as the image" \
  "$segcam" explain --model "$model" --class 1 "$tmp/in.png" -o "$tmp/in.png"
same "$tmp/in.png" "$tmp/in-copy.png"
expect 2 "--overlay .* is the same file as the image" \
  "$segcam" explain --model "$model" --class 1 "$tmp/in.png" -o "$tmp/h.png" --overlay "$tmp/./in.png"
same "$tmp/in.png" "$tmp/in-copy.png"
expect 2 "--map-npy .* is the same file as -o" \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/x.png" --map-npy "$tmp/x.png"
cp "$model" "$tmp/m.safetensors"
expect 2 "--probabilities .* is the same file as --model" \
  "$segcam" predict --model "$tmp/m.safetensors" "$image" -o "$tmp/s.png" --probabilities "$tmp/m.safetensors"
same "$tmp/m.safetensors" "$model"
mkdir "$tmp/empty-dir"
expect 2 "cannot write -o .*: it is a directory" \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/empty-dir"
[ -d "$tmp/empty-dir" ] && pass || fail "FAIL: the directory given as -o is gone"
# Root would replace /dev/full itself if this failed: it gets a device node of its own.
full=/dev/full
[ "$(id -u)" -eq 0 ] && mknod "$tmp/full" c 1 7 && full=$tmp/full
expect 2 "cannot write -o '.*full': it is a device" "$segcam" predict --model "$model" "$image" -o "$full"
[ -c "$full" ] && pass || fail "FAIL: $full is no longer a device"
mkfifo "$tmp/fifo"
expect 2 "cannot write --map-npy .*: it is a FIFO" \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.png" --map-npy "$tmp/fifo"
[ -p "$tmp/fifo" ] && pass || fail "FAIL: the FIFO given as --map-npy is gone"
# An empty name is a slip on the command line (it crashed inside GEGL's png-save).
expect 1 "-o must name a file" "$segcam" explain --model "$model" --class 1 "$image" -o ""
expect 1 "--map-npy must name a file" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/h.png" --map-npy ""
expect 1 "--probabilities must name a file" "$segcam" predict --model "$model" "$image" -o "$tmp/s.png" --probabilities ""
# The model trained must not replace the checkpoint it resumes from (checked before the digits
# file is even looked for).
expect 2 "-o .* is the same file as --resume" "$segcam" train --data texture-mnist --config biased \
  --mnist "$tmp/none.bin" --resume "$tmp/m.safetensors" -o "$tmp/m.safetensors"
same "$tmp/m.safetensors" "$model"

# Write failures are detected (here a file-size limit; a full disk goes the same way), reported in
# one line, and leave the previous output as it was and no temporary file.
expect 0 "" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/w.png" --map-npy "$tmp/w.npy"
cp "$tmp/w.png" "$tmp/w-good.png"
cp "$tmp/w.npy" "$tmp/w-good.npy"
limited () { # limited BLOCKS COMMAND...: COMMAND under ulimit -f BLOCKS
  blocks=$1
  shift
  sh -c 'ulimit -f "$0" && exec "$@"' "$blocks" "$@"
}
expect 2 "cannot write '.*w.png': .*File too large" limited 1 \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/w.png"
same "$tmp/w.png" "$tmp/w-good.png"
expect 2 "cannot write '.*w.npy': File too large" limited 8 \
  "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/w2.png" --map-npy "$tmp/w.npy"
same "$tmp/w.npy" "$tmp/w-good.npy"
leftovers=$(find "$tmp" -name '.*.??????' | wc -l)
[ "$leftovers" -eq 0 ] && pass || fail "FAIL: $leftovers temporary files left after failed writes"
# A full disk: a 16 KB tmpfs holding the previous 12 KB w.npy, in a mount namespace of its own
# (where unshare may make one). on_full_disk COMMAND... runs COMMAND there and adds a second line
# to stderr if the previous w.npy changed or a file was left beside it.
on_full_disk () {
  unshare -rm sh -c 'd=$1 good=$2
    shift 2
    mount -t tmpfs -o size=16k none "$d" && cp "$good" "$d/w.npy" || exit 99
    "$@"
    status=$?
    cmp -s "$good" "$d/w.npy" || echo "the previous w.npy is lost" >&2
    [ "$(ls -A "$d")" = w.npy ] || echo "left in the folder: $(ls -A "$d")" >&2
    exit $status' sh "$tmp/mnt" "$tmp/w-good.npy" "$@"
}
mkdir "$tmp/mnt"
if unshare -rm true 2>/dev/null; then
  expect 2 "cannot write '.*mnt/w.png': .*No space left on device" on_full_disk \
    "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/mnt/w.png"
  expect 2 "cannot write '.*mnt/w.npy': No space left on device" on_full_disk \
    "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/w3.png" --map-npy "$tmp/mnt/w.npy"
fi

# A read-only folder is refused before the computation; root writes anywhere, so root runs this
# as nobody.
mkdir "$tmp/ro"
cp "$model" "$image" "$tmp/ro/"
chmod 755 "$tmp" && chmod 555 "$tmp/ro"
as_user=""
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
  expect 2 "cannot write -o .*: folder '.*ro' is not writable" $as_user \
    "$segcam" predict --model "$tmp/ro/$(basename "$model")" "$tmp/ro/$(basename "$image")" -o "$tmp/ro/s.png"
fi
chmod 755 "$tmp/ro"

# An interrupted write never leaves a partial file under the final name and never loses the
# previous one: SIGKILL at random points of writes, then SIGINT and SIGTERM, which also leave no
# temporary file. First predict's 4.7 MB .npy and its PNG, then train's 5.9 MB checkpoint and its
# model (on a digits file of 20 made-up digits: label, then 784 white pixels).
{ printf 'P6\n768 512\n255\n'; head -c $((768 * 512 * 3)) /dev/urandom; } >"$tmp/large.ppm"
{ printf 'SCMNIST1\012\0\0\0\012\0\0\0'
  for d in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9; do
    printf "\\$(printf %03o $d)"
    head -c 784 /dev/zero | tr '\0' '\377'
  done; } >"$tmp/digits.bin"
mkdir "$tmp/good"
during_writes=0 signals=0
# interrupt SIGNAL STEM ARG...: runs segcam ARG... and sends it SIGNAL while it writes one of its
# outputs $tmp/STEM.*; then each must be as in $tmp/good, except a trained model, which records
# the training's duration: that one must be complete (segcam info loads it).
interrupt () {
  sig=$1 stem=$2
  shift 2
  # A shell starts background commands with SIGINT ignored; env gives them the default back.
  env --default-signal=INT "$segcam" "$@" >/dev/null 2>&1 &
  pid=$!
  # Writes take some 1/20 of the run: wait until an output (or a file beside it) is open.
  until ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "$tmp/\.\{0,1\}$stem\."; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005 # leave the cores to segcam
  done
  kill -0 "$pid" 2>/dev/null && during_writes=$((during_writes + 1))
  signals=$((signals + 1))
  sleep "0.0$(($(od -An -N2 -tu2 /dev/urandom) % 50))"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid"
  for f in "$tmp/good/$stem".*; do
    out=$tmp/$(basename "$f")
    case "$f" in
      *.safetensors) "$segcam" info "$out" >/dev/null 2>&1 ;;
      *) cmp -s "$f" "$out" ;;
    esac
    if [ $? -ne 0 ]; then
      fail "FAIL: SIG$sig left $(basename "$f") partial or missing"
      return
    fi
  done
  pass
}
# interrupt_all STEM ARG...: segcam ARG... once to completion, then interrupted 20 times by
# SIGKILL, 3 by SIGINT, 3 by SIGTERM.
interrupt_all () {
  stem=$1
  shift
  expect 0 "" "$segcam" "$@"
  cp "$tmp/$stem".* "$tmp/good/"
  for i in $(seq 20); do
    interrupt KILL "$stem" "$@"
  done
  rm -f "$tmp/.$stem".*
  for s in INT INT INT TERM TERM TERM; do
    interrupt $s "$stem" "$@"
  done
  leftovers=$(find "$tmp" -name ".$stem.*" | wc -l)
  [ "$leftovers" -eq 0 ] && pass || fail "FAIL: SIGINT or SIGTERM left $leftovers temporary files"
}
interrupt_all k predict --model "$model" "$tmp/large.ppm" -o "$tmp/k.png" --probabilities "$tmp/k.npy" -t 1
interrupt_all c train --data texture-mnist --config biased --mnist "$tmp/digits.bin" --depth 3 \
  --filters 16 --epochs 1 --batch 2 --train-count 2 --val-count 1 -t 1 \
  --checkpoint "$tmp/c.ckpt" -o "$tmp/c.safetensors"
echo "$during_writes of $signals signals sent while an output was open"

# A checkpoint that cannot be written stops training with one line naming it, and the previous
# checkpoint (also the one resumed from) stays.
set -- train --data texture-mnist --config biased --mnist "$tmp/digits.bin" --depth 1 --filters 2 \
  --batch 2 --train-count 4 --val-count 2 -t 1
expect 0 "" "$segcam" "$@" --epochs 1 --checkpoint "$tmp/r.ckpt" -o "$tmp/r1.safetensors"
cp "$tmp/r.ckpt" "$tmp/r-good.ckpt"
expect 2 "cannot write '.*r.ckpt': File too large" limited 4 \
  "$segcam" "$@" --epochs 2 --resume "$tmp/r.ckpt" --checkpoint "$tmp/r.ckpt" -o "$tmp/r2.safetensors"
same "$tmp/r.ckpt" "$tmp/r-good.ckpt"
expect 0 "" "$segcam" "$@" --epochs 2 --resume "$tmp/r.ckpt" --checkpoint "$tmp/r.ckpt" -o "$tmp/r2.safetensors"
expect 2 "cannot write --checkpoint .*: folder .* does not exist" \
  "$segcam" "$@" --epochs 1 --checkpoint "$tmp/none/r.ckpt" -o "$tmp/r3.safetensors"
[ -e "$tmp/r3.safetensors" ] && fail "FAIL: train ran before refusing --checkpoint" || pass
# --exact trains every conv direct; both paths against PyTorch: tests/reference/train_crosscheck.py.
expect 0 "" "$segcam" "$@" --epochs 1 --exact -o "$tmp/x1.safetensors"
expect 0 "" "$segcam" info "$tmp/x1.safetensors"
grep -q -- '--exact' "$tmp/out" && pass || fail "FAIL: the model does not record --exact"


# Engine classes of issue 12 on the reproducers of tests/fuzz/corpus-model (make-model-corpus.py),
# each refused in one line where it crashed or gave a wrong map before.
corpus=$(dirname "$0")/fuzz/corpus-model
expect 0 "" "$segcam" explain --model "$corpus/valid-small" --class fg "$image" -o "$tmp/v.png"
expect 2 "bad-graph-nesting: segcam.graph nests deeper than 16 levels$" "$segcam" info "$corpus/bad-graph-nesting"
expect 2 "bad-graph-comment: segcam.graph has an unexpected character at byte 0$" \
  "$segcam" info "$corpus/bad-graph-comment"
expect 2 "bad-graph-hex: segcam.graph has an unexpected character at byte [0-9]+$" \
  "$segcam" info "$corpus/bad-graph-hex"
expect 2 "bad-graph-duplicate: segcam.graph has the key 'op' twice in one object$" \
  "$segcam" info "$corpus/bad-graph-duplicate"
for case in pooled:32x24 upsampled:128x96 stride4:16x12; do
  expect 2 "output 'head' is ${case#*:} for a 64x48 \\(padded\\) input: segcam explains networks whose logits have the input's size$" \
    "$segcam" explain --model "$corpus/bad-output-${case%:*}" --class fg "$image" -o "$tmp/v.png"
done
expect 2 "output 'head' is 32x24 for a 64x48 \\(padded\\) input" \
  "$segcam" predict --model "$corpus/bad-output-pooled" "$image" -o "$tmp/v.png"
expect 2 "bad-weight-nan: node 'conv': tensor 'conv.w' holds NaN at element 0: its training diverged or the file is damaged$" \
  "$segcam" info "$corpus/bad-weight-nan"
expect 2 "node 'head': tensor 'head.b' holds an infinity at element 0" \
  "$segcam" predict --model "$corpus/bad-weight-inf" "$image" -o "$tmp/v.png"

# A diverging run stops at its first step with NaN or infinite weights, naming the epoch and the
# step, and leaves the checkpoint of the last epoch completed (it dereferenced NULL before).
cp "$tmp/r.ckpt" "$tmp/d.ckpt"
expect 2 "epoch 3, step 1 of 2: training diverged: the step made '.+' NaN or infinite; a lower learning rate may train$" \
  "$segcam" "$@" --epochs 3 --lr 1e300 --resume "$tmp/d.ckpt" --checkpoint "$tmp/d.ckpt" -o "$tmp/d.safetensors"
same "$tmp/d.ckpt" "$tmp/r.ckpt"
expect 2 "epoch 1, step 1 of 2: training diverged" "$segcam" "$@" --epochs 1 --lr 1e300 -o "$tmp/d.safetensors"
[ -e "$tmp/d.safetensors" ] && fail "FAIL: a diverged run wrote its model" || pass
# Resuming records the checkpoint's architecture, not the defaults of --depth and --filters
# (r.ckpt has depth 1, 2 filters, after 2 epochs); a checkpoint that already reached --epochs has
# nothing to train and no metrics to record (it recorded accuracy 0 and loss 0 before).
expect 0 "" "$segcam" train --data texture-mnist --config biased --mnist "$tmp/digits.bin" --batch 2 \
  --train-count 4 --val-count 2 -t 1 --epochs 3 --resume "$tmp/r.ckpt" -o "$tmp/r3.safetensors"
expect 0 "" "$segcam" info "$tmp/r3.safetensors"
grep -Eq "^trained at: +64x64 " "$tmp/out" && pass || fail "FAIL: train records no training size"
grep -q '"architecture":"U-Net depth 1, 2 filters, batch norm, bilinear upsampling"' "$tmp/out" \
  && pass || fail "FAIL: the resumed model does not record the checkpoint's architecture"
grep -q '"pixel_accuracy":0,' "$tmp/out" && fail "FAIL: resumed run records accuracy 0" || pass
expect 2 "--resume '.*r.ckpt' already trained 2 epochs, --epochs is 2: raise --epochs to train further" \
  "$segcam" "$@" --epochs 2 --resume "$tmp/r.ckpt" -o "$tmp/r4.safetensors"
[ -e "$tmp/r4.safetensors" ] && fail "FAIL: a run with nothing to train wrote a model" || pass

finish
