"""Median step time (ms, two threads) per OpenMP wait setting, member and mode, from spin.jsonl
(``bash spin.sh > spin.jsonl``: each line one ``step.py`` run). Usage: python summarize.py"""

import json
import statistics
from collections import defaultdict
from pathlib import Path

rows = [json.loads(line) for line in (Path(__file__).parent / "spin.jsonl").read_text().splitlines()]
cells = defaultdict(list)
for r in rows:
    cells[(r["s"], r["mode"], r["x"]["member"])].append(r["x"]["step_ms"])
settings = list(dict.fromkeys(r["s"] for r in rows))
members = list(dict.fromkeys((r["mode"], r["x"]["member"]) for r in rows))
print("| setting | " + " | ".join(f"{m} ({mode})" for mode, m in members) + " |")
print("|---|" + "---|" * len(members))
for s in settings:
    vals = [cells.get((s, mode, m)) for mode, m in members]
    print(f"| {s} | " + " | ".join(
        f"{statistics.median(v):.0f} ({', '.join(f'{x:.0f}' for x in v)})" if v else "" for v in vals) + " |")
