#!/usr/bin/env bash
# `nasoa bench adapt` on ../adapt-heldout-20261202i/tasks-fresh2.txt (8 tasks of 4 generated
# families, each task's family held out of the experience and the meta-model), same code and ship
# as -i (commit 74b1f1f's meta/data):
#   bash run.sh ratio     BOHB's compute to match nasoa's one shot at 30 s (BOHB given 8x the
#                         budget), against -i/fresh2's seed-0 nasoa rows (copied in) -> ratio/
#   bash run.sh seed S    nasoa, practice and default at 30 s and 90 s, seed S -> seedS/
# Two shards, one pinned per core, on an otherwise idle machine; resumable.
set -u
cd "$(dirname "$0")/../../.."
here=$(pwd)/bench/results/adapt-heldout-20261203
i=$(pwd)/bench/results/adapt-heldout-20261202i
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
case $1 in
    ratio) out=$here/ratio; seed=0; mkdir -p "$out"
           for k in 1 2; do [ -e "$out/rows-shard$k.jsonl" ] || cp "$i/fresh2/rows-shard$k.jsonl" "$out/"; done
           args=(--budgets 30s --strategies nasoa --ratio-budgets 30s) ;;
    seed) seed=$2; out=$here/seed$seed; mkdir -p "$out"
          args=(--budgets 30s,90s --strategies nasoa,practice,default --ratio-budgets "") ;;
    *) echo "usage: run.sh ratio | seed S" >&2; exit 2 ;;
esac
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$i/tasks-fresh2.txt" --hold-out-family --seed "$seed" \
        "${args[@]}" --shard "$k/2" --out "$out" >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only > /dev/null
