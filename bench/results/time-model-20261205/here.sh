#!/usr/bin/env bash
# This machine's own runs correct the plan (meta/timing.py, "This machine's own runs"): on the Intel
# Xeon VM of 2026-12-05, whose probe reads 10% faster than the AMD EPYC VM the experience ran on while
# MobileNetV2 steps 35% slower, `nasoa adapt` one-shot plans were 1.5x too long (../adapt-heldout-20261205/).
# From a copy of that bench's snapshot without the shapes family (seed 2), on one core:
#   1. plan and run the two shapes tasks of the bench (tasks 6 and 7 of tasks-fresh2.txt) at 30 s and
#      90 s, one-shot (--probe never), learning nothing: planned vs run epochs with no run from here;
#   2. record RUNS runs here on other tasks (textures and noise tasks drawn for this check, never
#      benched; nasoa and practice alternating, 30 s);
#   3. plan and run the same four again, learning nothing.
#   bash bench/results/time-model-20261205/here.sh [CORE] [RUNS]     # ~12 min at 6 runs
set -u
cd "$(dirname "$0")/../../.."
core=${1:-1}
runs=${2:-6}
here=$(pwd)/bench/results/time-model-20261205
nasoa=${NASOA:-$(pwd)/.venv/bin/nasoa}
snap=$(pwd)/bench/results/adapt-heldout-20261205/seed2/seed-without-shapes
work=$(mktemp -d /tmp/here.XXXX)
cp "$snap.sqlite" "$work/s.sqlite" && cp -r "$snap.model" "$work/s.model"
mapfile -t shapes < <(grep '^builtin:shapes' bench/results/adapt-heldout-20261202i/tasks-fresh2.txt)
out=$here/rows.jsonl
: > "$out"
check() {  # phase: every shapes task at 30 s and 90 s, one-shot, nothing learned
    for spec in "${shapes[@]}"; do for b in 30 90; do
        taskset -c "$core" "$nasoa" adapt "$spec" --budget "${b}s" --store "$work/s.sqlite" --seed 2 --probe never \
            --no-learn --json --out "$work/run-$1-$b-${spec##*seed=}" 2>/dev/null \
            | python3 -c "import json,sys; m=json.load(sys.stdin); print(json.dumps({'phase': '$1', 'task': '$spec',
  'budget_s': $b, 'model': m['model'], 'planned_epochs': m.get('planned_epochs'), 'epochs': m.get('epochs'),
  'time_model_here': (m.get('time_model') or {}).get('here')}))" >> "$out"
    done; done
}
check before
for i in $(seq 1 "$runs"); do
    if [ $((i % 2)) -eq 1 ]; then spec="builtin:textures?classes=$((i)),$((i + 9)),$((i + 20))&per_class=40&size=48&seed=$((900 + i))"; strat=nasoa
    else spec="builtin:noise?classes=$((i)),$((i + 7)),$((i + 15))&per_class=40&size=32&seed=$((900 + i))"; strat=practice; fi
    taskset -c "$core" "$nasoa" adapt "$spec" --budget 30s --store "$work/s.sqlite" --seed 2 --probe never \
        --strategy "$strat" --out "$work/learn-$i" > /dev/null 2>&1
done
check after
python3 - "$out" <<'PY' > "$here/here.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    ratio = r["epochs"] / r["planned_epochs"] if r.get("planned_epochs") else float("nan")
    print(f"{r['phase']:6} {r['budget_s']:>3} s {r['task'][-8:]} {r['model']:28} planned {r['planned_epochs'] or 0:7.2f} "
          f"ran {r['epochs']:7.2f} run/plan {ratio:.2f} here {r['time_model_here']}")
for phase in ("before", "after"):
    x = [r["epochs"] / r["planned_epochs"] for r in rows if r["phase"] == phase and r.get("planned_epochs")]
    print(f"{phase}: {sum(0.75 <= v <= 1.25 for v in x)} of {len(x)} within 25%, run/plan {min(x):.2f}-{max(x):.2f}")
PY
rm -rf "$work"
cat "$here/here.txt"
