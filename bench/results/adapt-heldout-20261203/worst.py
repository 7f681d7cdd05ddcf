"""Per seed and budget: nasoa's mean test accuracy minus practice and default, and its worst task
against the better of the two (test accuracy); seed 0 is ../adapt-heldout-20261202i/fresh2/.

    python worst.py                  # from this folder
    python worst.py 0=../adapt-heldout-20261203b/seed0   # SEED=FOLDER pairs instead
"""
import json
import sys
from pathlib import Path

here = Path(__file__).parent
folders = {0: here.parent / "adapt-heldout-20261202i" / "fresh2", 1: here / "seed1", 2: here / "seed2"}
if len(sys.argv) > 1:
    folders = {int(a.split("=", 1)[0]): Path(a.split("=", 1)[1]) for a in sys.argv[1:]}


def name(spec: str) -> str:
    """builtin:shapes?...&seed=308 -> shapes 308"""
    return f"{spec.split('?')[0].removeprefix('builtin:')} {spec.split('seed=')[-1]}"


for seed, f in folders.items():
    rows = [json.loads(line) for p in sorted(f.glob("rows*.jsonl")) for line in open(p) if line.strip()]
    acc = {(r["task"], r["budget_s"], r["strategy"]): r["test_accuracy"] for r in rows if "error" not in r}
    for b in sorted({k[1] for k in acc}):
        tasks = sorted({k[0] for k in acc if k[1] == b})
        n = [acc[(t, b, "nasoa")] for t in tasks]
        p = [acc[(t, b, "practice")] for t in tasks]
        d = [acc[(t, b, "default")] for t in tasks]
        gaps = [(ni - max(pi, di), i) for i, (ni, pi, di) in enumerate(zip(n, p, d))]
        worst = min(gaps)
        mean = lambda v: sum(v) / len(v)
        print(f"seed {seed} {b:g}s: nasoa {mean(n):.3f} practice {mean(p):.3f} default {mean(d):.3f} "
              f"nasoa-practice {100 * (mean(n) - mean(p)):+.1f} nasoa-default {100 * (mean(n) - mean(d)):+.1f} "
              f"worst {100 * worst[0]:+.2f} ({name(tasks[worst[1]])}); below the better baseline by >1 point: "
              f"{[name(tasks[i]) for g, i in gaps if g < -0.01]}")
