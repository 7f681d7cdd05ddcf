#!/usr/bin/env bash
# Issue #13 acceptance: `nasoa meta collect` with 2 one-CPU Ray workers vs the local executor (one
# process), the same run list (seed, budgets, tasks), into two fresh stores. Prints both run counts,
# both times and the throughput ratio; writes result-<UTC date>.json beside this script.
# Needs the machine's cores idle (it measures throughput): nothing else running.
#   bash bench/results/ray-throughput/run.sh [RUNS] [BUDGET_S]      (default: 12 runs of 8 s)
set -euo pipefail
cd "$(dirname "$0")/../../.."
NASOA="${NASOA:-.venv/bin/nasoa}"
PY="${PY:-.venv/bin/python}"
RUNS="${1:-12}"
BUDGET="${2:-8}"
HERE=bench/results/ray-throughput
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" RAY_USAGE_STATS_ENABLED=0
COMMON=(meta collect --runs "$RUNS" --seed 7 --budgets "$BUDGET" --runs-per-task 6 --logme-images 100 --json)

run() {  # name, then extra options; end-to-end seconds in $WORK/name.wall, the summary in name.json
    local name="$1"; shift
    local t0 t1
    t0="$(date +%s.%N)"
    "$NASOA" "${COMMON[@]}" --store "$WORK/$name.sqlite" "$@" > "$WORK/$name.json"
    t1="$(date +%s.%N)"
    echo "$t0 $t1" > "$WORK/$name.wall"
}

echo "local executor: $RUNS runs of ${BUDGET}s, one process" >&2
run local
echo "ray executor: 2 workers of 1 CPU (a local Ray started for the command)" >&2
run ray --executor ray --cpus-per-run 1

"$PY" - "$WORK" "$HERE" "$RUNS" "$BUDGET" <<'PY'
import json, sqlite3, sys
from datetime import datetime, timezone
from pathlib import Path

from nasoa.core.runtime import machine, versions

work, here, runs, budget = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(), "versions": versions(),
       "runs": runs, "budget_s": budget,
       "command": f"bash bench/results/ray-throughput/run.sh {runs} {budget:g}"}
for name in ("local", "ray"):
    s = json.loads((work / f"{name}.json").read_text())
    con = sqlite3.connect(work / f"{name}.sqlite")
    rows = con.execute("SELECT count(*), count(DISTINCT uid) FROM runs").fetchone()
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    t0, t1 = map(float, (work / f"{name}.wall").read_text().split())
    wall = t1 - t0
    done = s["appended"] + s["skipped"] + s.get("failed", 0)
    out[name] = {"appended": s["appended"], "skipped": s["skipped"], "failed": s.get("failed", 0),
                 "runs_in_store": rows[0], "distinct_uids": rows[1], "integrity": ok,
                 "collect_s": s["elapsed_s"], "wall_s": round(wall, 2),
                 "runs_per_min": round(60 * done / s["elapsed_s"], 3)}
out["ratio_collect"] = round(out["ray"]["runs_per_min"] / out["local"]["runs_per_min"], 3)
out["ratio_wall"] = round(out["local"]["wall_s"] / out["ray"]["wall_s"], 3)  # with start-up and Ray's start
out["same_counts"] = all(out["local"][k] == out["ray"][k] for k in ("appended", "skipped"))
path = here / f"result-{out['date'][:10]}.json"
path.write_text(json.dumps(out, indent=1) + "\n")
for name in ("local", "ray"):
    r = out[name]
    print(f"{name:5s}: {r['appended']} appended, {r['skipped']} skipped, {r['failed']} failed; "
          f"collect {r['collect_s']:.1f}s ({r['runs_per_min']:.2f} runs/min), end to end {r['wall_s']:.1f}s; "
          f"{r['runs_in_store']} rows, {r['distinct_uids']} uids, integrity {r['integrity']}")
print(f"throughput ratio ray/local: {out['ratio_collect']:.2f}x (collect loop), {out['ratio_wall']:.2f}x "
      f"(end to end); same run counts: {out['same_counts']}")
print(f"written: {path}")
PY
