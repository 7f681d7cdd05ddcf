#!/usr/bin/env bash
# The acceptance's bench (../adapt-heldout-20261204/: one process per core, one thread each;
# --hold-out-family, 30 s and 90 s, the 8 tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt), nasoa
# only, on the ship whose LightGBM boosters are sized by the rows they learn from (capacity "large"
# on the ship, ../meta-eval-20261204e/). Practice and default read neither the meta-model nor the store's runs:
# their rows at the same seeds in ../adapt-heldout-20261204/ stand. Resumable.
#   bash bench/results/adapt-heldout-20261204g/run.sh SEED [CORE]     # ~20 min on one core
set -u
cd "$(dirname "$0")/../../.."
seed=$1
core=${2:-0}
here=$(pwd)/bench/results/adapt-heldout-20261204g
i=$(pwd)/bench/results/adapt-heldout-20261202i
out=$here/seed$seed
mkdir -p "$out"
taskset -c "$core" .venv/bin/nasoa bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed "$seed" \
    --budgets 30s,90s --strategies nasoa --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
.venv/bin/nasoa bench adapt --out "$out" --report-only > "$out/report.txt"
