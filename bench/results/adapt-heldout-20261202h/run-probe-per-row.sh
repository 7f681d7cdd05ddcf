#!/usr/bin/env bash
# The time model's check after the bench measures the speed probe afresh in each row (as a
# `nasoa adapt` process does at its start) instead of once per process: nasoa rows of tasks.txt at
# 30 s and 90 s, seed 0, into probe-per-row/ (planned vs actual epochs; accuracy as run.sh's rows).
#   bash bench/results/adapt-heldout-20261202h/run-probe-per-row.sh
set -u
cd "$(dirname "$0")/../../.."
h=$(pwd)/bench/results/adapt-heldout-20261202h
out=$h/probe-per-row
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$h/tasks.txt" --hold-out-family \
        --budgets 30s,90s --strategies nasoa --ratio-budgets "" --shard "$k/2" --out "$out" \
        >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only
