#!/usr/bin/env bash
# Run-to-run noise of the collected experience (issue #11: is a 2-point top-1 regret reachable?):
# 2 tasks from each of the collection's 12 task families (seed 1: another sample than ../noise-20261202/), every run of them run again with a
# fresh seed, as the collection ran it. Two processes, one per core (torch on 1 thread each), sharing
# this folder; resumable: re-running continues where it stopped.
#   bash bench/results/noise-20261204/run.sh
# NASOA=path/to/nasoa runs another install (a clean clone's).
set -u
cd "$(dirname "$0")/../../.."
here=$(pwd)
nasoa=${NASOA:-.venv/bin/nasoa}
out=$here/bench/results/noise-20261204
store=$here/bench/results/collect-20261201/collect.sqlite
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench noise --store "$store" --per-family 2 --seed 1 --shard "$k/2" --out "$out" \
        >> "$out/noise-shard$k.log" 2>&1 &
done
wait
"$nasoa" bench noise --report-only --out "$out"
