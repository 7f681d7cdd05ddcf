#!/usr/bin/env bash
# The acceptance's bench (../adapt-heldout-20261205/: --hold-out-family, 30 s and 90 s, one thread a row, the 8
# tasks of ../adapt-heldout-20261202i/tasks-fresh2.txt) on the shipped experience, nasoa only, at SEED: two
# shards, one pinned per core, on an otherwise idle machine; resumable. Practice and default read neither the
# store nor the model: their rows at the same seeds on an Intel Xeon VM are ../adapt-heldout-20261205/seedN/
# (seed 2 also ../adapt-heldout-20261207/baselines-seed2/).
#   bash bench/results/experience-all-20261207/run.sh SEED      # 35-40 min on the 2-core VM
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
seed=$1
out=${OUT:-$here/shipped-seed$seed}   # OUT: another folder (../experience-ship-20261207/run.sh)
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from bench/results/adapt-heldout-20261202i/tasks-fresh2.txt \
        --hold-out-family --seed "$seed" --budgets 30s,90s --strategies nasoa --ratio-budgets "" \
        --shard "$k/2" --out "$out" >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only > "$out/report.txt"
