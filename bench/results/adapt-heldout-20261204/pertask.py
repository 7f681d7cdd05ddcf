"""Per task and budget, over the seeds benched here: nasoa's test accuracy minus the better of
practice and default, per seed and on average (with the seeds' standard deviation), and nasoa's
pick per seed (as ../adapt-heldout-20261203e/pertask.py, whose folders it takes as arguments).

    python bench/results/adapt-heldout-20261204/pertask.py                      # seeds 4-5 (here)
    python bench/results/adapt-heldout-20261204/pertask.py 4=FOLDER 5=FOLDER    # SEED=FOLDER pairs instead
"""
import json
import statistics
import sys
from pathlib import Path

here = Path(__file__).parent
folders = {4: here / "seed4", 5: here / "seed5"}
if len(sys.argv) > 1:
    folders = {int(a.split("=", 1)[0]): Path(a.split("=", 1)[1]) for a in sys.argv[1:]}


def name(spec: str) -> str:
    return f"{spec.split('?')[0].removeprefix('builtin:')} {spec.split('seed=')[-1]}"


acc, pick = {}, {}
for seed, f in folders.items():
    for p in sorted(f.glob("rows*.jsonl")):
        for line in open(p):
            r = json.loads(line)
            if "error" in r or r.get("test_accuracy") is None:
                continue
            acc[(seed, r["task"], r["budget_s"], r["strategy"])] = r["test_accuracy"]
            if r["strategy"] == "nasoa":
                g = r.get("regime") or {}
                pick[(seed, r["task"], r["budget_s"])] = (f"{r['model']} {r.get('input_size')}px f{g.get('frozen_stages')} "
                                                         f"{g.get('optimizer')} {g.get('lr')}"
                                                         + (" (probed)" if r.get("probe") else ""))
seeds = sorted({k[0] for k in acc})
tasks = sorted({k[1] for k in acc}, key=lambda t: t.split("seed=")[-1])
budgets = sorted({k[2] for k in acc})
print(f"seeds {seeds}; test accuracy points, nasoa - max(practice, default)")
for b in budgets:
    means = {s: [] for s in ("nasoa", "practice", "default")}
    print(f"\n{b:g} s")
    for t in tasks:
        diffs, parts = [], []
        for s in seeds:
            k = (s, t, b)
            if all((s, t, b, x) in acc for x in ("nasoa", "practice", "default")):
                d = 100 * (acc[(s, t, b, "nasoa")] - max(acc[(s, t, b, "practice")], acc[(s, t, b, "default")]))
                diffs.append(d)
                parts.append(f"s{s} {d:+5.1f}")
                for x in means:
                    means[x].append(acc[(s, t, b, x)])
        if diffs:
            sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
            print(f"  {name(t):12s} mean {statistics.mean(diffs):+5.1f} (sd {sd:4.1f}, worst {min(diffs):+5.1f}) "
                  f"[{', '.join(parts)}]")
    if means["nasoa"]:
        m = {x: statistics.mean(v) for x, v in means.items()}
        print(f"  all ({len(means['nasoa'])} task-seeds): nasoa {m['nasoa']:.3f} practice {m['practice']:.3f} "
              f"default {m['default']:.3f}: nasoa - practice {100 * (m['nasoa'] - m['practice']):+.1f}, "
              f"nasoa - default {100 * (m['nasoa'] - m['default']):+.1f}")
print("\nnasoa's pick per seed:")
for b in budgets:
    for t in tasks:
        print(f"  {b:g}s {name(t):12s} " + " | ".join(f"s{s}: {pick.get((s, t, b), '-')}" for s in seeds))
