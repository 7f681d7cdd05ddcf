#!/usr/bin/env bash
# `nasoa bench adapt` on 8 tasks of 4 generated families, each task's family held out of the
# experience and of the meta-model (--hold-out-family), at 30 s and 90 s, for nasoa, common
# practice and default: two shards, one pinned per core, on an otherwise idle machine. Resumable
# (a re-run skips finished rows); the report merges both shards' rows.
#   bash bench/results/adapt-heldout-20261202/run.sh [STRATEGIES] [BUDGETS]
set -u
cd "$(dirname "$0")/../../.."
out=bench/results/adapt-heldout-20261202
strategies=${1:-nasoa,practice,default}
budgets=${2:-30s,90s}
for k in 1 2; do
    taskset -c $((k - 1)) .venv/bin/nasoa bench adapt --tasks-from "$out/tasks.txt" --hold-out-family \
        --budgets "$budgets" --strategies "$strategies" --ratio-budgets "" --shard "$k/2" --out "$out" \
        >> "$out/shard$k.log" 2>&1 &
done
wait
.venv/bin/nasoa bench adapt --out "$out" --report-only
