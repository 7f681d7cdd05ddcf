#!/usr/bin/env bash
# The acceptance's bench (../adapt-heldout-20261204/: one process per core, one thread each;
# --hold-out-family, 30 s and 90 s, the 8 tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt) on the
# ship whose LightGBM regressor adds the pairwise part (../meta-eval-20261205c/; the same 4,407 runs as
# ../adapt-heldout-20261204g/). nasoa, practice and default all run here: this machine is not the one
# the earlier benches ran on (an Intel Xeon VM, not the AMD EPYC one), so their rows do not compare
# with these. Resumable (a re-run skips the rows done).
#   bash bench/results/adapt-heldout-20261205/run.sh SEED [CORE]     # ~50 min on one core
set -u
cd "$(dirname "$0")/../../.."
seed=$1
core=${2:-0}
here=$(pwd)/bench/results/adapt-heldout-20261205
i=$(pwd)/bench/results/adapt-heldout-20261202i
out=$here/seed$seed
mkdir -p "$out"
taskset -c "$core" .venv/bin/nasoa bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed "$seed" \
    --budgets 30s,90s --strategies nasoa,practice,default --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
.venv/bin/nasoa bench adapt --out "$out" --report-only > "$out/report.txt"
