#!/usr/bin/env bash
# `nasoa bench adapt` at 30 s and 90 s, nasoa, practice and default, on
# ../adapt-heldout-20261202i/tasks-fresh2.txt (8 tasks of 4 generated families, each task's family
# held out of the experience and the meta-model), as ../adapt-heldout-20261203e/, with the ship of
# 2026-12-04: 4,237 runs on 419 tasks, the regime grid widened to lr 0.001 (common practice's rate).
#   bash bench/results/adapt-heldout-20261204/run.sh SEED [CORE]     # ~52 min on one core
# One process pinned to CORE (default 0); resumable (rows are appended as they finish).
# NASOA=path/to/nasoa runs another install (a worktree's holding the ship under test).
set -u
cd "$(dirname "$0")/../../.."
seed=$1
core=${2:-0}
here=$(pwd)/bench/results/adapt-heldout-20261204
i=$(pwd)/bench/results/adapt-heldout-20261202i
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
out=$here/seed$seed
mkdir -p "$out"
taskset -c "$core" "$nasoa" bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed "$seed" \
    --budgets 30s,90s --strategies nasoa,practice,default --ratio-budgets "" --out "$out" >> "$out/run.log" 2>&1
"$nasoa" bench adapt --out "$out" --report-only > /dev/null
