"""A store holding the ship (meta/data/experience.parquet) plus builtin:photos runs that got at least
combine.py's share of their core.

    .venv/bin/python bench/results/photos-family-20261206/build.py OUT.sqlite [RUNS]

RUNS is a run export (.parquet) or a store (.sqlite), whose builtin:photos runs are taken. It defaults to
this folder's photos-v1-runs.parquet (the family's first version, seeds 22 and 23, moved out of the
collection store); the current version's runs are in ../collect-20261201/collect.sqlite (seeds 24, 25).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import polars as pl

from nasoa.meta.store import ExperienceStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MIN_CPU_SHARE = 0.3  # as combine.py


def main(out: str, runs: str = str(HERE / "photos-v1-runs.parquet")) -> None:
    if runs.endswith(".sqlite"):
        with ExperienceStore(runs, create=False) as src:
            photos = src.runs()
    else:
        photos = pl.read_parquet(runs)
    photos = photos.filter(pl.col("task_spec").str.starts_with("builtin:photos"))
    dest = ExperienceStore(out)
    n_ship = dest.import_parquet(ROOT / "meta/data/experience.parquet")
    share = [json.loads(e).get("cpu_share") for e in photos["extra"].to_list()]
    keep = photos.filter(pl.Series([s is not None and s >= MIN_CPU_SHARE for s in share]))
    with tempfile.TemporaryDirectory() as tmp:
        keep.write_parquet(Path(tmp) / "photos.parquet")
        n_photos = dest.import_parquet(Path(tmp) / "photos.parquet")
    print(json.dumps({"runs": runs, "ship_runs": n_ship, "photos_runs": photos.height, "photos_kept": n_photos,
                      "photos_tasks": keep["task_spec"].n_unique(), "store": str(dest.path)}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
