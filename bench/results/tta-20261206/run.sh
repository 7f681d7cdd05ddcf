#!/usr/bin/env bash
# Mirror-image test-time augmentation (predict --tta), judged on held-out test splits (README.md here).
#   bash bench/results/tta-20261206/run.sh        -> results.jsonl (one core: CORE=1 by default)
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
nasoa=$here/../../../.venv/bin/nasoa
py=$here/../../../.venv/bin/python
core=${CORE:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NASOA_DATA_DIR=$work/data   # a new user's data dir: the shipped experience, nothing of ours
tasks=(  # families whose images keep their class when mirrored (the trainer flips them too)
  "fashion|builtin:fashion?classes=0,2,3,4,6,8&per_class=100&seed=5"
  "animal-colour|builtin:animal-colour?classes=1,3,4,6,8&per_class=60&size=48&seed=5"
  "textures|builtin:textures?classes=1,6,10,15,21,28,34,42&per_class=20&size=48&seed=5"
  "noise|builtin:noise?classes=3,8,12,20,24,32&per_class=40&seed=5"
  "shapes|builtin:shapes?classes=0,1,2,3,4,5,6,7&per_class=50&size=48&seed=5"
  "fractals|builtin:fractals?classes=1,4,7,10,13,16&per_class=20&size=48&seed=5"
  "fashion-corrupt|builtin:fashion-corrupt?classes=0,1,2,5,7,9&per_class=60&seed=5"
  "animal-corrupt|builtin:animal-corrupt?classes=0,2,4,6,8&per_class=80&seed=5"
)
: > "$here/results.jsonl"
for t in "${tasks[@]}"; do
  name=${t%%|*}; spec=${t#*|}
  taskset -c "$core" "$nasoa" data export "$spec" "$work/$name" >/dev/null
  for strategy in nasoa practice; do
    out=$work/runs/$name-$strategy
    taskset -c "$core" "$nasoa" adapt "$work/$name" --budget 30s --strategy "$strategy" --no-learn --probe never \
      --out "$out" > /dev/null 2>&1
    taskset -c "$core" "$py" "$here/score.py" "$out" "$work/$name/test" "$name $strategy 30s" >> "$here/results.jsonl"
  done
done
