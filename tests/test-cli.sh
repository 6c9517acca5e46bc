#!/bin/sh
# The segcam command line on real files: every command's success path, and each bad input giving
# its exit status (1 usage, 2 bad input) and a one-line message that names the problem.
# Usage: test-cli.sh SEGCAM MODEL IMAGE
set -u
segcam=$1 model=$2 image=$3
. "$(dirname "$0")/cli-expect.sh"

# expect STATUS PATTERN COMMAND...: runs COMMAND, checks its exit status, that stderr has exactly
# one line unless STATUS is 0, and that stderr matches PATTERN (an extended regex; "" for no
# check).
expect () {
  want=$1 pattern=$2
  shift 2
  if run_as "$want" "$@" && { [ -z "$pattern" ] || grep -Eq -- "$pattern" "$tmp/err"; }; then
    pass
  else
    fail "FAIL: $* -> status $got (want $want), stderr:"
    cat "$tmp/err" >&2
  fi
}

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
expect 0 "" "$segcam" bench --model "$model" --size 64x48 --runs 1
grep -q "fast path" "$tmp/out" && pass || fail "FAIL: bench does not say it ran the fast path"
expect 0 "" "$segcam" bench --model "$model" --size 64x48 --runs 1 --exact
grep -q "exact path" "$tmp/out" && pass || fail "FAIL: bench --exact does not say it ran the exact path"
expect 0 "" "$segcam" explain --exact --model "$model" --class 1 "$image" -o "$tmp/h.png"
expect 0 "" "$segcam" predict --exact --model "$model" "$image" -o "$tmp/seg.png"

# Usage errors: status 1.
expect 1 "needs --model" "$segcam" explain --class 1 "$image" -o "$tmp/h.png"
expect 1 "score" "$segcam" explain --model "$model" --class 1 --score odds "$image" -o "$tmp/h.png"
expect 1 "weights" "$segcam" explain --model "$model" --class 1 --weights max "$image" -o "$tmp/h.png"
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
expect 2 "unknown layer 'nope'" "$segcam" explain --model "$model" --class 1 --layer nope "$image" -o "$tmp/h.png"
expect 2 "outside" "$segcam" explain --model "$model" --class 1 --roi-rect 5000,0,4,4 "$image" -o "$tmp/h.png"
expect 2 "outside" "$segcam" explain --model "$model" --class 1 --roi-pixel -1,0 "$image" -o "$tmp/h.png"
# A 1x1 gray PNG: a mask of the wrong size.
echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==' \
  | base64 -d >"$tmp/tiny.png"
expect 2 "ROI mask is 1x1" "$segcam" explain --model "$model" --class 1 --roi-mask "$tmp/tiny.png" "$image" -o "$tmp/h.png"
expect 2 "cannot write" "$segcam" explain --model "$model" --class 1 "$image" -o "$tmp/no/such/dir/h.png"

finish
