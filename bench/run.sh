#!/bin/bash
# bench/run.sh — segcam against PyTorch on the Seg-Grad-CAM paper's Cityscapes U-Net size.
#
#   bench/run.sh                    (from anywhere; about 30-60 minutes on 2 cores)
#
# Builds segcam (meson, in $BUILD), writes the yardstick model (bench/make_unet.py), measures the
# machine's sgemm rate (bench/sgemm), then per input size runs `segcam bench` and the PyTorch peer
# (bench/torch_peer.py, glibc malloc tuned) on the same model with the same thread count, and
# prints one table; then the whole `segcam predict` and `segcam explain` commands as users run
# them, against the in-process peers (PyTorch, and ONNX Runtime through bench/ort_peer.js), and
# the fixed cost of a command; then training throughput (bench/train-bench against
# torch_peer.py --train).
# Every measurement runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on users' machines.
# See bench/README.md for what is measured and how.
#
# Environment (all optional):
#   BUILD      build directory (default /tmp/segcam-bench-build; reused when it exists)
#   NO_BUILD=1 do not run meson/ninja: measure the programs $BUILD already has
#   OUT        where the model, raw logs and the table go (default $BUILD/bench-out)
#   THREADS    threads for both engines (default 2)
#   SIZES      "WxH:RUNS ..." (default "256x256:10 512x512:7 2048x1024:3 4096x4096:1")
#   TORCH_TIMEOUT, SEGCAM_TIMEOUT   seconds per size and engine (default 2400 each)
#   TRAIN_STEPS                     timed training steps (default 10)
#   MEM_FRACTION   address-space cap per engine, as a fraction of MemAvailable (default 0.85)
#   CMD_SIZES  "WxH:RUNS ..." of the whole-command table (default "512x512:5 2048x1024:3"); each
#              size should be one of SIZES, whose in-process peers it is compared with
#   FIXED_RUNS whole commands on the bundled 64x48 model and image for the fixed cost (default 15)
#   TILED=1    also `segcam explain` at 8192x8192, which runs on tiles (docs/seg-grad-cam.md,
#              "Large images: tiles"; about 10 minutes on 2 cores); one line with the layout
#   SKIP_COMMANDS=1 leave out the fixed cost and the whole-command table; SKIP_ORT=1 leave out
#              ONNX Runtime (also skipped when tools/fetch-onnxruntime.sh cannot provide it)
#   NETS       torchvision nets of tests/onnx/models.py, random weights, exported to ONNX and
#              imported (default "fcn_resnet50 deeplabv3_resnet50 lraspp_mobilenet_v3_large");
#   NET_SIZE, NET_RUNS   their input size and runs (default 512x512, 3); SKIP_NETS=1 leaves them out
#   SKIP_TRAIN=1, SKIP_UNTUNED=1, SKIP_TRACE=1, SKIP_EXACT=1   leave out the training line / the
#                                   default-malloc PyTorch run / the sgemm-by-shape trace of segcam
#                                   at 512x512 / segcam --exact and the per-layer conv benchmark
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-/tmp/segcam-bench-build}
OUT=${OUT:-$BUILD/bench-out}
THREADS=${THREADS:-2}
SIZES=${SIZES:-"256x256:10 512x512:7 2048x1024:3 4096x4096:1"}
TORCH_TIMEOUT=${TORCH_TIMEOUT:-2400}
SEGCAM_TIMEOUT=${SEGCAM_TIMEOUT:-2400}
TRAIN_STEPS=${TRAIN_STEPS:-10}
CMD_SIZES=${CMD_SIZES:-"512x512:5 2048x1024:3"}
NETS=${NETS:-"fcn_resnet50 deeplabv3_resnet50 lraspp_mobilenet_v3_large"}
NET_SIZE=${NET_SIZE:-512x512}
NET_RUNS=${NET_RUNS:-3}
FIXED_RUNS=${FIXED_RUNS:-15}
MEM_FRACTION=${MEM_FRACTION:-0.85}
PY=/usr/bin/python3
# glibc malloc tuned for PyTorch (bench/README.md): no mmap/munmap per tensor, no trimming.
TUNED_MALLOC=(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648
              MALLOC_TOP_PAD_=1073741824)
# Every measured command: OpenBLAS autodetects the CPU as on users' machines.
CLEAN=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

mkdir -p "$OUT" || exit 1
LOG="$OUT/run-$(date +%Y%m%d-%H%M%S).log"
say () { echo "$@" | tee -a "$LOG"; }
load1 () { cut -d' ' -f1 /proc/loadavg; }
mem_avail_mib () { awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo; }
field () { # field NAME FILE: value of NAME=... on the RESULT line
  sed -n 's/^RESULT.* '"$1"'=\([^ ]*\).*/\1/p; s/^RESULT '"$1"'=\([^ ]*\).*/\1/p' "$2" | head -1; }

say "segcam benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); memory available $(mem_avail_mib) MiB"
say "log: $LOG"
say "source: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"

# ---- build ----------------------------------------------------------------------------------
if [ "${NO_BUILD:-0}" = 1 ]; then
  say "NO_BUILD=1: using the programs already in $BUILD"
else
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" -Dplugin=disabled -Dbuildtype=release >>"$LOG" 2>&1 \
      || { say "meson setup failed (see $LOG)"; exit 1; }
  fi
  ninja -C "$BUILD" >>"$LOG" 2>&1 \
    || { say "build failed (see $LOG); NO_BUILD=1 reuses what $BUILD already has"; exit 1; }
fi
[ -x "$BUILD/tools/segcam" ] || { say "no $BUILD/tools/segcam"; exit 1; }
SEGCAM="$BUILD/tools/segcam"
SGEMM="$BUILD/bench/sgemm"
TRAIN="$BUILD/bench/train-bench"
TRACE="$BUILD/bench/libgemm-trace.so"
WINO="$BUILD/bench/winograd-bench"
for f in "$SGEMM" "$TRAIN" "$TRACE" "$WINO"; do
  [ -f "$f" ] || { say "no $f: build $BUILD with the tools enabled"; exit 1; }
done

# ---- model ----------------------------------------------------------------------------------
MODEL="$OUT/unet-cityscapes-size.safetensors"
if [ ! -f "$MODEL" ] || [ "$ROOT/bench/make_unet.py" -nt "$MODEL" ]; then
  "$PY" -B "$ROOT/bench/make_unet.py" "$MODEL" | tee -a "$LOG" || exit 1
fi
say "model: $MODEL ($("$SEGCAM" info "$MODEL" | sed -n 's/^parameters: *//p') parameters incl. BN running statistics)"

# ---- sgemm ----------------------------------------------------------------------------------
"${CLEAN[@]}" "$SGEMM" 2048 7 >"$OUT/sgemm.txt" 2>&1
cat "$OUT/sgemm.txt" >>"$LOG"
sed -n '1,2p' "$OUT/sgemm.txt"
SG1=$(field sgemm1 "$OUT/sgemm.txt")
SG2=$(field sgemm2 "$OUT/sgemm.txt")
SG2O=$(field sgemm2_openblas "$OUT/sgemm.txt")
SG2S=$(field sgemm2_split "$OUT/sgemm.txt")
say "sgemm 2048^3 GFLOP/s: 1 thread $SG1; 2 threads: OpenBLAS $SG2O, two 1-thread halves $SG2S"

# ---- per size -------------------------------------------------------------------------------
ratio () { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "-" }'; }
gflops () { awk -v f="$1" -v ms="$2" 'BEGIN { if (ms+0 > 0) printf "%.0f", f / (ms / 1000); else print "-" }'; }
num () { awk -v v="$1" 'BEGIN { if (v ~ /^[0-9.]+$/) printf "%.1f", v; else printf "%s", (v == "" ? "-" : v) }'; }
pct () { awk -v g="$1" -v s="$2" 'BEGIN { if (g+0 > 0 && s+0 > 0) printf "%.0f%%", 100 * g / s; else print "-" }'; }

ROWS=()
XROWS=()
declare -A SEG_FWD TORCH_FWD TORCH_EXP  # by size, for the whole-command table
prev_px=0 prev_plan=0
for spec in $SIZES; do
  size=${spec%%:*} runs=${spec##*:}
  w=${size%%x*} h=${size##*x}
  px=$((w * h))
  read -r _ FWD_GF _ EXP_GF _ _ < <("$PY" -B "$ROOT/bench/make_unet.py" "$MODEL" --flops "$size")
  avail=$(mem_avail_mib)
  cap_mib=$(awk -v m="$avail" -v f="$MEM_FRACTION" 'BEGIN { printf "%d", m * f }')  # MiB: mawk's %d stops at 2^31
  cap_gib=$(awk -v m="$cap_mib" 'BEGIN { printf "%.1f", m / 1024 }')
  say ""
  say "== $size: $runs run(s) after a warm-up, $THREADS threads; forward $FWD_GF GFLOP, forward+explain $EXP_GF GFLOP; load $(load1); memory available $avail MiB"

  # segcam (skipped when its plan, extrapolated from the previous size, cannot fit)
  s_out="$OUT/segcam-$size.txt"
  need=0
  [ "$prev_px" -gt 0 ] && need=$(awk -v p="$prev_plan" -v a="$px" -v b="$prev_px" 'BEGIN { printf "%d", p * a / b }')
  if [ "$need" -gt "$cap_mib" ]; then
    echo "RESULT skipped: needs ~$need MiB (extrapolated), $avail MiB available" >"$s_out"
  else
    timeout "$SEGCAM_TIMEOUT" prlimit --as=$((cap_mib * 1048576)) \
      "${CLEAN[@]}" "$SEGCAM" bench --model "$MODEL" --size "$size" --runs "$runs" --threads "$THREADS" \
      >"$s_out" 2>&1
    rc=$?
    [ $rc -eq 124 ] && echo "RESULT timeout after ${SEGCAM_TIMEOUT}s" >>"$s_out"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "RESULT failed (exit $rc; out of memory under a ${cap_gib} GiB cap?)" >>"$s_out"
  fi
  cat "$s_out" >>"$LOG"
  s_fwd=$(sed -n 's/^forward  *\([0-9.]*\) ms.*/\1/p' "$s_out")
  s_exp=$(sed -n 's/^forward+explain  *\([0-9.]*\) ms.*/\1/p' "$s_out")
  s_peak=$(sed -n 's/^peak resident  *\([0-9.]*\) MiB.*/\1/p' "$s_out")
  s_plan=$(sed -n 's/^planned memory  *\([0-9.]*\) MiB.*/\1/p' "$s_out")
  s_note=$(sed -n 's/^RESULT \(skipped\|timeout\|failed\)/\1/p' "$s_out")
  [ -n "$s_plan" ] && prev_px=$px && prev_plan=${s_plan%.*}
  say "segcam: forward ${s_fwd:--} ms, forward+explain ${s_exp:--} ms, planned ${s_plan:--} MiB, peak ${s_peak:--} MiB ${s_note}"

  # PyTorch, best setting
  t_out="$OUT/torch-$size.txt"
  timeout "$TORCH_TIMEOUT" "${CLEAN[@]}" "${TUNED_MALLOC[@]}" "$PY" -B "$ROOT/bench/torch_peer.py" "$MODEL" \
    --size "$size" --runs "$runs" --threads "$THREADS" --mem-limit-gib "$cap_gib" >"$t_out" 2>&1
  rc=$?
  [ $rc -eq 124 ] && echo "RESULT timeout after ${TORCH_TIMEOUT}s" >>"$t_out"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 3 ] && echo "RESULT failed (exit $rc)" >>"$t_out"
  cat "$t_out" >>"$LOG"
  t_fwd=$(field fwd_ms "$t_out") t_exp=$(field explain_ms "$t_out") t_peak=$(field peak_mib "$t_out")
  t_base=$(field baseline_mib "$t_out") t_faults=$(field faults_per_run "$t_out")
  t_note=""
  grep -q '^RESULT oom' "$t_out" && t_fwd="oom" t_exp="oom" && t_note="out of memory under a ${cap_gib} GiB cap"
  [ "$t_exp" = "oom" ] && [ -z "$t_note" ] && t_note="forward+explain out of memory under a ${cap_gib} GiB cap"
  grep -q '^RESULT timeout' "$t_out" && t_note="timeout after ${TORCH_TIMEOUT}s"
  grep -q '^RESULT failed' "$t_out" && t_note="$(grep '^RESULT failed' "$t_out" | cut -c8-)"
  say "torch:  forward ${t_fwd:--} ms, forward+explain ${t_exp:--} ms, peak ${t_peak:--} MiB (baseline ${t_base:--}), page faults/run ${t_faults:--} ${t_note}"

  SEG_FWD[$size]=$s_fwd TORCH_FWD[$size]=$t_fwd TORCH_EXP[$size]=$t_exp
  s_gf=$(gflops "$FWD_GF" "$s_fwd") s_egf=$(gflops "$EXP_GF" "$s_exp")
  t_gf=$(gflops "$FWD_GF" "$t_fwd") t_egf=$(gflops "$EXP_GF" "$t_exp")
  ROWS+=("| $size | $(num "$s_fwd") | $(num "$t_fwd") | $(ratio "$s_fwd" "$t_fwd") | $(num "$s_exp") | $(num "$t_exp") | $(ratio "$s_exp" "$t_exp") | $(num "$s_peak") | $(num "$t_peak") | $(ratio "$s_peak" "$t_peak") | $s_gf | $SG2 | $(pct "$s_gf" "$SG2") |")
  XROWS+=("| $size | $FWD_GF | $EXP_GF | $s_egf | $t_gf | $t_egf | ${s_plan:--} | ${t_base:--} | ${t_faults:--} | ${s_note}${s_note:+; }${t_note} |")
done

# ---- whole commands, as users run them, against the in-process peers ------------------------
# whole_command RUNS OUT COMMAND...: runs COMMAND (OpenBLAS autodetecting) RUNS times and
# appends "wall-µs peak-KiB" per run to OUT; FALSE at the first failure.
whole_command () {
  local runs=$1 out=$2 r t0 t1
  shift 2
  for ((r = 0; r < runs; r++)); do
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$out.rss" "${CLEAN[@]}" "$@" >>"$LOG" 2>&1 || return 1
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000 )) $(tail -1 "$out.rss")" >>"$out"
  done
}
# median_of FILE: "median-ms peak-MiB" of whole_command's lines, or "- -".
median_of () {
  sort -n "$1" 2>/dev/null | awk '{ t[NR] = $1; if ($2 > m) m = $2 }
    END { if (!NR) { print "- -"; exit }
          med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
          printf "%.1f %.1f\n", med / 1000, m / 1024 }'
}

# random_png WxH: the path of a PNG of random pixels (fixed seed) of that size, made once.
random_png () {
  local png="$OUT/input-$1.png"
  [ -f "$png" ] || "$PY" -B -c "import numpy as np, sys; from PIL import Image
Image.fromarray(np.random.default_rng(1).integers(0, 256, (${1##*x}, ${1%%x*}, 3), dtype=np.uint8)).save(sys.argv[1])" \
    "$png"
  echo "$png"
}
# both_commands RUNS MODEL PNG NAME: segcam predict and explain --class 0 as whole commands,
# alternating so that a change in the machine's load hits both; sets p_ms p_mib e_ms e_mib.
both_commands () {
  local runs=$1 model=$2 png=$3 p_out="$OUT/$4-predict.txt" e_out="$OUT/$4-explain.txt" r
  : >"$p_out"
  : >"$e_out"
  for ((r = 0; r < runs; r++)); do
    whole_command 1 "$p_out" "$SEGCAM" predict --threads "$THREADS" --model "$model" "$png" \
      -o "$OUT/$4-labels.png" || break
    whole_command 1 "$e_out" "$SEGCAM" explain --threads "$THREADS" --class 0 --model "$model" "$png" \
      -o "$OUT/$4-heat.png" || break
  done
  read -r p_ms p_mib < <(median_of "$p_out")
  read -r e_ms e_mib < <(median_of "$e_out")
}
# ort_forward ONNX WxH RUNS NAME: ONNX Runtime's forward in-process; sets o_fwd o_peak (empty
# without ONNX Runtime).
ort_forward () {
  local o_out="$OUT/$4-ort.txt"
  : >"$o_out"
  [ -n "$ORT_MODULES" ] && timeout "$TORCH_TIMEOUT" "${CLEAN[@]}" NODE_PATH="$ORT_MODULES" node \
    "$ROOT/bench/ort_peer.js" "$1" --size "$2" --runs "$3" --threads "$THREADS" >"$o_out" 2>&1
  cat "$o_out" >>"$LOG"
  o_fwd=$(field fwd_ms "$o_out") o_peak=$(field peak_mib "$o_out")
}

CMDROWS=() FIXEDLINE="" ORTNOTE="" ORT_MODULES=""
if [ "${SKIP_ORT:-0}" != 1 ]; then
  ORT_MODULES=$(sh "$ROOT/tools/fetch-onnxruntime.sh" 2>>"$LOG") || ORT_MODULES=""
  [ -n "$ORT_MODULES" ] || ORTNOTE="ONNX Runtime not available (tools/fetch-onnxruntime.sh failed; see the log)."
fi
if [ "${SKIP_COMMANDS:-0}" != 1 ]; then
  # The fixed cost: the bundled model and image, so small that the command is nearly all set-up.
  f_out="$OUT/fixed-cost.txt"
  : >"$f_out"
  if whole_command "$FIXED_RUNS" "$f_out" "$SEGCAM" predict --model "$ROOT/models/random-unet.safetensors" \
       "$ROOT/models/samples/shapes.png" -o "$OUT/fixed-cost.png"; then
    read -r f_ms f_mib < <(median_of "$f_out")
    FIXEDLINE="Fixed cost: \`segcam predict\` on the bundled model and 64x48 image, the whole command, median of $FIXED_RUNS: $f_ms ms, peak $f_mib MiB."
  else
    FIXEDLINE="Fixed cost: the bundled model's predict command failed (see $LOG)."
  fi
  say ""
  say "$FIXEDLINE"
  for spec in $CMD_SIZES; do
    size=${spec%%:*} runs=${spec##*:}
    png=$(random_png "$size")
    onnx="$OUT/unet-$size.onnx"
    [ -z "$ORT_MODULES" ] || [ -f "$onnx" ] || "$PY" -B "$ROOT/bench/torch_peer.py" "$MODEL" \
      --export-onnx "$onnx" --size "$size" >>"$LOG" 2>&1
    ort_forward "$onnx" "$size" "$runs" "unet-$size"
    both_commands "$runs" "$MODEL" "$png" "cmd-$size"
    s_fwd=${SEG_FWD[$size]:-} t_exp=${TORCH_EXP[$size]:-}
    say "commands $size: predict $p_ms ms (peak $p_mib MiB), explain $e_ms ms (peak $e_mib MiB); ONNX Runtime forward ${o_fwd:--} ms in-process (peak ${o_peak:--} MiB)"
    CMDROWS+=("| $size | $(num "$p_ms") | $(num "$s_fwd") | $(num "$o_fwd") | $(ratio "$p_ms" "$o_fwd") | $(ratio "$s_fwd" "$o_fwd") | $(num "$e_ms") | $(num "$t_exp") | $(ratio "$e_ms" "$t_exp") | $(num "$p_mib") / $(num "$e_mib") | $(num "$o_peak") |")
  done
  if [ "${TILED:-0}" = 1 ]; then
    t_out="$OUT/tiled-8192.txt"
    : >"$t_out"
    whole_command 1 "$t_out" "$SEGCAM" explain --threads "$THREADS" --class 0 --model "$MODEL" \
      "$(random_png 8192x8192)" -o "$OUT/tiled-8192-heat.png"
    read -r t_ms t_mib < <(median_of "$t_out")
    say "tiles: explain 8192x8192 $t_ms ms, peak $t_mib MiB; $(grep -o '[0-9]* tiles of .*)' "$LOG" | tail -1)"
  fi
fi

# ---- torchvision's segmentation nets, imported from ONNX -------------------------------------
NETROWS=()
if [ "${SKIP_NETS:-0}" != 1 ]; then
  png=$(random_png "$NET_SIZE")
  for net in $NETS; do
    onnx="$OUT/$net.onnx" st="$OUT/$net.safetensors"
    layer=$("$PY" -B "$ROOT/bench/torchvision_peer.py" "$net" --export "$onnx" 2>>"$LOG" | tail -1)
    if [ -z "$layer" ] || ! "$SEGCAM" import "$onnx" -o "$st" --mean 0.485,0.456,0.406 \
         --std 0.229,0.224,0.225 --default-layer "$layer" >>"$LOG" 2>&1; then
      say "$net: export or import failed (see $LOG)"
      continue
    fi
    n_out="$OUT/net-$net-segcam.txt" t_out="$OUT/net-$net-torch.txt"
    "${CLEAN[@]}" "$SEGCAM" bench --model "$st" --size "$NET_SIZE" --runs "$NET_RUNS" --threads "$THREADS" \
      >"$n_out" 2>&1
    timeout "$TORCH_TIMEOUT" "${CLEAN[@]}" "${TUNED_MALLOC[@]}" "$PY" -B "$ROOT/bench/torchvision_peer.py" \
      "$net" --size "$NET_SIZE" --runs "$NET_RUNS" --threads "$THREADS" >"$t_out" 2>&1
    cat "$n_out" "$t_out" >>"$LOG"
    ort_forward "$onnx" "$NET_SIZE" "$NET_RUNS" "net-$net"
    both_commands "$NET_RUNS" "$st" "$png" "net-$net"
    s_fwd=$(sed -n 's/^forward  *\([0-9.]*\) ms.*/\1/p' "$n_out")
    s_exp=$(sed -n 's/^forward+explain  *\([0-9.]*\) ms.*/\1/p' "$n_out")
    t_fwd=$(field fwd_ms "$t_out") t_exp=$(field explain_ms "$t_out") t_peak=$(field peak_mib "$t_out")
    say "$net $NET_SIZE: segcam forward ${s_fwd:--} / explain ${s_exp:--} ms in-process, commands predict $p_ms / explain $e_ms ms; torch forward ${t_fwd:--} / explain ${t_exp:--} ms; ONNX Runtime forward ${o_fwd:--} ms"
    NETROWS+=("| $net | $(num "$s_fwd") | $(num "$o_fwd") | $(ratio "$s_fwd" "$o_fwd") | $(num "$p_ms") | $(ratio "$p_ms" "$o_fwd") | $(num "$s_exp") | $(num "$t_exp") | $(ratio "$s_exp" "$t_exp") | $(num "$e_ms") | $(ratio "$e_ms" "$t_exp") | $(num "$e_mib") / $(num "$t_peak") |")
  done
fi

# ---- PyTorch with glibc's default malloc, once ----------------------------------------------
UNTUNED=""
if [ "${SKIP_UNTUNED:-0}" != 1 ]; then
  u_out="$OUT/torch-512x512-default-malloc.txt"
  timeout "$TORCH_TIMEOUT" "${CLEAN[@]}" "$PY" -B "$ROOT/bench/torch_peer.py" "$MODEL" --size 512x512 \
    --runs 5 --threads "$THREADS" >"$u_out" 2>&1
  cat "$u_out" >>"$LOG"
  UNTUNED="PyTorch with glibc's default malloc, 512x512, median of 5: forward $(field fwd_ms "$u_out") ms, forward+explain $(field explain_ms "$u_out") ms, peak $(field peak_mib "$u_out") MiB, page faults/run $(field faults_per_run "$u_out")"
  say ""
  say "$UNTUNED"
fi

# ---- segcam's exact path, and its 3x3 convs alone, at 512x512 --------------------------------
EXACTLINE="" CONVLINE=""
if [ "${SKIP_EXACT:-0}" != 1 ]; then
  e_out="$OUT/segcam-512x512-exact.txt"
  "${CLEAN[@]}" "$SEGCAM" bench --exact --model "$MODEL" --size 512x512 --runs 5 --threads "$THREADS" \
    >"$e_out" 2>&1
  cat "$e_out" >>"$LOG"
  EXACTLINE="segcam --exact (node by node, direct convolutions), 512x512, median of 5: forward $(sed -n 's/^forward  *\([0-9.]*\) ms.*/\1/p' "$e_out") ms, forward+explain $(sed -n 's/^forward+explain  *\([0-9.]*\) ms.*/\1/p' "$e_out") ms, peak $(sed -n 's/^peak resident  *\([0-9.]*\) MiB.*/\1/p' "$e_out") MiB"
  c_out="$OUT/winograd-512x512.txt"
  "${CLEAN[@]}" "$WINO" --size 512x512 --runs 5 --threads "$THREADS" >"$c_out" 2>&1
  cat "$c_out" >>"$LOG"
  read -r _ c_wms c_wgf c_gms c_ggf _ < <(grep '^total' "$c_out")
  CONVLINE="The 18 3x3 convs of the forward at 512x512 (bench/winograd-bench, median of 5): Winograd $c_wms ms = $c_wgf GFLOP/s effective ($(pct "$c_wgf" "$SG2") of sgemm), the gather GEMM (--exact) $c_gms ms = $c_ggf GFLOP/s ($(pct "$c_ggf" "$SG2"))"
  say ""
  say "$EXACTLINE"
  say "$CONVLINE"
fi

# ---- training -------------------------------------------------------------------------------
TRAINLINE=""
if [ "${SKIP_TRAIN:-0}" != 1 ]; then
  tm="$OUT/train-unet.safetensors"
  s_out="$OUT/train-segcam.txt" x_out="$OUT/train-segcam-exact.txt" t_out="$OUT/train-torch.txt"
  "${CLEAN[@]}" "$TRAIN" --depth 4 --filters 32 --classes 11 --channels 1 --size 64 --batch 32 \
    --steps "$TRAIN_STEPS" --threads "$THREADS" --save "$tm" >"$s_out" 2>&1
  "${CLEAN[@]}" "$TRAIN" --depth 4 --filters 32 --classes 11 --channels 1 --size 64 --batch 32 \
    --steps "$TRAIN_STEPS" --threads "$THREADS" --exact >"$x_out" 2>&1
  cat "$s_out" "$x_out" >>"$LOG"
  "${CLEAN[@]}" "${TUNED_MALLOC[@]}" "$PY" -B "$ROOT/bench/torch_peer.py" "$tm" --train --size 64x64 \
    --batch 32 --steps "$TRAIN_STEPS" --threads "$THREADS" >"$t_out" 2>&1
  cat "$t_out" >>"$LOG"
  si=$(field images_per_s "$s_out") ti=$(field images_per_s "$t_out") xi=$(field images_per_s "$x_out")
  TRAINLINE="Training (U-Net depth 4, 32 filters, BN, bilinear; gray 64x64, 11 classes, batch 32, Adam; median of $TRAIN_STEPS steps, $THREADS threads): segcam ${si:--} images/s ($(field step_ms "$s_out") ms/step, peak $(field peak_mib "$s_out") MiB; --exact ${xi:--} images/s), PyTorch ${ti:--} images/s ($(field step_ms "$t_out") ms/step, peak $(field peak_mib "$t_out") MiB); segcam/PyTorch throughput $(ratio "$si" "$ti")"
fi

# ---- where the engine's time goes: sgemm calls by shape at 512x512 --------------------------
TRACELINE=""
if [ "${SKIP_TRACE:-0}" != 1 ]; then
  g_out="$OUT/gemm-trace-512x512.txt"
  "${CLEAN[@]}" GEMM_TRACE_OUT="$g_out" LD_PRELOAD="$TRACE" "$SEGCAM" bench --model "$MODEL" \
    --size 512x512 --runs 3 --threads "$THREADS" >"$OUT/segcam-512x512-traced.txt" 2>&1
  cat "$OUT/segcam-512x512-traced.txt" "$g_out" >>"$LOG"
  TRACELINE="$(head -1 "$g_out" | sed 's/^gemm-trace: //') over 4 forward + forward+explain runs at 512x512 (see $g_out)"
fi

# ---- table ----------------------------------------------------------------------------------
TABLE="$OUT/table.md"
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs, $THREADS threads; OpenBLAS core $(sed -n 's/^RESULT core=\([^ ]*\).*/\1/p' "$OUT/sgemm.txt"); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Times in ms (median), memory in MiB (peak RSS); ratios are segcam / PyTorch (below 1: segcam faster or smaller)."
  echo ""
  echo "| size | segcam fwd ms | torch fwd ms | ratio | segcam explain ms | torch explain ms | ratio | segcam peak MiB | torch peak MiB | ratio | segcam GFLOP/s (effective) | sgemm GFLOP/s (2 thr) | % of sgemm |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo ""
  echo "| size | forward GFLOP | explain GFLOP | segcam explain GFLOP/s | torch fwd GFLOP/s | torch explain GFLOP/s | segcam planned MiB | torch baseline MiB | torch page faults/run | notes |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${XROWS[@]}"
  echo ""
  if [ ${#CMDROWS[@]} -gt 0 ]; then
    echo "Whole commands as users run them (\`segcam predict\` / \`segcam explain --class 0\` on a PNG of random pixels, $THREADS threads, median wall time, runs alternating), against the engines in-process: segcam's own forward (\`segcam bench\`, above), ONNX Runtime's (bench/ort_peer.js, the same network exported from PyTorch) and PyTorch's forward+explain (above)."
    echo ""
    echo "| size | predict command ms | segcam fwd in-process ms | ORT fwd in-process ms | predict command / ORT | segcam fwd / ORT | explain command ms | torch explain in-process ms | explain command / torch | command peak MiB (predict / explain) | ORT peak MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${CMDROWS[@]}"
    echo ""
  fi
  if [ ${#NETROWS[@]} -gt 0 ]; then
    echo "torchvision's segmentation nets at $NET_SIZE (random weights, 5 classes; exported to ONNX and \`segcam import\`ed; explained at tests/onnx/crosscheck.py's layer; $THREADS threads; medians of $NET_RUNS): segcam in-process (\`segcam bench\`) and as whole commands, against ONNX Runtime's forward (bench/ort_peer.js, the same .onnx) and PyTorch's on the module (bench/torchvision_peer.py)."
    echo ""
    echo "| net | segcam fwd ms | ORT fwd ms | ratio | predict command ms | predict command / ORT | segcam explain ms | torch explain ms | ratio | explain command ms | explain command / torch | explain command / torch peak MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${NETROWS[@]}"
    echo ""
  fi
  [ -n "$FIXEDLINE" ] && echo "$FIXEDLINE"
  [ -n "$ORTNOTE" ] && echo "$ORTNOTE"
  echo "sgemm 2048^3 GFLOP/s: 1 thread $SG1; 2 threads: OpenBLAS $SG2O, two 1-thread halves $SG2S (the table uses the better: $SG2)."
  [ -n "$UNTUNED" ] && echo "$UNTUNED."
  [ -n "$EXACTLINE" ] && echo "$EXACTLINE."
  [ -n "$CONVLINE" ] && echo "$CONVLINE."
  [ -n "$TRAINLINE" ] && echo "$TRAINLINE."
  [ -n "$TRACELINE" ] && echo "segcam sgemm calls (bench/gemm-trace.c): $TRACELINE."
} >"$TABLE"
echo ""
cat "$TABLE" | tee -a "$LOG"
