#!/usr/bin/env bash
# The online learning curve (issue #12): a stream of 24 tasks of a family the experience has never
# seen (default fractals: its runs are removed from the shipped experience and the meta-model is
# refitted without them), adapted in turn with learning on (MODE learn), and the same stream with
# --no-learn as the control (MODE nolearn). Each stream has its own copy of the seed store; run each
# on a core of its own (CORE) with nothing else on it, since budgets are deadlines. Regret is
# against the common-practice baseline run on the same task, split and budget. Resumable.
#   bash bench/results/stream-curve-20261201/run.sh learn 1 [FAMILY [ONLINE]]
#   bash bench/results/stream-curve-20261201/run.sh nolearn 1 [FAMILY]
# ONLINE (default blend): how river joins LightGBM (`nasoa meta fit --online`); with another value
# the stream's store copy is refitted with it and the stream is named MODE-ONLINE.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/stream-curve-20261201
mode=$1; core=$2; fam=${3:-fractals}; online=${4:-blend}
name=$mode; [ "$online" != blend ] && name=$mode-$online
work=${NASOA_CURVE_WORK:-/tmp/nasoa-curve}
py=${NASOA_PYTHON:-.venv/bin/python}; nasoa=${NASOA_BIN:-.venv/bin/nasoa}
work=$work/$fam; mkdir -p "$work"
res=$out/$fam; mkdir -p "$res"
# Written aside and moved into place: the other stream of a pair may be reading it already.
"$py" "$out/make_tasks.py" "$fam" > "$res/tasks.txt.$$" && mv "$res/tasks.txt.$$" "$res/tasks.txt"
# The seed store: the shipped experience without the family's lineage (a variant goes with its base),
# its meta-model fitted without it.
taskset -c "$core" "$py" - "$work" "$fam" "$name" <<'PY'
import sys
from pathlib import Path
from nasoa.bench.adapt import seed_store, copy_store
from nasoa.core.families import lineage_of
work, fam, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
seed = seed_store(work, None, 0, exclude=lineage_of(f"builtin:{fam}"))
if not (work / f"{name}.sqlite").exists():
    copy_store(seed, work / f"{name}.sqlite")
print("seed store", seed)
PY
if [ "$online" != blend ] && [ ! -e "$work/$name.refitted" ]; then
    taskset -c "$core" "$nasoa" meta fit --store "$work/$name.sqlite" --online "$online" && touch "$work/$name.refitted"
fi
extra=()
[ "$mode" = nolearn ] && extra=(--no-learn)
taskset -c "$core" "$nasoa" stream "$res/tasks.txt" --out "$res/$name" --store "$work/$name.sqlite" \
    --seed 0 "${extra[@]}" >> "$res/$name.log" 2>&1
"$nasoa" meta show --store "$work/$name.sqlite" > "$res/meta-show-$name.txt" 2>&1 || true
