#!/usr/bin/env bash
# Set-up on a fresh Debian 12 machine with Swift: installs the system packages the workbench
# builds on (Lua 5.4, OpenBLAS, zlib, pkg-config) and the Fashion-MNIST dataset, and fills
# data/mnist/ with 5,000 real digits (scripts/setup/prepare-mnist.sh). Idempotent: what is
# there already is left alone. Needs root (or sudo) only when packages are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
packages=(liblua5.4-dev libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
    echo "installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$here/prepare-mnist.sh"
echo "set-up done"
