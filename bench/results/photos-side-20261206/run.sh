#!/usr/bin/env bash
# `nasoa bench adapt` on TASKS (default tasks128.txt) at 30 s and 90 s, seed SEED: nasoa and practice.
# Two shards, one pinned per core, on an otherwise idle machine; resumable. NASOA=path/to/nasoa runs another
# install; OUT, BUDGETS, STRATEGIES override the defaults.
#   bash bench/results/photos-side-20261206/run.sh [SEED]
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
seed=${1:-0}
tasks=${TASKS:-$here/tasks128.txt}
out=${OUT:-$here/bench-$(basename "$tasks" .txt)-seed$seed}
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$tasks" --hold-out-family --seed "$seed" \
        --budgets "${BUDGETS:-30s,90s}" --strategies "${STRATEGIES:-nasoa,practice}" --ratio-budgets "" \
        --shard "$k/2" --out "$out" >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only > "$out/report.txt"
