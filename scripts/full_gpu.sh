#!/usr/bin/env bash
# The full profile (ResNet-18, 50,000 images, 30 epochs; STUDY.md's setup) on one
# CUDA GPU, without a package index: the whole study and its documents, then
# the training benchmark. Everything lands in one folder: $OUT, else build/full-run.
#
#   scripts/full_gpu.sh [--data PATH] [--python PY] [--check]
#
# --data    CIFAR-10 and the MNIST test split (default .data/; see scripts/README.md)
# --python  the interpreter with torch and torchvision (default $PYTHON, else python3)
# --check   check GPU, packages and data, then stop without running anything
#
# Other packages come from wheels in .whl/ (scripts/fetch_wheels.sh), installed
# with pip --no-index only if this Python lacks them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
DATA="$ROOT/.data"
OUT=${OUT:-"$ROOT/build/full-run"}
WHEELS="$ROOT/.whl"
CHECK_ONLY=0

die() { echo "full_gpu.sh: error: $*" >&2; exit 2; }
value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --data) value "$@"; DATA=$2; shift 2 ;;
    --python) value "$@"; PY=$2; shift 2 ;;
    --check) CHECK_ONLY=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

STARTED=$(now)
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(absolute "$DATA")
OUT=$(absolute "$OUT")
cd "$ROOT"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"

# ---------------------------------------------------------------- checks (nothing written)
command -v "$PY" >/dev/null || die "no Python '$PY'; pass --python or set PYTHON"
"$PY" -c 'import torch, torchvision' 2>/dev/null ||
  die "'$PY' cannot import torch and torchvision. This script expects them preinstalled" \
      "(a CUDA build); pass --python with the interpreter that has them."
GPU=$("$PY" -c 'import torch
if torch.cuda.is_available():
    print(torch.cuda.get_device_name(0))' 2>/dev/null || true)
if [ -z "$GPU" ]; then
  BUILD=$("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda or "none")')
  die "no CUDA GPU is visible to torch ($BUILD; CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset})." \
      "The full profile trains ResNet-18 for 30 epochs and needs one; check nvidia-smi, or" \
      "render the committed results on a CPU with: python -m vicreg_report report --profile full"
fi
echo "GPU: $GPU (torch $("$PY" -c 'import torch; print(torch.__version__)'))"

mapfile -t MISSING < <("$PY" scripts/deps.py --missing)
if [ ${#MISSING[@]} -gt 0 ]; then
  ls "$WHEELS"/*.whl >/dev/null 2>&1 ||
    die "this Python lacks ${MISSING[*]} and $WHEELS holds no wheels. On a machine with" \
        "internet run scripts/fetch_wheels.sh --python <this Python's X.Y>, copy .whl/ here."
  if [ "$CHECK_ONLY" = 1 ]; then
    echo "would install from $WHEELS: ${MISSING[*]}"
  else
    echo "installing from $WHEELS (no index): ${MISSING[*]}"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-index \
      --find-links "$WHEELS" "${MISSING[@]}" ||
      die "pip could not install ${MISSING[*]} from $WHEELS; fetch wheels for this Python" \
          "($("$PY" -c 'import platform; print(platform.python_version())')) and platform."
  fi
fi

[ -e "$DATA" ] || die "no data at $DATA. Copy cifar10-jpeg.zip and MNIST/raw/t10k-*-ubyte.gz" \
  "there (scripts/README.md), or pass --data PATH."
if [ "$CHECK_ONLY" = 1 ]; then
  echo "checks passed: GPU, packages and $DATA are in place; results would go to $OUT"
  exit 0
fi

# ---------------------------------------------------------------- the run
mkdir -p "$OUT"
export VICREG_BUILD_DIR="$OUT"        # every result, cache and document goes under $OUT
TIMES="$OUT/run-times.tsv"
printf 'step\tseconds\n' > "$TIMES"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
printf 'start-up checks\t%s\n' "$(since "$STARTED")" >> "$TIMES"

step() {  # step NAME LOG COMMAND...: run, log, time
  local name=$1 log=$2 t0
  shift 2
  t0=$(now)
  echo "== $name (log: $log)"
  if ! "$@" 2>&1 | tee "$log"; then
    die "$name failed after $(since "$t0") s; its output is in $log"
  fi
  printf '%s\t%s\n' "$name" "$(since "$t0")" >> "$TIMES"
}

step "study and documents (report --profile full)" "$OUT/report.log" \
  "$PY" -m vicreg_report report --profile full --data "$DATA" --device cuda --no-progress
MAIN=$(since "$STARTED")
printf 'main job incl. start-up\t%s\n' "$MAIN" >> "$TIMES"
awk -v s="$MAIN" 'BEGIN { exit !(s > 600) }' &&
  echo "full_gpu.sh: warning: the main job took $MAIN s, over its 10-minute target" >&2
step "bench (cuda)" "$OUT/bench.log" \
  "$PY" -m vicreg_report.bench --profile full --device cuda --data "$DATA" --no-progress
printf 'total\t%s\n' "$(since "$STARTED")" >> "$TIMES"

cp "$OUT/results/full/seed-0/timings.json" "$OUT/timings.json"
cp "$OUT/bench/full-cuda.json" "$OUT/bench-full-cuda.json"
echo "== wall times (s); stage times in $OUT/timings.json"
column -t -s $'\t' "$TIMES" 2>/dev/null || cat "$TIMES"
echo "results, documents and logs: $OUT"
