"""Leave-one-family-out top-1 regret of the shipped regressor, four readings: over a task's runs
(as `nasoa meta eval`), over the runs at the member's profiled input side only (the choices the
shipped grid offers: ImageNet members at 64 px, ET-NAS at 32; the collection also ran the ImageNet
members at 32 and 48 px), within one budget (the decision `nasoa adapt` makes: its budget is
given), and both; each with luck's floor. Usage: python readings.py STORE SEED"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "meta-eval-20261203b"))
from lofo_common import experience, lofo  # noqa: E402

from nasoa.meta.evaluate import regret_floor, summarize, task_metrics  # noqa: E402

store, seed = sys.argv[1], int(sys.argv[2])
full, frame, fam = experience(store)
pred = lofo(frame, fam, seed)
profiled = ((full["model_family"] == "etnas") | (full["model_input_size"] == 64)).to_numpy()
at_budget = frame.with_columns((pl.col("group") + "@" + full["budget_s"].cast(pl.Float64).round(1).cast(pl.Utf8))
                               .alias("group"))


def reading(name: str, fr: pl.DataFrame, mask: np.ndarray) -> None:
    fr = fr.filter(pl.Series(mask))
    sizes = fr.group_by("group").len()
    keep = fr["group"].is_in(sizes.filter(pl.col("len") >= 2)["group"].implode()).to_numpy()
    fr, runs, p = fr.filter(pl.Series(keep)), full.filter(pl.Series(mask)).filter(pl.Series(keep)), pred[mask][keep]
    s = summarize(task_metrics(p, fr))
    floor = regret_floor(runs.select("task_num_val").hstack(fr.select("group", "y")))
    print(f"{name}: {fr['group'].n_unique()} groups of 2+ runs, {fr.height} runs; regret {100 * s['regret']:.2f} "
          f"(luck's floor {100 * floor['regret']:.2f}); median Spearman {s['spearman_median']:.3f}")


print(f"seed {seed}: {frame.height} runs on {frame['group'].n_unique()} tasks, one family held out at a time")
every = np.ones(frame.height, bool)
reading("over a task's runs (nasoa meta eval)", frame, every)
reading("over a task's runs at the profiled sides", frame, profiled)
reading("within a budget", at_budget, every)
reading("within a budget, at the profiled sides", at_budget, profiled)
