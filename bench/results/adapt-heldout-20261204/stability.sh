#!/usr/bin/env bash
# The 5-seed stability check of the one-shot pick (`nasoa bench stability`: dry runs, each task's
# family held out) on tasks-fresh2.txt at 30 s and 90 s with the ship of 2026-12-04 (4,237 runs, lr 0.001 in the grid; as
# ../adapt-heldout-20261203c/stability.sh), one process pinned to
# CORE (default 0); resumable. NASOA=path/to/nasoa runs another install.
#   bash bench/results/adapt-heldout-20261204/stability.sh [CORE]      # ~6 min
set -u
cd "$(dirname "$0")/../../.."
out=$(pwd)/bench/results/adapt-heldout-20261204/stability
tasks=$(pwd)/bench/results/adapt-heldout-20261202i/tasks-fresh2.txt
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
taskset -c "${1:-0}" "$nasoa" bench stability --tasks-from "$tasks" --hold-out-family \
    --budgets 30s,90s --seeds 5 --out "$out" >> "$out/stability.log" 2>&1
"$nasoa" bench stability --out "$out" --report-only > /dev/null
