"""steps.jsonl and parity.jsonl -> the tables of README.md: step times per member, frozen stages and threads;
validation accuracy of the same runs in fp32 and bf16.

    python bench/results/precision-20261206/table.py > table.txt
"""

from __future__ import annotations

import json
from pathlib import Path

rows = [json.loads(line) for line in (Path(__file__).parent / "steps.jsonl").read_text().splitlines() if line]
by = {(r["member"], r["frozen"], r["threads"], r["precision"]): r for r in rows}
print("| member | side | frozen | threads | fp32 ms | bf16 ms | fp32 / bf16 | val acc fp32 / bf16 (3 epochs) |")
print("|---|---|---|---|---|---|---|---|")
for (m, f, t, p), a in by.items():
    b = by.get((m, f, t, "bf16"))
    if p != "fp32" or b is None:
        continue
    print(f"| {m} | {a['input_size']} | {f} | {t} | {a['step_ms']:.1f} | {b['step_ms']:.1f} | "
          f"{a['step_ms'] / b['step_ms']:.2f} | {a['val_accuracy']:.3f} / {b['val_accuracy']:.3f} |")

parity = Path(__file__).parent / "parity.jsonl"
if parity.exists():
    prow = [json.loads(line) for line in parity.read_text().splitlines() if line]
    print("\n| member | optimizer, lr | runs | val acc fp32 | val acc bf16 | bf16 - fp32 (points; min, max) | step ms fp32 / bf16 |")
    print("|---|---|---|---|---|---|---|")
    cells: dict = {}
    for r in prow:
        cells.setdefault((r["member"], r["optimizer"], r["lr"]), []).append(r)
    for (m, o, lr), rs in cells.items():
        a = [r["fp32"]["val_accuracy"] for r in rs]
        b = [r["bf16"]["val_accuracy"] for r in rs]
        d = [100 * (y - x) for x, y in zip(a, b)]
        sa = sum(r["fp32"]["step_ms"] for r in rs) / len(rs)
        sb = sum(r["bf16"]["step_ms"] for r in rs) / len(rs)
        print(f"| {m} | {o} {lr:g} | {len(rs)} | {sum(a) / len(a):.3f} | {sum(b) / len(b):.3f} | "
              f"{sum(d) / len(d):+.1f} ({min(d):+.1f}, {max(d):+.1f}) | {sa:.0f} / {sb:.0f} |")
    d_all = [100 * (r["bf16"]["val_accuracy"] - r["fp32"]["val_accuracy"]) for r in prow]
    print(f"\nall {len(prow)} pairs: bf16 - fp32 {sum(d_all) / len(d_all):+.2f} points on average; "
          f"diverged: fp32 {sum(r['fp32']['diverged'] for r in prow)}, bf16 {sum(r['bf16']['diverged'] for r in prow)}")
