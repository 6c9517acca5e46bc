#!/bin/sh
# segcam evaluate (docs/metrics.md) on real files: its figures against what they must be — a map
# equal to the ROI has all its energy there, a constant map the ROI's fraction, the share of
# explain's own map recomputed here from its .npy, a given map scoring as the computed one, the
# curves' ends at 1, ROAD reproducible from its seed — and each bad input's exit status and
# one-line message.
# Usage: test-evaluate.sh SEGCAM MODEL IMAGE PYTHON (a python3 with NumPy and Pillow)
set -u
segcam=$1 model=$2 image=$3 python=$4
. "$(dirname "$0")/cli-expect.sh"

# py CODE...: a Python check (exit status 0 = pass) with numpy as np, json, and $tmp as tmp.
py () {
  if "$python" -c "import json, sys, numpy as np; from PIL import Image; tmp = sys.argv[1]; $1" "$tmp" \
      >"$tmp/py" 2>&1; then
    pass
  else
    fail "FAIL: python check: $1"
    cat "$tmp/py" >&2
  fi
}

if ! "$python" -c "import numpy, PIL" 2>/dev/null; then
  echo "SKIP: $python lacks NumPy or Pillow"
  exit 77
fi

size=$("$python" -c "from PIL import Image; import sys; w, h = Image.open(sys.argv[1]).size; print(w, h)" "$image")
w=${size% *} h=${size#* }

expect 0 "" "$segcam" evaluate --help
# A computed map: curves from 1 (deletion) to 1 (insertion), fractions from 0 to 1.
expect 0 "" "$segcam" evaluate -m "$model" -c 1 "$image" -o "$tmp/a.json" --steps 8
grep -q "ROI energy share" "$tmp/out" && pass || fail "FAIL: evaluate's line: $(cat "$tmp/out")"
py "e = json.load(open(tmp + '/a.json')); d, i = e['deletion_curve'], e['insertion_curve']
assert len(d) == 9 and d[0] == [0.0, 1.0] and abs(i[-1][1] - 1) < 1e-6 and d[-1][0] == 1.0, (d, i)
assert e['roi_energy_share'] == 1.0 and e['context_mask_share'] is None and e['road_score'] is None"

# explain's map over a rectangle, its share recomputed from the .npy; scored again through --map,
# the same figures.
expect 0 "" "$segcam" explain -m "$model" -c 1 --roi-rect 4,3,20,15 --method hires "$image" \
  -o "$tmp/h.png" --map-npy "$tmp/m.npy"
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --roi-rect 4,3,20,15 --method hires "$image" \
  -o "$tmp/b.json" --steps 5 --baseline mean
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --roi-rect 4,3,20,15 --map "$tmp/m.npy" "$image" \
  -o "$tmp/c.json" --steps 5 --baseline mean
py "b, c = (json.load(open(tmp + f)) for f in ('/b.json', '/c.json'))
m = np.load(tmp + '/m.npy').astype(np.float64); roi = np.zeros_like(m); roi[3:18, 4:24] = 1
share = (m * roi).sum() / m.sum()
assert abs(b['roi_energy_share'] - share) < 1e-6, (b['roi_energy_share'], share)
for k in ('roi_energy_share', 'deletion_auc', 'insertion_auc', 'score'):
    assert b[k] == c[k], (k, b[k], c[k])
assert c['map'].endswith('m.npy') and b['map'] == 'hires' and b['baseline'] == 'mean'"

# Known answers: a map equal to the ROI mask (share 1), a constant map (the ROI's fraction), the
# complement as the context mask (the rest); a float64 map is read too.
py "roi = np.zeros(($h, $w), np.float32); roi[5:20, 10:30] = 1
Image.fromarray((roi * 255).astype(np.uint8)).save(tmp + '/roi.png')
Image.fromarray(((1 - roi) * 255).astype(np.uint8)).save(tmp + '/context.png')
np.save(tmp + '/roi.npy', roi); np.save(tmp + '/const.npy', np.full(($h, $w), 0.3, np.float64))
np.save(tmp + '/neg.npy', roi - 0.5); np.save(tmp + '/small.npy', roi[1:])
np.save(tmp + '/fortran.npy', np.asfortranarray(np.ones(($h, $w), np.float32)))
np.save(tmp + '/int.npy', roi.astype(np.int32))
Image.fromarray((roi[1:] * 255).astype(np.uint8)).save(tmp + '/small.png')"
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --roi-mask "$tmp/roi.png" --map "$tmp/roi.npy" \
  --context-mask "$tmp/context.png" --steps 0 "$image" -o "$tmp/d.json"
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --roi-mask "$tmp/roi.png" --map "$tmp/const.npy" \
  --context-mask "$tmp/context.png" --steps 0 "$image" -o "$tmp/e.json"
py "d, e = (json.load(open(tmp + f)) for f in ('/d.json', '/e.json'))
assert d['roi_energy_share'] == 1 and d['context_mask_share'] == 0 and d['deletion_auc'] is None, d
frac = 15 * 20 / ($w * $h)
assert abs(e['roi_energy_share'] - frac) < 1e-6 and abs(e['roi_fraction'] - frac) < 1e-9, e
assert abs(e['context_mask_share'] - (1 - frac)) < 1e-6, e"

# ROAD: the same seed gives the same figures, the combined score is (LeRF - MoRF) / 2.
for run in 1 2; do
  expect 0 "" "$segcam" evaluate -m "$model" -c 1 --road --seed 5 --steps 0 "$image" -o "$tmp/r$run.json"
done
py "r1, r2 = (json.load(open(tmp + f)) for f in ('/r1.json', '/r2.json'))
assert r1 == r2 and r1['road_seed'] == 5, (r1, r2)
assert abs(r1['road_score'] - (r1['road_lerf'] - r1['road_morf']) / 2) < 1e-12, r1"
# A class-agnostic method is scored, and says so.
expect 0 "class-agnostic" "$segcam" evaluate -m "$model" -c 1 --method eigen --steps 2 "$image"

# The methods that rerun the network, capped.
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --method ablation --max-channels 3 --steps 2 "$image"
expect 0 "" "$segcam" evaluate -m "$model" -c 1 --method score --max-channels 2 --steps 2 "$image"

# Bad input.
expect 1 "max-channels applies" "$segcam" evaluate -m "$model" -c 1 --method hires --max-channels 3 "$image"
expect 1 "max-channels must be" "$segcam" evaluate -m "$model" -c 1 --method score --max-channels 0 "$image"
expect 1 "missing --class NAME.INDEX \\(see" "$segcam" evaluate -m "$model" "$image"
expect 1 "missing --model MODEL and the IMAGE" "$segcam" evaluate -c 1
# The class and the layer are found as explain finds them, with the closest name offered.
expect 2 "unknown class 'celll' \\(did you mean 'cell'\\?" "$segcam" evaluate -m "$model" -c celll "$image"
expect 2 "unknown layer 'enc1.relu' \\(did you mean 'enc1.relu1'\\?" "$segcam" evaluate -m "$model" -c cell \
  --layer enc1.relu "$image"
expect 1 "baseline" "$segcam" evaluate -m "$model" -c 1 --baseline noise "$image"
expect 1 "steps" "$segcam" evaluate -m "$model" -c 1 --steps -1 "$image"
expect 1 "seed" "$segcam" evaluate -m "$model" -c 1 --seed -3 "$image"
expect 1 "does not apply|do not apply" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/roi.npy" --method hires "$image"
expect 1 "method" "$segcam" evaluate -m "$model" -c 1 --method score-ish "$image"
expect 2 "unknown class" "$segcam" evaluate -m "$model" -c nope "$image"
expect 2 "steps must lie" "$segcam" evaluate -m "$model" -c 1 --steps 99999999 "$image"
expect 2 "shape is not \\($h, $w\\)" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/small.npy" "$image"
expect 2 "C order" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/fortran.npy" "$image"
expect 2 "dtype" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/int.npy" "$image"
expect 2 "NumPy magic" "$segcam" evaluate -m "$model" -c 1 --map "$image" "$image"
expect 2 "negative" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/neg.npy" "$image"
expect 2 "context mask is" "$segcam" evaluate -m "$model" -c 1 --context-mask "$tmp/small.png" "$image"
head -c 200 "$tmp/m.npy" >"$tmp/cut.npy"
expect 2 "as long as its shape" "$segcam" evaluate -m "$model" -c 1 --map "$tmp/cut.npy" "$image"
expect 2 "-o" "$segcam" evaluate -m "$model" -c 1 "$image" -o "$image"
expect 2 "-o" "$segcam" evaluate -m "$model" -c 1 "$image" -o "$tmp"
expect 2 "directory" "$segcam" evaluate -m "$model" -c 1 --map "$tmp" "$image"
finish
