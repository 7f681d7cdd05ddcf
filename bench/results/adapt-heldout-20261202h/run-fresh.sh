#!/usr/bin/env bash
# Confirmation of the probing rule on 8 fresh tasks (tasks-fresh.txt: the same four families, drawn
# after the rule was settled on tasks.txt and not looked at before): nasoa, practice and the default
# at 30 s and 90 s, each task's family held out (as run.sh). Rows and report in fresh/. Two shards,
# one pinned per core, on an otherwise idle machine; resumable.
#   bash bench/results/adapt-heldout-20261202h/run-fresh.sh
set -u
cd "$(dirname "$0")/../../.."
h=$(pwd)/bench/results/adapt-heldout-20261202h
out=$h/fresh
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$h/tasks-fresh.txt" --hold-out-family \
        --budgets 30s,90s --strategies nasoa,practice,default --ratio-budgets "" --shard "$k/2" --out "$out" \
        >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only
