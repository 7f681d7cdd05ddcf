"""results.jsonl -> table.txt: test accuracy, NLL and ECE without and with predict --tta."""
import json
import statistics as st
from pathlib import Path

rows = [json.loads(x) for x in (Path(__file__).parent / "results.jsonl").read_text().splitlines() if x.strip()]
print(f"{'task strategy budget':<30} {'model':<28} {'acc':>7} {'acc tta':>7} {'NLL':>7} {'NLL tta':>7} {'ECE':>7} "
      f"{'ECE tta':>7} {'s':>6} {'s tta':>6}")
for r in rows:
    a, b = r["plain"], r["tta"]
    print(f"{r['label']:<30} {r['model']:<28} {a['accuracy']:>7.4f} {b['accuracy']:>7.4f} {a['nll']:>7.4f} "
          f"{b['nll']:>7.4f} {a['ece']:>7.4f} {b['ece']:>7.4f} {a['seconds']:>6.1f} {b['seconds']:>6.1f}")
d = [100 * (r["tta"]["accuracy"] - r["plain"]["accuracy"]) for r in rows]
print(f"accuracy, points: mean change {st.mean(d):+.2f}, median {st.median(d):+.2f}, min {min(d):+.2f}, "
      f"max {max(d):+.2f}; higher on {sum(x > 0 for x in d)}, equal on {sum(x == 0 for x in d)}, lower on "
      f"{sum(x < 0 for x in d)} of {len(d)}")
for key in ("nll", "ece"):
    print(f"{key}: mean {st.mean(r['plain'][key] for r in rows):.4f} -> {st.mean(r['tta'][key] for r in rows):.4f}; "
          f"lower on {sum(r['tta'][key] < r['plain'][key] for r in rows)} of {len(rows)}")
print(f"predict time: x{st.mean(r['tta']['seconds'] / r['plain']['seconds'] for r in rows):.2f} on average")
