"""How varied the best regime is across the collection's builtin:photos runs: for each decision (a
task at one budget, 2+ runs) the member, frozen stages, learning rate and optimiser of its best run.

    python bench/results/photos-family-20261206/best.py bench/results/collect-20261201/collect.sqlite   # best.txt
"""
import json
import sqlite3
import sys
from collections import Counter, defaultdict

con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = con.execute("select task_spec, budget_s, model_name, regime, val_accuracy from runs "
                   "where task_spec like 'builtin:photos%'").fetchall()
dec = defaultdict(list)
for spec, budget, model, regime, acc in rows:
    dec[(spec, budget)].append((acc, model, json.loads(regime)))
dec = {k: v for k, v in dec.items() if len(v) >= 2}
best = [max(v, key=lambda r: r[0]) for v in dec.values()]
print(f"{len(rows)} runs, {len({s for s, _ in dec})} tasks, {len(dec)} decisions of 2+ runs")
for what, key in (("member", lambda r: r[1]), ("frozen stages", lambda r: r[2].get("frozen_stages")),
                  ("learning rate", lambda r: r[2].get("lr")), ("optimiser", lambda r: r[2].get("optimizer"))):
    print(f"best run's {what}: " + ", ".join(f"{k} {n}" for k, n in Counter(map(key, best)).most_common()))
spread = sorted(max(r[0] for r in v) - min(r[0] for r in v) for v in dec.values())
print(f"best minus worst run of a decision, points: median {100 * spread[len(spread) // 2]:.1f}, "
      f"mean {100 * sum(spread) / len(spread):.1f}")
