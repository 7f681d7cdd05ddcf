"""The experience of the 96/128 px reading: the shipped runs (``combine.py``: the previously shipped
613, refreshed, and the collection's ids up to 3845) and the collection's runs from id 5552 on
(builtin:photos at every side, seeds 24-25; photos, textures, fractals and shapes at 96 and 128 px with the
ImageNet members at 64, 96 and 128, seeds 26-27 and later). The runs in between (ids 3846-5551, not
shipped: they did not lower the regret, ../meta-eval-20261205d/) stay out, so that the reading changes one
thing against the ship: runs above 64 px and a grid that offers them.

    .venv/bin/python bench/results/photos-side-20261206/build.py S.sqlite
    .venv/bin/nasoa meta fit --store S.sqlite --input-sizes 64,96,128 --lrs 0.001,0.003,0.01,0.03,0.1
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl

COMBINE = Path(__file__).resolve().parents[1] / "collect-20261201" / "combine.py"
SHIPPED_LAST_ID = 3845
LARGE_FIRST_ID = 5552

if __name__ == "__main__":
    spec = importlib.util.spec_from_file_location("combine", COMBINE)
    combine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(combine)
    combine.main(sys.argv[1], (pl.col("id") <= SHIPPED_LAST_ID) | (pl.col("id") >= LARGE_FIRST_ID))
