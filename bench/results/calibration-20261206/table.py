"""results.jsonl -> the table of README.md: test NLL / ECE with the run's temperature and without."""
import json
import statistics as st
from pathlib import Path

rows = [json.loads(x) for x in (Path(__file__).parent / "results.jsonl").read_text().splitlines() if x.strip()]
print(f"{'task strategy budget':<34} {'model':<28} {'T':>6} {'test acc':>8} {'NLL raw':>8} {'NLL cal':>8} "
      f"{'ECE raw':>8} {'ECE cal':>8}  {'@0.9 raw':>15} {'@0.9 cal':>15}")
for r in rows:
    c, w = r["calibrated"], r["raw"]
    f9 = lambda d: f"{d['confident']['0.9']['labelled'] / d['images']:.0%} {d['confident']['0.9']['accuracy'] or 0:.3f}"
    print(f"{r['label']:<34} {r['model']:<28} {r['temperature']:>6.3f} {c['accuracy']:>8.4f} {w['nll']:>8.4f} "
          f"{c['nll']:>8.4f} {w['ece']:>8.4f} {c['ece']:>8.4f}  {f9(w):>15} {f9(c):>15}")
for key in ("nll", "ece"):
    d = [r["calibrated"][key] - r["raw"][key] for r in rows]
    better = sum(x < 0 for x in d)
    print(f"{key}: mean raw {st.mean(r['raw'][key] for r in rows):.4f}, calibrated "
          f"{st.mean(r['calibrated'][key] for r in rows):.4f}; lower with the temperature on {better} of "
          f"{len(d)} runs; median change {st.median(d):+.4f}")
