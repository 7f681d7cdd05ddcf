#!/bin/bash
# Planned vs run epochs of uncalibrated `nasoa adapt` runs at 20 s (--no-learn: the store is left
# as it was; adapt still remembers its post-training time). Usage, from a folder holding the
# tasks: bash plan_accuracy.sh LABEL
#   nasoa data export "builtin:fractals?classes=0,1,2,3&per_class=60" fr
#   python make_photos.py p5 5 400 300 700 0
set -u
NASOA=${NASOA:-nasoa}
for spec in fr fr fr p5 p5 "builtin:digits?classes=0,1,2,3&per_class=60" "builtin:digits?classes=0,1,2,3&per_class=60"; do
  rm -rf plan-run
  "$NASOA" adapt "$spec" --budget 20s --out plan-run --no-learn --json 2>plan-run.err | tail -1 | python3 -c "
import json, sys
text = sys.stdin.read()
if not text.strip():  # refused: the one-line error
    print('$1', '$spec'[:24], 'refused:', open('plan-run.err').read().strip().splitlines()[-1])
    sys.exit()
a = json.loads(text)
print('$1', '$spec'[:24], a['model'], 'planned', round(a['planned_epochs'], 2), 'ran', a['epochs'],
      'run/plan', round(a['epochs'] / a['planned_epochs'], 2), 'elapsed', a['elapsed_s'])"
done
rm -rf plan-run plan-run.err
