"""The acceptance table of this folder (seeds given): nasoa against practice and default run here at
the same seeds, on the same machine; beside them, for reference only, the previous ship's nasoa and
practice on the AMD VM (../adapt-heldout-20261204g/seedN/, ../adapt-heldout-20261204/seedN/: another
machine, so not a comparison); means, the worst task against the better baseline, one-shot plans
within 25%; then every task cell whose nasoa pick changed member against the previous ship's.
    python summary.py 2 3      # -> summary.txt
"""
import json
import sys


def rows(p):
    return {(r["task_index"], r["budget_s"], r["strategy"]): r for r in map(json.loads, open(p))}


plans, moved = [], []
print("| seed | budget | nasoa | practice | default | nasoa - practice | nasoa - default | worst task vs the better "
      "| AMD VM: previous ship's nasoa, practice |")
print("|---|---|---|---|---|---|---|---|---|")
for s in sys.argv[1:]:
    new = rows(f"seed{s}/rows.jsonl")
    prev = rows(f"../adapt-heldout-20261204g/seed{s}/rows.jsonl")
    amd = rows(f"../adapt-heldout-20261204/seed{s}/rows.jsonl")
    for bud in (30.0, 90.0):
        tasks = sorted(t for (t, b, k) in new if b == bud and k == "nasoa")
        acc = {k: sum(new[(t, bud, k)]["test_accuracy"] for t in tasks) / len(tasks)
               for k in ("nasoa", "practice", "default")}
        before = sum(prev[(t, bud, "nasoa")]["test_accuracy"] for t in tasks) / len(tasks)
        amd_practice = sum(amd[(t, bud, "practice")]["test_accuracy"] for t in tasks) / len(tasks)
        worst = min((new[(t, bud, "nasoa")]["test_accuracy"]
                     - max(new[(t, bud, k)]["test_accuracy"] for k in ("practice", "default")), t) for t in tasks)
        for t in tasks:
            r, p = new[(t, bud, "nasoa")], prev[(t, bud, "nasoa")]
            if r.get("planned_epochs"):
                plans.append(r["epochs"] / r["planned_epochs"])
            if r["model"] != p["model"]:
                moved.append(f"seed {s} {int(bud)} s task {t}: {p['model']} {p['test_accuracy']:.4f} -> "
                             f"{r['model']} {r['test_accuracy']:.4f}{' (probe)' if r.get('probe') else ''}")
        print(f"| {s} | {int(bud)} s | {acc['nasoa']:.4f} | {acc['practice']:.4f} | {acc['default']:.4f} | "
              f"{100 * (acc['nasoa'] - acc['practice']):+.1f} | {100 * (acc['nasoa'] - acc['default']):+.1f} | "
              f"{100 * worst[0]:+.2f} (task {worst[1]}) | {before:.4f}, {amd_practice:.4f} |")
plans.sort()
print(f"\none-shot plans: {sum(0.75 <= x <= 1.25 for x in plans)} of {len(plans)} within 25% "
      f"(run/plan {plans[0]:.2f}-{plans[-1]:.2f}, median {plans[len(plans) // 2]:.2f})")
print("\nnasoa picked another member than the previous ship's (AMD VM) at the same seed:")
print("\n".join(moved))
