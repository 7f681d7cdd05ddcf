#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's
# family held out) on tasks-fresh2.txt at 30 s and 90 s, with the seventh session's ship: two
# shards, one pinned per core, on an otherwise idle machine; resumable.
#   bash bench/results/adapt-heldout-20261202i/stability.sh
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261202i/stability
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench stability --tasks-from "$out/../tasks-fresh2.txt" --hold-out-family \
        --budgets 30s,90s --seeds 5 --shard "$k/2" --out "$out" >> "$out/stability-shard$k.log" 2>&1 &
done
wait
"$nasoa" bench stability --out "$out" --report-only
