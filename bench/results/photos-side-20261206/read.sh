#!/usr/bin/env bash
# The whole 96/128 px reading in one go, resumable: build the experience (build.py: the ship's runs and the
# collection's from id 5552 on, seeds 26-29 included), fit it with the 64/96/128 px grid, then read the four
# 128 px photos tasks with photos held out: nasoa at seeds 0 and 1, practice at seed 1 (seed 0's practice rows
# are section 1's, copied in), at 30/90 s and at 300 s. About 80 min on the 2-core VM, nothing else running
# (stop the collection first: each row's timing is part of what it measures).
#   bash bench/results/photos-side-20261206/read.sh WORK [TAG]
# WORK holds the store and its model (S.sqlite, about 60 MB; not committed); the bench folders go here, named
# bench-tasks128[-300s]-side[TAG]-seedN. A step whose output is there already is not redone.
# OWN_PRACTICE=1 runs practice at both seeds instead of copying seed 0's rows from section 1: they ran on the
# AMD EPYC VM, so on any other machine practice must run beside nasoa (session 39 read on the Intel Xeon VM).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
work=$1; tag=${2:-}; nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$work"
store="$work/S.sqlite"
if [ ! -d "$work/S.model" ]; then
    [ -f "$store" ] || "${PYTHON:-.venv/bin/python}" "$here/build.py" "$store" || exit 1
    "$nasoa" meta fit --store "$store" --input-sizes 64,96,128 --lrs 0.001,0.003,0.01,0.03,0.1 \
        > "$work/fit.txt" 2>&1 || exit 1
fi
export TASKS=$here/tasks128.txt SEED_STORE=$store NASOA=$nasoa
for seed in 0 1; do
    strategies=nasoa; { [ "$seed" = 1 ] || [ "${OWN_PRACTICE:-0}" = 1 ]; } && strategies=nasoa,practice
    short=$here/bench-tasks128-side$tag-seed$seed; long=$here/bench-tasks128-300s-side$tag-seed$seed
    if [ "$seed" = 0 ] && [ "${OWN_PRACTICE:-0}" != 1 ]; then  # practice at seed 0: section 1's rows (no store)
        for pair in "bench-tasks128-seed0:$short" "bench-tasks128-300s-seed0:$long"; do
            mkdir -p "${pair#*:}"
            for f in "$here/${pair%%:*}"/rows-shard*.jsonl; do
                dest=${pair#*:}/$(basename "$f")
                grep -qs '"strategy": "practice"' "$dest" || grep '"strategy": "practice"' "$f" >> "$dest"
            done
        done
    fi
    STRATEGIES=$strategies OUT=$short bash bench/results/photos-family-20261206/run.sh "$seed"
    # the 300 s rows start from the same held-out snapshot: copy it rather than refit it (7 min)
    mkdir -p "$long"; cp -rn "$short"/seed*.sqlite "$short"/seed*.model "$long"/ 2>/dev/null
    STRATEGIES=$strategies BUDGETS=300s OUT=$long bash bench/results/photos-family-20261206/run.sh "$seed"
done
