"""Which member the held-out model ranks first on the photos decisions, against the best run's member.

    python bench/results/photos-family-20261206/members.py STORE PREFIX SEEDS    # -> members-TAG.txt

STORE is the store lofo.sh built (TMPDIR/photos-family/photos-v2.sqlite), PREFIX-SEED.parquet the held-out
predictions it saved for it (TMPDIR/photos-family/photos-v2). A decision is a task at one budget with 2+ runs,
as read.py; "wrong member" is the regret of the decisions whose first-ranked run is another member than the
best run's, spread over all decisions.
"""
import sqlite3
import sys

import polars as pl

from nasoa.meta.evaluate import decision_key

store, prefix, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
member = dict(sqlite3.connect(f"file:{store}?mode=ro", uri=True).execute("select id, model_name from runs").fetchall())
for seed in seeds:
    d = pl.read_parquet(f"{prefix}-{seed}.parquet").filter(pl.col("family") == "photos")
    d = decision_key(d).with_columns(pl.col("id").replace_strict(member, return_dtype=pl.String).alias("m"))
    first = d.sort("pred", descending=True).group_by("group", maintain_order=True).first()
    best = d.sort("y", descending=True).group_by("group", maintain_order=True).first()
    has = d.group_by("group").agg(pl.col("m").str.ends_with("_imagenet").any().alias("has"))
    j = (first.select("group", pl.col("m").alias("first"), pl.col("y").alias("yf"))
         .join(best.select("group", pl.col("m").alias("best"), pl.col("y").alias("yb")), on="group")
         .join(has, on="group"))
    wrong = j.filter(pl.col("first") != pl.col("best"))
    print(f"seed {seed}: {j.height} decisions, {j['has'].sum()} with an ImageNet member's run; the best run is an "
          f"ImageNet member's in {j['best'].str.ends_with('_imagenet').sum()}, the first-ranked in "
          f"{j['first'].str.ends_with('_imagenet').sum()}; the same member as the best in "
          f"{(j['first'] == j['best']).sum()}; regret {100 * (j['yb'] - j['yf']).mean():.3f} points per decision, "
          f"{100 * (wrong['yb'] - wrong['yf']).sum() / j.height:.3f} of it where the member is wrong")
