#!/usr/bin/env bash
# Fill .whl/ with wheels of every dependency in pyproject.toml except torch and
# torchvision (the GPU machine has its own CUDA builds), for the GPU machine's
# Python and platform. Run it where PyPI is reachable, then copy .whl/ to the
# GPU machine beside the repository (full_gpu.sh installs from it, offline).
#
#   scripts/fetch_wheels.sh [--python "3.10 3.11 3.12"] [--arch x86_64|aarch64] [--dest DIR]
#
# --python: the GPU machine's Python version(s) (`python3 --version` there);
#           several, separated by spaces or commas, give one set each.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
VERSIONS="3.10 3.11 3.12"
ARCH=x86_64
DEST="$ROOT/.whl"

die() { echo "fetch_wheels.sh: error: $*" >&2; exit 2; }
value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --python) value "$@"; VERSIONS=${2//,/ }; shift 2 ;;
    --arch) value "$@"; ARCH=$2; shift 2 ;;
    --dest) value "$@"; DEST=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$ARCH" in x86_64|aarch64) ;; *) die "--arch must be x86_64 or aarch64, not '$ARCH'" ;; esac
command -v "$PY" >/dev/null || die "no '$PY' here; set PYTHON to a Python 3 with pip"
"$PY" -m pip --version >/dev/null 2>&1 || die "'$PY -m pip' does not work; install pip first"

mapfile -t REQUIREMENTS < <("$PY" "$ROOT/scripts/deps.py")
[ ${#REQUIREMENTS[@]} -gt 0 ] || die "no dependencies found in $ROOT/pyproject.toml"
mkdir -p "$DEST"

for version in $VERSIONS; do
  [[ "$version" =~ ^3\.[0-9]+$ ]] || die "--python takes versions like 3.11, not '$version'"
  echo "== wheels for CPython $version on linux $ARCH -> $DEST"
  # Several manylinux tags: pip picks the newest wheel any of them accepts.
  "$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --implementation cp --python-version "$version" --abi "cp${version/./}" \
    --platform "manylinux2014_$ARCH" --platform "manylinux_2_17_$ARCH" \
    --platform "manylinux_2_28_$ARCH" --dest "$DEST" "${REQUIREMENTS[@]}"
done
echo "$(ls "$DEST"/*.whl | wc -l) wheels, $(du -sh "$DEST" | cut -f1), in $DEST"
