#!/usr/bin/env bash
# `nasoa bench adapt` on the same 8 held-out-family tasks as ../adapt-heldout-20261202c/ (tasks.txt),
# every row run on this machine (none copied from another session's VM: VMs with the same CPU name
# trained 1.5-2.2x apart), after the fifth session's re-ship: the experience with the runs that record
# a speed probe, the meta-model with the regime prior. nasoa, common practice and the default at
# 30 s and 90 s; each task's family held out of the experience and of the meta-model (each row starts
# from its own copy of that snapshot). Two shards, one pinned per core, on an otherwise idle machine;
# resumable.
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
