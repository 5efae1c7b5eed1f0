#!/bin/sh
# The comparison of docs/sparse-train.md: mnist_mlp on Fashion-MNIST at sparsity 0.98 (5,324
# weights), every method with the same epochs and schedule, seeds 0..SEEDS-1, one run at a
# time, 2 threads. Runs go to $OUT/<method>_s<seed>/; then
#   workbench run scripts/experiments/sparse-train-table.lua $OUT
# prints the table. Usage: scripts/experiments/sparse-train-grid.sh [OUT [EPOCHS [SEEDS]]]
# (defaults: out/sparse-train-grid, 10 epochs with inp/sparse-train/cpu10_schedule.yaml, 3 seeds;
# with 20 epochs inp/sparse-train/cpu_schedule.yaml).
set -e
OUT=${1:-out/sparse-train-grid}
EPOCHS=${2:-10}
SEEDS=${3:-3}
WB=${WORKBENCH:-.build/release/workbench}
if [ "$EPOCHS" = 20 ]; then SCHED=inp/sparse-train/cpu_schedule.yaml; else SCHED=inp/sparse-train/cpu10_schedule.yaml; fi
# Gradual pruning: 1 epoch dense, then prunes every epoch, so that it also lasts EPOCHS epochs.
PRUNES=$((EPOCHS / 2))
POST=$((EPOCHS - 1 - (PRUNES - 1)))
COMMON="--data fashion-mnist --epochs $EPOCHS --schedule-file $SCHED --threads 2 --no-validate-train --no-progress"
# One run of method NAME with seed SEED (skipped when its folder says done).
run() {
  name=$1; shift
  dir="$OUT/${name}_s$seed"
  if [ ! -f "$dir/done" ]; then
    mkdir -p "$dir"
    start=$(date +%s.%N)
    $WB sparse-train $COMMON --seed $seed --runs-dir "$dir" "$@" > "$dir/stdout.txt"
    end=$(date +%s.%N)
    echo "$start $end $(cut -d' ' -f1-3 /proc/loadavg)" > "$dir/done"
    echo "$name seed $seed: $(tail -1 "$dir/stdout.txt")"
  fi
}
# Seed by seed, so that a stopped grid has every method at the first seeds.
seed=0
while [ $seed -lt "$SEEDS" ]; do
  run dense --initial-sparsity-fc 0
  run thin-dense --thin-dense
  run static
  run set --rewire
  run dsr --rewire --threshold-prune --rewire-scaling --weight-decay 0 --L1-loss-coeff 1e-4
  run deepr --DeepR --weight-decay 0 --L1-loss-coeff 1e-4
  run tied --tied
  run gradual-exp --prune --prune-iterations $PRUNES --start-pruning-after-epoch 1 --prune-epoch-frequency 1 --post-prune-epochs $POST
  run gradual-cubic --prune --cubic-prune-schedule --prune-iterations $PRUNES --start-pruning-after-epoch 1 --prune-epoch-frequency 1 --post-prune-epochs $POST
  seed=$((seed + 1))
done
