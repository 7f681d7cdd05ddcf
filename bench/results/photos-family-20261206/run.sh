#!/usr/bin/env bash
# `nasoa bench adapt` at 30 s and 90 s on tasks.txt (four builtin:photos tasks; the shipped experience
# holds no photos run, and --hold-out-family would leave them out if it did): nasoa, practice and
# default, seed SEED (default 0). Two shards, one pinned per core, on an otherwise idle machine;
# resumable (a re-run continues where it stopped). NASOA=path/to/nasoa runs another install.
#   bash bench/results/photos-family-20261206/run.sh [SEED]     # ~20 min on the 2-core VM
# BUDGETS, STRATEGIES, OUT (a folder) and TASKS (a file of specs) override the defaults: the family's v2
# check ran
#   BUDGETS=90s STRATEGIES=nasoa,practice OUT=.../bench-v2-seed0 bash .../run.sh 0
# and ../photos-side-20261206/ the same tasks at 128 px (TASKS=.../tasks128.txt STRATEGIES=nasoa,practice).
# SEED_STORE (an experience store with its fitted model beside it) replaces the shipped experience.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
seed=${1:-0}
out=${OUT:-$here/bench-seed$seed}
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "${TASKS:-$here/tasks.txt}" --hold-out-family --seed "$seed" \
        --budgets "${BUDGETS:-30s,90s}" --strategies "${STRATEGIES:-nasoa,practice,default}" --ratio-budgets "" \
        ${SEED_STORE:+--seed-store "$SEED_STORE"} --shard "$k/2" --out "$out" >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only > "$out/report.txt"
