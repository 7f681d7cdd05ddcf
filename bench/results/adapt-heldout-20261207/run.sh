#!/usr/bin/env bash
# The acceptance's bench (../adapt-heldout-20261204/: one process per core, one thread each; --hold-out-family,
# 30 s and 90 s, the 8 tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt), nasoa only, with the time model of
# ../time-model-20261207/ (TAG new) and with the code before it (TAG before), side by side, one per core, so
# both read the same machine at the same time. Practice and default read neither the meta-model nor the time
# model's plans, but train for what the budget allows on the machine at hand: STRATEGIES (default nasoa) picks
# the rows, practice,default for the baselines at the same seed on the same machine (TAG baselines; session 39:
# the rows above ran on the Intel Xeon VM, while session 38 had read them against ../adapt-heldout-20261204/'s
# rows of the AMD EPYC VM). Resumable.
#   NASOA=<nasoa of a checkout> bash bench/results/adapt-heldout-20261207/run.sh SEED CORE TAG   # ~25 min
set -u
cd "$(dirname "$0")/../../.."
seed=$1; core=$2; tag=$3
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
here=$(pwd)/bench/results/adapt-heldout-20261207
i=$(pwd)/bench/results/adapt-heldout-20261202i
out=$here/$tag-seed$seed
mkdir -p "$out"
taskset -c "$core" "$nasoa" bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed "$seed" \
    --budgets 30s,90s --strategies "${STRATEGIES:-nasoa}" --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
"$nasoa" bench adapt --out "$out" --report-only > "$out/report.txt"
