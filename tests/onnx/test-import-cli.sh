#!/bin/sh
# segcam import and .onnx models on the command line: usage errors (exit 1), bad models and
# options (exit 2, one line naming the problem), class names from options and from a side file.
#   test-import-cli.sh SEGCAM CORPUS_DIR IMAGE
set -u
segcam=$1 corpus=$2 image=$3
. "$(dirname "$0")/../cli-expect.sh"

# expect STATUS TEXT COMMAND...: the exit status, and TEXT (unless empty) somewhere in the output;
# exactly one line on stderr when the status is not 0.
expect () {
  want=$1 text=$2
  shift 2
  if run_as "$want" "$@" && { [ -z "$text" ] || grep -qF -- "$text" "$tmp/out" "$tmp/err"; }; then
    pass
  else
    fail "FAIL (status $got, want $want; '$text'): $*"
    cat "$tmp/out" "$tmp/err" >&2
  fi
}

expect 1 "missing the MODEL.onnx and -o MODEL.safetensors" "$segcam" import
expect 1 "missing -o MODEL.safetensors (see" "$segcam" import "$corpus/valid-unet"
expect 1 "expected one MODEL.onnx, not 2" "$segcam" import "$corpus/valid-unet" "$corpus/valid-unet" -o "$tmp/m.safetensors"
expect 1 "--mean must be" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --mean 1,2,3,4
expect 2 "op Tanh at node 'logits' is not supported" \
  "$segcam" import "$corpus/bad-unsupported-op" -o "$tmp/m.safetensors"
expect 2 "3 class names for an output of 2 classes" \
  "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --classes a,b,c
expect 2 "default layer 'nope' is not a feature map" \
  "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --default-layer nope
expect 0 "default layer 'c1'" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" \
  --classes water --colors "#000000,#0000ff" --mean 0.5 --std 0.25 --default-layer c1
expect 0 "#0000ff  water" "$segcam" info "$tmp/m.safetensors"
expect 0 "format:        2" "$segcam" info "$tmp/m.safetensors"

# .onnx wherever a model is taken, class names from MODEL.classes.txt beside it
cp "$corpus/valid-conv-softmax" "$tmp/net.onnx"
printf 'road #808080\nsky\n' >"$tmp/net.classes.txt"
expect 0 "#808080  road" "$segcam" info "$tmp/net.onnx"
expect 0 "class 1 'sky'" "$segcam" explain --model "$tmp/net.onnx" --class sky "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" predict --model "$tmp/net.onnx" "$image" -o "$tmp/s.png"
expect 2 "op Tanh at node" "$segcam" predict --model "$corpus/bad-unsupported-op" "$image" \
  -o "$tmp/s.png"

# --logits names the logits tensor; --output, its old name, still works with a note; a model that
# names no classes or normalisation says so, at import and where it is used directly.
expect 0 "output 'logits'" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --logits logits \
  --mean 0.5 --std 0.25
[ -s "$tmp/err" ] && fail "FAIL: import with --mean and --std warns: $(cat "$tmp/err")" || pass
expect 0 "note: --output is now called --logits" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" \
  --output logits --mean 0.5 --std 0.25
expect 0 "output 'logits'" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --output logits \
  --quiet --mean 0.5 --std 0.25
[ -s "$tmp/err" ] && fail "FAIL: --quiet prints: $(cat "$tmp/err")" || pass
expect 1 "--output is the old name of --logits: give one" "$segcam" import "$corpus/valid-unet" \
  -o "$tmp/m.safetensors" --output logits --logits logits
expect 2 "not" "$segcam" import "$corpus/valid-unet" -o "$tmp/m.safetensors" --output nope
cp "$corpus/valid-gate" "$tmp/bare.onnx"
both='gives no class names (they read "class 0", "class 1", ...) and no input mean and std'
expect 0 "warning: model '$tmp/bare.safetensors': the model file $both" "$segcam" import "$tmp/bare.onnx" \
  -o "$tmp/bare.safetensors"
grep -qF "segcam import --classes --mean --std sets them" "$tmp/err" && pass || fail "FAIL: import names no flags"
expect 0 "warning: model '$tmp/bare.onnx': the model file $both" "$segcam" predict --model "$tmp/bare.onnx" \
  "$image" -o "$tmp/s.png"
# Mean 0 and std 1 are a choice in a segcam file or on the command line: only the names are missing.
expect 0 '...): segcam import --classes sets it' "$segcam" predict --model "$tmp/bare.safetensors" "$image" \
  -o "$tmp/s.png"
expect 0 '...): segcam import --classes sets it' "$segcam" import "$tmp/bare.onnx" -o "$tmp/b2.safetensors" \
  --mean 0 --std 1
expect 0 "" "$segcam" predict --quiet --model "$tmp/bare.onnx" "$image" -o "$tmp/s.png"
[ -s "$tmp/err" ] && fail "FAIL: predict --quiet prints: $(cat "$tmp/err")" || pass

# The ONNX file is never replaced by the model made from it; a failed import leaves -o as it was.
cp "$corpus/valid-unet" "$tmp/a.onnx"
expect 2 "-o '$tmp/a.onnx' is the same file as the ONNX model" "$segcam" import "$tmp/a.onnx" -o "$tmp/a.onnx"
cmp -s "$tmp/a.onnx" "$corpus/valid-unet" && pass || fail "FAIL: import -o replaced the ONNX file"
expect 2 "op Tanh" "$segcam" import "$corpus/bad-unsupported-op" -o "$tmp/m.safetensors"
expect 0 "" "$segcam" info "$tmp/m.safetensors"

# Metadata lists nested 200,000 deep are named, in info and import alike, not a stack overflow.
for key in classes mean; do
  expect 2 "metadata 'segcam.$key' nests deeper" "$segcam" info "$corpus/bad-nested-$key"
  expect 2 "metadata 'segcam.$key' nests deeper" "$segcam" import "$corpus/bad-nested-$key" \
    -o "$tmp/n.safetensors"
done

finish
