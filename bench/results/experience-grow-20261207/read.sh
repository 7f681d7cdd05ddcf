#!/usr/bin/env bash
# This folder's reading (README.md): the whole experience (the ship's 613 earliest runs plus every collected run
# that got 30% of its core), one family held out at a time, the shipped default back-end at booster seeds 0-4.
# Stop the collectors and pack the store first (../collect-20261201/store.sh pack). Two jobs at a time, one a
# core, nothing else running: about 30 min on the 2-core Intel Xeon VM.
#   bash bench/results/experience-grow-20261207/read.sh [WORKDIR]   # WORKDIR keeps ALL.sqlite, SHIP.sqlite
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=bench/results/experience-grow-20261207
work=${1:-${TMPDIR:-/tmp}/experience-grow}
mkdir -p "$work"
py=.venv/bin/python; nasoa=.venv/bin/nasoa
if [ ! -e "$work/ALL.sqlite" ]; then   # built aside and moved, so an interrupted build is not taken for a whole one
  rm -f "$work/ALL.tmp.sqlite"
  "$py" bench/results/collect-20261201/combine.py "$work/ALL.tmp.sqlite" | tee "$here/combine.txt"
  mv "$work/ALL.tmp.sqlite" "$work/ALL.sqlite"
fi
[ -e "$work/SHIP.sqlite" ] || "$nasoa" meta import meta/data/experience.parquet --store "$work/SHIP.sqlite"
order=bench/results/meta-eval-20261205d/order.py
(
  taskset -c 0 "$nasoa" meta eval --store "$work/ALL.sqlite" --by family --backend lgbm-regressor --seed 0 \
      > "$here/eval-seed0.txt"
  taskset -c 0 "$py" "$order" "$work/ALL.sqlite" "$work/SHIP.sqlite" natural 3,4 > "$here/order-34.txt"
) &
core0=$!
taskset -c 1 "$py" "$order" "$work/ALL.sqlite" "$work/SHIP.sqlite" natural 0,1,2 > "$here/order-012.txt"
wait "$core0"   # a failure on core 0 fails the script too
cat "$here/order-012.txt" "$here/order-34.txt"
