#!/usr/bin/env bash
# Temperature scaling, judged on held-out test splits (README.md here). One core: CORE=1 (default).
#   bash bench/results/calibration-20261206/run.sh          -> results.jsonl, then python table.py
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
nasoa=$here/../../../.venv/bin/nasoa
py=$here/../../../.venv/bin/python
core=${CORE:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NASOA_DATA_DIR=$work/data   # a new user's data dir: the shipped experience, nothing of ours
tasks=(
  "fashion|builtin:fashion?classes=0,2,3,4,6,8&per_class=100&seed=3"
  "animal-colour|builtin:animal-colour?classes=1,3,4,6,8&per_class=60&size=48&seed=3"
  "textures|builtin:textures?classes=0,5,9,14,20,27,33,41&per_class=40&size=48&seed=3"
  "noise|builtin:noise?classes=2,7,11,19,23,31&per_class=80&seed=3"
  "shapes|builtin:shapes?classes=0,1,2,3,4,5,6,7&per_class=50&size=48&seed=3"
  "fractals|builtin:fractals?classes=0,3,6,9,12,15&per_class=30&size=48&seed=3"
  "digits-corrupt|builtin:digits-corrupt?per_class=60&seed=3"
  "mnist-colour|builtin:mnist-colour?classes=0,1,2,3,4,5,6,7,8,9&per_class=30&seed=3"
)
: > "$here/results.jsonl"
for t in "${tasks[@]}"; do
  name=${t%%|*}; spec=${t#*|}
  taskset -c "$core" "$nasoa" data export "$spec" "$work/$name" >/dev/null
  for strategy in nasoa practice; do
    for budget in 30s 90s; do
      out=$work/runs/$name-$strategy-$budget
      taskset -c "$core" "$nasoa" adapt "$work/$name" --budget "$budget" --strategy "$strategy" --no-learn \
        --probe never --out "$out" > /dev/null 2>&1
      taskset -c "$core" "$py" "$here/score.py" "$out" "$work/$name/test" "$name $strategy $budget" \
        >> "$here/results.jsonl"
    done
  done
done
