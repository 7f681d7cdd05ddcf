"""The read.sh reading in one table: nasoa (the 64/96/128 px grid) against practice (MobileNetV2 at the task's
128 px), per budget and seed, on the four 128 px photos tasks; where each nasoa row's pick ran (member, side,
frozen stages, lr), and its one-shot plan against the epochs run.

    python bench/results/photos-side-20261206/readout.py -s39 0,1 > bench/results/photos-side-20261206/read-s39.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rows(folder: Path) -> dict[tuple, dict]:
    out = {}
    for f in sorted(folder.glob("rows*.jsonl")):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if "error" not in r:
                out[(r["task_index"], float(r["budget_s"]), r["strategy"])] = r
    return out


def main() -> None:
    tag, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    print("| seed | budget | nasoa | practice | nasoa - practice | tasks practice better | worst task | picks at 96 / 128 "
          "px | one-shot plans within 25% |")
    print("|---|---|---|---|---|---|---|---|---|")
    picks, means = [], {}
    for seed in seeds:
        got = {**rows(HERE / f"bench-tasks128-side{tag}-seed{seed}"), **rows(HERE / f"bench-tasks128-300s-side{tag}-seed{seed}")}
        for b in sorted({k[1] for k in got}):
            tasks = sorted(t for (t, bb, s) in got if bb == b and s == "nasoa" and (t, bb, "practice") in got)
            if not tasks:
                continue
            n = [got[(t, b, "nasoa")] for t in tasks]
            p = [got[(t, b, "practice")] for t in tasks]
            mn, mp = (sum(r["test_accuracy"] for r in rs) / len(rs) for rs in (n, p))
            means.setdefault(b, []).append((mn, mp))
            sides = [r.get("input_size") for r in n]
            shot = [abs(r["epochs"] / r["planned_epochs"] - 1) <= 0.25 for r in n if r.get("planned_epochs")]
            print(f"| {seed} | {b:g} s | {mn:.4f} | {mp:.4f} | {100 * (mn - mp):+.1f} | "
                  f"{sum(a['test_accuracy'] < c['test_accuracy'] for a, c in zip(n, p))} of {len(tasks)} | "
                  f"{100 * min(a['test_accuracy'] - c['test_accuracy'] for a, c in zip(n, p)):+.1f} | "
                  f"{sides.count(96)} / {sides.count(128)} of {len(tasks)} | {sum(shot)} of {len(shot)} |")
            for t, r, q in zip(tasks, n, p):
                reg = r.get("regime") or {}
                plan = (f"planned {r['planned_epochs']:.1f}, ran {r['epochs']:.1f}" if r.get("planned_epochs")
                        else f"ran {r['epochs']:.1f} (probed: {', '.join((r.get('probe') or {}).get('models') or [])})")
                picks.append(f"seed {seed}, {b:g} s, task {t}: {r['model']} at {r.get('input_size')} px, frozen "
                             f"{reg.get('frozen_stages')}, lr {reg.get('lr')}, {reg.get('optimizer')}: test "
                             f"{r['test_accuracy']:.3f} (practice {q['test_accuracy']:.3f}); {plan}")
    for b, ms in sorted(means.items()):
        mn, mp = (sum(x[i] for x in ms) / len(ms) for i in (0, 1))
        print(f"| mean of {len(ms)} | {b:g} s | {mn:.4f} | {mp:.4f} | {100 * (mn - mp):+.1f} | | | | |")
    print("\nnasoa's picks:")
    print("\n".join(picks))


if __name__ == "__main__":
    main()
