#!/usr/bin/env bash
# The four 128 px photos tasks (tasks128.txt) on the shipped experience of 2026-12-07 (every run collected; see
# ../experience-all-20261207/): --hold-out-family takes photos out, so each seed's snapshot is the ship without
# photos and a model fitted without it at that seed, on the shipped 64/96/128 px grid. nasoa only, seeds 0 and 1,
# 30 / 90 / 300 s. Practice reads neither store nor model: its rows are session 39's on an Intel Xeon VM
# (bench-tasks128*-side-s39-seedN), copied in. Folders: bench-tasks128[-300s]-side-ship-seedN.
#   bash bench/results/photos-side-20261206/photos-ship.sh prebuild  # both snapshots, on core ${CORE:-0}: ~16 min
#   bash bench/results/photos-side-20261206/photos-ship.sh            # the rows: two shards, one per core, ~35 min
#   python bench/results/photos-side-20261206/readout.py -ship 0,1 > bench/results/photos-side-20261206/read-ship.txt
# The prebuild only fits (no timed row), so it may share the machine with other fits; the rows need it idle.
# Both steps are resumable: a snapshot or row already there is not redone.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
python=${PYTHON:-$(pwd)/.venv/bin/python}
if [ "${1:-}" = prebuild ]; then
    taskset -c "${CORE:-0}" "$python" - "$here" <<'PY' || exit 1
import sys
from pathlib import Path

from nasoa.bench.adapt_store import copy_store, seed_store

here = Path(sys.argv[1])
for seed in (0, 1):
    short, long = here / f"bench-tasks128-side-ship-seed{seed}", here / f"bench-tasks128-300s-side-ship-seed{seed}"
    for out in (short, long):
        seed_store(out, None, seed)
    built = seed_store(short, None, seed, exclude="photos")
    # the 300 s rows start from the same snapshot: copy it, not refit it
    if not (long / built.with_suffix(".model").name / "metamodel.json").exists():
        copy_store(built, long / built.name)  # the store and the model folder beside it
    print(f"seed {seed}: {built}", flush=True)
PY
    exit 0
fi
for seed in 0 1; do
    for kind in "" "-300s"; do
        src=$here/bench-tasks128$kind-side-s39-seed$seed; out=$here/bench-tasks128$kind-side-ship-seed$seed
        mkdir -p "$out"
        for f in "$src"/rows-shard*.jsonl; do
            dest=$out/$(basename "$f")
            grep -qs '"strategy": "practice"' "$dest" || grep '"strategy": "practice"' "$f" >> "$dest"
        done
        budgets=30s,90s; [ -n "$kind" ] && budgets=300s
        TASKS=$here/tasks128.txt STRATEGIES=nasoa BUDGETS=$budgets OUT=$out \
            bash bench/results/photos-family-20261206/run.sh "$seed"
    done
done
