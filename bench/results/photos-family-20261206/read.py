"""Leave-one-family-out regret with and without the photos family in the experience.

    python bench/results/photos-family-20261206/read.py SHIP PHOTOS SEEDS    # -> read.txt

SHIP-SEED.parquet and PHOTOS-SEED.parquet are the held-out predictions that
``SAVE=PREFIX ../meta-eval-20261205/variants.py STORE '{}' SEEDS`` writes for the shipped regressor on
the ship's store and on the ship plus the photos runs (build.py). Both stores import the ship first,
so its runs keep their ids and are paired run by run. Prints, per booster seed, the top-1 regret in
points per decision (a task at one budget: what `nasoa adapt` chooses) and per task:

* the ship's eight families, each held out with the other seven in training (SHIP) and with the
  other seven plus photos (PHOTOS), and their paired difference over the same decisions;
* the photos family held out (the regressor learns from the eight others: the ship's method on a
  family no setting of it was ever read on);
* all nine families pooled.
"""
import sys

import numpy as np
import polars as pl

from nasoa.meta.evaluate import decision_key, task_metrics

ship, photos = sys.argv[1], sys.argv[2]
seeds = [int(s) for s in sys.argv[3].split(",")]


def regrets(frame: pl.DataFrame, per: str) -> pl.DataFrame:
    """Each decision's (or task's) first run id, family and top-1 regret in points (``r``)."""
    d = decision_key(frame) if per == "decision" else frame.filter(pl.len().over("group") >= 2)
    r = task_metrics(d["pred"].to_numpy(), d)["regret"] * 100
    return d.unique("group", keep="first", maintain_order=True).select("group", "family").with_columns(r.alias("r"))


rows = []
for seed in seeds:
    a, b = pl.read_parquet(f"{ship}-{seed}.parquet"), pl.read_parquet(f"{photos}-{seed}.parquet")
    old = b.filter(pl.col("family") != "photos")
    assert old["id"].to_list() == a["id"].to_list(), "the ship's runs must keep their ids and order"
    out = {"seed": seed}
    for per in ("decision", "task"):
        ra, rb = regrets(a, per), regrets(old, per)
        assert ra["group"].to_list() == rb["group"].to_list()
        diff = (rb["r"] - ra["r"]).to_numpy()
        rp = regrets(b.filter(pl.col("family") == "photos"), per)
        out[per] = (ra["r"].mean(), rb["r"].mean(), diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff)), len(diff),
                    rp["r"].mean(), len(rp), regrets(b, per)["r"].mean())
    rows.append(out)
    for per in ("decision", "task"):
        s8, p8, d, se, n, ph, nph, all9 = out[per]
        print(f"seed {seed} per {per}: 8 families {s8:.3f} -> {p8:.3f} with photos in training "
              f"(paired {d:+.3f}, se {se:.3f}, {n}); photos held out {ph:.3f} ({nph}); 9 families {all9:.3f}",
              flush=True)
for per in ("decision", "task"):
    m = np.mean([[r[per][i] for i in (0, 1, 2, 5, 7)] for r in rows], axis=0)
    print(f"mean over seeds {','.join(map(str, seeds))}, per {per}: 8 families {m[0]:.3f} -> {m[1]:.3f} "
          f"(paired {m[2]:+.3f}); photos held out {m[3]:.3f}; 9 families {m[4]:.3f}")
