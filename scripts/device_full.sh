#!/usr/bin/env bash
# The full profile on a lent GPU machine, inside one command of a short slot: every
# result of the study (no rendering: the machine has no pandoc or typst), packed
# into $OUT for the trip back. scripts/README.md says how to ship and start it.
#
#   bash scripts/device_full.sh [--limit SECONDS] [--profile full|quick|smoke] [--ship DIR]
#
# --limit    the command's time limit (default 570). The study is stopped in time to
#            pack what finished; the same command again continues from the stage cache.
# --profile  full (default); smoke and quick rehearse the script on a CPU.
# --ship     the shipped folder (default .device/): cifar10-jpeg.zip, MNIST/raw/t10k-*,
#            and the openTSNE wheel, installed only where openTSNE is missing.
#
# Environment: OUT (required: the folder that comes back), PYTHON (default python3),
# VICREG_COMMIT (the commit, recorded in provenance where the copy has no .git).
# Exit status: 0 every stage done and packed; 3 stopped at the limit, what finished
# is packed; 2 a problem found before the study started.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
LIMIT=570
PROFILE=full
SHIP="$ROOT/.device"
PACK_MARGIN=25      # seconds kept for stopping the study and packing
BENCH_NEEDS=60      # seconds the benchmark is given, if that many are left

die() { echo "device_full.sh: error: $*" >&2; exit 2; }
now() { date +%s; }
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) LIMIT=${2:?--limit needs seconds}; shift 2 ;;
    --profile) PROFILE=${2:?--profile needs a name}; shift 2 ;;
    --ship) SHIP=$(cd "${2:?--ship needs a folder}" && pwd) || die "no folder $2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
STARTED=$(now)
DEADLINE=$((STARTED + LIMIT))
[ -n "${OUT:-}" ] || die "OUT is not set: name the folder whose files come back."
mkdir -p "$OUT" || die "cannot create OUT=$OUT"
cd "$ROOT"

# ---------------------------------------------------------------- checks
"$PY" -c 'import torch, torchvision' 2>/dev/null || die "'$PY' cannot import torch and torchvision."
if [ "$PROFILE" = full ]; then
  DEVICE=cuda
  "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' ||
    die "torch sees no CUDA GPU; the full profile needs one (smoke or quick rehearse on a CPU)."
  for f in cifar10-jpeg.zip MNIST/raw/t10k-images-idx3-ubyte.gz MNIST/raw/t10k-labels-idx1-ubyte.gz; do
    [ -f "$SHIP/$f" ] || die "$SHIP/$f is missing; prepare $SHIP as scripts/README.md says."
  done
else
  DEVICE=auto
fi
WORK="$ROOT/build/device"
mkdir -p "$WORK"
if ! "$PY" -c 'import openTSNE' 2>/dev/null; then
  WHEEL=$(ls "$SHIP"/opentsne-*.whl "$SHIP"/openTSNE-*.whl 2>/dev/null | head -n 1)
  [ -n "$WHEEL" ] || die "openTSNE is missing and $SHIP holds no openTSNE wheel."
  rm -rf "$WORK/site" && "$PY" -m zipfile -e "$WHEEL" "$WORK/site" ||
    die "cannot unpack $WHEEL"
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
  "$PY" -c 'import openTSNE' || die "openTSNE from $WHEEL does not import with $PY."
fi
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export VICREG_BUILD_DIR="$WORK" PYTHONUNBUFFERED=1
RESULTS="$WORK/results/$PROFILE/seed-0"
LOG="$OUT/run.log"
TIMES="$OUT/run-times.tsv"
[ -f "$TIMES" ] || printf 'step\tseconds\texit\n' > "$TIMES"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi: not available here" > "$OUT/nvidia-smi.txt"

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log, time; its exit status
  local name=$1 seconds=$2 t0 status
  shift 2
  t0=$(now)
  echo "== $name (at most $seconds s)" | tee -a "$LOG"
  timeout --signal=INT --kill-after=10 "$seconds" "$@" >>"$LOG" 2>&1
  status=$?
  printf '%s\t%s\t%s\n' "$name" "$(( $(now) - t0 ))" "$status" >> "$TIMES"
  return $status
}
left() { echo $((DEADLINE - $(now) - PACK_MARGIN)); }

# ---------------------------------------------------------------- the study, then the bench
if [ "$(left)" -gt 0 ]; then
  step "study ($PROFILE)" "$(left)" "$PY" -m vicreg_report evaluate --profile "$PROFILE" \
    --data "$SHIP" --device "$DEVICE" --no-progress
  STUDY=$?
else
  echo "no time left for the study within --limit $LIMIT" | tee -a "$LOG"
  STUDY=124
fi
if [ "$STUDY" = 0 ] && [ "$(left)" -ge "$BENCH_NEEDS" ]; then
  step "bench ($PROFILE)" "$(left)" "$PY" -m vicreg_report.bench --profile "$PROFILE" \
    --device "$DEVICE" --data "$SHIP" --steps 20 --warmup 3 --no-progress
fi

# ---------------------------------------------------------------- pack what finished
printf 'total\t%s\t%s\n' "$(( $(now) - STARTED ))" "$STUDY" >> "$TIMES"
"$PY" -m vicreg_report.shipment pack "$RESULTS" "$OUT" "$RESULTS/timings.json" \
  "$WORK"/bench/"$PROFILE"-*.json | tee -a "$LOG" || die "packing failed; see $LOG"
if [ "$STUDY" = 0 ]; then
  echo "device_full.sh: done in $(( $(now) - STARTED )) s; files in $OUT" | tee -a "$LOG"
  exit 0
fi
tail -n 5 "$LOG" >&2
echo "device_full.sh: the study stopped (exit $STUDY) after $(( $(now) - STARTED )) s; what" \
     "finished is packed. Run the same command again to continue." | tee -a "$LOG" >&2
exit 3
