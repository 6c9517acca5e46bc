#!/bin/sh
# test-audit.sh SEGCAM MODEL — segcam audit without a cluster (docs/audit.md): the manifest's
# CSV, bad rows reported in the table with their one-line errors, shards and their merge against
# one process, resume after a kill, the merge's checks, and a record against segcam evaluate.
# MODEL is a TextureMNIST model; the digits are made up (the checks compare runs and commands).
set -u
segcam=$1 model=$2
. "$(dirname "$0")/cli-expect.sh"

# field FILE ROW COLUMN: a field of a table, by data-row index and column name, through Python's
# csv module (an RFC 4180 reader that is not ours).
field () {
  python3 -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(rows[int(sys.argv[2])][sys.argv[3]])' "$@"
}

{ printf 'SCMNIST1\012\0\0\0\012\0\0\0'
  for d in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9; do
    printf "\\$(printf %03o $d)"
    head -c 784 /dev/zero | tr '\0' '\377'
  done; } >"$tmp/digits.bin"
data=$tmp/data
"$segcam" dataset texture-mnist --config biased --split test --count 12 --seed 3 --out "$data/img" \
  --mnist "$tmp/digits.bin" >/dev/null || { echo "segcam dataset failed"; exit 1; }
# A name with a comma and a quote, which the manifest must quote (RFC 4180), and CRLF line ends.
cp "$data/img/0003.png" "$data/img/odd, \"name\".png"
{ printf 'image,labels,context,note\r\n'
  for i in 0 1 2; do printf 'img/000%d.png,img/000%d-labels.png,img/000%d-bias.png,"a, b"\r\n' $i $i $i; done
  printf '"img/odd, ""name"".png",img/0003-labels.png,img/0003-bias.png,\r\n'
  for i in 4 5 6 7 8 9; do printf 'img/000%d.png,img/000%d-labels.png,img/000%d-bias.png,\r\n' $i $i $i; done
} >"$data/good.csv"
opts="--steps 2 --threads 1"

# ---- one process, shards, merge ---------------------------------------------------------------
expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/one" $opts
expect 0 "" "$segcam" audit --merge "$tmp/one"
for i in 0 1 2; do
  expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/three" --shard $i/3 $opts
done
expect 0 "" "$segcam" audit --merge "$tmp/three"
cmp -s "$tmp/one/audit.csv" "$tmp/three/audit.csv" && pass || fail "FAIL: 3 shards and one process differ"
# Nor does the thread count change a byte.
expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/two" $opts --threads 2
expect 0 "" "$segcam" audit --merge "$tmp/two"
cmp -s "$tmp/one/audit.csv" "$tmp/two/audit.csv" && pass || fail "FAIL: 2 threads and 1 thread differ"
[ "$(field "$tmp/one/audit.csv" 0 image)" = img/0000.png ] && pass || fail "FAIL: first record is not row 0"
grep -q '^3,"img/odd, ""name"".png",' "$tmp/one/audit.csv" && pass || fail "FAIL: the quoted name is not written back quoted"
[ -s "$tmp/one/report.html" ] && grep -q 'context_mask_share-seg-grad-cam.png' "$tmp/one/report.html" \
  && file_ok=1 || file_ok=0
[ $file_ok = 1 ] && [ "$(od -An -c -N4 "$tmp/one/context_mask_share-seg-grad-cam.png" | tr -d ' ')" = "211PNG" ] \
  && pass || fail "FAIL: the report or its plot is missing"
# The Slurm array's variables choose the shard as --shard does.
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_MAX=6 SLURM_ARRAY_TASK_COUNT=3 \
  expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/env" $opts
cmp -s "$tmp/env/shard-1-of-3.csv" "$tmp/three/shard-1-of-3.csv" && pass || fail "FAIL: the Slurm task 5 of 4..6 is not shard 1 of 3"
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=6 SLURM_ARRAY_TASK_COUNT=4 \
  expect 2 "not consecutive: pass --shard" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/env" $opts

# ---- a record against segcam evaluate ----------------------------------------------------------
cls=$(field "$tmp/one/audit.csv" 0 class)
expect 0 "" "$segcam" evaluate --model "$model" --class "$cls" --roi-class --context-mask "$data/img/0000-bias.png" \
  --steps 2 --threads 1 -o "$tmp/eval.json" "$data/img/0000.png"
python3 - "$tmp/one/audit.csv" "$tmp/eval.json" <<'PY' && pass || fail "FAIL: the audit's record differs from segcam evaluate"
import csv, json, math, sys
rec = list(csv.DictReader(open(sys.argv[1], newline="")))[0]
ev = json.load(open(sys.argv[2]))
for col, key in [("roi_energy_share", "roi_energy_share"), ("context_share", "context_share"),
                 ("context_mask_share", "context_mask_share"), ("deletion_auc", "deletion_auc"),
                 ("insertion_auc", "insertion_auc")]:
    a, b = float(rec[col]), float(ev[key])
    if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9):
        sys.exit(f"{col}: audit {a}, evaluate {b}")
PY

# ---- resume ------------------------------------------------------------------------------------
# A shard file that lost its last rows (as a kill leaves it: whole rows only) is completed by a
# rerun that audits only those rows.
mkdir "$tmp/resume"
cp "$tmp/one/audit.ini" "$tmp/resume/"
awk -F, 'NR == 1 || $1 < 6' "$tmp/one/shard-0-of-1.csv" >"$tmp/resume/shard-0-of-1.csv"
expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/resume" $opts
grep -q "4 rows audited.*6 already there" "$tmp/out" && pass || fail "FAIL: resume said: $(cat "$tmp/out")"
cmp -s "$tmp/one/shard-0-of-1.csv" "$tmp/resume/shard-0-of-1.csv" && pass || fail "FAIL: the resumed shard differs"
# SIGKILL at moments spread over a run: the shard file is always whole rows of a valid table.
killed=0
for delay in 0.5 1 1.5 2; do
  rm -rf "$tmp/kill"
  "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/kill" $opts >/dev/null 2>&1 &
  pid=$!
  sleep $delay
  kill -KILL $pid 2>/dev/null && killed=$((killed + 1))
  wait $pid 2>/dev/null
  if [ -f "$tmp/kill/shard-0-of-1.csv" ]; then
    expect 0 "" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/kill" $opts
    cmp -s "$tmp/one/shard-0-of-1.csv" "$tmp/kill/shard-0-of-1.csv" && pass || fail "FAIL: resumed after SIGKILL at ${delay}s, the shard differs"
  fi
  ls -a "$tmp/kill" | grep -q '^\.shard' && fail "FAIL: a temporary file outlived SIGKILL's rerun" || pass
done
echo "SIGKILL landed during $killed of 4 runs"

# ---- bad rows ------------------------------------------------------------------------------------
convert_size () { # a 32x32 gray PNG, through segcam's own writer: dataset at another size is not
  python3 -c 'import sys, zlib, struct
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\0" + bytes([255] * 32) for _ in range(32))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 0, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))' >"$1"
}
convert_size "$data/small.png"
python3 -c 'import sys, zlib, struct
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\0" + bytes([40] * 64) for _ in range(64))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))' >"$data/label40.png"
cat >"$data/bad.csv" <<CSV
image,roi,labels
img/0000.png,,
img/missing.png,,
img/0001.png,small.png,
img/0002.png,,label40.png
img/0003.png
,,
img/0004.png,,
CSV
expect 2 "5 rows failed" "$segcam" audit --model "$model" --manifest "$data/bad.csv" --out "$tmp/bad" $opts
python3 - "$tmp/bad/shard-0-of-1.csv" <<'PY' && pass || fail "FAIL: the bad rows' errors are not in the table"
import csv, sys
recs = list(csv.DictReader(open(sys.argv[1], newline="")))
err = {}
for r in recs:
    err.setdefault(int(r["row"]), []).append(r["error"])
want = {1: "missing.png", 2: "roi mask .*small.png' is 32x32 but the image is 64x64",
        3: "label map .*has class 40", 4: "line 6: 1 fields where the header has 3", 5: "line 7: no image"}
import re
for row, pattern in want.items():
    e = err.get(row, [""])
    if len(e) != 1 or not re.search(pattern, e[0]) or "\n" in e[0]:
        sys.exit(f"row {row}: {e!r} does not match {pattern!r}")
for row in (0, 6):
    if any(err[row]) or not err[row]:
        sys.exit(f"row {row} should have good records: {err.get(row)}")
PY
# The merge of a table with failed records writes it and says so.
expect 2 "records hold an error" "$segcam" audit --merge "$tmp/bad"
[ -s "$tmp/bad/audit.csv" ] && grep -q "Failed records" "$tmp/bad/report.html" && pass || fail "FAIL: no table or report for a failed audit"
# A rerun tries the failed rows again and keeps the others.
expect 2 "5 rows failed" "$segcam" audit --model "$model" --manifest "$data/bad.csv" --out "$tmp/bad" $opts
grep -q "5 rows audited.*2 already there" "$tmp/out" && pass || fail "FAIL: rerun said: $(cat "$tmp/out")"

# ---- bad invocations and folders ---------------------------------------------------------------
printf 'image\n"img/0000.png\n' >"$data/unclosed.csv"
expect 2 "unclosed.csv, line 2: a quoted field is never closed" "$segcam" audit --model "$model" --manifest "$data/unclosed.csv" --out "$tmp/x" $opts
printf 'picture\nimg/0000.png\n' >"$data/noimage.csv"
expect 2 "has no 'image' column" "$segcam" audit --model "$model" --manifest "$data/noimage.csv" --out "$tmp/x" $opts
expect 2 "unknown class 'cat'" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/x" --class cat $opts
expect 1 "--shard must be I/N" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/x" --shard 3/3 $opts
expect 1 "--shard must be I/N" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/x" --shard 1/2/3 $opts
expect 1 "--method must be" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/x" --method nope $opts
expect 1 "needs --model" "$segcam" audit --manifest "$data/good.csv" --out "$tmp/x"
expect 1 "takes no other option" "$segcam" audit --merge "$tmp/one" --model "$model"
expect 2 "is a file, not a folder" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$data/good.csv" $opts
expect 2 "other settings \(steps" "$segcam" audit --model "$model" --manifest "$data/good.csv" --out "$tmp/one" --steps 3 --threads 1
expect 2 "is not an audit folder|audit.ini" "$segcam" audit --merge "$data"
# An incomplete or mixed folder is not merged.
mkdir "$tmp/partial"
cp "$tmp/three/audit.ini" "$tmp/three/shard-0-of-3.csv" "$tmp/three/shard-2-of-3.csv" "$tmp/partial/"
expect 2 "shard-1-of-3.csv is missing: run shard 1 of 3" "$segcam" audit --merge "$tmp/partial"
cp "$tmp/one/shard-0-of-1.csv" "$tmp/partial/"
expect 2 "holds shards of" "$segcam" audit --merge "$tmp/partial"
rm "$tmp/partial/shard-0-of-1.csv"
awk -F, 'NR == 1 || $1 != 4' "$tmp/three/shard-1-of-3.csv" >"$tmp/partial/shard-1-of-3.csv"
expect 2 "rows 4 \(shard 1\) have no record" "$segcam" audit --merge "$tmp/partial"
{ cat "$tmp/three/shard-1-of-3.csv"; grep '^4,' "$tmp/three/shard-1-of-3.csv"; } >"$tmp/partial/shard-1-of-3.csv"
expect 2 "row 4 has two records" "$segcam" audit --merge "$tmp/partial"
printf 'row,image\n' >"$tmp/partial/shard-1-of-3.csv"
expect 2 "not the columns of this version" "$segcam" audit --merge "$tmp/partial"

finish
