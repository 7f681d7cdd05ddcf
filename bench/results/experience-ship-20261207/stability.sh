#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's family held
# out) on tasks-fresh2.txt at 30 s and 90 s, from the family-held-out snapshots that seed2/ fitted on the ship
# (booster seed 2: does the pick hold when adapt's --seed changes, the fitted model being fixed). One process
# pinned to CORE (default 0); resumable, after run.sh 2. NASOA=path/to/nasoa runs another install.
#   bash bench/results/experience-ship-20261207/stability.sh [CORE]      # ~8 min
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/experience-ship-20261207/stability
tasks=$(pwd)/bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for f in "$out"/../seed2/seed-without-*.sqlite; do
    name=$(basename "$f" .sqlite)
    [ -e "$out/$name.sqlite" ] || { cp -r "${f%.sqlite}.model" "$out/$name.model" && cp "$f" "$out/$name.sqlite"; }
done
taskset -c "${1:-0}" "$nasoa" bench stability --tasks-from "$tasks" --hold-out-family \
    --budgets 30s,90s --seeds 5 --out "$out" >> "$out/stability.log" 2>&1
"$nasoa" bench stability --out "$out" --report-only > /dev/null
