#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's
# family held out) on tasks-fresh2.txt at 30 s and 90 s with the ship of 2026-12-05 whose regressor
# adds the pairwise part (../meta-eval-20261205b/; as ../adapt-heldout-20261204g/stability.sh), one
# process pinned to CORE (default 0); resumable, after run.sh 2. NASOA=path/to/nasoa runs another install.
#   bash bench/results/adapt-heldout-20261205/stability.sh [CORE]      # ~6 min
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261205/stability
tasks=$(pwd)/bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
# The family-held-out snapshots are seed 2's (../seed2/, fitted by run.sh with booster seed 2): fitting
# four more is most of this check's cost (about 4.5 min each with the pairwise part), and the question
# here is whether the pick holds when adapt's --seed changes, the fitted model being fixed either way.
for f in "$out"/../seed2/seed-without-*.sqlite; do
    name=$(basename "$f" .sqlite)
    [ -e "$out/$name.sqlite" ] || { cp -r "${f%.sqlite}.model" "$out/$name.model" && cp "$f" "$out/$name.sqlite"; }
done
taskset -c "${1:-0}" "$nasoa" bench stability --tasks-from "$tasks" --hold-out-family \
    --budgets 30s,90s --seeds 5 --out "$out" >> "$out/stability.log" 2>&1
"$nasoa" bench stability --out "$out" --report-only > /dev/null
