#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's
# family held out) on tasks-fresh2.txt at 30 s and 90 s with the ship of 2026-12-04 whose boosters
# are sized by their rows (../meta-eval-20261204e/; as ../adapt-heldout-20261204e/stability.sh), one
# process pinned to CORE (default 0); resumable. NASOA=path/to/nasoa runs another install.
#   bash bench/results/adapt-heldout-20261204g/stability.sh [CORE]      # ~6 min
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261204g/stability
tasks=$(pwd)/bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
taskset -c "${1:-0}" "$nasoa" bench stability --tasks-from "$tasks" --hold-out-family \
    --budgets 30s,90s --seeds 5 --out "$out" >> "$out/stability.log" 2>&1
"$nasoa" bench stability --out "$out" --report-only > /dev/null
