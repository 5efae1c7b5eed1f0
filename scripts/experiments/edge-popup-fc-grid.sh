#!/usr/bin/env bash
# The Fashion-MNIST FC grid of docs/edge-popup.md: k ∈ {0.1, 0.3, 0.5, 0.7, 0.9} × {usc, ukn,
# sc (fan scaled by k)} and the dense baseline, all with the same epochs (cosine), 2 threads,
# into LOGDIR/results.csv; then the table and the SVG plot.
#   [THREADS=2] scripts/experiments/edge-popup-fc-grid.sh [EPOCHS=20] [LOGDIR=runs/fc-grid]
set -euo pipefail
epochs="${1:-20}"
logdir="${2:-runs/fc-grid}"
bin="${WORKBENCH:-.build/release/workbench}"
started=$(date +%s)
configs=inp/edge-popup/configs/fc
for k in 0.1 0.3 0.5 0.7 0.9; do
    for c in fc_usc_unsigned fc_ukn_unsigned fc_sc_unsigned; do
        "$bin" edge-popup --config "$configs/$c.yml" --prune-rate "$k" --epochs "$epochs" --log-dir "$logdir" -threads "${THREADS:-2}" | tail -1
    done
done
"$bin" edge-popup --config "$configs/fc_sgd_baseline.yml" --epochs "$epochs" --log-dir "$logdir" -threads "${THREADS:-2}" | tail -1
echo "grid: $(( $(date +%s) - started )) s"
python3 scripts/plots/edge-popup-plot.py "$logdir/results.csv" docs/edge-popup-fc.svg
