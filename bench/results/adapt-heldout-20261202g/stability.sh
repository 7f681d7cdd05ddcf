#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick on the same 8 held-out-family tasks at 30 s and
# 90 s (`nasoa bench stability`, dry runs from this folder's held-out snapshots): two shards, one
# pinned per core, on an otherwise idle machine; resumable.
#   bash bench/results/adapt-heldout-20261202g/stability.sh
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261202g
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench stability --tasks-from "$out/tasks.txt" --hold-out-family \
        --budgets 30s,90s --seeds 5 --shard "$k/2" --out "$out" >> "$out/stability-shard$k.log" 2>&1 &
done
wait
"$nasoa" bench stability --out "$out" --report-only
