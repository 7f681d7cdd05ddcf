#!/usr/bin/env bash
# `nasoa bench adapt` on the 8 held-out-family tasks of tasks.txt (as ../adapt-heldout-20261202g/),
# seed 0, after this session's probing changes: run with STRATEGIES=nasoa, the practice and default
# rows are -g/'s (same VM, same tasks, same code for those strategies; copied into rows-shard*.jsonl).
# Each task's family held out of the experience and of the meta-model (each row from its own copy
# of that snapshot). Two shards, one pinned per core, on an otherwise idle machine; resumable.
#   bash bench/results/adapt-heldout-20261202h/run.sh [STRATEGIES] [BUDGETS]
# NASOA=path/to/nasoa runs another install (e.g. a clean clone's) against this folder.
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261202h
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
strategies=${1:-nasoa,practice,default}
budgets=${2:-30s,90s}
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$out/tasks.txt" --hold-out-family \
        --budgets "$budgets" --strategies "$strategies" --ratio-budgets "" --shard "$k/2" --out "$out" \
        >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only
