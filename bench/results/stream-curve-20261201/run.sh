#!/usr/bin/env bash
# The online learning curve (issue #12): a stream of 24 tasks of a family the experience has never
# seen (default fractals: its runs are removed from the shipped experience and the meta-model is
# refitted without them), adapted in turn with learning on (MODE learn), and the same stream with
# --no-learn as the control (MODE nolearn). Each stream has its own copy of the seed store; run each
# on a core of its own (CORE) with nothing else on it, since budgets are deadlines. Regret is
# against the common-practice baseline run on the same task, split and budget. Resumable.
#   bash bench/results/stream-curve-20261201/run.sh learn 1 [FAMILY]
#   bash bench/results/stream-curve-20261201/run.sh nolearn 1 [FAMILY]
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/stream-curve-20261201
mode=$1; core=$2; fam=${3:-fractals}
work=${NASOA_CURVE_WORK:-/tmp/nasoa-curve}
py=${NASOA_PYTHON:-.venv/bin/python}; nasoa=${NASOA_BIN:-.venv/bin/nasoa}
mkdir -p "$work"
"$py" "$out/make_tasks.py" "$fam" > "$out/tasks.txt"
# The seed store: the shipped experience without the family, its meta-model fitted without it.
taskset -c "$core" "$py" - "$work" "$fam" "$mode" <<'PY'
import sys
from pathlib import Path
from nasoa.bench.adapt import seed_store, copy_store
work, fam, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
seed = seed_store(work, None, 0, exclude=fam)
if not (work / f"{mode}.sqlite").exists():
    copy_store(seed, work / f"{mode}.sqlite")
print("seed store", seed)
PY
extra=()
[ "$mode" = nolearn ] && extra=(--no-learn)
taskset -c "$core" "$nasoa" stream "$out/tasks.txt" --out "$out/$mode" --store "$work/$mode.sqlite" \
    --seed 0 "${extra[@]}" >> "$out/$mode.log" 2>&1
"$nasoa" meta show --store "$work/$mode.sqlite" > "$out/meta-show-$mode.txt" 2>&1 || true
