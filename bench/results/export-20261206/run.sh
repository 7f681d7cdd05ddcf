#!/usr/bin/env bash
# Export one short run of four zoo members in both formats, time them, and check the README's
# onnxruntime recipe against `nasoa predict` on two tasks' test images (README.md here).
#   bash bench/results/export-20261206/run.sh      # about 3 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=bench/results/export-20261206
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nasoa=.venv/bin/nasoa
"$nasoa" train "builtin:animal?classes=0,2,5,7&per_class=60" -m etnas_z2 --budget 15s --epochs 1 --out "$work/etnas_z2" >/dev/null
"$nasoa" train "builtin:animal?classes=0,2,5,7&per_class=60" -m etnas_z6 --budget 15s --epochs 1 --out "$work/etnas_z6" >/dev/null
for m in mobilenetv2_imagenet efficientnet_lite0_imagenet; do
    "$nasoa" train "builtin:shapes?classes=0,1,2,3,4&per_class=40&size=64" -m "$m" --budget 30s --epochs 1 \
        --out "$work/$m" >/dev/null
done
: > "$here/export.txt"
for m in etnas_z2 etnas_z6 mobilenetv2_imagenet efficientnet_lite0_imagenet; do
    { /usr/bin/time -f "%e s wall, %M KB peak" "$nasoa" export "$work/$m" 2>&1
      /usr/bin/time -f "%e s wall, %M KB peak" "$nasoa" export "$work/$m" -f pt2 2>&1; } \
        | sed "s|$work/||" >> "$here/export.txt"
done
.venv/bin/python "$here/speed.py" "$work"/etnas_z2 "$work"/etnas_z6 "$work"/mobilenetv2_imagenet \
    "$work"/efficientnet_lite0_imagenet > "$here/speed.jsonl"
"$nasoa" data export "builtin:animal?classes=0,2,5,7&per_class=60" "$work/animal-task" >/dev/null
"$nasoa" data export "builtin:shapes?classes=0,1,2,3,4&per_class=40&size=64" "$work/shapes-task" >/dev/null
{ .venv/bin/python "$here/recipe.py" "$work/etnas_z2" "$work/animal-task/test"
  .venv/bin/python "$here/recipe.py" "$work/mobilenetv2_imagenet" "$work/shapes-task/test"; } > "$here/recipe.jsonl"
cat "$here/export.txt" "$here/speed.jsonl" "$here/recipe.jsonl"
