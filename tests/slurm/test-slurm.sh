#!/bin/sh
# test-slurm.sh SEGCAM BIASED UNBIASED TEMPLATE — segcam audit on a real Slurm (issue 17): starts
# munged, slurmctld and slurmd on this machine, configured in a temporary folder and reachable on
# localhost only, submits tools/slurm/audit.sbatch as an array of 4 tasks over 200 TextureMNIST
# test images for both models, merges and compares the table with a one-process run byte for
# byte; then cancels one task of a new run mid-way and checks that resubmitting the array
# completes the table without a duplicate. Everything is shut down on exit. Needs root (the
# daemons run jobs as their users) and Debian's slurm-wlm and munge; exit 77 (skip) otherwise.
#
# The digits are $SEGCAM_MNIST when set (tools/fetch-mnist.sh), else made-up ones: the test
# compares runs with each other, not with the paper.
set -eu
segcam=$1 biased=$2 unbiased=$3 template=$4

skip () {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "starting munged, slurmctld and slurmd needs root"
for c in munged slurmctld slurmd sbatch squeue scancel scontrol; do
  command -v "$c" >/dev/null || skip "$c is missing (tools/install-deps.sh installs slurm-wlm and munge)"
done

tmp=$(mktemp -d /tmp/segcam-slurm.XXXXXX)
t0=$(date +%s)
stop () {
  for d in slurmd slurmctld munged; do
    [ -s "$tmp/$d.pid" ] && kill "$(cat "$tmp/$d.pid")" 2>/dev/null || true
  done
  # The daemons remove their pid files as they go; give them a moment before the folder goes.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -e "$tmp/slurmd.pid" ] || [ -e "$tmp/slurmctld.pid" ] || break
    sleep 0.5
  done
  rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP

fail () {
  echo "FAIL: $*"
  for f in "$tmp"/*.log "$tmp"/job-*.out; do
    [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
  done
  exit 1
}

# ---- a single-node Slurm in $tmp --------------------------------------------------------------

# Ports from a range other services rarely take, picked per run so that two runs do not meet.
port=$(( 20000 + $$ % 20000 ))
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$tmp/munge.key"
munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.socket" \
  --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge.seed" \
  || skip "munged does not start here: $(tail -1 "$tmp/munged.log" 2>/dev/null)"
cpus=$(nproc)
mkdir "$tmp/state" "$tmp/spool"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=segcam-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
MinJobAge=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF" || skip "slurmctld does not start here (see $tmp/slurmctld.log)"
slurmd -f "$SLURM_CONF" -N localhost || skip "slurmd does not start here"
ready=0
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then ready=1; break; fi
  sleep 0.5
done
[ $ready = 1 ] || fail "the node never became idle: $(sinfo -h -o '%T %E' 2>&1)"
echo "slurm up in $(( $(date +%s) - t0 )) s"

# ---- data --------------------------------------------------------------------------------

mnist=${SEGCAM_MNIST:-}
if [ -z "$mnist" ] || [ ! -f "$mnist" ]; then
  mnist=$tmp/digits.bin
  # 10 train and 10 test digits, each a block of a different size: label, then 28 x 28 pixels.
  { printf 'SCMNIST1\012\0\0\0\012\0\0\0'
    for d in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9; do
      printf "\\$(printf %03o $d)"
      for y in $(seq 0 27); do
        for x in $(seq 0 27); do
          if [ $x -ge $((4 + d / 2)) ] && [ $x -lt $((24 - d / 3)) ] && [ $y -ge $((2 + d)) ] && [ $y -lt 26 ]; then
            printf '\377'
          else
            printf '\0'
          fi
        done
      done
    done; } >"$mnist"
fi
"$segcam" dataset texture-mnist --config biased --split test --count 200 --seed 7 \
  --out "$tmp/data/images" --mnist "$mnist" || fail "segcam dataset"
{ echo "image,labels,context"
  for i in $(seq 0 199); do
    n=$(printf %04d "$i")
    echo "images/$n.png,images/$n-labels.png,images/$n-bias.png"
  done; } >"$tmp/data/manifest.csv"

# Few curve points: the test compares runs, and the whole suite has a budget.
opts="--steps 2"
# sbatch ARRAY DIR MODEL: the template as an array job, waiting for it to end.
submit () {
  sbatch --wait --parsable --array="$1" --cpus-per-task=1 --output="$tmp/job-%A_%a.out" \
    --export=ALL,SEGCAM="$segcam" "$template" "$3" "$tmp/data/manifest.csv" "$2" $opts
}

for model in "$biased" "$unbiased"; do
  name=$(basename "$model" .safetensors)
  t1=$(date +%s)
  "$segcam" audit --model "$model" --manifest "$tmp/data/manifest.csv" --out "$tmp/$name-one" \
    --threads 1 $opts >/dev/null || fail "one-process audit of $name"
  "$segcam" audit --merge "$tmp/$name-one" >/dev/null || fail "merge of the one-process $name"
  t2=$(date +%s)
  submit 0-3 "$tmp/$name-slurm" "$model" >/dev/null || fail "the array job of $name failed"
  t3=$(date +%s)
  "$segcam" audit --merge "$tmp/$name-slurm" >/dev/null || fail "merge of the Slurm run of $name"
  cmp "$tmp/$name-one/audit.csv" "$tmp/$name-slurm/audit.csv" \
    || fail "$name: the Slurm table differs from the one-process table"
  echo "ok: $name, 4 Slurm tasks give the one-process table ($(wc -l <"$tmp/$name-one/audit.csv") lines; one process $((t2 - t1)) s, array job $((t3 - t2)) s)"
done

# ---- a task killed mid-way, then the array resubmitted ---------------------------------------

name=$(basename "$biased" .safetensors)
out=$tmp/$name-killed
job=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --output="$tmp/job-%A_%a.out" \
  --export=ALL,SEGCAM="$segcam" "$template" "$biased" "$tmp/data/manifest.csv" "$out" $opts)
shard=$out/shard-1-of-4.csv
rows=0
for _ in $(seq 1800); do
  [ -f "$shard" ] && rows=$(tail -n +2 "$shard" | cut -d, -f1 | sort -u | wc -l)
  [ "$rows" -ge 5 ] && break
  sleep 0.1
done
scancel "${job}_1"
while squeue -h -j "$job" 2>/dev/null | grep -q .; do sleep 0.5; done
rows=$(tail -n +2 "$shard" | cut -d, -f1 | sort -u | wc -l)
[ "$rows" -ge 5 ] && [ "$rows" -lt 50 ] || fail "task 1 was to be cancelled mid-way; its shard has $rows of 50 rows"
if "$segcam" audit --merge "$out" >/dev/null 2>"$tmp/merge.err"; then
  fail "the merge of an incomplete audit succeeded"
fi
grep -q "is not complete" "$tmp/merge.err" || fail "the incomplete merge said: $(cat "$tmp/merge.err")"
submit 0-3 "$out" "$biased" >/dev/null || fail "the resubmitted array failed"
grep -q "50 already there" "$tmp"/job-*_0.out || fail "the resubmitted task 0 did not skip its rows"
"$segcam" audit --merge "$out" >/dev/null || fail "merge after the resubmission"
cmp "$tmp/$name-one/audit.csv" "$out/audit.csv" \
  || fail "after the resubmission the table differs from the one-process table"
echo "ok: task 1 cancelled after $rows of its 50 rows; the resubmitted array completes the table, no row twice"
echo "slurm test took $(( $(date +%s) - t0 )) s"
