#!/usr/bin/env bash
# Set-up on a fresh Debian 12 machine with Swift: installs the system packages the workbench
# builds on (Lua 5.4, OpenBLAS, zlib, pkg-config), Slurm and munge (the sweep's Slurm test)
# and the Fashion-MNIST dataset, and fills
# data/mnist/ with 5,000 real digits (scripts/setup/prepare-mnist.sh), and makes the project's
# Python virtual environment .venv/ (ignored by git) with the `tensorboard` package from PyPI,
# whose EventAccumulator the tests use to read the workbench's event files. Idempotent: what
# is there already is left alone. Needs root (or sudo) only when packages are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# python3-venv: Debian's python3 makes a venv only with it (it brings ensurepip).
packages=(liblua5.4-dev libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist python3-venv)

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
updated=false
# install [apt-get install options --] PACKAGE...: installs those not installed yet.
install() {
    local options=() missing=() p
    if [[ "$1" == -* ]]; then while [[ "$1" != -- ]]; do options+=("$1"); shift; done; shift; fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    (( ${#missing[@]} > 0 )) || return 0
    echo "installing: ${missing[*]}"
    $updated || { $sudo apt-get update -qq; updated=true; }
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null
}
install "${packages[@]}"
# slurm-wlm and munge: the real one-node Slurm cluster (scripts/slurm/one-node-cluster.sh) that
# the `workbench sweep --slurm` test submits its job array to. Without recommends: the daemons
# only, no mail or database servers; no service starts on its own (the test starts its own).
install --no-install-recommends -- slurm-wlm munge

"$here/prepare-mnist.sh"

# The project's Python: .venv/ at the repository's root, with tensorboard (whose reader checks
# the event files) and safetensors + numpy (the counterpart that checks the model files and
# runs the Python reader of docs/model-files.md), onnx + onnxruntime (the checker and the
# runtime that validate `workbench export`'s ONNX files). A venv left half made (no pip, or an import
# that fails) is made again.
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
if ! "$venv/bin/python" -c "import tensorboard, safetensors.numpy, numpy, onnx, onnxruntime" 2>/dev/null; then
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    echo "installing tensorboard, safetensors, numpy, onnx and onnxruntime into .venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check tensorboard safetensors numpy onnx onnxruntime
fi
echo "set-up done"
