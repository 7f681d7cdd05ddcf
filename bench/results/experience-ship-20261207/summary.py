"""nasoa on the new ship (7,632 runs on 764 tasks: seedN/) against nasoa on the ship before (7,082 runs:
../experience-all-20261207/nasoa-seed2/ and shipped-seedN/) and practice and default, all on Intel Xeon VMs at the
same seed: seed 2's practice and default from ../adapt-heldout-20261207/baselines-seed2/ (session 39's VM), seeds
3-5's from ../adapt-heldout-20261205/seedN/ (an Intel Xeon VM of 2026-12-05; its seed-2 practice and default rows
read within 0.5 points of session 39's). Means, the worst task against the better baseline, the one-shot plans
within 25% of the epochs run, and each cell's pick.
    python summary.py 2 3 4 5      # -> summary.txt (the seeds that have rows)
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIP = HERE.parent / "experience-all-20261207"
PREV = HERE.parent / "adapt-heldout-20261207"
EARLIER = HERE.parent / "adapt-heldout-20261205"


def rows(folder):
    """A bench folder's rows, from rows.jsonl or its shards' rows-shardK.jsonl."""
    out = {}
    for f in sorted(Path(folder).glob("rows*.jsonl")):
        out.update({(r["task_index"], r["budget_s"], r["strategy"]): r for r in map(json.loads, open(f))
                    if "error" not in r})
    return out


def within(rs):
    ok = [abs(r["epochs"] / r["planned_epochs"] - 1) <= 0.25 for r in rs
          if r.get("planned_epochs") and r.get("epochs") and not r.get("probe")]
    return f"{sum(ok)} of {len(ok)}"


def pick(r):
    g = r["regime"]
    return (f"{r['model']} {r.get('input_size')} px f{g['frozen_stages']} lr {g['lr']:g} {g['optimizer']}"
            f"{' (probed)' if r.get('probe') else ''}")


print("| seed | budget | nasoa, new ship | nasoa, ship before | practice | default | new - practice | new - default | "
      "worst task vs the better (new / before) | one-shot plans within 25% (new / before) |")
print("|---|---|---|---|---|---|---|---|---|---|")
cells = []
for s in sys.argv[1:]:
    new = rows(HERE / f"seed{s}")
    old = rows(SHIP / ("nasoa-seed2" if s == "2" else f"shipped-seed{s}"))
    base = rows(PREV / "baselines-seed2") if s == "2" else rows(EARLIER / f"seed{s}")
    for bud in (30.0, 90.0):
        tasks = sorted(t for (t, b, k) in new if b == bud and (t, b, k) in old)
        if not tasks:
            continue
        mean = {k: sum(src[(t, bud, k2)]["test_accuracy"] for t in tasks) / len(tasks)
                for k, src, k2 in (("all", new, "nasoa"), ("ship", old, "nasoa"), ("practice", base, "practice"),
                                   ("default", base, "default"))}

        def worst(src):
            return min(src[(t, bud, "nasoa")]["test_accuracy"]
                       - max(base[(t, bud, k)]["test_accuracy"] for k in ("practice", "default")) for t in tasks)

        print(f"| {s} | {bud:g} s | {mean['all']:.4f} | {mean['ship']:.4f} | {mean['practice']:.4f} | "
              f"{mean['default']:.4f} | {100 * (mean['all'] - mean['practice']):+.1f} | "
              f"{100 * (mean['all'] - mean['default']):+.1f} | {100 * worst(new):+.2f} / {100 * worst(old):+.2f} | "
              f"{within([new[(t, bud, 'nasoa')] for t in tasks])} / "
              f"{within([old[(t, bud, 'nasoa')] for t in tasks])} |")
        for t in tasks:
            a, b = new[(t, bud, "nasoa")], old[(t, bud, "nasoa")]
            better = max(base[(t, bud, k)]["test_accuracy"] for k in ("practice", "default"))
            plan = (f"planned {a['planned_epochs']:.1f}, ran {a['epochs']:.1f}" if a.get("planned_epochs")
                    else f"ran {a['epochs']:.1f}")
            cells.append(f"seed {s}, task {t}, {bud:g} s: new {a['test_accuracy']:.3f} ({pick(a)}; {plan}), "
                         f"before {b['test_accuracy']:.3f} ({pick(b)}), better baseline {better:.3f}")
print("\nEach cell:")
print("\n".join(cells))
