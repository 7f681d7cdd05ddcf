"""Worst task vs the better baseline (points) per budget, for rows folders: python worst.py DIR..."""
import json, glob, sys, collections
for d in sys.argv[1:]:
    rows = [json.loads(l) for f in glob.glob(d + "/rows-shard*.jsonl") for l in open(f)]
    by = collections.defaultdict(dict)
    for r in rows: by[(r["budget_s"], r["task_index"])][r["strategy"]] = r["test_accuracy"]
    for b in (30.0, 90.0):
        diffs = [(round(100 * (v["nasoa"] - max(v["practice"], v["default"])), 2), t) for (bb, t), v in by.items() if bb == b and len(v) == 3]
        print(d, b, "worst vs better baseline", sorted(diffs)[:3], "n", len(diffs))
