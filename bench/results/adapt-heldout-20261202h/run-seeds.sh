#!/usr/bin/env bash
# Replicates of run.sh's nasoa and practice rows at --seed 1 and 2 (each in its own folder, seedN/,
# from its own snapshots; the run's seed drives the split's sampling order, the init of the head and
# the predictor): how much a row moves between seeds on the same task, which the per-task bar ("never
# more than 1 point below the better baseline") must be read against. Two shards, one pinned per
# core, on an otherwise idle machine; resumable. Then: python bench/results/adapt-heldout-20261202h/seeds.py
#   bash bench/results/adapt-heldout-20261202h/run-seeds.sh [SEEDS]
set -u
cd "$(dirname "$0")/../../.."
h=$(pwd)/bench/results/adapt-heldout-20261202h
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
for s in ${1:-1 2}; do
    out=$h/seed$s
    mkdir -p "$out"
    for k in 1 2; do
        taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$h/tasks.txt" --hold-out-family --seed "$s" \
            --budgets 30s,90s --strategies nasoa,practice --ratio-budgets "" --shard "$k/2" --out "$out" \
            >> "$out/shard$k.log" 2>&1 &
    done
    wait
    "$nasoa" bench adapt --out "$out" --report-only > /dev/null
done
