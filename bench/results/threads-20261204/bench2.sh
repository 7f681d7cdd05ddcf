#!/usr/bin/env bash
# `nasoa bench adapt` on both cores (two threads, what a user of this 2-core machine gets), nasoa
# only, 30 s and 90 s, on ../adapt-heldout-20261202i/tasks-fresh2.txt (8 tasks of 4 generated
# families, each held out of the experience), seed 4: ARM "spin" (this commit's defaults: libgomp
# spins 3000 rounds) or "passive" (OMP_WAIT_POLICY=PASSIVE set by the user: the previous default).
#   bash bench/results/threads-20261204/bench2.sh ARM [BUDGETS]   # default 30s,90s: ~20 min; nothing else running
set -u
cd "$(dirname "$0")/../../.."
arm=$1
budgets=${2:-30s,90s}
here=$(pwd)/bench/results/threads-20261204
i=$(pwd)/bench/results/adapt-heldout-20261202i
out=$here/bench-$arm
mkdir -p "$out"
if [ "$arm" = passive ]; then export OMP_WAIT_POLICY=PASSIVE; fi
.venv/bin/nasoa bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed 4 \
    --budgets "$budgets" --strategies nasoa --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
.venv/bin/nasoa bench adapt --out "$out" --report-only > "$out/report.txt"
