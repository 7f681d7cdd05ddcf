#!/usr/bin/env bash
# `nasoa bench adapt`, families held out, after the seventh session's meta-model (LambdaRank
# within-task part, 2,956 shipped runs) and speed probe (least of three windows):
#   bash run.sh fresh2 [SEED]   tasks-fresh2.txt (8 new tasks), nasoa, practice and default -> fresh2[-seedS]/
#   bash run.sh fresh  [SEED]   ../adapt-heldout-20261202h/tasks-fresh.txt, nasoa only -> fresh/ (seed 0: the
#                               practice and default rows are -h/fresh/'s, copied: same VM, tasks and code)
#   bash run.sh bench  [SEED]   ../adapt-heldout-20261202h/tasks.txt, nasoa only -> bench/ (seed 0: the
#                               practice and default rows are -h/'s, i.e. -g/'s, copied)
# 30 s and 90 s; each row from its own copy of the snapshot with the task's family held out of the
# experience and the meta-model. Two shards, one pinned per core, on an otherwise idle machine;
# resumable. NASOA=path/to/nasoa runs another install.
set -u
cd "$(dirname "$0")/../../.."
here=$(pwd)/bench/results/adapt-heldout-20261202i
h=$(pwd)/bench/results/adapt-heldout-20261202h
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
which=$1; seed=${2:-0}
case $which in
    fresh2) tasks=$here/tasks-fresh2.txt; strategies=nasoa,practice,default ;;
    fresh) tasks=$h/tasks-fresh.txt; strategies=${STRATEGIES:-nasoa} ;;
    bench) tasks=$h/tasks.txt; strategies=${STRATEGIES:-nasoa} ;;
    *) echo "usage: run.sh fresh2|fresh|bench [SEED]" >&2; exit 2 ;;
esac
out=$here/$which$([ "$seed" = 0 ] || echo "-seed$seed")
mkdir -p "$out"
for k in 1 2; do
    taskset -c $((k - 1)) "$nasoa" bench adapt --tasks-from "$tasks" --hold-out-family --seed "$seed" \
        --budgets 30s,90s --strategies "$strategies" --ratio-budgets "" --shard "$k/2" --out "$out" \
        >> "$out/shard$k.log" 2>&1 &
done
wait
"$nasoa" bench adapt --out "$out" --report-only > /dev/null
