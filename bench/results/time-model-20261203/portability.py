"""Does the time model plan a machine it mostly never ran on? The collection's runs (each plans its
epochs with the time model calibrated on the store's earlier runs, every run's step time rescaled
by this machine's speed probe over the run's) grouped by the VM they ran on: planned vs run epochs.

    python portability.py STORE [SINCE]      # SINCE: the first run of the new VM (ISO time)
"""
import json
import sqlite3
import statistics
import sys

store = sys.argv[1]
since = sys.argv[2] if len(sys.argv) > 2 else "2026-12-03T12"
groups: dict[str, list[tuple[float, float]]] = {}
con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
for created, extra in con.execute("select created, extra from runs order by id"):
    e = json.loads(extra)
    if not (e.get("time_model_epochs") and e.get("epochs") and e.get("speed_probe_ms")) or e.get("cpu_share", 1) <= 0.9:
        continue
    key = f"since {since}" if created >= since else f"before {since}"
    groups.setdefault(key, []).append((e["epochs"] / e["time_model_epochs"], e["speed_probe_ms"]))
for key, v in sorted(groups.items()):
    r = [x for x, _ in v]
    print(f"{key}: {len(r)} runs, speed probe median {statistics.median(p for _, p in v):.1f} ms; "
          f"run/plan median {statistics.median(r):.2f}, within 25% of plan: {sum(abs(x - 1) <= 0.25 for x in r)} "
          f"({100 * sum(abs(x - 1) <= 0.25 for x in r) / len(r):.0f}%)")
