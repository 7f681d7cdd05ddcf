#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's family held
# out) on tasks-fresh2.txt at 30 s and 90 s with the whole experience (as ../adapt-heldout-20261205/stability.sh),
# from the family-held-out snapshots of nasoa-seed2/ (fitted by the bench with booster seed 2: the question is
# whether the pick holds when adapt's --seed changes, the fitted model being fixed). One process pinned to CORE
# (default 0); resumable, after the bench of seed 2. NASOA=path/to/nasoa runs another install.
#   bash bench/results/experience-all-20261207/stability.sh [CORE]      # ~8 min
set -u
cd "$(dirname "$0")/../../.."
out=${OUT:-$(pwd)/bench/results/experience-all-20261207/stability}   # OUT, SNAPSHOTS: another folder
snapshots=${SNAPSHOTS:-$out/../nasoa-seed2}
tasks=$(pwd)/bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for f in "$snapshots"/seed-without-*.sqlite; do
    name=$(basename "$f" .sqlite)
    [ -e "$out/$name.sqlite" ] || { cp -r "${f%.sqlite}.model" "$out/$name.model" && cp "$f" "$out/$name.sqlite"; }
done
taskset -c "${1:-0}" "$nasoa" bench stability --tasks-from "$tasks" --hold-out-family \
    --budgets 30s,90s --seeds 5 --out "$out" >> "$out/stability.log" 2>&1
"$nasoa" bench stability --out "$out" --report-only > /dev/null
