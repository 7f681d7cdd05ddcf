"""nasoa on the whole experience (7,082 runs, fitted with the 64/96/128 px grid: nasoa-seed2/, from ALL.sqlite
before the ship; shipped-seedN/, from the ship) against nasoa on the ship before (4,407 runs, the profiled sides)
and practice and default, all on Intel Xeon VMs at the same seed: seed 2 from ../adapt-heldout-20261207/
(new-seed2/, baselines-seed2/: this session's VM), seeds 3-5 from ../adapt-heldout-20261205/seedN/ (an Intel Xeon
VM of 2026-12-05; its seed-2 practice and default rows read within 0.5 points of this VM's). Means, the worst task
against the better baseline, the one-shot plans within 25% of the epochs run, and each cell's pick.
    python summary.py 2 3 4 5      # -> summary.txt
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def sources(s):
    """Seed ``s``'s rows: (nasoa on the whole experience, nasoa on the ship before, practice and default)."""
    if s == "2":
        return rows(HERE / "nasoa-seed2"), rows(PREV / "new-seed2"), rows(PREV / "baselines-seed2")
    both = rows(EARLIER / f"seed{s}")
    return rows(HERE / f"shipped-seed{s}"), both, both


def table(seeds, sources, names=("all experience", "ship"), short=("all", "ship")):
    """The table and each cell's pick, nasoa from ``sources(seed)``'s first rows against its second."""
    a, b = short
    print(f"| seed | budget | nasoa, {names[0]} | nasoa, {names[1]} | practice | default | {a} - practice | "
          f"{a} - default | worst task vs the better ({a} / {b}) | one-shot plans within 25% ({a} / {b}) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cells = []
    for s in seeds:
        new, old, base = sources(s)
        for bud in (30.0, 90.0):
            tasks = sorted(t for (t, b_, k) in new if b_ == bud and (t, b_, k) in old)
            if not tasks:
                continue
            mean = {k: sum(src[(t, bud, k2)]["test_accuracy"] for t in tasks) / len(tasks)
                    for k, src, k2 in (("new", new, "nasoa"), ("old", old, "nasoa"), ("practice", base, "practice"),
                                       ("default", base, "default"))}

            def worst(src):
                return min(src[(t, bud, "nasoa")]["test_accuracy"]
                           - max(base[(t, bud, k)]["test_accuracy"] for k in ("practice", "default")) for t in tasks)

            print(f"| {s} | {bud:g} s | {mean['new']:.4f} | {mean['old']:.4f} | {mean['practice']:.4f} | "
                  f"{mean['default']:.4f} | {100 * (mean['new'] - mean['practice']):+.1f} | "
                  f"{100 * (mean['new'] - mean['default']):+.1f} | {100 * worst(new):+.2f} / {100 * worst(old):+.2f} | "
                  f"{within([new[(t, bud, 'nasoa')] for t in tasks])} / "
                  f"{within([old[(t, bud, 'nasoa')] for t in tasks])} |")
            for t in tasks:
                x, y = new[(t, bud, "nasoa")], old[(t, bud, "nasoa")]
                better = max(base[(t, bud, k)]["test_accuracy"] for k in ("practice", "default"))
                plan = (f"planned {x['planned_epochs']:.1f}, ran {x['epochs']:.1f}" if x.get("planned_epochs")
                        else f"ran {x['epochs']:.1f}")
                cells.append(f"seed {s}, task {t}, {bud:g} s: {a} {x['test_accuracy']:.3f} ({pick(x)}; {plan}), "
                             f"{b} {y['test_accuracy']:.3f} ({pick(y)}), better baseline {better:.3f}")
    print("\nEach cell:")
    print("\n".join(cells))


if __name__ == "__main__":
    table(sys.argv[1:], sources)
