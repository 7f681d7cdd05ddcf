#!/usr/bin/env bash
# Deadline under contention (issue #15, item 8): 2, then 3, concurrent `nasoa adapt` runs of BUDGET
# seconds each (default 15) on new tasks, sharing one experience store. For every run: its exit
# code, its wall time measured from outside the process (start-up included), and from its run
# manifest the trainer's planned stop and actual stop of training (seconds from the start), steps,
# stop reason and accuracy. Prints a table and whether each run (a) ended within 5% of its budget
# and (b) trained until its planned stop (stopped no earlier than 10% of the budget before it).
#
#   bench/results/contention/run.sh [OUT_DIR]          # OUT_DIR default: a new temp dir
#   CPUS=0 bench/results/contention/run.sh             # all runs pinned to core 0 (taskset)
#   COUNTS="2 3 4" BUDGET=30 bench/results/contention/run.sh
#
# Writes only under OUT_DIR (the store, run dirs, per-run JSON, results.json, results.md), with
# $NASOA_DATA_DIR pointing there. Run from the repository root.
set -uo pipefail
NASOA=${NASOA:-.venv/bin/nasoa}
PY=${PY:-.venv/bin/python}
BUDGET=${BUDGET:-15}
COUNTS=${COUNTS:-"2 3"}
OUT=${1:-$(mktemp -d -t nasoa-contention-XXXX)}
PIN=()
if [ -n "${CPUS:-}" ]; then PIN=(taskset -c "$CPUS"); fi
mkdir -p "$OUT"
export NASOA_DATA_DIR="$OUT/data"
STORE="$OUT/experience.sqlite"

# Seed the store (the shipped experience and its model) once, so every measured run starts as a
# user's second adapt does; a dry run on a task none of the measured runs uses.
"${PIN[@]}" "$NASOA" adapt "builtin:digits?per_class=20" --budget 60s --dry-run --store "$STORE" >/dev/null \
  || { echo "seeding the store failed" >&2; exit 1; }

for n in $COUNTS; do
  d="$OUT/concurrent-$n"
  mkdir -p "$d"
  for i in $(seq 1 "$n"); do
    (
      t0=$(date +%s.%N)
      "${PIN[@]}" "$NASOA" adapt "builtin:digits?per_class=$((30 + 10 * n + i))" --budget "${BUDGET}s" \
        --store "$STORE" --out "$d/run$i" --json >"$d/run$i.json" 2>"$d/run$i.err"
      rc=$?
      t1=$(date +%s.%N)
      echo "$t0 $t1 $rc" >"$d/run$i.time"
    ) &
  done
  wait
done

"$PY" - "$OUT" "$BUDGET" "$COUNTS" <<'PYEOF'
import json, sys
from pathlib import Path

out, budget, counts = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split()
rows = []
for n in counts:
    d = out / f"concurrent-{n}"
    for t in sorted(d.glob("run*.time")):
        run = t.stem
        t0, t1, rc = t.read_text().split()
        row = {"concurrent": int(n), "run": run, "rc": int(rc), "wall_s": round(float(t1) - float(t0), 2)}
        man = d / run / "manifest.json"
        if man.is_file():
            m = json.loads(man.read_text())
            res = m.get("result", {})
            tim = res.get("timings", {})
            row.update(model=m.get("adapt", {}).get("model"), steps=res.get("steps"), stop=res.get("stop_reason"),
                       acc=res.get("val_accuracy"), elapsed_s=m.get("adapt", {}).get("elapsed_s"),
                       planned_stop_s=tim.get("planned_stop_s"), stop_s=tim.get("stop_s"))
        else:
            row["error"] = (d / f"{run}.err").read_text().strip().splitlines()[-1:] or ["(no output)"]
        ps, s = row.get("planned_stop_s"), row.get("stop_s")
        row["within_5pct"] = row["wall_s"] <= 1.05 * budget
        row["trained_to_plan"] = ps is not None and s is not None and s >= ps - 0.1 * budget
        rows.append(row)

hdr = ["concurrent", "run", "rc", "wall_s", "elapsed_s", "planned_stop_s", "stop_s", "steps", "stop", "acc", "model",
       "within_5pct", "trained_to_plan"]
lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
for r in rows:
    lines.append("| " + " | ".join("" if r.get(k) is None else (f"{r[k]:.3f}" if isinstance(r[k], float) and k == "acc"
                                                                 else str(r[k])) for k in hdr) + " |")
    if "error" in r:
        lines.append(f"|  | {r['run']} error: {r['error'][0]} |")
ok = all(r["within_5pct"] and r["trained_to_plan"] for r in rows)
lines.append("")
lines.append(f"budget {budget:g}s; every run within 5% of its budget and trained to its planned stop: {'yes' if ok else 'NO'}")
text = "\n".join(lines)
print(text)
(out / "results.md").write_text(text + "\n")
(out / "results.json").write_text(json.dumps({"budget_s": budget, "rows": rows, "ok": ok}, indent=2) + "\n")
print(f"(written to {out}/results.md and results.json)")
PYEOF
